/* SPDX-License-Identifier: ISC */
/*
 * summary.c -- "decoymx report summary": what the decoys saw in the
 * period at a glance.  Totals (sessions, distinct clients, first and
 * last session), then sessions and clients by decoy, role, stage reached
 * and close reason, and the top countries, AS numbers, OS classes and
 * anomalies.
 *
 * Like "top", it answers from the store's aggregates when there is no
 * filter (clients per stage, reason, country... are then null: the
 * aggregates count sessions), and groups the filtered sessions when
 * there is one.
 *
 * Output: JSON is one object, {"total":{...}, "by_decoy":[...], ...};
 * CSV is one table whose first column names the section; the table
 * format prints a heading and a table per section.
 *
 * Exports report_summary().
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

#define SUMMARY_TOP	10

struct sum_section {
	const char	*name;		/* JSON key, CSV section, heading */
	const char	*dim;		/* counts.dim */
	const char	*fast;		/* SQL without a filter; NULL: counts */
	const char	*key, *label;	/* expressions over sessions s */
	const char	*join;
	int		 limit;		/* 0: every row */
	int		 wdim;		/* enum win_dim; -1: the total */
};

static const char sum_fast_total[] =
    "SELECT 'all', NULL, (SELECT coalesce(sum(sessions), 0) FROM counts"
    " WHERE dim = 'role'), (SELECT count(*) FROM clients),"
    " (SELECT min(first_us) FROM counts WHERE dim = 'role'),"
    " (SELECT max(last_us) FROM counts WHERE dim = 'role')";
static const char sum_scan_total[] =
    "SELECT 'all', NULL, count(*), count(DISTINCT s.src_ip),"
    " min(s.start_us), max(s.start_us) FROM sessions s WHERE 1%s";
/*
 * Clients per decoy come from the decoyc aggregate; clients per role add
 * up the decoys of that role (exact with one decoy per role, an upper
 * bound when a client touched two decoys of one role).
 */
static const char sum_fast_decoy[] =
    "SELECT c.key, c.label, c.sessions, d.sessions, c.first_us, c.last_us"
    " FROM counts c LEFT JOIN counts d ON d.dim = 'decoyc'"
    " AND d.key = c.key WHERE c.dim = 'decoy' AND c.sessions > 0"
    " ORDER BY c.sessions DESC, c.key";
static const char sum_fast_role[] =
    "SELECT c.key, NULL, c.sessions, (SELECT sum(d.sessions) FROM counts e"
    " JOIN counts d ON d.dim = 'decoyc' AND d.key = e.key"
    " WHERE e.dim = 'decoy' AND e.label = c.key), c.first_us, c.last_us"
    " FROM counts c WHERE c.dim = 'role' AND c.sessions > 0"
    " ORDER BY c.sessions DESC, c.key";
static const char sum_fast_counts[] =
    "SELECT key, label, sessions, NULL, first_us, last_us FROM counts"
    " WHERE dim = :dim AND sessions > 0"
    " ORDER BY sessions DESC, key LIMIT :limit";
static const char sum_scan[] =
    "SELECT %s AS k, %s, count(*), count(DISTINCT s.src_ip),"
    " min(s.start_us), max(s.start_us) FROM sessions s%s"
    " WHERE k IS NOT NULL%s GROUP BY k ORDER BY 3 DESC, k LIMIT :limit";

static const struct sum_section sum_sections[] = {
	{ "total", NULL, sum_fast_total, NULL, NULL, "", 0, -1 },
	{ "by_decoy", "decoy", sum_fast_decoy, "s.dst_ip", "max(s.role)", "",
	    0, W_DECOY },
	{ "by_role", "role", sum_fast_role, "s.role", "NULL", "", 0, W_ROLE },
	{ "by_stage", "stage", NULL, "s.stage", "NULL", "", 0, W_STAGE },
	{ "by_reason", "reason", NULL, "s.close_reason", "NULL", "", 0,
	    W_REASON },
	{ "top_countries", "country", NULL, "s.country", "NULL", "",
	    SUMMARY_TOP, W_COUNTRY },
	{ "top_asns", "asn", NULL, "s.asn", "max(s.as_org)", "", SUMMARY_TOP,
	    W_ASN },
	{ "top_os", "os", NULL, "s.os_class", "NULL", "", SUMMARY_TOP, W_OS },
	{ "top_anomalies", "anomaly", NULL, "b.b", "NULL",
	    " JOIN bits b ON b.b < 10 AND (s.anomalies >> b.b) & 1",
	    SUMMARY_TOP, W_ANOM },
};

