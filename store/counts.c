/* SPDX-License-Identifier: ISC */
/*
 * counts.c -- the report aggregates (the counts table: sessions per role,
 * decoy, stage, close reason, country, AS, HELO, sender, sender domain,
 * anomaly and /24), kept per batch instead of per row.
 *
 * A batch of sessions from the same bots shares most of its keys, so the
 * store adds each session to an in-memory table here and writes one
 * upsert per distinct key when the batch commits (store_commit), instead
 * of fourteen per session.  What it counts is exactly what the schema-2
 * trigger counted from a new row; later changes to a row (os and country
 * filled in afterwards) are still counted by the sessions_counts_late
 * trigger.
 *
 * counts_check() compares the table with a recount from the sessions
 * ("decoymx db check").
 *
 * Exports counts_add(), counts_flush(), counts_clear() and
 * counts_check().
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static const char *count_dims[] = {
	"role", "decoy", "stage", "reason", "country", "asn", "helo",
	"sender", "sender-domain", "anomaly", "net",
};
enum {
	D_ROLE, D_DECOY, D_STAGE, D_REASON, D_COUNTRY, D_ASN, D_HELO,
	D_SENDER, D_DOMAIN, D_ANOMALY, D_NET
};

struct count {
	uint8_t		 dim;
	uint8_t		 used;
	uint16_t	 klen;
	char		*key;		/* klen bytes, not NUL-terminated */
	const char	*label;		/* static or role name, or NULL */
	char		*label_own;	/* an AS organisation, copied */
	uint64_t	 sessions;
	int64_t		 first_us, last_us;
};

static uint32_t	 counts_hash(int, const char *, size_t);
static int	 counts_grow(struct counts *);
static void	 counts_put(struct counts *, int, const char *, size_t,
		    const char *, int64_t);
static size_t	 counts_domain(struct span, char *, size_t);
static void	 counts_senders(struct counts *, const struct sess_rec *,
		    int64_t);

static uint32_t
counts_hash(int dim, const char *k, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)dim;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)k[i]) * 16777619u;
	return h;
}

static int
counts_grow(struct counts *c)
{
	uint32_t	 ncap = c->cap ? c->cap * 2 : 256;
	struct count	*nt, *old = c->tab;

	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return -1;
	for (uint32_t i = 0; i < c->cap; i++) {
		if (!old[i].used)
			continue;
		uint32_t j = counts_hash(old[i].dim, old[i].key, old[i].klen) &
		    (ncap - 1);
		while (nt[j].used)
			j = (j + 1) & (ncap - 1);
		nt[j] = old[i];
	}
	free(old);
	c->tab = nt;
	c->cap = ncap;
	return 0;
}

/* Adds one session to the key; a copy of the key is kept. */
static void
counts_put(struct counts *c, int dim, const char *k, size_t len,
    const char *label, int64_t t)
{
	struct count	*e;
	uint32_t	 i;

	if (len > UINT16_MAX)
		len = UINT16_MAX;
	if ((c->n + 1) * 2 > c->cap && counts_grow(c) == -1) {
		c->failed = 1;
		return;
	}
	i = counts_hash(dim, k, len) & (c->cap - 1);
	for (;; i = (i + 1) & (c->cap - 1)) {
		e = &c->tab[i];
		if (!e->used)
			break;
		if (e->dim == dim && e->klen == len &&
		    memcmp(e->key, k, len) == 0) {
			e->sessions++;
			if (t < e->first_us)
				e->first_us = t;
			if (t > e->last_us)
				e->last_us = t;
			if (label != NULL && dim != D_ASN)
				e->label = label;
			return;
		}
	}
	if ((e->key = malloc(len ? len : 1)) == NULL) {
		c->failed = 1;
		return;
	}
	memcpy(e->key, k, len);
	e->used = 1;
	e->dim = (uint8_t)dim;
	e->klen = (uint16_t)len;
	e->label = dim == D_ASN ? NULL : label;
	if (dim == D_ASN && label != NULL)
		e->label = e->label_own = strdup(label);
	e->sessions = 1;
	e->first_us = e->last_us = t;
	c->n++;
}

static void
counts_str(struct counts *c, int dim, const char *s, const char *label,
    int64_t t)
{
	counts_put(c, dim, s, strlen(s), label, t);
}

/* The domain of a sender, lower-cased as SQLite's lower() (ASCII). */
static size_t
counts_domain(struct span m, char *dom, size_t cap)
{
	const char	*at = m.p ? memchr(m.p, '@', m.len) : NULL;
	size_t		 n;

	if (at == NULL)
		return (size_t)-1;
	n = m.len - (size_t)(at + 1 - m.p);
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++)
		dom[i] = (char)tolower((unsigned char)at[1 + i]);
	return n;
}

/*
 * The senders and sender domains of a session: each distinct one of its
 * transactions once (the session_dims view of schema 8 recounts them so).
 */
static void
counts_senders(struct counts *c, const struct sess_rec *r, int64_t t)
{
	char	 dom[MAX_PATH_ARG], prev[MAX_PATH_ARG];
	size_t	 n, pn;

	for (uint32_t i = 0; i < r->ntxn; i++) {
		struct span m = r->txn[i].mail;
		int seen = 0, seen_dom = 0;

		if (m.p == NULL)
			continue;
		n = counts_domain(m, dom, sizeof(dom));
		for (uint32_t j = 0; j < i; j++) {
			struct span o = r->txn[j].mail;
			if (o.p == NULL)
				continue;
			if (o.len == m.len && memcmp(o.p, m.p, m.len) == 0)
				seen = 1;
			pn = counts_domain(o, prev, sizeof(prev));
			if (n != (size_t)-1 && pn == n &&
			    memcmp(prev, dom, n) == 0)
				seen_dom = 1;
		}
		if (!seen)
			counts_put(c, D_SENDER, m.p, m.len, NULL, t);
		if (!seen_dom && n != (size_t)-1)
			counts_put(c, D_DOMAIN, dom, n, NULL, t);
	}
}

