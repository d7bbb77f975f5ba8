# SPDX-License-Identifier: ISC
"""
Geolocation at ingest: the daemon with the .mmdb fixtures written by
scripts/make-mmdb-fixtures stores the country, ASN and AS organisation of
each session; a replaced file is picked up on SIGHUP and on its own; a
missing or corrupt file is a warning and sessions are still stored (unless
geoip-required is yes); "decoymx geo lookup" agrees with mmdblookup.
"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import REPO, USER, Daemon, normal_session, run_bin, wait_until


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    d = tmp_path_factory.mktemp("mmdb")
    subprocess.run([str(REPO / "scripts" / "make-mmdb-fixtures"), str(d)],
                   check=True, timeout=60)
    return d


def geo_lines(fx, country="country.mmdb", asn="asn.mmdb"):
    lines = []
    if country:
        lines.append("geoip country %s" % (fx / country))
    if asn:
        lines.append("geoip asn %s" % (fx / asn))
    return lines


def geo_builds(db):
    """uid -> geo_build, straight from the table (not in the report)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return dict(con.execute("SELECT src_ip, geo_build FROM sessions"))
    finally:
        con.close()


def row_for(d, src, count):
    rows = d.sessions(count, pred=lambda rs: any(r["src_ip"] == src
                                                 for r in rs))
    return [r for r in rows if r["src_ip"] == src][-1]


def test_sessions_get_country_asn_org(daemon, fx):
    d = daemon(extra=geo_lines(fx))
    normal_session(d, src="127.0.0.1")
    normal_session(d, src="127.1.0.1")
    rows = d.sessions(2)
    got = {r["src_ip"]: (r["country"], r["asn"], r["as_org"]) for r in rows}
    assert got["127.0.0.1"] == ("DE", 64500, "Example Net")
    # registered_country fallback; an ASN without an organisation
    assert got["127.1.0.1"] == ("FR", 64501, None)
    assert set(geo_builds(d.db).values()) == {1700000000}


def test_invalid_values_are_null_and_logged(daemon, fx):
    d = daemon(extra=geo_lines(fx))
    normal_session(d, src="127.4.0.1")     # "DEU", asn a string
    r = row_for(d, "127.4.0.1", 1)
    assert (r["country"], r["asn"], r["as_org"]) == (None, None,
                                                       "Typed Wrong")
    wait_until(lambda: "geo invalid value" in d.read_stderr(), 5,
               what="invalid value warning")


def test_flat_country_code_layout(daemon, fx):
    d = daemon(extra=geo_lines(fx, country="flat.mmdb", asn=None))
    normal_session(d, src="127.0.0.5")
    r = row_for(d, "127.0.0.5", 1)
    assert (r["country"], r["asn"], r["as_org"]) == ("IT", None, None)
    assert geo_builds(d.db)["127.0.0.5"] == 1700000200


def test_ipv6_client(daemon, fx):
    from conftest import have_ipv6_loopback
    if not have_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    d = daemon(extra=geo_lines(fx), addrs=("127.0.0.1", "::1"))
    normal_session(d, host="::1")
    r = row_for(d, "::1", 1)
    assert (r["country"], r["asn"], r["as_org"]) == ("CH", 64511,
                                                       "Loopback Six")


def test_sighup_reopens_replaced_file(daemon, fx, tmp_path):
    live = tmp_path / "live.mmdb"
    shutil.copy(fx / "country.mmdb", live)
    d = daemon(extra=["geoip country %s" % live])
    normal_session(d, src="127.0.0.1")
    assert row_for(d, "127.0.0.1", 1)["country"] == "DE"
    opened = d.read_stderr().count("msg=\"geo opened\" kind=country")

    tmp = tmp_path / "live.mmdb.new"
    shutil.copy(fx / "country-v2.mmdb", tmp)
    os.replace(tmp, live)
    d.signal(signal.SIGHUP)
    wait_until(lambda: d.read_stderr().count("msg=\"geo opened\" kind=country")
               > opened, 5, what="reopen after SIGHUP")
    normal_session(d, src="127.0.0.2")
    assert row_for(d, "127.0.0.2", 2)["country"] == "BR"
    assert row_for(d, "127.0.0.1", 2)["country"] == "DE"   # kept
    assert geo_builds(d.db)["127.0.0.2"] == 1700009999


