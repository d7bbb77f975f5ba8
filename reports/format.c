/*
 * format.c -- output escaping for everything the reports print.  All text
 * in the database came from the network and may hold any byte; these
 * writers turn it into output that is always well-formed and inert:
 *
 *	JSON	valid UTF-8 passes; quotes, backslashes, control characters
 *		(C0, DEL, C1), U+2028 and U+2029 and the format characters
 *		(Unicode category Cf: bidi overrides and isolates, zero
 *		width characters, BOM, ...) are \-escaped (\uXXXX, a
 *		surrogate pair above U+FFFF); each byte of invalid UTF-8
 *		becomes \u00XX.  The result is valid UTF-8 JSON.
 *	CSV	RFC 4180 quoting, formula cells neutralised, control and
 *		format characters and invalid UTF-8 written as \xNN text
 *		(see fmt_csv_cell).
 *	table	printable ASCII only, everything else \xNN (fmt_term), cut
 *		with "..." to fit the terminal.
 *
 * Exports fmt_json_str(), fmt_csv_cell(), fmt_term(), fmt_term_width()
 * and the table writer fmt_table_*().
 */
#include <sys/ioctl.h>

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "reports.h"

#define FMT_CELL_MAX	256	/* escaped table cell, then "..." */
#define FMT_MIN_SHRINK	6	/* narrowest a shrinking column gets */

struct fmt_table {
	const struct fmt_col	*cols;
	int			 ncols;
	char			**cells;	/* nrows * ncols, escaped */
	size_t			 nrows, cap;
};

static const char fmt_hex[] = "0123456789abcdef";

static size_t	 fmt_utf8_len(const unsigned char *, size_t);
static int	 fmt_utf8_unsafe(const unsigned char *, size_t);
static size_t	 fmt_term_char(unsigned char, char[4]);
static void	 fmt_csv_byte(FILE *, unsigned char);
static int	 fmt_csv_quote(const char *, size_t);
static void	 fmt_table_cell(FILE *, const char *, size_t, int, int);

/*
 * Length of the well-formed UTF-8 sequence at p (1 to 4, RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF), or 0 when the
 * byte at p does not start one.
 */
static size_t
fmt_utf8_len(const unsigned char *p, size_t len)
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
static const struct { uint32_t lo, hi; } fmt_cf[] = {
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
fmt_utf8_cp(const unsigned char *u, size_t n)
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
 * characters (fmt_cf).
 */
static int
fmt_utf8_unsafe(const unsigned char *u, size_t n)
{
	uint32_t cp = fmt_utf8_cp(u, n);

	if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 ||
	    cp == 0x2029)
		return 1;
	for (size_t i = 0; i < sizeof(fmt_cf) / sizeof(fmt_cf[0]); i++)
		if (cp >= fmt_cf[i].lo && cp <= fmt_cf[i].hi)
			return 1;
	return 0;
}

