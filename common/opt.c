/* SPDX-License-Identifier: ISC */
/*
 * opt.c -- the one option parser of the subcommands: each command
 * describes its options as a table of {name, letter, takes a value,
 * setter, field} rows and opt_parse() walks its words.  It reads them
 * as getopt_long does (options anywhere before "--", "--name value",
 * "--name=value", a unique prefix of a name, "-x value", "-xvalue",
 * letters run together), but says what is wrong in err instead of
 * printing, so that each command reports it in its own words.
 *
 * Exports opt_parse(), opt_parse_head() (options only before a
 * subcommand's word) and the setters of plain fields, opt_set_str()
 * and opt_set_flag().
 */
#include <string.h>

#include "decoymx.h"

static const struct opt *opt_long(const struct opt *, size_t, const char *,
		    size_t, char *, size_t);
static const struct opt *opt_letter(const struct opt *, size_t, int);
static int	 opt_one(int, char **, int *, const struct opt *, size_t,
		    void *, char *, size_t);

/*
 * The row whose name is name (len bytes), or is the only one that name
 * begins.  NULL with err set when there is none or more than one.
 */
static const struct opt *
opt_long(const struct opt *opts, size_t n, const char *name, size_t len,
    char *err, size_t errlen)
{
	const struct opt	*found = NULL;
	int			 many = 0;

	for (size_t i = 0; i < n; i++) {
		if (strncmp(opts[i].name, name, len) != 0)
			continue;
		if (opts[i].name[len] == '\0')
			return &opts[i];
		many += found != NULL;
		found = &opts[i];
	}
	if (found != NULL && !many)
		return found;
	snprintf(err, errlen, "--%.*s: %s", (int)len, name, found != NULL ?
	    "ambiguous option" : "unknown option");
	return NULL;
}

/* The row of letter c, or NULL. */
static const struct opt *
opt_letter(const struct opt *opts, size_t n, int c)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i].letter != 0 && opts[i].letter == c)
			return &opts[i];
	return NULL;
}

/*
 * Reads the option word argv[*i] (it begins with '-' and is neither "-"
 * nor "--"), and its value, which may be the next word: *i is left on
 * the last word read.  Returns 0, or as opt_parse() does.
 */
static int
opt_one(int argc, char **argv, int *i, const struct opt *opts, size_t n,
    void *ctx, char *err, size_t errlen)
{
	const struct opt	*o;
	const char		*a = argv[*i], *v, *eq;
	int			 rv;

	if (a[1] == '-') {
		eq = strchr(a + 2, '=');
		if ((o = opt_long(opts, n, a + 2, eq != NULL ?
		    (size_t)(eq - a - 2) : strlen(a + 2), err, errlen)) == NULL)
			return -2;
		if (!o->arg && eq != NULL) {
			snprintf(err, errlen, "--%s: takes no value", o->name);
			return -2;
		}
		v = !o->arg ? NULL : eq != NULL ? eq + 1 :
		    *i + 1 < argc ? argv[++*i] : NULL;
		if (o->arg && v == NULL) {
			snprintf(err, errlen, "%s: needs a value", a);
			return -2;
		}
		if ((rv = o->set(ctx, o, v, err, errlen)) != 0)
			return rv < 0 ? rv : -1;
		return 0;
	}
	/* Letters: "-q", "-qo FILE", "-oFILE". */
	for (const char *p = a + 1; *p != '\0'; p++) {
		if ((o = opt_letter(opts, n, *p)) == NULL) {
			snprintf(err, errlen, "-%c: unknown option", *p);
			return -2;
		}
		v = NULL;
		if (o->arg) {
			v = p[1] != '\0' ? p + 1 : *i + 1 < argc ?
			    argv[++*i] : NULL;
			if (v == NULL) {
				snprintf(err, errlen, "-%c: needs a value",
				    *p);
				return -2;
			}
		}
		if ((rv = o->set(ctx, o, v, err, errlen)) != 0)
			return rv < 0 ? rv : -1;
		if (o->arg)
			break;
	}
	return 0;
}

/*
 * Parses argv[1..argc-1] (argv[0] is the command word) against the n
 * rows of opts: each option found calls its row's set(ctx, row, value,
 * err, errlen) (value NULL for one that takes none); the other words go,
 * in order, into words[] (at most maxwords) and their number into
 * *nwords.  words may be argv + 1, as getopt permutes argv: a word is
 * stored at or before the place it was read from.  Returns 0; -1 when a setter refused a value (err as it set
 * it); -2 with err set ("--x: unknown option", "--x: needs a value",
 * "-x: unknown option", "--x: takes no value", "too many words").
 */
int
opt_parse(int argc, char **argv, const struct opt *opts, size_t n,
    void *ctx, char **words, int maxwords, int *nwords, char *err,
    size_t errlen)
{
	const char	*a;
	int		 i, rv, dashdash = 0;

	*nwords = 0;
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (*nwords == maxwords) {
				snprintf(err, errlen, "'%s': too many words",
				    a);
				return -2;
			}
			words[(*nwords)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = 1;
			continue;
		}
		if ((rv = opt_one(argc, argv, &i, opts, n, ctx, err,
		    errlen)) != 0)
			return rv;
	}
	return 0;
}

/*
 * As opt_parse(), but the options end at the first other word (as
 * getopt's "+" reads them), for a command whose first word names a
 * subcommand that reads the rest.  Returns the index of that word,
 * past a "--" that ended the options, argc when there is none; or -1
 * or -2 as opt_parse().
 */
int
opt_parse_head(int argc, char **argv, const struct opt *opts, size_t n,
    void *ctx, char *err, size_t errlen)
{
	int	 i, rv;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			return i;
		if ((rv = opt_one(argc, argv, &i, opts, n, ctx, err,
		    errlen)) != 0)
			return rv;
	}
	return argc;
}

/* A setter: the string field at o->off of ctx points at the value. */
int
opt_set_str(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	(void)err;
	(void)errlen;
	*(const char **)(void *)((char *)ctx + o->off) = v;
	return 0;
}

/* A setter: the int field at o->off of ctx becomes 1. */
int
opt_set_flag(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	(void)v;
	(void)err;
	(void)errlen;
	*(int *)(void *)((char *)ctx + o->off) = 1;
	return 0;
}
