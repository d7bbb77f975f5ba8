/* SPDX-License-Identifier: ISC */
/*
 * fp.c -- the p0f v3 signature of a SYN, computed from the parsed fields
 * as p0f 3.09 computes its "raw_sig":
 *
 *   ver:ittl+dist:olen:mss:wsize,scale:olayout:quirks:pclass
 *
 * ittl is the observed TTL plus the distance to the next usual initial
 * TTL (32, 64, 128, 255), "+?" when that is over MAX_DIST; wsize is the
 * raw window, or mss*N / mtu*N when the window is a multiple of the MSS
 * or the MTU, tried in p0f's order.  Written from the format's
 * documentation and p0f's observable output; no p0f code is copied.
 *
 * Exports fp_guess_dist(), fp_win_multi(), fp_signature(), fp_olayout(),
 * fp_quirks() and fp_quirk_name().
 */
#include <stdio.h>
#include <string.h>

#include "sensor.h"

#define MIN_TCP4	40	/* IPv4 + TCP headers without options */
#define MIN_TCP6	60

static const char *quirk_names[QUIRK_COUNT] = {
	"df", "id+", "id-", "ecn", "0+", "flow", "seq-", "ack+", "ack-",
	"uptr+", "urgf+", "pushf+", "ts1-", "ts2+", "opt+", "exws", "bad"
};

/* Option kinds p0f names; others print as ?N. */
static const char *opt_names[9] = {
	[OPT_EOL] = "eol", [OPT_NOP] = "nop", [OPT_MSS] = "mss",
	[OPT_WS] = "ws", [OPT_SOK] = "sok", [OPT_SACK] = "sack",
	[OPT_TS] = "ts",
};

static void	 cat(char *, size_t, size_t *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* Appends to buf at *len, never past cap (the result is cut). */
static void
cat(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (*len >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

const char *
fp_quirk_name(int bit)
{
	return bit >= 0 && bit < QUIRK_COUNT ? quirk_names[bit] : "?";
}

/* Hops from the next usual initial TTL down to ttl. */
uint8_t
fp_guess_dist(uint8_t ttl)
{
	if (ttl <= 32)
		return (uint8_t)(32 - ttl);
	if (ttl <= 64)
		return (uint8_t)(64 - ttl);
	if (ttl <= 128)
		return (uint8_t)(128 - ttl);
	return (uint8_t)(255 - ttl);
}

/*
 * The window as a multiple of the MSS (*use_mtu = 0) or of the MTU
 * (*use_mtu = 1), trying the divisors in p0f's order; -1 when it is
 * neither (or there is no usable MSS).
 */
int16_t
fp_win_multi(const struct syn *s, uint8_t *use_mtu)
{
	const int32_t	 mss = s->mss;
	int32_t		 div[10];
	uint8_t		 mtu[10];
	int		 n = 0;

	*use_mtu = 0;
	if (s->win == 0 || mss < 100)
		return -1;
	div[n] = mss, mtu[n++] = 0;
	if (s->ts1 != 0)
		div[n] = mss - 12, mtu[n++] = 0;
	div[n] = 1500 - MIN_TCP4, mtu[n++] = 0;
	div[n] = 1500 - MIN_TCP4 - 12, mtu[n++] = 0;
	if (s->ver == 6) {
		div[n] = 1500 - MIN_TCP6, mtu[n++] = 0;
		div[n] = 1500 - MIN_TCP6 - 12, mtu[n++] = 0;
	}
	div[n] = mss + MIN_TCP4, mtu[n++] = 1;
	div[n] = mss + s->tot_hdr, mtu[n++] = 1;
	if (s->ver == 6)
		div[n] = mss + MIN_TCP6, mtu[n++] = 1;
	div[n] = 1500, mtu[n++] = 1;
	for (int i = 0; i < n; i++)
		if (div[i] > 0 && s->win % div[i] == 0) {
			*use_mtu = mtu[i];
			return (int16_t)(s->win / div[i]);
		}
	return -1;
}

/* "mss,sok,ts,nop,ws" into buf; returns the length. */
size_t
fp_olayout(const struct syn *s, char *buf, size_t cap)
{
	size_t	 len = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->nopt; i++) {
		uint8_t k = s->olayout[i];
		const char *sep = i ? "," : "";

		if (k == OPT_EOL)
			cat(buf, cap, &len, "%seol+%u", sep, s->eol_pad);
		else if (k < 9 && opt_names[k] != NULL)
			cat(buf, cap, &len, "%s%s", sep, opt_names[k]);
		else
			cat(buf, cap, &len, "%s?%u", sep, k);
	}
	return len;
}

/* "df,id+" into buf; returns the length. */
size_t
fp_quirks(uint32_t q, char *buf, size_t cap)
{
	size_t	 len = 0;

	buf[0] = '\0';
	for (int i = 0; i < QUIRK_COUNT; i++)
		if (q & (1u << i))
			cat(buf, cap, &len, "%s%s", len ? "," : "",
			    quirk_names[i]);
	return len;
}

/* Computes the signature fields and the p0f raw_sig string of a SYN. */
void
fp_signature(const struct syn *s, struct fp_sig *f)
{
	size_t	 len = 0;

	memset(f, 0, sizeof(*f));
	f->dist = fp_guess_dist(s->ttl);
	f->ittl = (uint8_t)(s->ttl + f->dist);
	f->win_multi = fp_win_multi(s, &f->win_mtu);
	fp_olayout(s, f->olayout, sizeof(f->olayout));
	fp_quirks(s->quirks, f->quirks, sizeof(f->quirks));
	if (f->dist > MAX_DIST)
		cat(f->sig, sizeof(f->sig), &len, "%u:%u+?:%u:", s->ver,
		    s->ttl, s->ip_opt_len);
	else
		cat(f->sig, sizeof(f->sig), &len, "%u:%u+%u:%u:", s->ver,
		    s->ttl, f->dist, s->ip_opt_len);
	cat(f->sig, sizeof(f->sig), &len, "%u:", s->mss);
	if (f->win_multi > 0)
		cat(f->sig, sizeof(f->sig), &len, "%s*%d",
		    f->win_mtu ? "mtu" : "mss", f->win_multi);
	else
		cat(f->sig, sizeof(f->sig), &len, "%u", s->win);
	cat(f->sig, sizeof(f->sig), &len, ",%u:%s:%s:%s", s->wscale,
	    f->olayout, f->quirks, s->pay ? "+" : "0");
}
