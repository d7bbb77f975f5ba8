# SPDX-License-Identifier: ISC
"""
The world of the end-to-end test: one network namespace, created for the
test and deleted at teardown, holding every address and every process.

    192.0.2.10   decoymx, MX 10 (primary decoy)   mx10.victim.test
    192.0.2.20   Postfix, MX 20 (the real MX)     mx20.victim.test
    192.0.2.40   decoymx, MX 40 (backup decoy)    mx40.victim.test
    192.0.2.53   dnsmasq, the namespace's resolver (/etc/netns/NS/resolv.conf)
    192.0.2.54   rbldnsd serving bl.victim.test (dnsmasq forwards to it)
    203.0.113.25 Postfix, the legitimate sending MTA   mta.sender.test
    198.51.100.x bots (Python sockets)

Every address is on the namespace's lo; nothing leaves the namespace.
Processes are started with "ip netns exec NS" (that also bind-mounts
/etc/netns/NS/resolv.conf over /etc/resolv.conf, which is how the two
Postfix instances find the resolver); Python sockets are created inside
the namespace with setns(2) (``World.inside()``).

Every wait is bounded (``wait_until``); every process is tracked and
stopped at ``World.close()``, which also kills whatever is still in the
namespace, deletes it and removes /etc/netns/NS, whatever failed before.
Only the Python standard library is used.
"""
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from smtpclient import Smtp as _Smtp  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("DECOYMX_BIN", "./decoymx"))
if not BIN.is_absolute():
    BIN = (REPO / BIN).resolve()

DOMAIN = "victim.test"
BL_ZONE = "bl.victim.test"
MX10, MX20, MX40 = "192.0.2.10", "192.0.2.20", "192.0.2.40"
RESOLVER, RBLDNS = "192.0.2.53", "192.0.2.54"
MTA = "203.0.113.25"
MTA_NAME = "mta.sender.test"
ADDRS = [MX10, MX20, MX40, RESOLVER, RBLDNS, MTA]

SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
               "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def wait_until(pred, timeout, interval=0.05, what="condition"):
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


def rev4(addr):
    return ".".join(reversed(addr.split(".")))


def hex_addr(addr):
    """An IPv4 address in /proc/net/{tcp,udp} notation."""
    return "%08X" % int.from_bytes(socket.inet_aton(addr), "little")


def proc_sockets(pid, proto):
    """(hex-addr, port, state) of the sockets in pid's network namespace."""
    out = set()
    try:
        with open("/proc/%d/net/%s" % (pid, proto)) as f:
            next(f)
            for line in f:
                p = line.split()
                a, port = p[1].split(":")
                out.add((a, int(port, 16), p[3]))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            # a zombie is as good as gone
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Proc:
    """A foreground process started in the namespace, output to a file."""

    def __init__(self, world, name, argv, **kw):
        self.name = name
        self.log = world.dir / ("%s.log" % name)
        self._f = open(self.log, "wb")
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", world.ns, *map(str, argv)],
            stdin=subprocess.DEVNULL, stdout=self._f, stderr=subprocess.STDOUT,
            **kw)
        self.pid = self.p.pid     # ip netns exec execs the program

    def text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals and waits (bounded, then SIGKILL); returns the status."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        self._f.close()
        return self.p.returncode


