/* SPDX-License-Identifier: ISC */
/*
 * fuzz_merge.c -- libFuzzer harness for "db merge" (store/merge.c): the
 * other file is a crafted SQLite database with the right schema version
 * and every constraint stripped.  The first input byte picks how it is
 * made:
 *
 *   even: rows built from the input, table by table, each column a NULL,
 *         an integer, a text, a blob, a real or a known-good value;
 *   odd:  a file of good rows whose bytes are patched by the input
 *         ((offset, byte) pairs), i.e. a corrupt database.
 *
 * merge_db() must never crash or read out of bounds, and whatever it
 * merged must hold only valid addresses, bounded HELOs and sensor names.
 *
 * Speed: the column lists and both images (empty and good rows) are
 * made once, an input's rows go in through one prepared INSERT per
 * table, SQLite runs without its mutexes, and each input checks only
 * the rows it merged (merge_db() never changes a stored address, HELO
 * or sensor; every row is checked again before the store is recycled).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoymx.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define RECYCLE_RUNS	1000

static struct store	*st;
static FILE		*devnull;
static char		 dir[] = "/dev/shm/fuzz_merge.XXXXXX";	/* or /tmp */
static char		 other[64], tmpl[64];
static uint8_t		*image;		/* the good-rows file */
static size_t		 image_len;
static uint8_t		*empty;		/* the template without rows */
static size_t		 empty_len;
static unsigned		 runs;
static sqlite3_stmt	*check_new, *check_all;
static int64_t		 seen[3];	/* sessions, syns, clients checked */

struct fz {
	const uint8_t	*p;
	size_t		 n;
};

static const char *tables[] = { "sessions", "recipients", "auth_attempts",
	"syns" };

#define NTABLES	(sizeof(tables) / sizeof(tables[0]))

/* Each table's columns and its INSERT of all of them (setup_once()). */
static struct tab {
	int	 nc;
	char	*names[64];
	char	 insert[2048];
} tabs[NTABLES];

/* A good value for each column name, for rows that get far. */
static const struct good {
	const char	*col;
	const char	*text;		/* NULL: integer */
	int64_t		 n;
} goods[] = {
	{ "id", NULL, 1 }, { "uid", "00000000000000a1", 0 },
	{ "start_us", NULL, 1700000000000000 },
	{ "end_us", NULL, 1700000001000000 }, { "src_ip", "192.0.2.10", 0 },
	{ "src_port", NULL, 40000 }, { "dst_ip", "198.51.100.1", 0 },
	{ "dst_port", NULL, 25 }, { "mx_pref", NULL, 10 },
	{ "role", "primary", 0 }, { "helo_verb", "EHLO", 0 },
	{ "helo", "mail.example.org", 0 }, { "mail_from", "a@example.net", 0 },
	{ "stage", "rcpt", 0 }, { "reply_code", NULL, 450 },
	{ "close_reason", "quit", 0 }, { "sensor", "s1", 0 },
	{ "country", "DE", 0 }, { "session_id", NULL, 1 },
	{ "rcpt", "b@example.org", 0 }, { "mechanism", "LOGIN", 0 },
	{ "username", "admin", 0 }, { "ts_us", NULL, 1700000000000000 },
	{ "ver", NULL, 4 }, { "ttl", NULL, 50 }, { "ittl", NULL, 64 },
	{ "olayout", "mss,sok,ts,nop,ws", 0 }, { "quirks", "df", 0 },
	{ "pclass", "0", 0 }, { "sig", "4:50+14:0:1460:mss*44,7:::0", 0 },
	{ "match", "none", 0 },
};

static int
fz_byte(struct fz *f)
{
	if (f->n == 0)
		return -1;
	f->n--;
	return *f->p++;
}

/* Runs SQL on db or aborts: the harness's own statements must work. */
static void
must(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "fuzz_merge: %s: %s\n", sql,
		    sqlite3_errmsg(db));
		abort();
	}
}

/* Binds column i of an insert from the input. */
static void
bind_col(sqlite3_stmt *q, int i, const char *col, struct fz *f)
{
	int	 kind = fz_byte(f), len;
	uint64_t n = 0;

	switch (kind < 0 ? 5 : kind % 6) {
	case 0:
		sqlite3_bind_null(q, i);
		break;
	case 1:
		for (int k = 0; k < 8; k++)
			n = n << 8 | (uint64_t)(fz_byte(f) & 0xff);
		sqlite3_bind_int64(q, i, (int64_t)n);
		break;
	case 2:
	case 3:
		len = fz_byte(f);
		len = len < 0 ? 0 : len == 255 ? 300 : len;
		if ((size_t)len > f->n)
			len = (int)f->n;
		if (kind % 6 == 2)
			sqlite3_bind_text(q, i, (const char *)f->p, len,
			    SQLITE_TRANSIENT);
		else
			sqlite3_bind_blob(q, i, f->p, len, SQLITE_TRANSIENT);
		f->p += len;
		f->n -= (size_t)len;
		break;
	case 4:
		sqlite3_bind_double(q, i, (double)(int8_t)fz_byte(f) / 3.0);
		break;
	default:
		for (size_t g = 0; g < sizeof(goods) / sizeof(goods[0]); g++)
			if (strcmp(goods[g].col, col) == 0) {
				if (goods[g].text != NULL)
					sqlite3_bind_text(q, i, goods[g].text,
					    -1, SQLITE_STATIC);
				else
					sqlite3_bind_int64(q, i, goods[g].n);
				return;
			}
		sqlite3_bind_int64(q, i, 0);
	}
}

