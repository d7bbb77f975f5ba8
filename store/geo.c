/* SPDX-License-Identifier: ISC */
/*
 * geo.c -- geolocation of client addresses with libmaxminddb, done once
 * per session in the store process as the record arrives (batch_add()).
 *
 * Up to three kinds of databases, by enum geo_kind: "country" and
 * "city" answer the country, "asn" the AS number and organisation; up to
 * GEO_FILES files of each kind (ip-location-db ships IPv4 and IPv6
 * files apart), looked up in their configured order, an address only
 * in the files of its family (an IPv6 file holds IPv4 too): the first
 * that has an entry for it answers.  A file whose database_type names
 * another kind only (a GeoLite2-Country file given as "geoip asn") is a
 * configuration error naming the file, its line and its type.  The layout of a
 * record is recognised by its keys, not by the file's database_type:
 * GeoIP2/GeoLite2 and DB-IP lite (country.iso_code, falling back to
 * registered_country.iso_code; autonomous_system_number and
 * autonomous_system_organization) and the flat ip-location-db layout
 * (country_code).  The first of those keys that is present decides.
 *
 * Nothing in a database file is trusted: a value of the wrong type, an
 * ISO code that is not two ASCII letters, an AS number outside 1 to
 * 2^32-1 or an organisation that is over GEO_ORG_MAX bytes, not UTF-8
 * or has control characters is dropped (stored as NULL) and counted.
 *
 * A database that is missing, unreadable or corrupt is a warning naming
 * the file and the reason; the daemon runs without it.  Files are
 * reopened on SIGHUP (geo_open()) and when they change on disk
 * (geo_refresh(), at most once a second): the new file is opened first
 * and replaces the old one only if it opened fine.  Replace files by
 * rename (as geoipupdate does); a file rewritten in place under a live
 * mapping can be read half-written.
 *
 * Exports geo_new(), geo_free(), geo_open(), geo_refresh(), geo_lookup(),
 * geo_stats(), and for "decoymx geo lookup" (daemon/geo.c) geo_city() and
 * geo_file().
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define GEO_CHECK_US	1000000LL	/* files are stat()ed at most this often */
#define GEO_WARN_US	(10 * 1000000LL)

/* One configured database. */
struct geo_db {
	char		 want[GEO_PATH_MAX];	/* configured path; "": none */
	int		 line;			/* its line in conf */
	char		 path[GEO_PATH_MAX];	/* path of the open mmdb */
	MMDB_s		*mmdb;			/* NULL: not open */
	struct stat	 seen;			/* file last tried, to spot a change */
	int		 seen_ok;		/* seen is valid */
	char		 why[256];		/* last failure, logged once */
};

/* db[] holds GEO_FILES files of each kind, kind after kind. */
#define GEO_NDB		(GEO_KINDS * GEO_FILES)
#define GEO_KIND(i)	((i) / GEO_FILES)

struct geo {
	struct geo_db	 db[GEO_NDB];
	char		 conf[256];	/* the configuration file, for errors */
	int64_t		 checked_us;
	int64_t		 warned_us;
	uint64_t	 unwarned;
	struct geo_stats stats;
};

/* Where the keys of each answer may be, in order; the first present wins. */
static const char *const geo_country_paths[][3] = {
	{ "country", "iso_code", NULL },
	{ "registered_country", "iso_code", NULL },
	{ "country_code", NULL, NULL },
};
static const char *const geo_asn_path[] = { "autonomous_system_number",
	NULL };
static const char *const geo_org_path[] = {
	"autonomous_system_organization", NULL };
static const char *const geo_city_path[] = { "city", "names", "en", NULL };


static int	 geo_db_open(struct geo *, int, int);
static void	 geo_db_close(struct geo_db *);
static int	 geo_same_file(const struct stat *, const struct stat *);
static int	 geo_addr(const char *, struct sockaddr_storage *);
static int	 geo_find(struct geo *, int, const struct sockaddr *,
		    MMDB_entry_s *, int *);
static int	 geo_type_ok(int, const char *);
static int	 geo_get(MMDB_entry_s *, const char *const *,
		    MMDB_entry_data_s *);
static int	 geo_str(MMDB_entry_s *, const char *const *, const char **,
		    size_t *);
