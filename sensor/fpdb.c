/* SPDX-License-Identifier: ISC */
/*
 * fpdb.c -- signature files in p0f v3's p0f.fp format, read at run time,
 * and the matching of a SYN against them (exact, generic, fuzzy).
 *
 * Only the [tcp:request] section is used; [mtu], [tcp:response] and the
 * [http:*] sections are skipped.  Several files may be loaded into one
 * database: decoymx's own dist/decoymx-fp.fp first, then p0f's.  Within
 * a file, "classes = a,b" declares the classes, "label = s|g:CLASS:NAME:
 * FLAVOR" starts a label (g: generic, CLASS "!" a userland tool), "sys ="
 * follows a tool label, and "sig = ..." lines give signatures:
 *
 *   ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass
 *
 * Matching follows p0f 3.09 (the first exact match in load order wins;
 * else the first generic one; else the first fuzzy one, where fuzzy
 * means a TTL too far or only 'df'/'id+' gone or 'id-'/'ecn' added),
 * with two deliberate differences, documented in decoymx(8), THE SENSOR:
 *
 *   - a signature for IPv4 (or IPv6) only never matches the other
 *     version (p0f ignores the version when matching);
 *   - the IPv6 'flow' quirk is ignored unless the signature asks for it:
 *     current stacks set a random flow label on every connection, so
 *     p0f's database otherwise never matches them over IPv6.
 *
 * Errors name the file and line.  Exports fpdb_new(), fpdb_free(),
 * fpdb_load(), fpdb_load_mem(), fpdb_load_conf(), fpdb_count(),
 * fpdb_match() and fpdb_quality_name().
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sensor.h"

#define BUCKETS		64
#define MAX_CLASSES	32
#define MAX_FILES	8
#define LINE_MAX_	4096
#define NAME_CHARS	" ./-_!?()"

enum wtype { W_ANY, W_NORMAL, W_MOD, W_MSS, W_MTU };

struct fpsig {
	int8_t		 ver;		/* -1: either */
	uint8_t		 ittl;
	uint8_t		 bad_ttl;	/* "64-": the TTL is random */
	uint8_t		 olen;
	int32_t		 mss;		/* -1: any */
	enum wtype	 wtype;
	int32_t		 win;
	int16_t		 scale;		/* -1: any */
	uint8_t		 nopt;
	uint8_t		 olayout[MAX_TCP_OPT];
	uint8_t		 eol_pad;
	uint32_t	 quirks;
	int8_t		 pclass;	/* -1: any */
	uint8_t		 generic;
	int		 label;		/* index into labels[] */
	int		 file;		/* index into files[] */
	int		 line;
};

struct fplabel {
	char		 text[LABEL_MAX];	/* "Linux 3.11 and newer" */
	char		 os_class[CLASS_MAX];	/* "app" for '!' */
	uint8_t		 tool;
};

struct fpdb {
	struct fpsig	*sigs;
	size_t		 nsigs, capsigs;
	struct fplabel	*labels;
	size_t		 nlabels, caplabels;
	uint32_t	*bucket[BUCKETS];	/* indexes into sigs, in order */
	size_t		 nbucket[BUCKETS];
	char		 classes[MAX_CLASSES][CLASS_MAX];
	int		 nclasses;
	char		*files[MAX_FILES];
	int		 nfiles;
};

/* Parser state of one file. */
struct fpparse {
	struct fpdb	*db;
	const char	*name;
	int		 line;
	int		 in_tcp_req;	/* inside [tcp:request] */
	int		 label;		/* current label, -1 none */
	int		 need_sys;
	uint8_t		 generic;
	char		*err;
	size_t		 errlen;
};

