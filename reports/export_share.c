/* SPDX-License-Identifier: ISC */
/*
 * export_share.c -- the export formats for blocking with ipset and for
 * sharing intelligence in the formats other people use, registered in
 * export_opts.c's table (they see the same collected list):
 *
 *	ipset		an "ipset restore" file that fills NAME4-new and
 *			NAME6-new (hash:net) and swaps them with NAME4 and
 *			NAME6: the sets in use change atomically
 *	abuseipdb	AbuseIPDB's bulk-report CSV (IP, Categories 11 "Email
 *			Spam", ReportDate of the first sighting, Comment)
 *	stix		a STIX 2.1 bundle: the sensor's identity and one
 *			indicator per listed address or network
 *	misp		a MISP feed directory: manifest.json and one event,
 *			ip-src attributes tagged with their reasons
 *
 * Nothing in them comes from the network: addresses printed from parsed
 * bytes, the fixed reason names, the sensor name (checked or made
 * safe).  Identifiers are name-based UUIDs (version 5, RFC 4122) of the
 * sensor and the address, so a consumer sees the same object again on
 * the next export.  The RFC 5782 test entry is never in them.
 *
 * Also here: the ignored clients no export lists: those an "ignore ...
 * record" line had recorded (close reason "ignored"), and those in the
 * "ignore" networks of the running configuration (the store's periodic
 * exports) or of --config FILE.
 *
 * Exports share_ipset(), share_abuseipdb(), share_abuseipdb_head(),
 * share_stix(), share_stix_head(), share_misp(), share_misp_head(),
 * share_misp_path(), share_ignore_nets(), share_ignored_load(),
 * share_ignored_has() and share_ignored_free().
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"

#define SHARE_IPSET_MAX		4194304	/* maxelem of every set */
#define SHARE_ABUSEIPDB_ROWS	9999	/* their limit: 10,000 lines */
#define SHARE_NAME_MAX		64
#define SHARE_IDENTITY_TIME	"2026-01-01T00:00:00.000Z"	/* STIX */

/* The namespace of decoymx's version 5 UUIDs (itself a random UUID). */
static const uint8_t share_ns[16] = {
	0x6f, 0x1c, 0x0d, 0x2e, 0x8b, 0x3a, 0x4c, 0x57,
	0x9e, 0x21, 0x5d, 0x0a, 0x7b, 0x3c, 0x9f, 0x44
};

/* The identity of an entry in stix and misp (share_item). */
struct share_item {
	char	 net[ADDR_STRLEN + 8], u[37], t1[64], t2[64], why[160];
};

struct share_sha1 {
	uint32_t	 h[5];
	uint8_t		 buf[64];
	uint64_t	 len;
};

static int	 share_strcmp(const void *, const void *);
static void	 share_sha1_block(struct share_sha1 *, const uint8_t *);
static void	 share_sha1_add(struct share_sha1 *, const void *, size_t);
static void	 share_uuid5(const char *, char *);
static void	 share_sensor(const struct export_opts *, char *, size_t);
static void	 share_reasons(uint32_t, const char *, char *, size_t);
static void	 share_time(int64_t, int offset, char *, size_t);
static int	 share_skip(const struct export_entry *);
static void	 share_item(const struct export_entry *, const char *,
		    const char *, int, const char *, struct share_item *);
static void	 share_ipset_family(const struct export_opts *,
		    const struct export_list *, FILE *, int);
static void	 share_misp_event(const struct export_opts *, FILE *,
		    const char *, const char *, int64_t, size_t);
static int64_t	 share_last(const struct export_list *, size_t *);

static uint32_t
share_rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

/* One 64-byte block of SHA-1 (FIPS 180-4), for name-based UUIDs. */
static void
share_sha1_block(struct share_sha1 *c, const uint8_t *p)
{
	uint32_t	 w[80], a, b, d, e, f, k, t, cc;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = share_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3]; e = c->h[4];
	for (int i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & cc) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ cc ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & cc) | (b & d) | (cc & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ cc ^ d;
			k = 0xca62c1d6;
		}
		t = share_rol(a, 5) + f + e + k + w[i];
		e = d;
		d = cc;
		cc = share_rol(b, 30);
		b = a;
		a = t;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e;
}

static void
share_sha1_add(struct share_sha1 *c, const void *data, size_t n)
{
	const uint8_t	*p = data;

	for (size_t i = 0; i < n; i++) {
		c->buf[c->len++ % 64] = p[i];
		if (c->len % 64 == 0)
			share_sha1_block(c, c->buf);
	}
}

