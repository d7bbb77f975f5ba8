# SPDX-License-Identifier: ISC
"""
Faults an operator will meet, against the real daemon (issue 12):

* start-up: every failure before the store's go-ahead ends the daemon
  with status 1 and a line naming the cause, promptly, with no process
  left holding the port; SIGTERM is honoured at every step of start-up
  (test-only fault points via DECOYMX_FAULT, dist/decoymx.8);
* kill -9 of each process under load: only the uncommitted batch lost;
* disk full (RLIMIT_FSIZE) and recovery, a read-only and a deleted
  database, descriptor exhaustion of each process, a corrupt database;
* files created 0640/0600.

The figures (sessions completed, stored, lost, time to recover) are
printed at the end, like the bad-input battery.
"""
import os
import pwd
import resource
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import (BIN, Daemon, free_port, listening_ports, normal_session,
                      proc_hex_addr, read_sessions, run_bin, wait_until)

FIGURES = []
EXIT_BOUND = 10.0       # generous on a loaded machine; the figure is printed


def figure(name, **kv):
    FIGURES.append((name, kv))


class _FiguresPlugin:
    """Prints FIGURES in pytest's terminal summary, past its capture."""

    def pytest_terminal_summary(self, terminalreporter):
        if not FIGURES:
            return
        tr = terminalreporter
        tr.write_line("")
        tr.write_line("--- fault-injection figures (test_faults.py) ---")
        for name, kv in FIGURES:
            tr.write_line("%-34s %s" % (name, " ".join(
                "%s=%s" % (k, v) for k, v in kv.items())))


@pytest.fixture(scope="module", autouse=True)
def print_figures(request):
    pm = request.config.pluginmanager
    if not pm.has_plugin("decoymx-fault-figures"):
        pm.register(_FiguresPlugin(), "decoymx-fault-figures")
    yield


def port_listening(port):
    return ("0100007F", port) in listening_ports()


