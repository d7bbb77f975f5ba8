/* SPDX-License-Identifier: ISC */
/*
 * export_run.c -- "decoymx export FORMAT": the blocklist.  Every client the
 * rules list (store/classify.c), less the allowlist and loopback, IPv6
 * clients merged into their /64 (--v6-prefix), sorted, plus the RFC 5782
 * test entry 127.0.0.2 (127.0.0.1 is never listed), written as:
 *
 *	rbldnsd	an ip4set (entries grouped by value under ":A:TXT"
 *		lines, or A and TXT per entry with --per-entry; "!"
 *		exclusions) to FILE and an ip6trie to FILE.v6
 *		(--v6-output), with $TTL, $SOA and $NS from options
 *	postfix	a cidr: access table (--map cidr, exclusions first as
 *		DUNNO) or a hash:-ready one keyed by address (--map hash)
 *	nft	an nft -f script that refills an ipv4_addr and an ipv6_addr
 *		interval set (and the allow sets with the exclusions)
 *	plain	one address or network a line
 *	json	{"generator", "generated", "entries":[...], "exclusions"}
 *
 * and, written by export_share.c, ipset (an ipset restore file),
 * abuseipdb (bulk-report CSV), stix (a STIX 2.1 bundle) and misp (a MISP
 * feed directory).  The RFC 5782 test entry is only in rbldnsd zones
 * (and in json, marked "test").
 *
 * Exports contain only addresses and networks (printed from parsed
 * bytes, as inet_ntop does), our fixed reason names and texts, and
 * option values checked to be plain printable text: nothing from the
 * network.
 *
 * A file is written atomically and not at all when its content is
 * unchanged (export_file.c).
 *
 * The code is split by concern: export_opts.c (the options and the
 * format table), export_list.c (the listing), export_formats.c (the
 * writers of the formats above), export_share.c (those of the sharing
 * formats) and export_file.c (the atomic replacement); this file holds
 * the usage and the run, on top of them.
 *
 * Exports cmd_export(), export_help(), and for the
 * periodic exports of the store process export_run_opts() (one run from
 * options export_opts_parse() of export_opts.c parsed once when the
 * configuration was read) and export_last_entries().
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static size_t	 export_count(const struct export_list *,
		    const struct export_fmt *, int);
static int	 export_write(sqlite3 *, const struct export_opts *,
		    const struct export_fmt *);
static int	 export_usage(void);

/* Entries of the latest export_write() that collected (metrics). */
static size_t	 export_entries;

static const char export_usage_text[] =
    "export rbldnsd|postfix|nft|plain|json|ipset|abuseipdb|stix|misp\n"
    "\t[--db PATH] [-o FILE]\n"
    "\t[--max-age DUR] [--min-sessions N] [--allowlist FILE]\n"
    "\t[--rules LIST] [--window DUR] [--v6-prefix N] [--v6-output FILE]\n"
    "\t[--code REASON=127.0.0.X] [--ttl TTL] [--soa SOA] [--ns NS]\n"
    "\t[--txt TEXT] [--per-entry] [--map cidr|hash] [--action TEXT]\n"
    "\t[--nft-table NAME] [--nft-set NAME] [--ipset-set NAME]\n"
    "\t[--sensor NAME] [--config FILE] [-q]";

static int
export_usage(void)
{
	fprintf(stderr, "usage: decoymx %s\n", export_usage_text);
	return EXIT_USAGE;
}

/* The usage on f, for -h. */
void
export_help(FILE *f)
{
	fprintf(f, "usage: decoymx %s\n\nSee decoymx(8), COMMANDS.\n",
	    export_usage_text);
}

/*
 * The entries that part of a format's output holds: those of its family
 * for rbldnsd (ip4set, ip6trie), else all of them.
 */
static size_t
export_count(const struct export_list *l, const struct export_fmt *fmt,
    int part)
{
	size_t n = 0;

	if (fmt->parts == 1)
		return l->n;
	for (size_t i = 0; i < l->n; i++)
		n += l->e[i].family == (part == 0 ? 4 : 6);
	return n;
}

/*
 * Runs one export with o on the open database db: collects, formats and
 * writes every part.  Returns 0, or -1 after printing why on stderr.
 */
