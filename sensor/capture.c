/* SPDX-License-Identifier: ISC */
/*
 * capture.c -- the live capture: the libpcap handle (opened by the
 * privileged parent before it forks, used by the network process), its
 * BPF filter generated from the configuration, its selectable fd in the
 * network process's event loop, the watch list that says which SYNs are
 * ours (decoys, dead decoys, every real-MX address) and the retransmit table.
 *
 * Each wake-up reads at most CAPTURE_BUDGET packets, so a flood of SYNs
 * cannot starve the tarpit; what is left waits in the kernel buffer
 * (and is counted as dropped by the kernel when that overflows).  A
 * capture error (the interface went away) is logged and reported to the
 * caller through emit(arg, NULL): the network process then exits
 * non-zero and the service manager restarts it.
 *
 * Exports syntab_new(), syntab_free(), syntab_seen(), sensor_open(),
 * sensor_start(), sensor_free(), sensor_stats(), sensor_filter() and
 * sensor_classify().
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <pcap.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "sensor.h"

#define CAPTURE_SNAPLEN	256		/* link + IP + TCP headers and more */
#define CAPTURE_BUFFER	(4 * 1024 * 1024)
#define CAPTURE_BUDGET	256		/* packets per wake-up */
#define STATS_LOG_US	(300LL * 1000000)

struct synslot {
	uint8_t		 key[37];	/* ver, src, dst, sport, dport */
	uint32_t	 seq;
	uint32_t	 count;
	int64_t		 ts_us;
};

struct syntab {
	struct synslot	 slot[SYNTAB_SLOTS];
};

struct sensor {
	const struct config	*conf;
	pcap_t			*pc;
	int			 dlt;
	struct event		*ev;
	struct syntab		*tab;
	sensor_emit_fn		 emit;
	void			*arg;
	struct sensor_stats	 st;
	int64_t			 last_log_us;
	int			 failed;
};

static void	 sensor_log(const struct sensor_stats *, const char *);
static void	 syntab_key(const struct syn *, uint8_t[37]);
static void	 sensor_read(evutil_socket_t, short, void *);
static void	 sensor_packet(u_char *, const struct pcap_pkthdr *,
		    const u_char *);
static int	 addr_match(const struct sockaddr_storage *, const struct syn *,
		    int wildcard_ok);
static uint16_t	 ss_port(const struct sockaddr_storage *);
static int	 listen_port(const struct config *, uint16_t);
static int	 filter_cat(char *, size_t *, const char *);
static int	 filter_host(char *, size_t *, const struct sockaddr_storage *,
		    int *);

/* A table of recent first SYNs; free with syntab_free(). */
struct syntab *
syntab_new(void)
{
	return calloc(1, sizeof(struct syntab));
}

void
syntab_free(struct syntab *t)
{
	free(t);
}

static void
syntab_key(const struct syn *s, uint8_t k[37])
{
	k[0] = s->ver;
	memcpy(k + 1, s->src, 16);
	memcpy(k + 17, s->dst, 16);
	k[33] = (uint8_t)(s->sport >> 8);
	k[34] = (uint8_t)s->sport;
	k[35] = (uint8_t)(s->dport >> 8);
	k[36] = (uint8_t)s->dport;
}

/*
 * How many times this SYN (same addresses, ports and sequence number
 * within SYNTAB_AGE_US) was seen before: 0 for a new flow.  The table is
 * direct-mapped and bounded; a collision forgets the older flow, which
 * can only make a retransmit look like a new SYN.
 */
uint32_t
syntab_seen(struct syntab *t, const struct syn *s)
{
	uint8_t		 k[37];
	uint32_t	 h = 2166136261u;
	struct synslot	*sl;

	syntab_key(s, k);
	for (size_t i = 0; i < sizeof(k); i++)
		h = (h ^ k[i]) * 16777619u;
	sl = &t->slot[h % SYNTAB_SLOTS];
	if (memcmp(sl->key, k, sizeof(k)) == 0 && sl->seq == s->seq &&
	    s->ts_us - sl->ts_us < SYNTAB_AGE_US && s->ts_us >= sl->ts_us) {
		sl->ts_us = s->ts_us;
		return ++sl->count;
	}
	memcpy(sl->key, k, sizeof(k));
	sl->seq = s->seq;
	sl->count = 0;
	sl->ts_us = s->ts_us;
	return 0;
}

