# SPDX-License-Identifier: ISC
"""
One verdict (issue 13): "report ip ADDR" says listed exactly when the
export lists ADDR, itself or through its IPv6 /64, and names that entry
and the neighbour that caused it; rbldnsd serving the export agrees for
every address (IPv4, IPv6, /64 neighbours, allowlisted).  An MTA-like
IPv6 client keeps its /64 from being listed because of a bot next door:
the bot is then listed alone (/128).  "export rbldnsd" to standard output
refuses to drop IPv6 entries, and each file's header counts its own
entries.
"""
import json
import re
import shutil
import time

import pytest

from conftest import BIN, run_bin
import scenario
from consumers import dig, rbldnsd, rev
from scenario import HOUR, MIN, PRIMARY

NOW = int(time.time() * 1e6)
ALLOW = "198.51.100.15\n2001:db8:c::8\n"

BOT = "backup-direct"
# address -> (listed, the entry that lists it)
WANT = {
    "198.51.100.10": (1, "198.51.100.10"),          # backup-direct bot
    "198.51.100.12": (1, "198.51.100.12"),          # pregreet bot
    "198.51.100.13": (0, None),                     # an MTA (retries)
    "198.51.100.15": (0, None),                     # allowlisted bot
    "198.51.100.99": (0, None),                     # never seen
    "2001:db8:a::66": (1, "2001:db8:a::66"),        # bot, MTA next door
    "2001:db8:a::25": (0, None),                    # that MTA
    "2001:db8:a::99": (0, None),                    # unseen, MTA's /64
    "2001:db8:b::1": (1, "2001:db8:b::/64"),        # two bots: their /64
    "2001:db8:b::2": (1, "2001:db8:b::/64"),
    "2001:db8:b::99": (1, "2001:db8:b::/64"),       # unseen neighbour
    "2001:db8:c::7": (1, "2001:db8:c::/64"),        # bot
    "2001:db8:c::8": (0, None),                     # allowlisted bot
    "2001:db8:c::9": (1, "2001:db8:c::/64"),        # unseen neighbour
}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    w = tmp_path_factory.mktemp("verdict")
    d = scenario.Db(BIN, w / "v.db")
    for ip in ("198.51.100.10", "198.51.100.15", "2001:db8:a::66",
               "2001:db8:b::1", "2001:db8:b::2", "2001:db8:c::7",
               "2001:db8:c::8"):
        d.session(ip, NOW - HOUR)                   # backup only
    d.session("198.51.100.12", NOW - HOUR, decoy=PRIMARY,
              anomalies=scenario.PREGREET)
    for ip in ("198.51.100.13", "2001:db8:a::25"):  # a queue retrying
        d.session(ip, NOW - HOUR, decoy=PRIMARY, helo="mta.example.org",
                  mail_from="bounce@example.org")
        d.session(ip, NOW - HOUR + 5 * MIN, decoy=PRIMARY,
                  helo="mta.example.org", mail_from="bounce@example.org")
    d.close()
    (w / "allow.txt").write_text(ALLOW)
    return w


def verdict(work, ip):
    r = run_bin("report", "ip", ip, "--db", work / "v.db", "--format",
                "json", "--allowlist", work / "allow.txt")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["classification"]["verdict"][0]


def test_report_ip_names_the_entry_and_the_neighbour(work):
    for ip, (listed, entry) in WANT.items():
        v = verdict(work, ip)
        assert (v["listed"], v["listed_as"]) == (listed, entry), (ip, v)
    v = verdict(work, "2001:db8:b::99")
    assert v["neighbour"] in ("2001:db8:b::1", "2001:db8:b::2")
    v = verdict(work, "2001:db8:b::1")
    assert v["neighbour"] == "2001:db8:b::2"
    assert verdict(work, "198.51.100.10")["neighbour"] is None
    assert verdict(work, "2001:db8:c::8")["excluded"].startswith(
        "allowlisted")


def test_headers_count_their_own_file(work, tmp_path):
    out = tmp_path / "bl"
    r = run_bin("export", "rbldnsd", "--db", work / "v.db", "--allowlist",
                work / "allow.txt", "-o", out)
    assert r.returncode == 0, r.stderr
    for path, n in ((out, 3), (tmp_path / "bl.v6", 3)):
        lines = path.read_text().splitlines()
        head = re.search(r": (\d+) entries", lines[0])
        # An entry is an address or network, alone (its value from the
        # ":A:TXT" line above it) or with its own value.
        body = [l for l in lines[1:]
                if re.match(r"^[0-9a-f.:]+(/\d+)?( |$)", l)]
        assert int(head.group(1)) == len(body) == n, (path, lines)
    assert "!2001:db8:c::8" in (tmp_path / "bl.v6").read_text()
    # To standard output: IPv6 entries are refused, not dropped.
    r = run_bin("export", "rbldnsd", "--db", work / "v.db")
    assert r.returncode == 1 and r.stdout == b""
    assert b"-o FILE" in r.stderr and b"IPv6" in r.stderr


def test_rbldnsd_to_stdout_without_ipv6(tmp_path):
    d = scenario.Db(BIN, tmp_path / "4.db")
    d.session("198.51.100.10", NOW - HOUR)
    d.close()
    r = run_bin("export", "rbldnsd", "--db", tmp_path / "4.db")
    assert r.returncode == 0, r.stderr
    assert re.search(rb"^198\.51\.100\.10( |$)", r.stdout, re.M)
    assert b": 2 entries" in r.stdout.splitlines()[0]


@pytest.mark.skipif(not shutil.which("rbldnsd") or not shutil.which("dig"),
                    reason="rbldnsd or dig missing (scripts/install-deps "
                    "test)")
def test_report_ip_and_rbldnsd_agree(work, tmp_path):
    zone = tmp_path / "zone"
    zone.mkdir()
    r = run_bin("export", "rbldnsd", "--db", work / "v.db", "--allowlist",
                work / "allow.txt", "-o", zone / "bl", "--ttl", "300",
                "--soa", "300 ns.test. hm.test. 0 600 300 86400 300",
                "--ns", "300 ns.test.")
    assert r.returncode == 0, r.stderr
    with rbldnsd(zone, tmp_path / "rbldnsd.log") as port:
        for ip, (listed, _) in WANT.items():
            st, answers = dig(port, rev(ip))
            dns = 1 if st == "NOERROR" and answers else 0
            assert st in ("NOERROR", "NXDOMAIN"), (ip, st)
            assert dns == listed == verdict(work, ip)["listed"], (
                ip, st, answers)
