# SPDX-License-Identifier: ISC
"""
The compatibility lab (issue 11): a nolisting domain in two network
namespaces, and a real sending MTA of each kind Debian ships that is asked
to deliver N messages to it.

Server namespace decoymx-c11-PID-s (everything on lo, reached over a veth):

    192.0.2.10   2001:db8::10   decoymx, MX 10 (primary decoy)
    192.0.2.20   2001:db8::20   Postfix, MX 20 (the real MX; the IPv6
                                address only when the layout gives it one)
    192.0.2.40   2001:db8::40   decoymx, MX 40 (backup decoy)
    192.0.2.53   2001:db8::53   dnsmasq, the resolver of both namespaces
    203.0.113.1  2001:db8:25::1 veth "vs", the sender's gateway; the
                                sensor captures here

Sender namespace decoymx-c11-PID-m: veth "vm" with 203.0.113.25/24 and/or
2001:db8:25::25/64 (the layout says which), default routes to the server
namespace.  The MTA runs in a *sandbox* inside it: a process holding a
private mount and UTS namespace (hostname mta.sender.test) in which /etc,
/usr and /var are overlays (lower: the MTA's unpacked Debian packages over
the machine's own directories; upper: a directory of this run) and /run is
a tmpfs.  So the MTA finds its binaries, users (private /etc/passwd and
/etc/group), configuration and spool at the paths it was built for, and
nothing on the machine changes.  Every MTA command runs in the sandbox
with nsenter.

The MTAs that conflict with Postfix as packages are not installed: their
.debs are in CACHE/debs (``scripts/install-deps compat`` downloads them)
and are unpacked with dpkg -x into CACHE/root-MTA once.

Every wait is bounded; ``Lab.close()`` stops every process, kills whatever
is left in both namespaces, deletes them and the temporary directory.
"""
import contextlib
import ctypes
import ipaddress
import socket
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from e2e_world import (BIN, Postfix, Proc, hex_addr, pid_alive,
                       proc_sockets, read_json, run_bin, wait_until)

CACHE = Path(os.environ.get("DECOYMX_COMPAT_CACHE",
                            "/var/cache/decoymx-compat"))
DOMAIN = "victim.test"
SENDER_NAME = "mta.sender.test"
FROM = "alice@sender.test"
N = 5

V4 = {"mx10": "192.0.2.10", "mx20": "192.0.2.20", "mx40": "192.0.2.40",
      "dns": "192.0.2.53", "gw": "203.0.113.1", "mta": "203.0.113.25"}
V6 = {"mx10": "2001:db8::10", "mx20": "2001:db8::20",
      "mx40": "2001:db8::40", "dns": "2001:db8::53",
      "gw": "2001:db8:25::1", "mta": "2001:db8:25::25"}
FAM = {4: V4, 6: V6}
# Another client that reaches the real MX during every row, as real
# traffic would: the sensor applies nolisting-only only once it has seen
# SYNs to the real MX (each row has a fresh database).
WITNESS = {4: "203.0.113.99", 6: "2001:db8:25::99"}

# layout -> (the sender's families, the real MX's families); the decoys
# always have both.
LAYOUTS = {
    "ipv4": ((4,), (4, 6)),
    "ipv6": ((6,), (4, 6)),
    "dual": ((4, 6), (4, 6)),
    "dual-real4": ((4, 6), (4,)),
}

# The Debian packages each MTA needs beyond what the test machine has.
PACKAGES = {
    "postfix": [],
    "opensmtpd": ["opensmtpd", "libevent-2.1-7", "libdb5.3"],
    "exim": ["exim4-base", "exim4-daemon-light", "exim4-config", "libidn12",
             "libnsl2", "libdb5.3"],
    "sendmail": ["sendmail-bin", "sendmail-base", "sendmail-cf", "m4",
                 "libwrap0", "libldap-2.5-0", "liblockfile1", "libsasl2-2",
                 "libnsl2", "libdb5.3"],
    "dma": ["dma"],
    "courier": ["courier-mta", "courier-base", "courier-authlib",
                "libcourier-unicode4", "libidn12", "libgamin0", "libpcre3"],
}
MTAS = list(PACKAGES)


def deb_of(pkg):
    """The cached .deb of pkg, or None."""
    found = sorted((CACHE / "debs").glob("%s_*.deb" % pkg))
    return found[-1] if found else None


def missing_debs(mta):
    return [p for p in PACKAGES[mta] if deb_of(p) is None]


def mta_root(mta):
    """The unpacked packages of mta (unpacked once, kept), or None."""
    if not PACKAGES[mta]:
        return None
    debs = [deb_of(p) for p in PACKAGES[mta]]
    if None in debs:
        raise RuntimeError("%s: missing .debs of %s in %s (run "
                           "scripts/install-deps compat)" % (
                               mta, ", ".join(missing_debs(mta)),
                               CACHE / "debs"))
    root = CACHE / ("root-" + mta)
    stamp = "\n".join(d.name for d in debs) + "\n"
    st = root / ".decoymx-stamp"
    if st.exists() and st.read_text() == stamp:
        return root
    tmp = CACHE / (".root-%s-%d" % (mta, os.getpid()))
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for d in debs:
        subprocess.run(["dpkg", "-x", str(d), str(tmp)], check=True,
                       timeout=120)
    (tmp / ".decoymx-stamp").write_text(stamp)
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


def version_of(mta):
    if mta == "postfix":
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "postfix"],
                           capture_output=True, timeout=10)
        return r.stdout.decode().strip()
    d = deb_of(PACKAGES[mta][0])
    return d.name.split("_")[1] if d else "?"


# ------------------------------------------------------------------ lab --

