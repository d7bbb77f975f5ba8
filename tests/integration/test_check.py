# SPDX-License-Identifier: ISC
"""
"decoymx run -n" checks what "run" would fail on: a listener given
twice, a listener or metrics address that cannot be bound (in use is a
warning: the running daemon holds it), the database, events-log and
export directories missing or not writable by the configured user.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BIN, USER, free_port


def check(tmp_path, *lines, user=USER):
    conf = tmp_path / "c.conf"
    # db is single-valued: a test's own db line replaces the default
    head = () if any(l.startswith("db ") for l in lines) else (
        "db %s/x.db" % tmp_path,)
    conf.write_text("\n".join(head + ("user %s" % user,) + lines) + "\n")
    r = subprocess.run([str(BIN), "run", "-n", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30)
    return r, str(conf)


def listen_line(port, addr="127.0.0.1"):
    return "listen %s:%d mx 10" % (addr, port)


def test_ok(tmp_path):
    r, _ = check(tmp_path, listen_line(free_port(["127.0.0.1"])),
                 "events-log %s/events.json" % tmp_path,
                 "export plain %s/list.txt every 5m" % tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("# configuration OK")


def test_duplicate_listener(tmp_path):
    port = free_port(["127.0.0.1"])
    r, conf = check(tmp_path, listen_line(port), "listen 127.0.0.1:%d" % port)
    assert r.returncode == 2
    assert "%s:4: listen: '127.0.0.1:%d' is already a listener" % (
        conf, port) in r.stderr
    # and on the command line
    r = subprocess.run([str(BIN), "run", "-n", "--db", str(tmp_path / "x.db"),
                        "--listen", "127.0.0.1:%d" % port, "--listen",
                        "127.0.0.1:%d,mx=10" % port], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "already a listener" in r.stderr


def test_listener_that_cannot_bind(tmp_path):
    # A documentation address is on no interface here.
    r, conf = check(tmp_path, listen_line(free_port(["127.0.0.1"]),
                                          "192.0.2.1"))
    assert r.returncode == 1
    assert "%s: listen 192.0.2.1:" % conf in r.stderr
    assert "cannot bind: Cannot assign requested address" in r.stderr
    assert "# configuration OK" not in r.stdout


def test_listener_in_use_is_a_warning(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        mport = free_port(["127.0.0.1"])
        r, conf = check(tmp_path, listen_line(port),
                        "metrics 127.0.0.1:%d" % port)
        assert r.returncode == 0, r.stderr
        assert "%s: warning: listen 127.0.0.1:%d: Address already in use" \
            % (conf, port) in r.stderr
        assert "warning: metrics 127.0.0.1:%d" % port in r.stderr
        # A free metrics port: no word about it.
        r, _ = check(tmp_path, listen_line(port),
                     "metrics 127.0.0.1:%d" % mport)
        assert "metrics" not in r.stderr


@pytest.mark.parametrize("key", ["events-log", "export", "db"])
def test_missing_directory(tmp_path, key):
    path = tmp_path / "nodir" / "f"
    line = {"events-log": "events-log %s" % path,
            "export": "export plain %s every 5m" % path,
            "db": "db %s" % path}[key]
    r, conf = check(tmp_path, listen_line(free_port(["127.0.0.1"])), line)
    assert r.returncode == 1, r.stderr
    assert "%s: %s %s: directory %s does not exist" % (
        conf, key, path, path.parent) in r.stderr


def test_run_fails_where_check_said(tmp_path):
    """What -n reports for events-log is what run fails on."""
    path = tmp_path / "nodir" / "events.json"
    r, conf = check(tmp_path, listen_line(free_port(["127.0.0.1"])),
                    "events-log %s" % path)
    assert r.returncode == 1
    r = subprocess.run([str(BIN), "run", "-c", conf], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert "nodir" in r.stderr


@pytest.fixture
def open_dir():
    """A directory every user can traverse (pytest's tmp is root's 0700)."""
    d = tempfile.mkdtemp(prefix="decoymx-check-", dir="/tmp")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to change user")
@pytest.mark.parametrize("key", ["events-log", "export", "db"])
def test_not_writable_by_the_user(open_dir, key):
    nobody = pwd.getpwnam("nobody")
    dbdir = open_dir / "db"
    dbdir.mkdir()
    os.chown(dbdir, nobody.pw_uid, nobody.pw_gid)
    out = open_dir / "out"
    out.mkdir(mode=0o755)
    path = out / "f"
    line = {"events-log": "events-log %s" % path,
            "export": "export plain %s every 5m" % path,
            "db": "db %s" % path}[key]
    lines = (listen_line(free_port(["127.0.0.1"])),) + (
        () if key == "db" else ("db %s/x.db" % dbdir,)) + (line,)
    r, conf = check(open_dir, *lines, user="nobody")
    # root could write there; the user that run drops to cannot
    assert r.returncode == 1, r.stderr
    assert "%s: %s %s: %s is not writable by user nobody: Permission " \
        "denied" % (conf, key, path, out) in r.stderr
    os.chown(out, nobody.pw_uid, nobody.pw_gid)
    r, _ = check(open_dir, *lines, user="nobody")
    assert r.returncode == 0, r.stderr
    # an existing file the user cannot write
    path.write_text("")
    os.chown(path, 0, 0)
    os.chmod(path, 0o644)
    r, _ = check(open_dir, *lines, user="nobody")
    assert r.returncode == 1
    assert "%s is not writable by user nobody" % path in r.stderr
