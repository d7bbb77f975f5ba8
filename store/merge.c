/*
 * merge.c -- "decoymx db merge OTHER.db...": folds other sensors'
 * databases into this one, so that one export covers a whole fleet of
 * decoys.
 *
 * Sessions go through store_session(), so the per-client aggregates and
 * the report counts stay right; SYNs are copied and every touched
 * client's MX walk is recomputed over the SYNs of all sensors.  Merging
 * is idempotent: a session already here (same uid, start, client) and a
 * SYN already here (same time and 4-tuple) are skipped, so merging the
 * same file twice adds nothing.  Session ids are random per daemon run;
 * should two sensors ever produce the same uid for different sessions,
 * the incoming one is stored under a uid derived from its sensor name,
 * the same on every merge.
 *
 * Exports merge_db().
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

struct merge {
	struct store	*st;
	sqlite3		*db;
	const char	*other;
	char		 sensor[64];	/* for rows without one */
	sqlite3_stmt	*sel, *rcpt, *auth, *seen, *os;
	uint64_t	 added, skipped, syns, walks;
};

static int	 merge_sessions(struct merge *, char *, size_t);
static int	 merge_one(struct merge *, char *, size_t);
static int	 merge_uid(struct merge *, struct sess_rec *);
static int	 merge_syns(struct merge *, char *, size_t);
static void	 merge_finalize(struct merge *);

static const char *sel_sql =
    "SELECT id, uid, start_us, end_us, src_ip, src_port, dst_ip, dst_port,"
    " mx_pref, role, greeting_delay_ms, helo_verb, helo, mail_from,"
    " rcpt_total, stage, reply_code, close_reason, bytes_in, bytes_out,"
    " commands, errors, anomalies, country, asn, as_org, geo_build, os,"
    " os_class, sensor, via FROM o.sessions ORDER BY id";

/* A column as a span (NULL stays NULL); valid until the next step. */
static struct span
col_span(sqlite3_stmt *q, int i)
{
	const char *p = (const char *)sqlite3_column_text(q, i);

	return (struct span){ p, p ? (size_t)sqlite3_column_bytes(q, i) : 0 };
}

/*
 * A column copied into the session's scratch space (the statement's own
 * memory is gone at its next step).  NULL stays NULL.
 */
static struct span
col_keep(sqlite3_stmt *q, int i, char *scratch, size_t cap, size_t *used)
{
	struct span s = col_span(q, i);

	if (s.p == NULL)
		return s;
	if (s.len > cap - *used)
		s.len = cap - *used;
	memcpy(scratch + *used, s.p, s.len);
	s.p = scratch + *used;
	*used += s.len;
	return s;
}

static void
col_copy(sqlite3_stmt *q, int i, char *dst, size_t len)
{
	struct span s = col_span(q, i);

	dst[0] = '\0';
	if (s.p != NULL && s.len < len) {
		memcpy(dst, s.p, s.len);
		dst[s.len] = '\0';
	}
}

/*
 * Merges one database file into st.  Returns 0 after printing a summary
 * line to out, or -1 with err set (nothing of that file is kept).
 */
