/* SPDX-License-Identifier: ISC */
/*
 * window.c -- the windowed reports' answers from the rollups (schema 9,
 * store/rollup.c) instead of a scan of the sessions.
 *
 * A window [since, until) is split at whole UTC hours: the whole hours
 * inside it are read from the rollup table (sessions grouped per hour by
 * client, decoy, role, country, AS, OS class, fingerprint, stage, close
 * reason and anomalies), the hour fragments at either edge from the
 * sessions themselves.  Both give rows of the same shape, which the
 * aggregator here groups by the dimensions a report asks for, counting
 * sessions, distinct clients, first and last session start: exactly what
 * the SQL scan of the same sessions gives.
 *
 * Before the cut of the last db prune the sessions are gone and the
 * rollups alone know them: there an edge counts its whole hour.
 *
 * The rollups are used only when they cover every session (max_id), and
 * never when DECOYMX_REPORT_SCAN is set in the environment (the tests
 * compare both answers).
 *
 * Exports window_usable(), window_hours(), window_value_cmp(),
 * window_agg_new(), window_agg_run(), window_agg_sorted(),
 * window_agg_total(), window_agg_free() and window_key_vals().
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "store.h"

#define WIN_HOUR	(3600LL * 1000000)
#define WIN_INLINE	3		/* groups of a client before a list */
#define WIN_CHUNK	(64 * 1024)
#define WIN_HUGE	(2u << 20)	/* a huge page */

/*
 * An interned client address, its /24 or /64 once asked for, and the
 * groups it was counted in (a client is counted once per group): a short
 * list, searched from its end, where the group of the row before mostly
 * is.  One cache line, the address in it when it fits; the entries never
 * move (chunks of WIN_IPS_CHUNK), so ip may point into the entry.
 */
struct win_ip {
	char		*ip;		/* in buf or in the arena */
	char		*net;		/* in the arena */
	uint32_t	*groups;	/* ids of win_group; NULL: in inl */
	uint32_t	 inl[WIN_INLINE];
	uint32_t	 ngroups, capgroups;
	uint32_t	 len;
	char		 buf[16];
};

#define WIN_IPS_SHIFT	15
#define WIN_IPS_CHUNK	(1u << WIN_IPS_SHIFT)	/* entries a chunk */

/* Where the addresses are kept: freed all at once. */
struct win_chunk {
	struct win_chunk *next;
	size_t		 used;
	char		 data[WIN_CHUNK];
};

struct win_group {
	uint8_t		 dim;
	uint8_t		 used;
	int64_t		 ikey;		/* integer keys; text keys: 0 */
	char		*key;
	char		*label;		/* max() of the labels, or NULL */
	uint32_t	 hash;
	uint32_t	 id;		/* stable, unlike the slot */
	size_t		 keylen;
	struct win_value v;
};

struct win_agg {
	uint32_t	 dims;		/* bits of enum win_dim */
	int64_t		 bucket;	/* W_BUCKET: its size in us */
	struct win_group *g;		/* open addressing */
	uint32_t	 gcap, gn;
	/*
	 * The addresses: open addressing over 64-bit slots, the hash of the
	 * address above its entry's id + 1 (0: free), so a probe reads no
	 * entry but the one whose hash matches; entry i is ipc[i >> SHIFT].
	 */
	uint64_t	*islots;
	struct win_ip	**ipc;
	uint32_t	 icap, in, nipc;
	struct win_chunk *arena;
	struct win_value total;
	uint64_t	*seen_total;	/* ip bits, for the total's clients */
	uint32_t	 tcap;
	int		 failed;
};

/* The fields of a row of either source, in the columns' order. */
enum {
	C_T, C_IP, C_DECOY, C_ROLE, C_COUNTRY, C_ASN, C_OSC, C_OS, C_STAGE,
	C_REASON, C_ANOM, C_ORG, C_SESS, C_FIRST, C_LAST
};

/*
 * The columns of either source, and the dimensions that read each (0:
 * every row does).  A column no asked dimension reads is not selected
 * (it stays NULL and 0 in the row): each column costs every row of the
 * window its decoding.
 */
