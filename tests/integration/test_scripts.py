# SPDX-License-Identifier: ISC
"""
The deployment helpers in scripts/: the nolisting zone lines load in
BIND's own checker (named-checkzone, Debian bind9-utils) with the MX
preferences and addresses asked for, and the decoymx.conf lines they
suggest are accepted by `decoymx run -n`.  Bad input is refused.
"""
import subprocess

from conftest import REPO, run_bin

SCRIPT = REPO / "scripts" / "nolisting-dns"


def test_zone_loads_in_named_checkzone(tmp_path):
    out = subprocess.run([str(SCRIPT), "victim.example", "192.0.2.20",
                          "192.0.2.10", "2001:db8::40"],
                         capture_output=True, text=True, check=True).stdout
    zone = tmp_path / "victim.example.zone"
    zone.write_text("$TTL 300\n@ IN SOA ns.victim.example. "
                    "hostmaster.victim.example. 1 3600 600 86400 300\n"
                    "@ IN NS ns.victim.example.\nns IN A 192.0.2.53\n" + out)
    r = subprocess.run(["named-checkzone", "-D", "victim.example",
                        str(zone)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    canon = {" ".join(l.split()) for l in r.stdout.splitlines()}
    for pref in (10, 20, 40):
        assert ("victim.example. 300 IN MX %d mx%d.victim.example."
                % (pref, pref)) in canon
    assert "mx10.victim.example. 300 IN A 192.0.2.10" in canon
    assert "mx20.victim.example. 300 IN A 192.0.2.20" in canon
    assert "mx40.victim.example. 300 IN AAAA 2001:db8::40" in canon

    # The suggested decoymx.conf lines are a valid configuration.
    conf = tmp_path / "decoymx.conf"
    conf.write_text("\n".join(l[4:] for l in out.splitlines()
                              if l.startswith(";   ")) + "\n")
    r = run_bin("run", "-n", "-c", conf)
    # Valid; only the machine lacks the documentation addresses (and the
    # default database directory and user).
    from test_docs import check_ok
    import subprocess as sp
    check_ok(sp.CompletedProcess(r.args, r.returncode, r.stdout.decode(),
                                 r.stderr.decode()))
    assert b"role" not in r.stderr
    assert b"# primary" in r.stdout and b"# backup" in r.stdout


def test_bad_input_is_refused():
    for args in (["bad;domain", "192.0.2.1", "192.0.2.2", "192.0.2.3"],
                 ["ok.example", "192.0.2.1", "not-an-ip", "192.0.2.3"],
                 ["ok.example", "192.0.2.1"]):
        r = subprocess.run([str(SCRIPT), *args], capture_output=True)
        assert r.returncode == 2, args
        assert r.stdout == b"", args


def _postfix_lines(out):
    lines = out.splitlines()
    i = next(n for n, l in enumerate(lines) if l.startswith("# --- Postfix"))
    return "\n".join(lines[i + 1:]) + "\n"


def test_postfix_dnsbl_lines_parse_in_postconf(tmp_path):
    import shutil
    import pytest
    if shutil.which("postconf") is None:
        pytest.skip("postconf (postfix) not installed")
    script = REPO / "scripts" / "postfix-dnsbl"
    for flag, param, want in (
            ([], "smtpd_recipient_restrictions",
             "reject_rbl_client bl.victim.example=127.0.0.[2..11]"),
            (["-p"], "postscreen_dnsbl_sites",
             "bl.victim.example=127.0.0.2*3")):
        out = subprocess.run([str(script), *flag, "bl.victim.example",
                              "192.0.2.53"], capture_output=True, text=True,
                             check=True).stdout
        assert "bl.victim.example:ip4set:bl.victim.example" in out
        d = tmp_path / ("pf%d" % len(flag))
        d.mkdir()
        (d / "main.cf").write_text(_postfix_lines(out))
        (d / "master.cf").write_text("")
        r = subprocess.run(["postconf", "-c", str(d), "-h", param],
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert want in r.stdout, r.stdout
    r = subprocess.run([str(script), "bad zone", "192.0.2.53"],
                       capture_output=True)
    assert r.returncode == 2 and r.stdout == b""
