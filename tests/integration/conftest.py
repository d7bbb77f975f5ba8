# SPDX-License-Identifier: ISC
"""
Integration harness for decoymx: runs the real binary against real clients
on loopback addresses only.

* The binary is $DECOYMX_BIN (default ./decoymx), relative to the repo root.
* ``daemon`` is a factory fixture: ``daemon(**options)`` writes a config
  file into a temp dir, starts ``decoymx run -c FILE --user $(id -un)`` on a
  free high port, waits (bounded) until every listener is in LISTEN state,
  and on teardown sends SIGTERM, waits (bounded) and asserts exit status 0
  and no sanitizer report on stderr.
* ``sessions(db, ...)`` polls ``decoymx report sessions --format json``
  until the expected rows show up (bounded), never a bare sleep.
* ``Smtp`` is a tiny raw SMTP client (exact bytes, exact replies).

Only the Python standard library and pytest are used.
"""
import json
import os
import pwd
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from smtpclient import Smtp, SmtpError  # noqa: F401 (tests import them here)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("DECOYMX_BIN", "./decoymx"))
if not BIN.is_absolute():
    BIN = (REPO / BIN).resolve()

USER = pwd.getpwuid(os.geteuid()).pw_name
SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
               "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")
STOP_TIMEOUT = 20.0      # seconds to wait for a clean exit after SIGTERM
START_TIMEOUT = 10.0


def sanitized():
    """True for an ASan build (its allocator keeps freed memory)."""
    with open(BIN, "rb") as f:
        return b"__asan_init" in f.read()


def raise_nofile(want=65536):
    """Raises RLIMIT_NOFILE (soft) towards the hard limit; returns soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it returns a true value or timeout; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(addrs):
    """A TCP port that is free on every address in addrs right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ok = True
        for a in addrs:
            fam = socket.AF_INET6 if ":" in a else socket.AF_INET
            try:
                with socket.socket(fam, socket.SOCK_STREAM) as t:
                    t.bind((a, port))
            except OSError:
                ok = False
                break
        if ok:
            return port
    raise RuntimeError("no free port on %r" % (addrs,))


