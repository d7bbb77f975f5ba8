/* SPDX-License-Identifier: ISC */
/*
 * test_recent.c -- the returning-client table (tarpit/recent.c): the
 * rule (first contact, return within the window, the real MX seen), its
 * bound (never more slots than configured, every live entry pushed out
 * counted), expiry with an injected clock, and the client keys (IPv4,
 * IPv6 by /64, IPv4-mapped), and the pair rule (an IPv6 return pairs
 * the next IPv4 first contact within 5 s).
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
	recent_real(&t, b);
	CHECK(t.real_seen == 1);
	CHECK(recent_contact(&t, b, T0 + 900 * SEC, WIN_MS) ==
	    RECENT_RETURNING);
	recent_real(&t, b);
	CHECK(recent_contact(&t, b, T0 + 950 * SEC, WIN_MS) ==
	    RECENT_RETURNING);
	CHECK(recent_contact(&t, b, T0 + 400 * SEC + 3600 * SEC, WIN_MS) ==
	    RECENT_FIRST);
	/* A client only seen at the real MX is not added. */
	uint64_t used = t.used;
	recent_real(&t, key("192.0.2.3"));
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

static void
test_pair(void)
{
	struct recent	 t;
	uint64_t	 six = key("2001:db8:25::25"), four = key("203.0.113.25");
	uint64_t	 bot = key("198.51.100.7");

	CHECK(recent_init(&t, 1000, 9, T0) == 0);
	/* Not armed: an IPv4 first contact stays one. */
	CHECK(recent_pair(&t, four, RECENT_FIRST, T0) == RECENT_FIRST);
	/* An IPv6 first contact arms nothing; its return does. */
	CHECK(recent_pair(&t, six, RECENT_FIRST, T0) == RECENT_FIRST);
	CHECK(recent_pair(&t, four, RECENT_FIRST, T0 + SEC) == RECENT_FIRST);
	CHECK(recent_pair(&t, six, RECENT_RETURNING, T0 + 400 * SEC) ==
	    RECENT_RETURNING);
	/* The next IPv4 first contact within 5 s is paired, once. */
	CHECK(recent_pair(&t, four, RECENT_FIRST, T0 + 402 * SEC) ==
	    RECENT_RETURNING);
	CHECK(t.paired == 1);
	CHECK(recent_pair(&t, bot, RECENT_FIRST, T0 + 403 * SEC) ==
	    RECENT_FIRST);
	/* Returning IPv4 clients are unaffected and do not consume it. */
	CHECK(recent_pair(&t, six, RECENT_RETURNING, T0 + 500 * SEC) ==
	    RECENT_RETURNING);
	CHECK(recent_pair(&t, bot, RECENT_RETURNING, T0 + 501 * SEC) ==
	    RECENT_RETURNING);
	CHECK(recent_pair(&t, four, RECENT_FIRST, T0 + 502 * SEC) ==
	    RECENT_RETURNING);
	/* Not after 5 s; an IPv4 return never arms it. */
	CHECK(recent_pair(&t, six, RECENT_RETURNING, T0 + 600 * SEC) ==
	    RECENT_RETURNING);
	CHECK(recent_pair(&t, four, RECENT_FIRST, T0 + 606 * SEC) ==
	    RECENT_FIRST);
	CHECK(recent_pair(&t, bot, RECENT_RETURNING, T0 + 700 * SEC) ==
	    RECENT_RETURNING);
	CHECK(recent_pair(&t, four, RECENT_FIRST, T0 + 700 * SEC) ==
	    RECENT_FIRST);
	CHECK(t.paired == 2);
	recent_free(&t);
}

/* A paired client's window is marked, its returns in it too. */
static void
test_paired_window(void)
{
	struct recent	 t;
	uint64_t	 six = key("2001:db8:25::25"), four = key("203.0.113.25");
	uint64_t	 bot = key("198.51.100.7");

#define STEP(k, at) recent_pair(&t, (k), recent_contact(&t, (k), (at), \
	    WIN_MS), (at))
	CHECK(recent_init(&t, 1000, 11, T0) == 0);
	CHECK(STEP(six, T0) == RECENT_FIRST);
	CHECK(STEP(six, T0 + 400 * SEC) == RECENT_RETURNING);
	CHECK(STEP(four, T0 + 402 * SEC) == RECENT_RETURNING);
	CHECK(recent_paired(&t, four) && !recent_paired(&t, six));
	CHECK(STEP(four, T0 + 500 * SEC) == RECENT_RETURNING);
	CHECK(recent_paired(&t, four));
	CHECK(STEP(bot, T0 + 501 * SEC) == RECENT_FIRST);
	CHECK(!recent_paired(&t, bot));
	/* After the window: a first contact of its own, not paired. */
	CHECK(STEP(four, T0 + 4002 * SEC) == RECENT_FIRST);
	CHECK(!recent_paired(&t, four));
#undef STEP
	recent_free(&t);
}

int
main(void)
{
	test_rule();
	test_bound();
	test_eviction_order();
	test_keys();
	test_pair();
	test_paired_window();
	return t_done("test_recent");
}
