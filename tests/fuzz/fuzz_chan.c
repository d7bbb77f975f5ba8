/* SPDX-License-Identifier: ISC */
/*
 * fuzz_chan.c -- libFuzzer harness for the channel module (common/chan.c):
 * arbitrary bytes go through the dispatch table and the decoder of each
 * control message type, as either process would receive them.  Nothing
 * may read out of bounds; what a decoder accepts must hold the bounds it
 * promises and re-encode to a message that decodes to the same values.
 */
#include <stdlib.h>
#include <string.h>

#include "decoymx.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t		 enc[MAX_RECORD], enc2[MAX_RECORD];
static struct config	 a, b;
static struct net_stats	 sa, sb;

static void
text_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n >= cap)
		abort();		/* not NUL-terminated */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

static void
on_stats(void *arg, const uint8_t *m, size_t len)
{
	const char	*why;
	size_t		 n;

	(void)arg;
	if (chan_decode_stats(m, len, &sa, &why) != 0)
		return;
	if (sa.sensor_on > 1)
		abort();
	if ((n = chan_encode_stats(&sa, enc, sizeof(enc))) == 0 ||
	    chan_decode_stats(enc, n, &sb, &why) != 0 ||
	    memcmp(&sa, &sb, sizeof(sa)) != 0)
		abort();
}

static void
on_reload(void *arg, const uint8_t *m, size_t len)
{
	const char	*why;
	size_t		 n, n2;

	(void)arg;
	config_defaults(&a);
	if (chan_decode_reload(m, len, &a, &why) != 0)
		return;
	text_ok(a.hostname, sizeof(a.hostname));
	text_ok(a.defer_status, sizeof(a.defer_status));
	text_ok(a.defer_text, sizeof(a.defer_text));
	text_ok(a.banner, sizeof(a.banner));
	if (a.defer_code < 400 || a.defer_code > 499 ||
	    a.defer_stage > DEFER_DATA || a.tarpit > TARPIT_ALL ||
	    a.nignore < 0 || a.nignore > MAX_IGNORE)
		abort();
	for (int i = 0; i < a.nignore; i++)
		if ((a.ignore[i].family != 4 && a.ignore[i].family != 6) ||
		    a.ignore[i].prefix > (a.ignore[i].family == 4 ? 32 : 128))
			abort();
	/* Decoded values encode to a message that decodes to them again. */
	if ((n = chan_encode_reload(&a, enc, sizeof(enc))) == 0)
		abort();
	config_defaults(&b);
	if (chan_decode_reload(enc, n, &b, &why) != 0 ||
	    (n2 = chan_encode_reload(&b, enc2, sizeof(enc2))) != n ||
	    memcmp(enc, enc2, n) != 0)
		abort();
}

static void
on_empty(void *arg, const uint8_t *m, size_t len)
{
	const char *why;

	if (chan_decode_empty(m, len, *(const int *)arg == 0 ? REC_BYE :
	    REC_READY, &why) == 0 && len != 5)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* One table for both sides: every control message type. */
	static const struct chan_handler h_store[] = {
		{ REC_STATS, on_stats },
		{ REC_BYE, on_empty },
	};
	static const struct chan_handler h_net[] = {
		{ REC_RELOAD, on_reload },
		{ REC_READY, on_empty },
	};
	int	 side;

	if (size > MAX_RECORD)
		return 0;
	side = 0;
	chan_dispatch(h_store, 2, &side, data, size);
	side = 1;
	chan_dispatch(h_net, 2, &side, data, size);
	return 0;
}
