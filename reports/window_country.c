/* SPDX-License-Identifier: ISC */
/*
 * window_country.c -- "report top countries" over a window from the
 * narrow rollup of schema 12 (rollup_country: the sessions of each UTC
 * hour per country and client number, store/rollup.c) instead of the
 * wide one window.c reads.
 *
 * The window is split as window.c splits it (window_hours()): whole
 * hours from rollup_country, the edges from the sessions, their clients
 * numbered by rollup_ips.  A row is a few integers and a two-letter
 * text; the distinct clients of a country are counted on a bitmap over
 * the client numbers, so no address is hashed.  The answer is the scan's
 * exactly: sessions, distinct clients, first and last start per
 * country; the window's sessions (with or without a country) for the
 * share.
 *
 * Only the time and --country filters can be answered here
 * (window_country_usable()); the others go to window.c.
 *
 * Exports window_country_usable(), window_country_run(),
 * window_country_sorted(), window_country_total() and
 * window_country_free().
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

/* One country of the answer: its counts, and which clients it saw. */
struct wcc_country {
	char		*key;
	size_t		 len;
	struct win_value v;
	uint64_t	*seen;		/* a bit per client number */
};

struct wcc {
	struct wcc_country *c;
	size_t		 n, cap;
	size_t		 last;		/* the country of the row before */
	size_t		 words;		/* of each seen bitmap */
	int64_t		 total;		/* sessions, with a country or not */
};

static const char wcc_max_sql[] =
    "SELECT coalesce(max(id), 0) FROM rollup_ips";
/* With --country, and without (no condition to test on every row). */
static const char wcc_hours_cc_sql[] =
    "SELECT country, ip, sessions, first_us, last_us FROM rollup_country"
    " WHERE hour >= ?1 AND hour < ?2 AND country = ?3";
static const char wcc_hours_sql[] =
    "SELECT country, ip, sessions, first_us, last_us FROM rollup_country"
    " WHERE hour >= ?1 AND hour < ?2";
static const char wcc_hours_total_sql[] =
    "SELECT coalesce(sum(sessions), 0) FROM rollup_buckets"
    " WHERE size = 3600000000 AND t >= ?1 AND t < ?2";
static const char wcc_edge_sql[] =
    "SELECT s.country, i.id, 1, s.start_us, s.start_us FROM sessions s"
    " LEFT JOIN rollup_ips i ON i.ip = s.src_ip"
    " WHERE s.start_us >= ?1 AND s.start_us < ?2"
    " AND (?3 IS NULL OR s.country = ?3)";

/*
 * A row waiting to be added: rows are added WCC_BATCH at a time, each
 * one's bitmap word prefetched when it is read, so that the cache misses
 * of a batch overlap instead of following each other.
 */
#define WCC_BATCH	64

struct wcc_row {
	size_t		 c;		/* index in wcc.c */
	uint64_t	 id;
	int64_t		 n, t0, t1;
};

static struct wcc_country *wcc_country(struct wcc *, const char *, size_t);
static void	 wcc_add(struct wcc *, const struct wcc_row *, int);
static int	 wcc_query(struct wcc *, sqlite3 *, const char *,
		    const struct filter *, int64_t, int64_t, int);
static int	 wcc_hours_total(struct wcc *, sqlite3 *, int64_t, int64_t);

/* Whether the filter is one this file answers: time and country only. */
int
window_country_usable(const struct filter *f)
{
	return f->decoy[0] == '\0' && f->asn == -1 && f->cidr[0] == '\0';
}

/*
 * The country key (len bytes), added when new: the row before's
 * mostly (the rollup is sorted by country within an hour).  NULL when
 * out of memory.
 */
static struct wcc_country *
wcc_country(struct wcc *w, const char *key, size_t len)
{
	struct wcc_country	*c;
	size_t			 i;

	if (w->last < w->n && w->c[w->last].len == len &&
	    memcmp(w->c[w->last].key, key, len) == 0)
		return &w->c[w->last];
	for (i = 0; i < w->n; i++)
		if (w->c[i].len == len && memcmp(w->c[i].key, key, len) == 0)
			break;
	if (i == w->n) {
		if (w->n == w->cap) {
			size_t		 ncap = w->cap ? w->cap * 2 : 64;
			struct wcc_country *nc;

			if ((nc = realloc(w->c, ncap * sizeof(*nc))) == NULL)
				return NULL;
			w->c = nc;
			w->cap = ncap;
		}
		c = &w->c[w->n];
		memset(c, 0, sizeof(*c));
		c->v.first = INT64_MAX;
		c->v.last = INT64_MIN;
		if ((c->key = malloc(len + 1)) == NULL ||
		    (c->seen = calloc(w->words, sizeof(*c->seen))) == NULL) {
			free(c->key);
			return NULL;
		}
		memcpy(c->key, key, len);
		c->key[len] = '\0';
		c->len = len;
		w->n++;
	}
	w->last = i;
	return &w->c[i];
}

/* Adds the n rows of the batch r. */
static void
wcc_add(struct wcc *w, const struct wcc_row *r, int n)
{
	for (int i = 0; i < n; i++) {
		struct wcc_country	*c = &w->c[r[i].c];
		uint64_t		*word = &c->seen[r[i].id / 64];
		uint64_t		 bit = 1ull << (r[i].id % 64);

		c->v.sessions += r[i].n;
		if (r[i].t0 < c->v.first)
			c->v.first = r[i].t0;
		if (r[i].t1 > c->v.last)
			c->v.last = r[i].t1;
		if (!(*word & bit)) {
			*word |= bit;
			c->v.clients++;
		}
	}
}

