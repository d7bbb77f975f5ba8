/* SPDX-License-Identifier: ISC */
/*
 * rollup.c -- the rollups behind the windowed reports (schema 9): the
 * sessions of each UTC hour grouped by every field the reports group or
 * filter by (rollup), the sessions, distinct clients and sessions per
 * role of each hour and day (rollup_buckets), and which clients each day
 * saw (rollup_day_ips); since schema 12 also the narrow rollup of
 * "report top countries" (rollup_country: per hour, country and client
 * number, the clients numbered in rollup_ips).
 *
 * They are kept per batch: at every commit the store rolls up the
 * sessions written since the last one (the ids above rollup_state.max_id)
 * with a few grouped statements, after the triggers have filled in what
 * they fill in (the fingerprint of a SYN seen first).  A later change to
 * a rolled-up session is moved by the sessions_rollup_late trigger.
 *
 * Exports rollup_open(), rollup_flush(), rollup_rebuild() and
 * rollup_close().
 */
#include <stdlib.h>

#include "store.h"

#define ROLLUP_NEW	"s.id > (SELECT max_id FROM rollup_state)"

/*
 * In this order: the distinct clients of an hour are counted before the
 * hour's new rows are added (a client new to a day is counted by the
 * rollup_day_ips_clients trigger).
 * The rollup rows are upserted one session at a time: cheaper than
 * grouping a batch whose keys are mostly distinct.
 */
static const char *rollup_sql[] = {
	"INSERT INTO rollup_buckets(size, t, sessions, clients, primary_s,"
	" backup_s, decoy_s) SELECT 3600000000, n.h, 0, count(*), 0, 0, 0"
	" FROM (SELECT DISTINCT s.start_us / 3600000000 * 3600000000 AS h,"
	" s.src_ip AS ip FROM sessions s WHERE " ROLLUP_NEW ") n"
	" WHERE NOT EXISTS (SELECT 1 FROM rollup r WHERE r.hour = n.h"
	" AND r.ip = n.ip) GROUP BY n.h"
	" ON CONFLICT(size, t) DO UPDATE SET clients = clients +"
	" excluded.clients",
	"INSERT OR IGNORE INTO rollup_day_ips(day, ip) SELECT"
	" s.start_us / 86400000000 * 86400000000, s.src_ip FROM sessions s"
	" WHERE " ROLLUP_NEW,
	"INSERT INTO rollup_buckets(size, t, sessions, clients, primary_s,"
	" backup_s, decoy_s) SELECT z.size, s.start_us / z.size * z.size AS b,"
	" count(*), 0, sum(s.role = 'primary'), sum(s.role = 'backup'),"
	" sum(s.role = 'decoy') FROM sessions s, (SELECT 3600000000 AS size"
	" UNION ALL SELECT 86400000000) z WHERE " ROLLUP_NEW
	" GROUP BY z.size, b"
	" ON CONFLICT(size, t) DO UPDATE SET"
	" sessions = sessions + excluded.sessions,"
	" primary_s = primary_s + excluded.primary_s,"
	" backup_s = backup_s + excluded.backup_s,"
	" decoy_s = decoy_s + excluded.decoy_s",
	"INSERT INTO rollup SELECT s.start_us / 3600000000 * 3600000000,"
	" s.src_ip, s.dst_ip, s.role, coalesce(s.country, ''),"
	" coalesce(s.asn, -1), coalesce(s.os_class, ''), coalesce(s.os, ''),"
	" s.stage, s.close_reason, s.anomalies, s.as_org, 1, s.start_us,"
	" s.start_us FROM sessions s WHERE " ROLLUP_NEW
	" ON CONFLICT DO UPDATE SET sessions = sessions + excluded.sessions,"
	" as_org = CASE WHEN as_org IS NULL THEN excluded.as_org"
	" WHEN excluded.as_org IS NULL THEN as_org"
	" ELSE max(as_org, excluded.as_org) END,"
	" first_us = min(first_us, excluded.first_us),"
	" last_us = max(last_us, excluded.last_us)",
	/* Schema 12: a client's number first, then its country's row. */
	"INSERT OR IGNORE INTO rollup_ips(ip) SELECT s.src_ip FROM sessions s"
	" WHERE " ROLLUP_NEW,
	"INSERT INTO rollup_country SELECT s.start_us / 3600000000 *"
	" 3600000000, s.country, i.id, 1, s.start_us, s.start_us"
	" FROM sessions s JOIN rollup_ips i ON i.ip = s.src_ip"
	" WHERE " ROLLUP_NEW " AND s.country != ''"
	" ON CONFLICT DO UPDATE SET sessions = sessions + excluded.sessions,"
	" first_us = min(first_us, excluded.first_us),"
	" last_us = max(last_us, excluded.last_us)",
	/* (parenthesised: one element, not a forgotten comma, for clang) */
	("UPDATE rollup_state SET max_id = max(max_id, coalesce((SELECT"
	" max(id) FROM sessions), 0))"),
};

#define NROLLUP_SQL	(sizeof(rollup_sql) / sizeof(rollup_sql[0]))

struct rollup {
	sqlite3		*db;
	sqlite3_stmt	*q[NROLLUP_SQL];
};

/*
 * Prepares the statements on db (migrated, read-write).  Returns the
 * handle, to free with rollup_close(), or NULL with the SQLite error in
 * db (or out of memory).
 */
struct rollup *
rollup_open(sqlite3 *db)
{
	struct rollup	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->db = db;
	for (size_t i = 0; i < NROLLUP_SQL; i++)
		if (sqlite3_prepare_v3(db, rollup_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &r->q[i], NULL) != SQLITE_OK) {
			rollup_close(r);
			return NULL;
		}
	return r;
}

/*
 * Rolls up the sessions written since the last call, inside the caller's
 * transaction.  Returns 0, or -1 with the SQLite error in the db.
 */
int
rollup_flush(struct rollup *r)
{
	int	 rc = SQLITE_DONE;

	for (size_t i = 0; i < NROLLUP_SQL && rc == SQLITE_DONE; i++) {
		rc = sqlite3_step(r->q[i]);
		sqlite3_reset(r->q[i]);
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Forgets the rollups and builds them again from every session, inside
 * the caller's transaction (db recount).  Returns 0, or -1 with the
 * SQLite error in the db.
 */
int
rollup_rebuild(struct rollup *r)
{
	if (sqlite3_exec(r->db, "DELETE FROM rollup;"
	    "DELETE FROM rollup_buckets; DELETE FROM rollup_day_ips;"
	    "DELETE FROM rollup_country; DELETE FROM rollup_ips;"
	    "UPDATE rollup_state SET max_id = 0;", NULL, NULL,
	    NULL) != SQLITE_OK)
		return -1;
	return rollup_flush(r);
}

/* Frees the handle; NULL is allowed. */
void
rollup_close(struct rollup *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < NROLLUP_SQL; i++)
		sqlite3_finalize(r->q[i]);
	free(r);
}
