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

static int	 tl_fetch(sqlite3_stmt *, int64_t, struct tl_row **, size_t *);
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

/* Reads the buckets of q into *rows, with empty ones between.  0 or -1. */
static int
tl_fetch(sqlite3_stmt *q, int64_t bucket, struct tl_row **rows, size_t *n)
{
	struct tl_row	 r, *tmp;
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
		for (;;) {
			int gap = *n > 0 && (*rows)[*n - 1].t + bucket < r.t &&
			    *n < TL_MAX_ROWS;

			if (*n == cap) {
				cap = cap == 0 ? 256 : cap * 2;
				if ((tmp = realloc(*rows, cap *
				    sizeof(*tmp))) == NULL)
					return -1;
				*rows = tmp;
			}
			if (!gap)
				break;
			memset(&(*rows)[*n], 0, sizeof(**rows));
			(*rows)[*n].t = (*rows)[*n - 1].t + bucket;
			(*n)++;
		}
		(*rows)[(*n)++] = r;
	}
	return rc == SQLITE_DONE ? 0 : -1;
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
