/* SPDX-License-Identifier: ISC */
/*
 * line.c -- splits what a client sends into SMTP lines.  A partial line
 * of up to LINE_INLINE bytes is kept in the linebuf itself, a longer one
 * in a buffer allocated only while it is pending, never longer than
 * MAX_LINE; the rest of an over-long line is dropped and the line is
 * delivered cut, flagged LINE_TOO_LONG.  Lines end at LF; a missing CR is
 * flagged LINE_BARE_LF.
 */
#include <stdlib.h>
#include <string.h>

#include "tarpit.h"

#define LINE_KEEP	(MAX_LINE - 1)	/* octets before the LF, CR included */
#define LINE_START	24		/* first allocation of a partial line */

static int	 line_deliver(struct linebuf *, const char *, size_t, int,
		    line_cb, void *);
static int	 line_keep(struct linebuf *, const char *, size_t);

/*
 * Delivers one complete line, joined with what was pending.  The CR LF
 * (or bare LF) is not part of what the callback sees.
 */
static int
line_deliver(struct linebuf *lb, const char *p, size_t n, int flags,
    line_cb cb, void *arg)
{
	int	 rv;

	if (lb->discarding) {
		flags |= LINE_TOO_LONG;
		n = 0;
	} else if (lb->len + n > LINE_KEEP) {
		flags |= LINE_TOO_LONG;
		n = LINE_KEEP - lb->len;
	}
	if (lb->len > 0) {
		if (n > 0 && line_keep(lb, p, n) == -1)
			n = 0;
		p = lb->cap > 0 ? lb->u.p : lb->u.in;
		n = lb->len;
	}
	if (n > 0 && p[n - 1] == '\r')
		n--;
	else if (!(flags & LINE_TOO_LONG))
		flags |= LINE_BARE_LF;
	rv = cb(arg, p, n, flags);
	line_free(lb);
	return rv;
}

/*
 * Appends to the pending partial line: in the linebuf while it fits in
 * LINE_INLINE, then in a buffer that starts at LINE_START and doubles as
 * needed: a client that trickles a line a byte at a time (slowloris)
 * holds a few dozen bytes, not a whole line.  Returns -1 when over
 * LINE_KEEP (or out of memory).
 */
static int
line_keep(struct linebuf *lb, const char *p, size_t n)
{
	size_t	 cap = lb->cap;
	char	*np;

	if (lb->len + n > LINE_KEEP)
		return -1;
	if (cap == 0 && lb->len + n <= LINE_INLINE) {
		memcpy(lb->u.in + lb->len, p, n);
		lb->len += (uint16_t)n;
		return 0;
	}
	if (lb->len + n > cap) {
		if (cap == 0)
			cap = LINE_START;
		while (cap < lb->len + n)
			cap *= 2;
		if (cap > LINE_KEEP)
			cap = LINE_KEEP;
		if (lb->cap == 0) {
			if ((np = malloc(cap)) == NULL)
				return -1;
			memcpy(np, lb->u.in, lb->len);
		} else if ((np = realloc(lb->u.p, cap)) == NULL)
			return -1;
		lb->u.p = np;
		lb->cap = (uint16_t)cap;
	}
	memcpy(lb->u.p + lb->len, p, n);
	lb->len += (uint16_t)n;
	return 0;
}

/*
 * Feeds received bytes.  Calls cb once per complete line, with
 * LINE_MORE when further bytes followed it in this same input.  Stops
 * early when cb returns non-zero and returns that value; otherwise 0.
 */
int
line_feed(struct linebuf *lb, const char *data, size_t len, line_cb cb,
    void *arg)
{
	const char	*lf;
	int		 rv;

	while (len > 0 && (lf = memchr(data, '\n', len)) != NULL) {
		size_t n = (size_t)(lf - data);
		int more = (size_t)(lf - data) + 1 < len ? LINE_MORE : 0;

		if ((rv = line_deliver(lb, data, n, more, cb, arg)) != 0)
			return rv;
		data = lf + 1;
		len -= n + 1;
	}
	if (len == 0 || lb->discarding)
		return 0;
	if (line_keep(lb, data, len) == -1) {
		/* Keep the first LINE_KEEP bytes, drop the rest until LF. */
		size_t room = LINE_KEEP - lb->len;
		if (room > 0)
			line_keep(lb, data, room);
		lb->discarding = 1;
	}
	return 0;
}

void
line_free(struct linebuf *lb)
{
	if (lb->cap > 0)
		free(lb->u.p);
	lb->u.p = NULL;
	lb->cap = 0;
	lb->len = 0;
	lb->discarding = 0;
}
