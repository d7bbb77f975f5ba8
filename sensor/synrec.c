/* SPDX-License-Identifier: ISC */
/*
 * synrec.c -- the REC_SYN record: one TCP SYN, from the network process
 * to the store, in the layout of common/record.c (a type byte, a version
 * byte, then tag, 2-byte big-endian length, value; integers 8 bytes big
 * endian; an empty end marker last).
 *
 * The record carries the raw fields only.  The store does not trust the
 * network process: synrec_decode() checks every field's size and range
 * again, and the store derives the signature and label itself.
 *
 * Exports synrec_encode() and synrec_decode().
 */
#include <string.h>

#include "sensor.h"


enum stag {
	S_TS = 1, S_VER, S_SRC, S_DST, S_SPORT, S_DPORT, S_MX_PREF, S_ROLE,
	S_FLAGS, S_TTL, S_TOS, S_IPOPT, S_TOTHDR, S_SEQ, S_WIN, S_MSS,
	S_WSCALE, S_OLAYOUT, S_EOLPAD, S_PAY, S_TS1, S_QUIRKS, S_RTX,
	S_EOR, S_MAX
};

struct syn_walk {
	struct syn_rec	*r;
	size_t		 addrlen[2];	/* of S_SRC, S_DST */
};

static int	 sfield(void *, int, const uint8_t *, size_t, const char **);

/* Encodes r into buf.  Returns the length, or 0 if it does not fit. */
size_t
synrec_encode(const struct syn_rec *r, uint8_t *buf, size_t cap)
{
	struct rec_writer	 w;
	const struct syn	*s = &r->s;
	size_t			 alen = s->ver == 4 ? 4 : 16;

	rec_begin(&w, buf, cap, REC_SYN);
	rec_put_u64(&w, S_TS, (uint64_t)s->ts_us);
	rec_put_u64(&w, S_VER, s->ver);
	rec_put(&w, S_SRC, s->src, alen);
	rec_put(&w, S_DST, s->dst, alen);
	rec_put_u64(&w, S_SPORT, s->sport);
	rec_put_u64(&w, S_DPORT, s->dport);
	rec_put_u64(&w, S_MX_PREF, (uint64_t)(int64_t)r->mx_pref);
	rec_put_u64(&w, S_ROLE, r->role);
	rec_put_u64(&w, S_FLAGS, s->flags);
	rec_put_u64(&w, S_TTL, s->ttl);
	rec_put_u64(&w, S_TOS, s->tos);
	rec_put_u64(&w, S_IPOPT, s->ip_opt_len);
	rec_put_u64(&w, S_TOTHDR, s->tot_hdr);
	rec_put_u64(&w, S_SEQ, s->seq);
	rec_put_u64(&w, S_WIN, s->win);
	rec_put_u64(&w, S_MSS, s->mss);
	rec_put_u64(&w, S_WSCALE, s->wscale);
	rec_put(&w, S_OLAYOUT, s->olayout, s->nopt);
	rec_put_u64(&w, S_EOLPAD, s->eol_pad);
	rec_put_u64(&w, S_PAY, s->pay);
	rec_put_u64(&w, S_TS1, s->ts1);
	rec_put_u64(&w, S_QUIRKS, s->quirks);
	rec_put_u64(&w, S_RTX, r->retransmits);
	return rec_finish(&w, S_EOR);
}

/* Upper bounds of the integer fields (inclusive). */
static const int64_t smax[S_MAX] = {
	[S_TS] = INT64_MAX, [S_VER] = 6, [S_SPORT] = 65535,
	[S_DPORT] = 65535, [S_MX_PREF] = 65535, [S_ROLE] = ROLE_MAX - 1,
	[S_FLAGS] = 255, [S_TTL] = 255, [S_TOS] = 63, [S_IPOPT] = 40,
	[S_TOTHDR] = 120, [S_SEQ] = UINT32_MAX, [S_WIN] = 65535,
	[S_MSS] = 65535, [S_WSCALE] = 255, [S_EOLPAD] = 255, [S_PAY] = 1,
	[S_TS1] = UINT32_MAX, [S_QUIRKS] = QUIRK_ALL,
	[S_RTX] = UINT32_MAX,
};

