/* SPDX-License-Identifier: ISC */
/*
 * reports.h -- the reports part: escaping of untrusted text for JSON,
 * CSV and the terminal, an aligned table writer, and the
 * "decoymx report" command.
 *
 * Prototypes are grouped by the file that defines them.
 */
#ifndef REPORTS_H
#define REPORTS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decoymx.h"

/* Table column flags. */
#define FMT_RIGHT	0x1	/* right-aligned (numbers) */
#define FMT_SHRINK	0x2	/* may be cut with "..." to fit the width */

struct fmt_col {
	const char	*name;
	int		 flags;
};

struct fmt_table;

/*
 * FORMAT_ROWS prints nothing: each row goes to the sink set with
 * out_set_sink(), so that report html draws what the other reports
 * compute.
 */
enum report_format { FORMAT_TABLE, FORMAT_CSV, FORMAT_JSON, FORMAT_ROWS };

/*
 * The filters every report takes (filter.c).  Values are kept parsed and
 * normalised; they reach SQL only as bound parameters.
 */
struct filter {
	int64_t		 since, until;	/* start_us in [since, until) */
	char		 decoy[ADDR_STRLEN];	/* "" : any */
	char		 country[3];		/* "" : any */
	int64_t		 asn;			/* -1 : any */
	char		 cidr[ADDR_STRLEN + 5];	/* "" : any; canonical */
};

/*
 * The export's rule options (--window, --rules, --allowlist, --max-age,
 * --min-sessions), which report ip takes too: so that it explains a
 * listing with the options that made it (filter.c).
 */
struct rule_opts {
	uint32_t		 rules;		/* bits of enum reason */
	int64_t			 window_us;
	int64_t			 max_age_us;	/* 0: any age */
	int64_t			 min_sessions;
	const char		*allowlist;	/* NULL: none */
	int			 given;		/* any of them on the command line */
};

/* The options of one "decoymx report" run (report.c). */
struct report_args {
	const char		*db;
	struct filter		 filt;
	struct rule_opts	 rules;
	int64_t			 limit;		/* -1: no limit */
	int64_t			 bucket_us;	/* timeline; 0: default */
	enum report_format	 format;
	const char		*output;	/* html -o; NULL: stdout */
	int			 argc;		/* words after the subcommand */
	char			**argv;
};

struct store;

/*
 * Output columns of a list report (out.c).  OUT_SECONDS is a duration,
 * to the millisecond everywhere; OUT_LIST a value that is a JSON array
 * or object in JSON (its text in j, written as it is) and plain text
 * elsewhere (in s).
 */
enum out_type {
	OUT_INT, OUT_TEXT, OUT_TIME, OUT_REAL, OUT_ANOMS, OUT_SECONDS, OUT_LIST
};

struct out_col {
	const char	*name;		/* JSON field, CSV and table header */
	enum out_type	 type;
	int		 flags;		/* FMT_RIGHT, FMT_SHRINK */
};

struct out {
	enum report_format	 format;
	FILE			*f;
	const struct out_col	*cols;
	int			 ncols;
	const char		*section;	/* multi-part: JSON key, CSV column */
	struct fmt_table	*t;
	struct fmt_col		*tcols;		/* the table's columns */
	size_t			 nrows;
};

/* One value of a row built in C (out_row_vals). */
struct out_val {
	struct span	 s;		/* OUT_TEXT, OUT_LIST; s.p NULL: null */
	int64_t		 i;		/* OUT_INT, OUT_TIME, OUT_ANOMS */
	double		 d;		/* OUT_REAL, OUT_SECONDS */
	int		 null;		/* numbers: null */
	struct span	 j;		/* OUT_LIST in JSON: JSON text */
};

/* Receives the rows of FORMAT_ROWS (out.c). */
struct out_col;
struct out_val;
typedef void	 out_sink_fn(void *arg, const char *section,
		    const struct out_col *, int ncols, const struct out_val *);

