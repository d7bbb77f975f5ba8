/* SPDX-License-Identifier: ISC */
/*
 * export_opts.c -- the options of an export: the table of formats, the
 * option table of "decoymx export FORMAT [options]" (export_optv[], read
 * by common/opt.c), used alike for its command line and for a
 * configured "export" line (parsed once, when the configuration is
 * read), the defaults, and the checks that keep every value that goes
 * into a file plain printable text ("--ttl: 'abc' is not a TTL ...", the
 * value escaped for a terminal).
 *
 * Exports export_fmts[] (the formats: writers of export_formats.c and
 * export_share.c), export_defaults(), export_parse() (a command line
 * into a struct export_opts), export_argv() (a configured line as a
 * command line) and export_opts_parse() (a configured line into its
 * options).
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

#define EXPORT_TEXT_MAX	200

static int	 export_bad(char *, size_t, const char *, const char *,
		    const char *);
static int	 export_name_ok(const char *, const char *, char *, size_t);
static int	 export_words_ok(const char *, const char *, int, char *,
		    size_t);
static int	 export_ttl_ok(const char *, char *, size_t);
static int	 export_text_ok(const char *, const char *, char *, size_t);
static int	 export_set_code(struct export_opts *, const char *, char *,
		    size_t);
static int	 export_set_rules(struct export_opts *, const char *, char *,
		    size_t);
static int	 export_set_dur(const char *, const char *, int64_t *, char *,
		    size_t);
static int	 export_opt_dur(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_min_sessions(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_v6_prefix(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_rules(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_code(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_ttl(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_words(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_text(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_name(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_ipset(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_map(void *, const struct opt *,
		    const char *, char *, size_t);
static int	 export_opt_num(const char *, const char *, long, long,
		    long *, char *, size_t);

/* The formats, each a writer and the number of files it writes. */
const struct export_fmt export_fmts[] = {
	{ "rbldnsd", 2, export_rbldnsd, NULL },
	{ "postfix", 1, export_postfix, NULL },
	{ "nft", 1, export_nft, NULL },
	{ "plain", 1, export_plain, NULL },
	{ "json", 1, export_json, "{\"generator\":\"decoymx " DECOYMX_VERSION
	    "\",\"generated\":\"%s\",\"entries_count\":%zu," },
	/* export_share.c */
	{ "ipset", 1, share_ipset, NULL },
	{ "abuseipdb", 1, share_abuseipdb, NULL },
	{ "stix", 1, share_stix, NULL },
	{ "misp", 2, share_misp, NULL },
};

#define NEXPORT_FMTS	(sizeof(export_fmts) / sizeof(export_fmts[0]))
const size_t export_nfmts = NEXPORT_FMTS;

/*
 * Sets err to "--OPT: 'ARG' WHAT", the value escaped for a terminal (a
 * configuration line or an argument may hold anything).  Returns -1.
 */
static int
export_bad(char *err, size_t errlen, const char *opt, const char *arg,
    const char *what)
{
	char	 v[EXPORT_TEXT_MAX + 8];

	escape_term(arg, strlen(arg), v, sizeof(v));
	snprintf(err, errlen, "--%s: '%s' %s", opt, v, what);
	return -1;
}

/* Whether s is a name nft accepts for a table or set. */
static int
export_name_ok(const char *opt, const char *s, char *err, size_t errlen)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > 32 || !isalpha((unsigned char)s[0]))
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			goto bad;
	return 1;
bad:
	export_bad(err, errlen, opt, s, "is not a name (a letter, then up to "
	    "31 letters, digits or '_')");
	return 0;
}

/* Whether s is n words (n < 0: at least -n) of DNS-ish characters. */
static int
export_words_ok(const char *opt, const char *s, int n, char *err,
    size_t errlen)
{
	char	 what[96];
	int	 words = 0, in = 0;

	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ' ') {
			in = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && strchr(".-_", *p) == NULL)
			goto bad;
		if (!in)
			words++;
		in = 1;
	}
	if (strlen(s) <= EXPORT_TEXT_MAX && (n >= 0 ? words == n :
	    words >= -n))
		return 1;
