# SPDX-License-Identifier: ISC
"""
The Debian package (make deb, dist/debian/): built, inspected with
dpkg-deb, installed with dpkg -i on this machine (no systemd running: the
postinst must still succeed), exercised, removed (the conffile stays),
purged (user, /var/lib/decoymx and /etc/decoymx go), and the machine is
left as it was before.

Needs root and dpkg; skipped otherwise, and when a "decoymx" package or
user is already on the machine (the test would clobber it).  Runs once,
for the plain build (the package is compiled from the sources by make
deb, whatever DECOYMX_BIN is).  $DECOYMX_DEB names an existing package to
test instead of building one.
"""
import fcntl
import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, REPO, wait_until


def _sanitized():
    try:
        with open(BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def _getent(db, name):
    return subprocess.run(["getent", db, name], capture_output=True,
                          text=True, timeout=10).stdout.strip()


def _installed(pkg="decoymx"):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True, timeout=10)
    return r.returncode == 0 and "not-installed" not in r.stdout


def _tool(name):
    return shutil.which(name) is not None


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (dpkg -i)"),
    pytest.mark.skipif(not (_tool("dpkg-deb") and _tool("dpkg")),
                       reason="needs dpkg and dpkg-deb"),
    pytest.mark.skipif(_sanitized(), reason="ASan build: the package is "
                       "tested once, with the plain build"),
]

ARCH = (subprocess.run(["dpkg", "--print-architecture"],
                       capture_output=True, text=True).stdout.strip()
        if _tool("dpkg") else "")
VERSION = re.search(r'#define\s+DECOYMX_VERSION\s+"([^"]+)"',
                    (REPO / "common/decoymx.h").read_text()).group(1)
LIB_DEPENDS = ("libc6", "libevent-2.1-7", "libsqlite3-0", "libpcap0.8",
               "libmaxminddb0")
CONF = "/etc/decoymx/decoymx.conf"
# Where a path with "decoymx" in its name may appear because of the
# package (its files, dpkg's and deb-systemd-helper's state): the trees
# searched whole, and the folders whose own entries only are looked at.
WATCHED = ["/etc/decoymx", "/etc/systemd", "/lib/systemd/system",
           "/usr/lib/systemd/system", "/usr/lib/sysusers.d",
           "/usr/lib/tmpfiles.d", "/usr/share/doc/decoymx",
           "/usr/share/man/man5", "/usr/share/man/man8",
           "/usr/share/decoymx", "/usr/share/lintian/overrides",
           "/var/lib/systemd", "/var/lib/decoymx", "/var/log/decoymx"]
SHALLOW = ["/etc", "/etc/logrotate.d", "/usr/sbin", "/usr/share/doc",
           "/var/lib", "/var/log"]
# The event log and an export where decoymx(8)/README.Debian put them.
EVENTS = "/var/log/decoymx/events.json"
EXPORT_DIR = "/var/lib/rbldnsd/decoymx"
EXPORT = EXPORT_DIR + "/decoymx.zone"


def run(cmd, timeout=30, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\n--- stdout\n%s--- stderr\n%s"
                             % (" ".join(map(str, cmd)), r.returncode,
                                r.stdout, r.stderr))
    return r


