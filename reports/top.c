/* SPDX-License-Identifier: ISC */
/*
 * top.c -- "decoymx report top KIND": the most frequent values of one
 * field of the sessions (client addresses and networks, HELO names,
 * senders, recipients, countries, AS numbers, OS classes, anomalies,
 * fingerprints), with their session count, share and first/last time.
 *
 * Without a filter the answer comes from the aggregates the store keeps
 * as it writes (the counts and clients tables, schema 2), so it costs
 * the same on a day-old and a year-old database; with one, the sessions
 * that pass it are grouped.  "clients" (distinct client addresses) is
 * known from the aggregates only for ips and nets; it is null there for
 * the other kinds.
 *
 * Exports report_top().
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

#define TOP_DEFAULT_LIMIT	20

/* The lower-cased domain of transaction T's sender, or NULL. */
#define TOP_DOM(T)	"(CASE WHEN instr(" T ".mail_from, '@') > 0 THEN" \
			" lower(substr(" T ".mail_from, instr(" T ".mail_from," \
			" '@') + 1)) END)"

/* One KIND: its aggregate dimension and its SQL over sessions s. */
struct top_kind {
	const char	*name;
	const char	*dim;		/* counts.dim; NULL: special fast SQL */
	const char	*key;		/* key expression over s (and r, b) */
	const char	*label;		/* label expression, or "NULL" */
	const char	*join;		/* extra FROM terms, or "" */
	int		 wdim;		/* enum win_dim; -1: not rolled up */
};

static const struct top_kind top_kinds[] = {
	{ "ips", NULL, "s.src_ip", "NULL", "", W_IP },
	{ "nets", NULL, "decoymx_net(s.src_ip, 24, 64)", "NULL", "", W_NET },
	{ "helos", "helo", "s.helo", "NULL", "", -1 },
	/*
	 * Every transaction's sender, each distinct one once per session:
	 * the session's first transaction with it.  A join, not a DISTINCT
	 * subquery, so that a window's sessions find theirs by the primary
	 * key instead of all transactions being materialized first.
	 */
	{ "senders", "sender", "t.mail_from", "NULL",
	    " JOIN transactions t ON t.session_id = s.id AND NOT EXISTS"
	    " (SELECT 1 FROM transactions u WHERE u.session_id = s.id"
	    " AND u.seq < t.seq AND u.mail_from IS t.mail_from)", -1 },
	{ "sender-domains", "sender-domain", TOP_DOM("t"), "NULL",
	    " JOIN transactions t ON t.session_id = s.id AND NOT EXISTS"
	    " (SELECT 1 FROM transactions u WHERE u.session_id = s.id"
	    " AND u.seq < t.seq AND " TOP_DOM("u") " IS " TOP_DOM("t") ")",
	    -1 },
	{ "recipients", "recipient", "r.rcpt", "NULL",
	    " JOIN recipients r ON r.session_id = s.id", -1 },
	{ "countries", "country", "s.country", "NULL", "", W_COUNTRY },
	{ "asns", "asn", "s.asn", "max(s.as_org)", "", W_ASN },
	{ "os", "os", "s.os_class", "NULL", "", W_OS },
	{ "anomalies", "anomaly", "b.b", "NULL",
	    " JOIN bits b ON b.b < 10 AND (s.anomalies >> b.b) & 1", W_ANOM },
	{ "fingerprints", "fingerprint", "s.os", "NULL", "", W_FP },
};

#define NTOP_KINDS	(sizeof(top_kinds) / sizeof(top_kinds[0]))

/* The JSON fields and CSV columns of "report top", in order. */
static const struct out_col top_cols[] = {
	{ "key", OUT_TEXT, FMT_SHRINK },
	{ "label", OUT_TEXT, FMT_SHRINK },
	{ "sessions", OUT_INT, FMT_RIGHT },
	{ "clients", OUT_INT, FMT_RIGHT },
	{ "share", OUT_REAL, FMT_RIGHT },
	{ "first", OUT_TIME, 0 },
	{ "last", OUT_TIME, 0 },
};

#define NTOP_COLS	(sizeof(top_cols) / sizeof(top_cols[0]))

static const char top_fast_counts[] =
    "SELECT key, label, sessions, NULL, first_us, last_us FROM counts"
    " WHERE dim = :dim AND sessions > 0"
    " ORDER BY sessions DESC, key LIMIT :limit";
