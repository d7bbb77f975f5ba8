/* SPDX-License-Identifier: ISC */
/*
 * ip.c -- "decoymx report ip ADDR": everything known about one client.
 * Its aggregate (first and last seen, sessions, anomalies) with the geo
 * and fingerprint of its latest session, the decoys it touched, its
 * sessions (newest first, --limit, default 100), and, when the sensor
 * writes them (schema 4), its SYNs and MX walk; then its classification
 * with the reasons and the evidence behind each (classify.c), under the
 * export's rule options when given (--window, --rules, --allowlist,
 * --max-age, --min-sessions): listed then means the export with those
 * options lists it, and "excluded" says why the export would not.
 *
 * Output: JSON is one object, {"ip":..., "client":[...], "decoys":[...],
 * "sessions":[...], "transactions":[...], "syns":[...]|null, "mx_walk":[...]|null,
 * "classification":{"verdict":[{...}], "reasons":[{...}]}}: the verdict
 * consults an allowlist only with --allowlist; CSV is one table whose
 * first column names the
 * section (columns differ by section: each section starts with its own
 * header row); the table format prints a heading and a table per
 * section.
 *
 * Exports report_ip().
 */
#include <arpa/inet.h>

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
static const struct out_col ip_txn_cols[] = {
	{ "uid", OUT_TEXT, 0 }, { "seq", OUT_INT, FMT_RIGHT },
	{ "mail_from", OUT_TEXT, FMT_SHRINK },
	{ "params", OUT_TEXT, FMT_SHRINK },
	{ "reply_code", OUT_INT, FMT_RIGHT },
	{ "rcpt_total", OUT_INT, FMT_RIGHT },
	{ "ended", OUT_TEXT, 0 },
	{ "rcpt_to", OUT_TEXT, FMT_SHRINK },
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
	/* The MAIL transactions of those sessions, recipients space-joined. */
	{ "transactions", "transactions",
	    "SELECT s.uid, t.seq, t.mail_from, t.params, t.reply_code,"
	    " t.rcpt_total, t.ended, (SELECT group_concat(rcpt, ' ') FROM"
	    " (SELECT r.rcpt FROM recipients r WHERE r.session_id = s.id"
	    " AND r.txn = t.seq ORDER BY r.seq)) FROM (SELECT * FROM"
	    " sessions s WHERE s.src_ip = :ip%s ORDER BY s.start_us DESC,"
	    " s.id DESC LIMIT :limit) s JOIN transactions t"
	    " ON t.session_id = s.id ORDER BY s.start_us DESC, s.id DESC, t.seq",
	    ip_txn_cols, NCOLS(ip_txn_cols) },
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

static const struct out_col ip_verdict_cols[] = {
	{ "listed", OUT_INT, FMT_RIGHT }, { "mta_like", OUT_TEXT, FMT_SHRINK },
	{ "strong_signal", OUT_INT, FMT_RIGHT },
	{ "sensor", OUT_INT, FMT_RIGHT },
	{ "primary_sessions", OUT_INT, FMT_RIGHT },
	{ "backup_sessions", OUT_INT, FMT_RIGHT },
	{ "helo_ok", OUT_INT, FMT_RIGHT }, { "retries", OUT_INT, FMT_RIGHT },
	{ "real_mx_after_primary", OUT_INT, FMT_RIGHT },
	{ "mx_walk", OUT_TEXT, 0 },
	{ "excluded", OUT_TEXT, FMT_SHRINK },
	{ "real_mx_in_family", OUT_INT, FMT_RIGHT },
	{ "linked_ip", OUT_TEXT, 0 },
	{ "note", OUT_TEXT, FMT_SHRINK },
	{ "listed_as", OUT_TEXT, 0 },
	{ "neighbour", OUT_TEXT, 0 },
};

#define IP_NVERDICT	((int)(sizeof(ip_verdict_cols) / \
			    sizeof(ip_verdict_cols[0])))
static const struct out_col ip_reason_cols[] = {
	{ "reason", OUT_TEXT, 0 }, { "code", OUT_TEXT, 0 },
	{ "text", OUT_TEXT, FMT_SHRINK }, { "evidence", OUT_TEXT, FMT_SHRINK },
};

/* The default return code of each reason (export --code changes it). */
static const char *ip_codes[REASON_MAX] = {
	"127.0.0.2", "127.0.0.3", "127.0.0.4"
};

static int	 ip_section(sqlite3 *, const struct report_args *,
		    const struct ip_section *, const char *);
static int	 ip_classification(sqlite3 *, const struct report_args *,
		    const char *, const struct allowlist *);
static void	 ip_evidence(int, const struct evidence *, char *, size_t);
static int	 ip_excluded(const struct rule_opts *, const struct allowlist *,
		    const char *, const struct evidence *, int64_t, char *,
		    size_t);

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