class Lab:
    """Two namespaces, the resolver and the real MX of one layout."""

    def __init__(self, layout):
        self.layout = layout
        self.sender_fams, self.real_fams = LAYOUTS[layout]
        pid = os.getpid()
        self.srv = "decoymx-c11-%d-s" % pid
        self.snd = "decoymx-c11-%d-m" % pid
        self.ns = self.srv                    # for e2e_world.Postfix
        self.dir = Path(tempfile.mkdtemp(prefix="decoymx-c11-%d-" % pid))
        os.chmod(self.dir, 0o755)
        import pwd
        pw = pwd.getpwnam("postfix")
        self.postfix_uid, self.postfix_gid = pw.pw_uid, pw.pw_gid
        self.procs = []
        self.made = []
        self.real = None
        self.seq = 0

    @staticmethod
    def reap_stale():
        """Removes namespaces, processes and directories of killed runs."""
        r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                           timeout=10)
        for line in r.stdout.decode().splitlines():
            m = re.match(r"(decoymx-c11-(\d+)-[sm])\b", line)
            if not m or pid_alive(int(m.group(2))):
                continue
            _kill_ns(m.group(1))
            subprocess.run(["ip", "netns", "del", m.group(1)],
                           capture_output=True, timeout=10)
            shutil.rmtree(Path("/etc/netns") / m.group(1),
                          ignore_errors=True)
        for d in Path(tempfile.gettempdir()).glob("decoymx-c11-*-*"):
            m = re.match(r"decoymx-c11-(\d+)-", d.name)
            if m and d.is_dir() and not pid_alive(int(m.group(1))):
                shutil.rmtree(d, ignore_errors=True)

    def sh(self, *argv, check=True, timeout=30, ns=None):
        argv = list(map(str, argv))
        if ns:
            argv = ["ip", "netns", "exec", ns] + argv
        r = subprocess.run(argv, capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (
                " ".join(argv), r.returncode,
                (r.stdout + r.stderr).decode(errors="replace")))
        return r

    def create(self):
        for ns in (self.srv, self.snd):
            self.sh("ip", "netns", "add", ns)
            self.made.append(ns)
            d = Path("/etc/netns") / ns
            d.mkdir(parents=True)
        dns = FAM[4 if 4 in self.sender_fams else 6]["dns"]
        for ns in (self.srv, self.snd):
            (Path("/etc/netns") / ns / "resolv.conf").write_text(
                "nameserver %s\noptions timeout:2 attempts:2\n"
                % (dns if ns == self.snd else V4["dns"]))
        s, m = self.srv, self.snd
        self.sh("ip", "link", "set", "lo", "up", ns=s)
        self.sh("ip", "link", "set", "lo", "up", ns=m)
        self.sh("ip", "link", "add", "vs", "type", "veth", "peer", "name",
                "vm", "netns", m, ns=s)
        for f, a in FAM.items():
            self.sh("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=0",
                    ns=s, check=False)
            for k in ("mx10", "mx40", "dns"):
                self.addr(s, f, a[k], "lo")
            if f in self.real_fams:
                self.addr(s, f, a["mx20"], "lo")
            self.sh("ip", "addr", "add", a["gw"] + ("/24" if f == 4 else
                                                    "/64"),
                    "dev", "vs", *(("nodad",) if f == 6 else ()), ns=s)
            if f in self.sender_fams:
                self.sh("ip", "addr", "add", a["mta"] + ("/24" if f == 4
                                                         else "/64"),
                        "dev", "vm", *(("nodad",) if f == 6 else ()), ns=m)
                # secondary (IPv4) or deprecated (IPv6): never the MTA's
                # source address
                self.sh("ip", "addr", "add", WITNESS[f] + ("/24" if f == 4
                                                           else "/64"),
                        "dev", "vm", *(("nodad", "preferred_lft", "0")
                                       if f == 6 else ()), ns=m)
        self.sh("ip", "link", "set", "vs", "up", ns=s)
        self.sh("ip", "link", "set", "vm", "up", ns=m)
        for f in self.sender_fams:
            self.sh("ip", "-%d" % f, "route", "add", "default", "via",
                    FAM[f]["gw"], ns=m)
        self.start_dnsmasq()
        self.start_real_mx()
        return self

    @contextlib.contextmanager
    def inside(self, ns):
        """Runs the block with this thread in network namespace ns."""
        libc = ctypes.CDLL(None, use_errno=True)
        orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/%s" % ns, os.O_RDONLY)
        try:
            if libc.setns(fd, 0x40000000) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            try:
                yield
            finally:
                if libc.setns(orig, 0x40000000) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(fd)
            os.close(orig)

    def witness(self):
        """A short SMTP session to the real MX from WITNESS (each family
        the sender and the real MX share)."""
        for f in self.sender_fams:
            if f not in self.real_fams:
                continue
            with self.inside(self.snd):
                s = socket.socket(socket.AF_INET if f == 4 else
                                  socket.AF_INET6, socket.SOCK_STREAM)
            try:
                s.settimeout(10)
                s.bind((WITNESS[f], 0))
                s.connect((FAM[f]["mx20"], 25))
                s.recv(512)
                s.sendall(b"QUIT\r\n")
                s.recv(512)
            finally:
                s.close()

    def addr(self, ns, fam, a, dev):
        self.sh("ip", "addr", "add", "%s/%d" % (a, 32 if fam == 4 else 128),
                "dev", dev, *(("nodad",) if fam == 6 else ()), ns=ns)

    def start(self, name, argv, ns=None):
        class _W:
            pass
        w = _W()
        w.ns, w.dir = ns or self.srv, self.dir
        p = Proc(w, name, argv)
        self.procs.append(p)
        return p

    def start_dnsmasq(self):
        argv = ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
                "--conf-file=/dev/null", "--bind-interfaces",
                "--listen-address=" + V4["dns"],
                "--listen-address=" + V6["dns"], "--port=53",
                "--pid-file=%s" % (self.dir / "dnsmasq.pid"),
                "--cache-size=0", "--no-negcache", "--log-queries",
                "--log-facility=-", "--local=/%s/" % DOMAIN,
                "--local=/sender.test/", "--local=/in-addr.arpa/",
                "--local=/ip6.arpa/",
                "--host-record=%s,%s" % (SENDER_NAME, ",".join(
                    FAM[f]["mta"] for f in self.sender_fams))]
        for h in ("mx10", "mx20", "mx40"):
            fams = self.real_fams if h == "mx20" else (4, 6)
            argv.append("--host-record=%s.%s,%s" % (h, DOMAIN, ",".join(
                FAM[f][h] for f in fams)))
        for pref in (10, 20, 40):
            argv.append("--mx-host=%s,mx%d.%s,%d" % (DOMAIN, pref, DOMAIN,
                                                     pref))
        p = self.start("dnsmasq", argv)
        wait_until(lambda: (hex_addr(V4["dns"]), 53, "07") in
                   proc_sockets(p.pid, "udp") or not p.running(), 10,
                   what="dnsmasq")
        assert p.running(), "dnsmasq exited:\n" + p.text()

    def start_real_mx(self):
        mail = self.dir / "real" / "mail"
        ifs = [V4["mx20"]] + (["[%s]" % V6["mx20"]] if 6 in self.real_fams
                              else [])
        pf = Postfix(self, "real", V4["mx20"], {
            "myhostname": "mx20." + DOMAIN,
            "inet_interfaces": ", ".join(ifs),
            "inet_protocols": "all",
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": str(mail),
            "virtual_mailbox_maps": "static:inbox/",
            "virtual_uid_maps": "static:65534",
            "virtual_gid_maps": "static:65534",
            "smtpd_peername_lookup": "no",
        })
        mail.mkdir()
        os.chown(mail, 65534, 65534)
        pf.inbox = mail / "inbox"
        self.real = pf
        pf.start()

    def delivered(self, tag):
        """{subject: (client address, mtime)} of messages tagged tag."""
        out = {}
        for sub in ("new", "cur"):
            d = self.real.inbox / sub
            if not d.is_dir():
                continue
            for f in d.iterdir():
                try:
                    b = f.read_bytes()
                except FileNotFoundError:
                    continue
                m = re.search(rb"^Subject: (compat %s .*?)\r?$" %
                              re.escape(tag.encode()), b, re.M)
                if m:
                    c = re.search(rb"^Received: from .*?\(.*?\[(?:IPv6:)?"
                                  rb"([0-9a-fA-F.:]+)\]\)", b, re.M | re.S)
                    out[m.group(1).decode()] = (
                        c.group(1).decode() if c else "?",
                        f.stat().st_mtime)
        return out

    def close(self):
        """Stops everything, deletes both namespaces; returns problems."""
        problems = []
        if self.real:
            with contextlib.suppress(Exception):
                problems += self.real.stop()
        for p in reversed(self.procs):
            try:
                p.stop(timeout=5)
            except Exception as e:
                problems.append("%s: %r" % (p.name, e))
        for ns in reversed(self.made):
            _kill_ns(ns)
            r = self.sh("ip", "netns", "del", ns, check=False)
            if r.returncode != 0:
                problems.append("ip netns del %s: %s" % (ns, r.stderr))
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        self.made = []
        if os.environ.get("E2E_KEEP"):
            print("compat: kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems


def _kill_ns(ns):
    """SIGKILLs every process in ns and waits (bounded) for them."""
    r = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                       timeout=10)
    pids = [int(x) for x in r.stdout.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not pid_alive(pid), 5)
    return pids