static void	 geo_invalid(struct geo *, int, const char *, const char *);
static int	 geo_country(struct geo *, int, const struct sockaddr *,
		    const char *, struct geo_info *);
static void	 geo_asn(struct geo *, const struct sockaddr *, const char *,
		    struct geo_info *);
static int	 geo_alpha(char);
static int	 geo_utf8_ok(const unsigned char *, size_t);

/* A handle with no database open; free with geo_free(). */
struct geo *
geo_new(void)
{
	return calloc(1, sizeof(struct geo));
}

/* Closes every database and frees the handle; NULL is allowed. */
void
geo_free(struct geo *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < GEO_NDB; i++)
		geo_db_close(&g->db[i]);
	free(g);
}

static void
geo_db_close(struct geo_db *d)
{
	if (d->mmdb != NULL) {
		MMDB_close(d->mmdb);
		free(d->mmdb);
	}
	d->mmdb = NULL;
	d->path[0] = '\0';
}

const struct geo_stats *
geo_stats(const struct geo *g)
{
	return &g->stats;
}

/* True when a and b are the same file with the same contents' stamp. */
static int
geo_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Whether a database_type fits kind k: it does unless it names other
 * kinds only ("GeoLite2-Country" for asn, "GeoLite2-ASN" for country);
 * a type that names none ("My GeoIP DB") cannot be judged and fits.
 */
static int
geo_type_ok(int k, const char *type)
{
	static const char *const words[GEO_KINDS][3] = {
		{ "country", "city", NULL }, { "asn", "isp", NULL },
		{ "city", NULL, NULL },
	};
	char	 t[128];
	int	 names[GEO_KINDS] = { 0 }, any = 0;

	if (type == NULL)
		return 1;
	for (size_t i = 0; i + 1 < sizeof(t) && (t[i] = type[i]) != '\0'; i++)
		if (t[i] >= 'A' && t[i] <= 'Z')
			t[i] = (char)(t[i] + 32);
	t[sizeof(t) - 1] = '\0';
	for (int j = 0; j < GEO_KINDS; j++)
		for (int w = 0; words[j][w] != NULL; w++)
			if (strstr(t, words[j][w]) != NULL)
				names[j] = any = 1;
	return !any || names[k];
}

/*
 * Opens the configured file of database i and, if that worked, closes
 * the one it replaces.  A failure is logged as a warning (when quiet,
 * only if its reason differs from the last one) and leaves the database
 * that was open in place.  Returns 0, -1, or -2 when the file is of
 * another kind (logged as a configuration error).
 */
static int
geo_db_open(struct geo *g, int i, int quiet)
{
	struct geo_db	*d = &g->db[i];
	int		 k = GEO_KIND(i);
	MMDB_s		*m;
	char		 why[256];
	int		 rc;

	d->seen_ok = 0;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(why, sizeof(why), "out of memory");
		goto fail;
	}
	if (stat(d->want, &d->seen) == -1) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		goto fail;
	}
	d->seen_ok = 1;
	if (!S_ISREG(d->seen.st_mode)) {
		snprintf(why, sizeof(why), "not a regular file");
		goto fail;
	}
	if ((rc = MMDB_open(d->want, MMDB_MODE_MMAP, m)) != MMDB_SUCCESS) {
		snprintf(why, sizeof(why), "%s%s%s", MMDB_strerror(rc),
		    rc == MMDB_IO_ERROR ? ": " : "",
		    rc == MMDB_IO_ERROR ? strerror(errno) : "");
		goto fail;
	}
	if (m->metadata.node_count == 0 || (m->metadata.ip_version != 4 &&
	    m->metadata.ip_version != 6)) {
		MMDB_close(m);
		snprintf(why, sizeof(why), "not an IPv4 or IPv6 database");
		goto fail;
	}
	if (!geo_type_ok(k, m->metadata.database_type)) {
		if (g->conf[0] != '\0' && d->line > 0)
			log_error("%s:%d: geoip %s %s: database type %s is "
			    "not of kind %s", g->conf, d->line,
			    geo_kind_name(k), d->want,
			    m->metadata.database_type, geo_kind_name(k));
		else
			log_error("geoip %s %s: database type %s is not of "
			    "kind %s", geo_kind_name(k), d->want,
			    m->metadata.database_type, geo_kind_name(k));
		snprintf(d->why, sizeof(d->why), "database type %s is not of "
		    "kind %s", m->metadata.database_type,
		    geo_kind_name(k));
		MMDB_close(m);
		free(m);
		g->stats.open_failures++;
		return -2;
	}
	geo_db_close(d);
	d->mmdb = m;
	strlcpy_(d->path, d->want, sizeof(d->path));
	d->why[0] = '\0';
	log_info("geo opened kind=%s file=%s build=%llu", geo_kind_name(k),
	    d->path, (unsigned long long)m->metadata.build_epoch);
	return 0;
