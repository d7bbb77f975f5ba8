# SPDX-License-Identifier: ISC
"""
Configuration errors and start-up failures: exit status 2 with
FILE:LINE: messages for bad configuration, 1 for runtime failures.
"""
import os
import re
import socket

import pytest

from conftest import USER, free_port, listening_ports, report, run_bin


def write_conf(tmp_path, lines, name="decoymx.conf"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def base_lines(tmp_path, port):
    return ["# a comment line", "",
            "listen 127.0.0.1:%d mx 10   # trailing comment" % port,
            "real-mx 127.0.0.1 mx 20",
            "hostname mx10.decoy.test",
            "db %s" % (tmp_path / "decoymx.db")]


def run_daemon(conf, *args, timeout=15):
    return run_bin("run", "-c", conf, "--user", USER, *args, timeout=timeout)


@pytest.mark.parametrize("bad, key", [
    ("idle-timeout banana", "idle-timeout"),
    ("listen 127.0.0.1 mx 10", "listen"),
    ("listen 127.0.0.1:99999", "listen"),
    ("real-mx 127.0.0.1", "real-mx"),
    ("real-mx not-an-ip mx 20", "real-mx"),
    ("defer-stage quit", "defer-stage"),
    ("defer-reply 450 5.7.1 no way", "defer-reply"),
    ("defer-reply 450", "defer-reply"),
    ("pipelining maybe", "pipelining"),
    ("max-errors 0", "max-errors"),
    ("max-errors -3", "max-errors"),
    ("hostname bad/name", "hostname"),
    ("hostname two words", "hostname"),
    ("log-level loud", "log-level"),
    ("batch-interval 0", "batch-interval"),
    ("queue-size lots", "queue-size"),
    # a second value would silently replace the first
    ("hostname other.decoy.test", "hostname: duplicate key"),
    ("real-mx 127.0.0.1 mx 30", "real-mx"),
    ("returning-defer sometimes", "returning-defer"),
    ("client-table-size 1", "client-table-size"),
])
def test_broken_line_names_file_line_and_key(tmp_path, bad, key):
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines.append(bad)
    lineno = len(lines)
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf)
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert re.search(r"^%s:%d: .*%s" % (re.escape(conf), lineno,
                                         re.escape(key)), err, re.M), err
    assert not os.path.exists(tmp_path / "decoymx.db")
    assert (("%08X" % int.from_bytes(socket.inet_aton("127.0.0.1"),
             "little"), port) not in listening_ports())


@pytest.mark.parametrize("opts, why", [
    ("--ttl abc", "--ttl: 'abc' is not a TTL"),
    ("--ttl 60 --soa \"1 2\"", "--soa: '1 2' is not 8 words"),
    ("--max-age forever", "--max-age: 'forever' is not a duration"),
    ("--code nosuch=127.0.0.5", "--code: 'nosuch=127.0.0.5' is not"),
    ("--no-such-option 1", "--no-such-option: unknown option"),
    ("--ttl", "--ttl: needs a value"),
])
def test_bad_export_line_names_the_option(tmp_path, opts, why):
    """run -n refuses a bad export line with file:line: and the option."""
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines.append("export rbldnsd %s every 5m %s" % (tmp_path / "bl", opts))
    conf = write_conf(tmp_path, lines)
    r = run_bin("run", "-n", "-c", conf, "--user", USER)
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert re.search(r"^%s:%d: export: %s" % (re.escape(conf), len(lines),
                                               re.escape(why)), err,
                     re.M), err
    assert r.stdout == b""


def test_unknown_key(tmp_path):
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines.insert(3, "frobnicate yes")
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert re.search(r"^%s:4: .*frobnicate" % re.escape(conf), err, re.M), err


def test_every_bad_line_is_reported(tmp_path):
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port) + ["idle-timeout x", "bogus-key 1"]
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf)
    err = r.stderr.decode()
    assert r.returncode == 2
    assert "%s:%d:" % (conf, len(lines) - 1) in err, err
    assert "%s:%d:" % (conf, len(lines)) in err, err