static int	 fpdb_line(struct fpparse *, char *);
static int	 fpdb_classes(struct fpparse *, char *);
static int	 fpdb_label(struct fpparse *, char *);
static int	 fpdb_sig(struct fpparse *, char *);
static int	 fpdb_fail(struct fpparse *, const char *);
static uint32_t	 fpdb_hash(const uint8_t *, size_t);
static int	 fpdb_num(char **, long, long, long *, const char *);
static int	 fpdb_olayout(char **, struct fpsig *);
static int	 fpdb_quirklist(char **, struct fpsig *);
static int	 fpdb_window(char **, struct fpsig *);
static int	 sig_matches(const struct fpsig *, const struct syn *,
		    uint32_t, int16_t, uint8_t, int *fuzzy);

static const struct {
	const char	*name;
	uint32_t	 bit;
	int8_t		 only;		/* IP version the quirk needs, or 0 */
} quirk_words[] = {
	{ "df", Q_DF, 4 }, { "id+", Q_NZ_ID, 4 }, { "id-", Q_ZERO_ID, 4 },
	{ "ecn", Q_ECN, 0 }, { "0+", Q_NZ_MBZ, 4 }, { "flow", Q_FLOW, 6 },
	{ "seq-", Q_ZERO_SEQ, 0 }, { "ack+", Q_NZ_ACK, 0 },
	{ "ack-", Q_ZERO_ACK, 0 }, { "uptr+", Q_NZ_URG, 0 },
	{ "urgf+", Q_URG, 0 }, { "pushf+", Q_PUSH, 0 },
	{ "ts1-", Q_TS1_ZERO, 0 }, { "ts2+", Q_TS2_NZ, 0 },
	{ "opt+", Q_OPT_EOL_NZ, 0 }, { "exws", Q_EXWS, 0 },
	{ "bad", Q_OPT_BAD, 0 },
};

static const struct {
	const char	*name;
	uint8_t		 kind;
} opt_words[] = {
	{ "nop", OPT_NOP }, { "mss", OPT_MSS }, { "ws", OPT_WS },
	{ "sok", OPT_SOK }, { "sack", OPT_SACK }, { "ts", OPT_TS },
};

static const char *quality_names[] = {
	[FPM_NONE] = "none", [FPM_EXACT] = "exact",
	[FPM_GENERIC] = "generic", [FPM_FUZZY] = "fuzzy",
};

const char *
fpdb_quality_name(enum fp_quality q)
{
	return (unsigned)q <= FPM_FUZZY ? quality_names[q] : "?";
}

/* An empty database; free with fpdb_free(). NULL when out of memory. */
struct fpdb *
fpdb_new(void)
{
	return calloc(1, sizeof(struct fpdb));
}

void
fpdb_free(struct fpdb *db)
{
	if (db == NULL)
		return;
	for (int i = 0; i < BUCKETS; i++)
		free(db->bucket[i]);
	for (int i = 0; i < db->nfiles; i++)
		free(db->files[i]);
	free(db->sigs);
	free(db->labels);
	free(db);
}

size_t
fpdb_count(const struct fpdb *db)
{
	return db->nsigs;
}

static int
fpdb_fail(struct fpparse *ps, const char *what)
{
	snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->name, ps->line, what);
	return -1;
}

static uint32_t
fpdb_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/*
 * Reads a signature file into db.  A file that does not exist is an
 * error too; callers that treat the file as optional check first.
 * Returns 0, or -1 with "file:line: what" in err (db keeps what was
 * read before the bad line).
 */
int
fpdb_load(struct fpdb *db, const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	*buf;
	size_t	 len = 0, cap = 65536;
	int	 rv;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(cap)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len < cap)
			break;
		char *nb = cap >= (16u << 20) ? NULL : realloc(buf, cap * 2);
		if (nb == NULL) {
			free(buf);
			fclose(f);
			snprintf(err, errlen, "%s: too large", path);
			return -1;
		}
		buf = nb;
		cap *= 2;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rv = -1;
	} else
		rv = fpdb_load_mem(db, path, buf, len, err, errlen);
	free(buf);
	fclose(f);
	return rv;
}

