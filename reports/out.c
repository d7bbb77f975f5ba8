/* SPDX-License-Identifier: ISC */
/*
 * out.c -- one writer for every list the reports print: rows of typed
 * columns written as a JSON array of objects, RFC 4180 CSV, or an
 * aligned table (format.c does the escaping).  A report that has several
 * lists (summary, ip) names each one a section: a key of the enclosing
 * JSON object, the first CSV column, a heading above the table.
 *
 * Text always goes through fmt_json_str(), fmt_csv_cell() or the table
 * writer; numbers and times are formatted here from integers.
 *
 * Exports out_begin(), out_row(), out_row_vals(), out_stmt_val(),
 * out_end(), out_csv_header(), out_prepare(), out_table_exists() and
 * out_set_sink().
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"

#define OUT_ANOMS_MAX	256

/* Where FORMAT_ROWS rows go (report html); one per process. */
static out_sink_fn	*out_sink;
static void		*out_sink_arg;

static void	 out_anoms(int64_t, char *, size_t);
static void	 out_json_val(struct out *, const struct out_col *,
		    const struct out_val *);
static void	 out_csv_val(struct out *, const struct out_col *,
		    const struct out_val *);
static void	 out_text_val(const struct out_col *, const struct out_val *,
		    char *, size_t, struct span *);

/* The names of the anomaly bits set, space-separated, into buf. */
static void
out_anoms(int64_t bits, char *buf, size_t len)
{
	size_t	 n = 0;

	buf[0] = '\0';
	for (int i = 0; i < ANOM_COUNT; i++) {
		if (!(bits & (1LL << i)))
			continue;
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s",
		    n == 0 ? "" : " ", anomaly_name(i));
	}
}

/* Prints the CSV header line, with a first "section" column if asked. */
void
out_csv_header(FILE *f, const struct out_col *cols, int ncols,
    int with_section)
{
	if (with_section)
		fputs("section,", f);
	for (int i = 0; i < ncols; i++)
		fprintf(f, "%s%s", cols[i].name, i + 1 < ncols ? "," : "\r\n");
}

/*
 * Starts a list on f.  With a section, JSON writes "section":[ (the
 * caller writes the enclosing braces and commas) and CSV prefixes each
 * row with the section and prints no header (out_csv_header() is the
 * caller's).  Returns 0, or -1 on ENOMEM.
 */
int
out_begin(struct out *o, enum report_format format, FILE *f,
    const struct out_col *cols, int ncols, const char *section)
{
	memset(o, 0, sizeof(*o));
	o->format = format;
	o->f = f;
	o->cols = cols;
	o->ncols = ncols;
	o->section = section;
	switch (format) {
	case FORMAT_JSON:
		if (section != NULL)
			fprintf(f, "\"%s\":", section);	/* our own names */
		putc('[', f);
		break;
	case FORMAT_CSV:
		if (section == NULL)
			out_csv_header(f, cols, ncols, 0);
		break;
	case FORMAT_ROWS:
		break;
	case FORMAT_TABLE:
		{
			struct fmt_col	*tc;

			/* fmt_col and out_col differ: build the former. */
			if ((tc = calloc((size_t)ncols, sizeof(*tc))) == NULL)
				return -1;
			for (int i = 0; i < ncols; i++) {
				tc[i].name = cols[i].name;
				tc[i].flags = cols[i].flags;
			}
			o->tcols = tc;
			if ((o->t = fmt_table_new(tc, ncols)) == NULL) {
				free(tc);
				o->tcols = NULL;
				return -1;
			}
		}
		break;
	}
	return 0;
}

