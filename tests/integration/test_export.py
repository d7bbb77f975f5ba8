# SPDX-License-Identifier: ISC
"""
decoymx export against its real consumers: rbldnsd (served on a loopback
high port, queried with dig), Postfix (postmap -q on the cidr: table and
the compiled hash: table), nftables (nft -c -f).  The scenario database
(scenario.export_db) has each kind of bot and MTA-like clients: exactly
the bots are listed, with the right reasons.  Also: hostile text from
the network cannot reach an export, writes are atomic and skipped when
nothing changed, options and allowlists are checked.
"""
import json
import sqlite3
import re
import shutil
import subprocess
import time

import pytest

from conftest import BIN, run_bin, wait_until
import scenario
from consumers import dig, nft_check, rbldnsd, rev

NOW = int(time.time() * 1e6)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("exp")
    scenario.export_db(BIN, d / "e.db", NOW)
    scenario.export_db(BIN, d / "s.db", NOW, sensor=True)
    scenario.export_db(BIN, d / "s4.db", NOW, sensor="v4")
    (d / "allow.txt").write_text(scenario.ALLOW)
    return d


def export(work, fmt, *args, db="e.db", allow=True, ok=True):
    extra = ["--allowlist", str(work / "allow.txt")] if allow else []
    r = run_bin("export", fmt, "--db", work / db, *extra, *args)
    assert b"Sanitizer" not in r.stderr and b"runtime error" not in r.stderr
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def body(out):
    """The lines of an export after its generation comment."""
    lines = out.decode().splitlines()
    assert lines[0].startswith("# decoymx ")
    return lines[1:]


def entries(work, *args, **kw):
    j = json.loads(export(work, "json", *args, **kw).stdout)
    return {("%s/%d" % (e["address"], e["prefix"])
             if e["prefix"] not in (32, 128) else e["address"]):
            e["reasons"] for e in j["entries"]}, j


def test_exactly_the_bots_are_listed(work):
    got, j = entries(work)
    want = dict(scenario.LISTED, **{"127.0.0.2": ["test"]})
    assert got == want
    assert j["exclusions"] == ["2001:db8:1:2::20"]
    import ipaddress
    plain = body(export(work, "plain").stdout)
    assert plain == sorted(plain, key=lambda a: (
        ipaddress.ip_network(a).version, ipaddress.ip_network(a)))
    # RFC 5782's test entry belongs in DNSBL zones only.
    assert set(plain) == set(want) - {"127.0.0.2"}


def test_sensor_adds_nolisting_only(work):
    got, _ = entries(work, db="s.db")
    assert got["198.51.100.20"] == ["nolisting-only"]
    assert got["198.51.100.11"] == ["nolisting-only"]
    assert got["2001:db8:1:3::/64"] == ["nolisting-only"]
    assert "198.51.100.21" not in got       # went on to the real MX
    assert "198.51.100.22" not in got       # window not over yet
    # A retry of the same envelope alone is no proof of an MTA.
    assert got["198.51.100.13"] == ["nolisting-only"]
    got, _ = entries(work, "--window", "30s", db="s.db")
    assert "198.51.100.22" in got
    got, _ = entries(work, "--rules", "backup-direct", db="s.db")
    assert set(got) == {"127.0.0.2", "198.51.100.10", "198.51.100.16",
                        "198.51.100.29", "2001:db8:1:2::/64"}


def test_sensor_scenario_catches_every_bot_and_no_mta(work):
    """
    Bots that never walk are listed (only MX 10, retried or not; straight
    to MX 40); MTAs never are: one that walked, a dual-stack one whose
    IPv6 address only met MX 10, one that got 421 at the greeting on its
    retry and then reached the real MX.
    """
    got, _ = entries(work, db="s.db", allow=False)
    for k, reasons in scenario.SENSOR_BOTS.items():
        assert got.get(k) == reasons, (k, got.get(k))
    for k in ("198.51.100.21", "198.51.100.25", "2001:db8:5::/64",
              "198.51.100.26"):
        assert k not in got, (k, got[k])
    assert scenario.catch_rate(BIN, work / "s.db") == (
        len(scenario.SENSOR_BOTS), len(scenario.SENSOR_BOTS), 0,
        len(scenario.SENSOR_MTAS))