/* As fpdb_load(), from memory; name is used in messages. */
int
fpdb_load_mem(struct fpdb *db, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	struct fpparse	 ps;
	char		 line[LINE_MAX_];
	size_t		 i = 0, n;

	if (db->nfiles >= MAX_FILES) {
		snprintf(err, errlen, "%s: more than %d signature files", name,
		    MAX_FILES);
		return -1;
	}
	if ((db->files[db->nfiles] = strdup(name)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	db->nfiles++;
	memset(&ps, 0, sizeof(ps));
	ps.db = db;
	ps.name = name;
	ps.label = -1;
	ps.err = err;
	ps.errlen = errlen;
	while (i < len) {
		ps.line++;
		for (n = 0; i + n < len && text[i + n] != '\n'; n++)
			;
		if (n >= sizeof(line))
			return fpdb_fail(&ps, "line too long");
		memcpy(line, text + i, n);
		line[n] = '\0';
		i += n + 1;
		if (memchr(line, '\0', n) != NULL)
			return fpdb_fail(&ps, "NUL byte in line");
		if (fpdb_line(&ps, line) == -1)
			return -1;
	}
	return 0;
}

/* One line: a section header, "classes", "label", "sys" or "sig". */
static int
fpdb_line(struct fpparse *ps, char *s)
{
	char	*key, *val, *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (*s == '\0' || *s == ';')
		return 0;
	if (*s == '[') {
		if (e[-1] != ']')
			return fpdb_fail(ps, "malformed section header");
		ps->in_tcp_req = strcmp(s, "[tcp:request]") == 0;
		ps->label = -1;
		ps->need_sys = 0;
		return 0;
	}
	key = s;
	while (isalpha((unsigned char)*s) || *s == '_')
		s++;
	val = s;
	while (*val == ' ' || *val == '\t')
		val++;
	if (s == key || *val != '=')
		return fpdb_fail(ps, "expected 'name = value'");
	*s = '\0';
	val++;
	while (*val == ' ' || *val == '\t')
		val++;
	if (strcmp(key, "classes") == 0)
		return fpdb_classes(ps, val);
	if (!ps->in_tcp_req)
		return 0;		/* other modules: not ours */
	if (strcmp(key, "label") == 0)
		return fpdb_label(ps, val);
	if (strcmp(key, "sys") == 0) {
		if (!ps->need_sys)
			return fpdb_fail(ps, "'sys' without a tool label");
		ps->need_sys = 0;
		return 0;
	}
	if (strcmp(key, "sig") == 0) {
		if (ps->label < 0 || ps->need_sys)
			return fpdb_fail(ps, "'sig' before its label (and sys)");
		return fpdb_sig(ps, val);
	}
	return fpdb_fail(ps, "unknown field");
}

static int
fpdb_classes(struct fpparse *ps, char *v)
{
	struct fpdb	*db = ps->db;
	char		*w;

	while ((w = strsep(&v, ",")) != NULL) {
		while (isspace((unsigned char)*w))
			w++;
		size_t n = strlen(w);
		while (n > 0 && isspace((unsigned char)w[n - 1]))
			w[--n] = '\0';
		if (n == 0 || n >= CLASS_MAX)
			return fpdb_fail(ps, "malformed class name");
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)w[i]))
				return fpdb_fail(ps, "malformed class name");
		int found = 0;
		for (int i = 0; i < db->nclasses; i++)
			if (strcasecmp(db->classes[i], w) == 0)
				found = 1;
		if (found)
			continue;
		if (db->nclasses >= MAX_CLASSES)
			return fpdb_fail(ps, "too many classes");
		strlcpy_(db->classes[db->nclasses++], w, CLASS_MAX);
	}
	return 0;
}

