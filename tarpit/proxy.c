/* SPDX-License-Identifier: ISC */
/*
 * proxy.c -- the PROXY protocol header a load balancer (HAProxy, a cloud
 * NLB) sends before the client's first byte on a listener configured
 * with "proxy": version 1 (one text line of at most 107 bytes) and
 * version 2 (a 16-byte binary prefix and an address block of the length
 * it declares).  Pure: no sockets, no clock, so the unit tests and the
 * fuzz harness drive it directly.
 *
 * Strict on purpose: only TCP over IPv4 or IPv6 is relayed; the LOCAL
 * command (a balancer's own health check), version 1 UNKNOWN and a
 * version 2 AF_UNSPEC block mean "use the connection's own endpoints".
 * Anything else, or a header longer than PROXY_MAX, is an error: the
 * caller closes the session and never trusts what was sent.
 *
 * Exports proxy_parse() and proxy_result_name().
 */
#include <arpa/inet.h>

#include <string.h>

#include "tarpit.h"

static const uint8_t proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static int	 proxy_v1(const uint8_t *, size_t, struct proxy_hdr *,
		    const char **);
static int	 proxy_v1_addr(const char *, int, uint16_t,
		    struct sockaddr_storage *);
static int	 proxy_v1_port(const char *, uint16_t *);
static int	 proxy_v2(const uint8_t *, size_t, struct proxy_hdr *,
		    const char **);
static void	 proxy_v2_addrs(const uint8_t *, int, struct proxy_hdr *);

static const char *const proxy_results[PROXY_RESULTS] = {
	"ok", "local", "missing", "malformed", "oversized"
};

/* The metric and log name of a result. */
const char *
proxy_result_name(int r)
{
	return r >= 0 && r < PROXY_RESULTS ? proxy_results[r] : "?";
}

/*
 * Parses the header at the start of p[0..len).  Returns its length (> 0)
 * with h filled, 0 when the bytes so far are a valid beginning and more
 * are needed, or -PROXY_MISSING (not a PROXY header at all),
 * -PROXY_MALFORMED or -PROXY_OVERSIZED with *why set to a fixed text.
 */
int
proxy_parse(const uint8_t *p, size_t len, struct proxy_hdr *h,
    const char **why)
{
	size_t	 n;

	memset(h, 0, sizeof(*h));
	*why = NULL;
	if (len == 0)
		return 0;
	n = len < sizeof(proxy_v2_sig) ? len : sizeof(proxy_v2_sig);
	if (memcmp(p, proxy_v2_sig, n) == 0)
		return len < sizeof(proxy_v2_sig) ? 0 : proxy_v2(p, len, h, why);
	n = len < 6 ? len : 6;
	if (memcmp(p, "PROXY ", n) == 0)
		return len < 6 ? 0 : proxy_v1(p, len, h, why);
	*why = "no PROXY signature";
	return -PROXY_MISSING;
}

/*
 * Version 1: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or
 * "PROXY UNKNOWN...\r\n", single spaces, at most PROXY_V1_MAX bytes.
 */