def start_raw(tmp_path, lines=None, env=None, args=(), user=None, db=None):
    """Starts decoymx run; returns (proc, port, stderr path, db)."""
    port = free_port(["127.0.0.1"])
    db = db or str(tmp_path / "d.db")
    conf = tmp_path / "c.conf"
    conf.write_text("\n".join(["listen 127.0.0.1:%d" % port, "db %s" % db,
                               "log-level info", "sensor off"] +
                              (lines or [])) + "\n")
    err = tmp_path / "stderr.txt"
    e = dict(os.environ)
    e.update(env or {})
    who = user or pwd.getpwuid(os.geteuid()).pw_name
    p = subprocess.Popen([str(BIN), "run", "-c", str(conf), "--user", who,
                          *args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(err, "wb"),
                         env=e, cwd=str(tmp_path))
    return p, port, err, db


def wait_exit(p, timeout=EXIT_BOUND):
    t0 = time.monotonic()
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
        raise AssertionError("decoymx still running after %.0fs" % timeout)
    return rc, time.monotonic() - t0


def corrupt(db):
    with open(db, "wb") as f:
        f.write(os.urandom(8192))


def root_owned_nobody(tmp_path, db):
    """A database the run-as user cannot write (root-owned, 0644)."""
    d = tempfile.mkdtemp(prefix="decoymx-faults12-")
    os.chmod(d, 0o1777)
    db = os.path.join(d, "d.db")
    corrupt(db)
    return db


def busy_port(tmp_path, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s


# name, setup(tmp_path, db) or None, extra config lines, fault, run-as user
# (None: the current one), what the error line must say.
START_FAILURES = [
    ("corrupt database", lambda t, db: corrupt(db), [], None, None,
     "file is not a database"),
    ("root-owned database", root_owned_nobody, [], None, "nobody",
     "not writable"),
    ("store open fault", None, [], "start-store-open", None,
     "injected fault"),
    ("store privilege drop", None, [], "start-store-drop", None,
     "injected fault"),
    ("network privilege drop", None, [], "start-net-drop", None,
     "injected fault"),
    ("fork fails", None, [], "start-fork", None, "fork"),
    ("unwritable directory", lambda t, db: os.makedirs(db), [], None, None,
     "is a directory"),
]


@pytest.mark.parametrize("case", START_FAILURES, ids=[c[0] for c in
                                                      START_FAILURES])
def test_startup_failure_exits_1_with_the_cause(tmp_path, case):
    name, setup, lines, fault, user, says = case
    if user == "nobody" and os.geteuid() != 0:
        pytest.skip("needs root to drop to nobody")
    db = str(tmp_path / "d.db")
    if setup is not None:
        db = setup(tmp_path, db) or db
    p, port, err, _ = start_raw(tmp_path, lines,
                                {"DECOYMX_FAULT": fault} if fault else {},
                                user=user, db=db)
    rc, took = wait_exit(p)
    text = err.read_text(errors="replace")
    figure("start: " + name, status=rc, exit_s="%.2f" % took)
    assert rc == 1, text
    errors = [ln for ln in text.splitlines()
              if " level=error " in ln or " level=fatal " in ln]
    assert errors and says in errors[0], text
    # One line, the cause; when the network process fails, it names the
    # cause and the store says it is not starting.
    assert len(errors) <= (2 if fault == "start-net-drop" else 1), text
    # Nobody is left holding the port or waiting for a go-ahead.
    wait_until(lambda: not port_listening(port), EXIT_BOUND,
               what="the port to be released")


def test_startup_metrics_port_in_use(tmp_path):
    mport = free_port(["127.0.0.1"])
    s = busy_port(tmp_path, mport)
    try:
        p, port, err, _ = start_raw(tmp_path, ["metrics 127.0.0.1:%d" % mport])
        rc, took = wait_exit(p)
    finally:
        s.close()
    assert rc == 1
    assert "metrics 127.0.0.1 port %d" % mport in err.read_text()
    assert not port_listening(port)


@pytest.mark.parametrize("fault", ["start-hang", "start-store-hang"])
def test_sigterm_is_honoured_during_startup(tmp_path, fault):
    p, port, err, _ = start_raw(tmp_path, env={"DECOYMX_FAULT": fault})
    if fault == "start-store-hang":
        # The listeners are bound and the network process waits.
        wait_until(lambda: port_listening(port), EXIT_BOUND,
                   what="the listener")
    else:
        time.sleep(0.3)
    assert p.poll() is None, err.read_text()
    p.send_signal(signal.SIGTERM)
    rc, took = wait_exit(p)
    figure("start: SIGTERM at " + fault, status=rc, exit_s="%.2f" % took)
    assert rc == 1
    assert "stop requested during start-up" in err.read_text()
    wait_until(lambda: not port_listening(port), EXIT_BOUND,
               what="the port to be released")


def test_files_are_not_world_readable(daemon):
    old = os.umask(0o022)       # what a shell typically has
    try:
        d = daemon(extra=["events-log %s" % "events.jsonl"])
    finally:
        os.umask(old)
    normal_session(d)
    d.sessions(1)
    names = [d.db, d.db + "-wal", d.db + "-shm",
             str(d.dir / "events.jsonl")]
    for n in names:
        wait_until(lambda: os.path.exists(n), 10, what=n)
        mode = stat.S_IMODE(os.stat(n).st_mode)
        assert mode & 0o007 == 0, "%s is %o" % (n, mode)
        assert mode & 0o020 == 0, "%s is %o" % (n, mode)


def scrape(port, path="/metrics", timeout=10):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=timeout) as r:
        return r.status, r.read().decode()


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_metrics_out_of_descriptors_pauses(daemon):
    """Issue 12 #2: no busy loop, no log flood, recovers."""
    mport = free_port(["127.0.0.1"])
    d = daemon(extra=["metrics 127.0.0.1:%d" % mport])
    assert scrape(mport)[0] == 200
    lim = open_fds(d.pid) + 4
    soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (lim, hard))
    socks = []
    t0 = time.monotonic()
    try:
        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", mport), 5)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")     # never ends
            socks.append(s)
        cpu0 = proc_cpu_s(d.pid)
        time.sleep(2.0)
        cpu = proc_cpu_s(d.pid) - cpu0
    finally:
        for s in socks:
            s.close()
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (soft, hard))
    # Recovers: a scrape is answered once descriptors are back.
    status, body = wait_until(lambda: _try_scrape(mport), 15,
                              interval=0.2, what="a scrape after EMFILE")
    err = d.read_stderr()
    assert "Error from accept() call" not in err
    assert cpu < 1.0, "store used %.2fs CPU in 2s of EMFILE" % cpu
    paused = int([ln for ln in body.splitlines() if ln.startswith(
        "decoymx_metrics_accept_paused_total ")][0].split()[1])
    warns = [ln for ln in err.splitlines() if "accept" in ln.lower()]
    figure("metrics EMFILE", store_cpu_s="%.2f" % cpu, wall_s="%.1f" % (
        time.monotonic() - t0), paused=paused, log_lines=len(warns))
    assert paused >= 1
    assert len(warns) <= 3, "\n".join(warns[:10])