def dpkg(*args, timeout=60):
    """dpkg ARGS, waiting (bounded) while another dpkg/apt holds its lock."""
    deadline = time.monotonic() + 30
    while True:
        r = run(["dpkg", *args], timeout=timeout, check=False)
        if r.returncode == 0 or "lock" not in r.stderr or \
                time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if r.returncode != 0:
        raise AssertionError("dpkg %s exited %d\n%s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def decoymx_paths():
    found = set()
    for top in WATCHED:
        for dirpath, dirnames, filenames in os.walk(top):
            for n in dirnames + filenames:
                if "decoymx" in n:
                    found.add(os.path.join(dirpath, n))
    for top in SHALLOW:
        if os.path.isdir(top):
            found |= {os.path.join(top, n) for n in os.listdir(top)
                      if "decoymx" in n}
    return found


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lock():
    """One instance of this test on the machine at a time."""
    with open("/tmp/decoymx-test-deb.lock", "w") as f:
        deadline = time.monotonic() + 120
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip("another test_deb holds the lock")
                time.sleep(0.5)
        yield


@pytest.fixture(scope="module")
def deb(lock):
    given = os.environ.get("DECOYMX_DEB")
    if given:
        return Path(given).resolve()
    r = run(["make", "--no-print-directory", "-j%d" % (os.cpu_count() or 2),
             "deb"], timeout=240, cwd=str(REPO))
    path = REPO / r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"decoymx_%s-[^_]+_%s\.deb" % (
        re.escape(VERSION), re.escape(ARCH)), path.name), path
    return path


def field(deb, name):
    return run(["dpkg-deb", "-f", str(deb), name]).stdout.strip()


def test_control_fields(deb):
    assert field(deb, "Package") == "decoymx"
    assert field(deb, "Version").startswith(VERSION + "-")
    assert field(deb, "Architecture") == ARCH
    assert int(field(deb, "Installed-Size")) > 0
    assert field(deb, "Description").startswith("decoy SMTP MX")
    depends = [d.strip() for d in field(deb, "Depends").split(",")]
    names = {d.split()[0] for d in depends}
    assert names >= set(LIB_DEPENDS) | {"adduser"}, depends
    for d in depends:
        if d.split()[0] in LIB_DEPENDS:
            assert re.fullmatch(r"\S+ \(>= \S+\)", d), d
    info = run(["dpkg-deb", "-I", str(deb)]).stdout
    for script in ("postinst", "prerm", "postrm", "conffiles", "md5sums"):
        assert re.search(r"\b%s\b" % script, info), script
    conffiles = run(["dpkg-deb", "-I", str(deb), "conffiles"]).stdout
    assert conffiles.split() == [CONF, "/etc/logrotate.d/decoymx"]


def test_contents(deb):
    listing = run(["dpkg-deb", "-c", str(deb)]).stdout
    entries = {}
    for line in listing.splitlines():
        parts = line.split()
        mode, owner, path = parts[0], parts[1], parts[-1]
        entries[path.lstrip(".")] = (mode, owner)
    for path, (mode, owner) in entries.items():
        assert owner == "root/root", (path, owner)
    unitdirs = {"/lib/systemd/system/decoymx.service",
                "/usr/lib/systemd/system/decoymx.service"}
    assert len(unitdirs & set(entries)) == 1, sorted(entries)
    want = {
        "/usr/sbin/decoymx": "-rwxr-xr-x",
        CONF: "-rw-r--r--",
        "/usr/lib/sysusers.d/decoymx.conf": "-rw-r--r--",
        "/usr/lib/tmpfiles.d/decoymx.conf": "-rw-r--r--",
        "/etc/logrotate.d/decoymx": "-rw-r--r--",
        "/usr/share/man/man8/decoymx.8.gz": "-rw-r--r--",
        "/usr/share/man/man5/decoymx.conf.5.gz": "-rw-r--r--",
        "/usr/share/doc/decoymx/copyright": "-rw-r--r--",
        "/usr/share/doc/decoymx/changelog.Debian.gz": "-rw-r--r--",
        "/usr/share/doc/decoymx/README.Debian": "-rw-r--r--",
    }
    for path, mode in want.items():
        assert entries.get(path, (None,))[0] == mode, (path, entries.get(path))
    # Nothing under /var or /run: those are made by the postinst, and
    # /var/empty may be someone else's.
    assert not [p for p in entries if p.startswith(("/var/", "/run/"))]