# ---------------------------------------------------------------- decoy --

class Decoy:
    """decoymx at MX 10 and MX 40 on both families, a fresh db each run."""

    def __init__(self, lab, name, policy=()):
        self.lab = lab
        d = lab.dir / name
        (d / "db").mkdir(parents=True)
        (d / "empty").mkdir()
        os.chmod(d, 0o755)
        os.chown(d / "db", 65534, 65534)
        self.db = d / "db" / "decoymx.db"
        self.conf = d / "decoymx.conf"
        lines = ["listen %s:25 mx 10" % V4["mx10"],
                 "listen [%s]:25 mx 10" % V6["mx10"],
                 "listen %s:25 mx 40" % V4["mx40"],
                 "listen [%s]:25 mx 40" % V6["mx40"]]
        for f in lab.real_fams:
            lines.append("real-mx %s mx 20" % FAM[f]["mx20"])
        lines += ["hostname mx10.%s" % DOMAIN, "db %s" % self.db,
                  "user nobody", "chroot %s" % (d / "empty"),
                  "sensor on", "sensor interface vs", "log-level info"]
        lines += list(policy)
        self.conf.write_text("\n".join(lines) + "\n")
        self.p = lab.start(name, [BIN, "run", "-c", self.conf])
        want = {(hex_addr(V4["mx10"]), 25, "0A"),
                (hex_addr(V4["mx40"]), 25, "0A")}
        wait_until(lambda: want <= proc_sockets(self.p.pid, "tcp") or
                   not self.p.running(), 10, what="decoymx to listen")
        assert self.p.running(), "decoymx exited:\n" + self.p.text()
        wait_until(self.db.exists, 10, what="decoymx database")
        wait_until(lambda: "sensor capturing" in self.p.text(), 10,
                   what="decoymx sensor")

    def stop(self):
        rc = self.p.stop(signal.SIGTERM, timeout=20)
        return [] if rc == 0 else ["decoymx exit %s:\n%s" % (
            rc, self.p.text()[-3000:])]

    def sessions(self):
        return read_json("report", "sessions", "--db", self.db,
                         "--format", "json")

    def listed(self, addrs, window):
        """[(address, entry)] of addrs inside an exported entry."""
        r = run_bin("export", "plain", "--db", self.db, "--window",
                    "%ds" % window)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        out = []
        for line in r.stdout.decode().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                net = ipaddress.ip_network(line, strict=False)
            except ValueError:
                continue
            for a in addrs:
                if ipaddress.ip_address(a) in net:
                    out.append((a, line))
        return out

    def verdict(self, addr, window):
        try:
            return read_json("report", "ip", addr, "--db", self.db,
                             "--window", "%ds" % window, "--format", "json")
        except (AssertionError, json.JSONDecodeError) as e:
            return {"error": str(e)}