static const struct {
	const char	*rollup, *sessions;
	uint32_t	 dims;
	int		 text;		/* read as text, else as an integer */
} win_cols[] = {
	[C_T] = { "hour", "s.start_us", 1u << W_BUCKET, 0 },
	[C_IP] = { "ip", "s.src_ip", 0, 1 },
	[C_DECOY] = { "decoy", "s.dst_ip", 1u << W_DECOY, 1 },
	[C_ROLE] = { "role", "s.role",
	    1u << W_ROLE | 1u << W_DECOY | 1u << W_BUCKET, 1 },
	[C_COUNTRY] = { "country", "coalesce(s.country, '')",
	    1u << W_COUNTRY, 1 },
	[C_ASN] = { "asn", "coalesce(s.asn, -1)", 1u << W_ASN, 0 },
	[C_OSC] = { "os_class", "coalesce(s.os_class, '')", 1u << W_OS, 1 },
	[C_OS] = { "os", "coalesce(s.os, '')", 1u << W_FP, 1 },
	[C_STAGE] = { "stage", "s.stage", 1u << W_STAGE, 1 },
	[C_REASON] = { "reason", "s.close_reason", 1u << W_REASON, 1 },
	[C_ANOM] = { "anomalies", "s.anomalies", 1u << W_ANOM, 0 },
	[C_ORG] = { "as_org", "s.as_org", 1u << W_ASN, 1 },
	[C_SESS] = { "sessions", "1", 0, 0 },
	[C_FIRST] = { "first_us", "s.start_us", 0, 0 },
	[C_LAST] = { "last_us", "s.start_us", 0, 0 },
};

#define NWIN_COLS	(sizeof(win_cols) / sizeof(win_cols[0]))

/*
 * A row of either source, its text copied out of the statement.  Rows
 * are read WIN_BATCH at a time: the table slot, then the entry of each
 * row's client are prefetched a phase before they are needed, so that
 * the cache misses of a batch overlap instead of following each other.
 */
#define WIN_BATCH	32
#define WIN_BATCH_TEXT	(WIN_BATCH * 192)

struct win_r {
	const char	*s[NWIN_COLS];	/* text columns; NULL: NULL */
	size_t		 len[NWIN_COLS];
	int64_t		 v[NWIN_COLS];	/* integer columns */
	uint32_t	 h;		/* win_hash() of the address */
};

struct win_batch {
	struct win_r	 r[WIN_BATCH];
	int		 n;
	size_t		 used;
	char		 text[WIN_BATCH_TEXT];
};

/* The first %s is the columns (win_cols), the second the filter. */
static const char win_rollup_sql[] =
    "SELECT %s FROM rollup WHERE hour >= :h0 AND hour < :h1%s";
static const char win_sessions_sql[] =
    "SELECT %s FROM sessions s WHERE s.start_us >= :a AND s.start_us < :b%s";

static void	*win_big(size_t);
static uint32_t	 win_hash(const char *, size_t, uint32_t);
static char	*win_strdup(struct win_agg *, const char *, size_t);
static int	 win_grow_groups(struct win_agg *);
static struct win_group *win_group(struct win_agg *, int, const char *,
		    size_t, int64_t);
static int	 win_seen(struct win_ip *, uint32_t);
static int	 win_seen_total(struct win_agg *, uint32_t);
static struct win_ip *win_intern(struct win_agg *, const char *, size_t,
		    uint32_t, uint32_t *);
static void	 win_add(struct win_agg *, int, const char *, size_t, int64_t,
		    const char *, struct win_ip *, const struct win_r *);
static void	 win_row(struct win_agg *, const struct win_r *);
static int	 win_take(struct win_batch *, sqlite3_stmt *,
		    const uint8_t *, int);
static void	 win_flush(struct win_agg *, struct win_batch *);
static int	 win_query(struct win_agg *, sqlite3 *, const char *,
		    const struct filter *, int64_t, int64_t);
