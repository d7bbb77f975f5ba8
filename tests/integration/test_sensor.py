# SPDX-License-Identifier: ISC
"""
The passive sensor (issue 5): offline fingerprinting of capture files of
every supported link type, the cross-check against the real p0f 3.09 on
the same files, clear errors on bad captures, and the live capture on
the loopback interface while clients talk to the running decoy, to a
dead decoy address and to a stand-in real MX.

Fixtures come from scripts/make-pcap-fixtures (python3-scapy).  The live
tests need root (the capture) and are skipped without it.
"""
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import (REPO, Smtp, free_port, have_ipv6_loopback, run_bin,
                      wait_until)

P0F_FP = "/etc/p0f/p0f.fp"
OWN_FP = str(REPO / "dist" / "decoymx-fp.fp")
LINKS = ("eth", "sll", "sll2", "raw", "null")

need_scapy = pytest.mark.skipif(
    subprocess.run(["/usr/bin/python3", "-c", "import scapy"],
                   capture_output=True).returncode != 0,
    reason="python3-scapy not installed")
need_p0f = pytest.mark.skipif(shutil.which("p0f") is None or
                              not os.path.exists(P0F_FP),
                              reason="p0f not installed")
need_root = pytest.mark.skipif(os.geteuid() != 0,
                               reason="live capture needs root")


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    d = tmp_path_factory.mktemp("pcap")
    subprocess.run(["/usr/bin/python3", str(REPO / "scripts" /
                    "make-pcap-fixtures"), str(d)], check=True, timeout=120)
    with open(d / "manifest.json") as f:
        return d, json.load(f)


def read(path, *extra):
    """Runs sensor --read (JSON); returns (CompletedProcess, rows)."""
    r = run_bin("sensor", "--read", path, "--format", "json", *extra)
    rows = [json.loads(l) for l in r.stdout.decode().splitlines() if l]
    return r, rows


def firsts(rows):
    return {r["src_port"]: r for r in rows if r["retransmit"] == 0}


def p0f_syns(path, tmp):
    """The real p0f's SYN observations: {sport: {os, dist, params, sig}}."""
    log = os.path.join(str(tmp), os.path.basename(path) + ".p0f.log")
    if os.path.exists(log):
        os.unlink(log)
    subprocess.run(["p0f", "-r", str(path), "-f", P0F_FP, "-o", log],
                   capture_output=True, timeout=60, check=True)
    out = {}
    with open(log) as f:
        for line in f:
            if "] mod=syn|" not in line:
                continue
            kv = dict(x.split("=", 1) for x in line.split("] ", 1)[1]
                      .strip().split("|"))
            sport = int(kv["cli"].rsplit("/", 1)[1])
            out[sport] = {"label": kv.get("os", kv.get("app")),
                          "dist": kv["dist"], "params": kv["params"],
                          "sig": kv["raw_sig"]}
    return out


def quality(params):
    ps = params.split()
    return "fuzzy" if "fuzzy" in ps else "generic" if "generic" in ps \
        else "exact"


@need_scapy
def test_every_link_type_gives_the_same_fingerprints(fx):
    d, man = fx
    _, eth = read(d / "syn-eth.pcap", "--fpdb", P0F_FP)
    ref = {p: (r["sig"], r["label"]) for p, r in firsts(eth).items()
           if not man[str(p)]["vlan"]}
    assert len(ref) >= 30
    for link in LINKS[1:]:
        r, rows = read(d / ("syn-%s.pcap" % link), "--fpdb", P0F_FP)
        assert r.returncode == 0, r.stderr
        got = {p: (x["sig"], x["label"]) for p, x in firsts(rows).items()}
        assert got == ref, link


@need_scapy
def test_vlan_tagged_frames_are_parsed(fx):
    d, man = fx
    _, rows = read(d / "syn-eth.pcap")
    (vlan,) = [p for p, m in man.items() if m["vlan"]]
    assert int(vlan) in firsts(rows)