# -------------------------------------------------------------- sandbox --

EXTRA_USERS = [
    # name, uid, gid, home
    ("opensmtpd", 2501, 2501, "/var/empty"),
    ("opensmtpq", 2502, 2502, "/var/empty"),
    ("Debian-exim", 2503, 2503, "/var/spool/exim4"),
    ("smmsp", 2504, 2504, "/var/lib/sendmail"),
    ("smmta", 2505, 2505, "/var/lib/sendmail"),
    ("courier", 2506, 2506, "/var/lib/courier"),
]


SYSLOG_CATCHER = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n"
    "s.bind(\"/dev/log\")\n"
    # writable by every user: an MTA's unprivileged processes log too
    # (Courier's courieresmtp delivery lines)
    "import os; os.chmod(\"/dev/log\", 0o666)\n"
    "f=open(sys.argv[1],\"ab\",0)\n"
    "while True: f.write(s.recv(8192).rstrip(b\"\\0\\n\")+b\"\\n\")\n")


class Sandbox:
    """The MTA's private mount+UTS namespace inside the sender namespace."""

    def __init__(self, lab, name, root):
        self.lab = lab
        self.name = name
        self.dir = lab.dir / name
        layers = {}
        # Not /var as a whole: the unpacked roots live under /var/cache
        # and overlayfs refuses overlapping layers.
        for top in ("etc", "usr", "var/spool", "var/lib", "var/log"):
            up, wk = self.dir / "up" / top, self.dir / "wk" / top
            up.mkdir(parents=True)
            wk.mkdir(parents=True)
            lower = [str(root / top)] if root and (root / top).is_dir() \
                else []
            layers[top] = (":".join(lower + ["/" + top]), up, wk)
        etc = self.dir / "up" / "etc"
        self.etc = etc
        pw = Path("/etc/passwd").read_text()
        gr = Path("/etc/group").read_text()
        for n, uid, gid, home in EXTRA_USERS:
            if not re.search(r"^%s:" % re.escape(n), pw, re.M):
                pw += "%s:x:%d:%d::%s:/usr/sbin/nologin\n" % (n, uid, gid,
                                                               home)
            if not re.search(r"^%s:" % re.escape(n), gr, re.M):
                gr += "%s:x:%d:\n" % (n, gid)
        (etc / "passwd").write_text(pw)
        (etc / "group").write_text(gr)
        (etc / "mailname").write_text(SENDER_NAME + "\n")
        (etc / "hostname").write_text(SENDER_NAME + "\n")
        (etc / "resolv.conf").write_text(
            (Path("/etc/netns") / lab.snd / "resolv.conf").read_text())
        (etc / "hosts").write_text(
            "127.0.0.1 localhost\n::1 localhost\n" + "".join(
                "%s %s mta\n" % (FAM[f]["mta"], SENDER_NAME)
                for f in lab.sender_fams))
        (etc / "aliases").write_text("postmaster: root\n")
        script = ["set -e", "hostname %s" % SENDER_NAME]
        for top, (lower, up, wk) in layers.items():
            script.append("mount -t overlay overlay -o lowerdir=%s,"
                          "upperdir=%s,workdir=%s /%s" % (lower, up, wk, top))
        # A private /dev with the usual nodes and a /dev/log of our own
        # (syslog of the MTAs that only log there, into syslog.log).
        script += ["mount -t tmpfs tmpfs /run", "mkdir -p /run/lock",
                   "mkdir /run/odev", "mount --bind /dev /run/odev",
                   "mount -t tmpfs -o mode=0755 tmpfs /dev",
                   "for n in null zero random urandom full tty; do "
                   "touch /dev/$n; mount --bind /run/odev/$n /dev/$n; done",
                   "ln -s /proc/self/fd /dev/fd",
                   "ln -s /proc/self/fd/0 /dev/stdin",
                   "ln -s /proc/self/fd/1 /dev/stdout",
                   "ln -s /proc/self/fd/2 /dev/stderr",
                   "mkdir /dev/shm /dev/pts",
                   "mount --bind /run/odev/pts /dev/pts",
                   "/usr/bin/python3 -c '%s' %s &" % (SYSLOG_CATCHER,
                                                      self.dir / "syslog.log"),
                   "echo sandbox-ready", "exec sleep 86400"]
        self.p = lab.start(name, ["unshare", "-m", "-u", "--propagation",
                                  "private", "sh", "-c", "\n".join(script)],
                           ns=lab.snd)
        wait_until(lambda: "sandbox-ready" in self.p.text() or
                   not self.p.running(), 10, what="sandbox %s" % name)
        assert self.p.running(), "sandbox failed:\n" + self.p.text()
        self.pid = self.p.pid

    def argv(self, *args):
        return ["nsenter", "-t", str(self.pid), "-m", "-u", "-n", "--",
                *map(str, args)]

    def run(self, *args, input=None, timeout=30, check=True):
        r = subprocess.run(self.argv(*args), input=input,
                           capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (
                " ".join(map(str, args)), r.returncode,
                (r.stdout + r.stderr).decode(errors="replace")))
        return r

    def spawn(self, name, *args):
        """A tracked background process in the sandbox (log in lab dir)."""
        log = self.lab.dir / ("%s-%s.log" % (self.name, name))
        f = open(log, "ab")
        p = subprocess.Popen(self.argv(*args), stdin=subprocess.DEVNULL,
                             stdout=f, stderr=subprocess.STDOUT)
        f.close()
        self.lab.procs.append(_Popen(name, p, log))
        return p

    def syslog(self):
        p = self.dir / "syslog.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def path(self, p):
        """Where the sandbox's /etc, /var or /usr path p lives here."""
        p = str(p)
        for top in ("var/spool", "var/lib", "var/log", "etc", "usr"):
            if p.startswith("/" + top + "/"):
                return self.dir / "up" / top / p[len(top) + 2:]
        raise ValueError(p)


