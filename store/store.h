/*
 * store.h -- the store part: the SQLite schema and its migrations, the
 * database handle and session writer, the batch of pending records, the
 * ingest loop of the store process, and the "decoymx db" command.
 *
 * Prototypes are grouped by the file that defines them.
 */
#ifndef STORE_H
#define STORE_H

#include <sys/types.h>

#include <sqlite3.h>
#include <stdint.h>

#include "decoymx.h"

#define SCHEMA_VERSION		1

/* store_open() modes. */
#define STORE_RO		0	/* read-only, never creates */
#define STORE_RW		1	/* creates, WAL, migrates */
#define STORE_ANYVERSION	2	/* with STORE_RO: skip the version check */

struct store;
struct batch;

/* What the batch writer has done so far (batch.c). */
struct batch_stats {
	uint64_t	 sessions;	/* records committed */
	uint64_t	 batches;	/* successful commits */
	uint64_t	 dropped;	/* oldest pending dropped at the bound */
	uint64_t	 invalid;	/* failed validation or rejected by SQL */
	uint64_t	 failures;	/* failed flush attempts */
};

/* schema.c */
int		 schema_migrate(sqlite3 *, char *err, size_t errlen);
int		 schema_version(sqlite3 *);

/* store.c */
struct store	*store_open(const char *path, int mode, char *err,
		    size_t errlen);
void		 store_close(struct store *);
sqlite3		*store_db(struct store *);
const char	*store_path(const struct store *);
const char	*store_error(const struct store *);
int		 store_errcode(const struct store *);
int		 store_begin(struct store *);
int		 store_session(struct store *, const struct sess_rec *);
int		 store_commit(struct store *);
int		 store_rollback(struct store *);

/* batch.c */
struct batch	*batch_new(uint32_t bound);
void		 batch_free(struct batch *);
int		 batch_add(struct batch *, const uint8_t *rec, size_t len);
uint32_t	 batch_pending(const struct batch *);
int		 batch_flush(struct batch *, struct store *);
const struct batch_stats *batch_stats(const struct batch *);

/* ingest.c */
int		 ingest_run(struct config *, struct store *, int fd,
		    pid_t child, int metrics_fd);

/* metrics.c */
struct metrics;
struct event_base;
struct metrics	*metrics_new(struct event_base *, int fd,
		    const struct batch *);
void		 metrics_free(struct metrics *);
void		 metrics_net(struct metrics *, const uint8_t *, size_t);

/* db.c */
int		 cmd_db(int argc, char **argv, const char *default_db);

#endif /* STORE_H */