@need_scapy
def test_only_syns_to_the_smtp_port_are_fingerprinted(fx):
    d, man = fx
    r, rows = read(d / "syn-eth.pcap")
    f = firsts(rows)
    for port, m in man.items():
        if m["kind"] == "ignored":
            assert int(port) not in f, m["name"]
        else:
            assert int(port) in f, m["name"]
    rtx = [x for x in rows if x["retransmit"]]
    (flow,) = [int(p) for p, m in man.items() if m["rtx"]]
    assert [x["retransmit"] for x in rtx if x["src_port"] == flow] == [1, 2]
    (two,) = [int(p) for p, m in man.items() if m["kind"] == "two"]
    assert len([x for x in rows if x["src_port"] == two and
                x["retransmit"] == 0]) == 2
    assert b"synacks=1" in r.stderr


@need_scapy
def test_every_quirk_is_seen(fx):
    d, man = fx
    _, rows = read(d / "syn-eth.pcap")
    f = firsts(rows)
    quirks = set()
    for port, m in man.items():
        if m["quirk"]:
            assert m["quirk"] in f[int(port)]["quirks"].split(","), m
            quirks.add(m["quirk"])
    assert quirks >= {"df", "id-", "ecn", "0+", "flow", "seq-", "ack+",
                      "uptr+", "urgf+", "pushf+", "ts1-", "ts2+", "opt+",
                      "exws", "bad"}
    assert any(x["sig"].endswith(":+") for x in f.values())


@need_scapy
@need_p0f
@pytest.mark.parametrize("link", LINKS)
def test_cross_check_with_p0f(fx, tmp_path, link):
    """Signature, label and distance agree with p0f -r, flow by flow,
    except for decoymx's documented deliberate differences."""
    d, man = fx
    path = d / ("syn-%s.pcap" % link)
    _, rows = read(path, "--fpdb", P0F_FP)
    ours = firsts(rows)
    theirs = p0f_syns(path, tmp_path)
    checked = 0
    for port, m in man.items():
        p = int(port)
        if m["kind"] == "ignored" or (m["vlan"] and link != "eth"):
            continue
        o = ours[p]
        if m["expect"] == "p0f-blind":
            # p0f 3.09 takes 14 bytes of Ethernet header, tags or not.
            assert p not in theirs or theirs[p]["sig"] != o["sig"]
            continue
        t = theirs[p]
        if m["expect"] == "differ" and m["why"] == "ack+":
            assert "ack+" in o["quirks"] and "ack+" not in t["sig"]
            continue
        if m["expect"] == "differ" and m["why"] == "opt+":
            assert "opt+" in o["quirks"] and "opt+" not in t["sig"]
            continue
        assert o["sig"] == t["sig"], (m["name"], o["sig"], t["sig"])
        if m["expect"] == "differ" and m["why"] == "flow":
            # p0f: 'flow' blocks every signature; we tolerate it.
            assert t["label"] == "???" and o["label"] is not None
            continue
        if m["expect"] == "differ" and m["why"] == "ver":
            # p0f matches an IPv4-only signature on IPv6; we do not.
            assert t["label"] != "???" and o["label"] != t["label"]
            continue
        assert (o["label"] or "???") == t["label"], (m["name"], o, t)
        dist = ("<= %d" % o["dist"]) if o["bad_ttl"] else str(o["dist"])
        assert dist == t["dist"], (m["name"], o, t)
        if o["label"] is not None:
            assert o["match"] == quality(t["params"]), (m["name"], o, t)
        checked += 1
    assert checked >= 25


@need_scapy
def test_truncated_capture_names_the_packet(fx):
    d, _ = fx
    r, rows = read(d / "truncated.pcap")
    assert r.returncode == 1
    msg = r.stderr.decode()
    assert "truncated.pcap: packet 47:" in msg, msg
    assert "truncated" in msg
    assert len(rows) > 30          # everything before it was read


