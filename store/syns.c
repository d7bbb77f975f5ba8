/* SPDX-License-Identifier: ISC */
/*
 * syns.c -- the sensor's side of the store: SYN records in, rows of the
 * syns and mx_walks tables out (schema version 4).
 *
 * For each first SYN the store computes the p0f signature (sensor/fp.c)
 * and its label from the signature files (sensor/fpdb.c), writes a syns
 * row, gives the label to a session of the same 4-tuple that is already
 * stored (the other direction is the sessions_syn_os trigger of schema
 * version 4: whichever of the two arrives second makes the join, so the
 * order of records does not matter), and recomputes the client's MX walk
 * (sensor/walk.c).  A retransmitted SYN raises the retransmit count of
 * its row and is not fingerprinted again.
 *
 * Records wait in a bounded ring (dropping the oldest when full, like
 * batch.c) and are written in one transaction per flush.
 *
 * Each statement is prepared when it is first used, not up front: a
 * daemon without a sensor never compiles the SYN writers (their
 * UPDATEs compile the tables' triggers, the bulk of the cost), and a
 * store loop that ends before its first SYN pays nothing for them.
 *
 * Exports synstore_new(), synstore_free(), synstore_add(),
 * synstore_queue(), synstore_pending(), synstore_flush() and
 * synstore_stats().
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "sensor.h"

#define JOIN_BEFORE_US	(5LL * 1000000)	/* session start before the SYN */
#define JOIN_AFTER_US	(60LL * 1000000) /* ... and after it */
#define WALK_ROWS	256		/* SYNs read back to find a walk */

enum {
	Y_INSERT, Y_RTX, Y_JOIN, Y_WALK_READ, Y_WALK_WRITE, Y_BEGIN,
	Y_COMMIT, Y_ROLLBACK, Y_DEFERRED, Y_PARALLEL, Y_MAX
};

static const char *syn_sql[Y_MAX] = {
	[Y_INSERT] =
	    "INSERT INTO syns(ts_us, src_ip, src_port, dst_ip, dst_port,"
	    " mx_pref, role, ver, ttl, ittl, dist, win, mss, wscale, olayout,"
	    " quirks, pclass, seq, sig, label, os_class, match, retransmits)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, 0)",
	[Y_RTX] =
	    "UPDATE syns SET retransmits = max(retransmits, ?6) WHERE id ="
	    " (SELECT id FROM syns WHERE src_ip = ?1 AND src_port = ?2"
	    " AND dst_ip = ?3 AND dst_port = ?4 AND seq = ?5"
	    " ORDER BY ts_us DESC LIMIT 1)",
	/* A client's few sessions, not every session to that decoy. */
	[Y_JOIN] =
	    "UPDATE sessions INDEXED BY sessions_flow"
	    " SET os = ?1, os_class = ?2 WHERE src_ip = ?3"
	    " AND src_port = ?4 AND dst_ip = ?5 AND dst_port = ?6"
	    " AND os IS NULL AND start_us BETWEEN ?7 AND ?8",
	[Y_WALK_READ] =
	    "SELECT dst_ip, mx_pref, role, ts_us, retransmits FROM syns"
	    " WHERE src_ip = ?1 ORDER BY ts_us DESC, id DESC LIMIT "
	    "256",
	[Y_WALK_WRITE] =
	    "INSERT INTO mx_walks(ip, verdict, walk, first_us, last_us)"
	    " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(ip) DO UPDATE SET"
	    " verdict = excluded.verdict, walk = excluded.walk,"
	    " first_us = excluded.first_us, last_us = excluded.last_us",
	/* Did the client get a 4xx from this decoy in that connection? */
	[Y_DEFERRED] =
	    "SELECT 1 FROM sessions INDEXED BY sessions_src"
	    " WHERE src_ip = ?1 AND dst_ip = ?2"
	    " AND start_us BETWEEN ?3 - 5000000 AND ?3 + 60000000"
	    " AND reply_code BETWEEN 400 AND 499 LIMIT 1",
	[Y_PARALLEL] =
	    "SELECT 1 FROM mx_walks WHERE ip = ?1 AND verdict = 'parallel'",
	[Y_BEGIN] = "BEGIN IMMEDIATE",
	[Y_COMMIT] = "COMMIT",
	[Y_ROLLBACK] = "ROLLBACK",
};

struct synstore {
	struct store		*st;
	const struct fpdb	*db;		/* not owned; may be NULL */
	sqlite3_stmt		*q[Y_MAX];
	uint8_t			**ring;
	size_t			*rlen;
	uint32_t		 bound, head, n;
	struct synstore_stats	 stats;
};

static sqlite3_stmt *synstore_stmt(struct synstore *, int);
static int	 synstore_run(struct synstore *, int);
static int	 bind_text(sqlite3_stmt *, int, const char *);
static int	 synstore_walk(struct synstore *, const char *);
static int	 synstore_first(struct synstore *, const struct syn_rec *,
		    const char *, const char *);

