# SPDX-License-Identifier: ISC
"""
Which words are options for "decoymx run" and "decoymx db": the syntax
getopt_long gave them, kept on common/opt.c's tables.  run takes its
options anywhere and no other word.  db reads options up to its first
word (the subcommand), then options again up to the next word, and
hands that word and every one after it to the subcommand as they are.
"""
import re

import pytest

from conftest import USER, free_port, run_bin


def run_n(tmp_path, *args):
    """run -n ... in tmp_path: (exit status, the dumped config's lines)."""
    r = run_bin("run", *args, cwd=tmp_path)
    return r.returncode, r.stdout.decode().splitlines(), r.stderr.decode()


@pytest.fixture
def setup(tmp_path):
    port = free_port(["127.0.0.1"])
    listen = "127.0.0.1:%d" % port
    conf = tmp_path / "c.conf"
    conf.write_text("listen %s\ndb %s/file.db\nuser %s\n"
                    % (listen, tmp_path, USER))
    return tmp_path, conf, listen


@pytest.mark.parametrize("form", [
    lambda c, l, d: ["-n", "--listen", l, "--db", d, "--user", USER],
    lambda c, l, d: ["--db=" + d, "--listen=" + l, "--check",
                     "--user=" + USER],
    lambda c, l, d: ["--lis", l, "--d", d, "--u", USER, "--che"],
    lambda c, l, d: ["--db", d, "-nc", c],
    lambda c, l, d: ["-nc" + str(c), "--db", d],
    lambda c, l, d: ["--conf=" + str(c), "--db", d, "-n", "--"],
])
def test_run_accepts(setup, form):
    tmp, conf, listen = setup
    db = str(tmp / "flag.db")
    rc, out, err = run_n(tmp, *form(str(conf), listen, db))
    assert rc == 0, err
    assert out[-1] == "# configuration OK"
    assert "db " + db in out and "listen " + listen in out
    assert "user " + USER in out


def test_run_listen_flags_replace_the_files(setup):
    tmp, conf, listen = setup
    other = "127.0.0.1:%d" % free_port(["127.0.0.1"])
    rc, out, err = run_n(tmp, "-n", "-c", conf, "--listen", other)
    assert rc == 0, err
    assert "listen " + other in out and "listen " + listen not in out


@pytest.mark.parametrize("extra", [
    ["word"],                   # run takes no word
    ["--", "-n"],               # after "--" every word is one
    ["-"],
    ["--c", "x"],               # --config or --check
    ["-l", "127.0.0.1:25"],     # --listen, --db, --user have no letter
    ["-d", "x.db"],
    ["-u", "nobody"],
    ["--check=yes"],
    ["--nosuch"],
    ["--listen"],               # a value is needed
])
def test_run_refuses(setup, extra):
    tmp, conf, _ = setup
    rc, out, err = run_n(tmp, "-n", "-c", conf, *extra)
    assert rc == 2 and out == []
    assert "usage: decoymx run" in err
    assert not (tmp / "file.db").exists()


def test_run_too_many_listen(setup):
    tmp, conf, _ = setup
    many = []
    for i in range(200):
        many += ["--listen", "127.0.0.1:%d" % (20000 + i)]
    rc, out, err = run_n(tmp, "-n", "-c", conf, *many)
    assert rc == 2 and out == []
    assert re.search(r"more than \d+ --listen", err)


MIGRATED = re.compile(r"^database (.*) at schema version \d+$")


def db_run(tmp_path, *args):
    r = run_bin("db", *args, cwd=tmp_path)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


@pytest.mark.parametrize("args", [
    ["migrate", "--db", "p.db"],
    ["--db", "p.db", "migrate"],
    ["-d", "p.db", "migrate"],
    ["-dp.db", "migrate"],
    ["--db=p.db", "migrate"],
    ["--d", "p.db", "migrate"],
    ["migrate", "-d", "p.db"],
    ["--", "migrate", "--db", "p.db"],
    ["--db", "other.db", "migrate", "--db", "p.db"],   # the last one
    ["migrate", "--db", "p.db", "--"],
])
def test_db_accepts(tmp_path, args):
    rc, out, err = db_run(tmp_path, *args)
    assert rc == 0, err
    assert MIGRATED.match(out.strip()).group(1) == "p.db"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.db"]


@pytest.mark.parametrize("args", [
    ["--older-than", "36h", "prune", "--db", "p.db"],
    ["prune", "--older-than=36h", "-d", "p.db"],
    ["--db", "p.db", "prune", "--old", "36h"],
])
def test_db_prune_older_than_either_side(tmp_path, args):
    assert db_run(tmp_path, "migrate", "--db", "p.db")[0] == 0
    rc, out, err = db_run(tmp_path, *args)
    assert rc == 0, err
    assert out.startswith("database p.db: pruned before ")


@pytest.mark.parametrize("args", [
    ["migrate", "x", "--db", "p.db"],     # migrate is given 3 words
    ["migrate", "--", "--db", "p.db"],
    ["--db", "p.db"],                     # no subcommand
    ["--db", "p.db", "--"],
    ["-o", "36h", "prune", "--db", "p.db"],   # --older-than has no letter
    ["--bogus", "migrate", "--db", "p.db"],
    ["migrate", "--db", "p.db", "--bogus"],
    ["migrate", "--db"],
    ["-", "migrate", "--db", "p.db"],     # "-" is a word: the command
    ["recount", "--older-than", "1d", "--db", "p.db"],
])
def test_db_refuses(tmp_path, args):
    rc, out, err = db_run(tmp_path, *args)
    assert rc == 2 and out == ""
    assert "usage: decoymx db" in err
    assert list(tmp_path.iterdir()) == []


def test_db_merge_words_after_the_first_are_files(tmp_path):
    for name in ("a.db", "-x.db"):
        assert db_run(tmp_path, "migrate", "--db", "./" + name)[0] == 0
    # "--db" after the first file is a file name for merge, not an option
    rc, out, err = db_run(tmp_path, "merge", "--db", "f.db", "a.db",
                          "--db", "a.db")
    assert rc == 1 and "decoymx db merge: --db: " in err
    assert not (tmp_path / "f.db").exists()
    # and "--" lets a file name begin with "-"
    rc, out, err = db_run(tmp_path, "merge", "--db", "f.db", "--", "-x.db")
    assert rc == 0, err
    assert out.startswith("merged -x.db: ")
    assert (tmp_path / "f.db").exists()