/* Reads table t's columns from db into tabs[t], once. */
static void
tab_init(sqlite3 *db, size_t t)
{
	char		 sql[128], cols[1024] = "", qs[512] = "";
	sqlite3_stmt	*q;
	struct tab	*tb = &tabs[t];

	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", tables[t]);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		abort();
	while (sqlite3_step(q) == SQLITE_ROW && tb->nc < 64) {
		const char *c = (const char *)sqlite3_column_text(q, 1);

		if ((tb->names[tb->nc] = strdup(c)) == NULL)
			abort();
		snprintf(cols + strlen(cols), sizeof(cols) - strlen(cols),
		    "%s%s", tb->nc ? "," : "", c);
		snprintf(qs + strlen(qs), sizeof(qs) - strlen(qs), "%s?",
		    tb->nc ? "," : "");
		tb->nc++;
	}
	sqlite3_finalize(q);
	snprintf(tb->insert, sizeof(tb->insert), "INSERT INTO %s(%s) "
	    "VALUES(%s)", tables[t], cols, qs);
}

/*
 * Inserts one row into table t of db, its columns from the input; *q
 * is that table's INSERT on db, prepared at its first use.
 */
static void
add_row(sqlite3 *db, size_t t, sqlite3_stmt **q, struct fz *f)
{
	if (*q == NULL && sqlite3_prepare_v2(db, tabs[t].insert, -1, q,
	    NULL) != SQLITE_OK)
		abort();
	for (int i = 0; i < tabs[t].nc; i++)
		bind_col(*q, i + 1, tabs[t].names[i], f);
	(void)sqlite3_step(*q);
	sqlite3_reset(*q);
	sqlite3_clear_bindings(*q);
}

/* Reads the file at path into *img. */
static void
slurp(const char *path, uint8_t **img, size_t *len)
{
	FILE	*fp;
	long	 n;

	if ((fp = fopen(path, "rb")) == NULL || fseek(fp, 0, SEEK_END) ||
	    (n = ftell(fp)) <= 0 || fseek(fp, 0, SEEK_SET) ||
	    (*img = malloc((size_t)n)) == NULL ||
	    fread(*img, 1, (size_t)n, fp) != (size_t)n)
		abort();
	*len = (size_t)n;
	fclose(fp);
}

/* The temporary files go with the process. */
static void
cleanup(void)
{
	char	 p[96];

	for (const char *n = "other.db\0tmpl.db\0ref.db\0ref.db-wal\0"
	    "ref.db-shm\0"; *n != '\0'; n += strlen(n) + 1) {
		snprintf(p, sizeof(p), "%s/%s", dir, n);
		unlink(p);
	}
	rmdir(dir);
}

/*
 * Once: the template (the schema of a migrated database without its
 * constraints, at its version) and the image of a file with good rows.
 */
static void
setup_once(void)
{
	sqlite3		*ref, *t;
	sqlite3_stmt	*q, *ins[NTABLES] = { NULL };
	char		 refpath[64], err[256], sql[4096];
	struct fz	 none = { NULL, 0 };

	/* tmpfs when there is one: the file is rewritten every run. */
	if (mkdtemp(dir) == NULL) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_merge.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	atexit(cleanup);
	/* One thread, no allocation statistics: no SQLite mutexes. */
	sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	log_init("store", LOG_LVL_ERROR);
	log_setlevel(-1);
	snprintf(refpath, sizeof(refpath), "%s/ref.db", dir);
	snprintf(tmpl, sizeof(tmpl), "%s/tmpl.db", dir);
	snprintf(other, sizeof(other), "%s/other.db", dir);
	if ((st = store_open(refpath, STORE_RW, err, sizeof(err))) == NULL)
		abort();
	ref = store_db(st);
	if (sqlite3_open(tmpl, &t) != SQLITE_OK)
		abort();
	if (sqlite3_prepare_v2(ref, "SELECT name FROM sqlite_master WHERE "
	    "type = 'table' AND name NOT LIKE 'sqlite_%'", -1, &q, NULL) !=
	    SQLITE_OK)
		abort();
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char	*name = (const char *)sqlite3_column_text(q, 0);
		sqlite3_stmt	*c;
		size_t		 n;

		n = (size_t)snprintf(sql, sizeof(sql), "CREATE TABLE %s(",
		    name);
		snprintf(err, sizeof(err), "PRAGMA table_info(%s)", name);
		if (sqlite3_prepare_v2(ref, err, -1, &c, NULL) != SQLITE_OK)
			abort();
		for (int i = 0; sqlite3_step(c) == SQLITE_ROW; i++)
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s%s",
			    i ? "," : "", sqlite3_column_text(c, 1));
		sqlite3_finalize(c);
		snprintf(sql + n, sizeof(sql) - n, ")");
		must(t, sql);
	}
	sqlite3_finalize(q);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    SCHEMA_VERSION);
	must(t, sql);
	for (size_t i = 0; i < NTABLES; i++)
		tab_init(t, i);
	slurp(tmpl, &empty, &empty_len);
	/* The image: the template with a good row in each table. */
	for (size_t i = 0; i < NTABLES; i++) {
		add_row(t, i, &ins[i], &none);
		sqlite3_finalize(ins[i]);
	}
	sqlite3_close(t);
	store_close(st);
	st = NULL;
	slurp(tmpl, &image, &image_len);
	unlink(refpath);
}

