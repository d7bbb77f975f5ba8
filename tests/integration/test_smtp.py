# SPDX-License-Identifier: ISC
"""
SMTP dialogues from real clients (swaks, Python's smtplib, raw sockets):
what the decoy answers and what it stores.
"""
import base64
import re
import smtplib
import subprocess

import pytest

from conftest import Smtp, by_src

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
CONTRACT_FIELDS = ("id", "start", "end", "src_ip", "src_port", "dst_ip",
                   "dst_port", "mx_pref", "role", "helo", "mail_from",
                   "rcpt_to", "stage", "reply_code", "close_reason",
                   "anomalies", "country", "asn", "as_org", "os")


def swaks(server, port, *extra):
    r = subprocess.run(
        ["swaks", "--server", server, "--port", str(port),
         "--to", "someone@example.org", "--from", "a@example.net",
         "--helo", "mail.example.org", "--timeout", "10", *extra],
        capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def swaks_replies(out):
    """(code, text) of every server line swaks printed, in order."""
    res = []
    for line in out.splitlines():
        m = re.match(r"^<[-*~]+\s+(\d{3})[ -](.*)$", line)
        if m:
            res.append((int(m.group(1)), m.group(2)))
    return res


def test_swaks_primary_backup_and_plain_decoy(daemon):
    d = daemon(addrs=("127.0.0.1", "127.0.0.2", "127.0.0.3"),
               listen=["127.0.0.1:{port} mx 10", "127.0.0.2:{port} mx 40",
                       "127.0.0.3:{port}"], real_mx=20)
    expect = {"127.0.0.1": (10, "primary"), "127.0.0.2": (40, "backup"),
              "127.0.0.3": (None, "decoy")}
    for dst in expect:
        out = swaks(dst, d.port)
        replies = swaks_replies(out)
        codes = [c for c, _ in replies]
        assert codes[0] == 220, out
        assert "mx10.decoy.test" in replies[0][1], out
        # EHLO (multi-line 250), MAIL 250, RCPT 450, QUIT 221
        assert 450 in codes, out
        rcpt_idx = out.index("RCPT TO:<someone@example.org>")
        after = swaks_replies(out[rcpt_idx:])
        assert after[0][0] == 450 and after[0][1].startswith("4.7.1"), out
        assert codes[-1] == 221, out
        assert not any(500 <= c < 600 for c in codes), out

    rows = d.sessions(3)
    assert len(rows) == 3
    for r in rows:
        for f in CONTRACT_FIELDS:
            assert f in r, "field %s missing from %r" % (f, r)
        assert ISO_Z.match(r["start"]), r["start"]
        assert ISO_Z.match(r["end"]), r["end"]
        assert r["start"] <= r["end"]
        assert r["src_ip"] == "127.0.0.1"
        assert isinstance(r["src_port"], int) and 0 < r["src_port"] < 65536
        assert r["dst_port"] == d.port
        pref, role = expect[r["dst_ip"]]
        assert r["mx_pref"] == pref
        assert r["role"] == role
        assert r["helo"] == "mail.example.org"
        assert r["mail_from"] == "a@example.net"
        assert r["rcpt_to"] == ["someone@example.org"]
        assert r["stage"] == "rcpt"
        assert r["reply_code"] == 450
        assert r["close_reason"] == "quit"
        assert r["anomalies"] == []      # a well-behaved client is not flagged
        # Filled by geolocation / the SYN sensor when they know; else null.
        assert r["country"] is None or (isinstance(r["country"], str) and
                                        len(r["country"]) == 2)
        assert r["asn"] is None or isinstance(r["asn"], int)
        assert r["as_org"] is None or isinstance(r["as_org"], str)
        assert r["os"] is None or isinstance(r["os"], str)
    assert sorted(r["dst_ip"] for r in rows) == sorted(expect)
    assert len({r["id"] for r in rows}) == 3


def b64(s):
    return base64.b64encode(s.encode()).decode()


PW1 = "Sup3rSecretPW-plain-one"
PW2 = "Sup3rSecretPW-plain-two"
PW3 = "Sup3rSecretPW-login-three"
PW4 = "Sup3rSecretPW-login-four"


def test_smtplib_every_command(daemon):
    d = daemon(extra=["max-errors 100"], log_level="debug")
    src = "127.0.0.9"
    s = smtplib.SMTP("127.0.0.1", d.port, local_hostname="client.example.net",
                     timeout=10, source_address=(src, 0))
    codes = {}
    try:
        code, msg = s.ehlo()
        assert code == 250
        feats = s.esmtp_features
        assert "starttls" not in feats, msg
        assert "pipelining" not in feats, msg       # not by default
        assert "auth" not in feats, msg
        assert "chunking" not in feats, msg
        codes["HELO"] = s.helo("client.example.net")[0]
        assert codes["HELO"] == 250
        codes["EHLO2"] = s.ehlo("client.example.net")[0]
        assert codes["EHLO2"] == 250
        codes["MAIL"], _ = s.mail("a@example.net")
        assert codes["MAIL"] == 250
        rcpts = ["one@example.org", "two@example.org", "three@example.com"]
        for r in rcpts:
            c, m = s.rcpt(r)
            assert 400 <= c < 500, (r, c, m)
        with pytest.raises(smtplib.SMTPDataError) as ei:
            s.data("Subject: hi\r\n\r\nbody\r\n")
        assert 400 <= ei.value.smtp_code < 500, ei.value
        assert ei.value.smtp_code != 354
        assert s.rset()[0] == 250
        assert s.noop()[0] == 250
        c, m = s.verify("someone")
        assert c == 252, m
        c, m = s.expn("list")
        assert c in (252, 502), m
        c, m = s.docmd("HELP")
        assert c in (211, 214), m
        c, m = s.docmd("STARTTLS")
        assert c in (454, 502), m
        # AUTH with initial response: PLAIN and LOGIN.
        c, m = s.docmd("AUTH", "PLAIN " + b64("\0alice\0" + PW1))
        assert 400 <= c < 600 and c != 235, m
        c, m = s.docmd("AUTH", "LOGIN " + b64("bob"))
        assert c in (334, 454) or 400 <= c < 600, m
        if c == 334:                                # asked for the password
            c, m = s.docmd(b64(PW2))
            assert c != 235, m
        # AUTH with the 334 dialogue.
        c, m = s.docmd("AUTH", "LOGIN")
        assert c == 334, m
        assert base64.b64decode(m).lower().startswith(b"user"), m
        c, m = s.docmd(b64("carol"))
        if c == 334:
            c, m = s.docmd(b64(PW3))
        assert c != 235 and c >= 400, m
        c, m = s.docmd("AUTH", "PLAIN")
        assert c == 334, m
        c, m = s.docmd(b64("\0dave\0" + PW4))
        assert c != 235 and c >= 400, m
        c, m = s.docmd("XYZZY", "plugh")
        assert 500 <= c < 600 or 400 <= c < 500, m
        # still alive after all that
        assert s.noop()[0] == 250
        c, m = s.docmd("QUIT")
        assert c == 221, m
    finally:
        s.close()

    # BDAT was not offered: 421 and the connection ends.
    with Smtp("127.0.0.1", d.port, src="127.0.0.10") as c:
        assert c.cmd("EHLO client.example.net")[0] == 250
        assert c.cmd("MAIL FROM:<a@example.net>")[0] == 250
        code, lines = c.cmd("BDAT 5 LAST")
        assert code == 421, lines
        assert c.closed(), "decoy kept the connection open after BDAT 421"

    rows = d.sessions(2)
    r = by_src(rows, src)[0]
    assert r["helo"] == "client.example.net"
    assert r["mail_from"] == "a@example.net"
    assert r["rcpt_to"] == rcpts
    assert r["close_reason"] == "quit"
    assert r["stage"] == "data"
    assert 400 <= r["reply_code"] < 500
    assert "auth-attempt" in r["anomalies"]
    users = [(a["mechanism"].upper(), a["user"]) for a in r["auth"]]
    assert users == [("PLAIN", "alice"), ("LOGIN", "bob"), ("LOGIN", "carol"),
                     ("PLAIN", "dave")], r["auth"]
    # The password is never stored, neither plain nor as sent (base64).
    blob = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            with open(d.db + suffix, "rb") as f:
                blob += f.read()
        except FileNotFoundError:
            pass
    assert b"alice" in blob                # the file we read is the right one
    for pw in (PW1, PW2, PW3, PW4):
        assert pw.encode() not in blob, "password %s stored" % pw
        assert b64(pw).encode() not in blob
    for raw in ("\0alice\0" + PW1, "\0dave\0" + PW4):
        assert b64(raw).encode() not in blob
    b = by_src(rows, "127.0.0.10")[0]
    assert b["close_reason"] in ("deferred", "quit")
    assert b["reply_code"] == 421
    # Nor is it written to the log, even at debug level.
    assert d.stop() == 0
    for pw in (PW1, PW2, PW3, PW4):
        assert pw not in d.stderr and b64(pw) not in d.stderr
    assert b64("\0alice\0" + PW1) not in d.stderr


def test_never_5xx_for_bad_syntax(daemon):
    """Greeting, HELO/EHLO, MAIL, RCPT, DATA: 4xx at worst, even for junk."""
    d = daemon(extra=["max-errors 100"])
    seen = []
    with Smtp("127.0.0.1", d.port, src="127.0.0.11") as c:
        seen.append(("greeting", c.greeting[0]))
        for line in ("MAIL FROM:<early@example.net>",    # before HELO
                     "RCPT TO:<early@example.org>",
                     "DATA",
                     "EHLO", "HELO", "EHLO   ", "HELO \t",
                     "EHLO client.example.net",
                     "MAIL FROM bogus", "MAIL", "MAIL FROM:", "MAIL TO:<x@y>",
                     "MAIL FROM:<unterminated@example.net",
                     "RCPT TO:", "RCPT", "RCPT TO bogus", "RCPT FROM:<x@y>",
                     "RCPT TO:<before-mail@example.org>",
                     "MAIL FROM:<>",
                     "RCPT TO:<>", "RCPT TO:<@route:x@example.org>",
                     "RCPT TO:<someone@example.org> SIZE=abc",
                     "DATA extra args",
                     "DATA",
                     "mail from:<lower@example.net>",
                     "rcpt to:<lower@example.org>",
                     "data"):
            code, lines = c.cmd(line)
            seen.append((line, code))
            assert code != 354, (line, lines)
            assert not 500 <= code < 600, "5xx to %r: %r" % (line, lines)
        assert c.cmd("QUIT")[0] == 221
    rows = d.sessions(1)
    assert rows[0]["close_reason"] == "quit"
    assert rows[0]["reply_code"] is not None and rows[0]["reply_code"] < 500


def test_helo_only_dialogue(daemon):
    d = daemon()
    with Smtp("127.0.0.1", d.port, src="127.0.0.12") as c:
        assert c.greeting[0] == 220
        assert "mx10.decoy.test" in c.greeting[1][0]
        code, lines = c.cmd("HELO old.example.net")
        assert code == 250 and len(lines) == 1
        assert c.cmd("MAIL FROM:<a@example.net>")[0] == 250
        assert c.cmd("RCPT TO:<x@example.org>")[0] == 450
        assert c.cmd("RCPT TO:<y@example.org>")[0] == 450
        assert c.cmd("QUIT")[0] == 221
    r = d.sessions(1)[0]
    assert r["helo"] == "old.example.net"
    assert r.get("helo_verb") in (None, "HELO")
    assert r["rcpt_to"] == ["x@example.org", "y@example.org"]


CUSTOM = "Greylisted by decoy, come back later"


@pytest.mark.parametrize("code", [421, 450])
def test_defer_at_greeting(daemon, code):
    d = daemon(extra=["defer-stage greeting",
                      "defer-reply %d 4.3.2 %s" % (code, CUSTOM)])
    for i in range(2):
        with Smtp("127.0.0.1", d.port, src="127.0.1.%d" % (i + 1)) as c:
            g, lines = c.greeting
            assert g == code, lines
            assert "4.3.2" in lines[0] and CUSTOM in lines[0]
            assert c.closed(), "connection not closed after greeting defer"
    rows = d.sessions(2)
    for r in rows:
        assert r["stage"] == "greeting"
        assert r["reply_code"] == code
        assert r["close_reason"] == "deferred"
        assert r["helo"] is None and r["rcpt_to"] == []


def test_defer_at_helo(daemon):
    d = daemon(extra=["defer-stage helo", "defer-reply 451 4.7.1 " + CUSTOM])
    with Smtp("127.0.0.1", d.port) as c:
        assert c.greeting[0] == 220
        code, lines = c.cmd("EHLO client.example.net")
        assert code == 451 and CUSTOM in lines[-1], lines
        code, lines = c.cmd("MAIL FROM:<a@example.net>")
        assert 400 <= code < 500, lines
        assert c.cmd("QUIT")[0] == 221
    r = d.sessions(1)[0]
    assert r["stage"] in ("helo", "mail")
    assert r["reply_code"] == 451
    assert r["helo"] == "client.example.net"


def test_defer_at_mail(daemon):
    d = daemon(extra=["defer-stage mail", "defer-reply 452 4.3.1 " + CUSTOM])
    with Smtp("127.0.0.1", d.port) as c:
        assert c.cmd("EHLO client.example.net")[0] == 250
        code, lines = c.cmd("MAIL FROM:<a@example.net>")
        assert code == 452 and "4.3.1 " + CUSTOM in lines[-1], lines
        code, lines = c.cmd("RCPT TO:<x@example.org>")
        assert 400 <= code < 500, lines
        assert c.cmd("QUIT")[0] == 221
    r = d.sessions(1)[0]
    assert r["mail_from"] == "a@example.net"
    assert r["reply_code"] == 452
    assert r["close_reason"] == "quit"


@pytest.mark.parametrize("code", [451, 421])
def test_defer_at_data(daemon, code):
    d = daemon(extra=["defer-stage data",
                      "defer-reply %d 4.7.1 %s" % (code, CUSTOM)])
    with Smtp("127.0.0.1", d.port) as c:
        assert c.cmd("EHLO client.example.net")[0] == 250
        assert c.cmd("MAIL FROM:<a@example.net>")[0] == 250
        assert c.cmd("RCPT TO:<x@example.org>")[0] == 250
        assert c.cmd("RCPT TO:<y@example.org>")[0] == 250
        got, lines = c.cmd("DATA")
        assert got == code and CUSTOM in lines[-1], lines
        if code == 421:
            assert c.closed()
        else:
            assert c.cmd("QUIT")[0] == 221
    r = d.sessions(1)[0]
    assert r["stage"] == "data"
    assert r["reply_code"] == code
    assert r["rcpt_to"] == ["x@example.org", "y@example.org"]
    assert r["close_reason"] == ("deferred" if code == 421 else "quit")


def test_bounds_on_what_is_kept(daemon):
    """Over-long HELO and paths are cut, recipients capped; all answered."""
    d = daemon(extra=["max-errors 100"])
    with Smtp("127.0.0.1", d.port, src="127.0.0.13") as c:
        assert c.cmd("EHLO " + "h" * 400 + ".example")[0] == 250
        assert c.cmd("MAIL FROM:<" + "m" * 700 + "@example.net>")[0] == 250
        for i in range(130):
            code, lines = c.cmd("RCPT TO:<r%d@example.org>" % i)
            assert code == 450, (i, lines)
        assert c.cmd("QUIT")[0] == 221
    r = d.sessions(1)[0]
    assert 0 < len(r["helo"]) <= 255 and r["helo"].startswith("hhhh")
    assert 0 < len(r["mail_from"]) <= 512
    assert 100 <= len(r["rcpt_to"]) <= 130
    assert r["rcpt_to"][:100] == ["r%d@example.org" % i for i in range(100)]
    assert r["close_reason"] == "quit"
