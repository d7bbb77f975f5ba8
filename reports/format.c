/* SPDX-License-Identifier: ISC */
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
 * The JSON and table escapes are those of common/escape.c (the one
 * implementation, shared with the store's event log and the log lines);
 * fmt_json_str(), fmt_term() and fmt_utf8_len() are their names here.
 *
 * Exports fmt_json_str(), fmt_csv_cell(), fmt_term(), fmt_term_width(),
 * fmt_utf8_len() and the table writer fmt_table_*().
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

static void	 fmt_csv_byte(FILE *, unsigned char);
static int	 fmt_csv_quote(const char *, size_t);
static void	 fmt_table_cell(FILE *, const char *, size_t, int, int);

/* escape_utf8_len() (common/escape.c), the name the reports know. */
size_t
fmt_utf8_len(const unsigned char *p, size_t len)
{
	return escape_utf8_len(p, len);
}

/* Writes p as a quoted JSON string: escape_json() (common/escape.c). */
void
fmt_json_str(FILE *f, const char *p, size_t len)
{
	escape_json(f, p, len);
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
		if (n == 0 || escape_utf8_unsafe(u + i, n)) {
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

/*
 * Escapes p for a terminal into out: escape_term() (common/escape.c),
 * cut with "..." to fit cap; returns the length.
 */
size_t
fmt_term(const char *p, size_t len, char *out, size_t cap)
{
	return escape_term(p, len, out, cap);
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
