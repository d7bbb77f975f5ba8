/* SPDX-License-Identifier: ISC */
/*
 * test_sensor.c -- the sensor's pure parts: the packet parser (every
 * link type, every truncation, the deliberate differences from p0f),
 * the signature string, the p0f.fp parser and matcher, the MX-walk
 * verdicts, the REC_SYN record, the retransmit table and the BPF filter.
 */
#include <arpa/inet.h>
#include <pcap.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "sensor.h"

/* A Linux-like IPv4 SYN: mss,sok,ts,nop,ws; DF, id 0x1234, ttl 57. */
static size_t
ip4_syn(uint8_t *p)
{
	static const uint8_t ip[20] = {
		0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 57, 6, 0, 0,
		192, 0, 2, 7, 198, 51, 100, 10
	};
	static const uint8_t tcp[40] = {
		0x9c, 0x40, 0, 25, 0, 0, 0x10, 0, 0, 0, 0, 0, 0xa0, 0x02,
		0xfa, 0xf0, 0, 0, 0, 0,
		2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0,
		1, 3, 3, 7
	};

	memcpy(p, ip, 20);
	memcpy(p + 20, tcp, 40);
	return 60;
}

static size_t
eth(uint8_t *p, int vlans)
{
	size_t	 o = 12;

	memset(p, 0xaa, 12);
	for (int i = 0; i < vlans; i++, o += 4) {
		p[o] = i == 0 ? 0x88 : 0x81;
		p[o + 1] = i == 0 ? 0xa8 : 0x00;
		p[o + 2] = 0;
		p[o + 3] = 7;
	}
	p[o] = 0x08;
	p[o + 1] = 0x00;
	return o + 2 + ip4_syn(p + o + 2);
}

static void
test_parse_ethernet(void)
{
	uint8_t		 f[128];
	struct syn	 s;
	struct fp_sig	 g;
	const char	*why;
	size_t		 len;

	for (int v = 0; v <= 2; v++) {
		len = eth(f, v);
		CHECK(packet_parse(DLT_EN10MB, f, len, &s, &why) == PKT_SYN);
		CHECK(s.ver == 4 && s.ttl == 57 && s.mss == 1460);
		CHECK(s.win == 64240 && s.wscale == 7 && s.nopt == 5);
		CHECK(s.sport == 40000 && s.dport == 25);
		CHECK(s.quirks == (Q_DF | Q_NZ_ID));
	}
	fp_signature(&s, &g);
	CHECK_STR(g.sig, "4:57+7:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0");
	/* Every truncation: no crash, never a SYN. */
	len = eth(f, 1);
	for (size_t n = 0; n < len - 40; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, f, n);
		CHECK(packet_parse(DLT_EN10MB, copy, n, &s, &why) != PKT_SYN);
		free(copy);
	}
}

static void
test_link_types(void)
{
	uint8_t		 f[128];
	struct syn	 s;
	const char	*why;
	size_t		 n;

	/* Linux cooked v1, incoming then outgoing (ignored). */
	memset(f, 0, 16);
	f[14] = 0x08;
	n = 16 + ip4_syn(f + 16);
	CHECK(packet_parse(DLT_LINUX_SLL, f, n, &s, &why) == PKT_SYN);
	f[1] = 4;
	CHECK(packet_parse(DLT_LINUX_SLL, f, n, &s, &why) == PKT_OTHER);
	/* Linux cooked v2. */
	memset(f, 0, 20);
	f[0] = 0x08;
	n = 20 + ip4_syn(f + 20);
	CHECK(packet_parse(276, f, n, &s, &why) == PKT_SYN);
	/* BSD loopback, either byte order; an unknown family. */
	memset(f, 0, 4);
	f[0] = 2;
	n = 4 + ip4_syn(f + 4);
	CHECK(packet_parse(DLT_NULL, f, n, &s, &why) == PKT_SYN);
	f[0] = 0;
	f[3] = 2;
	CHECK(packet_parse(DLT_NULL, f, n, &s, &why) == PKT_SYN);
	f[3] = 99;
	CHECK(packet_parse(DLT_NULL, f, n, &s, &why) == PKT_OTHER);
	/* Raw IP; a version nibble that lies is malformed. */
	n = ip4_syn(f);
	CHECK(packet_parse(DLT_RAW, f, n, &s, &why) == PKT_SYN);
	f[0] = 0x55;
	CHECK(packet_parse(DLT_RAW, f, n, &s, &why) == PKT_BAD);
	CHECK(!packet_link_supported(DLT_IEEE802_11));
	CHECK(packet_link_supported(DLT_LINUX_SLL));
}

