# SPDX-License-Identifier: ISC
"""
GeoIP files as shipped (issue 13): several "geoip" files of a kind, such
as ip-location-db's IPv4 and IPv6 files, each address looked up in the
files of its family; a file whose database type names another kind is
a configuration error naming the file, its line and its type.
"""
import subprocess

import pytest

from conftest import REPO, USER, Smtp, run_bin


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    d = tmp_path_factory.mktemp("mmdb")
    subprocess.run([str(REPO / "scripts" / "make-mmdb-fixtures"), str(d)],
                   check=True, timeout=60)
    return d


def test_split_files_answer_by_family(daemon, fx):
    d = daemon(addrs=("127.0.0.1", "::1"), extra=[
        "geoip country %s" % (fx / "flat-v4.mmdb"),
        "geoip country %s" % (fx / "flat-v6.mmdb"),
        "geoip asn %s" % (fx / "asn-v4.mmdb"),
        "geoip asn %s" % (fx / "asn-v6.mmdb")])
    for host in ("127.0.0.1", "::1"):
        with Smtp(host, d.port) as s:
            assert s.cmd("QUIT")[0] == 221
    rows = d.sessions(2)
    got = {r["src_ip"]: (r["country"], r["asn"], r["as_org"]) for r in rows}
    assert got == {"127.0.0.1": ("FI", 64540, "Four Net"),
                   "::1": ("NO", 64560, "Six Net")}


def conf(tmp_path, lines):
    p = tmp_path / "d.conf"
    p.write_text("listen 127.0.0.1:2525\ndb %s\n%s\n" % (
        tmp_path / "x.db", "\n".join(lines)))
    return p


@pytest.mark.parametrize("kind,file,type_", [
    ("asn", "country.mmdb", "GeoIP2-Country"),
    ("country", "asn-v4.mmdb", "iptoasn-asn-ipv4"),
    ("city", "asn.mmdb", "GeoLite2-ASN")])
def test_file_of_another_kind_is_a_config_error(tmp_path, fx, kind, file,
                                                type_):
    p = conf(tmp_path, ["geoip country %s" % (fx / "flat-v4.mmdb"),
                        "geoip %s %s" % (kind, fx / file)])
    want = "%s:4: geoip %s %s: database type %s is not of kind %s" % (
        p, kind, fx / file, type_, kind)
    r = run_bin("run", "-n", "-c", p)
    assert r.returncode == 2, r.stderr
    assert want in r.stderr.decode(), r.stderr
    r = run_bin("run", "-c", p, "--user", USER, timeout=30)
    assert r.returncode == 2, r.stderr
    assert want in r.stderr.decode(), r.stderr


def test_too_many_or_repeated_files(tmp_path, fx):
    p = conf(tmp_path, ["geoip asn %s" % (fx / "asn.mmdb")] * 2)
    r = run_bin("run", "-n", "-c", p)
    assert r.returncode == 2 and b":4: geoip: " in r.stderr, r.stderr
    assert b"given twice" in r.stderr
    p = conf(tmp_path, ["geoip asn %s/a%d.mmdb" % (fx, i) for i in range(5)])
    r = run_bin("run", "-n", "-c", p)
    assert r.returncode == 2 and b":7: geoip: at most 4 asn files" in \
        r.stderr, r.stderr