def _try_scrape(port):
    try:
        return scrape(port, timeout=2)
    except OSError:
        return None


def test_metrics_connections_capped_and_bounded(daemon):
    mport = free_port(["127.0.0.1"])
    d = daemon(extra=["metrics 127.0.0.1:%d" % mport])
    socks = []
    try:
        for _ in range(80):
            s = socket.create_connection(("127.0.0.1", mport), 5)
            s.sendall(b"GET /metrics HTTP/1.0\r\n")
            socks.append(s)
        time.sleep(0.5)
        # The store holds at most its cap of them (the rest wait in the
        # listen queue), not one descriptor per client.
        assert open_fds(d.pid) < 32 + 40, open_fds(d.pid)
    finally:
        for s in socks:
            s.close()
    assert _try_scrape(mport) is not None or wait_until(
        lambda: _try_scrape(mport), 15, what="a scrape")
    s = socket.create_connection(("127.0.0.1", mport), 5)
    s.sendall(b"POST /metrics HTTP/1.0\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.0 405")
    s.close()
    s = socket.create_connection(("127.0.0.1", mport), 5)
    s.sendall(b"GET /" + b"x" * 10000)
    assert s.recv(100).startswith(b"HTTP/1.0 431")
    s.close()
    assert scrape(mport, "/metrics?x=1")[0] == 200
    with pytest.raises(Exception) as e:
        scrape(mport, "/other")
    assert "404" in str(e.value)


def count_rows(db):
    if not os.path.exists(db):
        return 0
    try:
        c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
        try:
            return c.execute("SELECT count(*) FROM sessions").fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:       # being created and migrated right now
        return 0


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_deleted_or_replaced_database_is_reopened(daemon, tmp_path, how):
    """Issue 12 #3: nothing written into an unlinked file."""
    d = daemon()
    normal_session(d)
    d.sessions(1)
    t0 = time.monotonic()
    if how == "deleted":
        for sfx in ("", "-wal", "-shm"):
            os.unlink(d.db + sfx)
    else:
        other = str(tmp_path / "other.db")
        assert run_bin("db", "migrate", "--db", other).returncode == 0
        os.rename(other, d.db)
        for sfx in ("-wal", "-shm"):    # as a restore from a backup does
            os.unlink(d.db + sfx)
    # Time to recover: from the fault to the first session after it
    # stored in the new file (each session takes banner-wait, 0.5 s, so
    # the 50 of them are not part of it).
    normal_session(d)
    wait_until(lambda: count_rows(d.db) >= 1, 20, interval=0.05,
               what="the first session in the new database")
    took = time.monotonic() - t0
    for _ in range(49):
        normal_session(d)
    wait_until(lambda: count_rows(d.db) >= 50, 20, interval=0.1,
               what="50 sessions in the new database")
    assert d.stop() == 0
    err = d.stderr
    stored = count_rows(d.db)
    figure("db " + how, completed=50, stored=stored, lost=50 - stored,
           recover_s="%.2f" % took)
    assert stored == 50, err[-3000:]
    assert "was %s while in use" % how in err, err[-3000:]
    assert "store reopened" in err


# ---------------------------------------------------------------- db merge

def stripped_copy(src, dst):
    """dst: src's tables and user_version, with every constraint gone."""
    s = sqlite3.connect(src)
    d = sqlite3.connect(dst)
    for (name,) in s.execute("SELECT name FROM sqlite_master WHERE "
                             "type = 'table' AND name NOT LIKE 'sqlite_%'"):
        cols = [r[1] for r in s.execute("PRAGMA table_info(%s)" % name)]
        d.execute("CREATE TABLE %s(%s)" % (name, ", ".join(cols)))
    d.execute("PRAGMA user_version = %d" %
              s.execute("PRAGMA user_version").fetchone()[0])
    d.commit()
    s.close()
    return d


GOOD_SESSION = dict(
    id=1, uid="00000000000000a1", start_us=1700000000000000,
    end_us=1700000001000000, src_ip="192.0.2.10", src_port=40000,
    dst_ip="198.51.100.1", dst_port=25, mx_pref=10, role="primary",
    greeting_delay_ms=0, helo_verb="EHLO", helo="good.example",
    mail_from="a@example.net", rcpt_total=0, stage="mail",
    reply_code=250, close_reason="quit", bytes_in=10, bytes_out=10,
    commands=3, errors=0, anomalies=0, sensor="s1")

