# SPDX-License-Identifier: ISC
"""
Bad and hostile input: each gets a clear outcome, is recorded, and the
daemon keeps serving (a normal session afterwards still works).
"""
import random
import socket
import struct
import time

import pytest

from conftest import Smtp, by_src, normal_session

# Long enough that a timeout is never mistaken for the outcome under test.
SLOW = ["idle-timeout 20s"]


def one(d, src, pred=None, count=1):
    """The single stored row of src (waits for it)."""
    rows = d.sessions(count, pred=lambda rs: len(by_src(rs, src)) >= 1 and (
        pred is None or pred(rs)))
    mine = by_src(rows, src)
    assert len(mine) == 1, mine
    return mine[0]


def expect_421_close(c, what, within=5.0):
    t0 = time.monotonic()
    code, lines = c.reply()
    assert code == 421, (what, lines)
    assert c.closed(), "%s: connection not closed after 421" % what
    assert time.monotonic() - t0 < within
    return lines


def garbage(seed, n, newline=True):
    rnd = random.Random(seed)
    b = bytearray(rnd.randrange(256) for _ in range(n))
    b[0] = 0x00             # not 0x16: this is not meant to look like TLS
    b[10] = 0x00
    if newline:
        b[n // 2] = 0x0A
    else:
        b = b.replace(b"\n", b"\x00")
    return bytes(b)


def test_binary_garbage(daemon):
    d = daemon(extra=SLOW)
    src = "127.0.2.1"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        c.send(garbage(42, 4096))
        lines = expect_421_close(c, "binary garbage")
        assert "4.7.0" in lines[0]
    r = one(d, src)
    assert r["close_reason"] == "non-smtp"
    assert "non-smtp" in r["anomalies"]
    assert r["reply_code"] == 421
    normal_session(d)


def test_binary_garbage_without_newline(daemon):
    d = daemon(extra=["idle-timeout 2s"])
    src = "127.0.2.2"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        c.send(garbage(7, 2048, newline=False))
        t0 = time.monotonic()
        code, lines = c.reply()
        elapsed = time.monotonic() - t0
        assert c.closed()
    r = one(d, src)
    assert "non-smtp" in r["anomalies"], r
    assert code == 421 and elapsed < 1.5, (lines, elapsed)


def test_nul_inside_command(daemon):
    d = daemon(extra=SLOW)
    src = "127.0.2.3"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        assert c.cmd("EHLO client.example.net")[0] == 250
        c.send(b"MAIL FROM:<a\x00b@example.net>\r\n")
        code, lines = c.reply()
        assert 400 <= code < 500, lines          # never 5xx to MAIL
        if code == 421:
            assert c.closed()
        else:
            assert c.cmd("QUIT")[0] == 221
    r = one(d, src)
    assert r["helo"] == "client.example.net"
    if code == 421:
        assert "non-smtp" in r["anomalies"]
        assert r["close_reason"] == "non-smtp"
    else:
        assert r["close_reason"] == "quit"
    normal_session(d)


def test_one_megabyte_line(daemon):
    d = daemon(extra=SLOW)
    src = "127.0.2.4"
    with Smtp("127.0.0.1", d.port, src=src, timeout=15) as c:
        assert c.cmd("EHLO client.example.net")[0] == 250
        chunk = b"A" * 65536
        for _ in range(16):                      # 1 MiB, no newline yet
            c.send(chunk)
        c.send(b"\r\n")
        code, lines = c.reply()
        assert code == 451, lines
        assert len(lines[0]) < 1100              # the reply is not an echo
        # The session goes on normally after the long line.
        assert c.cmd("MAIL FROM:<a@example.net>")[0] == 250
        assert c.cmd("RCPT TO:<x@example.org>")[0] == 450
        assert c.cmd("QUIT")[0] == 221
    r = one(d, src)
    assert "long-line" in r["anomalies"]
    assert r["close_reason"] == "quit"
    assert r["rcpt_to"] == ["x@example.org"]
    assert r["bytes_in"] >= 1 << 20
    normal_session(d)


def client_hello():
    """A plausible TLS 1.2 ClientHello record (16 03 01 ...)."""
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00"            # random, sid
            + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"          # ciphers, comp
            + b"\x00\x00")                                      # no exts
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def test_tls_client_hello(daemon):
    d = daemon(extra=SLOW)
    src = "127.0.2.5"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        c.send(client_hello())
        expect_421_close(c, "TLS ClientHello")
    r = one(d, src)
    assert "non-smtp" in r["anomalies"]
    assert r["close_reason"] == "non-smtp"
    normal_session(d)


