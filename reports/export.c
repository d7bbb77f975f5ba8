/* SPDX-License-Identifier: ISC */
/*
 * export.c -- "decoymx export FORMAT": the blocklist.  Every client the
 * rules list (store/classify.c), less the allowlist and loopback, IPv6
 * clients merged into their /64 (--v6-prefix), sorted, plus the RFC 5782
 * test entry 127.0.0.2 (127.0.0.1 is never listed), written as:
 *
 *	rbldnsd	an ip4set (entries grouped by value under ":A:TXT"
 *		lines, or A and TXT per entry with --per-entry; "!"
 *		exclusions) to FILE and an ip6trie to FILE.v6
 *		(--v6-output), with $TTL, $SOA and $NS from options
 *	postfix	a cidr: access table (--map cidr, exclusions first as
 *		DUNNO) or a hash:-ready one keyed by address (--map hash)
 *	nft	an nft -f script that refills an ipv4_addr and an ipv6_addr
 *		interval set (and the allow sets with the exclusions)
 *	plain	one address or network a line
 *	json	{"generator", "generated", "entries":[...], "exclusions"}
 *
 * and, written by export_share.c, ipset (an ipset restore file),
 * abuseipdb (bulk-report CSV), stix (a STIX 2.1 bundle) and misp (a MISP
 * feed directory).  The RFC 5782 test entry is only in rbldnsd zones
 * (and in json, marked "test").
 *
 * Exports contain only addresses and networks (printed from parsed
 * bytes, as inet_ntop does), our fixed reason names and texts, and
 * option values checked to be plain printable text: nothing from the
 * network.
 *
 * A file is written atomically (export_commit: temporary file in the same
 * directory, fsync, rename, fsync of the directory) and not at all when
 * its content is unchanged.  The first line is a generation comment (in
 * JSON, the first line of the object) that is left out of that
 * comparison and padded so that a changed file always changes size too:
 * rbldnsd notices a new file by mtime (1 s resolution) or size.
 *
 * Exports cmd_export(), and for the periodic exports of the store process
 * export_opts_parse() (a configured line's options, parsed once when the
 * configuration is read) and export_run_opts() (one run from them).
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#define EXPORT_NFT_CHUNK 4096		/* elements per "add element" */
#define EXPORT_TEXT_MAX	200
#define EXPORT_LINE_MAX	512		/* an rbldnsd value: " :A:TXT\n" */
#define EXPORT_BUF	(256 * 1024)	/* the stdio buffer of an export file */
/* The index of an entry's rbldnsd value: its reason bits and test bit. */
#define EXPORT_VALUE(bits)	(((bits) & ((1u << REASON_MAX) - 1)) | \
	    (((bits) >> REASON_TEST & 1u) << REASON_MAX))

static void	 export_rbldnsd_grouped(const struct export_opts *,
		    const struct export_list *, FILE *, int,
		    char (*)[EXPORT_LINE_MAX]);
static void	 export_rbldnsd(const struct export_opts *,
		    const struct export_list *, FILE *, int);
static void	 export_postfix(const struct export_opts *,
		    const struct export_list *, FILE *, int);
static void	 export_nft(const struct export_opts *,
		    const struct export_list *, FILE *, int);
static void	 export_plain(const struct export_opts *,
		    const struct export_list *, FILE *, int);
static void	 export_json(const struct export_opts *,
		    const struct export_list *, FILE *, int);
static int	 export_collect(sqlite3 *, const struct export_opts *,
		    const struct allowlist *, struct export_list *, char *,
		    size_t);
static int	 export_parse_ip(const char *, uint8_t *);
static int	 export_add(struct export_list *, const struct evidence *,
		    const struct verdict *, int, const uint8_t *, int);
static int	 export_reserve(struct export_list *);
static int	 export_cmp(const void *, const void *);
static int	 export_key_cmp(const void *, const void *);
static int	 export_merge(struct export_list *);
static void	 export_aggregate(struct export_list *, int);
static int	 export_in_net(const uint8_t *, int, const uint8_t *);
static void	 export_free_ips(char **, size_t);
static int	 export_neighbours(sqlite3 *, const struct export_opts *,
		    const char *, const uint8_t *, int, char ***, size_t *);
static int	 export_take(struct export_list *, const struct export_opts *,
		    const struct allowlist *, const struct share_ignored *,
		    const struct evidence *, const struct verdict *);
static int	 export_collect_some(sqlite3 *, const struct export_opts *,
		    const struct allowlist *, struct export_list *,
		    char *const *, size_t, char *, size_t);
static size_t	 export_count(const struct export_list *,
		    const struct export_fmt *, int);
static int	 export_mta_add(struct export_list *, const uint8_t *, int);
static int	 export_exclusions(struct export_list *,
		    const struct allowlist *, int);
static size_t	 export_addr(const uint8_t *, int, char *, size_t);
static size_t	 export_net(const struct export_entry *, char *, size_t);
static const char *export_rbldnsd_value(const struct export_opts *,
		    uint32_t, char (*)[EXPORT_LINE_MAX]);
static void	 export_reasons(uint32_t, char, char *, size_t);
static void	 export_txt(const struct export_opts *, uint32_t, char *,
		    size_t);
static void	 export_action(const struct export_opts *, uint32_t, char *,
		    size_t);
static void	 export_nft_elems(const struct export_opts *, FILE *,
		    const char *, const struct export_entry *, size_t, int);
static int	 export_write(sqlite3 *, const struct export_opts *,
		    const struct export_fmt *);
static int	 export_parse(int, char **, struct export_opts *, char *,
		    size_t);
static int	 export_bad(char *, size_t, const char *, const char *,
		    const char *);
static int	 export_name_ok(const char *, const char *, char *, size_t);
static int	 export_words_ok(const char *, const char *, int, char *,
		    size_t);
static int	 export_ttl_ok(const char *, char *, size_t);
static int	 export_set_code(struct export_opts *, const char *, char *,
		    size_t);
static int	 export_set_rules(struct export_opts *, const char *, char *,
		    size_t);
static int	 export_set_dur(const char *, const char *, int64_t *, char *,
		    size_t);
static void	 export_defaults(struct export_opts *);
static const char *export_code(const struct export_opts *, uint32_t);
static int	 export_commit(const char *, const char *, const char *,
		    size_t, int, char *, size_t);
static int	 export_text_ok(const char *, const char *, char *, size_t);
static FILE	*export_body_open(struct export_body *);
static ssize_t	 export_body_write(void *, const char *, size_t);
static int	 export_usage(void);

/* Entries of the latest export_write() that collected (metrics). */
static size_t	 export_entries;

static const struct export_fmt export_fmts[] = {
	{ "rbldnsd", 2, export_rbldnsd, NULL },
	{ "postfix", 1, export_postfix, NULL },
	{ "nft", 1, export_nft, NULL },
	{ "plain", 1, export_plain, NULL },
	{ "json", 1, export_json, "{\"generator\":\"decoymx " DECOYMX_VERSION
	    "\",\"generated\":\"%s\",\"entries_count\":%zu," },
	/* export_share.c */
	{ "ipset", 1, share_ipset, NULL },
	{ "abuseipdb", 1, share_abuseipdb, NULL },
	{ "stix", 1, share_stix, NULL },
	{ "misp", 2, share_misp, NULL },
};

#define NEXPORT_FMTS	(sizeof(export_fmts) / sizeof(export_fmts[0]))

static const char export_usage_text[] =
    "export rbldnsd|postfix|nft|plain|json|ipset|abuseipdb|stix|misp\n"
    "\t[--db PATH] [-o FILE]\n"
    "\t[--max-age DUR] [--min-sessions N] [--allowlist FILE]\n"
    "\t[--rules LIST] [--window DUR] [--v6-prefix N] [--v6-output FILE]\n"
    "\t[--code REASON=127.0.0.X] [--ttl TTL] [--soa SOA] [--ns NS]\n"
    "\t[--txt TEXT] [--per-entry] [--map cidr|hash] [--action TEXT]\n"
    "\t[--nft-table NAME] [--nft-set NAME] [--ipset-set NAME]\n"
    "\t[--sensor NAME] [--config FILE] [-q]";