BAD_SESSIONS = [
    ("src_ip", "1.2.3.4\n$ORIGIN evil.example.", "bad source address"),
    ("src_ip", "0.0.0.0/0", "bad source address"),
    ("src_ip", "'; DROP TABLE sessions;--", "bad source address"),
    ("helo", "h" * 5000000, "string field over its bound"),
    ("sensor", "s" * 100000, "bad sensor name"),
    ("uid", "not-hex-at-all!!", "bad uid"),
    ("stage", "bogus", "bad stage"),
    ("src_port", 70000, "port out of range"),
    ("anomalies", 1 << 40, "counter out of range"),
    ("end_us", 1, "session ends before it starts"),
]

GOOD_SYN = dict(id=1, ts_us=1700000000000000, src_ip="192.0.2.10",
                src_port=40000, dst_ip="198.51.100.1", dst_port=25,
                mx_pref=10, role="primary", ver=4, ttl=50, ittl=64, dist=14,
                win=64240, mss=1460, wscale=7, olayout="mss,sok,ts,nop,ws",
                quirks="df,id+", pclass="0", seq=1, sig="4:50+14:0:1460",
                label=None, os_class=None, match="none", retransmits=0)

BAD_SYNS = [
    ("src_ip", "192.0.2.1\n$ORIGIN evil.", "bad source address"),
    ("ver", 9, "bad IP version"),
    ("sig", "x" * 100000, "bad signature"),
    ("ttl", "high", "bad ttl"),
]


def insert(db, table, row):
    db.execute("INSERT INTO %s(%s) VALUES(%s)" % (
        table, ", ".join(row), ", ".join("?" * len(row))),
        list(row.values()))


def test_merge_rejects_hostile_rows(tmp_path):
    """Issue 12 #4: a file with the right version, constraints stripped."""
    ref = str(tmp_path / "ref.db")
    assert run_bin("db", "migrate", "--db", ref).returncode == 0
    hostile = str(tmp_path / "hostile.db")
    h = stripped_copy(ref, hostile)
    insert(h, "sessions", GOOD_SESSION)
    for i, (col, val, _) in enumerate(BAD_SESSIONS):
        row = dict(GOOD_SESSION, id=10 + i, uid="%016x" % (0xb0 + i))
        row[col] = val
        insert(h, "sessions", row)
    insert(h, "syns", GOOD_SYN)
    for i, (col, val, _) in enumerate(BAD_SYNS):
        row = dict(GOOD_SYN, id=10 + i, ts_us=GOOD_SYN["ts_us"] + i + 1)
        row[col] = val
        insert(h, "syns", row)
    h.commit()
    h.close()
    fleet = str(tmp_path / "fleet.db")
    r = run_bin("db", "merge", "--db", fleet, hostile, timeout=120)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, err
    assert "sessions=1 " in out and "syns=1 " in out, out
    assert "rejected=%d" % (len(BAD_SESSIONS) + len(BAD_SYNS)) in out, out
    for _, _, why in BAD_SESSIONS + BAD_SYNS:
        assert why in err, (why, err[:3000])
    c = sqlite3.connect(fleet)
    assert [r[0] for r in c.execute("SELECT ip FROM clients")] == \
        ["192.0.2.10"]
    assert c.execute("SELECT count(*) FROM sessions").fetchone()[0] == 1
    assert c.execute("SELECT max(length(helo)) FROM sessions"
                     ).fetchone()[0] <= 255
    assert c.execute("SELECT count(*) FROM syns").fetchone()[0] == 1
    c.close()
    top = run_bin("report", "top", "ips", "--db", fleet).stdout.decode()
    assert "ORIGIN" not in top and "DROP" not in top
    figure("merge hostile file", merged=1, rejected=len(BAD_SESSIONS) +
           len(BAD_SYNS))


# ------------------------------------------------------- config and CLI gaps

def _junk(t):
    (t / "junk.db").write_bytes(b"not a database at all" * 100)


def _ok_db(t):
    assert run_bin("db", "migrate", "--db", t / "ok.db").returncode == 0


def _conf(text):
    def make(t):
        (t / "c.conf").write_bytes(text)
    return make