static int
export_write(sqlite3 *db, const struct export_opts *o,
    const struct export_fmt *fmt)
{
	struct export_list	 l = { 0 };
	struct allowlist	 al = { 0 };
	char			 err[2 * PATH_MAX + 256], header[512], now[64];
	char			 path[PATH_MAX];
	struct export_body	 b = { 0 };
	FILE			*mem;
	const struct share_fmt	*sf = share_fmt(fmt->name);
	int			 ret = -1, rc;

	if (o->allowlist != NULL && allowlist_load(&al, o->allowlist, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "decoymx export: allowlist %s\n", err);
		allowlist_free(&al);
		return -2;
	}
	if (export_collect(db, o, &al, &l, err, sizeof(err)) == -1) {
		fprintf(stderr, "decoymx export: database %s: %s\n", o->db,
		    err);
		goto out;
	}
	export_entries = l.n;
	util_iso8601(util_now_us(), now, sizeof(now));
	if (fmt->parts > 1 && (o->output == NULL ||
	    strcmp(o->output, "-") == 0) && export_count(&l, fmt, 1) > 0) {
		/* An ip4set cannot hold them: never drop them silently. */
		fprintf(stderr, "decoymx export %s: %zu IPv6 entries need "
		    "their own ip6trie file: give -o FILE (FILE.v6, or "
		    "--v6-output, gets them)\n", fmt->name,
		    export_count(&l, fmt, 1));
		goto out;
	}
	for (int part = 0; part < fmt->parts; part++) {
		size_t count = export_count(&l, fmt, part);

		if ((mem = export_body_open(&b)) == NULL)
			goto out;
		fmt->write(o, &l, mem, part);
		if (fclose(mem) == EOF)
			goto out;
		if (b.p == NULL && (b.p = strdup("")) == NULL)
			goto out;
		if (sf != NULL && sf->head != NULL)
			sf->head(o, &l, part, now, header, sizeof(header));
		else if (fmt->json_head != NULL)
			snprintf(header, sizeof(header), fmt->json_head, now,
			    count);
		else
			snprintf(header, sizeof(header), "# decoymx %s %s%s: "
			    "%zu entries, generated %s", DECOYMX_VERSION,
			    fmt->name, fmt->parts > 1 ? (part ? " ip6trie" :
			    " ip4set") : "", count, now);
		strlcpy_(header + strlen(header), "\n",
		    sizeof(header) - strlen(header));
		if (sf != NULL && sf->path != NULL && sf->path(o, part, path,
		    sizeof(path)) == -1) {
			fprintf(stderr, "decoymx export %s: cannot write into "
			    "%s: %s\n", fmt->name, o->output ? o->output : "-",
			    strerror(errno));
			goto out;
		} else if (o->output == NULL || strcmp(o->output, "-") == 0) {
			if (part == 0 || fmt->parts == 1) {
				fputs(header, stdout);
				fwrite(b.p, 1, b.n, stdout);
			}
		} else {
			if (sf != NULL && sf->path != NULL)
				;	/* made above */
			else if (part == 0)
				strlcpy_(path, o->output, sizeof(path));
			else if (o->v6_output != NULL)
				strlcpy_(path, o->v6_output, sizeof(path));
			else
				snprintf(path, sizeof(path), "%s.v6",
				    o->output);
			if ((rc = export_commit(path, header, b.p, b.n,
			    sf == NULL || !sf->nopad, err, sizeof(err))) == -1) {
				fprintf(stderr, "decoymx export: %s\n", err);
				goto out;
			}
			if (!o->quiet)
				fprintf(stderr, "decoymx export %s: %s %s, "
				    "%zu entries\n", fmt->name, path, rc ?
				    "written" : "unchanged", count);
		}
	}
	ret = 0;
out:
	free(b.p);
	free(l.e);
	free(l.excl);
	free(l.mta);
	allowlist_free(&al);
	return ret;
}

/*
 * Runs one export with the parsed options o on the open database db
 * (dbpath for messages; it replaces o->db).  Returns the exit status.
 */
int
export_run_opts(sqlite3 *db, const char *dbpath,
    const struct export_opts *opts)
{
	struct export_opts	 o = *opts;
	int			 ret;

	o.db = dbpath;
	for (size_t i = 0; i < export_nfmts; i++)
		if (strcmp(o.format, export_fmts[i].name) == 0) {
			ret = export_write(db, &o, &export_fmts[i]);
			return ret == 0 ? 0 : ret == -2 ? EXIT_USAGE :
			    EXIT_RUNTIME;
		}
	fprintf(stderr, "decoymx export: unknown format %s\n", o.format);
	return EXIT_USAGE;	/* export_parse() lets none through */
}

/* The entries (the RFC 5782 test entry included) of the latest export. */
size_t
export_last_entries(void)
{
	return export_entries;
}

/*
 * decoymx export FORMAT [options]: argv[0] is "export".  Opens the
 * database read-only (never creates it).  Returns the exit status.
 */
int
cmd_export(int argc, char **argv, const char *default_db)
{
	struct export_opts	 o;
	struct store		*st;
	char			 err[1024];
	int			 ret;

	export_defaults(&o);
	o.db = default_db;
	if ((ret = export_parse(argc, argv, &o, err, sizeof(err))) != 0) {
		fprintf(stderr, "decoymx export: %s\n", err);
		return ret == -2 ? export_usage() : EXIT_USAGE;
	}
	if (o.db == NULL || *o.db == '\0') {
		fprintf(stderr, "decoymx export: no database given (--db "
		    "PATH)\n");
		return EXIT_USAGE;
	}
	if ((st = store_open(o.db, STORE_RO, err, sizeof(err))) == NULL) {
		fprintf(stderr, "decoymx export: %s\n", err);
		return EXIT_RUNTIME;
	}
	ret = export_run_opts(store_db(st), o.db, &o);
	store_close(st);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "decoymx export: cannot write the export\n");
		ret = EXIT_RUNTIME;
	}
	return ret;
}