bad:
	snprintf(what, sizeof(what), "is not %s%d words of letters, digits, "
	    "'.', '-', '_'", n < 0 ? "at least " : "", n < 0 ? -n : n);
	export_bad(err, errlen, opt, s, what);
	return 0;
}

/*
 * Whether s is a TTL as rbldnsd's $TTL takes it: seconds, or numbers
 * each with a unit (s, m, h, d, w: "1h30m"), below 2^31 seconds.
 */
static int
export_ttl_ok(const char *s, char *err, size_t errlen)
{
	static const struct { char unit; uint64_t s; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 },
		{ 'w', 604800 },
	};
	uint64_t	 total = 0, v;
	const char	*p = s;

	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			goto bad;
		for (v = 0; isdigit((unsigned char)*p) && v < 1u << 31; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		if (isdigit((unsigned char)*p))
			goto bad;
		if (*p != '\0') {
			size_t i;

			for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
				if (*p == units[i].unit)
					break;
			if (i == sizeof(units) / sizeof(units[0]))
				goto bad;
			v *= units[i].s;
			p++;
		}
		if ((total += v) >= 1u << 31)
			goto bad;
	}
	if (p != s)
		return 1;
bad:
	export_bad(err, errlen, "ttl", s, "is not a TTL (seconds, or with "
	    "units: 1h, 2d, 1h30m)");
	return 0;
}

