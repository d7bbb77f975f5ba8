# SPDX-License-Identifier: ISC
"""
The sharing and blocking formats of decoymx export on the scenario
database (tests/integration/scenario.py): abuseipdb, stix and misp each
pass a checker written from their specification (share_check.py) and
list exactly the listed clients with their reasons and nothing from the
network; ipset is checked by ipset itself in tests/e2e/test_blocking.py.
The nft example rule set and the fail2ban filter are checked by nft and
fail2ban-regex.
"""
import csv
import io
import json
import re
import shutil
import subprocess
import uuid

import pytest

from conftest import BIN, REPO, run_bin
import scenario
import share_check
from consumers import nft_check

NS = uuid.UUID("6f1c0d2e-8b3a-4c57-9e21-5d0a7b3c9f44")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    import time
    d = tmp_path_factory.mktemp("share")
    scenario.export_db(BIN, d / "e.db", int(time.time() * 1e6))
    (d / "allow.txt").write_text(scenario.ALLOW)
    return d


def export(work, fmt, *args, ok=True):
    r = run_bin("export", fmt, "--db", work / "e.db", "--allowlist",
                work / "allow.txt", *args)
    assert b"Sanitizer" not in r.stderr and b"runtime error" not in r.stderr
    if ok:
        assert r.returncode == 0, r.stderr
    return r


def no_network_text(text):
    for bad in ("owned", "$SOA", "1.2.3.4", "127.0.0.9", "127.0.0.2"):
        assert bad not in text, bad


def test_abuseipdb(work):
    text = export(work, "abuseipdb", "--v6-prefix", "128").stdout.decode()
    assert share_check.check_abuseipdb(text) == []
    rows = list(csv.reader(io.StringIO(text)))[1:]
    want = {a for a in scenario.LISTED if "/" not in a} | {
        "2001:db8:1:2::10"}          # the /64's client (::20 allowlisted)
    assert {r[0] for r in rows} == want
    for ip, cats, date, comment in rows:
        assert cats == "11"
        assert date.endswith("+00:00")
        m = re.fullmatch(r"Spam bot at a nolisting decoy MX \(decoymx\): "
                         r"([a-z-]+(?:, [a-z-]+)*)", comment)
        assert m, comment
        reasons = scenario.LISTED.get(ip, ["backup-direct"])
        assert m.group(1).split(", ") == reasons
    no_network_text(text)
    # Networks cannot be reported: the default /64 leaves IPv6 out.
    text = export(work, "abuseipdb").stdout.decode()
    assert share_check.check_abuseipdb(text) == []
    assert "2001:db8" not in text


def stix(work, *args):
    b = json.loads(export(work, "stix", *args).stdout)
    assert share_check.check_stix_bundle(b) == []
    return b


def test_stix(work):
    b = stix(work, "--sensor", "mx10-paris")
    ident = [o for o in b["objects"] if o["type"] == "identity"]
    assert len(ident) == 1
    assert ident[0]["id"] == "identity--%s" % uuid.uuid5(
        NS, "identity:mx10-paris")
    assert ident[0]["created"] == ident[0]["modified"] == \
        "2026-01-01T00:00:00.000Z"
    inds = {share_check.stix_pattern_value(o): o for o in b["objects"]
            if o["type"] == "indicator"}
    assert set(inds) == set(scenario.LISTED)
    for net, o in inds.items():
        assert o["labels"] == scenario.LISTED[net]
        assert o["created_by_ref"] == ident[0]["id"]
        assert o["id"] == "indicator--%s" % uuid.uuid5(
            NS, "indicator:mx10-paris:%s" % net)
        assert o["valid_from"] == o["created"]
    assert inds["2001:db8:1:2::/64"]["pattern"] == \
        "[ipv6-addr:value = '2001:db8:1:2::/64']"
    no_network_text(json.dumps(b))
    # Deterministic: the same objects again; another sensor, other ids.
    again = stix(work, "--sensor", "mx10-paris")
    assert again["objects"] == b["objects"]
    other = stix(work, "--sensor", "mx40")
    assert {o["id"] for o in other["objects"]}.isdisjoint(
        {o["id"] for o in b["objects"]})


def test_stix_checker_catches_mistakes(work):
    """The checker itself rejects what the specification forbids."""
    b = stix(work)
    ind = next(o for o in b["objects"] if o["type"] == "indicator")
    for k, v in [("pattern", "[ipv4-addr:value = '2001:db8::1']"),
                 ("created", "2026-01-01T00:00:00Z"),
                 ("id", "indicator--not-a-uuid"),
                 ("modified", "2000-01-01T00:00:00.000Z"),
                 ("pattern_type", None)]:
        bad = dict(ind)
        if v is None:
            del bad[k]
        else:
            bad[k] = v
        assert share_check.check_stix_bundle(
            dict(b, objects=[bad])) != [], k


def misp(work, out):
    r = export(work, "misp", "-o", out, "--sensor", "mx10")
    man = json.loads((out / "manifest.json").read_text())
    events = {p.stem: json.loads(p.read_text())
              for p in out.glob("*.json") if p.name != "manifest.json"}
    return r, man, events


def test_misp_feed(work, tmp_path):
    out = tmp_path / "feed"
    r, man, events = misp(work, out)
    assert len(events) == 1 and list(man) == list(events)
    assert share_check.check_misp_manifest(man, events) == []
    (u, ev), = events.items()
    assert share_check.check_misp_event(ev) == []
    assert u == str(uuid.uuid5(NS, "misp-event:mx10"))
    attrs = {a["value"]: a for a in ev["Event"]["Attribute"]}
    assert set(attrs) == set(scenario.LISTED)
    for v, a in attrs.items():
        assert a["type"] == "ip-src" and a["to_ids"] is True
        assert [t["name"] for t in a["Tag"]] == [
            'decoymx:reason="%s"' % x for x in scenario.LISTED[v]]
    no_network_text(json.dumps(ev))
    # Nothing changed: both files stay as they are.
    r, man2, events2 = misp(work, out)
    assert r.stderr.count(b"unchanged") == 2, r.stderr
    assert events2 == events
    r = export(work, "misp", ok=False)
    assert r.returncode != 0 and b"misp" in r.stderr