int
merge_db(struct store *st, const char *other, FILE *out, char *err,
    size_t errlen)
{
	struct merge	 m;
	sqlite3_stmt	*q;
	const char	*base, *dot;
	int		 v = -1, rv = -1;

	memset(&m, 0, sizeof(m));
	m.st = st;
	m.db = store_db(st);
	m.other = other;
	base = strrchr(other, '/') ? strrchr(other, '/') + 1 : other;
	dot = strrchr(base, '.');
	snprintf(m.sensor, sizeof(m.sensor), "%.*s",
	    (int)(dot && dot != base ? (size_t)(dot - base) : strlen(base)),
	    base);

	if (access(other, R_OK) == -1) {
		snprintf(err, errlen, "%s: cannot read it", other);
		return -1;
	}
	if (sqlite3_prepare_v2(m.db, "ATTACH DATABASE ?1 AS o", -1, &q,
	    NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(q, 1, other, -1, SQLITE_STATIC);
	v = sqlite3_step(q);
	sqlite3_finalize(q);
	if (v != SQLITE_DONE)
		goto sqlfail;
	if (sqlite3_prepare_v2(m.db, "PRAGMA o.user_version", -1, &q,
	    NULL) != SQLITE_OK)
		goto sqlfail_detach;
	v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
	sqlite3_finalize(q);
	if (v != SCHEMA_VERSION) {
		snprintf(err, errlen, "%s has schema version %d, this database "
		    "%d: run 'decoymx db migrate --db %s' (with the newer "
		    "decoymx) first", other, v, SCHEMA_VERSION, other);
		goto detach;
	}
	if (store_begin(st) == -1) {
		snprintf(err, errlen, "%s", store_error(st));
		goto detach;
	}
	if (merge_syns(&m, err, errlen) == -1 ||
	    merge_sessions(&m, err, errlen) == -1) {
		store_rollback(st);
		goto detach;
	}
	if (store_commit(st) == -1) {
		snprintf(err, errlen, "%s", store_error(st));
		store_rollback(st);
		goto detach;
	}
	fprintf(out, "merged %s: sessions=%" PRIu64 " already=%" PRIu64
	    " syns=%" PRIu64 " walks=%" PRIu64 "\n", other, m.added,
	    m.skipped, m.syns, m.walks);
	rv = 0;
	goto detach;

sqlfail_detach:
	snprintf(err, errlen, "%s: %s", other, sqlite3_errmsg(m.db));
	goto detach;
sqlfail:
	snprintf(err, errlen, "%s: %s", other, sqlite3_errmsg(m.db));
	return -1;
detach:
	merge_finalize(&m);
	sqlite3_exec(m.db, "DETACH DATABASE o", NULL, NULL, NULL);
	return rv;
}

static void
merge_finalize(struct merge *m)
{
	sqlite3_finalize(m->sel);
	sqlite3_finalize(m->rcpt);
	sqlite3_finalize(m->auth);
	sqlite3_finalize(m->seen);
	sqlite3_finalize(m->os);
	m->sel = m->rcpt = m->auth = m->seen = m->os = NULL;
}

static int
merge_sessions(struct merge *m, char *err, size_t errlen)
{
	int rc;

	if (sqlite3_prepare_v2(m->db, sel_sql, -1, &m->sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "SELECT rcpt FROM o.recipients WHERE "
	    "session_id = ?1 ORDER BY seq", -1, &m->rcpt, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "SELECT mechanism, username FROM "
	    "o.auth_attempts WHERE session_id = ?1 ORDER BY seq", -1, &m->auth,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "SELECT start_us = ?2 AND src_ip = ?3 "
	    "AND src_port = ?4 FROM main.sessions WHERE uid = ?1", -1,
	    &m->seen, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "UPDATE main.sessions SET os = ?2, "
	    "os_class = ?3 WHERE uid = ?1 AND os IS NULL", -1, &m->os,
	    NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", m->other, sqlite3_errmsg(m->db));
		return -1;
	}
	while ((rc = sqlite3_step(m->sel)) == SQLITE_ROW)
		if (merge_one(m, err, errlen) == -1)
			return -1;
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", m->other, sqlite3_errmsg(m->db));
		return -1;
	}
	return 0;
}

/*
 * Picks the uid to store the current row under.  Returns 1 when the
 * session is here already, 0 with r->uid set, -1 on error.
 */
static int
merge_uid(struct merge *m, struct sess_rec *r)
{
	for (int round = 0; round < 2; round++) {
		int rc;

		sqlite3_reset(m->seen);
		sqlite3_bind_text(m->seen, 1, r->uid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(m->seen, 2, r->start_us);
		sqlite3_bind_text(m->seen, 3, r->src_ip, -1, SQLITE_STATIC);
		sqlite3_bind_int(m->seen, 4, r->src_port);
		rc = sqlite3_step(m->seen);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return -1;
		if (sqlite3_column_int(m->seen, 0))
			return 1;
		/* A different session under the same uid: derive one. */
		uint64_t h = 14695981039346656037ull;
		for (const char *p = r->sensor.p; p && p < r->sensor.p +
		    r->sensor.len; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		for (const char *p = r->uid; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		snprintf(r->uid, sizeof(r->uid), "%016" PRIx64, h);
	}
	return -1;
}

/* Stores the current row of m->sel with its recipients and AUTH tries. */
static int
merge_one(struct merge *m, char *err, size_t errlen)
{
	sqlite3_stmt	*q = m->sel;
	struct sess_rec	 r;
	struct geo_info	 geo;
	int64_t		 id = sqlite3_column_int64(q, 0);
	int		 rc, e;
	char		 text[32];
	static char	 scratch[MAX_RCPT * MAX_PATH_ARG +
			    MAX_AUTH * (MAX_AUTH_MECH + MAX_AUTH_USER)];
	size_t		 used = 0;

	memset(&r, 0, sizeof(r));
	memset(&geo, 0, sizeof(geo));
	col_copy(q, 1, r.uid, sizeof(r.uid));
	r.start_us = sqlite3_column_int64(q, 2);
	r.end_us = sqlite3_column_int64(q, 3);
	col_copy(q, 4, r.src_ip, sizeof(r.src_ip));
	r.src_port = (uint16_t)sqlite3_column_int(q, 5);
	col_copy(q, 6, r.dst_ip, sizeof(r.dst_ip));
	r.dst_port = (uint16_t)sqlite3_column_int(q, 7);
	r.mx_pref = sqlite3_column_type(q, 8) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(q, 8);
	col_copy(q, 9, text, sizeof(text));
	r.role = (e = role_parse(text)) < 0 ? ROLE_DECOY : (enum role)e;
	r.greeting_delay_ms = (uint32_t)sqlite3_column_int64(q, 10);
	r.helo_verb = col_span(q, 11);
	r.helo = col_span(q, 12);
	r.mail_from = col_span(q, 13);
	r.rcpt_total = (uint32_t)sqlite3_column_int64(q, 14);
	col_copy(q, 15, text, sizeof(text));
	r.stage = (e = stage_parse(text)) < 0 ? STAGE_CONNECT : (enum stage)e;
	r.reply_code = (uint16_t)sqlite3_column_int(q, 16);
	col_copy(q, 17, text, sizeof(text));
	r.reason = (e = close_reason_parse(text)) < 0 ? CLOSE_EOF :
	    (enum close_reason)e;
	r.bytes_in = (uint64_t)sqlite3_column_int64(q, 18);
	r.bytes_out = (uint64_t)sqlite3_column_int64(q, 19);
	r.commands = (uint32_t)sqlite3_column_int64(q, 20);
	r.errors = (uint32_t)sqlite3_column_int64(q, 21);
	r.anomalies = (uint32_t)sqlite3_column_int64(q, 22) & ANOM_ALL;
	col_copy(q, 23, geo.country, sizeof(geo.country));
	geo.asn = (uint32_t)sqlite3_column_int64(q, 24);
	col_copy(q, 25, geo.as_org, sizeof(geo.as_org));
	geo.build = sqlite3_column_int64(q, 26);
	r.geo = &geo;
	r.sensor = col_span(q, 29);
	col_copy(q, 30, r.via, sizeof(r.via));
	if (r.sensor.p == NULL)
		r.sensor = (struct span){ m->sensor, strlen(m->sensor) };

	if ((rc = merge_uid(m, &r)) == 1) {
		m->skipped++;
		return 0;
	}
	if (rc == -1)
		goto sqlfail;

	sqlite3_reset(m->rcpt);
	sqlite3_bind_int64(m->rcpt, 1, id);
	while (r.nrcpt < MAX_RCPT && sqlite3_step(m->rcpt) == SQLITE_ROW)
		r.rcpt[r.nrcpt++] = col_keep(m->rcpt, 0, scratch,
		    sizeof(scratch), &used);
	if (r.rcpt_total < r.nrcpt)
		r.rcpt_total = r.nrcpt;
	sqlite3_reset(m->auth);
	sqlite3_bind_int64(m->auth, 1, id);
	while (r.nauth < MAX_AUTH && sqlite3_step(m->auth) == SQLITE_ROW) {
		r.auth[r.nauth].mech = col_keep(m->auth, 0, scratch,
		    sizeof(scratch), &used);
		r.auth[r.nauth++].user = col_keep(m->auth, 1, scratch,
		    sizeof(scratch), &used);
	}
	if (store_session(m->st, &r) == -1) {
		snprintf(err, errlen, "%s: session %s: %s", m->other, r.uid,
		    store_error(m->st));
		return -1;
	}
	if (sqlite3_column_type(q, 27) != SQLITE_NULL) {
		sqlite3_reset(m->os);
		sqlite3_bind_text(m->os, 1, r.uid, -1, SQLITE_STATIC);
		sqlite3_bind_value(m->os, 2, sqlite3_column_value(q, 27));
		sqlite3_bind_value(m->os, 3, sqlite3_column_value(q, 28));
		if (sqlite3_step(m->os) != SQLITE_DONE)
			goto sqlfail;
	}
	m->added++;
	return 0;
sqlfail:
	snprintf(err, errlen, "%s: %s", m->other, sqlite3_errmsg(m->db));
	return -1;
}

/*
 * Copies the SYNs not here yet, then recomputes the MX walk of every
 * client they came from, over what all sensors saw.
 */
static int
merge_syns(struct merge *m, char *err, size_t errlen)
{
	static const char *copy =
	    "INSERT INTO main.syns(ts_us, src_ip, src_port, dst_ip, dst_port,"
	    " mx_pref, role, ver, ttl, ittl, dist, win, mss, wscale, olayout,"
	    " quirks, pclass, seq, sig, label, os_class, match, retransmits)"
	    " SELECT ts_us, src_ip, src_port, dst_ip, dst_port, mx_pref, role,"
	    " ver, ttl, ittl, dist, win, mss, wscale, olayout, quirks, pclass,"
	    " seq, sig, label, os_class, match, retransmits FROM o.syns y"
	    " WHERE NOT EXISTS (SELECT 1 FROM main.syns s WHERE"
	    " s.src_ip = y.src_ip AND s.src_port = y.src_port AND"
	    " s.dst_ip = y.dst_ip AND s.dst_port = y.dst_port AND"
	    " s.ts_us = y.ts_us) ORDER BY ts_us";
	struct synstore	*ss;
	sqlite3_stmt	*q;
	char		 why[256];
	int		 rc;

	if (sqlite3_exec(m->db, copy, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: syns: %s", m->other,
		    sqlite3_errmsg(m->db));
		return -1;
	}
	m->syns = (uint64_t)sqlite3_changes(m->db);
	if (m->syns == 0)
		return 0;
	if ((ss = synstore_new(m->st, NULL, 1, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", m->other, why);
		return -1;
	}
	if (sqlite3_prepare_v2(m->db, "SELECT DISTINCT src_ip FROM o.syns",
	    -1, &q, NULL) != SQLITE_OK) {
		synstore_free(ss);
		snprintf(err, errlen, "%s: %s", m->other, sqlite3_errmsg(m->db));
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(q, 0);
		if (ip != NULL && synstore_rewalk(ss, ip) == -1)
			break;
		m->walks++;
	}
	sqlite3_finalize(q);
	synstore_free(ss);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: MX walks: %s", m->other,
		    sqlite3_errmsg(m->db));
		return -1;
	}
	return 0;
}
