/*
 * schema.c -- the database schema and its migrations.
 *
 * The schema is a list of migrations, each a version number and the SQL
 * that takes a database from the previous version to it.  The version a
 * database is at lives in PRAGMA user_version (0 for a new file).  All
 * pending migrations run in one IMMEDIATE transaction, so a database is
 * always at one of the versions in the table, never in between, and two
 * processes migrating at once serialise on the write lock.
 *
 * To change the schema, append a row; never edit a row that has shipped.
 *
 * Exports schema_migrate() and schema_version().
 */
#include <stdio.h>
#include <string.h>

#include "store.h"

struct migration {
	int		 version;
	const char	*sql;
};

static int	 schema_exec(sqlite3 *, const char *, char *, size_t);

static const struct migration migrations[] = {
	{ 1,
	"CREATE TABLE sessions ("
	" id INTEGER PRIMARY KEY,"
	" uid TEXT NOT NULL UNIQUE,"
	" start_us INTEGER NOT NULL,"
	" end_us INTEGER NOT NULL,"
	" src_ip TEXT NOT NULL,"
	" src_port INTEGER NOT NULL,"
	" dst_ip TEXT NOT NULL,"
	" dst_port INTEGER NOT NULL,"
	" mx_pref INTEGER,"			/* NULL: not configured */
	" role TEXT NOT NULL,"
	" greeting_delay_ms INTEGER NOT NULL,"
	" helo_verb TEXT,"			/* NULL: never sent */
	" helo TEXT,"
	" mail_from TEXT,"
	" rcpt_total INTEGER NOT NULL,"
	" stage TEXT NOT NULL,"
	" reply_code INTEGER,"			/* NULL: no reply sent */
	" close_reason TEXT NOT NULL,"
	" bytes_in INTEGER,"
	" bytes_out INTEGER,"
	" commands INTEGER,"
	" errors INTEGER,"
	" anomalies INTEGER NOT NULL,"		/* enum anomaly bits */
	" country TEXT,"
	" asn INTEGER,"
	" as_org TEXT,"
	" geo_build INTEGER,"
	" os TEXT,"
	" os_class TEXT);"
	"CREATE INDEX sessions_start ON sessions(start_us);"
	"CREATE INDEX sessions_src ON sessions(src_ip, start_us);"
	"CREATE TABLE recipients ("
	" session_id INTEGER NOT NULL REFERENCES sessions(id),"
	" seq INTEGER NOT NULL,"
	" rcpt TEXT NOT NULL,"
	" PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE auth_attempts ("
	" session_id INTEGER NOT NULL REFERENCES sessions(id),"
	" seq INTEGER NOT NULL,"
	" mechanism TEXT NOT NULL,"
	" username TEXT,"			/* NULL: none given */
	" PRIMARY KEY(session_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE clients ("
	" ip TEXT PRIMARY KEY,"
	" first_us INTEGER NOT NULL,"		/* earliest session start */
	" last_us INTEGER NOT NULL,"		/* latest session end */
	" sessions INTEGER NOT NULL,"
	" anomalies INTEGER NOT NULL,"		/* OR of all sessions */
	" rcpts INTEGER NOT NULL);"		/* sum of rcpt_total */
	"CREATE TABLE client_decoys ("
	" ip TEXT NOT NULL,"
	" decoy TEXT NOT NULL,"			/* decoy address touched */
	" mx_pref INTEGER,"
	" role TEXT NOT NULL,"
	" first_us INTEGER NOT NULL,"
	" last_us INTEGER NOT NULL,"
	" sessions INTEGER NOT NULL,"
	" PRIMARY KEY(ip, decoy)) WITHOUT ROWID;"
	},
};

#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))

/* SCHEMA_VERSION in store.h is the version of the last row. */

static int
schema_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char	*msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s", msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

/* Returns the database's PRAGMA user_version, or -1 on error. */
int
schema_version(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Brings the database up to SCHEMA_VERSION.  A database already there is
 * not written to; one at a newer version is refused untouched.  Returns
 * the version reached, or -1 with a message in err.
 */
int
schema_migrate(sqlite3 *db, char *err, size_t errlen)
{
	const char	*path;
	char		 sql[64], why[256];
	int		 v;

	if ((v = schema_version(db)) == -1) {
		snprintf(err, errlen, "cannot read schema version: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	if (v == SCHEMA_VERSION)
		return v;
	if (schema_exec(db, "BEGIN IMMEDIATE", why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start migration: %s", why);
		return -1;
	}
	/* Again under the write lock: another process may have migrated. */
	v = schema_version(db);
	path = sqlite3_db_filename(db, "main");
	if (v < 0 || v > SCHEMA_VERSION) {
		if (v < 0)
			snprintf(err, errlen, "cannot read schema version: %s",
			    sqlite3_errmsg(db));
		else
			snprintf(err, errlen, "database %s has schema version "
			    "%d, this decoymx knows up to %d; upgrade decoymx",
			    path != NULL ? path : "", v, SCHEMA_VERSION);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (size_t i = 0; i < NMIGRATIONS; i++) {
		if (migrations[i].version <= v)
			continue;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    migrations[i].version);
		if (schema_exec(db, migrations[i].sql, why, sizeof(why)) == -1 ||
		    schema_exec(db, sql, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "migration to schema version %d "
			    "failed: %s", migrations[i].version, why);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	if (schema_exec(db, "COMMIT", why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot commit migration: %s", why);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return SCHEMA_VERSION;
}
