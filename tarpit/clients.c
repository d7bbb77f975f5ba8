/* SPDX-License-Identifier: ISC */
/*
 * clients.c -- how many sessions each client address has open, for the
 * max-per-client limit.  An open-addressing table keyed by the 16-byte
 * address (IPv4 as mapped IPv6), linear probing, backward-shift deletion
 * so no tombstones accumulate; it grows at three quarters full (20 bytes
 * a slot: 27-53 bytes a held client) and never holds more entries than
 * there are open sessions.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "tarpit.h"

struct client_slot {
	uint8_t		 addr[16];
	uint32_t	 count;		/* 0: free slot */
};

static uint32_t	 clients_hash(const uint8_t *);
static int	 clients_grow(struct clients *);

/* Converts a textual address to the table's 16-byte key. */
int
clients_key(const char *ip, uint8_t key[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, ip, key) == 1)
		return 0;
	if (inet_pton(AF_INET, ip, &a4) != 1)
		return -1;
	memset(key, 0, 10);
	key[10] = key[11] = 0xff;
	memcpy(key + 12, &a4, 4);
	return 0;
}

/* FNV-1a over the address; good enough for a table we size ourselves. */
static uint32_t
clients_hash(const uint8_t *a)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

static int
clients_grow(struct clients *t)
{
	uint32_t		 ncap = t->cap ? t->cap * 2 : 256;
	struct client_slot	*ns, *old = t->slots;

	if ((ns = calloc(ncap, sizeof(*ns))) == NULL)
		return -1;
	t->slots = ns;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (old[i].count == 0)
			continue;
		uint32_t j = clients_hash(old[i].addr) & (ncap - 1);
		while (ns[j].count != 0)
			j = (j + 1) & (ncap - 1);
		ns[j] = old[i];
	}
	t->cap = ncap;
	free(old);
	return 0;
}

/*
 * Counts one more session for the address.  Returns the new count, or
 * 0 when the table cannot grow (the caller then does not limit).
 */
uint32_t
clients_add(struct clients *t, const uint8_t key[16])
{
	uint32_t i;

	if ((t->used + 1) * 4 > t->cap * 3 && clients_grow(t) == -1)
		return 0;
	i = clients_hash(key) & (t->cap - 1);
	while (t->slots[i].count != 0) {
		if (memcmp(t->slots[i].addr, key, 16) == 0)
			return ++t->slots[i].count;
		i = (i + 1) & (t->cap - 1);
	}
	memcpy(t->slots[i].addr, key, 16);
	t->slots[i].count = 1;
	t->used++;
	return 1;
}

/* Counts one session less; the slot is freed at zero. */
void
clients_del(struct clients *t, const uint8_t key[16])
{
	uint32_t i, j, k, mask = t->cap - 1;

	if (t->cap == 0)
		return;
	i = clients_hash(key) & mask;
	while (t->slots[i].count != 0 &&
	    memcmp(t->slots[i].addr, key, 16) != 0)
		i = (i + 1) & mask;
	if (t->slots[i].count == 0 || --t->slots[i].count > 0)
		return;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	t->used--;
	for (j = (i + 1) & mask; t->slots[j].count != 0; j = (j + 1) & mask) {
		k = clients_hash(t->slots[j].addr) & mask;
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].count = 0;
}

void
clients_free(struct clients *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