# name, setup(tmp_path), argv (with {t} for the dir), exit status,
# stderr must say, files that must not exist afterwards
CLI_CASES = [
    ("recount of a missing db", None,
     ["db", "recount", "--db", "{t}/missing.db"], 1,
     "No such file", ["missing.db"]),
    ("merge of a missing file", None,
     ["db", "merge", "--db", "{t}/new.db", "{t}/missing.db"], 1,
     "missing.db", ["new.db", "new.db-wal", "new.db-shm"]),
    ("merge of a junk file", _junk,
     ["db", "merge", "--db", "{t}/new.db", "{t}/junk.db"], 1,
     "junk.db", ["new.db", "new.db-wal", "new.db-shm"]),
    ("export --ttl abc", _ok_db,
     ["export", "rbldnsd", "--db", "{t}/ok.db", "-o", "{t}/z", "--ttl",
      "abc"], 2, "--ttl: 'abc' is not a TTL", ["z"]),
    ("export --ttl 1x", _ok_db,
     ["export", "rbldnsd", "--db", "{t}/ok.db", "-o", "{t}/z", "--ttl",
      "1x"], 2, "--ttl: '1x' is not a TTL", ["z"]),
    ("export --ttl too big", _ok_db,
     ["export", "rbldnsd", "--db", "{t}/ok.db", "-o", "{t}/z", "--ttl",
      "99999999999w"], 2, "is not a TTL", ["z"]),
    ("run -n with --ttl abc",
     _conf(b"listen 127.0.0.1:2525\nexport rbldnsd /tmp/z every 1h "
           b"--ttl abc\n"),
     ["run", "-n", "-c", "{t}/c.conf"], 2, "c.conf:2:", []),
    ("max-clients with a NUL",
     _conf(b"listen 127.0.0.1:2525\nmax-clients 5\0garbage\n"),
     ["run", "-n", "-c", "{t}/c.conf"], 2, "c.conf:2: NUL byte", []),
    ("--limit overflow", _ok_db,
     ["report", "sessions", "--db", "{t}/ok.db", "--limit",
      "99999999999999999999999"], 2, "bad --limit", []),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_gap(tmp_path, case):
    name, setup, argv, status, says, absent = case
    if setup is not None:
        setup(tmp_path)
    r = run_bin(*[a.format(t=tmp_path) for a in argv])
    err = r.stderr.decode(errors="replace")
    assert r.returncode == status, (r.returncode, err)
    assert says in err, err
    for f in absent:
        assert not (tmp_path / f).exists(), f


def test_cli_good_ttls_still_work(tmp_path):
    _ok_db(tmp_path)
    for ttl in ("3600", "1h", "2d", "30m", "1w", "45s"):
        r = run_bin("export", "rbldnsd", "--db", tmp_path / "ok.db",
                    "--ttl", ttl)
        assert r.returncode == 0, r.stderr
        assert b"$TTL " + ttl.encode() + b"\n" in r.stdout


def test_bidi_override_escaped_in_every_output(daemon):
    """Issue 12 #6: U+202E and other Cf characters never pass raw."""
    d = daemon()
    helo = "evil\u202egpj.exe\u2066x\u200b.example".encode()
    s = socket.create_connection(("127.0.0.1", d.port), 10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO " + helo + b"\r\nQUIT\r\n")
    while f.readline():
        pass
    s.close()
    d.sessions(1)
    for fmt in ("csv", "json", "table"):
        r = run_bin("report", "sessions", "--db", d.db, "--format", fmt)
        assert r.returncode == 0
        out = r.stdout
        for cf in ("\u202e", "\u2066", "\u200b"):
            assert cf.encode() not in out, (fmt, out)
        assert b"evil" in out
    js = run_bin("report", "sessions", "--db", d.db, "--format",
                 "json").stdout
    assert b"\\u202e" in js and b"\\u2066" in js


# ------------------------------------------------------- faults under load

class Load:
    """
    Client threads running short SMTP sessions (EHLO, MAIL, RCPT, QUIT)
    from 127.0.12.N, each remembering (a unique HELO name, the time) of
    every session that completed (221 to QUIT).  Bounded in count and
    time.
    """

    def __init__(self, port, threads=4, max_sessions=4000, seconds=20.0):
        self.port = port
        self.done = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.max = max_sessions
        self.deadline = time.monotonic() + seconds
        self.threads = [threading.Thread(target=self.run, args=(i,),
                                         daemon=True)
                        for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def one(self, src, n):
        s = socket.create_connection(("127.0.0.1", self.port), 5,
                                     source_address=(src, 0))
        helo = "load-%s-%d.example.org" % (src.split(".")[-1], n)
        try:
            s.settimeout(5)
            f = s.makefile("rb")
            if not f.readline().startswith(b"220"):
                return
            s.sendall(b"EHLO " + helo.encode() + b"\r\nMAIL FROM:"
                      b"<a@example.net>\r\nRCPT TO:<b@example.org>\r\n"
                      b"QUIT\r\n")
            last = b""
            for _ in range(20):
                line = f.readline()
                if not line:
                    break
                last = line
                if line.startswith(b"221"):
                    break
            if last.startswith(b"221"):
                with self.lock:
                    self.done.append((helo, time.monotonic()))
        finally:
            s.close()

    def run(self, i):
        src = "127.0.12.%d" % (i + 1)
        n = 0
        while (not self.stop.is_set() and len(self.done) < self.max and
               time.monotonic() < self.deadline):
            n += 1
            time.sleep(0.005)           # busy, not beyond the store
            try:
                self.one(src, n)
            except OSError:
                time.sleep(0.01)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)
        return list(self.done)


def stored_helos(db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return {h for (h,) in c.execute(
            "SELECT helo FROM sessions WHERE helo LIKE 'load-%'")}
    finally:
        c.close()


def restart_and_check(tmp_path, db, name):
    """The daemon starts again on the database: returns seconds to serve."""
    t0 = time.monotonic()
    d = Daemon(tmp_path / ("restart-" + name))
    d.db = db
    d.lines = [ln if not ln.startswith("db ") else "db %s" % db
               for ln in d.lines]
    d.start()
    normal_session(d)
    took = time.monotonic() - t0
    assert d.stop() == 0, d.stderr[-2000:]
    r = run_bin("db", "check", "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    return took


@pytest.mark.parametrize("victim", ["network", "store"])
def test_kill_9_under_load(daemon, tmp_path, victim):
    """
    kill -9 of one process at a random point under load: every session
    that completed is stored, except those still uncommitted (the last
    batch interval, and for the network process its queue).
    """
    import random
    # banner-wait 0: the load is whole dialogues as fast as they go
    d = daemon(extra=["batch-interval 100ms", "batch-max 200",
                      "log-level warn", "banner-wait 0"])
    d.expect_status = None
    net = d.net_pid()
    load = Load(d.port).start()
    time.sleep(1.5 + random.random() * 1.5)
    t_kill = time.monotonic()
    os.kill(net if victim == "network" else d.pid, signal.SIGKILL)
    done = load.finish()
    # The survivor notices and goes, bounded.
    if victim == "network":
        rc = d.wait(timeout=30)
        assert rc == 1          # the network process went away
    else:
        d.proc.wait(5)
        d.stopped = True
        d._err.close()
        wait_until(lambda: not os.path.exists("/proc/%d" % net) or
                   open("/proc/%d/stat" % net).read().split()[2] == "Z",
                   15, what="the network process to go")
        wait_until(lambda: not port_listening(d.port), 15,
                   what="the port to be released")
    stored = stored_helos(d.db)
    # Sessions that ended after the kill could not be stored: not lost.
    done = [(h, t) for h, t in done if t < t_kill]
    completed = {h for h, _ in done}
    lost = completed - stored
    # Records reach the store in the order the sessions ended, and are
    # committed in that order: what is lost is the tail that had not
    # been committed (in the store's batch, the socket or the network
    # process's queue), never a hole before a committed session.  The
    # slack covers threads that ended sessions at the same moment.
    t_last = max([t for h, t in done if h in stored], default=0.0)
    holes = [h for h, t in done if t < t_last - 0.5 and h not in stored]
    recover = restart_and_check(tmp_path, d.db, victim)
    figure("kill -9 " + victim, completed=len(completed),
           stored=len(stored & completed), lost=len(lost),
           lost_tail_s="%.2f" % (t_kill - t_last), recover_s="%.2f" % recover)
    assert len(completed) > 20, "load too small: %d" % len(completed)
    assert len(stored & completed) > 0
    assert not holes, "%d sessions lost before a committed one" % len(holes)
    assert stored <= {h for h, _ in load.done}, \
        "stored sessions no client completed"


def test_descriptor_exhaustion_of_each_process(daemon):
    """Both processes out of descriptors: pause, no flood, recover."""
    mport = free_port(["127.0.0.1"])
    d = daemon(extra=["metrics 127.0.0.1:%d" % mport])
    net = d.net_pid()
    lims = {}
    for pid in (net, d.pid):
        lims[pid] = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        lim = open_fds(pid) + 3
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (lim, lims[pid][1]))
    held = []
    try:
        for _ in range(30):
            try:
                s = socket.create_connection(("127.0.0.1", d.port), 2)
                held.append(s)
            except OSError:
                break
            try:
                s2 = socket.create_connection(("127.0.0.1", mport), 2)
                s2.sendall(b"GET /metrics HTTP/1.0\r\n")
                held.append(s2)
            except OSError:
                pass
        cpu0 = proc_cpu_s(net) + proc_cpu_s(d.pid)
        time.sleep(2.0)
        cpu = proc_cpu_s(net) + proc_cpu_s(d.pid) - cpu0
    finally:
        for s in held:
            s.close()
        for pid, lim in lims.items():
            resource.prlimit(pid, resource.RLIMIT_NOFILE, lim)
    t0 = time.monotonic()
    wait_until(lambda: _try_session(d), 20, interval=0.2,
               what="a session after descriptor exhaustion")
    took = time.monotonic() - t0
    err = d.read_stderr()
    figure("EMFILE both processes", cpu_s="%.2f" % cpu,
           recover_s="%.2f" % took,
           log_lines=len([ln for ln in err.splitlines()
                          if "accept" in ln.lower()]))
    assert cpu < 1.0, cpu
    assert len([ln for ln in err.splitlines()
                if "Too many open files" in ln]) < 20, err[-3000:]
    assert _try_scrape(mport) is not None


def _try_session(d):
    try:
        normal_session(d)
        return True
    except (OSError, AssertionError):
        return False


def test_corrupt_page_warns_at_start(tmp_path):
    """quick_check at start: a damaged page is named, the daemon serves."""
    db = str(tmp_path / "d.db")
    assert run_bin("db", "migrate", "--db", db).returncode == 0
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode = DELETE")
    c.execute("CREATE TABLE filler(x)")
    c.executemany("INSERT INTO filler VALUES(?)",
                  [("x" * 500,) for _ in range(400)])
    c.commit()
    c.close()
    size = os.path.getsize(db)
    with open(db, "r+b") as f:          # a page of filler, in the middle
        f.seek(size - 20 * 4096 + 100)
        f.write(os.urandom(3000))
    p, port, err, _ = start_raw(tmp_path, db=db)
    try:
        wait_until(lambda: "store started" in err.read_text() or
                   p.poll() is not None, 15, what="start")
        text = err.read_text()
        assert "failed its integrity check" in text, text
        assert "db check" in text
    finally:
        p.send_signal(signal.SIGTERM)
        wait_exit(p, 30)


# --------------------------------- disk full, read-only: a private tmpfs

def have_unshare():
    if os.geteuid() != 0:
        return False
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                       capture_output=True)
    return r.returncode == 0


def start_in_tmpfs(tmp_path, size="3m"):
    """
    decoymx in a private mount namespace with its database on a small
    tmpfs at tmp_path/mnt (seen from here as /proc/PID/root/...).
    """
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    port = free_port(["127.0.0.1"])
    conf = tmp_path / "c.conf"
    db = str(mnt / "d.db")
    # one client connects again and again: no returning 421, no wait
    conf.write_text("listen 127.0.0.1:%d\ndb %s\nlog-level info\n"
                    "sensor off\nbatch-interval 100ms\n"
                    "returning-defer off\nbanner-wait 0\n" % (port, db))
    err = tmp_path / "stderr.txt"
    cmd = "mount -t tmpfs -o size=%s tmpfs %s && exec %s run -c %s " \
          "--user root" % (size, mnt, BIN, conf)
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                          "sh", "-c", cmd], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(err, "wb"))
    wait_until(lambda: "store started" in err.read_text() or
               p.poll() is not None, 15, what="start in the tmpfs")
    assert p.poll() is None, err.read_text()
    inside = "/proc/%d/root%s" % (p.pid, mnt)

    class D:
        pass
    d = D()
    d.port, d.pid, d.proc, d.err, d.mnt, d.inside = (port, p.pid, p, err,
                                                      str(mnt), inside)
    d.db = db
    return d


