/* SPDX-License-Identifier: ISC */
/*
 * svg.c -- the writers of report html: text escaped for HTML and
 * inline SVG, numbers and times, and three charts drawn as inline SVG
 * with no script: horizontal bars (top countries, ASNs...), columns per
 * time bucket, stacked, with lines over them (sessions by role), and a
 * two-column flow (MX walks).
 *
 * Every mark that stands for a value carries it in a data-v attribute
 * and a <title> (the browser shows it on hover), so that a test can
 * check each chart against the numbers it was drawn from.
 *
 * Text from the network goes only through html_text(): valid UTF-8
 * passes with & < > " ' as entities; control characters (C0, DEL, C1),
 * line and paragraph separators, bidi and zero-width format characters
 * are shown as \uXXXX and each byte of invalid UTF-8 as \xNN, marked
 * with class "esc", so nothing can reorder, hide or break the page.
 *
 * Exports html_text(), html_span(), html_num(), html_time(),
 * svg_hbars(), svg_columns() and svg_flow().
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "reports.h"

#define HBAR_W		560	/* the bar chart's width */
#define HBAR_ROW	22
#define HBAR_LABEL	230	/* room for the labels */
#define HBAR_VALUE	70	/* room for the value after a bar */
#define HBAR_LABEL_MAX	30	/* characters of a label, then "..." */
#define HBAR_SUB_MAX	22

#define COL_W		960
#define COL_H		240
#define COL_LEFT	56
#define COL_TOP		28
#define COL_BOTTOM	26
#define COL_TICKS	6

#define FLOW_W		720
#define FLOW_H		260
#define FLOW_NODE	14	/* a node's width */
#define FLOW_GAP	14	/* between the nodes of a column */
#define FLOW_LABEL	200	/* room for the node labels, each side */
#define FLOW_MAXNODES	16

static uint32_t	 html_cp(const unsigned char *, size_t);
static int	 html_unsafe(uint32_t);
static int64_t	 svg_nice(int64_t);
static void	 svg_tick_time(FILE *, int64_t, int64_t);
static int	 svg_node(const char **, int *, const char *);

/* The code point of the well-formed sequence u[0..n). */
static uint32_t
html_cp(const unsigned char *u, size_t n)
{
	if (n == 1)
		return u[0];
	if (n == 2)
		return (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
	if (n == 3)
		return (uint32_t)(u[0] & 0x0f) << 12 |
		    (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
	return (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
	    (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
}

/*
 * Whether a code point is shown escaped: controls, and the invisible
 * characters that move or hide text (bidi embeddings, overrides and
 * isolates, the Arabic letter mark, zero-width characters, separators,
 * the BOM, interlinear annotations).
 */
static int
html_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xad ||
	    c == 0x061c || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) ||
	    c == 0xfeff || (c >= 0xfff9 && c <= 0xfffb);
}

/*
 * Writes p[0..len) escaped for ctx (see the file comment): HTML_TEXT
 * marks escapes with <span class="esc">, HTML_SVG with <tspan>,
 * HTML_ATTR (inside a double-quoted attribute) not at all.  With
 * maxchars > 0, at most that many characters and then "...".
 */
void
html_text(FILE *f, const char *p, size_t len, enum html_ctx ctx,
    size_t maxchars)
{
	static const char	*open[] = { "<span class=\"esc\">", "",
				    "<tspan class=\"esc\">" };
	static const char	*close[] = { "</span>", "", "</tspan>" };
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0, n, chars = 0;
	uint32_t		 c;

	while (i < len) {
		if (maxchars > 0 && chars++ == maxchars) {
			fputs("\xe2\x80\xa6", f);	/* U+2026 */
			return;
		}
		if ((n = fmt_utf8_len(u + i, len - i)) == 0) {
			fprintf(f, "%s\\x%02x%s", open[ctx], u[i], close[ctx]);
			i++;
			continue;
		}
		c = html_cp(u + i, n);
		if (html_unsafe(c))
			fprintf(f, "%s\\u%04" PRIx32 "%s", open[ctx], c,
			    close[ctx]);
		else if (c == '&')
			fputs("&amp;", f);
		else if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c == '\'')
			fputs("&#39;", f);
		else
			fwrite(u + i, 1, n, f);
		i += n;
	}
}

/*
 * A value from the network in a table cell: "-" for NULL, else the
 * text cut at maxchars, with the whole of it (up to 1024 bytes) in a
 * title when it was cut.
 */
void
html_span(FILE *f, struct span s, size_t maxchars)
{
	if (s.p == NULL) {
		fputs("<span class=\"null\">-</span>", f);
		return;
	}
	if (s.len > maxchars) {
		fputs("<span title=\"", f);
		html_text(f, s.p, s.len < 1024 ? s.len : 1024, HTML_ATTR, 0);
		fputs("\">", f);
		html_text(f, s.p, s.len, HTML_TEXT, maxchars);
		fputs("</span>", f);
	} else
		html_text(f, s.p, s.len, HTML_TEXT, 0);
}

/* A count with thousands separated by commas. */
void
html_num(FILE *f, int64_t v)
{
	char	 buf[32];
	int	 len, lead;

	if (v < 0) {
		putc('-', f);
		v = v == INT64_MIN ? INT64_MAX : -v;
	}
	len = snprintf(buf, sizeof(buf), "%" PRId64, v);
	lead = len % 3 == 0 ? 3 : len % 3;
	fwrite(buf, 1, (size_t)lead, f);
	for (int i = lead; i < len; i += 3) {
		putc(',', f);
		fwrite(buf + i, 1, 3, f);
	}
}

/* A UTC time as "2026-11-18 11:06" (or with ":40" seconds). */
void
html_time(FILE *f, int64_t us, int seconds)
{
	time_t		 t = (time_t)(us / 1000000);
	struct tm	 tm;
	char		 buf[32];

	if (us < 0)
		t = 0;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), seconds ? "%Y-%m-%d %H:%M:%S" :
	    "%Y-%m-%d %H:%M", &tm);
	fputs(buf, f);
}

