# SPDX-License-Identifier: ISC
"""
The /metrics exposition: sessions per decoy address and role, build
info, the outcome of each configured export, dropped records and the
sensor's counters; clean under "promtool check metrics" (Debian's
prometheus package), every family documented in decoymx(8), and the
Grafana dashboard in dist/ using only what the daemon exports.
"""
import json
import os
import re
import shutil
import subprocess
import urllib.request

import pytest

from conftest import REPO, free_port, normal_session, wait_until

DASHBOARD = REPO / "dist" / "grafana" / "decoymx-dashboard.json"
MAN = REPO / "dist" / "decoymx.8"
NEED_ROOT = os.geteuid() == 0


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        return r.read().decode()


def samples(text):
    """{(name, frozenset of label pairs): value} of a scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"',
                                      m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def families(text):
    return {l.split()[2] for l in text.splitlines()
            if l.startswith("# TYPE ")}


@pytest.fixture
def scraped(daemon, tmp_path):
    """A daemon with metrics, a good and a failing export, a session."""
    mport = free_port(["127.0.0.1"])
    good = tmp_path / "out" / "list.txt"
    good.parent.mkdir()
    bad = tmp_path / "missing" / "list.txt"
    extra = ["metrics 127.0.0.1:%d" % mport,
             "export plain %s every 1h" % good,
             "export plain %s every 1h --max-age 1d" % bad]
    if NEED_ROOT:
        extra += ["sensor auto", "sensor interface lo"]
    d = daemon(extra=extra)
    normal_session(d)
    d.sessions(1)

    def ready():
        t = scrape(mport)
        s = samples(t)
        return t if any(k[0] == "decoymx_decoy_sessions_total" and v == 1
                        for k, v in s.items()) and \
            s.get(("decoymx_connections_total", frozenset())) == 1 and \
            any(k[0] == "decoymx_export_failures_total" and v >= 1
                for k, v in s.items()) else None
    text = wait_until(ready, 15, interval=0.2, what="metrics")
    return d, text, good, bad


def test_sessions_by_decoy_and_role(scraped):
    d, text, _, _ = scraped
    s = samples(text)
    key = ("decoymx_decoy_sessions_total",
           frozenset({("decoy", "127.0.0.1"), ("role", "primary")}))
    assert s[key] == 1


def test_build_info(scraped):
    d, text, _, _ = scraped
    r = subprocess.run([str(d.proc.args[0]), "version"], capture_output=True,
                       timeout=10)
    version = r.stdout.split()[1].decode()
    [(key, v)] = [(k, v) for k, v in samples(text).items()
                  if k[0] == "decoymx_build_info"]
    labels = dict(key[1])
    assert v == 1 and labels["version"] == version
    assert labels["sqlite"] and labels["libevent"] and labels["libpcap"]


def test_exports(scraped):
    d, text, good, bad = scraped
    s = samples(text)

    def get(name, path):
        [v] = [v for k, v in s.items() if k[0] == name and
               dict(k[1])["path"] == str(path)]
        return v
    # The good export: its entry count is the one in its header line.
    header = good.read_text().splitlines()[0]
    entries = int(re.search(r"(\d+) entries", header).group(1))
    assert get("decoymx_export_entries", good) == entries
    assert get("decoymx_export_failures_total", good) == 0
    assert get("decoymx_export_runs_total", good) >= 1
    assert get("decoymx_export_last_success_timestamp_seconds", good) > \
        1.7e9
    assert 0 <= get("decoymx_export_duration_seconds", good) < 60
    # The failing one: never succeeded.
    assert get("decoymx_export_failures_total", bad) >= 1
    assert get("decoymx_export_last_success_timestamp_seconds", bad) == 0


def test_dropped_records_and_sensor(scraped):
    d, text, _, _ = scraped
    s = samples(text)
    wheres = {dict(k[1])["where"] for k in s
              if k[0] == "decoymx_records_dropped_total"}
    assert wheres == {"network", "store"}
    if NEED_ROOT:           # the sensor captures on lo: its counters
        for name in ("received", "dropped", "syns", "retransmits", "bad"):
            assert ("decoymx_sensor_%s_total" % name, frozenset()) in s
        # our own session's SYN went over lo
        assert s[("decoymx_sensor_received_total", frozenset())] >= 1


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool (Debian prometheus) not installed")
def test_promtool_check_metrics(scraped):
    d, text, _, _ = scraped
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == b"" and r.stderr == b"", r.stdout + r.stderr


def test_every_family_documented(scraped):
    d, text, _, _ = scraped
    man = MAN.read_text()
    missing = [f for f in sorted(families(text)) if f not in man]
    assert not missing


def test_dashboard_uses_only_exported_metrics(scraped):
    d, text, _, _ = scraped
    exported = families(text)
    labels = {name for (_, ls) in samples(text) for name, _ in ls}
    # The sensor's counters appear only while it captures; decoymx(8)
    # lists them among the METRICS.
    man = MAN.read_text()
    sensor = set(re.findall(r"decoymx_sensor_\w+", man))
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["query"] for v in dash["templating"]["list"]]
    assert exprs
    used = set()
    for e in exprs:
        used |= set(re.findall(r"\bdecoymx_\w+", e))
        for group in re.findall(r"\bby \(([^)]*)\)", e):
            for label in group.split(","):
                assert label.strip() in labels, (label, e)
    for p in dash["panels"]:
        for t in p["targets"]:
            for label in re.findall(r"\{\{(\w+)\}\}", t["legendFormat"]):
                assert label in labels | {"instance"}, (label, p["title"])
    unknown = used - exported - (sensor if not any(
        f.startswith("decoymx_sensor_") for f in exported) else set())
    assert not unknown, unknown
    assert "decoymx_decoy_sessions_total" in used
    assert "decoymx_export_last_success_timestamp_seconds" in used