/*
 * The version 5 UUID of name in decoymx's namespace, as 36 characters
 * and a NUL into out[37].
 */
static void
share_uuid5(const char *name, char *out)
{
	struct share_sha1	 c = { { 0x67452301, 0xefcdab89, 0x98badcfe,
				    0x10325476, 0xc3d2e1f0 }, { 0 }, 0 };
	uint64_t		 bits;
	uint8_t			 u[20], pad = 0x80, zero = 0, len[8];

	share_sha1_add(&c, share_ns, sizeof(share_ns));
	share_sha1_add(&c, name, strlen(name));
	bits = c.len * 8;
	share_sha1_add(&c, &pad, 1);
	while (c.len % 64 != 56)
		share_sha1_add(&c, &zero, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	share_sha1_add(&c, len, 8);
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 4; j++)
			u[4 * i + j] = (uint8_t)(c.h[i] >> (24 - 8 * j));
	u[6] = (u[6] & 0x0f) | 0x50;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* The sensor's name (--sensor, else the host name), made JSON-safe. */
static void
share_sensor(const struct export_opts *o, char *buf, size_t len)
{
	if (o->sensor != NULL)
		strlcpy_(buf, o->sensor, len);
	else if (gethostname(buf, len) == -1 || buf[0] == '\0')
		strlcpy_(buf, "decoymx", len);
	buf[len - 1] = '\0';
	for (char *p = buf; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(".-_", *p)))
			*p = '_';
}

/* The reason names of bits joined by sep. */
static void
share_reasons(uint32_t bits, const char *sep, char *buf, size_t len)
{
	size_t	 n = 0;

	buf[0] = '\0';
	for (int i = 0; i < REASON_MAX && n < len; i++)
		if (bits & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    n ? sep : "", classify_reason_name(i));
}

/*
 * A time as ISO 8601 UTC with milliseconds: "...Z" (STIX), or with
 * offset (offset 1: "+00:00", offset 2: seconds only and "+00:00").
 */
static void
share_time(int64_t us, int offset, char *buf, size_t len)
{
	char	 t[64];

	util_iso8601(us, t, sizeof(t));
	if (offset == 0)
		strlcpy_(buf, t, len);
	else
		snprintf(buf, len, "%.*s+00:00", offset == 2 ? 19 : 23, t);
}

/*
 * What stix and misp say of an entry e into it: its network, the UUID
 * of "KIND:SENSOR:NET", its first and last sighting (share_time() with
 * offset) and its reason names joined by sep.
 */
static void
share_item(const struct export_entry *e, const char *kind,
    const char *sensor, int offset, const char *sep, struct share_item *it)
{
	char	 name[SHARE_NAME_MAX + 96];

	export_net(e, it->net, sizeof(it->net));
	snprintf(name, sizeof(name), "%s:%s:%s", kind, sensor, it->net);
	share_uuid5(name, it->u);
	share_time(e->first_us, offset, it->t1, sizeof(it->t1));
	share_time(e->last_us, offset, it->t2, sizeof(it->t2));
	share_reasons(e->reasons, sep, it->why, sizeof(it->why));
}

/* Whether an entry stays out of the sharing formats (the test entry). */
static int
share_skip(const struct export_entry *e)
{
	return (e->reasons & (1u << REASON_TEST)) != 0;
}

/* The latest sighting of all entries (0: none) and their number. */
static int64_t
share_last(const struct export_list *l, size_t *n)
{
	int64_t	 last = 0;

	*n = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (share_skip(&l->e[i]))
			continue;
		(*n)++;
		if (l->e[i].last_us > last)
			last = l->e[i].last_us;
	}
	return last;
}

/*
 * ipset: for each family, a fresh NAME4-new (NAME6-new) filled and
 * swapped with the set in use, then destroyed; allowlisted networks
 * inside a listed one as "nomatch".  Every set has the same parameters,
 * so "create -exist" accepts the set a previous run swapped in.
 */
void
share_ipset(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	(void)part;
	share_ipset_family(o, l, f, 4);
	share_ipset_family(o, l, f, 6);
}