/* Counts a session that was just inserted. */
void
counts_add(struct counts *c, const struct sess_rec *r)
{
	const struct geo_info	*g = r->geo;
	int64_t			 t = r->start_us;
	char			 buf[ADDR_STRLEN + 8];
	const char		*dot;

	counts_str(c, D_ROLE, role_name(r->role), NULL, t);
	counts_str(c, D_DECOY, r->dst_ip, role_name(r->role), t);
	counts_str(c, D_STAGE, stage_name(r->stage), NULL, t);
	counts_str(c, D_REASON, close_reason_name(r->reason), NULL, t);
	if (g != NULL && g->country[0] != '\0')
		counts_str(c, D_COUNTRY, g->country, NULL, t);
	if (g != NULL && g->asn != 0) {
		snprintf(buf, sizeof(buf), "%u", g->asn);
		counts_str(c, D_ASN, buf, g->as_org[0] ? g->as_org : NULL, t);
	}
	if (r->helo.p != NULL)
		counts_put(c, D_HELO, r->helo.p, r->helo.len, NULL, t);
	counts_senders(c, r, t);
	for (int b = 0; b < ANOM_COUNT; b++)
		if (r->anomalies & (1u << b)) {
			snprintf(buf, sizeof(buf), "%d", b);
			counts_str(c, D_ANOMALY, buf, NULL, t);
		}
	if (strchr(r->src_ip, ':') == NULL &&
	    (dot = strrchr(r->src_ip, '.')) != NULL) {
		snprintf(buf, sizeof(buf), "%.*s.0/24",
		    (int)(dot - r->src_ip), r->src_ip);
		counts_str(c, D_NET, buf, NULL, t);
	}
}

/*
 * Writes the batch's counts with q, the prepared upsert (dim, key, label,
 * sessions, first, last).  Returns 0, or -1 with the SQLite error left
 * in db; the table is cleared either way.
 */
int
counts_flush(struct counts *c, sqlite3_stmt *q)
{
	int rv = c->failed ? -1 : 0;

	for (uint32_t i = 0; i < c->cap && rv == 0; i++) {
		struct count *e = &c->tab[i];

		if (!e->used)
			continue;
		sqlite3_bind_text(q, 1, count_dims[e->dim], -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, e->key, e->klen, SQLITE_STATIC);
		if (e->label != NULL)
			sqlite3_bind_text(q, 3, e->label, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 3);
		sqlite3_bind_int64(q, 4, (int64_t)e->sessions);
		sqlite3_bind_int64(q, 5, e->first_us);
		sqlite3_bind_int64(q, 6, e->last_us);
		if (sqlite3_step(q) != SQLITE_DONE)
			rv = -1;
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
	}
	counts_clear(c);
	return rv;
}

/* Forgets what was counted (after a flush, or a rolled back batch). */
void
counts_clear(struct counts *c)
{
	for (uint32_t i = 0; i < c->cap; i++) {
		free(c->tab[i].key);
		free(c->tab[i].label_own);
	}
	free(c->tab);
	memset(c, 0, sizeof(*c));
}

/*
 * Every per-session count that differs from a recount from the sessions
 * themselves (the session_dims view and the recipients), one row each:
 * dim, key, the stored count, the recount.  One grouping of both sides
 * (a join of the two would need an index on the recount).
 */
static const char counts_drift_sql[] =
    "SELECT dim, k, sum(stored), sum(recount) FROM ("
    " SELECT dim, CAST(key AS TEXT) AS k, sessions AS stored, 0 AS recount"
    " FROM counts WHERE dim IN ('role', 'decoy', 'stage', 'reason',"
    " 'country', 'asn', 'os', 'fingerprint', 'helo', 'sender',"
    " 'sender-domain', 'anomaly', 'net', 'recipient')"
    " UNION ALL SELECT dim, CAST(key AS TEXT), 0, 1 FROM session_dims"
    " WHERE key IS NOT NULL"
    " UNION ALL SELECT 'recipient', rcpt, 0, 1 FROM recipients)"
    " GROUP BY dim, k HAVING sum(stored) != sum(recount)"
    " ORDER BY 1, 2 LIMIT 1000";

/*
 * Prints to out a line per report count that a recount would change
 * ("counts drift dim=... key=... stored=N recount=M", the key escaped)
 * and a total.  Returns the number of such counts, or -1 with the
 * SQLite error in db.
 */
int
counts_check(sqlite3 *db, FILE *out)
{
	sqlite3_stmt	*q;
	char		 key[256];
	int		 n = 0, rc;

	if (sqlite3_prepare_v2(db, counts_drift_sql, -1, &q, NULL) !=
	    SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(q, 1);

		util_escape_term(k ? k : "", k ? (size_t)sqlite3_column_bytes(q,
		    1) : 0, key, sizeof(key));
		fprintf(out, "counts drift dim=%s key=\"%s\" stored=%lld "
		    "recount=%lld\n", sqlite3_column_text(q, 0), key,
		    (long long)sqlite3_column_int64(q, 2),
		    (long long)sqlite3_column_int64(q, 3));
		n++;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	return n;
}
