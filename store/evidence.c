/* SPDX-License-Identifier: ISC */
/*
 * evidence.c -- what triggers used to do for every new session, done
 * once per batch (schema 8 dropped the triggers): the fingerprint of the
 * session's SYN when the SYN was stored first (sessions_syn_os, schema
 * 4), and the classification evidence per client (client_evidence and
 * client_envelopes, schema 3; store/classify.c reads them).
 *
 * At every commit, before the rollups move the watermark
 * (rollup_state.max_id), the sessions written since are grouped per
 * client in two statements.  They count exactly what the trigger
 * counted row by row: a session repeats an envelope (HELO and MAIL FROM)
 * when it was first seen at least a minute earlier, by a session of an
 * earlier batch or an earlier row of this one.  A session the pair rule
 * sent on (close reason "paired", tarpit/recent.c) is no evidence, its
 * envelope not either (db recount and the live store would disagree
 * otherwise): the connection may have been another host's, and it got
 * no reply.
 *
 * Exports evidence_open(), evidence_syn_os(), evidence_flush() and
 * evidence_close().
 */
#include <stdlib.h>

#include "store.h"

#define EVIDENCE_NEW	"s.id > (SELECT max_id FROM rollup_state)"

/* In this order: the retries look at the envelopes before the batch. */
static const char *evidence_sql[] = {
	"WITH n AS (SELECT s.src_ip AS ip, s.role AS role, s.start_us AS t,"
	" s.helo AS helo, s.mail_from AS mail_from, s.anomalies AS anomalies,"
	" min(s.start_us) OVER (PARTITION BY s.src_ip, coalesce(s.helo, ''),"
	" s.mail_from ORDER BY s.id ROWS BETWEEN UNBOUNDED PRECEDING"
	" AND 1 PRECEDING) AS earlier FROM sessions s WHERE " EVIDENCE_NEW
	/* sent on by the pair rule: maybe another host, no evidence */
	" AND s.close_reason <> 'paired')"
	" INSERT INTO client_evidence(ip, primary_first_us, primary_sessions,"
	" backup_first_us, backup_sessions, helo_ok, retries)"
	" SELECT n.ip, min(CASE WHEN n.role = 'primary' THEN n.t END),"
	" sum(n.role = 'primary'), min(CASE WHEN n.role = 'backup' THEN n.t"
	" END), sum(n.role = 'backup'),"
	" sum(n.helo IS NOT NULL AND (n.anomalies & 16) = 0),"
	" sum(n.mail_from IS NOT NULL AND (coalesce(n.earlier <= n.t -"
	" 60000000, 0) OR EXISTS (SELECT 1 FROM client_envelopes e"
	" WHERE e.ip = n.ip AND e.helo = coalesce(n.helo, '')"
	" AND e.mail_from = n.mail_from AND n.t - e.first_us >= 60000000)))"
	" FROM n WHERE 1 GROUP BY n.ip"
	" ON CONFLICT(ip) DO UPDATE SET"
	" primary_first_us = min(coalesce(primary_first_us,"
	" excluded.primary_first_us), coalesce(excluded.primary_first_us,"
	" primary_first_us)),"
	" primary_sessions = primary_sessions + excluded.primary_sessions,"
	" backup_first_us = min(coalesce(backup_first_us,"
	" excluded.backup_first_us), coalesce(excluded.backup_first_us,"
	" backup_first_us)),"
	" backup_sessions = backup_sessions + excluded.backup_sessions,"
	" helo_ok = helo_ok + excluded.helo_ok,"
	" retries = retries + excluded.retries",
	"INSERT INTO client_envelopes(ip, helo, mail_from, first_us, last_us,"
	" sessions) SELECT s.src_ip, coalesce(s.helo, ''), s.mail_from,"
	" min(s.start_us), max(s.start_us), count(*) FROM sessions s"
	" WHERE " EVIDENCE_NEW " AND s.mail_from IS NOT NULL"
	" AND s.close_reason <> 'paired'"
	" GROUP BY 1, 2, 3"
	" ON CONFLICT(ip, helo, mail_from) DO UPDATE SET"
	" first_us = min(first_us, excluded.first_us),"
	" last_us = max(last_us, excluded.last_us),"
	" sessions = sessions + excluded.sessions",
};

