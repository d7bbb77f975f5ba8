/* SPDX-License-Identifier: ISC */
/*
 * test_tarpit.c -- the tarpit's timing decisions with an injected clock
 * (session_plan, session_chunk: no sockets, no sleeping) and the
 * per-client connection table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tarpit.h"

#define MS	1000LL
#define SEC	1000000LL

static void
test_plan(void)
{
	struct config		 c;
	struct session		 s;
	struct session_wait	 w;
	const int64_t		 t0 = 1000 * SEC;

	config_defaults(&c);
	c.idle_timeout_ms = 30000;
	c.max_session_ms = 300000;
	memset(&s, 0, sizeof(s));
	s.start_us = s.last_us = t0;

	/* Nothing held: wait for input until the idle timeout. */
	session_plan(&c, &s, t0, &w);
	CHECK(w.what == EV_READ && w.until_us == t0 + 30 * SEC);
	CHECK(w.lifetime == 0);

	/* Idle is measured from the last input. */
	s.last_us = t0 + 10 * SEC;
	session_plan(&c, &s, t0 + 11 * SEC, &w);
	CHECK(w.until_us == t0 + 40 * SEC);

	/* The lifetime caps the idle timeout near the end. */
	s.last_us = t0 + 290 * SEC;
	session_plan(&c, &s, t0 + 291 * SEC, &w);
	CHECK(w.until_us == t0 + 300 * SEC);
	CHECK(w.lifetime == 1);	/* what fired is known, not guessed */

	/* Greeting held for the delay: watch input (pregreet), timer. */
	s.last_us = t0;
	s.outlen = 20;
	s.due_us = t0 + 500 * MS;
	session_plan(&c, &s, t0, &w);
	CHECK(w.what == EV_READ && w.until_us == t0 + 500 * MS);
	s.peeked = 1;		/* it talked: now only the timer */
	session_plan(&c, &s, t0 + 100 * MS, &w);
	CHECK(w.what == 0 && w.until_us == t0 + 500 * MS);

	/* Due: write; the idle timeout does not run while we hold output. */
	session_plan(&c, &s, t0 + 500 * MS, &w);
	CHECK(w.what == EV_WRITE && w.until_us == t0 + 300 * SEC);
	s.due_us = t0 + 400 * SEC;	/* beyond the lifetime */
	session_plan(&c, &s, t0 + 10 * SEC, &w);
	CHECK(w.what == 0 && w.until_us == t0 + 300 * SEC);
}

static void
test_chunk(void)
{
	struct config	 c;
	struct session	 s;

	config_defaults(&c);
	memset(&s, 0, sizeof(s));
	s.outlen = 40;
	s.outoff = 10;
	CHECK(session_chunk(&c, &s) == 30);	/* no stutter configured */
	c.stutter_ms = 1000;
	c.stutter_bytes = 3;
	CHECK(session_chunk(&c, &s) == 30);	/* not tarpitted */
	s.tarpitted = 1;
	CHECK(session_chunk(&c, &s) == 3);
	s.outoff = 38;
	CHECK(session_chunk(&c, &s) == 2);

	/* A 30-byte reply at 3 bytes a second takes 10 stutter steps. */
	int steps = 0;
	s.outoff = 10;
	while (s.outoff < s.outlen && steps < 100) {
		s.outoff += (uint16_t)session_chunk(&c, &s);
		steps++;
	}
	CHECK(steps == 10);
}

static void
test_clients(void)
{
	struct clients	 t = { 0 };
	uint8_t		 k[16], k2[16];
	char		 ip[32];

	CHECK(clients_key("192.0.2.1", k) == 0);
	CHECK(clients_key("::ffff:192.0.2.1", k2) == 0);
	CHECK(memcmp(k, k2, 16) == 0);	/* mapped IPv4 is the same client */
	CHECK(clients_key("bogus", k) == -1);

	CHECK(clients_key("2001:db8::1", k) == 0);
	CHECK(clients_add(&t, k) == 1);
	CHECK(clients_add(&t, k) == 2);
	clients_del(&t, k);
	CHECK(clients_add(&t, k) == 2);

	/* Many addresses, interleaved removals: counts stay exact. */
	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof(ip), "198.51.%d.%d", i / 250, i % 250);
		clients_key(ip, k);
		clients_add(&t, k);
		if (i % 3 == 0)
			clients_add(&t, k);
	}
	int ok = 1;
	for (int i = 0; i < 5000; i += 2) {
		snprintf(ip, sizeof(ip), "198.51.%d.%d", i / 250, i % 250);
		clients_key(ip, k);
		clients_del(&t, k);
		if (i % 3 == 0)
			clients_del(&t, k);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(ip, sizeof(ip), "198.51.%d.%d", i / 250, i % 250);
		clients_key(ip, k);
		uint32_t n = clients_add(&t, k);
		uint32_t want = (i % 2 == 0) ? 1 : (i % 3 == 0 ? 3 : 2);
		if (n != want)
			ok = 0;
	}
	CHECK(ok);
	CHECK(t.used == 5001);
	clients_free(&t);
}

int
main(void)
{
	test_plan();
	test_chunk();
	test_clients();
	return t_done("test_tarpit");
}
