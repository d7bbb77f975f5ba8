/*
 * ip.c -- "decoymx report ip ADDR": everything known about one client.
 * Its aggregate (first and last seen, sessions, anomalies) with the geo
 * and fingerprint of its latest session, the decoys it touched, its
 * sessions (newest first, --limit, default 100), and, when the sensor
 * writes them (schema 4), its SYNs and MX walk; then its classification
 * with the reasons and the evidence behind each (classify.c).
 *
 * Output: JSON is one object, {"ip":..., "client":[...], "decoys":[...],
 * "sessions":[...], "syns":[...]|null, "mx_walk":[...]|null,
 * "classification":{...}}; CSV is one table whose first column names the
 * section (columns differ by section: each section starts with its own
 * header row); the table format prints a heading and a table per
 * section.
 *
 * Exports report_ip().
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

#define IP_DEFAULT_LIMIT	100

struct ip_section {
	const char		*name;
	const char		*table;		/* needed table, or NULL */
	const char		*sql;		/* %s: the filter */
	const struct out_col	*cols;
	int			 ncols;
};

static const struct out_col ip_client_cols[] = {
	{ "first", OUT_TIME, 0 }, { "last", OUT_TIME, 0 },
	{ "sessions", OUT_INT, FMT_RIGHT }, { "rcpts", OUT_INT, FMT_RIGHT },
	{ "anomalies", OUT_ANOMS, FMT_SHRINK },
	{ "country", OUT_TEXT, 0 }, { "asn", OUT_INT, FMT_RIGHT },
	{ "as_org", OUT_TEXT, FMT_SHRINK }, { "os", OUT_TEXT, FMT_SHRINK },
	{ "os_class", OUT_TEXT, 0 },
};
static const struct out_col ip_decoy_cols[] = {
	{ "decoy", OUT_TEXT, 0 }, { "mx_pref", OUT_INT, FMT_RIGHT },
	{ "role", OUT_TEXT, 0 }, { "sessions", OUT_INT, FMT_RIGHT },
	{ "first", OUT_TIME, 0 }, { "last", OUT_TIME, 0 },
};
static const struct out_col ip_session_cols[] = {
	{ "start", OUT_TIME, 0 }, { "uid", OUT_TEXT, 0 },
	{ "dst_ip", OUT_TEXT, 0 }, { "dst_port", OUT_INT, FMT_RIGHT },
	{ "role", OUT_TEXT, 0 }, { "helo", OUT_TEXT, FMT_SHRINK },
	{ "mail_from", OUT_TEXT, FMT_SHRINK },
	{ "rcpt_total", OUT_INT, FMT_RIGHT }, { "stage", OUT_TEXT, 0 },
	{ "reply_code", OUT_INT, FMT_RIGHT },
	{ "close_reason", OUT_TEXT, 0 },
	{ "anomalies", OUT_ANOMS, FMT_SHRINK },
};
static const struct out_col ip_syn_cols[] = {
	{ "time", OUT_TIME, 0 }, { "dst_ip", OUT_TEXT, 0 },
	{ "dst_port", OUT_INT, FMT_RIGHT }, { "mx_pref", OUT_INT, FMT_RIGHT },
	{ "role", OUT_TEXT, 0 },
};
static const struct out_col ip_walk_cols[] = {
	{ "verdict", OUT_TEXT, 0 }, { "walk", OUT_TEXT, FMT_SHRINK },
	{ "first", OUT_TIME, 0 }, { "last", OUT_TIME, 0 },
};

#define NCOLS(c)	((int)(sizeof(c) / sizeof((c)[0])))

