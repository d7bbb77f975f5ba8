/* SPDX-License-Identifier: ISC */
/*
 * hooks.c -- what the program plugs into the parts below it, so that no
 * lower part calls up (doc/DESIGN.md §2): the parser of a configured
 * export line (common/config.c) is the export command's own option
 * table (reports/export_opts.c), and the store loop (store/ingest.c) runs the
 * periodic exports (reports/) from those parsed options and reloads
 * through proc_reload() (daemon/proc.c).
 *
 * Exports hooks_install().
 */
#include <stdio.h>

#include "reports.h"
#include "store.h"
#include "daemon.h"

static struct export_opts *hooks_export_parse(const struct export_conf *,
		    char *, size_t);
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
	config_set_export_parse(hooks_export_parse);
	ingest_set_hooks(&hooks_ingest);
}

/*
 * Parses an export line's format and options once, when the
 * configuration is read, with the export command's option table.
 * Returns the options (allocated), or NULL with err naming the option.
 */
static struct export_opts *
hooks_export_parse(const struct export_conf *x, char *err, size_t errlen)
{
	return export_opts_parse(x->format, x->path, x->args, err, errlen);
}

/*
 * Writes the configured export c->exports[i] from db (the store's own
 * connection) with the options parsed at load.  Returns the export's
 * exit status, or -1 when the line has no parsed options; *entries is
 * the number of clients listed.
 */
static int
hooks_export(const struct config *c, int i, sqlite3 *db, const char *dbpath,
    int64_t *entries)
{
	const struct export_conf *e = &c->exports[i];
	int			 st;

	if (e->opts == NULL)
		return -1;
	share_ignore_nets(c->ignore, c->nignore);
	st = export_run_opts(db, dbpath, e->opts);
	*entries = (int64_t)export_last_entries();
	return st;
}