static int	 win_cmp_t(const void *, const void *);

/*
 * Zeroed memory for the client table, asked to be on huge pages when it
 * is that big (its accesses are random: a miss of the TLB each
 * otherwise).  calloc(): fresh pages are not zeroed twice.  NULL when
 * out of memory.
 */
static void *
win_big(size_t n)
{
	void		*p;
	uintptr_t	 page;

	if ((p = calloc(1, n)) == NULL || n < WIN_HUGE)
		return p;
	page = (uintptr_t)p & ~(uintptr_t)4095;
#ifdef MADV_HUGEPAGE
	madvise((void *)page, n + ((uintptr_t)p - page), MADV_HUGEPAGE);
#endif
	return p;
}

static uint32_t
win_hash(const char *k, size_t len, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)k[i]) * 16777619u;
	return h;
}

/* A copy of p (len bytes, NUL added) in the arena; NULL: no memory. */
static char *
win_strdup(struct win_agg *a, const char *p, size_t len)
{
	struct win_chunk	*c = a->arena;
	char			*s;

	if (len >= WIN_CHUNK)
		return NULL;
	if (c == NULL || c->used + len + 1 > WIN_CHUNK) {
		if ((c = malloc(sizeof(*c))) == NULL)
			return NULL;
		c->next = a->arena;
		c->used = 0;
		a->arena = c;
	}
	s = c->data + c->used;
	memcpy(s, p, len);
	s[len] = '\0';
	c->used += len + 1;
	return s;
}

/*
 * Whether the rollups can answer for this database: they exist, cover
 * every session, and no scan is asked for.  1 or 0.
 */
int
window_usable(sqlite3 *db)
{
	sqlite3_stmt	*q;
	const char	*env = getenv("DECOYMX_REPORT_SCAN");
	int		 ok = 0;

	if (env != NULL && *env != '\0')
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT (SELECT max_id FROM rollup_state)"
	    " >= coalesce((SELECT max(id) FROM sessions), 0)", -1, &q,
	    NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		ok = sqlite3_column_int(q, 0) == 1;
	sqlite3_finalize(q);
	return ok;
}

/*
 * An aggregator grouping by dims (bits of enum win_dim), W_BUCKET by
 * buckets of bucket us.  NULL when out of memory.
 */
struct win_agg *
window_agg_new(uint32_t dims, int64_t bucket)
{
	struct win_agg	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->dims = dims;
	a->bucket = bucket;
	a->total.first = INT64_MAX;
	a->total.last = INT64_MIN;
	return a;
}

void
window_agg_free(struct win_agg *a)
{
	if (a == NULL)
		return;
	for (uint32_t i = 0; i < a->gcap; i++) {
		free(a->g[i].key);
		free(a->g[i].label);
	}
	for (uint32_t i = 0; i < a->in; i++)
		free(a->ipc[i >> WIN_IPS_SHIFT][i & (WIN_IPS_CHUNK - 1)].groups);
	for (uint32_t i = 0; i < a->nipc; i++)
		free(a->ipc[i]);
	while (a->arena != NULL) {
		struct win_chunk *c = a->arena;

		a->arena = c->next;
		free(c);
	}
	free(a->g);
	free(a->islots);
	free(a->ipc);
	free(a->seen_total);
	free(a);
}

static int
win_grow_groups(struct win_agg *a)
{
	uint32_t	  ncap = a->gcap ? a->gcap * 2 : 1024;
	struct win_group *ng;

	if ((ng = calloc(ncap, sizeof(*ng))) == NULL)
		return -1;
	for (uint32_t i = 0; i < a->gcap; i++) {
		uint32_t j;

		if (!a->g[i].used)
			continue;
		for (j = a->g[i].hash & (ncap - 1); ng[j].used;
		    j = (j + 1) & (ncap - 1))
			;
		ng[j] = a->g[i];
	}
	free(a->g);
	a->g = ng;
	a->gcap = ncap;
	return 0;
}

