/* SPDX-License-Identifier: ISC */
/*
 * html.c -- "decoymx report html [-o FILE]": one self-contained page
 * (inline CSS and SVG; no script, font or image from anywhere, and a
 * Content-Security-Policy that forbids them) answering an operator's
 * questions at a glance: how many sessions and clients, when, on which
 * decoy, from where, speaking how, what the MX walks looked like, and
 * what the rules list.
 *
 * The numbers come from the other reports: summary, top and timeline
 * are run with FORMAT_ROWS and their rows collected through the out.c
 * sink, so the page shows what they print under the same window and
 * filters.  What no report prints yet is queried here: new clients per
 * bucket (clients.first_us), SYNs to the real MX per bucket and the MX
 * walk verdicts (the sensor's tables), and the listings (the export's
 * classification, store/classify.c, with the same rule options).
 *
 * The time bucket is --bucket, or the smallest of html_buckets that
 * gives the window at most HTML_AUTO_BUCKETS of them.  Those above 15
 * minutes are an hour and a day, the two sizes the store keeps in
 * rollup_buckets, so that the timeline of a big window is read from
 * there rather than aggregated from the rollup's rows (on 10M sessions,
 * a 6-hour bucket took 6 s of CPU, a day 0.01 s).
 *
 * Exports report_html().
 */
#include <arpa/inet.h>

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports.h"
#include "store.h"

#define HTML_TOP		10	/* rows of a top list by default */
#define HTML_LATEST		20	/* latest listed clients by default */
#define HTML_AUTO_BUCKETS	240
#define HTML_MAX_BUCKETS	2000
#define HTML_KEY_MAX		1024	/* bytes of a value kept */
#define HTML_CELL		60	/* characters of a table cell shown */

/* A row of a report, copied out of the sink. */
struct html_row {
	struct span	 key, label;	/* malloc'ed copies; p NULL: null */
	int64_t		 sessions, clients, first, last;
	double		 share;
	int		 clients_null;
};

struct html_list {
	struct html_row	*r;
	size_t		 n, cap;
};

struct html_listed {
	char		 ip[ADDR_STRLEN];
	uint32_t	 reasons;
	int64_t		 sessions, primary, backup, first, last;
	char		 walk[32];
};

/* What the sink is collecting. */
enum html_mode { HM_SUMMARY, HM_TOP, HM_TIMELINE };

struct html {
	FILE			*f;
	sqlite3			*db;
	const struct report_args *a;
	enum html_mode		 mode;
	struct html_list	*cur;		/* HM_TOP */
	int			 oom;

	int64_t			 sessions, clients, first, last;
	int			 have_first;
	struct html_list	 roles, decoys, countries, asns, anoms;
	struct html_list	 helos, senders, rcpts;

	int64_t			 t0, bucket;	/* the grid of the charts */
	size_t			 nb;
	int64_t			*primary, *backup, *decoy, *real, *newc;
	int64_t			*cum[REASON_MAX];

	int64_t			 walks[5];
	int			 sensor;

	int64_t			 listed, by_reason[REASON_MAX];
	struct html_listed	*latest;
	size_t			 nlatest, maxlatest;
};

/* The MX walk verdicts (store/syns.c) and where each walk started. */
static const struct {
	const char	*verdict;
	const char	*from, *to, *cls;
} html_walks[] = {
	{ "primary-then-real", "primary MX", "then the real MX", "ok" },
	{ "primary-only", "primary MX", "primary only", "bad" },
	{ "backup-direct", "backup MX", "backup direct", "bad2" },
	{ "real-only", "real MX", "real MX only", "ok2" },
	{ "parallel", "all at once", "parallel", "bad3" },
};

#define NWALKS	(sizeof(html_walks) / sizeof(html_walks[0]))

static const int64_t html_buckets[] = {
	300LL * 1000000, 900LL * 1000000, 3600LL * 1000000,
	86400LL * 1000000, 7 * 86400LL * 1000000,
};

