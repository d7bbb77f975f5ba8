# SPDX-License-Identifier: ISC
"""
decoymx report summary|top|ip|timeline|sessions against a small known
database (scenario.report_db), in every format, with every filter; the
empty database, a newer schema, a missing file; hostile text from the
network reaching JSON, CSV and the terminal; and one live session
through the real daemon.
"""
import csv
import io
import json
import os
import sqlite3

import pytest

from conftest import BIN, run_bin, normal_session, wait_until
import scenario


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return scenario.report_db(BIN, tmp_path_factory.mktemp("rep") / "r.db")


def rep(db, *args, fmt="json", ok=True):
    r = run_bin("report", *args, "--db", db, "--format", fmt)
    if ok:
        assert r.returncode == 0, r.stderr
        assert r.stderr == b""
    return r


def js(db, *args):
    return json.loads(rep(db, *args).stdout)


def rows_by_key(rows):
    return {r["key"]: r for r in rows}


def test_summary_json(db):
    s = js(db, "summary")
    assert s["total"]["sessions"] == 8
    assert s["total"]["clients"] == 4
    assert s["total"]["first"] == "2026-11-18T11:06:40.000Z"
    role = rows_by_key(s["by_role"])
    assert role["backup"]["sessions"] == 4 and role["backup"]["clients"] == 2
    assert role["primary"]["sessions"] == 4
    dec = rows_by_key(s["by_decoy"])
    assert dec["192.0.2.40"]["label"] == "backup"
    assert dec["192.0.2.10"]["clients"] == 2
    assert rows_by_key(s["by_stage"])["mail"]["sessions"] == 1
    assert rows_by_key(s["by_reason"])["timeout"]["sessions"] == 1
    assert [r["key"] for r in s["top_countries"]] == ["DE", "US"]
    assert rows_by_key(s["top_asns"])["64501"]["label"] == "Other AS"
    assert rows_by_key(s["top_os"])["Linux"]["sessions"] == 1
    assert {r["key"] for r in s["top_anomalies"]} == {
        "pregreet", "pipelining", "helo-invalid"}


def test_summary_filtered_matches_fast_path(db):
    fast = js(db, "summary")
    slow = js(db, "summary", "--since", "2000-01-01")
    assert slow["total"] == fast["total"]
    for sec in ("by_decoy", "by_role", "by_stage", "by_reason",
                "top_countries", "top_asns", "top_anomalies"):
        assert [(r["key"], r["sessions"]) for r in slow[sec]] == \
            [(r["key"], r["sessions"]) for r in fast[sec]], sec


@pytest.mark.parametrize("kind,expect", [
    ("ips", {"198.51.100.7": 3, "203.0.113.9": 2, "2001:db8::1": 2,
             "198.51.100.8": 1}),
    ("nets", {"198.51.100.0/24": 4, "203.0.113.0/24": 2,
              "2001:db8::/64": 2}),
    ("countries", {"DE": 4, "US": 2}),
    ("asns", {"64500": 4, "64501": 2}),
    ("recipients", {"u@victim.example": 6, "a@v.example": 1,
                    "b@v.example": 1}),
    ("sender-domains", {"example.net": 6, "bot.example": 1}),
    ("anomalies", {"pregreet": 1, "pipelining": 1, "helo-invalid": 1}),
    ("os", {"Linux": 1}),
    ("fingerprints", {"Linux 3.11 and newer": 1}),
])
def test_top(db, kind, expect):
    fast = js(db, "top", kind)
    assert {r["key"]: r["sessions"] for r in fast} == expect
    slow = js(db, "top", kind, "--until", "2100-01-01")
    assert {r["key"]: r["sessions"] for r in slow} == expect
    assert [r["sessions"] for r in fast] == sorted(
        (r["sessions"] for r in fast), reverse=True)


def test_top_nets_count_clients(db):
    for args in ((), ("--since", "2000-01-01")):
        nets = {r["key"]: r["clients"] for r in js(db, "top", "nets", *args)}
        assert nets == {"198.51.100.0/24": 2, "203.0.113.0/24": 1,
                        "2001:db8::/64": 1}