@pytest.mark.parametrize("req", [
    b"GET / HTTP/1.1\r\nHost: mx10.decoy.test\r\nUser-Agent: x\r\n\r\n",
    b"GET / HTTP/1.1\r\n",
    b"POST /cgi-bin/x HTTP/1.0\r\n",
], ids=["get-full", "get-line", "post"])
def test_http_request(daemon, req):
    d = daemon(extra=SLOW)
    src = "127.0.2.6"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        c.send(req)
        expect_421_close(c, "HTTP request")
    r = one(d, src)
    assert "non-smtp" in r["anomalies"]
    assert r["close_reason"] == "non-smtp"
    normal_session(d)


def test_idle_client_times_out(daemon):
    d = daemon(extra=["idle-timeout 1s"])
    src = "127.0.2.7"
    with Smtp("127.0.0.1", d.port, src=src, timeout=10) as c:
        t0 = time.monotonic()
        code, lines = c.reply()
        waited = time.monotonic() - t0
        assert code == 421 and "4.4.2" in lines[0], lines
        assert 0.7 <= waited <= 4.0, waited
        assert c.closed()
    r = one(d, src)
    assert r["close_reason"] == "timeout"
    assert r["reply_code"] == 421
    assert r["stage"] == "greeting"
    normal_session(d)


def lifetime_sessions(d, n, base):
    """n clients say EHLO and then wait for the decoy to end the session."""
    import threading
    results = {}

    def client(i):
        src = "%s.%d" % (base, i + 1)
        time.sleep(i * 0.0073)      # staggered against the clock's tick
        t0 = time.monotonic()      # the cap counts from the connection
        with Smtp("127.0.0.1", d.port, src=src, timeout=10) as c:
            assert c.cmd("EHLO client.example.net")[0] == 250
            closed = c.closed(timeout=8)
            results[src] = (closed, time.monotonic() - t0, c.buf)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    return results


def test_session_lifetime_cap_enforced(daemon):
    # The idle timeout is 20 s away: an end after about 1 s is the cap.
    d = daemon(extra=["idle-timeout 20s", "max-session 1s"])
    res = lifetime_sessions(d, 4, "127.0.4")
    assert len(res) == 4
    for src, (closed, waited, buf) in res.items():
        assert closed and 0.8 <= waited < 5.0, (src, closed, waited)
        # a parting reply, if any, is a 421 (never 5xx, never 2xx)
        assert buf == b"" or buf.startswith(b"421 "), buf
    rows = d.sessions(4, pred=lambda rs: len(
        [r for r in rs if r["src_ip"].startswith("127.0.4.")]) == 4)
    assert all(r["stage"] == "helo" for r in rows)
    assert all(r["close_reason"] in ("lifetime", "timeout") for r in rows)
    normal_session(d)


def test_session_lifetime_recorded_as_lifetime(daemon):
    d = daemon(extra=["idle-timeout 20s", "max-session 1s"])
    n = 48
    res = lifetime_sessions(d, n, "127.0.5")
    assert len(res) == n
    rows = d.sessions(n, pred=lambda rs: len(
        [r for r in rs if r["src_ip"].startswith("127.0.5.")]) == n)
    reasons = {}
    for r in rows:
        reasons[r["close_reason"]] = reasons.get(r["close_reason"], 0) + 1
    assert reasons == {"lifetime": n}, reasons


def test_client_reset_mid_command(daemon):
    d = daemon(extra=SLOW)
    src = "127.0.2.9"
    c = Smtp("127.0.0.1", d.port, src=src)
    assert c.cmd("EHLO client.example.net")[0] == 250
    c.send(b"MAIL FROM:<half-way@exa")
    time.sleep(0.05)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.close()                                   # RST
    r = one(d, src)
    assert r["close_reason"] in ("reset", "eof")
    assert r["helo"] == "client.example.net"
    normal_session(d)