/* The smallest "nice" number >= v (and >= 1) to top a scale with. */
static int64_t
svg_nice(int64_t v)
{
	static const int	 m[] = { 10, 15, 20, 25, 30, 40, 50, 60, 80 };
	int64_t			 p = 1;

	if (v <= 10)
		return v < 1 ? 1 : v;
	while (p <= INT64_MAX / 100) {
		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
			if (v <= m[i] * p)
				return m[i] * p;
		p *= 10;
	}
	return v;
}

/*
 * Horizontal bars, one row per bar, longest first as given: the label
 * (and its sub-label) on the left, the value after the bar.  No rows:
 * a line saying so.
 */
void
svg_hbars(FILE *f, const char *id, const struct svg_bar *b, size_t n)
{
	int64_t	 max = 1;
	double	 room = HBAR_W - HBAR_LABEL - HBAR_VALUE;

	if (n == 0) {
		fprintf(f, "<p class=\"none\" id=\"%s\">none in this period"
		    "</p>\n", id);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (b[i].value > max)
			max = b[i].value;
	fprintf(f, "<svg id=\"%s\" class=\"hbars\" viewBox=\"0 0 %d %zu\" "
	    "role=\"img\">\n", id, HBAR_W, n * HBAR_ROW + 4);
	for (size_t i = 0; i < n; i++) {
		double	 w = room * (double)b[i].value / (double)max;
		size_t	 y = i * HBAR_ROW + 2;

		if (w < 1)
			w = 1;
		fputs("<g><title>", f);
		html_text(f, b[i].label.p, b[i].label.len, HTML_SVG, 200);
		if (b[i].sub.p != NULL) {
			putc(' ', f);
			html_text(f, b[i].sub.p, b[i].sub.len, HTML_SVG, 200);
		}
		fprintf(f, ": %" PRId64 "</title>", b[i].value);
		fprintf(f, "<text class=\"label\" x=\"4\" y=\"%zu\">", y + 15);
		html_text(f, b[i].label.p, b[i].label.len, HTML_SVG,
		    HBAR_LABEL_MAX);
		if (b[i].sub.p != NULL) {
			fputs(" <tspan class=\"sub\">", f);
			html_text(f, b[i].sub.p, b[i].sub.len, HTML_SVG,
			    HBAR_SUB_MAX);
			fputs("</tspan>", f);
		}
		fprintf(f, "</text><rect class=\"bar\" x=\"%d\" y=\"%zu\" "
		    "width=\"%.1f\" height=\"%d\" data-v=\"%" PRId64 "\"/>",
		    HBAR_LABEL, y + 3, w, HBAR_ROW - 6, b[i].value);
		fprintf(f, "<text class=\"v\" x=\"%.1f\" y=\"%zu\">",
		    HBAR_LABEL + w + 6, y + 15);
		html_num(f, b[i].value);
		fputs("</text></g>\n", f);
	}
	fputs("</svg>\n", f);
}

/* A tick label under the columns: a date, or a date and time. */
static void
svg_tick_time(FILE *f, int64_t us, int64_t bucket)
{
	time_t		 t = (time_t)(us / 1000000);
	struct tm	 tm;
	char		 buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), bucket >= 86400LL * 1000000 ? "%Y-%m-%d" :
	    "%m-%d %H:%M", &tm);
	fputs(buf, f);
}