fail:
	free(m);
	g->stats.open_failures++;
	if (!quiet || strcmp(why, d->why) != 0)
		log_warn("geoip %s %s: %s; %s", geo_kind_name(k), d->want, why,
		    d->mmdb != NULL ? "still using the file opened before" :
		    "running without it");
	strlcpy_(d->why, why, sizeof(d->why));
	return -1;
}

/*
 * (Re)opens every database c configures, closes those it no longer does.
 * Called at start, on SIGHUP and by "decoymx geo".  Returns 0 when every
 * configured database is open, -1 when one is not (logged as warnings),
 * -2 when one is of another kind than configured (a configuration
 * error, logged as one; that file is not used).
 */
int
geo_open(struct geo *g, const struct config *c)
{
	int	 rv = 0, r;

	strlcpy_(g->conf, c->file != NULL ? c->file : "", sizeof(g->conf));
	for (int i = 0; i < GEO_NDB; i++) {
		struct geo_db *d = &g->db[i];
		int k = GEO_KIND(i), f = i % GEO_FILES;

		strlcpy_(d->want, c->geoip[k][f], sizeof(d->want));
		d->line = c->geoip_line[k][f];
		if (d->want[0] == '\0') {
			if (d->mmdb != NULL)
				log_info("geo closed kind=%s file=%s",
				    geo_kind_name(k), d->path);
			geo_db_close(d);
			d->seen_ok = 0;
			continue;
		}
		if ((r = geo_db_open(g, i, 0)) < 0 && rv != -2)
			rv = r;
	}
	g->checked_us = util_now_us();
	return rv;
}

/*
 * Reopens a database whose file changed (another inode, size or mtime,
 * or it appeared), looking at most once every GEO_CHECK_US.  Returns how
 * many databases were reopened.
 */
int
geo_refresh(struct geo *g, int64_t now_us)
{
	struct stat	 sb;
	int		 n = 0;

	if (g == NULL || (now_us - g->checked_us < GEO_CHECK_US &&
	    now_us >= g->checked_us))
		return 0;
	g->checked_us = now_us;
	for (int i = 0; i < GEO_NDB; i++) {
		struct geo_db *d = &g->db[i];

		if (d->want[0] == '\0')
			continue;
		if (stat(d->want, &sb) == -1) {
			if (d->seen_ok)		/* gone: tell once */
				geo_db_open(g, i, 1);
			continue;
		}
		if (d->seen_ok && geo_same_file(&sb, &d->seen))
			continue;
		if (geo_db_open(g, i, 1) == 0) {
			g->stats.reopens++;
			n++;
		}
	}
	return n;
}

/* Parses ip; an IPv4-mapped IPv6 address becomes IPv4.  0 or -1. */
static int
geo_addr(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	struct in6_addr		 a6;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &a6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, &a6.s6_addr[12], 4);
		return 0;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = a6;
	return 0;
}

/*
 * Looks sa up in the databases of kind k, in order: an IPv6 address
 * skips IPv4-only files.  Returns 1 with *e set and *idx the database
 * that answered, 0 when none has an entry.
 */
