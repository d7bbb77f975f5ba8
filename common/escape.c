/* SPDX-License-Identifier: ISC */
/*
 * escape.c -- the one place that makes untrusted bytes safe to print.
 * Text from the network or the database may hold any byte; these turn it
 * into output that is always well-formed and inert:
 *
 *	JSON	valid UTF-8 passes; quotes, backslashes, control characters
 *		(C0, DEL, C1), U+2028 and U+2029 and the format characters
 *		(Unicode category Cf: bidi overrides and isolates, zero
 *		width characters, BOM, ...) are \-escaped (\uXXXX, a
 *		surrogate pair above U+FFFF); each byte of invalid UTF-8
 *		becomes \u00XX.  The result is valid UTF-8 JSON.
 *	terminal  printable ASCII passes, a backslash is doubled, every
 *		other byte (controls, ESC, >= 0x80) becomes \xNN; cut with
 *		"..." to fit.
 *
 * Used by every part: the event log (store/events.c), the reports
 * (reports/format.c keeps fmt_json_str(), fmt_term() and fmt_utf8_len()
 * as names for these), log lines and messages (util_escape_term()).
 *
 * Exports escape_utf8_len(), escape_utf8_unsafe(), escape_json() and
 * escape_term().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "decoymx.h"

static const char escape_hex[] = "0123456789abcdef";

static size_t	 escape_term_char(unsigned char, char[4]);

/*
 * Length of the well-formed UTF-8 sequence at p (1 to 4, RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF), or 0 when the
 * byte at p does not start one.
 */
size_t
escape_utf8_len(const unsigned char *p, size_t len)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (p[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (p[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (p[0] == 0xf4)
		hi = 0x8f;		/* above U+10FFFF */
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * The format characters, Unicode general category Cf (Unicode 15.1),
 * as inclusive ranges: invisible, and the bidi ones (U+202A-202E,
 * U+2066-2069) reorder what a terminal or a spreadsheet shows.
 */
static const struct { uint32_t lo, hi; } escape_cf[] = {
	{ 0x00ad, 0x00ad }, { 0x0600, 0x0605 }, { 0x061c, 0x061c },
	{ 0x06dd, 0x06dd }, { 0x070f, 0x070f }, { 0x0890, 0x0891 },
	{ 0x08e2, 0x08e2 }, { 0x180e, 0x180e }, { 0x200b, 0x200f },
	{ 0x202a, 0x202e }, { 0x2060, 0x2064 }, { 0x2066, 0x206f },
	{ 0xfeff, 0xfeff }, { 0xfff9, 0xfffb }, { 0x110bd, 0x110bd },
	{ 0x110cd, 0x110cd }, { 0x13430, 0x1343f }, { 0x1bca0, 0x1bca3 },
	{ 0x1d173, 0x1d17a }, { 0xe0001, 0xe0001 }, { 0xe0020, 0xe007f },
};

/* The code point of the well-formed sequence u[0..n). */
static uint32_t
escape_utf8_cp(const unsigned char *u, size_t n)
{
	static const unsigned char lead[5] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = u[0] & lead[n];

	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (u[i] & 0x3f);
	return cp;
}

/*
 * Whether the well-formed sequence u[0..n) must still be escaped: C0
 * controls, DEL, C1 controls (a terminal may act on U+009B, CSI), the
 * line and paragraph separators U+2028 and U+2029, and the format
 * characters (escape_cf).
 */
int
escape_utf8_unsafe(const unsigned char *u, size_t n)
{
	uint32_t cp = escape_utf8_cp(u, n);

	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 ||
	    cp == 0x2029)
		return 1;
	for (size_t i = 0; i < sizeof(escape_cf) / sizeof(escape_cf[0]); i++)
		if (cp >= escape_cf[i].lo && cp <= escape_cf[i].hi)
			return 1;
	return 0;
}

/* Writes p as a quoted JSON string (see the file comment). */
void
escape_json(FILE *f, const char *p, size_t len)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0, n;

	putc('"', f);
	while (i < len) {
		unsigned char c = u[i];

		if ((n = escape_utf8_len(u + i, len - i)) == 0) {
			fprintf(f, "\\u00%02x", c);	/* invalid byte */
			n = 1;
		} else if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (!escape_utf8_unsafe(u + i, n))
			fwrite(u + i, 1, n, f);
		else {
			uint32_t cp = escape_utf8_cp(u + i, n);

			if (cp < 0x10000)
				fprintf(f, "\\u%04x", (unsigned)cp);
			else
				fprintf(f, "\\u%04x\\u%04x",
				    (unsigned)(0xd800 + ((cp - 0x10000) >> 10)),
				    (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
		}
		i += n;
	}
	putc('"', f);
}

/* The escape of one byte for a terminal; returns its length. */
static size_t
escape_term_char(unsigned char c, char tmp[4])
{
	if (c == '\\') {
		tmp[0] = tmp[1] = '\\';
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		tmp[0] = (char)c;
		return 1;
	}
	tmp[0] = '\\';
	tmp[1] = 'x';
	tmp[2] = escape_hex[c >> 4];
	tmp[3] = escape_hex[c & 15];
	return 4;
}

/*
 * Escapes p for a terminal or a log line into out (see the file
 * comment).  When the result does not fit in cap it is cut at a whole
 * escape and ends in "..." (as many dots as fit).  out is always
 * NUL-terminated (cap > 0); returns its length.
 */
size_t
escape_term(const char *p, size_t len, char *out, size_t cap)
{
	char	 tmp[4];
	size_t	 need = 0, room, o = 0, n;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		need += escape_term_char((unsigned char)p[i], tmp);
	if (need < cap)
		room = need;
	else
		room = cap > 4 ? cap - 4 : 0;
	for (size_t i = 0; i < len; i++) {
		n = escape_term_char((unsigned char)p[i], tmp);
		if (o + n > room)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	if (need >= cap) {
		n = cap - 1 - o < 3 ? cap - 1 - o : 3;
		memcpy(out + o, "...", n);
		o += n;
	}
	out[o] = '\0';
	return o;
}
