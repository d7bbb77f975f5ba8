# SPDX-License-Identifier: ISC
"""
PROXY protocol on a "proxy" listener (loopback, the header written by
hand; the end-to-end test puts a real HAProxy in front): the session
carries the header's client and decoy addresses; a missing, malformed or
oversized header closes the session without a reply and without a
record, counted in the metrics; a LOCAL header (a balancer's health
check) is deferred and never recorded; a PROXY line on a plain listener
stays a pregreeting bot.  Also: the "ignore" list and "banner".
"""
import socket
import struct
import time
import urllib.request

from conftest import Smtp, by_src, free_port, read_sessions, wait_until

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(src, dst, sport, dport, cmd=1, tlv=b""):
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    block = (socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) +
             struct.pack("!HH", sport, dport) + tlv)
    return V2SIG + bytes([0x20 | cmd, 0x21 if fam == socket.AF_INET6
                          else 0x11]) + struct.pack("!H", len(block)) + block


def proxy_daemon(daemon, extra=(), plain=False):
    mport = free_port(["127.0.0.1"])
    port = free_port(["127.0.0.1"])
    listen = ["127.0.0.1:{port} mx 10 proxy"]
    if plain:
        listen.append("127.0.0.1:%d mx 40" % free_port(["127.0.0.1"]))
    d = daemon(listen=listen, port=port, log_level="debug",
               extra=["metrics 127.0.0.1:%d" % mport] + list(extra))
    d.mport = mport
    return d


def metrics(d):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.mport,
                                timeout=5) as r:
        return r.read().decode()


def metric_value(d, line):
    for l in metrics(d).splitlines():
        if l.startswith(line + " "):
            return int(l.split()[-1])
    return None


def dialogue(d, header, port=None):
    with socket.create_connection(("127.0.0.1", port or d.port),
                                  timeout=5) as s:
        s.sendall(header)
        c = Smtp("127.0.0.1", 0, sock=_Wrapped(s))
        code, lines = c.greeting
        assert code == 220, lines
        assert c.cmd("EHLO mta.example.test")[0] == 250
        c.send("QUIT\r\n")
        c.reply()


class _Wrapped:
    """A connected socket Smtp can take (its connect is a no-op)."""

    def __init__(self, s):
        self.s = s

    def __getattr__(self, name):
        return getattr(self.s, name)

    def connect(self, addr):
        pass