/*
 * A writer of SYN records to st, labelling with db (may be NULL: no
 * labels).  bound: records that may wait for a flush.  Returns NULL
 * with err set on failure.
 */
struct synstore *
synstore_new(struct store *st, const struct fpdb *db, uint32_t bound,
    char *err, size_t errlen)
{
	struct synstore	*ss;

	if (bound == 0)
		bound = 1;
	if ((ss = calloc(1, sizeof(*ss))) == NULL ||
	    (ss->ring = calloc(bound, sizeof(*ss->ring))) == NULL ||
	    (ss->rlen = calloc(bound, sizeof(*ss->rlen))) == NULL) {
		snprintf(err, errlen, "out of memory");
		synstore_free(ss);
		return NULL;
	}
	ss->st = st;
	ss->db = db;
	ss->bound = bound;
	if (synstore_prepare(ss, err, errlen) == -1) {
		synstore_free(ss);
		return NULL;
	}
	return ss;
}

/*
 * Finalizes the statements (before the store reopens its database);
 * they are prepared again at their next use.  Queued records stay.
 */
void
synstore_release(struct synstore *ss)
{
	for (int i = 0; i < Y_MAX; i++) {
		sqlite3_finalize(ss->q[i]);
		ss->q[i] = NULL;
	}
}

/*
 * Checks that the statements can be prepared on the store's connection
 * (the first, BEGIN; the others at their first use, synstore_stmt()).
 * 0, or -1 with err.
 */
int
synstore_prepare(struct synstore *ss, char *err, size_t errlen)
{
	if (store_db(ss->st) == NULL) {
		snprintf(err, errlen, "database not open");
		return -1;
	}
	if (synstore_stmt(ss, Y_BEGIN) == NULL) {
		snprintf(err, errlen, "cannot prepare \"%s\": %s",
		    syn_sql[Y_BEGIN], sqlite3_errmsg(store_db(ss->st)));
		return -1;
	}
	return 0;
}

/*
 * Statement i, prepared on the store's connection at its first use.
 * NULL (the SQLite error in the connection) when it cannot be, or when
 * the database is not open.
 */
static sqlite3_stmt *
synstore_stmt(struct synstore *ss, int i)
{
	if (ss->q[i] == NULL && store_db(ss->st) != NULL &&
	    sqlite3_prepare_v3(store_db(ss->st), syn_sql[i], -1,
	    SQLITE_PREPARE_PERSISTENT, &ss->q[i], NULL) != SQLITE_OK) {
		sqlite3_finalize(ss->q[i]);
		ss->q[i] = NULL;
	}
	return ss->q[i];
}

void
synstore_free(struct synstore *ss)
{
	if (ss == NULL)
		return;
	for (int i = 0; i < Y_MAX; i++)
		sqlite3_finalize(ss->q[i]);
	for (uint32_t i = 0; ss->ring != NULL && i < ss->n; i++)
		free(ss->ring[(ss->head + i) % ss->bound]);
	free(ss->ring);
	free(ss->rlen);
	free(ss);
}

const struct synstore_stats *
synstore_stats(const struct synstore *ss)
{
	return &ss->stats;
}

uint32_t
synstore_pending(const struct synstore *ss)
{
	return ss->n;
}

