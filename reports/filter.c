/* SPDX-License-Identifier: ISC */
/*
 * filter.c -- the filters every report takes (--since, --until, --decoy,
 * --country, --asn, --cidr) and their SQL: a WHERE fragment made only of
 * fixed text and named parameters, and the binding of the parsed values
 * to those parameters.  No value from the command line or the database
 * is ever pasted into SQL.
 *
 * Also the address arithmetic the reports and exports share: parsing a
 * network, testing membership, and naming the /24 or /64 of an address.
 * Two SQL functions are registered on a reader's connection:
 *
 *	decoymx_in_net(ip, net)		1 when ip is inside net, else 0
 *	decoymx_net(ip, v4len, v6len)	the network of ip, e.g. 192.0.2.0/24
 *
 * And the export's rule options, which report ip takes too, so that a
 * listing is explained with the options that made it.
 *
 * Exports filter_init(), filter_option(), filter_rule_defaults(),
 * filter_rule_option(), filter_active(), filter_sql(),
 * filter_bind(), filter_register(), filter_net(), filter_parse_net() and
 * filter_in_net().
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

static int	 filter_set_time(int64_t *, const char *, const char *, char *,
		    size_t);
static int	 filter_set_decoy(struct filter *, const char *, char *, size_t);
static int	 filter_set_country(struct filter *, const char *, char *,
		    size_t);
static int	 filter_set_asn(struct filter *, const char *, char *, size_t);
static int	 filter_set_cidr(struct filter *, const char *, char *, size_t);
static void	 filter_mask(uint8_t *, int, int);
static void	 filter_sql_in_net(sqlite3_context *, int, sqlite3_value **);
static void	 filter_sql_net(sqlite3_context *, int, sqlite3_value **);

/* One filter option: its name, how it parses, its SQL condition. */
static const struct {
	const char	*name;
	int		(*set)(struct filter *, const char *, char *, size_t);
} filter_opts[] = {
	{ "decoy",	filter_set_decoy },
	{ "country",	filter_set_country },
	{ "asn",	filter_set_asn },
	{ "cidr",	filter_set_cidr },
};

#define NFILTER_OPTS	(sizeof(filter_opts) / sizeof(filter_opts[0]))

/* A filter that lets everything through. */
void
filter_init(struct filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since = INT64_MIN;
	f->until = INT64_MAX;
	f->asn = -1;
}

static int
filter_set_time(int64_t *dst, const char *name, const char *arg, char *err,
    size_t errlen)
{
	if (util_parse_time(arg, util_now_us(), dst) == -1) {
		snprintf(err, errlen, "bad --%s %s: want a duration (24h, 7d) "
		    "or a UTC time (2026-11-27T06:00:00Z)", name, arg);
		return -1;
	}
	return 0;
}

/* --decoy ADDR: kept in the canonical text form the store writes. */
static int
filter_set_decoy(struct filter *f, const char *arg, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;

	if (util_parse_addr(arg, &ss) == -1) {
		snprintf(err, errlen, "bad --decoy %s: want an IPv4 or IPv6 "
		    "address", arg);
		return -1;
	}
	util_addr_str((struct sockaddr *)&ss, f->decoy, sizeof(f->decoy),
	    NULL);
	return 0;
}

static int
filter_set_country(struct filter *f, const char *arg, char *err,
    size_t errlen)
{
	if (strlen(arg) != 2 || !isalpha((unsigned char)arg[0]) ||
	    !isalpha((unsigned char)arg[1])) {
		snprintf(err, errlen, "bad --country %s: want a two-letter "
		    "ISO 3166 code (DE, US)", arg);
		return -1;
	}
	f->country[0] = (char)toupper((unsigned char)arg[0]);
	f->country[1] = (char)toupper((unsigned char)arg[1]);
	f->country[2] = '\0';
	return 0;
}

