# SPDX-License-Identifier: ISC
"""
Pregreet detected by default, without a race (issue 13): the greeting is
a multi-line banner, its first line ("220-") at once and the last after
banner-wait (default 500 ms), as postscreen does; a client that talks
before the last line is a pregreeter.  With the default configuration
both kinds of pregreeting bots -- one that talks as soon as it is
connected, one that talks as soon as it has read any greeting line --
are caught in 20 of 20 runs, and well-behaved clients (swaks, smtplib)
are never flagged and wait at most about banner-wait.
"""
import smtplib
import socket
import subprocess
import time

from conftest import wait_until

RUNS = 20
HELO = b"EHLO bot.example.net\r\n"


def talks_at_once(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(HELO)
    read_until_closed(s, b"QUIT\r\n")


def talks_after_first_line(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")      # any greeting line will do
    s.sendall(HELO)
    f.close()
    read_until_closed(s, b"QUIT\r\n")


def read_until_closed(s, last):
    s.settimeout(10)
    time.sleep(0.05)
    s.sendall(last)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()


def test_pregreeting_bots_caught_every_time(daemon):
    d = daemon(extra=["max-per-client 100"])
    for i in range(RUNS):
        talks_at_once(d.port)
        talks_after_first_line(d.port)
    rows = d.sessions(2 * RUNS, timeout=30)
    caught = [r for r in rows if "pregreet" in r["anomalies"]]
    assert len(rows) == 2 * RUNS
    assert len(caught) == 2 * RUNS, [r["anomalies"] for r in rows]


def test_well_behaved_clients_are_not_flagged_and_wait_banner_wait(daemon):
    d = daemon()
    waits = []
    for i in range(3):
        t0 = time.monotonic()
        s = smtplib.SMTP("127.0.0.1", d.port,
                         local_hostname="smtp.example.net", timeout=10)
        waits.append(time.monotonic() - t0)     # the greeting, all of it
        s.ehlo()
        s.mail("b@example.net")
        s.rcpt("c@example.org")
        s.quit()
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % d.port,
                        "--to", "someone@example.org", "--from",
                        "a@example.net", "--helo", "mail.example.org"],
                       capture_output=True, timeout=30)
    assert b"220-" in r.stdout and b"220 " in r.stdout, r.stdout
    rows = d.sessions(4)
    for row in rows:
        assert row["anomalies"] == [], row
    # The whole greeting comes after the wait: 500 ms, not a second.
    assert all(0.45 <= w for w in waits), waits


def test_banner_wait_0_is_a_one_line_greeting(daemon):
    d = daemon(extra=["banner-wait 0"])
    s = socket.create_connection(("127.0.0.1", d.port), 5)
    s.settimeout(5)
    assert s.recv(100).startswith(b"220 ")
    s.close()
