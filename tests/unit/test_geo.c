/* SPDX-License-Identifier: ISC */
/*
 * test_geo.c -- geolocation (store/geo.c): the answers for the fixtures
 * written by scripts/make-mmdb-fixtures, cross-checked against mmdblookup
 * on the same files; validation of bad values; missing and corrupt files;
 * reopening on change; and the values reaching the sessions table
 * through the batch.  Run from the top of the tree.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "store.h"
#include "t.h"

static char	 dir[] = "/tmp/decoymx-test-geo.XXXXXX";

static const char *fx(const char *);
static void	 conf_with(struct config *, const char *, const char *,
		    const char *);
static int	 mmdblookup(const char *, const char *, const char *,
		    const char *, char *, size_t, char *, size_t);
static void	 put(const char *, const void *, size_t);
static uint8_t	*slurp(const char *, size_t *);
static void	 test_table(void);
static void	 test_oracle(void);
static void	 test_corrupt(void);
static void	 test_reopen(void);
static void	 test_store(void);

/* DIR/name, in a static buffer (one at a time). */
static const char *
fx(const char *name)
{
	static char	 buf[4][512];
	static int	 n;

	n = (n + 1) % 4;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", dir, name);
	return buf[n];
}

static void
conf_with(struct config *c, const char *country, const char *asn,
    const char *city)
{
	config_defaults(c);
	if (country != NULL)
		snprintf(c->geoip[GEO_COUNTRY][0], GEO_PATH_MAX, "%s", country);
	if (asn != NULL)
		snprintf(c->geoip[GEO_ASN][0], GEO_PATH_MAX, "%s", asn);
	if (city != NULL)
		snprintf(c->geoip[GEO_CITY][0], GEO_PATH_MAX, "%s", city);
}

static const struct {
	const char	*ip;
	const char	*country;	/* "" : NULL */
	uint32_t	 asn;
	const char	*org;
} rows[] = {
	{ "127.0.0.1",		"DE", 64500, "Example Net" },
	{ "127.0.255.255",	"DE", 64500, "Example Net" },
	{ "::ffff:127.0.0.9",	"DE", 64500, "Example Net" },
	{ "127.1.2.3",		"FR", 64501, "" },	/* registered_country */
	{ "127.2.0.1",		"",   64502, "" },	/* no iso_code; org 300 */
	{ "127.3.0.1",		"NL", 0, "No Number" },	/* "nl" */
	{ "127.4.0.1",		"",   0, "Typed Wrong" }, /* DEU; asn string */
	{ "127.5.0.1",		"",   64505, NULL },	/* uint32 code; 255 */
	{ "127.6.0.1",		"",   0, "" },		/* "D1" */
	{ "127.7.0.1",		"XX", 0, "" },		/* country wins */
	{ "127.200.0.1",	"",   0, "" },		/* not in the files */
	{ "192.0.2.77",		"JP", 64496, "Caf\xc3\xa9 Net" },
	{ "::1",		"CH", 64511, "Loopback Six" },
	{ "2001:db8::25",	"AU", 4200000000u, "Doc Net" },
	{ "2001:db9::1",	"",   0, "" },
	{ "not-an-address",	"",   0, "" },
};