/* --asn N or ASN: "AS64500" and "64500" are the same. */
static int
filter_set_asn(struct filter *f, const char *arg, char *err, size_t errlen)
{
	const char		*p = arg;
	char			*end;
	unsigned long long	 v;

	if (strncasecmp(p, "AS", 2) == 0)
		p += 2;
	errno = 0;
	if (!isdigit((unsigned char)*p) ||
	    (v = strtoull(p, &end, 10), errno != 0) || *end != '\0' ||
	    v > UINT32_MAX) {
		snprintf(err, errlen, "bad --asn %s: want an AS number "
		    "(64500 or AS64500)", arg);
		return -1;
	}
	f->asn = (int64_t)v;
	return 0;
}

static int
filter_set_cidr(struct filter *f, const char *arg, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	char			 ip[ADDR_STRLEN];
	int			 prefix;

	if (filter_parse_net(arg, &ss, &prefix) == -1) {
		snprintf(err, errlen, "bad --cidr %s: want a network such as "
		    "192.0.2.0/24 or 2001:db8::/32", arg);
		return -1;
	}
	util_addr_str((struct sockaddr *)&ss, ip, sizeof(ip), NULL);
	snprintf(f->cidr, sizeof(f->cidr), "%s/%d", ip, prefix);
	return 0;
}

/*
 * Parses a filter option given as its long name without dashes.
 * Returns 1 when name is not a filter option, 0 when parsed, or -1 with
 * a message in err.
 */
int
filter_option(struct filter *f, const char *name, const char *arg, char *err,
    size_t errlen)
{
	if (strcmp(name, "since") == 0)
		return filter_set_time(&f->since, name, arg, err, errlen);
	if (strcmp(name, "until") == 0)
		return filter_set_time(&f->until, name, arg, err, errlen);
	for (size_t i = 0; i < NFILTER_OPTS; i++)
		if (strcmp(name, filter_opts[i].name) == 0)
			return filter_opts[i].set(f, arg, err, errlen);
	return 1;
}

/* The export's defaults, except that any age counts (no --max-age). */
void
filter_rule_defaults(struct rule_opts *r)
{
	struct classify_conf	 cc;

	classify_defaults(&cc);
	memset(r, 0, sizeof(*r));
	r->rules = cc.rules;
	r->window_us = cc.window_us;
	/* The export's defaults, so "listed" means what the export does. */
	r->max_age_us = 7LL * 86400 * 1000000;
	r->min_sessions = 1;
}

/*
 * Parses one of the export's rule options, given as its long name
 * without dashes, as the export does.  Returns 1 when name is not one,
 * 0 when parsed, or -1 with a message in err.
 */
int
filter_rule_option(struct rule_opts *r, const char *name, const char *arg,
    char *err, size_t errlen)
{
	char		 buf[128], *w, *save = NULL, *end;
	uint64_t	 ms;
	long long	 v;
	int		 reason;

	if (strcmp(name, "allowlist") == 0) {
		r->allowlist = arg;
	} else if (strcmp(name, "window") == 0 ||
	    strcmp(name, "max-age") == 0) {
		if (util_parse_duration_ms(arg, &ms) == -1 ||
		    ms > (uint64_t)INT64_MAX / 1000) {
			snprintf(err, errlen, "bad --%s %s: want a duration "
			    "(10m, 7d)", name, arg);
			return -1;
		}
		*(name[0] == 'w' ? &r->window_us : &r->max_age_us) =
		    (int64_t)ms * 1000;
	} else if (strcmp(name, "min-sessions") == 0) {
		errno = 0;
		v = strtoll(arg, &end, 10);
		if (!isdigit((unsigned char)*arg) || *end != '\0' ||
		    errno != 0 || v < 1) {
			snprintf(err, errlen, "bad --min-sessions %s (want "
			    ">= 1)", arg);
			return -1;
		}
		r->min_sessions = v;
	} else if (strcmp(name, "rules") == 0) {
		r->rules = 0;
		if (strlen(arg) >= sizeof(buf))
			goto bad_rules;
		memcpy(buf, arg, strlen(arg) + 1);
		for (w = strtok_r(buf, ",", &save); w != NULL;
		    w = strtok_r(NULL, ",", &save)) {
			if ((reason = classify_reason_parse(w)) == -1)
				goto bad_rules;
			r->rules |= 1u << reason;
		}
	} else
		return 1;
	r->given = 1;
	return 0;
bad_rules:
	snprintf(err, errlen, "bad --rules %s: want a comma list of "
	    "backup-direct, nolisting-only, bot-protocol", arg);
	return -1;
}

