# SPDX-License-Identifier: ISC
"""
Fleet support (issue 8): every event names its sensor ("sensor name"),
and the JSON-lines event log ("events-log PATH") has one object per
stored session with eventid, ISO-8601 UTC timestamp, sensor, src_ip and
session, network text escaped; it is reopened on SIGHUP for rotation.
"""
import json
import os
import re
import signal
import socket

from conftest import normal_session, wait_until


def read_events(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return [json.loads(l) for l in data.decode("utf-8").splitlines()]


def test_event_log_lines(daemon, tmp_path):
    log = str(tmp_path / "events.jsonl")
    d = daemon(extra=["sensor name mx10-paris", "events-log %s" % log])
    normal_session(d)
    with socket.create_connection(("127.0.0.1", d.port), 5) as s:
        s.recv(100)
        s.sendall(b"EHLO evil\"\\\xff\xfe.example\r\nQUIT\r\n")
        s.settimeout(5)
        while s.recv(100):
            pass
    ev = wait_until(lambda: (lambda e: e if len(e) >= 2 else None)(
        read_events(log)), 10, what="two events")
    rows = d.sessions(2)
    for e in ev:
        assert e["eventid"] == "decoymx.session.closed"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
                            e["timestamp"])
        assert e["sensor"] == "mx10-paris"
        assert e["src_ip"] == "127.0.0.1"
        assert e["session"] in {r["uid"] for r in rows}
    good = [e for e in ev if e["helo"] == "mail.example.org"][0]
    assert good["rcpt_to"] == ["someone@example.org"]
    assert good["reply_code"] == 450 and good["anomalies"] == []
    evil = [e for e in ev if e is not good][0]
    # Quote and backslash escaped; invalid UTF-8 written as \u00XX.
    assert evil["helo"] == "evil\"\\\u00ff\u00fe.example"
    raw = open(log, "rb").read()
    assert b"\xff" not in raw and b"\xfe" not in raw  # never raw on disk


def test_event_log_reopened_on_sighup(daemon, tmp_path):
    log = str(tmp_path / "events.jsonl")
    d = daemon(extra=["events-log %s" % log])
    normal_session(d)
    wait_until(lambda: len(read_events(log)) == 1, 10, what="first event")
    os.rename(log, log + ".1")               # what logrotate does
    d.signal(signal.SIGHUP)
    wait_until(lambda: "events-log reopened" in d.read_stderr(), 10,
               what="the reopen")
    normal_session(d)
    wait_until(lambda: len(read_events(log)) == 1, 10,
               what="an event in the new file")
    assert len(read_events(log + ".1")) == 1


def test_unwritable_event_log_is_a_clear_error(daemon, tmp_path):
    from conftest import Daemon
    blocker = tmp_path / "file"
    blocker.write_text("x")
    d = Daemon(tmp_path / "d", extra=["events-log %s/x.jsonl" % blocker])
    d.write_config()
    import subprocess
    from conftest import BIN, USER
    r = subprocess.run([str(BIN), "run", "-c", d.conf, "--user", USER],
                       capture_output=True, timeout=20)
    assert r.returncode == 1
    assert b"events-log" in r.stderr and str(blocker).encode() in r.stderr


def test_db_merge_folds_sensors_idempotently(daemon, tmp_path):
    import sqlite3
    from conftest import read_sessions, run_bin, Smtp
    a = daemon(extra=["sensor name mx10-a", "sensor off"])
    b = daemon(extra=["sensor name mx40-b", "sensor off"])
    normal_session(a)
    normal_session(a, src="127.0.9.1")
    normal_session(b, src="127.0.9.1", rcpt="other@example.org")
    a.sessions(2)
    b.sessions(1)
    assert a.stop() == 0 and b.stop() == 0
    fleet = str(tmp_path / "fleet.db")
    r = run_bin("db", "merge", "--db", fleet, a.db, b.db)
    assert r.returncode == 0, r.stderr
    assert b"sessions=2" in r.stdout and b"sessions=1" in r.stdout
    rows = read_sessions(fleet)
    assert len(rows) == 3
    assert sorted(r_["sensor"] for r_ in rows) == \
        ["mx10-a", "mx10-a", "mx40-b"]
    con = sqlite3.connect(fleet)
    try:
        sensors = sorted(x[0] for x in con.execute(
            "SELECT sensor FROM sessions"))
        assert sensors == ["mx10-a", "mx10-a", "mx40-b"]
        (n,) = con.execute("SELECT sessions FROM clients WHERE ip = "
                           "'127.0.9.1'").fetchone()
        assert n == 2                      # seen by both sensors
        rcpts = sorted(x[0] for x in con.execute(
            "SELECT rcpt FROM recipients"))
        assert rcpts == ["other@example.org", "someone@example.org",
                         "someone@example.org"]
    finally:
        con.close()
    # Merging again adds nothing.
    r = run_bin("db", "merge", "--db", fleet, a.db, b.db)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(b"sessions=0") == 2
    assert len(read_sessions(fleet)) == 3
    # A file that is not a decoymx database is refused, nothing changes.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    r = run_bin("db", "merge", "--db", fleet, str(junk))
    assert r.returncode == 1 and str(junk).encode() in r.stderr
    assert len(read_sessions(fleet)) == 3
