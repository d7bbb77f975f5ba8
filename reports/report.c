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
#include <getopt.h>
#include <inttypes.h>
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

/* How a field is rendered from its column. */
enum kind {
	K_INT, K_TEXT, K_TIME, K_DURATION, K_RCPTS, K_AUTH, K_ANOM, K_TXNS
};

struct field {
	const char	*name;
	int		 col;
	enum kind	 kind;
};

/* The JSON objects and CSV columns of "report sessions", in order. */
static const struct field session_fields[] = {
	{ "id",			C_ID,		K_INT },
	{ "uid",		C_UID,		K_TEXT },
	{ "start",		C_START,	K_TIME },
	{ "end",		C_END,		K_TIME },
	{ "duration",		C_START,	K_DURATION },
	{ "src_ip",		C_SRC_IP,	K_TEXT },
	{ "src_port",		C_SRC_PORT,	K_INT },
	{ "dst_ip",		C_DST_IP,	K_TEXT },
	{ "dst_port",		C_DST_PORT,	K_INT },
	{ "mx_pref",		C_MX_PREF,	K_INT },
	{ "role",		C_ROLE,		K_TEXT },
	{ "greeting_delay_ms",	C_GREET,	K_INT },
	{ "helo_verb",		C_HELO_VERB,	K_TEXT },
	{ "helo",		C_HELO,		K_TEXT },
	{ "mail_from",		C_MAIL_FROM,	K_TEXT },
	{ "rcpt_to",		C_ID,		K_RCPTS },
	{ "auth",		C_ID,		K_AUTH },
	{ "stage",		C_STAGE,	K_TEXT },
	{ "reply_code",		C_REPLY,	K_INT },
	{ "close_reason",	C_REASON,	K_TEXT },
	{ "bytes_in",		C_BYTES_IN,	K_INT },
	{ "bytes_out",		C_BYTES_OUT,	K_INT },
	{ "anomalies",		C_ANOM,		K_ANOM },
	{ "country",		C_COUNTRY,	K_TEXT },
	{ "asn",		C_ASN,		K_INT },
	{ "as_org",		C_AS_ORG,	K_TEXT },
	{ "os",			C_OS,		K_TEXT },
	{ "os_class",		C_OS_CLASS,	K_TEXT },
	{ "sensor",		C_SENSOR,	K_TEXT },
	{ "transactions_total",	C_TXN_TOTAL,	K_INT },
	{ "transactions",	C_ID,		K_TXNS },
	{ "via",		C_VIA,		K_TEXT },
};

#define NSESSION_FIELDS	(sizeof(session_fields) / sizeof(session_fields[0]))

static const struct fmt_col session_cols[] = {
	{ "start", 0 }, { "src_ip", 0 }, { "dst", 0 }, { "role", 0 },
	{ "helo", FMT_SHRINK }, { "mail_from", FMT_SHRINK },
	{ "rcpts", FMT_RIGHT }, { "stage", 0 }, { "reply", FMT_RIGHT },
	{ "reason", 0 }, { "anomalies", FMT_SHRINK },
};

#define NSESSION_COLS	(sizeof(session_cols) / sizeof(session_cols[0]))

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
	FILE		*f;
	struct txn_q	 tq;
};

static int	 report_usage(void);
static int	 report_sessions(struct store *, const struct report_args *);
static struct span report_col(sqlite3_stmt *, int);
static void	 report_json_text(FILE *, struct span);
static void	 report_anoms(int64_t, char *, size_t);
static void	 report_json_field(struct sess_q *, const struct field *);
static int	 report_csv_field(struct sess_q *, const struct field *);
static void	 report_join(struct sess_q *, const struct field *, FILE *);
static int	 report_table_row(struct sess_q *, struct fmt_table *);
static int	 report_parse_args(int, char **, struct report_args *);

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

static void
report_json_text(FILE *f, struct span s)
{
	if (s.p == NULL)
		fputs("null", f);
	else
		fmt_json_str(f, s.p, s.len);
}