/* format.c */
size_t		 fmt_utf8_len(const unsigned char *p, size_t len);
void		 fmt_json_str(FILE *, const char *p, size_t len);
void		 fmt_csv_cell(FILE *, const char *p, size_t len);
size_t		 fmt_term(const char *p, size_t len, char *out, size_t cap);
size_t		 fmt_term_width(FILE *);
struct fmt_table *fmt_table_new(const struct fmt_col *, int ncols);
int		 fmt_table_add(struct fmt_table *, const struct span *cells);
void		 fmt_table_print(struct fmt_table *, FILE *, size_t width);
void		 fmt_table_free(struct fmt_table *);

/* filter.c */
void		 filter_init(struct filter *);
void		 filter_rule_defaults(struct rule_opts *);
int		 filter_rule_option(struct rule_opts *, const char *name,
		    const char *arg, char *err, size_t errlen);
int		 filter_option(struct filter *, const char *name,
		    const char *arg, char *err, size_t errlen);
int		 filter_active(const struct filter *);
void		 filter_sql(const struct filter *, const char *alias, char *buf,
		    size_t len);
int		 filter_bind(const struct filter *, sqlite3_stmt *);
int		 filter_register(sqlite3 *);
int		 filter_net(const char *ip, int v4len, int v6len, char *out,
		    size_t outlen);
int		 filter_parse_net(const char *, struct sockaddr_storage *,
		    int *prefix);
int		 filter_in_net(const char *ip, const struct sockaddr_storage *,
		    int prefix);

/* out.c */
int		 out_begin(struct out *, enum report_format, FILE *,
		    const struct out_col *, int ncols, const char *section);
int		 out_row(struct out *, sqlite3_stmt *);
int		 out_row_vals(struct out *, const struct out_val *);
void		 out_stmt_val(sqlite3_stmt *, int, enum out_type,
		    struct out_val *);
void		 out_csv_header(FILE *, const struct out_col *, int ncols,
		    int with_section);
int		 out_end(struct out *);
int		 out_prepare(sqlite3 *, const char *sql, sqlite3_stmt **,
		    const char *what);
int		 out_table_exists(sqlite3 *, const char *name);
void		 out_set_sink(out_sink_fn *, void *arg);

/* report.c */
int		 cmd_report(int argc, char **argv, const char *default_db);
int		 report_help(FILE *, const char *sub);

/* summary.c */
int		 report_summary(struct store *, const struct report_args *);

/* top.c */
int		 report_top(struct store *, const struct report_args *);

/* timeline.c */
int		 report_timeline(struct store *, const struct report_args *);
int		 timeline_parse_bucket(const char *, int64_t *us);

/* export_share.c: the sharing formats and the ignored clients. */
struct share_ignored {
	char		**ip;		/* sorted; recorded as ignored */
	size_t		  n;
	struct config	 *conf;		/* --config FILE's, or NULL */
	const struct ignore_net *nets;	/* "ignore" networks */
	int		  nnets;
};
int		 share_ignored_load(sqlite3 *, const char *config,
		    struct share_ignored *, char *err, size_t errlen);
int		 share_ignored_has(const struct share_ignored *,
		    const char *ip);
void		 share_ignored_free(struct share_ignored *);

/* export_run.c */
int		 cmd_export(int argc, char **argv, const char *default_db);
struct export_opts;
int		 export_run_opts(sqlite3 *, const char *dbpath,
		    const struct export_opts *);
size_t		 export_last_entries(void);
void		 export_help(FILE *);
/* export_opts.c */
struct export_opts *export_opts_parse(const char *format, const char *path,
		    const char *args, char *err, size_t errlen);
int		 export_argv(const char *format, const char *path,
		    const char *args, char *buf, size_t buflen, char **argv,
		    int maxargv);
/* export_share.c: what the store's periodic exports leave out */
void		 share_ignore_nets(const struct ignore_net *, int n);

