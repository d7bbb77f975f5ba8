/*
 * db.c -- the "decoymx db" command: database maintenance from the shell.
 *
 *	decoymx db migrate [--db PATH]	create or upgrade the schema
 *	decoymx db check [--db PATH]	integrity, foreign keys and version
 *	decoymx db merge [--db PATH] OTHER.db...  fold other sensors' data in
 *	decoymx db recount [--db PATH]	rebuild the report counts
 *
 * Exports cmd_db().
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

struct db_cmd {
	const char	*name;
	const char	*usage;
	int		(*run)(const char *, int, char **);
};

static int	 db_migrate(const char *, int, char **);
static int	 db_check(const char *, int, char **);
static int	 db_merge(const char *, int, char **);
static int	 db_recount(const char *, int, char **);
static int	 db_check_pragma(sqlite3 *, const char *, const char *);
static int	 db_usage(void);
static int	 db_opts(int, char **, const char **);
static void	 db_unlink(const char *);

static const struct db_cmd db_cmds[] = {
	{ "migrate", "migrate [--db PATH]", db_migrate },
	{ "check", "check [--db PATH]", db_check },
	{ "merge", "merge [--db PATH] OTHER.db...", db_merge },
	{ "recount", "recount [--db PATH]", db_recount },
};

#define NDB_CMDS	(sizeof(db_cmds) / sizeof(db_cmds[0]))

static int
db_usage(void)
{
	for (size_t i = 0; i < NDB_CMDS; i++)
		fprintf(stderr, "%s decoymx db %s\n", i == 0 ? "usage:" :
		    "      ", db_cmds[i].usage);
	return EXIT_USAGE;
}

static int
db_migrate(const char *path, int argc, char **argv)
{
	struct store	*st;
	char		 err[1024];
	int		 v;

	(void)argv;
	if (argc != 0)
		return db_usage();
	if ((st = store_open(path, STORE_RW, err, sizeof(err))) == NULL) {
		fprintf(stderr, "decoymx db migrate: %s\n", err);
		return EXIT_RUNTIME;
	}
	v = schema_version(store_db(st));
	store_close(st);
	printf("database %s at schema version %d\n", path, v);
	return 0;
}

/*
 * Runs a checking pragma whose single "ok" row means healthy (or, with
 * want NULL, no row at all means healthy); prints every other row.
 * Returns 0 when healthy, 1 when not or on error.
 */
static int
db_check_pragma(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt	*q;
	int		 rc, bad = 0, rows = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		return 1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(q, 0);
		int n = sqlite3_column_count(q);

		rows++;
		if (want != NULL && n == 1 && v != NULL &&
		    strcmp((const char *)v, want) == 0)
			continue;
		bad = 1;
		printf("%s:", sql);
		for (int i = 0; i < n; i++) {
			const char *c = (const char *)sqlite3_column_text(q, i);
			char out[512];

			util_escape_term(c != NULL ? c : "NULL",
			    c != NULL ? (size_t)sqlite3_column_bytes(q, i) : 4,
			    out, sizeof(out));
			printf(" %s", out);
		}
		printf("\n");
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		bad = 1;
	}
	sqlite3_finalize(q);
	return bad || (want != NULL && rows == 0);
}

static int
db_check(const char *path, int argc, char **argv)
{
	struct store	*st;
	sqlite3		*db;
	char		 err[1024];
	int		 bad = 0, v;

	(void)argv;
	if (argc != 0)
		return db_usage();
	st = store_open(path, STORE_RO | STORE_ANYVERSION, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "decoymx db check: %s\n", err);
		return EXIT_RUNTIME;
	}
	db = store_db(st);
	bad |= db_check_pragma(db, "PRAGMA integrity_check", "ok");
	bad |= db_check_pragma(db, "PRAGMA foreign_key_check", NULL);
	v = schema_version(db);
	store_close(st);
	if (v != SCHEMA_VERSION) {
		printf("database %s has schema version %d, this decoymx needs "
		    "%d; run decoymx db migrate\n", path, v, SCHEMA_VERSION);
		bad = 1;
	}
	printf("database %s: %s, schema version %d\n", path,
	    bad ? "NOT ok" : "ok", v);
	return bad ? EXIT_RUNTIME : 0;
}

/* Removes a database this command created for nothing, with -wal, -shm. */
static void
db_unlink(const char *path)
{
	char	 side[4096];

	unlink(path);
	if (snprintf(side, sizeof(side), "%s-wal", path) < (int)sizeof(side))
		unlink(side);
	if (snprintf(side, sizeof(side), "%s-shm", path) < (int)sizeof(side))
		unlink(side);
}