static void
share_ipset_family(const struct export_opts *o, const struct export_list *l,
    FILE *f, int family)
{
	char		 set[48], net[ADDR_STRLEN + 8];
	const char	*fam = family == 4 ? "inet" : "inet6";

	snprintf(set, sizeof(set), "%s%d", o->ipset_set, family);
	fprintf(f, "create %s hash:net family %s hashsize 1024 maxelem %d "
	    "-exist\n", set, fam, SHARE_IPSET_MAX);
	fprintf(f, "create %s-new hash:net family %s hashsize 1024 maxelem %d "
	    "-exist\nflush %s-new\n", set, fam, SHARE_IPSET_MAX, set);
	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].family != family || share_skip(&l->e[i]))
			continue;
		export_net(&l->e[i], net, sizeof(net));
		fprintf(f, "add %s-new %s\n", set, net);
	}
	for (size_t i = 0; i < l->nexcl; i++) {
		if (l->excl[i].family != family)
			continue;
		export_excl_net(l, i, net, sizeof(net));
		fprintf(f, "add %s-new %s nomatch\n", set, net);
	}
	fprintf(f, "swap %s-new %s\ndestroy %s-new\n", set, set, set);
}

/* abuseipdb: the strict heading line, never padded. */
void
share_abuseipdb_head(const struct export_opts *o, const struct export_list *l,
    int part, const char *now, char *buf, size_t len)
{
	(void)o;
	(void)l;
	(void)part;
	(void)now;
	strlcpy_(buf, "IP,Categories,ReportDate,Comment", len);
}

/*
 * abuseipdb: one row per listed address in address order (a network
 * cannot be reported: with the default --v6-prefix 64 IPv6 clients are
 * left out), at most the 9,999 rows their 10,000-line limit allows.
 */
void
share_abuseipdb(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char	 net[ADDR_STRLEN + 8], when[64], why[160];
	size_t	 rows = 0;

	(void)o;
	(void)part;
	for (size_t i = 0; i < l->n && rows < SHARE_ABUSEIPDB_ROWS; i++) {
		const struct export_entry *e = &l->e[i];

		if (share_skip(e) || e->prefix != (e->family == 4 ? 32 : 128))
			continue;
		export_net(e, net, sizeof(net));
		share_time(e->first_us, 2, when, sizeof(when));
		share_reasons(e->reasons, ", ", why, sizeof(why));
		fprintf(f, "%s,11,%s,\"Spam bot at a nolisting decoy MX "
		    "(decoymx): %s\"\n", net, when, why);
		rows++;
	}
}

/* stix: the bundle's opening, with an id of the sensor and the time. */
void
share_stix_head(const struct export_opts *o, const struct export_list *l,
    int part, const char *now, char *buf, size_t len)
{
	char	 sensor[SHARE_NAME_MAX], name[SHARE_NAME_MAX + 96], u[37];

	(void)l;
	(void)part;
	share_sensor(o, sensor, sizeof(sensor));
	snprintf(name, sizeof(name), "bundle:%s:%s", sensor, now);
	share_uuid5(name, u);
	snprintf(buf, len, "{\"type\":\"bundle\",\"id\":\"bundle--%s\","
	    "\"objects\":[", u);
}

/*
 * stix: the sensor's identity, then an indicator per entry: pattern on
 * ipv4-addr or ipv6-addr (a CIDR for a network), valid_from and created
 * the first sighting, modified the last, labels the reasons.
 */
void
share_stix(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char			 sensor[SHARE_NAME_MAX], name[SHARE_NAME_MAX + 96];
	char			 ident[37];
	struct share_item	 it;

	(void)part;
	share_sensor(o, sensor, sizeof(sensor));
	snprintf(name, sizeof(name), "identity:%s", sensor);
	share_uuid5(name, ident);
	/* The identity never changes: so neither do its timestamps. */
	fprintf(f, "{\"type\":\"identity\",\"spec_version\":\"2.1\","
	    "\"id\":\"identity--%s\",\"created\":\"%s\",\"modified\":"
	    "\"%s\",\"name\":\"decoymx sensor %s\",\"identity_class\":"
	    "\"system\"}", ident, SHARE_IDENTITY_TIME, SHARE_IDENTITY_TIME,
	    sensor);
	for (size_t i = 0; i < l->n; i++) {
		const struct export_entry *e = &l->e[i];

		if (share_skip(e))
			continue;
		share_item(e, "indicator", sensor, 0, "\",\"", &it);
		fprintf(f, ",\n{\"type\":\"indicator\",\"spec_version\":"
		    "\"2.1\",\"id\":\"indicator--%s\",\"created_by_ref\":"
		    "\"identity--%s\",\"created\":\"%s\",\"modified\":\"%s\","
		    "\"name\":\"spam bot %s\",\"indicator_types\":"
		    "[\"malicious-activity\"],\"pattern\":\"[%s:value = '%s']\","
		    "\"pattern_type\":\"stix\",\"pattern_version\":\"2.1\","
		    "\"valid_from\":\"%s\",\"labels\":[\"%s\"]}", it.u, ident,
		    it.t1, it.t2, it.net, e->family == 4 ? "ipv4-addr" :
		    "ipv6-addr", it.net, it.t1, it.why);
	}
	fputs("]}\n", f);
}