static const char top_fast_ips[] =
    "SELECT ip, NULL, sessions, 1, first_us, last_us FROM clients"
    " ORDER BY sessions DESC, ip LIMIT :limit";
/* IPv4 /24s from the aggregates, IPv6 /64s grouped from the clients. */
static const char top_fast_nets[] =
    "SELECT n.key AS k, NULL, n.sessions AS s, c.sessions, n.first_us,"
    " n.last_us FROM counts n LEFT JOIN counts c ON c.dim = 'netc'"
    " AND c.key = n.key WHERE n.dim = 'net' AND n.sessions > 0"
    " UNION ALL SELECT decoymx_net(ip, 24, 64) AS k, NULL, sum(sessions),"
    " count(*), min(first_us), max(last_us) FROM clients"
    " WHERE instr(ip, ':') > 0 GROUP BY k"
    " ORDER BY 3 DESC, 1 LIMIT :limit";
static const char top_fast_total[] =
    "SELECT coalesce(sum(sessions), 0) FROM counts WHERE dim = 'role'";
static const char top_scan[] =
    "SELECT %s AS k, %s, count(*), count(DISTINCT s.src_ip),"
    " min(s.start_us), max(s.start_us) FROM sessions s%s"
    " WHERE k IS NOT NULL%s GROUP BY k ORDER BY 3 DESC, k LIMIT :limit";
static const char top_scan_total[] =
    "SELECT count(*) FROM sessions s WHERE 1%s";

static const struct top_kind *top_find(const char *);
static int	 top_total(sqlite3 *, const struct report_args *, int64_t *);
static int	 top_print(sqlite3_stmt *, const struct top_kind *,
		    const struct report_args *, int64_t);
static int	 top_window(sqlite3 *, const struct top_kind *,
		    const struct report_args *);

static const struct top_kind *
top_find(const char *name)
{
	for (size_t i = 0; i < NTOP_KINDS; i++)
		if (strcmp(name, top_kinds[i].name) == 0)
			return &top_kinds[i];
	return NULL;
}

/* The sessions in the period (the base of "share").  0 or -1. */
static int
top_total(sqlite3 *db, const struct report_args *a, int64_t *total)
{
	sqlite3_stmt	*q;
	char		 where[512], sql[sizeof(top_scan_total) + 512];
	int		 rc;

	filter_sql(&a->filt, "s", where, sizeof(where));
	snprintf(sql, sizeof(sql), top_scan_total, where);
	if (out_prepare(db, filter_active(&a->filt) ? sql : top_fast_total, &q,
	    "report top") == -1)
		return -1;
	filter_bind(&a->filt, q);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW)
		*total = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Prints the rows of q (in top_cols order but for share). */
static int
top_print(sqlite3_stmt *q, const struct top_kind *k,
    const struct report_args *a, int64_t total)
{
	struct out	 o;
	struct out_val	 v[NTOP_COLS];
	const char	*name;
	int		 rc;

	if (out_begin(&o, a->format, stdout, top_cols, NTOP_COLS, NULL) == -1)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(v, 0, sizeof(v));
		for (int i = 0, c = 0; i < (int)NTOP_COLS; i++) {
			if (i == 4)
				continue;	/* share, computed here */
			if (sqlite3_column_type(q, c) == SQLITE_NULL)
				v[i].null = 1;
			else if (top_cols[i].type == OUT_TEXT) {
				v[i].s.p = (const char *)
				    sqlite3_column_text(q, c);
				v[i].s.len = (size_t)sqlite3_column_bytes(q, c);
			} else
				v[i].i = sqlite3_column_int64(q, c);
			c++;
		}
		if (strcmp(k->name, "anomalies") == 0 &&
		    (name = anomaly_name(sqlite3_column_int(q, 0))) != NULL)
			v[0].s = (struct span){ name, strlen(name) };
		v[4].d = total > 0 ? 100.0 * (double)v[2].i / (double)total : 0;
		v[4].null = total <= 0;
		if (out_row_vals(&o, v) == -1) {
			out_end(&o);
			return -1;
		}
	}
	out_end(&o);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Prints the answer from the rollups (whole hours) and the sessions (the
 * edges), as top_print() prints the scan's; countries from their narrow
 * rollup (window_country.c) when the filter allows, else from the wide
 * one (window.c).  Returns 0 or -1.
 */
