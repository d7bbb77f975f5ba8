/* SPDX-License-Identifier: ISC */
/*
 * batch.c -- the records the store process has received but not yet
 * committed, and the writer that commits them.
 *
 * A batch is a ring of raw record copies, bounded: when full, the oldest
 * record is dropped and counted.  Each record is validated on the way in,
 * geolocated once (geo.c) and decoded again at flush (the decoded spans
 * point into the copy).
 * batch_flush() writes every pending record in one transaction and
 * empties the batch only if the commit succeeds; otherwise the records
 * stay, so a locked, full or read-only database loses nothing while the
 * bound holds.
 *
 * Exports batch_new(), batch_free(), batch_add(), batch_pending(),
 * batch_flush(), batch_stats() and batch_set_geo().
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define BATCH_WARN_US		(10 * 1000000LL)

struct brec {
	size_t		 len;
	struct geo_info	 geo;
	uint8_t		 data[];
};

/* At most one warning per BATCH_WARN_US, with the count in between. */
struct ratelimit {
	int64_t		 last_us;
	uint64_t	 count;
};

struct batch {
	struct brec	**ring;
	uint32_t	 bound, head, n;
	struct batch_stats stats;
	uint32_t	 streak;	/* failed flushes in a row */
	struct ratelimit rl_drop, rl_invalid;
	struct geo	*geo;		/* not owned; NULL: no geolocation */
	struct events	*events;	/* not owned; NULL: no event log */
	const char	*sensor;	/* not owned; NULL: unnamed */
	struct synstore	*syns;		/* not owned; NULL: no sensor */
};

static int	 batch_ratelimit(struct ratelimit *);
static int	 batch_record_error(int);
static void	 batch_clear(struct batch *);
static int	 batch_write(struct batch *, struct store *, int, uint32_t *);
static void	 batch_events(struct batch *, struct store *);

/* Returns 1 when a warning may be logged now; counts it either way. */
static int
batch_ratelimit(struct ratelimit *rl)
{
	int64_t	 now = util_now_us();

	rl->count++;
	if (rl->last_us != 0 && now - rl->last_us < BATCH_WARN_US)
		return 0;
	rl->last_us = now;
	return 1;
}

/*
 * Errors that belong to one record rather than to the database: such a
 * record is dropped so it cannot block every batch after it.
 */
static int
batch_record_error(int code)
{
	switch (code & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_TOOBIG:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return 1;
	}
	return 0;
}

/* A batch holding at most bound records; free with batch_free(). */
struct batch *
batch_new(uint32_t bound)
{
	struct batch	*b;

	if (bound == 0)
		bound = 1;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->ring = calloc(bound, sizeof(*b->ring))) == NULL) {
		free(b);
		return NULL;
	}
	b->bound = bound;
	return b;
}

static void
batch_clear(struct batch *b)
{
	for (uint32_t i = 0; i < b->n; i++)
		free(b->ring[(b->head + i) % b->bound]);
	b->head = b->n = 0;
}

/* Frees the batch and any records still pending; NULL is allowed. */
void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	batch_clear(b);
	free(b->ring);
	free(b);
}

uint32_t
batch_pending(const struct batch *b)
{
	return b->n;
}

const struct batch_stats *
batch_stats(const struct batch *b)
{
	return &b->stats;
}

/* Geolocates records from now on with g (still owned by the caller). */
void
batch_set_geo(struct batch *b, struct geo *g)
{
	b->geo = g;
}

/*
 * Validates a received record, looks its client up in the geolocation
 * databases (batch_set_geo()) and keeps both for the next flush.
 * At the bound the oldest pending record is dropped and counted.  Returns
 * 0, or -1 if the record was invalid (counted, logged, not kept) or no
 * memory was left (counted as dropped).
 */
int
batch_add(struct batch *b, const uint8_t *rec, size_t len)
{
	static struct sess_rec r;
	struct brec	*br;
	const char	*why;

	if (record_decode_session(rec, len, &r, &why) == -1) {
		b->stats.invalid++;
		if (batch_ratelimit(&b->rl_invalid)) {
			log_warn("store invalid record reason=\"%s\" len=%zu "
			    "invalid=%llu", why, len,
			    (unsigned long long)b->rl_invalid.count);
			b->rl_invalid.count = 0;
		}
		return -1;
	}
	if ((br = malloc(sizeof(*br) + len)) == NULL) {
		b->stats.dropped++;
		log_warn("store dropped session=%s: out of memory", r.uid);
		return -1;
	}
	br->len = len;
	memcpy(br->data, rec, len);
	geo_lookup(b->geo, r.src_ip, &br->geo);
	if (b->n == b->bound) {
		free(b->ring[b->head]);
		b->head = (b->head + 1) % b->bound;
		b->n--;
		b->stats.dropped++;
		if (batch_ratelimit(&b->rl_drop)) {
			log_warn("store queue full, dropped oldest dropped=%llu "
			    "bound=%u", (unsigned long long)b->rl_drop.count,
			    b->bound);
			b->rl_drop.count = 0;
		}
	}
	b->ring[(b->head + b->n) % b->bound] = br;
	b->n++;
	return 0;
}