def test_misp_checker_catches_mistakes(work, tmp_path):
    _, man, events = misp(work, tmp_path / "f")
    (u, ev), = events.items()
    bad = json.loads(json.dumps(ev))
    bad["Event"]["Attribute"][0]["to_ids"] = "1"
    assert share_check.check_misp_event(bad) != []
    bad = json.loads(json.dumps(ev))
    del bad["Event"]["Orgc"]
    assert share_check.check_misp_event(bad) != []
    assert share_check.check_misp_manifest(
        {u: dict(man[u], date="1999-01-01")}, events) != []


def test_ipset_file(work):
    text = export(work, "ipset", "--ipset-set", "dmx").stdout.decode()
    lines = text.splitlines()
    assert lines[0].startswith("# decoymx ")
    assert "add dmx4-new 198.51.100.10" in lines
    assert "add dmx6-new 2001:db8:1:2::/64" in lines
    assert "add dmx6-new 2001:db8:1:2::20 nomatch" in lines
    assert lines[-2:] == ["swap dmx6-new dmx6", "destroy dmx6-new"]
    no_network_text(text)
    for bad in ("1dmx", "a" * 25, "d-x"):
        r = export(work, "ipset", "--ipset-set", bad, ok=False)
        assert r.returncode == 2, bad


def test_configured_share_export(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:2526\nexport stix %s/s.json every 1h "
                    "--sensor mx10\nexport misp %s/feed every 1h\n"
                    % (tmp_path, tmp_path))
    r = run_bin("run", "-n", "-c", conf, "--db", tmp_path / "x.db")
    assert r.returncode == 0, r.stderr
    conf.write_text("listen 127.0.0.1:2526\nexport stix %s/s.json every 1h "
                    "--sensor 'a b'\n" % tmp_path)
    assert run_bin("run", "-n", "-c", conf).returncode == 2


@pytest.mark.skipif(not shutil.which("nft"),
                    reason="nftables missing (scripts/install-deps test)")
def test_nft_example_rule_set_with_the_export(work, tmp_path):
    """nft -c accepts the example rule set followed by an export."""
    f = tmp_path / "both.nft"
    f.write_text((REPO / "dist/nft/decoymx.nft").read_text() +
                 export(work, "nft").stdout.decode())
    nft_check(f)


@pytest.mark.skipif(not shutil.which("fail2ban-regex"),
                    reason="fail2ban missing (scripts/install-deps test)")
def test_fail2ban_filter_on_the_event_log(daemon, tmp_path):
    """The filter finds the bots of a real event log, and nothing a
    client wrote can make it find another address."""
    import socket
    import time
    from conftest import Smtp, free_port, wait_until
    log = tmp_path / "events.jsonl"
    port = free_port(["127.0.0.1"])
    daemon(listen=["127.0.0.1:{port} mx 10 proxy"], port=port,
           extra=["events-log %s" % log, "sensor name mx10"])

    class W:
        def __init__(self, s):
            self.s = s

        def __getattr__(self, n):
            return getattr(self.s, n)

        def connect(self, a):
            pass

    def client(src, script):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        fam = "TCP6" if ":" in src else "TCP4"
        dst = "2001:db8::10" if ":" in src else "192.0.2.10"
        s.sendall(b"PROXY %s %s %s 40000 25\r\n" % (
            fam.encode(), src.encode(), dst.encode()))
        c = Smtp("127.0.0.1", 0, sock=W(s))
        assert c.greeting[0] == 220
        script(c)
        s.close()

    def mta(c, helo="mta.example.test", frm="a@example.test"):
        c.cmd("EHLO " + helo)
        c.cmd("MAIL FROM:<%s>" % frm)
        c.cmd("RCPT TO:<b@victim.test>")
        c.cmd("QUIT")

    def evil(c):
        inject = ('","close_reason":"eof","anomalies":["pregreet"],'
                  '"src_ip":"203.0.113.66')
        mta(c, frm="x" + inject + "@example.test")

    def bot(c):
        c.send("EHLO bot\r\nMAIL FROM:<a@b>\r\n")      # pipelining
        time.sleep(0.2)

    client("203.0.113.25", mta)
    client("203.0.113.26", evil)
    client("198.51.100.7", bot)
    client("2001:db8::7", bot)
    wait_until(lambda: log.exists() and
               len(log.read_text().splitlines()) == 4, 10, interval=0.1,
               what="four events")
    events = [json.loads(x) for x in log.read_text().splitlines()]
    assert {e["via"] for e in events} == {"127.0.0.1"}
    assert "203.0.113.66" in log.read_text()    # the injection is there
    bots = {"pregreet", "pipelining", "bare-lf", "non-smtp", "helo-invalid",
            "long-line", "too-many-errors", "auth-attempt", "rset-loop"}
    want = sorted(e["src_ip"] for e in events if bots & set(e["anomalies"]))
    r = subprocess.run(["fail2ban-regex", "-o", "ip", str(log),
                        str(REPO / "dist/fail2ban/filter.d/decoymx.conf")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = sorted(r.stdout.split())
    assert got == want, r.stdout + r.stderr
    assert "198.51.100.7" in got and "2001:db8::7" in got
    assert "203.0.113.25" not in got and "203.0.113.66" not in got
