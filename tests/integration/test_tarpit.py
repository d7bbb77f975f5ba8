# SPDX-License-Identifier: ISC
"""
The tarpit and the limits (issue 3), against the real daemon:

* a client that talks before the greeting is flagged "pregreet" and its
  replies come slowly, while a well-behaved MTA in parallel gets its 4xx
  at once (tarpit bots, the default);
* "tarpit all" and "tarpit none";
* max-per-client: the excess connection gets 421 4.7.0 and is recorded
  with close_reason "limit";
* max-clients: accepting pauses at the limit and resumes below it;
* the metrics listener serves Prometheus text with the counters.
"""
import socket
import threading
import time
import urllib.request

from conftest import Smtp, free_port, normal_session, wait_until

TARPIT = ["greeting-delay 300ms", "reply-delay 200ms", "stutter 50ms 4",
          "tarpit bots"]


def slow_bot(port, out):
    """Talks before the greeting, pipelines; records how long it took."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(b"EHLO bot\r\nMAIL FROM:<a@b.example>\r\n"
              b"RCPT TO:<c@d.example>\r\nQUIT\r\n")
    data = b""
    s.settimeout(20)
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    out["elapsed"] = time.monotonic() - t0
    out["data"] = data


def test_bot_is_slow_while_mta_is_fast(daemon):
    d = daemon(extra=TARPIT)
    res = {}
    t = threading.Thread(target=slow_bot, args=(d.port, res))
    t.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    normal_session(d)                 # an MTA, in parallel
    mta = time.monotonic() - t0
    t.join(30)
    assert not t.is_alive()
    # The MTA waits only for the greeting delay.
    assert mta < 0.3 + 0.5, mta
    # The bot's ~190 bytes of replies trickle out 4 bytes per 50 ms.
    assert res["elapsed"] > 1.5, res
    assert b"450 4.7.1" in res["data"] and res["data"].endswith(
        b"221 2.0.0 Bye\r\n"), res["data"]
    rows = d.sessions(2)
    bot = [r for r in rows if r["helo"] == "bot"][0]
    mta_row = [r for r in rows if r["helo"] == "mail.example.org"][0]
    assert "pregreet" in bot["anomalies"]
    assert "pipelining" in bot["anomalies"]
    assert mta_row["anomalies"] == []
    assert bot["greeting_delay_ms"] == 300


def test_tarpit_all_and_none(daemon):
    d = daemon(extra=["tarpit all", "reply-delay 400ms"])
    t0 = time.monotonic()
    normal_session(d)                 # 5 replies, each 400 ms late
    assert time.monotonic() - t0 > 1.6
    d2 = daemon(extra=["tarpit none", "reply-delay 400ms",
                       "stutter 100ms 1"])
    res = {}
    slow_bot(d2.port, res)
    assert res["elapsed"] < 1.0, res


def test_max_per_client(daemon):
    d = daemon(extra=["max-per-client 2"])
    a = Smtp("127.0.0.1", d.port, src="127.0.0.5")
    b = Smtp("127.0.0.1", d.port, src="127.0.0.5")
    with Smtp("127.0.0.1", d.port, src="127.0.0.5", greet=False) as c:
        code, lines = c.reply()
        assert code == 421 and "4.7.0" in lines[0], lines
        assert c.closed()
    # Another client address is not affected.
    with Smtp("127.0.0.1", d.port, src="127.0.0.6") as other:
        assert other.greeting[0] == 220
        other.cmd("QUIT")
    a.cmd("QUIT")
    b.cmd("QUIT")
    a.close()
    b.close()
    # Once they left, the client may connect again.
    with Smtp("127.0.0.1", d.port, src="127.0.0.5") as again:
        assert again.greeting[0] == 220
        again.cmd("QUIT")
    rows = d.sessions(5)
    limited = [r for r in rows if r["close_reason"] == "limit"]
    assert len(limited) == 1 and limited[0]["reply_code"] == 421


def test_max_clients_pauses_and_resumes(daemon):
    d = daemon(extra=["max-clients 3", "max-per-client 100"])
    held = [Smtp("127.0.0.1", d.port) for _ in range(3)]
    # The fourth is not accepted (it waits in the kernel's backlog) ...
    s = socket.create_connection(("127.0.0.1", d.port), 5)
    s.settimeout(0.5)
    try:
        early = s.recv(100)
    except socket.timeout:
        early = b""
    assert early == b""
    # ... until one leaves.
    held[0].cmd("QUIT")
    held[0].close()
    s.settimeout(5)
    assert s.recv(100).startswith(b"220")     # "220-": banner-wait
    s.close()
    for h in held[1:]:
        h.close()
    assert "max-clients 3 reached" in d.read_stderr()


def test_metrics(daemon):
    mport = free_port(["127.0.0.1"])
    d = daemon(extra=["metrics 127.0.0.1:%d" % mport] + TARPIT)
    normal_session(d)
    res = {}
    slow_bot(d.port, res)
    d.sessions(2)

    def scrape():
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                    timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            return r.read().decode()
    want = ['decoymx_connections_total 2', 'decoymx_tarpitted_total 1',
            'decoymx_anomalies_total{kind="pregreet"} 1',
            'decoymx_replies_total{code="450"} 2',
            'decoymx_sessions_total{stage="rcpt"} 2',
            'decoymx_store_sessions_total 2', 'decoymx_connections_open 0']
    text = wait_until(lambda: (lambda t: t if all(w in t.splitlines()
                                                  for w in want) else None)(
        scrape()), 10, interval=0.2, what="metrics to show both sessions")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            float(value)              # every sample line parses
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % mport,
                               timeout=5)
        assert False, "expected 404"
    except urllib.error.HTTPError as e:
        assert e.code == 404


def test_out_of_descriptors_pauses_accepting(daemon):
    import subprocess
    d = daemon(extra=["max-per-client 1000"])
    net = d.net_pid()
    subprocess.run(["prlimit", "--pid", str(net), "--nofile=32:32"],
                   check=True)
    conns = []
    for _ in range(60):               # more than the network process may open
        conns.append(socket.create_connection(("127.0.0.1", d.port), 5))
    wait_until(lambda: "accept paused" in d.read_stderr(), 10,
               what="the accept pause to be logged")
    for c in conns:
        c.close()
    # Descriptors are free again: after the pause it serves normally.
    wait_until(lambda: _greets(d.port), 10, interval=0.3,
               what="a greeting after the pause")
    normal_session(d)
    assert d.proc.poll() is None


def _greets(port):
    try:
        with Smtp("127.0.0.1", port, timeout=2) as s:
            return s.greeting[0] == 220
    except (OSError, Exception):
        return False
