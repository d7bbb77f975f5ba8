/* SPDX-License-Identifier: ISC */
/*
 * recent.c -- the clients that met a decoy recently, for the returning
 * client rule (decoymx.conf(5), returning-defer).  The first contact of a
 * client gets the configured deferral, so its envelope is recorded; a
 * client that comes back to any decoy within returning-window is reset
 * (or gets 421 at the greeting), after which every MTA of the
 * compatibility matrix tries the next MX at once.
 *
 * A client is an IPv4 address or an IPv6 /64 (a host's temporary
 * addresses share it), packed into 64 bits.  The table is fixed in size:
 * buckets of RECENT_WAYS slots of 16 bytes, a slot chosen by a seeded
 * hash; a new client takes a free or expired slot of its bucket, else the
 * slot whose contact is oldest (it is the nearest to expiring), and that
 * live entry is counted as evicted.  Nothing is allocated after
 * recent_init() and no operation costs more than one bucket.
 *
 * The pair rule (recent_pair) sends on the IPv4 address of a dual-stack
 * MTA that walks over IPv6 first.
 *
 * The clock is an argument everywhere, so the unit tests drive it.
 *
 * Exports recent_init(), recent_resize(), recent_free(), recent_key(),
 * recent_key_raw(), recent_contact(), recent_real(), recent_pair() and
 * recent_paired().
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "tarpit.h"

#define RECENT_F_PAIRED	0x1	/* its window began with the pair rule */

struct recent_slot {
	uint64_t	 key;
	uint32_t	 first;		/* second of the contact + 1; 0: free */
	uint32_t	 flags;		/* RECENT_F_* */
};

_Static_assert(sizeof(struct recent_slot) == RECENT_SLOT_SIZE,
    "RECENT_SLOT_SIZE is what README.md quotes per client");

static struct recent_slot *recent_bucket(const struct recent *, uint64_t);
static struct recent_slot *recent_find(const struct recent *, uint64_t);
static uint32_t	 recent_sec(const struct recent *, int64_t now_us);
static struct recent_slot *recent_place(struct recent *, uint64_t key,
		    uint32_t now, uint32_t window);

/*
 * Sizes the table for at least size clients (rounded up to a whole
 * bucket).  The seed keeps the bucket of an address unpredictable from
 * outside.  Returns 0, or -1 when out of memory (t is then empty).
 */
int
recent_init(struct recent *t, uint32_t size, uint64_t seed, int64_t now_us)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = (size + RECENT_WAYS - 1) / RECENT_WAYS;
	if (t->nbuckets == 0)
		t->nbuckets = 1;
	t->seed = seed | 1;
	t->base_us = now_us;
	if ((t->slot = calloc((size_t)t->nbuckets * RECENT_WAYS,
	    sizeof(*t->slot))) == NULL) {
		t->nbuckets = 0;
		return -1;
	}
	return 0;
}

/*
 * Gives the table room for size clients, keeping what it holds (the
 * oldest go when it shrinks, counted as evicted).  Returns 0, or -1 with
 * the table unchanged.
 */
int
recent_resize(struct recent *t, uint32_t size, int64_t now_us,
    uint32_t window_ms)
{
	struct recent	 n;
	uint32_t	 now = recent_sec(t, now_us);
	uint32_t	 window = window_ms < 1000 ? 1 : window_ms / 1000;

	if ((size + RECENT_WAYS - 1) / RECENT_WAYS == t->nbuckets)
		return 0;
	if (recent_init(&n, size, t->seed, t->base_us) == -1)
		return -1;
	n.evicted = t->evicted;
	n.real_seen = t->real_seen;
	n.pair_us = t->pair_us;
	n.paired = t->paired;
	for (size_t i = 0; i < (size_t)t->nbuckets * RECENT_WAYS; i++) {
		const struct recent_slot *o = &t->slot[i];
		struct recent_slot *s;

		if (o->first == 0 || now - o->first >= window)
			continue;
		s = recent_place(&n, o->key, o->first, window);
		*s = *o;
	}
	free(t->slot);
	*t = n;
	return 0;
}

void
recent_free(struct recent *t)
{
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

/*
 * The key of an address in network order (ver 4: 4 bytes, ver 6: 16):
 * an IPv4 address under a prefix no IPv6 /64 in use has (0:ffff::/32),
 * an IPv6 address by its /64; IPv4-mapped IPv6 as IPv4.
 */
uint64_t
recent_key_raw(int ver, const uint8_t *a)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	uint64_t k = 0;

	if (ver == 6 && memcmp(a, mapped, sizeof(mapped)) == 0)
		return recent_key_raw(4, a + 12);
	if (ver == 4)
		return 0xffffULL << 32 | (uint64_t)a[0] << 24 |
		    (uint64_t)a[1] << 16 | (uint64_t)a[2] << 8 | a[3];
	for (int i = 0; i < 8; i++)
		k = k << 8 | a[i];
	return k;
}

/* The key of a textual address.  Returns 0, or -1 when it is not one. */
int
recent_key(const char *ip, uint64_t *key)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		*key = recent_key_raw(4, a);
	else if (inet_pton(AF_INET6, ip, a) == 1)
		*key = recent_key_raw(6, a);
	else
		return -1;
	return 0;
}

