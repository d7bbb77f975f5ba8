/* SPDX-License-Identifier: ISC */
/*
 * schema.c -- the database schema and its migrations.
 *
 * The schema is a list of migrations, each a version number and the SQL
 * that takes a database from the previous version to it.  The version a
 * database is at lives in PRAGMA user_version (0 for a new file).  All
 * pending migrations run in one IMMEDIATE transaction, so a database is
 * always at one of the versions in the table, never in between, and two
 * processes migrating at once serialise on the write lock.
 *
 * To change the schema, append a row; never edit a row that has shipped.
 *
 * Exports schema_migrate() and schema_version().
 */
#include <stdio.h>
#include <string.h>

#include "store.h"

struct migration {
	int		 version;
	const char	*sql;
};

static int	 schema_exec(sqlite3 *, const char *, char *, size_t);

static const struct migration migrations[] = {
	{ 1,
	"CREATE TABLE sessions ("
	" id INTEGER PRIMARY KEY,"
	" uid TEXT NOT NULL UNIQUE,"
	" start_us INTEGER NOT NULL,"
	" end_us INTEGER NOT NULL,"
	" src_ip TEXT NOT NULL,"
	" src_port INTEGER NOT NULL,"
	" dst_ip TEXT NOT NULL,"
	" dst_port INTEGER NOT NULL,"
	" mx_pref INTEGER,"			/* NULL: not configured */
	" role TEXT NOT NULL,"
	" greeting_delay_ms INTEGER NOT NULL,"
	" helo_verb TEXT,"			/* NULL: never sent */
	" helo TEXT,"
	" mail_from TEXT,"
	" rcpt_total INTEGER NOT NULL,"
	" stage TEXT NOT NULL,"
	" reply_code INTEGER,"			/* NULL: no reply sent */
	" close_reason TEXT NOT NULL,"
	" bytes_in INTEGER,"
	" bytes_out INTEGER,"
	" commands INTEGER,"
	" errors INTEGER,"
	" anomalies INTEGER NOT NULL,"		/* enum anomaly bits */
	" country TEXT,"
	" asn INTEGER,"
	" as_org TEXT,"
	" geo_build INTEGER,"
	" os TEXT,"
	" os_class TEXT);"
	"CREATE INDEX sessions_start ON sessions(start_us);"
	"CREATE INDEX sessions_src ON sessions(src_ip, start_us);"
	"CREATE TABLE recipients ("
	" session_id INTEGER NOT NULL REFERENCES sessions(id),"
	" seq INTEGER NOT NULL,"
	" rcpt TEXT NOT NULL,"
	" PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE auth_attempts ("
	" session_id INTEGER NOT NULL REFERENCES sessions(id),"
	" seq INTEGER NOT NULL,"
	" mechanism TEXT NOT NULL,"
	" username TEXT,"			/* NULL: none given */
	" PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE clients ("
	" ip TEXT PRIMARY KEY,"
	" first_us INTEGER NOT NULL,"		/* earliest session start */
	" last_us INTEGER NOT NULL,"		/* latest session end */
	" sessions INTEGER NOT NULL,"
	" anomalies INTEGER NOT NULL,"		/* OR of all sessions */
	" rcpts INTEGER NOT NULL);"		/* sum of rcpt_total */
	"CREATE TABLE client_decoys ("
	" ip TEXT NOT NULL,"
	" decoy TEXT NOT NULL,"			/* decoy address touched */
	" mx_pref INTEGER,"
	" role TEXT NOT NULL,"
	" first_us INTEGER NOT NULL,"
	" last_us INTEGER NOT NULL,"
	" sessions INTEGER NOT NULL,"
	" PRIMARY KEY(ip, decoy)) WITHOUT ROWID;"
	},
	/*
	 * 2: what the reports need to answer over everything at once.
	 * counts holds, per dimension and value, the sessions seen and
	 * when; triggers keep it as sessions and recipients are written
	 * (and as geolocation or fingerprints are filled in later), so no
	 * writer has to know about it.  bits is the numbers 0..31, to
	 * split the anomaly bits in SQL.  The last statements fill both
	 * from a database that already has sessions.
	 */
	{ 2,
	"CREATE TABLE counts ("
	" dim TEXT NOT NULL,"			/* helo, country, anomaly... */
	" key TEXT NOT NULL,"			/* the value, as text */
	" label TEXT,"				/* AS org of an asn, role of a decoy */
	" sessions INTEGER NOT NULL,"
	" first_us INTEGER NOT NULL,"		/* earliest session start */
	" last_us INTEGER NOT NULL,"		/* latest session start */
	" PRIMARY KEY(dim, key)) WITHOUT ROWID;"
	"CREATE INDEX clients_sessions ON clients(sessions);"
	"CREATE INDEX sessions_dst ON sessions(dst_ip, start_us);"
	"CREATE TABLE bits (b INTEGER PRIMARY KEY);"
	"WITH RECURSIVE n(b) AS (SELECT 0 UNION ALL SELECT b + 1 FROM n"
	" WHERE b < 31) INSERT INTO bits SELECT b FROM n;"
	"CREATE VIEW session_dims AS"
	" SELECT s.id AS id, 'role' AS dim, s.role AS key, NULL AS label,"
	"  s.start_us AS t FROM sessions s"
	" UNION ALL SELECT s.id, 'decoy', s.dst_ip, s.role, s.start_us"
	"  FROM sessions s"
	" UNION ALL SELECT s.id, 'stage', s.stage, NULL, s.start_us"
	"  FROM sessions s"
	" UNION ALL SELECT s.id, 'reason', s.close_reason, NULL, s.start_us"
	"  FROM sessions s"
	" UNION ALL SELECT s.id, 'country', s.country, NULL, s.start_us"
	"  FROM sessions s WHERE s.country IS NOT NULL"
	" UNION ALL SELECT s.id, 'asn', s.asn, s.as_org, s.start_us"
	"  FROM sessions s WHERE s.asn IS NOT NULL"
	" UNION ALL SELECT s.id, 'os', s.os_class, NULL, s.start_us"
	"  FROM sessions s WHERE s.os_class IS NOT NULL"
	" UNION ALL SELECT s.id, 'fingerprint', s.os, NULL, s.start_us"
	"  FROM sessions s WHERE s.os IS NOT NULL"
	" UNION ALL SELECT s.id, 'helo', s.helo, NULL, s.start_us"
	"  FROM sessions s WHERE s.helo IS NOT NULL"
	" UNION ALL SELECT s.id, 'sender', s.mail_from, NULL, s.start_us"
	"  FROM sessions s WHERE s.mail_from IS NOT NULL"
	" UNION ALL SELECT s.id, 'sender-domain',"
	"  lower(substr(s.mail_from, instr(s.mail_from, '@') + 1)), NULL,"
	"  s.start_us FROM sessions s WHERE instr(s.mail_from, '@') > 0"
	" UNION ALL SELECT s.id, 'anomaly', b.b, NULL, s.start_us"
	"  FROM sessions s JOIN bits b ON b.b < 10"
	"  AND (s.anomalies >> b.b) & 1"
	" UNION ALL SELECT s.id, 'net', rtrim(s.src_ip, '0123456789')"
	"  || '0/24', NULL, s.start_us FROM sessions s"
	"  WHERE instr(s.src_ip, ':') = 0;"
	/*
	 * From NEW, not from the row: a trigger that fires first may have
	 * filled os or country already, and sessions_counts_late counts
	 * those.
	 */
	"CREATE TRIGGER sessions_counts AFTER INSERT ON sessions BEGIN"
	" INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	"  SELECT d, k, l, 1, NEW.start_us, NEW.start_us FROM ("
	"  SELECT 'role' AS d, NEW.role AS k, NULL AS l"
	"  UNION ALL SELECT 'decoy', NEW.dst_ip, NEW.role"
	"  UNION ALL SELECT 'stage', NEW.stage, NULL"
	"  UNION ALL SELECT 'reason', NEW.close_reason, NULL"
	"  UNION ALL SELECT 'country', NEW.country, NULL"
	"  UNION ALL SELECT 'asn', NEW.asn, NEW.as_org"
	"  UNION ALL SELECT 'os', NEW.os_class, NULL"
	"  UNION ALL SELECT 'fingerprint', NEW.os, NULL"
	"  UNION ALL SELECT 'helo', NEW.helo, NULL"
	"  UNION ALL SELECT 'sender', NEW.mail_from, NULL"
	"  UNION ALL SELECT 'sender-domain', CASE WHEN"
	"  instr(NEW.mail_from, '@') > 0 THEN lower(substr(NEW.mail_from,"
	"  instr(NEW.mail_from, '@') + 1)) END, NULL"
	"  UNION ALL SELECT 'anomaly', b, NULL FROM bits"
	"  WHERE b < 10 AND (NEW.anomalies >> b) & 1"
	"  UNION ALL SELECT 'net', rtrim(NEW.src_ip, '0123456789') || '0/24',"
	"  NULL WHERE instr(NEW.src_ip, ':') = 0)"
	"  WHERE k IS NOT NULL"
	"  ON CONFLICT(dim, key) DO UPDATE SET sessions = sessions + 1,"
	"  label = coalesce(excluded.label, label),"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us);"
	"END;"
	"CREATE TRIGGER sessions_counts_late AFTER UPDATE OF country, asn,"
	" as_org, os, os_class ON sessions BEGIN"
	" UPDATE counts SET sessions = sessions - 1"
	"  WHERE (dim = 'country' AND key = OLD.country)"
	"  OR (dim = 'asn' AND key = CAST(OLD.asn AS TEXT))"
	"  OR (dim = 'os' AND key = OLD.os_class)"
	"  OR (dim = 'fingerprint' AND key = OLD.os);"
	" INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	"  SELECT dim, key, label, 1, t, t FROM session_dims"
	"  WHERE id = NEW.id AND key IS NOT NULL"
	"  AND dim IN ('country', 'asn', 'os', 'fingerprint')"
	"  ON CONFLICT(dim, key) DO UPDATE SET sessions = sessions + 1,"
	"  label = coalesce(excluded.label, label),"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us);"
	"END;"
	/* A new client of an IPv4 /24 (netc: sessions counts clients). */
	"CREATE TRIGGER clients_counts AFTER INSERT ON clients"
	" WHEN instr(NEW.ip, ':') = 0 BEGIN"
	" INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	"  VALUES('netc', rtrim(NEW.ip, '0123456789') || '0/24', NULL, 1,"
	"  NEW.first_us, NEW.first_us)"
	"  ON CONFLICT(dim, key) DO UPDATE SET sessions = sessions + 1;"
	"END;"
	/* A client new to a decoy (decoyc: sessions counts clients). */
	"CREATE TRIGGER client_decoys_counts AFTER INSERT ON client_decoys"
	" BEGIN"
	" INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	"  VALUES('decoyc', NEW.decoy, NULL, 1, NEW.first_us, NEW.first_us)"
	"  ON CONFLICT(dim, key) DO UPDATE SET sessions = sessions + 1;"
	"END;"
	"CREATE TRIGGER recipients_counts AFTER INSERT ON recipients BEGIN"
	" INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	"  SELECT 'recipient', NEW.rcpt, NULL, 1, s.start_us, s.start_us"
	"  FROM sessions s WHERE s.id = NEW.session_id"
	"  ON CONFLICT(dim, key) DO UPDATE SET sessions = sessions + 1,"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us);"
	"END;"
	"INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	" SELECT dim, key, max(label), count(*), min(t), max(t)"
	" FROM session_dims WHERE key IS NOT NULL GROUP BY dim, key;"
	"INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	" SELECT 'recipient', r.rcpt, NULL, count(*), min(s.start_us),"
	" max(s.start_us) FROM recipients r JOIN sessions s"
	" ON s.id = r.session_id GROUP BY r.rcpt;"
	"INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	" SELECT 'netc', rtrim(ip, '0123456789') || '0/24', NULL, count(*),"
	" min(first_us), min(first_us) FROM clients"
	" WHERE instr(ip, ':') = 0 GROUP BY 2;"
	"INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	" SELECT 'decoyc', decoy, NULL, count(*), min(first_us),"
	" min(first_us) FROM client_decoys GROUP BY decoy;"
	},
	/*
	 * 3: the evidence classification needs per client (store/classify.c),
	 * kept by a trigger like counts: when it first touched a primary and
	 * a backup decoy and how often, how many sessions had a valid HELO,
	 * and how many repeated an envelope (HELO and MAIL FROM) at least a
	 * minute after it was first seen, the way a queue retries.
	 */
	{ 3,
	"CREATE TABLE client_evidence ("
	" ip TEXT PRIMARY KEY,"
	" primary_first_us INTEGER,"		/* NULL: never */
	" primary_sessions INTEGER NOT NULL,"
	" backup_first_us INTEGER,"
	" backup_sessions INTEGER NOT NULL,"
	" helo_ok INTEGER NOT NULL,"		/* sessions with a valid HELO */
	" retries INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE client_envelopes ("
	" ip TEXT NOT NULL,"
	" helo TEXT NOT NULL,"			/* '' when none was given */
	" mail_from TEXT NOT NULL,"
	" first_us INTEGER NOT NULL,"
	" last_us INTEGER NOT NULL,"
	" sessions INTEGER NOT NULL,"
	" PRIMARY KEY(ip, helo, mail_from)) WITHOUT ROWID;"
	"CREATE TRIGGER sessions_evidence AFTER INSERT ON sessions BEGIN"
	" INSERT INTO client_evidence(ip, primary_first_us, primary_sessions,"
	"  backup_first_us, backup_sessions, helo_ok, retries) VALUES("
	"  NEW.src_ip,"
	"  CASE WHEN NEW.role = 'primary' THEN NEW.start_us END,"
	"  NEW.role = 'primary',"
	"  CASE WHEN NEW.role = 'backup' THEN NEW.start_us END,"
	"  NEW.role = 'backup',"
	"  NEW.helo IS NOT NULL AND (NEW.anomalies & 16) = 0,"
	"  EXISTS (SELECT 1 FROM client_envelopes e WHERE e.ip = NEW.src_ip"
	"  AND e.helo = coalesce(NEW.helo, '') AND e.mail_from = NEW.mail_from"
	"  AND NEW.start_us - e.first_us >= 60000000))"
	"  ON CONFLICT(ip) DO UPDATE SET"
	"  primary_first_us = min(coalesce(primary_first_us,"
	"  excluded.primary_first_us), coalesce(excluded.primary_first_us,"
	"  primary_first_us)),"
	"  primary_sessions = primary_sessions + excluded.primary_sessions,"
	"  backup_first_us = min(coalesce(backup_first_us,"
	"  excluded.backup_first_us), coalesce(excluded.backup_first_us,"
	"  backup_first_us)),"
	"  backup_sessions = backup_sessions + excluded.backup_sessions,"
	"  helo_ok = helo_ok + excluded.helo_ok,"
	"  retries = retries + excluded.retries;"
	" INSERT INTO client_envelopes(ip, helo, mail_from, first_us,"
	"  last_us, sessions) SELECT NEW.src_ip, coalesce(NEW.helo, ''),"
	"  NEW.mail_from, NEW.start_us, NEW.start_us, 1"
	"  WHERE NEW.mail_from IS NOT NULL"
	"  ON CONFLICT(ip, helo, mail_from) DO UPDATE SET"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us),"
	"  sessions = sessions + 1;"
	"END;"
	"INSERT INTO client_envelopes(ip, helo, mail_from, first_us, last_us,"
	" sessions) SELECT src_ip, coalesce(helo, ''), mail_from,"
	" min(start_us), max(start_us), count(*) FROM sessions"
	" WHERE mail_from IS NOT NULL GROUP BY 1, 2, 3;"
	"INSERT INTO client_evidence(ip, primary_first_us, primary_sessions,"
	" backup_first_us, backup_sessions, helo_ok, retries)"
	" SELECT s.src_ip, min(CASE WHEN s.role = 'primary' THEN s.start_us"
	" END), sum(s.role = 'primary'), min(CASE WHEN s.role = 'backup'"
	" THEN s.start_us END), sum(s.role = 'backup'),"
	" sum(s.helo IS NOT NULL AND (s.anomalies & 16) = 0),"
	" sum(s.mail_from IS NOT NULL AND EXISTS (SELECT 1"
	" FROM client_envelopes e WHERE e.ip = s.src_ip"
	" AND e.helo = coalesce(s.helo, '') AND e.mail_from = s.mail_from"
	" AND s.start_us - e.first_us >= 60000000))"
	" FROM sessions s GROUP BY s.src_ip;"
	},
	/*
	 * 4: the sensor (issue 5).  syns: one row per first SYN to a decoy,
	 * a dead decoy or the real MX, with the raw fields, the p0f
	 * signature and its label; retransmits counted on the row.
	 * mx_walks: the latest MX walk of each client and its verdict
	 * (sensor/walk.c).  The trigger gives a new session the label of
	 * its SYN when the SYN was stored first (store/syns.c does the
	 * other order).
	 */
	{ 4,
	"CREATE TABLE syns ("
	" id INTEGER PRIMARY KEY,"
	" ts_us INTEGER NOT NULL,"
	" src_ip TEXT NOT NULL,"
	" src_port INTEGER NOT NULL,"
	" dst_ip TEXT NOT NULL,"
	" dst_port INTEGER NOT NULL,"
	" mx_pref INTEGER,"			/* NULL: not configured */
	" role TEXT NOT NULL,"			/* primary, backup, decoy, real */
	" ver INTEGER NOT NULL,"		/* 4 or 6 */
	" ttl INTEGER NOT NULL,"		/* as seen */
	" ittl INTEGER NOT NULL,"		/* guessed initial TTL */
	" dist INTEGER NOT NULL,"		/* hops, from the match */
	" win INTEGER NOT NULL,"
	" mss INTEGER NOT NULL,"		/* 0: no MSS option */
	" wscale INTEGER NOT NULL,"
	" olayout TEXT NOT NULL,"		/* mss,sok,ts,nop,ws */
	" quirks TEXT NOT NULL,"		/* df,id+ */
	" pclass TEXT NOT NULL,"		/* 0 or + */
	" seq INTEGER NOT NULL,"
	" sig TEXT NOT NULL,"			/* p0f raw_sig */
	" label TEXT,"				/* NULL: no match */
	" os_class TEXT,"			/* win, unix, other, app */
	" match TEXT NOT NULL,"			/* exact, generic, fuzzy, none */
	" retransmits INTEGER NOT NULL);"
	"CREATE INDEX syns_src ON syns(src_ip, ts_us);"
	"CREATE INDEX syns_flow ON syns(src_ip, src_port, dst_ip, dst_port);"
	"CREATE INDEX syns_ts ON syns(ts_us);"
	/* For the join from a SYN to its session: a handful of rows. */
	"CREATE INDEX sessions_flow ON sessions(src_ip, src_port, dst_port);"
	"CREATE TABLE mx_walks ("
	" ip TEXT PRIMARY KEY,"
	" verdict TEXT NOT NULL,"	/* primary-then-real, primary-only, */
	" walk TEXT NOT NULL,"		/* backup-direct, real-only, parallel */
	" first_us INTEGER NOT NULL,"
	" last_us INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TRIGGER sessions_syn_os AFTER INSERT ON sessions"
	" WHEN NEW.os IS NULL BEGIN"
	" UPDATE sessions SET (os, os_class) = (SELECT y.label, y.os_class"
	"  FROM syns y WHERE y.src_ip = NEW.src_ip"
	"  AND y.src_port = NEW.src_port AND y.dst_ip = NEW.dst_ip"
	"  AND y.dst_port = NEW.dst_port AND y.label IS NOT NULL"
	"  AND y.ts_us BETWEEN NEW.start_us - 60000000"
	"  AND NEW.start_us + 5000000 ORDER BY y.ts_us DESC LIMIT 1)"
	" WHERE id = NEW.id AND EXISTS (SELECT 1 FROM syns y"
	"  WHERE y.src_ip = NEW.src_ip AND y.src_port = NEW.src_port"
	"  AND y.dst_ip = NEW.dst_ip AND y.dst_port = NEW.dst_port"
	"  AND y.label IS NOT NULL"
	"  AND y.ts_us BETWEEN NEW.start_us - 60000000"
	"  AND NEW.start_us + 5000000);"
	"END;"
	},
	/*
	 * 5: fleets (issue 8).  The sensor (decoy host) that recorded each
	 * session, so that merged databases still say where it was seen.
	 */
	{ 5,
	"ALTER TABLE sessions ADD COLUMN sensor TEXT;"
	},
	/*
	 * 6: the report counts of a new session are added per batch by the
	 * store (counts.c), one upsert per distinct key instead of fourteen
	 * per session; later changes are still counted by
	 * sessions_counts_late.
	 */
	{ 6,
	"DROP TRIGGER sessions_counts;"
	},
	/*
	 * 7: listings that hold for legitimate senders (issue 11).  The
	 * address families in which the sensor has seen the real MX and
	 * the addresses that went there, and the sessions of one envelope
	 * from another address (a dual-stack MTA, an outbound pool), each
	 * found without a scan of the table.
	 */
	{ 7,
	"CREATE INDEX syns_real ON syns(ver, src_ip) WHERE role = 'real';"
	"CREATE INDEX sessions_envelope ON sessions(mail_from, start_us)"
	" WHERE mail_from IS NOT NULL;"
	},
	/*
	 * 8: every MAIL transaction of a session (issue 13).  transactions
	 * holds them in order; a recipient says which transaction it
	 * belongs to and the reply it got; sessions.transactions counts
	 * those seen (kept or not).  Each session written before becomes one
	 * transaction with its sender and all its recipients.  The report
	 * counts of senders and sender domains now come from the
	 * transactions (each distinct one once per session), and a sender
	 * of a later transaction is an envelope of its client too.
	 *
	 * client_evidence.parallel counts a client's parallel walks (see
	 * below).
	 *
	 * sessions_counts_late is replaced: the counts of a row are added
	 * when its batch commits (counts.c), after triggers may already
	 * have filled os on insert; removing the old values as an upsert of
	 * -1 (instead of an UPDATE of a row that may not exist yet) makes
	 * the two orders add up to the same counts.
	 */
	{ 8,
	"CREATE TABLE transactions ("
	" session_id INTEGER NOT NULL REFERENCES sessions(id),"
	" seq INTEGER NOT NULL,"		/* 0, 1, ... in session order */
	" mail_from TEXT,"			/* NULL: RCPT without MAIL */
	" params TEXT,"				/* SIZE=... BODY=...; NULL: none */
	" reply_code INTEGER,"			/* to MAIL; NULL: unknown */
	" rcpt_total INTEGER NOT NULL,"		/* RCPTs seen, kept or not */
	" ended TEXT,"				/* mail, rset, helo, quit, close */
	" PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
	"ALTER TABLE recipients ADD COLUMN txn INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE recipients ADD COLUMN reply_code INTEGER;"
	"ALTER TABLE sessions ADD COLUMN transactions INTEGER NOT NULL"
	" DEFAULT 0;"
	"INSERT INTO transactions(session_id, seq, mail_from, params,"
	" reply_code, rcpt_total, ended) SELECT id, 0, mail_from, NULL, NULL,"
	" rcpt_total, NULL FROM sessions"
	" WHERE mail_from IS NOT NULL OR rcpt_total > 0;"
	"UPDATE sessions SET transactions = 1"
	" WHERE mail_from IS NOT NULL OR rcpt_total > 0;"
	"CREATE TRIGGER transactions_envelopes AFTER INSERT ON transactions"
	" WHEN NEW.mail_from IS NOT NULL AND NEW.mail_from IS NOT"
	" (SELECT mail_from FROM sessions WHERE id = NEW.session_id)"
	" AND NOT EXISTS (SELECT 1 FROM transactions t"
	" WHERE t.session_id = NEW.session_id AND t.seq < NEW.seq"
	" AND t.mail_from = NEW.mail_from) BEGIN"
	" INSERT INTO client_envelopes(ip, helo, mail_from, first_us,"
	"  last_us, sessions) SELECT s.src_ip, coalesce(s.helo, ''),"
	"  NEW.mail_from, s.start_us, s.start_us, 1 FROM sessions s"
	"  WHERE s.id = NEW.session_id"
	"  ON CONFLICT(ip, helo, mail_from) DO UPDATE SET"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us),"
	"  sessions = sessions + 1;"
	"END;"
	"DROP VIEW session_dims;"
	"CREATE VIEW session_dims AS"
	" SELECT s.id AS id, 'role' AS dim, s.role AS key, NULL AS label,"
	"  s.start_us AS t FROM sessions s"
	" UNION ALL SELECT s.id, 'decoy', s.dst_ip, s.role, s.start_us"
	"  FROM sessions s"
	" UNION ALL SELECT s.id, 'stage', s.stage, NULL, s.start_us"
	"  FROM sessions s"
	" UNION ALL SELECT s.id, 'reason', s.close_reason, NULL, s.start_us"
	"  FROM sessions s"
	" UNION ALL SELECT s.id, 'country', s.country, NULL, s.start_us"
	"  FROM sessions s WHERE s.country IS NOT NULL"
	" UNION ALL SELECT s.id, 'asn', s.asn, s.as_org, s.start_us"
	"  FROM sessions s WHERE s.asn IS NOT NULL"
	" UNION ALL SELECT s.id, 'os', s.os_class, NULL, s.start_us"
	"  FROM sessions s WHERE s.os_class IS NOT NULL"
	" UNION ALL SELECT s.id, 'fingerprint', s.os, NULL, s.start_us"
	"  FROM sessions s WHERE s.os IS NOT NULL"
	" UNION ALL SELECT s.id, 'helo', s.helo, NULL, s.start_us"
	"  FROM sessions s WHERE s.helo IS NOT NULL"
	" UNION ALL SELECT s.id, 'sender', t.mail_from, NULL, s.start_us"
	"  FROM (SELECT DISTINCT session_id, mail_from FROM transactions"
	"  WHERE mail_from IS NOT NULL) t JOIN sessions s ON s.id = t.session_id"
	" UNION ALL SELECT s.id, 'sender-domain', t.dom, NULL, s.start_us"
	"  FROM (SELECT DISTINCT session_id, lower(substr(mail_from,"
	"  instr(mail_from, '@') + 1)) AS dom FROM transactions"
	"  WHERE instr(mail_from, '@') > 0) t"
	"  JOIN sessions s ON s.id = t.session_id"
	" UNION ALL SELECT s.id, 'anomaly', b.b, NULL, s.start_us"
	"  FROM sessions s JOIN bits b ON b.b < 10"
	"  AND (s.anomalies >> b.b) & 1"
	" UNION ALL SELECT s.id, 'net', rtrim(s.src_ip, '0123456789')"
	"  || '0/24', NULL, s.start_us FROM sessions s"
	"  WHERE instr(s.src_ip, ':') = 0;"
	/*
	 * A parallel walk: a session to a primary decoy and one to a backup
	 * decoy from the same client that started within a second of each
	 * other and were open at the same time.  An MTA walks the MX list
	 * one host after the other, never two at once.  Counted on the
	 * client as each such session is stored (the other one may come
	 * later: then it counts).
	 */
	"ALTER TABLE client_evidence ADD COLUMN parallel INTEGER NOT NULL"
	" DEFAULT 0;"
	"CREATE TRIGGER sessions_parallel AFTER INSERT ON sessions"
	" WHEN NEW.role IN ('primary', 'backup') AND EXISTS (SELECT 1"
	" FROM sessions o WHERE o.src_ip = NEW.src_ip AND o.id != NEW.id"
	" AND o.role IN ('primary', 'backup') AND o.role != NEW.role"
	" AND o.start_us BETWEEN NEW.start_us - 1000000"
	" AND NEW.start_us + 1000000"
	" AND o.start_us <= NEW.end_us AND NEW.start_us <= o.end_us) BEGIN"
	" INSERT INTO client_evidence(ip, primary_sessions, backup_sessions,"
	"  helo_ok, retries, parallel) VALUES(NEW.src_ip, 0, 0, 0, 0, 1)"
	"  ON CONFLICT(ip) DO UPDATE SET parallel = parallel + 1;"
	"END;"
	"UPDATE client_evidence SET parallel = (SELECT count(*) FROM sessions n"
	" WHERE n.src_ip = client_evidence.ip"
	" AND n.role IN ('primary', 'backup') AND EXISTS (SELECT 1"
	" FROM sessions o WHERE o.src_ip = n.src_ip AND o.id < n.id"
	" AND o.role IN ('primary', 'backup') AND o.role != n.role"
	" AND o.start_us BETWEEN n.start_us - 1000000"
	" AND n.start_us + 1000000"
	" AND o.start_us <= n.end_us AND n.start_us <= o.end_us));"
	"DROP TRIGGER sessions_counts_late;"
	"CREATE TRIGGER sessions_counts_late AFTER UPDATE OF country, asn,"
	" as_org, os, os_class ON sessions BEGIN"
	" INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	"  SELECT d, k, NULL, -1, OLD.start_us, OLD.start_us FROM ("
	"  SELECT 'country' AS d, OLD.country AS k"
	"  UNION ALL SELECT 'asn', CAST(OLD.asn AS TEXT)"
	"  UNION ALL SELECT 'os', OLD.os_class"
	"  UNION ALL SELECT 'fingerprint', OLD.os) WHERE k IS NOT NULL"
	"  ON CONFLICT(dim, key) DO UPDATE SET sessions = sessions - 1;"
	" INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	"  SELECT d, k, l, 1, NEW.start_us, NEW.start_us FROM ("
	"  SELECT 'country' AS d, NEW.country AS k, NULL AS l"
	"  UNION ALL SELECT 'asn', CAST(NEW.asn AS TEXT), NEW.as_org"
	"  UNION ALL SELECT 'os', NEW.os_class, NULL"
	"  UNION ALL SELECT 'fingerprint', NEW.os, NULL) WHERE k IS NOT NULL"
	"  ON CONFLICT(dim, key) DO UPDATE SET sessions = sessions + 1,"
	"  label = coalesce(excluded.label, label),"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us);"
	"END;"
	},
	/*
	 * 9: rollups for windowed reports (store/rollup.c).  rollup holds
	 * the sessions of each UTC hour grouped by every field the windowed
	 * reports group or filter by (NULLs as '' or -1, since they are
	 * part of the key); rollup_buckets the sessions, distinct clients
	 * and sessions per role of each hour and day (size in us);
	 * rollup_day_ips which clients each day saw, to count them once (its
 * trigger counts a client new to a day).
	 * rollup_state.max_id: sessions up to this id are rolled up; the
	 * store adds the rest at every commit.  A later change to the
	 * geolocation or fingerprint of a rolled-up session moves it to its
	 * new key (sessions_rollup_late).  The last statements roll up the
	 * sessions already there.
	 */
	{ 9,
	"CREATE TABLE rollup ("
	" hour INTEGER NOT NULL,"		/* start_us of the UTC hour */
	" ip TEXT NOT NULL,"
	" decoy TEXT NOT NULL,"
	" role TEXT NOT NULL,"
	" country TEXT NOT NULL,"		/* '': none */
	" asn INTEGER NOT NULL,"		/* -1: none */
	" os_class TEXT NOT NULL,"		/* '': none */
	" os TEXT NOT NULL,"			/* '': none */
	" stage TEXT NOT NULL,"
	" reason TEXT NOT NULL,"
	" anomalies INTEGER NOT NULL,"
	" as_org TEXT,"				/* max() of the sessions' */
	" sessions INTEGER NOT NULL,"
	" first_us INTEGER NOT NULL,"		/* earliest session start */
	" last_us INTEGER NOT NULL,"		/* latest session start */
	" PRIMARY KEY(hour, ip, decoy, role, country, asn, os_class, os,"
	" stage, reason, anomalies)) WITHOUT ROWID;"
	"CREATE TABLE rollup_buckets ("
	" size INTEGER NOT NULL,"		/* 3600000000 or 86400000000 */
	" t INTEGER NOT NULL,"
	" sessions INTEGER NOT NULL,"
	" clients INTEGER NOT NULL,"
	" primary_s INTEGER NOT NULL,"
	" backup_s INTEGER NOT NULL,"
	" decoy_s INTEGER NOT NULL,"
	" PRIMARY KEY(size, t)) WITHOUT ROWID;"
	"CREATE TABLE rollup_day_ips ("
	" day INTEGER NOT NULL,"
	" ip TEXT NOT NULL,"
	" PRIMARY KEY(day, ip)) WITHOUT ROWID;"
	"CREATE TABLE rollup_state (k INTEGER PRIMARY KEY CHECK (k = 0),"
	" max_id INTEGER NOT NULL,"
	" pruned_us INTEGER NOT NULL DEFAULT 0);"	/* db prune's cut */
	"CREATE TRIGGER sessions_rollup_late AFTER UPDATE OF country, asn,"
	" as_org, os, os_class ON sessions"
	" WHEN OLD.id <= (SELECT max_id FROM rollup_state) BEGIN"
	" UPDATE rollup SET sessions = sessions - 1"
	"  WHERE hour = OLD.start_us / 3600000000 * 3600000000"
	"  AND ip = OLD.src_ip AND decoy = OLD.dst_ip AND role = OLD.role"
	"  AND country = coalesce(OLD.country, '')"
	"  AND asn = coalesce(OLD.asn, -1)"
	"  AND os_class = coalesce(OLD.os_class, '')"
	"  AND os = coalesce(OLD.os, '') AND stage = OLD.stage"
	"  AND reason = OLD.close_reason AND anomalies = OLD.anomalies;"
	" DELETE FROM rollup WHERE sessions <= 0"
	"  AND hour = OLD.start_us / 3600000000 * 3600000000"
	"  AND ip = OLD.src_ip;"
	/* What is left of the old key: its times again from the sessions. */
	" UPDATE rollup SET (as_org, first_us, last_us) = (SELECT"
	"  max(s.as_org), min(s.start_us), max(s.start_us) FROM sessions s"
	"  WHERE s.src_ip = OLD.src_ip AND s.start_us >= rollup.hour"
	"  AND s.start_us < rollup.hour + 3600000000"
	"  AND s.dst_ip = rollup.decoy AND s.role = rollup.role"
	"  AND coalesce(s.country, '') = rollup.country"
	"  AND coalesce(s.asn, -1) = rollup.asn"
	"  AND coalesce(s.os_class, '') = rollup.os_class"
	"  AND coalesce(s.os, '') = rollup.os AND s.stage = rollup.stage"
	"  AND s.close_reason = rollup.reason"
	"  AND s.anomalies = rollup.anomalies AND s.id <= (SELECT max_id"
	"  FROM rollup_state))"
	"  WHERE hour = OLD.start_us / 3600000000 * 3600000000"
	"  AND ip = OLD.src_ip AND decoy = OLD.dst_ip AND role = OLD.role"
	"  AND country = coalesce(OLD.country, '')"
	"  AND asn = coalesce(OLD.asn, -1)"
	"  AND os_class = coalesce(OLD.os_class, '')"
	"  AND os = coalesce(OLD.os, '') AND stage = OLD.stage"
	"  AND reason = OLD.close_reason AND anomalies = OLD.anomalies;"
	" INSERT INTO rollup VALUES(NEW.start_us / 3600000000 * 3600000000,"
	"  NEW.src_ip, NEW.dst_ip, NEW.role, coalesce(NEW.country, ''),"
	"  coalesce(NEW.asn, -1), coalesce(NEW.os_class, ''),"
	"  coalesce(NEW.os, ''), NEW.stage, NEW.close_reason, NEW.anomalies,"
	"  NEW.as_org, 1, NEW.start_us, NEW.start_us)"
	"  ON CONFLICT DO UPDATE SET sessions = sessions + 1,"
	"  as_org = CASE WHEN as_org IS NULL THEN excluded.as_org"
	"  WHEN excluded.as_org IS NULL THEN as_org"
	"  ELSE max(as_org, excluded.as_org) END,"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us);"
	"END;"
	"INSERT INTO rollup SELECT start_us / 3600000000 * 3600000000,"
	" src_ip, dst_ip, role, coalesce(country, ''), coalesce(asn, -1),"
	" coalesce(os_class, ''), coalesce(os, ''), stage, close_reason,"
	" anomalies, max(as_org), count(*), min(start_us), max(start_us)"
	" FROM sessions GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;"
	"INSERT INTO rollup_day_ips SELECT DISTINCT"
	" start_us / 86400000000 * 86400000000, src_ip FROM sessions;"
	"INSERT INTO rollup_buckets SELECT z.size,"
	" s.start_us / z.size * z.size AS b, count(*),"
	" count(DISTINCT s.src_ip), sum(s.role = 'primary'),"
	" sum(s.role = 'backup'), sum(s.role = 'decoy')"
	" FROM sessions s, (SELECT 3600000000 AS size UNION ALL"
	" SELECT 86400000000) z GROUP BY z.size, b;"
	"INSERT INTO rollup_state(k, max_id) VALUES(0, coalesce((SELECT"
	" max(id) FROM sessions), 0));"
	/* From now on a client new to a day counts itself. */
	"CREATE TRIGGER rollup_day_ips_clients AFTER INSERT ON rollup_day_ips"
	" BEGIN"
	" INSERT INTO rollup_buckets(size, t, sessions, clients, primary_s,"
	"  backup_s, decoy_s) VALUES(86400000000, NEW.day, 0, 1, 0, 0, 0)"
	"  ON CONFLICT(size, t) DO UPDATE SET clients = clients + 1;"
	"END;"
	},
	/*
	 * 10: PROXY protocol (issue 17).  The load balancer that relayed a
	 * session on a "proxy" listener (NULL: a direct connection).
	 */
	{ 10,
	"ALTER TABLE sessions ADD COLUMN via TEXT;"
	},
	/*
	 * 11: the classification evidence of a new session and the label of
	 * its SYN are added per batch by the store (evidence.c), grouped,
	 * instead of by triggers per row.
	 */
	{ 11,
	"DROP TRIGGER IF EXISTS sessions_evidence;"
	"DROP TRIGGER IF EXISTS sessions_syn_os;"
	},
	/*
	 * 12: the narrow rollup behind "report top countries" over a window
	 * (store/rollup.c).  rollup_ips numbers the clients (never
	 * renumbered but by db recount); rollup_country holds the sessions of
	 * each UTC hour per country and client number (sessions with a
	 * country only), so a window is read as a few integers a row and its
	 * distinct clients counted on a bitmap.  Filled from the rollup
	 * table, which also knows what db prune deleted; a later change of a
	 * rolled-up session's country moves it (sessions_rollup_country_late).
	 */
	{ 12,
	"CREATE TABLE rollup_ips ("
	" id INTEGER PRIMARY KEY,"
	" ip TEXT NOT NULL UNIQUE);"
	"CREATE TABLE rollup_country ("
	" hour INTEGER NOT NULL,"		/* start_us of the UTC hour */
	" country TEXT NOT NULL,"		/* never '' */
	" ip INTEGER NOT NULL,"			/* rollup_ips.id */
	" sessions INTEGER NOT NULL,"
	" first_us INTEGER NOT NULL,"		/* earliest session start */
	" last_us INTEGER NOT NULL,"		/* latest session start */
	" PRIMARY KEY(hour, country, ip)) WITHOUT ROWID;"
	"INSERT INTO rollup_ips(ip) SELECT ip FROM rollup GROUP BY ip"
	" ORDER BY min(hour), ip;"
	"INSERT INTO rollup_country SELECT r.hour, r.country, i.id,"
	" sum(r.sessions), min(r.first_us), max(r.last_us) FROM rollup r"
	" JOIN rollup_ips i ON i.ip = r.ip WHERE r.country != ''"
	" GROUP BY 1, 2, 3;"
	"CREATE TRIGGER sessions_rollup_country_late AFTER UPDATE OF country"
	" ON sessions WHEN OLD.id <= (SELECT max_id FROM rollup_state)"
	" AND coalesce(OLD.country, '') != coalesce(NEW.country, '') BEGIN"
	" UPDATE rollup_country SET sessions = sessions - 1"
	"  WHERE hour = OLD.start_us / 3600000000 * 3600000000"
	"  AND country = OLD.country"
	"  AND ip = (SELECT id FROM rollup_ips WHERE ip = OLD.src_ip);"
	" DELETE FROM rollup_country WHERE sessions <= 0"
	"  AND hour = OLD.start_us / 3600000000 * 3600000000"
	"  AND country = OLD.country"
	"  AND ip = (SELECT id FROM rollup_ips WHERE ip = OLD.src_ip);"
	/* What is left of the old key: its times again from the sessions. */
	" UPDATE rollup_country SET (first_us, last_us) = (SELECT"
	"  min(s.start_us), max(s.start_us) FROM sessions s"
	"  WHERE s.src_ip = OLD.src_ip AND s.start_us >= rollup_country.hour"
	"  AND s.start_us < rollup_country.hour + 3600000000"
	"  AND s.country = rollup_country.country"
	"  AND s.id <= (SELECT max_id FROM rollup_state))"
	"  WHERE hour = OLD.start_us / 3600000000 * 3600000000"
	"  AND country = OLD.country"
	"  AND ip = (SELECT id FROM rollup_ips WHERE ip = OLD.src_ip);"
	" INSERT INTO rollup_country SELECT"
	"  NEW.start_us / 3600000000 * 3600000000, NEW.country, i.id, 1,"
	"  NEW.start_us, NEW.start_us FROM rollup_ips i"
	"  WHERE i.ip = NEW.src_ip AND NEW.country != ''"
	"  ON CONFLICT DO UPDATE SET sessions = sessions + 1,"
	"  first_us = min(first_us, excluded.first_us),"
	"  last_us = max(last_us, excluded.last_us);"
	"END;"
	},
};

