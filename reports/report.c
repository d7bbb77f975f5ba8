/* SPDX-License-Identifier: ISC */
/*
 * report.c -- the "decoymx report" command: read-only queries over the
 * database, printed as an aligned table, CSV or JSON.  Reports open the
 * database read-only and never create it; they run beside the daemon
 * (WAL readers do not block the writer).
 *
 *	decoymx report summary|top KIND|ip ADDR|timeline|sessions
 *	    [--db PATH] [--since DUR|TIME] [--until DUR|TIME]
 *	    [--decoy ADDR] [--country CC] [--asn N] [--cidr NET]
 *	    [--limit N] [--bucket DUR] [--format table|csv|json]
 *
 * This file holds the command table, the shared options and "sessions";
 * each other report has a file of its own (summary.c, top.c, ip.c,
 * timeline.c).  The JSON field names of every report are a contract
 * (doc/DESIGN.md §11): extend, never rename.
 *
 * Exports cmd_report().
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

struct report_cmd {
	const char	*name;
	const char	*usage;
	int		 nwords;	/* words after the name */
	int		(*run)(struct store *, const struct report_args *);
};

/* Columns of the sessions query, in SELECT order. */
enum {
	C_ID, C_UID, C_START, C_END, C_SRC_IP, C_SRC_PORT, C_DST_IP,
	C_DST_PORT, C_MX_PREF, C_ROLE, C_GREET, C_HELO_VERB, C_HELO,
	C_MAIL_FROM, C_RCPT_TOTAL, C_STAGE, C_REPLY, C_REASON, C_BYTES_IN,
	C_BYTES_OUT, C_ANOM, C_COUNTRY, C_ASN, C_AS_ORG, C_OS,
	C_OS_CLASS, C_SENSOR, C_TXN_TOTAL, C_VIA
};

/*
 * How a field is made from the row: a column as it is (K_INT, K_TEXT,
 * K_TIME, K_ANOM), or built: the duration, the lists of the session's
 * recipients, AUTH attempts and transactions, and for the table the
 * decoy as ADDR:PORT and every sender.
 */
enum kind {
	K_INT, K_TEXT, K_TIME, K_DURATION, K_RCPTS, K_AUTH, K_ANOM, K_TXNS,
	K_DST, K_SENDERS
};

struct field {
	const char	*name;
	int		 col;
	enum kind	 kind;
	int		 flags;		/* table: FMT_RIGHT, FMT_SHRINK */
};

/* The out.c type of each kind. */
static const enum out_type kind_type[] = {
	[K_INT] = OUT_INT, [K_TEXT] = OUT_TEXT, [K_TIME] = OUT_TIME,
	[K_DURATION] = OUT_SECONDS, [K_RCPTS] = OUT_LIST,
	[K_AUTH] = OUT_LIST, [K_ANOM] = OUT_ANOMS, [K_TXNS] = OUT_LIST,
	[K_DST] = OUT_TEXT, [K_SENDERS] = OUT_TEXT,
};

/* The JSON objects and CSV columns of "report sessions", in order. */
static const struct field session_fields[] = {
	{ "id",			C_ID,		K_INT, 0 },
	{ "uid",		C_UID,		K_TEXT, 0 },
	{ "start",		C_START,	K_TIME, 0 },
	{ "end",		C_END,		K_TIME, 0 },
	{ "duration",		C_START,	K_DURATION, 0 },
	{ "src_ip",		C_SRC_IP,	K_TEXT, 0 },
	{ "src_port",		C_SRC_PORT,	K_INT, 0 },
	{ "dst_ip",		C_DST_IP,	K_TEXT, 0 },
	{ "dst_port",		C_DST_PORT,	K_INT, 0 },
	{ "mx_pref",		C_MX_PREF,	K_INT, 0 },
	{ "role",		C_ROLE,		K_TEXT, 0 },
	{ "greeting_delay_ms",	C_GREET,	K_INT, 0 },
	{ "helo_verb",		C_HELO_VERB,	K_TEXT, 0 },
	{ "helo",		C_HELO,		K_TEXT, 0 },
	{ "mail_from",		C_MAIL_FROM,	K_TEXT, 0 },
	{ "rcpt_to",		C_ID,		K_RCPTS, 0 },
	{ "auth",		C_ID,		K_AUTH, 0 },
	{ "stage",		C_STAGE,	K_TEXT, 0 },
	{ "reply_code",		C_REPLY,	K_INT, 0 },
	{ "close_reason",	C_REASON,	K_TEXT, 0 },
	{ "bytes_in",		C_BYTES_IN,	K_INT, 0 },
	{ "bytes_out",		C_BYTES_OUT,	K_INT, 0 },
	{ "anomalies",		C_ANOM,		K_ANOM, 0 },
	{ "country",		C_COUNTRY,	K_TEXT, 0 },
	{ "asn",		C_ASN,		K_INT, 0 },
	{ "as_org",		C_AS_ORG,	K_TEXT, 0 },
	{ "os",			C_OS,		K_TEXT, 0 },
	{ "os_class",		C_OS_CLASS,	K_TEXT, 0 },
	{ "sensor",		C_SENSOR,	K_TEXT, 0 },
	{ "transactions_total",	C_TXN_TOTAL,	K_INT, 0 },
	{ "transactions",	C_ID,		K_TXNS, 0 },
	{ "via",		C_VIA,		K_TEXT, 0 },
};

