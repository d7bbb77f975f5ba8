/* SPDX-License-Identifier: ISC */
/*
 * store.c -- the database handle: opening (read-write for the daemon,
 * read-only for reports), the cached prepared statements and the writer
 * of one finished session with its MAIL transactions and their
 * recipients (schema 7), AUTH attempts, its
 * geolocation (r->geo, looked up by geo.c) and the per-client
 * aggregates.
 *
 * Everything that came from the network reaches SQLite through bound
 * parameters, as TEXT with an explicit length: embedded NULs and invalid
 * UTF-8 are stored as given and escaped only on output.  A span whose
 * pointer is NULL (the field never appeared) is stored as NULL; an empty
 * span (e.g. MAIL FROM:<>) as the empty string.
 *
 * Exports store_open(), store_close(), store_db(), store_path(),
 * store_error(), store_errcode(), store_begin(), store_begin_batch(),
 * store_session(), store_session_bare(), store_commit(),
 * store_rollback(), store_file_changed() and store_reopen().
 */
#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

#define STORE_BUSY_MS	2000

enum {
	Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_SAVEPOINT, Q_RELEASE,
	Q_SESSION, Q_RCPT, Q_AUTH, Q_CLIENT, Q_DECOY, Q_COUNTS, Q_TXN,
	Q_TEMP_MEMORY, Q_TEMP_DEFAULT, Q_MAX
};

static const char *store_sql[Q_MAX] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SAVEPOINT] = "SAVEPOINT rec",
	[Q_TEMP_MEMORY] = "PRAGMA temp_store = MEMORY",
	[Q_TEMP_DEFAULT] = "PRAGMA temp_store = DEFAULT",
	[Q_RELEASE] = "RELEASE rec",
	[Q_SESSION] =
	    "INSERT INTO sessions(uid, start_us, end_us, src_ip, src_port,"
	    " dst_ip, dst_port, mx_pref, role, greeting_delay_ms, helo_verb,"
	    " helo, mail_from, rcpt_total, stage, reply_code, close_reason,"
	    " bytes_in, bytes_out, commands, errors, anomalies, country, asn,"
	    " as_org, geo_build, sensor, transactions, via)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26,"
	    " ?27, ?28, ?29)"
	    " ON CONFLICT(uid) DO NOTHING",
	[Q_RCPT] =
	    "INSERT INTO recipients(session_id, seq, rcpt, txn, reply_code)"
	    " VALUES(?1, ?2, ?3, ?4, ?5)",
	[Q_TXN] =
	    "INSERT INTO transactions(session_id, seq, mail_from, params,"
	    " reply_code, rcpt_total, ended) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_AUTH] =
	    "INSERT INTO auth_attempts(session_id, seq, mechanism, username)"
	    " VALUES(?1, ?2, ?3, ?4)",
	[Q_CLIENT] =
	    "INSERT INTO clients(ip, first_us, last_us, sessions, anomalies,"
	    " rcpts) VALUES(?1, ?2, ?3, 1, ?4, ?5)"
	    " ON CONFLICT(ip) DO UPDATE SET"
	    " first_us = min(first_us, excluded.first_us),"
	    " last_us = max(last_us, excluded.last_us),"
	    " sessions = sessions + 1,"
	    " anomalies = anomalies | excluded.anomalies,"
	    " rcpts = rcpts + excluded.rcpts",
	/* The decoy's preference and role as of the latest session. */
	/* One row per distinct key of a batch (counts.c). */
	[Q_COUNTS] =
	    "INSERT INTO counts(dim, key, label, sessions, first_us, last_us)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(dim, key) DO UPDATE"
	    " SET sessions = sessions + excluded.sessions,"
	    " label = coalesce(excluded.label, label),"
	    " first_us = min(first_us, excluded.first_us),"
	    " last_us = max(last_us, excluded.last_us)",
	[Q_DECOY] =
	    "INSERT INTO client_decoys(ip, decoy, mx_pref, role, first_us,"
	    " last_us, sessions) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1)"
	    " ON CONFLICT(ip, decoy) DO UPDATE SET"
	    " mx_pref = CASE WHEN excluded.last_us >= last_us"
	    "  THEN excluded.mx_pref ELSE mx_pref END,"
	    " role = CASE WHEN excluded.last_us >= last_us"
	    "  THEN excluded.role ELSE role END,"
	    " first_us = min(first_us, excluded.first_us),"
	    " last_us = max(last_us, excluded.last_us),"
	    " sessions = sessions + 1",
};

