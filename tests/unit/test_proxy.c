/* SPDX-License-Identifier: ISC */
/*
 * test_proxy.c -- the PROXY protocol header parser (tarpit/proxy.c):
 * versions 1 and 2, every way a header can be incomplete, malformed or
 * too long, fed whole and a byte at a time; the ignore list lookups;
 * the session's wait for the header (session_plan).
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tarpit.h"

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* The parse of all of p, after checking every prefix asks for more. */
static int
parse_all(const void *p, size_t len, struct proxy_hdr *h)
{
	const char	*why;
	int		 r;

	for (size_t i = 0; i < len; i++) {
		r = proxy_parse(p, i, h, &why);
		if (r != 0)
			return r > 0 ? -100 : r;	/* complete too early */
	}
	return proxy_parse(p, len, h, &why);
}

static const char *
addr(const struct sockaddr_storage *ss, uint16_t *port)
{
	static char	 buf[2][ADDR_STRLEN];
	static int	 k;

	k ^= 1;
	util_addr_str((const struct sockaddr *)ss, buf[k], sizeof(buf[k]),
	    port);
	return buf[k];
}

static size_t
v2(uint8_t *b, int vc, int fam, const void *block, size_t blen,
    size_t declared)
{
	memcpy(b, sig, 12);
	b[12] = (uint8_t)vc;
	b[13] = (uint8_t)fam;
	b[14] = (uint8_t)(declared >> 8);
	b[15] = (uint8_t)declared;
	memcpy(b + 16, block, blen);
	return 16 + blen;
}

static void
test_v1(void)
{
	struct proxy_hdr	 h;
	uint16_t		 port;
	const char		*why;
	char			 buf[256];
	const char		*l;

	l = "PROXY TCP4 198.51.100.7 192.0.2.10 40001 25\r\nEHLO x\r\n";
	CHECK(parse_all(l, strlen(l) - 8, &h) == (int)strlen(l) - 8);
	CHECK(proxy_parse((const uint8_t *)l, strlen(l), &h, &why) ==
	    (int)strlen(l) - 8);
	CHECK(h.version == 1 && !h.local);
	CHECK_STR(addr(&h.src, &port), "198.51.100.7");
	CHECK(port == 40001);
	CHECK_STR(addr(&h.dst, &port), "192.0.2.10");
	CHECK(port == 25);

	l = "PROXY TCP6 2001:db8::5 2001:db8::10 65535 0\r\n";
	CHECK(parse_all(l, strlen(l), &h) == (int)strlen(l));
	CHECK_STR(addr(&h.src, &port), "2001:db8::5");
	CHECK(port == 65535);
	CHECK_STR(addr(&h.dst, &port), "2001:db8::10");
	CHECK(port == 0);

	l = "PROXY UNKNOWN\r\n";
	CHECK(parse_all(l, strlen(l), &h) == (int)strlen(l) && h.local);
	l = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
	CHECK(parse_all(l, strlen(l), &h) == (int)strlen(l) && h.local);

	/* The longest legal lines (104 and 107 bytes), one byte more. */
	l = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	CHECK(parse_all(l, strlen(l), &h) == 104 && !h.local);
	l = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	CHECK(strlen(l) == PROXY_V1_MAX);
	CHECK(parse_all(l, strlen(l), &h) == PROXY_V1_MAX && h.local);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	CHECK(proxy_parse((uint8_t *)buf, PROXY_V1_MAX - 1, &h, &why) == 0);
	CHECK(proxy_parse((uint8_t *)buf, PROXY_V1_MAX, &h, &why) ==
	    -PROXY_OVERSIZED);
	memcpy(buf + 105, "\r\n", 2);
	CHECK(proxy_parse((uint8_t *)buf, 200, &h, &why) == 107);

	static const char *bad[] = {
		"PROXY TCP4 198.51.100.7 192.0.2.10 40001\r\n",
		"PROXY TCP4 198.51.100.7 192.0.2.10 40001 25 1\r\n",
		"PROXY TCP4 198.51.100.7  192.0.2.10 40001 25\r\n",
		"PROXY TCP4 198.51.100.7 192.0.2.10 40001 25 \r\n",
		"PROXY TCP4 198.51.100.7 192.0.2.10 040001 25\r\n",
		"PROXY TCP4 198.51.100.7 192.0.2.10 65536 25\r\n",
		"PROXY TCP4 198.51.100.7 192.0.2.10 -1 25\r\n",
		"PROXY TCP4 198.51.100.07 192.0.2.10 1 25\r\n",
		"PROXY TCP4 2001:db8::1 192.0.2.10 1 25\r\n",
		"PROXY TCP6 198.51.100.7 2001:db8::1 1 25\r\n",
		"PROXY UDP4 198.51.100.7 192.0.2.10 1 25\r\n",
		"PROXY tcp4 198.51.100.7 192.0.2.10 1 25\r\n",
		"PROXY TCP4 198.51.100.7 192.0.2.10 1 25\n",
		"PROXY TCP4 198.51.100.7\r192.0.2.10 1 25\r\n",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_all(bad[i], strlen(bad[i]), &h);
		if (r != -PROXY_MALFORMED)
			fprintf(stderr, "bad[%zu] gave %d\n", i, r);
		CHECK(r == -PROXY_MALFORMED);
	}
	CHECK(proxy_parse((const uint8_t *)"PROXY TCP4 1\0x\r\n", 16, &h,
	    &why) == -PROXY_MALFORMED);
	/* Not a header at all: told at the first byte that differs. */
	CHECK(proxy_parse((const uint8_t *)"EHLO", 4, &h, &why) ==
	    -PROXY_MISSING);
	CHECK(proxy_parse((const uint8_t *)"PROX", 4, &h, &why) == 0);
	CHECK(proxy_parse((const uint8_t *)"PROXX", 5, &h, &why) ==
	    -PROXY_MISSING && why != NULL);
	CHECK(proxy_parse((const uint8_t *)"", 0, &h, &why) == 0);
}