class _Popen:
    def __init__(self, name, p, log):
        self.name, self.p, self.log = name, p, log

    def stop(self, timeout=5):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        return self.p.returncode

    def text(self):
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


# ----------------------------------------------------------------- MTAs --

def message(tag, i, rcpt):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: compat %s %d\r\n"
            "Message-ID: <compat-%s-%d@%s>\r\n\r\nmessage %d of the "
            "compatibility matrix (%s)\r\n" % (
                FROM, rcpt, tag, i, tag, i, SENDER_NAME, i, tag)).encode()


class Mta:
    """One sending MTA in its sandbox, with its default retry behaviour."""

    name = None
    queue_run = None          # the command that forces a queue run
    holds_connections = False  # keeps idle SMTP connections open
    quiet = None              # seconds without progress that end a phase

    def __init__(self, lab, seq):
        self.lab = lab
        self.sb = Sandbox(lab, "%s-%d" % (self.name, seq),
                          mta_root(self.name))
        self.configure()
        self.start()

    def submit(self, tag, i, rcpt):
        """Submits message i; output to a file, not a pipe: a delivery
        child the command leaves behind keeps its stdout open."""
        log = self.lab.dir / ("%s-submit.log" % self.sb.name)
        with open(log, "ab") as f:
            r = subprocess.run(self.sb.argv(*self.submit_argv(rcpt)),
                               input=message(tag, i, rcpt), stdout=f,
                               stderr=subprocess.STDOUT, timeout=30)
        assert r.returncode == 0, "%s submit: exit %d: %s" % (
            self.name, r.returncode, log.read_text(errors="replace"))

    def settle(self):
        """Waits, before a forced queue run, for what the MTA's real
        retry would find changed by the time it comes (nothing, for most
        MTAs)."""

    def flush(self):
        """Forces a queue run (in the background, bounded by close)."""
        return self.sb.spawn("flush", *self.queue_run)

    def log(self):
        return self.sb.syslog()

    def configure(self):
        pass


class OpenSmtpd(Mta):
    name = "opensmtpd"
    queue_run = ("smtpctl", "schedule", "all")
    # Two connections of a relay are at least 2 s apart (its limits'
    # conndelay_relay, counted in whole seconds): a walk over two
    # addresses of MX 10 to MX 20 has gaps of up to 3 s.
    quiet = 6.0

    def configure(self):
        # what the package's postinst does with dpkg-statoverride
        self.sb.run("sh", "-c", "chgrp opensmtpq /usr/sbin/smtpctl && "
                    "chmod 2555 /usr/sbin/smtpctl")
        (self.sb.etc / "smtpd.conf").write_text(
            "listen on lo\n"
            "action \"relay\" relay\n"
            "match from local for any action \"relay\"\n")

    def start(self):
        self.p = self.sb.spawn("smtpd", "smtpd", "-d", "-f",
                               "/etc/smtpd.conf")
        wait_until(lambda: self.sb.run("smtpctl", "show", "status",
                                       check=False).returncode == 0 or
                   self.p.poll() is not None, 15, what="smtpd")
        assert self.p.poll() is None, self.log()

    def submit_argv(self, rcpt):
        return ("sendmail", "-f", FROM, rcpt)

    def queued(self):
        r = self.sb.run("smtpctl", "show", "queue", check=False)
        return len(r.stdout.splitlines())

    def log(self):
        return (self.lab.dir / ("%s-smtpd.log" % self.sb.name)).read_text(
            errors="replace")


class PostfixMta(Mta):
    name = "postfix"

    def configure(self):
        self.conf = self.sb.dir / "pf-etc"
        self.queue = self.sb.dir / "pf-queue"
        data = self.sb.dir / "pf-data"
        for d in (self.conf, self.queue, data):
            d.mkdir()
        os.chown(data, self.lab.postfix_uid, self.lab.postfix_gid)
        fams = self.lab.sender_fams
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": data,
            "syslog_name": "postfix-sender",
            "maillog_file": self.sb.dir / "maillog",
            "maillog_file_prefixes": self.sb.dir,
            "myhostname": SENDER_NAME,
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "all" if len(fams) == 2 else
                              "ipv%d" % fams[0],
            "alias_maps": "", "alias_database": "", "biff": "no",
        }
        (self.conf / "main.cf").write_text("".join(
            "%s = %s\n" % kv for kv in main.items()))
        (self.conf / "master.cf").write_text(Postfix.MASTER_CF)
        self.queue_run = ("postqueue", "-c", self.conf, "-f")

    def start(self):
        self.sb.run("postfix", "-c", self.conf, "start")
        wait_until(lambda: (self.queue / "pid" / "master.pid").exists(), 15,
                   what="postfix sender")

    def submit_argv(self, rcpt):
        return ("sendmail", "-C", self.conf, "-f", FROM, rcpt)

    def queued(self):
        r = self.sb.run("postqueue", "-c", self.conf, "-j", check=False)
        return len(r.stdout.splitlines())

    def log(self):
        p = self.sb.dir / "maillog"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self):
        self.sb.run("postfix", "-c", self.conf, "stop", check=False)