/*
 * misp: part 0 is DIR/manifest.json, part 1 DIR/EVENT-UUID.json; DIR
 * (-o) is made when missing.  Returns 0, or -1 with errno set.
 */
int
share_misp_path(const struct export_opts *o, int part, char *buf,
    size_t len)
{
	char	 sensor[SHARE_NAME_MAX], name[SHARE_NAME_MAX + 32], u[37];
	int	 n;

	if (o->output == NULL || strcmp(o->output, "-") == 0) {
		errno = ENOTDIR;
		return -1;
	}
	if (mkdir(o->output, 0755) == -1 && errno != EEXIST)
		return -1;
	share_sensor(o, sensor, sizeof(sensor));
	snprintf(name, sizeof(name), "misp-event:%s", sensor);
	share_uuid5(name, u);
	n = part == 0 ? snprintf(buf, len, "%s/manifest.json", o->output) :
	    snprintf(buf, len, "%s/%s.json", o->output, u);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* misp: the opening of the manifest (part 0) or the event (part 1). */
void
share_misp_head(const struct export_opts *o, const struct export_list *l,
    int part, const char *now, char *buf, size_t len)
{
	(void)o;
	(void)l;
	(void)now;
	strlcpy_(buf, part == 0 ? "{" : "{\"Event\":{", len);
}

/* The event's fields that the manifest repeats. */
static void
share_misp_event(const struct export_opts *o, FILE *f, const char *sensor,
    const char *uuid, int64_t last, size_t n)
{
	char	 org[37], name[SHARE_NAME_MAX + 16], date[64];

	(void)o;
	snprintf(name, sizeof(name), "org:%s", sensor);
	share_uuid5(name, org);
	util_iso8601(last, date, sizeof(date));
	fprintf(f, "\"uuid\":\"%s\",\"info\":\"decoymx: spam bots seen "
	    "by the decoy MX %s\",\"date\":\"%.10s\",\"timestamp\":"
	    "\"%lld\",\"publish_timestamp\":\"%lld\",\"published\":true,"
	    "\"analysis\":\"2\",\"threat_level_id\":\"3\",\"Orgc\":"
	    "{\"id\":\"1\",\"name\":\"decoymx %s\",\"uuid\":\"%s\"},"
	    "\"Tag\":[{\"id\":\"1\",\"name\":\"decoymx:sensor=\\\"%s\\\"\","
	    "\"colour\":\"#0088cc\",\"exportable\":true}]", uuid, sensor,
	    date, (long long)(last / 1000000), (long long)(last / 1000000),
	    sensor, org, sensor);
	(void)n;
}

/*
 * misp: the manifest (part 0) lists the one event; the event (part 1)
 * has an ip-src attribute per entry (a CIDR for a network), tagged
 * decoymx:reason="NAME" per reason.  Its timestamp is the latest
 * sighting, so an unchanged list leaves both files unchanged.
 */
void
share_misp(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char			 sensor[SHARE_NAME_MAX], name[SHARE_NAME_MAX + 96];
	char			 ev[37];
	struct share_item	 it;
	size_t			 n, k = 0;
	int64_t			 last = share_last(l, &n);

	share_sensor(o, sensor, sizeof(sensor));
	snprintf(name, sizeof(name), "misp-event:%s", sensor);
	share_uuid5(name, ev);
	if (part == 0) {
		fprintf(f, "\"%s\":{", ev);
		share_misp_event(o, f, sensor, ev, last, n);
		fputs("}}\n", f);
		return;
	}
	fputs("\"id\":\"1\",\"org_id\":\"1\",\"orgc_id\":\"1\","
	    "\"distribution\":\"0\",\"sharing_group_id\":\"0\",", f);
	fprintf(f, "\"attribute_count\":\"%zu\",", n);
	share_misp_event(o, f, sensor, ev, last, n);
	fputs(",\"Attribute\":[", f);
	for (size_t i = 0; i < l->n; i++) {
		const struct export_entry *e = &l->e[i];

		if (share_skip(e))
			continue;
		share_item(e, "misp-attribute", sensor, 1, " ", &it);
		fprintf(f, "%s\n{\"id\":\"%zu\",\"event_id\":\"1\",\"uuid\":"
		    "\"%s\",\"type\":\"ip-src\",\"category\":\"Network "
		    "activity\",\"to_ids\":true,\"distribution\":\"5\","
		    "\"sharing_group_id\":\"0\",\"timestamp\":\"%lld\","
		    "\"comment\":\"%s\",\"deleted\":false,\"value\":\"%s\","
		    "\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"Tag\":[",
		    k ? "," : "", k + 1, it.u, (long long)(e->last_us /
		    1000000), it.why, it.net, it.t1, it.t2);
		for (int r = 0, first = 1; r < REASON_MAX; r++)
			if (e->reasons & (1u << r)) {
				fprintf(f, "%s{\"name\":\"decoymx:reason="
				    "\\\"%s\\\"\",\"colour\":\"#cc0033\","
				    "\"exportable\":true}", first ? "" : ",",
				    classify_reason_name(r));
				first = 0;
			}
		fputs("]}", f);
		k++;
	}
	fputs("]}}\n", f);
}

/* The running configuration's "ignore" networks (the store process). */
static const struct ignore_net	*share_nets;
static int			 share_nnets;

static const struct share_fmt share_fmts[] = {
	{ "abuseipdb", share_abuseipdb_head, NULL, 1 },
	{ "stix", share_stix_head, NULL, 0 },
	{ "misp", share_misp_head, share_misp_path, 0 },
};

/* The extras of format name, or NULL when it has none. */
const struct share_fmt *
share_fmt(const char *name)
{
	for (size_t i = 0; i < sizeof(share_fmts) / sizeof(share_fmts[0]); i++)
		if (strcmp(name, share_fmts[i].name) == 0)
			return &share_fmts[i];
	return NULL;
}

static int
share_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Sets the "ignore" networks every export of this process leaves out
 * (the store process: its running configuration's; nets stays owned by
 * the caller and must outlive the exports).
 */
void
share_ignore_nets(const struct ignore_net *nets, int n)
{
	share_nets = nets;
	share_nnets = n;
}

/*
 * Loads what makes a client ignored into ig (the caller frees it with
 * share_ignored_free): the addresses of every client with an ignored
 * session, and the "ignore" networks of config (a configuration file),
 * else those set by share_ignore_nets().  Returns 0, or -1 with err set.
 */
int
share_ignored_load(sqlite3 *db, const char *config, struct share_ignored *ig,
    char *err, size_t errlen)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;
	int		 rc;

	memset(ig, 0, sizeof(*ig));
	ig->nets = share_nets;
	ig->nnets = share_nnets;
	if (config != NULL) {
		if ((ig->conf = malloc(sizeof(*ig->conf))) == NULL)
			goto nomem;
		config_defaults(ig->conf);
		if (config_load(ig->conf, config) == -1) {
			snprintf(err, errlen, "--config %s has errors", config);
			share_ignored_free(ig);
			return -1;
		}
		ig->nets = ig->conf->ignore;
		ig->nnets = ig->conf->nignore;
	}
	/* The report counts say whether there is any: mostly none. */
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM counts WHERE dim = 'reason' "
	    "AND key = 'ignored' AND sessions > 0", -1, &st, NULL) ==
	    SQLITE_OK) {
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc == SQLITE_DONE)
			return 0;
	}
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT src_ip FROM sessions "
	    "WHERE close_reason = 'ignored'", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		share_ignored_free(ig);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(st, 0);

		if (ip == NULL)
			continue;
		if (ig->n == cap) {
			char **tmp = realloc(ig->ip, (cap ? cap * 2 : 16) *
			    sizeof(*tmp));

			if (tmp == NULL) {
				sqlite3_finalize(st);
				goto nomem;
			}
			ig->ip = tmp;
			cap = cap ? cap * 2 : 16;
		}
		if ((ig->ip[ig->n] = strdup(ip)) == NULL) {
			sqlite3_finalize(st);
			goto nomem;
		}
		ig->n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		share_ignored_free(ig);
		return -1;
	}
	if (ig->n > 1)
		qsort(ig->ip, ig->n, sizeof(*ig->ip), share_strcmp);
	return 0;
nomem:
	share_ignored_free(ig);
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Whether the client at ip (as the store writes it) is ignored. */
int
share_ignored_has(const struct share_ignored *ig, const char *ip)
{
	int	 record;

	return (ig->n > 0 && bsearch(&ip, ig->ip, ig->n, sizeof(*ig->ip),
	    share_strcmp) != NULL) ||
	    config_ignore_match(ig->nets, ig->nnets, ip, &record);
}

void
share_ignored_free(struct share_ignored *ig)
{
	for (size_t i = 0; i < ig->n; i++)
		free(ig->ip[i]);
	free(ig->ip);
	if (ig->conf != NULL)
		config_free(ig->conf);
	free(ig->conf);
	memset(ig, 0, sizeof(*ig));
}
