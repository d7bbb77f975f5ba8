# SPDX-License-Identifier: ISC
"""SIGHUP: reload what can change without rebinding; a bad file is ignored."""
import signal
import time

from conftest import Smtp, normal_session, wait_until


def greeting_host(d):
    with Smtp("127.0.0.1", d.port) as c:
        code, lines = c.greeting
        assert code == 220, lines
        c.cmd("QUIT")
        return lines[-1].split()[1]     # the last line of the greeting


def rewrite(d, **changes):
    lines = []
    for l in d.lines:
        key = l.split()[0]
        if key in changes:
            l = "%s %s" % (key, changes.pop(key))
        lines.append(l)
    lines += ["%s %s" % kv for kv in changes.items()]
    d.lines = lines
    d.write_config()


def test_sighup_applies_new_hostname(daemon):
    d = daemon(hostname="before.decoy.test")
    assert greeting_host(d) == "before.decoy.test"
    rewrite(d, hostname="after.decoy.test")
    d.signal(signal.SIGHUP)
    # New sessions greet with the new name (bounded wait for the reload).
    wait_until(lambda: greeting_host(d) == "after.decoy.test", 3,
               what="greeting with the reloaded hostname")


def test_sighup_applies_new_defer_reply(daemon):
    d = daemon()
    rewrite(d, **{"defer-reply": "451 4.3.0 reloaded text"})
    d.signal(signal.SIGHUP)

    def rcpt_reply():
        with Smtp("127.0.0.1", d.port) as c:
            c.cmd("EHLO client.example.net")
            c.cmd("MAIL FROM:<a@example.net>")
            code, lines = c.cmd("RCPT TO:<x@example.org>")
            c.cmd("QUIT")
            return code == 451 and "reloaded text" in lines[0]
    wait_until(rcpt_reply, 3, what="the reloaded defer-reply")


def test_sighup_with_broken_config_keeps_serving(daemon):
    d = daemon(hostname="kept.decoy.test")
    assert greeting_host(d) == "kept.decoy.test"
    good = list(d.lines)
    d.write_config(good + ["hostname broken/name", "no-such-key 1"])
    for _ in range(3):
        d.signal(signal.SIGHUP)
    t_end = time.monotonic() + 0.5
    while time.monotonic() < t_end:            # a few sessions over 0.5 s
        assert greeting_host(d) == "kept.decoy.test"
        assert d.proc.poll() is None, "daemon died on SIGHUP"
        time.sleep(0.1)
    normal_session(d)
    rows = d.sessions(1, pred=lambda rs: any(r["close_reason"] == "quit" and
                                             r["rcpt_to"] for r in rs))
    assert rows
    # Reloading a missing file is no worse.
    d.write_config(good)
    import os
    os.rename(d.conf, d.conf + ".gone")
    d.signal(signal.SIGHUP)
    time.sleep(0.2)
    assert d.proc.poll() is None
    assert greeting_host(d) == "kept.decoy.test"
    os.rename(d.conf + ".gone", d.conf)


def test_sighup_to_network_process_is_harmless(daemon):
    d = daemon()
    net = d.net_pid()
    import os
    os.kill(net, signal.SIGHUP)
    time.sleep(0.2)
    assert d.proc.poll() is None
    normal_session(d)


def greeting(d):
    with Smtp("127.0.0.1", d.port) as c:
        code, lines = c.greeting
        if code == 220:
            c.cmd("QUIT")
        return code, lines[0] if lines else ""


def test_sighup_carries_banner_and_ignore_to_the_network_process(daemon):
    # RELOAD carries each setting as a field (doc/DESIGN.md §4.3): the
    # banner (text) and the ignore networks (a repeated field) arrive.
    d = daemon()
    assert greeting(d)[0] == 220
    rewrite(d, banner="reloaded.decoy.test ESMTP ready")
    d.signal(signal.SIGHUP)
    wait_until(lambda: "reloaded.decoy.test ESMTP ready" in greeting(d)[1],
               3, what="the reloaded banner")
    rewrite(d, ignore="127.0.0.0/8")
    d.signal(signal.SIGHUP)
    wait_until(lambda: 400 <= greeting(d)[0] < 500, 3,
               what="an ignored client deferred at once after the reload")
    assert d.proc.poll() is None


def test_sighup_names_what_needs_a_restart_and_applies_the_rest(daemon):
    """queue-size and events-log keep their running values, named in one
    warning; the hostname in the same file is applied."""
    d = daemon(hostname="one.decoy.test")
    rewrite(d, **{"queue-size": "123", "hostname": "two.decoy.test",
                  "events-log": "/nonexistent/ev.log"})
    d.signal(signal.SIGHUP)
    wait_until(lambda: greeting_host(d) == "two.decoy.test", 5,
               what="the reloaded hostname")
    wait_until(lambda: "need a restart" in d.read_stderr(), 5,
               what="the restart warning")
    err = d.read_stderr()
    warn = [l for l in err.splitlines() if "need a restart" in l]
    assert len(warn) == 1, warn
    assert "queue-size" in warn[0] and "events-log" in warn[0], warn
    assert "hostname" not in warn[0], warn
    assert d.proc.poll() is None


def test_sighup_with_a_bad_export_line_keeps_the_running_configuration(
        daemon, tmp_path):
    d = daemon(hostname="kept.decoy.test")
    d.write_config(list(d.lines) + [
        "export rbldnsd %s every 5m --ttl abc" % (tmp_path / "bl")])
    d.signal(signal.SIGHUP)
    wait_until(lambda: "has errors" in d.read_stderr(), 5,
               what="the reload refused")
    assert "--ttl: 'abc' is not a TTL" in d.read_stderr()
    assert greeting_host(d) == "kept.decoy.test"
    assert d.proc.poll() is None
