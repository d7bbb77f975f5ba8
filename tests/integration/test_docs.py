"""
The documentation says what the code does: the man pages are lint-clean,
the sample configuration is accepted by the real binary and its commented
defaults are the real defaults, and every name the code accepts or
prints (configuration keys, anomaly names, close reasons, JSON fields) is
documented.  The names are read from the C tables that define them, so a
new key or anomaly without documentation fails here.

mandoc is a test dependency (scripts/install-deps test); a missing mandoc
is a failure, not a skip.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("DECOYMX_BIN", "./decoymx"))
if not BIN.is_absolute():
    BIN = (REPO / BIN).resolve()

MAN8 = REPO / "dist" / "decoymx.8"
MAN5 = REPO / "dist" / "decoymx.conf.5"
SAMPLE = REPO / "dist" / "decoymx.conf"


def c_table(path, start, row):
    """
    The first capture of every match of the regex row in the C source
    path, between the first match of the regex start and the next "};".
    """
    src = (REPO / path).read_text()
    m = re.search(start, src)
    assert m, "%s: no table matching %r" % (path, start)
    body = src[m.end():src.index("};", m.end())]
    names = re.findall(row, body)
    assert names, "%s: table %r has no rows" % (path, start)
    return names


def config_keys():
    """Every key the parser accepts: the keys[] table of config.c."""
    return c_table("common/config.c", r"\}\s*keys\[\]\s*=\s*\{",
                   r'\{\s*"([a-z0-9-]+)"\s*,\s*set_\w+\s*(?:,\s*K_\w+\s*)?\}')


def names_table(var):
    """The strings of one name table of common/names.c."""
    return c_table("common/names.c", r"\b%s\[[A-Z_]+\]\s*=\s*\{" % var,
                   r'"([a-z0-9-]+)"')


def json_fields():
    """The field names of report sessions, in output order."""
    return c_table("reports/report.c",
                   r"session_fields\[\]\s*=\s*\{",
                   r'\{\s*"([a-z_]+)"\s*,\s*C_')


def section(page, name):
    """The mdoc source of section .Sh name of page, up to the next .Sh."""
    text = page.read_text()
    m = re.search(r"^\.Sh %s\n(.*?)(?=^\.Sh )" % re.escape(name), text,
                  re.S | re.M)
    assert m, "%s has no section %s" % (page.name, name)
    return m.group(1)


def run_check(conf):
    return subprocess.run([str(BIN), "run", "-n", "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("page", [MAN8, MAN5], ids=lambda p: p.name)
def test_man_page_lint_clean(page):
    mandoc = shutil.which("mandoc")
    if mandoc is None:
        pytest.fail("mandoc is not installed: it belongs in the test set "
                    "of scripts/install-deps")
    # -W warning: STYLE notes (e.g. "referenced manual not found" for
    # pages not installed on this machine) are not warnings.
    r = subprocess.run([mandoc, "-Tlint", "-W", "warning", str(page)],
                       capture_output=True, text=True, timeout=30)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and out == "", out


def test_sample_config_is_accepted():
    r = run_check(SAMPLE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("# configuration OK"), r.stdout
    dump = r.stdout.splitlines()
    for line in ("listen 192.0.2.10:25 mx 10 # primary",
                 "listen [2001:db8::10]:25 mx 10 # primary",
                 "listen 192.0.2.40:25 mx 40 # backup",
                 "real-mx 192.0.2.20 mx 20",
                 "db /var/lib/decoymx/decoymx.db",
                 "user decoymx",
                 "chroot /var/empty"):
        assert line in dump, "%r not in:\n%s" % (line, r.stdout)


def test_sample_config_defaults_are_real(tmp_path):
    """
    Uncommenting every "#key value" line of the sample (the lines that
    show a default) must not change the effective configuration.
    """
    keys = config_keys()
    pat = re.compile(r"^#(%s)\s" % "|".join(map(re.escape, keys)))
    text = SAMPLE.read_text()
    uncommented = [l[1:] if pat.match(l) else l for l in text.splitlines()]
    assert uncommented != text.splitlines(), "no commented defaults found"
    conf = tmp_path / "defaults.conf"
    conf.write_text("\n".join(uncommented) + "\n")
    base, full = run_check(SAMPLE), run_check(conf)
    assert full.returncode == 0, full.stderr
    assert full.stdout == base.stdout


def test_every_config_key_documented():
    keys = config_keys()
    man5 = MAN5.read_text()
    sample = SAMPLE.read_text()
    missing5 = [k for k in keys
                if not re.search(r"^\.It Ic %s\b" % re.escape(k), man5,
                                 re.M)]
    missing_sample = [k for k in keys
                      if not re.search(r"^#?\s*%s\s" % re.escape(k), sample,
                                       re.M)]
    assert not missing5, "keys without an entry in decoymx.conf.5: %s" % \
        missing5
    assert not missing_sample, "keys not in dist/decoymx.conf: %s" % \
        missing_sample


def test_every_anomaly_documented():
    names = names_table("anomaly_names")
    assert len(names) >= 10
    sec = section(MAN8, "ANOMALIES")
    missing = [n for n in names
               if not re.search(r"^\.It Cm %s$" % re.escape(n), sec, re.M)]
    assert not missing, "anomalies missing from decoymx.8: %s" % missing


def test_every_close_reason_documented():
    sec = section(MAN8, "CLOSE REASONS")
    missing = [n for n in names_table("reason_names")
               if not re.search(r"^\.It Cm %s$" % re.escape(n), sec, re.M)]
    assert not missing, "close reasons missing from decoymx.8: %s" % missing


def test_every_json_field_documented():
    sec = section(MAN8, "SESSION FIELDS")
    documented = set(re.findall(r"\bIc ([a-z_]+)", sec))
    missing = [f for f in json_fields() if f not in documented]
    assert not missing, "JSON fields missing from decoymx.8: %s" % missing


def test_json_example_matches_the_fields():
    """The EXAMPLES output of decoymx.8 is JSON with the real fields."""
    sec = section(MAN8, "EXAMPLES")
    blocks = re.findall(r"^\.Bd -literal[^\n]*\n(.*?)^\.Ed$", sec,
                        re.S | re.M)
    example = [b for b in blocks if b.lstrip().startswith("[")]
    assert len(example) == 1, "no JSON example in EXAMPLES"
    rows = json.loads(example[0])
    assert rows, "the JSON example is empty"
    fields = json_fields()
    anomalies = set(names_table("anomaly_names"))
    for row in rows:
        assert list(row) == fields
        assert set(row["anomalies"]) <= anomalies
        assert row["close_reason"] in names_table("reason_names")
        assert row["role"] in names_table("role_names")
        assert row["stage"] in names_table("stage_names")
