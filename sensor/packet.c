/* SPDX-License-Identifier: ISC */
/*
 * packet.c -- from a captured frame to the fields of a TCP SYN.
 *
 * The link-layer header is taken from the capture's link type, never
 * guessed from packet content: Ethernet (with up to two 802.1Q/802.1ad
 * tags), Linux cooked v1 and v2, raw IP, BSD loopback (DLT_NULL, host
 * byte order, and DLT_LOOP, network byte order).  Any other link type
 * is refused by name before the first packet is read.
 *
 * Every byte is read through a bounds check against the captured
 * length.  The IP and TCP fields, the quirks and the option walk follow
 * p0f 3.09's parser so that signatures agree, with these deliberate
 * differences (decoymx(8), THE SENSOR, and tests/unit/test_sensor.c):
 *
 *   - "ack+" is set for any non-zero ACK number on a packet without the
 *     ACK flag (p0f 3.09 tests it with a bitwise '&' against a boolean,
 *     so it only notices some values);
 *   - a frame cut short by the snap length is still fingerprinted when
 *     its IP and TCP headers are whole; the payload class comes from the
 *     declared IP length;
 *   - the link-layer offset comes from the link type only.
 *
 * Exports packet_link_supported(), packet_link_name(), packet_parse()
 * and packet_addr_str().
 */
#include <arpa/inet.h>
#include <pcap/dlt.h>

#include <stdio.h>
#include <string.h>

#include "sensor.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2	276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4	228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6	229
#endif

#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86dd
#define MAX_VLAN	2

/* What the link layer says the network layer is. */
enum net { NET_NONE, NET_IP4, NET_IP6, NET_ANY };

typedef enum net (*link_fn)(const uint8_t *, size_t, size_t *);

static enum net	 link_ether(const uint8_t *, size_t, size_t *);
static enum net	 link_sll(const uint8_t *, size_t, size_t *);
static enum net	 link_sll2(const uint8_t *, size_t, size_t *);
static enum net	 link_raw(const uint8_t *, size_t, size_t *);
static enum net	 link_null(const uint8_t *, size_t, size_t *);
static enum net	 link_loop(const uint8_t *, size_t, size_t *);
static enum net	 ethertype(uint16_t);
static enum net	 family(uint32_t);
static uint16_t	 rd16(const uint8_t *);
static uint32_t	 rd32(const uint8_t *);
static enum pkt_kind parse_ip4(const uint8_t *, size_t, struct syn *,
		    const uint8_t **, size_t *, const char **);
static enum pkt_kind parse_ip6(const uint8_t *, size_t, struct syn *,
		    const uint8_t **, size_t *, const char **);
static enum pkt_kind parse_tcp(const uint8_t *, size_t, size_t,
		    struct syn *, const char **);
static void	 parse_options(const uint8_t *, size_t, struct syn *);

static const struct {
	int		 dlt;
	const char	*name;
	link_fn		 fn;
} links[] = {
	{ DLT_EN10MB,		"EN10MB (Ethernet)",		link_ether },
	{ DLT_LINUX_SLL,	"LINUX_SLL (Linux cooked v1)",	link_sll },
	{ DLT_LINUX_SLL2,	"LINUX_SLL2 (Linux cooked v2)",	link_sll2 },
	{ DLT_RAW,		"RAW (raw IP)",			link_raw },
	{ DLT_IPV4,		"IPV4 (raw IPv4)",		link_raw },
	{ DLT_IPV6,		"IPV6 (raw IPv6)",		link_raw },
	{ DLT_NULL,		"NULL (BSD loopback)",		link_null },
	{ DLT_LOOP,		"LOOP (OpenBSD loopback)",	link_loop },
};

#define NLINKS	(sizeof(links) / sizeof(links[0]))

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Returns 1 when packets of this link type can be parsed. */
int
packet_link_supported(int dlt)
{
	for (size_t i = 0; i < NLINKS; i++)
		if (links[i].dlt == dlt)
			return 1;
	return 0;
}

