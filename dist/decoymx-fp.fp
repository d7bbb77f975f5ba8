; SPDX-License-Identifier: ISC
;
; decoymx-fp.fp -- TCP SYN signatures for systems that p0f 3.09's
; database (2016) labels only generically or not at all, in p0f v3's
; format.  decoymx loads this file first, then p0f.fp (sensor fpdb), so
; an exact match here wins over a generic one there.
;
; Written for decoymx from observed SYNs of current systems; every line
; is ours.  Format: see p0f's documentation ("sig = ver:ittl:olen:mss:
; wsize,scale:olayout:quirks:pclass").
;

classes = win,unix,other

[tcp:request]

; Linux 4.x to 6.x: initial window of 10 segments rounded up to 64240
; (mss*44 for an MSS of 1460), window scale 7 to 10 (it follows the
; receive buffer, so the machine's memory) and the usual option order.
label = s:unix:Linux:4.x-6.x
sig   = *:64:0:*:mss*44,7:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*44,7:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:mss*45,7:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*45,7:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64240,7:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64240,7:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64800,7:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64800,7:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:mss*44,8:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*44,8:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:mss*45,8:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*45,8:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64240,8:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64240,8:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64800,8:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64800,8:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:mss*44,9:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*44,9:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:mss*45,9:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*45,9:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64240,9:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64240,9:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64800,9:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64800,9:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:mss*44,10:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*44,10:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:mss*45,10:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:mss*45,10:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64240,10:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64240,10:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:*:64800,10:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:*:64800,10:mss,sok,ts,nop,ws:df,id-:0

; Linux 4.x to 6.x talking over the loopback interface (MSS 65495;
; 65476 over IPv6), any window scale.
label = s:unix:Linux:4.x-6.x (loopback)
sig   = *:64:0:65495:mss*1,*:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:65495:mss*1,*:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:65476:mss*1,*:mss,sok,ts,nop,ws:df,id+:0
sig   = *:64:0:65476:mss*1,*:mss,sok,ts,nop,ws:df,id-:0
sig   = *:64:0:65476:mss*1,*:mss,sok,ts,nop,ws::0

; Windows 10, 11 and Server 2016 and later: window 64240 (or 65535 on
; servers), scale 8, no timestamps.
label = s:win:Windows:10 or 11
sig   = *:128:0:*:64240,8:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:128:0:*:65535,8:mss,nop,ws,nop,nop,sok:df,id+:0
sig   = *:128:0:*:64800,8:mss,nop,ws,nop,nop,sok:df,id+:0

; macOS 11 and later, iOS 14 and later.
label = s:unix:Mac OS X:11 or newer
sig   = *:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id+:0
sig   = *:64:0:*:65535,6:mss,nop,ws,nop,nop,ts,sok,eol+1:df,id-:0

; FreeBSD 12 and later.
label = s:unix:FreeBSD:12 or newer
sig   = *:64:0:*:65535,6:mss,nop,ws,sok,ts:df,id-:0
