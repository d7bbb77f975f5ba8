/* SPDX-License-Identifier: ISC */
/*
 * fuzz_escape.c -- libFuzzer harness for the escapers of report html
 * (html_text, reports/svg.c) and of the log lines (log_escape,
 * common/log.c): the input is text from the network, the first byte
 * picks the context.  What comes out must be inert where it goes:
 *
 *	html	valid UTF-8; no < > " ' & but in the entities and escape
 *		markup we write; no control, bidi, zero-width or separator
 *		character; the cut at maxchars ends in U+2026
 *	log	printable ASCII only, every '"' and '\' escaped, within cap
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const markup[] = {
	"<span class=\"esc\">", "</span>", "<tspan class=\"esc\">",
	"</tspan>", "&amp;", "&lt;", "&gt;", "&quot;", "&#39;",
};

/* Aborts unless out (len bytes) is inert HTML. */
static void
check_html(const char *out, size_t len)
{
	const unsigned char	*u = (const unsigned char *)out;
	size_t			 i = 0, n, k;

	while (i < len) {
		for (k = 0; k < sizeof(markup) / sizeof(markup[0]); k++)
			if (strncmp(out + i, markup[k], strlen(markup[k])) ==
			    0)
				break;
		if (k < sizeof(markup) / sizeof(markup[0])) {
			i += strlen(markup[k]);
			continue;
		}
		if ((n = fmt_utf8_len(u + i, len - i)) == 0)
			abort();		/* invalid UTF-8 out */
		if (n == 1 && (u[i] < 0x20 || u[i] == 0x7f ||
		    strchr("<>\"'&", u[i]) != NULL))
			abort();
		if (n == 2 && u[i] == 0xc2 && u[i + 1] < 0xa0)
			abort();		/* C1 */
		if (n == 3 && u[i] == 0xe2 && u[i + 1] == 0x80 &&
		    (u[i + 2] >= 0xa8 && u[i + 2] <= 0xae))
			abort();		/* separators, bidi */
		if (n == 3 && u[i] == 0xe2 && u[i + 1] == 0x81 &&
		    u[i + 2] >= 0xa6 && u[i + 2] <= 0xa9)
			abort();		/* bidi isolates */
		i += n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*buf = NULL, out[256];
	size_t	 len = 0, n;
	FILE	*f;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		n = log_escape((const char *)data + 1, size - 1, out,
		    (size_t)(data[0] >> 1) + 1);
		if (n >= (size_t)(data[0] >> 1) + 1 || out[n] != '\0' ||
		    strlen(out) != n)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (out[i] < 0x20 || out[i] > 0x7e)
				abort();
			if (out[i] == '\\') {
				if (i + 1 == n || !strchr("\\\"x", out[i + 1]))
					abort();
				i++;
			} else if (out[i] == '"')
				abort();
		}
		return 0;
	}
	if ((f = open_memstream(&buf, &len)) == NULL)
		return 0;
	html_text(f, (const char *)data + 1, size - 1, (data[0] >> 1) % 3,
	    (data[0] >> 3) % 4 == 0 ? 0 : data[0] >> 3);
	fclose(f);
	check_html(buf, len);
	free(buf);
	return 0;
}