/* A name for a link type, ours or libpcap's; never NULL. */
const char *
packet_link_name(int dlt)
{
	for (size_t i = 0; i < NLINKS; i++)
		if (links[i].dlt == dlt)
			return links[i].name;
	return "unknown";
}

static enum net
ethertype(uint16_t t)
{
	return t == ETH_P_IP ? NET_IP4 : t == ETH_P_IPV6 ? NET_IP6 : NET_NONE;
}

static enum net
link_ether(const uint8_t *p, size_t len, size_t *off)
{
	uint16_t	 t;
	size_t		 o = 12;

	if (len < 14)
		return NET_NONE;
	t = rd16(p + o);
	for (int tags = 0; (t == 0x8100 || t == 0x88a8 || t == 0x9100) &&
	    tags < MAX_VLAN; tags++) {
		o += 4;
		if (len < o + 2)
			return NET_NONE;
		t = rd16(p + o);
	}
	*off = o + 2;
	return ethertype(t);
}

static enum net
link_sll(const uint8_t *p, size_t len, size_t *off)
{
	if (len < 16 || rd16(p) == 4)	/* PACKET_OUTGOING: our own */
		return NET_NONE;
	*off = 16;
	return ethertype(rd16(p + 14));
}

static enum net
link_sll2(const uint8_t *p, size_t len, size_t *off)
{
	if (len < 20 || p[10] == 4)	/* PACKET_OUTGOING: our own */
		return NET_NONE;
	*off = 20;
	return ethertype(rd16(p));
}

/* Raw IP: the version nibble is part of the link type's definition. */
static enum net
link_raw(const uint8_t *p, size_t len, size_t *off)
{
	(void)p;
	(void)len;
	*off = 0;
	return NET_ANY;
}

/* The address family values BSDs, macOS and Linux use for IPv6. */
static enum net
family(uint32_t af)
{
	if (af == 2)
		return NET_IP4;
	if (af == 10 || af == 24 || af == 28 || af == 30)
		return NET_IP6;
	return NET_NONE;
}

/* DLT_NULL: the family in the capturing host's byte order, either. */
static enum net
link_null(const uint8_t *p, size_t len, size_t *off)
{
	uint32_t	 be, le;

	if (len < 4)
		return NET_NONE;
	*off = 4;
	be = rd32(p);
	le = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[1] << 8 | p[0];
	return family(be < 256 ? be : le);
}

static enum net
link_loop(const uint8_t *p, size_t len, size_t *off)
{
	if (len < 4)
		return NET_NONE;
	*off = 4;
	return family(rd32(p));
}

/*
 * Parses one captured frame of link type dlt.  Fills *s for PKT_SYN and
 * PKT_SYNACK; for PKT_BAD *why says what was wrong (static string).
 * Never reads outside p[0..caplen).
 */
enum pkt_kind
packet_parse(int dlt, const uint8_t *p, size_t caplen, struct syn *s,
    const char **why)
{
	const uint8_t	*tcp;
	size_t		 off = 0, tcplen = 0, declared;
	enum net	 net = NET_NONE;
	enum pkt_kind	 k;

	*why = NULL;
	for (size_t i = 0; i < NLINKS; i++)
		if (links[i].dlt == dlt) {
			net = links[i].fn(p, caplen, &off);
			break;
		}
	if (net == NET_NONE)
		return PKT_OTHER;
	p += off;
	caplen -= off;
	if (caplen < 1)
		return *why = "empty IP packet", PKT_BAD;
	if (net == NET_ANY)
		net = p[0] >> 4 == 4 ? NET_IP4 : p[0] >> 4 == 6 ? NET_IP6 :
		    NET_NONE;
	if (net == NET_NONE || (p[0] >> 4) != (net == NET_IP4 ? 4 : 6))
		return *why = "IP version does not match the link header",
		    PKT_BAD;
	memset(s, 0, sizeof(*s));
	k = net == NET_IP4 ? parse_ip4(p, caplen, s, &tcp, &tcplen, why) :
	    parse_ip6(p, caplen, s, &tcp, &tcplen, why);
	if (k != PKT_SYN)
		return k;
	/* tcplen: bytes declared by IP; the capture may hold fewer. */
	declared = tcplen;
	if (caplen - (size_t)(tcp - p) < tcplen)
		tcplen = caplen - (size_t)(tcp - p);
	return parse_tcp(tcp, tcplen, declared, s, why);
}