static const char html_css[] =
    ":root{--fg:#1d2330;--mut:#5b6475;--bg:#f6f7f9;--card:#fff;"
    "--line:#dde1e7;--p:#2f6fdf;--b:#e58a1f;--d:#8a8f99;--r:#1a9c5b;"
    "--bad:#d2453a}\n"
    "*{box-sizing:border-box}body{margin:0;padding:24px;background:"
    "var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"
    "'Segoe UI',sans-serif}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 10px}"
    ".meta{color:var(--mut);margin:0 0 16px}\n"
    "section{background:var(--card);border:1px solid var(--line);"
    "border-radius:8px;padding:14px 16px;margin:0 0 16px;overflow:auto}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(420px,1fr));gap:16px}.grid>section{margin:0}"
    ".grid{margin:0 0 16px}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;background:none;"
    "border:0;padding:0}.card{background:var(--card);border:1px solid "
    "var(--line);border-radius:8px;padding:10px 16px;min-width:150px}"
    ".card b{display:block;font-size:22px}.card span{color:var(--mut)}\n"
    "svg{width:100%;height:auto;display:block}svg.hbars{max-width:640px}"
    "svg.flow{max-width:760px}"
    "svg text{font:12px system-ui,sans-serif;fill:var(--fg)}"
    "svg .axis,svg .sub{fill:var(--mut)}svg .legend{font-size:13px}"
    ".grid line,line.grid{stroke:var(--line)}\n"
    ".bar{fill:var(--p)}.primary{fill:var(--p)}.backup{fill:var(--b)}"
    ".decoy{fill:var(--d)}.newc{fill:var(--r)}"
    "polyline{fill:none;stroke-width:2}polyline.real{stroke:var(--r)}"
    "rect.real{fill:var(--r)}"
    "polyline.r0,rect.r0{stroke:var(--b);fill:var(--b)}"
    "polyline.r1,rect.r1{stroke:var(--p);fill:var(--p)}"
    "polyline.r2,rect.r2{stroke:var(--bad);fill:var(--bad)}"
    "polyline.r0,polyline.r1,polyline.r2{fill:none}\n"
    ".band{opacity:.55}.band.ok{fill:var(--r)}.band.ok2{fill:#69b38c}"
    ".band.bad{fill:var(--bad)}.band.bad2{fill:var(--b)}"
    ".band.bad3{fill:#9b59b6}.node{fill:var(--fg)}\n"
    "table{border-collapse:collapse;width:100%}th,td{text-align:left;"
    "padding:3px 8px;border-bottom:1px solid var(--line);"
    "vertical-align:top;overflow-wrap:anywhere}th{color:var(--mut);"
    "font-weight:600}td.n,th.n{text-align:right;white-space:nowrap}\n"
    ".esc{color:var(--bad);font-family:monospace;background:#fde8e6}"
    "tspan.esc{fill:var(--bad)}"
    ".none,.null{color:var(--mut)}"
    "footer{color:var(--mut);font-size:12px}\n";

static int	 html_copy(struct span *, const struct out_val *);
static void	 html_sink(void *, const char *, const struct out_col *, int,
		    const struct out_val *);
static int	 html_keep(struct html_list *, const struct out_col *, int,
		    const struct out_val *);
static void	 html_list_free(struct html_list *);
static int	 html_run(struct html *, struct store *, enum html_mode,
		    const char *, const char *, struct html_list *,
		    int (*)(struct store *, const struct report_args *));
static int	 html_grid(struct html *);
static int	 html_series(struct html *, const char *, int64_t *, int);
static int	 html_walk_counts(struct html *);
static int	 html_excluded(const struct allowlist *, const char *);
static void	 html_latest_add(struct html *, const struct evidence *,
		    uint32_t);
static int	 html_listings(struct html *, char *, size_t);
static void	 html_card(FILE *, const char *, const char *, int64_t);
static void	 html_meta(struct html *, struct store *);
static int	 html_write(struct html *, struct store *, const char *);
static void	 html_page(struct html *, struct store *);
static void	 html_top_table(FILE *, const char *, const char *,
		    const struct html_list *);
static void	 html_bars(FILE *, const char *, const struct html_list *,
		    int);
static void	 html_latest(struct html *);
static void	 html_cards(struct html *);
static void	 html_columns(struct html *, const char *,
		    const struct svg_series *, size_t);
static void	 html_when(struct html *);
static void	 html_where(struct html *);
static void	 html_listed(struct html *);
static void	 html_tops(struct html *);
static void	 html_decoys(struct html *);
static void	 html_reasons(FILE *, uint32_t);

/* Copies a value of the sink (bounded) into a malloc'ed span. */
static int
html_copy(struct span *d, const struct out_val *v)
{
	size_t	 len = v->s.len < HTML_KEY_MAX ? v->s.len : HTML_KEY_MAX;
	char	*p;

	d->p = NULL;
	d->len = 0;
	if (v->s.p == NULL)
		return 0;
	if ((p = malloc(len + 1)) == NULL)
		return -1;
	memcpy(p, v->s.p, len);
	p[len] = '\0';
	d->p = p;
	d->len = len;
	return 0;
}

/*
 * Keeps a row of summary or top (key, label, sessions, clients, then
 * share and first, last by column name) in l.  0 or -1 (ENOMEM).
 */
static int
html_keep(struct html_list *l, const struct out_col *cols, int ncols,
    const struct out_val *v)
{
	struct html_row	*r;

	if (l->n == l->cap) {
		size_t	 cap = l->cap ? l->cap * 2 : 16;

		if ((r = realloc(l->r, cap * sizeof(*r))) == NULL)
			return -1;
		l->r = r;
		l->cap = cap;
	}
	r = &l->r[l->n];
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < ncols; i++) {
		const char	*name = cols[i].name;

		if (strcmp(name, "key") == 0 && html_copy(&r->key, &v[i]) == -1)
			return -1;
		if (strcmp(name, "label") == 0 &&
		    html_copy(&r->label, &v[i]) == -1) {
			free((char *)r->key.p);
			return -1;
		}
		if (strcmp(name, "sessions") == 0)
			r->sessions = v[i].i;
		else if (strcmp(name, "clients") == 0) {
			r->clients = v[i].i;
			r->clients_null = v[i].null;
		} else if (strcmp(name, "share") == 0)
			r->share = v[i].null ? 0 : v[i].d;
		else if (strcmp(name, "first") == 0)
			r->first = v[i].i;
		else if (strcmp(name, "last") == 0)
			r->last = v[i].i;
	}
	l->n++;
	return 0;
}