static void
test_quirks_and_differences(void)
{
	uint8_t		 f[64];
	struct syn	 s;
	const char	*why;

	/* ack+: any non-zero ACK number, p0f notices only some. */
	ip4_syn(f);
	f[20 + 11] = 2;
	CHECK(packet_parse(DLT_RAW, f, 60, &s, &why) == PKT_SYN);
	CHECK(s.quirks & Q_NZ_ACK);
	/* opt+ when the only non-zero byte after EOL is the last one. */
	ip4_syn(f);
	memcpy(f + 40, "\x02\x04\x05\xb4\x00\x00\x00\x00\x00\x00\x00\x00"
	    "\x00\x00\x00\x00\x00\x00\x00\x55", 20);
	CHECK(packet_parse(DLT_RAW, f, 60, &s, &why) == PKT_SYN);
	CHECK(s.quirks & Q_OPT_EOL_NZ);
	CHECK(s.nopt == 2 && s.eol_pad == 15);
	/* A truncated option is "bad". */
	ip4_syn(f);
	f[56] = 8;		/* TS with 3 bytes left */
	CHECK(packet_parse(DLT_RAW, f, 60, &s, &why) == PKT_SYN);
	CHECK(s.quirks & Q_OPT_BAD);
	/* A SYN+ACK and a RST are told apart. */
	ip4_syn(f);
	f[33] = 0x12;
	CHECK(packet_parse(DLT_RAW, f, 60, &s, &why) == PKT_SYNACK);
	f[33] = 0x04;
	CHECK(packet_parse(DLT_RAW, f, 60, &s, &why) == PKT_OTHER);
	/* Header lengths that lie. */
	ip4_syn(f);
	f[0] = 0x44;
	CHECK(packet_parse(DLT_RAW, f, 60, &s, &why) == PKT_BAD);
	ip4_syn(f);
	f[32] = 0xf0;		/* 60-byte TCP header in 40 */
	CHECK(packet_parse(DLT_RAW, f, 60, &s, &why) == PKT_BAD);
}

static const char fp_text[] =
    "classes = win,unix,other\n"
    "[mtu]\nlabel = Ethernet\nsig = 1500\n"
    "[tcp:request]\n"
    "label = s:unix:Linux:3.11 and newer\n"
    "sig = *:64:0:*:mss*20,10:mss,sok,ts,nop,ws:df,id+:0\n"
    "label = s:unix:Linux:v4 only\n"
    "sig = 4:64:0:*:mss*44,7:mss,sok,ts,nop,ws:df,id+:0\n"
    "label = g:unix:Linux:\n"
    "sig = *:64:0:*:*,*:mss,sok,ts,nop,ws:df,id+:0\n"
    "label = s:!:NMap:SYN scan\n"
    "sys = @unix,@win\n"
    "sig = *:64-:0:1460:1024,0:mss::0\n"
    "[http:request]\nlabel = s:unix:whatever:\n";

static void
test_fpdb(void)
{
	struct fpdb	*db = fpdb_new();
	struct fp_match	 m;
	struct syn	 s;
	uint8_t		 f[64];
	char		 err[256];
	const char	*why;

	CHECK(fpdb_load_mem(db, "t.fp", fp_text, strlen(fp_text), err,
	    sizeof(err)) == 0);
	CHECK(fpdb_count(db) == 4);
	ip4_syn(f);
	packet_parse(DLT_RAW, f, 60, &s, &why);
	fpdb_match(db, &s, &m);
	CHECK_STR(m.label, "Linux v4 only");
	CHECK(m.quality == FPM_EXACT && m.dist == 7);
	/* The same over IPv6: the v4-only signature does not apply. */
	s.ver = 6;
	s.quirks = Q_FLOW;	/* and a flow label is tolerated */
	fpdb_match(db, &s, &m);
	CHECK_STR(m.label, "Linux");
	CHECK(m.quality == FPM_GENERIC);
	CHECK_STR(m.os_class, "unix");
	/* id+ gone, id- there: fuzzy. */
	s.ver = 4;
	s.quirks = Q_ZERO_ID;
	fpdb_match(db, &s, &m);
	CHECK(m.quality == FPM_FUZZY);
	/* A tool, random TTL. */
	memset(&s, 0, sizeof(s));
	s.ver = 4;
	s.ttl = 40;
	s.mss = 1460;
	s.win = 1024;
	s.nopt = 1;
	s.olayout[0] = OPT_MSS;
	fpdb_match(db, &s, &m);
	CHECK_STR(m.label, "NMap SYN scan");
	CHECK_STR(m.os_class, "app");
	CHECK(m.bad_ttl && m.dist == 24);
	/* Nothing: the distance is guessed. */
	s.win = 1;
	s.ttl = 120;
	fpdb_match(db, &s, &m);
	CHECK(m.quality == FPM_NONE && m.dist == 8 && m.label[0] == '\0');
	fpdb_free(db);

	static const char *bad[] = {
		"[tcp:request]\nlabel = s:nope:X:\n",
		"classes = unix\n[tcp:request]\nlabel = s:unix:X:\n"
		    "sig = 4:64:0:*:mss*44,7:mss,eol+1,nop:df:0\n",
		"classes = unix\n[tcp:request]\nlabel = s:unix:X:\n"
		    "sig = 6:64:0:*:1,7:mss:df:0\n",
		"classes = unix\n[tcp:request]\nsig = 4:64:0:*:1,7:mss::0\n",
		"classes = unix\n[tcp:request]\nlabel = s:unix:X:\n"
		    "sig = 4:300:0:*:1,7:mss::0\n",
		"classes = unix\n[tcp:request]\nlabel = s:unix:X:\n"
		    "sig = 4:64:0:*:1,7:mss::7\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		db = fpdb_new();
		err[0] = '\0';
		CHECK(fpdb_load_mem(db, "b.fp", bad[i], strlen(bad[i]), err,
		    sizeof(err)) == -1);
		CHECK(strncmp(err, "b.fp:", 5) == 0);
		fpdb_free(db);
	}
}