static uint16_t
ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Is the SYN's destination this address (or, wildcard_ok, any)? */
static int
addr_match(const struct sockaddr_storage *ss, const struct syn *s,
    int wildcard_ok)
{
	static const uint8_t zero[16];

	if (ss->ss_family == AF_INET && s->ver == 4) {
		const uint8_t *a = (const uint8_t *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
		return memcmp(a, s->dst, 4) == 0 ||
		    (wildcard_ok && memcmp(a, zero, 4) == 0);
	}
	if (ss->ss_family == AF_INET6 && s->ver == 6) {
		const uint8_t *a = (const uint8_t *)
		    &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return memcmp(a, s->dst, 16) == 0 ||
		    (wildcard_ok && memcmp(a, zero, 16) == 0);
	}
	return 0;
}

/* Is port one of the listeners' ports? */
static int
listen_port(const struct config *c, uint16_t port)
{
	for (int i = 0; i < c->nlisten; i++)
		if (ss_port(&c->listen[i].ss) == port)
			return 1;
	return 0;
}

/*
 * Is this SYN to an address we watch?  Returns 1 with the MX preference
 * and role of the destination, 0 when the SYN is not ours.  Exact
 * addresses win over wildcard listeners; the real MX and "sensor watch"
 * addresses without a port are watched on the listeners' ports.
 */
int
sensor_classify(const struct config *c, const struct syn *s,
    int32_t *mx_pref, enum role *role)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < c->nlisten; i++) {
			const struct listen_conf *l = &c->listen[i];
			if (ss_port(&l->ss) != s->dport ||
			    !addr_match(&l->ss, s, pass))
				continue;
			*mx_pref = l->mx_pref;
			*role = config_role(c, l->mx_pref);
			return 1;
		}
		if (pass == 1)
			break;
		for (int i = 0; i < c->nwatch; i++) {
			const struct sensor_watch *w = &c->watch[i];
			uint16_t p = ss_port(&w->ss);
			if ((p != 0 ? p != s->dport : !listen_port(c,
			    s->dport)) || !addr_match(&w->ss, s, 0))
				continue;
			*mx_pref = w->mx_pref;
			*role = config_role(c, w->mx_pref);
			return 1;
		}
		for (int i = 0; i < c->nreal_mx; i++) {
			const struct real_mx_conf *r = &c->real_mx[i];
			if (!addr_match(&r->ss, s, 0) ||
			    (!listen_port(c, s->dport) && s->dport != 25))
				continue;
			*mx_pref = r->mx_pref >= 0 ? r->mx_pref :
			    c->real_mx_pref;
			*role = ROLE_REAL;
			return 1;
		}
	}
	return 0;
}

#define FILTER_MAX	16384

/* Appends to a FILTER_MAX buffer; returns -1 once it would overflow. */
static int
filter_cat(char *buf, size_t *len, const char *s)
{
	size_t	 n = strlen(s);

	if (*len + n + 1 > FILTER_MAX)
		return -1;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return 0;
}

/* " or dst host A" for an address; 1 for a wildcard (no host test). */
static int
filter_host(char *buf, size_t *len, const struct sockaddr_storage *ss,
    int *n)
{
	char	 ip[ADDR_STRLEN], w[ADDR_STRLEN + 16];

	util_addr_str((const struct sockaddr *)ss, ip, sizeof(ip), NULL);
	if (strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0)
		return 1;
	snprintf(w, sizeof(w), "%sdst host %s", (*n)++ ? " or " : "", ip);
	return filter_cat(buf, len, w) == -1 ? -1 : 0;
}

/*
 * The BPF filter for the configuration: SYNs without ACK, RST or FIN,
 * IPv4 or IPv6 (without extension headers), to the watched ports and,
 * unless a listener is a wildcard, the watched addresses.  Returns a
 * string the caller frees, or NULL.
 */