static int
geo_find(struct geo *g, int k, const struct sockaddr *sa, MMDB_entry_s *e,
    int *idx)
{
	MMDB_lookup_result_s	 res;
	int			 rc;

	for (int i = k * GEO_FILES; i < (k + 1) * GEO_FILES; i++) {
		if (g->db[i].mmdb == NULL)
			continue;
		res = MMDB_lookup_sockaddr(g->db[i].mmdb, sa, &rc);
		if (rc == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
			continue;
		if (rc != MMDB_SUCCESS) {
			g->stats.errors++;
			geo_invalid(g, i, "search tree", MMDB_strerror(rc));
			continue;
		}
		if (!res.found_entry)
			continue;
		*e = res.entry;
		*idx = i;
		return 1;
	}
	return 0;
}

/*
 * The value at path under e.  Returns 1 with *v set, 0 when absent (the
 * library says the same for a missing key and for a path through a
 * non-map), -1 when the data cannot be decoded.
 */
static int
geo_get(MMDB_entry_s *e, const char *const *path, MMDB_entry_data_s *v)
{
	int	 rc;

	rc = MMDB_aget_value(e, v, path);
	if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ||
	    (rc == MMDB_SUCCESS && !v->has_data))
		return 0;
	return rc == MMDB_SUCCESS ? 1 : -1;
}

/*
 * The UTF-8 string at path under e.  Returns 1 with *p and *len set (not
 * NUL-terminated, pointing into the mapping), 0 when absent, -1 when
 * present but not a string or not decodable.
 */
static int
geo_str(MMDB_entry_s *e, const char *const *path, const char **p,
    size_t *len)
{
	MMDB_entry_data_s	 v;
	int			 rc;

	if ((rc = geo_get(e, path, &v)) != 1)
		return rc;
	if (v.type != MMDB_DATA_TYPE_UTF8_STRING)
		return -1;
	*p = v.utf8_string;
	*len = v.data_size;
	return 1;
}

/* Counts a refused value; warns at most every GEO_WARN_US. */
static void
geo_invalid(struct geo *g, int k, const char *field, const char *ip)
{
	int64_t	 now = util_now_us();
	char	 esc[64];

	g->stats.invalid++;
	g->unwarned++;
	if (g->warned_us != 0 && now - g->warned_us < GEO_WARN_US)
		return;
	util_escape_term(ip, strlen(ip), esc, sizeof(esc));
	log_warn("geo invalid value file=%s field=%s ip=%s count=%llu",
	    g->db[k].path, field, esc, (unsigned long long)g->unwarned);
	g->warned_us = now;
	g->unwarned = 0;
}

/* An ASCII letter (isalpha() depends on the locale). */
static int
geo_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * The country of sa from database k into out.  Returns 1 when the
 * database answered with a valid code, 0 otherwise.
 */
static int
geo_country(struct geo *g, int k, const struct sockaddr *sa, const char *ip,
    struct geo_info *out)
{
	MMDB_entry_s	 e;
	const char	*p;
	size_t		 len;
	int		 rc, d;

	if (!geo_find(g, k, sa, &e, &d))
		return 0;
	for (size_t i = 0; i < sizeof(geo_country_paths) /
	    sizeof(geo_country_paths[0]); i++) {
		if ((rc = geo_str(&e, geo_country_paths[i], &p, &len)) == 0)
			continue;
		if (rc == -1 || len != 2 || !geo_alpha(p[0]) ||
		    !geo_alpha(p[1])) {
			geo_invalid(g, d, geo_country_paths[i][0], ip);
			return 0;
		}
		out->country[0] = (char)(p[0] & ~0x20);
		out->country[1] = (char)(p[1] & ~0x20);
		out->country[2] = '\0';
		out->build = (int64_t)g->db[d].mmdb->metadata.build_epoch;
		return 1;
	}
	return 0;
}

/* The AS number and organisation of sa into out. */
static void
geo_asn(struct geo *g, const struct sockaddr *sa, const char *ip,
    struct geo_info *out)
{
	MMDB_entry_s		 e;
	MMDB_entry_data_s	 v;
	const char		*p;
	size_t			 len;
	uint64_t		 asn = 0;
	int			 rc, d;

	if (!geo_find(g, GEO_ASN, sa, &e, &d))
		return;
	if ((rc = geo_get(&e, geo_asn_path, &v)) == 1) {
		if (v.type == MMDB_DATA_TYPE_UINT16)
			asn = v.uint16;
		else if (v.type == MMDB_DATA_TYPE_UINT32)
			asn = v.uint32;
		else if (v.type == MMDB_DATA_TYPE_UINT64)
			asn = v.uint64;
		else if (v.type == MMDB_DATA_TYPE_INT32 && v.int32 > 0)
			asn = (uint64_t)v.int32;
		if (asn == 0 || asn > UINT32_MAX) {
			asn = 0;
			geo_invalid(g, d, geo_asn_path[0], ip);
		}
	} else if (rc == -1)
		geo_invalid(g, d, geo_asn_path[0], ip);
	out->asn = (uint32_t)asn;