#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))

/* SCHEMA_VERSION in store.h is the version of the last row. */

static int
schema_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

/* Returns the database's PRAGMA user_version, or -1 on error. */
int
schema_version(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Brings the database up to SCHEMA_VERSION.  A database already there is
 * not written to; one at a newer version is refused untouched.  Returns
 * the version reached, or -1 with a message in err.
 */
int
schema_migrate(sqlite3 *db, char *err, size_t errlen)
{
	const char	*path;
	char		 sql[64], why[256];
	int		 v;

	if ((v = schema_version(db)) == -1) {
		snprintf(err, errlen, "cannot read schema version: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	if (v == SCHEMA_VERSION)
		return v;
	if (schema_exec(db, "BEGIN IMMEDIATE", why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start migration: %s", why);
		return -1;
	}
	/* Again under the write lock: another process may have migrated. */
	v = schema_version(db);
	path = sqlite3_db_filename(db, "main");
	if (v < 0 || v > SCHEMA_VERSION) {
		if (v < 0)
			snprintf(err, errlen, "cannot read schema version: %s",
			    sqlite3_errmsg(db));
		else
			snprintf(err, errlen, "database %s has schema version "
			    "%d, this decoymx knows up to %d; upgrade decoymx",
			    path != NULL ? path : "", v, SCHEMA_VERSION);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (size_t i = 0; i < NMIGRATIONS; i++) {
		if (migrations[i].version <= v)
			continue;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    migrations[i].version);
		if (schema_exec(db, migrations[i].sql, why, sizeof(why)) == -1 ||
		    schema_exec(db, sql, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "migration to schema version %d "
			    "failed: %s", migrations[i].version, why);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	if (schema_exec(db, "COMMIT", why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot commit migration: %s", why);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return SCHEMA_VERSION;
}