/* Whether an option's text is plain printable ASCII (then it may go out). */
static int
export_text_ok(const char *name, const char *s, char *err, size_t errlen)
{
	char	 what[64];

	if (strlen(s) > EXPORT_TEXT_MAX)
		goto bad;
	for (const char *p = s; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			goto bad;
	return 1;
bad:
	snprintf(what, sizeof(what), "is not up to %d printable ASCII "
	    "characters", EXPORT_TEXT_MAX);
	export_bad(err, errlen, name, s, what);
	return 0;
}

/* --code REASON=127.0.0.X */
static int
export_set_code(struct export_opts *o, const char *arg, char *err,
    size_t errlen)
{
	char		 name[32];
	const char	*eq = strchr(arg, '=');
	struct in_addr	 a;
	int		 r;

	if (eq == NULL || (size_t)(eq - arg) >= sizeof(name))
		goto bad;
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if ((r = classify_reason_parse(name)) == -1 ||
	    inet_pton(AF_INET, eq + 1, &a) != 1 ||
	    (ntohl(a.s_addr) >> 24) != 127)
		goto bad;
	inet_ntop(AF_INET, &a, o->codes[r], sizeof(o->codes[r]));
	return 0;
bad:
	return export_bad(err, errlen, "code", arg, "is not REASON=127.0.0.X "
	    "with REASON one of backup-direct, nolisting-only, bot-protocol");
}

/* --rules LIST: the enabled rules, comma-separated. */
static int
export_set_rules(struct export_opts *o, const char *arg, char *err,
    size_t errlen)
{
	char	 buf[128], *w, *save = NULL;
	int	 r;

	if (strlcpy_(buf, arg, sizeof(buf)) >= sizeof(buf))
		goto bad;
	o->cc.rules = 0;
	for (w = strtok_r(buf, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save)) {
		if ((r = classify_reason_parse(w)) == -1)
			goto bad;
		o->cc.rules |= 1u << r;
	}
	return 0;
bad:
	return export_bad(err, errlen, "rules", arg, "is not a comma list of "
	    "backup-direct, nolisting-only, bot-protocol");
}

/* A duration option into *us.  0 or -1 with err set. */
static int
export_set_dur(const char *opt, const char *arg, int64_t *us, char *err,
    size_t errlen)
{
	uint64_t	 ms;

	if (util_parse_duration_ms(arg, &ms) == -1 ||
	    ms > (uint64_t)INT64_MAX / 1000)
		return export_bad(err, errlen, opt, arg, "is not a duration "
		    "(10m, 7d)");
	*us = (int64_t)ms * 1000;
	return 0;
}

/* The options of an export line or command that gives none: into o. */
void
export_defaults(struct export_opts *o)
{
	memset(o, 0, sizeof(*o));
	classify_defaults(&o->cc);
	o->max_age_us = 7LL * 86400 * 1000000;
	o->min_sessions = 1;
	o->v6_prefix = 64;
	strlcpy_(o->codes[REASON_BACKUP_DIRECT], "127.0.0.2",
	    sizeof(o->codes[0]));
	strlcpy_(o->codes[REASON_NOLISTING_ONLY], "127.0.0.3",
	    sizeof(o->codes[0]));
	strlcpy_(o->codes[REASON_BOT_PROTOCOL], "127.0.0.4",
	    sizeof(o->codes[0]));
	o->txt = "see decoymx report ip $";
	o->action = "450 4.7.1 Listed by decoymx (%r)";
	o->nft_table = "decoymx";
	o->nft_set = "blocklist";
	o->ipset_set = "decoymx";
}

/* --max-age, --window: a duration into the int64_t field at o->off. */
static int
export_opt_dur(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	return export_set_dur(o->name, v, (int64_t *)(void *)((char *)ctx +
	    o->off), err, errlen);
}

/* A number from min to max (max < 0: no bound) into *n. */
static int
export_opt_num(const char *opt, const char *v, long min, long max,
    long *n, char *err, size_t errlen)
{
	char	 what[64], *end;

	errno = 0;
	*n = strtol(v, &end, 10);
	if (isdigit((unsigned char)*v) && *end == '\0' && errno == 0 &&
	    *n >= min && (max < 0 || *n <= max))
		return 0;
	if (max < 0)
		snprintf(what, sizeof(what), "is not a number from %ld", min);
	else
		snprintf(what, sizeof(what), "is not a number from %ld to %ld",
		    min, max);
	return export_bad(err, errlen, opt, v, what);
}

/* --min-sessions N */
static int
export_opt_min_sessions(void *ctx, const struct opt *o, const char *v,
    char *err, size_t errlen)
{
	struct export_opts	*eo = ctx;
	long			 n;

	if (export_opt_num(o->name, v, 1, -1, &n, err, errlen) == -1)
		return -1;
	eo->min_sessions = n;
	return 0;
}

/* --v6-prefix N */
static int
export_opt_v6_prefix(void *ctx, const struct opt *o, const char *v,
    char *err, size_t errlen)
{
	struct export_opts	*eo = ctx;
	long			 n;

	if (export_opt_num(o->name, v, 16, 128, &n, err, errlen) == -1)
		return -1;
	eo->v6_prefix = (int)n;
	return 0;
}

/* --rules LIST */
static int
export_opt_rules(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	(void)o;
	return export_set_rules(ctx, v, err, errlen);
}

/* --code REASON=127.0.0.X */
static int
export_opt_code(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	(void)o;
	return export_set_code(ctx, v, err, errlen);
}

/* --ttl TTL */
static int
export_opt_ttl(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	if (!export_ttl_ok(v, err, errlen))
		return -1;
	return opt_set_str(ctx, o, v, err, errlen);
}

/*
 * --soa (the 8 words of an SOA record), --ns (a TTL and at least one
 * name server), --sensor (one word): words of DNS-ish characters.
 */
static int
export_opt_words(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	static const struct {
		const char	*name;
		int		 n;		/* < 0: at least -n */
	} words[] = { { "soa", 8 }, { "ns", -2 }, { "sensor", 1 } };
	int	 n = 1;

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(o->name, words[i].name) == 0)
			n = words[i].n;
	if (!export_words_ok(o->name, v, n, err, errlen))
		return -1;
	return opt_set_str(ctx, o, v, err, errlen);
}