/*
 * The evidence behind reason r, in our own words and numbers only (no
 * text from the network).
 */
static void
ip_evidence(int r, const struct evidence *e, char *buf, size_t len)
{
	char	 t1[64], t2[64];
	size_t	 n = 0;

	switch (r) {
	case REASON_BACKUP_DIRECT:
		util_iso8601(e->backup_first_us, t1, sizeof(t1));
		if (e->primary_sessions == 0)
			snprintf(buf, len, "%lld backup sessions from %s, no "
			    "primary", (long long)e->backup_sessions, t1);
		else {
			util_iso8601(e->primary_first_us, t2, sizeof(t2));
			snprintf(buf, len, "backup first at %s, before the "
			    "primary at %s", t1, t2);
		}
		break;
	case REASON_NOLISTING_ONLY:
		util_iso8601(e->primary_first_us, t1, sizeof(t1));
		snprintf(buf, len, "primary at %s, no SYN to the real MX in "
		    "the window after, nor from an address with the same "
		    "envelope%s", t1, e->retries > 0 ? "; its retries of the "
		    "same envelope are no proof of an MTA" : "");
		break;
	case REASON_BOT_PROTOCOL:
		buf[0] = '\0';
		for (int b = 0; b < ANOM_COUNT; b++)
			if (e->anomalies & (1u << b) & (ANOM_PREGREET |
			    ANOM_PIPELINING | ANOM_NON_SMTP | ANOM_HELO_INVALID |
			    ANOM_AUTH_ATTEMPT))
				n += (size_t)snprintf(buf + n, n < len ?
				    len - n : 0, "%s%s", n ? " " : "",
				    anomaly_name(b));
		if (e->parallel > 0)
			snprintf(buf + n, n < len ? len - n : 0, "%sparallel "
			    "walk: primary and backup at once, %lld sessions",
			    n ? "; " : "", (long long)e->parallel);
		break;
	}
}

/*
 * Why the export with the rule options r and allowlist al would leave
 * out the client ip (evidence e) that the rules list: into buf, and
 * returns 1; 0 when it would list it.
 */
static int
ip_excluded(const struct rule_opts *r, const struct allowlist *al,
    const char *ip, const struct evidence *e, int64_t now_us, char *buf,
    size_t len)
{
	struct sockaddr_storage	 ss;
	const struct allow_net	*n;
	const uint8_t		*a;
	char			 net[ADDR_STRLEN];
	int			 family;

	if (r->max_age_us > 0 && e->last_us < now_us - r->max_age_us) {
		snprintf(buf, len, "last seen before --max-age");
		return 1;
	}
	if (e->sessions < r->min_sessions) {
		snprintf(buf, len, "fewer sessions than --min-sessions");
		return 1;
	}
	if (util_parse_addr(ip, &ss) == -1)
		return 0;
	family = ss.ss_family == AF_INET ? 4 : 6;
	a = family == 4 ?
	    (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr :
	    ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
	if ((family == 4 && a[0] == 127) ||
	    (family == 6 && IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a))) {
		snprintf(buf, len, "loopback: never listed");
		return 1;
	}
	if ((n = allowlist_match(al, family, a)) == NULL)
		return 0;
	if (inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, net,
	    sizeof(net)) == NULL)
		strlcpy_(net, "?", sizeof(net));
	snprintf(buf, len, "allowlisted: %s/%d", net, n->prefix);
	return 1;
}

/*
 * The verdict under a's rule options (and the allowlist al) and the
 * reasons with their evidence.  0 or -1.
 */