/* The compact columns of the table. */
static const struct field session_table[] = {
	{ "start",		C_START,	K_TIME, 0 },
	{ "src_ip",		C_SRC_IP,	K_TEXT, 0 },
	{ "dst",		C_DST_IP,	K_DST, 0 },
	{ "role",		C_ROLE,		K_TEXT, 0 },
	{ "helo",		C_HELO,		K_TEXT, FMT_SHRINK },
	{ "mail_from",		C_MAIL_FROM,	K_SENDERS, FMT_SHRINK },
	{ "rcpts",		C_RCPT_TOTAL,	K_INT, FMT_RIGHT },
	{ "stage",		C_STAGE,	K_TEXT, 0 },
	{ "reply",		C_REPLY,	K_INT, FMT_RIGHT },
	{ "reason",		C_REASON,	K_TEXT, 0 },
	{ "anomalies",		C_ANOM,		K_ANOM, FMT_SHRINK },
};

#define NSESSION_FIELDS	(sizeof(session_fields) / sizeof(session_fields[0]))

/*
 * The most recent LIMIT sessions that pass the filter (%s), printed
 * oldest first.
 */
static const char session_sql[] =
    "SELECT * FROM (SELECT id, uid, start_us, end_us, src_ip, src_port,"
    " dst_ip, dst_port, mx_pref, role, greeting_delay_ms, helo_verb, helo,"
    " mail_from, rcpt_total, stage, reply_code, close_reason, bytes_in,"
    " bytes_out, anomalies, country, asn, as_org, os, os_class, sensor,"
    " transactions, via FROM sessions s"
    " WHERE 1%s"
    " ORDER BY start_us DESC, id DESC LIMIT :limit)"
    " ORDER BY start_us, id";

struct sess_q {
	sqlite3_stmt	*row, *rcpt, *auth;
	struct txn_q	 tq;
	int		 json;		/* lists as JSON, else as text */
	char		 dst[ADDR_STRLEN + 16];	/* the row's K_DST */
};

static int	 report_usage(void);
static int	 report_sessions(struct store *, const struct report_args *);
static struct span report_col(sqlite3_stmt *, int);
static void	 report_json_text(FILE *, struct span);
static void	 report_json_list(struct sess_q *, const struct field *,
		    FILE *);
static void	 report_join(struct sess_q *, const struct field *, FILE *);
static int	 report_built(struct sess_q *, const struct field *,
		    struct out_val *, char **);
static int	 report_session_row(struct sess_q *, struct out *,
		    const struct field *, size_t);
static int	 report_parse_args(int, char **, struct report_args *);
static int	 report_opt_filter(void *, const struct opt *, const char *,
		    char *, size_t);
static int	 report_opt_rule(void *, const struct opt *, const char *,
		    char *, size_t);
static int	 report_opt_bucket(void *, const struct opt *, const char *,
		    char *, size_t);
static int	 report_opt_limit(void *, const struct opt *, const char *,
		    char *, size_t);
static int	 report_opt_format(void *, const struct opt *, const char *,
		    char *, size_t);

#define REPORT_OPTS	"[--db PATH] [--since DUR|TIME] [--until DUR|TIME] " \
	"[--decoy ADDR] [--country CC] [--asn N] [--cidr NET] " \
	"[--format table|csv|json]"