static void
test_walk(void)
{
	struct walk_touch t[3];
	char		 buf[256];

	memset(t, 0, sizeof(t));
	strcpy(t[0].ip, "192.0.2.10");
	t[0].role = ROLE_PRIMARY;
	t[0].mx_pref = 10;
	strcpy(t[1].ip, "192.0.2.20");
	t[1].role = ROLE_REAL;
	t[1].mx_pref = 20;
	t[1].ts_us = 50000;
	t[0].retransmits = 2;
	CHECK(walk_verdict(t, 2) == WALK_PRIMARY_THEN_REAL);
	CHECK(walk_verdict(t, 1) == WALK_PRIMARY_ONLY);
	walk_format(t, 2, buf, sizeof(buf));
	CHECK_STR(buf, "192.0.2.10 mx=10 primary +0ms rtx=2, "
	    "192.0.2.20 mx=20 real +50ms");
	t[1].ts_us = 300;
	CHECK(walk_verdict(t, 2) == WALK_PARALLEL);
	CHECK(walk_verdict(t + 1, 1) == WALK_REAL_ONLY);
	t[0].role = ROLE_BACKUP;
	t[1].ts_us = 50000;
	CHECK(walk_verdict(t, 2) == WALK_BACKUP_DIRECT);
	CHECK(walk_verdict(t, 0) == WALK_NONE);
	CHECK_STR(walk_verdict_name(WALK_PRIMARY_THEN_REAL),
	    "primary-then-real");
	walk_format(t, 2, buf, 10);
	CHECK(strlen(buf) == 9);
}

static void
test_synrec(void)
{
	struct syn_rec	 a, b;
	uint8_t		 buf[SYNREC_MAX], f[64];
	const char	*why;
	size_t		 len;

	memset(&a, 0, sizeof(a));
	ip4_syn(f);
	packet_parse(DLT_RAW, f, 60, &a.s, &why);
	a.s.ts_us = 1700000000000000LL;
	a.mx_pref = 40;
	a.role = ROLE_BACKUP;
	a.retransmits = 3;
	len = synrec_encode(&a, buf, sizeof(buf));
	CHECK(len > 0 && record_type(buf, len) == REC_SYN);
	CHECK(synrec_decode(buf, len, &b, &why) == 0);
	CHECK(memcmp(&a.s, &b.s, sizeof(a.s)) == 0);
	CHECK(b.mx_pref == 40 && b.role == ROLE_BACKUP && b.retransmits == 3);
	for (size_t n = 0; n < len; n++)
		CHECK(synrec_decode(buf, n, &b, &why) == -1);
	a.s.flags = 0x12;		/* a SYN+ACK is refused */
	len = synrec_encode(&a, buf, sizeof(buf));
	CHECK(synrec_decode(buf, len, &b, &why) == -1);
	a.s.flags = 0x02;
	a.s.ver = 6;			/* a v6 record with v4 addresses */
	len = synrec_encode(&a, buf, sizeof(buf));
	CHECK(synrec_decode(buf, len, &b, &why) == -1);
	CHECK(synrec_encode(&a, buf, 10) == 0);
	/* The largest record (IPv6, every option slot) fits SYNREC_MAX. */
	a.s.ver = 6;
	a.s.nopt = MAX_TCP_OPT;
	a.s.seq = a.s.ts1 = UINT32_MAX;
	CHECK(synrec_encode(&a, buf, SYNREC_MAX) > 0);
	CHECK(synrec_encode(&a, buf, SYNREC_MAX) <= SYNREC_MAX);
}

