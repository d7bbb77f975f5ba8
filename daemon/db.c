/* SPDX-License-Identifier: ISC */
/*
 * db.c -- the "decoymx db" command: database maintenance from the shell.
 *
 *	decoymx db migrate [--db PATH]	create or upgrade the schema
 *	decoymx db check [--db PATH]	integrity, foreign keys, version and
 *					report counts against a recount
 *	decoymx db merge [--db PATH] OTHER.db...  fold other sensors' data in
 *	decoymx db recount [--db PATH]	rebuild the report counts
 *	decoymx db prune --older-than DUR [--db PATH]	drop old detail
 *
 * Exports cmd_db().
 */
#include <sys/stat.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "daemon.h"

/* The options of db, before its subcommand's word and after it. */
struct db_args {
	const char	*path;		/* --db */
	const char	*older_than;	/* --older-than, of db prune */
};

struct db_cmd {
	const char	*name;
	const char	*usage;
	int		(*run)(const struct db_args *, int, char **);
};

static int	 db_migrate(const struct db_args *, int, char **);
static int	 db_check(const struct db_args *, int, char **);
static int	 db_merge(const struct db_args *, int, char **);
static int	 db_recount(const struct db_args *, int, char **);
static int	 db_prune(const struct db_args *, int, char **);
static int	 db_check_pragma(sqlite3 *, const char *, const char *);
static int	 db_usage(void);
static int	 db_opts(int, char **, struct db_args *);
static void	 db_unlink(const char *);

static const struct db_cmd db_cmds[] = {
	{ "migrate", "migrate [--db PATH]", db_migrate },
	{ "check", "check [--db PATH]", db_check },
	{ "merge", "merge [--db PATH] OTHER.db...", db_merge },
	{ "recount", "recount [--db PATH]", db_recount },
	{ "prune", "prune --older-than DUR [--db PATH]", db_prune },
};