def test_bare_lf(daemon):
    d = daemon(extra=SLOW)
    src = "127.0.2.10"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        c.send(b"EHLO client.example.net\n")
        assert c.reply()[0] == 250
        c.send(b"MAIL FROM:<a@example.net>\n")
        assert c.reply()[0] == 250
        c.send(b"RCPT TO:<x@example.org>\n")
        assert c.reply()[0] == 450
        c.send(b"QUIT\n")
        assert c.reply()[0] == 221
    r = one(d, src)
    assert "bare-lf" in r["anomalies"]
    assert "pipelining" not in r["anomalies"]
    assert r["rcpt_to"] == ["x@example.org"]
    normal_session(d)


@pytest.mark.parametrize("offered", [False, True], ids=["not-offered",
                                                          "offered"])
def test_pipelining(daemon, offered):
    d = daemon(extra=SLOW + ["pipelining %s" % ("yes" if offered else "no")])
    src = "127.0.2.11"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        code, lines = c.cmd("EHLO client.example.net")
        assert code == 250
        assert any("PIPELINING" in l for l in lines) == offered, lines
        c.send(b"MAIL FROM:<a@example.net>\r\nRCPT TO:<x@example.org>\r\n"
               b"RCPT TO:<y@example.org>\r\n")
        codes = [c.reply()[0] for _ in range(3)]
        assert codes == [250, 450, 450]
        assert c.cmd("QUIT")[0] == 221
    r = one(d, src)
    assert ("pipelining" in r["anomalies"]) == (not offered), r["anomalies"]
    assert r["rcpt_to"] == ["x@example.org", "y@example.org"]
    normal_session(d)


def test_too_many_errors(daemon):
    d = daemon(extra=SLOW + ["max-errors 3"])
    src = "127.0.2.12"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        assert c.cmd("EHLO client.example.net")[0] == 250
        assert c.cmd("FOO")[0] >= 400
        assert c.cmd("BAR baz")[0] >= 400
        code, lines = c.cmd("XYZZY")
        assert code == 421, lines
        assert c.closed()
    r = one(d, src)
    assert "too-many-errors" in r["anomalies"]
    assert r["close_reason"] == "errors"
    assert r["reply_code"] == 421
    normal_session(d)


def test_many_hostile_clients_then_normal(daemon):
    """A mix of all of the above at once; the daemon keeps serving."""
    d = daemon(extra=["idle-timeout 1s", "max-errors 3"])
    socks = []
    payloads = [garbage(1, 3000), client_hello(), b"GET / HTTP/1.1\r\n\r\n",
                b"A" * 200000 + b"\r\n", b"EHLO x\x00y\r\n",
                b"FOO\r\nBAR\r\nBAZ\r\nQUX\r\n", b"EHLO a\nHELO b\n"]
    for i, p in enumerate(payloads * 3):
        c = Smtp("127.0.0.1", d.port, src="127.0.3.%d" % (i + 1), timeout=10)
        c.send(p)
        socks.append(c)
    for c in socks:
        assert c.closed(timeout=8), "hostile client not closed in time"
        c.close()
    normal_session(d, src="127.0.3.200")
    rows = d.sessions(len(socks) + 1)
    assert by_src(rows, "127.0.3.200")[0]["close_reason"] == "quit"


def test_line_of_1000_octets_is_fine(daemon):
    """RFC 5321 4.5.3.1.6: 1000 octets including CRLF is the limit."""
    d = daemon(extra=SLOW)
    src = "127.0.2.13"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        line = b"EHLO " + b"a" * (1000 - 2 - 5 - 8) + b".example"
        assert len(line) + 2 == 1000
        c.send(line + b"\r\n")
        assert c.reply()[0] == 250
        assert c.cmd("QUIT")[0] == 221
    r = one(d, src)
    assert "long-line" not in r["anomalies"]


def test_line_of_1001_octets_is_too_long(daemon):
    d = daemon(extra=SLOW)
    src = "127.0.2.14"
    with Smtp("127.0.0.1", d.port, src=src) as c:
        line = b"EHLO " + b"a" * (1001 - 2 - 5 - 8) + b".example"
        assert len(line) + 2 == 1001
        c.send(line + b"\r\n")
        code, lines = c.reply()
        assert c.cmd("QUIT")[0] == 221
    r = one(d, src)
    assert "long-line" in r["anomalies"], r["anomalies"]
    assert code == 451, lines
