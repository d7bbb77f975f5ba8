# SPDX-License-Identifier: ISC
"""
scripts/check-layering: every #include of a header from a part above is
reported with its file and line, and only those (doc/DESIGN.md §2).
Run on small trees made here, so the test does not depend on the state of
the real tree.
"""
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "scripts" / "check-layering"


def tree(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def check(root):
    return subprocess.run([str(CHECK), str(root)], capture_output=True,
                          text=True, timeout=30)


HEADERS = {
    "common/decoymx.h": "#include <stdio.h>\n",
    "sensor/sensor.h": '#include "decoymx.h"\n',
    "tarpit/tarpit.h": '#include "decoymx.h"\n',
    "store/store.h": '#include "decoymx.h"\n',
    "reports/reports.h": '#include "decoymx.h"\n',
}


def test_downward_includes_pass(tmp_path):
    tree(tmp_path, dict(HEADERS, **{
        "common/util.c": '#include "decoymx.h"\n',
        "sensor/walk.c": '#include "sensor.h"\n',
        "tarpit/tarpit.c": '#include "tarpit.h"\n#include "sensor.h"\n',
        "store/syns.c": '#include "store.h"\n#include "sensor.h"\n',
        "reports/top.c": '#include "reports.h"\n#include "store.h"\n',
        "common/main.c": '#include "reports.h"\n#include "tarpit.h"\n',
        "daemon/loop.c": '#include "store.h"\n#include "reports.h"\n',
    }))
    r = check(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "0 includes against the layering"


def test_upward_includes_reported(tmp_path):
    tree(tmp_path, dict(HEADERS, **{
        "store/geo.c": '#include <stdio.h>\n\n#include "reports.h"\n'
                       '#include "store.h"\n',
        "sensor/offline.c": '#include "sensor.h"\n#  include "store.h"\n',
        "tarpit/tarpit.c": '#include "tarpit.h"\n#include "store.h"\n',
        "common/config.c": '#include "decoymx.h"\n#include "reports.h"\n',
        "store/store.h": '#include "decoymx.h"\n#include "tarpit.h"\n',
    }))
    r = check(tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "common/config.c:2: common includes reports.h (reports)",
        "sensor/offline.c:2: sensor includes store.h (store)",
        "store/geo.c:3: store includes reports.h (reports)",
        "store/store.h:2: store includes tarpit.h (tarpit)",
        "tarpit/tarpit.c:2: tarpit includes store.h (store)",
        "5 includes against the layering",
    ]


def test_files_outside_the_parts_are_ignored(tmp_path):
    tree(tmp_path, dict(HEADERS, **{
        "tests/unit/test_x.c": '#include "reports.h"\n#include "t.h"\n',
        "common/log.c": '#include "config.h"\n',	# not a part's header
    }))
    r = check(tmp_path)
    assert r.returncode == 0, r.stdout