def test_copyright_is_the_licence(deb):
    """
    The packaged copyright file is dist/debian/copyright, whose ISC text
    test_docs.py checks against LICENSE.
    """
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)],
                         capture_output=True, check=True, timeout=60).stdout
    r = subprocess.run(["tar", "-xO", "./usr/share/doc/decoymx/copyright"],
                       input=tar, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert r.stdout == (REPO / "dist/debian/copyright").read_bytes()
    assert b"\nLicense: ISC\n" in r.stdout


def test_maintainer_scripts_are_posix_sh(deb, tmp_path):
    run(["dpkg-deb", "-e", str(deb), str(tmp_path / "DEBIAN")])
    for s in ("postinst", "prerm", "postrm"):
        p = tmp_path / "DEBIAN" / s
        text = p.read_text()
        assert text.startswith("#!/bin/sh\n") and "\nset -e\n" in text, s
        assert os.access(p, os.X_OK), s
        run(["sh", "-n", str(p)])
        if _tool("dash"):
            run(["dash", "-n", str(p)])


def start_installed_daemon(port, conf=CONF):
    """decoymx run as root from the installed files, on a free port."""
    proc = subprocess.Popen(
        ["/usr/sbin/decoymx", "run", "-c", conf,
         "--listen", "127.0.0.1:%d" % port],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")

    def greets():
        if proc.poll() is not None:
            raise AssertionError("decoymx exited %s: %s" % (
                proc.returncode, proc.stderr.read().decode(errors="replace")))
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                s.settimeout(5)
                banner = s.recv(512)
                s.sendall(b"QUIT\r\n")
                s.recv(512)
                return banner
        except OSError:
            return None
    try:
        banner = wait_until(greets, 10, interval=0.1,
                            what="the installed decoymx to greet")
        assert banner.startswith(b"220")    # "220-": banner-wait
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err.decode(errors="replace")


def documented_paths(pw):
    """
    The event log and an export at the paths the documentation gives,
    set up as README.Debian says: "run -n" refuses the export until its
    directory exists and is the decoymx user's; then the installed daemon
    writes both.
    """
    st = os.stat(EVENTS)
    assert (st.st_uid, st.st_mode & 0o777) == (int(pw[2]), 0o640)
    assert os.stat("/var/log/decoymx").st_uid == 0
    if _tool("logrotate"):
        r = run(["logrotate", "-d", "/etc/logrotate.d/decoymx"],
                check=False)
        assert r.returncode == 0 and "error" not in r.stderr.lower(), \
            r.stdout + r.stderr
    conf = "/etc/decoymx/test-paths.conf"
    Path(conf).write_text(Path(CONF).read_text() +
                          "events-log %s\nexport rbldnsd %s every 5m\n"
                          % (EVENTS, EXPORT))
    try:
        r = run(["/usr/sbin/decoymx", "run", "-n", "-c", conf], check=False)
        assert r.returncode == 1
        assert "export %s: directory %s does not exist" % (
            EXPORT, EXPORT_DIR) in r.stderr
        os.makedirs("/var/lib/rbldnsd", exist_ok=True)
        os.mkdir(EXPORT_DIR, 0o755)
        r = run(["/usr/sbin/decoymx", "run", "-n", "-c", conf], check=False)
        assert r.returncode == 1
        assert "is not writable by user decoymx" in r.stderr
        run(["install", "-d", "-o", "decoymx", "-g", "decoymx", "-m",
             "0755", EXPORT_DIR])
        run(["/usr/sbin/decoymx", "run", "-n", "-c", conf])
        start_installed_daemon(free_port(), conf)
    finally:
        os.unlink(conf)
    events = Path(EVENTS).read_text().splitlines()
    assert events and '"eventid":"decoymx.session.closed"' in events[-1]
    zone = Path(EXPORT).read_text()
    assert zone.startswith("# decoymx") and "127.0.0.2" in zone
    assert os.stat(EXPORT).st_uid == int(pw[2])


def test_install_remove_purge(deb):
    if _installed():
        pytest.skip("a decoymx package is installed on this machine")
    if _getent("passwd", "decoymx") or _getent("group", "decoymx"):
        pytest.skip("a decoymx user or group exists on this machine")
    before = decoymx_paths()
    had_var_empty = os.path.isdir("/var/empty")
    made_rbldnsd = not os.path.exists("/var/lib/rbldnsd")
    installed = False
    try:
        env_nosystemd = not os.path.isdir("/run/systemd/system")
        dpkg("-i", str(deb))
        installed = True
        assert _installed()

        out = run(["/usr/sbin/decoymx", "version"]).stdout
        assert out.startswith("decoymx %s" % VERSION), out

        pw = _getent("passwd", "decoymx").split(":")
        assert pw[0] == "decoymx" and int(pw[2]) < 1000, pw
        assert pw[5] == "/var/lib/decoymx", pw
        assert pw[6].endswith(("nologin", "false")), pw
        assert _getent("group", "decoymx")
        st = os.stat("/var/lib/decoymx")
        assert (st.st_uid, st.st_gid) == (int(pw[2]), int(pw[3]))
        assert st.st_mode & 0o7777 == 0o750, oct(st.st_mode)
        assert os.path.isdir("/var/empty") and not os.listdir("/var/empty")

        run(["/usr/sbin/decoymx", "run", "-n", "-c", CONF], timeout=10)
        listens = [l for l in Path(CONF).read_text().splitlines()
                   if l.startswith("listen")]
        assert len(listens) == 1 and "127.0.0.1:" in listens[0], listens

        if _tool("man"):
            env = dict(os.environ, MANPAGER="cat", PAGER="cat",
                       MANWIDTH="80", LC_ALL="C.UTF-8")
            for page in ("/usr/share/man/man8/decoymx.8.gz",
                         "/usr/share/man/man5/decoymx.conf.5.gz"):
                r = run(["man", "-l", page], timeout=20, env=env)
                assert "SYNOPSIS" in r.stdout or "DESCRIPTION" in r.stdout
        with gzip.open("/usr/share/doc/decoymx/changelog.Debian.gz",
                       "rt") as f:
            assert f.readline().startswith("decoymx (%s-" % VERSION)

        if _tool("systemd-analyze"):
            unit = next(p for p in ("/lib/systemd/system/decoymx.service",
                                    "/usr/lib/systemd/system/"
                                    "decoymx.service")
                        if os.path.exists(p))
            r = run(["systemd-analyze", "verify", unit], timeout=30,
                    check=False)
            assert "decoymx" not in r.stdout + r.stderr, \
                r.stdout + r.stderr

        # No systemd here: the postinst did not start the daemon, so do
        # what an administrator would, from the installed files as root
        # (drops to the decoymx user, chroots, writes the database).
        if env_nosystemd:
            start_installed_daemon(free_port())
            st = os.stat("/var/lib/decoymx/decoymx.db")
            assert st.st_uid == int(pw[2])
            documented_paths(pw)

        dpkg("-r", "decoymx")
        assert not os.path.exists("/usr/sbin/decoymx")
        assert os.path.isfile(CONF)
        assert _getent("passwd", "decoymx")      # kept until purge

        dpkg("-P", "decoymx")
        installed = False
        assert not _installed()
        for gone in ("/etc/decoymx", "/var/lib/decoymx"):
            assert not os.path.exists(gone), gone
        assert not _getent("passwd", "decoymx")
        assert not _getent("group", "decoymx")
        assert not os.path.exists("/var/log/decoymx")
        assert not os.path.exists("/etc/logrotate.d/decoymx")
    finally:
        if installed:
            dpkg("-P", "decoymx")
        shutil.rmtree(EXPORT_DIR, ignore_errors=True)
        if made_rbldnsd:
            shutil.rmtree("/var/lib/rbldnsd", ignore_errors=True)
        if not had_var_empty and os.path.isdir("/var/empty"):
            try:
                os.rmdir("/var/empty")
            except OSError:
                pass
    assert decoymx_paths() == before, decoymx_paths() ^ before