char *
sensor_filter(const struct config *c)
{
	char	*buf, hosts[FILTER_MAX], w[32];
	size_t	 len = 0, hlen = 0;
	int	 rc = 0, n = 0, wild = 0, np = 0;

	if ((buf = malloc(FILTER_MAX)) == NULL)
		return NULL;
	buf[0] = hosts[0] = '\0';
	rc |= filter_cat(buf, &len, "((ip and tcp[13] & 0x17 == 0x02) or "
	    "(ip6 and ip6[6] == 6 and ip6[53] & 0x17 == 0x02)) and (");
	for (int i = 0; i < c->nlisten; i++) {
		snprintf(w, sizeof(w), "%sdst port %u", np++ ? " or " : "",
		    ss_port(&c->listen[i].ss));
		rc |= filter_cat(buf, &len, w);
	}
	for (int i = 0; i < c->nwatch; i++)
		if (ss_port(&c->watch[i].ss) != 0) {
			snprintf(w, sizeof(w), "%sdst port %u",
			    np++ ? " or " : "", ss_port(&c->watch[i].ss));
			rc |= filter_cat(buf, &len, w);
		}
	if (c->real_mx_set)
		rc |= filter_cat(buf, &len, np++ ? " or dst port 25" :
		    "dst port 25");
	if (np == 0)
		rc |= filter_cat(buf, &len, "dst port 25");
	rc |= filter_cat(buf, &len, ")");
	for (int i = 0; i < c->nlisten; i++) {
		int r = filter_host(hosts, &hlen, &c->listen[i].ss, &n);
		if (r == 1)
			wild = 1;
		else if (r == -1)
			rc = -1;
	}
	for (int i = 0; i < c->nwatch; i++)
		if (filter_host(hosts, &hlen, &c->watch[i].ss, &n) == -1)
			rc = -1;
	for (int i = 0; i < c->nreal_mx; i++)
		if (filter_host(hosts, &hlen, &c->real_mx[i].ss, &n) == -1)
			rc = -1;
	if (!wild && n > 0) {
		rc |= filter_cat(buf, &len, " and (");
		rc |= filter_cat(buf, &len, hosts);
		rc |= filter_cat(buf, &len, ")");
	}
	if (rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * Opens the capture on the configured interface, with its filter, in
 * immediate and non-blocking mode.  Must run before privileges are
 * dropped.  Returns the sensor, or NULL with a message naming the
 * interface in err.
 */
struct sensor *
sensor_open(const struct config *c, char *err, size_t errlen)
{
	char			 ebuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program	 prog;
	struct sensor		*sn;
	char			*filter;
	int			 rc;

	if ((sn = calloc(1, sizeof(*sn))) == NULL ||
	    (sn->tab = syntab_new()) == NULL) {
		snprintf(err, errlen, "sensor: out of memory");
		goto fail;
	}
	sn->conf = c;
	if ((sn->pc = pcap_create(c->sensor_if, ebuf)) == NULL) {
		snprintf(err, errlen, "sensor interface %s: %s", c->sensor_if,
		    ebuf);
		goto fail;
	}
	pcap_set_snaplen(sn->pc, CAPTURE_SNAPLEN);
	pcap_set_promisc(sn->pc, 0);
	pcap_set_immediate_mode(sn->pc, 1);
	pcap_set_buffer_size(sn->pc, CAPTURE_BUFFER);
	if ((rc = pcap_activate(sn->pc)) < 0) {
		snprintf(err, errlen, "sensor interface %s: %s%s%s",
		    c->sensor_if, pcap_statustostr(rc),
		    rc == PCAP_ERROR ? ": " : "",
		    rc == PCAP_ERROR ? pcap_geterr(sn->pc) : "");
		goto fail;
	}
	sn->dlt = pcap_datalink(sn->pc);
	if (!packet_link_supported(sn->dlt)) {
		snprintf(err, errlen, "sensor interface %s: link type %s (%d) "
		    "is not supported", c->sensor_if,
		    pcap_datalink_val_to_name(sn->dlt) ?
		    pcap_datalink_val_to_name(sn->dlt) : "?", sn->dlt);
		goto fail;
	}
	if ((filter = sensor_filter(c)) == NULL) {
		snprintf(err, errlen, "sensor: out of memory");
		goto fail;
	}
	if (pcap_compile(sn->pc, &prog, filter, 1,
	    PCAP_NETMASK_UNKNOWN) == -1 || pcap_setfilter(sn->pc,
	    &prog) == -1) {
		snprintf(err, errlen, "sensor filter \"%s\": %s", filter,
		    pcap_geterr(sn->pc));
		free(filter);
		goto fail;
	}
	pcap_freecode(&prog);
	log_debug("sensor filter \"%s\"", filter);
	free(filter);
	if (pcap_setnonblock(sn->pc, 1, ebuf) == -1) {
		snprintf(err, errlen, "sensor interface %s: %s", c->sensor_if,
		    ebuf);
		goto fail;
	}
	return sn;
fail:
	sensor_free(sn);
	return NULL;
}

/*
 * Adds the capture to the event loop.  emit(arg, rec) is called for every
 * SYN to a watched address (rec valid only during the call), and once
 * with NULL when the capture fails.  Returns 0 or -1.
 */
int
sensor_start(struct sensor *sn, struct event_base *base, sensor_emit_fn emit,
    void *arg)
{
	int	 fd = pcap_get_selectable_fd(sn->pc);

	if (fd == -1)
		return -1;
	sn->emit = emit;
	sn->arg = arg;
	sn->ev = event_new(base, fd, EV_READ | EV_PERSIST, sensor_read, sn);
	if (sn->ev == NULL || event_add(sn->ev, NULL) == -1)
		return -1;
	log_info("sensor capturing interface=%s link=%s", sn->conf->sensor_if,
	    packet_link_name(sn->dlt));
	return 0;
}

static void
sensor_read(evutil_socket_t fd, short what, void *arg)
{
	struct sensor	*sn = arg;
	int		 n;

	(void)fd;
	(void)what;
	n = pcap_dispatch(sn->pc, CAPTURE_BUDGET, sensor_packet, (u_char *)sn);
	if (n == PCAP_ERROR && !sn->failed) {
		sn->failed = 1;
		log_error("sensor capture on %s failed: %s",
		    sn->conf->sensor_if, pcap_geterr(sn->pc));
		event_del(sn->ev);
		sn->emit(sn->arg, NULL);
	}
}

/* pcap callback: one captured frame. */
static void
sensor_packet(u_char *arg, const struct pcap_pkthdr *h, const u_char *p)
{
	struct sensor	*sn = (struct sensor *)arg;
	struct syn_rec	 r;
	const char	*why;
	enum pkt_kind	 k;

	memset(&r, 0, sizeof(r));
	k = packet_parse(sn->dlt, p, h->caplen, &r.s, &why);
	if (k == PKT_BAD) {
		sn->st.bad++;
		log_debug("sensor malformed packet: %s", why);
		return;
	}
	if (k != PKT_SYN || !sensor_classify(sn->conf, &r.s, &r.mx_pref,
	    &r.role)) {
		sn->st.ignored++;
		log_debug("sensor ignored packet kind=%d len=%u", (int)k,
		    h->caplen);
		return;
	}
	r.s.ts_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
	r.retransmits = syntab_seen(sn->tab, &r.s);
	if (r.retransmits > 0)
		sn->st.retransmits++;
	else
		sn->st.syns++;
	sn->emit(sn->arg, &r);
}

/* Fills *st with the counters and pcap's received/dropped figures. */
void
sensor_stats(struct sensor *sn, struct sensor_stats *st)
{
	struct pcap_stat ps;

	if (sn->pc != NULL && pcap_stats(sn->pc, &ps) == 0) {
		sn->st.received = ps.ps_recv;
		sn->st.dropped = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
	}
	*st = sn->st;
	if (util_now_us() - sn->last_log_us >= STATS_LOG_US) {
		sn->last_log_us = util_now_us();
		sensor_log(st, "stats");
	}
}

static void
sensor_log(const struct sensor_stats *st, const char *verb)
{
	log_info("sensor %s received=%llu dropped=%llu syns=%llu "
	    "retransmits=%llu ignored=%llu bad=%llu", verb,
	    (unsigned long long)st->received,
	    (unsigned long long)st->dropped,
	    (unsigned long long)st->syns,
	    (unsigned long long)st->retransmits,
	    (unsigned long long)st->ignored,
	    (unsigned long long)st->bad);
}

/* Closes the capture, logging its final counters; NULL is allowed. */
void
sensor_free(struct sensor *sn)
{
	struct pcap_stat ps;

	if (sn == NULL)
		return;
	if (sn->pc != NULL && sn->ev != NULL && pcap_stats(sn->pc, &ps) == 0) {
		sn->st.received = ps.ps_recv;
		sn->st.dropped = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
		sensor_log(&sn->st, "stopping");
	}
	if (sn->ev != NULL)
		event_free(sn->ev);
	if (sn->pc != NULL)
		pcap_close(sn->pc);
	syntab_free(sn->tab);
	free(sn);
}
