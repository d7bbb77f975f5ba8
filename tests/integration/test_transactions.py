# SPDX-License-Identifier: ISC
"""
Every MAIL transaction of a session is kept (issue 13): a session with
three transactions from three senders is stored, reported (sessions in
JSON, CSV and table; report ip), written to the event log with every
sender and the right recipients under each, and "report top senders"
counts all three, with and without a filter.  A database of the schema
before transactions is migrated: each old session becomes one.
"""
import csv
import io
import json
import sqlite3

from conftest import REPO, Smtp, run_bin, wait_until
import scenario

SENDERS = ["one@x.example", "two@y.example", "three@z.example"]
RCPTS = [["u1@victim.example"], ["u2@victim.example", "u3@victim.example"],
         ["u4@victim.example"]]


def three_transactions(d):
    with Smtp("127.0.0.1", d.port) as s:
        assert s.cmd("EHLO mail.example.org")[0] == 250
        assert s.cmd("MAIL FROM:<%s> SIZE=1000" % SENDERS[0])[0] == 250
        assert s.cmd("RCPT TO:<%s>" % RCPTS[0][0])[0] == 450
        assert s.cmd("RSET")[0] == 250
        assert s.cmd("MAIL FROM:<%s>" % SENDERS[1])[0] == 250
        for r in RCPTS[1]:
            assert s.cmd("RCPT TO:<%s>" % r)[0] == 450
        assert s.cmd("MAIL FROM:<%s> BODY=8BITMIME" % SENDERS[2])[0] == 250
        assert s.cmd("RCPT TO:<%s>" % RCPTS[2][0])[0] == 450
        assert s.cmd("QUIT")[0] == 221