static void
out_json_val(struct out *o, const struct out_col *c, const struct out_val *v)
{
	char	 buf[64];
	int	 first = 1;

	fprintf(o->f, "\"%s\":", c->name);
	if (c->type == OUT_TEXT ? v->s.p == NULL : v->null) {
		fputs("null", o->f);
		return;
	}
	switch (c->type) {
	case OUT_TEXT:
		fmt_json_str(o->f, v->s.p, v->s.len);
		break;
	case OUT_INT:
		fprintf(o->f, "%lld", (long long)v->i);
		break;
	case OUT_REAL:
	case OUT_SECONDS:
		fprintf(o->f, "%.3f", v->d);
		break;
	case OUT_LIST:
		if (v->j.p == NULL)
			fputs("null", o->f);
		else
			fwrite(v->j.p, 1, v->j.len, o->f);
		break;
	case OUT_TIME:
		util_iso8601(v->i, buf, sizeof(buf));
		fprintf(o->f, "\"%s\"", buf);
		break;
	case OUT_ANOMS:
		putc('[', o->f);
		for (int i = 0; i < ANOM_COUNT; i++) {
			if (!(v->i & (1LL << i)))
				continue;
			fprintf(o->f, "%s\"%s\"", first ? "" : ",",
			    anomaly_name(i));
			first = 0;
		}
		putc(']', o->f);
		break;
	}
}

/*
 * The raw text of a value for CSV or the table, into buf (numbers,
 * times, anomaly names) or pointing at the value itself (text).
 */
static void
out_text_val(const struct out_col *c, const struct out_val *v, char *buf,
    size_t len, struct span *s)
{
	s->p = buf;
	buf[0] = '\0';
	if (c->type == OUT_TEXT || c->type == OUT_LIST) {
		*s = v->s;
		return;
	}
	if (v->null) {
		s->p = NULL;
		s->len = 0;
		return;
	}
	switch (c->type) {
	case OUT_INT:
		snprintf(buf, len, "%lld", (long long)v->i);
		break;
	case OUT_REAL:
		snprintf(buf, len, "%.1f", v->d);
		break;
	case OUT_SECONDS:
		snprintf(buf, len, "%.3f", v->d);
		break;
	case OUT_TIME:
		util_iso8601(v->i, buf, len);
		break;
	case OUT_ANOMS:
		out_anoms(v->i, buf, len);
		break;
	case OUT_TEXT:
	case OUT_LIST:
		break;
	}
	s->len = strlen(buf);
}

static void
out_csv_val(struct out *o, const struct out_col *c, const struct out_val *v)
{
	char		 buf[OUT_ANOMS_MAX];
	struct span	 s;

	out_text_val(c, v, buf, sizeof(buf), &s);
	if (s.p == NULL)
		return;
	/* A number or time we printed, starting with a digit, is the same
	 * as a cell: skip the escaper, byte by byte. */
	if (c->type != OUT_TEXT && c->type != OUT_LIST && c->type != OUT_ANOMS &&
	    s.len > 0 && s.p[0] >= '0' && s.p[0] <= '9')
		fwrite(s.p, 1, s.len, o->f);
	else
		fmt_csv_cell(o->f, s.p, s.len);
}

/* Adds one row of values, one per column.  Returns 0 or -1 (ENOMEM). */
int
out_row_vals(struct out *o, const struct out_val *vals)
{
	struct span	*cells;
	char		(*bufs)[OUT_ANOMS_MAX];
	int		 ret = 0;

	switch (o->format) {
	case FORMAT_JSON:
		fputs(o->nrows == 0 ? "\n{" : ",\n{", o->f);
		for (int i = 0; i < o->ncols; i++) {
			if (i > 0)
				putc(',', o->f);
			out_json_val(o, &o->cols[i], &vals[i]);
		}
		putc('}', o->f);
		break;
	case FORMAT_CSV:
		if (o->section != NULL)
			fprintf(o->f, "%s,", o->section);
		for (int i = 0; i < o->ncols; i++) {
			if (i > 0)
				putc(',', o->f);
			out_csv_val(o, &o->cols[i], &vals[i]);
		}
		fputs("\r\n", o->f);
		break;
	case FORMAT_ROWS:
		if (out_sink != NULL)
			out_sink(out_sink_arg, o->section, o->cols, o->ncols,
			    vals);
		break;
	case FORMAT_TABLE:
		cells = calloc((size_t)o->ncols, sizeof(*cells));
		bufs = calloc((size_t)o->ncols, sizeof(*bufs));
		if (cells == NULL || bufs == NULL)
			ret = -1;
		for (int i = 0; ret == 0 && i < o->ncols; i++) {
			out_text_val(&o->cols[i], &vals[i], bufs[i],
			    sizeof(bufs[i]), &cells[i]);
			/* Times to the second read better in a table. */
			if (o->cols[i].type == OUT_TIME && cells[i].p != NULL &&
			    cells[i].len >= 19) {
				bufs[i][10] = ' ';
				cells[i].len = 19;
			}
			if (o->cols[i].type == OUT_ANOMS && cells[i].len == 0)
				cells[i].p = NULL;
		}
		if (ret == 0)
			ret = fmt_table_add(o->t, cells);
		free(cells);
		free(bufs);
		break;
	}
	o->nrows++;
	return ret;
}

