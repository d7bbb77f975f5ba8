/* SPDX-License-Identifier: ISC */
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
 * The other file is untrusted input: its schema version says nothing of
 * its constraints.  Every session row goes through the checks of a live
 * record (it is encoded as one and decoded by record_decode_session(),
 * the store's own validation), its sensor name, geolocation and OS
 * label through their bounds, and every SYN row through the bounds of
 * synrec.c; a row that fails is not merged, counted as rejected and
 * named on stderr (the first MERGE_SHOW_REJECTS).
 *
 * Exports merge_db().
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "sensor.h"

#define MERGE_SHOW_REJECTS	20
#define MERGE_TEXT_MAX		256	/* sig, label, olayout, os ... */

struct merge {
	struct store	*st;
	sqlite3		*db;
	const char	*other;
	char		 sensor[64];	/* for rows without one */
	sqlite3_stmt	*sel, *rcpt, *auth, *seen, *os, *txn;
	uint64_t	 added, skipped, syns, walks, rejected;
};

static int	 merge_sessions(struct merge *, char *, size_t);
static int	 merge_one(struct merge *, char *, size_t);
static int	 merge_uid(struct merge *, struct sess_rec *);
static void	 merge_txns(struct merge *, int64_t, struct sess_rec *, char *,
		    size_t, size_t *);
static int	 merge_syns(struct merge *, char *, size_t);
static void	 merge_finalize(struct merge *);
static void	 merge_reject(struct merge *, const char *, int64_t,
		    const char *);
static int	 merge_ip(struct span);
static int	 merge_name(struct span);
static const char *merge_check_extra(sqlite3_stmt *, const struct geo_info *,
		    struct span);
static const char *merge_check_syn(sqlite3_stmt *);
static int	 merge_revalidate(struct sess_rec *, const char **);

static const char *sel_sql =
    "SELECT id, uid, start_us, end_us, src_ip, src_port, dst_ip, dst_port,"
    " mx_pref, role, greeting_delay_ms, helo_verb, helo, mail_from,"
    " rcpt_total, stage, reply_code, close_reason, bytes_in, bytes_out,"
    " commands, errors, anomalies, country, asn, as_org, geo_build, os,"
    " os_class, sensor, transactions, via FROM o.sessions ORDER BY id";

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

/* Counts a rejected row and names the first few on stderr. */
static void
merge_reject(struct merge *m, const char *table, int64_t id, const char *why)
{
	if (m->rejected++ < MERGE_SHOW_REJECTS)
		fprintf(stderr, "decoymx db merge: %s: %s row id=%" PRId64
		    " rejected: %s\n", m->other, table, id, why);
}

/* A bare IPv4 or IPv6 address in text, as the network process writes. */
static int
merge_ip(struct span s)
{
	char		 buf[ADDR_STRLEN];
	struct in6_addr	 a;

	if (s.p == NULL || s.len == 0 || s.len >= sizeof(buf))
		return 0;
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	return inet_pton(AF_INET, buf, &a) == 1 ||
	    inet_pton(AF_INET6, buf, &a) == 1;
}

/* A sensor name as "sensor name" accepts it (config.c). */
static int
merge_name(struct span s)
{
	if (s.len == 0 || s.len >= sizeof(((struct config *)0)->sensor_name))
		return 0;
	for (size_t i = 0; i < s.len; i++)
		if (!isalnum((unsigned char)s.p[i]) && s.p[i] != '.' &&
		    s.p[i] != '-' && s.p[i] != '_')
			return 0;
	return 1;
}

/*
 * Runs a session through the validation of a live record: encodes it
 * as the network process would and decodes it as the store does.  r is
 * replaced by the decoded record, whose spans point into a static
 * buffer valid until the next call.  Returns 0, or -1 with *why set.
 */
static int
merge_revalidate(struct sess_rec *r, const char **why)
{
	static uint8_t	 buf[MAX_RECORD];
	struct span	 sensor = r->sensor;
	const struct geo_info *geo = r->geo;
	size_t		 len;

	if ((len = record_encode_session(r, buf, sizeof(buf))) == 0) {
		*why = "session too large for a record";
		return -1;
	}
	if (record_decode_session(buf, len, r, why) == -1)
		return -1;
	r->sensor = sensor;
	r->geo = geo;
	return 0;
}

/* The sensor name, geolocation and OS label of a session row. */
static const char *
merge_check_extra(sqlite3_stmt *q, const struct geo_info *g,
    struct span sensor)
{
	if (!merge_name(sensor))
		return "bad sensor name";
	if (sqlite3_column_bytes(q, 23) != 0 && (strlen(g->country) != 2 ||
	    !isupper((unsigned char)g->country[0]) ||
	    !isupper((unsigned char)g->country[1])))
		return "bad country code";
	if (sqlite3_column_int64(q, 24) < 0 ||
	    sqlite3_column_int64(q, 24) > UINT32_MAX)
		return "AS number out of range";
	if (sqlite3_column_bytes(q, 25) > GEO_ORG_MAX)
		return "AS organisation over its bound";
	if (sqlite3_column_bytes(q, 27) > MERGE_TEXT_MAX ||
	    sqlite3_column_bytes(q, 28) > MERGE_TEXT_MAX)
		return "OS label over its bound";
	return NULL;
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
	/* A name "sensor name" would accept, whatever the file is called. */
	for (char *p = m.sensor; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != '_')
			*p = '_';
	if (m.sensor[0] == '\0')
		strlcpy_(m.sensor, "merged", sizeof(m.sensor));

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
	    " syns=%" PRIu64 " walks=%" PRIu64 " rejected=%" PRIu64 "\n",
	    other, m.added, m.skipped, m.syns, m.walks, m.rejected);
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
	sqlite3_finalize(m->txn);
	m->sel = m->rcpt = m->auth = m->seen = m->os = m->txn = NULL;
}

