# SPDX-License-Identifier: ISC
"""
Privilege separation (doc/DESIGN.md §3, issue 8): started as root with
an unprivileged user, the network process runs as that user, chrooted to
an empty directory, with no capabilities left; the store process runs as
that user too, outside the chroot.  The daemon still serves and stores.
"""
import os
import pwd
import tempfile

import pytest

from conftest import Daemon, normal_session

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="privilege drop needs root")


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


@pytest.fixture
def nobody_daemon():
    pw = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="decoymx-privsep-")
    os.chmod(d, 0o777)  # the store process, as nobody, creates the db here
    chroot = tempfile.mkdtemp(prefix="decoymx-empty-")
    dm = Daemon(d, extra=["chroot %s" % chroot],
                args=["--user", "nobody"])
    dm.start()
    yield dm, pw, chroot
    dm.stop()
    os.rmdir(chroot)


def test_both_processes_drop_to_the_user(nobody_daemon):
    d, pw, chroot = nobody_daemon
    net = d.net_pid()
    for pid in (d.pid, net):
        st = status(pid)
        assert st["Uid"] == [str(pw.pw_uid)] * 4, (pid, st["Uid"])
        assert st["Gid"] == [str(pw.pw_gid)] * 4, (pid, st["Gid"])
        assert st["Groups"] == [str(pw.pw_gid)], (pid, st["Groups"])
        assert int(st["CapEff"][0], 16) == 0, (pid, st["CapEff"])
        assert int(st["CapPrm"][0], 16) == 0, (pid, st["CapPrm"])
    # The network process is chrooted to the empty directory; the store
    # process is not (it owns the database).
    assert os.readlink("/proc/%d/root" % net) == chroot
    assert os.readlink("/proc/%d/root" % d.pid) == "/"
    # Beyond stdin/stdout/stderr, the network process holds no file but
    # its sockets (and libevent's internal descriptors).
    for fd in os.listdir("/proc/%d/fd" % net):
        if int(fd) <= 2:
            continue
        target = os.readlink("/proc/%d/fd/%s" % (net, fd))
        assert (target.startswith("socket:") or
                target.startswith("anon_inode:") or
                target.startswith("pipe:") or target == "/dev/null"), target


def test_serves_and_stores_after_dropping(nobody_daemon):
    d, pw, _ = nobody_daemon
    normal_session(d)
    rows = d.sessions(1)
    assert rows[0]["rcpt_to"] == ["someone@example.org"]
    assert os.stat(d.db).st_uid == pw.pw_uid


def test_unknown_user_is_a_usage_error(tmp_path):
    d = Daemon(tmp_path, args=["--user", "no-such-user-decoymx"])
    d.write_config()
    from conftest import run_bin
    r = run_bin("run", "-c", d.conf, "--user", "no-such-user-decoymx")
    assert r.returncode == 2
    assert b"no-such-user-decoymx" in r.stderr