#define NEVIDENCE_SQL	(sizeof(evidence_sql) / sizeof(evidence_sql[0]))

/*
 * A new session takes the label of the latest labelled SYN of its flow
 * from a minute before to 5 s after its start, as the trigger gave it.
 */
#define EVIDENCE_SYN_SQL						\
    "UPDATE sessions SET (os, os_class) = (SELECT y.label, y.os_class"	\
    " FROM syns y WHERE y.src_ip = sessions.src_ip"			\
    " AND y.src_port = sessions.src_port AND y.dst_ip = sessions.dst_ip"	\
    " AND y.dst_port = sessions.dst_port AND y.label IS NOT NULL"	\
    " AND y.ts_us BETWEEN sessions.start_us - 60000000"			\
    " AND sessions.start_us + 5000000 ORDER BY y.ts_us DESC LIMIT 1)"	\
    " WHERE sessions.id > (SELECT max_id FROM rollup_state)"		\
    " AND EXISTS (SELECT 1 FROM syns y WHERE y.src_ip = sessions.src_ip"	\
    " AND y.src_port = sessions.src_port AND y.dst_ip = sessions.dst_ip"	\
    " AND y.dst_port = sessions.dst_port AND y.label IS NOT NULL"	\
    " AND y.ts_us BETWEEN sessions.start_us - 60000000"			\
    " AND sessions.start_us + 5000000)"

/* A batch: over what the session had (db merge's label loses to ours). */
static const char evidence_syn_sql[] = EVIDENCE_SYN_SQL;
/* db recount: only the sessions without one (the store's own). */
static const char evidence_syn_all_sql[] = EVIDENCE_SYN_SQL
    " AND sessions.os IS NULL";

struct evbatch {
	sqlite3_stmt	*q[NEVIDENCE_SQL];
	sqlite3_stmt	*syn, *syn_all;
};

/*
 * Prepares the statements on db (migrated, read-write).  Returns the
 * handle, to free with evidence_close(), or NULL with the SQLite error
 * in db (or out of memory).
 */
struct evbatch *
evidence_open(sqlite3 *db)
{
	struct evbatch	*ev;

	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return NULL;
	for (size_t i = 0; i < NEVIDENCE_SQL; i++)
		if (sqlite3_prepare_v3(db, evidence_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &ev->q[i], NULL) != SQLITE_OK) {
			evidence_close(ev);
			return NULL;
		}
	if (sqlite3_prepare_v3(db, evidence_syn_sql, -1,
	    SQLITE_PREPARE_PERSISTENT, &ev->syn, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, evidence_syn_all_sql, -1, 0, &ev->syn_all,
	    NULL) != SQLITE_OK) {
		evidence_close(ev);
		return NULL;
	}
	return ev;
}

/*
 * Gives the sessions written since the last rollup the fingerprint of
 * their SYN, inside the caller's transaction; call first, before
 * evidence_flush().  With all (db recount, the watermark at 0), only the
 * sessions without one.  Returns 0, or -1 with the SQLite error in the
 * db.
 */
int
evidence_syn_os(struct evbatch *ev, int all)
{
	sqlite3_stmt	*q = all ? ev->syn_all : ev->syn;
	int		 rc = sqlite3_step(q);

	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Adds the sessions written since the last rollup to the evidence,
 * inside the caller's transaction; call before rollup_flush().  Returns
 * 0, or -1 with the SQLite error in the db.
 */
int
evidence_flush(struct evbatch *ev)
{
	int	 rc = SQLITE_DONE;

	for (size_t i = 0; i < NEVIDENCE_SQL && rc == SQLITE_DONE; i++) {
		rc = sqlite3_step(ev->q[i]);
		sqlite3_reset(ev->q[i]);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Frees the handle; NULL is allowed. */
void
evidence_close(struct evbatch *ev)
{
	if (ev == NULL)
		return;
	for (size_t i = 0; i < NEVIDENCE_SQL; i++)
		sqlite3_finalize(ev->q[i]);
	sqlite3_finalize(ev->syn);
	sqlite3_finalize(ev->syn_all);
	free(ev);
}
