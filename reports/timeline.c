/* SPDX-License-Identifier: ISC */
/*
 * timeline.c -- "decoymx report timeline [--bucket DUR]": sessions,
 * distinct clients and sessions by role per time bucket (UTC, aligned
 * to the epoch), from the first bucket with a session to the last, the
 * empty ones in between included.  The table format adds a bar per row
 * so that the shape shows at a glance.
 *
 * Exports report_timeline() and timeline_parse_bucket().
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

#define TL_DEFAULT_BUCKET	(3600LL * 1000000)
#define TL_MIN_BUCKET		(60LL * 1000000)
#define TL_MAX_BUCKET		(7LL * 86400 * 1000000)
#define TL_MAX_ROWS		100000	/* gaps are not filled beyond */
#define TL_BAR_DEFAULT		40
#define TL_BAR_MIN		10

struct tl_row {
	int64_t		 t, sessions, clients, primary, backup, decoy;
};

static const char tl_sql[] =
    "SELECT (s.start_us / :bucket) * :bucket AS t, count(*),"
    " count(DISTINCT s.src_ip), sum(s.role = 'primary'),"
    " sum(s.role = 'backup'), sum(s.role = 'decoy')"
    " FROM sessions s WHERE 1%s GROUP BY t ORDER BY t";

/* The JSON fields and CSV columns, in order; the table adds "bar". */
static const struct out_col tl_cols[] = {
	{ "start", OUT_TIME, 0 },
	{ "sessions", OUT_INT, FMT_RIGHT },
	{ "clients", OUT_INT, FMT_RIGHT },
	{ "primary", OUT_INT, FMT_RIGHT },
	{ "backup", OUT_INT, FMT_RIGHT },
	{ "decoy", OUT_INT, FMT_RIGHT },
	{ "bar", OUT_TEXT, 0 },
};

#define NTL_COLS	(sizeof(tl_cols) / sizeof(tl_cols[0]))

static int	 tl_push(struct tl_row **, size_t *, size_t *, int64_t,
		    const struct tl_row *);
static int	 tl_fetch(sqlite3_stmt *, int64_t, struct tl_row **, size_t *);
static int	 tl_cmp(const void *, const void *);
static int	 tl_window(sqlite3 *, const struct filter *, int64_t, int64_t,
		    int64_t, struct tl_row **, size_t *, size_t *);
static int	 tl_rollups(sqlite3 *, const struct filter *, int64_t,
		    struct tl_row **, size_t *);
static int	 tl_print(const struct report_args *, const struct tl_row *,
		    size_t);

/* Parses --bucket: a duration from 1m to 7d.  0 or -1. */
int
timeline_parse_bucket(const char *s, int64_t *us)
{
	uint64_t	 ms;

	if (util_parse_duration_ms(s, &ms) == -1 ||
	    ms * 1000 < (uint64_t)TL_MIN_BUCKET ||
	    ms * 1000 > (uint64_t)TL_MAX_BUCKET)
		return -1;
	*us = (int64_t)ms * 1000;
	return 0;
}

/*
 * Appends r to *rows (*n of them, room for *cap), after the empty
 * buckets between the last one and r.  0 or -1 (out of memory).
 */
static int
tl_push(struct tl_row **rows, size_t *n, size_t *cap, int64_t bucket,
    const struct tl_row *r)
{
	struct tl_row	*tmp;

	for (;;) {
		int gap = *n > 0 && (*rows)[*n - 1].t + bucket < r->t &&
		    *n < TL_MAX_ROWS;

		if (*n == *cap) {
			*cap = *cap == 0 ? 256 : *cap * 2;
			if ((tmp = realloc(*rows, *cap * sizeof(*tmp))) == NULL)
				return -1;
			*rows = tmp;
		}
		if (!gap)
			break;
		memset(&(*rows)[*n], 0, sizeof(**rows));
		(*rows)[*n].t = (*rows)[*n - 1].t + bucket;
		(*n)++;
	}
	(*rows)[(*n)++] = *r;
	return 0;
}

