/* SPDX-License-Identifier: ISC */
/*
 * chan.c -- the channel between the network process and the store: every
 * message that crosses their socketpair is encoded and checked here or
 * by the record codec it uses (doc/DESIGN.md §4).
 *
 * One framing for all: a type byte, the version byte, then tagged fields
 * ending in an empty end marker (record.c: rec_begin(), rec_put(),
 * rec_finish(), rec_walk(), which checks the version, the length, each
 * field's bounds, duplicates and the end marker).  The messages:
 *
 *	REC_SESSION	net -> store	record_encode_session() (record.c)
 *	REC_SYN		net -> store	synrec_encode() (sensor/synrec.c)
 *	REC_STATS	net -> store	chan_encode_stats(): one field per
 *					counter of struct net_stats, an array
 *					as one field of 8-byte integers
 *	REC_BYE		net -> store	chan_encode_empty()
 *	REC_READY	store -> net	chan_encode_empty()
 *	REC_RELOAD	store -> net	chan_encode_reload(): one field per
 *					setting the network process takes at
 *					a reload (chan_conf[]), never a struct
 *
 * No C struct crosses the socket as bytes: the receiver decodes each
 * field, checks its size and range, and rejects the whole message on
 * any fault.  Each side routes what it receives through one table of
 * handlers (struct chan_handler, chan_dispatch()).
 *
 * Exports chan_encode_empty(), chan_decode_empty(), chan_encode_stats(),
 * chan_decode_stats(), chan_encode_reload(), chan_decode_reload(),
 * chan_reload_carries() and chan_dispatch().
 */
#include <stddef.h>
#include <string.h>

#include "decoymx.h"

/* An empty control message (READY, BYE) has only its end marker. */
#define CHAN_EMPTY_EOR	1

/*
 * The counters of REC_STATS.  A row's tag is its position + 1; the end
 * marker follows the last row.  New counters go at the end.  n is the
 * number of uint64_t (1, or an array's length); max bounds each value.
 */
struct chan_stat {
	size_t		 off;
	size_t		 n;
	uint64_t	 max;
};

#define STAT(f, max) { offsetof(struct net_stats, f), \
	sizeof(((struct net_stats *)NULL)->f) / sizeof(uint64_t), max }

static const struct chan_stat chan_stats[] = {
	STAT(conn_open, UINT64_MAX),
	STAT(conn_total, UINT64_MAX),
	STAT(tarpit_open, UINT64_MAX),
	STAT(tarpit_total, UINT64_MAX),
	STAT(refused_per_client, UINT64_MAX),
	STAT(accept_paused, UINT64_MAX),
	STAT(queue_depth, UINT64_MAX),
	STAT(records_sent, UINT64_MAX),
	STAT(records_dropped, UINT64_MAX),
	STAT(stage, UINT64_MAX),
	STAT(reason, UINT64_MAX),
	STAT(anomaly, UINT64_MAX),
	STAT(reply, UINT64_MAX),
	STAT(sensor_on, 1),
	STAT(sensor_received, UINT64_MAX),
	STAT(sensor_dropped, UINT64_MAX),
	STAT(sensor_syns, UINT64_MAX),
	STAT(sensor_retransmits, UINT64_MAX),
	STAT(sensor_bad, UINT64_MAX),
	STAT(returning_deferred, UINT64_MAX),
	STAT(returning_paired, UINT64_MAX),
	STAT(clients_tracked, UINT64_MAX),
	STAT(clients_evicted, UINT64_MAX),
	STAT(clients_real_seen, UINT64_MAX),
	STAT(proxy, UINT64_MAX),
	STAT(ignored, UINT64_MAX),
	STAT(listener, UINT64_MAX),	/* [MAX_LISTEN][STAGE_MAX] */
};
#define NCHAN_STATS	(sizeof(chan_stats) / sizeof(chan_stats[0]))
#define STATS_EOR	((int)NCHAN_STATS + 1)

/* rec_walk() keeps the tags seen in 32 bits. */
_Static_assert(NCHAN_STATS + 2 <= 32, "too many REC_STATS fields");

/*
 * The settings of REC_RELOAD: what the network process uses and may
 * take without a restart (tarpit_reload()).  Everything else of its
 * configuration stays as it started (listeners, real MX, queue size,
 * capture).  A row's tag is its position + 1, then the repeatable
 * "ignore" networks, then the end marker.  A new setting the network
 * process reads goes at the end, with the bounds of its setter.
 */