def read_events(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def check_txns(txns):
    assert [t["mail_from"] for t in txns] == SENDERS
    assert [t["rcpt_to"] for t in txns] == RCPTS
    assert [t["ended"] for t in txns] == ["rset", "mail", "quit"]
    assert [t["params"] for t in txns] == ["SIZE=1000", None, "BODY=8BITMIME"]
    assert all(t["reply_code"] == 250 for t in txns)
    assert all(c == 450 for t in txns for c in t["rcpt_replies"])


def test_three_transactions(daemon, tmp_path):
    log = str(tmp_path / "events.jsonl")
    d = daemon(extra=["events-log %s" % log])
    three_transactions(d)
    rows = d.sessions(1)
    row = rows[0]
    # The legacy fields stay: the first sender, every recipient.
    assert row["mail_from"] == SENDERS[0]
    assert row["rcpt_to"] == [r for rs in RCPTS for r in rs]
    assert row["transactions_total"] == 3
    check_txns(row["transactions"])

    wait_until(lambda: read_events(log), 10, what="the event")
    ev = read_events(log)[0]
    check_txns(ev["transactions"])
    assert ev["transactions_total"] == 3
    for key in ("os", "os_class", "country", "asn", "as_org", "auth",
                "helo_verb", "bytes_in", "id", "uid", "start", "end"):
        assert key in ev, key
    assert ev["country"] is None and ev["auth"] == []
    # Every field of the report, with the same value (issue 13).
    for key, value in row.items():
        assert key in ev, key
        if key in ("os", "os_class") and ev[key] is None:
            continue        # the sensor's SYN may be stored after it
        assert ev[key] == value, (key, value, ev[key])
    assert ev["session"] == ev["uid"] and ev["timestamp"] == ev["end"]
    assert ev["rcpt_total"] == 4
    # The man page names the event and each of its keys.
    import re
    man = (REPO / "dist" / "decoymx.8").read_text()
    sec = man[man.index(".Sh EVENT LOG"):man.index(".Sh THE SENSOR")]
    assert "decoymx.session.closed" in sec
    for key in ev:
        assert re.search(r"\b%s\b" % re.escape(key), sec), key

    for extra in ([], ["--since", "1h"]):
        r = run_bin("report", "top", "senders", "--db", d.db, "--format",
                    "json", *extra)
        assert r.returncode == 0, r.stderr
        top = {t["key"]: t["sessions"] for t in json.loads(r.stdout)}
        assert top == {s: 1 for s in SENDERS}, (extra, top)
        r = run_bin("report", "top", "recipients", "--db", d.db,
                    "--format", "json", *extra)
        top = {t["key"]: t["sessions"] for t in json.loads(r.stdout)}
        assert top == {r: 1 for rs in RCPTS for r in rs}

    r = run_bin("report", "sessions", "--db", d.db, "--format", "csv")
    cells = list(csv.DictReader(io.StringIO(r.stdout.decode())))[0]
    assert cells["transactions"] == (
        "one@x.example -> u1@victim.example; two@y.example -> "
        "u2@victim.example u3@victim.example; three@z.example -> "
        "u4@victim.example")
    r = run_bin("report", "sessions", "--db", d.db, "--format", "table",
                env={"COLUMNS": "400"})
    assert all(s in r.stdout.decode() for s in SENDERS), r.stdout

    r = run_bin("report", "ip", "127.0.0.1", "--db", d.db, "--format",
                "json")
    assert r.returncode == 0, r.stderr
    ip = json.loads(r.stdout)
    assert [t["mail_from"] for t in ip["transactions"]] == SENDERS
    assert [t["rcpt_to"] for t in ip["transactions"]] == [
        " ".join(rs) for rs in RCPTS]

    # The classification evidence knows every envelope of the client.
    con = sqlite3.connect("file:%s?mode=ro" % d.db, uri=True)
    env = sorted(m for (m,) in con.execute(
        "SELECT mail_from FROM client_envelopes WHERE ip = '127.0.0.1'"))
    con.close()
    assert env == sorted(SENDERS), env

    r = run_bin("db", "recount", "--db", d.db)
    assert r.returncode == 0
    r = run_bin("report", "top", "senders", "--db", d.db, "--format", "json")
    assert {t["key"]: t["sessions"] for t in json.loads(r.stdout)} == {
        s: 1 for s in SENDERS}


def test_migrated_session_is_one_transaction(tmp_path, daemon):
    d = daemon()
    three_transactions(d)
    d.sessions(1)
    d.stop()
    # Take the database back to schema 6 as it would have been written.
    db = sqlite3.connect(d.db)
    db.executescript(scenario.DOWNGRADE_TO_7)
    db.close()
    r = run_bin("db", "migrate", "--db", d.db)
    assert r.returncode == 0, r.stderr
    rows = json.loads(run_bin("report", "sessions", "--db", d.db,
                              "--format", "json").stdout)
    t = rows[0]["transactions"]
    assert len(t) == 1 and t[0]["mail_from"] == SENDERS[0]
    assert t[0]["rcpt_to"] == [r for rs in RCPTS for r in rs]
    assert t[0]["ended"] is None


def test_repeated_sender_counts_once_per_session(daemon):
    """A sender (and a domain) that comes back in the same session is
    one session for it, whether the report reads the store's counts
    (no filter) or scans the window's sessions (--since)."""
    d = daemon()
    with Smtp("127.0.0.1", d.port) as s:
        assert s.cmd("EHLO mail.example.org")[0] == 250
        for sender in ("a@dup.example", "a@dup.example", "b@DUP.example",
                       "c@other.example", "a@dup.example"):
            assert s.cmd("MAIL FROM:<%s>" % sender)[0] == 250
            assert s.cmd("RCPT TO:<u@victim.example>")[0] == 450
            assert s.cmd("RSET")[0] == 250
        assert s.cmd("QUIT")[0] == 221
    with Smtp("127.0.0.1", d.port, src="127.0.0.2") as s:
        assert s.cmd("EHLO other.example.org")[0] == 250
        assert s.cmd("MAIL FROM:<a@dup.example>")[0] == 250
        assert s.cmd("QUIT")[0] == 221
    d.sessions(2)
    want = {
        "senders": {"a@dup.example": 2, "b@DUP.example": 1,
                    "c@other.example": 1},
        "sender-domains": {"dup.example": 2, "other.example": 1},
    }
    for kind, expect in want.items():
        for extra in ([], ["--since", "1h"], ["--cidr", "127.0.0.0/8"]):
            r = run_bin("report", "top", kind, "--db", d.db, "--format",
                        "json", *extra)
            assert r.returncode == 0, r.stderr
            got = {t["key"]: t["sessions"] for t in json.loads(r.stdout)}
            assert got == expect, (kind, extra, got)