def report_verdict(work, ip, db):
    r = run_bin("report", "ip", ip, "--db", work / db, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["classification"]["verdict"][0]


def test_ipv6_not_nolisting_only_without_an_ipv6_real_mx(work):
    got, _ = entries(work, db="s4.db")
    assert "2001:db8:1:3::/64" not in got
    assert got["198.51.100.20"] == ["nolisting-only"]
    v = report_verdict(work, "2001:db8:1:3::1", "s4.db")
    assert v["listed"] == 0 and v["real_mx_in_family"] == 0
    assert "address family" in v["note"]
    v = report_verdict(work, "2001:db8:1:3::1", "s.db")
    assert v["listed"] == 1 and v["real_mx_in_family"] == 1


def test_report_ip_explains_links_and_retries(work):
    v = report_verdict(work, "2001:db8:5::25", "s.db")
    assert v["listed"] == 0 and v["linked_ip"] == "198.51.100.25"
    assert "same envelope" in v["note"]
    v = report_verdict(work, "198.51.100.26", "s.db")
    assert v["listed"] == 0 and v["real_mx_after_primary"] == 1
    assert "went on to the real MX" in v["note"]
    v = report_verdict(work, "198.51.100.27", "s.db")
    assert v["listed"] == 1 and v["retries"] == 1
    assert "no proof" in v["note"]
    # The same envelope from another client that never walked: no link.
    v = report_verdict(work, "198.51.100.28", "s.db")
    assert v["listed"] == 1 and v["linked_ip"] is None


def test_dual_stack_parallel_deliveries_are_not_nolisting_only(tmp_path):
    """
    A dual-stack MTA that delivers its messages in parallel (dma, Exim):
    returning-defer answers all but the first contact per family with 421
    at the greeting, so its IPv6 and IPv4 first contacts carry different
    messages (HELO and MAIL FROM the same, recipients not), and it reaches
    the real MX over IPv6 only.  Neither address is listed; the common
    recipient is still needed within one family, and the same HELO across
    families.  Also the plain walk: the same envelope from both families,
    then the IPv4 address at the real MX.
    """
    d = scenario.Db(BIN, tmp_path / "d.db")
    t = NOW - 2 * scenario.HOUR
    env = dict(decoy=scenario.PRIMARY, helo="mta.sender.test",
               mail_from="alice@sender.test")
    late = dict(decoy=scenario.PRIMARY, helo=None, mail_from=None,
                rcpts=(), stage="greeting", reason="deferred")
    # the sensor has seen the real MX in both families
    scenario.syn(d, "198.51.100.99", t - scenario.HOUR, "real")
    d.session("2001:db8::25", t, rcpts=("user1@victim.test",), **env)
    for i in range(3):
        d.session("2001:db8::25", t + 1000 + i, **late)
    d.session("192.0.2.25", t + 2000, rcpts=("user2@victim.test",), **env)
    d.session("192.0.2.25", t + 3000, **late)
    scenario.syn(d, "2001:db8::25", t + 5 * 10**5, "real", "2001:db8::20")
    # same envelope in both families, the IPv4 address walks
    d.session("2001:db8:7::26", t, rcpts=("u@victim.test",), **env)
    d.session("192.0.2.26", t + 10**6, rcpts=("u@victim.test",), **env)
    scenario.syn(d, "192.0.2.26", t + 2 * 10**6, "real")
    # within a family the same HELO and MAIL FROM need a common
    # recipient: .28 walked, .27 did not and shares none
    pool = dict(decoy=scenario.PRIMARY, helo="mta.pool.test",
                mail_from="bob@pool.test")
    d.session("192.0.2.28", t, rcpts=("user5@victim.test",), **pool)
    scenario.syn(d, "192.0.2.28", t + 10**6, "real")
    d.session("192.0.2.27", t + 3000, rcpts=("user3@victim.test",), **pool)
    # an IPv6 address with another HELO: no link
    d.session("2001:db8:8::28", t, rcpts=("user4@victim.test",),
              decoy=scenario.PRIMARY, helo="bot.example",
              mail_from="alice@sender.test")
    scenario.syn(d, "198.51.100.98", t, "real", "2001:db8::20")
    d.close()
    r = run_bin("export", "json", "--db", tmp_path / "d.db")
    assert r.returncode == 0, r.stderr
    got = {e["address"]: e["reasons"]
           for e in json.loads(r.stdout)["entries"]}
    for a in ("2001:db8::", "192.0.2.25", "2001:db8:7::", "192.0.2.26",
              "192.0.2.28"):
        assert a not in got, (a, got)
    assert got.get("192.0.2.27") == ["nolisting-only"], got
    assert got.get("2001:db8:8::") == ["nolisting-only"], got
    v = report_verdict(tmp_path, "192.0.2.25", "d.db")
    assert v["listed"] == 0 and v["linked_ip"] == "2001:db8::25", v
    assert "same envelope" in v["note"]


def test_max_age_and_min_sessions(work):
    got, _ = entries(work, "--max-age", "60d")
    assert "192.0.2.200" in got
    got, _ = entries(work, "--min-sessions", "2")
    assert set(got) == {"127.0.0.2", "198.51.100.10", "198.51.100.14"}
    got, _ = entries(work, allow=False)
    assert "198.51.100.15" in got


def test_report_ip_explains(work):
    r = run_bin("report", "ip", "198.51.100.14", "--db", work / "e.db",
                "--format", "json")
    c = json.loads(r.stdout)["classification"]
    assert c["verdict"][0]["listed"] == 1
    assert c["verdict"][0]["mta_like"] is not None
    assert c["verdict"][0]["strong_signal"] == 1
    assert c["reasons"][0]["reason"] == "bot-protocol"
    assert "pregreet" in c["reasons"][0]["evidence"]
    c = json.loads(run_bin("report", "ip", "198.51.100.13", "--db",
                           work / "e.db", "--format", "json").stdout)
    assert c["classification"]["verdict"][0]["listed"] == 0
    assert c["classification"]["reasons"] == []


@pytest.mark.parametrize("opts", [
    (), ("--window", "30s"), ("--rules", "backup-direct"),
    ("--rules", "nolisting-only,bot-protocol"), ("--max-age", "60d"),
    ("--min-sessions", "2")], ids=lambda o: " ".join(o) or "defaults")
@pytest.mark.parametrize("dbname", ["e.db", "s.db"])
def test_report_ip_explains_every_listing(work, dbname, opts):
    """With the export's options, report ip lists a client exactly when
    the export lists it (its /64 for IPv6)."""
    import ipaddress
    allow = ("--allowlist", str(work / "allow.txt"))
    got, _ = entries(work, *opts, db=dbname)
    nets = {ipaddress.ip_network(n) for n in got if n != "127.0.0.2"}
    # report ip counts any age without --max-age; the export, 7 days.
    age = () if "--max-age" in opts else ("--max-age", "7d")
    with sqlite3.connect(work / dbname) as c:
        ips = [r[0] for r in c.execute("SELECT ip FROM clients")]
    explained = set()
    for ip in ips:
        r = run_bin("report", "ip", ip, "--db", work / dbname, "--format",
                    "json", *allow, *age, *opts)
        assert r.returncode == 0, r.stderr
        v = json.loads(r.stdout)["classification"]["verdict"][0]
        inside = {n for n in nets if ipaddress.ip_address(ip) in n}
        if v["listed"]:
            assert inside, (ip, opts)
            assert ipaddress.ip_network(v["listed_as"]) in inside
            explained |= inside
        else:
            # Only an allowlist exclusion ("!") leaves a hole in a net.
            assert not inside or (v["excluded"] or "").startswith(
                "allowlisted"), (ip, opts, v)
    assert explained == nets, (opts, nets - explained)


def test_report_ip_says_why_the_export_leaves_a_client_out(work):
    def verdict(ip, *opts):
        r = run_bin("report", "ip", ip, "--db", work / "e.db", "--format",
                    "json", *opts)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["classification"]["verdict"][0]
    v = verdict("198.51.100.15")
    assert v["listed"] == 1 and v["excluded"] is None
    v = verdict("198.51.100.15", "--allowlist", str(work / "allow.txt"))
    assert v["listed"] == 0 and v["excluded"].startswith("allowlisted: ")
    v = verdict("198.51.100.15", "--min-sessions", "1000")
    assert v["listed"] == 0 and "--min-sessions" in v["excluded"]
    for bad in (("--window", "soon"), ("--rules", "nosuch"),
                ("--min-sessions", "0"), ("--allowlist", "/nonexistent")):
        r = run_bin("report", "ip", "198.51.100.15", "--db", work / "e.db",
                    *bad)
        assert r.returncode == 2 and r.stdout == b"", (bad, r.stdout)
    r = run_bin("report", "summary", "--db", work / "e.db", "--window",
                "10m")
    assert r.returncode == 2


def test_nothing_from_the_network_reaches_an_export(work):
    allowed = {
        "rbldnsd": r"^(\$TTL \S+|\$SOA( \S+){8}|\$NS( \S+)+|"
                   r":127\.0\.0\.2:Listed by decoymx; see decoymx report "
                   r"ip \$|([0-9.]+ )?:127\.0\.0\.[234]:decoymx [a-z -]+: "
                   r"[a-zA-Z0-9 ,]+; see decoymx report ip \$|![0-9.]+|"
                   r"[0-9.]+(/[0-9]+)?)$",
        "postfix": r"^[0-9a-f.:/]+ (DUNNO|450 4\.7\.1 Listed by decoymx "
                   r"\([a-z,-]+\))$",
        "plain": r"^[0-9a-f.:/]+$",
        "nft": r"^(table inet decoymx \{|\tset blocklist\w* \{ type "
               r"ipv[46]_addr; flags interval; \}|\}|flush set inet "
               r"decoymx \w+|add element inet decoymx \w+ \{ [0-9a-f.:/, ]+"
               r" \})$",
    }
    opts = ("--ttl", "300", "--soa",
            "300 ns.test. hm.test. 0 600 300 86400 300", "--ns",
            "300 ns.test.")
    for fmt, rx in allowed.items():
        if fmt == "rbldnsd":
            # Both files: standard output cannot hold the ip6trie.
            out = work / "hostile-bl"
            export(work, fmt, "-o", out, *opts)
            outs = [out.read_bytes(), (work / "hostile-bl.v6").read_bytes()]
        else:
            outs = [export(work, fmt, *opts).stdout]
        for out in outs:
            assert b"owned" not in out and b"127.0.0.9" not in out
            for line in body(out):
                assert re.match(rx, line) or (fmt == "rbldnsd" and re.match(
                    r"^(([0-9a-f:]+(/\d+)? )?:127\.0\.0\.[234]:decoymx "
                    r"[a-z -]+: [a-zA-Z0-9 ,]+; see decoymx report ip \$|"
                    r":127\.0\.0\.2:Listed by decoymx; see decoymx report "
                    r"ip \$|[0-9a-f:]+(/\d+)?|![0-9a-f:]+)$", line)), (fmt, line)


@pytest.mark.parametrize("args", [
    ("--soa", "300 ns.test. hm.test. 0 600 300 86400 300\n$NS 1 evil."),
    ("--soa", "too few words"), ("--ns", "300"),
    ("--txt", "line\nbreak"), ("--action", "450\r\nx"),
    ("--code", "backup-direct=10.0.0.2"), ("--code", "nosuch=127.0.0.5"),
    ("--nft-set", "bad name"), ("--nft-table", "x;flush ruleset"),
    ("--rules", "backup-direct,nosuch"), ("--v6-prefix", "200"),
    ("--max-age", "forever"), ("--map", "btree"),
])
def test_bad_options_exit_2(work, args):
    r = export(work, "rbldnsd", *args, ok=False)
    assert r.returncode == 2, r.stderr
    assert r.stdout == b""


def test_allowlist_errors_name_file_and_line(work, tmp_path):
    from conftest import SAN_MARKERS
    bad = tmp_path / "bad.txt"
    bad.write_text("# ok\n192.0.2.0/24\n192.0.2.1 extra\n")
    r = run_bin("export", "plain", "--db", work / "e.db", "--allowlist",
                bad)
    assert r.returncode == 2
    assert ("%s:3:" % bad).encode() in r.stderr
    bad.write_text("10.0.0.0/33\n")
    r = run_bin("export", "plain", "--db", work / "e.db", "--allowlist",
                bad)
    assert r.returncode == 2 and b":1:" in r.stderr
    r = run_bin("export", "plain", "--db", work / "e.db", "--allowlist",
                tmp_path / "none.txt")
    assert r.returncode == 2 and b"none.txt" in r.stderr
    assert not any(m.encode() in r.stderr for m in SAN_MARKERS)


def test_atomic_write_and_unchanged(work, tmp_path):
    out = tmp_path / "out" / "bl"
    out.parent.mkdir()
    r = export(work, "rbldnsd", "-o", out)
    assert b"written" in r.stderr
    st1, st6 = out.stat(), (tmp_path / "out" / "bl.v6").stat()
    time.sleep(0.05)
    r = export(work, "rbldnsd", "-o", out)
    assert r.stderr.count(b"unchanged") == 2
    assert out.stat().st_mtime_ns == st1.st_mtime_ns
    assert out.stat().st_ino == st1.st_ino
    # a change of the same size still changes the size of the file
    r = export(work, "rbldnsd", "-o", out, "--code",
                "bot-protocol=127.0.0.5")
    assert b"written" in r.stderr
    assert out.stat().st_size != st1.st_size
    assert out.stat().st_ino != st1.st_ino
    assert (tmp_path / "out" / "bl.v6").stat().st_ino == st6.st_ino
    assert sorted(p.name for p in out.parent.iterdir()) == ["bl", "bl.v6"]
    # the unwritable: a clear error, the old file untouched
    r = run_bin("export", "plain", "--db", work / "e.db", "-o",
                tmp_path / "nodir" / "x")
    assert r.returncode == 1 and b"nodir" in r.stderr


def test_missing_and_newer_database(work, tmp_path):
    r = run_bin("export", "plain", "--db", tmp_path / "no.db")
    assert r.returncode == 1 and b"does not exist" in r.stderr
    assert not (tmp_path / "no.db").exists()
    import sqlite3
    p = tmp_path / "new.db"
    shutil.copy(work / "e.db", p)
    c = sqlite3.connect(p)
    c.execute("PRAGMA user_version = 99")
    c.close()
    r = run_bin("export", "rbldnsd", "--db", p)
    assert r.returncode == 1 and b"schema version 99" in r.stderr


@pytest.mark.skipif(not shutil.which("rbldnsd") or not shutil.which("dig"),
                    reason="rbldnsd or dig missing (scripts/install-deps "
                    "test)")
@pytest.mark.parametrize("layout", [(), ("--per-entry",)])
def test_rbldnsd_serves_the_export(work, tmp_path, layout):
    """Entries grouped under ":A:TXT" lines (the default) or with a
    value each (--per-entry): the same answers."""
    zone = tmp_path / "zone"
    zone.mkdir()
    export(work, "rbldnsd", "-o", zone / "bl", "--ttl", "300", "--soa",
           "300 ns.test. hm.test. 0 600 300 86400 300", "--ns",
           "300 ns.test.", *layout)
    lines = (zone / "bl").read_text().splitlines()
    listed = [l for l in lines if re.match(r"^[0-9]", l)]
    assert listed and all((" :" in l) == bool(layout) for l in listed)
    with rbldnsd(zone, tmp_path / "rbldnsd.log") as port:
        assert dig(port, "2.0.0.127.bl.test")[1] == ["127.0.0.2"]
        assert dig(port, "1.0.0.127.bl.test")[0] == "NXDOMAIN"
        st, a = dig(port, rev("198.51.100.10"))
        assert a == ["127.0.0.2"]
        st, t = dig(port, rev("198.51.100.10"), "TXT")
        assert t == ['"decoymx backup-direct: went straight for a backup '
                     'MX; see decoymx report ip 198.51.100.10"']
        assert dig(port, rev("198.51.100.12"))[1] == ["127.0.0.4"]
        st, t = dig(port, rev("198.51.100.12"), "TXT")
        assert len(t) == 1 and t[0].startswith('"decoymx bot-protocol')
        assert t[0].endswith('see decoymx report ip 198.51.100.12"')
        assert dig(port, rev("198.51.100.15"))[0] == "NXDOMAIN"  # allow
        assert dig(port, rev("198.51.100.11"))[0] == "NXDOMAIN"
        assert dig(port, rev("198.51.100.16"))[1] == ["127.0.0.2"]
        assert dig(port, rev("2001:db8:1:2::99"))[1] == ["127.0.0.2"]
        assert dig(port, rev("2001:db8:1:2::20"))[0] == "NXDOMAIN"
        assert dig(port, rev("2001:db8:1:3::1"))[0] == "NXDOMAIN"
        st, soa = dig(port, "bl.test", "SOA")
        assert soa and soa[0].startswith("ns.test. hm.test.")
    text = (tmp_path / "rbldnsd.log").read_text()
    assert "bl.test" not in text or "warning" not in text.lower(), text
    assert not re.search(r"invalid|unrecognized|error", text, re.I), text


@pytest.mark.skipif(not shutil.which("postmap"),
                    reason="postfix missing (scripts/install-deps test)")
def test_postfix_tables(work, tmp_path):
    conf = tmp_path / "pf"
    conf.mkdir()
    (conf / "main.cf").write_text("")
    cidr = tmp_path / "bl.cidr"
    export(work, "postfix", "-o", cidr, "--action", "554 5.7.1 no (%r)")

    def q(key, table):
        r = subprocess.run(["postmap", "-c", str(conf), "-q", key, table],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode in (0, 1), r.stderr
        assert "warning" not in r.stderr, r.stderr
        return r.stdout.strip() if r.returncode == 0 else None

    t = "cidr:%s" % cidr
    assert q("198.51.100.10", t) == "554 5.7.1 no (backup-direct)"
    assert q("198.51.100.12", t) == "554 5.7.1 no (bot-protocol)"
    assert q("198.51.100.11", t) is None
    assert q("198.51.100.15", t) is None
    assert q("127.0.0.1", t) is None
    assert q("127.0.0.2", t) is None        # a DNSBL zone's test entry
    assert q("2001:db8:1:2::99", t) == "554 5.7.1 no (backup-direct)"
    assert q("2001:db8:1:2::20", t) == "DUNNO"
    h = tmp_path / "bl.access"
    export(work, "postfix", "-o", h, "--map", "hash")
    r = subprocess.run(["postmap", "-c", str(conf), "hash:%s" % h],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    assert q("198.51.100.10", "hash:%s" % h).startswith("450 4.7.1")
    assert q("2001:db8:1:2", "hash:%s" % h).startswith("450 4.7.1")
    assert q("198.51.100.11", "hash:%s" % h) is None


@pytest.mark.skipif(not shutil.which("nft"),
                    reason="nftables missing (scripts/install-deps test)")
def test_nft_accepts_the_script(work, tmp_path):
    f = tmp_path / "bl.nft"
    export(work, "nft", "-o", f, "--nft-table", "dmx", "--nft-set", "bots")
    nft_check(f)
    text = f.read_text()
    assert "add element inet dmx bots4 { 198.51.100.10," in text
    assert "127.0.0.2" not in text
    assert "add element inet dmx bots_allow6 { 2001:db8:1:2::20 }" in text


def test_periodic_export_from_the_daemon(daemon, tmp_path):
    out = tmp_path / "periodic.rbl"
    d = daemon(extra=["export rbldnsd %s every 10s --ttl 60 --soa "
                      "\"60 ns.test. hm.test. 0 600 300 86400 300\"" % out])
    wait_until(lambda: out.exists() and (tmp_path / "periodic.rbl.v6")
               .exists(), 10, interval=0.05, what="the periodic export")
    text = out.read_text()
    assert text.startswith("# decoymx ")
    assert "$TTL 60\n$SOA 60 ns.test. hm.test." in text
    assert ":127.0.0.2:decoymx test: RFC 5782 test entry; see decoymx " \
        "report ip $\n127.0.0.2\n" in text
    r = run_bin("run", "-n", "-c", d.conf)
    assert r.returncode == 0
    assert b"export rbldnsd %s every 10000ms" % str(out).encode() in r.stdout


@pytest.mark.parametrize("line,why", [
    ("export rbldnsd relative/path every 5m", b"absolute path"),
    ("export rbldnsd /tmp/x every 1s", b"from 10s to 1d"),
    ("export gopher /tmp/x every 5m", b"'gopher' is not a format"),
    ("export rbldnsd /tmp/x every 5m --soa \"1 2\"",
     b"export: --soa: '1 2' is not 8 words"),
    ("export rbldnsd /tmp/x every 5m --ttl \"60", b"open quote"),
    ("export rbldnsd /tmp/x", b"FORMAT PATH every"),
])
def test_export_config_errors(tmp_path, line, why):
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:2525\n%s\n" % line)
    r = run_bin("run", "-n", "-c", conf)
    assert r.returncode == 2
    assert ("%s:2:" % conf).encode() in r.stderr and why in r.stderr, \
        r.stderr


def test_evidence_triggers_match_a_recount(work, tmp_path):
    """
    client_evidence as the store keeps it while it writes sessions
    (db merge stores each one as the daemon does: the triggers and the
    per-batch evidence) equals db recount's, rebuilt from all the
    sessions at once (what scenario.Db.close() left in e.db).
    """
    r = run_bin("db", "merge", "--db", tmp_path / "m.db", work / "e.db")
    assert r.returncode == 0 and b" rejected=0" in r.stdout, r.stderr
    c = sqlite3.connect(tmp_path / "m.db")
    got = sorted(c.execute("SELECT * FROM client_evidence").fetchall())
    c.close()
    c = sqlite3.connect(work / "e.db")
    want = sorted(c.execute("SELECT * FROM client_evidence").fetchall())
    c.close()
    assert len(want) > 10
    assert got == want
    # And both equal the rules of decoymx.8 worked out here from the
    # sessions alone, so that the test does not only compare the store
    # with itself.
    assert got == evidence_from_sessions(work / "e.db")
    for db in ("s.db", "s4.db"):
        c = sqlite3.connect(work / db)
        kept = sorted(c.execute("SELECT * FROM client_evidence").fetchall())
        c.close()
        assert kept == evidence_from_sessions(work / db), db
    # What the export scenario lacks: parallel walks (each order of
    # storing) and a session the pair rule sent on, its envelope used
    # again more than a minute later (no retry: the live store counted
    # one, db recount none, before the paired envelope was left out;
    # and db recount counted a parallel walk twice, the store once).
    d = scenario.Db(BIN, tmp_path / "w.db")
    m = 60 * 10**6
    d.session("203.0.113.7", NOW - 10 * m, decoy=scenario.PRIMARY)
    d.session("203.0.113.7", NOW - 10 * m + 300000)
    d.session("203.0.113.8", NOW - 9 * m + 500000)
    d.session("203.0.113.8", NOW - 9 * m, decoy=scenario.PRIMARY)
    d.session("203.0.113.8", NOW - 5 * m, decoy=scenario.PRIMARY)
    d.session("203.0.113.9", NOW - 8 * m, decoy=scenario.PRIMARY,
              reason="paired", mail_from="p@example.net")
    d.session("203.0.113.9", NOW - 6 * m, mail_from="p@example.net")
    d.close()
    r = run_bin("db", "merge", "--db", tmp_path / "w2.db", tmp_path / "w.db")
    assert r.returncode == 0 and b" rejected=0" in r.stdout, r.stderr
    want = evidence_from_sessions(tmp_path / "w.db")
    # (retries, parallel) per client
    assert [e[6:] for e in want] == [(0, 1), (1, 1), (0, 0)], want
    for db in ("w.db", "w2.db"):
        c = sqlite3.connect(tmp_path / db)
        kept = sorted(c.execute("SELECT * FROM client_evidence").fetchall())
        c.close()
        assert kept == want, db


def evidence_from_sessions(path):
    """
    client_evidence by its definition: per client, the first time and
    number of its primary and backup sessions, the sessions with a HELO
    and no bad-HELO anomaly (bit 4), and the retries: sessions with a
    MAIL FROM whose HELO and sender an earlier session (by id) of the
    client used at least a minute before; and the parallel walks:
    primary or backup sessions with an earlier session (by id) of the
    other role from the same client that started within a second and was
    open at the same time (a walk counts once).  Sessions the pair rule sent on are no evidence, their envelopes
    not either.
    """
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    rows = c.execute("SELECT src_ip, role, start_us, helo, mail_from,"
                     " anomalies, close_reason, end_us, id FROM sessions"
                     " ORDER BY id").fetchall()
    walks = {}
    for r in rows:
        if r[1] in ("primary", "backup"):
            walks.setdefault(r[0], []).append(r)
    ev, seen = {}, {}
    for ip, role, t, helo, mail_from, anomalies, reason, end, sid in rows:
        if reason == "paired":
            continue
        key = (ip, helo or "", mail_from)
        earliest = seen.get(key)
        if mail_from is not None:
            seen[key] = t if earliest is None else min(earliest, t)
        e = ev.setdefault(ip, [None, 0, None, 0, 0, 0, 0])
        e[6] += any(o[8] < sid and o[1] != role and
                    abs(o[2] - t) <= 1000000 and o[2] <= end and
                    t <= o[7] for o in walks.get(ip, ())
                    if role in ("primary", "backup"))
        if role in ("primary", "backup"):
            i = 0 if role == "primary" else 2
            e[i] = t if e[i] is None else min(e[i], t)
            e[i + 1] += 1
        e[4] += helo is not None and not anomalies & 16
        e[5] += (mail_from is not None and earliest is not None and
                 earliest <= t - 60000000)
    c.close()
    return sorted((ip,) + tuple(e) for ip, e in ev.items())