#define NSUM_SECTIONS	(sizeof(sum_sections) / sizeof(sum_sections[0]))

/* The fields of every section row, in order. */
static const struct out_col sum_cols[] = {
	{ "key", OUT_TEXT, FMT_SHRINK },
	{ "label", OUT_TEXT, FMT_SHRINK },
	{ "sessions", OUT_INT, FMT_RIGHT },
	{ "clients", OUT_INT, FMT_RIGHT },
	{ "first", OUT_TIME, 0 },
	{ "last", OUT_TIME, 0 },
};

#define NSUM_COLS	(sizeof(sum_cols) / sizeof(sum_cols[0]))

static int	 summary_section(sqlite3 *, const struct report_args *,
		    const struct sum_section *);
static void	 summary_total_json(const struct out_val *);
static int	 summary_window(struct win_agg *, const struct report_args *,
		    const struct sum_section *);

/* The total (a row of sum_cols) as a JSON object, not a one-row list. */
static void
summary_total_json(const struct out_val *v)
{
	char	 t[64];

	printf("\"total\":{\"sessions\":%lld,\"clients\":%lld,",
	    (long long)v[2].i, (long long)v[3].i);
	for (int i = 4; i <= 5; i++) {
		printf("\"%s\":", i == 4 ? "first" : "last");
		if (v[i].null)
			fputs("null", stdout);
		else {
			util_iso8601(v[i].i, t, sizeof(t));
			printf("\"%s\"", t);
		}
		fputs(i == 4 ? "," : "}", stdout);
	}
}

/*
 * Prints one section from the aggregated window, as summary_section()
 * prints it from SQL.  Returns 0 or -1.
 */
static int
summary_window(struct win_agg *agg, const struct report_args *a,
    const struct sum_section *sec)
{
	struct win_value	*w = NULL, one;
	struct out		 o;
	struct out_val		 v[NSUM_COLS];
	char			 num[32];
	size_t			 n = 0;
	int			 rv = 0;

	if (sec->wdim == -1) {
		one = *window_agg_total(agg);
		one.key = "all";
		one.keylen = 3;
		w = &one;
		n = 1;
	} else
		w = window_agg_sorted(agg, sec->wdim, sec->limit, &n);
	if (a->format == FORMAT_JSON && sec->wdim == -1) {
		memset(v, 0, sizeof(v));
		v[2].i = one.sessions;
		v[3].i = one.clients;
		v[4].i = one.first;
		v[5].i = one.last;
		v[4].null = v[5].null = one.sessions == 0;
		summary_total_json(v);
		return 0;
	}
	if (out_begin(&o, a->format, stdout, sum_cols, NSUM_COLS,
	    sec->name) == -1) {
		if (w != &one)
			free(w);
		return -1;
	}
	for (size_t i = 0; rv == 0 && i < n; i++) {
		memset(v, 0, sizeof(v));
		window_key_vals(&w[i], sec->wdim, v, num, sizeof(num));
		v[2].i = w[i].sessions;
		v[3].i = w[i].clients;
		v[4].i = w[i].first;
		v[5].i = w[i].last;
		v[4].null = v[5].null = w[i].sessions == 0;
		if (out_row_vals(&o, v) == -1)
			rv = -1;
	}
	out_end(&o);
	if (w != &one)
		free(w);
	return rv;
}

