# SPDX-License-Identifier: ISC
"""
The daemon's log lines: logfmt after the timestamp, syslog priorities
in front when stderr is the journal (JOURNAL_STREAM), the session line's
fields (anomaly names, IPv6 endpoints in brackets, from="<>" for the
null sender and no from at all without MAIL), and "log syslog" sending
them to /dev/log (in a private mount namespace, as root).
"""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import BIN, Smtp, free_port, wait_until

PRIO = {"error": 3, "fatal": 3, "warn": 4, "info": 6, "debug": 7}
# logfmt: key=bare or key="quoted with \" and \\ escapes"
PAIR = r'[A-Za-z_][A-Za-z0-9_.-]*=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
LINE = re.compile(r'^(<(\d)>)?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) '
                  r'level=(\w+) proc=(\S+)((?: %s)*)$' % PAIR)


def pairs(rest):
    out = {}
    for m in re.finditer(r'([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|'
                         r'[^\s"]*)', rest):
        v = m.group(2)
        out[m.group(1)] = v[1:-1] if v.startswith('"') else v
    return out


def parse(text):
    lines = []
    for l in text.splitlines():
        m = LINE.match(l)
        assert m, "not logfmt: %r" % l
        lines.append((m.group(2), m.group(4), m.group(5), pairs(m.group(6))))
    return lines


def sessions_for_log(d):
    """Three sessions: null sender, no MAIL with pregreet, over IPv6."""
    with Smtp("127.0.0.1", d.port) as c:
        c.cmd("EHLO a.example")
        c.cmd("MAIL FROM:<>")
        c.cmd("QUIT")
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(b"EHLO early\r\n")       # before the greeting: pregreet
    s.settimeout(10)
    try:
        while s.recv(4096):
            s.sendall(b"QUIT\r\n")
    except OSError:
        pass
    s.close()
    with Smtp("::1", d.port) as c:
        c.cmd("HELO six.example")
        c.cmd("MAIL FROM:<x\"y@z.example>")
        c.cmd("QUIT")


def closed(lines):
    return [p for (_, lvl, _, p) in lines if p.get("msg") == "closed"]


@pytest.fixture
def journal_daemon(daemon, tmp_path, monkeypatch):
    def start(match=True):
        # The fixture's first daemon writes its stderr here: make the
        # file first, so that its device and inode are known.
        err = tmp_path / "d1" / "stderr.txt"
        err.parent.mkdir(parents=True, exist_ok=True)
        err.touch()
        st = os.stat(err)
        monkeypatch.setenv("JOURNAL_STREAM", "%d:%d" % (
            st.st_dev, st.st_ino + (0 if match else 1)))
        return daemon(addrs=("127.0.0.1", "::1"),
                      extra=["greeting-delay 300ms"])
    return start


def test_journal_priorities_and_logfmt(journal_daemon):
    d = journal_daemon()
    sessions_for_log(d)
    wait_until(lambda: len(closed(parse(d.read_stderr()))) >= 3, 15,
               what="three session lines")
    lines = parse(d.read_stderr())
    for prio, level, proc, p in lines:
        assert prio is not None and int(prio) == PRIO[level], (prio, level)
    c = closed(lines)
    null = [p for p in c if p.get("helo") == "a.example"]
    assert null and null[0]["from"] == "<>"
    early = [p for p in c if "pregreet" in p["anomalies"].split(",")]
    assert early and "from" not in early[0]     # no MAIL: no from
    six = [p for p in c if p.get("helo") == "six.example"]
    assert six and six[0]["dst"] == "[::1]:%d" % d.port
    assert six[0]["from"] == '<x\\"y@z.example>'
    assert c[0]["dst"] in ("127.0.0.1:%d" % d.port, "[::1]:%d" % d.port)
    assert all(re.fullmatch(r"none|[a-z-]+(,[a-z-]+)*", p["anomalies"])
               for p in c)


def test_no_prefix_when_stderr_is_not_the_journal(journal_daemon):
    d = journal_daemon(match=False)
    lines = parse(d.read_stderr())
    assert lines and all(prio is None for prio, _, _, _ in lines)