/* Whether the filter excludes anything at all. */
int
filter_active(const struct filter *f)
{
	return f->since != INT64_MIN || f->until != INT64_MAX ||
	    f->decoy[0] != '\0' || f->country[0] != '\0' || f->asn != -1 ||
	    f->cidr[0] != '\0';
}

/*
 * Writes the conditions of the filter on the sessions table (as alias)
 * into buf, each starting with " AND ", so that it follows a WHERE.
 * Only the conditions in use are written; their values are named
 * parameters (:since ...) for filter_bind().
 */
void
filter_sql(const struct filter *f, const char *a, char *buf, size_t len)
{
	size_t	 n = 0;

#define ADD(...) do {							\
	int	 k_ = snprintf(buf + n, len > n ? len - n : 0, __VA_ARGS__);\
	if (k_ > 0)							\
		n += (size_t)k_;					\
} while (0)
	buf[0] = '\0';
	if (f->since != INT64_MIN)
		ADD(" AND %s.start_us >= :since", a);
	if (f->until != INT64_MAX)
		ADD(" AND %s.start_us < :until", a);
	if (f->decoy[0] != '\0')
		ADD(" AND %s.dst_ip = :decoy", a);
	if (f->country[0] != '\0')
		ADD(" AND %s.country = :country", a);
	if (f->asn != -1)
		ADD(" AND %s.asn = :asn", a);
	if (f->cidr[0] != '\0')
		ADD(" AND decoymx_in_net(%s.src_ip, :cidr)", a);
#undef ADD
}

/* Binds the filter's values to the parameters of filter_sql() in q. */
int
filter_bind(const struct filter *f, sqlite3_stmt *q)
{
	int	 i, rc = SQLITE_OK;

	if ((i = sqlite3_bind_parameter_index(q, ":since")) > 0)
		rc |= sqlite3_bind_int64(q, i, f->since);
	if ((i = sqlite3_bind_parameter_index(q, ":until")) > 0)
		rc |= sqlite3_bind_int64(q, i, f->until);
	if ((i = sqlite3_bind_parameter_index(q, ":decoy")) > 0)
		rc |= sqlite3_bind_text(q, i, f->decoy, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(q, ":country")) > 0)
		rc |= sqlite3_bind_text(q, i, f->country, -1, SQLITE_STATIC);
	if ((i = sqlite3_bind_parameter_index(q, ":asn")) > 0)
		rc |= sqlite3_bind_int64(q, i, f->asn);
	if ((i = sqlite3_bind_parameter_index(q, ":cidr")) > 0)
		rc |= sqlite3_bind_text(q, i, f->cidr, -1, SQLITE_STATIC);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Clears the bits of addr (len bytes) after the first prefix bits. */