@need_scapy
def test_corrupt_capture_names_the_packet(fx):
    d, _ = fx
    r, rows = read(d / "corrupt.pcap")
    assert r.returncode == 1
    assert "corrupt.pcap: packet 3:" in r.stderr.decode(), r.stderr
    assert len(rows) == 2


@need_scapy
def test_unsupported_link_type_is_named(fx):
    d, _ = fx
    r, _ = read(d / "wifi.pcap")
    assert r.returncode == 1
    assert "link type IEEE802_11 (105) is not supported" in \
        r.stderr.decode(), r.stderr


def test_missing_file_and_bad_usage(tmp_path):
    r = run_bin("sensor", "--read", tmp_path / "nope.pcap")
    assert r.returncode == 1 and b"nope.pcap" in r.stderr
    assert run_bin("sensor").returncode == 2
    assert run_bin("sensor", "--read", "x", "--format", "xml").returncode == 2


def test_bad_signature_file_names_file_and_line(tmp_path):
    fp = tmp_path / "bad.fp"
    fp.write_text("classes = unix\n[tcp:request]\nlabel = s:unix:X:1\n"
                  "sig = 4:64:0:*:mss*44,7:mss,bogus:df:0\n")
    r = run_bin("sensor", "--read", tmp_path / "x.pcap", "--fpdb", fp)
    assert r.returncode == 1
    assert ("%s:4: bad TCP option layout" % fp).encode() in r.stderr


@need_scapy
def test_offline_db_stores_syns_and_walks(fx, tmp_path):
    d, _ = fx
    db = str(tmp_path / "o.db")
    r, rows = read(d / "syn-eth.pcap", "--db", db, "--fpdb", OWN_FP,
                   "--fpdb", P0F_FP)
    assert r.returncode == 0, r.stderr
    c = sqlite3.connect(db)
    n = c.execute("SELECT count(*) FROM syns").fetchone()[0]
    assert n == len(firsts(rows)) + 1       # two SYNs share a port
    (rtx,) = c.execute("SELECT max(retransmits) FROM syns").fetchone()
    assert rtx == 2
    lab = dict(c.execute("SELECT src_ip, label FROM syns"))
    assert lab["192.0.2.1"] == "Linux 4.x-6.x"          # dist/ override
    assert lab["192.0.2.24"] == "Windows 10 or 11"
    assert c.execute("SELECT count(*) FROM mx_walks").fetchone()[0] >= 30
    c.close()


# -- live capture on the loopback interface -------------------------------