static int
export_usage(void)
{
	fprintf(stderr, "usage: decoymx %s\n", export_usage_text);
	return EXIT_USAGE;
}

/* The usage on f, for -h. */
void
export_help(FILE *f)
{
	fprintf(f, "usage: decoymx %s\n\nSee decoymx(8), COMMANDS.\n",
	    export_usage_text);
}

/*
 * The address bytes as text, as inet_ntop writes it (an IPv4 address
 * by hand: a million of them are the bulk of an export).  len is at
 * least ADDR_STRLEN.  Returns the length.
 */
static size_t
export_addr(const uint8_t *a, int family, char *buf, size_t len)
{
	char	*p = buf;

	if (family != 4) {
		if (inet_ntop(AF_INET6, a, buf, (socklen_t)len) == NULL)
			strlcpy_(buf, "?", len);
		return strlen(buf);
	}
	for (int i = 0; i < 4; i++) {
		if (a[i] >= 100)
			*p++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*p++ = (char)('0' + a[i] / 10 % 10);
		*p++ = (char)('0' + a[i] % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
	return (size_t)(p - buf - 1);
}

/* "ADDR" for a host, "ADDR/LEN" for a network; len >= ADDR_STRLEN + 4.
 * Returns the length. */
static size_t
export_net(const struct export_entry *e, char *buf, size_t len)
{
	size_t	 n = export_addr(e->addr, e->family, buf, len);

	if (e->prefix != (e->family == 4 ? 32 : 128))
		n += (size_t)snprintf(buf + n, len - n, "/%d", e->prefix);
	return n;
}

/* The reason names of bits, separated by sep. */
static void
export_reasons(uint32_t bits, char sep, char *buf, size_t len)
{
	size_t	 n = 0;

	buf[0] = '\0';
	if (bits & (1u << REASON_TEST))
		n += (size_t)snprintf(buf, len, "test");
	for (int i = 0; i < REASON_MAX; i++)
		if (bits & (1u << i))
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0,
			    "%s%s", n == 0 ? "" : (char[]){ sep, '\0' },
			    classify_reason_name(i));
}

/* The A value of an entry: the code of its first reason. */
static const char *
export_code(const struct export_opts *o, uint32_t bits)
{
	for (int i = 0; i < REASON_MAX; i++)
		if (bits & (1u << i))
			return o->codes[i];
	return "127.0.0.2";
}

/* The TXT of an entry: reasons, the first one's text, the hint. */
static void
export_txt(const struct export_opts *o, uint32_t bits, char *buf, size_t len)
{
	char		 names[128];
	const char	*text = "RFC 5782 test entry";

	export_reasons(bits, ' ', names, sizeof(names));
	for (int i = 0; i < REASON_MAX; i++)
		if (bits & (1u << i)) {
			text = classify_reason_text(i);
			break;
		}
	snprintf(buf, len, "decoymx %s: %s; %s", names, text, o->txt);
}

/*
 * The value of an rbldnsd entry with reasons bits, " :A:TXT\n".  It
 * depends on the reasons alone, so each is made once, in cache (indexed
 * by the reason bits and the test bit, an empty string when not made
 * yet).  Returns a string in cache.
 */
static const char *
export_rbldnsd_value(const struct export_opts *o, uint32_t bits,
    char (*cache)[EXPORT_LINE_MAX])
{
	char	*v = cache[EXPORT_VALUE(bits)];
	char	 txt[EXPORT_LINE_MAX - 24];

	if (v[0] == '\0') {
		export_txt(o, bits, txt, sizeof(txt));
		snprintf(v, EXPORT_LINE_MAX, " :%s:%s\n", export_code(o, bits),
		    txt);
	}
	return v;
}

/*
 * The entries of family, grouped by value: a ":A:TXT" line, which rbldnsd
 * takes as the value of the entries that follow it, then those entries,
 * each just its address (the answers are the same as with a value per
 * entry, at a fifth of the bytes).  Groups by value index, entries
 * sorted within.
 */
static void
export_rbldnsd_grouped(const struct export_opts *o,
    const struct export_list *l, FILE *f, int family,
    char (*cache)[EXPORT_LINE_MAX])
{
	uint8_t		 used[2u << REASON_MAX];
	char		 net[ADDR_STRLEN + 8];
	size_t		 n;

	memset(used, 0, sizeof(used));
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].family == family)
			used[EXPORT_VALUE(l->e[i].reasons)] = 1;
	for (uint32_t v = 0; v < sizeof(used); v++) {
		uint32_t	 bits = (v & ((1u << REASON_MAX) - 1)) |
				    ((v >> REASON_MAX & 1u) << REASON_TEST);

		if (!used[v])
			continue;
		/* The cached value is " :A:TXT\n": the line is its tail. */
		fputs_unlocked(export_rbldnsd_value(o, bits, cache) + 1, f);
		for (size_t i = 0; i < l->n; i++) {
			const struct export_entry *e = &l->e[i];

			if (e->family != family || EXPORT_VALUE(e->reasons) != v)
				continue;
			n = export_net(e, net, sizeof(net));
			net[n++] = '\n';
			fwrite_unlocked(net, 1, n, f);
		}
	}
}

static void
export_rbldnsd(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char	 net[ADDR_STRLEN + 8];
	char	 cache[2u << REASON_MAX][EXPORT_LINE_MAX];
	int	 family = part == 0 ? 4 : 6;
	size_t	 n;

	memset(cache, 0, sizeof(cache));

	/* $TTL first: it is the default of the $SOA that follows. */
	if (o->ttl != NULL)
		fprintf(f, "$TTL %s\n", o->ttl);
	if (o->soa != NULL)
		fprintf(f, "$SOA %s\n", o->soa);
	if (o->ns != NULL)
		fprintf(f, "$NS %s\n", o->ns);
	fprintf(f, ":127.0.0.2:Listed by decoymx; %s\n", o->txt);
	if (!o->per_entry)
		export_rbldnsd_grouped(o, l, f, family, cache);
	for (size_t i = 0; i < l->n && o->per_entry; i++) {
		const struct export_entry *e = &l->e[i];

		if (e->family != family)
			continue;
		n = export_net(e, net, sizeof(net));
		fwrite_unlocked(net, 1, n, f);
		fputs_unlocked(export_rbldnsd_value(o, e->reasons, cache), f);
	}
	for (size_t i = 0; i < l->nexcl; i++) {
		struct export_entry	 x = { 0 };

		if (l->excl[i].family != family)
			continue;
		x.family = (uint8_t)family;
		x.prefix = (uint8_t)l->excl[i].prefix;
		memcpy(x.addr, l->excl[i].addr, sizeof(x.addr));
		export_net(&x, net, sizeof(net));
		fprintf(f, "!%s\n", net);
	}
}

/* The action of an entry: o->action with %r replaced by the reasons. */
static void
export_action(const struct export_opts *o, uint32_t bits, char *buf,
    size_t len)
{
	char		 names[128];
	const char	*p = o->action;
	size_t		 n = 0;

	export_reasons(bits, ',', names, sizeof(names));
	while (*p != '\0' && n + 1 < len) {
		if (p[0] == '%' && p[1] == 'r') {
			n += strlcpy_(buf + n, names, len - n);
			if (n >= len)
				n = len - 1;
			p += 2;
		} else
			buf[n++] = *p++;
	}
	buf[n] = '\0';
}