/* Writes p as a quoted JSON string (see the file comment). */
void
fmt_json_str(FILE *f, const char *p, size_t len)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0, n;

	putc('"', f);
	while (i < len) {
		unsigned char c = u[i];

		if ((n = fmt_utf8_len(u + i, len - i)) == 0) {
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
		else if (!fmt_utf8_unsafe(u + i, n))
			fwrite(u + i, 1, n, f);
		else {
			uint32_t cp = fmt_utf8_cp(u + i, n);

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

static void
fmt_csv_byte(FILE *f, unsigned char c)
{
	putc('\\', f);
	putc('x', f);
	putc(fmt_hex[c >> 4], f);
	putc(fmt_hex[c & 15], f);
}

/* Whether a cell needs RFC 4180 quotes (after our escaping). */
static int
fmt_csv_quote(const char *p, size_t len)
{
	if (len == 0)
		return 0;
	if (p[0] == ' ' || p[len - 1] == ' ')
		return 1;	/* some readers trim unquoted spaces */
	return memchr(p, '"', len) != NULL || memchr(p, ',', len) != NULL;
}

/*
 * Writes p as one CSV cell.  So that one session is always one line and a
 * spreadsheet never evaluates a cell:
 *  - a cell starting with '=', '+', '-', '@', TAB or CR gets a leading
 *    "'" (OWASP's CSV injection advice);
 *  - control characters (C0 incl. NUL, CR, LF; DEL; C1; U+2028 and
 *    U+2029), format characters (Cf: bidi overrides, zero width ...)
 *    and each byte of invalid UTF-8 are written byte by byte as
 *    the four characters \xNN, and a backslash as \\, so the original
 *    bytes can be recovered;
 *  - the cell is quoted, quotes doubled, when it holds '"' or ',' or
 *    starts or ends with a space.
 * NULL and the empty string both give an empty cell.
 */
void
fmt_csv_cell(FILE *f, const char *p, size_t len)
{
	const unsigned char	*u = (const unsigned char *)p;
	int			 quote = fmt_csv_quote(p, len);
	size_t			 i = 0, n;

	if (len == 0)
		return;
	if (quote)
		putc('"', f);
	if (memchr("=+-@\t\r", p[0], 6) != NULL)
		putc('\'', f);
	while (i < len) {
		unsigned char c = u[i];

		n = fmt_utf8_len(u + i, len - i);
		if (n == 0 || fmt_utf8_unsafe(u + i, n)) {
			if (n == 0)
				n = 1;
			for (size_t k = 0; k < n; k++)
				fmt_csv_byte(f, u[i + k]);
		} else if (c == '\\')
			fputs("\\\\", f);
		else if (c == '"')
			fputs("\"\"", f);
		else
			fwrite(u + i, 1, n, f);
		i += n;
	}
	if (quote)
		putc('"', f);
}

/* The escape of one byte for a terminal; returns its length. */
static size_t
fmt_term_char(unsigned char c, char tmp[4])
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
	tmp[2] = fmt_hex[c >> 4];
	tmp[3] = fmt_hex[c & 15];
	return 4;
}

/*
 * Escapes p for a terminal into out: printable ASCII passes, a backslash
 * is doubled, every other byte (controls, ESC, >= 0x80) becomes \xNN --
 * the rule of util_escape_term().  When the result does not fit in cap
 * it is cut at a whole escape and ends in "...".  out is always
 * NUL-terminated (cap > 0); returns its length.
 */
size_t
fmt_term(const char *p, size_t len, char *out, size_t cap)
{
	char	 tmp[4];
	size_t	 need = 0, room, o = 0, n;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		need += fmt_term_char((unsigned char)p[i], tmp);
	if (need < cap)
		room = need;
	else
		room = cap > 4 ? cap - 4 : 0;
	for (size_t i = 0; i < len; i++) {
		n = fmt_term_char((unsigned char)p[i], tmp);
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

/* The width of the terminal f writes to, or 0 (no limit) if none. */
size_t
fmt_term_width(FILE *f)
{
	struct winsize	 ws;
	int		 fd = fileno(f);

	if (fd == -1 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) == -1)
		return 0;
	return ws.ws_col;
}

/* A table with the given columns (kept by reference); NULL on ENOMEM. */
struct fmt_table *
fmt_table_new(const struct fmt_col *cols, int ncols)
{
	struct fmt_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->cols = cols;
	t->ncols = ncols;
	return t;
}

/*
 * Adds a row of ncols cells, escaped with fmt_term() and copied; a cell
 * with a NULL pointer shows as "-".  Returns 0, or -1 on ENOMEM.
 */
int
fmt_table_add(struct fmt_table *t, const struct span *cells)
{
	char	 buf[FMT_CELL_MAX + 1], **row;
	size_t	 n = (t->nrows + 1) * (size_t)t->ncols;

	if (n > t->cap) {
		size_t	 cap = t->cap == 0 ? 64 * (size_t)t->ncols : t->cap * 2;
		char	**cells2 = realloc(t->cells, cap * sizeof(*cells2));

		if (cells2 == NULL)
			return -1;
		t->cells = cells2;
		t->cap = cap;
	}
	row = t->cells + t->nrows * (size_t)t->ncols;
	for (int i = 0; i < t->ncols; i++) {
		if (cells[i].p == NULL)
			strlcpy_(buf, "-", sizeof(buf));
		else
			fmt_term(cells[i].p, cells[i].len, buf, sizeof(buf));
		if ((row[i] = strdup(buf)) == NULL) {
			while (i-- > 0)
				free(row[i]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

/* One cell, padded to w, cut with "..." when longer; no pad if last. */
static void
fmt_table_cell(FILE *f, const char *s, size_t w, int flags, int last)
{
	size_t	 len = strlen(s);

	if (len > w) {
		if (w > 3)
			fprintf(f, "%.*s...", (int)(w - 3), s);
		else
			fprintf(f, "%.*s", (int)w, s);
		return;
	}
	if (flags & FMT_RIGHT)
		fprintf(f, "%*s", (int)w, s);
	else if (last)
		fputs(s, f);
	else
		fprintf(f, "%-*s", (int)w, s);
}

/*
 * Prints the header and rows, columns two spaces apart.  When width is
 * not 0 and the table is wider, the widest FMT_SHRINK columns are
 * narrowed one at a time (to FMT_MIN_SHRINK at least) until it fits.
 */
void
fmt_table_print(struct fmt_table *t, FILE *f, size_t width)
{
	size_t	*w, total;
	int	 i, widest;

	if ((w = calloc((size_t)t->ncols, sizeof(*w))) == NULL)
		return;
	for (i = 0; i < t->ncols; i++)
		w[i] = strlen(t->cols[i].name);
	for (size_t r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++) {
			size_t len = strlen(t->cells[r * t->ncols + i]);
			if (len > w[i])
				w[i] = len;
		}
	total = 2 * (size_t)(t->ncols - 1);
	for (i = 0; i < t->ncols; i++)
		total += w[i];
	while (width != 0 && total > width) {
		widest = -1;
		for (i = 0; i < t->ncols; i++)
			if ((t->cols[i].flags & FMT_SHRINK) &&
			    w[i] > FMT_MIN_SHRINK &&
			    (widest == -1 || w[i] > w[widest]))
				widest = i;
		if (widest == -1)
			break;
		w[widest]--;
		total--;
	}
	for (i = 0; i < t->ncols; i++) {
		fmt_table_cell(f, t->cols[i].name, w[i], t->cols[i].flags,
		    i == t->ncols - 1);
		fputs(i == t->ncols - 1 ? "\n" : "  ", f);
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols; i++) {
			fmt_table_cell(f, t->cells[r * t->ncols + i], w[i],
			    t->cols[i].flags, i == t->ncols - 1);
			fputs(i == t->ncols - 1 ? "\n" : "  ", f);
		}
	free(w);
}

/* Frees the table and its cells; NULL is allowed. */
void
fmt_table_free(struct fmt_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