	if ((rc = geo_str(&e, geo_org_path, &p, &len)) == 0 || (rc == 1 &&
	    len == 0))
		return;
	if (rc == -1 || len > GEO_ORG_MAX ||
	    !geo_utf8_ok((const unsigned char *)p, len)) {
		geo_invalid(g, d, geo_org_path[0], ip);
		return;
	}
	memcpy(out->as_org, p, len);
	out->as_org[len] = '\0';
}

/*
 * True when p is well-formed UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF) without C0 controls or DEL.
 */
static int
geo_utf8_ok(const unsigned char *p, size_t len)
{
	size_t		 i = 0, n;
	uint32_t	 cp;

	while (i < len) {
		if (p[i] < 0x80) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			n = 1, cp = p[i] & 0x1f;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			n = 2, cp = p[i] & 0x0f;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			n = 3, cp = p[i] & 0x07;
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (size_t j = 1; j <= n; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += n + 1;
	}
	return 1;
}

/*
 * Fills out with what the open databases say about ip (text, IPv4 or
 * IPv6; IPv4-mapped IPv6 is looked up as IPv4).  Fields nobody answered
 * stay empty.  out->build is the build_epoch of the database that gave
 * the country, else of the first country or city database open, else 0.
 * Strings are copied: out stays valid across reopens.
 */
void
geo_lookup(struct geo *g, const char *ip, struct geo_info *out)
{
	struct sockaddr_storage	 ss;
	const struct sockaddr	*sa = (const struct sockaddr *)&ss;

	memset(out, 0, sizeof(*out));
	if (g == NULL || geo_addr(ip, &ss) == -1)
		return;
	g->stats.lookups++;
	if (!geo_country(g, GEO_COUNTRY, sa, ip, out) &&
	    !geo_country(g, GEO_CITY, sa, ip, out)) {
		static const int kinds[] = { GEO_COUNTRY, GEO_CITY };

		for (int j = 0; j < 2 && out->build == 0; j++)
			for (int i = kinds[j] * GEO_FILES; i < (kinds[j] + 1) *
			    GEO_FILES && out->build == 0; i++)
				if (g->db[i].mmdb != NULL)
					out->build = (int64_t)g->db[i].mmdb->
					    metadata.build_epoch;
	}
	geo_asn(g, sa, ip, out);
}

/*
 * The English city name of ip from the city databases into buf (len >
 * GEO_ORG_MAX), "" when none answers or the name is not clean UTF-8.
 */
void
geo_city(struct geo *g, const char *ip, char *buf, size_t len)
{
	struct sockaddr_storage	 ss;
	MMDB_entry_s		 e;
	const char		*p;
	size_t			 n;
	int			 found;

	buf[0] = '\0';
	if (geo_addr(ip, &ss) == 0 && geo_find(g, GEO_CITY,
	    (const struct sockaddr *)&ss, &e, &found) &&
	    geo_str(&e, geo_city_path, &p, &n) == 1 && n <= GEO_ORG_MAX &&
	    n < len && geo_utf8_ok((const unsigned char *)p, n)) {
		memcpy(buf, p, n);
		buf[n] = '\0';
	}
}

/*
 * What "geo lookup" shows of database slot i (GEO_FILES slots a kind,
 * kind after kind) into f: its kind and configured path, and when it is
 * open its database_type and build epoch, else why not.  Returns 1, 0
 * for a slot nothing is configured in, -1 past the last slot.  The
 * strings live in g.
 */
int
geo_file(const struct geo *g, int i, struct geo_file *f)
{
	const struct geo_db	*d;

	if (i < 0 || i >= GEO_NDB)
		return -1;
	d = &g->db[i];
	if (d->want[0] == '\0')
		return 0;
	memset(f, 0, sizeof(*f));
	f->kind = GEO_KIND(i);
	f->path = d->want;
	if (d->mmdb != NULL) {
		f->type = d->mmdb->metadata.database_type;
		f->build = d->mmdb->metadata.build_epoch;
	} else
		f->why = d->why;
	return 1;
}