static const struct report_cmd report_cmds[] = {
	{ "summary", "summary " REPORT_OPTS, 0, report_summary },
	{ "top", "top ips|nets|helos|senders|sender-domains|recipients|"
	    "countries|asns|os|anomalies|fingerprints [--limit N] " REPORT_OPTS,
	    1, report_top },
	{ "ip", "ip ADDR [--limit N] [--window DUR] [--rules LIST] "
	    "[--allowlist FILE] [--max-age DUR] [--min-sessions N] "
	    REPORT_OPTS, 1, report_ip },
	{ "timeline", "timeline [--bucket 5m|1h|1d] " REPORT_OPTS, 0,
	    report_timeline },
	{ "sessions", "sessions [--limit N] " REPORT_OPTS, 0,
	    report_sessions },
	{ "html", "html [-o FILE] [--bucket DUR] [--limit N] [rule options] "
	    REPORT_OPTS, 0, report_html },
};

#define NREPORT_CMDS	(sizeof(report_cmds) / sizeof(report_cmds[0]))

static int
report_usage(void)
{
	for (size_t i = 0; i < NREPORT_CMDS; i++)
		fprintf(stderr, "%s decoymx report %s\n", i == 0 ? "usage:" :
		    "      ", report_cmds[i].usage);
	return EXIT_USAGE;
}

/* A column as a span: NULL pointer for SQL NULL, bytes as stored. */
static struct span
report_col(sqlite3_stmt *q, int col)
{
	struct span	 s = { NULL, 0 };

	if (sqlite3_column_type(q, col) == SQLITE_NULL)
		return s;
	s.p = (const char *)sqlite3_column_text(q, col);
	s.len = (size_t)sqlite3_column_bytes(q, col);
	if (s.p == NULL)
		s.p = "";
	return s;
}

/* Text as a JSON string, null for SQL NULL. */
static void
report_json_text(FILE *f, struct span s)
{
	if (s.p == NULL)
		fputs("null", f);
	else
		fmt_json_str(f, s.p, s.len);
}

/*
 * A list field of the session as JSON on out: the recipients (strings),
 * the AUTH attempts ({"mechanism", "user"}) or the transactions.
 */
static void
report_json_list(struct sess_q *sq, const struct field *fd, FILE *out)
{
	sqlite3_stmt	*q = fd->kind == K_RCPTS ? sq->rcpt : sq->auth;
	int		 first = 1;

	if (fd->kind == K_TXNS) {
		txnq_json(&sq->tq, out, sqlite3_column_int64(sq->row, C_ID));
		return;
	}
	putc('[', out);
	sqlite3_bind_int64(q, 1, sqlite3_column_int64(sq->row, C_ID));
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (fd->kind == K_RCPTS) {
			if (!first)
				putc(',', out);
			report_json_text(out, report_col(q, 0));
		} else {
			fputs(first ? "{\"mechanism\":" : ",{\"mechanism\":",
			    out);
			report_json_text(out, report_col(q, 0));
			fputs(",\"user\":", out);
			report_json_text(out, report_col(q, 1));
			putc('}', out);
		}
		first = 0;
	}
	sqlite3_reset(q);
	putc(']', out);
}

/*
 * The raw, unescaped text of a list field, space-separated, into out:
 * recipients, AUTH attempts as "mechanism:user" (or "mechanism"), the
 * transactions, or (K_SENDERS) every transaction's sender.
 */
static void
report_join(struct sess_q *sq, const struct field *fd, FILE *out)
{
	sqlite3_stmt	*q;
	struct span	 s;
	int		 first = 1;

	if (fd->kind == K_TXNS || fd->kind == K_SENDERS) {
		txnq_text(&sq->tq, out, sqlite3_column_int64(sq->row, C_ID),
		    fd->kind == K_SENDERS);
		return;
	}
	q = fd->kind == K_RCPTS ? sq->rcpt : sq->auth;
	sqlite3_bind_int64(q, 1, sqlite3_column_int64(sq->row, C_ID));
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (!first)
			putc(' ', out);
		s = report_col(q, 0);
		fwrite(s.p != NULL ? s.p : "", 1, s.len, out);
		if (fd->kind == K_AUTH &&
		    (s = report_col(q, 1)).p != NULL) {
			putc(':', out);
			fwrite(s.p, 1, s.len, out);
		}
		first = 0;
	}
	sqlite3_reset(q);
}