/* The value of column col of q as the type t into v (text points into q). */
void
out_stmt_val(sqlite3_stmt *q, int col, enum out_type t, struct out_val *v)
{
	memset(v, 0, sizeof(*v));
	if (sqlite3_column_type(q, col) == SQLITE_NULL) {
		v->null = 1;
		return;
	}
	if (t == OUT_TEXT || t == OUT_LIST) {
		v->s.p = (const char *)sqlite3_column_text(q, col);
		v->s.len = (size_t)sqlite3_column_bytes(q, col);
		if (v->s.p == NULL)
			v->s.p = "";
	} else if (t == OUT_REAL || t == OUT_SECONDS)
		v->d = sqlite3_column_double(q, col);
	else
		v->i = sqlite3_column_int64(q, col);
}

/* Adds the current row of q: column i of q is column i of the list. */
int
out_row(struct out *o, sqlite3_stmt *q)
{
	struct out_val	 vals[32];

	for (int i = 0; i < o->ncols && i < 32; i++)
		out_stmt_val(q, i, o->cols[i].type, &vals[i]);
	return out_row_vals(o, vals);
}

/* Ends the list: closes the JSON array or prints the table. */
int
out_end(struct out *o)
{
	switch (o->format) {
	case FORMAT_JSON:
		fputs(o->nrows == 0 ? "]" : "\n]", o->f);
		if (o->section == NULL)
			putc('\n', o->f);
		break;
	case FORMAT_CSV:
	case FORMAT_ROWS:
		break;
	case FORMAT_TABLE:
		if (o->section != NULL)
			fprintf(o->f, "\n%s\n", o->section);
		if (o->nrows == 0 && o->section != NULL)
			fputs("(none)\n", o->f);
		else
			fmt_table_print(o->t, o->f, fmt_term_width(o->f));
		fmt_table_free(o->t);
		free(o->tcols);
		o->t = NULL;
		o->tcols = NULL;
		break;
	}
	return ferror(o->f) ? -1 : 0;
}

/*
 * Prepares sql on db; on failure prints "decoymx report WHAT: ..." and
 * returns -1.
 */
int
out_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **q, const char *what)
{
	if (sqlite3_prepare_v2(db, sql, -1, q, NULL) == SQLITE_OK)
		return 0;
	fprintf(stderr, "decoymx %s: database %s: %s\n", what,
	    sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
	*q = NULL;
	return -1;
}

/* Whether db has a table called name (e.g. the sensor's, schema 4). */
int
out_table_exists(sqlite3 *db, const char *name)
{
	sqlite3_stmt	*q;
	int		 found = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE"
	    " type = 'table' AND name = ?1", -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return found;
}

/*
 * Sets where the rows of FORMAT_ROWS lists go: fn(arg, section, cols,
 * ncols, vals) per row; the values live only during the call.
 */
void
out_set_sink(out_sink_fn *fn, void *arg)
{
	out_sink = fn;
	out_sink_arg = arg;
}