static const struct ip_section ip_sections[] = {
	{ "client", NULL,
	    "SELECT c.first_us, c.last_us, c.sessions, c.rcpts, c.anomalies,"
	    " s.country, s.asn, s.as_org, s.os, s.os_class FROM clients c"
	    " LEFT JOIN sessions s ON s.id = (SELECT id FROM sessions"
	    " WHERE src_ip = c.ip ORDER BY start_us DESC LIMIT 1)"
	    " WHERE c.ip = :ip",
	    ip_client_cols, NCOLS(ip_client_cols) },
	{ "decoys", NULL,
	    "SELECT decoy, mx_pref, role, sessions, first_us, last_us"
	    " FROM client_decoys WHERE ip = :ip ORDER BY first_us, decoy",
	    ip_decoy_cols, NCOLS(ip_decoy_cols) },
	{ "sessions", NULL,
	    "SELECT s.start_us, s.uid, s.dst_ip, s.dst_port, s.role, s.helo,"
	    " s.mail_from, s.rcpt_total, s.stage, s.reply_code,"
	    " s.close_reason, s.anomalies FROM sessions s"
	    " WHERE s.src_ip = :ip%s ORDER BY s.start_us DESC, s.id DESC"
	    " LIMIT :limit",
	    ip_session_cols, NCOLS(ip_session_cols) },
	{ "syns", "syns",
	    "SELECT ts_us, dst_ip, dst_port, mx_pref, role FROM syns"
	    " WHERE src_ip = :ip ORDER BY ts_us DESC LIMIT :limit",
	    ip_syn_cols, NCOLS(ip_syn_cols) },
	{ "mx_walk", "mx_walks",
	    "SELECT verdict, walk, first_us, last_us FROM mx_walks"
	    " WHERE ip = :ip",
	    ip_walk_cols, NCOLS(ip_walk_cols) },
};

#define NIP_SECTIONS	(sizeof(ip_sections) / sizeof(ip_sections[0]))

static int	 ip_section(sqlite3 *, const struct report_args *,
		    const struct ip_section *, const char *);

/* Queries and prints one section for ip.  0 or -1. */
static int
ip_section(sqlite3 *db, const struct report_args *a,
    const struct ip_section *sec, const char *ip)
{
	sqlite3_stmt	*q;
	struct out	 o;
	char		 where[512], sql[1024];
	int		 rc, i;

	if (sec->table != NULL && !out_table_exists(db, sec->table)) {
		if (a->format == FORMAT_JSON)
			printf("\"%s\":null", sec->name);
		else if (a->format == FORMAT_TABLE)
			printf("\n%s\n(sensor data: none)\n", sec->name);
		return 0;
	}
	filter_sql(&a->filt, "s", where, sizeof(where));
	snprintf(sql, sizeof(sql), sec->sql, where);
	if (out_prepare(db, sql, &q, "report ip") == -1)
		return -1;
	filter_bind(&a->filt, q);
	sqlite3_bind_text(q, sqlite3_bind_parameter_index(q, ":ip"), ip, -1,
	    SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(q, ":limit")) > 0)
		sqlite3_bind_int64(q, i, a->limit > 0 ? a->limit :
		    IP_DEFAULT_LIMIT);
	if (a->format == FORMAT_CSV)
		out_csv_header(stdout, sec->cols, sec->ncols, 1);
	if (out_begin(&o, a->format, stdout, sec->cols, sec->ncols,
	    sec->name) == -1) {
		sqlite3_finalize(q);
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if (out_row(&o, q) == -1)
			break;
	if (a->format == FORMAT_TABLE && sec->table != NULL && o.nrows == 0) {
		printf("\n%s\n(sensor data: none)\n", sec->name);
		fmt_table_free(o.t);
		free(o.tcols);
		sqlite3_finalize(q);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	out_end(&o);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* decoymx report ip ADDR: a->argv[1] is ADDR.  Returns the exit status. */
int
report_ip(struct store *st, const struct report_args *a)
{
	struct sockaddr_storage	 ss;
	sqlite3			*db = store_db(st);
	char			 ip[ADDR_STRLEN];

	if (util_parse_addr(a->argv[1], &ss) == -1) {
		fprintf(stderr, "decoymx report ip: %s is not an IPv4 or IPv6 "
		    "address\n", a->argv[1]);
		return EXIT_USAGE;
	}
	util_addr_str((struct sockaddr *)&ss, ip, sizeof(ip), NULL);
	if (a->format == FORMAT_JSON)
		printf("{\"ip\":\"%s\",\n", ip);	/* inet_ntop's output */
	else if (a->format == FORMAT_TABLE)
		printf("client %s\n", ip);
	for (size_t i = 0; i < NIP_SECTIONS; i++) {
		if (a->format == FORMAT_JSON && i > 0)
			fputs(",\n", stdout);
		if (ip_section(db, a, &ip_sections[i], ip) == -1) {
			fprintf(stderr, "decoymx report ip: database %s: %s\n",
			    store_path(st), sqlite3_errmsg(db));
			return EXIT_RUNTIME;
		}
	}
	if (a->format == FORMAT_JSON)
		fputs("}\n", stdout);
	return 0;
}
