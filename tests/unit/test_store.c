/* SPDX-License-Identifier: ISC */
/*
 * test_store.c -- the store: schema and migrations, the session writer
 * and its aggregates, the batch (idempotency, a locked database, the
 * bound), ingest_run() over a real socketpair, opening rules (missing,
 * newer, unwritable), "decoymx db" and "decoymx report sessions".
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pcap.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "reports.h"
#include "sensor.h"
#include "store.h"
#include "daemon.h"
#include "t.h"

static char	 tmpdir[] = "/tmp/decoymx-test-store.XXXXXX";

static size_t	 mkrec(uint8_t *, size_t, int, const char *, uint32_t);
static long long q1(sqlite3 *, const char *);
static char	*tmppath(const char *);
static char	*slurp(const char *, size_t *);
static char	*capture(int (*)(int, char **, const char *), int, char **,
		    const char *, int *);

/* Encodes session number n from src_ip; n % 3 varies the optional parts. */
static size_t
mkrec(uint8_t *buf, size_t cap, int n, const char *src_ip, uint32_t anom)
{
	static const char helo[] = "bot\0\x1b[31mred";
	struct sess_rec	 r;

	memset(&r, 0, sizeof(r));
	snprintf(r.uid, sizeof(r.uid), "%016x", (unsigned)n);
	r.start_us = 1795000000000000LL + (int64_t)n * 1000000;
	r.end_us = r.start_us + 1500000;
	snprintf(r.src_ip, sizeof(r.src_ip), "%s", src_ip);
	r.src_port = (uint16_t)(40000 + n);
	snprintf(r.dst_ip, sizeof(r.dst_ip), "%s", "192.0.2.40");
	r.dst_port = 25;
	r.mx_pref = n % 3 == 2 ? -1 : 40;
	r.role = ROLE_BACKUP;
	r.helo_verb = (struct span){ "EHLO", 4 };
	r.helo = (struct span){ helo, sizeof(helo) - 1 };
	if (n % 3 == 0) {
		r.mail_from = (struct span){ "<x@bot.example>", 15 };
		r.rcpt[0] = (struct span){ "<a@victim.example>", 18 };
		r.rcpt[1] = (struct span){ "<b@victim.example>", 18 };
		r.nrcpt = 2;
		r.rcpt_total = 3;
		r.auth[0].mech = (struct span){ "LOGIN", 5 };
		r.auth[0].user = (struct span){ "admin", 5 };
		r.auth[1].mech = (struct span){ "PLAIN", 5 };
		r.nauth = 2;
		r.stage = STAGE_RCPT;
	} else if (n % 3 == 1) {
		r.mail_from = (struct span){ "", 0 };	/* MAIL FROM:<> */
		r.stage = STAGE_MAIL;
	} else
		r.stage = STAGE_HELO;
	r.reply_code = 450;
	r.reason = CLOSE_QUIT;
	r.bytes_in = 120;
	r.bytes_out = 300;
	r.commands = 5;
	r.anomalies = anom;
	return record_encode_session(&r, buf, cap);
}

/* The first column of the first row of sql, or -1. */
static long long
q1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*q;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return v;
}

/* A path in the test directory; a static buffer, one at a time. */
static char *
tmppath(const char *name)
{
	static char	 path[256];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Runs a command with stdout sent to a file; returns what it printed. */
static char *
capture(int (*fn)(int, char **, const char *), int argc, char **argv,
    const char *db, int *ret)
{
	char	*out, path[256];
	size_t	 len;
	int	 fd, saved;

	snprintf(path, sizeof(path), "%s/stdout", tmpdir);
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	*ret = fn(argc, argv, db);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	out = slurp(path, &len);
	return out;
}

static void
test_open_migrate(void)
{
	struct store	*st;
	char		 err[512];

	st = store_open(tmppath("a.db"), STORE_RW, err, sizeof(err));
	CHECK(st != NULL);
	if (st == NULL)
		return;
	CHECK(schema_version(store_db(st)) == SCHEMA_VERSION);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('sessions', 'recipients', "
	    "'auth_attempts', 'clients', 'client_decoys')") == 5);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'index' AND name IN ('sessions_start', 'sessions_src')")
	    == 2);
	store_close(st);
	/* Again: already at the version, nothing to do. */
	st = store_open(tmppath("a.db"), STORE_RW, err, sizeof(err));
	CHECK(st != NULL);
	CHECK(schema_migrate(store_db(st), err, sizeof(err)) ==
	    SCHEMA_VERSION);
	store_close(st);
	st = store_open(tmppath("a.db"), STORE_RO, err, sizeof(err));
	CHECK(st != NULL);
	if (st != NULL)
		CHECK(store_begin(st) == -1);	/* read-only handle */
	store_close(st);
}