class Exim(Mta):
    """Debian's own generated configuration (update-exim4.conf), type
    internet, queue runner every 30 minutes as /etc/init.d/exim4 does."""

    name = "exim"
    queue_run = ("exim4", "-qff")

    def configure(self):
        (self.sb.etc / "exim4").mkdir(exist_ok=True)
        (self.sb.etc / "exim4" / "update-exim4.conf.conf").write_text(
            "dc_eximconfig_configtype='internet'\n"
            "dc_other_hostnames=''\n"
            "dc_local_interfaces='127.0.0.1 ; ::1'\n"
            "dc_readhost=''\ndc_relay_domains=''\ndc_minimaldns='false'\n"
            "dc_relay_nets=''\ndc_smarthost=''\nCFILEMODE='644'\n"
            "dc_use_split_config='false'\ndc_hide_mailname=''\n"
            "dc_mailname_in_oh='true'\ndc_localdelivery='mail_spool'\n")
        self.sb.run("sh", "-c",
                    "mkdir -p /var/lib/exim4 /var/log/exim4 /var/spool/exim4"
                    " /run/exim4 && chown Debian-exim:Debian-exim "
                    "/var/log/exim4 /var/spool/exim4 /run/exim4 && "
                    "update-exim4.conf")

    def start(self):
        self.p = self.sb.spawn("exim", "exim4", "-bdf", "-q30m")
        wait_until(lambda: "daemon started" in self.log() or
                   self.p.poll() is not None, 15, what="exim")
        assert self.p.poll() is None, self.log()

    def submit_argv(self, rcpt):
        return ("exim4", "-f", FROM, rcpt)

    def queued(self):
        r = self.sb.run("exim4", "-bpc", check=False)
        try:
            return int(r.stdout.split()[0])
        except (IndexError, ValueError):
            return -1

    def log(self):
        p = self.sb.path("/var/log/exim4/mainlog")
        return p.read_text(errors="replace") if p.exists() else ""


SENDMAIL_MC = """\
divert(-1)dnl
divert(0)dnl
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`decoymx compatibility lab')dnl
OSTYPE(`debian')dnl
DOMAIN(`debian-mta')dnl
define(`confDOMAIN_NAME', `mta.sender.test')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
undefine(`confHOST_STATUS_DIRECTORY')dnl
FEATURE(`no_default_msa')dnl
DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
"""


class Sendmail(Mta):
    """Debian's sendmail.mc essentials; daemon with -q10m (Debian's
    QUEUE_INTERVAL); messages submitted with -Am straight to the MTA."""

    name = "sendmail"
    queue_run = ("sendmail", "-Am", "-q")

    def configure(self):
        mail = self.sb.etc / "mail"
        mail.mkdir(exist_ok=True)
        (mail / "sendmail.mc").write_text(SENDMAIL_MC)
        (mail / "local-host-names").write_text(SENDER_NAME + "\n")
        (mail / "aliases").write_text("postmaster: root\n")
        for f in ("access", "mailertable", "virtusertable", "genericstable",
                  "domaintable", "relay-domains", "trusted-users"):
            (mail / f).write_text("")
        self.sb.run("sh", "-c",
                    # what update-alternatives would do
                    "for b in sendmail mailq newaliases makemap; do "
                    "ln -sf /usr/libexec/sendmail/$b /usr/sbin/$b; done && "
                    "cd /etc/mail && m4 sendmail.mc > sendmail.cf && "
                    "mkdir -p -m 0750 /var/spool/mqueue /var/lib/sendmail "
                    "&& for m in access mailertable virtusertable "
                    "genericstable domaintable; do "
                    "makemap hash /etc/mail/$m < /etc/mail/$m; done && "
                    "chmod 0644 /etc/mail/*.db && "
                    "sendmail -bi -C /etc/mail/sendmail.cf")

    def start(self):
        self.p = self.sb.spawn("sendmail", "sendmail", "-bD", "-q10m")
        wait_until(lambda: self.sb.run("bash", "-c", "exec 3<>/dev/tcp/"
                                       "127.0.0.1/25", check=False)
                   .returncode == 0 or self.p.poll() is not None, 20,
                   what="sendmail")
        assert self.p.poll() is None, self.log()

    def submit_argv(self, rcpt):
        return ("sendmail", "-Am", "-f", FROM, rcpt)

    def queued(self):
        r = self.sb.run("sendmail", "-Am", "-bp", check=False)
        m = re.search(rb"Total requests: (\d+)", r.stdout)
        return int(m.group(1)) if m else 0



class Dma(Mta):
    """dma delivers from the submitting process's child; the Debian
    package flushes its queue from cron every 5 minutes (dma -q)."""

    name = "dma"
    queue_run = ("dma", "-q")

    def configure(self):
        (self.sb.etc / "dma").mkdir(exist_ok=True)
        (self.sb.etc / "dma" / "dma.conf").write_text(
            "MAILNAME /etc/mailname\n")
        self.sb.run("sh", "-c", "mkdir -p /var/spool/dma && "
                    "chgrp mail /var/spool/dma /usr/sbin/dma && "
                    "chmod 2775 /var/spool/dma && chmod 2755 /usr/sbin/dma")

    def start(self):
        pass

    def submit_argv(self, rcpt):
        return ("dma", "-f", FROM, rcpt)

    def queued(self):
        d = self.sb.path("/var/spool/dma")
        return len([f for f in d.iterdir() if f.name.startswith("Q")]) \
            if d.is_dir() else 0


