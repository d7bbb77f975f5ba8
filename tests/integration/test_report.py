# SPDX-License-Identifier: ISC
"""
report sessions: CSV, table and JSON output stay safe whatever the bots
sent (formula injection, terminal escapes, invalid UTF-8, control bytes).
"""
import csv
import io
import json
import sqlite3

from conftest import Smtp, by_src, read_sessions, report

CONTRACT_FIELDS = ("id", "start", "end", "src_ip", "src_port", "dst_ip",
                   "dst_port", "mx_pref", "role", "helo", "mail_from",
                   "rcpt_to", "stage", "reply_code", "close_reason",
                   "anomalies", "country", "asn", "as_org", "os")

FORMULA_HELO = "=HYPERLINK(\"http://evil.example\";\"x\")"
FORMULA_MAIL = "+cmd|' /C calc'!A0"
FORMULA_RCPT = "@SUM(1+1)"
# Bytes the SMTP engine lets through (no C0 controls): DEL, a raw 8-bit
# CSI, a UTF-8 encoded C1 CSI, invalid UTF-8.
TERM_HELO = b"evil\x7f\x9b31m\xc2\x9b32m\xff\xfe.example"
# Stored directly, as a value an older or buggy writer might have left.
STORED_HELO = "\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x00nul\nnl\r\"q\\\u2028"


def dialogue(d, src, helo, mail, rcpt):
    with Smtp("127.0.0.1", d.port, src=src) as c:
        c.send(b"EHLO " + helo + b"\r\n")
        assert c.reply()[0] == 250
        c.send(b"MAIL FROM:<" + mail + b">\r\n")
        assert c.reply()[0] == 250
        c.send(b"RCPT TO:<" + rcpt + b">\r\n")
        assert c.reply()[0] == 450
        assert c.cmd("QUIT")[0] == 221


def test_csv_output_neutralises_formulas(daemon):
    d = daemon()
    dialogue(d, "127.0.6.1", FORMULA_HELO.encode(), FORMULA_MAIL.encode(),
             FORMULA_RCPT.encode())
    dialogue(d, "127.0.6.2", b"plain.example.net", b"a,b@example.net",
             b"x@example.org")
    d.sessions(2)
    r = report(d.db, "csv")
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode("utf-8")
    lines = text.splitlines()
    assert len(lines) == 3, text                 # header + one per session
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    for f in CONTRACT_FIELDS:
        assert f in header, f
    for row in rows[1:]:
        assert len(row) == len(header)
    recs = [dict(zip(header, row)) for row in rows[1:]]
    evil = [x for x in recs if x["src_ip"] == "127.0.6.1"][0]
    assert evil["helo"] == "'" + FORMULA_HELO
    assert evil["mail_from"] == "'" + FORMULA_MAIL
    assert evil["rcpt_to"] == "'" + FORMULA_RCPT
    for row in rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "@", "-") or cell[:1] == "-" \
                and cell[1:2].isdigit(), cell
    plain = [x for x in recs if x["src_ip"] == "127.0.6.2"][0]
    assert plain["mail_from"] == "a,b@example.net"     # quoted, intact
    assert plain["helo"] == "plain.example.net"
    assert plain["reply_code"] == "450"


def no_terminal_controls(out):
    assert b"\x1b" not in out, "raw ESC in output"
    assert b"\x07" not in out
    assert b"\x9b" not in out.replace(b"\xc2\x9b", b""), "raw 8-bit CSI"
    assert b"\xc2\x9b" not in out, "UTF-8 C1 CSI in output"
    assert b"\x00" not in out
    assert b"\x7f" not in out


def test_table_and_json_escape_hostile_bytes(daemon):
    d = daemon()
    dialogue(d, "127.0.6.3", TERM_HELO, b"\xff@example.net", b"t@example.org")
    dialogue(d, "127.0.6.4", b"stored.example.net", b"s@example.net",
             b"u@example.org")
    d.sessions(2)
    assert d.stop() == 0
    con = sqlite3.connect(d.db)
    with con:
        n = con.execute("UPDATE sessions SET helo = ?, mail_from = ? "
                        "WHERE src_ip = '127.0.6.4'",
                        (STORED_HELO, STORED_HELO)).rowcount
        assert n == 1
        con.execute("UPDATE recipients SET rcpt = ? WHERE session_id = "
                    "(SELECT id FROM sessions WHERE src_ip = '127.0.6.4')",
                    (STORED_HELO,))
    con.close()

    r = report(d.db, "table")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert b"127.0.6.3" in out and b"127.0.6.4" in out
    no_terminal_controls(out)
    assert out.count(b"\n") >= 3             # header + 2 rows at least
    assert b"evil" in out

    r = report(d.db, "json")
    assert r.returncode == 0, r.stderr
    no_terminal_controls(r.stdout)
    rows = json.loads(r.stdout)              # must parse
    (t,) = by_src(rows, "127.0.6.3")
    assert t["helo"].startswith("evil") and t["helo"].endswith(".example")
    assert "\x1b" not in t["helo"]
    (s,) = by_src(rows, "127.0.6.4")
    # Valid UTF-8 comes back exactly, control characters included.
    assert s["helo"] == STORED_HELO
    assert s["mail_from"] == STORED_HELO
    assert s["rcpt_to"] == [STORED_HELO]

    r = report(d.db, "csv")
    assert r.returncode == 0
    no_terminal_controls(r.stdout)
    assert r.stdout.count(b"\r\n") == 3, r.stdout     # one line a session


def test_json_of_invalid_utf8_helo_parses(daemon):
    d = daemon()
    helo = b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc\t\x7f.example"
    dialogue(d, "127.0.6.5", helo, b"\xed\xa0\x80@example.net",
             b"\xf8\x88\x80\x80\x80@example.org")
    d.sessions(1)
    r = report(d.db, "json")
    assert r.returncode == 0
    r.stdout.decode("utf-8")                 # the output is valid UTF-8
    (row,) = json.loads(r.stdout)
    assert row["helo"].endswith(".example")
    assert row["mail_from"].endswith("@example.net")
    assert row["rcpt_to"][0].endswith("@example.org")
    assert "invalid" not in row                # sanity: plain object


def test_report_limit_and_since(daemon):
    d = daemon()
    for i in range(3):
        dialogue(d, "127.0.6.%d" % (10 + i), b"h%d.example.net" % i,
                 b"a@example.net", b"b@example.org")
    rows = d.sessions(3)
    assert [r["src_ip"] for r in rows] == ["127.0.6.10", "127.0.6.11",
                                           "127.0.6.12"]     # oldest first
    r = report(d.db, "json", "--limit", "1")
    assert r.returncode == 0
    assert [x["src_ip"] for x in json.loads(r.stdout)] == ["127.0.6.12"]
    r = report(d.db, "json", "--since", "1h")
    assert len(json.loads(r.stdout)) == 3
    r = report(d.db, "json", "--until", "2000-01-01T00:00:00Z")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = report(d.db, "json", "--since", "yesterday-ish")
    assert r.returncode == 2
    assert read_sessions(d.db) == rows