def test_log_key_is_checked(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:%d\ndb %s/x.db\nlog syslg\n"
                    % (free_port(["127.0.0.1"]), tmp_path))
    r = subprocess.run([str(BIN), "run", "-n", "-c", str(conf)],
                       capture_output=True, timeout=30)
    assert r.returncode == 2
    assert b"c.conf:3:" in r.stderr and b"stderr or syslog" in r.stderr
    conf.write_text(conf.read_text().replace("syslg", "syslog"))
    r = subprocess.run([str(BIN), "run", "-n", "-c", str(conf)],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert b"log syslog\n" in r.stdout


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a private /dev/log")
def test_log_syslog(tmp_path):
    """In a private mount namespace /dev/log is our datagram socket."""
    sock_path = str(tmp_path / "log.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(sock_path)
    srv.settimeout(0.5)
    port = free_port(["127.0.0.1"])
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:%d mx 10\nreal-mx 127.0.0.1 mx 20\n"
                    "db %s/x.db\nlog syslog\n" % (port, tmp_path))
    old = tmp_path / "olddev"
    old.mkdir()
    user = os.environ.get("SUDO_USER") or "nobody"
    script = (
        "set -e; mount --make-rprivate /; mount --rbind /dev {old}; "
        "mount -t tmpfs -o mode=755 tmpfs /dev; "
        "for n in null zero full random urandom; do touch /dev/$n; "
        "mount --bind {old}/$n /dev/$n; done; "
        "touch /dev/log; mount --bind {sock} /dev/log; "
        "exec {bin} run -c {conf} --user {user}").format(
            old=old, sock=sock_path, bin=BIN, conf=conf, user="root")
    err = open(tmp_path / "stderr.txt", "wb")
    p = subprocess.Popen(["unshare", "--mount", "sh", "-c", script],
                         stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    got = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
                "store started" in m for m in got):
            try:
                got.append(srv.recv(8192).decode("utf-8", "replace"))
            except socket.timeout:
                assert p.poll() is None, open(tmp_path / "stderr.txt").read()
        started = [m for m in got if "store started" in m]
        assert started, got
        # <30+6>: facility daemon, priority info; then our logfmt.
        assert re.match(r"<30>.*decoymx\[\d+\]: level=info proc=store "
                        r'msg="store started" db=', started[0]), started[0]
    finally:
        p.terminate()
        p.wait(timeout=30)
        err.close()
        srv.close()
    # Nothing went to stderr but what came before the log was set up.
    text = open(tmp_path / "stderr.txt").read()
    assert "level=info" not in text, text


@pytest.mark.skipif(shutil.which("logrotate") is None,
                    reason="logrotate not installed")
def test_logrotate_file_rotates_the_event_log(daemon, tmp_path):
    """dist/logrotate/decoymx, pointed at a temp dir: rotated, reopened."""
    from conftest import REPO, normal_session
    events = tmp_path / "log" / "events.json"
    events.parent.mkdir()
    d = daemon(extra=["events-log %s" % events])
    normal_session(d)
    wait_until(lambda: events.exists() and events.read_text().count("\n")
               >= 1, 10, what="the first event")
    conf = (REPO / "dist" / "logrotate" / "decoymx").read_text()
    assert "/var/log/decoymx/events.json {" in conf
    assert "systemctl reload decoymx.service" in conf
    me = "%s %s" % (pwd_name(os.getuid()), grp_name(os.getgid()))
    conf = conf.replace("/var/log/decoymx/events.json", str(events)) \
        .replace("su decoymx decoymx", "su " + me) \
        .replace("create 0640 decoymx decoymx", "create 0640 " + me) \
        .replace("systemctl reload decoymx.service", "kill -HUP %d" % d.pid)
    lr = tmp_path / "lr.conf"
    lr.write_text(conf)
    os.chmod(lr, 0o644)
    r = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"),
                        str(lr)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    rotated = tmp_path / "log" / "events.json.1"
    assert rotated.exists() and rotated.read_text().count("\n") == 1
    wait_until(lambda: "events-log reopened" in d.read_stderr(), 10,
               what="the reopen")
    normal_session(d)
    wait_until(lambda: events.exists() and events.read_text().count("\n")
               == 1, 10, what="the next event in the new file")
    assert rotated.read_text().count("\n") == 1


def pwd_name(uid):
    import pwd
    return pwd.getpwuid(uid).pw_name


def grp_name(gid):
    import grp
    return grp.getgrgid(gid).gr_name
