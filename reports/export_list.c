/* SPDX-License-Identifier: ISC */
/*
 * export_list.c -- the listing every export writes: every client the
 * rules list (store/classify.c) within --max-age and --min-sessions,
 * less the allowlist, the ignored clients (export_share.c) and loopback,
 * IPv6 clients merged into their --v6-prefix network unless an MTA-like
 * client shares it, sorted and merged, plus the RFC 5782 test entry
 * 127.0.0.2, and the allowlisted networks inside listed ones (the
 * exclusions).
 *
 * Exports export_collect() (the listing of an export, into a struct
 * export_list the caller frees) and export_lookup() (what that listing
 * says about one address, for "report ip", from only the clients that
 * decide it).
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "export.h"

static int	 export_collect_some(sqlite3 *, const struct export_opts *,
		    const struct allowlist *, struct export_list *,
		    char *const *, size_t, char *, size_t);
static int	 export_take(struct export_list *, const struct export_opts *,
		    const struct allowlist *, const struct share_ignored *,
		    const struct evidence *, const struct verdict *);
static int	 export_parse_ip(const char *, uint8_t *);
static int	 export_add(struct export_list *, const struct evidence *,
		    const struct verdict *, int, const uint8_t *, int);
static int	 export_reserve(struct export_list *);
static int	 export_cmp(const void *, const void *);
static int	 export_merge(struct export_list *);
static int	 export_mta_add(struct export_list *, const uint8_t *, int);
static void	 export_aggregate(struct export_list *, int);
static int	 export_exclusions(struct export_list *,
		    const struct allowlist *, int);
static int	 export_in_net(const uint8_t *, int, const uint8_t *);
static int	 export_neighbours(sqlite3 *, const struct export_opts *,
		    const char *, const uint8_t *, int, char ***, size_t *);
static void	 export_free_ips(char **, size_t);

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

/* The order of entries: family, address, prefix (for qsort, bsearch). */
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
int
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

/* Frees the n strings of ips and ips itself (export_neighbours). */
static void
export_free_ips(char **ips, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ips[i]);
	free(ips);
}
