# SPDX-License-Identifier: ISC
"""
The rollups behind the windowed reports (schema 7): report summary, top
and timeline answered from them must equal a scan of the sessions
(DECOYMX_REPORT_SCAN=1) over random windows, aligned or not, and random
filters; the store keeps them per batch as db recount builds them, and a
later change of a session's geolocation or fingerprint moves it.
"""
import json
import os
import random
import shutil
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, run_bin, normal_session, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HOUR = 3600 * 10**6
DAY = 24 * HOUR
ROLLUP_TABLES = {
    "rollup": "SELECT * FROM rollup ORDER BY 1,2,3,4,5,6,7,8,9,10,11",
    "rollup_buckets": "SELECT * FROM rollup_buckets ORDER BY 1, 2",
    "rollup_day_ips": "SELECT * FROM rollup_day_ips ORDER BY 1, 2",
    # schema 12: the client numbers may differ, the addresses may not
    "rollup_country": "SELECT c.hour, c.country, i.ip, c.sessions,"
                      " c.first_us, c.last_us FROM rollup_country c"
                      " LEFT JOIN rollup_ips i ON i.id = c.ip"
                      " ORDER BY 1, 2, 3",
    "rollup_ips": "SELECT count(*), count(DISTINCT ip) FROM rollup_ips",
}
# Schema 12 undone, as a decoymx of schema 11 left the database.
DOWNGRADE_TO_11 = (
    "DROP TRIGGER sessions_rollup_country_late;"
    "DROP TABLE rollup_country; DROP TABLE rollup_ips;"
    "PRAGMA user_version = 11;")


def dump_rollups(db):
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(q).fetchall()
                for t, q in ROLLUP_TABLES.items()}
    finally:
        con.close()


def recount(db):
    r = run_bin("db", "recount", "--db", db)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """3 days of synthetic sessions; some fingerprints and geolocation
    changed after they were rolled up."""
    path = str(tmp_path_factory.mktemp("roll") / "r.db")
    subprocess.run([os.path.join(ROOT, "scripts", "gen-synthetic-db"),
                    "--sessions", "12000", "--clients", "1500", "--days",
                    "3", "--seed", "7", "--decoymx", BIN, path],
                   check=True, capture_output=True, timeout=300)
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE sessions SET os = 'Linux 3.11 and newer',"
                    " os_class = 'unix' WHERE id % 7 = 0")
        con.execute("UPDATE sessions SET os = 'Windows 7 or 8',"
                    " os_class = 'win' WHERE id % 13 = 0")
        con.execute("UPDATE sessions SET country = NULL, asn = NULL,"
                    " as_org = NULL WHERE id % 11 = 0")
        # moved to another country, and back from none
        con.execute("UPDATE sessions SET country = 'FR' WHERE id % 23 = 0")
        con.execute("UPDATE sessions SET country = 'NL' WHERE id % 253 = 0")
        con.execute("UPDATE sessions SET as_org = 'Renamed AS'"
                    " WHERE id % 17 = 0")
        # Longer than the reports read ahead at once (a batch of rows).
        con.execute("UPDATE sessions SET as_org = 'Long AS ' ||"
                    " hex(zeroblob(5000)) WHERE id % 19 = 0")
    con.close()
    return path


