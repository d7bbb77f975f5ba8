# SPDX-License-Identifier: ISC
"""
decoymx report html, rendered by a real headless Chromium (cdp.py):
no console error or exception, no script or active content, each
chart's SVG has the marks its data implies (checked against the JSON of
report timeline/top and of export), hostile text from the network shows
as inert text, and a screenshot of the page is taken.
"""
import json
import os
import re
import sqlite3
import time

import pytest

from conftest import BIN, run_bin
import scenario
from scenario import HOUR, MIN, PRIMARY, PREGREET, HELO_INVALID
from cdp import Browser, chromium

pytestmark = pytest.mark.skipif(chromium() is None,
                                reason="chromium not installed")

# Hostile text, as a client could send it; (bytes sent, text shown).
HOSTILE = [
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("</title><img src=x onerror=alert(2)>",
     "</title><img src=x onerror=alert(2)>"),
    ("q\"uo'te & <b>bold</b>", "q\"uo'te & <b>bold</b>"),
    ("\x1b[31mred\x07\x00nul", "\\u001b[31mred\\u0007\\u0000nul"),
    ("\udcff\udcfe bad utf8", "\\xff\\xfe bad utf8"),   # invalid bytes
    ("ab\u202ecod.exe\u202c", "ab\\u202ecod.exe\\u202c"),  # bidi override
    ("zero\u200bwidth\u2028line", "zero\\u200bwidth\\u2028line"),
]
SENDER = "\"><svg onload=alert(3)>@evil.example"
RCPT = "<iframe src=javascript:alert(4)>@v.example"


def hostile_db(path, now):
    d = scenario.Db(BIN, path)
    for i, (helo, _) in enumerate(HOSTILE):
        d.session("198.51.100.%d" % (30 + i), now - 3 * HOUR + i * MIN,
                  helo=helo, mail_from=SENDER, rcpts=(RCPT,),
                  anomalies=PREGREET | HELO_INVALID, country="RU",
                  asn=64511, as_org="<b>Evil</b> \u202eAS")
    # Ordinary traffic over a few hours on both decoys.
    for h in range(6):
        for k in range(h + 1):
            d.session("203.0.113.%d" % (10 + h), now - (6 - h) * HOUR +
                      k * MIN, decoy=PRIMARY if k % 2 else scenario.BACKUP,
                      country=("DE", "US", "BR")[h % 3], asn=64500 + h,
                      as_org="AS %d org" % h)
    # The sensor: SYNs to the real MX and MX walks of each verdict.
    for i in range(3):
        scenario.syn(d, "203.0.113.10", now - 2 * HOUR + i * MIN, "real")
    walks = {"primary-then-real": 3, "primary-only": 2, "backup-direct": 4,
             "parallel": 1}
    n = 0
    for verdict, count in walks.items():
        for _ in range(count):
            n += 1
            d.sql("INSERT INTO mx_walks VALUES(?, ?, 'p,r', ?, ?)",
                  "192.0.2.%d" % n, verdict, now - HOUR, now - HOUR + MIN)
    d.close()
    return walks


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("html")
    now = int(time.time()) * 10**6
    db = str(tmp / "h.db")
    walks = hostile_db(db, now)
    out = tmp / "report.html"
    r = run_bin("report", "html", "--db", db, "-o", str(out),
                "--bucket", "1h")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"" and r.stderr == b""
    with Browser() as b:
        p = b.open(out.as_uri())
        p.db, p.html, p.walks, p.tmp = db, out.read_bytes(), walks, tmp
        yield p


def js(db, *args):
    r = run_bin(*args, "--db", db)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def data_v(page, selector):
    return page.eval("Array.from(document.querySelectorAll(%s))"
                     ".map(e => Number(e.getAttribute('data-v')))"
                     % json.dumps(selector))


def text(page, selector):
    return page.eval("document.querySelector(%s).textContent"
                     % json.dumps(selector))


def test_no_console_errors_and_no_active_content(page):
    assert page.errors == []
    assert page.eval("document.scripts.length") == 0
    assert page.eval("document.querySelectorAll('img,iframe,object,embed,"
                     "link,base,form,a[href]').length") == 0
    # No element carries an event handler or a javascript: URL.
    assert page.eval("Array.from(document.querySelectorAll('*')).some(e =>"
                     " Array.from(e.attributes).some(a =>"
                     " /^on/i.test(a.name) || /javascript:/i.test(a.value)"
                     "))") is False
    raw = page.html
    raw.decode("utf-8")                  # strict: valid UTF-8
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw)
    assert "\u202e".encode() not in raw and b"\xe2\x80\xa8" not in raw
    assert b"http://" not in raw.replace(b"http-equiv", b"") and \
        b"https://" not in raw       # nothing fetched from elsewhere