/* Reads the buckets of q into *rows, with empty ones between.  0 or -1. */
static int
tl_fetch(sqlite3_stmt *q, int64_t bucket, struct tl_row **rows, size_t *n)
{
	struct tl_row	 r;
	size_t		 cap = 0;
	int		 rc;

	*rows = NULL;
	*n = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		r.t = sqlite3_column_int64(q, 0);
		r.sessions = sqlite3_column_int64(q, 1);
		r.clients = sqlite3_column_int64(q, 2);
		r.primary = sqlite3_column_int64(q, 3);
		r.backup = sqlite3_column_int64(q, 4);
		r.decoy = sqlite3_column_int64(q, 5);
		if (tl_push(rows, n, &cap, bucket, &r) == -1)
			return -1;
	}
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Rows by time. */
static int
tl_cmp(const void *x, const void *y)
{
	const struct tl_row	*a = x, *b = y;

	return a->t < b->t ? -1 : a->t > b->t;
}

/*
 * Adds the buckets of the sessions in [lo, hi) that pass f (whole or
 * part of buckets) to *v, from the rollups.  0 or -1.
 */
static int
tl_window(sqlite3 *db, const struct filter *f, int64_t lo, int64_t hi,
    int64_t bucket, struct tl_row **v, size_t *n, size_t *cap)
{
	struct filter		 g = *f;
	struct win_agg		*agg;
	struct win_value	*w;
	size_t			 k = 0;
	int			 rv = -1;

	if (lo >= hi)
		return 0;
	g.since = lo;
	g.until = hi;
	if ((agg = window_agg_new(1u << W_BUCKET, bucket)) == NULL)
		return -1;
	if (window_agg_run(agg, db, &g) == 0) {
		w = window_agg_sorted(agg, W_BUCKET, 0, &k);
		rv = 0;
		for (size_t i = 0; i < k && rv == 0; i++) {
			struct tl_row r = { w[i].ikey, w[i].sessions,
			    w[i].clients, w[i].primary, w[i].backup,
			    w[i].decoy };
			/* Gaps are filled later, once all rows are sorted. */
			if (*n == *cap) {
				struct tl_row *tmp;
				*cap = *cap == 0 ? 256 : *cap * 2;
				if ((tmp = realloc(*v, *cap *
				    sizeof(*tmp))) == NULL) {
					rv = -1;
					break;
				}
				*v = tmp;
			}
			(*v)[(*n)++] = r;
		}
		free(w);
	}
	window_agg_free(agg);
	return rv;
}

/*
 * The buckets from the rollups: whole hours or days straight from
 * rollup_buckets when nothing but the time is filtered, the rest (edges,
 * other bucket sizes, other filters) aggregated by tl_window().  The
 * bucket is a multiple of an hour.  0 or -1.
 */
static int
tl_rollups(sqlite3 *db, const struct filter *f, int64_t bucket,
    struct tl_row **rows, size_t *n)
{
	sqlite3_stmt	*q;
	struct tl_row	*v = NULL, r;
	size_t		 nv = 0, cap = 0, capr = 0;
	int64_t		 b0, b1;
	int		 rc = SQLITE_DONE, rv = -1;

	*rows = NULL;
	*n = 0;
	b0 = f->since == INT64_MIN ? INT64_MIN : f->since <= 0 ? 0 :
	    (f->since + bucket - 1) / bucket * bucket;
	b1 = f->until == INT64_MAX ? INT64_MAX : f->until <= 0 ? 0 :
	    f->until / bucket * bucket;
	if ((bucket != 3600LL * 1000000 && bucket != 86400LL * 1000000) ||
	    f->decoy[0] != '\0' || f->country[0] != '\0' || f->asn != -1 ||
	    f->cidr[0] != '\0') {
		if (tl_window(db, f, f->since, f->until, bucket, &v, &nv,
		    &cap) == -1)
			goto out;
	} else {
		if (tl_window(db, f, f->since, b0 < f->until ? b0 : f->until,
		    bucket, &v, &nv, &cap) == -1 ||
		    tl_window(db, f, b1 > b0 ? b1 : b0, f->until, bucket, &v,
		    &nv, &cap) == -1)
			goto out;
		if (sqlite3_prepare_v2(db, "SELECT t, sessions, clients,"
		    " primary_s, backup_s, decoy_s FROM rollup_buckets"
		    " WHERE size = ?1 AND t >= ?2 AND t < ?3", -1, &q,
		    NULL) != SQLITE_OK)
			goto out;
		sqlite3_bind_int64(q, 1, bucket);
		sqlite3_bind_int64(q, 2, b0);
		sqlite3_bind_int64(q, 3, b1);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			if (nv == cap) {
				struct tl_row *tmp;
				cap = cap == 0 ? 256 : cap * 2;
				if ((tmp = realloc(v, cap *
				    sizeof(*tmp))) == NULL)
					break;
				v = tmp;
			}
			v[nv].t = sqlite3_column_int64(q, 0);
			v[nv].sessions = sqlite3_column_int64(q, 1);
			v[nv].clients = sqlite3_column_int64(q, 2);
			v[nv].primary = sqlite3_column_int64(q, 3);
			v[nv].backup = sqlite3_column_int64(q, 4);
			v[nv].decoy = sqlite3_column_int64(q, 5);
			if (v[nv].sessions > 0)
				nv++;
		}
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			goto out;
	}
	if (nv > 0)
		qsort(v, nv, sizeof(*v), tl_cmp);
	for (size_t i = 0; i < nv; i++) {
		r = v[i];
		if (tl_push(rows, n, &capr, bucket, &r) == -1)
			goto out;
	}
	rv = 0;