static int
ip_classification(sqlite3 *db, const struct report_args *a, const char *ip,
    const struct allowlist *al)
{
	struct classify_conf	 cc;
	struct classify_q	*cq;
	struct evidence		 e;
	struct verdict		 v;
	struct out		 o;
	struct out_val		 vals[IP_NVERDICT];
	char			 err[256], ev[256], excl[128];
	const char		*mta;
	int			 rc, ex = 0;
	struct export_hit	 hit;

	classify_defaults(&cc);
	cc.rules = a->rules.rules;
	cc.window_us = a->rules.window_us;
	if ((cq = classify_open(db, &cc, INT64_MIN, 1, ip, err,
	    sizeof(err))) == NULL)
		return -1;
	if ((rc = classify_next(cq, &e, &v)) == 0) {
		memset(&e, 0, sizeof(e));
		memset(&v, 0, sizeof(v));
		e.sensor_any = classify_has_sensor(cq);
	}
	classify_close(cq);
	if (rc == -1)
		return -1;
	if (v.listed && (ex = ip_excluded(&a->rules, al, ip, &e, cc.now_us,
	    excl, sizeof(excl))) != 0)
		v.listed = 0;
	/* Listed means: the export lists it, itself or through a network. */
	if (export_lookup(db, &a->rules, al, ip, &hit, err, sizeof(err)) == -1)
		return -1;
	if (a->format == FORMAT_CSV)
		out_csv_header(stdout, ip_verdict_cols, IP_NVERDICT, 1);
	if (a->format == FORMAT_JSON)
		fputs(",\n\"classification\":{", stdout);
	if (out_begin(&o, a->format, stdout, ip_verdict_cols, IP_NVERDICT,
	    "verdict") == -1)
		return -1;
	memset(vals, 0, sizeof(vals));
	mta = v.mta != NULL ? v.mta : NULL;
	vals[0].i = hit.listed;
	vals[1].s = (struct span){ mta, mta != NULL ? strlen(mta) : 0 };
	vals[2].i = v.strong;
	vals[3].i = e.sensor_any;
	vals[4].i = e.primary_sessions;
	vals[5].i = e.backup_sessions;
	vals[6].i = e.helo_ok;
	vals[7].i = e.retries;
	vals[8].i = e.real_after_primary;
	vals[8].null = !e.sensor_any;
	vals[9].s = (struct span){ e.walk, e.walk != NULL ? strlen(e.walk) :
	    0 };
	vals[10].s = (struct span){ ex ? excl : NULL, ex ? strlen(excl) : 0 };
	vals[11].i = e.sensor;
	vals[11].null = !e.sensor_any;
	vals[12].s = (struct span){ e.linked_ip[0] ? e.linked_ip : NULL,
	    strlen(e.linked_ip) };
	vals[13].s = (struct span){ v.note, v.note != NULL ? strlen(v.note) :
	    0 };
	if (!ex && !hit.listed && hit.excluded) {
		snprintf(excl, sizeof(excl), "allowlisted: excluded from its "
		    "network");
		vals[10].s = (struct span){ excl, strlen(excl) };
	}
	vals[14].s = (struct span){ hit.listed ? hit.entry : NULL,
	    hit.listed ? strlen(hit.entry) : 0 };
	vals[15].s = (struct span){ hit.neighbour[0] ? hit.neighbour : NULL,
	    strlen(hit.neighbour) };
	out_row_vals(&o, vals);
	out_end(&o);
	if (a->format == FORMAT_JSON)
		fputs(",\n", stdout);
	if (a->format == FORMAT_CSV)
		out_csv_header(stdout, ip_reason_cols, 4, 1);
	if (out_begin(&o, a->format, stdout, ip_reason_cols, 4,
	    "reasons") == -1)
		return -1;
	for (int r = 0; r < REASON_MAX; r++) {
		if (!(v.reasons & (1u << r)))
			continue;
		ip_evidence(r, &e, ev, sizeof(ev));
		memset(vals, 0, sizeof(vals));
		vals[0].s = (struct span){ classify_reason_name(r),
		    strlen(classify_reason_name(r)) };
		vals[1].s = (struct span){ ip_codes[r], strlen(ip_codes[r]) };
		vals[2].s = (struct span){ classify_reason_text(r),
		    strlen(classify_reason_text(r)) };
		vals[3].s = (struct span){ ev, strlen(ev) };
		out_row_vals(&o, vals);
	}
	out_end(&o);
	if (a->format == FORMAT_JSON)
		fputs("}", stdout);
	return 0;
}

/* decoymx report ip ADDR: a->argv[1] is ADDR.  Returns the exit status. */
int
report_ip(struct store *st, const struct report_args *a)
{
	struct sockaddr_storage	 ss;
	sqlite3			*db = store_db(st);
	struct allowlist	 al = { 0 };
	char			 ip[ADDR_STRLEN], err[512];
	int			 rc;

	if (util_parse_addr(a->argv[1], &ss) == -1) {
		fprintf(stderr, "decoymx report ip: %s is not an IPv4 or IPv6 "
		    "address\n", a->argv[1]);
		return EXIT_USAGE;
	}
	/* Read before anything is printed: a bad one is a usage error. */
	if (a->rules.allowlist != NULL && allowlist_load(&al,
	    a->rules.allowlist, err, sizeof(err)) == -1) {
		fprintf(stderr, "decoymx report ip: allowlist %s\n", err);
		allowlist_free(&al);
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
			allowlist_free(&al);
			return EXIT_RUNTIME;
		}
	}
	rc = ip_classification(db, a, ip, &al);
	allowlist_free(&al);
	if (rc == -1) {
		fprintf(stderr, "decoymx report ip: database %s: %s\n",
		    store_path(st), sqlite3_errmsg(db));
		return EXIT_RUNTIME;
	}
	if (a->format == FORMAT_JSON)
		fputs("}\n", stdout);
	return 0;
}