static struct recent_slot *
recent_bucket(const struct recent *t, uint64_t key)
{
	uint64_t h = (key ^ t->seed) * 0x9e3779b97f4a7c15ULL;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return &t->slot[(size_t)(((h & 0xffffffffu) * t->nbuckets) >> 32) *
	    RECENT_WAYS];
}

/* The slot of key in t, however old, or NULL. */
static struct recent_slot *
recent_find(const struct recent *t, uint64_t key)
{
	struct recent_slot *b = recent_bucket(t, key);

	for (int i = 0; i < RECENT_WAYS; i++)
		if (b[i].first != 0 && b[i].key == key)
			return &b[i];
	return NULL;
}

/* Seconds since the table began, plus one (0 marks a free slot). */
static uint32_t
recent_sec(const struct recent *t, int64_t now_us)
{
	if (now_us < t->base_us)
		return 1;
	return (uint32_t)((now_us - t->base_us) / 1000000) + 1;
}

/*
 * A slot for a key not in the table: a free one, an expired one, or the
 * one with the oldest contact, whose live entry is counted as evicted.
 * The slot's old contents are left for the caller to overwrite.
 */
static struct recent_slot *
recent_place(struct recent *t, uint64_t key, uint32_t now, uint32_t window)
{
	struct recent_slot	*b = recent_bucket(t, key), *old = b;

	for (int i = 0; i < RECENT_WAYS; i++) {
		if (b[i].first == 0) {
			t->used++;
			return &b[i];
		}
		if (now - b[i].first >= window)
			return &b[i];
		if (b[i].first < old->first)
			old = &b[i];
	}
	t->evicted++;
	return old;
}

/*
 * A connection from the client key to a decoy at now_us.  Returns
 * RECENT_RETURNING when it met a decoy less than window_ms ago, even if
 * it was seen at the real MX since (an MTA that walked once is sent on
 * at once again: Courier keeps a message deferred at RCPT until its
 * next queue run); otherwise RECENT_FIRST, and this contact starts a
 * new window.  A table that could not be allocated
 * answers RECENT_FIRST: it never costs mail.
 */
enum recent_verdict
recent_contact(struct recent *t, uint64_t key, int64_t now_us,
    uint32_t window_ms)
{
	struct recent_slot	*b, *s;
	uint32_t		 now = recent_sec(t, now_us);
	uint32_t		 window = window_ms < 1000 ? 1 : window_ms / 1000;

	if (t->nbuckets == 0)
		return RECENT_FIRST;
	b = recent_bucket(t, key);
	for (int i = 0; i < RECENT_WAYS; i++) {
		s = &b[i];
		if (s->first == 0 || s->key != key)
			continue;
		if (now >= s->first && now - s->first < window)
			return RECENT_RETURNING;
		s->first = now;
		s->flags = 0;
		return RECENT_FIRST;
	}
	s = recent_place(t, key, now, window);
	s->key = key;
	s->first = now;
	s->flags = 0;
	return RECENT_FIRST;
}

/*
 * The sensor saw the client key open a connection to the real MX:
 * counted (decoymx_client_table_real_mx_total); the client
 * stays returning until its window ends.  A client not in the table
 * stays out of it.
 */
void
recent_real(struct recent *t, uint64_t key)
{
	if (t->nbuckets != 0 && recent_find(t, key) != NULL)
		t->real_seen++;
}

/*
 * The pair rule, after recent_contact() gave v for the client key at
 * now_us.  A dual-stack MTA tries the IPv6 address of an MX before its
 * IPv4 one (RFC 6724), and its two addresses are two clients: at its
 * retry the IPv6 one is returning and is sent on, but the IPv4 one, a
 * first contact, would get the deferral, and an MTA that retries the
 * same MX after a 4xx at RCPT (OpenSMTPD) would keep the message.  So
 * an IPv6 client's return arms the rule, and the first IPv4 first
 * contact within RECENT_PAIR_US after it is taken as returning too
 * (counted in paired); one return pairs one contact at most, so a bot
 * that happens to come then loses its envelope, never an MTA its mail.
 * Returns the verdict to apply.
 */
enum recent_verdict
recent_pair(struct recent *t, uint64_t key, enum recent_verdict v,
    int64_t now_us)
{
	struct recent_slot *s;

	if (RECENT_KEY_V6(key)) {
		if (v == RECENT_RETURNING)
			t->pair_us = now_us;
		return v;
	}
	if (v != RECENT_FIRST || t->pair_us == 0 || now_us < t->pair_us ||
	    now_us - t->pair_us > RECENT_PAIR_US)
		return v;
	t->pair_us = 0;
	t->paired++;
	if ((s = recent_find(t, key)) != NULL)
		s->flags |= RECENT_F_PAIRED;
	return RECENT_RETURNING;
}

/*
 * Did the window of the client key begin with the pair rule?  Its
 * returns within the window are then recorded as paired too: none of
 * its sessions shows what the client is.
 */
int
recent_paired(const struct recent *t, uint64_t key)
{
	const struct recent_slot *s;

	return t->nbuckets != 0 && (s = recent_find(t, key)) != NULL &&
	    (s->flags & RECENT_F_PAIRED) != 0;
}