COURIER_SETUP = """\
set -e
echo mta.sender.test > /etc/courier/me
echo sender.test > /etc/courier/defaultdomain
printf 'localhost\\nmta.sender.test\\n' > /etc/courier/locals
echo '"Mail Delivery Subsystem" <mailer-daemon@sender.test>' \\
    > /etc/courier/dsnfrom
touch /etc/environment
# an idle session kept 5 s instead of 60 (Courier.KEEPALIVE)
echo 5 > /etc/courier/esmtptimeoutkeepalive
# what the packages' postinst and dpkg-statoverride do
chown root:courier /etc/courier
chown courier:courier /var/lib/courier /var/lib/courier/*
chmod 0750 /var/lib/courier /var/lib/courier/*
chmod 0770 /var/lib/courier/tmp
chown root:courier /usr/sbin/sendmail && chmod 2755 /usr/sbin/sendmail
chown courier:courier /usr/lib/courier/courier/submitmkdir
chmod 4755 /usr/lib/courier/courier/submitmkdir
chown courier:courier /usr/bin/mailq && chmod 2755 /usr/bin/mailq
mkdir -p /run/courier && chown courier:courier /run/courier
for b in makedat deliverquota maildirmake lockmail preline; do
    ln -sf /usr/bin/$b.courier /usr/bin/$b
done
makealiases; makesmtpaccess; makeacceptmailfor; makehosteddomains
"""


class Courier(Mta):
    """Courier's courierd with the package's configuration (ESMTP
    module, IPv6 MX addresses preferred), started with courier start."""

    name = "courier"
    queue_run = ("courier", "flush")
    holds_connections = True
    # Courier's esmtp module keeps an SMTP session open and idle for
    # esmtptimeoutkeepalive (60 s by default) after a delivery attempt,
    # and sends the next message for the same domain in it; it closes it
    # then (or the decoy does, idle-timeout 60s).  Courier retries a
    # deferred message retryalpha (5 min by default) later, so its real
    # first retry always opens a new connection: to MX 10, a returning
    # client's, which the decoy resets, and Courier goes on to MX 20.  A
    # queue run forced while the session is still open would replay the
    # message in the first contact's session instead (the decoy defers
    # it again), which no real retry does: settle() waits for the close.
    # The lab sets esmtptimeoutkeepalive to 5 s so that the wait is
    # short: either keep-alive is far below retryalpha, so the real retry
    # is the same (a new connection) with both.
    KEEPALIVE = 5

    def settle(self):
        wait_until(lambda: not smtp_sessions(self.sb.pid),
                   self.KEEPALIVE + 30,
                   what="Courier to close its idle SMTP sessions")

    def configure(self):
        self.sb.run("sh", "-c", COURIER_SETUP)

    def start(self):
        self.sb.run("courier", "start")
        wait_until(lambda: self.sb.run("sh", "-c", "pgrep -f courieresmtp",
                                       check=False).returncode == 0, 15,
                   what="courierd")

    def submit_argv(self, rcpt):
        return ("sendmail", "-f", FROM, rcpt)

    def queued(self):
        r = self.sb.run("mailq", check=False)
        m = re.search(rb"(\d+) messages?\.", r.stdout)
        return int(m.group(1)) if m else -1

    def stop(self):
        self.sb.run("courier", "stop", check=False, timeout=30)


DRIVERS = {"postfix": PostfixMta, "opensmtpd": OpenSmtpd, "exim": Exim,
           "sendmail": Sendmail, "dma": Dma, "courier": Courier}


# ----------------------------------------------------------------- rows --

STAGES = ("greeting", "helo", "mail", "rcpt", "data")
REPLIES = ("421", "450", "451")
REPLY_TEXT = {"421": "421 4.7.0 Try again later",
              "450": "450 4.7.1 Service temporarily unavailable, try again "
                     "later",
              "451": "451 4.7.1 Try again later"}
PHASE_MAX = float(os.environ.get("COMPAT_PHASE_MAX", "30"))
QUIET = 3.0          # seconds without progress that end a phase


def policy(stage=None, reply=None):
    """decoymx.conf lines of a row; () is the default configuration.  A
    stage x reply row turns returning-defer off when this decoymx has it,
    so that the row shows how the MTA takes that reply alone."""
    out = []
    if (stage or reply) and _has_returning_defer():
        out.append("returning-defer off")
    if stage:
        out.append("defer-stage %s" % stage)
    if reply:
        out.append("defer-reply %s" % REPLY_TEXT[reply])
    return tuple(out)


def _has_returning_defer():
    try:
        return b"returning-defer" in BIN.read_bytes()
    except OSError:
        return False


def first_contact_problems(row):
    """What the decoy failed to record of each sender address's first
    contact: its HELO, MAIL FROM and the RCPT TO of a message.  A
    session the pair rule sent on (close reason paired) is not a first
    contact: an address with only such sessions had none."""
    out = []
    rcpts = {"user%d@%s" % (i, DOMAIN) for i in range(1, N + 1)}
    answered = [s for s in row["sessions"] if s["close_reason"] != "paired"]
    for a in sorted({s["src_ip"] for s in answered}):
        first = min((s for s in answered if s["src_ip"] == a),
                    key=lambda s: s["start"])
        if first["helo"] != SENDER_NAME or first["mail_from"] != FROM or \
                not rcpts & set(first["rcpt_to"] or []):
            out.append("first contact of %s: %s" % (a, first))
    return out


def smtp_sessions(pid):
    """The TCP connections of pid's network namespace to a remote port
    25 that its side holds open (ESTABLISHED, or CLOSE_WAIT: closed by
    the peer only)."""
    out = []
    for proto in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, proto)) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if int(p[2].split(":")[1], 16) == 25 and \
                            p[3] in ("01", "08"):
                        out.append((proto, p[1], p[2], p[3]))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def _open_smtp(lab, pid):
    """Established TCP connections to port 25 in the server namespace."""
    n = 0
    for proto in ("tcp", "tcp6"):
        n += sum(1 for a, port, st in proc_sockets(pid, proto)
                 if port == 25 and st == "01")
    return n