static void
test_syntab_and_filter(void)
{
	struct syntab	*t = syntab_new();
	struct config	 c;
	struct syn	 s;
	uint8_t		 f[64];
	const char	*why;
	char		*flt, err[256];
	pcap_t		*pc;
	struct bpf_program prog;
	int32_t		 pref;
	enum role	 role;

	ip4_syn(f);
	packet_parse(DLT_RAW, f, 60, &s, &why);
	s.ts_us = 1000000;
	CHECK(syntab_seen(t, &s) == 0);
	s.ts_us += 1000000;
	CHECK(syntab_seen(t, &s) == 1);
	CHECK(syntab_seen(t, &s) == 2);
	s.seq++;
	CHECK(syntab_seen(t, &s) == 0);
	s.ts_us += SYNTAB_AGE_US + 1;
	CHECK(syntab_seen(t, &s) == 0);
	syntab_free(t);

	config_defaults(&c);
	CHECK(config_parse_line(&c, "t", 1, "listen 198.51.100.10:25 mx 10")
	    == 0);
	CHECK(config_parse_line(&c, "t", 2, "real-mx 198.51.100.20 mx 20")
	    == 0);
	CHECK(config_parse_line(&c, "t", 3, "sensor watch 198.51.100.9 mx 5")
	    == 0);
	CHECK(config_parse_line(&c, "t", 4, "sensor watch [2001:db8::9]:2525")
	    == 0);
	CHECK(config_parse_line(&c, "t", 5, "sensor fpdb a.fp b.fp") == 0);
	CHECK_STR(c.sensor_fpdb, "a.fp b.fp");
	CHECK(config_parse_line(&c, "t", 6, "sensor sideways") == -1);
	CHECK(sensor_classify(&c, &s, &pref, &role) == 1);
	CHECK(pref == 10 && role == ROLE_PRIMARY);
	s.dst[3] = 9;
	CHECK(sensor_classify(&c, &s, &pref, &role) == 1);
	CHECK(pref == 5 && role == ROLE_PRIMARY);
	s.dst[3] = 20;
	CHECK(sensor_classify(&c, &s, &pref, &role) == 1);
	CHECK(role == ROLE_REAL);
	s.dst[3] = 21;
	CHECK(sensor_classify(&c, &s, &pref, &role) == 0);
	/* Several real-mx lines: every one is watched, IPv6 too. */
	CHECK(config_parse_line(&c, "t", 7, "real-mx 198.51.100.21") == 0);
	CHECK(config_parse_line(&c, "t", 8, "real-mx 2001:db8::20 mx 30")
	    == 0);
	CHECK(sensor_classify(&c, &s, &pref, &role) == 1);
	CHECK(role == ROLE_REAL && pref == 20);
	s.ver = 6;
	memset(s.dst, 0, 16);
	s.dst[0] = 0x20; s.dst[1] = 0x01; s.dst[2] = 0x0d; s.dst[3] = 0xb8;
	s.dst[15] = 0x20;
	CHECK(sensor_classify(&c, &s, &pref, &role) == 1);
	CHECK(role == ROLE_REAL && pref == 30);
	s.dst[15] = 0x21;
	CHECK(sensor_classify(&c, &s, &pref, &role) == 0);
	flt = sensor_filter(&c);
	CHECK(flt != NULL);
	CHECK(strstr(flt, "dst host 198.51.100.20") != NULL);
	CHECK(strstr(flt, "dst host 198.51.100.21") != NULL);
	CHECK(strstr(flt, "dst host 2001:db8::20") != NULL);
	pc = pcap_open_dead(DLT_EN10MB, 256);
	CHECK(pcap_compile(pc, &prog, flt, 1, PCAP_NETMASK_UNKNOWN) == 0);
	pcap_freecode(&prog);
	pcap_close(pc);
	free(flt);
	(void)err;
}

int
main(void)
{
	test_parse_ethernet();
	test_link_types();
	test_quirks_and_differences();
	test_fpdb();
	test_walk();
	test_synrec();
	test_syntab_and_filter();
	return t_done("test_sensor");
}