/* "s:unix:Linux:3.11 and newer", "g:win:Windows:", "s:!:nmap:SYN scan" */
static int
fpdb_label(struct fpparse *ps, char *v)
{
	struct fpdb	*db = ps->db;
	struct fplabel	 l;
	char		*cls, *name, *p;

	memset(&l, 0, sizeof(l));
	if ((v[0] != 's' && v[0] != 'g') || v[1] != ':')
		return fpdb_fail(ps, "label must start with s: or g:");
	ps->generic = v[0] == 'g';
	cls = v + 2;
	if ((p = strchr(cls, ':')) == NULL)
		return fpdb_fail(ps, "label without a name");
	*p = '\0';
	name = p + 1;
	if (strcmp(cls, "!") == 0) {
		l.tool = 1;
		strlcpy_(l.os_class, "app", sizeof(l.os_class));
	} else {
		int i;
		for (i = 0; i < db->nclasses; i++)
			if (strcasecmp(db->classes[i], cls) == 0)
				break;
		if (i == db->nclasses)
			return fpdb_fail(ps, "label with an undeclared class");
		strlcpy_(l.os_class, db->classes[i], sizeof(l.os_class));
	}
	for (p = name; isalnum((unsigned char)*p) ||
	    (*p != '\0' && strchr(NAME_CHARS, *p) != NULL); p++)
		;
	if (p == name || *p != ':')
		return fpdb_fail(ps, "malformed name in label");
	*p++ = '\0';
	if (*p != '\0')
		snprintf(l.text, sizeof(l.text), "%s %s", name, p);
	else
		snprintf(l.text, sizeof(l.text), "%s", name);
	for (p = l.text; *p != '\0'; p++)
		if (!isprint((unsigned char)*p))
			return fpdb_fail(ps, "control character in label");
	if (db->nlabels == db->caplabels) {
		size_t nc = db->caplabels ? db->caplabels * 2 : 64;
		struct fplabel *nl = reallocarray(db->labels, nc, sizeof(*nl));
		if (nl == NULL)
			return fpdb_fail(ps, "out of memory");
		db->labels = nl;
		db->caplabels = nc;
	}
	db->labels[db->nlabels] = l;
	ps->label = (int)db->nlabels++;
	ps->need_sys = l.tool;
	return 0;
}

/*
 * Reads a decimal in [min, max] from *p, which must end at one of the
 * characters in stops.  Returns 0 with *p on that character, or -1.
 */
static int
fpdb_num(char **p, long min, long max, long *v, const char *stops)
{
	char	*s = *p;
	long	 n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		n = n * 10 + (*s - '0');
		if (n > max)
			return -1;
	}
	if (*s == '\0' || strchr(stops, *s) == NULL || n < min)
		return -1;
	*v = n;
	*p = s;
	return 0;
}

/* Reads the option layout up to ':'; returns 0 with *p past it. */
static int
fpdb_olayout(char **p, struct fpsig *g)
{
	char	*s = *p;
	long	 v;
	size_t	 i, n = sizeof(opt_words) / sizeof(opt_words[0]);

	while (*s != ':') {
		if (g->nopt >= MAX_TCP_OPT)
			return -1;
		if (strncmp(s, "eol+", 4) == 0) {
			s += 4;
			/* EOL must come last. */
			if (fpdb_num(&s, 0, 255, &v, ":") == -1)
				return -1;
			g->olayout[g->nopt++] = OPT_EOL;
			g->eol_pad = (uint8_t)v;
			break;
		}
		if (*s == '?') {
			s++;
			if (fpdb_num(&s, 0, 255, &v, ",:") == -1)
				return -1;
			g->olayout[g->nopt++] = (uint8_t)v;
		} else {
			for (i = 0; i < n; i++) {
				size_t l = strlen(opt_words[i].name);
				if (strncmp(s, opt_words[i].name, l) == 0 &&
				    (s[l] == ',' || s[l] == ':'))
					break;
			}
			if (i == n)
				return -1;
			g->olayout[g->nopt++] = opt_words[i].kind;
			s += strlen(opt_words[i].name);
		}
		if (*s == ',' && s[1] != ':')
			s++;
		else if (*s != ':')
			return -1;
	}
	*p = s + 1;
	return 0;
}