/* window.c: windowed answers from the rollups */
enum win_dim {
	W_DECOY, W_ROLE, W_STAGE, W_REASON, W_COUNTRY, W_ASN, W_OS, W_FP,
	W_ANOM, W_IP, W_NET, W_BUCKET
};
struct win_value {
	const char	*key;		/* NULL: an integer key, ikey */
	size_t		 keylen;
	int64_t		 ikey;		/* asn, anomaly bit, bucket start */
	const char	*label;		/* NULL: none */
	int64_t		 sessions, clients, first, last;
	int64_t		 primary, backup, decoy;	/* W_BUCKET */
};
struct win_agg;
int		 window_usable(sqlite3 *);
int		 window_value_cmp(const void *, const void *);
void		 window_hours(sqlite3 *, const struct filter *, int64_t *,
		    int64_t *);
struct win_agg	*window_agg_new(uint32_t dims, int64_t bucket);
int		 window_agg_run(struct win_agg *, sqlite3 *,
		    const struct filter *);
struct win_value *window_agg_sorted(struct win_agg *, int dim, int64_t limit,
		    size_t *n);
const struct win_value *window_agg_total(const struct win_agg *);
void		 window_agg_free(struct win_agg *);
void		 window_key_vals(const struct win_value *, int dim,
		    struct out_val *, char *num, size_t);

/* window_country.c: report top countries over a window */
struct wcc;
int		 window_country_usable(const struct filter *);
struct wcc	*window_country_run(sqlite3 *, const struct filter *);
struct win_value *window_country_sorted(struct wcc *, int64_t limit,
		    size_t *n);
int64_t		 window_country_total(const struct wcc *);
void		 window_country_free(struct wcc *);

/* ip.c */
int		 report_ip(struct store *, const struct report_args *);

/* export_list.c: the export's verdict on one address (report ip) */
struct allowlist;
struct export_hit {
	int		 listed;	/* the export lists the address */
	int		 aggregate;	/* through a network, not itself */
	int		 excluded;	/* an allowlist exclusion ("!") */
	uint32_t	 reasons;	/* of the entry */
	char		 entry[ADDR_STRLEN + 8];	/* e.g. 2001:db8::/64 */
	char		 neighbour[ADDR_STRLEN];	/* "" : none */
};
int		 export_lookup(sqlite3 *, const struct rule_opts *,
		    const struct allowlist *, const char *ip,
		    struct export_hit *, char *err, size_t errlen);

/* txn.c: the MAIL transactions of stored sessions (schema 8) */
struct txn_q {
	sqlite3_stmt	*txn, *rcpt;
};
int		 txnq_open(sqlite3 *, struct txn_q *);
void		 txnq_json(struct txn_q *, FILE *, int64_t session_id);
void		 txnq_text(struct txn_q *, FILE *, int64_t session_id,
		    int senders_only);
void		 txnq_close(struct txn_q *);
/* html.c */
int		 report_html(struct store *, const struct report_args *);

/* svg.c */
struct svg_bar {
	struct span	 label;		/* from the network: escaped */
	struct span	 sub;		/* a second line, or { NULL, 0 } */
	int64_t		 value;
};

struct svg_series {
	const char	*name;		/* our own text */
	const char	*cls;		/* CSS class of its marks */
	const int64_t	*v;		/* one value per bucket */
	int		 line;		/* a polyline over the stack */
};

struct svg_flow {
	const char	*from, *to;	/* our own text */
	const char	*cls;
	int64_t		 n;
};

enum html_ctx { HTML_TEXT, HTML_ATTR, HTML_SVG };

void		 html_text(FILE *, const char *p, size_t len, enum html_ctx,
		    size_t maxchars);
void		 html_span(FILE *, struct span, size_t maxchars);
void		 html_num(FILE *, int64_t);
void		 html_time(FILE *, int64_t us, int seconds);
void		 svg_hbars(FILE *, const char *id, const struct svg_bar *,
		    size_t n);
void		 svg_columns(FILE *, const char *id, int64_t t0,
		    int64_t bucket, size_t n, const struct svg_series *,
		    size_t nseries);
void		 svg_flow(FILE *, const char *id, const struct svg_flow *,
		    size_t n);

#endif /* REPORTS_H */