/* Either side of the subcommand's word, as getopt's "+" read them. */
static const struct opt db_optv[] = {
	{ "db", 'd', 1, opt_set_str, offsetof(struct db_args, path) },
	{ "older-than", 0, 1, opt_set_str,
	    offsetof(struct db_args, older_than) },
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
db_migrate(const struct db_args *a, int argc, char **argv)
{
	const char	*path = a->path;
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

/* db prune's cut (microseconds), 0 when nothing was ever pruned. */
static int64_t
db_pruned_us(sqlite3 *db)
{
	sqlite3_stmt	*q;
	int64_t		 v = 0;

	if (sqlite3_prepare_v2(db, "SELECT pruned_us FROM rollup_state", -1,
	    &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

static int
db_check(const struct db_args *a, int argc, char **argv)
{
	const char	*path = a->path;
	struct store	*st;
	sqlite3		*db;
	char		 err[1024], when[40];
	int		 bad = 0, v, drift;
	int64_t		 pruned;

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
	if (v == SCHEMA_VERSION && (pruned = db_pruned_us(db)) > 0) {
		/* The counts keep what db prune deleted: no recount to match. */
		util_iso8601(pruned, when, sizeof(when));
		printf("database %s: pruned before %s; the report counts keep "
		    "the pruned sessions and are not compared with a recount\n",
		    path, when);
	} else if (v == SCHEMA_VERSION &&
	    (drift = counts_check(db, stdout)) != 0) {
		if (drift < 0)
			printf("cannot compare the report counts: %s\n",
			    sqlite3_errmsg(db));
		else
			printf("database %s: %d report counts differ from the "
			    "sessions; run decoymx db recount\n", path, drift);
		bad = 1;
	}
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
db_merge(const struct db_args *a, int argc, char **argv)
{
	const char	*path = a->path;
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
 * (the session_dims view), and what the store adds per batch: the
 * fingerprints of sessions without one from their SYNs, the
 * classification evidence and the rollups; for rows written by
 * something else than the store process: an import, a hand edit, a test
 * fixture.
 */
static int
db_recount(const struct db_args *a, int argc, char **argv)
{
	const char	*path = a->path;
	static const char *sql =
	    "BEGIN IMMEDIATE;"
	    "DELETE FROM counts WHERE dim IN ('role', 'decoy', 'stage',"
	    " 'reason', 'country', 'asn', 'os', 'fingerprint', 'helo',"
	    " 'sender', 'sender-domain', 'anomaly', 'net', 'recipient');"
	    "INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	    " SELECT dim, key, max(label), count(*), min(t), max(t)"
	    " FROM session_dims WHERE key IS NOT NULL GROUP BY dim, key;"
	    "INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	    " SELECT 'recipient', r.rcpt, NULL, count(*), min(s.start_us),"
	    " max(s.start_us) FROM recipients r JOIN sessions s"
	    " ON s.id = r.session_id GROUP BY r.rcpt;"
	    /* The evidence again, from the first session on. */
	    "DELETE FROM client_evidence; DELETE FROM client_envelopes;"
	    "UPDATE rollup_state SET max_id = 0;";
	/*
	 * What triggers add to the evidence as rows are inserted, which
	 * the per-batch evidence does not: parallel walks (schema 8: a
	 * session counts when one of the other role was stored before it,
	 * so a walk counts once, as the trigger counts it) and the senders
	 * of later transactions.
	 */
	static const char *post =
	    "UPDATE client_evidence SET parallel = (SELECT count(*)"
	    " FROM sessions n WHERE n.src_ip = client_evidence.ip"
	    " AND n.role IN ('primary', 'backup') AND EXISTS (SELECT 1"
	    " FROM sessions o WHERE o.src_ip = n.src_ip AND o.id < n.id"
	    " AND o.role IN ('primary', 'backup') AND o.role != n.role"
	    " AND o.start_us BETWEEN n.start_us - 1000000"
	    " AND n.start_us + 1000000"
	    " AND o.start_us <= n.end_us AND n.start_us <= o.end_us));"
	    "INSERT INTO client_envelopes(ip, helo, mail_from, first_us,"
	    " last_us, sessions) SELECT s.src_ip, coalesce(s.helo, ''),"
	    " t.mail_from, min(s.start_us), max(s.start_us),"
	    " count(DISTINCT s.id) FROM transactions t JOIN sessions s"
	    " ON s.id = t.session_id WHERE t.mail_from IS NOT NULL"
	    " AND t.mail_from IS NOT s.mail_from GROUP BY 1, 2, 3"
	    " ON CONFLICT(ip, helo, mail_from) DO UPDATE SET"
	    " first_us = min(first_us, excluded.first_us),"
	    " last_us = max(last_us, excluded.last_us),"
	    " sessions = sessions + excluded.sessions;";
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
	if (sqlite3_exec(store_db(st), sql, NULL, NULL, &msg) != SQLITE_OK ||
	    evidence_syn_os(store_evidence(st), 1) == -1 ||
	    evidence_flush(store_evidence(st)) == -1 ||
	    sqlite3_exec(store_db(st), post, NULL, NULL, &msg) != SQLITE_OK ||
	    rollup_rebuild(store_rollup(st)) == -1 ||
	    sqlite3_exec(store_db(st), "COMMIT", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "decoymx db recount: %s: %s\n", path,
		    msg ? msg : sqlite3_errmsg(store_db(st)));
		sqlite3_exec(store_db(st), "ROLLBACK", NULL, NULL, NULL);
		rv = EXIT_RUNTIME;
	} else
		printf("database %s: report counts and rollups rebuilt\n",
		    path);
	sqlite3_free(msg);
	store_close(st);
	return rv;
}

/*
 * Deletes the sessions (with their recipients, AUTH attempts and
 * transactions) and the SYNs (but the newest to the real MX of each
 * address family) older than --older-than, cut at a whole UTC hour, in one
 * transaction.  What is kept about them stays: the rollups (rolled up
 * first) and the per-client and report aggregates still count every
 * session ever seen, so the all-time reports, the timeline and the
 * export do not change; only the sessions' detail is gone.
 */
static int
db_prune(const struct db_args *a, int argc, char **argv)
{
	const char	*path = a->path;
	static const char *sql[] = {
	    "DELETE FROM recipients WHERE session_id IN (SELECT id"
	    " FROM sessions WHERE start_us < ?1)",
	    "DELETE FROM auth_attempts WHERE session_id IN (SELECT id"
	    " FROM sessions WHERE start_us < ?1)",
	    "DELETE FROM transactions WHERE session_id IN (SELECT id"
	    " FROM sessions WHERE start_us < ?1)",
	    "DELETE FROM sessions WHERE start_us < ?1",
	    /*
	     * The newest SYN to the real MX of each address family stays:
	     * it is what tells classification that the sensor watches the
	     * real MX in that family (store/classify.c).
	     */
	    "DELETE FROM syns WHERE ts_us < ?1 AND id NOT IN (SELECT max(id)"
	    " FROM syns WHERE role = 'real' GROUP BY ver)",
	    "UPDATE rollup_state SET pruned_us = max(pruned_us, ?1)",
	};
	struct store	*st;
	sqlite3_stmt	*q;
	sqlite3		*db;
	uint64_t	 ms;
	int64_t		 cut, n[5] = { 0 };
	char		 err[1024], t[64];
	int		 rv = EXIT_RUNTIME;

	(void)argv;
	if (argc != 0 || a->older_than == NULL)
		return db_usage();
	if (util_parse_duration_ms(a->older_than, &ms) == -1 ||
	    ms > (uint64_t)INT64_MAX / 1000 || ms < 3600 * 1000) {
		fprintf(stderr, "decoymx db prune: bad --older-than %s: want "
		    "a duration of an hour or more (30d, 12h)\n",
		    a->older_than);
		return EXIT_USAGE;
	}
	cut = util_now_us() - (int64_t)ms * 1000;
	cut -= cut % (3600LL * 1000000);
	if ((st = store_open(path, STORE_RW, err, sizeof(err))) == NULL) {
		fprintf(stderr, "decoymx db prune: %s\n", err);
		return EXIT_RUNTIME;
	}
	db = store_db(st);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
	    rollup_flush(store_rollup(st)) == -1)
		goto fail;
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if (sqlite3_prepare_v2(db, sql[i], -1, &q, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_int64(q, 1, cut);
		if (sqlite3_step(q) != SQLITE_DONE) {
			sqlite3_finalize(q);
			goto fail;
		}
		if (i < 5)
			n[i] = sqlite3_changes(db);
		sqlite3_finalize(q);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	util_iso8601(cut, t, sizeof(t));
	printf("database %s: pruned before %s: sessions=%lld recipients=%lld "
	    "auth_attempts=%lld transactions=%lld syns=%lld\n", path, t,
	    (long long)n[3], (long long)n[0], (long long)n[1], (long long)n[2],
	    (long long)n[4]);
	rv = 0;
	goto out;
fail:
	fprintf(stderr, "decoymx db prune: %s: %s\n", path,
	    sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	store_close(st);
	return rv;
}

/*
 * Reads db_optv's options from argv[1] up to the first other word into
 * a; argv[0] is the word before them.  Returns the index of that word
 * (argc when none), or -1 after saying what is wrong.
 */
static int
db_opts(int argc, char **argv, struct db_args *a)
{
	char	 err[256];
	int	 i;

	if ((i = opt_parse_head(argc, argv, db_optv, sizeof(db_optv) /
	    sizeof(db_optv[0]), a, err, sizeof(err))) < 0) {
		fprintf(stderr, "decoymx db: %s\n", err);
		return -1;
	}
	return i;
}

/*
 * decoymx db [--db PATH] SUBCOMMAND [--db PATH]: argv[0] is "db".
 * default_db is used without --db.  Returns the exit status: 0, 1
 * (runtime failure or an unhealthy database) or 2 (usage).
 */
int
cmd_db(int argc, char **argv, const char *default_db)
{
	struct db_args	 a = { default_db, NULL };
	const char	*name;
	int		 i;

	if ((i = db_opts(argc, argv, &a)) == -1 || i >= argc)
		return db_usage();
	argc -= i;
	argv += i;
	name = argv[0];
	if ((i = db_opts(argc, argv, &a)) == -1)
		return db_usage();
	for (size_t n = 0; n < NDB_CMDS; n++) {
		if (strcmp(name, db_cmds[n].name) != 0)
			continue;
		if (a.older_than != NULL && db_cmds[n].run != db_prune)
			return db_usage();
		if (a.path == NULL || *a.path == '\0') {
			fprintf(stderr, "decoymx db %s: no database given "
			    "(--db PATH)\n", name);
			return EXIT_USAGE;
		}
		return db_cmds[n].run(&a, argc - i, argv + i);
	}
	fprintf(stderr, "decoymx db: unknown db command: %s\n", name);
	return db_usage();
}