static void
export_postfix(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char	 net[ADDR_STRLEN + 8], act[512];

	(void)part;
	if (!o->map_hash) {
		/* cidr: tables stop at the first match: exclusions first. */
		for (size_t i = 0; i < l->nexcl; i++) {
			struct export_entry	 x = { 0 };

			x.family = (uint8_t)l->excl[i].family;
			x.prefix = (uint8_t)l->excl[i].prefix;
			memcpy(x.addr, l->excl[i].addr, sizeof(x.addr));
			export_net(&x, net, sizeof(net));
			fprintf(f, "%s DUNNO\n", net);
		}
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct export_entry *e = &l->e[i];

		if (e->reasons & (1u << REASON_TEST))
			continue;	/* RFC 5782: DNSBL zones only */
		if (o->map_hash && e->family == 6 && e->prefix != 128) {
			/* access(5): an IPv6 network key is net:work:... */
			int	 groups = e->prefix / 16;
			size_t	 k = 0;

			net[0] = '\0';
			for (int g = 0; g < groups; g++)
				k += (size_t)snprintf(net + k, sizeof(net) - k,
				    "%s%x", g ? ":" : "", e->addr[2 * g] << 8 |
				    e->addr[2 * g + 1]);
		} else if (o->map_hash) {
			export_addr(e->addr, e->family, net, sizeof(net));
		} else
			export_net(e, net, sizeof(net));
		export_action(o, e->reasons, act, sizeof(act));
		fprintf(f, "%s %s\n", net, act);
	}
}

/* One "add element" run of the entries (or exclusions) of a family. */
static void
export_nft_elems(const struct export_opts *o, FILE *f, const char *set,
    const struct export_entry *e, size_t n, int family)
{
	char	 net[ADDR_STRLEN + 8];
	size_t	 in = 0;

	for (size_t i = 0; i < n; i++) {
		if (e[i].family != family || e[i].reasons & (1u << REASON_TEST))
			continue;
		if (in % EXPORT_NFT_CHUNK == 0)
			fprintf(f, "%sadd element inet %s %s { ", in ? " }\n" :
			    "", o->nft_table, set);
		else
			fputs(", ", f);
		export_net(&e[i], net, sizeof(net));
		fputs(net, f);
		in++;
	}
	if (in > 0)
		fputs(" }\n", f);
}

static void
export_nft(const struct export_opts *o, const struct export_list *l, FILE *f,
    int part)
{
	struct export_entry	*x;
	static const char	*sfx[4] = { "4", "6", "_allow4", "_allow6" };
	char			 set[4][80];

	(void)part;
	for (int i = 0; i < 4; i++)
		snprintf(set[i], sizeof(set[i]), "%s%s", o->nft_set, sfx[i]);
	fprintf(f, "table inet %s {\n", o->nft_table);
	for (int i = 0; i < 4; i++)
		fprintf(f, "\tset %s { type %s; flags interval; }\n", set[i],
		    i % 2 == 0 ? "ipv4_addr" : "ipv6_addr");
	fputs("}\n", f);
	for (int i = 0; i < 4; i++)
		fprintf(f, "flush set inet %s %s\n", o->nft_table, set[i]);
	export_nft_elems(o, f, set[0], l->e, l->n, 4);
	export_nft_elems(o, f, set[1], l->e, l->n, 6);
	if (l->nexcl == 0 || (x = calloc(l->nexcl, sizeof(*x))) == NULL)
		return;
	for (size_t i = 0; i < l->nexcl; i++) {
		x[i].family = (uint8_t)l->excl[i].family;
		x[i].prefix = (uint8_t)l->excl[i].prefix;
		memcpy(x[i].addr, l->excl[i].addr, sizeof(x[i].addr));
	}
	export_nft_elems(o, f, set[2], x, l->nexcl, 4);
	export_nft_elems(o, f, set[3], x, l->nexcl, 6);
	free(x);
}

static void
export_plain(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char	 net[ADDR_STRLEN + 8];

	(void)o;
	(void)part;
	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].reasons & (1u << REASON_TEST))
			continue;
		export_net(&l->e[i], net, sizeof(net));
		fprintf(f, "%s\n", net);
	}
}

static void
export_json(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char	 net[ADDR_STRLEN + 8], t1[64], t2[64];

	(void)o;
	(void)part;
	fputs("\"entries\":[", f);
	for (size_t i = 0; i < l->n; i++) {
		const struct export_entry *e = &l->e[i];

		export_addr(e->addr, e->family, net, sizeof(net));
		util_iso8601(e->first_us, t1, sizeof(t1));
		util_iso8601(e->last_us, t2, sizeof(t2));
		fprintf(f, "%s\n{\"address\":\"%s\",\"prefix\":%d,\"reasons\":[",
		    i ? "," : "", net, e->prefix);
		if (e->reasons & (1u << REASON_TEST))
			fputs("\"test\"", f);
		for (int r = 0; r < REASON_MAX; r++)
			if (e->reasons & (1u << r))
				fprintf(f, "%s\"%s\"", (e->reasons &
				    ((1u << r) - 1)) ? "," : "",
				    classify_reason_name(r));
		fprintf(f, "],\"clients\":%lld,\"sessions\":%lld,"
		    "\"primary_sessions\":%lld,\"backup_sessions\":%lld,"
		    "\"anomalies\":[", (long long)e->clients,
		    (long long)e->sessions, (long long)e->primary,
		    (long long)e->backup);
		for (int b = 0, first = 1; b < ANOM_COUNT; b++)
			if (e->anomalies & (1u << b)) {
				fprintf(f, "%s\"%s\"", first ? "" : ",",
				    anomaly_name(b));
				first = 0;
			}
		if (e->clients == 0)	/* the test entry */
			fputs("],\"first\":null,\"last\":null}", f);
		else
			fprintf(f, "],\"first\":\"%s\",\"last\":\"%s\"}",
			    t1, t2);
	}
	fputs(l->n ? "\n],\n\"exclusions\":[" : "],\n\"exclusions\":[", f);
	for (size_t i = 0; i < l->nexcl; i++) {
		struct export_entry	 x = { 0 };

		x.family = (uint8_t)l->excl[i].family;
		x.prefix = (uint8_t)l->excl[i].prefix;
		memcpy(x.addr, l->excl[i].addr, sizeof(x.addr));
		export_net(&x, net, sizeof(net));
		fprintf(f, "%s\"%s\"", i ? "," : "", net);
	}
	fputs("]}\n", f);
}

/* Room for one more entry.  0 or -1 (ENOMEM). */
static int
export_reserve(struct export_list *l)
{
	struct export_entry	*tmp;
	size_t			 cap;

	if (l->n < l->cap)
		return 0;
	cap = l->cap == 0 ? 1024 : l->cap * 2;
	if ((tmp = realloc(l->e, cap * sizeof(*tmp))) == NULL)
		return -1;
	l->e = tmp;
	l->cap = cap;
	return 0;
}

static int
export_cmp(const void *a, const void *b)
{
	const struct export_entry	*x = a, *y = b;
	int				 c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if ((c = memcmp(x->addr, y->addr, sizeof(x->addr))) != 0)
		return c;
	return x->prefix < y->prefix ? -1 : x->prefix > y->prefix;
}

/*
 * The address text of a client into a[16]: 4 or 6 for its family, or
 * -1 when it is not an address.  The text is inet_ntop's (the store
 * writes it so), and a canonical dotted quad is read here by hand:
 * inet_pton decides anything else.
 */