def _phase(lab, decoy, tag, t0, holds=False, quiet=None):
    """Waits until all N are delivered, or nothing moved for quiet s
    (QUIET unless the MTA says) with no SMTP connection open (3 quiet
    with one if the MTA holds idle connections), or PHASE_MAX; returns
    {subject: (ip, t)}."""
    quiet = quiet or QUIET
    last, since = None, time.monotonic()
    deadline = time.monotonic() + PHASE_MAX
    while True:
        got = lab.delivered(tag)
        closed = decoy.p.text().count(" closed src=")
        state = (len(got), closed)
        now = time.monotonic()
        if state != last:
            last, since = state, now
        if len(got) >= N:
            return got
        if now - since >= quiet and not _open_smtp(lab, decoy.p.pid):
            return got
        # an MTA that keeps an idle connection to a decoy open (Courier)
        if holds and now - since >= 3 * quiet:
            return got
        if now >= deadline:
            return got
        time.sleep(0.1)


def _forced_run(lab, decoy, tag, m, got):
    """When messages are left after got: lets the MTA settle (Courier),
    forces its queue run and waits out a phase.  Returns (the moment of
    the run, what was delivered by the end of the phase)."""
    if len(got) >= N:
        return time.time(), got
    m.settle()
    t = time.time()
    m.flush()
    return t, _phase(lab, decoy, tag, t, m.holds_connections, m.quiet)


def run_row(lab, mta, stage=None, reply=None, seq=0):
    """One row: a fresh decoymx with the row's policy and a fresh MTA;
    N messages; a phase; a forced queue run; a phase; for what is left a
    second forced queue run and a phase.  Returns facts."""
    tag = "%s-%s-%s-%s-%d" % (mta, lab.layout, stage or "default",
                              reply or "default", seq)
    decoy = Decoy(lab, "decoy-" + tag, policy(stage, reply))
    m = None
    row = {"mta": mta, "layout": lab.layout, "stage": stage or "default",
           "reply": reply or "default", "n": N}
    try:
        m = DRIVERS[mta](lab, seq)
        lab.witness()
        t0 = time.time()
        for i in range(1, N + 1):
            m.submit(tag, i, "user%d@%s" % (i, DOMAIN))
        once = _phase(lab, decoy, tag, t0, m.holds_connections, m.quiet)
        # A forced queue run for what is left, then a second one: "late"
        # is then measured as such (delivered by the MTA's second retry),
        # never guessed.
        t1, retry = _forced_run(lab, decoy, tag, m, once)
        t2, retry2 = _forced_run(lab, decoy, tag, m, retry)
        t2 = time.time()
        row.update({
            "at_once": len(once), "at_retry": len(retry) - len(once),
            "never": N - len(retry),
            "at_retry2": len(retry2) - len(retry),
            "never2": N - len(retry2),
            "delay_once": max([t for _, t in once.values()], default=t0) - t0
            if once else None,
            "delay_retry": max(t for _, t in retry.values()) - t1
            if len(retry) > len(once) else None,
            "real_mx_clients": sorted({a for a, _ in retry2.values()}),
            "queued": m.queued(),
        })
        if row["never"]:
            row["mta_log"] = m.log()[-4000:]
    finally:
        if m is not None and hasattr(m, "stop"):
            with contextlib.suppress(Exception):
                m.stop()
        problems = decoy.stop()
    row["decoy_problems"] = problems
    nets = [ipaddress.ip_network("203.0.113.0/24"),
            ipaddress.ip_network("2001:db8:25::/64")]
    sessions = [s for s in decoy.sessions()
                if any(ipaddress.ip_address(s["src_ip"]) in n for n in nets)]
    row["sessions"] = [{k: s.get(k) for k in (
        "start", "src_ip", "dst_ip", "mx_pref", "helo", "mail_from",
        "rcpt_to",
        "stage", "reply_code", "close_reason", "anomalies")}
        for s in sessions]
    # --window: long enough to cover the run's walk to the real MX (the
    # forced retry stands for the MTA's real first retry), and passed
    # since the MTA's last contact with a decoy, whichever moment the
    # classification counts from.
    last_real = max([t for _, t in retry2.values()], default=t0)
    window = int(last_real - t0) + 2
    time.sleep(max(0.0, min(t2 + window + 0.5 - time.time(), 60.0)))
    addrs = [FAM[f]["mta"] for f in lab.sender_fams]
    row["window"] = window
    row["listed"] = decoy.listed(addrs, window)
    row["verdicts"] = {a: decoy.verdict(a, window) for a in addrs}
    row["elapsed"] = time.time() - t0
    _reset_mta_sandbox(lab)
    return row


def _reset_mta_sandbox(lab):
    """Stops what the row left in the sender namespace (MTA daemons,
    delivery children, sandboxes), so the next row starts empty."""
    keep = []
    for p in lab.procs:
        if getattr(p, "name", "").startswith(("dnsmasq",)):
            keep.append(p)
            continue
        with contextlib.suppress(Exception):
            p.stop(timeout=5)
    lab.procs = keep
    _kill_ns(lab.snd)


def envelope_problems(row):
    """What the decoy failed to record of the N messages' envelopes."""
    out = []
    for i in range(1, N + 1):
        rcpt = "user%d@%s" % (i, DOMAIN)
        if not any(rcpt in (s["rcpt_to"] or []) and
                   s["helo"] == SENDER_NAME and s["mail_from"] == FROM
                   for s in row["sessions"]):
            out.append("no decoy session with HELO %s, MAIL FROM %s, RCPT "
                       "TO %s" % (SENDER_NAME, FROM, rcpt))
    return out


def outcome(row):
    """The row in words: delivered at once / at first retry / at the
    second / never."""
    if row["never"] and not row.get("never2", row["never"]):
        return "2nd retry"
    if row["never"]:
        return "never %d/%d" % (row["never"], row["n"])
    if row["at_retry"]:
        return "retry"
    return "at once"