/* --txt, --action: printable text. */
static int
export_opt_text(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	if (!export_text_ok(o->name, v, err, errlen))
		return -1;
	return opt_set_str(ctx, o, v, err, errlen);
}

/* --nft-table, --nft-set: a name nft takes. */
static int
export_opt_name(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	if (!export_name_ok(o->name, v, err, errlen))
		return -1;
	return opt_set_str(ctx, o, v, err, errlen);
}

/* --ipset-set: a name, short enough for "NAME6-new". */
static int
export_opt_ipset(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	if (!export_name_ok(o->name, v, err, errlen))
		return -1;
	if (strlen(v) > 24)
		return export_bad(err, errlen, o->name, v, "is longer than 24 "
		    "characters");
	return opt_set_str(ctx, o, v, err, errlen);
}

/* --map cidr|hash */
static int
export_opt_map(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	struct export_opts	*eo = ctx;

	if (strcmp(v, "cidr") != 0 && strcmp(v, "hash") != 0)
		return export_bad(err, errlen, o->name, v, "is not cidr or "
		    "hash");
	eo->map_hash = strcmp(v, "hash") == 0;
	return 0;
}

#define EO(f)	offsetof(struct export_opts, f)

/* The options of export, on its command line and configured lines. */
static const struct opt export_optv[] = {
	{ "db", 0, 1, opt_set_str, EO(db) },
	{ "output", 'o', 1, opt_set_str, EO(output) },
	{ "v6-output", 0, 1, opt_set_str, EO(v6_output) },
	{ "max-age", 0, 1, export_opt_dur, EO(max_age_us) },
	{ "min-sessions", 0, 1, export_opt_min_sessions, 0 },
	{ "allowlist", 0, 1, opt_set_str, EO(allowlist) },
	{ "rules", 0, 1, export_opt_rules, 0 },
	{ "window", 0, 1, export_opt_dur, EO(cc.window_us) },
	{ "v6-prefix", 0, 1, export_opt_v6_prefix, 0 },
	{ "code", 0, 1, export_opt_code, 0 },
	{ "ttl", 0, 1, export_opt_ttl, EO(ttl) },
	{ "soa", 0, 1, export_opt_words, EO(soa) },
	{ "ns", 0, 1, export_opt_words, EO(ns) },
	{ "txt", 0, 1, export_opt_text, EO(txt) },
	{ "map", 0, 1, export_opt_map, 0 },
	{ "action", 0, 1, export_opt_text, EO(action) },
	{ "nft-table", 0, 1, export_opt_name, EO(nft_table) },
	{ "nft-set", 0, 1, export_opt_name, EO(nft_set) },
	{ "ipset-set", 0, 1, export_opt_ipset, EO(ipset_set) },
	{ "sensor", 0, 1, export_opt_words, EO(sensor) },
	{ "config", 0, 1, opt_set_str, EO(config) },
	{ "quiet", 'q', 0, opt_set_flag, EO(quiet) },
	{ "per-entry", 0, 0, opt_set_flag, EO(per_entry) },
};

/*
 * Parses argv (argv[0] is "export", the format a word anywhere) into o
 * by the option table export_optv[], for the command line and for the
 * configured export lines alike.  The strings of o point into argv.
 * Returns 0; -1 with err set to what is wrong with a value ("--ttl:
 * 'abc' is not a TTL ..."); -2 with err set when the words are not
 * options and one format (then the usage helps).
 */