def test_changed_file_is_picked_up_without_signal(daemon, fx, tmp_path):
    live = tmp_path / "live.mmdb"
    shutil.copy(fx / "country.mmdb", live)
    d = daemon(extra=["geoip country %s" % live])
    normal_session(d, src="127.0.0.1")
    assert row_for(d, "127.0.0.1", 1)["country"] == "DE"
    tmp = tmp_path / "live.mmdb.new"
    shutil.copy(fx / "country-v2.mmdb", tmp)
    os.replace(tmp, live)
    time.sleep(1.2)         # files are looked at at most once a second
    normal_session(d, src="127.0.0.3")
    assert row_for(d, "127.0.0.3", 2)["country"] == "BR"


def test_bad_replacement_keeps_the_open_file(daemon, fx, tmp_path):
    live = tmp_path / "live.mmdb"
    shutil.copy(fx / "country.mmdb", live)
    d = daemon(extra=["geoip country %s" % live])
    tmp = tmp_path / "live.mmdb.new"
    tmp.write_bytes(os.urandom(4096))
    os.replace(tmp, live)
    d.signal(signal.SIGHUP)
    wait_until(lambda: "still using the file opened before" in
               d.read_stderr(), 15, what="warning about the bad file")
    normal_session(d, src="127.0.0.1")
    assert row_for(d, "127.0.0.1", 1)["country"] == "DE"