/* The other file from the input (see the header comment). */
static void
make_other(const uint8_t *data, size_t size)
{
	struct fz	 f = { data + 1, size - 1 };
	sqlite3		*db;
	sqlite3_stmt	*ins[NTABLES] = { NULL };
	uint8_t		*img = NULL;
	FILE		*fp;
	int		 odd = data[0] & 1;

	if (odd) {
		if ((img = malloc(image_len)) == NULL)
			abort();
		memcpy(img, image, image_len);
		while (f.n >= 3) {
			size_t off = ((size_t)f.p[0] << 8 | f.p[1]) % image_len;

			img[off] = f.p[2];
			f.p += 3;
			f.n -= 3;
		}
	}
	if ((fp = fopen(other, "wb")) == NULL ||
	    fwrite(odd ? img : empty, 1, odd ? image_len : empty_len, fp) !=
	    (odd ? image_len : empty_len) || fclose(fp) != 0)
		abort();
	free(img);
	if (odd)
		return;
	if (sqlite3_open(other, &db) != SQLITE_OK)
		abort();
	must(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
	while (f.n > 0) {
		size_t t = (size_t)fz_byte(&f) % NTABLES;

		add_row(db, t, &ins[t], &f);
	}
	for (size_t t = 0; t < NTABLES; t++)
		sqlite3_finalize(ins[t]);
	sqlite3_close(db);
}

/*
 * What merged must be as valid as what the daemon stores: the rows of
 * q, check_new (those added since the last check) or check_all.
 */
static void
check(sqlite3_stmt *q)
{
	struct in6_addr	 a;
	int		 rc;

	for (int i = 0; i < 3; i++)
		sqlite3_bind_int64(q, i + 1, seen[i]);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(q, 0);
		int	    t = sqlite3_column_int(q, 3);
		int64_t	    id = sqlite3_column_int64(q, 4);

		if (ip == NULL || (inet_pton(AF_INET, ip, &a) != 1 &&
		    inet_pton(AF_INET6, ip, &a) != 1) ||
		    sqlite3_column_int(q, 1) > MAX_HELO ||
		    sqlite3_column_int(q, 2) > 63 || t < 0 || t > 2)
			abort();
		if (id > seen[t])
			seen[t] = id;
	}
	if (rc != SQLITE_DONE)
		abort();
	sqlite3_reset(q);
}

/* A fresh store (the old one checked whole first) and its checks. */
static void
recycle(void)
{
	static const char sql[] = "SELECT src_ip, length(helo),"
	    " length(sensor), 0, id FROM sessions WHERE id > ?1 UNION ALL"
	    " SELECT src_ip, 0, 0, 1, id FROM syns WHERE id > ?2 UNION ALL"
	    " SELECT ip, 0, 0, 2, rowid FROM clients WHERE rowid > ?3";
	char	 err[512];

	if (st != NULL) {
		memset(seen, 0, sizeof(seen));
		check(check_all);
	}
	sqlite3_finalize(check_new);
	sqlite3_finalize(check_all);
	store_close(st);
	memset(seen, 0, sizeof(seen));
	if ((st = store_open(":memory:", STORE_RW, err, sizeof(err))) ==
	    NULL || sqlite3_prepare_v2(store_db(st), sql, -1, &check_new,
	    NULL) != SQLITE_OK || sqlite3_prepare_v2(store_db(st), sql, -1,
	    &check_all, NULL) != SQLITE_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 err[512];

	if (image == NULL)
		setup_once();
	if (size < 1)
		return 0;
	if (st == NULL || runs++ % RECYCLE_RUNS == 0)
		recycle();
	make_other(data, size);
	(void)merge_db(st, other, devnull, err, sizeof(err));
	check(check_new);
	return 0;
}