enum { CF_INT, CF_U16, CF_U32, CF_STR };

struct chan_conf {
	int		 kind;
	size_t		 off, size;
	uint32_t	 min, max;	/* CF_STR: unused */
};

#define CONF(kind, f, min, max) { kind, offsetof(struct config, f), \
	sizeof(((struct config *)NULL)->f), min, max }

static const struct chan_conf chan_conf[] = {
	CONF(CF_STR, hostname, 0, 0),
	CONF(CF_INT, defer_stage, DEFER_GREETING, DEFER_DATA),
	CONF(CF_U16, defer_code, 400, 499),	/* never a 5xx */
	CONF(CF_STR, defer_status, 0, 0),
	CONF(CF_STR, defer_text, 0, 0),
	CONF(CF_STR, banner, 0, 0),
	CONF(CF_INT, pipelining, 0, 1),
	CONF(CF_U32, idle_timeout_ms, 0, 3600000),
	CONF(CF_U32, max_session_ms, 0, 86400000),
	CONF(CF_U32, max_errors, 0, 1000),
	CONF(CF_INT, log_level, LOG_LVL_ERROR, LOG_LVL_DEBUG),
	CONF(CF_INT, returning_defer, RETURNING_OFF, RETURNING_RESET),
	CONF(CF_U32, returning_window_ms, 0, 86400000),
	CONF(CF_U32, client_table_size, 64, 100000000),
	CONF(CF_U32, greeting_delay_ms, 0, 600000),
	CONF(CF_U32, reply_delay_ms, 0, 600000),
	CONF(CF_U32, stutter_ms, 0, 60000),
	CONF(CF_U32, stutter_bytes, 0, 512),
	CONF(CF_INT, tarpit, TARPIT_NONE, TARPIT_ALL),
	CONF(CF_U32, max_clients, 0, 1000000),
	CONF(CF_U32, max_per_client, 0, 1000000),
	CONF(CF_U32, banner_wait_ms, 0, 10000),
};
#define NCHAN_CONF	(sizeof(chan_conf) / sizeof(chan_conf[0]))
#define CONF_IGNORE	((int)NCHAN_CONF + 1)	/* repeatable */
#define CONF_EOR	((int)NCHAN_CONF + 2)
#define IGNORE_LEN	19	/* family, prefix, record, 16 address bytes */

_Static_assert(NCHAN_CONF + 3 <= 32, "too many REC_RELOAD fields");

/* What a decoder callback fills. */
struct chan_in {
	void		*out;
	int		 nignore;
};

static int	 chan_stats_field(void *, int, const uint8_t *, size_t,
		    const char **);
static int	 chan_conf_field(void *, int, const uint8_t *, size_t,
		    const char **);
static int	 chan_ignore(struct config *, int *, const uint8_t *, size_t,
		    const char **);
static int	 chan_text_ok(const uint8_t *, size_t);
static int	 chan_walk(const uint8_t *, size_t, int, size_t, int,
		    uint32_t, rec_field_fn, struct chan_in *, const char **);

/*
 * Encodes a message without fields (REC_READY, REC_BYE) into buf.
 * Returns its length, or 0 if cap is too small.
 */
size_t
chan_encode_empty(int type, uint8_t *buf, size_t cap)
{
	struct rec_writer w;

	rec_begin(&w, buf, cap, type);
	return rec_finish(&w, CHAN_EMPTY_EOR);
}

static int
chan_no_field(void *arg, int tag, const uint8_t *v, size_t len,
    const char **why)
{
	(void)arg;
	(void)tag;
	(void)v;
	(void)len;
	*why = "field in an empty message";
	return -1;
}

/* Checks that msg is the empty message of type.  0, or -1 with *why. */
int
chan_decode_empty(const uint8_t *msg, size_t len, int type, const char **why)
{
	uint32_t seen;

	return rec_walk(msg, len, type, CHAN_EMPTY_EOR + 1, CHAN_EMPTY_EOR, 0,
	    &seen, chan_no_field, NULL, why);
}

/*
 * Encodes the network process's counters as REC_STATS into buf.
 * Returns the length, or 0 if cap is too small.
 */