/*
 * The value of a field that is built, not a column, into v: the
 * duration; the decoy as ADDR:PORT (in sq->dst); a list's text, or its
 * JSON, in *buf (allocated; the caller frees it).  A table's senders
 * are the column unless the session had more than one transaction.  0
 * or -1 (ENOMEM).
 */
static int
report_built(struct sess_q *sq, const struct field *fd, struct out_val *v,
    char **buf)
{
	sqlite3_stmt	*q = sq->row;
	struct span	 ip = report_col(q, C_DST_IP);
	FILE		*mem;
	size_t		 len = 0;

	if (fd->kind == K_DURATION) {
		v->d = (double)(sqlite3_column_int64(q, C_END) -
		    sqlite3_column_int64(q, C_START)) / 1e6;
		return 0;
	}
	if (fd->kind == K_SENDERS && sqlite3_column_int64(q, C_TXN_TOTAL) <= 1) {
		out_stmt_val(q, fd->col, OUT_TEXT, v);
		return 0;
	}
	if (fd->kind == K_DST) {
		snprintf(sq->dst, sizeof(sq->dst), ip.p != NULL &&
		    memchr(ip.p, ':', ip.len) != NULL ? "[%.*s]:%d" : "%.*s:%d",
		    (int)ip.len, ip.p != NULL ? ip.p : "",
		    sqlite3_column_int(q, C_DST_PORT));
		v->s = (struct span){ sq->dst, strlen(sq->dst) };
		return 0;
	}
	if ((mem = open_memstream(buf, &len)) == NULL)
		return -1;
	if (sq->json && fd->kind != K_SENDERS)
		report_json_list(sq, fd, mem);
	else
		report_join(sq, fd, mem);
	if (fclose(mem) != 0)
		return -1;
	if (sq->json && fd->kind != K_SENDERS)
		v->j = (struct span){ *buf, len };
	else
		v->s = (struct span){ *buf, len };
	return 0;
}

/* The current session row as fields into o.  0 or -1 (ENOMEM). */
static int
report_session_row(struct sess_q *sq, struct out *o,
    const struct field *fields, size_t n)
{
	struct out_val	 v[NSESSION_FIELDS];
	char		*bufs[NSESSION_FIELDS];
	int		 ret = 0;

	memset(bufs, 0, sizeof(bufs));
	for (size_t i = 0; i < n && ret == 0; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		if (kind_type[fields[i].kind] == OUT_LIST ||
		    fields[i].kind == K_DURATION || fields[i].kind == K_DST ||
		    fields[i].kind == K_SENDERS)
			ret = report_built(sq, &fields[i], &v[i], &bufs[i]);
		else
			out_stmt_val(sq->row, fields[i].col,
			    kind_type[fields[i].kind], &v[i]);
	}
	if (ret == 0)
		ret = out_row_vals(o, v);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
	return ret;
}

/*
 * decoymx report sessions: the latest --limit sessions, oldest first,
 * every field in JSON and CSV, the compact columns of session_table in
 * a table.  Returns the exit status.
 */
