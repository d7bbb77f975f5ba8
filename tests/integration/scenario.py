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
        for i, r in enumerate(rcpts):
            self.db.execute("INSERT INTO recipients VALUES(?, ?, ?)",
                            (sid, i, r))
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
