/* SPDX-License-Identifier: ISC */
/*
 * test_chan.c -- the channel between the two processes (common/chan.c):
 * each message type survives its round trip field by field, the
 * receiver rejects every malformed or out-of-range message, every
 * message fits its buffer, and the dispatch table routes by type.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "decoymx.h"

static uint8_t	 buf[MAX_RECORD];
static uint8_t	 mut[MAX_RECORD + 64];
static size_t	 nf;		/* rows of config_fields() */

/* Offset of the end marker: the last field of every message. */
static size_t
eor_off(size_t len)
{
	return len - 3;
}

/* msg without its first field; returns the new length. */
static size_t
drop_first(const uint8_t *msg, size_t len, uint8_t *out)
{
	size_t flen = (size_t)msg[3] << 8 | msg[4];

	memcpy(out, msg, 2);
	memcpy(out + 2, msg + 5 + flen, len - 5 - flen);
	return len - 3 - flen;
}

/* msg with its first field twice. */
static size_t
dup_first(const uint8_t *msg, size_t len, uint8_t *out)
{
	size_t flen = (size_t)msg[3] << 8 | msg[4];

	memcpy(out, msg, 2 + 3 + flen);
	memcpy(out + 5 + flen, msg + 2, len - 2);
	return len + 3 + flen;
}

/* msg with a field of the given tag and length inserted before its end. */
static size_t
insert(const uint8_t *msg, size_t len, int tag, size_t flen, uint8_t *out)
{
	size_t e = eor_off(len);

	memcpy(out, msg, e);
	out[e] = (uint8_t)tag;
	out[e + 1] = (uint8_t)(flen >> 8);
	out[e + 2] = (uint8_t)flen;
	memset(out + e + 3, 0, flen);
	memcpy(out + e + 3 + flen, msg + e, 3);
	return len + 3 + flen;
}

/* The faults every message type must refuse, from a valid msg. */
static void
check_framing(const uint8_t *msg, size_t len, int type,
    int (*dec)(const uint8_t *, size_t, int))
{
	size_t n;

	CHECK(dec(msg, len, type) == 0);
	memcpy(mut, msg, len);
	mut[1] = 2;				/* another version */
	CHECK(dec(mut, len, type) == -1);
	mut[1] = msg[1];
	mut[0] = (uint8_t)(type == REC_BYE ? REC_READY : REC_BYE);
	CHECK(dec(mut, len, type) == -1);	/* another type */
	for (n = 0; n < len; n++)		/* every truncation */
		if (dec(msg, n, type) == 0)
			break;
	CHECK(n == len);
	memcpy(mut, msg, len);
	mut[len] = 0;				/* data after the end */
	CHECK(dec(mut, len + 1, type) == -1);
	n = insert(msg, len, 31, 0, mut);	/* an unknown field */
	CHECK(dec(mut, n, type) == -1);
	if (len > 5) {
		n = drop_first(msg, len, mut);	/* a required field gone */
		CHECK(dec(mut, n, type) == -1);
		n = dup_first(msg, len, mut);	/* a field twice */
		CHECK(dec(mut, n, type) == -1);
	}
}

static int
dec_empty(const uint8_t *m, size_t len, int type)
{
	const char *why;

	return chan_decode_empty(m, len, type, &why);
}

static int
dec_stats(const uint8_t *m, size_t len, int type)
{
	static struct net_stats	 st;
	const char		*why;

	(void)type;
	return chan_decode_stats(m, len, &st, &why);
}

static int
dec_reload(const uint8_t *m, size_t len, int type)
{
	static struct config	 c;
	const char		*why;

	(void)type;
	config_defaults(&c);
	return chan_decode_reload(m, len, &c, &why);
}

static void
test_empty(void)
{
	size_t	 len;

	len = chan_encode_empty(REC_READY, buf, sizeof(buf));
	CHECK(len == 5);
	CHECK(record_type(buf, len) == REC_READY);
	check_framing(buf, len, REC_READY, dec_empty);
	CHECK(dec_empty(buf, len, REC_BYE) == -1);
	len = chan_encode_empty(REC_BYE, buf, sizeof(buf));
	check_framing(buf, len, REC_BYE, dec_empty);
	CHECK(chan_encode_empty(REC_BYE, buf, 4) == 0);
	CHECK(dec_empty(buf, 2, REC_BYE) == -1);	/* the old 2 bytes */
}