static void
report_json_field(struct sess_q *sq, const struct field *fd)
{
	sqlite3_stmt	*q = sq->row;
	FILE		*f = sq->f;
	char		 buf[64];
	int		 first = 1;

	fprintf(f, "\"%s\":", fd->name);
	if (fd->kind != K_RCPTS && fd->kind != K_AUTH &&
	    fd->kind != K_DURATION && fd->kind != K_TXNS &&
	    sqlite3_column_type(q, fd->col) == SQLITE_NULL) {
		fputs("null", f);
		return;
	}
	switch (fd->kind) {
	case K_INT:
		fprintf(f, "%lld", (long long)sqlite3_column_int64(q, fd->col));
		break;
	case K_TEXT:
		report_json_text(f, report_col(q, fd->col));
		break;
	case K_TIME:
		util_iso8601(sqlite3_column_int64(q, fd->col), buf,
		    sizeof(buf));
		fprintf(f, "\"%s\"", buf);
		break;
	case K_DURATION:
		fprintf(f, "%.3f", (double)(sqlite3_column_int64(q, C_END) -
		    sqlite3_column_int64(q, C_START)) / 1e6);
		break;
	case K_ANOM:
		putc('[', f);
		for (int i = 0; i < ANOM_COUNT; i++) {
			if (!(sqlite3_column_int64(q, fd->col) & (1LL << i)))
				continue;
			fprintf(f, "%s\"%s\"", first ? "" : ",",
			    anomaly_name(i));	/* our own names */
			first = 0;
		}
		putc(']', f);
		break;
	case K_TXNS:
		txnq_json(&sq->tq, f, sqlite3_column_int64(q, C_ID));
		break;
	case K_RCPTS:
		putc('[', f);
		sqlite3_bind_int64(sq->rcpt, 1, sqlite3_column_int64(q, C_ID));
		while (sqlite3_step(sq->rcpt) == SQLITE_ROW) {
			if (!first)
				putc(',', f);
			report_json_text(f, report_col(sq->rcpt, 0));
			first = 0;
		}
		sqlite3_reset(sq->rcpt);
		putc(']', f);
		break;
	case K_AUTH:
		putc('[', f);
		sqlite3_bind_int64(sq->auth, 1, sqlite3_column_int64(q, C_ID));
		while (sqlite3_step(sq->auth) == SQLITE_ROW) {
			fputs(first ? "{\"mechanism\":" : ",{\"mechanism\":", f);
			report_json_text(f, report_col(sq->auth, 0));
			fputs(",\"user\":", f);
			report_json_text(f, report_col(sq->auth, 1));
			putc('}', f);
			first = 0;
		}
		sqlite3_reset(sq->auth);
		putc(']', f);
		break;
	}
}

/*
 * The raw, unescaped text of a list field, space-separated, into out:
 * recipients, AUTH attempts as "mechanism:user" (or "mechanism"), or
 * anomaly names.
 */
