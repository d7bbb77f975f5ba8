# SPDX-License-Identifier: ISC
"""
Signals a bot cannot explain away (issue 13), with no sensor at all:
an AUTH attempt on a decoy and a parallel walk (sessions to the primary
and the backup decoy started within a second and open at once) are each
a bot-protocol reason and a strong signal, so even an MTA-like client is
listed.  A sequential walk (primary, then backup right after) is not a
parallel one.  Live: each bot behaviour is caught in 20 of 20 runs with
the default configuration; exported: the export lists them.
"""
import json
import socket
import threading
import time

from conftest import BIN, Smtp, run_bin
import scenario
from scenario import HOUR, MIN, PRIMARY, BACKUP

RUNS = 20


def verdict(db, ip):
    r = run_bin("report", "ip", ip, "--db", db, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["classification"]


def auth_bot(port, src):
    with Smtp("127.0.0.1", port, src=src) as s:
        assert s.cmd("EHLO mail.example.org")[0] == 250
        s.cmd("AUTH PLAIN AGFkbWluAHNlY3JldA==")
        s.cmd("QUIT")


def parallel_bot(port, src):
    """The same message to the primary and the backup MX at once."""
    def one(dst):
        with Smtp(dst, port, src=src) as s:
            s.cmd("EHLO mail.example.org")
            s.cmd("MAIL FROM:<a@example.net>")
            s.cmd("RCPT TO:<b@example.org>")
            s.cmd("QUIT")
    ts = [threading.Thread(target=one, args=(dst,))
          for dst in ("127.0.0.1", "127.0.0.3")]
    for t in ts:
        t.start()
    for t in ts:
        t.join(15)


def sequential_walker(port, src):
    for dst in ("127.0.0.1", "127.0.0.3"):
        with Smtp(dst, port, src=src) as s:
            s.cmd("EHLO mail.example.org")
            s.cmd("MAIL FROM:<a@example.net>")
            s.cmd("RCPT TO:<b@example.org>")
            s.cmd("QUIT")


def test_live_bots_caught_20_of_20_without_the_sensor(daemon):
    d = daemon(addrs=("127.0.0.1", "127.0.0.3"), real_mx=None, listen=[
        "127.0.0.1:{port} mx 10", "127.0.0.3:{port} mx 40"],
        extra=["real-mx 127.0.0.20 mx 20", "sensor off"])
    for i in range(RUNS):
        auth_bot(d.port, "127.0.8.%d" % (i + 1))
        parallel_bot(d.port, "127.0.9.%d" % (i + 1))
    sequential_walker(d.port, "127.0.10.1")
    d.sessions(3 * RUNS + 2, timeout=30)
    for i in range(RUNS):
        for ip in ("127.0.8.%d" % (i + 1), "127.0.9.%d" % (i + 1)):
            c = verdict(d.db, ip)
            v = c["verdict"][0]
            # (a parallel bot may reach the backup a hair first: then it
            # is backup-direct too)
            assert "bot-protocol" in [r["reason"] for r in c["reasons"]], \
                (ip, c)
            assert v["strong_signal"] == 1 and v["sensor"] == 0, (ip, v)
            # Loopback is never exported; the rules do list it.
            assert v["excluded"] == "loopback: never listed", v
    # (the bot-protocol reason, wherever it is: a backup reached a hair
    # first puts backup-direct before it)
    ev = [r["evidence"] for r in verdict(d.db, "127.0.9.1")["reasons"]
          if r["reason"] == "bot-protocol"]
    assert len(ev) == 1 and "parallel walk" in ev[0], ev
    ev = [r["evidence"] for r in verdict(d.db, "127.0.8.1")["reasons"]
          if r["reason"] == "bot-protocol"]
    assert len(ev) == 1 and "auth-attempt" in ev[0], ev
    c = verdict(d.db, "127.0.10.1")
    assert c["reasons"] == [] and c["verdict"][0]["strong_signal"] == 0, c


def test_exported_even_when_mta_like(tmp_path):
    now = int(time.time() * 1e6)
    d = scenario.Db(BIN, tmp_path / "b.db")
    # An MTA-like client (valid HELO, retries like a queue) that tried AUTH.
    d.session("198.51.100.30", now - HOUR, decoy=PRIMARY,
              helo="mta.example.org", mail_from="x@example.org")
    d.session("198.51.100.30", now - HOUR + 5 * MIN, decoy=PRIMARY,
              helo="mta.example.org", mail_from="x@example.org",
              anomalies=128)                    # auth-attempt
    # The same MTA-like retries, plus a parallel walk.
    d.session("198.51.100.31", now - HOUR, decoy=PRIMARY,
              helo="mta.example.org", mail_from="y@example.org")
    d.session("198.51.100.31", now - HOUR + 5 * MIN, decoy=PRIMARY,
              helo="mta.example.org", mail_from="y@example.org")
    d.session("198.51.100.31", now - HOUR + 5 * MIN + 300000)  # backup
    # An MTA that walked on: primary, then backup after it ended.
    d.session("198.51.100.32", now - HOUR, decoy=PRIMARY,
              helo="mta.example.org", mail_from="z@example.org")
    d.session("198.51.100.32", now - HOUR + 5 * MIN, decoy=PRIMARY,
              helo="mta.example.org", mail_from="z@example.org")
    d.session("198.51.100.32", now - HOUR + 5 * MIN + 2100000)
    d.close()
    r = run_bin("export", "json", "--db", tmp_path / "b.db")
    assert r.returncode == 0, r.stderr
    got = {e["address"]: e["reasons"] for e in json.loads(r.stdout)["entries"]}
    assert got.get("198.51.100.30") == ["bot-protocol"], got
    assert got.get("198.51.100.31") == ["bot-protocol"], got
    assert "198.51.100.32" not in got, got
