# SPDX-License-Identifier: ISC
"""
A full daemon lifecycle under valgrind (memcheck): start, sessions
(normal, bad input, AUTH, a refused over-long line), SIGHUP reload,
SIGTERM.  Both processes (the network process is a fork, which valgrind
follows) must report no errors and no leaked blocks.
"""
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, USER, Daemon, normal_session, wait_until, \
    listening_ports, proc_hex_addr, sanitized

pytestmark = [
    pytest.mark.skipif(shutil.which("valgrind") is None,
                       reason="valgrind not installed"),
    pytest.mark.skipif(sanitized(), reason="ASan build: memcheck runs on "
                       "the plain build"),
]


def test_lifecycle_is_clean_under_valgrind(tmp_path):
    d = Daemon(tmp_path, extra=["idle-timeout 2s", "greeting-delay 100ms",
                                "stutter 10ms 8", "tarpit bots"])
    d.write_config()
    logs = str(tmp_path / "vg.%p.log")
    proc = subprocess.Popen(
        ["valgrind", "--error-exitcode=99", "--leak-check=full",
         "--show-leak-kinds=definite,indirect,possible",
         "--errors-for-leak-kinds=definite,indirect,possible",
         "--log-file=" + logs, str(BIN), "run", "-c", d.conf,
         "--user", USER], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=str(tmp_path),
        start_new_session=True)
    try:
        wait_until(lambda: {(proc_hex_addr("127.0.0.1"), d.port)}
                   <= listening_ports() or proc.poll() is not None,
                   60, what="decoymx under valgrind to listen")
        assert proc.poll() is None
        for _ in range(3):
            normal_session(d)
        with socket.create_connection(("127.0.0.1", d.port), 5) as s:
            s.sendall(b"EHLO x\r\nAUTH PLAIN AGJvYgBzZWNyZXQ=\r\n" +
                      b"A" * 5000 + b"\r\nQUIT\r\n")
            s.settimeout(10)
            while s.recv(4096):
                pass
        with socket.create_connection(("127.0.0.1", d.port), 5) as s:
            s.sendall(b"\x16\x03\x01\x00\x05hello")
            s.settimeout(10)
            while s.recv(4096):
                pass
        # One left open: closed and recorded as "shutdown" at SIGTERM.
        idle = socket.create_connection(("127.0.0.1", d.port), 5)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        normal_session(d)
        d.sessions(6, timeout=30)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
        idle.close()
    finally:
        # Both processes, even when the test failed half-way.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    reports = glob.glob(str(tmp_path / "vg.*.log"))
    assert len(reports) >= 2, reports      # the store and the network process
    for path in reports:
        text = open(path).read()
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        assert m and m.group(1) == "0", text[-3000:]
        assert "definitely lost: 0" in text or "All heap blocks were freed" \
            in text, text[-3000:]
        assert "indirectly lost: 0" in text or "All heap blocks were freed" \
            in text, text[-3000:]
    assert rc == 0
