/* SPDX-License-Identifier: ISC */
/*
 * store.h -- the store part: the SQLite schema and its migrations, the
 * database handle and session writer, the batch of pending records, the
 * ingest loop of the store process.  The "decoymx db" command is in
 * daemon/db.c.
 *
 * Prototypes are grouped by the file that defines them.
 */
#ifndef STORE_H
#define STORE_H

#include <sys/types.h>

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

#include "decoymx.h"

#define SCHEMA_VERSION		12

/* store_open() modes. */
#define STORE_RO		0	/* read-only, never creates */
#define STORE_RW		1	/* creates, WAL, migrates */
#define STORE_ANYVERSION	2	/* with STORE_RO: skip the version check */

struct store;
struct batch;
struct events;
struct synstore;
struct geo;

/*
 * What the geolocation databases say about one client (geo.c).  Empty
 * fields are stored as NULL.
 */
#define GEO_ORG_MAX		255
struct geo_info {
	char		 country[3];	/* ISO 3166-1 alpha-2, upper case */
	uint32_t	 asn;		/* 0: unknown */
	int64_t		 build;		/* build_epoch of the country's db */
	char		 as_org[GEO_ORG_MAX + 1];
};

/* What the geolocation has done so far (geo.c). */
struct geo_stats {
	uint64_t	 lookups;	/* addresses looked up */
	uint64_t	 invalid;	/* values refused by validation */
	uint64_t	 errors;	/* lookups the library failed */
	uint64_t	 reopens;	/* databases (re)opened after start */
	uint64_t	 open_failures;	/* (re)opens that failed */
};

/* What the batch writer has done so far (batch.c). */
struct batch_stats {
	uint64_t	 sessions;	/* records committed */
	uint64_t	 batches;	/* successful commits */
	uint64_t	 dropped;	/* oldest pending dropped at the bound */
	uint64_t	 invalid;	/* failed validation or rejected by SQL */
	uint64_t	 failures;	/* failed flush attempts */
};

/* counts.c: report aggregates, per batch (store.c owns one). */
struct count;
struct counts {
	struct count	*tab;
	uint32_t	 cap, n;
	int		 failed;
};
void		 counts_add(struct counts *, const struct sess_rec *);
int		 counts_flush(struct counts *, sqlite3_stmt *);
void		 counts_clear(struct counts *);
int		 counts_check(sqlite3 *, FILE *);

/* rollup.c: windowed report rollups, per batch (store.c owns one). */
struct rollup;
struct rollup	*rollup_open(sqlite3 *);
int		 rollup_flush(struct rollup *);
int		 rollup_rebuild(struct rollup *);
void		 rollup_close(struct rollup *);
struct rollup	*store_rollup(struct store *);

/* evidence.c: SYN labels and evidence, per batch (store.c owns one). */
struct evbatch;
struct evbatch	*evidence_open(sqlite3 *);
int		 evidence_syn_os(struct evbatch *, int all);
int		 evidence_flush(struct evbatch *);
void		 evidence_close(struct evbatch *);
struct evbatch	*store_evidence(struct store *);

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
int		 store_session_bare(struct store *, const struct sess_rec *);
int		 store_begin_batch(struct store *);
int		 store_commit(struct store *);
int		 store_rollback(struct store *);
int		 store_file_changed(struct store *);
int		 store_reopen(struct store *, char *err, size_t errlen);

/* batch.c */
struct batch	*batch_new(uint32_t bound);
void		 batch_free(struct batch *);
int		 batch_add(struct batch *, const uint8_t *rec, size_t len);
uint32_t	 batch_pending(const struct batch *);
int		 batch_flush(struct batch *, struct store *);
const struct batch_stats *batch_stats(const struct batch *);
void		 batch_set_events(struct batch *, struct events *);
void		 batch_set_sensor(struct batch *, const char *);
void		 batch_set_syns(struct batch *, struct synstore *);
void		 batch_set_geo(struct batch *, struct geo *);

/* ingest.c */
/* What the program (daemon/) plugs into the store loop. */
struct ingest_hooks {
	/*
	 * Writes the configured export conf->exports[i] from db; returns
	 * its exit status (0 written), or -1 when its options do not
	 * split; *entries: the clients listed.
	 */
	int	(*export)(const struct config *, int i, sqlite3 *,
		    const char *dbpath, int64_t *entries);
	/* SIGHUP: reads the configuration afresh into conf, sends it on fd. */
	void	(*reload)(struct config *, int fd);
};
int		 ingest_run(struct config *, struct store *, int fd,
		    pid_t child, int metrics_fd);
void		 ingest_set_hooks(const struct ingest_hooks *);

/* events.c */
struct events	*events_open(const char *path, const char *sensor, char *err,
		    size_t errlen);
int		 events_reopen(struct events *);
/* What only the database knows of a session, for its event line. */
struct events_extra {
	int64_t		 id;		/* sessions.id; 0: unknown */
	struct span	 os, os_class;	/* p NULL: none */
};
void		 events_session(struct events *, const struct sess_rec *,
		    const struct events_extra *);
void		 events_flush(struct events *);
void		 events_close(struct events *);

/* metrics.c */
struct metrics;
struct event_base;
struct metrics	*metrics_new(struct event_base *, int fd,
		    const struct batch *);
void		 metrics_free(struct metrics *);
void		 metrics_net(struct metrics *, const uint8_t *, size_t);
void		 metrics_set_store(struct metrics *, struct store *,
		    const struct config *);
