# SPDX-License-Identifier: ISC
"""Sessions from several client addresses, IPv4 and IPv6."""
import pytest

from conftest import Smtp, by_src, have_ipv6_loopback, normal_session


def test_sessions_from_several_sources(daemon):
    d = daemon()
    srcs = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.3.4.5",
            "127.254.0.1"]
    ports = {}
    for i, src in enumerate(srcs):
        with Smtp("127.0.0.1", d.port, src=src) as c:
            ports[src] = c.sock.getsockname()[1]
            assert c.cmd("EHLO client%d.example.net" % i)[0] == 250
            assert c.cmd("MAIL FROM:<from%d@example.net>" % i)[0] == 250
            assert c.cmd("RCPT TO:<to%d@example.org>" % i)[0] == 450
            assert c.cmd("QUIT")[0] == 221
    rows = d.sessions(len(srcs), exact=True)
    assert sorted(r["src_ip"] for r in rows) == sorted(srcs)
    for i, src in enumerate(srcs):
        (r,) = by_src(rows, src)
        assert r["src_port"] == ports[src]
        assert r["helo"] == "client%d.example.net" % i
        assert r["mail_from"] == "from%d@example.net" % i
        assert r["rcpt_to"] == ["to%d@example.org" % i]
        assert r["dst_ip"] == "127.0.0.1"


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 on this host")
def test_ipv6_session(daemon):
    d = daemon(addrs=("127.0.0.1", "::1"), mx=40, real_mx=20)
    with Smtp("::1", d.port) as c:
        assert c.greeting[0] == 220
        assert c.cmd("EHLO [IPv6:::1]")[0] == 250
        assert c.cmd("MAIL FROM:<six@example.net>")[0] == 250
        assert c.cmd("RCPT TO:<six@example.org>")[0] == 450
        assert c.cmd("QUIT")[0] == 221
    normal_session(d, host="127.0.0.1")
    rows = d.sessions(2)
    (r6,) = [r for r in rows if r["src_ip"] == "::1"]
    assert r6["dst_ip"] == "::1"
    assert r6["dst_port"] == d.port
    assert r6["role"] == "backup" and r6["mx_pref"] == 40
    assert r6["helo"] == "[IPv6:::1]"
    assert r6["mail_from"] == "six@example.net"
    assert r6["rcpt_to"] == ["six@example.org"]
    (r4,) = by_src(rows, "127.0.0.1")
    assert r4["dst_ip"] == "127.0.0.1"