static void
html_list_free(struct html_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free((char *)l->r[i].key.p);
		free((char *)l->r[i].label.p);
	}
	free(l->r);
	memset(l, 0, sizeof(*l));
}

/* The out.c sink: a row of the report that html_run() runs. */
static void
html_sink(void *arg, const char *section, const struct out_col *cols,
    int ncols, const struct out_val *v)
{
	struct html		*h = arg;
	struct html_list	*l = NULL;
	size_t			 b;

	switch (h->mode) {
	case HM_SUMMARY:
		if (section == NULL)
			return;
		if (strcmp(section, "total") == 0) {
			h->sessions = v[2].i;
			h->clients = v[3].i;
			h->have_first = !v[4].null;
			h->first = v[4].i;
			h->last = v[5].i;
			return;
		}
		if (strcmp(section, "by_role") == 0)
			l = &h->roles;
		else if (strcmp(section, "by_decoy") == 0)
			l = &h->decoys;
		break;
	case HM_TOP:
		l = h->cur;
		break;
	case HM_TIMELINE:
		/* start, sessions, clients, primary, backup, decoy */
		if (ncols < 6 || v[0].i < h->t0)
			return;
		if ((b = (size_t)((v[0].i - h->t0) / h->bucket)) >= h->nb)
			return;
		h->primary[b] += v[3].i;
		h->backup[b] += v[4].i;
		h->decoy[b] += v[5].i;
		return;
	}
	if (l != NULL && html_keep(l, cols, ncols, v) == -1)
		h->oom = 1;
}

/*
 * Runs one report (run) under the page's window and filters with the
 * words w0 w1, its rows going to the sink in mode (and into l for
 * top).  Returns the report's exit status, or EXIT_RUNTIME on ENOMEM.
 */
static int
html_run(struct html *h, struct store *st, enum html_mode mode,
    const char *w0, const char *w1, struct html_list *l,
    int (*run)(struct store *, const struct report_args *))
{
	struct report_args	 a = *h->a;
	char			*words[3] = { (char *)w0, (char *)w1, NULL };
	int			 rc;

	a.format = FORMAT_ROWS;
	a.argv = words;
	a.argc = w1 != NULL ? 2 : 1;
	if (mode == HM_TOP)
		a.limit = h->a->limit > 0 ? h->a->limit : HTML_TOP;
	a.bucket_us = h->bucket;
	h->mode = mode;
	h->cur = l;
	out_set_sink(html_sink, h);
	rc = run(st, &a);
	out_set_sink(NULL, NULL);
	return h->oom ? EXIT_RUNTIME : rc;
}

/*
 * Chooses the grid of the time charts from the window (or the first
 * and last session) and allocates its series.  0 or -1 (ENOMEM).
 */
static int
html_grid(struct html *h)
{
	const struct filter	*fl = &h->a->filt;
	int64_t			 lo, hi, want = h->a->bucket_us;
	int64_t			**s[] = { &h->primary, &h->backup,
				    &h->decoy, &h->real, &h->newc };

	if (!h->have_first) {
		h->bucket = want > 0 ? want : html_buckets[2];
		h->nb = 0;
		return 0;
	}
	lo = fl->since != INT64_MIN && fl->since > h->first ? fl->since :
	    h->first;
	hi = fl->until != INT64_MAX && fl->until - 1 < h->last ?
	    fl->until - 1 : h->last;
	if (hi < lo)
		hi = lo;
	if (want > 0 && (hi - lo) / want < HTML_MAX_BUCKETS)
		h->bucket = want;
	else {
		h->bucket = html_buckets[sizeof(html_buckets) /
		    sizeof(html_buckets[0]) - 1];
		for (size_t i = 0; i < sizeof(html_buckets) /
		    sizeof(html_buckets[0]); i++)
			if ((hi - lo) / html_buckets[i] < HTML_AUTO_BUCKETS) {
				h->bucket = html_buckets[i];
				break;
			}
	}
	h->t0 = lo / h->bucket * h->bucket;
	h->nb = (size_t)((hi / h->bucket * h->bucket - h->t0) / h->bucket) +
	    1;
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if ((*s[i] = calloc(h->nb, sizeof(int64_t))) == NULL)
			return -1;
	for (int r = 0; r < REASON_MAX; r++)
		if ((h->cum[r] = calloc(h->nb, sizeof(int64_t))) == NULL)
			return -1;
	return 0;
}

/* New clients per bucket: clients first seen then (matching the filter). */
static const char html_newc_sql[] =
    "SELECT (c.first_us / :bucket) * :bucket AS t, count(*) FROM clients c"
    " WHERE c.first_us >= :lo AND c.first_us < :hi%s GROUP BY t";
