# SPDX-License-Identifier: ISC
"""
Known databases for the report and export tests, written without the
daemon: "decoymx db migrate" makes the schema, then rows go in through
SQL the way the store writes them (sessions with recipients, then the
clients and client_decoys aggregates); the schema's triggers keep the
rest.  Every count the tests assert follows from the rows below.
"""
import sqlite3
import subprocess

T0 = 1795000000 * 10**6          # 2026-11-18T11:06:40Z
MIN = 60 * 10**6
HOUR = 3600 * 10**6

PRIMARY = ("192.0.2.10", 10, "primary")
BACKUP = ("192.0.2.40", 40, "backup")

# Anomaly bits (common/decoymx.h).
PREGREET, PIPELINING, BARE_LF, NON_SMTP, HELO_INVALID = 1, 2, 4, 8, 16


class Db:
    def __init__(self, binary, path):
        self.binary = binary
        self.path = str(path)
        r = subprocess.run([str(binary), "db", "migrate", "--db", self.path],
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("BEGIN")
        self.n = 0

    def session(self, src, t, decoy=BACKUP, helo="mail.example.org",
                mail_from="a@example.net", rcpts=("u@victim.example",),
                anomalies=0, country="DE", asn=64500, as_org="Example AS",
                stage="rcpt", reason="quit", os=None, os_class=None):
        self.n += 1
        dst, pref, role = decoy
        if isinstance(helo, str):
            helo = helo.encode("utf-8", "surrogateescape")
        if isinstance(mail_from, str):
            mail_from = mail_from.encode("utf-8", "surrogateescape")
        # bytes are bound as BLOB; the store binds TEXT: cast back.
        cur = self.db.execute(
            "INSERT INTO sessions(uid, start_us, end_us, src_ip, src_port,"
            " dst_ip, dst_port, mx_pref, role, greeting_delay_ms,"
            " helo_verb, helo, mail_from, rcpt_total, stage, reply_code,"
            " close_reason, bytes_in, bytes_out, commands, errors,"
            " anomalies, country, asn, as_org, os, os_class)"
            " VALUES(?, ?, ?, ?, 40000, ?, 25, ?, ?, 0, 'EHLO',"
            " CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, 450, ?, 100, 200, 5,"
            " 0, ?, ?, ?, ?, ?, ?)",
            ("%016x" % self.n, t, t + 2 * 10**6, src, dst, pref, role,
             helo, mail_from, len(rcpts), stage, reason, anomalies, country,
             asn, as_org, os, os_class))
        sid = cur.lastrowid
        # One MAIL transaction holding the envelope (schema 7).
        if mail_from is not None or rcpts:
            self.db.execute(
                "INSERT INTO transactions(session_id, seq, mail_from,"
                " rcpt_total, ended) VALUES(?, 0, CAST(? AS TEXT), ?,"
                " 'quit')", (sid, mail_from, len(rcpts)))
            self.db.execute("UPDATE sessions SET transactions = 1"
                            " WHERE id = ?", (sid,))
        for i, r in enumerate(rcpts):
            self.db.execute("INSERT INTO recipients(session_id, seq, rcpt)"
                            " VALUES(?, ?, ?)", (sid, i, r))
        self.db.execute(
            "INSERT INTO clients(ip, first_us, last_us, sessions, anomalies,"
            " rcpts) VALUES(?, ?, ?, 1, ?, ?) ON CONFLICT(ip) DO UPDATE SET"
            " first_us = min(first_us, excluded.first_us),"
            " last_us = max(last_us, excluded.last_us),"
            " sessions = sessions + 1,"
            " anomalies = anomalies | excluded.anomalies,"
            " rcpts = rcpts + excluded.rcpts",
            (src, t, t + 2 * 10**6, anomalies, len(rcpts)))
        self.db.execute(
            "INSERT INTO client_decoys(ip, decoy, mx_pref, role, first_us,"
            " last_us, sessions) VALUES(?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT(ip, decoy) DO UPDATE SET"
            " first_us = min(first_us, excluded.first_us),"
            " last_us = max(last_us, excluded.last_us),"
            " sessions = sessions + 1",
            (src, dst, pref, role, t, t + 2 * 10**6))
        return sid

    def sql(self, text, *args):
        return self.db.execute(text, args)

    def close(self):
        self.db.execute("COMMIT")
        self.db.close()
        # Rows written here, not by the store: rebuild the report counts.
        r = subprocess.run([str(self.binary), "db", "recount", "--db",
                            self.path], capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return self.path


def report_db(binary, path):
    """
    The report scenario: 8 sessions, 4 clients.

      198.51.100.7   3 sessions, backup decoy, DE/64500, hostile HELO
      198.51.100.8   1 session, backup, DE/64500
      203.0.113.9    2 sessions, primary, US/64501
      2001:db8::1    2 sessions, primary, no geo
    """
    d = Db(binary, path)
    d.session("198.51.100.7", T0, anomalies=PREGREET | HELO_INVALID,
              helo="\x1b[31mred\x1b[0m\nforged", rcpts=("a@v.example",
                                                     "b@v.example"))
    d.session("198.51.100.7", T0 + HOUR, anomalies=PIPELINING,
              helo="=HYPERLINK(\"http://x\")", mail_from="x@Bot.Example")
    d.session("198.51.100.7", T0 + 2 * HOUR, helo="\xff\xfe bad utf8",
              mail_from="")
    d.session("198.51.100.8", T0 + 2 * HOUR + MIN, helo="mail.example.org")
    d.session("203.0.113.9", T0 + 3 * HOUR, decoy=PRIMARY, country="US",
              asn=64501, as_org="Other AS", stage="mail", rcpts=())
    d.session("203.0.113.9", T0 + 3 * HOUR + 10 * MIN, decoy=PRIMARY,
              country="US", asn=64501, as_org="Other AS")
    d.session("2001:db8::1", T0 + 4 * HOUR, decoy=PRIMARY, country=None,
              asn=None, as_org=None, reason="timeout")
    d.session("2001:db8::1", T0 + 5 * HOUR, decoy=PRIMARY, country=None,
              asn=None, as_org=None, os="Linux 3.11 and newer",
              os_class="Linux")
    return d.close()


def syn(d, src, t, role, dst="192.0.2.20", pref=20):
    d.sql("INSERT INTO syns(ts_us, src_ip, src_port, dst_ip, dst_port,"
          " mx_pref, role, ver, ttl, ittl, dist, win, mss, wscale, olayout,"
          " quirks, pclass, seq, sig, label, os_class, match, retransmits)"
          " VALUES(?, ?, 40000, ?, 25, ?, ?, ?, 60, 64, 4, 65535, 1460, 7,"
          " 'mss,sok,ts,nop,ws', 'df', '0', 1, 'sig', NULL, NULL, 'none',"
          " 0)", t, src, dst, pref, role, 6 if ":" in src else 4)


# The export scenario: who must be listed, with which reasons.
LISTED = {
    "198.51.100.10": ["backup-direct"],
    "198.51.100.12": ["bot-protocol"],
    "198.51.100.14": ["bot-protocol"],
    "198.51.100.16": ["backup-direct"],
    "2001:db8:1:2::/64": ["backup-direct"],
}
NOT_LISTED = ["198.51.100.11", "198.51.100.13", "198.51.100.15",
              "192.0.2.200", "127.0.0.1", "2001:db8:1:3::1"]
ALLOW = "# test allowlist\n198.51.100.15  # a partner\n\n2001:db8:1:2::20\n"
HOSTILE_HELO = "x\n1.2.3.4 :127.0.0.9:owned\n$SOA 0 a. b. 1 1 1 1 1\n!127.0.0.2"


# With the sensor (export_db sensor=True): the bots, each with the
# reasons it must be listed for (an entry of the export: a /64 for IPv6),
# and the MTAs, which must never be listed.  catch_rate() measures both.
SENSOR_BOTS = {
    "198.51.100.10": ["backup-direct"],          # straight to MX 40
    "198.51.100.11": ["nolisting-only"],         # MX 10, then MX 40
    "198.51.100.12": ["nolisting-only", "bot-protocol"],  # pregreet
    "198.51.100.13": ["nolisting-only"],         # retries MX 10 only
    "198.51.100.14": ["nolisting-only", "bot-protocol"],  # pregreet
    "198.51.100.16": ["backup-direct"],
    "198.51.100.20": ["nolisting-only"],         # MX 10 once
    "198.51.100.27": ["nolisting-only"],         # retries MX 10 a minute on
    "198.51.100.28": ["nolisting-only"],         # same envelope, no walk
    "198.51.100.29": ["backup-direct"],          # MX 40 only, retried
    "2001:db8:1:2::/64": ["backup-direct"],
    "2001:db8:1:3::/64": ["nolisting-only"],     # IPv6, real MX has IPv6
}
SENSOR_MTAS = [
    "198.51.100.21",        # MX 10, then the real MX
    "198.51.100.25",        # dual-stack MTA: its IPv4 address walked
    "2001:db8:5::25",       # ... its IPv6 one sent the same envelope
    "198.51.100.26",        # 421 at the greeting on return, then real MX
]


def export_db(binary, path, now, sensor=False):
    d = Db(binary, path)
    # backup-direct bot
    d.session("198.51.100.10", now - 3 * HOUR, anomalies=0)
    d.session("198.51.100.10", now - 2 * HOUR, anomalies=0)
    # primary first, then backup, MTA-ish but never retried: no rule
    d.session("198.51.100.11", now - 3 * HOUR, decoy=PRIMARY)
    d.session("198.51.100.11", now - 3 * HOUR + 5 * 10**6)
    # primary, pregreet: bot-protocol
    d.session("198.51.100.12", now - HOUR, decoy=PRIMARY,
              anomalies=PREGREET)
    # an MTA: primary, then the same envelope again 5 minutes later
    d.session("198.51.100.13", now - HOUR, decoy=PRIMARY,
              helo="mta.example.org", mail_from="bounce@example.org")
    d.session("198.51.100.13", now - HOUR + 5 * MIN, decoy=PRIMARY,
              helo="mta.example.org", mail_from="bounce@example.org")
    # MTA-like but talks before the greeting: strong signal, listed
    d.session("198.51.100.14", now - HOUR, decoy=PRIMARY,
              helo="mta.example.org", mail_from="b@example.org")
    d.session("198.51.100.14", now - HOUR + 5 * MIN, decoy=PRIMARY,
              helo="mta.example.org", mail_from="b@example.org",
              anomalies=PREGREET | HELO_INVALID)
    # backup-direct but allowlisted
    d.session("198.51.100.15", now - HOUR)
    # backup-direct with zone syntax in its HELO and MAIL FROM
    d.session("198.51.100.16", now - HOUR, helo=HOSTILE_HELO,
              mail_from="a@b\n!198.51.100.10\n:127.0.0.9:")
    # backup-direct, but not seen for 30 days
    d.session("192.0.2.200", now - 30 * 24 * HOUR)
    # from loopback: never listed
    d.session("127.0.0.1", now - HOUR)
    # IPv6: two clients of one /64, one allowlisted; another /64 clean
    d.session("2001:db8:1:2::10", now - HOUR)
    d.session("2001:db8:1:2::20", now - HOUR)
    d.session("2001:db8:1:3::1", now - HOUR, decoy=PRIMARY)
    if sensor:
        # the sensor watches the real MX: nolisting-only applies
        d.session("198.51.100.20", now - HOUR, decoy=PRIMARY)
        syn(d, "198.51.100.20", now - HOUR - 10**6, "primary", "192.0.2.10",
            10)
        d.session("198.51.100.21", now - HOUR, decoy=PRIMARY,
                  mail_from="owner@walker.example")
        syn(d, "198.51.100.21", now - HOUR + 30 * 10**6, "real")
        # primary just now: the window has not passed yet
        d.session("198.51.100.22", now - MIN, decoy=PRIMARY)
        # the real MX also has an IPv6 address, which the sensor saw
        # (sensor="v4": it has none)
        if sensor != "v4":
            syn(d, "2001:db8:9::9", now - 3 * HOUR, "real",
                "2001:db8::20", 20)
        # a dual-stack MTA: MX 10 over IPv6, MX 10 over IPv4 with the
        # same envelope, then the real MX over IPv4 only
        env = dict(decoy=PRIMARY, helo="mx.sender.example",
                   mail_from="news@sender.example",
                   rcpts=("u@victim.example",))
        d.session("2001:db8:5::25", now - 2 * HOUR, **env)
        d.session("198.51.100.25", now - 2 * HOUR + 2 * 10**6, **env)
        syn(d, "198.51.100.25", now - 2 * HOUR + 5 * 10**6, "real")
        # an MTA that retries (OpenSMTPD): 450 at RCPT, 421 at the
        # greeting on its retry 7 minutes later, then the real MX
        d.session("198.51.100.26", now - 2 * HOUR, decoy=PRIMARY,
                  helo="smtpd.other.example", mail_from="a@other.example")
        d.session("198.51.100.26", now - 2 * HOUR + 7 * MIN,
                  decoy=PRIMARY, helo=None, mail_from=None, rcpts=(),
                  stage="greeting", reason="deferred")
        syn(d, "198.51.100.26", now - 2 * HOUR + 7 * MIN + 10**6, "real")
        # a bot that retries MX 10 a minute later, never walks
        bot = dict(decoy=PRIMARY, helo="mail.example.org",
                   mail_from="x@spam.example", rcpts=("u@victim.example",))
        d.session("198.51.100.27", now - 2 * HOUR, **bot)
        d.session("198.51.100.27", now - 2 * HOUR + MIN, **bot)
        # the same envelope from another bot that never walked: no link
        d.session("198.51.100.28", now - 2 * HOUR, **bot)
        # a bot that goes straight for MX 40 and retries it there
        d.session("198.51.100.29", now - 2 * HOUR, helo="mail.example.org",
                  mail_from="y@spam.example")
        d.session("198.51.100.29", now - 2 * HOUR + 5 * MIN,
                  helo="mail.example.org", mail_from="y@spam.example")
    return d.close()


def catch_rate(binary, path, allowlist=None):
    """
    Exports path (a sensor=True scenario) with binary: returns (bots
    listed with the right reasons, bots, MTAs listed, MTAs).
    """
    import json
    args = [str(binary), "export", "json", "--db", str(path)]
    if allowlist:
        args += ["--allowlist", str(allowlist)]
    r = subprocess.run(args, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = {}
    for e in json.loads(r.stdout)["entries"]:
        key = e["address"] if e["prefix"] in (32, 128) else "%s/%d" % (
            e["address"], e["prefix"])
        got[key] = e["reasons"]
    caught = sum(1 for k, v in SENSOR_BOTS.items() if got.get(k) == v)
    mtas = sum(1 for k in SENSOR_MTAS
               if k in got or any(k.startswith(g.split("/")[0][:-1])
                                  for g in got if g.endswith("/64")))
    return caught, len(SENSOR_BOTS), mtas, len(SENSOR_MTAS)


if __name__ == "__main__":
    # python3 tests/integration/scenario.py BINARY: the catch rate of
    # the export scenario with the sensor, as that binary exports it.
    import sys
    import tempfile
    import time
    binary = sys.argv[1] if len(sys.argv) > 1 else "./decoymx"
    with tempfile.TemporaryDirectory() as tmp:
        p = export_db(binary, tmp + "/s.db", int(time.time()) * 10**6,
                      sensor=True)
        c, n, m, k = catch_rate(binary, p)
        print("bots listed %d/%d (%.0f%%), MTAs listed %d/%d" % (
            c, n, 100.0 * c / n, m, k))


# A database written by this decoymx, taken back to schema 7 as an older
# decoymx would have left it: migrations 8 (transactions, parallel
# walks), 9 (rollups), 10 (sessions.via) and 12 (the country rollup)
# undone; 11 only drops triggers (IF EXISTS).  For the migration tests.
DOWNGRADE_TO_7 = (
    "DROP TRIGGER sessions_rollup_country_late;"
    "DROP TABLE rollup_country; DROP TABLE rollup_ips;"
    "DROP VIEW session_dims; CREATE VIEW session_dims AS SELECT 1;"
    "DROP TRIGGER transactions_envelopes;"
    "DELETE FROM transactions; DROP TABLE transactions;"
    "ALTER TABLE recipients DROP COLUMN txn;"
    "ALTER TABLE recipients DROP COLUMN reply_code;"
    "ALTER TABLE sessions DROP COLUMN transactions;"
    "DROP TRIGGER sessions_parallel;"
    "ALTER TABLE client_evidence DROP COLUMN parallel;"
    "DROP TRIGGER sessions_rollup_late; DROP TRIGGER rollup_day_ips_clients;"
    "DROP TABLE rollup; DROP TABLE rollup_buckets;"
    "DROP TABLE rollup_day_ips; DROP TABLE rollup_state;"
    "ALTER TABLE sessions DROP COLUMN via;"
    "PRAGMA user_version = 7;")