/* The expected answers of country.mmdb + asn.mmdb, row by row. */
static void
test_table(void)
{
	struct config	 c;
	struct geo	*g;
	struct geo_info	 gi;
	char		 org255[256];

	memset(org255, 'x', 255);
	org255[255] = '\0';
	conf_with(&c, fx("country.mmdb"), fx("asn.mmdb"), NULL);
	CHECK((g = geo_new()) != NULL);
	CHECK(geo_open(g, &c) == 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		geo_lookup(g, rows[i].ip, &gi);
		CHECK_STR(gi.country, rows[i].country);
		CHECK(gi.asn == rows[i].asn);
		CHECK_STR(gi.as_org, rows[i].org ? rows[i].org : org255);
		if (strcmp(rows[i].ip, "not-an-address") != 0)
			CHECK(gi.build == 1700000000);
		else
			CHECK(gi.build == 0);
	}
	/* 127.2 (org > 255), 127.4 x2, 127.5, 127.6: refused and counted. */
	CHECK(geo_stats(g)->invalid == 5);
	geo_free(g);

	/* The flat ip-location-db layout, lower case upper-cased. */
	conf_with(&c, fx("flat.mmdb"), NULL, NULL);
	g = geo_new();
	CHECK(geo_open(g, &c) == 0);
	geo_lookup(g, "127.9.9.9", &gi);
	CHECK_STR(gi.country, "IT");
	CHECK(gi.build == 1700000200 && gi.asn == 0 && gi.as_org[0] == '\0');
	geo_lookup(g, "::1", &gi);
	CHECK_STR(gi.country, "SE");
	geo_lookup(g, "2001:db8::1", &gi);
	CHECK_STR(gi.country, "NO");
	geo_free(g);

	/* A city database answers the country when the country db has not. */
	conf_with(&c, fx("country.mmdb"), NULL, fx("city.mmdb"));
	g = geo_new();
	CHECK(geo_open(g, &c) == 0);
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK_STR(gi.country, "DE");
	CHECK(gi.build == 1700000000);
	geo_lookup(g, "127.200.0.1", &gi);
	CHECK_STR(gi.country, "ES");
	CHECK(gi.build == 1700000300);
	geo_free(g);

	/* Without databases nothing is known; NULL handle too. */
	conf_with(&c, NULL, NULL, NULL);
	g = geo_new();
	CHECK(geo_open(g, &c) == 0);
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK(gi.country[0] == '\0' && gi.asn == 0 && gi.build == 0);
	geo_free(g);
	geo_lookup(NULL, "127.0.0.1", &gi);
	CHECK(gi.country[0] == '\0');
}

/*
 * What mmdblookup says at path (up to two keys) for ip in file: 1 with
 * the value (quotes removed) and its type, 0 when nothing is there.
 */
static int
mmdblookup(const char *file, const char *ip, const char *k1, const char *k2,
    char *val, size_t vlen, char *type, size_t tlen)
{
	char	 cmd[1024], line[1024], *lt, *gt, *p;
	FILE	*f;
	int	 found = 0;

	snprintf(cmd, sizeof(cmd), "mmdblookup -f '%s' -i '%s' %s %s 2>&1",
	    file, ip, k1, k2 ? k2 : "");
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((lt = strrchr(line, '<')) == NULL ||
		    (gt = strchr(lt, '>')) == NULL || gt[1] != '\0' ||
		    lt == line || lt[-1] != ' ')
			continue;
		*gt = '\0';
		snprintf(type, tlen, "%s", lt + 1);
		lt[-1] = '\0';
		for (p = line; *p == ' '; p++)
			;
		if (*p == '"' && strlen(p) >= 2 && p[strlen(p) - 1] == '"') {
			p[strlen(p) - 1] = '\0';
			p++;
		}
		snprintf(val, vlen, "%s", p);
		found = 1;
	}
	pclose(f);
	return found;
}

/*
 * Every row against mmdblookup on the same files: a value mmdblookup
 * shows that passes the rules must be ours; anything else must be NULL.
 */
static void
test_oracle(void)
{
	static const char *paths[][2] = {
		{ "country", "iso_code" }, { "registered_country", "iso_code" },
		{ "country_code", NULL },
	};
	struct config	 c;
	struct geo	*g;
	struct geo_info	 gi;
	char		 v[1024], t[64], want[3];
	int		 checked = 0;

	if (system("command -v mmdblookup >/dev/null") != 0) {
		fprintf(stderr, "mmdblookup missing (Debian mmdb-bin)\n");
		CHECK(!"mmdblookup installed");
		return;
	}
	conf_with(&c, fx("country.mmdb"), fx("asn.mmdb"), NULL);
	g = geo_new();
	CHECK(geo_open(g, &c) == 0);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (strcmp(rows[i].ip, "not-an-address") == 0)
			continue;
		geo_lookup(g, rows[i].ip, &gi);
		want[0] = '\0';
		for (size_t j = 0; j < 3; j++) {
			if (mmdblookup(fx("country.mmdb"), rows[i].ip,
			    paths[j][0], paths[j][1], v, sizeof(v), t,
			    sizeof(t)) != 1)
				continue;
			if (strcmp(t, "utf8_string") == 0 && strlen(v) == 2 &&
			    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz") == 2) {
				want[0] = (char)(v[0] & ~0x20);
				want[1] = (char)(v[1] & ~0x20);
				want[2] = '\0';
			}
			break;
		}
		CHECK_STR(gi.country, want);
		if (mmdblookup(fx("asn.mmdb"), rows[i].ip,
		    "autonomous_system_number", NULL, v, sizeof(v), t,
		    sizeof(t)) == 1 && strncmp(t, "uint", 4) == 0)
			CHECK(gi.asn == strtoul(v, NULL, 10));
		else
			CHECK(gi.asn == 0);
		if (mmdblookup(fx("asn.mmdb"), rows[i].ip,
		    "autonomous_system_organization", NULL, v, sizeof(v), t,
		    sizeof(t)) == 1 && strlen(v) <= GEO_ORG_MAX)
			CHECK_STR(gi.as_org, v);
		else
			CHECK(gi.as_org[0] == '\0');
		checked++;
	}
	CHECK(checked >= 14);
	geo_free(g);
}