static const char html_newc_filter[] =
    " AND EXISTS (SELECT 1 FROM sessions s WHERE s.src_ip = c.ip%s)";
/* SYNs the sensor saw to the real MX per bucket. */
static const char html_real_sql[] =
    "SELECT (y.ts_us / :bucket) * :bucket AS t, count(*) FROM syns y"
    " WHERE y.role = 'real' AND y.ts_us >= :lo AND y.ts_us < :hi%s"
    " GROUP BY t";

/*
 * Adds the counts of the query (newc: html_newc_sql, else
 * html_real_sql) per bucket of the grid into v.  0 or -1.
 */
static int
html_series(struct html *h, const char *what, int64_t *v, int newc)
{
	sqlite3_stmt	*q;
	char		 where[512], extra[sizeof(html_newc_filter) + 512];
	char		 sql[sizeof(html_newc_sql) + sizeof(extra) + 64];
	int		 rc;

	extra[0] = '\0';
	if (newc && filter_active(&h->a->filt)) {
		filter_sql(&h->a->filt, "s", where, sizeof(where));
		snprintf(extra, sizeof(extra), html_newc_filter, where);
	} else if (!newc && h->a->filt.cidr[0] != '\0')
		snprintf(extra, sizeof(extra), " AND decoymx_in_net(y.src_ip,"
		    " :cidr)");
	snprintf(sql, sizeof(sql), newc ? html_newc_sql : html_real_sql,
	    extra);
	if (out_prepare(h->db, sql, &q, what) == -1)
		return -1;
	filter_bind(&h->a->filt, q);
	sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":bucket"),
	    h->bucket);
	sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":lo"), h->t0);
	sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":hi"),
	    h->t0 + (int64_t)h->nb * h->bucket);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t	 t = sqlite3_column_int64(q, 0);

		if (t >= h->t0 && (size_t)((t - h->t0) / h->bucket) < h->nb)
			v[(t - h->t0) / h->bucket] += sqlite3_column_int64(q,
			    1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The MX walks that touched the window, by verdict.  0 or -1. */
static int
html_walk_counts(struct html *h)
{
	const struct filter	*fl = &h->a->filt;
	sqlite3_stmt		*q;
	char			 sql[256];
	int			 rc, i;

	if (!out_table_exists(h->db, "mx_walks"))
		return 0;
	snprintf(sql, sizeof(sql), "SELECT verdict, count(*) FROM mx_walks w"
	    " WHERE w.last_us >= :since AND w.first_us < :until%s"
	    " GROUP BY verdict", fl->cidr[0] != '\0' ?
	    " AND decoymx_in_net(w.ip, :cidr)" : "");
	if (out_prepare(h->db, sql, &q, "report html") == -1)
		return -1;
	filter_bind(fl, q);
	if ((i = sqlite3_bind_parameter_index(q, ":since")) > 0)
		sqlite3_bind_int64(q, i, fl->since);
	if ((i = sqlite3_bind_parameter_index(q, ":until")) > 0)
		sqlite3_bind_int64(q, i, fl->until);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);

		h->sensor = 1;
		for (size_t k = 0; v != NULL && k < NWALKS; k++)
			if (strcmp(v, html_walks[k].verdict) == 0)
				h->walks[k] += sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Whether ip is in the allowlist or loopback: never listed. */
static int
html_excluded(const struct allowlist *al, const char *ip)
{
	struct sockaddr_storage	 ss;
	const uint8_t		*a;
	int			 family;

	if (util_parse_addr(ip, &ss) == -1)
		return 0;
	family = ss.ss_family == AF_INET ? 4 : 6;
	a = family == 4 ?
	    (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr :
	    ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
	if ((family == 4 && a[0] == 127) ||
	    (family == 6 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a)))
		return 1;
	return al->n > 0 && allowlist_match(al, family, a) != NULL;
}

/* Keeps e among the latest listed clients (by last session). */
static void
html_latest_add(struct html *h, const struct evidence *e, uint32_t reasons)
{
	struct html_listed	*l = h->latest;
	size_t			 i;

	if (h->nlatest == h->maxlatest &&
	    (h->maxlatest == 0 || l[h->nlatest - 1].last >= e->last_us))
		return;
	if (h->nlatest < h->maxlatest)
		h->nlatest++;
	for (i = h->nlatest - 1; i > 0 && l[i - 1].last < e->last_us; i--)
		l[i] = l[i - 1];
	memset(&l[i], 0, sizeof(l[i]));
	strlcpy_(l[i].ip, e->ip, sizeof(l[i].ip));
	l[i].reasons = reasons;
	l[i].sessions = e->sessions;
	l[i].primary = e->primary_sessions;
	l[i].backup = e->backup_sessions;
	l[i].first = e->first_us;
	l[i].last = e->last_us;
	strlcpy_(l[i].walk, e->walk != NULL ? e->walk : "", sizeof(l[i].walk));
}

/*
 * Classifies the clients seen in the window the way the export does
 * (same rule options, allowlist, --max-age and --min-sessions): counts
 * per reason, cumulative per bucket of first sight, and the latest
 * listed.  0, or -1 with err set.
 */
static int
html_listings(struct html *h, char *err, size_t errlen)
{
	const struct report_args *a = h->a;
	struct classify_conf	 cc;
	struct classify_q	*cq;
	struct allowlist	 al;
	struct evidence		 e;
	struct verdict		 v;
	struct sockaddr_storage	 net;
	int64_t			 since = a->filt.since;
	int			 prefix = 0, rc;

	memset(&al, 0, sizeof(al));
	if (a->rules.allowlist != NULL && allowlist_load(&al,
	    a->rules.allowlist, err, errlen) == -1)
		return -1;
	if (a->filt.cidr[0] != '\0' &&
	    filter_parse_net(a->filt.cidr, &net, &prefix) == -1) {
		snprintf(err, errlen, "bad --cidr %s", a->filt.cidr);
		allowlist_free(&al);
		return -1;
	}
	classify_defaults(&cc);
	cc.rules = a->rules.rules;
	cc.window_us = a->rules.window_us;
	if (a->rules.max_age_us > 0 && cc.now_us - a->rules.max_age_us > since)
		since = cc.now_us - a->rules.max_age_us;
	h->maxlatest = a->limit > 0 ? (size_t)a->limit : HTML_LATEST;
	if ((h->latest = calloc(h->maxlatest, sizeof(*h->latest))) == NULL ||
	    (cq = classify_open(h->db, &cc, since, a->rules.min_sessions,
	    NULL, err, errlen)) == NULL) {
		if (h->latest == NULL)
			snprintf(err, errlen, "out of memory");
		allowlist_free(&al);
		return -1;
	}
	while ((rc = classify_next(cq, &e, &v)) == 1) {
		if (!v.listed || e.first_us >= a->filt.until ||
		    (prefix > 0 && !filter_in_net(e.ip, &net, prefix)) ||
		    html_excluded(&al, e.ip))
			continue;
		h->listed++;
		for (int r = 0; r < REASON_MAX; r++) {
			size_t	 b;

			if (!(v.reasons & (1u << r)))
				continue;
			h->by_reason[r]++;
			if (h->nb == 0)
				continue;
			b = e.first_us < h->t0 ? 0 :
			    (size_t)((e.first_us - h->t0) / h->bucket);
			if (b < h->nb)
				h->cum[r][b]++;
		}
		html_latest_add(h, &e, v.reasons);
	}
	if (rc == -1)
		snprintf(err, errlen, "%s", sqlite3_errmsg(h->db));
	classify_close(cq);
	allowlist_free(&al);
	for (int r = 0; r < REASON_MAX; r++)
		for (size_t b = 1; b < h->nb; b++)
			h->cum[r][b] += h->cum[r][b - 1];
	return rc == -1 ? -1 : 0;
}

/* Bars of a top list: its keys (and labels), sessions. */
static void
html_bars(FILE *f, const char *id, const struct html_list *l, int asn)
{
	struct svg_bar	*b;
	char		(*names)[32] = NULL;

	if ((b = calloc(l->n + 1, sizeof(*b))) == NULL ||
	    (asn && (names = calloc(l->n + 1, sizeof(*names))) == NULL)) {
		free(b);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		b[i].label = l->r[i].key;
		if (asn && l->r[i].key.p != NULL) {
			snprintf(names[i], sizeof(names[i]), "AS%s",
			    l->r[i].key.p);
			b[i].label = (struct span){ names[i],
			    strlen(names[i]) };
			b[i].sub = l->r[i].label;
		}
		if (b[i].label.p == NULL)
			b[i].label = (struct span){ "-", 1 };
		b[i].value = l->r[i].sessions;
	}
	svg_hbars(f, id, b, l->n);
	free(names);
	free(b);
}

/* A top list as a table: value, sessions, share. */
static void
html_top_table(FILE *f, const char *id, const char *title,
    const struct html_list *l)
{
	fprintf(f, "<section><h2>%s</h2>\n", title);
	if (l->n == 0) {
		fprintf(f, "<p class=\"none\" id=\"%s\">none in this period"
		    "</p></section>\n", id);
		return;
	}
	fprintf(f, "<table id=\"%s\"><tr><th>value</th><th class=\"n\">"
	    "sessions</th><th class=\"n\">share</th></tr>\n", id);
	for (size_t i = 0; i < l->n; i++) {
		fputs("<tr><td class=\"k\">", f);
		html_span(f, l->r[i].key, HTML_CELL);
		fputs("</td><td class=\"n\">", f);
		html_num(f, l->r[i].sessions);
		fprintf(f, "</td><td class=\"n\">%.1f%%</td></tr>\n",
		    l->r[i].share);
	}
	fputs("</table></section>\n", f);
}

/* The names of the reason bits, comma-separated (our own text). */
static void
html_reasons(FILE *f, uint32_t bits)
{
	int	 first = 1;

	for (int r = 0; r < REASON_MAX; r++)
		if (bits & (1u << r)) {
			fprintf(f, "%s%s", first ? "" : ", ",
			    classify_reason_name(r));
			first = 0;
		}
}

static void
html_latest(struct html *h)
{
	FILE	*f = h->f;

	fputs("<section><h2>Latest listed clients</h2>\n", f);
	if (h->nlatest == 0) {
		fputs("<p class=\"none\" id=\"latest\">none listed</p>"
		    "</section>\n", f);
		return;
	}
	fputs("<table id=\"latest\"><tr><th>client</th><th>reasons</th>"
	    "<th class=\"n\">sessions</th><th class=\"n\">primary</th>"
	    "<th class=\"n\">backup</th><th>MX walk</th><th>first seen</th>"
	    "<th>last seen</th></tr>\n", f);
	for (size_t i = 0; i < h->nlatest; i++) {
		struct html_listed	*l = &h->latest[i];

		fputs("<tr><td>", f);
		html_text(f, l->ip, strlen(l->ip), HTML_TEXT, 0);
		fputs("</td><td>", f);
		html_reasons(f, l->reasons);
		fputs("</td><td class=\"n\">", f);
		html_num(f, l->sessions);
		fputs("</td><td class=\"n\">", f);
		html_num(f, l->primary);
		fputs("</td><td class=\"n\">", f);
		html_num(f, l->backup);
		fputs("</td><td>", f);
		html_text(f, l->walk, strlen(l->walk), HTML_TEXT, 0);
		fputs("</td><td>", f);
		html_time(f, l->first, 1);
		fputs("</td><td>", f);
		html_time(f, l->last, 1);
		fputs("</td></tr>\n", f);
	}
	fputs("</table></section>\n", f);
}

/* One number card. */
static void
html_card(FILE *f, const char *id, const char *what, int64_t v)
{
	fprintf(f, "<div class=\"card\" id=\"%s\"><b>", id);
	html_num(f, v);
	fprintf(f, "</b><span>%s</span></div>\n", what);
}

/* The window and filters, as the page's subtitle. */
static void
html_meta(struct html *h, struct store *st)
{
	const struct filter	*fl = &h->a->filt;
	FILE			*f = h->f;
	const char		*path = store_path(st);

	fputs("<p class=\"meta\">database ", f);
	html_text(f, path, strlen(path), HTML_TEXT, 0);
	fputs(" &middot; ", f);
	if (fl->since != INT64_MIN) {
		fputs("since ", f);
		html_time(f, fl->since, 0);
		fputs(" ", f);
	}
	if (fl->until != INT64_MAX) {
		fputs("until ", f);
		html_time(f, fl->until, 0);
		fputs(" ", f);
	}
	if (fl->since == INT64_MIN && fl->until == INT64_MAX)
		fputs("all time ", f);
	if (h->have_first) {
		fputs("(sessions from ", f);
		html_time(f, h->first, 0);
		fputs(" to ", f);
		html_time(f, h->last, 0);
		fputs(")", f);
	}
	/* Checked and normalised by filter.c; escaped all the same. */
	if (fl->decoy[0] != '\0') {
		fputs(" &middot; decoy ", f);
		html_text(f, fl->decoy, strlen(fl->decoy), HTML_TEXT, 0);
	}
	if (fl->country[0] != '\0') {
		fputs(" &middot; country ", f);
		html_text(f, fl->country, strlen(fl->country), HTML_TEXT, 0);
	}
	if (fl->asn != -1)
		fprintf(f, " &middot; AS%" PRId64, fl->asn);
	if (fl->cidr[0] != '\0') {
		fputs(" &middot; network ", f);
		html_text(f, fl->cidr, strlen(fl->cidr), HTML_TEXT, 0);
	}
	if (fl->decoy[0] != '\0' || fl->country[0] != '\0' || fl->asn != -1)
		fputs(" (the MX walks and listings are per client: they "
		    "ignore decoy, country and AS)", f);
	if (h->bucket % (86400LL * 1000000) == 0)
		fprintf(f, " &middot; bucket %lldd", (long long)h->bucket /
		    (86400LL * 1000000));
	else if (h->bucket % (3600LL * 1000000) == 0)
		fprintf(f, " &middot; bucket %lldh", (long long)h->bucket /
		    (3600LL * 1000000));
	else
		fprintf(f, " &middot; bucket %" PRId64 "m", h->bucket /
		    60000000);
	fputs(" &middot; generated ", f);
	html_time(f, util_now_us(), 1);
	fputs(" UTC</p>\n", f);
}

/* The totals as cards: sessions, clients, per role, listed. */
static void
html_cards(struct html *h)
{
	FILE	*f = h->f;

	fputs("<section class=\"cards\">\n", f);
	html_card(f, "c-sessions", "sessions", h->sessions);
	html_card(f, "c-clients", "clients", h->clients);
	for (size_t i = 0; i < h->roles.n; i++) {
		char	 id[32], what[64];

		if (h->roles.r[i].key.p == NULL)
			continue;
		snprintf(id, sizeof(id), "c-%.20s", h->roles.r[i].key.p);
		snprintf(what, sizeof(what), "sessions on %.20s decoys",
		    h->roles.r[i].key.p);
		/* role names are ours; escape all the same */
		fprintf(f, "<div class=\"card\" id=\"");
		html_text(f, id, strlen(id), HTML_ATTR, 0);
		fputs("\"><b>", f);
		html_num(f, h->roles.r[i].sessions);
		fputs("</b><span>", f);
		html_text(f, what, strlen(what), HTML_TEXT, 0);
		fputs("</span></div>\n", f);
	}
	html_card(f, "c-listed", "clients listed", h->listed);
	fputs("</section>\n", f);
}

/* Columns over the window's buckets, or a line saying there are none. */
static void
html_columns(struct html *h, const char *id, const struct svg_series *s,
    size_t n)
{
	if (h->nb == 0)
		fprintf(h->f, "<p class=\"none\" id=\"%s\">none in this "
		    "period</p>\n", id);
	else
		svg_columns(h->f, id, h->t0, h->bucket, h->nb, s, n);
}

/* Sessions by role (and SYNs to the real MX) and new clients. */
static void
html_when(struct html *h)
{
	struct svg_series	 s[4];
	size_t			 n = 0;

	s[n++] = (struct svg_series){ "primary", "primary", h->primary, 0 };
	s[n++] = (struct svg_series){ "backup", "backup", h->backup, 0 };
	s[n++] = (struct svg_series){ "no MX role", "decoy", h->decoy, 0 };
	if (h->sensor || out_table_exists(h->db, "syns"))
		s[n++] = (struct svg_series){ "SYNs to the real MX", "real",
		    h->real, 1 };
	fputs("<section><h2>Sessions over time by role</h2>\n", h->f);
	html_columns(h, "sessions", s, n);
	fputs("</section>\n<section><h2>New clients</h2>\n", h->f);
	s[0] = (struct svg_series){ "clients first seen", "newc", h->newc,
	    0 };
	html_columns(h, "new-clients", s, 1);
	fputs("</section>\n", h->f);
}

/* Countries and AS numbers; MX walks and anomalies. */
static void
html_where(struct html *h)
{
	FILE		*f = h->f;
	struct svg_flow	 fl[NWALKS];

	fputs("<div class=\"grid\"><section><h2>Top countries</h2>\n", f);
	html_bars(f, "countries", &h->countries, 0);
	fputs("</section><section><h2>Top AS numbers</h2>\n", f);
	html_bars(f, "asns", &h->asns, 1);
	fputs("</section></div>\n", f);
	fputs("<div class=\"grid\"><section><h2>MX walks</h2>\n", f);
	for (size_t i = 0; i < NWALKS; i++)
		fl[i] = (struct svg_flow){ html_walks[i].from,
		    html_walks[i].to, html_walks[i].cls, h->walks[i] };
	svg_flow(f, "walks", fl, NWALKS);
	fputs("</section><section><h2>Anomalies</h2>\n", f);
	html_bars(f, "anomalies", &h->anoms, 0);
	fputs("</section></div>\n", f);
}

/* Listed clients per reason, and their growth over the window. */
static void
html_listed(struct html *h)
{
	static const char	*cls[] = { "r0", "r1", "r2" };
	struct svg_series	 s[REASON_MAX];
	struct svg_bar		 rb[REASON_MAX];

	fputs("<section><h2>Listings by reason</h2>\n", h->f);
	for (int r = 0; r < REASON_MAX; r++) {
		const char *name = classify_reason_name(r);
		const char *text = classify_reason_text(r);

		rb[r] = (struct svg_bar){ { name, strlen(name) },
		    { text, strlen(text) }, h->by_reason[r] };
		s[r] = (struct svg_series){ name, cls[r % 3], h->cum[r], 1 };
	}
	if (h->listed == 0)
		fputs("<p class=\"none\" id=\"reasons\">none listed</p>\n",
		    h->f);
	else
		svg_hbars(h->f, "reasons", rb, REASON_MAX);
	if (h->listed > 0 && h->nb > 0) {
		fputs("<h2>Listed clients by first sight, cumulative</h2>\n",
		    h->f);
		html_columns(h, "listings", s, REASON_MAX);
	}
	fputs("</section>\n", h->f);
}

/* The top HELO names, senders and recipients. */
static void
html_tops(struct html *h)
{
	fputs("<div class=\"grid\">\n", h->f);
	html_top_table(h->f, "top-helos", "Top HELO names", &h->helos);
	html_top_table(h->f, "top-senders", "Top senders", &h->senders);
	html_top_table(h->f, "top-recipients", "Top recipients", &h->rcpts);
	fputs("</div>\n", h->f);
}

/* Each decoy with its role, sessions, clients and first and last. */
static void
html_decoys(struct html *h)
{
	FILE	*f = h->f;

	fputs("<section><h2>Decoys</h2>\n<table id=\"decoys\"><tr><th>decoy"
	    "</th><th>role</th><th class=\"n\">sessions</th><th class=\"n\">"
	    "clients</th><th>first</th><th>last</th></tr>\n", f);
	for (size_t i = 0; i < h->decoys.n; i++) {
		struct html_row	*r = &h->decoys.r[i];

		fputs("<tr><td>", f);
		html_span(f, r->key, HTML_CELL);
		fputs("</td><td>", f);
		html_span(f, r->label, HTML_CELL);
		fputs("</td><td class=\"n\">", f);
		html_num(f, r->sessions);
		fputs("</td><td class=\"n\">", f);
		if (r->clients_null)
			fputs("-", f);
		else
			html_num(f, r->clients);
		fputs("</td><td>", f);
		html_time(f, r->first, 0);
		fputs("</td><td>", f);
		html_time(f, r->last, 0);
		fputs("</td></tr>\n", f);
	}
	fputs("</table></section>\n", f);
}

/* The parts of the page, in order. */
static void (*const html_parts[])(struct html *) = {
	html_cards, html_when, html_where, html_listed, html_tops,
	html_latest, html_decoys,
};

/* Writes the page from what was collected. */
static void
html_page(struct html *h, struct store *st)
{
	FILE	*f = h->f;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8"
	    "\">\n<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'\">\n<meta name="
	    "\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
	    "<title>decoymx report</title>\n<style>\n", f);
	fputs(html_css, f);
	fputs("</style></head><body>\n<h1>decoymx report</h1>\n", f);
	html_meta(h, st);
	for (size_t i = 0; i < sizeof(html_parts) / sizeof(html_parts[0]); i++)
		html_parts[i](h);
	fputs("<footer>decoymx " DECOYMX_VERSION
	    " &middot; counts from decoymx report summary, top and timeline"
	    " under the same window and filters; listings as decoymx export"
	    " would make them</footer>\n</body></html>\n", f);
}