@pytest.mark.parametrize("code", ["550", "554", "500", "250", "354", "499"])
def test_defer_reply_never_5xx(tmp_path, code):
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines.append("defer-reply %s 4.7.1 go away" % code)
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf, "-n")
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, r.stdout, err)
    assert "%s:%d: defer-reply" % (conf, len(lines)) in err, err


@pytest.mark.parametrize("code", ["421", "450", "451", "452"])
def test_defer_reply_4xx_accepted(tmp_path, code):
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines.append("defer-reply %s 4.7.1 come back later" % code)
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf, "-n")
    assert r.returncode == 0, r.stderr.decode()
    assert ("defer-reply %s 4.7.1 come back later" % code) in r.stdout.decode()


def test_check_mode_prints_config_without_binding(tmp_path):
    # The port is taken: -n must not try to bind it (nor open the db).
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        conf = write_conf(tmp_path, base_lines(tmp_path, port))
        r = run_daemon(conf, "-n")
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    assert "listen 127.0.0.1:%d mx 10" % port in out
    assert "primary" in out
    assert "real-mx 127.0.0.1 mx 20" in out
    assert "hostname mx10.decoy.test" in out
    assert not os.path.exists(tmp_path / "decoymx.db")


def test_command_line_overrides(tmp_path):
    port = free_port(["127.0.0.1"])
    port2 = free_port(["127.0.0.1"])
    conf = write_conf(tmp_path, base_lines(tmp_path, port))
    r = run_daemon(conf, "-n", "--listen", "127.0.0.2:%d,mx=40" % port2,
                   "--db", str(tmp_path / "other.db"))
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    assert "listen 127.0.0.2:%d mx 40" % port2 in out
    assert "127.0.0.1:%d" % port not in out     # flags replace listeners
    assert "backup" in out
    assert "db %s" % (tmp_path / "other.db") in out
    r = run_daemon(conf, "-n", "--listen", "127.0.0.2:%d,mx=x" % port2)
    assert r.returncode == 2


def test_no_listener(tmp_path):
    lines = [l for l in base_lines(tmp_path, 1) if not l.startswith("listen")]
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert "listen" in err
    assert not os.path.exists(tmp_path / "decoymx.db")


def test_decoy_with_real_mx_preference(tmp_path):
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines[2] = "listen 127.0.0.1:%d mx 20" % port
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf, "-n")
    assert r.returncode == 2
    assert "20" in r.stderr.decode()


def test_missing_config_file(tmp_path):
    r = run_daemon(str(tmp_path / "nope.conf"))
    assert r.returncode == 2
    assert "nope.conf" in r.stderr.decode()


def test_unknown_command_and_usage():
    r = run_bin("frobnicate")
    assert r.returncode == 2
    assert b"usage" in r.stderr
    r = run_bin("run", "--no-such-flag")
    assert r.returncode == 2
    r = run_bin("version")
    assert r.returncode == 0 and r.stdout.startswith(b"decoymx ")


def test_unwritable_database_path(tmp_path):
    plain_file = tmp_path / "somefile"
    plain_file.write_text("not a directory\n")
    db = plain_file / "x.db"
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines[-1] = "db %s" % db
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf, timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 1, (r.returncode, err)
    assert str(db) in err, err
    # Nothing left behind: the port is free again, no process lingers.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_database_in_missing_directory(tmp_path):
    db = tmp_path / "no" / "such" / "dir" / "x.db"
    port = free_port(["127.0.0.1"])
    lines = base_lines(tmp_path, port)
    lines[-1] = "db %s" % db
    conf = write_conf(tmp_path, lines)
    r = run_daemon(conf, timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 1, (r.returncode, err)
    assert str(db) in err, err
    assert not db.parent.exists()


def test_listen_address_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        conf = write_conf(tmp_path, base_lines(tmp_path, port))
        r = run_daemon(conf)
    err = r.stderr.decode()
    assert r.returncode == 1, (r.returncode, err)
    assert str(port) in err


def test_report_missing_database(tmp_path):
    db = tmp_path / "missing.db"
    for fmt in ("json", "csv", "table"):
        r = report(str(db), fmt)
        assert r.returncode != 0
        assert str(db) in r.stderr.decode()
        assert not db.exists(), "report created the database"
    r = run_bin("report", "sessions", "--db", str(db), "--format", "xml")
    assert r.returncode == 2
    assert not db.exists()