int
export_parse(int argc, char **argv, struct export_opts *o, char *err,
    size_t errlen)
{
	char		**words = argv + 1;
	char		 fmts[160];
	int		 nwords, rv;
	size_t		 n = 0;

	if ((rv = opt_parse(argc, argv, export_optv, sizeof(export_optv) /
	    sizeof(export_optv[0]), o, words, argc - 1, &nwords, err,
	    errlen)) != 0)
		return rv;
	if (nwords != 1) {
		if (nwords == 0)
			snprintf(err, errlen, "no format given");
		else
			snprintf(err, errlen, "'%s' is not an option (one "
			    "format, options start with --)", words[1]);
		return -2;
	}
	o->format = words[0];
	for (size_t i = 0; i < export_nfmts; i++) {
		if (strcmp(o->format, export_fmts[i].name) == 0)
			return 0;
		n += (size_t)snprintf(fmts + n, n < sizeof(fmts) ?
		    sizeof(fmts) - n : 0, "%s%s", i ? ", " : "",
		    export_fmts[i].name);
	}
	snprintf(err, errlen, "'%s' is not a format (%s)", o->format, fmts);
	return -1;
}

/*
 * Builds the argv of a configured export ("export FORMAT -o PATH -q
 * ARGS..."), splitting args at spaces; a double-quoted part is one word
 * ("--soa "300 ns. hm. 0 600 300 86400 300"").  The words are copied into
 * buf.  Returns argc, or -1 when they do not fit or a quote is open.
 */
int
export_argv(const char *format, const char *path, const char *args,
    char *buf, size_t buflen, char **argv, int maxargv)
{
	const char	*fixed[5] = { "export", format, "-o", path, "-q" };
	size_t		 n = 0;
	int		 argc = 0;

	for (int i = 0; i < 5; i++) {
		size_t len = strlen(fixed[i]) + 1;

		if (argc + 1 >= maxargv || n + len > buflen)
			return -1;
		memcpy(buf + n, fixed[i], len);
		argv[argc++] = buf + n;
		n += len;
	}
	for (const char *p = args; *p != '\0';) {
		int	 quoted = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (argc + 1 >= maxargv)
			return -1;
		argv[argc++] = buf + n;
		for (; *p != '\0' && (quoted || (*p != ' ' && *p != '\t'));
		    p++) {
			if (*p == '"') {
				quoted = !quoted;
				continue;
			}
			if (n + 1 >= buflen)
				return -1;
			buf[n++] = *p;
		}
		if (quoted || n + 1 > buflen)
			return -1;
		buf[n++] = '\0';
	}
	argv[argc] = NULL;
	return argc;
}

/* A configured export's options and the words they point into. */
struct export_parsed {
	struct export_opts	 o;	/* first: the block is o */
	char			*argv[64];
	char			 buf[2048];
};

/*
 * Parses a configured export line's FORMAT, PATH and options ("export
 * FORMAT PATH every DUR OPTIONS") with the command's own option table,
 * as "export FORMAT -o PATH -q OPTIONS".  Returns the options in one
 * allocated block (the caller frees it with free()), or NULL with err
 * set to what is wrong, naming the option ("--ttl: 'abc' is not a TTL").
 */
struct export_opts *
export_opts_parse(const char *format, const char *path, const char *args,
    char *err, size_t errlen)
{
	struct export_parsed	*p;
	const char		*out;
	int			 argc;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((argc = export_argv(format, path, args, p->buf, sizeof(p->buf),
	    p->argv, 64)) == -1) {
		snprintf(err, errlen, "options too long or an open quote");
		goto bad;
	}
	out = p->argv[3];		/* the line's PATH, after "-o" */
	export_defaults(&p->o);
	if (export_parse(argc, p->argv, &p->o, err, errlen) != 0)
		goto bad;
	if (p->o.output != out) {
		snprintf(err, errlen, "--output: the line's PATH is the "
		    "output");
		goto bad;
	}
	if (p->o.db != NULL) {
		snprintf(err, errlen, "--db: the store's own database is the "
		    "one exported");
		goto bad;
	}
	return &p->o;
bad:
	free(p);
	return NULL;
}