static enum pkt_kind
parse_ip4(const uint8_t *p, size_t len, struct syn *s, const uint8_t **tcp,
    size_t *tcplen, const char **why)
{
	size_t		 hlen, tot;
	uint16_t	 fo;

	if (len < 20)
		return *why = "truncated IPv4 header", PKT_BAD;
	hlen = (size_t)(p[0] & 0x0f) * 4;
	tot = rd16(p + 2);
	fo = rd16(p + 6);
	if (hlen < 20)
		return *why = "IPv4 header length under 20", PKT_BAD;
	if (tot < hlen)
		return *why = "IPv4 total length under its header", PKT_BAD;
	if (p[9] != IPPROTO_TCP || (fo & 0x3fff & ~0x4000) != 0)
		return PKT_OTHER;	/* not TCP, or a fragment */
	if (hlen + 20 > tot || hlen + 20 > len)
		return *why = "no room for the TCP header", PKT_BAD;
	s->ver = 4;
	memcpy(s->src, p + 12, 4);
	memcpy(s->dst, p + 16, 4);
	s->ip_opt_len = (uint8_t)(hlen - 20);
	s->tos = p[1] >> 2;
	s->ttl = p[8];
	if (p[1] & 0x03)
		s->quirks |= Q_ECN;
	if (fo & 0x8000)
		s->quirks |= Q_NZ_MBZ;
	if (fo & 0x4000) {
		s->quirks |= Q_DF;
		if (rd16(p + 4) != 0)
			s->quirks |= Q_NZ_ID;
	} else if (rd16(p + 4) == 0)
		s->quirks |= Q_ZERO_ID;
	s->tot_hdr = (uint16_t)hlen;
	*tcp = p + hlen;
	*tcplen = tot - hlen;
	return PKT_SYN;
}

static enum pkt_kind
parse_ip6(const uint8_t *p, size_t len, struct syn *s, const uint8_t **tcp,
    size_t *tcplen, const char **why)
{
	uint32_t	 vtf;
	size_t		 plen;

	if (len < 40)
		return *why = "truncated IPv6 header", PKT_BAD;
	vtf = rd32(p);
	plen = rd16(p + 4);
	if (p[6] != IPPROTO_TCP)
		return PKT_OTHER;	/* extension headers: as p0f, skip */
	if (plen < 20 || len < 60)
		return *why = "no room for the TCP header", PKT_BAD;
	s->ver = 6;
	memcpy(s->src, p + 8, 16);
	memcpy(s->dst, p + 24, 16);
	s->tos = (uint8_t)((vtf >> 22) & 0x3f);
	s->ttl = p[7];
	if (vtf & 0xfffff)
		s->quirks |= Q_FLOW;
	if ((vtf >> 20) & 0x03)
		s->quirks |= Q_ECN;
	s->tot_hdr = 40;
	*tcp = p + 40;
	*tcplen = plen;
	return PKT_SYN;
}

/*
 * The TCP header: len bytes captured, declared bytes by the IP header.
 * Classifies SYN / SYN+ACK / other and fills the TCP fields and quirks.
 */
