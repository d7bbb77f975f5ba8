/* SPDX-License-Identifier: ISC */
/*
 * fuzz_channel.c -- libFuzzer harness for the store's side of the
 * channel between the two processes: the input is a sequence of
 * messages (2-byte big-endian length, then the message) sent over a
 * SOCK_SEQPACKET socketpair into the real store loop, ingest_run(),
 * which dispatches them (SESSION, SYN, STATS, BYE; READY and RELOAD
 * never go this way and must be ignored), validates, batches and
 * writes them to an in-memory database.  The channel then closes.
 * Nothing may crash or read out of bounds, the loop must return, and
 * what was stored must hold only valid addresses.
 *
 * Speed (10M inputs take well under an hour on one core): the database
 * and the metrics listener live across inputs, SQLite runs without its
 * mutexes, and each input checks only the rows it added (the store
 * never changes a stored address; every row is checked again before
 * the database is recycled).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoymx.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define RECYCLE_RUNS	10000	/* a fresh database now and then */

static struct store	*st;
static struct config	 conf;
static int		 metrics_fd = -1;
static unsigned		 runs;
static sqlite3_stmt	*check_new, *check_all;
static int64_t		 seen_session, seen_syn;	/* rows checked */

static void	 check(sqlite3_stmt *);

/* The database, the configuration and a metrics listener, once. */
static void
setup(void)
{
	struct sockaddr_in sin;
	char		 err[256];
	socklen_t	 len = sizeof(sin);

	if (st != NULL && runs++ % RECYCLE_RUNS != 0)
		return;
	if (st == NULL) {
		/* One thread, no allocation statistics: no SQLite mutexes. */
		sqlite3_config(SQLITE_CONFIG_SINGLETHREAD);
		sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	} else
		check(check_all);
	sqlite3_finalize(check_new);
	sqlite3_finalize(check_all);
	store_close(st);
	if ((st = store_open(":memory:", STORE_RW, err, sizeof(err))) == NULL ||
	    sqlite3_prepare_v2(store_db(st), "SELECT src_ip, 0, id FROM "
	    "sessions WHERE id > ?1 UNION ALL SELECT src_ip, 1, id FROM syns "
	    "WHERE id > ?2", -1, &check_new, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store_db(st), "SELECT src_ip, 0, id FROM "
	    "sessions UNION ALL SELECT src_ip, 1, id FROM syns", -1,
	    &check_all, NULL) != SQLITE_OK)
		abort();
	seen_session = seen_syn = 0;
	if (metrics_fd != -1)
		return;
	log_init("store", LOG_LVL_ERROR);
	log_setlevel(-1);
	signal(SIGPIPE, SIG_IGN);
	config_defaults(&conf);
	conf.sensor_fpdb_set = 1;	/* no signature files: fast */
	conf.sensor_fpdb[0] = '\0';
	conf.batch_max = 8;
	conf.queue_size = 64;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((metrics_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) ==
	    -1 || bind(metrics_fd, (struct sockaddr *)&sin, len) == -1 ||
	    listen(metrics_fd, 4) == -1)
		abort();
}

/*
 * Every stored address must be one (the store's own validation): the
 * rows of q, check_new (those added since the last check) or check_all.
 */
static void
check(sqlite3_stmt *q)
{
	struct in6_addr	 a;
	int		 rc;

	sqlite3_bind_int64(q, 1, seen_session);
	sqlite3_bind_int64(q, 2, seen_syn);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(q, 0);
		int64_t	    id = sqlite3_column_int64(q, 2);
		int64_t	   *seen = sqlite3_column_int(q, 1) ? &seen_syn :
			    &seen_session;

		if (ip == NULL || (inet_pton(AF_INET, ip, &a) != 1 &&
		    inet_pton(AF_INET6, ip, &a) != 1))
			abort();
		if (id > *seen)
			*seen = id;
	}
	if (rc != SQLITE_DONE)
		abort();
	sqlite3_reset(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int	 sp[2], sz = 1 << 20;
	size_t	 off = 0;

	setup();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == -1)
		abort();
	setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	while (off + 2 <= size) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (n > size - off)
			n = size - off;
		/* A zero-length message reads as EOF: never sent. */
		if (n > 0 && send(sp[1], data + off, n, MSG_DONTWAIT) == -1)
			break;
		off += n;
	}
	close(sp[1]);
	(void)ingest_run(&conf, st, sp[0], 0, metrics_fd);
	close(sp[0]);
	check(check_new);
	return 0;
}