void		 metrics_export(struct metrics *, int i, const char *format,
		    const char *path, int ok, int64_t duration_us,
		    int64_t entries);

/* geo.c */
struct geo	*geo_new(void);
void		 geo_free(struct geo *);
int		 geo_open(struct geo *, const struct config *);
int		 geo_refresh(struct geo *, int64_t now_us);
void		 geo_lookup(struct geo *, const char *ip, struct geo_info *);
const struct geo_stats *geo_stats(const struct geo *);
struct geo_file {
	int		 kind;		/* enum geo_kind */
	const char	*path;		/* as configured */
	const char	*type;		/* database_type; NULL: not open */
	uint64_t	 build;		/* build epoch, when open */
	const char	*why;		/* why it is not open */
};
void		 geo_city(struct geo *, const char *ip, char *, size_t);
int		 geo_file(const struct geo *, int i, struct geo_file *);

/* syns.c: SYN records (schema version 4; sensor/sensor.h) */
struct synstore;
struct syn_rec;
struct fp_match;
struct fpdb;
struct synstore_stats {
	uint64_t	 syns;		/* first SYNs written */
	uint64_t	 retransmits;	/* retransmits counted */
	uint64_t	 dropped;	/* oldest pending dropped at the bound */
	uint64_t	 invalid;	/* failed validation since the last flush */
};
struct synstore	*synstore_new(struct store *, const struct fpdb *,
		    uint32_t bound, char *err, size_t errlen);
void		 synstore_free(struct synstore *);
void		 synstore_release(struct synstore *);
int		 synstore_prepare(struct synstore *, char *err, size_t errlen);
int		 synstore_queue(struct synstore *, const uint8_t *, size_t);
uint32_t	 synstore_pending(const struct synstore *);
int		 synstore_flush(struct synstore *);
int		 synstore_add(struct synstore *, const struct syn_rec *,
		    struct fp_match *);
const struct synstore_stats *synstore_stats(const struct synstore *);
int		 synstore_rewalk(struct synstore *, const char *ip);
int		 synstore_session(struct synstore *, const char *ip);

/* merge.c */
int		 merge_db(struct store *, const char *other, FILE *out,
		    char *err, size_t errlen);

/* classify.c: reasons, in rule order; each is a bit in verdict.reasons */
enum reason {
	REASON_BACKUP_DIRECT,
	REASON_NOLISTING_ONLY,
	REASON_BOT_PROTOCOL,
	REASON_MAX
};

struct classify_conf {
	uint32_t	 rules;		/* enabled reasons, a bit each */
	int64_t		 window_us;	/* nolisting-only, real-MX window */
	int64_t		 now_us;
	uint32_t	 bot_anoms;	/* anomalies of bot-protocol */
	uint32_t	 strong_anoms;	/* anomalies that beat MTA-likeness */
};

/* What the store knows about one client. */
struct evidence {
	char		 ip[ADDR_STRLEN];
	int64_t		 first_us, last_us, sessions;
	uint32_t	 anomalies;
	int64_t		 primary_first_us, primary_sessions;
	int64_t		 backup_first_us, backup_sessions;
	int64_t		 helo_ok, retries;
	int64_t		 parallel;		/* primary and backup at once */
	int		 sensor;		/* real MX seen in its family */
	int		 sensor_any;		/* real MX seen at all */
	int		 real_after_primary;	/* SYN to the real MX after */
	char		 linked_ip[ADDR_STRLEN];	/* same envelope, walked */
	int		 syn_before_backup;	/* primary/real SYN before */
	const char	*walk;			/* MX walk verdict or NULL */
};

struct verdict {
	uint32_t	 reasons;	/* bits of enum reason */
	const char	*mta;		/* why it looks like an MTA, or NULL */
	int		 strong;	/* a strong bot signal */
	int		 listed;
	const char	*note;		/* why nolisting-only did or did not
					   apply, or NULL (a static string) */
};

struct classify_q;
const char	*classify_reason_name(int);
const char	*classify_reason_text(int);
int		 classify_reason_parse(const char *);
void		 classify_defaults(struct classify_conf *);
void		 classify_client(const struct classify_conf *,
		    const struct evidence *, struct verdict *);
struct classify_q *classify_open(sqlite3 *, const struct classify_conf *,
		    int64_t since, int64_t min_sessions, const char *ip,
		    char *err, size_t errlen);
int		 classify_next(struct classify_q *, struct evidence *,
		    struct verdict *);
int		 classify_has_sensor(const struct classify_q *);
void		 classify_close(struct classify_q *);

/* allowlist.c */
struct allow_net {
	int		 family;	/* 4 or 6 */
	int		 prefix;
	uint8_t		 addr[16];	/* network order, host bits clear */
};

struct allowlist {
	struct allow_net *nets;		/* sorted by family, prefix, addr */
	size_t		 n, cap;
};

int		 allowlist_parse(struct allowlist *, const char *buf,
		    size_t len, const char *file, char *err, size_t errlen);
int		 allowlist_load(struct allowlist *, const char *path, char *err,
		    size_t errlen);
const struct allow_net *allowlist_match(const struct allowlist *, int family,
		    const uint8_t *addr);
int		 allowlist_inside(const struct allow_net *, int family,
		    const uint8_t *addr, int prefix);
void		 allowlist_free(struct allowlist *);

#endif /* STORE_H */