def listening_ports():
    """Set of (hex-address, port) pairs in LISTEN state (IPv4 and IPv6)."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] != "0A":
                        continue
                    addr, port = parts[1].split(":")
                    out.add((addr, int(port, 16)))
        except FileNotFoundError:
            pass
    return out


def proc_hex_addr(addr):
    """An address in /proc/net/tcp{,6} notation."""
    if ":" in addr:
        raw = socket.inet_pton(socket.AF_INET6, addr)
        return "".join("%08X" % int.from_bytes(raw[i:i + 4], "little")
                       for i in range(0, 16, 4))
    return "%08X" % int.from_bytes(socket.inet_aton(addr), "little")


def run_bin(*args, timeout=30, **kw):
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True,
                          timeout=timeout, **kw)


def report(db, fmt="json", *extra):
    """Runs report sessions; returns the CompletedProcess (bytes)."""
    return run_bin("report", "sessions", "--db", db, "--format", fmt,
                   *extra)


def read_sessions(db):
    """The sessions in db as a list of dicts ([] if db does not exist)."""
    if not os.path.exists(db):
        return []
    r = report(db)
    if r.returncode != 0:
        return []
    return json.loads(r.stdout)


def sessions(db, count=1, timeout=10.0, pred=None, exact=False):
    """
    Polls the report until at least count rows (exactly count with exact)
    are there and pred(rows), if given, holds.  Returns the rows.
    """
    last = []

    def ok():
        nonlocal last
        last = read_sessions(db)
        if len(last) < count:
            return False
        if pred is not None and not pred(last):
            return False
        return True
    try:
        wait_until(ok, timeout, interval=0.05, what="%d session rows" % count)
    except AssertionError:
        raise AssertionError("expected %s%d rows%s, got %d: %s" % (
            "exactly " if exact else ">=", count,
            " matching predicate" if pred else "", len(last),
            json.dumps(last[-5:], indent=1)[:4000]))
    if exact:
        # Give the store a further batch interval to show extra rows.
        time.sleep(0.3)
        last = read_sessions(db)
        assert len(last) == count, "expected exactly %d rows, got %d" % (
            count, len(last))
    return last


def by_src(rows, src_ip):
    return [r for r in rows if r["src_ip"] == src_ip]


class Daemon:
    """One decoymx run, with its config file, database and stderr file."""

    def __init__(self, tmpdir, listen=None, mx=10, real_mx=20,
                 hostname="mx10.decoy.test", extra=None, log_level="info",
                 addrs=("127.0.0.1",), port=None, args=()):
        self.dir = Path(tmpdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = str(self.dir / "decoymx.db")
        self.conf = str(self.dir / "decoymx.conf")
        self.errfile = str(self.dir / "stderr.txt")
        self.hostname = hostname
        self.log_level = log_level
        for line in extra or []:        # a later log-level line wins
            if line.split()[:1] == ["log-level"]:
                self.log_level = line.split()[1]
        self.addrs = list(addrs)
        self.port = port or free_port(self.addrs)
        if listen is None:
            listen = []
            for a in self.addrs:
                host = "[%s]" % a if ":" in a else a
                listen.append("%s:%d%s" % (host, self.port,
                              "" if mx is None else " mx %d" % mx))
        self.lines = ["listen %s" % l.format(port=self.port) for l in listen]
        if real_mx is not None:
            self.lines.append("real-mx 127.0.0.1 mx %d" % real_mx)
        # A key given twice is an error: extra lines replace ours.
        given = {l.split()[0] for l in extra or [] if l.split()}
        self.lines += ["%s %s" % kv for kv in (
            ("hostname", hostname), ("db", self.db),
            ("log-level", log_level)) if kv[0] not in given]
        self.lines += list(extra or [])
        # Most tests connect again and again from 127.0.0.1 and expect
        # the configured deferral each time: the returning-client rule
        # (on by default) is tested on its own, with the key given.
        if not any(l.split()[:1] == ["returning-defer"] for l in self.lines):
            self.lines.append("returning-defer off")
        self.args = list(args)
        self.proc = None
        self.stderr = ""
        self.expect_status = 0
        self.stopped = False

    def write_config(self, lines=None):
        with open(self.conf, "w") as f:
            f.write("# written by tests/integration\n")
            f.write("\n".join(self.lines if lines is None else lines) + "\n")

    def start(self):
        self.write_config()
        self._err = open(self.errfile, "wb")
        self.proc = subprocess.Popen(
            [str(BIN), "run", "-c", self.conf, "--user", USER, *self.args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self._err, cwd=str(self.dir))
        want = {(proc_hex_addr(a), self.port) for a in self.addrs}

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("decoymx exited with %s at start:\n%s"
                                     % (self.proc.returncode,
                                        self.read_stderr()))
            return want <= listening_ports()
        wait_until(ready, START_TIMEOUT, what="decoymx to listen")
        # Listening sockets are bound before the store has opened its
        # database and files; at info level the store says when it has.
        if self.log_level in ("info", "debug"):
            wait_until(lambda: "store started" in self.read_stderr() or
                       self.proc.poll() is not None, START_TIMEOUT,
                       what="the store process to start")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def net_pid(self, timeout=5.0):
        """The pid of the network process (the parent's only child)."""
        path = "/proc/%d/task/%d/children" % (self.pid, self.pid)

        def child():
            try:
                with open(path) as f:
                    kids = f.read().split()
            except FileNotFoundError:
                return None
            return int(kids[0]) if kids else None
        return wait_until(child, timeout, what="network process")

    def read_stderr(self):
        try:
            with open(self.errfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout=STOP_TIMEOUT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            self.stderr = self.read_stderr()
            raise AssertionError("decoymx did not exit within %.0fs:\n%s"
                                 % (timeout, self.stderr[-3000:]))
        self._err.close()
        self.stderr = self.read_stderr()
        self.stopped = True
        return rc

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def sessions(self, count=1, **kw):
        return sessions(self.db, count, **kw)

    def check_sanitizers(self):
        text = self.stderr or self.read_stderr()
        for m in SAN_MARKERS:
            assert m not in text, "sanitizer report on stderr:\n" + text[-6000:]


@pytest.fixture
def daemon(tmp_path):
    """Factory: daemon(**Daemon options) -> started Daemon."""
    started = []
    n = [0]

    def make(**kw):
        n[0] += 1
        d = Daemon(tmp_path / ("d%d" % n[0]), **kw)
        started.append(d)
        return d.start()

    yield make
    problems = []
    for d in started:
        if d.proc is None:
            continue
        if not d.stopped:
            try:
                rc = d.stop()
            except AssertionError as e:
                problems.append(str(e))
                continue
        else:
            rc = d.proc.returncode
        if d.expect_status is not None and rc != d.expect_status:
            problems.append("decoymx exit status %s, expected %s; stderr:\n%s"
                            % (rc, d.expect_status, d.stderr[-4000:]))
        for m in SAN_MARKERS:
            if m in d.stderr:
                problems.append("sanitizer report:\n" + d.stderr[-6000:])
                break
    assert not problems, "\n".join(problems)


def normal_session(d, host="127.0.0.1", src=None, rcpt="someone@example.org"):
    """
    A well-behaved smtplib dialogue; asserts the decoy still answers as
    it should (250 to EHLO and MAIL, 4xx at RCPT, 221 at QUIT).
    """
    import smtplib
    s = smtplib.SMTP(host, d.port, local_hostname="mail.example.org",
                     timeout=10,
                     source_address=(src, 0) if src else None)
    try:
        code, _ = s.ehlo()
        assert code == 250
        code, _ = s.mail("a@example.net")
        assert code == 250
        code, msg = s.rcpt(rcpt)
        assert 400 <= code < 500, (code, msg)
        code, _ = s.docmd("QUIT")
        assert code == 221
    finally:
        s.close()