static int
export_parse_ip(const char *s, uint8_t *a)
{
	struct sockaddr_storage	 ss;
	const char		*p = s;

	for (int i = 0; i < 4; i++) {
		unsigned	 v = 0;
		int		 n = 0;

		for (; *p >= '0' && *p <= '9' && n < 4; p++, n++)
			v = v * 10 + (unsigned)(*p - '0');
		if (n == 0 || n > 3 || v > 255 || (n > 1 && p[-n] == '0') ||
		    *p++ != (i < 3 ? '.' : '\0'))
			goto slow;
		a[i] = (uint8_t)v;
	}
	return 4;
slow:
	if (util_parse_addr(s, &ss) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		memcpy(a, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		return 4;
	}
	memcpy(a, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	return 6;
}

/*
 * Appends the entry of a listed client whose address (of family 4 or 6)
 * is a; an IPv6 client becomes its network.  0 or -1 (ENOMEM).
 */
static int
export_add(struct export_list *l, const struct evidence *ev,
    const struct verdict *v, int v6_prefix, const uint8_t *a, int family)
{
	struct export_entry	*e;

	if (export_reserve(l) == -1)
		return -1;
	e = &l->e[l->n];
	memset(e, 0, sizeof(*e));
	if (family == 4) {
		e->family = 4;
		e->prefix = 32;
		memcpy(e->addr, a, 4);
		if (e->addr[0] == 127)
			return 0;	/* loopback: never listed */
	} else {
		/* Whole for now: export_aggregate() decides its network. */
		(void)v6_prefix;
		e->family = 6;
		e->prefix = 128;
		memcpy(e->addr, a, 16);
		if (IN6_IS_ADDR_LOOPBACK((struct in6_addr *)e->addr))
			return 0;
	}
	memset(e->who, 0, sizeof(e->who));
	memcpy(e->who[0], a, family == 4 ? 4 : 16);
	e->reasons = v->reasons;
	e->anomalies = ev->anomalies;
	e->clients = 1;
	e->sessions = ev->sessions;
	e->primary = ev->primary_sessions;
	e->backup = ev->backup_sessions;
	e->first_us = ev->first_us;
	e->last_us = ev->last_us;
	l->n++;
	return 0;
}

/* The order of export_cmp, on keys. */
static int
export_key_cmp(const void *a, const void *b)
{
	const struct export_key	*x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->prefix < y->prefix ? -1 : x->prefix > y->prefix;
}

/*
 * Sorts (by keys: sorting the entries themselves moves far more memory)
 * and folds entries of the same network into one, equal keys in the
 * order they came.  The entries are then copied in key order into a new
 * array, read a few ahead (prefetched): in place, following the cycles
 * of the permutation, each move waits on a cache miss.  0 or -1 (ENOMEM).
 */
static int
export_merge(struct export_list *l)
{
	struct export_key	*k;
	struct export_entry	*ne;
	size_t			 o = 0;

	if (l->n == 0)
		return 0;
	if ((k = calloc(l->n, sizeof(*k))) == NULL)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		const uint8_t *a = l->e[i].addr;

		for (int b = 0; b < 8; b++) {
			k[i].hi = k[i].hi << 8 | a[b];
			k[i].lo = k[i].lo << 8 | a[8 + b];
		}
		k[i].i = (uint32_t)i;
		k[i].family = l->e[i].family;
		k[i].prefix = l->e[i].prefix;
	}
	if (export_sort_keys(k, l->n) == -1 ||
	    (ne = malloc(l->n * sizeof(*ne))) == NULL) {
		free(k);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct export_entry *x = &l->e[k[i].i];
		struct export_entry *d = &ne[o - (o > 0)];

		if (i + 8 < l->n) {
			__builtin_prefetch(&l->e[k[i + 8].i]);
			__builtin_prefetch((const char *)&l->e[k[i + 8].i] +
			    sizeof(*x) - 1);
		}
		if (o > 0 && export_key_cmp(&k[i - 1], &k[i]) == 0) {
			if (d->clients == 1 && x->clients > 0)
				memcpy(d->who[1], x->who[0], 16);
			d->reasons |= x->reasons;
			d->anomalies |= x->anomalies;
			d->clients += x->clients;
			d->sessions += x->sessions;
			d->primary += x->primary;
			d->backup += x->backup;
			if (x->first_us < d->first_us)
				d->first_us = x->first_us;
			if (x->last_us > d->last_us)
				d->last_us = x->last_us;
		} else
			ne[o++] = *x;
	}
	free(k);
	free(l->e);
	l->e = ne;
	l->cap = l->n;
	l->n = o;
	return 0;
}

/* The key of address a (family 6) cut to prefix bits. */
static struct export_key
export_key6(const uint8_t *a, int prefix)
{
	struct export_key	 k = { 0, 0, 0, 6, (uint8_t)prefix };
	uint8_t			 m[16];

	memcpy(m, a, 16);
	for (int i = 0; i < 16; i++) {
		int bits = prefix - 8 * i;

		if (bits < 8)
			m[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
	for (int b = 0; b < 8; b++) {
		k.hi = k.hi << 8 | m[b];
		k.lo = k.lo << 8 | m[8 + b];
	}
	return k;
}

/* Notes the network of an MTA-like IPv6 client.  0 or -1 (ENOMEM). */
static int
export_mta_add(struct export_list *l, const uint8_t *a, int prefix)
{
	if (l->nmta == l->capmta) {
		size_t cap = l->capmta ? l->capmta * 2 : 64;
		struct export_key *n = realloc(l->mta, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		l->mta = n;
		l->capmta = cap;
	}
	l->mta[l->nmta++] = export_key6(a, prefix);
	return 0;
}

/*
 * IPv6 aggregation: a listed IPv6 client is listed as its network
 * (--v6-prefix, /64) unless an MTA-like client (one the rules do not
 * list and that looks like an MTA) is in that network: then as itself
 * (/128), so that a bot never gets an MTA next door blocked.
 */
static void
export_aggregate(struct export_list *l, int prefix)
{
	if (l->nmta > 0)
		qsort(l->mta, l->nmta, sizeof(*l->mta), export_key_cmp);
	for (size_t i = 0; i < l->n; i++) {
		struct export_entry	*e = &l->e[i];
		struct export_key	 k;

		if (e->family != 6 || e->prefix != 128 || prefix >= 128)
			continue;
		k = export_key6(e->addr, prefix);
		if (l->nmta > 0 && bsearch(&k, l->mta, l->nmta,
		    sizeof(*l->mta), export_key_cmp) != NULL)
			continue;
		for (int b = 0; b < 8; b++) {
			e->addr[b] = (uint8_t)(k.hi >> (56 - 8 * b));
			e->addr[8 + b] = (uint8_t)(k.lo >> (56 - 8 * b));
		}
		e->prefix = (uint8_t)prefix;
	}
}

/*
 * The allowlisted networks that lie inside a listed network: rbldnsd
 * and Postfix need them written as exclusions.  0 or -1 (ENOMEM).
 */
static int
export_exclusions(struct export_list *l, const struct allowlist *al,
    int v6_prefix)
{
	struct export_entry	 key;

	for (size_t i = 0; i < al->n; i++) {
		const struct allow_net *a = &al->nets[i];
		/* IPv6 clients are listed as /128s or as their network. */
		int	 prefix = a->family == 4 ? 32 : v6_prefix;

		if (a->prefix <= prefix)
			continue;	/* an allowlisted net never listed */
		memset(&key, 0, sizeof(key));
		key.family = (uint8_t)a->family;
		key.prefix = (uint8_t)prefix;
		memcpy(key.addr, a->addr, sizeof(key.addr));
		for (int b = 0; b < 16; b++) {
			int bits = prefix - 8 * b;

			if (bits < 8)
				key.addr[b] &= bits <= 0 ? 0 :
				    (uint8_t)(0xff << (8 - bits));
		}
		if (bsearch(&key, l->e, l->n, sizeof(key), export_cmp) == NULL)
			continue;
		if (l->nexcl % 64 == 0) {
			struct allow_net *tmp = realloc(l->excl,
			    (l->nexcl + 64) * sizeof(*tmp));

			if (tmp == NULL)
				return -1;
			l->excl = tmp;
		}
		l->excl[l->nexcl++] = *a;
	}
	return 0;
}

/*
 * Classifies the clients seen within max-age (every one, or with only
 * set, those ip names: a list of n addresses) and collects what is
 * listed into l, sorted and merged, with the RFC 5782 test entry and
 * the exclusions.  Returns 0, or -1 with a message in err.
 */
static int
export_collect_some(sqlite3 *db, const struct export_opts *o,
    const struct allowlist *al, struct export_list *l, char *const *only,
    size_t n, char *err, size_t errlen)
{
	struct classify_q	*cq;
	struct evidence		 ev;
	struct verdict		 v;
	struct share_ignored	 ign = { 0 };
	int64_t			 since = o->max_age_us > 0 ?
				    o->cc.now_us - o->max_age_us : INT64_MIN;
	int			 rc = 0;

	if (share_ignored_load(db, o->config, &ign, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < (only != NULL ? n : 1); i++) {
		if ((cq = classify_open(db, &o->cc, since, o->min_sessions,
		    only != NULL ? only[i] : NULL, err, errlen)) == NULL) {
			share_ignored_free(&ign);
			return -1;
		}
		while ((rc = classify_next(cq, &ev, &v)) == 1)
			if (export_take(l, o, al, &ign, &ev, &v) == -1) {
				snprintf(err, errlen, "out of memory");
				classify_close(cq);
				share_ignored_free(&ign);
				return -1;
			}
		if (rc == -1)
			snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		classify_close(cq);
		if (rc == -1) {
			share_ignored_free(&ign);
			return -1;
		}
	}
	share_ignored_free(&ign);
	/* RFC 5782 section 5: 127.0.0.2 is always listed, by hand as
	 * export_add() never lists loopback. */
	if (export_reserve(l) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&l->e[l->n], 0, sizeof(l->e[l->n]));
	l->e[l->n].family = 4;
	l->e[l->n].prefix = 32;
	l->e[l->n].addr[0] = 127;
	l->e[l->n].addr[3] = 2;
	l->e[l->n].reasons = 1u << REASON_TEST;
	l->n++;
	export_aggregate(l, o->v6_prefix);
	if (export_merge(l) == -1 ||
	    export_exclusions(l, al, o->v6_prefix) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * One classified client into l: its entry when listed (and neither
 * allowlisted nor an ignored client), its IPv6 network when it looks like an MTA and is not.
 * 0 or -1 (ENOMEM).
 */
static int
export_take(struct export_list *l, const struct export_opts *o,
    const struct allowlist *al, const struct share_ignored *ign,
    const struct evidence *ev, const struct verdict *v)
{
	uint8_t	 a[16] = { 0 };
	int	 family;

	if ((family = export_parse_ip(ev->ip, a)) == -1)
		return 0;
	if (!v->listed && v->mta != NULL && family == 6 &&
	    export_mta_add(l, a, o->v6_prefix) == -1)
		return -1;
	if (!v->listed)
		return 0;
	if (al->n > 0 && allowlist_match(al, family, a) != NULL)
		return 0;
	if (share_ignored_has(ign, ev->ip))
		return 0;	/* an "ignore ... record" client */
	return export_add(l, ev, v, o->v6_prefix, a, family);
}

/* Every client: the export itself. */
static int
export_collect(sqlite3 *db, const struct export_opts *o,
    const struct allowlist *al, struct export_list *l, char *err,
    size_t errlen)
{
	return export_collect_some(db, o, al, l, NULL, 0, err, errlen);
}

/*
 * The clients whose listing decides whether address a (family) is
 * listed: a itself for IPv4; for IPv6 every client of its --v6-prefix
 * network (their verdicts decide the network's entry).  Into *ips (n
 * strings, the caller frees each and the array).  0 or -1.
 */
static int
export_neighbours(sqlite3 *db, const struct export_opts *o, const char *ip,
    const uint8_t *a, int family, char ***ips, size_t *n)
{
	sqlite3_stmt	*q;
	char		**v = NULL, **nv;
	size_t		 cap = 0;
	int		 rc;

	*ips = NULL;
	*n = 0;
	if (family == 4) {
		if ((v = calloc(1, sizeof(*v))) == NULL ||
		    (v[0] = strdup(ip)) == NULL) {
			free(v);
			return -1;
		}
		*ips = v;
		*n = 1;
		return 0;
	}
	if (sqlite3_prepare_v2(db, "SELECT ip FROM clients"
	    " WHERE instr(ip, ':') > 0", -1, &q, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char	*c = (const char *)sqlite3_column_text(q, 0);
		uint8_t		 b[16] = { 0 };

		if (c == NULL || export_parse_ip(c, b) != 6 ||
		    !export_in_net(a, o->v6_prefix, b))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if ((v[*n] = strdup(c)) == NULL)
			break;
		(*n)++;
	}
	sqlite3_finalize(q);
	*ips = v;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Whether address a lies in the network net/prefix (same family). */
static int
export_in_net(const uint8_t *net, int prefix, const uint8_t *a)
{
	for (int i = 0; i < 16 && prefix > 0; i++, prefix -= 8) {
		uint8_t m = prefix >= 8 ? 0xff : (uint8_t)(0xff << (8 - prefix));

		if ((net[i] & m) != (a[i] & m))
			return 0;
	}
	return 1;
}

/*
 * What the export with rule options r and allowlist al (and the default
 * --v6-prefix) says about the address ip: listed or not, and when
 * listed, the entry that lists it (the address or its network) and a
 * listed client of that entry other than ip, the neighbour that caused
 * an aggregate.  The same collection as the export itself, so "report
 * ip" and the exported zones cannot disagree.  Returns 0, or -1 with
 * err set.
 */
int
export_lookup(sqlite3 *db, const struct rule_opts *r,
    const struct allowlist *al, const char *ip, struct export_hit *h,
    char *err, size_t errlen)
{
	struct export_opts	 o;
	struct export_list	 l = { 0 };
	struct export_entry	 key, *e = NULL;
	uint8_t			 a[16] = { 0 };
	int			 family, prefixes[2];
	char			**ips = NULL;
	size_t			 nips = 0;

	memset(h, 0, sizeof(*h));
	export_defaults(&o);
	o.cc.rules = r->rules;
	o.cc.window_us = r->window_us;
	o.max_age_us = r->max_age_us;
	o.min_sessions = r->min_sessions;
	if ((family = export_parse_ip(ip, a)) == -1) {
		snprintf(err, errlen, "%s is not an address", ip);
		return -1;
	}
	/* Only the clients that decide it: an export's answer, cheaply. */
	if (export_neighbours(db, &o, ip, a, family, &ips, &nips) == -1) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		goto out;
	}
	if (export_collect_some(db, &o, al, &l, ips, nips, err, errlen) == -1)
		goto out;
	prefixes[0] = family == 4 ? 32 : 128;
	prefixes[1] = family == 4 ? 32 : o.v6_prefix;
	for (int i = 0; i < 2 && e == NULL; i++) {
		memset(&key, 0, sizeof(key));
		key.family = (uint8_t)family;
		key.prefix = (uint8_t)prefixes[i];
		for (int b = 0; b < 16; b++) {
			int bits = prefixes[i] - 8 * b;
			key.addr[b] = bits >= 8 ? a[b] : bits <= 0 ? 0 :
			    (uint8_t)(a[b] & (0xff << (8 - bits)));
		}
		e = bsearch(&key, l.e, l.n, sizeof(key), export_cmp);
	}
	for (size_t i = 0; e != NULL && i < l.nexcl; i++)
		if (l.excl[i].family == family &&
		    export_in_net(l.excl[i].addr, l.excl[i].prefix, a)) {
			h->excluded = 1;
			e = NULL;
		}
	if (e != NULL) {
		const uint8_t *w = memcmp(e->who[0], a, 16) != 0 ? e->who[0] :
		    e->clients > 1 ? e->who[1] : NULL;

		h->listed = 1;
		h->reasons = e->reasons;
		h->aggregate = e->prefix != (family == 4 ? 32 : 128);
		export_net(e, h->entry, sizeof(h->entry));
		if (w != NULL && e->clients > 0)
			export_addr(w, family, h->neighbour,
			    sizeof(h->neighbour));
	}
	export_free_ips(ips, nips);
	free(l.e);
	free(l.excl);
	free(l.mta);
	return 0;
out:
	export_free_ips(ips, nips);
	free(l.e);
	free(l.excl);
	free(l.mta);
	return -1;
}

static void
export_free_ips(char **ips, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ips[i]);
	free(ips);
}

/* Whether an option's text is plain printable ASCII (then it may go out). */
static int
export_text_ok(const char *name, const char *s, char *err, size_t errlen)
{
	char	 what[64];

	if (strlen(s) > EXPORT_TEXT_MAX)
		goto bad;
	for (const char *p = s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			goto bad;
	return 1;
bad:
	snprintf(what, sizeof(what), "is not up to %d printable ASCII "
	    "characters", EXPORT_TEXT_MAX);
	export_bad(err, errlen, name, s, what);
	return 0;
}

/* fopencookie's write: appends to the body.  len, or -1 (ENOMEM). */
static ssize_t
export_body_write(void *cookie, const char *buf, size_t len)
{
	struct export_body	*b = cookie;
	char			*tmp;
	size_t			 cap = b->cap ? b->cap : EXPORT_BUF;

	if (b->n + len > b->cap) {
		while (cap < b->n + len)
			cap *= 2;
		/* A large block is moved by remapping: no copy, unlike the
		 * buffer of open_memstream. */
		if ((tmp = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = tmp;
		b->cap = cap;
	}
	memcpy(b->p + b->n, buf, len);
	b->n += len;
	return (ssize_t)len;
}

/*
 * A stream that writes to b (emptied first), with a big buffer; the
 * caller fcloses it, then owns b->p.  NULL on error.
 */
static FILE *
export_body_open(struct export_body *b)
{
	cookie_io_functions_t	 io = { .write = export_body_write };
	FILE			*f;

	b->n = 0;
	if ((f = fopencookie(b, "w", io)) == NULL)
		return NULL;
	setvbuf(f, NULL, _IOFBF, EXPORT_BUF);
	return f;
}

/*
 * Writes header + body to path atomically, unless the file there has
 * the same body after its first line.  The header must end in "\n"; a
 * space is added before it when the new file would have the old size.
 * Returns 1 when written, 0 when unchanged, -1 with err set.
 */
static int
export_commit(const char *path, const char *header, const char *body,
    size_t blen, int may_pad, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 tmp[PATH_MAX], dcopy[PATH_MAX], *dir, *old, *nl;
	size_t		 hlen = strlen(header), olen;
	FILE		*f;
	int		 fd, same = 0, pad = 0, dfd;

	if ((fd = open(path, O_RDONLY)) != -1) {
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
			olen = (size_t)sb.st_size;
			pad = may_pad && (off_t)(hlen + blen) == sb.st_size;
			/* Mapped, not read: the old file may be 100 MB. */
			if (olen > blen && (old = mmap(NULL, olen, PROT_READ,
			    MAP_PRIVATE, fd, 0)) != MAP_FAILED) {
				nl = memchr(old, '\n', olen);
				same = nl != NULL && (size_t)(old + olen - nl -
				    1) == blen && memcmp(nl + 1, body,
				    blen) == 0;
				munmap(old, olen);
			}
		}
		close(fd);
	}
	if (same)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp) || strlcpy_(dcopy, path, sizeof(dcopy)) >=
	    sizeof(dcopy)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "cannot create a file beside %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fwrite(header, 1, hlen - 1, f);
	if (pad)
		putc(' ', f);
	putc('\n', f);
	fwrite(body, 1, blen, f);
	if (fflush(f) == EOF || ferror(f) || fchmod(fd, 0644) == -1 ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	dir = dirname(dcopy);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 1;
}

/*
 * The entries that part of a format's output holds: those of its family
 * for rbldnsd (ip4set, ip6trie), else all of them.
 */
static size_t
export_count(const struct export_list *l, const struct export_fmt *fmt,
    int part)
{
	size_t n = 0;

	if (fmt->parts == 1)
		return l->n;
	for (size_t i = 0; i < l->n; i++)
		n += l->e[i].family == (part == 0 ? 4 : 6);
	return n;
}

/*
 * Runs one export with o on the open database db: collects, formats and
 * writes every part.  Returns 0, or -1 after printing why on stderr.
 */
static int
export_write(sqlite3 *db, const struct export_opts *o,
    const struct export_fmt *fmt)
{
	struct export_list	 l = { 0 };
	struct allowlist	 al = { 0 };
	char			 err[2 * PATH_MAX + 256], header[512], now[64];
	char			 path[PATH_MAX];
	struct export_body	 b = { 0 };
	FILE			*mem;
	const struct share_fmt	*sf = share_fmt(fmt->name);
	int			 ret = -1, rc;

	if (o->allowlist != NULL && allowlist_load(&al, o->allowlist, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "decoymx export: allowlist %s\n", err);
		allowlist_free(&al);
		return -2;
	}
	if (export_collect(db, o, &al, &l, err, sizeof(err)) == -1) {
		fprintf(stderr, "decoymx export: database %s: %s\n", o->db,
		    err);
		goto out;
	}
	export_entries = l.n;
	util_iso8601(util_now_us(), now, sizeof(now));
	if (fmt->parts > 1 && (o->output == NULL ||
	    strcmp(o->output, "-") == 0) && export_count(&l, fmt, 1) > 0) {
		/* An ip4set cannot hold them: never drop them silently. */
		fprintf(stderr, "decoymx export %s: %zu IPv6 entries need "
		    "their own ip6trie file: give -o FILE (FILE.v6, or "
		    "--v6-output, gets them)\n", fmt->name,
		    export_count(&l, fmt, 1));
		goto out;
	}
	for (int part = 0; part < fmt->parts; part++) {
		size_t count = export_count(&l, fmt, part);

		if ((mem = export_body_open(&b)) == NULL)
			goto out;
		fmt->write(o, &l, mem, part);
		if (fclose(mem) == EOF)
			goto out;
		if (b.p == NULL && (b.p = strdup("")) == NULL)
			goto out;
		if (sf != NULL && sf->head != NULL)
			sf->head(o, &l, part, now, header, sizeof(header));
		else if (fmt->json_head != NULL)
			snprintf(header, sizeof(header), fmt->json_head, now,
			    count);
		else
			snprintf(header, sizeof(header), "# decoymx %s %s%s: "
			    "%zu entries, generated %s", DECOYMX_VERSION,
			    fmt->name, fmt->parts > 1 ? (part ? " ip6trie" :
			    " ip4set") : "", count, now);
		strlcpy_(header + strlen(header), "\n",
		    sizeof(header) - strlen(header));
		if (sf != NULL && sf->path != NULL && sf->path(o, part, path,
		    sizeof(path)) == -1) {
			fprintf(stderr, "decoymx export %s: cannot write into "
			    "%s: %s\n", fmt->name, o->output ? o->output : "-",
			    strerror(errno));
			goto out;
		} else if (o->output == NULL || strcmp(o->output, "-") == 0) {
			if (part == 0 || fmt->parts == 1) {
				fputs(header, stdout);
				fwrite(b.p, 1, b.n, stdout);
			}
		} else {
			if (sf != NULL && sf->path != NULL)
				;	/* made above */
			else if (part == 0)
				strlcpy_(path, o->output, sizeof(path));
			else if (o->v6_output != NULL)
				strlcpy_(path, o->v6_output, sizeof(path));
			else
				snprintf(path, sizeof(path), "%s.v6",
				    o->output);
			if ((rc = export_commit(path, header, b.p, b.n,
			    sf == NULL || !sf->nopad, err, sizeof(err))) == -1) {
				fprintf(stderr, "decoymx export: %s\n", err);
				goto out;
			}
			if (!o->quiet)
				fprintf(stderr, "decoymx export %s: %s %s, "
				    "%zu entries\n", fmt->name, path, rc ?
				    "written" : "unchanged", count);
		}
	}
	ret = 0;
out:
	free(b.p);
	free(l.e);
	free(l.excl);
	free(l.mta);
	allowlist_free(&al);
	return ret;
}

/*
 * Sets err to "--OPT: 'ARG' WHAT", the value escaped for a terminal (a
 * configuration line or an argument may hold anything).  Returns -1.
 */
static int
export_bad(char *err, size_t errlen, const char *opt, const char *arg,
    const char *what)
{
	char	 v[EXPORT_TEXT_MAX + 8];

	escape_term(arg, strlen(arg), v, sizeof(v));
	snprintf(err, errlen, "--%s: '%s' %s", opt, v, what);
	return -1;
}

/* Whether s is a name nft accepts for a table or set. */
static int
export_name_ok(const char *opt, const char *s, char *err, size_t errlen)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > 32 || !isalpha((unsigned char)s[0]))
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			goto bad;
	return 1;
bad:
	export_bad(err, errlen, opt, s, "is not a name (a letter, then up to "
	    "31 letters, digits or '_')");
	return 0;
}

/* Whether s is n words (n < 0: at least -n) of DNS-ish characters. */
static int
export_words_ok(const char *opt, const char *s, int n, char *err,
    size_t errlen)
{
	char	 what[96];
	int	 words = 0, in = 0;

	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ' ') {
			in = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && strchr(".-_", *p) == NULL)
			goto bad;
		if (!in)
			words++;
		in = 1;
	}
	if (strlen(s) <= EXPORT_TEXT_MAX && (n >= 0 ? words == n :
	    words >= -n))
		return 1;
bad:
	snprintf(what, sizeof(what), "is not %s%d words of letters, digits, "
	    "'.', '-', '_'", n < 0 ? "at least " : "", n < 0 ? -n : n);
	export_bad(err, errlen, opt, s, what);
	return 0;
}

/*
 * Whether s is a TTL as rbldnsd's $TTL takes it: seconds, or numbers
 * each with a unit (s, m, h, d, w: "1h30m"), below 2^31 seconds.
 */
static int
export_ttl_ok(const char *s, char *err, size_t errlen)
{
	static const struct { char unit; uint64_t s; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 604800 },
	};
	uint64_t	 total = 0, v;
	const char	*p = s;

	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			goto bad;
		for (v = 0; isdigit((unsigned char)*p) && v < 1u << 31; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		if (isdigit((unsigned char)*p))
			goto bad;
		if (*p != '\0') {
			size_t i;

			for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
				if (*p == units[i].unit)
					break;
			if (i == sizeof(units) / sizeof(units[0]))
				goto bad;
			v *= units[i].s;
			p++;
		}
		if ((total += v) >= 1u << 31)
			goto bad;
	}
	if (p != s)
		return 1;
bad:
	export_bad(err, errlen, "ttl", s, "is not a TTL (seconds, or with "
	    "units: 1h, 2d, 1h30m)");
	return 0;
}

/* --code REASON=127.0.0.X */
static int
export_set_code(struct export_opts *o, const char *arg, char *err,
    size_t errlen)
{
	char		 name[32];
	const char	*eq = strchr(arg, '=');
	struct in_addr	 a;
	int		 r;

	if (eq == NULL || (size_t)(eq - arg) >= sizeof(name))
		goto bad;
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if ((r = classify_reason_parse(name)) == -1 ||
	    inet_pton(AF_INET, eq + 1, &a) != 1 ||
	    (ntohl(a.s_addr) >> 24) != 127)
		goto bad;
	inet_ntop(AF_INET, &a, o->codes[r], sizeof(o->codes[r]));
	return 0;
bad:
	return export_bad(err, errlen, "code", arg, "is not REASON=127.0.0.X "
	    "with REASON one of backup-direct, nolisting-only, bot-protocol");
}

/* --rules LIST: the enabled rules, comma-separated. */
static int
export_set_rules(struct export_opts *o, const char *arg, char *err,
    size_t errlen)
{
	char	 buf[128], *w, *save = NULL;
	int	 r;

	if (strlcpy_(buf, arg, sizeof(buf)) >= sizeof(buf))
		goto bad;
	o->cc.rules = 0;
	for (w = strtok_r(buf, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save)) {
		if ((r = classify_reason_parse(w)) == -1)
			goto bad;
		o->cc.rules |= 1u << r;
	}
	return 0;
bad:
	return export_bad(err, errlen, "rules", arg, "is not a comma list of "
	    "backup-direct, nolisting-only, bot-protocol");
}

/* A duration option into *us.  0 or -1 with err set. */
static int
export_set_dur(const char *opt, const char *arg, int64_t *us, char *err,
    size_t errlen)
{
	uint64_t	 ms;

	if (util_parse_duration_ms(arg, &ms) == -1 ||
	    ms > (uint64_t)INT64_MAX / 1000)
		return export_bad(err, errlen, opt, arg, "is not a duration "
		    "(10m, 7d)");
	*us = (int64_t)ms * 1000;
	return 0;
}

static void
export_defaults(struct export_opts *o)
{
	memset(o, 0, sizeof(*o));
	classify_defaults(&o->cc);
	o->max_age_us = 7LL * 86400 * 1000000;
	o->min_sessions = 1;
	o->v6_prefix = 64;
	strlcpy_(o->codes[REASON_BACKUP_DIRECT], "127.0.0.2",
	    sizeof(o->codes[0]));
	strlcpy_(o->codes[REASON_NOLISTING_ONLY], "127.0.0.3",
	    sizeof(o->codes[0]));
	strlcpy_(o->codes[REASON_BOT_PROTOCOL], "127.0.0.4",
	    sizeof(o->codes[0]));
	o->txt = "see decoymx report ip $";
	o->action = "450 4.7.1 Listed by decoymx (%r)";
	o->nft_table = "decoymx";
	o->nft_set = "blocklist";
	o->ipset_set = "decoymx";
}

/*
 * Parses argv (argv[0] is "export", the format a word anywhere) into o:
 * the option table of the export command, for its command line and for
 * the configured export lines alike.  The strings of o point into argv.
 * Returns 0; -1 with err set to what is wrong with a value ("--ttl:
 * 'abc' is not a TTL ..."); -2 with err set when the words are not
 * options and one format (then the usage helps).
 */
static int
export_parse(int argc, char **argv, struct export_opts *o, char *err,
    size_t errlen)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "output", required_argument, NULL, 'o' },
		{ "v6-output", required_argument, NULL, '6' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "min-sessions", required_argument, NULL, 'm' },
		{ "allowlist", required_argument, NULL, 'A' },
		{ "rules", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "v6-prefix", required_argument, NULL, 'p' },
		{ "code", required_argument, NULL, 'c' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "soa", required_argument, NULL, 'S' },
		{ "ns", required_argument, NULL, 'N' },
		{ "txt", required_argument, NULL, 'X' },
		{ "map", required_argument, NULL, 'M' },
		{ "action", required_argument, NULL, 'C' },
		{ "nft-table", required_argument, NULL, 't' },
		{ "nft-set", required_argument, NULL, 's' },
		{ "ipset-set", required_argument, NULL, 'I' },
		{ "sensor", required_argument, NULL, 'Z' },
		{ "config", required_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "per-entry", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 }
	};
	char		 fmts[160];
	char		*end;
	long		 v;
	int		 ch, rv = 0, olderr = opterr;
	size_t		 n = 0;

	/* Say what is wrong in err, not getopt's own words on stderr. */
	optind = 0;
	opterr = 0;
	while (rv == 0 && (ch = getopt_long(argc, argv, ":o:q", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd': o->db = optarg; break;
		case 'o': o->output = optarg; break;
		case '6': o->v6_output = optarg; break;
		case 'A': o->allowlist = optarg; break;
		case 'K': o->config = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'E': o->per_entry = 1; break;
		case 'a':
			rv = export_set_dur("max-age", optarg, &o->max_age_us,
			    err, errlen);
			break;
		case 'w':
			rv = export_set_dur("window", optarg, &o->cc.window_us,
			    err, errlen);
			break;
		case 'm':
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end != '\0' ||
			    errno != 0 || (ch == 'm' && v < 1) ||
			    (ch == 'p' && (v < 16 || v > 128))) {
				rv = export_bad(err, errlen, ch == 'm' ?
				    "min-sessions" : "v6-prefix", optarg,
				    ch == 'm' ? "is not a number from 1" :
				    "is not a number from 16 to 128");
				break;
			}
			if (ch == 'm')
				o->min_sessions = v;
			else
				o->v6_prefix = (int)v;
			break;
		case 'r':
			rv = export_set_rules(o, optarg, err, errlen);
			break;
		case 'c':
			rv = export_set_code(o, optarg, err, errlen);
			break;
		case 'T':
			if (!export_ttl_ok(optarg, err, errlen))
				rv = -1;
			o->ttl = optarg;
			break;
		case 'S':
			if (!export_words_ok("soa", optarg, 8, err, errlen))
				rv = -1;
			o->soa = optarg;
			break;
		case 'N':
			if (!export_words_ok("ns", optarg, -2, err, errlen))
				rv = -1;
			o->ns = optarg;
			break;
		case 'X':
			if (!export_text_ok("txt", optarg, err, errlen))
				rv = -1;
			o->txt = optarg;
			break;
		case 'C':
			if (!export_text_ok("action", optarg, err, errlen))
				rv = -1;
			o->action = optarg;
			break;
		case 'M':
			if (strcmp(optarg, "cidr") != 0 &&
			    strcmp(optarg, "hash") != 0)
				rv = export_bad(err, errlen, "map", optarg,
				    "is not cidr or hash");
			o->map_hash = strcmp(optarg, "hash") == 0;
			break;
		case 'I':
			if (!export_name_ok("ipset-set", optarg, err, errlen))
				rv = -1;
			else if (strlen(optarg) > 24)
				rv = export_bad(err, errlen, "ipset-set",
				    optarg, "is longer than 24 characters");
			o->ipset_set = optarg;
			break;
		case 'Z':
			if (!export_words_ok("sensor", optarg, 1, err, errlen))
				rv = -1;
			o->sensor = optarg;
			break;
		case 't':
		case 's':
			if (!export_name_ok(ch == 't' ? "nft-table" :
			    "nft-set", optarg, err, errlen))
				rv = -1;
			*(ch == 't' ? &o->nft_table : &o->nft_set) = optarg;
			break;
		case ':':
			snprintf(err, errlen, "%s: needs a value",
			    argv[optind - 1]);
			rv = -2;
			break;
		default:
			if (optopt != 0)
				snprintf(err, errlen, "-%c: unknown option",
				    optopt);
			else
				snprintf(err, errlen, "%s: unknown option",
				    argv[optind - 1]);
			rv = -2;
			break;
		}
	}
	opterr = olderr;
	if (rv != 0)
		return rv;
	if (argc - optind != 1) {
		if (argc - optind == 0)
			snprintf(err, errlen, "no format given");
		else
			snprintf(err, errlen, "'%s' is not an option (one "
			    "format, options start with --)", argv[optind + 1]);
		return -2;
	}
	o->format = argv[optind];
	for (size_t i = 0; i < NEXPORT_FMTS; i++) {
		if (strcmp(o->format, export_fmts[i].name) == 0)
			return 0;
		n += (size_t)snprintf(fmts + n, n < sizeof(fmts) ?
		    sizeof(fmts) - n : 0, "%s%s", i ? ", " : "",
		    export_fmts[i].name);
	}
	snprintf(err, errlen, "'%s' is not a format (%s)", o->format, fmts);
	return -1;
}

/*
 * Runs one export with the parsed options o on the open database db
 * (dbpath for messages; it replaces o->db).  Returns the exit status.
 */
int
export_run_opts(sqlite3 *db, const char *dbpath,
    const struct export_opts *opts)
{
	struct export_opts	 o = *opts;
	int			 ret;

	o.db = dbpath;
	for (size_t i = 0; i < NEXPORT_FMTS; i++)
		if (strcmp(o.format, export_fmts[i].name) == 0) {
			ret = export_write(db, &o, &export_fmts[i]);
			return ret == 0 ? 0 : ret == -2 ? EXIT_USAGE :
			    EXIT_RUNTIME;
		}
	fprintf(stderr, "decoymx export: unknown format %s\n", o.format);
	return EXIT_USAGE;	/* export_parse() lets none through */
}

/* The entries (the RFC 5782 test entry included) of the latest export. */
size_t
export_last_entries(void)
{
	return export_entries;
}

/*
 * decoymx export FORMAT [options]: argv[0] is "export".  Opens the
 * database read-only (never creates it).  Returns the exit status.
 */
int
cmd_export(int argc, char **argv, const char *default_db)
{
	struct export_opts	 o;
	struct store		*st;
	char			 err[1024];
	int			 ret;

	export_defaults(&o);
	o.db = default_db;
	if ((ret = export_parse(argc, argv, &o, err, sizeof(err))) != 0) {
		fprintf(stderr, "decoymx export: %s\n", err);
		return ret == -2 ? export_usage() : EXIT_USAGE;
	}
	if (o.db == NULL || *o.db == '\0') {
		fprintf(stderr, "decoymx export: no database given (--db "
		    "PATH)\n");
		return EXIT_USAGE;
	}
	if ((st = store_open(o.db, STORE_RO, err, sizeof(err))) == NULL) {
		fprintf(stderr, "decoymx export: %s\n", err);
		return EXIT_RUNTIME;
	}
	ret = export_run_opts(store_db(st), o.db, &o);
	store_close(st);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "decoymx export: cannot write the export\n");
		ret = EXIT_RUNTIME;
	}
	return ret;
}