def test_top_limit_share_and_senders(db):
    r = js(db, "top", "ips", "--limit", "2")
    assert [x["key"] for x in r] == ["198.51.100.7", "2001:db8::1"]
    assert r[0]["share"] == pytest.approx(37.5)
    senders = {x["key"]: x["sessions"] for x in js(db, "top", "senders")}
    assert senders == {"a@example.net": 6, "x@Bot.Example": 1, "": 1}


@pytest.mark.parametrize("args,ips", [
    (("--country", "us"), {"203.0.113.9"}),
    (("--asn", "AS64500"), {"198.51.100.7", "198.51.100.8"}),
    (("--cidr", "198.51.100.0/31"), {"198.51.100.7"} - {"198.51.100.7"}),
    (("--cidr", "198.51.100.6/31"), {"198.51.100.7"}),
    (("--cidr", "2001:db8::/32"), {"2001:db8::1"}),
    (("--decoy", "192.0.2.10"), {"203.0.113.9", "2001:db8::1"}),
    (("--since", "2026-11-18T14:00:00Z"), {"203.0.113.9", "2001:db8::1"}),
    (("--until", "2026-11-18T12:00"), {"198.51.100.7"}),
])
def test_filters(db, args, ips):
    for cmd in (("top", "ips"), ("sessions",)):
        rows = js(db, *cmd, *args)
        got = {r.get("key", r.get("src_ip")) for r in rows}
        assert got == ips, (cmd, args)
    total = js(db, "summary", *args)["total"]["clients"]
    assert total == len(ips)


@pytest.mark.parametrize("args", [
    ("--country", "Deutschland"), ("--asn", "x1"), ("--cidr", "1.2.3.0/33"),
    ("--decoy", "not-an-ip"), ("--since", "yesterday"),
    ("--bucket", "7s"), ("--limit", "0"),
])
def test_bad_filters_exit_2(db, args):
    r = rep(db, "summary", *args, ok=False)
    assert r.returncode == 2
    assert args[1].encode() in r.stderr


def test_usage_errors(db):
    assert rep(db, "top", ok=False).returncode == 2
    r = rep(db, "top", "planets", ok=False)
    assert r.returncode == 2 and b"unknown kind" in r.stderr
    r = rep(db, "ip", "999.1.1.1", ok=False)
    assert r.returncode == 2
    assert rep(db, "nonesuch", ok=False).returncode == 2


def test_ip_dossier(db):
    d = js(db, "ip", "198.51.100.7")
    assert d["ip"] == "198.51.100.7"
    assert d["client"][0]["sessions"] == 3
    assert set(d["client"][0]["anomalies"]) == {"pregreet", "pipelining",
                                                "helo-invalid"}
    assert d["decoys"][0]["role"] == "backup"
    assert len(d["sessions"]) == 3
    assert d["sessions"][0]["start"] > d["sessions"][-1]["start"]
    # no sensor rows for this client (no sensor tables before schema 4)
    assert d["syns"] in (None, []) and d["mx_walk"] in (None, [])
    t = rep(db, "ip", "198.51.100.7", fmt="table").stdout.decode()
    assert "sensor data: none" in t
    # an unknown client: an empty dossier, not an error
    e = js(db, "ip", "192.0.2.200")
    assert e["client"] == [] and e["sessions"] == []
    # IPv6 given in another spelling is the same client
    assert len(js(db, "ip", "2001:DB8:0::1")["sessions"]) == 2


def test_timeline(db):
    r = js(db, "timeline", "--bucket", "1h")
    assert [x["sessions"] for x in r] == [1, 1, 2, 2, 1, 1]
    assert sum(x["backup"] for x in r) == 4
    assert r[0]["start"] == "2026-11-18T11:00:00.000Z"
    r = js(db, "timeline", "--bucket", "1d")
    assert len(r) == 1 and r[0]["clients"] == 4
    t = rep(db, "timeline", "--bucket", "1h", fmt="table").stdout.decode()
    lines = t.splitlines()
    assert lines[0].split()[:2] == ["start", "sessions"]
    bars = [l.count("#") for l in lines[1:]]
    assert max(bars) == bars[2] and min(bars) > 0
    # gaps between buckets are filled with zero rows
    r = js(db, "timeline", "--bucket", "10m", "--until",
            "2026-11-18T12:10:00Z")
    assert len(r) == 7 and r[1]["sessions"] == 0