/* Steps statement q once (bound by the caller).  0, or -1. */
static int
synstore_run(struct synstore *ss, int q)
{
	sqlite3_stmt	*st = synstore_stmt(ss, q);
	int		 rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Validates a received REC_SYN record and keeps a copy for the next
 * flush (the oldest is dropped at the bound).  Returns 0, or -1 when the
 * record is invalid (counted, logged at most once per flush).
 */
int
synstore_queue(struct synstore *ss, const uint8_t *rec, size_t len)
{
	struct syn_rec	 r;
	const char	*why;
	uint8_t		*copy;
	uint32_t	 slot;

	if (synrec_decode(rec, len, &r, &why) == -1) {
		if (ss->stats.invalid++ == 0)
			log_warn("store invalid SYN record reason=\"%s\"", why);
		return -1;
	}
	if ((copy = malloc(len)) == NULL) {
		ss->stats.dropped++;
		return -1;
	}
	memcpy(copy, rec, len);
	if (ss->n == ss->bound) {
		free(ss->ring[ss->head]);
		ss->head = (ss->head + 1) % ss->bound;
		ss->n--;
		ss->stats.dropped++;
	}
	slot = (ss->head + ss->n) % ss->bound;
	ss->ring[slot] = copy;
	ss->rlen[slot] = len;
	ss->n++;
	return 0;
}

/*
 * Writes every queued record in one transaction.  Returns the number
 * written, or -1 (everything stays queued) when the database failed.
 */
int
synstore_flush(struct synstore *ss)
{
	struct syn_rec	 r;
	const char	*why;
	uint32_t	 n = ss->n, i;

	if (n == 0)
		return 0;
	if (store_db(ss->st) == NULL)
		return -1;	/* reopening (ingest.c): they wait */
	if (synstore_run(ss, Y_BEGIN) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		uint32_t slot = (ss->head + i) % ss->bound;
		if (synrec_decode(ss->ring[slot], ss->rlen[slot], &r,
		    &why) == -1)
			continue;	/* checked in synstore_queue() */
		if (synstore_add(ss, &r, NULL) == -1)
			goto fail;
	}
	if (synstore_run(ss, Y_COMMIT) == -1)
		goto fail;
	for (i = 0; i < n; i++)
		free(ss->ring[(ss->head + i) % ss->bound]);
	ss->head = ss->n = 0;
	ss->stats.invalid = 0;
	return (int)n;
fail:
	log_warn("store SYN flush failed pending=%u error=\"%s\"", ss->n,
	    sqlite3_errmsg(store_db(ss->st)));
	if (!sqlite3_get_autocommit(store_db(ss->st)))
		synstore_run(ss, Y_ROLLBACK);
	return -1;
}

/* Binds a NUL-terminated string, or NULL when empty. */
static int
bind_text(sqlite3_stmt *q, int i, const char *s)
{
	if (s == NULL || *s == '\0')
		return sqlite3_bind_null(q, i);
	return sqlite3_bind_text(q, i, s, -1, SQLITE_TRANSIENT);
}

/*
 * Writes one SYN: a new row for a first SYN (fingerprinted, labelled,
 * joined to its session), a raised count for a retransmit; then the
 * client's walk.  The caller holds a transaction.  *out, when not NULL,
 * receives the match.  Returns 0 or -1 (SQLite error).
 */
int
synstore_add(struct synstore *ss, const struct syn_rec *r,
    struct fp_match *out)
{
	char		 src[ADDR_STRLEN], dst[ADDR_STRLEN];
	sqlite3_stmt	*q;
	struct fp_match	 m;

	packet_addr_str(&r->s, 0, src, sizeof(src));
	packet_addr_str(&r->s, 1, dst, sizeof(dst));
	if (r->retransmits > 0) {
		if ((q = synstore_stmt(ss, Y_RTX)) == NULL)
			return -1;
		bind_text(q, 1, src);
		sqlite3_bind_int(q, 2, r->s.sport);
		bind_text(q, 3, dst);
		sqlite3_bind_int(q, 4, r->s.dport);
		sqlite3_bind_int64(q, 5, r->s.seq);
		sqlite3_bind_int64(q, 6, r->retransmits);
		if (synstore_run(ss, Y_RTX) == -1)
			return -1;
		ss->stats.retransmits++;
		if (out != NULL)
			memset(out, 0, sizeof(*out));
		return synstore_walk(ss, src);
	}
	fpdb_match(ss->db, &r->s, &m);
	if (out != NULL)
		*out = m;
	if (synstore_first(ss, r, src, dst) == -1 ||
	    (q = synstore_stmt(ss, Y_INSERT)) == NULL)
		return -1;
	bind_text(q, 20, m.label);
	bind_text(q, 21, m.os_class);
	sqlite3_bind_text(q, 22, fpdb_quality_name(m.quality), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(q, 11, m.dist);
	if (synstore_run(ss, Y_INSERT) == -1)
		return -1;
	ss->stats.syns++;
	if (m.label[0] != '\0') {
		if ((q = synstore_stmt(ss, Y_JOIN)) == NULL)
			return -1;
		bind_text(q, 1, m.label);
		bind_text(q, 2, m.os_class);
		bind_text(q, 3, src);
		sqlite3_bind_int(q, 4, r->s.sport);
		bind_text(q, 5, dst);
		sqlite3_bind_int(q, 6, r->s.dport);
		sqlite3_bind_int64(q, 7, r->s.ts_us - JOIN_BEFORE_US);
		sqlite3_bind_int64(q, 8, r->s.ts_us + JOIN_AFTER_US);
		if (synstore_run(ss, Y_JOIN) == -1)
			return -1;
	}
	return synstore_walk(ss, src);
}

/* Binds the fields of a first SYN's row except the match (?11, ?20-22). */
static int
synstore_first(struct synstore *ss, const struct syn_rec *r,
    const char *src, const char *dst)
{
	sqlite3_stmt	*q = synstore_stmt(ss, Y_INSERT);
	struct fp_sig	 f;
	char		 ol[SIG_MAX];

	if (q == NULL)
		return -1;
	fp_signature(&r->s, &f);
	fp_olayout(&r->s, ol, sizeof(ol));
	sqlite3_bind_int64(q, 1, r->s.ts_us);
	bind_text(q, 2, src);
	sqlite3_bind_int(q, 3, r->s.sport);
	bind_text(q, 4, dst);
	sqlite3_bind_int(q, 5, r->s.dport);
	if (r->mx_pref < 0)
		sqlite3_bind_null(q, 6);
	else
		sqlite3_bind_int(q, 6, r->mx_pref);
	sqlite3_bind_text(q, 7, role_name(r->role), -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, r->s.ver);
	sqlite3_bind_int(q, 9, r->s.ttl);
	sqlite3_bind_int(q, 10, f.ittl);
	sqlite3_bind_int(q, 12, r->s.win);
	sqlite3_bind_int(q, 13, r->s.mss);
	sqlite3_bind_int(q, 14, r->s.wscale);
	sqlite3_bind_text(q, 15, ol, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 16, f.quirks, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(q, 17, r->s.pay ? "+" : "0", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 18, r->s.seq);
	sqlite3_bind_text(q, 19, f.sig, -1, SQLITE_TRANSIENT);
	return 0;
}

/*
 * Recomputes the client's latest walk from its stored SYNs: the newest
 * run without a pause over WALK_GAP_US, one touch per address (its
 * first SYN, with the retransmits and repeats of that address added).
 */
static int
synstore_walk(struct synstore *ss, const char *ip)
{
	struct walk_touch	 t[WALK_MAX], rows[WALK_ROWS];
	sqlite3_stmt		*q = synstore_stmt(ss, Y_WALK_READ);
	char			 text[WALK_MAX * 80];
	size_t			 nrows = 0, n = 0;
	int			 rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, ip);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && nrows < WALK_ROWS) {
		struct walk_touch *w = &rows[nrows];
		const unsigned char *d = sqlite3_column_text(q, 0);
		const unsigned char *role = sqlite3_column_text(q, 2);

		memset(w, 0, sizeof(*w));
		strlcpy_(w->ip, d ? (const char *)d : "", sizeof(w->ip));
		w->mx_pref = sqlite3_column_type(q, 1) == SQLITE_NULL ? -1 :
		    sqlite3_column_int(q, 1);
		w->role = ROLE_DECOY;
		for (int i = 0; role != NULL && i < ROLE_MAX; i++)
			if (strcmp((const char *)role, role_name(i)) == 0)
				w->role = (enum role)i;
		w->ts_us = sqlite3_column_int64(q, 3);
		w->retransmits = (uint32_t)sqlite3_column_int64(q, 4);
		if (nrows > 0 && rows[nrows - 1].ts_us - w->ts_us >
		    WALK_GAP_US)
			break;
		nrows++;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	/* rows are newest first: fold oldest first. */
	if ((q = synstore_stmt(ss, Y_DEFERRED)) == NULL)
		return -1;
	for (size_t i = nrows; i-- > 0;) {
		size_t j;
		for (j = 0; j < n; j++)
			if (strcmp(t[j].ip, rows[i].ip) == 0)
				break;
		if (j < n) {
			t[j].retransmits += rows[i].retransmits;
			t[j].repeats++;
			continue;
		}
		if (n == WALK_MAX)
			continue;
		t[n] = rows[i];
		/* A 4xx from this decoy: the next MX was no parallel try. */
		bind_text(q, 1, ip);
		bind_text(q, 2, t[n].ip);
		sqlite3_bind_int64(q, 3, t[n].ts_us);
		t[n].deferred = sqlite3_step(q) == SQLITE_ROW;
		sqlite3_reset(q);
		n++;
	}
	if (n == 0)
		return 0;
	walk_format(t, n, text, sizeof(text));
	if ((q = synstore_stmt(ss, Y_WALK_WRITE)) == NULL)
		return -1;
	bind_text(q, 1, ip);
	sqlite3_bind_text(q, 2, walk_verdict_name(walk_verdict(t, n)), -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(q, 3, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 4, rows[nrows - 1].ts_us);
	sqlite3_bind_int64(q, 5, rows[0].ts_us);
	return synstore_run(ss, Y_WALK_WRITE);
}

/* Recomputes one client's MX walk from the stored SYNs (db merge). */
int
synstore_rewalk(struct synstore *ss, const char *ip)
{
	return synstore_walk(ss, ip);
}

/*
 * A session was stored: if its client's walk reads "parallel" only
 * because the SYN to the next MX came before this session's record (the
 * client had its 4xx and moved on within a millisecond), walk again.
 */
int
synstore_session(struct synstore *ss, const char *ip)
{
	sqlite3_stmt	*q = synstore_stmt(ss, Y_PARALLEL);
	int		 rc;

	if (q == NULL)
		return -1;
	bind_text(q, 1, ip);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : -1;
	return synstore_walk(ss, ip);
}