/* Reads the quirks up to ':'; returns 0 with *p past it. */
static int
fpdb_quirklist(char **p, struct fpsig *g)
{
	char	*s = *p;

	while (*s != ':') {
		size_t i, n = 0;

		for (i = 0; i < sizeof(quirk_words) / sizeof(quirk_words[0]);
		    i++) {
			n = strlen(quirk_words[i].name);
			if (strncmp(s, quirk_words[i].name, n) == 0 &&
			    (s[n] == ',' || s[n] == ':'))
				break;
		}
		if (i == sizeof(quirk_words) / sizeof(quirk_words[0]))
			return -1;
		if (quirk_words[i].only != 0 && g->ver != -1 &&
		    quirk_words[i].only != g->ver)
			return -1;
		g->quirks |= quirk_words[i].bit;
		s += n;
		if (*s == ',')
			s++;
		else if (*s != ':')
			return -1;
	}
	*p = s + 1;
	return 0;
}

/* Reads the window "*", "%N", "mss*N", "mtu*N" or "N" up to ','. */
static int
fpdb_window(char **p, struct fpsig *g)
{
	char	*s = *p;
	long	 v;

	if (s[0] == '*' && s[1] == ',') {
		g->wtype = W_ANY;
		*p = s + 2;
		return 0;
	}
	if (*s == '%') {
		s++;
		g->wtype = W_MOD;
		if (fpdb_num(&s, 2, 65535, &v, ",") == -1)
			return -1;
	} else if (strncmp(s, "mss*", 4) == 0 || strncmp(s, "mtu*", 4) == 0) {
		g->wtype = s[1] == 's' ? W_MSS : W_MTU;
		s += 4;
		if (fpdb_num(&s, 1, 1000, &v, ",") == -1)
			return -1;
	} else {
		g->wtype = W_NORMAL;
		if (fpdb_num(&s, 0, 65535, &v, ",") == -1)
			return -1;
	}
	g->win = (int32_t)v;
	*p = s + 1;
	return 0;
}