/*
 * Adds the rows of one of the queries (sql: wcc_hours_sql,
 * wcc_hours_cc_sql or wcc_edge_sql, columns country, client number, sessions, first, last)
 * over [lo, hi); count: add the rows' sessions to the total too (the
 * edges, and every row under --country).  0, or -1 (the error in db, a
 * client without a number, or out of memory).
 */
static int
wcc_query(struct wcc *w, sqlite3 *db, const char *sql, const struct filter *f,
    int64_t lo, int64_t hi, int count)
{
	sqlite3_stmt		*q;
	struct wcc_country	*c;
	struct wcc_row		 b[WCC_BATCH];
	int			 rc, bad = 0, nb = 0;

	if (lo >= hi)
		return 0;
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, lo);
	sqlite3_bind_int64(q, 2, hi);
	if (sqlite3_bind_parameter_count(q) >= 3)
		sqlite3_bind_text(q, 3, f->country[0] != '\0' ? f->country :
		    NULL, -1, SQLITE_STATIC);
	while (!bad && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char	*k = (const char *)sqlite3_column_text(q, 0);
		size_t		 len = (size_t)sqlite3_column_bytes(q, 0);
		int64_t		 id = sqlite3_column_int64(q, 1);
		int64_t		 n = sqlite3_column_int64(q, 2);
		int64_t		 t0 = sqlite3_column_int64(q, 3);
		int64_t		 t1 = sqlite3_column_int64(q, 4);

		if (count)
			w->total += n;
		if (k == NULL || len == 0)
			continue;	/* no country: in the total only */
		/* Numbers start at 1: 0 is a NULL, a client not numbered. */
		if (id <= 0 ||
		    (uint64_t)id / 64 >= w->words ||
		    (c = wcc_country(w, k, len)) == NULL) {
			bad = 1;
			break;
		}
		__builtin_prefetch(&c->seen[id / 64], 1);
		b[nb++] = (struct wcc_row){ w->last, (uint64_t)id, n, t0, t1 };
		if (nb == WCC_BATCH) {
			wcc_add(w, b, nb);
			nb = 0;
		}
	}
	wcc_add(w, b, nb);
	sqlite3_finalize(q);
	return !bad && rc == SQLITE_DONE ? 0 : -1;
}

/* Adds the sessions of the hours [h0, h1) to the total.  0 or -1. */
static int
wcc_hours_total(struct wcc *w, sqlite3 *db, int64_t h0, int64_t h1)
{
	sqlite3_stmt	*q;
	int		 rc;

	if (sqlite3_prepare_v2(db, wcc_hours_total_sql, -1, &q, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, h0);
	sqlite3_bind_int64(q, 2, h1);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		w->total += sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * The countries of the sessions that pass f (window_country_usable()),
 * the caller having checked window_usable().  Returns the answer, to
 * free with window_country_free(), or NULL (the error in db, or out of
 * memory).
 */
struct wcc *
window_country_run(sqlite3 *db, const struct filter *f)
{
	struct wcc	*w;
	sqlite3_stmt	*q;
	int64_t		 h0, h1, max = -1;
	int		 cc = f->country[0] != '\0', rv;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if (sqlite3_prepare_v2(db, wcc_max_sql, -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			max = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	if (max < 0 || max >= INT32_MAX) {
		free(w);
		return NULL;
	}
	w->words = (size_t)max / 64 + 1;
	window_hours(db, f, &h0, &h1);
	if (h0 >= h1)
		rv = wcc_query(w, db, wcc_edge_sql, f, f->since, f->until, 1);
	else
		rv = wcc_query(w, db, wcc_edge_sql, f, f->since, h0, 1) == -1 ||
		    wcc_query(w, db, cc ? wcc_hours_cc_sql : wcc_hours_sql, f,
		    h0, h1, cc) == -1 ||
		    (!cc && wcc_hours_total(w, db, h0, h1) == -1) ||
		    wcc_query(w, db, wcc_edge_sql, f, h1, f->until, 1) == -1 ?
		    -1 : 0;
	if (rv == -1) {
		window_country_free(w);
		return NULL;
	}
	return w;
}

/*
 * The countries, sessions descending then country, at most limit of
 * them (limit <= 0: all).  Returns an array of *n values pointing into
 * w, to free() (not its strings), or NULL with *n 0 when there is none
 * or no memory.
 */
struct win_value *
window_country_sorted(struct wcc *w, int64_t limit, size_t *n)
{
	struct win_value	*v;
	size_t			 k = w->n;

	*n = 0;
	if (w->n == 0 || (v = calloc(w->n, sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < w->n; i++) {
		v[i] = w->c[i].v;
		v[i].key = w->c[i].key;
		v[i].keylen = w->c[i].len;
	}
	qsort(v, k, sizeof(*v), window_value_cmp);
	if (limit > 0 && (size_t)limit < k)
		k = (size_t)limit;
	*n = k;
	return v;
}

/* The sessions of the window, with a country or not (the share's base). */
int64_t
window_country_total(const struct wcc *w)
{
	return w->total;
}

/* Frees the answer; NULL is allowed. */
void
window_country_free(struct wcc *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n; i++) {
		free(w->c[i].key);
		free(w->c[i].seen);
	}
	free(w->c);
	free(w);
}