static int
sfield(void *arg, int tag, const uint8_t *v, size_t len, const char **why)
{
	struct syn_walk	*sw = arg;
	struct syn_rec	*r = sw->r;
	struct syn	*s = &r->s;
	int64_t		 n = 0;

	if (tag == S_SRC || tag == S_DST) {
		if (len != 4 && len != 16)
			return *why = "bad address length", -1;
		memcpy(tag == S_SRC ? s->src : s->dst, v, len);
		sw->addrlen[tag == S_DST] = len;
		return 0;
	}
	if (tag == S_OLAYOUT) {
		if (len > MAX_TCP_OPT)
			return *why = "too many TCP options", -1;
		memcpy(s->olayout, v, len);
		s->nopt = (uint8_t)len;
		return 0;
	}
	if (len != 8)
		return *why = "integer field of wrong size", -1;
	n = (int64_t)rec_u64(v);
	if (n < (tag == S_MX_PREF ? -1 : 0) || n > smax[tag])
		return *why = "field out of range", -1;
	switch (tag) {
	case S_TS:	s->ts_us = n; break;
	case S_VER:
		if (n != 4 && n != 6)
			return *why = "bad IP version", -1;
		s->ver = (uint8_t)n;
		break;
	case S_SPORT:	s->sport = (uint16_t)n; break;
	case S_DPORT:	s->dport = (uint16_t)n; break;
	case S_MX_PREF:	r->mx_pref = (int32_t)n; break;
	case S_ROLE:	r->role = (enum role)n; break;
	case S_FLAGS:	s->flags = (uint8_t)n; break;
	case S_TTL:	s->ttl = (uint8_t)n; break;
	case S_TOS:	s->tos = (uint8_t)n; break;
	case S_IPOPT:	s->ip_opt_len = (uint8_t)n; break;
	case S_TOTHDR:	s->tot_hdr = (uint16_t)n; break;
	case S_SEQ:	s->seq = (uint32_t)n; break;
	case S_WIN:	s->win = (uint16_t)n; break;
	case S_MSS:	s->mss = (uint16_t)n; break;
	case S_WSCALE:	s->wscale = (uint8_t)n; break;
	case S_EOLPAD:	s->eol_pad = (uint8_t)n; break;
	case S_PAY:	s->pay = (uint8_t)n; break;
	case S_TS1:	s->ts1 = (uint32_t)n; break;
	case S_QUIRKS:	s->quirks = (uint32_t)n; break;
	case S_RTX:	r->retransmits = (uint32_t)n; break;
	}
	return 0;
}

/*
 * Decodes and validates a REC_SYN record into *r.  Returns 0, or -1
 * with *why set to a static description of the first problem.
 */
int
synrec_decode(const uint8_t *buf, size_t len, struct syn_rec *r,
    const char **why)
{
	uint32_t	 seen, all = ((1u << S_MAX) - 1) & ~1u;
	struct syn_walk	 sw = { r, { 0, 0 } };
	size_t		 alen;

	memset(r, 0, sizeof(*r));
	if (rec_walk(buf, len, REC_SYN, S_MAX, S_EOR, 0, &seen, sfield, &sw,
	    why) == -1)
		return -1;
	if (seen != all)
		return *why = "missing field", -1;
	/* The addresses must be as long as the version says. */
	alen = r->s.ver == 4 ? 4 : 16;
	if (sw.addrlen[0] != alen || sw.addrlen[1] != alen)
		return *why = "address length does not match the IP version",
		    -1;
	if ((r->s.flags & (TH_SYN_ | TH_ACK_ | TH_RST_ | TH_FIN_)) != TH_SYN_)
		return *why = "not a SYN", -1;
	if (r->s.ver == 6 && (r->s.ip_opt_len != 0 ||
	    (r->s.quirks & (Q_DF | Q_NZ_ID | Q_ZERO_ID | Q_NZ_MBZ))))
		return *why = "IPv4 fields on an IPv6 SYN", -1;
	if (r->s.ver == 4 && (r->s.quirks & Q_FLOW))
		return *why = "IPv6 flow label on an IPv4 SYN", -1;
	if (r->s.tot_hdr < (r->s.ver == 4 ? 40 : 60))
		return *why = "header length too small", -1;
	return 0;
}
