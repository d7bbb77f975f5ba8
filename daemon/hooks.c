/* SPDX-License-Identifier: ISC */
/*
 * hooks.c -- what the program plugs into the parts below it, so that no
 * lower part calls up (doc/DESIGN.md §2): the check of a configured
 * export line (common/config.c) is the export command's own parser
 * (reports/export.c), and the store loop (store/ingest.c) runs the
 * periodic exports (reports/) and reloads through proc_reload()
 * (daemon/proc.c).
 *
 * Exports hooks_install().
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "reports.h"
#include "store.h"
#include "daemon.h"

static int	 hooks_export_check(const struct export_conf *, char *,
		    size_t);
static int	 hooks_export(const struct config *, int, sqlite3 *,
		    const char *, int64_t *);

static const struct ingest_hooks hooks_ingest = {
	.export = hooks_export,
	.reload = proc_reload,
};

/* Plugs everything in; main() calls it first. */
void
hooks_install(void)
{
	config_set_export_check(hooks_export_check);
	ingest_set_hooks(&hooks_ingest);
}

/*
 * Checks an export line's format and options with the export command's
 * parser, as "decoymx export FORMAT -o PATH -q OPTIONS" would take them.
 * Returns 0, or -1 with err set.
 */
static int
hooks_export_check(const struct export_conf *x, char *err, size_t errlen)
{
	char	 buf[2048], *argv[64];
	int	 argc, olderr, devnull;

	if ((argc = export_argv(x->format, x->path, x->args, buf, sizeof(buf),
	    argv, 64)) == -1) {
		snprintf(err, errlen, "export options too long or an open "
		    "quote");
		return -1;
	}
	/* export_check() says why on stderr; keep only its verdict here. */
	fflush(stderr);
	olderr = dup(STDERR_FILENO);
	if ((devnull = open("/dev/null", O_WRONLY)) != -1) {
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
	optind = 0;
	argc = export_check(argc, argv);
	fflush(stderr);
	if (olderr != -1) {
		dup2(olderr, STDERR_FILENO);
		close(olderr);
	}
	if (argc != 0) {
		snprintf(err, errlen, "bad export format or options (try them "
		    "with decoymx export %s)", x->format);
		return -1;
	}
	return 0;
}

/*
 * Writes the configured export c->exports[i] from db (the store's own
 * connection).  Returns export_run()'s status, or -1 when the options do
 * not split; *entries is the number of clients listed.
 */
static int
hooks_export(const struct config *c, int i, sqlite3 *db, const char *dbpath,
    int64_t *entries)
{
	const struct export_conf *e = &c->exports[i];
	char			 buf[2048], *argv[64];
	int			 argc, st;

	if ((argc = export_argv(e->format, e->path, e->args, buf, sizeof(buf),
	    argv, 64)) == -1)
		return -1;
	share_ignore_nets(c->ignore, c->nignore);
	st = export_run(db, dbpath, argc, argv);
	*entries = (int64_t)export_last_entries();
	return st;
}