static int
merge_sessions(struct merge *m, char *err, size_t errlen)
{
	int rc;

	if (sqlite3_prepare_v2(m->db, sel_sql, -1, &m->sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "SELECT rcpt, txn, reply_code FROM "
	    "o.recipients WHERE session_id = ?1 ORDER BY txn, seq", -1,
	    &m->rcpt, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, "SELECT mail_from, params, reply_code,"
	    " rcpt_total, ended FROM o.transactions WHERE session_id = ?1"
	    " ORDER BY seq", -1, &m->txn, NULL) != SQLITE_OK ||
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

/*
 * The transactions of the other database's session id and their
 * recipients (kept in scratch), with the legacy rcpt[] from them.
 */
static void
merge_txns(struct merge *m, int64_t id, struct sess_rec *r, char *scratch,
    size_t cap, size_t *used)
{
	uint32_t first = 0;

	sqlite3_reset(m->txn);
	sqlite3_bind_int64(m->txn, 1, id);
	while (r->ntxn < MAX_TXN && sqlite3_step(m->txn) == SQLITE_ROW) {
		struct txn_rec *t = &r->txn[r->ntxn++];
		const char *e = (const char *)sqlite3_column_text(m->txn, 4);

		memset(t, 0, sizeof(*t));
		if (sqlite3_column_bytes(m->txn, 0) > MAX_PATH_ARG) {
			*used = cap;	/* the caller rejects the row */
			return;
		}
		t->mail = col_keep(m->txn, 0, scratch, cap, used);
		t->params = col_keep(m->txn, 1, scratch, cap, used);
		t->reply = (uint16_t)sqlite3_column_int(m->txn, 2);
		t->rcpt_total = (uint32_t)sqlite3_column_int64(m->txn, 3);
		for (int k = 0; e != NULL && k < TXN_END_MAX; k++)
			if (strcmp(e, txn_end_name(k)) == 0)
				t->ended = (uint8_t)k;
	}
	sqlite3_reset(m->rcpt);
	sqlite3_bind_int64(m->rcpt, 1, id);
	while (r->ntrcpt < MAX_TXN_RCPT && sqlite3_step(m->rcpt) == SQLITE_ROW) {
		int64_t k = sqlite3_column_int64(m->rcpt, 1);

		if (k < 0 || k >= r->ntxn)
			continue;
		if (sqlite3_column_bytes(m->rcpt, 0) > MAX_PATH_ARG) {
			*used = cap;	/* the caller rejects the row */
			return;
		}
		r->trcpt[r->ntrcpt].path = col_keep(m->rcpt, 0, scratch, cap,
		    used);
		r->trcpt[r->ntrcpt++].reply =
		    (uint16_t)sqlite3_column_int(m->rcpt, 2);
		r->txn[k].nrcpt++;
	}
	for (uint32_t i = 0; i < r->ntxn; i++) {
		r->txn[i].rcpt_first = first;
		first += r->txn[i].nrcpt;
		if (r->txn[i].rcpt_total < r->txn[i].nrcpt)
			r->txn[i].rcpt_total = r->txn[i].nrcpt;
	}
	for (uint32_t i = 0; i < r->ntrcpt && i < MAX_RCPT; i++)
		r->rcpt[r->nrcpt++] = r->trcpt[i].path;
	if (r->rcpt_total < r->ntrcpt)
		r->rcpt_total = r->ntrcpt;
	r->txn_total = (uint32_t)sqlite3_column_int64(m->sel, 30);
}

/* Stores the current row of m->sel with its recipients and AUTH tries. */
static int
merge_one(struct merge *m, char *err, size_t errlen)
{
	sqlite3_stmt	*q = m->sel;
	static struct sess_rec r;
	struct geo_info	 geo;
	int64_t		 id = sqlite3_column_int64(q, 0);
	const char	*why;
	int		 rc, e;
	char		 text[32];
	static char	 scratch[MAX_TXN_RCPT * MAX_PATH_ARG +
			    MAX_TXN * 2 * MAX_PATH_ARG +
			    MAX_AUTH * (MAX_AUTH_MECH + MAX_AUTH_USER)];
	size_t		 used = 0;

	memset(&r, 0, sizeof(r));
	memset(&geo, 0, sizeof(geo));
	/* Too long for its field is refused below, never cut short. */
	if (sqlite3_column_bytes(q, 1) >= (int)sizeof(r.uid))
		return merge_reject(m, "sessions", id, "bad uid"), 0;
	col_copy(q, 1, r.uid, sizeof(r.uid));
	r.start_us = sqlite3_column_int64(q, 2);
	r.end_us = sqlite3_column_int64(q, 3);
	if (!merge_ip(col_span(q, 4)))
		return merge_reject(m, "sessions", id, "bad source address"), 0;
	col_copy(q, 4, r.src_ip, sizeof(r.src_ip));
	if (sqlite3_column_int64(q, 5) < 0 ||
	    sqlite3_column_int64(q, 5) > 65535 ||
	    sqlite3_column_int64(q, 7) < 0 ||
	    sqlite3_column_int64(q, 7) > 65535)
		return merge_reject(m, "sessions", id, "port out of range"), 0;
	r.src_port = (uint16_t)sqlite3_column_int(q, 5);
	if (!merge_ip(col_span(q, 6)))
		return merge_reject(m, "sessions", id, "bad decoy address"), 0;
	col_copy(q, 6, r.dst_ip, sizeof(r.dst_ip));
	r.dst_port = (uint16_t)sqlite3_column_int(q, 7);
	if (sqlite3_column_type(q, 8) != SQLITE_NULL &&
	    (sqlite3_column_int64(q, 8) < 0 ||
	    sqlite3_column_int64(q, 8) > 65535))
		return merge_reject(m, "sessions", id,
		    "mx preference out of range"), 0;
	r.mx_pref = sqlite3_column_type(q, 8) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(q, 8);
	col_copy(q, 9, text, sizeof(text));
	if ((e = role_parse(text)) < 0 || e >= ROLE_REAL)
		return merge_reject(m, "sessions", id, "bad role"), 0;
	r.role = (enum role)e;
	if (sqlite3_column_int64(q, 10) < 0 ||
	    sqlite3_column_int64(q, 10) > 86400000)
		return merge_reject(m, "sessions", id,
		    "greeting delay out of range"), 0;
	r.greeting_delay_ms = (uint32_t)sqlite3_column_int64(q, 10);
	r.helo_verb = col_span(q, 11);
	r.helo = col_span(q, 12);
	r.mail_from = col_span(q, 13);
	/* The encoder would cut these short, as the network process does. */
	if (r.helo_verb.len > 4 || r.helo.len > MAX_HELO ||
	    r.mail_from.len > MAX_PATH_ARG)
		return merge_reject(m, "sessions", id,
		    "string field over its bound"), 0;
	for (int c = 14; c <= 22; c++)
		if (c != 15 && c != 17 && (sqlite3_column_int64(q, c) < 0 ||
		    (c != 18 && c != 19 && sqlite3_column_int64(q, c) >
		    UINT32_MAX)))
			return merge_reject(m, "sessions", id,
			    "counter out of range"), 0;
	r.rcpt_total = (uint32_t)sqlite3_column_int64(q, 14);
	col_copy(q, 15, text, sizeof(text));
	if ((e = stage_parse(text)) < 0)
		return merge_reject(m, "sessions", id, "bad stage"), 0;
	r.stage = (enum stage)e;
	r.reply_code = (uint16_t)sqlite3_column_int(q, 16);
	if (sqlite3_column_int64(q, 16) != r.reply_code)
		return merge_reject(m, "sessions", id, "bad reply code"), 0;
	col_copy(q, 17, text, sizeof(text));
	if ((e = close_reason_parse(text)) < 0)
		return merge_reject(m, "sessions", id, "bad close reason"), 0;
	r.reason = (enum close_reason)e;
	r.bytes_in = (uint64_t)sqlite3_column_int64(q, 18);
	r.bytes_out = (uint64_t)sqlite3_column_int64(q, 19);
	r.commands = (uint32_t)sqlite3_column_int64(q, 20);
	r.errors = (uint32_t)sqlite3_column_int64(q, 21);
	r.anomalies = (uint32_t)sqlite3_column_int64(q, 22);
	col_copy(q, 23, geo.country, sizeof(geo.country));
	geo.asn = (uint32_t)sqlite3_column_int64(q, 24);
	col_copy(q, 25, geo.as_org, sizeof(geo.as_org));
	geo.build = sqlite3_column_int64(q, 26);
	r.geo = &geo;
	r.sensor = col_span(q, 29);
	col_copy(q, 31, r.via, sizeof(r.via));
	if (r.sensor.p == NULL)
		r.sensor = (struct span){ m->sensor, strlen(m->sensor) };
	if ((why = merge_check_extra(q, &geo, r.sensor)) != NULL)
		return merge_reject(m, "sessions", id, why), 0;

	if ((rc = merge_uid(m, &r)) == 1) {
		m->skipped++;
		return 0;
	}
	if (rc == -1)
		goto sqlfail;

	merge_txns(m, id, &r, scratch, sizeof(scratch), &used);
	sqlite3_reset(m->auth);
	sqlite3_bind_int64(m->auth, 1, id);
	while (r.nauth < MAX_AUTH && sqlite3_step(m->auth) == SQLITE_ROW) {
		if (sqlite3_column_bytes(m->auth, 0) > MAX_AUTH_MECH ||
		    sqlite3_column_bytes(m->auth, 1) > MAX_AUTH_USER)
			return merge_reject(m, "sessions", id,
			    "AUTH attempt over its bound"), 0;
		r.auth[r.nauth].mech = col_keep(m->auth, 0, scratch,
		    sizeof(scratch), &used);
		r.auth[r.nauth++].user = col_keep(m->auth, 1, scratch,
		    sizeof(scratch), &used);
	}
	if (used >= sizeof(scratch) || merge_revalidate(&r, &why) == -1)
		return merge_reject(m, "sessions", id, used >= sizeof(scratch) ?
		    "recipients or AUTH attempts over their bounds" : why), 0;
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

/* The checks of a SYN row: one per column of syn_sel. */
enum { SC_INT, SC_INT_NULL, SC_IP, SC_ROLE, SC_TEXT, SC_TEXT_NULL };

static const struct merge_syn_col {
	int		 kind;
	int64_t		 min, max;	/* SC_INT*: range; SC_TEXT*: bytes */
	const char	*what;
} syn_cols[] = {
	{ SC_INT, INT64_MIN, INT64_MAX, "id" },
	{ SC_INT, 0, INT64_MAX, "time" },
	{ SC_IP, 0, 0, "source address" },
	{ SC_INT, 0, 65535, "source port" },
	{ SC_IP, 0, 0, "decoy address" },
	{ SC_INT, 0, 65535, "decoy port" },
	{ SC_INT_NULL, -1, 65535, "mx preference" },
	{ SC_ROLE, 0, 0, "role" },
	{ SC_INT, 4, 6, "IP version" },
	{ SC_INT, 0, 255, "ttl" },
	{ SC_INT, 0, 255, "initial ttl" },
	{ SC_INT, 0, 255, "distance" },
	{ SC_INT, 0, 65535, "window" },
	{ SC_INT, 0, 65535, "mss" },
	{ SC_INT, 0, 255, "window scale" },
	{ SC_TEXT, 0, MERGE_TEXT_MAX, "option layout" },
	{ SC_TEXT, 0, MERGE_TEXT_MAX, "quirks" },
	{ SC_TEXT, 0, 8, "payload class" },
	{ SC_INT, 0, UINT32_MAX, "sequence number" },
	{ SC_TEXT, 0, MERGE_TEXT_MAX, "signature" },
	{ SC_TEXT_NULL, 0, MERGE_TEXT_MAX, "label" },
	{ SC_TEXT_NULL, 0, 64, "OS class" },
	{ SC_TEXT, 0, 16, "match" },
	{ SC_INT, 0, UINT32_MAX, "retransmits" },
};

static const char *syn_sel =
    "SELECT id, ts_us, src_ip, src_port, dst_ip, dst_port, mx_pref, role,"
    " ver, ttl, ittl, dist, win, mss, wscale, olayout, quirks, pclass, seq,"
    " sig, label, os_class, match, retransmits FROM o.syns ORDER BY ts_us";

/*
 * Checks the current row of a syn_sel statement against the bounds of a
 * SYN as the sensor records it.  Returns NULL, or what is wrong.
 */
static const char *
merge_check_syn(sqlite3_stmt *q)
{
	static char	 why[96];
	const char	*p;
	int64_t		 v;
	int		 n, t;

	for (int i = 0; i < (int)(sizeof(syn_cols) / sizeof(syn_cols[0]));
	    i++) {
		const struct merge_syn_col *c = &syn_cols[i];

		t = sqlite3_column_type(q, i);
		if (t == SQLITE_NULL && (c->kind == SC_INT_NULL ||
		    c->kind == SC_TEXT_NULL))
			continue;
		switch (c->kind) {
		case SC_INT:
		case SC_INT_NULL:
			v = sqlite3_column_int64(q, i);
			if (t != SQLITE_INTEGER || v < c->min || v > c->max)
				goto bad;
			break;
		case SC_IP:
			if (t != SQLITE_TEXT || !merge_ip(col_span(q, i)))
				goto bad;
			break;
		case SC_ROLE:
			p = (const char *)sqlite3_column_text(q, i);
			if (t != SQLITE_TEXT || p == NULL || role_parse(p) < 0)
				goto bad;
			break;
		default:
			p = (const char *)sqlite3_column_text(q, i);
			n = sqlite3_column_bytes(q, i);
			if (t != SQLITE_TEXT || p == NULL || n > c->max)
				goto bad;
			for (int k = 0; k < n; k++)
				if (p[k] < 0x20 || p[k] > 0x7e)
					goto bad;
		}
		continue;
bad:
		snprintf(why, sizeof(why), "bad %s", c->what);
		return why;
	}
	v = sqlite3_column_int64(q, 8);
	if (v == 5 || (v == 6) != (strchr((const char *)
	    sqlite3_column_text(q, 2), ':') != NULL))
		return "IP version does not match the address";
	return NULL;
}

/*
 * Copies the SYNs not here yet, each checked (merge_check_syn()), then
 * recomputes the MX walk of every client they came from, over what all
 * sensors saw.
 */
static int
merge_syns(struct merge *m, char *err, size_t errlen)
{
	static const char *ins =
	    "INSERT INTO main.syns(ts_us, src_ip, src_port, dst_ip, dst_port,"
	    " mx_pref, role, ver, ttl, ittl, dist, win, mss, wscale, olayout,"
	    " quirks, pclass, seq, sig, label, os_class, match, retransmits)"
	    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23"
	    " WHERE NOT EXISTS (SELECT 1 FROM main.syns s WHERE"
	    " s.src_ip = ?2 AND s.src_port = ?3 AND s.dst_ip = ?4 AND"
	    " s.dst_port = ?5 AND s.ts_us = ?1)";
	struct synstore	*ss;
	sqlite3_stmt	*q, *w = NULL;
	const char	*bad;
	char		 why[256];
	int		 rc;

	if (sqlite3_prepare_v2(m->db, syn_sel, -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(m->db, ins, -1, &w, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: syns: %s", m->other,
		    sqlite3_errmsg(m->db));
		sqlite3_finalize(q);
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if ((bad = merge_check_syn(q)) != NULL) {
			merge_reject(m, "syns", sqlite3_column_int64(q, 0),
			    bad);
			continue;
		}
		sqlite3_reset(w);
		for (int i = 1; i <= 23; i++)
			sqlite3_bind_value(w, i, sqlite3_column_value(q, i));
		if ((rc = sqlite3_step(w)) != SQLITE_DONE)
			break;
		m->syns += (uint64_t)sqlite3_changes(m->db);
	}
	sqlite3_finalize(q);
	sqlite3_finalize(w);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: syns: %s", m->other,
		    sqlite3_errmsg(m->db));
		return -1;
	}
	if (m->syns == 0)
		return 0;
	if ((ss = synstore_new(m->st, NULL, 1, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s: %s", m->other, why);
		return -1;
	}
	/* Only addresses that passed the checks. */
	if (sqlite3_prepare_v2(m->db, "SELECT DISTINCT y.src_ip FROM o.syns y"
	    " WHERE EXISTS (SELECT 1 FROM main.syns s WHERE s.src_ip ="
	    " y.src_ip AND s.ts_us = y.ts_us AND s.src_port = y.src_port)",
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
