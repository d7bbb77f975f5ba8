/* SPDX-License-Identifier: ISC */
/*
 * export_sort.c -- the order of an export's entries: export_key_cmp()'s
 * (family, address, prefix), equal keys in the order they came (their
 * index i), as a stable sort leaves them.  The IPv4 /32s, nearly all of
 * an export, by a radix sort on their 32 bits (4 passes over 8 bytes a
 * key, instead of ~20 calls of a comparison); the rest (IPv6 entries,
 * networks) by qsort; then the two runs merged.
 *
 * Exports export_sort_keys() and export_key_cmp().
 */
#include <stdlib.h>
#include <string.h>

#include "export.h"

static int	 export_sort_cmp(const void *, const void *);
static int	 export_sort_v4(const struct export_key *);
static int	 export_sort_radix(uint64_t *, size_t);

/* The order of export_cmp, on keys: family, address, prefix. */
int
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

/* export_key_cmp(), then the index: a total order, as stable as msort. */
static int
export_sort_cmp(const void *a, const void *b)
{
	const struct export_key	*x = a, *y = b;
	int			 c = export_key_cmp(a, b);

	return c != 0 ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* Whether k is an IPv4 /32 (its address in the top 32 bits of hi). */
static int
export_sort_v4(const struct export_key *k)
{
	return k->family == 4 && k->prefix == 32 && k->lo == 0 &&
	    (k->hi & 0xffffffffu) == 0;
}

/*
 * Sorts v (n values: an address in the top 32 bits, an index below) by
 * the address, stably (LSD, 8 bits a pass; a pass where every value has
 * the same byte is skipped).  0 or -1 (ENOMEM).
 */
static int
export_sort_radix(uint64_t *v, size_t n)
{
	size_t		 count[4][256];
	uint64_t	*tmp, *src = v, *dst;

	if ((tmp = malloc(n * sizeof(*tmp))) == NULL)
		return -1;
	dst = tmp;
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++)
		for (int p = 0; p < 4; p++)
			count[p][(v[i] >> (32 + 8 * p)) & 0xff]++;
	for (int p = 0; p < 4; p++) {
		size_t	 sum = 0, t;
		int	 shift = 32 + 8 * p;

		if (count[p][(v[0] >> shift) & 0xff] == n)
			continue;	/* one byte value: order kept */
		for (int b = 0; b < 256; b++) {
			t = count[p][b];
			count[p][b] = sum;
			sum += t;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[p][(src[i] >> shift) & 0xff]++] = src[i];
		tmp = src;
		src = dst;
		dst = tmp;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(src == v ? dst : src);
	return 0;
}

/*
 * Sorts the n keys k (k[].i distinct) into export_sort_cmp() order.
 * 0, or -1 (ENOMEM) with k unchanged.
 */
int
export_sort_keys(struct export_key *k, size_t n)
{
	uint64_t		*v4;
	struct export_key	*rest, x;
	size_t			 n4 = 0, nr = 0, a = 0, b = 0;

	for (size_t i = 0; i < n; i++)
		n4 += export_sort_v4(&k[i]);
	if ((v4 = malloc((n4 ? n4 : 1) * sizeof(*v4))) == NULL)
		return -1;
	if ((rest = malloc((n - n4 ? n - n4 : 1) * sizeof(*rest))) == NULL) {
		free(v4);
		return -1;
	}
	/* In index order, so that the radix sort leaves ties by index. */
	for (size_t i = 0; i < n; i++) {
		if (export_sort_v4(&k[i]))
			v4[a++] = (k[i].hi & 0xffffffff00000000ull) | k[i].i;
		else
			rest[nr++] = k[i];
	}
	if (n4 > 1 && export_sort_radix(v4, n4) == -1) {
		free(v4);
		free(rest);
		return -1;
	}
	qsort(rest, nr, sizeof(*rest), export_sort_cmp);
	a = 0;
	for (size_t o = 0; o < n; o++) {
		if (a < n4) {
			memset(&x, 0, sizeof(x));
			x.hi = v4[a] & 0xffffffff00000000ull;
			x.i = (uint32_t)(v4[a] & 0xffffffffu);
			x.family = 4;
			x.prefix = 32;
		}
		if (a < n4 && (b == nr || export_sort_cmp(&x, &rest[b]) < 0)) {
			k[o] = x;
			a++;
		} else
			k[o] = rest[b++];
	}
	free(v4);
	free(rest);
	return 0;
}