/* A database unlinked or replaced under the store is noticed, reopened. */
static void
test_file_changed(void)
{
	struct store	*st;
	struct batch	*b;
	uint8_t		 buf[MAX_RECORD];
	char		 err[512], side[300];
	size_t		 len;

	st = store_open(tmppath("fc.db"), STORE_RW, err, sizeof(err));
	b = batch_new(10);
	CHECK(st != NULL && b != NULL);
	if (st == NULL || b == NULL)
		return;
	CHECK(store_file_changed(st) == 0);
	len = mkrec(buf, sizeof(buf), 1, "198.51.100.7", 0);
	CHECK(batch_add(b, buf, len) == 0 && batch_flush(b, st) == 1);
	/* Unlinked: named, then a new file at the path gets the next one. */
	CHECK(unlink(tmppath("fc.db")) == 0);
	snprintf(side, sizeof(side), "%s-wal", tmppath("fc.db"));
	unlink(side);
	CHECK(store_file_changed(st) == 1);
	CHECK(strstr(store_error(st), "was deleted") != NULL);
	CHECK(store_reopen(st, err, sizeof(err)) == 0);
	CHECK(store_file_changed(st) == 0);
	len = mkrec(buf, sizeof(buf), 2, "198.51.100.8", 0);
	CHECK(batch_add(b, buf, len) == 0 && batch_flush(b, st) == 1);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sessions") == 1);
	/* Replaced by another file: noticed by its inode. */
	snprintf(side, sizeof(side), "%s", tmppath("fc.db"));
	CHECK(rename(side, tmppath("fc2.db")) == 0);
	{
		struct store *o = store_open(tmppath("fc.db"), STORE_RW, err,
		    sizeof(err));
		CHECK(o != NULL);
		store_close(o);
	}
	CHECK(store_file_changed(st) == 1);
	CHECK(strstr(store_error(st), "was replaced") != NULL);
	CHECK(store_reopen(st, err, sizeof(err)) == 0);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sessions") == 0);
	store_close(st);
	batch_free(b);
}

