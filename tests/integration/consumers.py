# SPDX-License-Identifier: ISC
"""
The real consumers of the exports, for the export tests (test_export.py,
test_verdict.py, test_share.py): an rbldnsd serving an exported zone on
loopback and dig against it, and nft checking a script.
"""
import contextlib
import ipaddress
import re
import signal
import subprocess

import pytest

from conftest import free_port, wait_until


def dig(port, name, qtype="A"):
    """(status, answers) of one query to 127.0.0.1:port."""
    r = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tries=1",
                        "+time=2", "+noall", "+comments", "+answer", name,
                        qtype], capture_output=True, text=True, timeout=10)
    status = re.search(r"status: (\w+)", r.stdout)
    answers = [l.split(None, 4)[-1] for l in r.stdout.splitlines()
               if l and not l.startswith(";")]
    return (status.group(1) if status else None), answers


def rev(a):
    """The name of address a in the zone bl.test."""
    ip = ipaddress.ip_address(a)
    if ip.version == 4:
        return ".".join(reversed(a.split("."))) + ".bl.test"
    return ip.reverse_pointer.replace(".ip6.arpa", ".bl.test")


@contextlib.contextmanager
def rbldnsd(zone, log_path):
    """rbldnsd serving bl.test from zone/bl (ip4set) and zone/bl.v6
    (ip6trie), its output in log_path; yields its port once it answers
    the RFC 5782 test entry."""
    port = free_port(["127.0.0.1"])
    log = open(log_path, "w")
    p = subprocess.Popen(["rbldnsd", "-n", "-b", "127.0.0.1/%d" % port,
                          "-r", str(zone), "bl.test:ip4set:bl",
                          "bl.test:ip6trie:bl.v6"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: dig(port, "2.0.0.127.bl.test")[0] == "NOERROR",
                   10, interval=0.1, what="rbldnsd to answer")
        yield port
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
        log.close()


def nft_check(path):
    """nft -c -f path succeeds; skips the test where nft cannot check
    (no netlink, no permission)."""
    r = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0 and re.search(r"Operation not permitted|"
                                       r"netlink|Permission denied",
                                       r.stderr):
        pytest.skip("nft cannot check here: %s" % r.stderr.strip())
    assert r.returncode == 0, r.stderr
