/* SPDX-License-Identifier: ISC */
/*
 * export_formats.c -- the writers of the export formats other than the
 * sharing ones, each from the collected list (export_list.c) to a stream:
 *
 *	rbldnsd	an ip4set (entries grouped by value under ":A:TXT"
 *		lines, or A and TXT per entry with --per-entry; "!"
 *		exclusions) and an ip6trie, with $TTL, $SOA and $NS
 *	postfix	a cidr: access table or a hash:-ready one
 *	nft	an nft -f script that refills interval sets
 *	plain	one address or network a line
 *	json	the entries and exclusions of the JSON object
 *
 * What they print is addresses and networks (from parsed bytes, as
 * inet_ntop does), the fixed reason names and texts, and option values
 * export_opts.c checked to be plain printable text: nothing from the
 * network.
 *
 * Exports export_addr(), export_net() and export_excl_net() (an
 * address, entry or exclusion as text), export_excl(),
 * export_rbldnsd(), export_postfix(), export_nft(), export_plain() and
 * export_json() (the write functions of the format table, export_opts.c).
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "export.h"

#define EXPORT_NFT_CHUNK 4096		/* elements per "add element" */
#define EXPORT_LINE_MAX	512		/* an rbldnsd value: " :A:TXT\n" */
/* The index of an entry's rbldnsd value: its reason bits and test bit. */
#define EXPORT_VALUE(bits)	(((bits) & ((1u << REASON_MAX) - 1)) | \
	    (((bits) >> REASON_TEST & 1u) << REASON_MAX))

static void	 export_rbldnsd_grouped(const struct export_opts *,
		    const struct export_list *, FILE *, int,
		    char (*)[EXPORT_LINE_MAX]);
static const char *export_rbldnsd_value(const struct export_opts *,
		    uint32_t, char (*)[EXPORT_LINE_MAX]);
static void	 export_reasons(uint32_t, char, char *, size_t);
static const char *export_code(const struct export_opts *, uint32_t);
static void	 export_txt(const struct export_opts *, uint32_t, char *,
		    size_t);
static void	 export_action(const struct export_opts *, uint32_t, char *,
		    size_t);
static void	 export_nft_elems(const struct export_opts *, FILE *,
		    const char *, const struct export_entry *, size_t, int);

/*
 * The address bytes as text, as inet_ntop writes it (an IPv4 address
 * by hand: a million of them are the bulk of an export).  len is at
 * least ADDR_STRLEN.  Returns the length.
 */
size_t
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
size_t
export_net(const struct export_entry *e, char *buf, size_t len)
{
	size_t	 n = export_addr(e->addr, e->family, buf, len);

	if (e->prefix != (e->family == 4 ? 32 : 128))
		n += (size_t)snprintf(buf + n, len - n, "/%d", e->prefix);
	return n;
}

/* Exclusion i of l (an allowlisted network) as an entry into x. */
void
export_excl(const struct export_list *l, size_t i, struct export_entry *x)
{
	memset(x, 0, sizeof(*x));
	x->family = (uint8_t)l->excl[i].family;
	x->prefix = (uint8_t)l->excl[i].prefix;
	memcpy(x->addr, l->excl[i].addr, sizeof(x->addr));
}

/* Exclusion i of l as "ADDR/LEN" (len >= ADDR_STRLEN + 4); its length. */
size_t
export_excl_net(const struct export_list *l, size_t i, char *buf,
    size_t len)
{
	struct export_entry	 x;

	export_excl(l, i, &x);
	return export_net(&x, buf, len);
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

/*
 * rbldnsd: part 0 the ip4set, part 1 the ip6trie of the entries of that
 * family: $TTL, $SOA, $NS, the default value, the entries, then the
 * allowlisted networks inside them as "!" exclusions.
 */
void
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
		if (l->excl[i].family != family)
			continue;
		export_excl_net(l, i, net, sizeof(net));
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

/*
 * postfix: an access table, cidr: (exclusions first, as DUNNO) or
 * hash:-ready (--map hash, keys an address or an IPv6 net:work prefix),
 * one "KEY ACTION" line an entry; the test entry is left out.
 */
void
export_postfix(const struct export_opts *o, const struct export_list *l,
    FILE *f, int part)
{
	char	 net[ADDR_STRLEN + 8], act[512];

	(void)part;
	if (!o->map_hash) {
		/* cidr: tables stop at the first match: exclusions first. */
		for (size_t i = 0; i < l->nexcl; i++) {
			export_excl_net(l, i, net, sizeof(net));
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

/*
 * nft: an "nft -f" script that declares the four interval sets (entries
 * and allowlisted exclusions, IPv4 and IPv6), flushes and refills them.
 */
void
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
	for (size_t i = 0; i < l->nexcl; i++)
		export_excl(l, i, &x[i]);
	export_nft_elems(o, f, set[2], x, l->nexcl, 4);
	export_nft_elems(o, f, set[3], x, l->nexcl, 6);
	free(x);
}

/* plain: one address or network a line, the test entry left out. */
void
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

/*
 * json: the "entries" and "exclusions" members of the object whose first
 * line (the format table's json_head) export_write() writes.
 */
void
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
		export_excl_net(l, i, net, sizeof(net));
		fprintf(f, "%s\"%s\"", i ? "," : "", net);
	}
	fputs("]}\n", f);
}