size_t
chan_encode_stats(const struct net_stats *st, uint8_t *buf, size_t cap)
{
	struct rec_writer	 w;
	uint8_t			 v[STATS_CODES * 8];

	rec_begin(&w, buf, cap, REC_STATS);
	for (size_t i = 0; i < NCHAN_STATS; i++) {
		const uint64_t *p = (const uint64_t *)(const void *)
		    ((const uint8_t *)st + chan_stats[i].off);
		size_t n = chan_stats[i].n;

		if (n * 8 > sizeof(v)) {
			w.overflow = 1;
			break;
		}
		for (size_t k = 0; k < n; k++)
			for (int b = 0; b < 8; b++)
				v[k * 8 + (size_t)b] = (uint8_t)(p[k] >>
				    (56 - 8 * b));
		rec_put(&w, (int)i + 1, v, n * 8);
	}
	return rec_finish(&w, STATS_EOR);
}

static int
chan_stats_field(void *arg, int tag, const uint8_t *v, size_t len,
    const char **why)
{
	struct chan_in		*in = arg;
	const struct chan_stat	*s = &chan_stats[tag - 1];
	uint64_t		*p = (uint64_t *)(void *)((uint8_t *)in->out +
				    s->off);

	if (len != s->n * 8)
		return *why = "counter field of wrong size", -1;
	for (size_t k = 0; k < s->n; k++) {
		uint64_t x = rec_u64(v + 8 * k);

		if (x > s->max)
			return *why = "counter out of range", -1;
		p[k] = x;
	}
	return 0;
}

/*
 * Walks a message of type whose fields are nrows table rows (tags 1 to
 * nrows, each required), the repeatable tags, and the end marker eor,
 * the highest tag.  Returns 0, or -1 with *why set.
 */
static int
chan_walk(const uint8_t *msg, size_t len, int type, size_t nrows, int eor,
    uint32_t repeatable, rec_field_fn fn, struct chan_in *in,
    const char **why)
{
	uint32_t	 seen, all = 0;

	if (rec_walk(msg, len, type, eor + 1, eor, repeatable, &seen, fn, in,
	    why) == -1)
		return -1;
	for (size_t i = 1; i <= nrows; i++)
		all |= 1u << i;
	if ((seen & all) != all)
		return *why = "field missing", -1;
	return 0;
}

/*
 * Decodes a REC_STATS message into *st, every counter required.
 * Returns 0, or -1 with *why set; *st may then be partly written.
 */
int
chan_decode_stats(const uint8_t *msg, size_t len, struct net_stats *st,
    const char **why)
{
	struct chan_in	 in = { st, 0 };

	memset(st, 0, sizeof(*st));
	return chan_walk(msg, len, REC_STATS, NCHAN_STATS, STATS_EOR, 0,
	    chan_stats_field, &in, why);
}

/*
 * Whether REC_RELOAD carries the field of struct config at off of size
 * bytes: a row of chan_conf[], or the ignore networks and their count.
 * (tests/unit/test_chan.c: the same as config_fields()' RELOAD_NET.)
 */
int
chan_reload_carries(size_t off, size_t size)
{
	if ((off == offsetof(struct config, ignore) &&
	    size == sizeof(((struct config *)NULL)->ignore)) ||
	    (off == offsetof(struct config, nignore) &&
	    size == sizeof(((struct config *)NULL)->nignore)))
		return 1;
	for (size_t i = 0; i < NCHAN_CONF; i++)
		if (chan_conf[i].off == off && chan_conf[i].size == size)
			return 1;
	return 0;
}

/*
 * Encodes the settings of chan_conf[] and the ignore networks of c as
 * REC_RELOAD into buf.  Returns the length, or 0 if cap is too small.
 */
size_t
chan_encode_reload(const struct config *c, uint8_t *buf, size_t cap)
{
	struct rec_writer	 w;
	uint8_t			 v[IGNORE_LEN];

	rec_begin(&w, buf, cap, REC_RELOAD);
	for (size_t i = 0; i < NCHAN_CONF; i++) {
		const struct chan_conf *f = &chan_conf[i];
		const uint8_t *p = (const uint8_t *)c + f->off;
		uint16_t u16;
		uint32_t u32;
		int32_t i32;

		switch (f->kind) {
		case CF_STR:
			rec_put(&w, (int)i + 1, p, strnlen((const char *)p,
			    f->size));
			break;
		case CF_U16:
			memcpy(&u16, p, sizeof(u16));
			rec_put_u64(&w, (int)i + 1, u16);
			break;
		case CF_U32:
			memcpy(&u32, p, sizeof(u32));
			rec_put_u64(&w, (int)i + 1, u32);
			break;
		default:
			memcpy(&i32, p, sizeof(i32));
			rec_put_u64(&w, (int)i + 1, (uint64_t)(int64_t)i32);
			break;
		}
	}
	for (int i = 0; i < c->nignore && i < MAX_IGNORE; i++) {
		v[0] = c->ignore[i].family;
		v[1] = c->ignore[i].prefix;
		v[2] = c->ignore[i].record;
		memcpy(v + 3, c->ignore[i].addr, 16);
		rec_put(&w, CONF_IGNORE, v, sizeof(v));
	}
	return rec_finish(&w, CONF_EOR);
}