def test_v1_and_v2_give_the_real_addresses(daemon):
    d = proxy_daemon(daemon)
    dialogue(d, b"PROXY TCP4 198.51.100.7 192.0.2.10 40001 25\r\n")
    dialogue(d, v2("203.0.113.9", "192.0.2.10", 40002, 25))
    dialogue(d, b"PROXY TCP6 2001:db8::5 2001:db8::10 40003 25\r\n")
    dialogue(d, v2("2001:db8::6", "2001:db8::10", 40004, 25,
                   tlv=b"\x04\x00\x02ab"))   # a NOOP TLV is skipped
    rows = d.sessions(4)
    got = {(r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
           for r in rows}
    assert got == {("198.51.100.7", 40001, "192.0.2.10", 25),
                   ("203.0.113.9", 40002, "192.0.2.10", 25),
                   ("2001:db8::5", 40003, "2001:db8::10", 25),
                   ("2001:db8::6", 40004, "2001:db8::10", 25)}
    assert not by_src(rows, "127.0.0.1")
    for r in rows:
        assert "pregreet" not in r.get("anomalies", []), r
    wait_until(lambda: metric_value(
        d, 'decoymx_proxy_headers_total{result="ok"}') == 4, 10,
        interval=0.2, what="ok headers counted")
    assert "via=127.0.0.1" in d.read_stderr()
    assert {r["via"] for r in rows} == {"127.0.0.1"}


def closed_without_reply(d, data, wait_eof=True):
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        if data:
            s.sendall(data)
        got = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got


def test_bad_headers_close_unrecorded(daemon):
    d = proxy_daemon(daemon)
    bad = [
        b"EHLO bot.example\r\n",                          # missing
        b"PROXY TCP4 198.51.100.7 192.0.2.10 40001\r\n",  # 5 fields
        b"PROXY TCP4 2001:db8::1 192.0.2.10 1 25\r\n",    # wrong family
        b"PROXY TCP4 198.51.100.7 192.0.2.10 040001 25\r\n",
        b"PROXY TCP4  198.51.100.7 192.0.2.10 1 25\r\n",
        b"PROXY UDP4 198.51.100.7 192.0.2.10 1 25\r\n",
        b"PROXY TCP4 198.51.100.7 192.0.2.10 1 25\n",     # bare LF
        b"PROXY TCP4 " + b"1" * 120 + b"\r\n",            # oversized
        V2SIG + b"\x21\x31" + struct.pack("!H", 216) + b"\0" * 216,  # unix
        V2SIG + b"\x22\x11" + struct.pack("!H", 12) + b"\0" * 12,  # cmd 2
        V2SIG + b"\x21\x11" + struct.pack("!H", 8) + b"\0" * 8,   # short
        V2SIG + b"\x21\x11" + struct.pack("!H", 4000) + b"\0" * 600,
    ]
    for b in bad:
        assert closed_without_reply(d, b) == b"", b
    # Nothing at all: closed when the header does not come in time.
    t = time.monotonic()
    assert closed_without_reply(d, b"") == b""
    assert time.monotonic() - t < 9
    # A good one after all that: the only row.
    dialogue(d, b"PROXY TCP4 198.51.100.8 192.0.2.10 40001 25\r\n")
    rows = d.sessions(1, exact=True)
    assert rows[0]["src_ip"] == "198.51.100.8"

    def counted():
        m = {k: metric_value(d, 'decoymx_proxy_headers_total{result="%s"}'
                             % k)
             for k in ("missing", "malformed", "oversized", "ok")}
        return m if m == {"missing": 2, "malformed": 9, "oversized": 2,
                          "ok": 1} else None
    wait_until(counted, 10, interval=0.2, what="bad headers counted")
    assert "proxy header rejected" in d.read_stderr()


def test_local_is_greeted_never_tarpitted_nor_recorded(daemon):
    d = proxy_daemon(daemon, extra=["tarpit all", "reply-delay 3s",
                                   "returning-defer greeting"])
    for hdr in (V2SIG + b"\x20\x00\x00\x00", b"PROXY UNKNOWN\r\n",
                V2SIG + b"\x21\x00\x00\x00"):
        with socket.create_connection(("127.0.0.1", d.port),
                                      timeout=5) as s:
            t = time.monotonic()
            s.sendall(hdr)
            c = Smtp("127.0.0.1", 0, sock=_Wrapped(s))
            assert c.greeting[0] == 220
            c.send("QUIT\r\n")
            assert c.reply()[0] == 221
            assert time.monotonic() - t < 2.5      # no reply delay
    dialogue(d, b"PROXY TCP4 198.51.100.9 192.0.2.10 40001 25\r\n")
    rows = d.sessions(1, exact=True)
    assert rows[0]["src_ip"] == "198.51.100.9"
    wait_until(lambda: metric_value(
        d, 'decoymx_proxy_headers_total{result="local"}') == 3, 10,
        interval=0.2, what="local headers counted")


def test_proxy_line_on_plain_listener_is_a_bot(daemon):
    port = free_port(["127.0.0.1"])
    d = daemon(port=port, extra=["greeting-delay 300ms"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"PROXY TCP4 198.51.100.7 192.0.2.10 40001 25\r\n")
        s.settimeout(5)
        data = b""
        while b"\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    rows = d.sessions(1)
    assert rows[0]["src_ip"] == "127.0.0.1"
    assert "pregreet" in rows[0]["anomalies"]
    assert rows[0]["via"] is None


def test_ignore_defers_at_once_and_is_never_exported(daemon, tmp_path):
    """Behind the PROXY header (documentation addresses, which exports
    list): .2 is ignored unrecorded; .3 and .4 are bots, then .3 is
    ignored with "record" (the file, reloaded on SIGHUP): .4 stays
    listed, .3 no more."""
    from conftest import run_bin
    import signal
    ign = tmp_path / "ignore.txt"
    ign.write_text("# own scanners\n")
    periodic = tmp_path / "periodic.txt"
    d = proxy_daemon(daemon, extra=[
        "ignore 198.51.100.2", "ignore-file %s" % ign, "tarpit all",
        "reply-delay 2s", "defer-reply 451 4.7.1 come back later",
        "export plain %s every 10s" % periodic])

    def connect(src):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(b"PROXY TCP4 %s 192.0.2.10 40000 25\r\n" % src.encode())
        return Smtp("127.0.0.1", 0, sock=_Wrapped(s))

    def deferred_fast(src):
        t = time.monotonic()
        c = connect(src)
        code, lines = c.greeting
        assert code == 451 and "come back later" in lines[0], lines
        assert c.closed()
        assert time.monotonic() - t < 1.5        # never tarpitted

    def exported():
        return {fmt: run_bin("export", fmt, "--db", d.db).stdout.decode()
                for fmt in ("json", "plain", "rbldnsd", "postfix", "nft")}
    deferred_fast("198.51.100.2")
    for src in ("198.51.100.3", "198.51.100.4"):
        c = connect(src)
        assert c.greeting[0] == 220
        c.send("EHLO bot\r\nMAIL FROM:<a@b>\r\n")   # pipelining: a bot
        c.sock.close()
    d.sessions(2)
    for fmt, out in exported().items():
        assert "198.51.100.3" in out and "198.51.100.4" in out, (fmt, out)
    wait_until(lambda: periodic.exists() and "198.51.100.4" in
               periodic.read_text(), 30, interval=0.5,
               what="the periodic export to list .4")
    ign.write_text("198.51.100.3/32 record\n")
    d.signal(signal.SIGHUP)
    wait_until(lambda: "network reloaded" in d.read_stderr(), 10,
               what="reload")
    deferred_fast("198.51.100.3")
    rows = d.sessions(3)
    assert not by_src(rows, "198.51.100.2")
    assert [r["close_reason"] for r in by_src(rows, "198.51.100.3")
            if r["close_reason"] == "ignored"]
    wait_until(lambda: metric_value(d, "decoymx_ignored_total") == 2, 10,
               interval=0.2, what="ignored sessions counted")
    for fmt, out in exported().items():
        assert "198.51.100.4" in out, (fmt, out)
        assert "198.51.100.3" not in out and "198.51.100.2" not in out
    # .4 joins the file without "record": unrecorded from now on; its
    # earlier sessions are left out by the daemon's periodic exports and
    # by "export --config" (the file's networks).
    ign.write_text("198.51.100.3/32 record\n198.51.100.4\n")
    d.signal(signal.SIGHUP)
    wait_until(lambda: d.read_stderr().count("network reloaded") == 2, 10,
               what="second reload")
    out = run_bin("export", "plain", "--db", d.db).stdout.decode()
    assert "198.51.100.4" in out            # no configuration: still there
    out = run_bin("export", "plain", "--db", d.db, "--config",
                  d.conf).stdout.decode()
    assert "198.51.100.4" not in out and "198.51.100.3" not in out
    wait_until(lambda: periodic.exists() and "198.51.100.4" not in
               periodic.read_text() and "198.51.100.3" not in
               periodic.read_text(), 30, interval=0.5,
               what="the periodic export to leave .4 out")
    r = run_bin("export", "plain", "--db", d.db, "--config", "/nonexistent")
    assert r.returncode != 0


def test_banner(daemon):
    port = free_port(["127.0.0.1"])
    d = daemon(port=port, extra=["banner mail.example.org ESMTP Postfix "
                                 "(Debian/GNU)"])
    c = Smtp("127.0.0.1", port)
    # every line of the (multi-line, banner-wait) greeting carries it
    text = "mail.example.org ESMTP Postfix (Debian/GNU)"
    assert c.greeting[1][-1] == "220 " + text
    assert all(l[4:] == text for l in c.greeting[1])
    c.sock.close()
    d.sessions(1)


def test_config_errors(tmp_path):
    from conftest import run_bin
    for line, why in [
            ("banner", b"1 to 200"), ("banner " + "x" * 201, b"1 to 200"),
            ("banner caf\xc3\xa9", b"printable ASCII"),
            ("ignore 10.0.0.0/33", b"not ADDR"),
            ("ignore 10.0.0.0/8 recordx", b"ADDR[/LEN] [record]"),
            ("ignore-file /nonexistent/x", b"/nonexistent/x"),
            ("ignore-file /dev/null", b"not a regular file"),
            ("listen 127.0.0.1:2525 proxy proxy", b"proxy"),
            ("listen 127.0.0.1:2525 prox", b"[proxy]")]:
        conf = tmp_path / "c.conf"
        conf.write_bytes(b"listen 127.0.0.1:2526\n" + line.encode() + b"\n"
                         if not isinstance(line, bytes) else line)
        r = run_bin("run", "-n", "-c", conf, "--db", tmp_path / "x.db")
        assert r.returncode == 2, line
        assert b"c.conf:2:" in r.stderr and why in r.stderr, r.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("10.0.0.0/8\n\n# c\n10.1.2.3/99\n")
    conf.write_text("listen 127.0.0.1:2526 mx 10 proxy\nignore-file %s\n"
                    "ignore ::1 record\n" % bad)
    r = run_bin("run", "-n", "-c", conf, "--db", tmp_path / "x.db")
    assert r.returncode == 2 and b"bad.txt:4:" in r.stderr, r.stderr
    bad.write_text("10.1.2.3/8 record\n")
    r = run_bin("run", "-n", "-c", conf, "--db", tmp_path / "x.db")
    assert r.returncode == 0, r.stderr
    assert b"listen 127.0.0.1:2526 mx 10 proxy" in r.stdout
    assert b"ignore 10.0.0.0/8 record\n" in r.stdout
    assert b"ignore ::1/128 record\n" in r.stdout
    r = run_bin("run", "-n", "--listen", "127.0.0.1:2527,proxy,mx=5",
                "--db", tmp_path / "x.db")
    assert r.returncode == 0 and b"mx 5 proxy" in r.stdout, r.stderr


def test_bytes_after_the_header_are_the_clients(daemon):
    """The header is taken exactly: what follows it in the same segment
    is the client talking before the greeting (pregreet), and the client
    is the header's."""
    d = proxy_daemon(daemon, extra=["greeting-delay 300ms"])
    for hdr in (b"PROXY TCP4 198.51.100.30 192.0.2.10 40001 25\r\n",
                v2("198.51.100.31", "192.0.2.10", 40002, 25)):
        with socket.create_connection(("127.0.0.1", d.port),
                                      timeout=5) as s:
            s.sendall(hdr + b"EHLO early.example\r\n")
            c = Smtp("127.0.0.1", 0, sock=_Wrapped(s))
            assert c.greeting[0] == 220
            code, lines = c.reply()          # the EHLO, read after it
            assert code == 250, lines
            c.send("QUIT\r\n")
            c.reply()
    rows = d.sessions(2)
    for ip in ("198.51.100.30", "198.51.100.31"):
        r, = by_src(rows, ip)
        assert "pregreet" in r["anomalies"], r
        assert r["helo"] == "early.example", r
