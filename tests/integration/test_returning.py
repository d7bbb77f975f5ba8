# SPDX-License-Identifier: ISC
"""
The returning-client rule (issue 11), against the real daemon: the first
contact of a client gets the configured deferral (450 at RCPT, so its
envelope is recorded); the same client back at any decoy within
returning-window is reset (the default) or gets 421 at the greeting
(returning-defer greeting), so every MTA walks on, and both sessions
are recorded with their stage and reply.  Another client is not
affected; after the window it gets the normal deferral again (being
seen at the real MX does not end the window); a reload can turn the
rule off; the metrics count it.
"""
import json
import os
import signal
import socket
import time
import urllib.request

import pytest

import scenario
from conftest import BIN, Smtp, free_port, run_bin, wait_until

need_root = pytest.mark.skipif(os.geteuid() != 0,
                               reason="live capture needs root")

ADDRS = ("127.0.0.1", "127.0.0.2")
LISTEN = ["127.0.0.1:{port} mx 10", "127.0.0.2:{port} mx 40"]


def full_session(d, src, dst="127.0.0.1"):
    """A first contact: 220, then 450 at RCPT."""
    with Smtp(dst, d.port, src=src) as c:
        assert c.greeting[0] == 220, c.greeting
        assert c.cmd("EHLO mta.example.net")[0] == 250
        assert c.cmd("MAIL FROM:<a@example.net>")[0] == 250
        code, lines = c.cmd("RCPT TO:<b@example.org>")
        assert code == 450, lines
        assert c.cmd("QUIT")[0] == 221


def greeting(d, src, dst="127.0.0.1"):
    """The greeting a client gets, and whether the decoy then closed."""
    with Smtp(dst, d.port, src=src) as c:
        code, lines = c.greeting
        if code == 220:
            c.cmd("QUIT")
            return code, lines, False
        return code, lines, c.closed()


def test_second_contact_gets_421_at_greeting(daemon):
    mport = free_port(["127.0.0.1"])
    d = daemon(addrs=ADDRS, listen=LISTEN,
               extra=["returning-defer greeting", "returning-window 1h",
                      "metrics 127.0.0.1:%d" % mport])
    full_session(d, "127.0.0.5")
    # Back at the other decoy (the backup): 421 at once, then closed.
    code, lines, closed = greeting(d, "127.0.0.5", dst="127.0.0.2")
    assert code == 421 and closed, lines
    assert lines[0].startswith("421 4.7.1 mx10.decoy.test "), lines
    # And at the first decoy too.
    assert greeting(d, "127.0.0.5")[0] == 421
    # Another client is a first contact.
    full_session(d, "127.0.0.6")

    rows = d.sessions(4)
    mine = sorted((r for r in rows if r["src_ip"] == "127.0.0.5"),
                  key=lambda r: r["start"])
    assert [(r["stage"], r["reply_code"], r["close_reason"])
            for r in mine] == [("rcpt", 450, "quit"),
                               ("greeting", 421, "deferred"),
                               ("greeting", 421, "deferred")], mine
    assert mine[0]["helo"] == "mta.example.net"
    assert mine[0]["mail_from"] == "a@example.net"
    assert mine[1]["dst_ip"] == "127.0.0.2" and mine[1]["helo"] is None
    other = [r for r in rows if r["src_ip"] == "127.0.0.6"]
    assert [(r["stage"], r["reply_code"]) for r in other] == [("rcpt", 450)]

    def scrape():
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                    timeout=5) as f:
            text = f.read().decode()
        return ("decoymx_returning_deferred_total 2\n" in text and
                "decoymx_client_table_entries 2\n" in text and
                "decoymx_client_table_evictions_total 0\n" in text)
    wait_until(scrape, 10, interval=0.2, what="returning-client metrics")


def test_window_expiry_and_reload_off(daemon):
    # 5 s: room for a loaded machine between two connections (the
    # window counts in whole seconds from the first contact).
    d = daemon(extra=["returning-defer greeting", "returning-window 5s"])
    full_session(d, "127.0.0.7")
    assert greeting(d, "127.0.0.7")[0] == 421
    # Past the window, a new first contact.
    time.sleep(6.5)
    full_session(d, "127.0.0.7")
    assert greeting(d, "127.0.0.7")[0] == 421
    # Turned off by a reload: the configured deferral for everyone.
    d.lines = [l for l in d.lines
               if l.split()[0] not in ("returning-defer", "returning-window")]
    d.lines += ["returning-defer off"]
    d.write_config()
    d.signal(signal.SIGHUP)
    wait_until(lambda: greeting(d, "127.0.0.7")[0] == 220, 5,
               what="returning-defer off after the reload")
    full_session(d, "127.0.0.7")


def test_off_by_key(daemon):
    d = daemon(extra=["returning-defer off"])
    full_session(d, "127.0.0.8")
    full_session(d, "127.0.0.8")


@need_root
def test_seen_at_real_mx_is_still_sent_on(daemon):
    # Two real-MX addresses (a second host, its preference taken from
    # the first): the sensor watches both.
    holder = socket.socket()
    holder.bind(("127.0.0.21", 0))
    d = daemon(real_mx=None, extra=[
        "returning-defer greeting", "real-mx 127.0.0.20 mx 20",
        "real-mx 127.0.0.21", "sensor on", "sensor interface lo",
        "sensor fpdb none"])
    real = socket.socket()
    real.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.close()
    real.bind(("127.0.0.21", d.port))
    real.listen(16)
    try:
        full_session(d, "127.0.0.9")
        # It walks on to the second real MX: the sensor sees the SYN.
        s = socket.socket()
        s.bind(("127.0.0.9", 0))
        s.connect(("127.0.0.21", d.port))
        s.close()
        wait_until(lambda: ("127.0.0.9", "127.0.0.21", 20) in syns(d.db),
                   10, what="the SYN to the real MX")
        # Its next message within the window: sent on again at once
        # (an MTA like Courier would keep it after a deferral at RCPT).
        assert greeting(d, "127.0.0.9")[0] == 421
        # A client that did not walk gets 421 too.
        full_session(d, "127.0.0.10")
        assert greeting(d, "127.0.0.10")[0] == 421
    finally:
        real.close()