/*
 * Builds the argv of a configured export ("export FORMAT -o PATH -q
 * ARGS..."), splitting args at spaces; a double-quoted part is one word
 * ("--soa "300 ns. hm. 0 600 300 86400 300"").  The words are copied into
 * buf.  Returns argc, or -1 when they do not fit or a quote is open.
 */
int
export_argv(const char *format, const char *path, const char *args,
    char *buf, size_t buflen, char **argv, int maxargv)
{
	const char	*fixed[5] = { "export", format, "-o", path, "-q" };
	size_t		 n = 0;
	int		 argc = 0;

	for (int i = 0; i < 5; i++) {
		size_t len = strlen(fixed[i]) + 1;

		if (argc + 1 >= maxargv || n + len > buflen)
			return -1;
		memcpy(buf + n, fixed[i], len);
		argv[argc++] = buf + n;
		n += len;
	}
	for (const char *p = args; *p != '\0';) {
		int	 quoted = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (argc + 1 >= maxargv)
			return -1;
		argv[argc++] = buf + n;
		for (; *p != '\0' && (quoted || (*p != ' ' && *p != '\t'));
		    p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (n + 1 >= buflen)
				return -1;
			buf[n++] = *p;
		}
		if (quoted || n + 1 > buflen)
			return -1;
		buf[n++] = '\0';
	}
	argv[argc] = NULL;
	return argc;
}

