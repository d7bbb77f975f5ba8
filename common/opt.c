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
 * Exports opt_parse() and the setters of plain fields, opt_set_str()
 * and opt_set_flag().
 */
#include <string.h>

#include "decoymx.h"

static const struct opt *opt_long(const struct opt *, size_t, const char *,
		    size_t, char *, size_t);
static const struct opt *opt_letter(const struct opt *, size_t, int);

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
	const struct opt	*o;
	const char		*a, *v, *eq;
	int			 i, rv, dashdash = 0;

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
		if (a[1] == '-') {
			eq = strchr(a + 2, '=');
			if ((o = opt_long(opts, n, a + 2, eq != NULL ?
			    (size_t)(eq - a - 2) : strlen(a + 2), err,
			    errlen)) == NULL)
				return -2;
			if (!o->arg && eq != NULL) {
				snprintf(err, errlen, "--%s: takes no value",
				    o->name);
				return -2;
			}
			v = !o->arg ? NULL : eq != NULL ? eq + 1 :
			    i + 1 < argc ? argv[++i] : NULL;
			if (o->arg && v == NULL) {
				snprintf(err, errlen, "%s: needs a value", a);
				return -2;
			}
			if ((rv = o->set(ctx, o, v, err, errlen)) != 0)
				return rv < 0 ? rv : -1;
			continue;
		}
		/* Letters: "-q", "-qo FILE", "-oFILE". */
		for (const char *p = a + 1; *p != '\0'; p++) {
			if ((o = opt_letter(opts, n, *p)) == NULL) {
				snprintf(err, errlen, "-%c: unknown option",
				    *p);
				return -2;
			}
			v = NULL;
			if (o->arg) {
				v = p[1] != '\0' ? p + 1 : i + 1 < argc ?
				    argv[++i] : NULL;
				if (v == NULL) {
					snprintf(err, errlen, "-%c: needs a "
					    "value", *p);
					return -2;
				}
			}
			if ((rv = o->set(ctx, o, v, err, errlen)) != 0)
				return rv < 0 ? rv : -1;
			if (o->arg)
				break;
		}
	}
	return 0;
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