/*
 * Writes the page to path atomically (a temporary file beside it, then
 * rename), so that a web server or mailer never reads half a page.
 * Returns the exit status.
 */
static int
html_write(struct html *h, struct store *st, const char *path)
{
	char	 tmp[4096];
	int	 fd, bad;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		fprintf(stderr, "decoymx report html: %s: name too long\n",
		    path);
		return EXIT_USAGE;
	}
	if ((fd = mkstemp(tmp)) == -1 || fchmod(fd, 0644) == -1 ||
	    (h->f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "decoymx report html: %s: %s\n", path,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		return EXIT_RUNTIME;
	}
	html_page(h, st);
	bad = ferror(h->f);
	bad |= fflush(h->f) == EOF || fsync(fd) == -1;
	bad |= fclose(h->f) == EOF;
	if (bad || rename(tmp, path) == -1) {
		fprintf(stderr, "decoymx report html: %s: cannot write: %s\n",
		    path, strerror(errno));
		unlink(tmp);
		return EXIT_RUNTIME;
	}
	return 0;
}

/* decoymx report html.  Returns the exit status. */
int
report_html(struct store *st, const struct report_args *a)
{
	struct html	 h;
	char		 err[256];
	int		 ret = EXIT_RUNTIME, rc;
	const char	*out = a->output;
	static const struct {
		const char	*kind;
		size_t		 off;
	} tops[] = {
		{ "countries", offsetof(struct html, countries) },
		{ "asns", offsetof(struct html, asns) },
		{ "anomalies", offsetof(struct html, anoms) },
		{ "helos", offsetof(struct html, helos) },
		{ "senders", offsetof(struct html, senders) },
		{ "recipients", offsetof(struct html, rcpts) },
	};

	memset(&h, 0, sizeof(h));
	h.a = a;
	h.db = store_db(st);
	if ((rc = html_run(&h, st, HM_SUMMARY, "summary", NULL, NULL,
	    report_summary)) != 0) {
		ret = rc;
		goto done;
	}
	if (html_grid(&h) == -1) {
		fprintf(stderr, "decoymx report html: out of memory\n");
		goto done;
	}
	if (h.nb > 0 && ((rc = html_run(&h, st, HM_TIMELINE, "timeline",
	    NULL, NULL, report_timeline)) != 0 ||
	    html_series(&h, "report html", h.newc, 1) == -1 ||
	    (out_table_exists(h.db, "syns") &&
	    html_series(&h, "report html", h.real, 0) == -1))) {
		ret = rc != 0 ? rc : EXIT_RUNTIME;
		goto done;
	}
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++)
		if ((rc = html_run(&h, st, HM_TOP, "top", tops[i].kind,
		    (struct html_list *)((char *)&h + tops[i].off),
		    report_top)) != 0) {
			ret = rc;
			goto done;
		}
	if (html_walk_counts(&h) == -1)
		goto done;
	if (html_listings(&h, err, sizeof(err)) == -1) {
		fprintf(stderr, "decoymx report html: listings: %s\n", err);
		goto done;
	}
	if (out == NULL || strcmp(out, "-") == 0) {
		h.f = stdout;
		html_page(&h, st);
		ret = 0;
	} else
		ret = html_write(&h, st, out);
done:
	html_list_free(&h.roles);
	html_list_free(&h.decoys);
	for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++)
		html_list_free((struct html_list *)((char *)&h + tops[i].off));
	free(h.primary);
	free(h.backup);
	free(h.decoy);
	free(h.real);
	free(h.newc);
	for (int r = 0; r < REASON_MAX; r++)
		free(h.cum[r]);
	free(h.latest);
	return ret;
}
