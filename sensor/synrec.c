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

#define SYNREC_VERSION	1

enum stag {
	S_TS = 1, S_VER, S_SRC, S_DST, S_SPORT, S_DPORT, S_MX_PREF, S_ROLE,
	S_FLAGS, S_TTL, S_TOS, S_IPOPT, S_TOTHDR, S_SEQ, S_WIN, S_MSS,
	S_WSCALE, S_OLAYOUT, S_EOLPAD, S_PAY, S_TS1, S_QUIRKS, S_RTX,
	S_EOR, S_MAX
};

struct sbuf {
	uint8_t	*p;
	size_t	 len, cap;
	int	 overflow;
};

static void	 sput(struct sbuf *, int, const void *, size_t);
static void	 sput_u64(struct sbuf *, int, uint64_t);
static int	 sfield(struct syn_rec *, int, const uint8_t *, size_t,
		    const char **);

static void
sput(struct sbuf *w, int tag, const void *v, size_t len)
{
	if (w->len + 3 + len > w->cap) {
		w->overflow = 1;
		return;
	}
	w->p[w->len++] = (uint8_t)tag;
	w->p[w->len++] = (uint8_t)(len >> 8);
	w->p[w->len++] = (uint8_t)len;
	if (len > 0)
		memcpy(w->p + w->len, v, len);
	w->len += len;
}

static void
sput_u64(struct sbuf *w, int tag, uint64_t v)
{
	uint8_t	 b[8];

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	sput(w, tag, b, 8);
}

/* Encodes r into buf.  Returns the length, or 0 if it does not fit. */
size_t
synrec_encode(const struct syn_rec *r, uint8_t *buf, size_t cap)
{
	struct sbuf		 w = { buf, 0, cap, 0 };
	const struct syn	*s = &r->s;
	size_t			 alen = s->ver == 4 ? 4 : 16;

	if (cap < 2)
		return 0;
	buf[w.len++] = REC_SYN;
	buf[w.len++] = SYNREC_VERSION;
	sput_u64(&w, S_TS, (uint64_t)s->ts_us);
	sput_u64(&w, S_VER, s->ver);
	sput(&w, S_SRC, s->src, alen);
	sput(&w, S_DST, s->dst, alen);
	sput_u64(&w, S_SPORT, s->sport);
	sput_u64(&w, S_DPORT, s->dport);
	sput_u64(&w, S_MX_PREF, (uint64_t)(int64_t)r->mx_pref);
	sput_u64(&w, S_ROLE, r->role);
	sput_u64(&w, S_FLAGS, s->flags);
	sput_u64(&w, S_TTL, s->ttl);
	sput_u64(&w, S_TOS, s->tos);
	sput_u64(&w, S_IPOPT, s->ip_opt_len);
	sput_u64(&w, S_TOTHDR, s->tot_hdr);
	sput_u64(&w, S_SEQ, s->seq);
	sput_u64(&w, S_WIN, s->win);
	sput_u64(&w, S_MSS, s->mss);
	sput_u64(&w, S_WSCALE, s->wscale);
	sput(&w, S_OLAYOUT, s->olayout, s->nopt);
	sput_u64(&w, S_EOLPAD, s->eol_pad);
	sput_u64(&w, S_PAY, s->pay);
	sput_u64(&w, S_TS1, s->ts1);
	sput_u64(&w, S_QUIRKS, s->quirks);
	sput_u64(&w, S_RTX, r->retransmits);
	sput(&w, S_EOR, NULL, 0);
	return w.overflow ? 0 : w.len;
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
sfield(struct syn_rec *r, int tag, const uint8_t *v, size_t len,
    const char **why)
{
	struct syn	*s = &r->s;
	int64_t		 n = 0;

	if (tag == S_SRC || tag == S_DST) {
		if (len != 4 && len != 16)
			return *why = "bad address length", -1;
		memcpy(tag == S_SRC ? s->src : s->dst, v, len);
		return 0;
	}
	if (tag == S_OLAYOUT) {
		if (len > MAX_TCP_OPT)
			return *why = "too many TCP options", -1;
		memcpy(s->olayout, v, len);
		s->nopt = (uint8_t)len;
		return 0;
	}
	if (tag == S_EOR)
		return len == 0 ? 0 : (*why = "end marker with content", -1);
	if (len != 8)
		return *why = "integer field of wrong size", -1;
	for (int i = 0; i < 8; i++)
		n = (int64_t)((uint64_t)n << 8 | v[i]);
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
	uint32_t	 seen = 0, all = ((1u << S_MAX) - 1) & ~1u;
	size_t		 off = 2, alen, addrlen[2] = { 0, 0 };

	memset(r, 0, sizeof(*r));
	if (len < 2 || buf[0] != REC_SYN || buf[1] != SYNREC_VERSION)
		return *why = "not a SYN record", -1;
	if (len > MAX_RECORD)
		return *why = "record too long", -1;
	while (off < len) {
		if (len - off < 3)
			return *why = "truncated field header", -1;
		int tag = buf[off];
		size_t flen = (size_t)buf[off + 1] << 8 | buf[off + 2];
		off += 3;
		if (flen > len - off)
			return *why = "truncated field", -1;
		if (tag <= 0 || tag >= S_MAX)
			return *why = "unknown field", -1;
		if (seen & 1u << tag)
			return *why = "duplicate field", -1;
		seen |= 1u << tag;
		if (tag == S_SRC || tag == S_DST)
			addrlen[tag == S_DST] = flen;
		if (sfield(r, tag, buf + off, flen, why) == -1)
			return -1;
		off += flen;
		if (tag == S_EOR && off != len)
			return *why = "data after the end marker", -1;
	}
	if (seen != all)
		return *why = "missing field", -1;
	/* The addresses must be as long as the version says. */
	alen = r->s.ver == 4 ? 4 : 16;
	if (addrlen[0] != alen || addrlen[1] != alen)
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
