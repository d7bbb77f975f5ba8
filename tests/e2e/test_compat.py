# SPDX-License-Identifier: ISC
"""
The rows of the compatibility matrix that must hold (issue 11): with
decoymx's DEFAULT configuration, every real sending MTA Debian ships
(Postfix, Exim, OpenSMTPD, Sendmail, dma, Courier) delivers all N messages via the
real MX 20 at once or at its first queue run, decoymx would list none of
its addresses, and the decoy's sessions carry the envelope (HELO, MAIL
FROM, RCPT TO) of each sender address's first contact -- for an IPv4, an IPv6 and a dual-stack sender (real MX on both families,
and on IPv4 only).  See compat_world.py for the lab and tests/compat/run
for the whole matrix (every defer stage x reply; make compat).

Not asserted: that every one of the N messages' envelopes is recorded.
With returning-defer reset (the default) a client's later connections
within the window are reset before any reply, so an MTA that opens
parallel connections (Postfix) records fewer; tests/compat/run shows the count per row
(column "envelopes").

Root only (network namespaces); the MTAs other than Postfix come from
their Debian packages, downloaded by ``scripts/install-deps compat`` and
unpacked (never installed) under /var/cache/decoymx-compat.  Each row is
bounded (up to three phases of at most COMPAT_PHASE_MAX s, 30 by
default; a row takes 3 to 15 s, Courier's about 2 minutes: its forced
queue run waits for it to close its idle SMTP session, 60 s).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e/test_compat.py
"""
import os
import shutil
import subprocess

import pytest

import compat_world as cw

os.environ["PATH"] += ":/usr/sbin:/sbin"
TOOLS = ("ip", "postfix", "dnsmasq", "nsenter", "unshare", "dpkg")
LAYOUTS = ("ipv4", "ipv6", "dual", "dual-real4")

# Rows that fail with the current default policy (issue 11).  strict: a
# fix makes them pass, and then the marker must go.
KNOWN_DELIVERY_GAPS = {}
# OpenSMTPD from a dual-stack sender was one (until the pair rule): its
# first retry was reset at MX 10 over IPv6, then met a first contact's
# deferral at RCPT at MX 10 over IPv4, and kept the message until its
# second retry.
# Courier 1.0.16 moves on to the next MX only when it cannot connect, or
# the connection is closed or reset before the greeting: never after a
# 4xx reply, the greeting's included (tests/compat/run).  With the
# default returning-defer reset its later messages walk on at once; the
# message of its first contact (450 at RCPT) goes at its first retry,
# which opens a new connection (compat_world.Courier.settle).


def _why_skip():
    if os.geteuid() != 0:
        return "needs root (network namespaces, port 25, private MTAs)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return "missing %s (scripts/install-deps test)" % ", ".join(missing)
    name = "decoymx-c11-probe-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if r.returncode != 0:
        return "ip netns add impossible here: %s" % r.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    r = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs t /mnt"],
                       capture_output=True)
    if r.returncode != 0:
        return "no private mounts here: %s" % r.stderr.decode().strip()
    return None


_SKIP = _why_skip()
pytestmark = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")


def _params(gaps=True):
    out = []
    for layout in LAYOUTS:
        for mta in cw.MTAS:
            marks = []
            if gaps and (mta, layout) in KNOWN_DELIVERY_GAPS:
                marks.append(pytest.mark.xfail(
                    strict=True, reason=KNOWN_DELIVERY_GAPS[(mta, layout)]))
            out.append(pytest.param(layout, mta, id="%s-%s" % (mta, layout),
                                    marks=marks))
    return out


_labs = {}
_rows = {}


@pytest.fixture(scope="module", autouse=True)
def labs():
    cw.Lab.reap_stale()
    yield _labs
    problems = []
    for lab in _labs.values():
        problems += lab.close()
    assert not problems, problems


def row(layout, mta):
    """The default-configuration row (run once, shared by the tests)."""
    missing = cw.missing_debs(mta)
    if missing:
        pytest.skip("%s: .debs of %s not in %s (scripts/install-deps compat)"
                    % (mta, " ".join(missing), cw.CACHE / "debs"))
    if (layout, mta) not in _rows:
        if layout not in _labs:
            # one lab at a time: close the previous layout's
            for k in list(_labs):
                _labs.pop(k).close()
            _labs[layout] = cw.Lab(layout).create()
        _rows[(layout, mta)] = cw.run_row(_labs[layout], mta,
                                          seq=len(_rows) + 1)
    return _rows[(layout, mta)]


@pytest.mark.parametrize("layout,mta", _params())
def test_default_delivers_everything_and_lists_nobody(layout, mta):
    r = row(layout, mta)
    assert r["never"] == 0, (
        "%s (%s): %d of %d messages never reached MX 20 (at once %d, at "
        "the first queue run %d); decoy sessions %s\nMTA log:\n%s" % (
            mta, layout, r["never"], r["n"], r["at_once"], r["at_retry"],
            r["sessions"], r.get("mta_log", "")))
    # ... from the sender's own addresses, never from the witness
    assert set(r["real_mx_clients"]) <= {
        cw.FAM[f]["mta"] for f in _labs[layout].sender_fams}, r
    assert r["listed"] == [], (
        "%s (%s): listed %s; verdicts %s" % (mta, layout, r["listed"],
                                            r["verdicts"]))
    assert not r["decoy_problems"], r["decoy_problems"]


@pytest.mark.parametrize("layout,mta", _params(gaps=False))
def test_default_records_each_first_contact(layout, mta):
    """The envelope of each sender address's first contact (the rule of
    returning-defer: later contacts within the window are reset, and
    record no envelope)."""
    r = row(layout, mta)
    assert r["sessions"], "%s (%s): no decoy session" % (mta, layout)
    # An MTA walks the MX list in order: it met the primary decoy.
    assert any(s["dst_ip"] in (cw.V4["mx10"], cw.V6["mx10"])
               for s in r["sessions"]), r["sessions"]
    missing = cw.first_contact_problems(r)
    assert not missing, "%s (%s): %s" % (mta, layout, missing)