struct store {
	sqlite3		*db;
	char		*path;
	int		 errcode;
	char		 err[512];
	sqlite3_stmt	*q[Q_MAX];
	struct counts	 counts;	/* of the open transaction */
	dev_t		 dev;		/* of the file opened (read-write) */
	ino_t		 ino;
	int		 file_known;
	struct rollup	*rollup;	/* NULL: read-only */
	struct evbatch	*evidence;	/* NULL: read-only */
	int		 temp_memory;	/* in a batch: store_begin_batch() */
};

static void	 store_open_hint(const char *, char *, size_t);
static int	 store_open_immutable(struct store *);
static int	 store_setup_rw(struct store *, char *, size_t);
static void	 store_fail(struct store *, const char *);
static int	 store_run(struct store *, int);
static int	 store_bind_span(sqlite3_stmt *, int, struct span);
static int	 store_bind_str(sqlite3_stmt *, int, const char *, size_t);
static int64_t	 store_clamp(uint64_t);
static int	 store_insert(struct store *, const struct sess_rec *);
static int	 store_writable(struct store *);
static void	 store_temp_default(struct store *);
static int	 store_bind_geo(sqlite3_stmt *, const struct geo_info *);
static int	 store_txns(struct store *, int64_t, const struct sess_rec *);

/* Why a path cannot be opened, when its directory tells: " (...)". */
static void
store_open_hint(const char *path, char *hint, size_t len)
{
	struct stat	 sb;
	char		 copy[PATH_MAX], *dir;

	hint[0] = '\0';
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(hint, len, " (it is a directory)");
		return;
	}
	if (strlen(path) >= sizeof(copy))
		return;
	memcpy(copy, path, strlen(path) + 1);
	dir = dirname(copy);
	if (stat(dir, &sb) == -1)
		snprintf(hint, len, " (directory %s: %s)", dir,
		    strerror(errno));
	else if (!S_ISDIR(sb.st_mode))
		snprintf(hint, len, " (%s is not a directory)", dir);
	else if (access(dir, W_OK) == -1 && stat(path, &sb) == -1)
		snprintf(hint, len, " (directory %s is not writable)", dir);
}

/* Sets the store's error from the connection: "what: sqlite message". */
static void
store_fail(struct store *s, const char *what)
{
	s->errcode = sqlite3_extended_errcode(s->db);
	snprintf(s->err, sizeof(s->err), "%s: %s", what,
	    sqlite3_errmsg(s->db));
}