static int
report_sessions(struct store *st, const struct report_args *a)
{
	sqlite3		*db = store_db(st);
	struct sess_q	 sq = { NULL, NULL, NULL, { NULL, NULL }, 0, "" };
	struct out	 o;
	struct out_col	 cols[NSESSION_FIELDS];
	const struct field *fields = a->format == FORMAT_TABLE ?
			    session_table : session_fields;
	size_t		 n = a->format == FORMAT_TABLE ?
			    sizeof(session_table) / sizeof(session_table[0]) :
			    NSESSION_FIELDS;
	int		 rc, ret = EXIT_RUNTIME, begun = 0;
	char		 where[512], sql[sizeof(session_sql) + sizeof(where)];

	sq.json = a->format == FORMAT_JSON;
	filter_sql(&a->filt, "s", where, sizeof(where));
	snprintf(sql, sizeof(sql), session_sql, where);
	if (sqlite3_prepare_v2(db, sql, -1, &sq.row, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT rcpt FROM recipients"
	    " WHERE session_id = ?1 ORDER BY seq", -1, &sq.rcpt, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT mechanism, username FROM"
	    " auth_attempts WHERE session_id = ?1 ORDER BY seq", -1, &sq.auth,
	    NULL) || txnq_open(db, &sq.tq) == -1) {
		fprintf(stderr, "decoymx report sessions: database %s: %s\n",
		    store_path(st), sqlite3_errmsg(db));
		goto out;
	}
	filter_bind(&a->filt, sq.row);
	sqlite3_bind_int64(sq.row, sqlite3_bind_parameter_index(sq.row,
	    ":limit"), a->limit);

	for (size_t i = 0; i < n; i++)
		cols[i] = (struct out_col){ fields[i].name,
		    kind_type[fields[i].kind], fields[i].flags };
	if (out_begin(&o, a->format, stdout, cols, (int)n, NULL) == -1)
		goto nomem;
	begun = 1;
	while ((rc = sqlite3_step(sq.row)) == SQLITE_ROW)
		if (report_session_row(&sq, &o, fields, n) == -1)
			goto nomem;
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "decoymx report sessions: database %s: %s\n",
		    store_path(st), sqlite3_errmsg(db));
		goto out;
	}
	begun = 0;
	out_end(&o);
	ret = 0;
	goto out;
nomem:
	fprintf(stderr, "decoymx report sessions: out of memory\n");
out:
	if (begun && o.format == FORMAT_TABLE) {
		fmt_table_free(o.t);
		free(o.tcols);
	}
	sqlite3_finalize(sq.row);
	sqlite3_finalize(sq.rcpt);
	sqlite3_finalize(sq.auth);
	txnq_close(&sq.tq);
	return ret;
}

/* --since, --until, --decoy, --country, --asn, --cidr: a filter. */
static int
report_opt_filter(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	struct report_args	*a = ctx;

	return filter_option(&a->filt, o->name, v, err, errlen) != 0 ? -1 : 0;
}

/* --window, --rules, --allowlist, --max-age, --min-sessions: a rule. */
static int
report_opt_rule(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	struct report_args	*a = ctx;

	return filter_rule_option(&a->rules, o->name, v, err, errlen) != 0 ?
	    -1 : 0;
}

/* --bucket DUR (timeline, html). */
static int
report_opt_bucket(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	struct report_args	*a = ctx;

	(void)o;
	if (timeline_parse_bucket(v, &a->bucket_us) == 0)
		return 0;
	snprintf(err, errlen, "bad --bucket %s: want a duration from 1m to "
	    "7d (5m, 1h, 1d)", v);
	return -1;
}

/* --limit N */
static int
report_opt_limit(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	struct report_args	*a = ctx;
	char			*end;

	(void)o;
	errno = 0;
	a->limit = strtoll(v, &end, 10);
	if (*v != '\0' && *end == '\0' && a->limit > 0 && errno != ERANGE)
		return 0;
	snprintf(err, errlen, "bad --limit %s: want a positive number", v);
	return -1;
}

/* --format table|csv|json */
static int
report_opt_format(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	static const struct {
		const char		*name;
		enum report_format	 format;
	} formats[] = {
		{ "table", FORMAT_TABLE }, { "csv", FORMAT_CSV },
		{ "json", FORMAT_JSON },
	};
	struct report_args	*a = ctx;

	(void)o;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(v, formats[i].name) == 0) {
			a->format = formats[i].format;
			return 0;
		}
	snprintf(err, errlen, "bad --format %s: want table, csv or json", v);
	return -1;
}

#define RA(f)	offsetof(struct report_args, f)

/* The options every report takes (report_cmds[] says which apply). */
static const struct opt report_optv[] = {
	{ "db", 0, 1, opt_set_str, RA(db) },
	{ "since", 0, 1, report_opt_filter, 0 },
	{ "until", 0, 1, report_opt_filter, 0 },
	{ "decoy", 0, 1, report_opt_filter, 0 },
	{ "country", 0, 1, report_opt_filter, 0 },
	{ "asn", 0, 1, report_opt_filter, 0 },
	{ "cidr", 0, 1, report_opt_filter, 0 },
	{ "limit", 0, 1, report_opt_limit, 0 },
	{ "bucket", 0, 1, report_opt_bucket, 0 },
	{ "format", 0, 1, report_opt_format, 0 },
	{ "window", 0, 1, report_opt_rule, 0 },
	{ "rules", 0, 1, report_opt_rule, 0 },
	{ "allowlist", 0, 1, report_opt_rule, 0 },
	{ "max-age", 0, 1, report_opt_rule, 0 },
	{ "min-sessions", 0, 1, report_opt_rule, 0 },
	{ "output", 'o', 1, opt_set_str, RA(output) },
};