static void
report_join(struct sess_q *sq, const struct field *fd, FILE *out)
{
	sqlite3_stmt	*q;
	struct span	 s;
	int		 first = 1;

	if (fd->kind == K_ANOM) {
		char	 buf[256];

		report_anoms(sqlite3_column_int64(sq->row, fd->col), buf,
		    sizeof(buf));
		fputs(buf, out);
		return;
	}
	if (fd->kind == K_TXNS) {
		txnq_text(&sq->tq, out, sqlite3_column_int64(sq->row, C_ID), 0);
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

/* One CSV cell of a session; returns -1 on ENOMEM. */
static int
report_csv_field(struct sess_q *sq, const struct field *fd)
{
	sqlite3_stmt	*q = sq->row;
	struct span	 s;
	FILE		*mem;
	char		*buf = NULL, tmp[64];
	size_t		 len = 0;

	switch (fd->kind) {
	case K_INT:
		if (sqlite3_column_type(q, fd->col) != SQLITE_NULL)
			fprintf(sq->f, "%lld",
			    (long long)sqlite3_column_int64(q, fd->col));
		return 0;
	case K_TEXT:
		s = report_col(q, fd->col);
		fmt_csv_cell(sq->f, s.p, s.len);
		return 0;
	case K_TIME:
		util_iso8601(sqlite3_column_int64(q, fd->col), tmp,
		    sizeof(tmp));
		fputs(tmp, sq->f);
		return 0;
	case K_DURATION:
		fprintf(sq->f, "%.3f", (double)(sqlite3_column_int64(q, C_END) -
		    sqlite3_column_int64(q, C_START)) / 1e6);
		return 0;
	default:
		break;
	}
	if ((mem = open_memstream(&buf, &len)) == NULL)
		return -1;
	report_join(sq, fd, mem);
	if (fclose(mem) != 0) {
		free(buf);
		return -1;
	}
	fmt_csv_cell(sq->f, buf, len);
	free(buf);
	return 0;
}

/* The names of the anomaly bits set, space-separated, into buf. */
static void
report_anoms(int64_t bits, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < ANOM_COUNT; i++) {
		if (!(bits & (1LL << i)))
			continue;
		if (buf[0] != '\0')
			strlcpy_(buf + strlen(buf), " ", len - strlen(buf));
		strlcpy_(buf + strlen(buf), anomaly_name(i), len - strlen(buf));
	}
}

/* One table row: the compact columns of session_cols. */
static int
report_table_row(struct sess_q *sq, struct fmt_table *t)
{
	sqlite3_stmt	*q = sq->row;
	struct span	 cells[NSESSION_COLS];
	char		 start[64], dst[ADDR_STRLEN + 16], rcpts[16];
	char		 reply[16], anoms[256];
	struct span	 ip = report_col(q, C_DST_IP);
	char		*senders = NULL;
	size_t		 slen = 0;
	FILE		*mem;
	int		 rv;

	util_iso8601(sqlite3_column_int64(q, C_START), start, sizeof(start));
	start[10] = ' ';
	start[19] = '\0';	/* to the second: "YYYY-MM-DD HH:MM:SS" */
	if (ip.p == NULL)
		ip.p = "";
	snprintf(dst, sizeof(dst), memchr(ip.p, ':', ip.len) != NULL ?
	    "[%.*s]:%d" : "%.*s:%d", (int)ip.len, ip.p,
	    sqlite3_column_int(q, C_DST_PORT));
	snprintf(rcpts, sizeof(rcpts), "%d",
	    sqlite3_column_int(q, C_RCPT_TOTAL));
	snprintf(reply, sizeof(reply), "%d", sqlite3_column_int(q, C_REPLY));
	report_anoms(sqlite3_column_int64(q, C_ANOM), anoms, sizeof(anoms));

	cells[0] = (struct span){ start, strlen(start) };
	cells[1] = report_col(q, C_SRC_IP);
	cells[2] = (struct span){ dst, strlen(dst) };
	cells[3] = report_col(q, C_ROLE);
	cells[4] = report_col(q, C_HELO);
	cells[5] = report_col(q, C_MAIL_FROM);
	if (sqlite3_column_int64(q, C_TXN_TOTAL) > 1 &&
	    (mem = open_memstream(&senders, &slen)) != NULL) {
		/* Every sender, not only the first transaction's. */
		txnq_text(&sq->tq, mem, sqlite3_column_int64(q, C_ID), 1);
		if (fclose(mem) == 0)
			cells[5] = (struct span){ senders, slen };
	}
	cells[6] = (struct span){ rcpts, strlen(rcpts) };
	cells[7] = report_col(q, C_STAGE);
	cells[8] = sqlite3_column_type(q, C_REPLY) == SQLITE_NULL ?
	    (struct span){ NULL, 0 } : (struct span){ reply, strlen(reply) };
	cells[9] = report_col(q, C_REASON);
	cells[10] = (struct span){ anoms, strlen(anoms) };
	if (cells[10].len == 0)
		cells[10].p = NULL;
	rv = fmt_table_add(t, cells);
	free(senders);
	return rv;
}

static int
report_sessions(struct store *st, const struct report_args *a)
{
	sqlite3		*db = store_db(st);
	struct sess_q	 sq = { NULL, NULL, NULL, stdout, { NULL, NULL } };
	struct fmt_table *t = NULL;
	size_t		 nrows = 0;
	int		 rc, ret = EXIT_RUNTIME;
	char		 where[512], sql[sizeof(session_sql) + sizeof(where)];

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

	if (a->format == FORMAT_TABLE &&
	    (t = fmt_table_new(session_cols, NSESSION_COLS)) == NULL)
		goto nomem;
	if (a->format == FORMAT_JSON)
		putchar('[');
	if (a->format == FORMAT_CSV)
		for (size_t i = 0; i < NSESSION_FIELDS; i++)
			printf("%s%s", session_fields[i].name,
			    i + 1 < NSESSION_FIELDS ? "," : "\r\n");
	while ((rc = sqlite3_step(sq.row)) == SQLITE_ROW) {
		switch (a->format) {
		case FORMAT_JSON:
			fputs(nrows == 0 ? "\n{" : ",\n{", stdout);
			for (size_t i = 0; i < NSESSION_FIELDS; i++) {
				if (i > 0)
					putchar(',');
				report_json_field(&sq, &session_fields[i]);
			}
			putchar('}');
			break;
		case FORMAT_CSV:
			for (size_t i = 0; i < NSESSION_FIELDS; i++) {
				if (i > 0)
					putchar(',');
				if (report_csv_field(&sq,
				    &session_fields[i]) == -1)
					goto nomem;
			}
			fputs("\r\n", stdout);
			break;
		case FORMAT_TABLE:
			if (report_table_row(&sq, t) == -1)
				goto nomem;
			break;
		case FORMAT_ROWS:
			break;
		}
		nrows++;
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "decoymx report sessions: database %s: %s\n",
		    store_path(st), sqlite3_errmsg(db));
		goto out;
	}
	if (a->format == FORMAT_JSON)
		fputs(nrows == 0 ? "]\n" : "\n]\n", stdout);
	if (a->format == FORMAT_TABLE)
		fmt_table_print(t, stdout, fmt_term_width(stdout));
	ret = 0;
	goto out;
nomem:
	fprintf(stderr, "decoymx report sessions: out of memory\n");
out:
	fmt_table_free(t);
	sqlite3_finalize(sq.row);
	sqlite3_finalize(sq.rcpt);
	sqlite3_finalize(sq.auth);
	txnq_close(&sq.tq);
	return ret;
}