/*
 * Columns, one per bucket of n starting at t0: the series that are not
 * lines stacked in order, the lines drawn over them on the same scale.
 * A legend names each series.  A column part is drawn only when its
 * value is not 0; a line has a point per bucket.
 */
void
svg_columns(FILE *f, const char *id, int64_t t0, int64_t bucket, size_t n,
    const struct svg_series *s, size_t ns)
{
	double	 pw = COL_W - COL_LEFT - 8, ph = COL_H - COL_TOP - COL_BOTTOM;
	double	 bw = n > 0 ? pw / (double)n : pw, x, y;
	int64_t	 max = 0, sum, top;
	size_t	 step, lx = COL_LEFT;

	for (size_t i = 0; i < n; i++) {
		sum = 0;
		for (size_t k = 0; k < ns; k++) {
			if (s[k].line && s[k].v[i] > max)
				max = s[k].v[i];
			else if (!s[k].line)
				sum += s[k].v[i];
		}
		if (sum > max)
			max = sum;
	}
	top = svg_nice(max);
	fprintf(f, "<svg id=\"%s\" class=\"cols\" viewBox=\"0 0 %d %d\" "
	    "role=\"img\" data-buckets=\"%zu\">\n", id, COL_W, COL_H, n);
	for (size_t k = 0; k < ns; k++) {
		fprintf(f, "<rect class=\"key %s\" x=\"%zu\" y=\"6\" "
		    "width=\"12\" height=\"12\"/><text class=\"legend\" "
		    "x=\"%zu\" y=\"17\">%s</text>\n", s[k].cls, lx, lx + 16,
		    s[k].name);
		lx += 16 + 8 * strlen(s[k].name) + 24;
	}
	for (int g = 0; g <= 2; g++) {
		y = COL_TOP + ph - ph * g / 2.0;
		fprintf(f, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" "
		    "y1=\"%.1f\" y2=\"%.1f\"/><text class=\"axis\" x=\"%d\" "
		    "y=\"%.1f\" text-anchor=\"end\">", COL_LEFT, COL_W - 8, y, y,
		    COL_LEFT - 6, y + 4);
		html_num(f, top * g / 2);
		fputs("</text>\n", f);
	}
	step = n > COL_TICKS ? (n + COL_TICKS - 1) / COL_TICKS : 1;
	for (size_t i = 0; i < n; i += step) {
		fprintf(f, "<text class=\"axis\" x=\"%.1f\" y=\"%d\">",
		    COL_LEFT + bw * (double)i, COL_H - 8);
		svg_tick_time(f, t0 + (int64_t)i * bucket, bucket);
		fputs("</text>\n", f);
	}
	for (size_t i = 0; i < n; i++) {
		double	 base = COL_TOP + ph;

		x = COL_LEFT + bw * (double)i;
		for (size_t k = 0; k < ns; k++) {
			double	 h;

			if (s[k].line || s[k].v[i] == 0)
				continue;
			h = ph * (double)s[k].v[i] / (double)top;
			base -= h;
			fprintf(f, "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" "
			    "width=\"%.2f\" height=\"%.2f\" data-v=\"%" PRId64
			    "\"><title>", s[k].cls, x + bw * 0.1, base,
			    bw * 0.8, h, s[k].v[i]);
			html_time(f, t0 + (int64_t)i * bucket, 0);
			fprintf(f, " %s: %" PRId64 "</title></rect>\n",
			    s[k].name, s[k].v[i]);
		}
	}
	for (size_t k = 0; k < ns; k++) {
		if (!s[k].line)
			continue;
		fprintf(f, "<polyline class=\"%s\" data-points=\"%zu\" "
		    "points=\"", s[k].cls, n);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%.2f,%.2f", i ? " " : "",
			    COL_LEFT + bw * ((double)i + 0.5), COL_TOP + ph -
			    ph * (double)s[k].v[i] / (double)top);
		fputs("\"/>\n", f);
	}
	fputs("</svg>\n", f);
}

/* The index of name among the nodes (added when new), or -1 if full. */
static int
svg_node(const char **nodes, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(nodes[i], name) == 0)
			return i;
	if (*n == FLOW_MAXNODES)
		return -1;
	nodes[*n] = name;
	return (*n)++;
}