/* ver:ittl:olen:mss:wsize,scale:olayout:quirks:pclass */
static int
fpdb_sig(struct fpparse *ps, char *s)
{
	struct fpdb	*db = ps->db;
	struct fpsig	 g;
	long		 v, add;
	uint32_t	 b;

	memset(&g, 0, sizeof(g));
	if ((s[0] != '4' && s[0] != '6' && s[0] != '*') || s[1] != ':')
		return fpdb_fail(ps, "bad IP version in signature");
	g.ver = s[0] == '*' ? -1 : s[0] - '0';
	s += 2;
	if (fpdb_num(&s, 1, 255, &v, ":+-") == -1)
		return fpdb_fail(ps, "bad initial TTL in signature");
	if (s[0] == '-') {
		if (s[1] != ':')
			return fpdb_fail(ps, "bad initial TTL in signature");
		g.bad_ttl = 1;
		s++;
	} else if (s[0] == '+') {
		s++;
		if (fpdb_num(&s, 0, 255 - v, &add, ":") == -1)
			return fpdb_fail(ps, "bad TTL distance in signature");
		v += add;
	}
	s++;
	g.ittl = (uint8_t)v;
	if (fpdb_num(&s, 0, 255, &v, ":") == -1)
		return fpdb_fail(ps, "bad IP option length in signature");
	s++;
	g.olen = (uint8_t)v;
	if (s[0] == '*' && s[1] == ':') {
		g.mss = -1;
		s += 2;
	} else if (fpdb_num(&s, 0, 65535, &v, ":") == -1)
		return fpdb_fail(ps, "bad MSS in signature");
	else {
		g.mss = (int32_t)v;
		s++;
	}
	if (fpdb_window(&s, &g) == -1)
		return fpdb_fail(ps, "bad window size in signature");
	if (s[0] == '*' && s[1] == ':') {
		g.scale = -1;
		s += 2;
	} else if (fpdb_num(&s, 0, 255, &v, ":") == -1)
		return fpdb_fail(ps, "bad window scale in signature");
	else {
		g.scale = (int16_t)v;
		s++;
	}
	if (fpdb_olayout(&s, &g) == -1)
		return fpdb_fail(ps, "bad TCP option layout in signature");
	if (fpdb_quirklist(&s, &g) == -1)
		return fpdb_fail(ps, "bad quirks in signature");
	if (strcmp(s, "*") == 0)
		g.pclass = -1;
	else if (strcmp(s, "0") == 0 || strcmp(s, "+") == 0)
		g.pclass = s[0] == '+';
	else
		return fpdb_fail(ps, "bad payload class in signature");
	g.generic = ps->generic;
	g.label = ps->label;
	g.file = ps->db->nfiles - 1;
	g.line = ps->line;

	if (db->nsigs == db->capsigs) {
		size_t nc = db->capsigs ? db->capsigs * 2 : 256;
		struct fpsig *ns = reallocarray(db->sigs, nc, sizeof(*ns));
		if (ns == NULL)
			return fpdb_fail(ps, "out of memory");
		db->sigs = ns;
		db->capsigs = nc;
	}
	b = fpdb_hash(g.olayout, g.nopt) % BUCKETS;
	uint32_t *nb = reallocarray(db->bucket[b], db->nbucket[b] + 1,
	    sizeof(*nb));
	if (nb == NULL)
		return fpdb_fail(ps, "out of memory");
	db->bucket[b] = nb;
	nb[db->nbucket[b]++] = (uint32_t)db->nsigs;
	db->sigs[db->nsigs++] = g;
	return 0;
}

/*
 * Does signature g match the SYN?  Returns 1 with *fuzzy set when it
 * does (fuzzily or not), 0 when it does not.  pq: the SYN's quirks.
 */
static int
sig_matches(const struct fpsig *g, const struct syn *s, uint32_t pq,
    int16_t win_multi, uint8_t use_mtu, int *fuzzy)
{
	uint32_t	 rq = g->quirks;

	*fuzzy = 0;
	if (g->nopt != s->nopt || g->eol_pad != s->eol_pad ||
	    memcmp(g->olayout, s->olayout, s->nopt) != 0)
		return 0;
	if (g->ver != -1 && g->ver != s->ver)
		return 0;			/* deliberate: see above */
	if (g->ver == -1)
		rq &= s->ver == 4 ? ~(uint32_t)Q_FLOW :
		    ~(uint32_t)(Q_DF | Q_NZ_ID | Q_ZERO_ID);
	if (!(rq & Q_FLOW))
		pq &= ~(uint32_t)Q_FLOW;	/* deliberate: see above */
	if (rq != pq) {
		uint32_t del = (rq ^ pq) & rq, add = (rq ^ pq) & pq;

		if ((del & ~(uint32_t)(Q_DF | Q_NZ_ID)) ||
		    (add & ~(uint32_t)(Q_ZERO_ID | Q_ECN)))
			return 0;
		*fuzzy = 1;
	}
	if (g->olen != s->ip_opt_len)
		return 0;
	if (g->bad_ttl) {
		if (g->ittl < s->ttl)
			return 0;
	} else if (g->ittl < s->ttl || g->ittl - s->ttl > MAX_DIST)
		*fuzzy = 1;
	if ((g->mss != -1 && g->mss != s->mss) ||
	    (g->scale != -1 && g->scale != s->wscale) ||
	    (g->pclass != -1 && g->pclass != s->pay))
		return 0;
	switch (g->wtype) {
	case W_NORMAL:
		return g->win == s->win;
	case W_MOD:
		return s->win % g->win == 0;
	case W_MSS:
		return !use_mtu && g->win == win_multi;
	case W_MTU:
		return use_mtu && g->win == win_multi;
	case W_ANY:
		break;
	}
	return 1;
}