/*
 * Parses the options shared by every report into *a; the subcommand and
 * any words after it are left in a->argc/a->argv.  Returns 0, or
 * EXIT_USAGE after printing why.
 */
static int
report_parse_args(int argc, char **argv, struct report_args *a)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 'F' },
		{ "until", required_argument, NULL, 'F' },
		{ "decoy", required_argument, NULL, 'F' },
		{ "country", required_argument, NULL, 'F' },
		{ "asn", required_argument, NULL, 'F' },
		{ "cidr", required_argument, NULL, 'F' },
		{ "limit", required_argument, NULL, 'l' },
		{ "bucket", required_argument, NULL, 'b' },
		{ "format", required_argument, NULL, 'f' },
		{ "window", required_argument, NULL, 'R' },
		{ "rules", required_argument, NULL, 'R' },
		{ "allowlist", required_argument, NULL, 'R' },
		{ "max-age", required_argument, NULL, 'R' },
		{ "min-sessions", required_argument, NULL, 'R' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	char	*end, err[256];
	int	 ch, li;

	optind = 0;	/* glibc: full reset; permutes words to the end */
	while ((ch = getopt_long(argc, argv, "o:", longopts, &li)) != -1) {
		switch (ch) {
		case 'd':
			a->db = optarg;
			break;
		case 'o':
			a->output = optarg;
			break;
		case 'F':
			if (filter_option(&a->filt, longopts[li].name, optarg,
			    err, sizeof(err)) != 0) {
				fprintf(stderr, "decoymx report: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'R':
			if (filter_rule_option(&a->rules, longopts[li].name,
			    optarg, err, sizeof(err)) != 0) {
				fprintf(stderr, "decoymx report: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			if (timeline_parse_bucket(optarg,
			    &a->bucket_us) == -1) {
				fprintf(stderr, "decoymx report: bad --bucket "
				    "%s: want a duration from 1m to 7d (5m, "
				    "1h, 1d)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			errno = 0;
			a->limit = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || a->limit <= 0 ||
			    errno == ERANGE) {
				fprintf(stderr, "decoymx report: bad --limit "
				    "%s: want a positive number\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0)
				a->format = FORMAT_TABLE;
			else if (strcmp(optarg, "csv") == 0)
				a->format = FORMAT_CSV;
			else if (strcmp(optarg, "json") == 0)
				a->format = FORMAT_JSON;
			else {
				fprintf(stderr, "decoymx report: bad --format "
				    "%s: want table, csv or json\n", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			return report_usage();
		}
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	return 0;
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