/* Printable ASCII only: what every text setting allows. */
static int
chan_text_ok(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

/* One "ignore" network: as config_cidr() makes them, host bits clear. */
static int
chan_ignore(struct config *c, int *n, const uint8_t *v, size_t len,
    const char **why)
{
	struct ignore_net	*x;
	int			 max;

	if (len != IGNORE_LEN)
		return *why = "ignore field of wrong size", -1;
	if (*n >= MAX_IGNORE)
		return *why = "too many ignore networks", -1;
	max = v[0] == 4 ? 32 : 128;
	if ((v[0] != 4 && v[0] != 6) || v[1] > max || v[2] > 1)
		return *why = "ignore network out of range", -1;
	for (int i = 0; i < 16; i++) {
		int bits = v[1] - 8 * i;
		uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 :
		    (uint8_t)(0xff << (8 - bits));

		if (v[3 + i] & ~mask)
			return *why = "ignore network with host bits", -1;
	}
	x = &c->ignore[(*n)++];
	x->family = v[0];
	x->prefix = v[1];
	x->record = v[2];
	memcpy(x->addr, v + 3, 16);
	return 0;
}

static int
chan_conf_field(void *arg, int tag, const uint8_t *v, size_t len,
    const char **why)
{
	struct chan_in		*in = arg;
	const struct chan_conf	*f;
	uint8_t			*p;
	uint64_t		 x;

	if (tag == CONF_IGNORE)
		return chan_ignore(in->out, &in->nignore, v, len, why);
	f = &chan_conf[tag - 1];
	p = (uint8_t *)in->out + f->off;
	if (f->kind == CF_STR) {
		if (len >= f->size || !chan_text_ok(v, len))
			return *why = "text setting too long or not "
			    "printable", -1;
		memcpy(p, v, len);
		p[len] = '\0';
		return 0;
	}
	if (len != 8)
		return *why = "integer setting of wrong size", -1;
	if ((x = rec_u64(v)) < f->min || x > f->max)
		return *why = "setting out of range", -1;
	if (f->kind == CF_U16) {
		uint16_t u16 = (uint16_t)x;
		memcpy(p, &u16, sizeof(u16));
	} else if (f->kind == CF_U32) {
		uint32_t u32 = (uint32_t)x;
		memcpy(p, &u32, sizeof(u32));
	} else {
		int32_t i32 = (int32_t)x;
		memcpy(p, &i32, sizeof(i32));
	}
	return 0;
}

/*
 * Decodes a REC_RELOAD message into c, which holds the running
 * configuration: the settings of the message replace those of c (each
 * required, each checked against its bounds), the ignore networks
 * replace c's; everything else of c stays.  Returns 0, or -1 with *why
 * set, c then partly written: decode into a copy.
 */
int
chan_decode_reload(const uint8_t *msg, size_t len, struct config *c,
    const char **why)
{
	struct chan_in	 in = { c, 0 };

	if (chan_walk(msg, len, REC_RELOAD, NCHAN_CONF, CONF_EOR,
	    1u << CONF_IGNORE, chan_conf_field, &in, why) == -1)
		return -1;
	c->nignore = in.nignore;
	return 0;
}

/*
 * Hands msg to the handler of its type in h[0..n).  Returns 0 when one
 * took it (the handler decodes and checks it), -1 when msg has no known
 * type or the wrong version.
 */
int
chan_dispatch(const struct chan_handler *h, size_t n, void *arg,
    const uint8_t *msg, size_t len)
{
	int type = record_type(msg, len);

	for (size_t i = 0; i < n && type != -1; i++)
		if (h[i].type == type) {
			h[i].fn(arg, msg, len);
			return 0;
		}
	return -1;
}
