# SPDX-License-Identifier: ISC
"""
-h and --help on every command and subcommand: the usage on stdout,
exit 0, nothing run; and "did you mean" for a mistyped command, report
or configuration key.
"""
import re

import pytest

from conftest import run_bin
from test_docs import config_keys

COMMANDS = ["run", "report", "export", "db", "geo", "sensor", "version",
            "help"]
SUB = [("report", s) for s in ("summary", "top", "ip", "timeline",
                               "sessions", "html")] + \
    [("export", f) for f in ("rbldnsd", "postfix", "nft", "plain", "json",
                             "ipset", "abuseipdb", "stix", "misp")] + \
    [("db", s) for s in ("migrate", "check", "recount", "merge", "prune")] + \
    [("geo", "lookup")]


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_top_level(flag):
    r = run_bin(flag)
    assert r.returncode == 0 and r.stderr == b""
    out = r.stdout.decode()
    for c in COMMANDS:
        assert "decoymx %s" % c in out


def test_the_lists_are_every_command_and_subcommand():
    # What "decoymx -h" lists is what the tests below walk.
    out = run_bin("-h").stdout.decode()
    lines = re.findall(r"^  decoymx (\w+) ?(.*)$", out, re.M)
    assert [c for c, _ in lines] == COMMANDS
    rest = dict(lines)

    def words(alt):     # "a|b KIND|c [--x ...]": a, b, c
        head = re.split(r" \[| --", alt)[0]
        return [w.split(" ")[0] for w in head.split("|")]
    listed = {(cmd, w) for cmd in ("report", "export", "geo")
              for w in words(rest[cmd])}
    listed |= {("db", w) for alt in rest["db"].split(" | ")
               for w in words(re.sub(r"^db ", "", alt))}
    assert listed == set(SUB)


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command(cmd, flag, tmp_path):
    # A --db that does not exist: nothing may be opened or created.
    db = tmp_path / "none.db"
    r = run_bin(cmd, flag, "--db", db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == b""
    assert r.stdout.startswith(b"usage:") and b"decoymx " + cmd.encode() \
        in r.stdout
    assert not db.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cmd,sub", SUB)
def test_every_subcommand(cmd, sub, tmp_path):
    for args in ((cmd, sub, "-h"), (cmd, sub, "x", "--help"),
                 ("help", cmd, sub)):
        r = run_bin(*args, cwd=tmp_path)
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.startswith(b"usage:"), args
        assert sub.encode() in r.stdout, args
    if cmd == "report":         # its own line, not every report's
        r = run_bin(cmd, sub, "-h")
        assert len(r.stdout.decode().split("decoymx report")) == 2


def test_help_after_double_dash_is_an_argument(tmp_path):
    r = run_bin("report", "summary", "--db", tmp_path / "x.db", "--", "-h")
    assert r.returncode != 0 and not r.stdout.startswith(b"usage:")


@pytest.mark.parametrize("typo,want", [("reprot", "report"),
                                       ("exprot", "export"),
                                       ("verison", "version"),
                                       ("rnu", "run")])
def test_command_typo(typo, want):
    r = run_bin(typo)
    assert r.returncode == 2
    assert ("decoymx: unknown command '%s'; did you mean '%s'?"
            % (typo, want)).encode() in r.stderr


def test_no_suggestion_for_nonsense():
    r = run_bin("frobnicate")
    assert r.returncode == 2
    assert b"did you mean" not in r.stderr


def test_report_typo(tmp_path):
    r = run_bin("report", "sumary", "--db", tmp_path / "x.db")
    assert r.returncode == 2
    assert b"unknown report: sumary; did you mean summary?" in r.stderr


@pytest.mark.parametrize("typo,want", [("log-levle", "log-level"),
                                       ("listne", "listen"),
                                       ("hostnme", "hostname"),
                                       ("event-log", "events-log")])
def test_config_key_typo(tmp_path, typo, want):
    assert want in config_keys()
    conf = tmp_path / "c.conf"
    conf.write_text("listen 127.0.0.1:2525\n%s x\n" % typo)
    r = run_bin("run", "-n", "-c", conf)
    assert r.returncode == 2
    assert ("%s:2: unknown key '%s'; did you mean '%s'?" % (conf, typo, want)
            ).encode() in r.stderr
    conf.write_text("listen 127.0.0.1:2525\nzzzzzz x\n")
    r = run_bin("run", "-n", "-c", conf)
    assert r.returncode == 2
    assert re.search(rb"c\.conf:2: unknown key 'zzzzzz'\n", r.stderr)