out:
	free(v);
	return rv;
}

static int
tl_print(const struct report_args *a, const struct tl_row *rows, size_t n)
{
	struct out	 o;
	struct out_val	 v[NTL_COLS];
	int64_t		 max = 0;
	size_t		 width = fmt_term_width(stdout), barw;
	int		 ncols = a->format == FORMAT_TABLE ? NTL_COLS :
			    NTL_COLS - 1;
	char		*bar;

	/* The other columns take about 60 characters. */
	barw = width > 60 + TL_BAR_MIN ? width - 60 : TL_BAR_DEFAULT;
	if ((bar = malloc(barw + 1)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (rows[i].sessions > max)
			max = rows[i].sessions;
	if (out_begin(&o, a->format, stdout, tl_cols, ncols, NULL) == -1) {
		free(bar);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t	 len = max > 0 ? (size_t)((double)rows[i].sessions *
		    (double)barw / (double)max + 0.5) : 0;

		if (len == 0 && rows[i].sessions > 0)
			len = 1;
		memset(bar, '#', len);
		bar[len] = '\0';
		memset(v, 0, sizeof(v));
		v[0].i = rows[i].t;
		v[1].i = rows[i].sessions;
		v[2].i = rows[i].clients;
		v[3].i = rows[i].primary;
		v[4].i = rows[i].backup;
		v[5].i = rows[i].decoy;
		v[6].s = (struct span){ bar, len };
		if (out_row_vals(&o, v) == -1)
			break;
	}
	free(bar);
	return out_end(&o);
}

/* decoymx report timeline.  Returns the exit status. */
int
report_timeline(struct store *st, const struct report_args *a)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*q;
	struct tl_row	*rows = NULL;
	size_t		 n = 0;
	char		 where[512], sql[sizeof(tl_sql) + 512];
	int64_t		 bucket = a->bucket_us > 0 ? a->bucket_us :
			    TL_DEFAULT_BUCKET;
	int		 ret = EXIT_RUNTIME;

	if (bucket % (3600LL * 1000000) == 0 && window_usable(db)) {
		if (tl_rollups(db, &a->filt, bucket, &rows, &n) == -1)
			fprintf(stderr, "decoymx report timeline: database %s: "
			    "%s\n", store_path(st), sqlite3_errmsg(db));
		else if (tl_print(a, rows, n) == 0)
			ret = 0;
		free(rows);
		return ret;
	}
	filter_sql(&a->filt, "s", where, sizeof(where));
	snprintf(sql, sizeof(sql), tl_sql, where);
	if (out_prepare(db, sql, &q, "report timeline") == -1)
		return EXIT_RUNTIME;
	filter_bind(&a->filt, q);
	sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":bucket"),
	    bucket);
	if (tl_fetch(q, bucket, &rows, &n) == -1)
		fprintf(stderr, "decoymx report timeline: database %s: %s\n",
		    store_path(st), sqlite3_errmsg(db));
	else if (tl_print(a, rows, n) == 0)
		ret = 0;
	free(rows);
	sqlite3_finalize(q);
	return ret;
}
