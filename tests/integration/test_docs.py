# SPDX-License-Identifier: ISC
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
    return c_table("common/config.c", r"\bkeys\[\]\s*=\s*\{",
                   r'\{\s*"([a-z0-9-]+)"\s*,\s*K_\w+\s*,')


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


# What "run -n" may find wrong with the sample on a machine that is not
# the one it describes: documentation addresses, no decoymx user, no
# /var/lib/decoymx.  Anything else is a fault of the configuration.
ENV_ONLY = re.compile(r"^\S+: (warning: .*|listen \S+: cannot bind: Cannot "
                      r"assign requested address|db /var/lib/decoymx/"
                      r"decoymx\.db: directory /var/lib/decoymx does not "
                      r"exist)$")


def check_ok(r):
    """The configuration is valid; what failed is only the machine."""
    if r.returncode == 0:
        assert r.stdout.rstrip().endswith("# configuration OK"), r.stdout
        return
    assert r.returncode == 1, r.stderr
    bad = [l for l in r.stderr.splitlines() if not ENV_ONLY.match(l)]
    assert not bad, r.stderr


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
    check_ok(r)
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
    check_ok(full)
    assert full.returncode == base.returncode
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


def dep5_paragraphs(text):
    """The paragraphs of a DEP-5 file, each a dict of field -> value."""
    paras = []
    for block in re.split(r"\n\s*\n", text.strip()):
        fields, key = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                fields[key] += "\n" + line[1:]
            else:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        paras.append(fields)
    return paras


def test_licence_is_isc_everywhere():
    """
    LICENSE is the ISC licence of "The decoymx authors", and the Debian
    copyright file (DEP-5) says the same: every file under ISC, with the
    licence's full text identical to LICENSE's.
    """
    lic = (REPO / "LICENSE").read_text()
    first, _, body = lic.partition("\n\n")
    assert first == "Copyright (c) 2026 The decoymx authors"
    assert body.startswith("Permission to use, copy, modify, and "
                           "distribute this software for any")
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in body
    paras = dep5_paragraphs((REPO / "dist/debian/copyright").read_text())
    assert paras[0]["Format"] == ("https://www.debian.org/doc/packaging-"
                                  "manuals/copyright-format/1.0/")
    files = [p for p in paras if "Files" in p]
    assert [p["Files"] for p in files] == ["*"]
    assert files[0]["License"] == "ISC"
    assert files[0]["Copyright"] == "2026 The decoymx authors"
    text = [p["License"] for p in paras if "Files" not in p and
            p.get("License", "").startswith("ISC\n")]
    assert len(text) == 1, "no stand-alone License: ISC paragraph"
    lines = ["" if l == "." else l for l in text[0].split("\n")[1:]]
    assert "\n".join(lines).strip() == body.strip()


DESIGN = REPO / "doc" / "DESIGN.md"


def design_section(title_re):
    """The text of the doc/DESIGN.md section whose heading matches."""
    text = DESIGN.read_text()
    m = re.search(r"^(#+) (%s)\n(.*?)(?=^#{1,%d} |\Z)" % (title_re, 3),
                  text, re.S | re.M)
    assert m, "doc/DESIGN.md has no section %r" % title_re
    return m.group(3)


def test_design_session_fields_match_the_code():
    """§11.1 lists the fields of report sessions, in output order."""
    sec = design_section(r"11\.1 `report sessions`")
    rows = re.findall(r"^\| `([a-z_]+)` \|", sec, re.M)
    assert rows == json_fields()


def test_design_record_tags_match_the_code():
    """§4.2 lists the REC_SESSION tags with their numbers."""
    src = (REPO / "common/record.c").read_text()
    enum = re.search(r"enum tag \{(.*?)\};", src, re.S).group(1)
    tags = [t for t in re.findall(r"\b(T_[A-Z_]+)\b", enum) if t != "T_MAX"]
    assert re.search(r"T_UID = 1\b", enum)
    sec = design_section(r"4\.2 The record codec and REC_SESSION")
    rows = re.findall(r"^\| (\d+) \| `(T_[A-Z_]+)` \|", sec, re.M)
    assert rows == [(str(i + 1), t) for i, t in enumerate(tags)]


def test_design_schema_versions_match_the_code():
    """§6 has a paragraph for every migration, and no more."""
    h = (REPO / "store/store.h").read_text()
    version = int(re.search(r"#define\s+SCHEMA_VERSION\s+(\d+)", h).group(1))
    sec = design_section(r"6\. The schema and its migrations")
    assert re.findall(r"^\*\*Version (\d+) ", sec, re.M) == \
        [str(v) for v in range(1, version + 1)]
    assert "currently **%d**" % version in sec


def test_design_vocabularies_match_the_code():
    """§5 names every role, stage, close reason and anomaly; §8 every
    classification reason with its default code."""
    sec = design_section(r"5\. The SMTP engine and what a session records")
    for var, label in (("role_names", "roles"), ("stage_names", "stages"),
                       ("reason_names", "close reasons")):
        m = re.search(r"^\* %s: (.*?)(?:;|\.)\n(?:\*|\n|  [A-Z(])"
                      % label, sec, re.S | re.M)
        assert m, label
        assert re.findall(r"`([a-z-]+)`", m.group(1)) == names_table(var)
    anoms = re.findall(r"`([a-z-]+)` \(?(?:bit )?(\d+)\)", sec)
    assert [n for n, _ in anoms] == names_table("anomaly_names")
    assert [int(b) for _, b in anoms] == list(range(len(anoms)))
    src = (REPO / "store/classify.c").read_text()
    reasons = re.findall(r'\[REASON_\w+\] = \{ "([a-z-]+)"', src)
    codes = re.search(r"ip_codes\[REASON_MAX\] = \{(.*?)\}",
                      (REPO / "reports/ip.c").read_text(), re.S).group(1)
    codes = re.findall(r'"([0-9.]+)"', codes)
    sec8 = design_section(r"8\. Classification and reason codes")
    rows = re.findall(r"^\| `([a-z-]+)` \|.*\| ([0-9.]+) \| [^|]+ \|$",
                      sec8, re.M)
    assert rows == list(zip(reasons, codes))
