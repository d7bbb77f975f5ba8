/* SPDX-License-Identifier: ISC */
/*
 * test_recent.c -- the returning-client table (tarpit/recent.c): the
 * rule (first contact, return within the window, the real MX seen), its
 * bound (never more slots than configured, every live entry pushed out
 * counted), expiry with an injected clock, and the client keys (IPv4,
 * IPv6 by /64, IPv4-mapped).
 */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tarpit.h"

#define SEC	1000000LL
#define T0	(1700000000LL * SEC)
#define WIN_MS	3600000u		/* one hour */

static uint64_t
key(const char *ip)
{
	uint64_t k = 0;

	CHECK(recent_key(ip, &k) == 0);
	return k;
}

static void
test_rule(void)
{
	struct recent	 t;
	uint64_t	 a = key("192.0.2.1"), b = key("192.0.2.2");

	CHECK(recent_init(&t, 1000, 42, T0) == 0);
	CHECK(recent_contact(&t, a, T0, WIN_MS) == RECENT_FIRST);
	CHECK(recent_contact(&t, a, T0 + 400 * SEC, WIN_MS) ==
	    RECENT_RETURNING);
	CHECK(recent_contact(&t, b, T0 + 400 * SEC, WIN_MS) == RECENT_FIRST);
	/* Still returning at the end of the window, which counts from the
	 * first contact; a new window after it. */
	CHECK(recent_contact(&t, a, T0 + 3599 * SEC, WIN_MS) ==
	    RECENT_RETURNING);
	CHECK(recent_contact(&t, a, T0 + 3600 * SEC, WIN_MS) == RECENT_FIRST);
	CHECK(recent_contact(&t, a, T0 + 3601 * SEC, WIN_MS) ==
	    RECENT_RETURNING);
	/*
	 * Seen at the real MX: counted, and still returning until its
	 * window ends (an MTA that walked is sent on at once again).
	 */
	recent_real(&t, b, T0 + 401 * SEC);
	CHECK(t.real_seen == 1);
	CHECK(recent_contact(&t, b, T0 + 900 * SEC, WIN_MS) ==
	    RECENT_RETURNING);
	recent_real(&t, b, T0 + 901 * SEC);
	CHECK(recent_contact(&t, b, T0 + 950 * SEC, WIN_MS) ==
	    RECENT_RETURNING);
	CHECK(recent_contact(&t, b, T0 + 400 * SEC + 3600 * SEC, WIN_MS) ==
	    RECENT_FIRST);
	/* A client only seen at the real MX is not added. */
	uint64_t used = t.used;
	recent_real(&t, key("192.0.2.3"), T0 + 10 * SEC);
	CHECK(t.used == used && t.real_seen == 2);
	CHECK(recent_contact(&t, key("192.0.2.3"), T0 + 11 * SEC, WIN_MS) ==
	    RECENT_FIRST);
	CHECK(t.evicted == 0);
	recent_free(&t);
}

/* 10000 clients through a table of 64: bounded, every push-out counted. */
static void
test_bound(void)
{
	struct recent	 t;
	uint8_t		 a[4] = { 198, 51, 0, 0 };
	const int	 n = 10000;

	CHECK(recent_init(&t, 64, 7, T0) == 0);
	CHECK(t.nbuckets * RECENT_WAYS == 64);
	for (int i = 0; i < n; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		CHECK(recent_contact(&t, recent_key_raw(4, a), T0 + i * 1000LL,
		    WIN_MS) == RECENT_FIRST);
	}
	CHECK(t.used == 64);
	CHECK(t.evicted == (uint64_t)n - 64);
	/* The most recent client is still there. */
	CHECK(recent_contact(&t, recent_key_raw(4, a), T0 + n * 1000LL,
	    WIN_MS) == RECENT_RETURNING);
	recent_free(&t);
}

/* In a full bucket the oldest contact goes; expired slots go free. */
static void
test_eviction_order(void)
{
	struct recent	 t;
	uint8_t		 a[4] = { 203, 0, 113, 0 };

	CHECK(recent_init(&t, 8, 1, T0) == 0);	/* one bucket */
	for (int i = 1; i <= 8; i++) {
		a[3] = (uint8_t)i;
		recent_contact(&t, recent_key_raw(4, a), T0 + i * SEC, WIN_MS);
	}
	CHECK(t.evicted == 0 && t.used == 8);
	a[3] = 9;
	CHECK(recent_contact(&t, recent_key_raw(4, a), T0 + 9 * SEC,
	    WIN_MS) == RECENT_FIRST);
	CHECK(t.evicted == 1);
	a[3] = 2;
	CHECK(recent_contact(&t, recent_key_raw(4, a), T0 + 10 * SEC,
	    WIN_MS) == RECENT_RETURNING);
	a[3] = 1;			/* the oldest: it was pushed out */
	CHECK(recent_contact(&t, recent_key_raw(4, a), T0 + 11 * SEC,
	    WIN_MS) == RECENT_FIRST);
	CHECK(t.evicted == 2);
	/* Two hours on, every entry has expired: no eviction counted. */
	for (int i = 20; i < 28; i++) {
		a[3] = (uint8_t)i;
		CHECK(recent_contact(&t, recent_key_raw(4, a),
		    T0 + 7200 * SEC, WIN_MS) == RECENT_FIRST);
	}
	CHECK(t.evicted == 2 && t.used == 8);
	/* Growing keeps what is live. */
	CHECK(recent_resize(&t, 4096, T0 + 7201 * SEC, WIN_MS) == 0);
	CHECK(t.nbuckets * RECENT_WAYS == 4096 && t.evicted == 2);
	a[3] = 27;
	CHECK(recent_contact(&t, recent_key_raw(4, a), T0 + 7202 * SEC,
	    WIN_MS) == RECENT_RETURNING);
	recent_free(&t);
}

static void
test_keys(void)
{
	uint64_t k;

	CHECK(key("2001:db8::1") == key("2001:db8::2"));
	CHECK(key("2001:db8::1") == key("2001:db8::ffff:1:2:3"));
	CHECK(key("2001:db8::1") != key("2001:db8:0:1::1"));
	CHECK(key("::ffff:192.0.2.1") == key("192.0.2.1"));
	CHECK(key("192.0.2.1") != key("192.0.2.2"));
	CHECK(key("0.0.0.1") != key("::1"));
	CHECK(recent_key("not-an-ip", &k) == -1);
}

int
main(void)
{
	test_rule();
	test_bound();
	test_eviction_order();
	test_keys();
	return t_done("test_recent");
}