def test_csv_is_rfc4180_and_neutralised(db):
    for args in (("top", "helos"), ("sessions",), ("summary",)):
        out = rep(db, *args, fmt="csv").stdout
        assert b"\r\n" in out and b"\n" not in out.replace(b"\r\n", b"")
        rows = list(csv.reader(io.StringIO(out.decode("utf-8"),
                                           newline="")))
        n = len(rows[0])
        assert all(len(r) == n for r in rows), args
        for r in rows[1:]:
            for cell in r:
                assert cell[:1] not in ("=", "+", "-", "@"), (args, cell)
                assert "\x1b" not in cell
    helos = [r[0] for r in csv.reader(io.StringIO(
        rep(db, "top", "helos", fmt="csv").stdout.decode()))]
    assert "'=HYPERLINK(\"http://x\")" in helos


def test_json_escapes_and_is_valid_utf8(db):
    for args in (("top", "helos"), ("sessions",), ("ip", "198.51.100.7"),
                 ("summary",), ("timeline",)):
        raw = rep(db, *args).stdout
        raw.decode("utf-8")           # strict: raises on invalid UTF-8
        assert b"\x1b" not in raw and b"\xff" not in raw
        json.loads(raw)
    helos = {r["key"] for r in js(db, "top", "helos")}
    assert "\x1b[31mred\x1b[0m\nforged" in helos
    assert "\u00ff\u00fe bad utf8" in helos   # each invalid byte \u00XX


def test_table_has_no_control_bytes(db):
    for args in (("top", "helos"), ("sessions",), ("ip", "198.51.100.7"),
                 ("summary",), ("timeline",), ("top", "senders")):
        out = rep(db, *args, fmt="table").stdout
        bad = [b for b in out if (b < 0x20 and b != 0x0a) or b >= 0x7f]
        assert not bad, (args, bad[:5])
    assert b"\\x1b[31mred" in rep(db, "top", "helos", fmt="table").stdout


def test_empty_database(tmp_path):
    path = scenario.Db(BIN, tmp_path / "e.db").close()
    s = js(path, "summary")
    assert s["total"]["sessions"] == 0 and s["total"]["clients"] == 0
    assert s["total"]["first"] is None and s["by_role"] == []
    for kind in ("ips", "nets", "helos", "anomalies"):
        assert js(path, "top", kind) == []
    assert js(path, "timeline") == []
    assert js(path, "sessions") == []
    assert js(path, "ip", "192.0.2.1")["sessions"] == []
    for args, lines in ((("summary",), 2), (("top", "ips"), 1),
                        (("timeline",), 1)):
        assert rep(path, *args, fmt="table").returncode == 0
        assert rep(path, *args, fmt="csv").stdout.count(b"\r\n") == lines


def test_newer_schema_is_refused(tmp_path):
    path = scenario.Db(BIN, tmp_path / "n.db").close()
    c = sqlite3.connect(path)
    c.execute("PRAGMA user_version = 99")
    c.close()
    before = open(path, "rb").read()
    for args in (("summary",), ("top", "ips"), ("ip", "192.0.2.1")):
        r = rep(path, *args, ok=False)
        assert r.returncode == 1
        assert b"schema version 99" in r.stderr
        assert b"upgrade decoymx" in r.stderr
    assert open(path, "rb").read() == before


def test_missing_database_is_not_created(tmp_path):
    path = str(tmp_path / "nope.db")
    for args in (("summary",), ("top", "helos"), ("timeline",),
                 ("ip", "192.0.2.1")):
        r = rep(path, *args, ok=False)
        assert r.returncode == 1
        assert b"does not exist" in r.stderr and path.encode() in r.stderr
    assert not os.path.exists(path)


def test_aggregates_match_the_sessions(db):
    """The triggers' counts equal a recount from the sessions."""
    c = sqlite3.connect(db)
    want = sorted(c.execute(
        "SELECT dim, CAST(key AS TEXT), count(*) FROM session_dims"
        " WHERE key IS NOT NULL GROUP BY dim, key").fetchall())
    got = sorted(c.execute("SELECT dim, key, sessions FROM counts"
                           " WHERE dim NOT IN ('recipient', 'netc', 'decoyc')")
                 .fetchall())
    assert got == want
    netc = c.execute("SELECT key, sessions FROM counts WHERE dim = 'netc'"
                     " ORDER BY key").fetchall()
    c.close()
    assert netc == [("198.51.100.0/24", 2), ("203.0.113.0/24", 1)]