/*
 * Parses the options shared by every report into *a (report_optv[]);
 * the subcommand and any words after it are left in a->argc/a->argv.
 * Returns 0, or EXIT_USAGE after printing why.
 */
static int
report_parse_args(int argc, char **argv, struct report_args *a)
{
	char	 err[256];
	int	 rv;

	a->argv = argv + 1;
	rv = opt_parse(argc, argv, report_optv, sizeof(report_optv) /
	    sizeof(report_optv[0]), a, a->argv, argc - 1, &a->argc, err,
	    sizeof(err));
	if (rv == 0)
		return 0;
	fprintf(stderr, "decoymx report: %s\n", err);
	return rv == -2 ? report_usage() : EXIT_USAGE;
}

/*
 * decoymx report NAME [options]: argv[0] is "report"; options may come
 * before or after NAME.  default_db is used without --db.  Returns the
 * exit status: 0, 1 (runtime failure) or 2 (usage).
 */
int
cmd_report(int argc, char **argv, const char *default_db)
{
	struct report_args	 a;
	struct store		*st;
	char			 err[1024];
	int			 ret;

	memset(&a, 0, sizeof(a));
	a.db = default_db;
	filter_init(&a.filt);
	filter_rule_defaults(&a.rules);
	a.limit = -1;
	a.format = FORMAT_TABLE;
	if ((ret = report_parse_args(argc, argv, &a)) != 0)
		return ret;
	if (a.argc < 1)
		return report_usage();
	for (size_t i = 0; i < NREPORT_CMDS; i++) {
		if (strcmp(a.argv[0], report_cmds[i].name) != 0)
			continue;
		if (a.argc != 1 + report_cmds[i].nwords ||
		    (a.rules.given && report_cmds[i].run != report_ip &&
		    report_cmds[i].run != report_html) ||
		    (a.output != NULL && report_cmds[i].run != report_html))
			return report_usage();
		if (a.db == NULL || *a.db == '\0') {
			fprintf(stderr, "decoymx report: no database given "
			    "(--db PATH)\n");
			return EXIT_USAGE;
		}
		if ((st = store_open(a.db, STORE_RO, err, sizeof(err))) ==
		    NULL) {
			fprintf(stderr, "decoymx report: %s\n", err);
			return EXIT_RUNTIME;
		}
		if (filter_register(store_db(st)) == -1) {
			fprintf(stderr, "decoymx report: cannot register SQL "
			    "functions: %s\n", sqlite3_errmsg(store_db(st)));
			store_close(st);
			return EXIT_RUNTIME;
		}
		ret = report_cmds[i].run(st, &a);
		store_close(st);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			fprintf(stderr, "decoymx report: cannot write the "
			    "report\n");
			ret = EXIT_RUNTIME;
		}
		return ret;
	}
	{
		struct suggest	 sg;

		suggest_init(&sg, a.argv[0]);
		for (size_t i = 0; i < NREPORT_CMDS; i++)
			suggest_try(&sg, report_cmds[i].name);
		if (suggest_best(&sg) != NULL)
			fprintf(stderr, "decoymx report: unknown report: %s; "
			    "did you mean %s?\n", a.argv[0], suggest_best(&sg));
		else
			fprintf(stderr, "decoymx report: unknown report: %s\n",
			    a.argv[0]);
	}
	return report_usage();
}

/*
 * The usage of report sub (every report when sub is NULL) on f, for
 * -h.  Returns 0, or -1 when sub is no report.
 */
int
report_help(FILE *f, const char *sub)
{
	int	 found = 0;

	for (size_t i = 0; i < NREPORT_CMDS; i++) {
		if (sub != NULL && strcmp(sub, report_cmds[i].name) != 0)
			continue;
		fprintf(f, "%s decoymx report %s\n", found ? "      " :
		    "usage:", report_cmds[i].usage);
		found = 1;
	}
	if (!found)
		return -1;
	fputs("\nSee decoymx(8), COMMANDS.\n", f);
	return 0;
}
