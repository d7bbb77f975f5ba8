/* SPDX-License-Identifier: ISC */
/*
 * test_report.c -- the pieces of the reports below the commands: filter
 * options and their SQL (only named parameters, never values), network
 * arithmetic, the SQL functions, the list writer in each format, and
 * --bucket parsing.
 */
#include <stdlib.h>

#include "reports.h"
#include "t.h"

static void	 test_filter_options(void);
static void	 test_filter_sql(void);
static void	 test_nets(void);
static void	 test_sql_functions(void);
static void	 test_out(void);
static void	 test_bucket(void);

static void
test_filter_options(void)
{
	struct filter	 f;
	char		 err[256];

	filter_init(&f);
	CHECK(!filter_active(&f));
	CHECK(filter_option(&f, "country", "de", err, sizeof(err)) == 0);
	CHECK_STR(f.country, "DE");
	CHECK(filter_option(&f, "country", "DEU", err, sizeof(err)) == -1);
	CHECK(strstr(err, "DEU") != NULL);
	CHECK(filter_option(&f, "asn", "AS64500", err, sizeof(err)) == 0);
	CHECK(f.asn == 64500);
	CHECK(filter_option(&f, "asn", "as1", err, sizeof(err)) == 0);
	CHECK(filter_option(&f, "asn", "4294967296", err, sizeof(err)) == -1);
	CHECK(filter_option(&f, "asn", "", err, sizeof(err)) == -1);
	CHECK(filter_option(&f, "decoy", "[2001:DB8::0:1]", err,
	    sizeof(err)) == 0);
	CHECK_STR(f.decoy, "2001:db8::1");
	CHECK(filter_option(&f, "decoy", "192.0.2.300", err,
	    sizeof(err)) == -1);
	CHECK(filter_option(&f, "cidr", "192.0.2.77/24", err,
	    sizeof(err)) == 0);
	CHECK_STR(f.cidr, "192.0.2.0/24");
	CHECK(filter_option(&f, "cidr", "2001:db8::ff/129", err,
	    sizeof(err)) == -1);
	CHECK(filter_option(&f, "cidr", "10.0.0.0/", err, sizeof(err)) == -1);
	CHECK(filter_option(&f, "since", "2026-11-27", err, sizeof(err)) == 0);
	CHECK(f.since == 1795737600LL * 1000000);
	CHECK(filter_option(&f, "until", "soon", err, sizeof(err)) == -1);
	CHECK(filter_option(&f, "format", "json", err, sizeof(err)) == 1);
	CHECK(filter_active(&f));
}

static void
test_filter_sql(void)
{
	struct filter	 f;
	char		 buf[512], err[64];

	filter_init(&f);
	filter_sql(&f, "s", buf, sizeof(buf));
	CHECK_STR(buf, "");
	/* A hostile value never reaches the SQL text. */
	CHECK(filter_option(&f, "cidr", "10.0.0.0/8", err, sizeof(err)) == 0);
	CHECK(filter_option(&f, "country", "'x", err, sizeof(err)) == -1);
	filter_sql(&f, "s", buf, sizeof(buf));
	CHECK_STR(buf, " AND decoymx_in_net(s.src_ip, :cidr)");
	CHECK(strchr(buf, '\'') == NULL);
	/* Cut, never overflowed. */
	f.since = 0;
	filter_sql(&f, "s", buf, 20);
	CHECK(strlen(buf) == 19);
}

static void
test_nets(void)
{
	struct sockaddr_storage	 ss;
	char			 out[64];
	int			 p;

	CHECK(filter_net("198.51.100.7", 24, 64, out, sizeof(out)) == 0);
	CHECK_STR(out, "198.51.100.0/24");
	CHECK(filter_net("2001:db8:1:2:3:4:5:6", 24, 64, out,
	    sizeof(out)) == 0);
	CHECK_STR(out, "2001:db8:1:2::/64");
	CHECK(filter_net("2001:db8:1:2:3:4:5:6", 24, 48, out,
	    sizeof(out)) == 0);
	CHECK_STR(out, "2001:db8:1::/48");
	CHECK(filter_net("10.1.2.3", 0, 64, out, sizeof(out)) == 0);
	CHECK_STR(out, "0.0.0.0/0");
	CHECK(filter_net("x", 24, 64, out, sizeof(out)) == -1);

	CHECK(filter_parse_net("10.9.8.7/12", &ss, &p) == 0 && p == 12);
	CHECK(filter_in_net("10.15.255.255", &ss, p));
	CHECK(!filter_in_net("10.16.0.0", &ss, p));
	CHECK(!filter_in_net("2001:db8::1", &ss, p));
	CHECK(filter_parse_net("2001:db8::/33", &ss, &p) == 0);
	CHECK(filter_in_net("2001:db8:7fff::1", &ss, p));
	CHECK(!filter_in_net("2001:db8:8000::1", &ss, p));
	CHECK(filter_parse_net("192.0.2.1", &ss, &p) == 0 && p == 32);
	CHECK(filter_in_net("192.0.2.1", &ss, p));
	CHECK(!filter_in_net("192.0.2.2", &ss, p));
	CHECK(filter_parse_net("0.0.0.0/0", &ss, &p) == 0);
	CHECK(filter_in_net("255.1.2.3", &ss, p));
	CHECK(filter_parse_net("1.2.3.4/-1", &ss, &p) == -1);
	CHECK(filter_parse_net("1.2.3.4/ 8", &ss, &p) == -1);
}