/* Queries and prints one section.  Returns 0 or -1. */
static int
summary_section(sqlite3 *db, const struct report_args *a,
    const struct sum_section *sec)
{
	sqlite3_stmt	*q;
	struct out	 o;
	struct out_val	 v[NSUM_COLS];
	char		 where[512], sql[1024];
	const char	*name;
	int		 rc, i;

	filter_sql(&a->filt, "s", where, sizeof(where));
	if (!filter_active(&a->filt))
		snprintf(sql, sizeof(sql), "%s", sec->fast != NULL ?
		    sec->fast : sum_fast_counts);
	else if (sec->key == NULL)
		snprintf(sql, sizeof(sql), sum_scan_total, where);
	else
		snprintf(sql, sizeof(sql), sum_scan, sec->key, sec->label,
		    sec->join, where);
	if (out_prepare(db, sql, &q, "report summary") == -1)
		return -1;
	filter_bind(&a->filt, q);
	if ((i = sqlite3_bind_parameter_index(q, ":dim")) > 0)
		sqlite3_bind_text(q, i, sec->dim, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(q, ":limit")) > 0)
		sqlite3_bind_int64(q, i, sec->limit > 0 ? sec->limit : -1);

	if (a->format == FORMAT_JSON && sec->key == NULL) {
		if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			memset(v, 0, sizeof(v));
			for (i = 2; i <= 5; i++) {
				v[i].i = sqlite3_column_int64(q, i);
				v[i].null = sqlite3_column_type(q, i) ==
				    SQLITE_NULL;
			}
			summary_total_json(v);
		}
		sqlite3_finalize(q);
		return rc == SQLITE_ROW ? 0 : -1;
	}
	if (out_begin(&o, a->format, stdout, sum_cols, NSUM_COLS,
	    sec->name) == -1) {
		sqlite3_finalize(q);
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(v, 0, sizeof(v));
		for (i = 0; i < (int)NSUM_COLS; i++) {
			if (sqlite3_column_type(q, i) == SQLITE_NULL)
				v[i].null = 1;
			else if (sum_cols[i].type == OUT_TEXT) {
				v[i].s.p = (const char *)
				    sqlite3_column_text(q, i);
				v[i].s.len = (size_t)sqlite3_column_bytes(q, i);
			} else
				v[i].i = sqlite3_column_int64(q, i);
		}
		if (strcmp(sec->dim != NULL ? sec->dim : "", "anomaly") == 0 &&
		    (name = anomaly_name(sqlite3_column_int(q, 0))) != NULL)
			v[0].s = (struct span){ name, strlen(name) };
		if (out_row_vals(&o, v) == -1)
			break;
	}
	out_end(&o);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* decoymx report summary.  Returns the exit status. */
int
report_summary(struct store *st, const struct report_args *a)
{
	sqlite3		*db = store_db(st);
	struct win_agg	*agg = NULL;
	char		 t[64];
	uint32_t	 dims = 0;
	int		 rv;

	if (a->format == FORMAT_JSON)
		putchar('{');
	else if (a->format == FORMAT_CSV)
		out_csv_header(stdout, sum_cols, NSUM_COLS, 1);
	else if (a->format == FORMAT_TABLE) {
		printf("database %s", store_path(st));
		if (a->filt.since != INT64_MIN) {
			util_iso8601(a->filt.since, t, sizeof(t));
			printf(", since %s", t);
		}
		if (a->filt.until != INT64_MAX) {
			util_iso8601(a->filt.until, t, sizeof(t));
			printf(", until %s", t);
		}
		putchar('\n');
	}
	/* A filtered summary from the rollups when they can answer. */
	if (filter_active(&a->filt) && window_usable(db)) {
		for (size_t i = 0; i < NSUM_SECTIONS; i++)
			if (sum_sections[i].wdim >= 0)
				dims |= 1u << sum_sections[i].wdim;
		if ((agg = window_agg_new(dims, 0)) == NULL ||
		    window_agg_run(agg, db, &a->filt) == -1) {
			fprintf(stderr, "decoymx report summary: database %s: "
			    "%s\n", store_path(st), agg == NULL ?
			    "out of memory" : sqlite3_errmsg(db));
			window_agg_free(agg);
			return EXIT_RUNTIME;
		}
	}
	for (size_t i = 0; i < NSUM_SECTIONS; i++) {
		if (a->format == FORMAT_JSON && i > 0)
			fputs(",\n", stdout);
		rv = agg != NULL ? summary_window(agg, a, &sum_sections[i]) :
		    summary_section(db, a, &sum_sections[i]);
		if (rv == -1) {
			fprintf(stderr, "decoymx report summary: database %s: "
			    "%s\n", store_path(st), sqlite3_errmsg(db));
			window_agg_free(agg);
			return EXIT_RUNTIME;
		}
	}
	window_agg_free(agg);
	if (a->format == FORMAT_JSON)
		fputs("}\n", stdout);
	return 0;
}