static int
top_window(sqlite3 *db, const struct top_kind *k, const struct report_args *a)
{
	struct win_agg		*agg = NULL;
	struct wcc		*cc = NULL;
	struct win_value	*w = NULL;
	struct out		 o;
	struct out_val		 v[NTOP_COLS];
	char			 num[32];
	size_t			 n = 0;
	int64_t			 total;
	int			 rv = -1;

	/* Countries from their narrow rollup when it can answer. */
	if (k->wdim == W_COUNTRY && window_country_usable(&a->filt) &&
	    (cc = window_country_run(db, &a->filt)) != NULL) {
		total = window_country_total(cc);
		w = window_country_sorted(cc, a->limit > 0 ? a->limit :
		    TOP_DEFAULT_LIMIT, &n);
	} else {
		if ((agg = window_agg_new(1u << k->wdim, 0)) == NULL)
			return -1;
		if (window_agg_run(agg, db, &a->filt) == -1)
			goto out;
		total = window_agg_total(agg)->sessions;
		w = window_agg_sorted(agg, k->wdim, a->limit > 0 ? a->limit :
		    TOP_DEFAULT_LIMIT, &n);
	}
	if (out_begin(&o, a->format, stdout, top_cols, NTOP_COLS, NULL) == -1)
		goto out;
	rv = 0;
	for (size_t i = 0; i < n && rv == 0; i++) {
		memset(v, 0, sizeof(v));
		window_key_vals(&w[i], k->wdim, v, num, sizeof(num));
		v[2].i = w[i].sessions;
		v[3].i = w[i].clients;
		v[4].d = total > 0 ? 100.0 * (double)v[2].i / (double)total :
		    0;
		v[4].null = total <= 0;
		v[5].i = w[i].first;
		v[6].i = w[i].last;
		if (out_row_vals(&o, v) == -1)
			rv = -1;
	}
	out_end(&o);
out:
	free(w);
	window_agg_free(agg);
	window_country_free(cc);
	return rv;
}

/*
 * decoymx report top KIND: a->argv[1] is KIND.  Returns the exit
 * status.
 */
int
report_top(struct store *st, const struct report_args *a)
{
	const struct top_kind	*k;
	sqlite3			*db = store_db(st);
	sqlite3_stmt		*q = NULL;
	char			 where[512], sql[1024];
	const char		*text;
	int64_t			 total = 0;
	int			 ret = EXIT_RUNTIME;

	if ((k = top_find(a->argv[1])) == NULL) {
		fprintf(stderr, "decoymx report top: unknown kind %s; want "
		    "one of:", a->argv[1]);
		for (size_t i = 0; i < NTOP_KINDS; i++)
			fprintf(stderr, " %s", top_kinds[i].name);
		fputc('\n', stderr);
		return EXIT_USAGE;
	}
	if (filter_active(&a->filt) && k->wdim >= 0 && window_usable(db)) {
		if (top_window(db, k, a) == 0)
			return 0;
		goto fail;
	}
	if (top_total(db, a, &total) == -1)
		goto fail;
	if (filter_active(&a->filt)) {
		filter_sql(&a->filt, "s", where, sizeof(where));
		snprintf(sql, sizeof(sql), top_scan, k->key, k->label, k->join,
		    where);
		text = sql;
	} else if (k->dim != NULL)
		text = top_fast_counts;
	else
		text = strcmp(k->name, "ips") == 0 ? top_fast_ips :
		    top_fast_nets;
	if (out_prepare(db, text, &q, "report top") == -1)
		return EXIT_RUNTIME;
	filter_bind(&a->filt, q);
	if (k->dim != NULL && sqlite3_bind_parameter_index(q, ":dim") > 0)
		sqlite3_bind_text(q, sqlite3_bind_parameter_index(q, ":dim"),
		    k->dim, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":limit"),
	    a->limit > 0 ? a->limit : TOP_DEFAULT_LIMIT);
	if (top_print(q, k, a, total) == 0)
		ret = 0;
	else {
fail:
		fprintf(stderr, "decoymx report top: database %s: %s\n",
		    store_path(st), sqlite3_errmsg(db));
	}
	sqlite3_finalize(q);
	return ret;
}