def test_live_session_reaches_the_reports(daemon):
    d = daemon()
    normal_session(d)
    normal_session(d, rcpt="other@example.org")

    def two():
        r = run_bin("report", "summary", "--db", d.db, "--format", "json")
        return r.returncode == 0 and \
            json.loads(r.stdout)["total"]["sessions"] == 2
    wait_until(two, 10, interval=0.05, what="2 sessions in the summary")
    top = json.loads(run_bin("report", "top", "recipients", "--db", d.db,
                             "--format", "json").stdout)
    assert {r["key"] for r in top} == {"someone@example.org",
                                       "other@example.org"}
    ip = json.loads(run_bin("report", "ip", "127.0.0.1", "--db", d.db,
                            "--format", "json").stdout)
    assert ip["client"][0]["sessions"] == 2
    assert ip["decoys"][0]["role"] == "primary"


def test_fingerprint_filled_by_the_sensor_counts_once(tmp_path):
    """The sensor's trigger fills os after the insert: counted once."""
    d = scenario.Db(BIN, tmp_path / "o.db")
    d.sql("INSERT INTO syns(ts_us, src_ip, src_port, dst_ip, dst_port,"
          " mx_pref, role, ver, ttl, ittl, dist, win, mss, wscale, olayout,"
          " quirks, pclass, seq, sig, label, os_class, match, retransmits)"
          " VALUES(?, '198.51.100.9', 40000, '192.0.2.40', 25, 40,"
          " 'backup', 4, 60, 64, 4, 65535, 1460, 7, 'mss', 'df', '0', 1,"
          " 'sig', 'Linux 2.2.x-3.x', 'unix', 'exact', 0)",
          scenario.T0 - 10**6)
    d.session("198.51.100.9", scenario.T0)
    d.session("198.51.100.9", scenario.T0 + 10**6)
    path = d.close()
    assert {r["key"]: r["sessions"] for r in js(path, "top", "os")} == \
        {"unix": 2}
    assert {r["key"]: r["sessions"]
            for r in js(path, "top", "fingerprints")} == {"Linux 2.2.x-3.x": 2}


def test_store_counts_match_a_recount(daemon, tmp_path):
    """The store adds the report counts per batch (counts.c); they must
    equal what a recount from the sessions gives, key for key."""
    import socket
    d = daemon(extra=["sensor off", "batch-interval 50ms"])
    srcs = ["127.0.8.%d" % i for i in range(1, 7)]
    for i, src in enumerate(srcs):
        with socket.create_connection(("127.0.0.1", d.port), 5,
                                      source_address=(src, 0)) as s:
            f = s.makefile("rb")
            f.readline()
            helo = b"EHLO mx%d.Example.ORG\r\n" % (i % 2) if i != 5 \
                else b"EHLO localhost\r\n"
            mail = b"MAIL FROM:<a%d@Sender%d.Example>\r\n" % (i, i % 3)
            for line in (helo, mail, b"RCPT TO:<x@y.example>\r\n",
                         b"QUIT\r\n"):
                s.sendall(line)
                while True:
                    r = f.readline()
                    if not r or r[3:4] != b"-":
                        break
    d.sessions(len(srcs))
    assert d.stop() == 0
    dims = ("role", "decoy", "stage", "reason", "country", "asn", "os",
            "fingerprint", "helo", "sender", "sender-domain", "anomaly",
            "net")

    def counts():
        con = sqlite3.connect(d.db)
        try:
            return sorted(con.execute(
                "SELECT dim, key, sessions, first_us, last_us FROM counts"
                " WHERE dim IN (%s)" % ",".join("?" * len(dims)), dims))
        finally:
            con.close()
    live = counts()
    assert ("sender-domain", "sender1.example", 2) in \
        [(a, b, c) for a, b, c, _, _ in live]
    r = run_bin("db", "recount", "--db", d.db)
    assert r.returncode == 0, r.stderr
    assert counts() == live