static void
test_v2(void)
{
	struct proxy_hdr	 h;
	uint8_t			 b[PROXY_MAX + 64], blk[600];
	uint16_t		 port;
	const char		*why;
	size_t			 n;

	memset(blk, 0, sizeof(blk));
	inet_pton(AF_INET, "203.0.113.9", blk);
	inet_pton(AF_INET, "192.0.2.10", blk + 4);
	blk[8] = 0x9c; blk[9] = 0x42;	/* 40002 */
	blk[10] = 0; blk[11] = 25;
	n = v2(b, 0x21, 0x11, blk, 12, 12);
	CHECK(parse_all(b, n, &h) == 28 && h.version == 2 && !h.local);
	CHECK_STR(addr(&h.src, &port), "203.0.113.9");
	CHECK(port == 40002);
	CHECK_STR(addr(&h.dst, &port), "192.0.2.10");
	CHECK(port == 25);
	/* TLVs after the addresses are skipped, bytes after it left. */
	n = v2(b, 0x21, 0x11, blk, 20, 20);
	memcpy(b + n, "EHLO", 4);
	CHECK(proxy_parse(b, n + 4, &h, &why) == 36);

	memset(blk, 0, sizeof(blk));
	inet_pton(AF_INET6, "2001:db8::6", blk);
	inet_pton(AF_INET6, "2001:db8::10", blk + 16);
	blk[33] = 7;
	blk[35] = 25;
	n = v2(b, 0x21, 0x21, blk, 36, 36);
	CHECK(parse_all(b, n, &h) == 52);
	CHECK_STR(addr(&h.src, &port), "2001:db8::6");
	CHECK(port == 7);
	CHECK_STR(addr(&h.dst, &port), "2001:db8::10");

	/* LOCAL with any block; PROXY with AF_UNSPEC: the endpoints. */
	n = v2(b, 0x20, 0x00, blk, 0, 0);
	CHECK(parse_all(b, n, &h) == 16 && h.local);
	n = v2(b, 0x20, 0x11, blk, 12, 12);
	CHECK(parse_all(b, n, &h) == 28 && h.local);
	n = v2(b, 0x21, 0x00, blk, 5, 5);
	CHECK(parse_all(b, n, &h) == 21 && h.local);

	/* The most a header may be, and one byte more. */
	n = v2(b, 0x21, 0x11, blk, PROXY_MAX - 16, PROXY_MAX - 16);
	CHECK(proxy_parse(b, n, &h, &why) == PROXY_MAX);
	n = v2(b, 0x21, 0x11, blk, 12, PROXY_MAX - 15);
	CHECK(proxy_parse(b, 16, &h, &why) == -PROXY_OVERSIZED);
	n = v2(b, 0x21, 0x11, blk, 12, 65535);
	CHECK(proxy_parse(b, 16, &h, &why) == -PROXY_OVERSIZED);

	/* Malformed: version, command, family, short blocks. */
	static const struct { int vc, fam; size_t len; } bad[] = {
		{ 0x11, 0x11, 12 }, { 0x31, 0x11, 12 }, { 0x22, 0x11, 12 },
		{ 0x2f, 0x11, 12 }, { 0x21, 0x12, 12 }, { 0x21, 0x22, 36 },
		{ 0x21, 0x31, 216 }, { 0x21, 0x10, 12 }, { 0x21, 0x41, 12 },
		{ 0x21, 0x11, 11 }, { 0x21, 0x21, 35 }, { 0x21, 0x21, 12 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = v2(b, bad[i].vc, bad[i].fam, blk, bad[i].len, bad[i].len);
		CHECK(parse_all(b, n, &h) == -PROXY_MALFORMED);
	}
	/* A signature that goes wrong part way. */
	memcpy(b, sig, 12);
	b[7] = 'q';
	CHECK(proxy_parse(b, 8, &h, &why) == -PROXY_MISSING);
	CHECK(proxy_parse(b, 7, &h, &why) == 0);
}

static void
test_ignore(void)
{
	struct config	 c;
	int		 rec = -1;

	config_defaults(&c);
	CHECK(config_parse_line(&c, "t", 1, "ignore 198.51.100.0/28") == 0);
	CHECK(config_parse_line(&c, "t", 2, "ignore 2001:db8:5::/48 record")
	    == 0);
	CHECK(config_parse_line(&c, "t", 3, "ignore 192.0.2.77") == 0);
	CHECK(config_ignored(&c, "198.51.100.15", &rec) && rec == 0);
	CHECK(!config_ignored(&c, "198.51.100.16", &rec));
	CHECK(config_ignored(&c, "2001:db8:5:ffff::1", &rec) && rec == 1);
	CHECK(!config_ignored(&c, "2001:db8:6::1", &rec));
	CHECK(config_ignored(&c, "192.0.2.77", &rec));
	CHECK(!config_ignored(&c, "192.0.2.76", &rec));
	CHECK(!config_ignored(&c, "not an address", &rec));
	CHECK(config_parse_line(&c, "t", 4, "ignore 0.0.0.0/0") == 0);
	CHECK(config_ignored(&c, "203.0.113.1", &rec));
	CHECK(!config_ignored(&c, "2001:db8:7::1", &rec));
	for (int i = c.nignore; i < MAX_IGNORE; i++)
		CHECK(config_parse_line(&c, "t", 5, "ignore ::1") == 0 ||
		    i < 0);
	CHECK(c.nignore == MAX_IGNORE);
	fprintf(stderr, "(an error line is expected next)\n");
	CHECK(config_parse_line(&c, "t", 6, "ignore ::2") == -1);
}

static void
test_plan(void)
{
	struct config		 c;
	struct session		 s;
	struct session_wait	 w;
	uint8_t			 buf[1];

	config_defaults(&c);
	memset(&s, 0, sizeof(s));
	s.start_us = s.last_us = 1000000000;
	s.pbuf = buf;
	session_plan(&c, &s, s.start_us, &w);
	CHECK(w.what == EV_READ && !w.lifetime);
	CHECK(w.until_us == s.start_us + PROXY_TIMEOUT_MS * 1000LL);
	c.max_session_ms = 1000;
	session_plan(&c, &s, s.start_us, &w);
	CHECK(w.until_us == s.start_us + 1000000 && w.lifetime);
}

int
main(void)
{
	test_v1();
	test_v2();
	test_ignore();
	test_plan();
	return t_done("test_proxy");
}