static int
proxy_v1(const uint8_t *p, size_t len, struct proxy_hdr *h, const char **why)
{
	char		 line[PROXY_V1_MAX + 1], *w[6], *save = NULL;
	const uint8_t	*lf;
	size_t		 n, lim = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	int		 nw = 0, fam;
	uint16_t	 sport, dport;

	if ((lf = memchr(p, '\n', lim)) == NULL) {
		if (len >= PROXY_V1_MAX) {
			*why = "version 1 line longer than 107 bytes";
			return -PROXY_OVERSIZED;
		}
		return 0;
	}
	n = (size_t)(lf - p) + 1;
	if (n < 8 || lf[-1] != '\r' || memchr(p, '\0', n) != NULL ||
	    memchr(p, '\r', n - 2) != NULL) {
		*why = "version 1 line not ended by CRLF";
		return -PROXY_MALFORMED;
	}
	memcpy(line, p, n - 2);
	line[n - 2] = '\0';
	h->version = 1;
	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (line[13] == '\0' || line[13] == ' ')) {
		h->local = 1;	/* the rest of the line is ignored */
		return (int)n;
	}
	/* Exactly six words separated by single spaces. */
	if (strstr(line, "  ") != NULL || line[strlen(line) - 1] == ' ') {
		*why = "version 1 fields not separated by single spaces";
		return -PROXY_MALFORMED;
	}
	for (char *t = strtok_r(line, " ", &save); t != NULL;
	    t = strtok_r(NULL, " ", &save)) {
		if (nw == 6) {
			nw++;
			break;
		}
		w[nw++] = t;
	}
	if (nw != 6) {
		*why = "version 1 line does not have six fields";
		return -PROXY_MALFORMED;
	}
	if (strcmp(w[1], "TCP4") == 0)
		fam = AF_INET;
	else if (strcmp(w[1], "TCP6") == 0)
		fam = AF_INET6;
	else {
		*why = "version 1 protocol not TCP4, TCP6 or UNKNOWN";
		return -PROXY_MALFORMED;
	}
	if (proxy_v1_port(w[4], &sport) == -1 ||
	    proxy_v1_port(w[5], &dport) == -1) {
		*why = "version 1 port not a number from 0 to 65535";
		return -PROXY_MALFORMED;
	}
	if (proxy_v1_addr(w[2], fam, sport, &h->src) == -1 ||
	    proxy_v1_addr(w[3], fam, dport, &h->dst) == -1) {
		*why = "version 1 address not of the protocol's family";
		return -PROXY_MALFORMED;
	}
	return (int)n;
}

/* A decimal port without leading zeros.  0 or -1. */
static int
proxy_v1_port(const char *s, uint16_t *port)
{
	unsigned long	 v = 0;
	size_t		 n = strlen(s);

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* An address of family fam (inet_pton's strict forms).  0 or -1. */
static int
proxy_v1_addr(const char *s, int fam, uint16_t port,
    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, s, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, s, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return 0;
}

/*
 * Version 2: signature, version 2 with command LOCAL (0) or PROXY (1),
 * family and transport, the length of what follows (addresses, then
 * TLVs that are skipped).
 */
static int
proxy_v2(const uint8_t *p, size_t len, struct proxy_hdr *h, const char **why)
{
	size_t	 total;
	int	 cmd, fam;

	if (len < PROXY_V2_HEAD)
		return 0;
	if ((p[12] >> 4) != 2) {
		*why = "version 2 header with a version other than 2";
		return -PROXY_MALFORMED;
	}
	cmd = p[12] & 0x0f;
	fam = p[13];
	total = PROXY_V2_HEAD + ((size_t)p[14] << 8 | p[15]);
	if (cmd > 1) {
		*why = "version 2 command neither LOCAL nor PROXY";
		return -PROXY_MALFORMED;
	}
	if (total > PROXY_MAX) {
		*why = "version 2 header longer than the limit";
		return -PROXY_OVERSIZED;
	}
	h->version = 2;
	if (cmd == 0 || fam == 0x00) {
		/* LOCAL or AF_UNSPEC: the block is skipped whatever it is. */
		if (len < total)
			return 0;
		h->local = 1;
		return (int)total;
	}
	if (fam != 0x11 && fam != 0x21) {
		*why = "version 2 family not TCP over IPv4 or IPv6";
		return -PROXY_MALFORMED;
	}
	if (total < PROXY_V2_HEAD + (fam == 0x11 ? 12u : 36u)) {
		*why = "version 2 address block shorter than its family needs";
		return -PROXY_MALFORMED;
	}
	if (len < total)
		return 0;
	proxy_v2_addrs(p + PROXY_V2_HEAD, fam == 0x11 ? AF_INET : AF_INET6,
	    h);
	return (int)total;
}

/* The addresses of a version 2 block: src, dst, sport, dport. */
static void
proxy_v2_addrs(const uint8_t *b, int fam, struct proxy_hdr *h)
{
	size_t	 alen = fam == AF_INET ? 4 : 16;
	uint16_t sport, dport;

	memcpy(&sport, b + 2 * alen, 2);
	memcpy(&dport, b + 2 * alen + 2, 2);
	if (fam == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, b, 4);
		memcpy(&d->sin_addr, b + 4, 4);
		s->sin_port = sport;	/* both in network order already */
		d->sin_port = dport;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, b, 16);
		memcpy(&d->sin6_addr, b + 16, 16);
		s->sin6_port = sport;
		d->sin6_port = dport;
	}
}