def out(db, args, scan):
    env = dict(os.environ)
    env.pop("DECOYMX_REPORT_SCAN", None)
    if scan:
        env["DECOYMX_REPORT_SCAN"] = "1"
    r = subprocess.run([BIN, "report"] + args + ["--db", db, "--format",
                       "json"], capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def iso(us):
    """The UTC time the reports take (to the second)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us // 10**6))


def test_late_changes_move_sessions_as_recount_would(db):
    before = dump_rollups(db)
    assert sum(r[12] for r in before["rollup"]) == 12000
    assert any(r[6] == "unix" for r in before["rollup"])
    scratch = db + ".copy"
    shutil.copy(db, scratch)
    recount(scratch)
    assert dump_rollups(scratch) == before


def test_rollups_are_what_answers(db):
    """A window of whole hours is read from the rollups, not the scan:
    spoil them in a copy and the answer changes."""
    con = sqlite3.connect(db)
    lo, hi = con.execute("SELECT min(start_us), max(start_us)"
                         " FROM sessions").fetchone()
    con.close()
    since = ["--since", iso((lo // HOUR + 2) * HOUR)]
    assert out(db, ["summary"] + since, False) == \
        out(db, ["summary"] + since, True)
    scratch = db + ".spoilt"
    shutil.copy(db, scratch)
    con = sqlite3.connect(scratch)
    with con:
        con.execute("UPDATE rollup SET sessions = sessions + 1")
    con.close()
    assert out(scratch, ["summary"] + since, False) != \
        out(scratch, ["summary"] + since, True)
    # top countries reads its own narrow rollup (schema 12)
    top = ["top", "countries"] + since
    assert out(scratch, top, False) == out(scratch, top, True)
    con = sqlite3.connect(scratch)
    with con:
        con.execute("UPDATE rollup_country SET sessions = sessions + 1")
    con.close()
    assert out(scratch, top, False) != out(scratch, top, True)
    # Sessions not yet rolled up: the reports scan.
    con = sqlite3.connect(scratch)
    with con:
        con.execute("UPDATE rollup_state SET max_id = max_id - 1")
    con.close()
    assert out(scratch, ["summary"] + since, False) == \
        out(scratch, ["summary"] + since, True)


def random_filter(rng, lo, hi, ips):
    args = []
    for which in ("since", "until"):
        c = rng.random()
        if c < 0.2:
            continue
        t = lo + int((hi - lo) * rng.random())
        if c < 0.45:
            t = t // HOUR * HOUR
        elif c < 0.6:
            t = t // DAY * DAY
        args += ["--" + which, iso(t)]
    c = rng.random()
    if c < 0.15:
        args += ["--country", rng.choice(["CN", "US", "de"])]
    elif c < 0.25:
        args += ["--decoy", rng.choice(["192.0.2.10", "192.0.2.40",
                                        "192.0.2.99"])]
    elif c < 0.32:
        args += ["--asn", str(64512 + rng.randrange(40))]
    elif c < 0.4:
        ip = rng.choice(ips)
        args += ["--cidr", ip.rsplit(".", 2)[0] + ".0.0/16"
                 if ":" not in ip else "2001:db8::/32"]
    if not args:
        args = ["--since", iso(lo + HOUR // 2)]
    return args


def test_random_windows_equal_the_scan(db):
    rng = random.Random(15)
    con = sqlite3.connect(db)
    lo, hi = con.execute("SELECT min(start_us), max(start_us)"
                         " FROM sessions").fetchone()
    ips = [r[0] for r in con.execute("SELECT src_ip FROM sessions"
                                     " WHERE id % 97 = 0")]
    con.close()
    lo -= 2 * HOUR
    hi += 2 * HOUR
    kinds = ["ips", "nets", "countries", "asns", "os", "anomalies",
             "fingerprints"]
    differ = []
    for i in range(60):
        filt = random_filter(rng, lo, hi, ips)
        which = i % 3
        if which == 0:
            args = ["summary"] + filt
        elif which == 1:
            args = ["top", rng.choice(kinds), "--limit",
                    str(rng.choice([3, 20, 1000]))] + filt
        else:
            args = ["timeline", "--bucket",
                    rng.choice(["1h", "1d", "2h", "3d", "30m"])] + filt
        if out(db, args, False) != out(db, args, True):
            differ.append(args)
    assert differ == []


def test_top_countries_equal_the_scan(db):
    """report top countries over random windows (edges inside hours,
    before the first and after the last session) and --country: the
    narrow country rollup gives the scan's answer."""
    rng = random.Random(1512)
    con = sqlite3.connect(db)
    lo, hi = con.execute("SELECT min(start_us), max(start_us)"
                         " FROM sessions").fetchone()
    con.close()
    differ = []
    for i in range(30):
        filt = []
        for which in ("since", "until"):
            t = lo - 2 * HOUR + int((hi - lo + 4 * HOUR) * rng.random())
            c = rng.random()
            if c < 0.2:
                continue
            if c < 0.4:
                t = t // HOUR * HOUR
            filt += ["--" + which, iso(t)]
        if i % 4 == 0:
            filt += ["--country", rng.choice(["CN", "FR", "NL", "ZZ"])]
        if not filt:
            filt = ["--since", iso(lo + 1)]
        args = ["top", "countries", "--limit",
                str(rng.choice([1, 5, 1000]))] + filt
        want = out(db, args, True)
        if out(db, args, False) != want:
            differ.append(args)
    assert differ == []
    # rows at all: not two empty answers
    assert b'"clients"' in out(db, ["top", "countries", "--since",
                                    iso(lo + HOUR // 3)], False)


def test_migration_12_fills_the_country_rollup(db, tmp_path):
    """A schema-11 database (pruned: some hours are known only to the
    rollups) migrates to the country rollup the store would keep, and
    top countries answers as before."""
    p = str(tmp_path / "m.db")
    shutil.copy(db, p)
    r = run_bin("db", "prune", "--older-than", "40h", "--db", p)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(p)
    lo = con.execute("SELECT min(hour) FROM rollup").fetchone()[0]
    con.close()
    top = ["top", "countries", "--since", iso(lo + HOUR // 2)]
    want = (dump_rollups(p), out(p, top, False))
    con = sqlite3.connect(p)
    con.executescript(DOWNGRADE_TO_11)
    con.close()
    r = run_bin("db", "migrate", "--db", p)
    assert r.returncode == 0, r.stderr
    assert (dump_rollups(p), out(p, top, False)) == want
    assert len(want[0]["rollup_country"]) > 1000
    # and the store keeps it from there: a late change moves a session
    con = sqlite3.connect(p)
    with con:
        con.execute("UPDATE sessions SET country = 'FR'"
                    " WHERE id IN (SELECT max(id) FROM sessions)")
    con.close()
    assert out(p, top, False) != want[1]
    scratch = p + ".recount"
    shutil.copy(p, scratch)
    # recount rebuilds from the sessions left: compare the hours kept
    recount(scratch)
    cut = sqlite3.connect(p).execute(
        "SELECT pruned_us FROM rollup_state").fetchone()[0]
    kept = [r for r in dump_rollups(p)["rollup_country"] if r[0] >= cut]
    assert kept == dump_rollups(scratch)["rollup_country"]


def test_merge_keeps_the_country_rollup(db, tmp_path):
    """Sessions merged in (through the store, per batch) are in the
    country rollup as db recount puts them."""
    dst = str(tmp_path / "merged.db")
    r = run_bin("db", "merge", "--db", dst, db, timeout=120)
    assert r.returncode == 0, r.stderr
    got = dump_rollups(dst)
    scratch = dst + ".recount"
    shutil.copy(dst, scratch)
    recount(scratch)
    assert got == dump_rollups(scratch)
    assert sum(r[3] for r in got["rollup_country"]) > 10000
    con = sqlite3.connect(dst)
    lo = con.execute("SELECT min(start_us) FROM sessions").fetchone()[0]
    con.close()
    top = ["top", "countries", "--since", iso(lo + HOUR + 1)]
    assert out(dst, top, False) == out(dst, top, True)


def test_store_keeps_rollups_per_batch(daemon, tmp_path):
    d = daemon()
    srcs = ["127.0.0.%d" % (2 + i % 5) for i in range(14)]
    for src in srcs:
        normal_session(d, src=src)
    d.sessions(len(srcs), exact=True)
    wait_until(lambda: sum(r[12] for r in dump_rollups(d.db)["rollup"])
               == len(srcs), 10, what="all sessions rolled up")
    d.stop()
    kept = dump_rollups(d.db)
    hours = [r for r in kept["rollup_buckets"] if r[0] == HOUR]
    assert sum(r[2] for r in hours) == len(srcs)
    con = sqlite3.connect(d.db)
    clients = con.execute("SELECT count(DISTINCT src_ip) FROM sessions"
                          ).fetchone()[0]
    con.close()
    if len(hours) == 1:
        assert hours[0][3] == clients == 5
    recount(d.db)
    assert dump_rollups(d.db) == kept


def test_store_keeps_the_country_rollup_per_batch(daemon, tmp_path):
    """With geolocation on, the store numbers the clients and keeps the
    country rollup at every commit, across batches, as db recount
    builds it; top countries over the hour reads it and says what the
    scan says."""
    fx = tmp_path / "mmdb"
    fx.mkdir()
    subprocess.run([os.path.join(ROOT, "scripts", "make-mmdb-fixtures"),
                    str(fx)], check=True, capture_output=True, timeout=120)
    d = daemon(extra=["geoip country %s" % (fx / "country.mmdb")])
    # 127.0.0.x: DE, 127.1.0.x: FR (scripts/make-mmdb-fixtures)
    srcs = ["127.0.0.2", "127.1.0.1", "127.0.0.3", "127.1.0.1",
            "127.0.0.2", "127.1.0.2"]
    for i, src in enumerate(srcs):
        normal_session(d, src=src)
        # each waited for: one batch after another
        d.sessions(i + 1, exact=True)
    wait_until(lambda: sum(r[3] for r in
                           dump_rollups(d.db)["rollup_country"])
               == len(srcs), 10, what="all sessions rolled up by country")
    d.stop()
    kept = dump_rollups(d.db)
    hour = min(r[0] for r in kept["rollup_country"])
    top = ["top", "countries", "--since", iso(hour)]
    got = {r["key"]: (r["sessions"], r["clients"])
           for r in json.loads(out(d.db, top, False))}
    if len({r[0] for r in kept["rollup_country"]}) == 1:
        assert got == {"DE": (3, 2), "FR": (3, 2)}
    assert out(d.db, top, False) == out(d.db, top, True)
    recount(d.db)
    assert dump_rollups(d.db) == kept
    assert kept["rollup_ips"] == [(4, 4)]


def test_prune_keeps_what_was_counted(db, tmp_path):
    """db prune --older-than drops the old sessions' detail; the all-time
    counts, the rollups and what they answer stay as they were."""
    p = str(tmp_path / "p.db")
    shutil.copy(db, p)
    con = sqlite3.connect(p)
    lo, hi = con.execute("SELECT min(start_us), max(start_us)"
                         " FROM sessions").fetchone()
    # a transaction of the oldest session (a foreign key to prune too)
    con.execute("INSERT INTO transactions(session_id, seq, mail_from,"
                " rcpt_total) SELECT id, 99, 'old@x.example', 0 FROM sessions"
                " ORDER BY start_us LIMIT 1")
    con.commit()
    con.close()
    since = ["--since", iso((lo // HOUR + 3) * HOUR)]
    before = {"summary": out(p, ["summary"], False),
              "timeline": out(p, ["timeline", "--bucket", "1h"], False),
              "window": out(p, ["summary"] + since, False),
              "top": out(p, ["top", "countries"] + since, False)}
    rollups = dump_rollups(p)
    r = run_bin("db", "prune", "--older-than", "36h", "--db", p)
    assert r.returncode == 0, r.stderr
    assert b"pruned before" in r.stdout
    con = sqlite3.connect(p)
    cut, left, orphans = con.execute(
        "SELECT pruned_us, (SELECT count(*) FROM sessions),"
        " (SELECT count(*) FROM recipients WHERE session_id NOT IN"
        " (SELECT id FROM sessions)) + (SELECT count(*) FROM transactions"
        " WHERE session_id NOT IN (SELECT id FROM sessions))"
        " FROM rollup_state").fetchone()
    oldest = con.execute("SELECT min(start_us) FROM sessions").fetchone()[0]
    con.close()
    assert cut % HOUR == 0 and lo < cut < hi
    assert 0 < left < 12000 and oldest >= cut and orphans == 0
    assert dump_rollups(p) == rollups
    assert out(p, ["summary"], False) == before["summary"]
    assert out(p, ["timeline", "--bucket", "1h"], False) == \
        before["timeline"]
    assert out(p, ["summary"] + since, False) == before["window"]
    assert out(p, ["top", "countries"] + since, False) == before["top"]
    # The scan sees only what is left.
    assert out(p, ["summary"] + since, True) != before["window"]
    assert run_bin("db", "check", "--db", p).returncode == 0
    for bad in (["--older-than", "soon"], ["--older-than", "10m"], []):
        r = run_bin("db", "prune", *bad, "--db", p)
        assert r.returncode == 2, (bad, r.stderr)
    assert run_bin("db", "recount", "--older-than", "1d", "--db",
                   p).returncode == 2


def evidence_oracle(db):
    """The classification evidence as the schema-3 trigger counted it,
    one session at a time in id order."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT src_ip, role, start_us, helo, mail_from,"
                       " anomalies FROM sessions ORDER BY id").fetchall()
    con.close()
    ev, env = {}, {}
    for ip, role, t, helo, mail, anom in rows:
        e = ev.setdefault(ip, [None, 0, None, 0, 0, 0])
        for i, r in ((0, "primary"), (2, "backup")):
            if role == r:
                e[i] = t if e[i] is None else min(e[i], t)
                e[i + 1] += 1
        e[4] += helo is not None and anom & 16 == 0
        if mail is not None:
            k = (ip, helo or "", mail)
            if k in env and t - env[k][0] >= 60 * 10**6:
                e[5] += 1
            f = env.get(k, (t, t, 0))
            env[k] = (min(f[0], t), max(f[1], t), f[2] + 1)
    return ({(ip,) + tuple(v) for ip, v in ev.items()},
            {k + v for k, v in env.items()})


def evidence_tables(db):
    con = sqlite3.connect(db)
    try:
        # what the schema-3 trigger counted (not schema 8's parallel)
        return (set(con.execute("SELECT ip, primary_first_us,"
                                " primary_sessions, backup_first_us,"
                                " backup_sessions, helo_ok, retries"
                                " FROM client_evidence")),
                set(con.execute("SELECT * FROM client_envelopes")))
    finally:
        con.close()


def test_evidence_per_batch_counts_as_the_trigger_did(db, tmp_path):
    """Sessions stored through the store (db merge: one batch per file)
    get the classification evidence the per-row trigger gave them, also
    across batches (a second file with the same clients)."""
    other = str(tmp_path / "other.db")
    subprocess.run([os.path.join(ROOT, "scripts", "gen-synthetic-db"),
                    "--sessions", "3000", "--clients", "1500", "--days",
                    "3", "--seed", "8", "--decoymx", BIN, other],
                   check=True, capture_output=True, timeout=300)
    first = str(tmp_path / "first.db")
    shutil.copy(db, first)
    # Envelopes that repeat, within a file and across the two.
    for path, every in ((first, 3), (other, 2)):
        con = sqlite3.connect(path)
        with con:
            con.execute("UPDATE sessions SET helo = 'h.example',"
                        " mail_from = 'm@x.example' WHERE id % ? = 0",
                        (every,))
            # its one transaction (gen-synthetic-db) says the same
            con.execute("UPDATE transactions SET mail_from = 'm@x.example'"
                        " WHERE seq = 0 AND session_id % ? = 0", (every,))
        con.close()
    dst = str(tmp_path / "merged.db")
    for src in (first, other):
        r = run_bin("db", "merge", "--db", dst, src, timeout=120)
        assert r.returncode == 0, r.stderr
    got = evidence_tables(dst)
    want = evidence_oracle(dst)
    assert len(want[0]) > 1000 and sum(e[6] for e in want[0]) > 100
    assert got[0] == want[0]
    assert got[1] == want[1]
