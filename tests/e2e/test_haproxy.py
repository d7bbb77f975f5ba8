# SPDX-License-Identifier: ISC
"""
A real HAProxy (Debian's) in front of decoymx, in a network namespace of
this test's own (decoymx-i17-px-PID, deleted at teardown whatever
happens): one frontend relays with send-proxy (PROXY v1), one with
send-proxy-v2, IPv4 and IPv6.  Clients talk SMTP from documentation
addresses; decoymx must record each session with the client's address
and port and the frontend's address, never the balancer's, and name the
balancer in its log (via=).

    192.0.2.10:25, [2001:db8::10]:25   HAProxy, send-proxy
    192.0.2.11:25, [2001:db8::11]:25   HAProxy, send-proxy-v2
    192.0.2.100:2525                   decoymx, "listen ... proxy"
    198.51.100.7, 198.51.100.8, 2001:db8::7   clients

Root only (namespaces); skipped without haproxy.
"""
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from e2e_world import (BIN, SAN_MARKERS, World, hex_addr, proc_sockets,
                       read_json, wait_until)
from smtpclient import Smtp

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (namespaces)"),
    pytest.mark.skipif(not shutil.which("haproxy"),
                       reason="haproxy missing (scripts/install-deps test)"),
]

DECOY = "192.0.2.100"
FRONT = {"v1": ("192.0.2.10", "2001:db8::10"),
         "v2": ("192.0.2.11", "2001:db8::11")}
CLIENTS = ["198.51.100.7", "198.51.100.8", "2001:db8::7"]


class PxWorld(World):
    """The e2e world's namespace helpers under this test's own name."""

    def __init__(self):
        super().__init__()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.ns = "decoymx-i17-px-%d" % os.getpid()
        self.dir = Path(subprocess.check_output(
            ["mktemp", "-d", "/tmp/%s-XXXXXX" % self.ns]).decode().strip())
        os.chmod(self.dir, 0o755)
        self.netns_dir = Path("/etc/netns") / self.ns

    def create(self, extra_addrs=()):
        self.sh("ip", "netns", "add", self.ns)
        self.ns_made = True
        self.nsexec("ip", "link", "set", "lo", "up")
        for a in extra_addrs:
            self.nsexec("ip", "addr", "add", "%s/%d" % (
                a, 128 if ":" in a else 32), "dev", "lo", "nodad")


HAPROXY_CFG = """\
global
    maxconn 200
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend smtp_v1
    bind {v1a}:25
    bind [{v1b}]:25
    default_backend decoy_v1
frontend smtp_v2
    bind {v2a}:25
    bind [{v2b}]:25
    default_backend decoy_v2
backend decoy_v1
    server decoy {decoy}:2525 send-proxy
backend decoy_v2
    server decoy {decoy}:2525 send-proxy-v2
# Health checks only (no frontend): SMTP checks with a PROXY v2 header,
# which HAProxy sends with the LOCAL command.
backend decoy_chk
    option smtpchk HELO haproxy.test
    server decoy {decoy}:2525 send-proxy-v2 check inter 300 check-send-proxy
"""


@pytest.fixture(scope="module")
def px():
    w = PxWorld()
    problems = []
    dmx = hap = None
    try:
        w.create(extra_addrs=[DECOY, *FRONT["v1"], *FRONT["v2"], *CLIENTS])
        d = w.dir / "decoymx"
        (d / "db").mkdir(parents=True)
        (d / "empty").mkdir()
        os.chown(d / "db", 65534, 65534)        # nobody writes the db
        db = d / "db" / "decoymx.db"
        conf = d / "decoymx.conf"
        conf.write_text("\n".join([
            "listen %s:2525 mx 10 proxy" % DECOY, "hostname mx10.test",
            "db %s" % db, "user nobody", "chroot %s" % (d / "empty"),
            "sensor off", "log-level debug",
            # the same clients connect again and again: no returning 421
            "returning-defer off", ""]))
        dmx = w.start("decoymx", [BIN, "run", "-c", conf])
        wait_until(lambda: (hex_addr(DECOY), 2525, "0A") in
                   proc_sockets(dmx.pid, "tcp") or not dmx.running(), 10,
                   what="decoymx to listen")
        assert dmx.running(), dmx.text()
        cfg = w.dir / "haproxy.cfg"
        cfg.write_text(HAPROXY_CFG.format(
            v1a=FRONT["v1"][0], v1b=FRONT["v1"][1], v2a=FRONT["v2"][0],
            v2b=FRONT["v2"][1], decoy=DECOY))
        w.nsexec("haproxy", "-c", "-f", cfg)
        hap = w.start("haproxy", ["haproxy", "-db", "-f", cfg])
        wait_until(lambda: (hex_addr(FRONT["v2"][0]), 25, "0A") in
                   proc_sockets(hap.pid, "tcp") or not hap.running(), 10,
                   what="haproxy to listen")
        assert hap.running(), hap.text()
        yield w, dmx, db
    finally:
        try:
            if dmx is not None and dmx.running():
                rc = dmx.stop(timeout=20)
                text = dmx.text()
                if rc != 0:
                    problems.append("decoymx exit %s:\n%s" % (rc, text[-3000:]))
                problems += ["sanitizer:\n" + text[-4000:]
                             for m in SAN_MARKERS if m in text]
        finally:
            problems += w.close()
    assert not problems, "\n".join(problems)


def talk(w, front, src):
    """One SMTP dialogue from src to a frontend; returns the source port."""
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    with w.inside():
        sock = socket.socket(fam, socket.SOCK_STREAM)
    c = Smtp(front, 25, src=src, timeout=10, sock=sock)
    port = sock.getsockname()[1]
    assert c.greeting[0] == 220, c.greeting
    assert c.cmd("EHLO client.example.test")[0] == 250
    assert c.cmd("MAIL FROM:<a@example.test>")[0] == 250
    code, _ = c.cmd("RCPT TO:<b@victim.test>")
    assert 400 <= code < 500
    c.cmd("QUIT")
    sock.close()
    return port


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_sessions_carry_the_real_client(px, version):
    w, dmx, db = px
    want = set()
    for src in CLIENTS:
        front = FRONT[version][1 if ":" in src else 0]
        port = talk(w, front, src)
        want.add((src, port, front, 25))

    def got():
        rows = read_json("report", "sessions", "--db", db, "--format",
                         "json")
        have = {(r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"])
                for r in rows}
        return want <= have and rows
    rows = wait_until(got, 15, interval=0.2, what="the relayed sessions")
    srcs = {r["src_ip"] for r in rows}
    assert not srcs & {DECOY, *FRONT["v1"], *FRONT["v2"]}, srcs
    for r in rows:
        assert "pregreet" not in r["anomalies"], r
        assert r["via"] == DECOY, r
    log = dmx.text()
    assert "via=%s" % DECOY in log
    assert "proxy header rejected" not in log


def test_haproxy_health_checks_are_local_and_pass(px):
    """HAProxy's SMTP checks through PROXY v2 arrive as LOCAL: greeted,
    never rejected nor recorded, and the server stays up."""
    w, dmx, db = px
    wait_until(lambda: dmx.text().count("proxy v2 local") >= 3, 15,
               interval=0.2, what="three LOCAL health checks")
    hap_log = (w.dir / "haproxy.log").read_text(errors="replace")
    assert "is DOWN" not in hap_log, hap_log[-2000:]
    assert "proxy header rejected" not in dmx.text()
    rows = read_json("report", "sessions", "--db", db, "--format", "json")
    assert DECOY not in {r["src_ip"] for r in rows}