def syns(db):
    import sqlite3
    c = sqlite3.connect(db)
    try:
        return c.execute("SELECT src_ip, dst_ip, mx_pref FROM syns"
                         " WHERE role = 'real'").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        c.close()


def reset_or_closed(src, port, dst="127.0.0.1"):
    """Connects from src and reads: 'reset' when the decoy reset the
    connection before any byte, else what it sent."""
    try:
        # the reset may come before connect() has even returned
        s = socket.create_connection((dst, port), timeout=10,
                                     source_address=(src, 0))
    except ConnectionResetError:
        return "reset"
    try:
        data = s.recv(512)
    except ConnectionResetError:
        return "reset"
    finally:
        s.close()
    return data


def test_default_resets_a_returning_client_and_records_it(daemon):
    """The default (returning-defer reset): the second contact gets no
    reply at all, a TCP reset (every MTA of the compatibility matrix
    walks on after it, Courier included), and is recorded."""
    d = daemon(addrs=ADDRS, listen=LISTEN,
               extra=["returning-defer reset", "returning-window 1h"])
    full_session(d, "127.0.0.8")
    assert reset_or_closed("127.0.0.8", d.port, "127.0.0.2") == "reset"
    assert reset_or_closed("127.0.0.8", d.port) == "reset"
    full_session(d, "127.0.0.9")        # another client: a first contact
    rows = d.sessions(4)
    mine = sorted((r for r in rows if r["src_ip"] == "127.0.0.8"),
                  key=lambda r: r["start"])
    assert [(r["stage"], r["reply_code"], r["close_reason"])
            for r in mine] == [("rcpt", 450, "quit"),
                               ("connect", None, "deferred"),
                               ("connect", None, "deferred")], mine


def test_an_ipv6_return_pairs_the_next_ipv4_first_contact(daemon):
    """The pair rule: a dual-stack MTA retries the primary decoy over IPv6
    (a returning client, reset) and then over IPv4, a first contact by
    address; that IPv4 contact within 5 s of the IPv6 return is reset
    too, so that the MTA walks on (OpenSMTPD would keep the message after
    a 450 at RCPT).  One return pairs one contact: the next IPv4 first
    contact gets the deferral; the metrics count the pairing."""
    mport = free_port(["127.0.0.1"])
    d = daemon(addrs=("127.0.0.1", "::1"),
               extra=["returning-defer reset", "returning-window 1h",
                      "metrics 127.0.0.1:%d" % mport])
    full_session(d, "::1", dst="::1")
    assert reset_or_closed("::1", d.port, "::1") == "reset"
    assert reset_or_closed("127.0.0.5", d.port) == "reset"
    full_session(d, "127.0.0.6")
    # the paired client's return in its window: paired too
    assert reset_or_closed("127.0.0.5", d.port) == "reset"
    rows = d.sessions(5)
    four = sorted((r for r in rows if ":" not in r["src_ip"]),
                  key=lambda r: r["start"])
    assert [(r["src_ip"], r["stage"], r["reply_code"], r["close_reason"])
            for r in four] == [("127.0.0.5", "connect", None, "paired"),
                               ("127.0.0.6", "rcpt", 450, "quit"),
                               ("127.0.0.5", "connect", None, "paired")], \
        four

    def scrape():
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                    timeout=5) as f:
            text = f.read().decode()
        return ("\ndecoymx_returning_paired_total 1\n" in text and
                "\ndecoymx_returning_deferred_total 3\n" in text)
    wait_until(scrape, 10, interval=0.2, what="the pair rule's metrics")


def test_a_client_seen_only_paired_is_never_listed(tmp_path):
    """A paired session is no evidence (the connection may have been
    another host's): two clients that touched only the primary decoy
    two hours ago and never the real MX, which the sensor saw; the one
    sent on by the pair rule is not listed, the one reset as a returning
    client is (nolisting-only)."""
    now = int(time.time() * 1e6)
    d = scenario.Db(BIN, tmp_path / "p.db")
    for ip, reason in (("198.51.100.40", "paired"),
                       ("198.51.100.41", "deferred")):
        d.session(ip, now - 2 * scenario.HOUR, decoy=scenario.PRIMARY,
                  helo=None, mail_from=None, rcpts=(), stage="connect",
                  reason=reason)
    scenario.syn(d, "198.51.100.99", now - 2 * scenario.HOUR, "real")
    d.close()
    got = {}
    for ip in ("198.51.100.40", "198.51.100.41"):
        r = run_bin("report", "ip", ip, "--db", str(tmp_path / "p.db"),
                    "--format", "json")
        assert r.returncode == 0, r.stderr
        c = json.loads(r.stdout)["classification"]
        got[ip] = (c["verdict"][0]["listed"],
                   [x["reason"] for x in c["reasons"]])
    assert got == {"198.51.100.40": (0, []),
                   "198.51.100.41": (1, ["nolisting-only"])}, got