static enum pkt_kind
parse_tcp(const uint8_t *t, size_t len, size_t declared, struct syn *s,
    const char **why)
{
	size_t		 doff;
	uint8_t		 fl;

	if (len < 20)
		return *why = "truncated TCP header", PKT_BAD;
	doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20)
		return *why = "TCP header length under 20", PKT_BAD;
	if (doff > declared)
		return *why = "TCP header past the end of the packet", PKT_BAD;
	if (doff > len)
		return *why = "TCP options cut short by the capture", PKT_BAD;
	fl = t[13];
	s->flags = fl;
	s->sport = rd16(t);
	s->dport = rd16(t + 2);
	if ((fl & (TH_SYN_ | TH_ACK_ | TH_FIN_ | TH_RST_)) == (TH_SYN_ | TH_ACK_))
		return PKT_SYNACK;
	if ((fl & (TH_SYN_ | TH_ACK_ | TH_FIN_ | TH_RST_)) != TH_SYN_)
		return PKT_OTHER;
	s->tot_hdr = (uint16_t)(s->tot_hdr + doff);
	s->seq = rd32(t + 4);
	s->win = rd16(t + 14);
	if ((fl & (TH_ECE_ | TH_CWR_)) || (t[12] & 0x01))
		s->quirks |= Q_ECN;
	if (s->seq == 0)
		s->quirks |= Q_ZERO_SEQ;
	if (rd32(t + 8) != 0)		/* no ACK flag here: see above */
		s->quirks |= Q_NZ_ACK;
	if (fl & TH_URG_)
		s->quirks |= Q_URG;
	else if (rd16(t + 18) != 0)
		s->quirks |= Q_NZ_URG;
	if (fl & TH_PUSH_)
		s->quirks |= Q_PUSH;
	s->pay = declared > doff;
	parse_options(t + 20, doff - 20, s);
	return PKT_SYN;
}

/*
 * Walks the TCP options as p0f does: the layout of kinds, MSS, window
 * scale, first timestamp, EOL padding, and the option quirks.  A
 * malformed option stops the walk with "bad".
 */
static void
parse_options(const uint8_t *o, size_t len, struct syn *s)
{
	size_t	 i = 0;
	uint8_t	 kind, olen;

	while (i < len && s->nopt < MAX_TCP_OPT) {
		kind = o[i++];
		s->olayout[s->nopt++] = kind;
		switch (kind) {
		case OPT_EOL:
			s->eol_pad = (uint8_t)(len - i);
			for (; i < len; i++)
				if (o[i] != 0) {
					s->quirks |= Q_OPT_EOL_NZ;
					i = len;
					break;
				}
			continue;
		case OPT_NOP:
			continue;
		case OPT_MSS:
			if (i + 3 > len)
				goto bad;
			if (o[i] != 4)
				s->quirks |= Q_OPT_BAD;
			s->mss = rd16(o + i + 1);
			i += 3;
			continue;
		case OPT_WS:
			if (i + 2 > len)
				goto bad;
			if (o[i] != 3)
				s->quirks |= Q_OPT_BAD;
			s->wscale = o[i + 1];
			if (s->wscale > 14)
				s->quirks |= Q_EXWS;
			i += 2;
			continue;
		case OPT_SOK:
			if (i + 1 > len)
				goto bad;
			if (o[i] != 2)
				s->quirks |= Q_OPT_BAD;
			i += 1;
			continue;
		case OPT_TS:
			if (i + 9 > len)
				goto bad;
			if (o[i] != 10)
				s->quirks |= Q_OPT_BAD;
			s->ts1 = rd32(o + i + 1);
			if (s->ts1 == 0)
				s->quirks |= Q_TS1_ZERO;
			if (rd32(o + i + 5) != 0)
				s->quirks |= Q_TS2_NZ;
			i += 9;
			continue;
		}
		/* SACK (10..34 bytes) and unknown kinds (2..40 bytes). */
		if (i == len)
			goto bad;
		olen = o[i];
		if (kind == OPT_SACK ? olen < 10 || olen > 34 :
		    olen < 2 || olen > 40)
			goto bad;
		if (i - 1 + olen > len)
			goto bad;
		i += olen - 1u;
	}
	if (i == len)
		return;
bad:
	s->quirks |= Q_OPT_BAD;
}

/* The source (dst == 0) or destination address as text. */
void
packet_addr_str(const struct syn *s, int dst, char *buf, size_t len)
{
	if (inet_ntop(s->ver == 4 ? AF_INET : AF_INET6, dst ? s->dst : s->src,
	    buf, (socklen_t)len) == NULL && len > 0)
		buf[0] = '\0';
}