/*
 * Writes the pending records into the open transaction: each in its own
 * savepoint when careful (a record's own error, batch_record_error(),
 * drops that record, counted in *rejected, and the rest go on), else
 * without one.  Returns 0; 1 when, not careful, a record failed on its
 * own (the transaction is then partly written: roll it back and write
 * again carefully); -1 when the database failed.
 */
static int
batch_write(struct batch *b, struct store *st, int careful,
    uint32_t *rejected)
{
	static struct sess_rec r;
	struct brec	*br;
	const char	*why;
	int		 rc;

	*rejected = 0;
	for (uint32_t i = 0; i < b->n; i++) {
		br = b->ring[(b->head + i) % b->bound];
		/* Checked in batch_add(); decoded again for the spans. */
		if (record_decode_session(br->data, br->len, &r, &why) == -1) {
			(*rejected)++;
			continue;
		}
		r.geo = &br->geo;
		if (b->sensor != NULL)
			r.sensor = (struct span){ b->sensor, strlen(b->sensor) };
		rc = careful ? store_session(st, &r) :
		    store_session_bare(st, &r);
		if (rc == 0) {
			if (b->syns != NULL)
				synstore_session(b->syns, r.src_ip);
			continue;
		}
		if (!batch_record_error(store_errcode(st)))
			return -1;
		if (!careful)
			return 1;
		log_warn("store rejected session=%s error=\"%s\"", r.uid,
		    store_error(st));
		(*rejected)++;
	}
	return 0;
}

/*
 * Writes every pending record in one transaction.  On success the batch
 * is empty and the return value is the number of records written (a uid
 * already in the database counts as written: it changes nothing).  A
 * record that fails on its own is dropped: the batch is then written
 * again, each record in its own savepoint (the first pass has none: they
 * cost half of the store's CPU).  On failure everything is rolled back,
 * every record stays pending, the first failure of a streak is logged,
 * and -1 is returned.
 */
int
batch_flush(struct batch *b, struct store *st)
{
	uint32_t	 rejected = 0;
	int		 rc;

	if (b->n == 0)
		return 0;
	if (store_begin_batch(st) == -1)
		goto fail;
	if ((rc = batch_write(b, st, 0, &rejected)) == 1) {
		store_rollback(st);
		if (store_begin_batch(st) == -1)
			goto fail;
		rc = batch_write(b, st, 1, &rejected);
	}
	if (rc == -1 || store_commit(st) == -1)
		goto fail;
	if (b->events != NULL)
		batch_events(b, st);

	if (b->streak > 0)
		log_info("store flush recovered failures=%u", b->streak);
	b->streak = 0;
	b->stats.batches++;
	b->stats.sessions += b->n - rejected;
	b->stats.invalid += rejected;
	rejected = b->n - rejected;
	batch_clear(b);
	return (int)rejected;

fail:
	store_rollback(st);
	b->stats.failures++;
	if (b->streak++ == 0)
		log_warn("store flush failed pending=%u error=\"%s\"", b->n,
		    store_error(st));
	return -1;
}

/*
 * Writes the committed batch to the event log: only what is in the
 * database goes there, with what the database added (its id, the OS the
 * sensor's SYN gave it).
 */
static void
batch_events(struct batch *b, struct store *st)
{
	static struct sess_rec	 r;
	struct events_extra	 x;
	struct brec		*br;
	sqlite3_stmt		*q = NULL;
	const char		*why;

	if (sqlite3_prepare_v2(store_db(st), "SELECT id, os, os_class FROM"
	    " sessions WHERE uid = ?1", -1, &q, NULL) != SQLITE_OK)
		q = NULL;
	for (uint32_t i = 0; i < b->n; i++) {
		br = b->ring[(b->head + i) % b->bound];
		if (record_decode_session(br->data, br->len, &r, &why) == -1)
			continue;
		r.geo = &br->geo;
		memset(&x, 0, sizeof(x));
		if (q != NULL) {
			sqlite3_bind_text(q, 1, r.uid, -1, SQLITE_STATIC);
			if (sqlite3_step(q) == SQLITE_ROW) {
				const char *os = (const char *)
				    sqlite3_column_text(q, 1);
				const char *cl = (const char *)
				    sqlite3_column_text(q, 2);
				x.id = sqlite3_column_int64(q, 0);
				if (os != NULL)
					x.os = (struct span){ os, strlen(os) };
				if (cl != NULL)
					x.os_class = (struct span){ cl,
					    strlen(cl) };
			}
		}
		events_session(b->events, &r, &x);
		if (q != NULL)
			sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	events_flush(b->events);
}

/* Sessions committed from now on also go to this event log. */
void
batch_set_events(struct batch *b, struct events *ev)
{
	b->events = ev;
}

/* Sessions are stamped with this sensor name (not copied: keep it). */
void
batch_set_sensor(struct batch *b, const char *name)
{
	b->sensor = name;
}

/* Stored sessions may settle their client's MX walk (synstore_session). */
void
batch_set_syns(struct batch *b, struct synstore *ss)
{
	b->syns = ss;
}