/* A configured export's options and the words they point into. */
struct export_parsed {
	struct export_opts	 o;	/* first: the block is o */
	char			*argv[64];
	char			 buf[2048];
};

/*
 * Parses a configured export line's FORMAT, PATH and options ("export
 * FORMAT PATH every DUR OPTIONS") with the command's own option table,
 * as "export FORMAT -o PATH -q OPTIONS".  Returns the options in one
 * allocated block (the caller frees it with free()), or NULL with err
 * set to what is wrong, naming the option ("--ttl: 'abc' is not a TTL").
 */
struct export_opts *
export_opts_parse(const char *format, const char *path, const char *args,
    char *err, size_t errlen)
{
	struct export_parsed	*p;
	const char		*out;
	int			 argc;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((argc = export_argv(format, path, args, p->buf, sizeof(p->buf),
	    p->argv, 64)) == -1) {
		snprintf(err, errlen, "options too long or an open quote");
		goto bad;
	}
	out = p->argv[3];		/* the line's PATH, after "-o" */
	export_defaults(&p->o);
	if (export_parse(argc, p->argv, &p->o, err, errlen) != 0)
		goto bad;
	if (p->o.output != out) {
		snprintf(err, errlen, "--output: the line's PATH is the "
		    "output");
		goto bad;
	}
	if (p->o.db != NULL) {
		snprintf(err, errlen, "--db: the store's own database is the "
		    "one exported");
		goto bad;
	}
	return &p->o;
bad:
	free(p);
	return NULL;
}