/*
 * A flow from the "from" nodes on the left to the "to" nodes on the
 * right, a band per row as wide as its count.  Rows with a count of 0
 * draw nothing; no count at all: a line saying so.
 */
void
svg_flow(FILE *f, const char *id, const struct svg_flow *fl, size_t n)
{
	const char	*ln[FLOW_MAXNODES], *rn[FLOW_MAXNODES];
	int64_t		 lsum[FLOW_MAXNODES] = { 0 }, rsum[FLOW_MAXNODES] = { 0 };
	double		 ly[FLOW_MAXNODES], ry[FLOW_MAXNODES];
	double		 loff[FLOW_MAXNODES], roff[FLOW_MAXNODES], scale, y;
	int		 nl = 0, nr = 0, li, ri, gaps;
	int64_t		 total = 0;
	double		 x0 = FLOW_LABEL, x1 = FLOW_W - FLOW_LABEL;

	for (size_t i = 0; i < n; i++) {
		if (fl[i].n <= 0)
			continue;
		if ((li = svg_node(ln, &nl, fl[i].from)) == -1 ||
		    (ri = svg_node(rn, &nr, fl[i].to)) == -1)
			continue;
		lsum[li] += fl[i].n;
		rsum[ri] += fl[i].n;
		total += fl[i].n;
	}
	if (total == 0) {
		fprintf(f, "<p class=\"none\" id=\"%s\">none in this period"
		    "</p>\n", id);
		return;
	}
	gaps = (nl > nr ? nl : nr) - 1;
	scale = (FLOW_H - 20 - FLOW_GAP * gaps) / (double)total;
	y = 10;
	for (int i = 0; i < nl; i++) {
		ly[i] = loff[i] = y;
		y += (double)lsum[i] * scale + FLOW_GAP;
	}
	y = 10;
	for (int i = 0; i < nr; i++) {
		ry[i] = roff[i] = y;
		y += (double)rsum[i] * scale + FLOW_GAP;
	}
	fprintf(f, "<svg id=\"%s\" class=\"flow\" viewBox=\"0 0 %d %d\" "
	    "role=\"img\">\n", id, FLOW_W, FLOW_H);
	for (size_t i = 0; i < n; i++) {
		double	 h, a, b, xm = (x0 + x1) / 2;

		if (fl[i].n <= 0 || (li = svg_node(ln, &nl, fl[i].from)) ==
		    -1 || (ri = svg_node(rn, &nr, fl[i].to)) == -1)
			continue;
		h = fl[i].n * scale;
		a = loff[li];
		b = roff[ri];
		loff[li] += h;
		roff[ri] += h;
		fprintf(f, "<path class=\"band %s\" data-v=\"%" PRId64 "\" "
		    "d=\"M%.1f,%.2f C%.1f,%.2f %.1f,%.2f %.1f,%.2f "
		    "L%.1f,%.2f C%.1f,%.2f %.1f,%.2f %.1f,%.2f Z\">"
		    "<title>%s \xe2\x86\x92 %s: %" PRId64 "</title></path>\n",
		    fl[i].cls, fl[i].n, x0 + FLOW_NODE, a, xm, a, xm, b, x1, b,
		    x1, b + h, xm, b + h, xm, a + h, x0 + FLOW_NODE, a + h,
		    fl[i].from, fl[i].to, fl[i].n);
	}
	for (int i = 0; i < nl; i++) {
		fprintf(f, "<rect class=\"node\" x=\"%.1f\" y=\"%.2f\" "
		    "width=\"%d\" height=\"%.2f\"/><text class=\"label\" "
		    "x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\">%s ", x0, ly[i],
		    FLOW_NODE, lsum[i] * scale, x0 - 6, ly[i] +
		    lsum[i] * scale / 2 + 4, ln[i]);
		html_num(f, lsum[i]);
		fputs("</text>\n", f);
	}
	for (int i = 0; i < nr; i++) {
		fprintf(f, "<rect class=\"node\" x=\"%.1f\" y=\"%.2f\" "
		    "width=\"%d\" height=\"%.2f\"/><text class=\"label\" "
		    "x=\"%.1f\" y=\"%.2f\">%s ", x1, ry[i], FLOW_NODE,
		    rsum[i] * scale, x1 + FLOW_NODE + 6, ry[i] +
		    rsum[i] * scale / 2 + 4, rn[i]);
		html_num(f, rsum[i]);
		fputs("</text>\n", f);
	}
	fputs("</svg>\n", f);
}