static void
test_batch_write(void)
{
	struct store	*st;
	struct batch	*b;
	sqlite3		*db;
	sqlite3_stmt	*q;
	uint8_t		 buf[MAX_RECORD];
	char		 err[512];
	size_t		 len;

	st = store_open(tmppath("b.db"), STORE_RW, err, sizeof(err));
	b = batch_new(100);
	CHECK(st != NULL && b != NULL);
	if (st == NULL || b == NULL)
		return;
	db = store_db(st);
	for (int n = 0; n < 3; n++) {
		len = mkrec(buf, sizeof(buf), n, n < 2 ? "198.51.100.7" :
		    "2001:db8::7", n == 0 ? ANOM_PREGREET : ANOM_BARE_LF);
		CHECK(len > 0);
		CHECK(batch_add(b, buf, len) == 0);
	}
	CHECK(batch_add(b, (const uint8_t *)"\x01\x01\xff", 3) == -1);
	CHECK(batch_stats(b)->invalid == 1);
	CHECK(batch_pending(b) == 3);
	CHECK(batch_flush(b, st) == 3);
	CHECK(batch_pending(b) == 0);
	CHECK(batch_flush(b, st) == 0);

	CHECK(q1(db, "SELECT count(*) FROM sessions") == 3);
	CHECK(q1(db, "SELECT count(*) FROM recipients") == 2);
	CHECK(q1(db, "SELECT count(*) FROM auth_attempts") == 2);
	CHECK(q1(db, "SELECT count(*) FROM auth_attempts WHERE "
	    "username IS NULL") == 1);
	CHECK(q1(db, "SELECT count(*) FROM sessions WHERE mx_pref IS NULL")
	    == 1);
	/* Never sent MAIL: NULL; MAIL FROM:<>: the empty string. */
	CHECK(q1(db, "SELECT count(*) FROM sessions WHERE mail_from IS NULL")
	    == 1);
	CHECK(q1(db, "SELECT count(*) FROM sessions WHERE mail_from = ''")
	    == 1);
	CHECK(q1(db, "SELECT count(*) FROM sessions WHERE role = 'backup' "
	    "AND stage = 'rcpt' AND close_reason = 'quit'") == 1);
	CHECK(q1(db, "SELECT count(*) FROM clients") == 2);
	CHECK(q1(db, "SELECT sessions FROM clients WHERE "
	    "ip = '198.51.100.7'") == 2);
	CHECK(q1(db, "SELECT anomalies FROM clients WHERE "
	    "ip = '198.51.100.7'") == (ANOM_PREGREET | ANOM_BARE_LF));
	CHECK(q1(db, "SELECT rcpts FROM clients WHERE "
	    "ip = '198.51.100.7'") == 3);
	CHECK(q1(db, "SELECT first_us FROM clients WHERE "
	    "ip = '198.51.100.7'") == 1795000000000000LL);
	CHECK(q1(db, "SELECT last_us FROM clients WHERE "
	    "ip = '198.51.100.7'") == 1795000001000000LL + 1500000);
	CHECK(q1(db, "SELECT sessions FROM client_decoys WHERE "
	    "ip = '198.51.100.7' AND decoy = '192.0.2.40' AND "
	    "mx_pref = 40 AND role = 'backup'") == 2);

	/* Embedded NUL and ESC survive as stored bytes. */
	CHECK(sqlite3_prepare_v2(db, "SELECT helo FROM sessions LIMIT 1", -1,
	    &q, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(q) == SQLITE_ROW);
	CHECK(sqlite3_column_bytes(q, 0) == 12 &&
	    memcmp(sqlite3_column_text(q, 0), "bot\0\x1b[31mred", 12) == 0);
	sqlite3_finalize(q);

	/* The same uid again changes nothing, aggregates included. */
	len = mkrec(buf, sizeof(buf), 0, "198.51.100.7", ANOM_NON_SMTP);
	CHECK(batch_add(b, buf, len) == 0);
	CHECK(batch_add(b, buf, len) == 0);
	CHECK(batch_flush(b, st) == 2);
	CHECK(q1(db, "SELECT count(*) FROM sessions") == 3);
	CHECK(q1(db, "SELECT count(*) FROM recipients") == 2);
	CHECK(q1(db, "SELECT sessions FROM clients WHERE "
	    "ip = '198.51.100.7'") == 2);
	CHECK(q1(db, "SELECT anomalies FROM clients WHERE "
	    "ip = '198.51.100.7'") == (ANOM_PREGREET | ANOM_BARE_LF));
	CHECK(batch_stats(b)->batches == 2);
	batch_free(b);
	store_close(st);
}

static void
test_batch_locked(void)
{
	struct store	*st;
	struct batch	*b;
	sqlite3		*other;
	uint8_t		 buf[MAX_RECORD];
	char		 err[512];
	size_t		 len;

	st = store_open(tmppath("c.db"), STORE_RW, err, sizeof(err));
	b = batch_new(100);
	CHECK(st != NULL && b != NULL);
	if (st == NULL || b == NULL)
		return;
	sqlite3_busy_timeout(store_db(st), 10);	/* fail fast in the test */
	CHECK(sqlite3_open(tmppath("c.db"), &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
	    SQLITE_OK);
	for (int n = 0; n < 2; n++) {
		len = mkrec(buf, sizeof(buf), n, "198.51.100.8", 0);
		CHECK(batch_add(b, buf, len) == 0);
	}
	CHECK(batch_flush(b, st) == -1);
	CHECK(batch_pending(b) == 2);
	CHECK(batch_flush(b, st) == -1);
	CHECK(batch_stats(b)->failures == 2);
	CHECK((store_errcode(st) & 0xff) == SQLITE_BUSY);
	CHECK(strstr(store_error(st), "locked") != NULL);
	CHECK(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(batch_flush(b, st) == 2);
	CHECK(batch_pending(b) == 0);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sessions") == 2);
	CHECK(q1(store_db(st), "SELECT count(*) FROM clients") == 1);
	sqlite3_close(other);
	batch_free(b);
	store_close(st);
}

/*
 * A session that fails on its own in the middle of a batch (here: its
 * second recipient, after its row was written) is dropped whole and the
 * rest of the batch is stored, aggregates included.
 */
static void
test_batch_reject(void)
{
	struct store	*st;
	struct batch	*b;
	sqlite3		*db;
	uint8_t		 buf[MAX_RECORD];
	char		 err[512];
	size_t		 len;
	static const int n[] = { 3, 6, 4 };

	st = store_open(tmppath("r.db"), STORE_RW, err, sizeof(err));
	b = batch_new(100);
	CHECK(st != NULL && b != NULL);
	if (st == NULL || b == NULL)
		return;
	db = store_db(st);
	CHECK(sqlite3_exec(db, "CREATE TRIGGER reject BEFORE INSERT ON"
	    " recipients WHEN NEW.seq = 1 AND (SELECT uid FROM sessions"
	    " WHERE id = NEW.session_id) = '0000000000000006' BEGIN"
	    " SELECT RAISE(ABORT, 'rejected by the test'); END", NULL, NULL,
	    NULL) == SQLITE_OK);
	for (size_t i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		len = mkrec(buf, sizeof(buf), n[i], "198.51.100.10", 0);
		CHECK(batch_add(b, buf, len) == 0);
	}
	CHECK(batch_flush(b, st) == 2);
	CHECK(batch_pending(b) == 0);
	CHECK(batch_stats(b)->invalid == 1);
	CHECK(batch_stats(b)->sessions == 2);
	CHECK(q1(db, "SELECT count(*) FROM sessions") == 2);
	CHECK(q1(db, "SELECT count(*) FROM sessions WHERE "
	    "uid = '0000000000000006'") == 0);
	CHECK(q1(db, "SELECT count(*) FROM recipients") == 2);
	CHECK(q1(db, "SELECT count(*) FROM transactions") == 2);
	CHECK(q1(db, "SELECT count(*) FROM auth_attempts") == 2);
	CHECK(q1(db, "SELECT sessions FROM clients WHERE "
	    "ip = '198.51.100.10'") == 2);
	CHECK(q1(db, "SELECT rcpts FROM clients WHERE "
	    "ip = '198.51.100.10'") == 3);
	CHECK(q1(db, "SELECT sessions FROM client_decoys WHERE "
	    "ip = '198.51.100.10'") == 2);
	CHECK(q1(db, "SELECT sessions FROM counts WHERE dim = 'role' AND "
	    "key = 'backup'") == 2);
	CHECK(q1(db, "SELECT sessions FROM counts WHERE dim = 'recipient' "
	    "AND key = '<a@victim.example>'") == 1);
	CHECK(q1(db, "SELECT sum(sessions) FROM rollup") == 2);
	CHECK(q1(db, "SELECT primary_sessions + backup_sessions FROM "
	    "client_evidence WHERE ip = '198.51.100.10'") == 2);
	batch_free(b);
	store_close(st);
}

static void
test_batch_bound(void)
{
	struct store	*st;
	struct batch	*b;
	uint8_t		 buf[MAX_RECORD];
	char		 err[512];
	size_t		 len;

	st = store_open(tmppath("d.db"), STORE_RW, err, sizeof(err));
	b = batch_new(3);
	CHECK(st != NULL && b != NULL);
	if (st == NULL || b == NULL)
		return;
	for (int n = 1; n <= 5; n++) {
		len = mkrec(buf, sizeof(buf), n, "198.51.100.9", 0);
		CHECK(batch_add(b, buf, len) == 0);
	}
	CHECK(batch_pending(b) == 3);
	CHECK(batch_stats(b)->dropped == 2);
	CHECK(batch_flush(b, st) == 3);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sessions") == 3);
	CHECK(q1(store_db(st), "SELECT min(uid) FROM sessions WHERE "
	    "uid = '0000000000000003'") != -1);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sessions WHERE "
	    "uid IN ('0000000000000001', '0000000000000002')") == 0);
	batch_free(b);
	store_close(st);
}

static void
test_open_errors(void)
{
	struct store	*st;
	struct stat	 sb;
	sqlite3		*db;
	char		 err[1024], *before, *after, path[256], want[128];
	size_t		 blen, alen;

	/* Read-only open of a missing file: an error, and no file. */
	st = store_open(tmppath("missing.db"), STORE_RO, err, sizeof(err));
	CHECK(st == NULL);
	CHECK(strstr(err, "does not exist") != NULL);
	CHECK(strstr(err, "missing.db") != NULL);
	CHECK(stat(tmppath("missing.db"), &sb) == -1 && errno == ENOENT);

	/* A newer schema is refused, in both modes, and left untouched. */
	CHECK(sqlite3_open(tmppath("new.db"), &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE future(x); "
	    "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	snprintf(path, sizeof(path), "%s", tmppath("new.db"));
	before = slurp(path, &blen);
	st = store_open(path, STORE_RW, err, sizeof(err));
	CHECK(st == NULL);
	snprintf(want, sizeof(want), "has schema version 99, this decoymx "
	    "knows up to %d; upgrade decoymx", SCHEMA_VERSION);
	CHECK(strstr(err, want) != NULL);
	CHECK(strstr(err, path) != NULL);
	st = store_open(path, STORE_RO, err, sizeof(err));
	CHECK(st == NULL);
	CHECK(strstr(err, "upgrade decoymx") != NULL);
	after = slurp(path, &alen);
	CHECK(before != NULL && after != NULL && blen == alen &&
	    memcmp(before, after, blen) == 0);
	CHECK(stat(tmppath("new.db-wal"), &sb) == -1);
	free(before);
	free(after);

	/* An older schema: readers are told to migrate. */
	CHECK(sqlite3_open(tmppath("old.db"), &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL) ==
	    SQLITE_OK);
	sqlite3_close(db);
	st = store_open(tmppath("old.db"), STORE_RO, err, sizeof(err));
	CHECK(st == NULL);
	CHECK(strstr(err, "run decoymx db migrate") != NULL);

	/* Not a database at all. */
	CHECK(symlink("/etc/hostname", tmppath("junk.db")) == 0 ||
	    errno == EEXIST);
	st = store_open(tmppath("junk.db"), STORE_RO, err, sizeof(err));
	CHECK(st == NULL);
	CHECK(strstr(err, "junk.db") != NULL);

	/* A directory that cannot hold the file. */
	snprintf(path, sizeof(path), "%s", tmppath("a.db/x.db"));
	st = store_open(path, STORE_RW, err, sizeof(err));
	CHECK(st == NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "not a directory") != NULL);
	if (geteuid() != 0) {
		CHECK(mkdir(tmppath("ro"), 0555) == 0);
		snprintf(path, sizeof(path), "%s", tmppath("ro/x.db"));
		st = store_open(path, STORE_RW, err, sizeof(err));
		CHECK(st == NULL);
		CHECK(strstr(err, "not writable") != NULL);
	}
}

/* The network process of test_ingest_signal(). */
static volatile sig_atomic_t child_term;

static void
child_on_term(int sig)
{
	(void)sig;
	child_term = 1;
}

static void
child_main(int fd, const char *path)
{
	struct timespec	 ts = { 0, 10 * 1000 * 1000 };
	uint8_t		 buf[MAX_RECORD];
	sqlite3		*db;
	size_t		 len;

	signal(SIGTERM, child_on_term);
	for (int n = 0; n < 3; n++) {
		len = mkrec(buf, sizeof(buf), n, "203.0.113.5", 0);
		if (send(fd, buf, len, 0) != (ssize_t)len)
			_exit(3);
	}
	/* Once they are in the database the store is in its loop. */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		_exit(4);
	for (int i = 0; i < 500 && q1(db, "SELECT count(*) FROM sessions") <
	    3; i++)
		nanosleep(&ts, NULL);
	sqlite3_close(db);
	kill(getppid(), SIGTERM);
	for (int i = 0; i < 500 && !child_term; i++)
		nanosleep(&ts, NULL);
	/* What a stopping network process still holds. */
	for (int n = 3; n < 5; n++) {
		len = mkrec(buf, sizeof(buf), n, "203.0.113.5", 0);
		if (send(fd, buf, len, 0) != (ssize_t)len)
			_exit(5);
	}
	_exit(child_term ? 0 : 6);
}

static void
test_ingest(void)
{
	struct config	 conf;
	struct store	*st;
	uint8_t		 buf[MAX_RECORD];
	char		 err[512];
	size_t		 len;
	pid_t		 pid;
	int		 sv[2], status;

	memset(&conf, 0, sizeof(conf));
	conf.queue_size = 100;
	conf.batch_interval_ms = 10;
	conf.batch_max = 100;

	/* EOF without a stop request: everything stored, status 1. */
	st = store_open(tmppath("e.db"), STORE_RW, err, sizeof(err));
	CHECK(st != NULL);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	for (int n = 0; n < 4; n++) {
		len = mkrec(buf, sizeof(buf), n, "203.0.113.4", 0);
		CHECK(send(sv[1], buf, len, 0) == (ssize_t)len);
	}
	CHECK(send(sv[1], "\x01\x01garbage", 9, 0) == 9);
	close(sv[1]);
	CHECK(ingest_run(&conf, st, sv[0], 0, -1) == 1);
	close(sv[0]);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sessions") == 4);
	store_close(st);

	/* SIGTERM: the child is told, its last records arrive, status 0. */
	st = store_open(tmppath("f.db"), STORE_RW, err, sizeof(err));
	CHECK(st != NULL);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		child_main(sv[1], tmppath("f.db"));
	}
	close(sv[1]);
	CHECK(ingest_run(&conf, st, sv[0], pid, -1) == 0);
	close(sv[0]);
	CHECK(q1(store_db(st), "SELECT count(*) FROM sessions") == 5);
	CHECK(waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD);
	store_close(st);
}

static void
test_cmd_db(void)
{
	char	*argv_m[] = { "db", "migrate", NULL };
	char	*argv_c[] = { "db", "--db", NULL, "check", NULL };
	char	*argv_x[] = { "db", "prune", NULL };
	char	*argv_n[] = { "db", NULL };
	char	*out, path[256], want[64];
	int	 ret;
	struct stat sb;

	snprintf(path, sizeof(path), "%s", tmppath("g.db"));
	out = capture(cmd_db, 2, argv_m, path, &ret);
	CHECK(ret == 0);
	snprintf(want, sizeof(want), "at schema version %d", SCHEMA_VERSION);
	CHECK(out != NULL && strstr(out, want) != NULL);
	free(out);
	argv_c[2] = path;
	out = capture(cmd_db, 4, argv_c, NULL, &ret);
	CHECK(ret == 0);
	snprintf(want, sizeof(want), ": ok, schema version %d",
	    SCHEMA_VERSION);
	CHECK(out != NULL && strstr(out, want) != NULL);
	free(out);
	CHECK(cmd_db(2, argv_x, path) == EXIT_USAGE);
	CHECK(cmd_db(1, argv_n, path) == EXIT_USAGE);
	/* check never creates. */
	argv_c[2] = tmppath("nothere.db");
	out = capture(cmd_db, 4, argv_c, NULL, &ret);
	CHECK(ret == 1);
	free(out);
	CHECK(stat(tmppath("nothere.db"), &sb) == -1);
}

static void
test_report(void)
{
	struct store	*st;
	struct batch	*b;
	uint8_t		 buf[MAX_RECORD];
	char		 err[512], path[256], *out;
	char		*argv_j[] = { "report", "sessions", "--format", "json",
			    NULL };
	char		*argv_l[] = { "report", "--limit", "1", "sessions",
			    "--format=json", NULL };
	char		*argv_s[] = { "report", "sessions", "--since",
			    "2026-11-18T11:06:41Z", "--format", "csv", NULL };
	char		*argv_t[] = { "report", "sessions", NULL };
	char		*argv_x[] = { "report", "top", NULL };
	char		*argv_f[] = { "report", "sessions", "--format", "xml",
			    NULL };
	struct stat	 sb;
	size_t		 len;
	int		 ret;

	snprintf(path, sizeof(path), "%s", tmppath("h.db"));
	st = store_open(path, STORE_RW, err, sizeof(err));
	CHECK(st != NULL);
	if (st == NULL)
		return;
	out = capture(cmd_report, 4, argv_j, path, &ret);
	CHECK(ret == 0);
	CHECK_STR(out, "[]\n");
	free(out);

	b = batch_new(10);
	for (int n = 0; n < 3; n++) {
		len = mkrec(buf, sizeof(buf), n, "198.51.100.7",
		    n == 0 ? ANOM_PREGREET | ANOM_BARE_LF : 0);
		batch_add(b, buf, len);
	}
	CHECK(batch_flush(b, st) == 3);
	batch_free(b);

	out = capture(cmd_report, 4, argv_j, path, &ret);
	CHECK(ret == 0);
	CHECK(out != NULL);
	if (out != NULL) {
		CHECK(strncmp(out, "[\n{\"id\":1,", 10) == 0);
		CHECK(strstr(out, "\"start\":\"2026-11-18T11:06:40.000Z\","
		    "\"end\":\"2026-11-18T11:06:41.500Z\",\"duration\":1.500")
		    != NULL);
		CHECK(strstr(out, "\"helo\":\"bot\\u0000\\u001b[31mred\"")
		    != NULL);
		CHECK(strstr(out, "\"rcpt_to\":[\"<a@victim.example>\","
		    "\"<b@victim.example>\"]") != NULL);
		CHECK(strstr(out, "\"auth\":[{\"mechanism\":\"LOGIN\","
		    "\"user\":\"admin\"},{\"mechanism\":\"PLAIN\","
		    "\"user\":null}]") != NULL);
		CHECK(strstr(out, "\"anomalies\":[\"pregreet\",\"bare-lf\"]")
		    != NULL);
		CHECK(strstr(out, "\"mail_from\":\"\"") != NULL);
		CHECK(strstr(out, "\"mail_from\":null") != NULL);
		CHECK(strstr(out, "\"mx_pref\":null") != NULL);
		CHECK(strstr(out, "\"mx_pref\":40") != NULL);
		CHECK(strstr(out, "\"os\":null,\"os_class\":null,\"sensor\":null,"
		    "\"transactions_total\":") != NULL);
		/* The legacy envelope became one transaction. */
		CHECK(strstr(out, "\"transactions\":[{\"mail_from\":\"<x@bot."
		    "example>\",\"params\":null,\"reply_code\":null,\"rcpt_to\":"
		    "[\"<a@victim.example>\",\"<b@victim.example>\"]") != NULL);
		CHECK(strstr(out, "],\"via\":null}\n]\n") != NULL);
		CHECK(strstr(out, "\x1b") == NULL);
	}
	free(out);

	out = capture(cmd_report, 5, argv_l, path, &ret);
	CHECK(ret == 0);
	CHECK(out != NULL && strstr(out, "\"id\":3,") != NULL &&
	    strstr(out, "\"id\":2,") == NULL);
	free(out);

	out = capture(cmd_report, 6, argv_s, path, &ret);
	CHECK(ret == 0);
	CHECK(out != NULL && strncmp(out, "id,uid,start,end,", 17) == 0);
	CHECK(out != NULL && strstr(out, "\r\n2,0000000000000001,") != NULL);
	CHECK(out != NULL && strstr(out, "\r\n1,") == NULL);
	CHECK(out != NULL && strstr(out, "bot\\x00\\x1b[31mred") != NULL);
	free(out);

	out = capture(cmd_report, 2, argv_t, path, &ret);
	CHECK(ret == 0);
	CHECK(out != NULL && strncmp(out, "start", 5) == 0);
	CHECK(out != NULL && strstr(out, "192.0.2.40:25") != NULL);
	CHECK(out != NULL && strstr(out, "\x1b") == NULL);
	free(out);

	CHECK(cmd_report(2, argv_x, path) == EXIT_USAGE);
	CHECK(cmd_report(4, argv_f, path) == EXIT_USAGE);
	store_close(st);

	/* A missing database: status 1, and it is not created. */
	out = capture(cmd_report, 2, argv_t, tmppath("none.db"), &ret);
	CHECK(ret == 1);
	free(out);
	CHECK(stat(tmppath("none.db"), &sb) == -1);
}

/* The statements prepared on db. */
static int
nstmts(sqlite3 *db)
{
	sqlite3_stmt	*q = NULL;
	int		 n = 0;

	while ((q = sqlite3_next_stmt(db, q)) != NULL)
		n++;
	return n;
}

/* Queues the SYN 192.0.2.7:sport -> 198.51.100.10:25 and flushes. */
static int
syn_flush(struct synstore *ss, uint16_t sport, uint32_t retransmits)
{
	static const uint8_t frame[60] = {
		0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 57, 6, 0, 0,
		192, 0, 2, 7, 198, 51, 100, 10,
		0x9c, 0x40, 0, 25, 0, 0, 0x10, 0, 0, 0, 0, 0, 0xa0, 0x02,
		0xfa, 0xf0, 0, 0, 0, 0,
		2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0,
		1, 3, 3, 7
	};
	struct syn_rec	 r;
	uint8_t		 buf[SYNREC_MAX];
	const char	*why;
	size_t		 len;

	memset(&r, 0, sizeof(r));
	if (packet_parse(DLT_RAW, frame, sizeof(frame), &r.s, &why) !=
	    PKT_SYN)
		return -2;
	r.s.sport = sport;
	r.s.ts_us = 1700000000000000LL;
	r.mx_pref = 10;
	r.role = ROLE_DECOY;
	r.retransmits = retransmits;
	if ((len = synrec_encode(&r, buf, sizeof(buf))) == 0 ||
	    synstore_queue(ss, buf, len) == -1)
		return -2;
	return synstore_flush(ss);
}

/*
 * The SYN writer prepares its statements at their first use: none but
 * BEGIN up front, again after a release (a reopened database), and a
 * statement that cannot be prepared fails the flush and keeps the SYNs.
 */
static void
test_synstore_lazy(void)
{
	struct synstore	*ss;
	struct store	*st;
	sqlite3		*db;
	char		 err[512];
	int		 n0;

	st = store_open(":memory:", STORE_RW, err, sizeof(err));
	CHECK(st != NULL);
	db = store_db(st);
	n0 = nstmts(db);
	ss = synstore_new(st, NULL, 4, err, sizeof(err));
	CHECK(ss != NULL);
	CHECK(nstmts(db) == n0 + 1);
	CHECK(syn_flush(ss, 40000, 0) == 1);
	CHECK(nstmts(db) > n0 + 1);
	CHECK(q1(db, "SELECT count(*) FROM syns WHERE src_ip = '192.0.2.7'"
	    " AND src_port = 40000") == 1);
	CHECK(q1(db, "SELECT count(*) FROM mx_walks WHERE ip = '192.0.2.7'")
	    == 1);
	CHECK(syn_flush(ss, 40000, 2) == 1);	/* a retransmit */
	CHECK(q1(db, "SELECT retransmits FROM syns") == 2);

	synstore_release(ss);
	CHECK(nstmts(db) == n0);
	CHECK(synstore_prepare(ss, err, sizeof(err)) == 0);
	CHECK(syn_flush(ss, 40001, 0) == 1);
	CHECK(q1(db, "SELECT count(*) FROM syns") == 2);

	/* A statement that cannot be prepared: the SYN waits. */
	synstore_release(ss);
	CHECK(sqlite3_exec(db, "DROP TABLE mx_walks", NULL, NULL, NULL) ==
	    SQLITE_OK);
	CHECK(syn_flush(ss, 40002, 0) == -1);
	CHECK(synstore_pending(ss) == 1);
	CHECK(q1(db, "SELECT count(*) FROM syns") == 2);
	synstore_free(ss);
	store_close(st);
}

int
main(void)
{
	char	 cmd[300];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	log_init("test_store", LOG_LVL_ERROR);
	test_open_migrate();
	test_file_changed();
	test_batch_write();
	test_batch_locked();
	test_batch_bound();
	test_batch_reject();
	test_open_errors();
	test_ingest();
	test_synstore_lazy();
	test_cmd_db();
	test_report();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return t_done("test_store");
}