static void
filter_mask(uint8_t *addr, int len, int prefix)
{
	for (int i = 0; i < len; i++) {
		int bits = prefix - 8 * i;

		if (bits >= 8)
			continue;
		addr[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

/*
 * Parses "ADDR/LEN" or a bare address (a host route) into the network
 * address (host bits cleared) and its prefix length.  Returns 0 or -1.
 */
int
filter_parse_net(const char *s, struct sockaddr_storage *ss, int *prefix)
{
	char		 buf[ADDR_STRLEN + 8], *slash, *end;
	long		 v;
	int		 max;

	if (strlcpy_(buf, s, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (util_parse_addr(buf, ss) == -1)
		return -1;
	max = ss->ss_family == AF_INET ? 32 : 128;
	*prefix = max;
	if (slash != NULL) {
		errno = 0;
		v = strtol(slash, &end, 10);
		if (!isdigit((unsigned char)*slash) || *end != '\0' ||
		    errno != 0 || v < 0 || v > max)
			return -1;
		*prefix = (int)v;
	}
	if (ss->ss_family == AF_INET)
		filter_mask((uint8_t *)&((struct sockaddr_in *)ss)->sin_addr,
		    4, *prefix);
	else
		filter_mask(((struct sockaddr_in6 *)ss)->sin6_addr.s6_addr, 16,
		    *prefix);
	return 0;
}

/* Whether the address text ip lies in the network net/prefix. */
int
filter_in_net(const char *ip, const struct sockaddr_storage *net, int prefix)
{
	struct sockaddr_storage	 ss;
	const uint8_t		*a, *b;
	int			 len;

	if (util_parse_addr(ip, &ss) == -1 || ss.ss_family != net->ss_family)
		return 0;
	if (ss.ss_family == AF_INET) {
		a = (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr;
		b = (const uint8_t *)&((const struct sockaddr_in *)net)->sin_addr;
		len = 4;
	} else {
		a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
		b = ((const struct sockaddr_in6 *)net)->sin6_addr.s6_addr;
		len = 16;
	}
	for (int i = 0; i < len && 8 * i < prefix; i++) {
		int	 bits = prefix - 8 * i;
		uint8_t	 m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a[i] & m) != b[i])
			return 0;
	}
	return 1;
}

/*
 * The network of ip as text, "192.0.2.0/24" or "2001:db8:1:2::/64",
 * with the given prefix lengths.  Returns 0, or -1 when ip is not an
 * address.
 */
int
filter_net(const char *ip, int v4len, int v6len, char *out, size_t outlen)
{
	struct sockaddr_storage	 ss;
	char			 buf[ADDR_STRLEN];
	int			 len;

	if (util_parse_addr(ip, &ss) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		len = v4len;
		filter_mask((uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr,
		    4, len);
	} else {
		len = v6len;
		filter_mask(((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr, 16,
		    len);
	}
	util_addr_str((struct sockaddr *)&ss, buf, sizeof(buf), NULL);
	snprintf(out, outlen, "%s/%d", buf, len);
	return 0;
}

/* The parsed network of decoymx_in_net's second argument, cached. */
struct filter_net_aux {
	struct sockaddr_storage	 ss;
	int			 prefix;
};

static void
filter_sql_in_net(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct filter_net_aux	*aux;
	const char		*ip, *net;

	(void)argc;
	if ((aux = sqlite3_get_auxdata(ctx, 1)) == NULL) {
		net = (const char *)sqlite3_value_text(argv[1]);
		if (net == NULL || (aux = sqlite3_malloc(sizeof(*aux))) ==
		    NULL) {
			sqlite3_result_int(ctx, 0);
			return;
		}
		if (filter_parse_net(net, &aux->ss, &aux->prefix) == -1) {
			sqlite3_free(aux);
			sqlite3_result_error(ctx, "decoymx_in_net: bad network",
			    -1);
			return;
		}
		sqlite3_set_auxdata(ctx, 1, aux, sqlite3_free);
		if ((aux = sqlite3_get_auxdata(ctx, 1)) == NULL) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
	}
	ip = (const char *)sqlite3_value_text(argv[0]);
	sqlite3_result_int(ctx, ip != NULL &&
	    filter_in_net(ip, &aux->ss, aux->prefix));
}

static void
filter_sql_net(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char	*ip = (const char *)sqlite3_value_text(argv[0]);
	char		 out[ADDR_STRLEN + 8];
	int		 v4 = sqlite3_value_int(argv[1]);
	int		 v6 = sqlite3_value_int(argv[2]);

	(void)argc;
	if (ip == NULL || v4 < 0 || v4 > 32 || v6 < 0 || v6 > 128 ||
	    filter_net(ip, v4, v6, out, sizeof(out)) == -1) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

/* Registers decoymx_in_net() and decoymx_net() on db.  0 or -1. */
int
filter_register(sqlite3 *db)
{
	int	 fl = SQLITE_UTF8 | SQLITE_DETERMINISTIC;

	if (sqlite3_create_function(db, "decoymx_in_net", 2, fl, NULL,
	    filter_sql_in_net, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "decoymx_net", 3, fl, NULL,
	    filter_sql_net, NULL, NULL) != SQLITE_OK)
		return -1;
	return 0;
}
