# SPDX-License-Identifier: ISC
"""
Counts that add up (issue 13): whatever happened to a database -- live
sessions with several transactions, the sensor filling in the OS, geo
lookups, a reload, a db merge of another sensor's database, a migration
from the schema before transactions -- every section of "report summary"
and every "report top" kind answers with exactly the figures a recount
from the sessions ("db recount") gives, and "db check" finds no drift.

A property test: the operations come in a random order, from a seed
printed on failure (DECOYMX_COUNTS_SEED=N reproduces a run).
"""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess

import pytest

import scenario

from conftest import REPO, Smtp, SmtpError, run_bin, wait_until

TOP_KINDS = ("ips", "nets", "helos", "senders", "sender-domains",
             "recipients", "countries", "asns", "os", "anomalies",
             "fingerprints")
SECTIONS = ("total", "by_decoy", "by_role", "by_stage", "by_reason",
            "top_countries", "top_asns", "top_os", "top_anomalies")
OWN_FP = str(REPO / "dist" / "decoymx-fp.fp")
P0F_FP = "/etc/p0f/p0f.fp"


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    d = tmp_path_factory.mktemp("mmdb")
    subprocess.run([str(REPO / "scripts" / "make-mmdb-fixtures"), str(d)],
                   check=True, timeout=60)
    return d


