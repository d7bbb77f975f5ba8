# SPDX-License-Identifier: ISC
"""
Every anomaly kind (decoymx(8), ANOMALIES) produced by a client that does
exactly that thing and nothing else, and none produced by well-behaved
clients: swaks and Python's smtplib with a proper HELO name.
"""
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import wait_until

HELO = b"EHLO mail.example.org\r\n"
ENVELOPE = b"MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.org>\r\n"


def lockstep(sock, lines):
    """Sends each line and waits for its complete reply (no pipelining)."""
    f = sock.makefile("rb")
    assert f.readline().startswith(b"220")
    for line in lines:
        sock.sendall(line)
        while True:
            r = f.readline()
            if not r or r[3:4] != b"-":
                break
        if not r or r.startswith(b"221") or r.startswith(b"421"):
            break
    f.close()


def run_pregreet(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(HELO)                      # before the 150 ms greeting
    time.sleep(0.3)
    lockstep(s, [b"QUIT\r\n"])
    s.close()


def run_pipelining(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.recv(100)
    s.sendall(HELO + ENVELOPE + b"QUIT\r\n")
    drain(s)


def run_lines(lines):
    def run(port):
        s = socket.create_connection(("127.0.0.1", port), 5)
        time.sleep(0.2)                 # wait out the greeting delay
        lockstep(s, lines)
        s.close()
    return run


def run_non_smtp(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    time.sleep(0.2)
    s.recv(100)
    s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40)
    drain(s)


def run_early_quit(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    time.sleep(0.2)
    lockstep(s, [HELO, b"MAIL FROM:<a@example.net>\r\n", b"QUIT\r\n"])
    s.close()


def drain(s):
    s.settimeout(5)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    s.close()


CASES = {
    "pregreet": run_pregreet,
    "pipelining": run_pipelining,
    "bare-lf": run_lines([b"EHLO mail.example.org\n", b"QUIT\n"]),
    "non-smtp": run_non_smtp,
    "helo-invalid": run_lines([b"EHLO localhost\r\n", b"QUIT\r\n"]),
    "long-line": run_lines([HELO, b"MAIL FROM:<" + b"a" * 3000 + b">\r\n",
                            b"QUIT\r\n"]),
    "too-many-errors": run_lines([HELO] + [b"BOGUS\r\n"] * 5),
    "auth-attempt": run_lines([HELO, b"AUTH LOGIN dXNlcg==\r\n",
                               b"QUIT\r\n"]),
    "early-quit": run_early_quit,
    "rset-loop": run_lines([HELO] + [b"RSET\r\n"] * 7 + [b"QUIT\r\n"]),
}

CONF = ["greeting-delay 150ms", "max-errors 5"]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_anomaly(daemon, kind):
    d = daemon(extra=CONF)
    CASES[kind](d.port)
    rows = d.sessions(1)
    assert kind in rows[0]["anomalies"], rows[0]
    # The client did that one thing only (early-quit also ends the
    # connection-level dialogue of the pregreet/pipelining bots, so only
    # those that completed an RCPT are checked for exclusivity).
    if kind not in ("pregreet", "non-smtp", "too-many-errors",
                    "helo-invalid", "bare-lf", "long-line", "auth-attempt",
                    "rset-loop"):
        assert rows[0]["anomalies"] == [kind], rows[0]


def test_well_behaved_clients_show_none(daemon):
    d = daemon(extra=CONF)
    subprocess.run(["swaks", "--server", "127.0.0.1:%d" % d.port,
                    "--to", "someone@example.org", "--from", "a@example.net",
                    "--helo", "mail.example.org"], capture_output=True,
                   timeout=30)
    s = smtplib.SMTP("127.0.0.1", d.port, local_hostname="smtp.example.net",
                     timeout=10)
    s.ehlo()
    s.mail("b@example.net")
    s.rcpt("c@example.org")
    s.rcpt("d@example.org")
    s.quit()
    rows = d.sessions(2)
    for r in rows:
        assert r["anomalies"] == [], r
        assert r["reply_code"] == 450