def test_hostile_text_shows_as_text(page):
    helos = text(page, "#top-helos")
    for _, shown in HOSTILE:
        assert shown in helos, shown
    assert SENDER in text(page, "#top-senders")
    assert RCPT in text(page, "#top-recipients")
    # The AS name from the geo database too, in the SVG.
    assert "<b>Evil</b> \\u202eAS" in text(page, "#asns")
    # The escapes are marked so a reader sees they are not the text.
    assert page.eval("document.querySelectorAll('#top-helos .esc')"
                     ".length") == 9     # 3 + 2 + 2 + 2 above


def test_sessions_chart_matches_the_timeline(page):
    tl = js(page.db, "report", "timeline", "--bucket", "1h", "--format",
            "json")
    for role in ("primary", "backup", "decoy"):
        want = sorted(r[role] for r in tl if r[role] > 0)
        assert sorted(data_v(page, "#sessions rect.%s[data-v]" % role)) == \
            want, role
    n = page.eval("Number(document.querySelector('#sessions')"
                  ".getAttribute('data-buckets'))")
    assert n == len(tl)
    pts = page.eval("document.querySelector('#sessions polyline.real')"
                    ".getAttribute('points')").split()
    assert len(pts) == n
    # three SYNs in one bucket: exactly one point above the baseline
    ys = [float(p.split(",")[1]) for p in pts]
    assert sum(1 for y in ys if y < max(ys)) == 1


def test_new_clients_chart(page):
    clients = sqlite3.connect(page.db).execute(
        "SELECT count(*) FROM clients").fetchone()[0]
    assert sum(data_v(page, "#new-clients rect[data-v]")) == clients


@pytest.mark.parametrize("kind,chart", [("countries", "countries"),
                                        ("asns", "asns"),
                                        ("anomalies", "anomalies")])
def test_bar_charts_match_report_top(page, kind, chart):
    rows = js(page.db, "report", "top", kind, "--limit", "10", "--format",
              "json")
    assert rows
    assert data_v(page, "#%s rect.bar" % chart) == \
        [r["sessions"] for r in rows]


def test_walk_flow_has_a_band_per_verdict(page):
    assert sorted(data_v(page, "#walks path.band")) == \
        sorted(page.walks.values())
    assert page.eval("document.querySelectorAll('#walks rect.node')"
                     ".length") == 3 + 4       # 3 starts + 4 verdicts


def test_listings_match_the_export(page):
    ex = js(page.db, "export", "json", "--v6-prefix", "128")
    entries = [e for e in ex["entries"] if e["address"] != "127.0.0.2"]
    by = {}
    for e in entries:
        for r in e["reasons"]:
            by[r] = by.get(r, 0) + 1
    shown = data_v(page, "#reasons rect.bar")
    names = page.eval("Array.from(document.querySelectorAll('#reasons"
                      " text.label')).map(t => t.firstChild.textContent"
                      ".trim())")
    assert dict(zip(names, shown)) == {r: by.get(r, 0) for r in names}
    assert page.eval("document.querySelectorAll('#latest tr').length") \
        == 1 + min(20, len(entries))
    assert text(page, "#c-listed b").replace(",", "") == str(len(entries))


def test_screenshot(page):
    path = page.tmp / "report.png"
    page.screenshot(str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24],
                                                              "big")
    assert w >= 800 and h > 1500       # the whole page, not a viewport
    if os.environ.get("DECOYMX_SCREENSHOT"):
        with open(os.environ["DECOYMX_SCREENSHOT"], "wb") as f:
            f.write(data)


def test_the_harness_sees_console_errors(tmp_path):
    """A page whose inline script the CSP blocks: an error is seen."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><meta http-equiv=Content-Security-Policy"
                   " content=\"default-src 'none'\"><script>1</script>")
    with Browser() as b:
        p = b.open(bad.as_uri())
        assert wait_errors(p)


def wait_errors(p, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.errors:
            return True
    return False


def test_empty_database_and_stdout(tmp_path):
    db = scenario.Db(BIN, tmp_path / "e.db").close()
    r = run_bin("report", "html", "--db", db)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"<!DOCTYPE html>")
    assert b"none in this period" in r.stdout
    out = tmp_path / "e.html"
    out.write_bytes(r.stdout)
    with Browser() as b:
        p = b.open(out.as_uri())
        assert p.errors == []
        assert p.eval("document.querySelectorAll('svg').length") == 0


def test_output_errors(tmp_path):
    db = scenario.Db(BIN, tmp_path / "e.db").close()
    r = run_bin("report", "html", "--db", db, "-o",
                str(tmp_path / "missing" / "r.html"))
    assert r.returncode == 1
    assert b"missing/r.html" in r.stderr
    # -o belongs to html only
    r = run_bin("report", "summary", "--db", db, "-o", str(tmp_path / "x"))
    assert r.returncode == 2