static void
stats_sample(struct net_stats *st)
{
	uint64_t	*w = (uint64_t *)(void *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		w[i] = 0x0102030405060708ULL * (i + 1) + i;
	st->sensor_on = 1;
}

static void
test_stats(void)
{
	struct net_stats	 st, out;
	const char		*why = NULL;
	size_t			 len, n;

	stats_sample(&st);
	len = chan_encode_stats(&st, buf, sizeof(buf));
	CHECK(len > 0 && len <= MAX_RECORD);
	CHECK(chan_decode_stats(buf, len, &out, &why) == 0);
	CHECK(memcmp(&st, &out, sizeof(st)) == 0);
	CHECK(out.reply[599] == st.reply[599] && out.ignored == st.ignored);
	check_framing(buf, len, REC_STATS, dec_stats);

	/* A counter whose value cannot be. */
	st.sensor_on = 2;
	len = chan_encode_stats(&st, buf, sizeof(buf));
	CHECK(chan_decode_stats(buf, len, &out, &why) == -1);
	CHECK_STR(why, "counter out of range");
	/* An array of the wrong length (a layout from another build). */
	st.sensor_on = 0;
	len = chan_encode_stats(&st, buf, sizeof(buf));
	n = (size_t)buf[3] << 8 | buf[4];
	CHECK(n == 8);
	memcpy(mut, buf, len);
	mut[4] = 16;				/* first counter claims 16 bytes */
	CHECK(chan_decode_stats(mut, len, &out, &why) == -1);
	/* The raw struct of the old message is refused. */
	mut[0] = REC_STATS;
	mut[1] = 1;
	memcpy(mut + 2, &st, sizeof(st));
	CHECK(chan_decode_stats(mut, 2 + sizeof(st), &out, &why) == -1);
	CHECK(chan_encode_stats(&st, buf, 100) == 0);
}

static void
reload_sample(struct config *c)
{
	static const char *lines[] = {
		"hostname mx9.example.net",
		"defer-stage mail",
		"defer-reply 421 4.3.2 Try again later",
		"banner decoy.example.net ESMTP ready",
		"pipelining yes",
		"idle-timeout 30s",
		"max-session 120s",
		"max-errors 5",
		"log-level debug",
		"returning-defer off",
		"returning-window 2h",
		"client-table-size 5000",
		"greeting-delay 5s",
		"reply-delay 2s",
		"stutter 500ms 3",
		"tarpit all",
		"max-clients 100",
		"max-per-client 4",
		"ignore 192.0.2.0/24",
		"ignore 2001:db8::/32 record",
		"ignore 198.51.100.7",
	};

	config_defaults(c);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		CHECK(config_parse_line(c, "t.conf", (int)i + 1, lines[i]) == 0);
}

/*
 * The settings the network process takes at a reload, compared: the
 * RELOAD_NET rows of config_fields() (the ignore networks as far as
 * they go).
 */
static int
same_reload(const struct config *a, const struct config *b)
{
	const struct config_field *f = config_fields(&nf);

	for (size_t i = 0; i < nf; i++) {
		const char	*x = (const char *)a + f[i].off;
		const char	*y = (const char *)b + f[i].off;
		size_t		 size = f[i].size;

		if (f[i].reload != RELOAD_NET)
			continue;
		if (f[i].off == offsetof(struct config, ignore))
			size = sizeof(a->ignore[0]) * (size_t)a->nignore;
		if (f[i].str ? strcmp(x, y) != 0 : memcmp(x, y, size) != 0)
			return 0;
	}
	return 1;
}

/*
 * REC_RELOAD carries exactly what the configuration says the network
 * process reads: every RELOAD_NET field, and no other.
 */
static void
test_reload_agrees(void)
{
	const struct config_field *f = config_fields(&nf);
	size_t	 net = 0;

	for (size_t i = 0; i < nf; i++) {
		int carried = chan_reload_carries(f[i].off, f[i].size);

		if (carried != (f[i].reload == RELOAD_NET))
			fprintf(stderr, "%s (offset %zu): %s\n", f[i].key,
			    f[i].off, carried ? "carried but not RELOAD_NET" :
			    "RELOAD_NET but not carried");
		CHECK(carried == (f[i].reload == RELOAD_NET));
		net += f[i].reload == RELOAD_NET;
	}
	CHECK(net >= 20);
	CHECK(!chan_reload_carries(offsetof(struct config, queue_size),
	    sizeof(uint32_t)));
}

static struct config	 src, run, out;

static void
test_reload(void)
{
	const char	*why = NULL;
	size_t		 len;
	int		 dummy;

	reload_sample(&src);
	CHECK(src.nignore == 3 && src.defer_code == 421);
	len = chan_encode_reload(&src, buf, sizeof(buf));
	CHECK(len > 0);
	/* The running side keeps what is not in the message. */
	config_defaults(&run);
	CHECK(config_parse_line(&run, "r.conf", 1, "listen 127.0.0.1:2525 "
	    "mx 10") == 0);
	CHECK(config_parse_line(&run, "r.conf", 2, "queue-size 77") == 0);
	CHECK(config_parse_line(&run, "r.conf", 3, "ignore 203.0.113.0/24")
	    == 0);
	out = run;
	CHECK(chan_decode_reload(buf, len, &out, &why) == 0);
	CHECK(same_reload(&src, &out));
	CHECK(out.nlisten == 1 && out.listen[0].mx_pref == 10);
	CHECK(out.queue_size == 77);
	CHECK(config_ignored(&out, "192.0.2.9", &dummy) &&
	    !config_ignored(&out, "203.0.113.1", &dummy));
	check_framing(buf, len, REC_RELOAD, dec_reload);

	/* No ignore line: the running ones go. */
	config_defaults(&src);
	len = chan_encode_reload(&src, buf, sizeof(buf));
	out = run;
	CHECK(chan_decode_reload(buf, len, &out, &why) == 0);
	CHECK(out.nignore == 0);

	/* Values no setter allows are refused. */
	reload_sample(&src);
	src.defer_code = 550;			/* never a 5xx */
	len = chan_encode_reload(&src, buf, sizeof(buf));
	out = run;
	CHECK(chan_decode_reload(buf, len, &out, &why) == -1);
	CHECK_STR(why, "setting out of range");
	reload_sample(&src);
	src.defer_stage = (enum defer_stage)7;
	len = chan_encode_reload(&src, buf, sizeof(buf));
	CHECK(chan_decode_reload(buf, len, &out, &why) == -1);
	reload_sample(&src);
	strcpy(src.defer_text, "x\r\n250 OK");	/* reply injection */
	len = chan_encode_reload(&src, buf, sizeof(buf));
	CHECK(chan_decode_reload(buf, len, &out, &why) == -1);
	reload_sample(&src);
	src.ignore[0].addr[3] = 1;		/* host bits of a /24 */
	len = chan_encode_reload(&src, buf, sizeof(buf));
	CHECK(chan_decode_reload(buf, len, &out, &why) == -1);
	CHECK_STR(why, "ignore network with host bits");
	reload_sample(&src);
	src.ignore[0].prefix = 33;
	len = chan_encode_reload(&src, buf, sizeof(buf));
	CHECK(chan_decode_reload(buf, len, &out, &why) == -1);
	reload_sample(&src);
	src.ignore[1].family = 5;
	len = chan_encode_reload(&src, buf, sizeof(buf));
	CHECK(chan_decode_reload(buf, len, &out, &why) == -1);

	/* The biggest configuration fits one message. */
	reload_sample(&src);
	memset(src.hostname, 'h', sizeof(src.hostname) - 1);
	memset(src.defer_text, 't', sizeof(src.defer_text) - 1);
	memset(src.banner, 'b', sizeof(src.banner) - 1);
	for (int i = 0; i < MAX_IGNORE; i++) {
		memset(&src.ignore[i], 0, sizeof(src.ignore[i]));
		src.ignore[i].family = 6;
		src.ignore[i].prefix = 128;
		src.ignore[i].addr[0] = 0x20;
		src.ignore[i].addr[14] = (uint8_t)(i >> 8);
		src.ignore[i].addr[15] = (uint8_t)i;
	}
	src.nignore = MAX_IGNORE;
	len = chan_encode_reload(&src, buf, sizeof(buf));
	CHECK(len > 0 && len <= MAX_RECORD);
	out = run;
	CHECK(chan_decode_reload(buf, len, &out, &why) == 0);
	CHECK(same_reload(&src, &out));
	/* One more ignore network than a configuration may have. */
	len = insert(buf, len, (int)buf[len - 3] - 1, 19, mut);
	mut[len - 3 - 19] = 4;			/* 0.0.0.0/0, valid alone */
	out = run;
	CHECK(chan_decode_reload(mut, len, &out, &why) == -1);
	CHECK_STR(why, "too many ignore networks");
}

static int	 calls[8];

static void
h_a(void *arg, const uint8_t *m, size_t len)
{
	(void)m;
	(void)len;
	CHECK(arg == calls);
	calls[0]++;
}

static void
h_b(void *arg, const uint8_t *m, size_t len)
{
	(void)arg;
	(void)m;
	(void)len;
	calls[1]++;
}

static void
test_dispatch(void)
{
	static const struct chan_handler h[] = {
		{ REC_BYE, h_a },
		{ REC_STATS, h_b },
	};
	size_t	 len;

	len = chan_encode_empty(REC_BYE, buf, sizeof(buf));
	CHECK(chan_dispatch(h, 2, calls, buf, len) == 0);
	CHECK(calls[0] == 1 && calls[1] == 0);
	len = chan_encode_empty(REC_READY, buf, sizeof(buf));
	CHECK(chan_dispatch(h, 2, calls, buf, len) == -1);	/* no row */
	buf[0] = REC_STATS;
	CHECK(chan_dispatch(h, 2, calls, buf, len) == 0);
	CHECK(calls[1] == 1);
	buf[1] = 9;						/* version */
	CHECK(chan_dispatch(h, 2, calls, buf, len) == -1);
	CHECK(chan_dispatch(h, 2, calls, buf, 1) == -1);
	CHECK(chan_dispatch(h, 2, calls, buf, 0) == -1);
	CHECK(calls[0] == 1 && calls[1] == 1);
}

int
main(void)
{
	test_empty();
	test_stats();
	test_reload();
	test_reload_agrees();
	test_dispatch();
	return t_done("test_chan");
}