/*
 * Folds each OTHER database into path (merge.c does the work).  A path
 * that did not exist is not left behind, empty, when nothing merged.
 */
static int
db_merge(const char *path, int argc, char **argv)
{
	struct store	*st;
	struct stat	 sb;
	char		 err[1024];
	int		 rv = 0, created, merged = 0;

	if (argc == 0)
		return db_usage();
	/* Nothing is created for files that cannot be read. */
	for (int i = 0; i < argc; i++)
		if (access(argv[i], R_OK) == -1) {
			fprintf(stderr, "decoymx db merge: %s: %s\n", argv[i],
			    strerror(errno));
			return EXIT_RUNTIME;
		}
	created = stat(path, &sb) == -1 && errno == ENOENT;
	if ((st = store_open(path, STORE_RW, err, sizeof(err))) == NULL) {
		fprintf(stderr, "decoymx db merge: %s\n", err);
		return EXIT_RUNTIME;
	}
	for (int i = 0; i < argc; i++)
		if (merge_db(st, argv[i], stdout, err, sizeof(err)) == -1) {
			fprintf(stderr, "decoymx db merge: %s\n", err);
			rv = EXIT_RUNTIME;
		} else
			merged++;
	store_close(st);
	if (created && merged == 0)
		db_unlink(path);
	return rv;
}

/*
 * Rebuilds the per-session report counts from the sessions themselves
 * (the session_dims view), for rows written by something else than the
 * store process: an import, a hand edit, a test fixture.
 */
static int
db_recount(const char *path, int argc, char **argv)
{
	static const char *sql =
	    "BEGIN IMMEDIATE;"
	    "DELETE FROM counts WHERE dim IN ('role', 'decoy', 'stage',"
	    " 'reason', 'country', 'asn', 'os', 'fingerprint', 'helo',"
	    " 'sender', 'sender-domain', 'anomaly', 'net');"
	    "INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	    " SELECT dim, key, max(label), count(*), min(t), max(t)"
	    " FROM session_dims WHERE key IS NOT NULL GROUP BY dim, key;"
	    "COMMIT;";
	struct store	*st;
	char		 err[1024], *msg = NULL;
	int		 rv = 0;

	(void)argv;
	if (argc != 0)
		return db_usage();
	if (access(path, F_OK) == -1) {
		fprintf(stderr, "decoymx db recount: database %s: %s\n", path,
		    strerror(errno));
		return EXIT_RUNTIME;
	}
	if ((st = store_open(path, STORE_RW, err, sizeof(err))) == NULL) {
		fprintf(stderr, "decoymx db recount: %s\n", err);
		return EXIT_RUNTIME;
	}
	if (sqlite3_exec(store_db(st), sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "decoymx db recount: %s: %s\n", path,
		    msg ? msg : "failed");
		sqlite3_exec(store_db(st), "ROLLBACK", NULL, NULL, NULL);
		rv = EXIT_RUNTIME;
	} else
		printf("database %s: report counts rebuilt\n", path);
	sqlite3_free(msg);
	store_close(st);
	return rv;
}

/*
 * Parses --db options from argv[1] up to the first other word; argv[0]
 * is skipped as getopt does.  Returns the index of that word, or -1.
 */
static int
db_opts(int argc, char **argv, const char **path)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch;

	optind = 0;	/* glibc: full reset, main may have used getopt */
	while ((ch = getopt_long(argc, argv, "+d:", longopts, NULL)) != -1) {
		if (ch != 'd')
			return -1;
		*path = optarg;
	}
	return optind;
}

/*
 * decoymx db [--db PATH] SUBCOMMAND [--db PATH]: argv[0] is "db".
 * default_db is used without --db.  Returns the exit status: 0, 1
 * (runtime failure or an unhealthy database) or 2 (usage).
 */
int
cmd_db(int argc, char **argv, const char *default_db)
{
	const char	*path = default_db, *name;
	int		 i;

	if ((i = db_opts(argc, argv, &path)) == -1 || i >= argc)
		return db_usage();
	argc -= i;
	argv += i;
	name = argv[0];
	if ((i = db_opts(argc, argv, &path)) == -1)
		return db_usage();
	for (size_t n = 0; n < NDB_CMDS; n++) {
		if (strcmp(name, db_cmds[n].name) != 0)
			continue;
		if (path == NULL || *path == '\0') {
			fprintf(stderr, "decoymx db %s: no database given "
			    "(--db PATH)\n", name);
			return EXIT_USAGE;
		}
		return db_cmds[n].run(path, argc - i, argv + i);
	}
	fprintf(stderr, "decoymx db: unknown db command: %s\n", name);
	return db_usage();
}
