# SPDX-License-Identifier: ISC
"""
A headless Chromium driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: requests on fd 3, replies on fd 4, each a JSON
message ended by NUL), with the Python standard library only.

    with Browser() as b:
        page = b.open("file:///tmp/r.html")   # waits for the load event
        page.eval("document.title")
        page.screenshot("/tmp/r.png")
        page.errors                            # console errors, exceptions

Every wait is bounded; a browser that does not answer fails the test.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

TIMEOUT = 60.0


def chromium():
    """The chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self, width=1200, height=900):
        self.profile = tempfile.mkdtemp(prefix="decoymx-cdp-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # The child's fd 3 reads our requests, fd 4 writes its replies;
        # dup2 clears close-on-exec on them, and only on them.
        def fds():
            r, w = os.dup(to_child_r), os.dup(from_child_w)  # not 3 or 4
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--hide-scrollbars",
             "--user-data-dir=" + self.profile,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=fds, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.send("Browser.close", wait=False)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self, deadline):
        """The next message from the browser."""
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer")
            r, _, _ = select.select([self.from_child], [], [], left)
            if r:
                chunk = os.read(self.from_child, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, wait=True):
        """Sends a command; returns its result (raises on an error)."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method,
               "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        if not wait:
            return None
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, session, deadline):
        """Waits for an event of a session (those seen already count)."""
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method and \
                        m.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read(deadline))

    def open(self, url):
        """A new page showing url, once its load event has fired."""
        target = self.send("Target.createTarget",
                           {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})[
                                "sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session,
                        time.monotonic() + TIMEOUT)
        return page


class Page:
    def __init__(self, browser, session):
        self.b = browser
        self.session = session

    def eval(self, expr):
        """The value of a JavaScript expression run by DevTools."""
        r = self.b.send("Runtime.evaluate",
                        {"expression": expr, "returnByValue": True},
                        session=self.session)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def screenshot(self, path, full=True):
        """Writes a PNG of the page (the whole page when full)."""
        params = {"format": "png"}
        if full:
            m = self.b.send("Page.getLayoutMetrics", session=self.session)
            size = m.get("cssContentSize") or m["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"],
                              "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.b.send("Page.captureScreenshot", params,
                           session=self.session)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    @property
    def errors(self):
        """Console errors, log errors and exceptions seen so far."""
        out = []
        # Drain what has arrived without waiting.
        while True:
            r, _, _ = select.select([self.b.from_child], [], [], 0.2)
            if not r and b"\0" not in self.b.buf:
                break
            self.b.events.append(self.b._read(time.monotonic() + TIMEOUT))
        for m in self.b.events:
            if m.get("sessionId") != self.session:
                continue
            p = m.get("params", {})
            if m.get("method") == "Runtime.exceptionThrown":
                out.append(p)
            elif m.get("method") == "Runtime.consoleAPICalled" and \
                    p.get("type") in ("error", "assert", "warning"):
                out.append(p)
            elif m.get("method") == "Log.entryAdded" and \
                    p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(p["entry"])
        return out


if __name__ == "__main__":
    # cdp.py PAGE.html OUT.png: a full-page screenshot, e.g. for doc/.
    import sys
    if len(sys.argv) != 3:
        sys.exit("usage: cdp.py PAGE.html OUT.png")
    with Browser(width=1100) as b:
        p = b.open("file://" + os.path.abspath(sys.argv[1]))
        p.screenshot(sys.argv[2])
        if p.errors:
            sys.exit("console errors: %r" % p.errors)
