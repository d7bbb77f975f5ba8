/* SPDX-License-Identifier: ISC */
/*
 * util.c -- small helpers more than one part needs: the clock, address
 * and port parsing and printing, durations, ISO-8601 times, and escaping
 * untrusted bytes for a terminal or a log line.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decoymx.h"

int64_t
util_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Test-only fault injection: true when the comma-separated list in the
 * environment variable DECOYMX_FAULT names point.  The test suites set it
 * to make one step of start-up fail or stall (dist/decoymx.8, ENVIRONMENT);
 * unset, it costs one getenv().
 */
int
util_fault(const char *point)
{
	const char	*v = getenv("DECOYMX_FAULT"), *e;
	size_t		 n = strlen(point);

	for (; v != NULL && *v != '\0'; v = *e == ',' ? e + 1 : e) {
		e = v + strcspn(v, ",");
		if ((size_t)(e - v) == n && strncmp(v, point, n) == 0)
			return 1;
	}
	return 0;
}

size_t
strlcpy_(char *dst, const char *src, size_t size)
{
	size_t	 n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* Parses a bare IPv4 or IPv6 address (IPv6 may be in brackets). 0 or -1. */
int
util_parse_addr(const char *s, struct sockaddr_storage *ss)
{
	char	 buf[ADDR_STRLEN + 2];
	size_t	 n = strlen(s);

	memset(ss, 0, sizeof(*ss));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return -1;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		s = buf;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/*
 * Parses "ADDR:PORT", "[V6ADDR]:PORT", or (need_port == 0) a bare
 * address.  Returns 0, or -1 when malformed.
 */
int
util_parse_addrport(const char *s, struct sockaddr_storage *ss,
    socklen_t *len, int need_port)
{
	char		 host[ADDR_STRLEN + 2];
	const char	*colon, *port = NULL;
	size_t		 hl;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL)
			return -1;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (rb[1] == ':')
			port = rb + 2;
		else if (rb[1] != '\0')
			return -1;
	} else if ((colon = strrchr(s, ':')) != NULL &&
	    strchr(s, ':') == colon) {
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port = colon + 1;
	} else if (strlcpy_(host, s, sizeof(host)) >= sizeof(host))
		return -1;
	if (port == NULL && need_port)
		return -1;
	if (util_parse_addr(host, ss) == -1)
		return -1;

	long	 p = 0;
	if (port != NULL) {
		char *end;
		errno = 0;
		p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || errno || p < 1 ||
		    p > 65535)
			return -1;
	}
	if (ss->ss_family == AF_INET) {
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)p);
		*len = sizeof(struct sockaddr_in6);
	}
	return 0;
}

/*
 * Writes the address in canonical text form into ip; IPv4-mapped IPv6
 * addresses are written as plain IPv4 so a client has one name.
 */
void
util_addr_str(const struct sockaddr *sa, char *ip, size_t iplen,
    uint16_t *port)
{
	uint16_t p = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, iplen);
		p = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip,
			    iplen);
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, ip, iplen);
		p = ntohs(sin6->sin6_port);
	} else
		strlcpy_(ip, "?", iplen);
	if (port != NULL)
		*port = p;
}

/*
 * Parses a duration: a number with an optional unit ms, s (default), m,
 * h, d, w.  Returns 0 and *ms, or -1.
 */
int
util_parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "", 1000 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 },
	};
	char			*end;
	unsigned long long	 v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		if (v > UINT64_MAX / units[i].ms)
			return -1;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1;
}

/* Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void
util_iso8601(int64_t us, char *buf, size_t len)
{
	time_t		 t = (time_t)(us / 1000000);
	struct tm	 tm;
	char		 base[24];

	if (us < 0)
		t = 0;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", base, (int)((us % 1000000) / 1000));
}

/*
 * Parses a point in time for --since/--until: a duration back from now
 * ("24h", "7d") or an ISO-8601 UTC time ("2026-11-27", "2026-11-27T06:00",
 * "2026-11-27T06:00:00Z").  Returns 0 and *us, or -1.
 */
int
util_parse_time(const char *s, int64_t now_us, int64_t *us)
{
	uint64_t	 ms;
	struct tm	 tm;
	const char	*end;

	if (util_parse_duration_ms(s, &ms) == 0) {
		*us = now_us - (int64_t)ms * 1000;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL &&
	    (end = strptime(s, "%Y-%m-%dT%H:%M", &tm)) == NULL &&
	    (end = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		return -1;
	if (*end == 'Z')
		end++;
	if (*end != '\0')
		return -1;
	*us = (int64_t)timegm(&tm) * 1000000;
	return 0;
}

/*
 * Escapes untrusted bytes for a terminal or a log line: escape_term()
 * (common/escape.c), under the name the callers know.
 */
size_t
util_escape_term(const char *p, size_t len, char *out, size_t cap)
{
	return escape_term(p, len, out, cap);
}