/* Steps a cached statement that returns no rows, then resets it. */
static int
store_run(struct store *s, int q)
{
	int	 rc;

	rc = sqlite3_step(s->q[q]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		store_fail(s, store_sql[q]);
	sqlite3_reset(s->q[q]);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Opens the database at path.  STORE_RW creates it if needed, switches it
 * to WAL and migrates it; STORE_RO never creates or writes and refuses a
 * database at another schema version (unless STORE_ANYVERSION).  A
 * database newer than this code is refused untouched in both modes.
 * Returns a handle the caller frees with store_close(), or NULL with a
 * message naming the path in err.
 */
struct store *
store_open(const char *path, int mode, char *err, size_t errlen)
{
	struct store	*s;
	struct stat	 sb;
	char		 hint[PATH_MAX + 64];
	int		 rw = mode & STORE_RW, rc, v;

	if (!rw && stat(path, &sb) == -1) {
		if (errno == ENOENT)
			snprintf(err, errlen, "database %s does not exist",
			    path);
		else
			snprintf(err, errlen, "database %s: %s", path,
			    strerror(errno));
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		snprintf(err, errlen, "database %s: out of memory", path);
		return NULL;
	}
	/*
	 * A reader is one thread (every process here is): without the
	 * connection's mutex, each column of each row it reads costs no lock.
	 */
	rc = sqlite3_open_v2(path, &s->db, rw ? SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK) {
		store_open_hint(path, hint, sizeof(hint));
		snprintf(err, errlen, "cannot open database %s: %s%s", path,
		    s->db != NULL ? sqlite3_errmsg(s->db) :
		    sqlite3_errstr(rc), hint);
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if (rw && sqlite3_db_readonly(s->db, "main") == 1) {
		snprintf(err, errlen, "database %s is not writable", path);
		goto fail;
	}
	if ((v = schema_version(s->db)) == -1 && !rw &&
	    store_open_immutable(s) == 0)
		v = schema_version(s->db);
	if (v == -1) {
		snprintf(err, errlen, "cannot read database %s: %s", path,
		    sqlite3_errmsg(s->db));
		goto fail;
	}
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "database %s has schema version %d, this "
		    "decoymx knows up to %d; upgrade decoymx", path, v,
		    SCHEMA_VERSION);
		goto fail;
	}
	if (rw) {
		if (store_setup_rw(s, err, errlen) == -1)
			goto fail;
		if (stat(path, &sb) == 0) {
			s->dev = sb.st_dev;
			s->ino = sb.st_ino;
			s->file_known = 1;
		}
	} else if (v < SCHEMA_VERSION && !(mode & STORE_ANYVERSION)) {
		snprintf(err, errlen, "database %s has schema version %d, this "
		    "decoymx needs %d; run decoymx db migrate", path, v,
		    SCHEMA_VERSION);
		goto fail;
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

/*
 * A reader that may not create PATH-shm cannot open a WAL database while
 * no writer has it open (SQLITE_READONLY_CANTINIT and friends).  With no
 * PATH-wal either, the main file holds everything and is read as
 * immutable, without locks.  Returns 0 with s->db replaced, or -1 with
 * s->db as it was.
 */
static int
store_open_immutable(struct store *s)
{
	struct stat	 sb;
	sqlite3		*db;
	char		 wal[PATH_MAX], uri[3 * PATH_MAX + 32], *u = uri;
	int		 n;

	if ((sqlite3_extended_errcode(s->db) & 0xff) != SQLITE_READONLY &&
	    (sqlite3_extended_errcode(s->db) & 0xff) != SQLITE_CANTOPEN)
		return -1;
	n = snprintf(wal, sizeof(wal), "%s-wal", s->path);
	if (n < 0 || (size_t)n >= sizeof(wal) || stat(wal, &sb) == 0 ||
	    errno != ENOENT)
		return -1;
	u += snprintf(uri, sizeof(uri), "file:");
	for (const char *p = s->path; *p != '\0'; p++) {
		if (strchr("?#%", *p) != NULL || (unsigned char)*p < 0x20)
			u += sprintf(u, "%%%02x", (unsigned char)*p);
		else
			*u++ = *p;
	}
	strlcpy_(u, "?immutable=1", sizeof(uri) - (size_t)(u - uri));
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_close(s->db);
	s->db = db;
	sqlite3_extended_result_codes(s->db, 1);
	return 0;
}

/* The writer's settings, the migrations and the cached statements. */
static int
store_setup_rw(struct store *s, char *err, size_t errlen)
{
	static const char *pragmas[] = {
		"PRAGMA journal_mode = WAL",
		"PRAGMA synchronous = NORMAL",
		"PRAGMA foreign_keys = ON",
		/*
		 * A bigger cache and fewer checkpoints: each batch dirties
		 * pages all over the client indexes, and a page rewritten by
		 * many batches is copied into the database file once.
		 */
		"PRAGMA cache_size = -32768",
		"PRAGMA wal_autocheckpoint = 8192",
	};
	char	 why[512];

	for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
		if (sqlite3_exec(s->db, pragmas[i], NULL, NULL,
		    NULL) != SQLITE_OK) {
			store_open_hint(s->path, why, sizeof(why));
			snprintf(err, errlen, "database %s: %s: %s%s", s->path,
			    pragmas[i], sqlite3_errmsg(s->db), why);
			return -1;
		}
	}
	if (schema_migrate(s->db, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "database %s: %s", s->path, why);
		return -1;
	}
	for (int i = 0; i < Q_MAX; i++) {
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) != SQLITE_OK) {
			snprintf(err, errlen, "database %s: cannot prepare "
			    "\"%s\": %s", s->path, store_sql[i],
			    sqlite3_errmsg(s->db));
			return -1;
		}
	}
	if ((s->evidence = evidence_open(s->db)) == NULL) {
		snprintf(err, errlen, "database %s: cannot prepare the "
		    "evidence: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	if ((s->rollup = rollup_open(s->db)) == NULL) {
		snprintf(err, errlen, "database %s: cannot prepare the "
		    "rollups: %s", s->path, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

/*
 * Whether the file at the path is still the one opened (read-write
 * handles; checked before each batch, DESIGN.md and decoymx(8)): 0, or
 * 1 when it was unlinked (no file, or no link left to it) or replaced
 * by another file, with store_error() saying which.  An SQLite
 * connection keeps writing into an unlinked file, where every commit
 * would be lost with it.
 */
int
store_file_changed(struct store *s)
{
	struct stat	 sb;

	if (!s->file_known)
		return 0;
	if (s->db == NULL) {
		snprintf(s->err, sizeof(s->err), "database %s is not open",
		    s->path);
		return 1;
	}
	if (stat(s->path, &sb) == -1) {
		if (errno != ENOENT)
			return 0;	/* cannot tell: a failed write will */
		snprintf(s->err, sizeof(s->err), "database %s was deleted "
		    "while in use", s->path);
		return 1;
	}
	if (sb.st_dev == s->dev && sb.st_ino == s->ino && sb.st_nlink > 0)
		return 0;
	snprintf(s->err, sizeof(s->err), "database %s was replaced while in "
	    "use (inode %llu, now %llu)", s->path, (unsigned long long)s->ino,
	    (unsigned long long)sb.st_ino);
	return 1;
}

/*
 * Closes the connection and opens the path again, read-write (creating
 * and migrating a new file when there is none).  The old connection goes
 * first: closing it checkpoints into the old file and removes PATH-wal
 * and PATH-shm by name, which must not be the new file's.  No
 * transaction may be open, and statements prepared by others on
 * store_db(s) must be finalized first.  Returns 0, or -1 with err set
 * and s without a connection (store_begin() fails, store_db() is NULL)
 * until a later store_reopen() succeeds.
 */
int
store_reopen(struct store *s, char *err, size_t errlen)
{
	struct store	*n;

	counts_clear(&s->counts);
	for (int i = 0; i < Q_MAX; i++) {
		sqlite3_finalize(s->q[i]);
		s->q[i] = NULL;
	}
	if (s->db != NULL)
		sqlite3_close_v2(s->db);
	s->db = NULL;
	if ((n = store_open(s->path, STORE_RW, err, errlen)) == NULL)
		return -1;
	s->db = n->db;
	s->temp_memory = 0;
	memcpy(s->q, n->q, sizeof(s->q));
	s->dev = n->dev;
	s->ino = n->ino;
	s->file_known = n->file_known;
	n->db = NULL;
	memset(n->q, 0, sizeof(n->q));
	store_close(n);
	return 0;
}

/* Closes the database and frees the handle; NULL is allowed. */
void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	counts_clear(&s->counts);
	rollup_close(s->rollup);
	evidence_close(s->evidence);
	for (int i = 0; i < Q_MAX; i++)
		sqlite3_finalize(s->q[i]);
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* The evidence writer of a read-write store (db recount), or NULL. */
struct evbatch *
store_evidence(struct store *s)
{
	return s->evidence;
}

/* The rollups of a read-write store (db recount), or NULL. */
struct rollup *
store_rollup(struct store *s)
{
	return s->rollup;
}

/* The connection, for queries of the caller's own; still owned by s. */
sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

const char *
store_path(const struct store *s)
{
	return s->path;
}

/* The last error, "what: sqlite message"; valid until the next call. */
const char *
store_error(const struct store *s)
{
	return s->err;
}

/* The extended SQLite result code of the last error. */
int
store_errcode(const struct store *s)
{
	return s->errcode;
}

/* Starts a write transaction (waits up to STORE_BUSY_MS for the lock). */
int
store_begin(struct store *s)
{
	if (s->db == NULL) {
		s->errcode = SQLITE_CANTOPEN;
		snprintf(s->err, sizeof(s->err), "database %s is not open",
		    s->path);
		return -1;
	}
	if (s->q[Q_BEGIN] == NULL) {
		s->errcode = SQLITE_READONLY;
		snprintf(s->err, sizeof(s->err), "database %s opened read-only",
		    s->path);
		return -1;
	}
	return store_run(s, Q_BEGIN);
}

/*
 * Starts the write transaction of a batch of the store process (batch.c),
 * whose statement journals (the pages each statement changes, kept to
 * undo it) stay in memory: past 64 KiB SQLite writes them to a temporary
 * file, two pwrite()s a page, which was a third of the store's CPU.  A
 * batch is bounded (batch-max), and so is that memory.  store_commit()
 * and store_rollback() give the connection its temporary files back
 * (exports sort on it between batches; db merge's long transactions
 * use store_begin()).  Durability is the WAL's, unchanged: these
 * journals are never read after a crash.  Returns as store_begin().
 */
int
store_begin_batch(struct store *s)
{
	if (s->db != NULL && s->q[Q_TEMP_MEMORY] != NULL &&
	    sqlite3_get_autocommit(s->db) && store_run(s, Q_TEMP_MEMORY) == 0)
		s->temp_memory = 1;
	return store_begin(s);
}

/* After a batch's transaction: temporary files again, as by default. */
static void
store_temp_default(struct store *s)
{
	if (!s->temp_memory || s->db == NULL || !sqlite3_get_autocommit(s->db))
		return;
	if (store_run(s, Q_TEMP_DEFAULT) == 0)
		s->temp_memory = 0;
}

/* Commits; on failure the transaction is still open: roll it back. */
int
store_commit(struct store *s)
{
	if (s->q[Q_COUNTS] != NULL &&
	    counts_flush(&s->counts, s->q[Q_COUNTS]) == -1) {
		store_fail(s, "cannot write the report counts");
		return -1;
	}
	if (s->evidence != NULL && evidence_syn_os(s->evidence, 0) == -1) {
		store_fail(s, "cannot label the sessions from their SYNs");
		return -1;
	}
	if (s->evidence != NULL && evidence_flush(s->evidence) == -1) {
		store_fail(s, "cannot write the classification evidence");
		return -1;
	}
	if (s->rollup != NULL && rollup_flush(s->rollup) == -1) {
		store_fail(s, "cannot write the rollups");
		return -1;
	}
	if (store_run(s, Q_COMMIT) == -1)
		return -1;
	store_temp_default(s);
	return 0;
}

/* Rolls back the open transaction, if there is one. */
int
store_rollback(struct store *s)
{
	int	 rc = 0;

	counts_clear(&s->counts);
	if (s->q[Q_ROLLBACK] == NULL)
		return 0;
	if (!sqlite3_get_autocommit(s->db))
		rc = store_run(s, Q_ROLLBACK);
	store_temp_default(s);
	return rc;
}

static int
store_bind_str(sqlite3_stmt *q, int i, const char *p, size_t len)
{
	if (len > INT_MAX)
		return SQLITE_TOOBIG;
	return sqlite3_bind_text(q, i, p, (int)len, SQLITE_TRANSIENT);
}

static int
store_bind_span(sqlite3_stmt *q, int i, struct span sp)
{
	if (sp.p == NULL)
		return sqlite3_bind_null(q, i);
	return store_bind_str(q, i, sp.p, sp.len);
}

static int64_t
store_clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/*
 * Writes one session, its recipients and AUTH attempts, and folds it into
 * the per-client aggregates.  A session whose uid is already stored
 * changes nothing, so a record written twice counts once.  Best called
 * between store_begin() and store_commit(); each call is its own
 * savepoint, so a failed call leaves the transaction as it was.  Returns
 * 0, or -1 with store_error() and store_errcode() set.
 */
int
store_session(struct store *s, const struct sess_rec *r)
{
	if (store_writable(s) == -1)
		return -1;
	if (store_run(s, Q_SAVEPOINT) == -1)
		return -1;
	if (store_insert(s, r) == -1) {
		int	 code = s->errcode;
		char	 err[sizeof(s->err)];

		memcpy(err, s->err, sizeof(err));
		sqlite3_exec(s->db, "ROLLBACK TO rec; RELEASE rec", NULL, NULL,
		    NULL);
		s->errcode = code;
		memcpy(s->err, err, sizeof(err));
		return -1;
	}
	return store_run(s, Q_RELEASE);
}

/*
 * store_session() without its savepoint, for a batch that is rolled
 * back whole when one of its sessions fails (batch.c).  A savepoint
 * keeps a copy of every page it changes (about 15 of 4 KiB a session),
 * which SQLite sends to a temporary file past 64 KiB: two pwrite()s a
 * page, half of the store's CPU.  A failed call may leave part of the
 * session written: roll the transaction back.  Returns 0, or -1 with
 * store_error() and store_errcode() set.
 */
int
store_session_bare(struct store *s, const struct sess_rec *r)
{
	if (store_writable(s) == -1)
		return -1;
	return store_insert(s, r);
}

/* 0 when s can write sessions, else -1 with the error set. */
static int
store_writable(struct store *s)
{
	if (s->q[Q_SESSION] != NULL)
		return 0;
	s->errcode = SQLITE_READONLY;
	snprintf(s->err, sizeof(s->err), "database %s opened read-only",
	    s->path);
	return -1;
}

/* Binds country, asn, as_org, geo_build (?23-?26); empty ones as NULL. */
static int
store_bind_geo(sqlite3_stmt *q, const struct geo_info *g)
{
	int	 rc = SQLITE_OK;

	if (g == NULL || g->country[0] == '\0')
		rc |= sqlite3_bind_null(q, 23);
	else
		rc |= sqlite3_bind_text(q, 23, g->country, -1, SQLITE_TRANSIENT);
	if (g == NULL || g->asn == 0)
		rc |= sqlite3_bind_null(q, 24);
	else
		rc |= sqlite3_bind_int64(q, 24, g->asn);
	if (g == NULL || g->as_org[0] == '\0')
		rc |= sqlite3_bind_null(q, 25);
	else
		rc |= sqlite3_bind_text(q, 25, g->as_org, -1, SQLITE_TRANSIENT);
	if (g == NULL || g->build == 0)
		rc |= sqlite3_bind_null(q, 26);
	else
		rc |= sqlite3_bind_int64(q, 26, g->build);
	return rc;
}

/*
 * The transactions of session id and their recipients (the legacy
 * rcpt[] is a view of these: record.c makes them agree).
 */
static int
store_txns(struct store *s, int64_t id, const struct sess_rec *r)
{
	sqlite3_stmt	*q;
	int		 rc;

	for (uint32_t i = 0; i < r->ntxn && i < MAX_TXN; i++) {
		const struct txn_rec *t = &r->txn[i];

		q = s->q[Q_TXN];
		rc = sqlite3_bind_int64(q, 1, id);
		rc |= sqlite3_bind_int64(q, 2, i);
		rc |= store_bind_span(q, 3, t->mail);
		rc |= store_bind_span(q, 4, t->params);
		rc |= t->reply == 0 ? sqlite3_bind_null(q, 5) :
		    sqlite3_bind_int(q, 5, t->reply);
		rc |= sqlite3_bind_int64(q, 6, t->rcpt_total);
		rc |= sqlite3_bind_text(q, 7, txn_end_name(t->ended), -1,
		    SQLITE_STATIC);
		if (rc != SQLITE_OK) {
			store_fail(s, "cannot bind transaction");
			return -1;
		}
		if (store_run(s, Q_TXN) == -1)
			return -1;
		q = s->q[Q_RCPT];
		for (uint32_t j = 0; j < t->nrcpt; j++) {
			uint32_t k = t->rcpt_first + j;

			if (k >= r->ntrcpt || k >= MAX_TXN_RCPT)
				break;
			rc = sqlite3_bind_int64(q, 1, id);
			rc |= sqlite3_bind_int64(q, 2, k);
			rc |= r->trcpt[k].path.p == NULL ?
			    sqlite3_bind_text(q, 3, "", 0, SQLITE_STATIC) :
			    store_bind_span(q, 3, r->trcpt[k].path);
			rc |= sqlite3_bind_int64(q, 4, i);
			rc |= r->trcpt[k].reply == 0 ? sqlite3_bind_null(q, 5) :
			    sqlite3_bind_int(q, 5, r->trcpt[k].reply);
			if (rc != SQLITE_OK) {
				store_fail(s, "cannot bind recipient");
				return -1;
			}
			if (store_run(s, Q_RCPT) == -1)
				return -1;
		}
	}
	return 0;
}

/* The statements of store_session(), inside its savepoint or not. */
static int
store_insert(struct store *s, const struct sess_rec *r)
{
	sqlite3_stmt	*q = s->q[Q_SESSION];
	int64_t		 id;
	int		 rc = SQLITE_OK;

	rc |= store_bind_str(q, 1, r->uid, strnlen(r->uid, sizeof(r->uid)));
	rc |= sqlite3_bind_int64(q, 2, r->start_us);
	rc |= sqlite3_bind_int64(q, 3, r->end_us);
	rc |= store_bind_str(q, 4, r->src_ip,
	    strnlen(r->src_ip, sizeof(r->src_ip)));
	rc |= sqlite3_bind_int(q, 5, r->src_port);
	rc |= store_bind_str(q, 6, r->dst_ip,
	    strnlen(r->dst_ip, sizeof(r->dst_ip)));
	rc |= sqlite3_bind_int(q, 7, r->dst_port);
	if (r->mx_pref < 0)
		rc |= sqlite3_bind_null(q, 8);
	else
		rc |= sqlite3_bind_int(q, 8, r->mx_pref);
	rc |= sqlite3_bind_text(q, 9, role_name(r->role), -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(q, 10, r->greeting_delay_ms);
	rc |= store_bind_span(q, 11, r->helo_verb);
	rc |= store_bind_span(q, 12, r->helo);
	rc |= store_bind_span(q, 13, r->mail_from);
	rc |= sqlite3_bind_int64(q, 14, r->rcpt_total);
	rc |= sqlite3_bind_text(q, 15, stage_name(r->stage), -1,
	    SQLITE_STATIC);
	if (r->reply_code == 0)
		rc |= sqlite3_bind_null(q, 16);
	else
		rc |= sqlite3_bind_int(q, 16, r->reply_code);
	rc |= sqlite3_bind_text(q, 17, close_reason_name(r->reason), -1,
	    SQLITE_STATIC);
	rc |= sqlite3_bind_int64(q, 18, store_clamp(r->bytes_in));
	rc |= sqlite3_bind_int64(q, 19, store_clamp(r->bytes_out));
	rc |= sqlite3_bind_int64(q, 20, r->commands);
	rc |= sqlite3_bind_int64(q, 21, r->errors);
	rc |= sqlite3_bind_int64(q, 22, r->anomalies);
	rc |= store_bind_geo(q, r->geo);
	if (r->sensor.p == NULL)
		rc |= sqlite3_bind_null(q, 27);
	else
		rc |= store_bind_str(q, 27, r->sensor.p, r->sensor.len);
	rc |= sqlite3_bind_int64(q, 28, r->txn_total > r->ntxn ? r->txn_total :
	    r->ntxn);
	if (r->via[0] == '\0')
		rc |= sqlite3_bind_null(q, 29);
	else
		rc |= store_bind_str(q, 29, r->via,
		    strnlen(r->via, sizeof(r->via)));
	if (rc != SQLITE_OK) {
		store_fail(s, "cannot bind session");
		return -1;
	}
	if (store_run(s, Q_SESSION) == -1)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return 0;	/* uid already stored */
	id = sqlite3_last_insert_rowid(s->db);

	if (store_txns(s, id, r) == -1)
		return -1;

	q = s->q[Q_AUTH];
	for (uint32_t i = 0; i < r->nauth && i < MAX_AUTH; i++) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, i);
		rc = r->auth[i].mech.p == NULL ?
		    sqlite3_bind_text(q, 3, "", 0, SQLITE_STATIC) :
		    store_bind_span(q, 3, r->auth[i].mech);
		rc |= store_bind_span(q, 4, r->auth[i].user);
		if (rc != SQLITE_OK) {
			store_fail(s, "cannot bind auth attempt");
			return -1;
		}
		if (store_run(s, Q_AUTH) == -1)
			return -1;
	}

	q = s->q[Q_CLIENT];
	store_bind_str(q, 1, r->src_ip, strnlen(r->src_ip, sizeof(r->src_ip)));
	sqlite3_bind_int64(q, 2, r->start_us);
	sqlite3_bind_int64(q, 3, r->end_us);
	sqlite3_bind_int64(q, 4, r->anomalies);
	sqlite3_bind_int64(q, 5, r->rcpt_total);
	if (store_run(s, Q_CLIENT) == -1)
		return -1;

	q = s->q[Q_DECOY];
	store_bind_str(q, 1, r->src_ip, strnlen(r->src_ip, sizeof(r->src_ip)));
	store_bind_str(q, 2, r->dst_ip, strnlen(r->dst_ip, sizeof(r->dst_ip)));
	if (r->mx_pref < 0)
		sqlite3_bind_null(q, 3);
	else
		sqlite3_bind_int(q, 3, r->mx_pref);
	sqlite3_bind_text(q, 4, role_name(r->role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, r->start_us);
	sqlite3_bind_int64(q, 6, r->end_us);
	if (store_run(s, Q_DECOY) == -1)
		return -1;
	counts_add(&s->counts, r);
	return 0;
}