/*
 * Matches a SYN as p0f does and fills *m: quality FPM_NONE with the
 * guessed distance when nothing matches.
 */
void
fpdb_match(const struct fpdb *db, const struct syn *s, struct fp_match *m)
{
	const struct fpsig	*g, *gen = NULL, *fz = NULL, *hit = NULL;
	uint32_t		 b = fpdb_hash(s->olayout, s->nopt) % BUCKETS;
	uint8_t			 use_mtu;
	int16_t			 wm = fp_win_multi(s, &use_mtu);
	int			 fuzzy;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; db != NULL && i < db->nbucket[b]; i++) {
		g = &db->sigs[db->bucket[b][i]];
		if (!sig_matches(g, s, s->quirks, wm, use_mtu, &fuzzy))
			continue;
		if (fuzzy) {
			if (fz == NULL)
				fz = g;		/* p0f keeps the first */
			continue;
		}
		if (!g->generic) {
			hit = g;
			m->quality = FPM_EXACT;
			break;
		}
		if (gen == NULL)
			gen = g;
	}
	if (hit == NULL && gen != NULL) {
		hit = gen;
		m->quality = FPM_GENERIC;
	}
	if (hit != NULL) {
		m->dist = (uint8_t)(hit->ittl - s->ttl);
	} else if (fz != NULL && db->labels[fz->label].tool) {
		m->dist = 0;		/* p0f: no fuzzy matches for tools */
		return;
	} else {
		if (fz == NULL || fz->ittl < s->ttl ||
		    (!fz->bad_ttl && fz->ittl - s->ttl > MAX_DIST))
			m->dist = fp_guess_dist(s->ttl);
		else
			m->dist = (uint8_t)(fz->ittl - s->ttl);
		if (fz == NULL)
			return;
		hit = fz;
		m->quality = FPM_FUZZY;
	}
	strlcpy_(m->label, db->labels[hit->label].text, sizeof(m->label));
	strlcpy_(m->os_class, db->labels[hit->label].os_class,
	    sizeof(m->os_class));
	m->bad_ttl = hit->bad_ttl;
	m->file = db->files[hit->file];
	m->line = hit->line;
}

/*
 * The daemon's signature files: with "sensor fpdb PATH..." those files
 * in order (each must load); by default decoymx's own file (installed,
 * else the source tree's dist/ copy) and then /etc/p0f/p0f.fp, each
 * when readable.  Returns a database (possibly empty) the caller frees,
 * or NULL with err set.
 */
struct fpdb *
fpdb_load_conf(const struct config *c, char *err, size_t errlen)
{
	struct fpdb	*db = fpdb_new();
	char		 list[sizeof(c->sensor_fpdb)], *p = list, *w;
	const char	*own = access(FP_OVERRIDE, R_OK) == 0 ? FP_OVERRIDE :
			    FP_OVERRIDE_DEV;

	if (db == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!c->sensor_fpdb_set) {
		if (access(own, R_OK) == 0 &&
		    fpdb_load(db, own, err, errlen) == -1)
			goto fail;
		if (c->sensor_fpdb[0] != '\0' &&
		    access(c->sensor_fpdb, R_OK) == 0 &&
		    fpdb_load(db, c->sensor_fpdb, err, errlen) == -1)
			goto fail;
		return db;
	}
	strlcpy_(list, c->sensor_fpdb, sizeof(list));
	while ((w = strsep(&p, " ")) != NULL)
		if (*w != '\0' && fpdb_load(db, w, err, errlen) == -1)
			goto fail;
	return db;
fail:
	fpdb_free(db);
	return NULL;
}