@pytest.mark.parametrize("kind", ["missing", "corrupt", "truncated"])
def test_bad_file_warns_and_sessions_are_stored(daemon, fx, tmp_path, kind):
    bad = tmp_path / ("%s.mmdb" % kind)
    if kind == "corrupt":
        bad.write_bytes(os.urandom(3000))
    elif kind == "truncated":
        data = (fx / "country.mmdb").read_bytes()
        bad.write_bytes(data[:len(data) // 2])
    d = daemon(extra=["geoip country %s" % bad,
                      "geoip asn %s" % (fx / "asn.mmdb")])
    wait_until(lambda: re.search(r"level=warn proc=\w+ msg=\"geoip country "
                                 r"%s: .+; running "
                                 r"without it" % re.escape(str(bad)),
                                 d.read_stderr()), 15, what="warning")
    normal_session(d, src="127.0.0.1")
    r = row_for(d, "127.0.0.1", 1)
    assert (r["country"], r["asn"]) == (None, 64500)


def test_missing_file_appears_later(daemon, fx, tmp_path):
    later = tmp_path / "later.mmdb"
    d = daemon(extra=["geoip country %s" % later])
    normal_session(d, src="127.0.0.1")
    assert row_for(d, "127.0.0.1", 1)["country"] is None
    shutil.copy(fx / "country.mmdb", later)
    time.sleep(1.2)
    normal_session(d, src="127.0.0.2")
    assert row_for(d, "127.0.0.2", 2)["country"] == "DE"


def test_required_database_missing_refuses_to_start(tmp_path, fx):
    d = Daemon(tmp_path / "req", extra=["geoip country %s" %
                                        (tmp_path / "nope.mmdb"),
                                        "geoip-required yes"])
    d.write_config()
    r = subprocess.run([str(d_bin()), "run", "-c", d.conf, "--user", USER],
                       capture_output=True, text=True, timeout=30,
                       cwd=str(d.dir))
    assert r.returncode == 1, r.stderr
    assert "nope.mmdb" in r.stderr and "geoip-required" in r.stderr


def d_bin():
    from conftest import BIN
    return BIN


def test_check_mode_reports_problems(tmp_path, fx):
    d = Daemon(tmp_path / "chk", extra=["geoip country %s" %
                                        (tmp_path / "nope.mmdb"),
                                        "geoip asn %s" % (fx / "asn.mmdb")])
    d.write_config()
    r = run_bin("run", "-n", "-c", d.conf)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "nope.mmdb: No such file or directory" in err
    assert "asn.mmdb" not in err
    assert r.stdout.decode().rstrip().endswith("# configuration OK")
    assert ("geoip country %s" % (tmp_path / "nope.mmdb")) in \
        r.stdout.decode()

    d.lines.append("geoip-required yes")
    d.write_config()
    r = run_bin("run", "-n", "-c", d.conf)
    assert r.returncode == 1
    assert "geoip-required" in r.stderr.decode()


def test_bad_geoip_lines_are_config_errors(tmp_path):
    for line in ("geoip", "geoip country", "geoip region /x.mmdb",
                 "geoip country /a /b", "geoip-required maybe"):
        conf = tmp_path / "bad.conf"
        conf.write_text("listen 127.0.0.1:2525\n%s\n" % line)
        r = run_bin("run", "-n", "-c", conf)
        assert r.returncode == 2, line
        assert re.search(r"bad\.conf:2: geoip", r.stderr.decode()), \
            r.stderr


def mmdblookup(path, ip, *keys):
    """(value, type) as mmdblookup prints it, or None."""
    r = subprocess.run(["mmdblookup", "-f", str(path), "-i", ip, *keys],
                       capture_output=True, text=True, timeout=30)
    m = re.search(r'^\s*"?(.*?)"? <(\w+)>$', r.stdout, re.M)
    return (m.group(1), m.group(2)) if m else None


@pytest.mark.parametrize("ip", ["127.0.0.1", "127.1.0.1", "127.3.0.1",
                                "192.0.2.1", "::1", "2001:db8::1",
                                "::ffff:127.0.0.1", "10.0.0.1"])
def test_geo_lookup_agrees_with_mmdblookup(fx, ip):
    r = run_bin("geo", "lookup", ip, "--country", fx / "country.mmdb",
                "--asn", fx / "asn.mmdb", "--format", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    want = None
    for keys in (("country", "iso_code"),
                 ("registered_country", "iso_code")):
        v = mmdblookup(fx / "country.mmdb", ip, *keys)
        if v:
            want = v[0].upper() if v[1] == "utf8_string" else None
            break
    assert j["country"] == want
    v = mmdblookup(fx / "asn.mmdb", ip, "autonomous_system_number")
    assert j["asn"] == (int(v[0]) if v else None)
    v = mmdblookup(fx / "asn.mmdb", ip, "autonomous_system_organization")
    assert j["as_org"] == (v[0] if v else None)
    assert [db["build"] for db in j["databases"]] == [1700000000,
                                                      1700000100]


def test_geo_lookup_from_config_table(fx, tmp_path):
    conf = tmp_path / "g.conf"
    conf.write_text("\n".join(geo_lines(fx) + [
        "geoip city %s" % (fx / "city.mmdb")]) + "\n")
    r = run_bin("geo", "lookup", "127.0.0.1", "-c", conf)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert re.search(r"^country\s+DE$", out, re.M)
    assert re.search(r"^asn\s+64500$", out, re.M)
    assert re.search(r"^city\s+Sevilla$", out, re.M)
    assert re.search(r"^type\s+GeoIP2-City$", out, re.M)


def test_geo_lookup_usage_and_failures(fx, tmp_path):
    assert run_bin("geo", "lookup", "nonsense", "--country",
                   fx / "country.mmdb").returncode == 2
    assert run_bin("geo", "lookup", "127.0.0.1").returncode == 2
    assert run_bin("geo").returncode == 2
    r = run_bin("geo", "lookup", "127.0.0.1", "--country",
                tmp_path / "nope.mmdb", "--asn", fx / "asn.mmdb")
    assert r.returncode == 1
    assert "nope.mmdb" in r.stderr.decode()
    assert re.search(r"^asn\s+64500$", r.stdout.decode(), re.M)