def sql(db, q, *args):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return c.execute(q, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        c.close()


def connect(src, dst, port, timeout=2.0):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    try:
        s.connect((dst, port))
        return s
    except OSError:
        s.close()
        return None


@need_root
def test_live_sessions_carry_fingerprints_and_walks(daemon):
    port_holder = socket.socket()
    port_holder.bind(("127.0.0.20", 0))
    d = daemon(real_mx=None, extra=[
        "real-mx 127.0.0.20 mx 20", "sensor on", "sensor interface lo",
        "sensor watch 127.0.0.9 mx 5", "sensor watch 127.0.0.40 mx 40",
        "sensor fpdb %s %s" % (OWN_FP, P0F_FP)])
    # A stand-in for the real MX on the decoy's port.
    real = socket.socket()
    real.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port_holder.close()
    real.bind(("127.0.0.20", d.port))
    real.listen(16)
    try:
        # MTA-like: dead primary, live primary decoy, then the real MX.
        assert connect("127.0.0.55", "127.0.0.9", d.port) is None
        # Loopback answers in microseconds; a real walk waits at least
        # one round trip (the parallel rule's 1 ms), so do we.
        time.sleep(0.005)
        with Smtp("127.0.0.1", d.port, src="127.0.0.55") as c:
            assert c.cmd("EHLO mta.example.net")[0] == 250
            assert c.cmd("MAIL FROM:<a@example.net>")[0] == 250
            assert c.cmd("RCPT TO:<b@example.org>")[0] == 450
            assert c.cmd("QUIT")[0] == 221
        time.sleep(0.01)
        s = connect("127.0.0.55", "127.0.0.20", d.port)
        assert s is not None
        s.close()
        # Bot: backup decoy first.
        assert connect("127.0.0.56", "127.0.0.40", d.port) is None
        # Bot: the dead primary only.
        assert connect("127.0.0.57", "127.0.0.9", d.port) is None
        # The real MX only.
        connect("127.0.0.58", "127.0.0.20", d.port).close()
        # Parallel: two MX at once, without waiting.
        ss = []
        for dst in ("127.0.0.9", "127.0.0.20"):
            x = socket.socket()
            x.bind(("127.0.0.59", 0))
            x.setblocking(False)
            x.connect_ex((dst, d.port))
            ss.append(x)
        for x in ss:
            x.close()
        rows = d.sessions(1, pred=lambda rs: rs[0]["os"] is not None)
        assert rows[0]["os"] == "Linux 4.x-6.x (loopback)", rows[0]
        assert rows[0]["os_class"] == "unix"

        want = {"127.0.0.55": "primary-then-real",
                "127.0.0.56": "backup-direct",
                "127.0.0.57": "primary-only",
                "127.0.0.58": "real-only",
                "127.0.0.59": "parallel"}

        def walks():
            w = dict(sql(d.db, "SELECT ip, verdict FROM mx_walks"))
            return w if all(w.get(k) == v for k, v in want.items()) \
                else None
        try:
            wait_until(walks, 10, what="mx_walks verdicts")
        except AssertionError:
            raise AssertionError(sql(d.db, "SELECT * FROM mx_walks"))
        (walk,) = sql(d.db, "SELECT walk FROM mx_walks WHERE ip = ?",
                      "127.0.0.55")[0]
        assert walk.startswith("127.0.0.9 mx=5 primary +0ms, 127.0.0.1 "
                               "mx=10 primary +"), walk
        assert "127.0.0.20 mx=20 real" in walk
        dead = sql(d.db, "SELECT role, mx_pref, label, match FROM syns "
                   "WHERE dst_ip = '127.0.0.9' AND src_ip = '127.0.0.57'")
        assert dead == [("primary", 5, "Linux 4.x-6.x (loopback)",
                         "exact")]
        rep = run_bin("report", "sessions", "--db", d.db, "--format", "json")
        assert json.loads(rep.stdout)[0]["os_class"] == "unix"
    finally:
        real.close()


def test_sensor_auto_runs_without_capture(daemon):
    d = daemon(extra=["sensor auto", "sensor interface nosuchif0"])
    with Smtp("127.0.0.1", d.port) as c:
        assert c.cmd("QUIT")[0] == 221
    d.sessions(1)
    assert "running without the sensor" in d.read_stderr()


def test_sensor_on_refuses_to_start_without_capture(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:%d\nsensor on\n"
                    "sensor interface nosuchif0\ndb %s/x.db\n"
                    % (free_port(["127.0.0.1"]), tmp_path))
    r = run_bin("run", "-c", conf, "--user", "root" if os.geteuid() == 0
                else os.environ.get("USER", "nobody"), timeout=20)
    assert r.returncode == 1
    assert b"sensor interface nosuchif0" in r.stderr


@need_root
@pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 on this host")
def test_live_ipv6_session_carries_its_fingerprint(daemon):
    d = daemon(addrs=("127.0.0.1", "::1"), extra=[
        "sensor on", "sensor interface lo",
        "sensor fpdb %s %s" % (OWN_FP, P0F_FP)])
    with Smtp("::1", d.port) as c:
        assert c.cmd("QUIT")[0] == 221
    rows = d.sessions(1, pred=lambda rs: rs[0]["os"] is not None)
    assert rows[0]["src_ip"] == "::1"
    assert rows[0]["os"] == "Linux 4.x-6.x (loopback)", rows[0]
    (sig,) = sql(d.db, "SELECT sig FROM syns WHERE src_ip = '::1'")[0]
    assert sig.startswith("6:64+0:0:65476:mss*1,")
