# SPDX-License-Identifier: ISC
"""
The blocking outputs loaded for real, in a network namespace of this
test's own (decoymx-i17-bl-PID, deleted at teardown whatever happens):

* "decoymx export ipset" restored by ipset, twice (the second time from
  a database with other clients): the sets in use hold exactly the
  listed networks, the allowlisted address inside one as nomatch, and
  no temporary set is left.
* dist/nft/decoymx.nft loaded by nft, then "decoymx export nft" twice:
  the sets the example's chain reads hold the listing; the fail2ban
  action's ban and unban commands (dist/fail2ban/action.d) work on it.

Root only (namespaces); skipped without ipset or nft.
"""
import configparser
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from e2e_world import BIN, REPO, run_bin
import scenario

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)"),
    pytest.mark.skipif(not shutil.which("ipset") or not shutil.which("nft"),
                       reason="ipset or nft missing (scripts/install-deps "
                       "test)"),
]


@pytest.fixture(scope="module")
def ns(tmp_path_factory):
    name = "decoymx-i17-bl-%d" % os.getpid()
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    d = tmp_path_factory.mktemp("bl")
    now = int(time.time() * 1e6)
    scenario.export_db(BIN, d / "a.db", now)
    scenario.export_db(BIN, d / "b.db", now, sensor=True)
    (d / "allow.txt").write_text(scenario.ALLOW)
    try:
        yield name, d
    finally:
        subprocess.run(["ip", "netns", "del", name], timeout=10)


def nsrun(name, *argv, check=True):
    r = subprocess.run(["ip", "netns", "exec", name, *map(str, argv)],
                       capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, "%s: %s" % (argv, r.stderr)
    return r


def export(d, fmt, db, *args):
    out = d / ("%s-%s" % (db, fmt))
    r = run_bin("export", fmt, "--db", d / db, "--allowlist",
                d / "allow.txt", "-o", out, *args)
    assert r.returncode == 0, r.stderr
    return out


def members(name, setname):
    r = nsrun(name, "ipset", "list", setname)
    return set(r.stdout.split("Members:\n", 1)[1].split("\n")) - {""}


def listed(d, db):
    r = run_bin("export", "plain", "--db", d / db, "--allowlist",
                d / "allow.txt")
    return {x for x in r.stdout.decode().splitlines()[1:]}


def test_ipset_restore_swaps_the_sets(ns):
    name, d = ns
    for db in ("a.db", "b.db", "a.db"):
        nsrun(name, "ipset", "restore", "-f", export(d, "ipset", db))
        want = listed(d, db)
        got = members(name, "decoymx4") | members(name, "decoymx6")
        assert {m for m in got if "nomatch" not in m} == want
        assert "2001:db8:1:2::20 nomatch" in got
        sets = nsrun(name, "ipset", "list", "-n").stdout.split()
        assert sorted(sets) == ["decoymx4", "decoymx6"]
    assert listed(d, "a.db") != listed(d, "b.db")


def test_nft_example_export_and_fail2ban_action(ns):
    name, d = ns
    nsrun(name, "nft", "-f", REPO / "dist/nft/decoymx.nft")
    for db in ("b.db", "a.db"):
        nsrun(name, "nft", "-f", export(d, "nft", db))
    # The example rule set again does not empty what the export filled.
    nsrun(name, "nft", "-f", REPO / "dist/nft/decoymx.nft")
    out = nsrun(name, "nft", "list", "table", "inet", "decoymx").stdout
    assert "198.51.100.10" in out and "2001:db8:1:2::/64" in out
    assert out.count("ip saddr @blocklist4") == 1
    assert out.count("jump smtp") == 1
    assert "127.0.0.2" not in out

    cp = configparser.ConfigParser(interpolation=None)
    cp.read(REPO / "dist/fail2ban/action.d/decoymx-nft.conf")
    init = dict(cp["Init"])
    for ip, fam in (("198.51.100.99", "4"), ("2001:db8:9::9", "6")):
        tags = dict(init, ip=ip, fam=fam)

        def cmd(key):
            c = cp["Definition"][key]
            for k, v in tags.items():
                c = c.replace("<%s>" % k, v)
            assert "<" not in c, c
            return c
        for key in ("actioncheck", "actionban"):
            r = subprocess.run(["ip", "netns", "exec", name, "sh", "-c",
                                cmd(key)], capture_output=True, text=True,
                               timeout=30)
            assert r.returncode == 0, (key, r.stderr)
        s = nsrun(name, "nft", "list", "set", "inet", "decoymx",
                  "fail2ban" + fam).stdout
        assert ip in s
        r = subprocess.run(["ip", "netns", "exec", name, "sh", "-c",
                            cmd("actionunban")], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        s = nsrun(name, "nft", "list", "set", "inet", "decoymx",
                  "fail2ban" + fam).stdout
        assert ip not in s
    assert cp["Init?family=inet6"]["fam"] == "6"
