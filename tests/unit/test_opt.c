/* SPDX-License-Identifier: ISC */
/*
 * test_opt.c -- the option parser of the subcommands (common/opt.c):
 * the ways getopt_long reads words that the commands relied on, and
 * the errors it says in their place.
 */
#include <stddef.h>
#include <stdlib.h>

#include "decoymx.h"
#include "t.h"

struct ctx {
	const char	*out, *name;
	int		 quiet, verbose, calls;
};

static int	 set_checked(void *, const struct opt *, const char *, char *,
		    size_t);
static int	 parse(const char *, struct ctx *, char ***, int *, char *,
		    size_t);
static int	 head(const char *, struct ctx *, char ***, char *, size_t);
static int	 split(const char *, struct ctx *, char ***, char *);

/* A setter that refuses "bad", as a command's own checks do. */
static int
set_checked(void *c, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	((struct ctx *)c)->calls++;
	if (strcmp(v, "bad") == 0) {
		snprintf(err, errlen, "--%s: 'bad' is bad", o->name);
		return -1;
	}
	return opt_set_str(c, o, v, err, errlen);
}

static const struct opt optv[] = {
	{ "output", 'o', 1, opt_set_str, offsetof(struct ctx, out) },
	{ "name", 0, 1, set_checked, offsetof(struct ctx, name) },
	{ "nameserver", 0, 1, opt_set_str, offsetof(struct ctx, name) },
	{ "quiet", 'q', 0, opt_set_flag, offsetof(struct ctx, quiet) },
	{ "verbose", 'v', 0, opt_set_flag, offsetof(struct ctx, verbose) },
};

/*
 * "cmd" and the space-separated words of line as a static argv; clears
 * c and err.  Returns argc.
 */
static int
split(const char *line, struct ctx *c, char ***argvp, char *err)
{
	static char	 buf[256];
	static char	*argv[32];
	int		 argc = 0;

	memset(c, 0, sizeof(*c));
	snprintf(buf, sizeof(buf), "cmd %s", line);
	for (char *w = strtok(buf, " "); w != NULL && argc < 31;
	    w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	*argvp = argv;
	err[0] = '\0';
	return argc;
}

/*
 * Parses the words of line (after a command word) into c; the words
 * that are not options into words (in a static argv).
 */
static int
parse(const char *line, struct ctx *c, char **words[], int *nwords,
    char *err, size_t errlen)
{
	char	**argv;
	int	  argc = split(line, c, &argv, err);

	*words = argv + 1;
	return opt_parse(argc, argv, optv, sizeof(optv) / sizeof(optv[0]), c,
	    argv + 1, argc - 1, nwords, err, errlen);
}

/*
 * opt_parse_head() on the words of line after a command word: returns
 * what it returns, *argvp the argv it read (argv[0] the command word).
 */
static int
head(const char *line, struct ctx *c, char **argvp[], char *err,
    size_t errlen)
{
	int	 argc = split(line, c, argvp, err);

	return opt_parse_head(argc, *argvp, optv, sizeof(optv) /
	    sizeof(optv[0]), c, err, errlen);
}

int
main(void)
{
	struct ctx	 c;
	char		**w, err[128];
	int		 n;

	/* Options anywhere, words kept in order, in argv itself. */
	CHECK(parse("a --output f b -q c", &c, &w, &n, err, sizeof(err)) == 0);
	CHECK(n == 3);
	CHECK_STR(w[0], "a");
	CHECK_STR(w[1], "b");
	CHECK_STR(w[2], "c");
	CHECK_STR(c.out, "f");
	CHECK(c.quiet == 1 && c.verbose == 0);

	/* --name=value, a unique prefix, an exact name among prefixes. */
	CHECK(parse("--output=x=y --qui --name n", &c, &w, &n, err,
	    sizeof(err)) == 0);
	CHECK_STR(c.out, "x=y");
	CHECK_STR(c.name, "n");
	CHECK(c.quiet == 1 && n == 0);
	CHECK(parse("--nam n", &c, &w, &n, err, sizeof(err)) == -2);
	CHECK_STR(err, "--nam: ambiguous option");

	/* Letters: run together, a value attached or the next word. */
	CHECK(parse("-qvofile w", &c, &w, &n, err, sizeof(err)) == 0);
	CHECK(c.quiet && c.verbose);
	CHECK_STR(c.out, "file");
	CHECK(n == 1 && strcmp(w[0], "w") == 0);
	CHECK(parse("-o -q", &c, &w, &n, err, sizeof(err)) == 0);
	CHECK_STR(c.out, "-q");
	CHECK(c.quiet == 0);

	/* "--" ends the options; "-" is a word. */
	CHECK(parse("- -- --quiet", &c, &w, &n, err, sizeof(err)) == 0);
	CHECK(n == 2 && c.quiet == 0);
	CHECK_STR(w[0], "-");
	CHECK_STR(w[1], "--quiet");

	/* What is wrong, named. */
	CHECK(parse("--nosuch", &c, &w, &n, err, sizeof(err)) == -2);
	CHECK_STR(err, "--nosuch: unknown option");
	CHECK(parse("-x", &c, &w, &n, err, sizeof(err)) == -2);
	CHECK_STR(err, "-x: unknown option");
	CHECK(parse("--output", &c, &w, &n, err, sizeof(err)) == -2);
	CHECK_STR(err, "--output: needs a value");
	CHECK(parse("-o", &c, &w, &n, err, sizeof(err)) == -2);
	CHECK_STR(err, "-o: needs a value");
	CHECK(parse("--quiet=1", &c, &w, &n, err, sizeof(err)) == -2);
	CHECK_STR(err, "--quiet: takes no value");

	/* A setter's refusal stops the parse with its own words. */
	CHECK(parse("--name bad --name good", &c, &w, &n, err,
	    sizeof(err)) == -1);
	CHECK_STR(err, "--name: 'bad' is bad");
	CHECK(c.calls == 1);

	/*
	 * opt_parse_head: options only up to the first word (a
	 * subcommand), which is not consumed, nor anything after it.
	 */
	CHECK(head("-q --output f sub -v x", &c, &w, err, sizeof(err)) == 4);
	CHECK_STR(w[4], "sub");
	CHECK(c.quiet == 1 && c.verbose == 0);
	CHECK_STR(c.out, "f");
	CHECK(head("sub -q", &c, &w, err, sizeof(err)) == 1 && !c.quiet);
	CHECK(head("-o -q - -v", &c, &w, err, sizeof(err)) == 3);
	CHECK_STR(c.out, "-q");
	CHECK(c.verbose == 0);
	/* "--" ends them and is skipped; no word at all is argc. */
	CHECK(head("-q -- -v", &c, &w, err, sizeof(err)) == 3);
	CHECK_STR(w[3], "-v");
	CHECK(c.verbose == 0);
	CHECK(head("-qv", &c, &w, err, sizeof(err)) == 2);
	CHECK(c.quiet && c.verbose);
	CHECK(head("--", &c, &w, err, sizeof(err)) == 2);
	/* Errors as opt_parse's, before the word only. */
	CHECK(head("--nosuch sub", &c, &w, err, sizeof(err)) == -2);
	CHECK_STR(err, "--nosuch: unknown option");
	CHECK(head("sub --nosuch", &c, &w, err, sizeof(err)) == 1);
	CHECK(head("--output", &c, &w, err, sizeof(err)) == -2);
	CHECK_STR(err, "--output: needs a value");
	CHECK(head("--name=bad sub", &c, &w, err, sizeof(err)) == -1);
	CHECK_STR(err, "--name: 'bad' is bad");
	return t_done("test_opt");
}