def ns_count(d):
    """Sessions in the database inside the namespace (0 if unreadable)."""
    import json
    r = nsexec(d, str(BIN), "report", "sessions", "--db", d.db, "--format",
               "json", "--limit", "100000")
    try:
        return len(json.loads(r.stdout)) if r.returncode == 0 else 0
    except ValueError:
        return 0


def nsexec(d, *cmd):
    return subprocess.run(["nsenter", "-t", str(d.pid), "-m", "--", *cmd],
                          capture_output=True, timeout=30)


@pytest.mark.skipif(not have_unshare(), reason="needs root and unshare -m")
def test_read_only_database_at_start(tmp_path):
    """A database on a read-only mount: exit 1 at once, with the cause."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    port = free_port(["127.0.0.1"])
    db = mnt / "d.db"
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:%d\ndb %s\nsensor off\n" % (port, db))
    cmd = ("mount -t tmpfs -o size=3m tmpfs {m} && {b} db migrate --db {d} "
           ">/dev/null && mount -o remount,ro {m} && exec {b} run -c {c} "
           "--user root").format(m=mnt, b=BIN, d=db, c=conf)
    t0 = time.monotonic()
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-c", cmd], capture_output=True, timeout=30)
    took = time.monotonic() - t0
    err = r.stderr.decode(errors="replace")
    figure("read-only database", status=r.returncode, exit_s="%.2f" % took)
    assert r.returncode == 1, err
    assert "not writable" in err or "read-only" in err.lower(), err
    assert not port_listening(port)


@pytest.mark.skipif(not have_unshare(), reason="needs root and unshare -m")
@pytest.mark.parametrize("fault", ["disk-full"])
def test_disk_full_and_read_only_recover(tmp_path, fault):
    d = start_in_tmpfs(tmp_path)
    try:
        for _ in range(5):
            normal_session(d)
        wait_until(lambda: ns_count(d) >= 5, 15, what="5 rows")
        if fault == "disk-full":
            r = nsexec(d, "sh", "-c", "dd if=/dev/zero of=%s/filler bs=64k "
                       "2>/dev/null; true" % d.mnt)
        else:
            r = nsexec(d, "mount", "-o", "remount,ro", d.mnt)
        assert r.returncode == 0, r.stderr
        n = 200
        for _ in range(n):
            normal_session(d)
        # Nothing can be written: the records wait and are retried.
        time.sleep(1.0)
        assert p_alive(d)
        t0 = time.monotonic()
        if fault == "disk-full":
            r = nsexec(d, "rm", "-f", d.mnt + "/filler")
        else:
            r = nsexec(d, "mount", "-o", "remount,rw", d.mnt)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: ns_count(d) >= 5 + n, 30, interval=0.1,
                   what="the waiting sessions to be written")
        took = time.monotonic() - t0
        stored = ns_count(d)
    finally:
        d.proc.send_signal(signal.SIGTERM)
        rc, _ = wait_exit(d.proc, 30)
    text = d.err.read_text()
    figure(fault, completed=5 + n, stored=stored, lost=5 + n - stored,
           recover_s="%.2f" % took)
    assert rc == 0, text[-3000:]
    assert stored == 5 + n
    assert "lost" not in text
    assert "disk is full" in text, text[-3000:]     # the fault did bite


def p_alive(d):
    return d.proc.poll() is None


def test_merge_row_without_sensor_takes_a_clean_file_name(tmp_path):
    ref = str(tmp_path / "ref.db")
    assert run_bin("db", "migrate", "--db", ref).returncode == 0
    other = str(tmp_path / "mx 10+old.db")
    h = stripped_copy(ref, other)
    insert(h, "sessions", dict(GOOD_SESSION, sensor=None))
    h.commit()
    h.close()
    fleet = str(tmp_path / "fleet.db")
    r = run_bin("db", "merge", "--db", fleet, other)
    assert r.returncode == 0 and b"sessions=1 " in r.stdout, r
    c = sqlite3.connect(fleet)
    assert c.execute("SELECT sensor FROM sessions").fetchall() == \
        [("mx_10_old",)]
    c.close()


def test_metrics_scrapes_open_at_stop(daemon):
    """Open, unfinished scrapes at SIGTERM: a clean stop, nothing leaked."""
    mport = free_port(["127.0.0.1"])
    d = daemon(extra=["metrics 127.0.0.1:%d" % mport])
    socks = []
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", mport), 5)
        s.sendall(b"GET /metrics HTTP/1.0\r\n")
        socks.append(s)
    wait_until(lambda: open_fds(d.pid) >= 5, 5, what="the connections")
    time.sleep(0.2)
    assert d.stop() == 0
    d.check_sanitizers()
    for s in socks:
        s.close()


def test_stop_waits_while_records_keep_coming(daemon, monkeypatch):
    """A backlog at SIGTERM (after a burst) longer than one 10-second
    wait: the store keeps reading while records come, writes them all
    and exits 0; the network process is not killed.  The store is made
    slow (20 ms a record) so that 700 sessions take about 14 s."""
    monkeypatch.setenv("DECOYMX_FAULT", "store-slow")
    d = daemon(extra=["banner-wait 0", "queue-size 5000"])
    n = 700
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", d.port), 5) as s:
            s.sendall(b"QUIT\r\n")
            s.recv(512)
    assert d.stop(timeout=60) == 0, d.read_stderr()[-3000:]
    err = d.read_stderr()
    assert "store still receiving, waiting" in err and "waited_s=10" in err, \
        err[-3000:]
    assert "killed" not in err and "deadline reached" not in err, \
        err[-3000:]
    assert len(read_sessions(d.db)) == n