/* The group of (dim, key), added when new; NULL when out of memory. */
static struct win_group *
win_group(struct win_agg *a, int dim, const char *k, size_t len, int64_t ik)
{
	struct win_group	*e;
	uint32_t		 h = win_hash(k, len, (uint32_t)dim) ^
				    (uint32_t)(ik * 2654435761u);

	if ((a->gn + 1) * 2 > a->gcap && win_grow_groups(a) == -1)
		return NULL;
	for (uint32_t i = h & (a->gcap - 1);; i = (i + 1) & (a->gcap - 1)) {
		e = &a->g[i];
		if (!e->used)
			break;
		if (e->hash == h && e->dim == dim && e->ikey == ik &&
		    e->keylen == len && memcmp(e->key, k, len) == 0)
			return e;
	}
	if ((e->key = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(e->key, k, len);
	e->key[len] = '\0';
	e->used = 1;
	e->dim = (uint8_t)dim;
	e->ikey = ik;
	e->hash = h;
	e->keylen = len;
	e->id = a->gn;
	e->v.first = INT64_MAX;
	e->v.last = INT64_MIN;
	a->gn++;
	return e;
}

/* Marks group g seen for client e; 1 when it was not yet, 0, or -1. */
static int
win_seen(struct win_ip *e, uint32_t g)
{
	uint32_t	*ng;

	uint32_t	*list = e->groups != NULL ? e->groups : e->inl;

	for (uint32_t i = e->ngroups; i > 0; i--)
		if (list[i - 1] == g)
			return 0;
	if (e->ngroups == WIN_INLINE && e->groups == NULL) {
		if ((ng = malloc(2 * WIN_INLINE * sizeof(*ng))) == NULL)
			return -1;
		memcpy(ng, e->inl, sizeof(e->inl));
		e->groups = list = ng;
		e->capgroups = 2 * WIN_INLINE;
	} else if (e->groups != NULL && e->ngroups == e->capgroups) {
		if ((ng = realloc(e->groups, 2 * e->capgroups *
		    sizeof(*ng))) == NULL)
			return -1;
		e->groups = list = ng;
		e->capgroups *= 2;
	}
	list[e->ngroups++] = g;
	return 1;
}

/* Marks ip seen for the total; 1 when it was not yet, 0, or -1. */
static int
win_seen_total(struct win_agg *a, uint32_t ip)
{
	if (ip / 64 >= a->tcap) {
		uint32_t	 ncap = a->tcap ? a->tcap : 1024;
		uint64_t	*nt;

		while (ip / 64 >= ncap)
			ncap *= 2;
		if ((nt = realloc(a->seen_total, ncap * sizeof(*nt))) == NULL)
			return -1;
		memset(nt + a->tcap, 0, (ncap - a->tcap) * sizeof(*nt));
		a->seen_total = nt;
		a->tcap = ncap;
	}
	if (a->seen_total[ip / 64] & (1ull << (ip % 64)))
		return 0;
	a->seen_total[ip / 64] |= 1ull << (ip % 64);
	return 1;
}

/*
 * The entry of the address ip (len bytes, hash h), added when new, or
 * NULL.
 */
static struct win_ip *
win_intern(struct win_agg *a, const char *ip, size_t len, uint32_t h,
    uint32_t *id)
{
	uint32_t	 i;
	struct win_ip	*e;

	if ((a->in + 1) * 2 > a->icap) {
		uint32_t	 ncap = a->icap ? a->icap * 2 : 4096;
		uint64_t	*ns;

		if ((ns = win_big(ncap * sizeof(*ns))) == NULL)
			return NULL;
		for (uint32_t k = 0; k < a->icap; k++) {
			uint32_t j;

			if (a->islots[k] == 0)
				continue;
			for (j = (uint32_t)(a->islots[k] >> 32) & (ncap - 1);
			    ns[j] != 0; j = (j + 1) & (ncap - 1))
				;
			ns[j] = a->islots[k];
		}
		free(a->islots);
		a->islots = ns;
		a->icap = ncap;
	}
	for (i = h & (a->icap - 1); a->islots[i] != 0;
	    i = (i + 1) & (a->icap - 1)) {
		uint32_t k = (uint32_t)a->islots[i] - 1;

		if ((uint32_t)(a->islots[i] >> 32) != h)
			continue;
		e = &a->ipc[k >> WIN_IPS_SHIFT][k & (WIN_IPS_CHUNK - 1)];
		if (e->len == len && memcmp(e->ip, ip, len) == 0) {
			*id = k;
			return e;
		}
	}
	if ((a->in & (WIN_IPS_CHUNK - 1)) == 0) {
		struct win_ip **nc;

		if ((nc = realloc(a->ipc, (a->nipc + 1) *
		    sizeof(*nc))) == NULL)
			return NULL;
		a->ipc = nc;
		if ((nc[a->nipc] = win_big(WIN_IPS_CHUNK *
		    sizeof(**nc))) == NULL)
			return NULL;
		a->nipc++;
	}
	e = &a->ipc[a->in >> WIN_IPS_SHIFT][a->in & (WIN_IPS_CHUNK - 1)];
	memset(e, 0, sizeof(*e));
	if (len < sizeof(e->buf)) {
		memcpy(e->buf, ip, len);
		e->ip = e->buf;
	} else if ((e->ip = win_strdup(a, ip, len)) == NULL)
		return NULL;
	e->len = (uint32_t)len;
	a->islots[i] = (uint64_t)h << 32 | (a->in + 1);
	*id = a->in++;
	return e;
}

/* Adds the row of q to the group (dim, key) of client ip. */
static void
win_add(struct win_agg *a, int dim, const char *k, size_t len, int64_t ik,
    const char *label, struct win_ip *ip, const struct win_r *r)
{
	struct win_group	*e;
	int64_t			 n = r->v[C_SESS];
	int64_t			 f = r->v[C_FIRST];
	int64_t			 l = r->v[C_LAST];
	const char		*role;
	int			 s;

	if ((e = win_group(a, dim, k, len, ik)) == NULL) {
		a->failed = 1;
		return;
	}
	e->v.sessions += n;
	if (f < e->v.first)
		e->v.first = f;
	if (l > e->v.last)
		e->v.last = l;
	if (label != NULL && (e->label == NULL || strcmp(label,
	    e->label) > 0)) {
		free(e->label);
		if ((e->label = strdup(label)) == NULL)
			a->failed = 1;
	}
	if (dim == W_BUCKET && (role = r->s[C_ROLE]) != NULL) {
		if (strcmp(role, "primary") == 0)
			e->v.primary += n;
		else if (strcmp(role, "backup") == 0)
			e->v.backup += n;
		else if (strcmp(role, "decoy") == 0)
			e->v.decoy += n;
	}
	if ((s = win_seen(ip, e->id)) == -1)
		a->failed = 1;
	else
		e->v.clients += s;
}

/* Adds one row of either source to every group it belongs to. */
static void
win_row(struct win_agg *a, const struct win_r *r)
{
	const char	*ip = r->s[C_IP], *s;
	int64_t		 n = r->v[C_SESS], v;
	struct win_ip	*e;
	uint32_t	 id;
	int		 sn;
	char		 net[ADDR_STRLEN + 8];

	if (ip == NULL || (e = win_intern(a, ip, r->len[C_IP], r->h,
	    &id)) == NULL) {
		a->failed = 1;
		return;
	}
	ip = e->ip;
	a->total.sessions += n;
	if (r->v[C_FIRST] < a->total.first)
		a->total.first = r->v[C_FIRST];
	if (r->v[C_LAST] > a->total.last)
		a->total.last = r->v[C_LAST];
	if ((sn = win_seen_total(a, id)) == -1)
		a->failed = 1;
	else
		a->total.clients += sn;
#define DIM(d)	(a->dims & (1u << (d)))
#define TEXT(d, c, label) do {						\
	if (DIM(d) && (s = r->s[c]) != NULL && *s != '\0')		\
		win_add(a, d, s, r->len[c], 0, label, e, r);		\
} while (0)
	TEXT(W_DECOY, C_DECOY, r->s[C_ROLE]);
	TEXT(W_ROLE, C_ROLE, NULL);
	TEXT(W_STAGE, C_STAGE, NULL);
	TEXT(W_REASON, C_REASON, NULL);
	TEXT(W_COUNTRY, C_COUNTRY, NULL);
	TEXT(W_OS, C_OSC, NULL);
	TEXT(W_FP, C_OS, NULL);
	TEXT(W_IP, C_IP, NULL);
#undef TEXT
	if (DIM(W_ASN) && (v = r->v[C_ASN]) != -1)
		win_add(a, W_ASN, "", 0, v, r->s[C_ORG], e, r);
	if (DIM(W_ANOM)) {
		v = r->v[C_ANOM];
		for (int b = 0; b < 10; b++)
			if ((v >> b) & 1)
				win_add(a, W_ANOM, "", 0, b, NULL, e, r);
	}
	if (DIM(W_NET)) {
		if (e->net == NULL && filter_net(ip, 24, 64, net,
		    sizeof(net)) == 0 && (e->net = win_strdup(a, net,
		    strlen(net))) == NULL)
			a->failed = 1;
		if (e->net != NULL)
			win_add(a, W_NET, e->net, strlen(e->net), 0, NULL, e,
			    r);
	}
	if (DIM(W_BUCKET)) {
		v = r->v[C_T];
		win_add(a, W_BUCKET, "", 0, v / a->bucket * a->bucket, NULL,
		    e, r);
	}
#undef DIM
}

/*
 * Reads the current row of q into the batch: its column j is the column
 * act[j] of win_cols (the others stay NULL and 0: the batch is zeroed
 * once).  Returns 1 when some text did not fit and points into q
 * instead: the batch must then be flushed before q steps again; else 0.
 */
static int
win_take(struct win_batch *b, sqlite3_stmt *q, const uint8_t *act, int nact)
{
	struct win_r	*r = &b->r[b->n++];
	int		 direct = 0;

	for (int j = 0; j < nact; j++) {
		int		 c = act[j];
		const char	*t;
		size_t		 len;

		if (!win_cols[c].text) {
			r->v[c] = sqlite3_column_int64(q, j);
			continue;
		}
		r->s[c] = NULL;
		r->len[c] = 0;
		if ((t = (const char *)sqlite3_column_text(q, j)) == NULL)
			continue;
		len = (size_t)sqlite3_column_bytes(q, j);
		if (b->used + len + 1 <= sizeof(b->text)) {
			memcpy(b->text + b->used, t, len);
			b->text[b->used + len] = '\0';
			t = b->text + b->used;
			b->used += len + 1;
		} else
			direct = 1;
		r->s[c] = t;
		r->len[c] = len;
	}
	if (r->s[C_IP] != NULL)
		r->h = win_hash(r->s[C_IP], r->len[C_IP], 0);
	return direct;
}

/*
 * Adds the rows of the batch: first the entries their slots name are
 * prefetched (the slots are in cache by now), then the rows added.
 */
static void
win_flush(struct win_agg *a, struct win_batch *b)
{
	for (int i = 0; i < b->n && a->icap > 0; i++) {
		uint64_t	 sl = a->islots[b->r[i].h & (a->icap - 1)];
		uint32_t	 k = (uint32_t)sl - 1;

		if (sl != 0 && (uint32_t)(sl >> 32) == b->r[i].h)
			__builtin_prefetch(&a->ipc[k >> WIN_IPS_SHIFT][k &
			    (WIN_IPS_CHUNK - 1)]);
	}
	for (int i = 0; i < b->n && !a->failed; i++)
		win_row(a, &b->r[i]);
	b->n = 0;
	b->used = 0;
}

/*
 * Runs one of the two queries (fmt: win_rollup_sql or win_sessions_sql)
 * over [lo, hi) with the filter's other conditions, adding its rows.
 * 0 or -1 with the error in db.
 */
static int
win_query(struct win_agg *a, sqlite3 *db, const char *fmt,
    const struct filter *f, int64_t lo, int64_t hi)
{
	sqlite3_stmt	*q;
	struct win_batch *b;
	struct filter	 g = *f;
	char		 where[512], cols[512], sql[1536];
	size_t		 n = 0;
	uint8_t		 act[NWIN_COLS];	/* the columns selected */
	int		 rollup = fmt == win_rollup_sql, rc, i, nact = 0;

	if (lo >= hi)
		return 0;
	for (size_t c = 0; c < NWIN_COLS; c++) {
		if (win_cols[c].dims != 0 && !(win_cols[c].dims & a->dims))
			continue;
		n += (size_t)snprintf(cols + n, sizeof(cols) - n, "%s%s",
		    nact > 0 ? ", " : "", rollup ? win_cols[c].rollup :
		    win_cols[c].sessions);
		act[nact++] = (uint8_t)c;
	}
	/* The time bounds are the query's own. */
	g.since = INT64_MIN;
	g.until = INT64_MAX;
	where[0] = '\0';
	if (rollup) {
		snprintf(where, sizeof(where), "%s%s%s%s",
		    g.decoy[0] ? " AND decoy = :decoy" : "",
		    g.country[0] ? " AND country = :country" : "",
		    g.asn != -1 ? " AND asn = :asn" : "",
		    g.cidr[0] ? " AND decoymx_in_net(ip, :cidr)" : "");
	} else
		filter_sql(&g, "s", where, sizeof(where));
	snprintf(sql, sizeof(sql), fmt, cols, where);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	filter_bind(&g, q);
	if ((i = sqlite3_bind_parameter_index(q, rollup ? ":h0" : ":a")) > 0)
		sqlite3_bind_int64(q, i, lo);
	if ((i = sqlite3_bind_parameter_index(q, rollup ? ":h1" : ":b")) > 0)
		sqlite3_bind_int64(q, i, hi);
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		sqlite3_finalize(q);
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && !a->failed) {
		int direct = win_take(b, q, act, nact);

		if (a->icap > 0)
			__builtin_prefetch(&a->islots[b->r[b->n - 1].h &
			    (a->icap - 1)]);
		if (direct || b->n == WIN_BATCH)
			win_flush(a, b);
	}
	win_flush(a, b);
	free(b);
	sqlite3_finalize(q);
	if (a->failed)
		return -1;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Adds the sessions that pass f to the aggregator: whole hours from the
 * rollups, the edges from the sessions.  The caller has checked
 * window_usable(); with W_BUCKET the bucket is a multiple of an hour.
 * 0, or -1 (the error in db, or out of memory).
 */
int
window_agg_run(struct win_agg *a, sqlite3 *db, const struct filter *f)
{
	int64_t		 h0, h1;

	window_hours(db, f, &h0, &h1);
	if (h0 >= h1)
		return win_query(a, db, win_sessions_sql, f, f->since,
		    f->until);
	if (win_query(a, db, win_sessions_sql, f, f->since, h0) == -1 ||
	    win_query(a, db, win_rollup_sql, f, h0, h1) == -1 ||
	    win_query(a, db, win_sessions_sql, f, h1, f->until) == -1)
		return -1;
	return 0;
}

/*
 * Splits the window of f: [*h0, *h1) are the hours to read from the
 * rollups, [since, *h0) and [*h1, until) the edges to read from the
 * sessions (h0 >= h1: the sessions alone).  Before db prune's cut an
 * edge counts its whole hour.
 */
void
window_hours(sqlite3 *db, const struct filter *f, int64_t *ph0, int64_t *ph1)
{
	sqlite3_stmt	*q;
	int64_t		 h0, h1, pruned = 0;

	/* The first and last whole hours of [since, until). */
	h0 = f->since == INT64_MIN ? INT64_MIN : f->since <= 0 ? 0 :
	    (f->since + WIN_HOUR - 1) / WIN_HOUR * WIN_HOUR;
	h1 = f->until == INT64_MAX ? INT64_MAX : f->until <= 0 ? 0 :
	    f->until / WIN_HOUR * WIN_HOUR;
	/*
	 * Before db prune's cut only the rollups know the sessions: an edge
	 * there counts its whole hour.
	 */
	if (sqlite3_prepare_v2(db, "SELECT pruned_us FROM rollup_state", -1,
	    &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			pruned = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	if (h0 != INT64_MIN && f->since < pruned)
		h0 = f->since <= 0 ? 0 : f->since / WIN_HOUR * WIN_HOUR;
	if (h1 != INT64_MAX && f->until < pruned)
		h1 = (f->until + WIN_HOUR - 1) / WIN_HOUR * WIN_HOUR;
	*ph0 = h0;
	*ph1 = h1;
}

/*
 * qsort() order of struct win_value: sessions descending, then the key
 * ascending as SQLite orders it (window_country.c sorts with it too).
 */
int
window_value_cmp(const void *x, const void *y)
{
	const struct win_value	*a = x, *b = y;
	int			 c;

	if (a->sessions != b->sessions)
		return a->sessions > b->sessions ? -1 : 1;
	if (a->key == NULL || b->key == NULL)
		return a->ikey < b->ikey ? -1 : a->ikey > b->ikey;
	c = memcmp(a->key, b->key, a->keylen < b->keylen ? a->keylen :
	    b->keylen);
	if (c != 0)
		return c;
	return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

/* Buckets: by time. */
static int
win_cmp_t(const void *x, const void *y)
{
	const struct win_value	*a = x, *b = y;

	return a->ikey < b->ikey ? -1 : a->ikey > b->ikey;
}

/*
 * The groups of dim, sessions descending then key (by t ascending for
 * W_BUCKET), at most limit of them (limit <= 0: all).  Returns an array
 * of *n values pointing into a, to free() (not its strings), or NULL
 * with *n 0 when there is none or no memory.
 */
struct win_value *
window_agg_sorted(struct win_agg *a, int dim, int64_t limit, size_t *n)
{
	struct win_value	*v;
	size_t			 k = 0;
	int			 intkey = dim == W_ASN || dim == W_ANOM ||
				    dim == W_BUCKET;

	*n = 0;
	if (a->gn == 0 || (v = calloc(a->gn, sizeof(*v))) == NULL)
		return NULL;
	for (uint32_t i = 0; i < a->gcap; i++) {
		struct win_group *e = &a->g[i];

		if (!e->used || e->dim != dim)
			continue;
		v[k] = e->v;
		v[k].ikey = e->ikey;
		v[k].key = intkey ? NULL : e->key;
		v[k].keylen = intkey ? 0 : strlen(e->key);
		v[k].label = e->label;
		k++;
	}
	qsort(v, k, sizeof(*v), dim == W_BUCKET ? win_cmp_t :
	    window_value_cmp);
	if (limit > 0 && (size_t)limit < k)
		k = (size_t)limit;
	*n = k;
	return v;
}

/* The totals: sessions, distinct clients, first and last start. */
const struct win_value *
window_agg_total(const struct win_agg *a)
{
	return &a->total;
}

/*
 * The key and label of an aggregated row w of dimension dim as the first
 * two values of a summary or top row: the key text, an anomaly's name,
 * or the number (written into num); the label, or null.
 */
void
window_key_vals(const struct win_value *w, int dim, struct out_val *v,
    char *num, size_t numlen)
{
	const char	*name;

	if (w->key != NULL)
		v[0].s = (struct span){ w->key, w->keylen };
	else if (dim == W_ANOM && (name = anomaly_name((int)w->ikey)) != NULL)
		v[0].s = (struct span){ name, strlen(name) };
	else {
		snprintf(num, numlen, "%lld", (long long)w->ikey);
		v[0].s = (struct span){ num, strlen(num) };
	}
	if (w->label != NULL)
		v[1].s = (struct span){ w->label, strlen(w->label) };
	v[1].null = w->label == NULL;
}