/* Writes len bytes of buf to DIR/name. */
static void
put(const char *name, const void *buf, size_t len)
{
	int	 fd = open(fx(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd != -1 && write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	struct stat	 sb;
	uint8_t		*buf;
	int		 fd = open(path, O_RDONLY);

	if (fd == -1 || fstat(fd, &sb) == -1 ||
	    (buf = malloc((size_t)sb.st_size)) == NULL ||
	    read(fd, buf, (size_t)sb.st_size) != sb.st_size)
		abort();
	close(fd);
	*len = (size_t)sb.st_size;
	return buf;
}

/*
 * Missing, empty, truncated, random and damaged files: geo_open() says
 * so, lookups answer nothing or what they can, nothing crashes.
 */
static void
test_corrupt(void)
{
	static const char *addrs[] = {
		"127.0.0.1", "127.1.0.1", "::1", "2001:db8::1", "10.0.0.1",
		"255.255.255.255", "ffff::1",
	};
	struct config	 c;
	struct geo	*g;
	struct geo_info	 gi;
	uint8_t		*good, *bad;
	size_t		 len;
	uint32_t	 x = 2463534242u;

	good = slurp(fx("country.mmdb"), &len);
	bad = malloc(len);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		bad[i] = (uint8_t)x;
	}
	put("random.mmdb", bad, len);
	put("empty.mmdb", "", 0);
	put("truncated.mmdb", good, len / 2);
	put("tail.mmdb", good + len / 2, len - len / 2);
	if (len > 64)				/* tree start scrambled */
		memcpy(bad + 64, good + 64, len - 64);
	put("tree.mmdb", bad, len);
	memcpy(bad, good, len);			/* data section scrambled */
	for (size_t i = len / 3; i < len / 3 + 200 && i < len; i++)
		bad[i] ^= (uint8_t)(i * 37);
	put("data.mmdb", bad, len);

	static const struct {
		const char	*name;
		int		 opens;
	} files[] = {
		{ "missing.mmdb", 0 }, { "empty.mmdb", 0 },
		{ "random.mmdb", 0 }, { "truncated.mmdb", 0 },
		{ "tail.mmdb", 0 }, { "", 0 },	/* the directory itself */
		{ "tree.mmdb", 1 }, { "data.mmdb", 1 },
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		conf_with(&c, fx(files[i].name), fx(files[i].name), NULL);
		g = geo_new();
		/* A country file that opens is refused as asn (-2). */
		CHECK(geo_open(g, &c) == (files[i].opens ? -2 : -1));
		for (size_t j = 0; j < sizeof(addrs) / sizeof(addrs[0]); j++) {
			geo_lookup(g, addrs[j], &gi);
			CHECK(gi.country[0] == '\0' || (strlen(gi.country) ==
			    2 && gi.country[0] >= 'A' && gi.country[0] <= 'Z'));
			CHECK(strlen(gi.as_org) <= GEO_ORG_MAX);
		}
		geo_free(g);
	}
	free(good);
	free(bad);
}

/*
 * A file replaced by rename is picked up by geo_refresh() (at most once
 * a second); a bad replacement keeps the good one; SIGHUP's geo_open()
 * with a missing file keeps it too.
 */
static void
test_reopen(void)
{
	struct config	 c;
	struct geo	*g;
	struct geo_info	 gi;
	char		 live[512], cmd[3072];
	int64_t		 now = util_now_us();

	snprintf(live, sizeof(live), "%s", fx("live.mmdb"));
	snprintf(cmd, sizeof(cmd), "cp %s %s", fx("country.mmdb"), live);
	CHECK(system(cmd) == 0);
	conf_with(&c, live, NULL, NULL);
	g = geo_new();
	CHECK(geo_open(g, &c) == 0);
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK_STR(gi.country, "DE");

	snprintf(cmd, sizeof(cmd), "cp %s %s.new && mv %s.new %s",
	    fx("country-v2.mmdb"), live, live, live);
	CHECK(system(cmd) == 0);
	CHECK(geo_refresh(g, now + 100000) == 0);	/* too soon to look */
	CHECK(geo_refresh(g, now + 5000000) == 1);
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK_STR(gi.country, "BR");
	CHECK(gi.build == 1700009999);
	CHECK(geo_refresh(g, now + 5500000) == 0);	/* within a second */
	CHECK(geo_refresh(g, now + 7000000) == 0);	/* unchanged */

	snprintf(cmd, sizeof(cmd), "cp %s %s.new && mv %s.new %s",
	    fx("random.mmdb"), live, live, live);
	CHECK(system(cmd) == 0);
	CHECK(geo_refresh(g, now + 9000000) == 0);
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK_STR(gi.country, "BR");			/* old one kept */
	CHECK(geo_stats(g)->open_failures == 1);

	unlink(live);
	CHECK(geo_open(g, &c) == -1);			/* SIGHUP */
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK_STR(gi.country, "BR");

	snprintf(cmd, sizeof(cmd), "cp %s %s", fx("country.mmdb"), live);
	CHECK(system(cmd) == 0);
	CHECK(geo_refresh(g, now + 20000000) == 1);	/* it came back */
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK_STR(gi.country, "DE");
	CHECK(geo_stats(g)->reopens == 2);

	conf_with(&c, NULL, NULL, NULL);		/* unconfigured */
	CHECK(geo_open(g, &c) == 0);
	geo_lookup(g, "127.0.0.1", &gi);
	CHECK(gi.country[0] == '\0');
	geo_free(g);
}

/* The values reach the sessions row through batch_add()/batch_flush(). */
static void
test_store(void)
{
	struct config	 c;
	struct geo	*g;
	struct store	*st;
	struct batch	*b;
	struct sess_rec	 r;
	sqlite3_stmt	*q;
	uint8_t		 buf[4096];
	size_t		 len;
	char		 err[512];
	const char	*ips[] = { "127.0.0.1", "10.1.1.1", "::1" };

	conf_with(&c, fx("country.mmdb"), fx("asn.mmdb"), NULL);
	g = geo_new();
	CHECK(geo_open(g, &c) == 0);
	st = store_open(fx("geo.db"), STORE_RW, err, sizeof(err));
	CHECK(st != NULL);
	if (st == NULL)
		return;
	b = batch_new(10);
	batch_set_geo(b, g);
	for (int i = 0; i < 3; i++) {
		memset(&r, 0, sizeof(r));
		snprintf(r.uid, sizeof(r.uid), "%016x", i + 1);
		r.start_us = 1795000000000000LL + i;
		r.end_us = r.start_us + 1;
		snprintf(r.src_ip, sizeof(r.src_ip), "%s", ips[i]);
		snprintf(r.dst_ip, sizeof(r.dst_ip), "127.0.0.1");
		r.mx_pref = -1;
		len = record_encode_session(&r, buf, sizeof(buf));
		CHECK(len > 0 && batch_add(b, buf, len) == 0);
	}
	geo_free(g);		/* the batch keeps copies, not pointers */
	CHECK(batch_flush(b, st) == 3);
	CHECK(sqlite3_prepare_v2(store_db(st), "SELECT coalesce(country, '-'),"
	    " coalesce(asn, 0), coalesce(as_org, '-'), coalesce(geo_build, 0)"
	    " FROM sessions ORDER BY uid", -1, &q, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(q) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(q, 0), "DE");
	CHECK(sqlite3_column_int64(q, 1) == 64500);
	CHECK_STR((const char *)sqlite3_column_text(q, 2), "Example Net");
	CHECK(sqlite3_column_int64(q, 3) == 1700000000);
	CHECK(sqlite3_step(q) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(q, 0), "-");
	CHECK(sqlite3_column_int64(q, 1) == 0);
	CHECK_STR((const char *)sqlite3_column_text(q, 2), "-");
	CHECK(sqlite3_column_int64(q, 3) == 1700000000);
	CHECK(sqlite3_step(q) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(q, 0), "CH");
	CHECK(sqlite3_column_int64(q, 1) == 64511);
	sqlite3_finalize(q);
	batch_free(b);
	store_close(st);
}

int
main(void)
{
	char	 cmd[600];

	log_init("test", LOG_LVL_ERROR);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "scripts/make-mmdb-fixtures %s", dir);
	CHECK(system(cmd) == 0);
	test_table();
	test_oracle();
	test_corrupt();
	test_reopen();
	test_store();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_done("test_geo");
}
