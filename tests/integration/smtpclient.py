# SPDX-License-Identifier: ISC
"""
A raw SMTP client for the tests: send exact bytes, read exact replies.
Shared by the integration tests (through conftest) and the end-to-end
test.  Standard library only.
"""
import socket


class SmtpError(Exception):
    pass


class Smtp:
    """A raw SMTP client: send exact bytes, read exact replies."""

    def __init__(self, host, port, src=None, timeout=5.0, greet=True,
                 sock=None):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        # sock: one the caller made (e.g. inside a network namespace).
        self.sock = sock or socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if src is not None:
            self.sock.bind((src, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.greeting = self.reply() if greet else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SmtpError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """Reads one (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
            if len(lines) > 100:
                raise SmtpError("endless multi-line reply")
        return int(lines[-1][:3]), lines

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5.0):
        """True when the server has closed (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