static void
test_sql_functions(void)
{
	sqlite3		*db;
	sqlite3_stmt	*q;

	CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
	CHECK(filter_register(db) == 0);
	CHECK(sqlite3_prepare_v2(db, "SELECT decoymx_in_net('10.1.2.3',"
	    " '10.0.0.0/8'), decoymx_in_net('11.1.2.3', '10.0.0.0/8'),"
	    " decoymx_net('2001:db8::5', 24, 64), decoymx_net('junk', 24, 64),"
	    " decoymx_in_net(NULL, '10.0.0.0/8')", -1, &q, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(q) == SQLITE_ROW);
	CHECK(sqlite3_column_int(q, 0) == 1);
	CHECK(sqlite3_column_int(q, 1) == 0);
	CHECK_STR((const char *)sqlite3_column_text(q, 2), "2001:db8::/64");
	CHECK(sqlite3_column_type(q, 3) == SQLITE_NULL);
	CHECK(sqlite3_column_int(q, 4) == 0);
	sqlite3_finalize(q);
	CHECK(sqlite3_prepare_v2(db, "SELECT decoymx_in_net('1.2.3.4', 'x')",
	    -1, &q, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(q) == SQLITE_ERROR);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* Writes two rows (one hostile, one null) in format fmt; returns text. */
static char *
out_text(enum report_format fmt, const char *section)
{
	static const struct out_col cols[] = {
		{ "key", OUT_TEXT, 0 }, { "n", OUT_INT, FMT_RIGHT },
		{ "t", OUT_TIME, 0 }, { "a", OUT_ANOMS, 0 },
	};
	static char	 buf[4096];
	struct out	 o;
	struct out_val	 v[4];
	FILE		*f = fmemopen(buf, sizeof(buf), "w");

	CHECK(out_begin(&o, fmt, f, cols, 4, section) == 0);
	memset(v, 0, sizeof(v));
	v[0].s = (struct span){ "=1+1\x1b[2J\n\xff", 10 };
	v[1].i = 42;
	v[2].i = 1795000000LL * 1000000;
	v[3].i = ANOM_PREGREET | ANOM_NON_SMTP;
	CHECK(out_row_vals(&o, v) == 0);
	memset(v, 0, sizeof(v));
	v[2].null = 1;
	CHECK(out_row_vals(&o, v) == 0);
	CHECK(out_end(&o) == 0);
	fclose(f);
	return buf;
}

static void
test_out(void)
{
	CHECK_STR(out_text(FORMAT_JSON, NULL), "[\n"
	    "{\"key\":\"=1+1\\u001b[2J\\n\\u00ff\",\"n\":42,"
	    "\"t\":\"2026-11-18T11:06:40.000Z\","
	    "\"a\":[\"pregreet\",\"non-smtp\"]},\n"
	    "{\"key\":null,\"n\":0,\"t\":null,\"a\":[]}\n]\n");
	CHECK_STR(out_text(FORMAT_JSON, "sec"), "\"sec\":[\n"
	    "{\"key\":\"=1+1\\u001b[2J\\n\\u00ff\",\"n\":42,"
	    "\"t\":\"2026-11-18T11:06:40.000Z\","
	    "\"a\":[\"pregreet\",\"non-smtp\"]},\n"
	    "{\"key\":null,\"n\":0,\"t\":null,\"a\":[]}\n]");
	CHECK_STR(out_text(FORMAT_CSV, NULL), "key,n,t,a\r\n"
	    "'=1+1\\x1b[2J\\x0a\\xff,42,2026-11-18T11:06:40.000Z,"
	    "pregreet non-smtp\r\n"
	    ",0,,\r\n");
	CHECK_STR(out_text(FORMAT_CSV, "s"), "s,'=1+1\\x1b[2J\\x0a\\xff,42,"
	    "2026-11-18T11:06:40.000Z,pregreet non-smtp\r\ns,,0,,\r\n");
	CHECK_STR(out_text(FORMAT_TABLE, NULL),
	    "key                   n  t                    a\n"
	    "=1+1\\x1b[2J\\x0a\\xff  42  2026-11-18 11:06:40  pregreet "
	    "non-smtp\n"
	    "-                     0  -                    -\n");
	CHECK(strstr(out_text(FORMAT_TABLE, "sec"), "\nsec\nkey ") != NULL);
}

static void
test_bucket(void)
{
	int64_t	 us;

	CHECK(timeline_parse_bucket("5m", &us) == 0 && us == 300000000LL);
	CHECK(timeline_parse_bucket("1d", &us) == 0);
	CHECK(timeline_parse_bucket("7d", &us) == 0);
	CHECK(timeline_parse_bucket("8d", &us) == -1);
	CHECK(timeline_parse_bucket("59s", &us) == -1);
	CHECK(timeline_parse_bucket("1x", &us) == -1);
	CHECK(timeline_parse_bucket("99999999999999999w", &us) == -1);
}

int
main(void)
{
	test_filter_options();
	test_filter_sql();
	test_nets();
	test_sql_functions();
	test_out();
	test_bucket();
	return t_done("test_report");
}