class Postfix:
    """A private Postfix instance (postfix -c DIR), chroot=n everywhere."""

    MASTER_CF = """\
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

    def __init__(self, world, name, addr, settings, smtpd_args=""):
        self.world = world
        self.name = name
        self.addr = addr
        self.dir = world.dir / name
        self.conf = self.dir / "etc"
        self.queue = self.dir / "queue"
        self.maillog = self.dir / "maillog"
        for d in (self.conf, self.queue, self.dir / "data"):
            d.mkdir(parents=True)
        os.chown(self.dir / "data", world.postfix_uid, world.postfix_gid)
        main = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue),
            "data_directory": str(self.dir / "data"),
            "syslog_name": "postfix-%s" % name,
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": str(self.dir),
            "inet_interfaces": addr,
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "mydestination": "",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "smtputf8_enable": "no",
            "smtpd_tls_security_level": "none",
            "smtp_tls_security_level": "none",
            "smtp_dns_support_level": "enabled",
            "smtp_host_lookup": "dns",
            "disable_dns_lookups": "no",
            "smtp_address_preference": "ipv4",
        }
        main.update(settings)
        with open(self.conf / "main.cf", "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        (self.conf / "master.cf").write_text(self.MASTER_CF.replace(
            "smtpd\n", "smtpd %s\n" % smtpd_args, 1))
        self.started = False

    def cmd(self, *args, timeout=30):
        return subprocess.run(["ip", "netns", "exec", self.world.ns,
                               *map(str, args)], capture_output=True,
                              timeout=timeout)

    def master_pid(self):
        try:
            return int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def start(self):
        self.started = True
        r = self.cmd("postfix", "-c", self.conf, "start")
        assert r.returncode == 0, "postfix %s start: %s %s" % (
            self.name, r.stdout.decode(errors="replace"),
            r.stderr.decode(errors="replace"))

        def listening():
            pid = self.master_pid()
            return pid and (hex_addr(self.addr), 25, "0A") in \
                proc_sockets(pid, "tcp")
        wait_until(listening, 15, what="postfix %s on %s:25" % (self.name,
                                                                self.addr))
        return self

    def stop(self):
        """postfix stop; bounded; then abort and kill.  Returns problems."""
        if not self.started:
            return []
        problems = []
        pid = self.master_pid()
        r = self.cmd("postfix", "-c", self.conf, "stop")
        if r.returncode != 0:
            problems.append("postfix %s stop: %s" % (
                self.name, r.stderr.decode(errors="replace")))
        if pid:
            try:
                wait_until(lambda: not pid_alive(pid), 10,
                           what="postfix %s master to exit" % self.name)
            except AssertionError as e:
                problems.append(str(e))
                self.cmd("postfix", "-c", self.conf, "abort")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.started = False
        return problems

    def log(self):
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def queue_files(self):
        """Messages still in the queue (any queue but the maildrop)."""
        out = []
        for q in ("incoming", "active", "deferred", "hold", "maildrop"):
            d = self.queue / q
            if d.is_dir():
                out += [p for p in d.rglob("*") if p.is_file()]
        return out


class World:
    def __init__(self):
        self.ns = "decoymx-e2e-%d" % os.getpid()
        self.dir = Path(tempfile.mkdtemp(prefix="%s-" % self.ns))
        os.chmod(self.dir, 0o755)
        import pwd
        pw = pwd.getpwnam("postfix")
        self.postfix_uid, self.postfix_gid = pw.pw_uid, pw.pw_gid
        self.procs = []
        self.postfixes = []
        self.netns_dir = Path("/etc/netns") / self.ns
        self.made_etc_netns = False
        self.ns_made = False

    # -- namespace ---------------------------------------------------------

    @staticmethod
    def reap_stale():
        """
        Removes what a killed run of this test left behind: namespaces
        named decoymx-e2e-PID whose PID is gone, every process still in
        them, their /etc/netns entries and their temporary directories.  Returns what it removed.
        """
        r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                           timeout=10)
        gone = []
        for line in r.stdout.decode().splitlines():
            m = re.match(r"(decoymx-e2e-(\d+))\b", line)
            if not m or pid_alive(int(m.group(2))):
                continue
            ns = m.group(1)
            r = subprocess.run(["ip", "netns", "pids", ns],
                               capture_output=True, timeout=10)
            for pid in r.stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                           timeout=10)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
            gone.append(ns)
        for d in Path(tempfile.gettempdir()).glob("decoymx-e2e-*-*"):
            m = re.match(r"decoymx-e2e-(\d+)-", d.name)
            if m and d.is_dir() and not pid_alive(int(m.group(1))):
                shutil.rmtree(d, ignore_errors=True)
                gone.append(str(d))
        return gone

    def sh(self, *argv, check=True, timeout=30):
        r = subprocess.run(list(map(str, argv)), capture_output=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (
                " ".join(map(str, argv)), r.returncode,
                (r.stdout + r.stderr).decode(errors="replace")))
        return r

    def nsexec(self, *argv, **kw):
        return self.sh("ip", "netns", "exec", self.ns, *argv, **kw)

    def create(self, extra_addrs=()):
        self.sh("ip", "netns", "add", self.ns)
        self.ns_made = True
        if not Path("/etc/netns").exists():
            Path("/etc/netns").mkdir()
            self.made_etc_netns = True
        self.netns_dir.mkdir()
        (self.netns_dir / "resolv.conf").write_text(
            "nameserver %s\noptions timeout:2 attempts:2\n" % RESOLVER)
        self.nsexec("ip", "link", "set", "lo", "up")
        for a in list(ADDRS) + list(extra_addrs):
            self.nsexec("ip", "addr", "add", "%s/32" % a, "dev", "lo")

    @contextlib.contextmanager
    def inside(self):
        """Runs the block with this thread in the namespace (for sockets)."""
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/%s" % self.ns, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, "setns: " + os.strerror(e))
            try:
                yield
            finally:
                if _libc.setns(orig, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, "setns back: " + os.strerror(e))
        finally:
            os.close(fd)
            os.close(orig)

    def start(self, name, argv, **kw):
        p = Proc(self, name, argv, **kw)
        self.procs.append(p)
        return p

    def postfix(self, name, addr, settings, smtpd_args=""):
        pf = Postfix(self, name, addr, settings, smtpd_args)
        self.postfixes.append(pf)
        return pf

    def close(self):
        """Stops everything, deletes the namespace; returns problems."""
        problems = []
        for pf in reversed(self.postfixes):
            try:
                problems += pf.stop()
            except Exception as e:          # keep tearing down
                problems.append("postfix %s: %r" % (pf.name, e))
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:
                problems.append("%s: %r" % (p.name, e))
        if self.ns_made:
            # Whatever is still in the namespace is ours: report and kill.
            r = self.sh("ip", "netns", "pids", self.ns, check=False)
            left = [int(x) for x in r.stdout.split()]
            for pid in left:
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        what = f.read().replace(b"\0", b" ").decode(
                            errors="replace")
                except OSError:
                    what = "?"
                problems.append("left running in the namespace: %d %s"
                                % (pid, what))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for pid in left:
                with contextlib.suppress(AssertionError):
                    wait_until(lambda: not pid_alive(pid), 5)
            r = self.sh("ip", "netns", "del", self.ns, check=False)
            if r.returncode != 0:
                problems.append("ip netns del: %s" % r.stderr.decode())
        shutil.rmtree(self.netns_dir, ignore_errors=True)
        if self.made_etc_netns:
            with contextlib.suppress(OSError):
                Path("/etc/netns").rmdir()
        if os.environ.get("E2E_KEEP"):
            problems_dir = self.dir
            print("e2e: kept %s" % problems_dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


class Smtp(_Smtp):
    """The tests' raw SMTP client, its socket made inside the namespace."""

    def __init__(self, world, host, src, port=25, timeout=10.0, greet=True):
        with world.inside():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        super().__init__(host, port, src=src, timeout=timeout, greet=greet,
                         sock=sock)


def run_bin(*args, timeout=30):
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True,
                          timeout=timeout)


def read_json(*args):
    r = run_bin(*args)
    assert r.returncode == 0, "decoymx %s: exit %d: %s" % (
        " ".join(map(str, args)), r.returncode,
        r.stderr.decode(errors="replace"))
    return json.loads(r.stdout)


def dig(world, name, qtype="A"):
    """(status, [answers]) for name from the namespace's resolver."""
    r = world.nsexec("dig", "@" + RESOLVER, "+tries=1", "+time=3",
                     "+noall", "+comments", "+answer", name, qtype,
                     check=False, timeout=15)
    text = r.stdout.decode(errors="replace")
    m = re.search(r"status: ([A-Z]+)", text)
    status = m.group(1) if m else "NO-REPLY"
    answers = []
    for line in text.splitlines():
        if line and not line.startswith(";"):
            parts = line.split(None, 4)
            if len(parts) == 5 and parts[3] == qtype:
                answers.append(parts[4].strip('"'))
    return status, answers