def figures(db):
    """{(report, section or kind): {key: sessions}} of every count report."""
    out = {}
    r = run_bin("report", "summary", "--db", db, "--format", "json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    out[("summary", "total")] = {"all": summary["total"]["sessions"]}
    for sec in SECTIONS[1:]:
        out[("summary", sec)] = {str(x["key"]): x["sessions"]
                                 for x in summary[sec]}
    for kind in TOP_KINDS:
        r = run_bin("report", "top", kind, "--db", db, "--format", "json",
                    "--limit", "100000")
        assert r.returncode == 0, r.stderr
        out[("top", kind)] = {str(x["key"]): x["sessions"]
                              for x in json.loads(r.stdout)}
    return out


def assert_adds_up(db, tmp_path, seed, what):
    """db's figures equal those of a recounted copy; db check agrees."""
    r = run_bin("db", "check", "--db", db)
    assert r.returncode == 0, "seed %d %s: db check: %s" % (
        seed, what, r.stdout.decode()[-3000:])
    copy = str(tmp_path / "recount.db")
    con = sqlite3.connect(db)
    con.execute("VACUUM INTO ?", (copy,))
    con.close()
    before = figures(db)
    r = run_bin("db", "recount", "--db", copy)
    assert r.returncode == 0, r.stderr
    after = figures(copy)
    os.unlink(copy)
    for k in before:
        assert before[k] == after[k], "seed %d %s: %s %s: stored %s, " \
            "recount %s" % (seed, what, k[0], k[1], before[k], after[k])
    total = before[("summary", "total")]["all"]
    for sec in ("by_decoy", "by_role", "by_stage", "by_reason"):
        assert sum(before[("summary", sec)].values()) == total, (seed, sec)
    return before


def random_session(rng, d, n):
    """One client session with 0-3 transactions; returns senders seen."""
    src = "127.%d.%d.%d" % (rng.choice((0, 1, 2, 3)), rng.randrange(256),
                            rng.randrange(1, 255))
    senders = []
    try:
        with Smtp("127.0.0.1", d.port, src=src) as s:
            if rng.random() < 0.9:
                s.cmd("EHLO %s" % rng.choice(("mail.example.org",
                                              "x", "[1.2.3.4]")))
            for t in range(rng.choice((0, 1, 1, 2, 3))):
                frm = rng.choice(("a@x.example", "b@y.example", "",
                                  "c@X.EXAMPLE"))
                s.cmd("MAIL FROM:<%s>" % frm)
                senders.append(frm)
                for i in range(rng.randrange(3)):
                    s.cmd("RCPT TO:<u%d@victim.example>" % rng.randrange(5))
                if rng.random() < 0.5:
                    s.cmd("RSET")
            if rng.random() < 0.7:
                s.cmd("QUIT")
    except (SmtpError, OSError):
        pass
    return senders


def conf_lines(fx, sensor):
    lines = ["geoip country %s" % (fx / "country.mmdb"),
             "geoip asn %s" % (fx / "asn.mmdb"), "max-errors 50"]
    if sensor:
        lines += ["sensor on", "sensor interface lo",
                  "sensor fpdb %s %s" % (OWN_FP, P0F_FP)]
    return lines


def test_counts_add_up_after_random_operations(daemon, fx, tmp_path):
    seed = int(os.environ.get("DECOYMX_COUNTS_SEED",
                              random.SystemRandom().randrange(1 << 30)))
    rng = random.Random(seed)
    sensor = os.geteuid() == 0 and os.path.exists(P0F_FP)
    a = daemon(extra=conf_lines(fx, sensor))
    b = daemon(extra=conf_lines(fx, False))
    n = {a: 0, b: 0}
    for step in range(rng.randrange(25, 40)):
        op = rng.random()
        if op < 0.7:
            d = a if rng.random() < 0.75 else b
            random_session(rng, d, n[d])
            n[d] += 1
        elif op < 0.8:
            a.signal(signal.SIGHUP)         # reload: geo reopened
            wait_until(lambda: "reload" in a.read_stderr(), 10,
                       what="the reload")
        else:
            d = rng.choice((a, b))
            if n[d]:
                d.sessions(n[d], timeout=15)
    a.sessions(n[a], timeout=15)
    b.sessions(n[b], timeout=15) if n[b] else None
    if sensor and n[a]:
        # The sensor has filled in the OS of some sessions (late counts).
        wait_until(lambda: sqlite3.connect(a.db).execute(
            "SELECT count(*) FROM sessions WHERE os IS NOT NULL")
            .fetchone()[0] > 0, 15, what="an OS from the sensor")
    got = assert_adds_up(a.db, tmp_path, seed, "live")
    assert got[("summary", "total")]["all"] == n[a]
    a.stop()
    b.stop()
    if n[b]:
        r = run_bin("db", "merge", "--db", a.db, b.db)
        assert r.returncode == 0, r.stderr
        got = assert_adds_up(a.db, tmp_path, seed, "after merge")
        assert got[("summary", "total")]["all"] == n[a] + n[b]


def test_counts_add_up_after_migration(daemon, fx, tmp_path):
    """A schema-6 database (one envelope a session) migrates to counts
    that still add up; its senders are then counted from transactions."""
    d = daemon(extra=conf_lines(fx, False))
    rng = random.Random(7)
    for i in range(8):
        with Smtp("127.0.0.1", d.port, src="127.0.%d.%d" % (i, i + 1)) as s:
            s.cmd("EHLO mail.example.org")
            s.cmd("MAIL FROM:<s%d@x.example>" % (i % 3))
            s.cmd("RCPT TO:<u%d@victim.example>" % rng.randrange(3))
            s.cmd("QUIT")
    d.sessions(8)
    d.stop()
    con = sqlite3.connect(d.db)
    con.executescript(scenario.DOWNGRADE_TO_7)
    con.close()
    assert run_bin("db", "migrate", "--db", d.db).returncode == 0
    got = assert_adds_up(d.db, tmp_path, 7, "after migration")
    assert got[("top", "senders")] == {"s0@x.example": 3,
                                       "s1@x.example": 3,
                                       "s2@x.example": 2}


def test_db_check_reports_drift(daemon, tmp_path):
    d = daemon()
    with Smtp("127.0.0.1", d.port) as s:
        s.cmd("EHLO mail.example.org")
        s.cmd("MAIL FROM:<a@x.example>")
        s.cmd("QUIT")
    d.sessions(1)
    d.stop()
    assert run_bin("db", "check", "--db", d.db).returncode == 0
    con = sqlite3.connect(d.db)
    con.execute("UPDATE counts SET sessions = sessions + 1"
                " WHERE dim = 'sender'")
    con.commit()
    con.close()
    r = run_bin("db", "check", "--db", d.db)
    assert r.returncode == 1
    assert b'counts drift dim=sender key="a@x.example" stored=2 recount=1' \
        in r.stdout, r.stdout
    assert run_bin("db", "recount", "--db", d.db).returncode == 0
    assert run_bin("db", "check", "--db", d.db).returncode == 0
