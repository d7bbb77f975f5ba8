/* SPDX-License-Identifier: ISC */
/*
 * ingest.c -- the main loop of the store process: read session records
 * from the network process over a SOCK_SEQPACKET socket, validate them
 * again, and write them to SQLite in batched transactions (batch.c).
 *
 * Records wait in a batch bounded by queue_size.  A flush runs
 * batch_interval_ms after the first pending record, or at once when
 * batch_max records wait; a failed flush keeps the records and is
 * retried on the next tick.
 *
 * Records are read several at a time (recvmmsg).  While they keep coming
 * the store does not wait on the socket, where every record would wake
 * it: it reads every INGEST_POLL_MS what has come meanwhile (the socket
 * holds megabytes), and waits on the socket again once a read finds
 * nothing, the budget runs out, or a flush failed.
 *
 * On SIGTERM/SIGINT the network process is told to stop; it sends what
 * it still holds and closes its end.  The store reads until that EOF,
 * flushes and returns.  It waits INGEST_DEADLINE_S seconds at a time,
 * and again while records keep coming (a backlog of SYNs after a burst
 * takes a while), at most INGEST_STOP_MAX_S in all: a network process
 * that sends nothing for INGEST_DEADLINE_S is killed, one that still
 * sends is not.
 *
 * Each session is geolocated as it arrives (batch_add(), geo.c).  The
 * databases are reopened on SIGHUP and, when their files change, before
 * the next record (checked at most once a second).
 *
 * The periodic exports and the reload are the program's (daemon/): it
 * plugs them in with ingest_set_hooks().
 *
 * Exports ingest_run() and ingest_set_hooks().
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "sensor.h"

#define INGEST_BUDGET		256	/* records read per wakeup */
#define INGEST_VEC		16	/* records read per recvmmsg() */
#define INGEST_POLL_MS		10	/* between reads while records come */
#define INGEST_DEADLINE_S	10	/* to wait for EOF after a signal */
#define INGEST_STOP_MAX_S	80	/* in all, while records keep coming
					   (under the unit's TimeoutStopSec) */
#define INGEST_FINAL_TRIES	3	/* flush attempts at exit */

/* queue-size, batch-max and batch-interval: config_defaults() alone. */

struct ingest {
	struct config		*conf;
	struct metrics		*metrics;
	int			 metrics_fd;
	struct store		*st;
	struct batch		*b;
	struct geo		*geo;
	struct events		*events;	/* JSON-lines log, or NULL */
	struct fpdb		*fpdb;		/* SYN labels */
	struct synstore		*syns;		/* REC_SYN writer */
	struct event_base	*base;
	struct event		*ev_read, *ev_flush, *ev_deadline;
	struct event		*ev_poll;	/* reading by the clock */
	struct event		*ev_sig[4];
	struct ingest_export {			/* periodic exports */
		struct ingest	*ig;
		int		 i;		/* conf->exports[i] */
		struct event	*ev;
	}			 exports[MAX_EXPORTS];
	uint8_t			*buf;		/* INGEST_VEC records */
	struct mmsghdr		 msg[INGEST_VEC];
	struct iovec		 iov[INGEST_VEC];
	int			 fd;
	int			 polling;	/* ev_poll, not ev_read */
	int			 flush_failed;	/* the last flush */
	pid_t			 child;
	int			 stopping, eof, deadline, child_done;
	uint64_t		 nrec;		/* messages read */
	uint64_t		 nrec_check;	/* ... at the last deadline */
	int			 waited_s;	/* since the stop began */
	int			 slow;		/* fault "store-slow" (tests) */
	int			 reopen_failed;
};

/* What the program plugs in (ingest_set_hooks()); NULL: none. */
static const struct ingest_hooks *ingest_hooks;

static int	 ingest_drain(struct ingest *, uint32_t *);
static void	 ingest_read(evutil_socket_t, short, void *);
static void	 ingest_wait(struct ingest *, int, uint32_t);
static void	 ingest_record(struct ingest *, const uint8_t *, size_t);
static void	 ingest_session(void *, const uint8_t *, size_t);
static void	 ingest_syn(void *, const uint8_t *, size_t);
static void	 ingest_stats(void *, const uint8_t *, size_t);
static void	 ingest_bye(void *, const uint8_t *, size_t);
static void	 ingest_flush(struct ingest *);
static void	 ingest_check_db(struct ingest *);
static void	 ingest_flush_cb(evutil_socket_t, short, void *);
static void	 ingest_arm(struct ingest *);
static void	 ingest_signal(evutil_socket_t, short, void *);
static void	 ingest_deadline(evutil_socket_t, short, void *);
static void	 ingest_reap(struct ingest *, int);
static void	 ingest_reap_wait(struct ingest *);
static int	 ingest_setup(struct ingest *);
static void	 ingest_teardown(struct ingest *);
static void	 ingest_export(evutil_socket_t, short, void *);

/*
 * Reads and handles up to INGEST_BUDGET records, counted in *n.  Returns
 * 1 when the socket is empty, 0 when the budget ran out, -1 at EOF or
 * after a read error, which end the loop.
 */
static int
ingest_drain(struct ingest *ig, uint32_t *n)
{
	int	 got;

	*n = 0;
	while (*n < INGEST_BUDGET) {
		for (int i = 0; i < INGEST_VEC; i++) {
			/* One byte more than a record may be, to see oversize. */
			ig->iov[i].iov_base = ig->buf + (size_t)i *
			    (MAX_RECORD + 1);
			ig->iov[i].iov_len = MAX_RECORD + 1;
			memset(&ig->msg[i], 0, sizeof(ig->msg[i]));
			ig->msg[i].msg_hdr.msg_iov = &ig->iov[i];
			ig->msg[i].msg_hdr.msg_iovlen = 1;
		}
		got = recvmmsg(ig->fd, ig->msg, INGEST_VEC, MSG_DONTWAIT, NULL);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (got == -1)
			log_warn("store read from network process failed: %s",
			    strerror(errno));
		for (int i = 0; i < got; i++) {
			if (ig->msg[i].msg_len == 0) {
				got = 0;	/* EOF */
				break;
			}
			(*n)++;
			ingest_record(ig, ig->iov[i].iov_base,
			    ig->msg[i].msg_len);
		}
		if (got <= 0) {
			ig->eof = 1;
			event_del(ig->ev_read);
			evtimer_del(ig->ev_poll);
			event_base_loopbreak(ig->base);
			return -1;
		}
		if (got < INGEST_VEC)
			return 1;	/* nothing more waits */
	}
	return 0;
}

/*
 * The socket is readable, or INGEST_POLL_MS passed after the last read
 * (ev_poll): reads what came meanwhile.
 */
static void
ingest_read(evutil_socket_t fd, short what, void *arg)
{
	struct ingest	*ig = arg;
	uint32_t	 n;
	int		 empty;

	(void)fd;
	(void)what;
	if ((empty = ingest_drain(ig, &n)) != -1)
		ingest_wait(ig, empty, n);
}

/*
 * After a read that found n records and the socket empty (empty) or
 * not: read again by the clock while records come, else when the
 * socket is readable.  A stop, a budget run out and a failed flush
 * wait on the socket.
 */
static void
ingest_wait(struct ingest *ig, int empty, uint32_t n)
{
	struct timeval	 tv = { 0, INGEST_POLL_MS * 1000 };

	if (empty && n > 0 && !ig->stopping && !ig->flush_failed) {
		if (!ig->polling)
			event_del(ig->ev_read);
		ig->polling = 1;
		evtimer_add(ig->ev_poll, &tv);
		return;
	}
	if (ig->polling) {
		evtimer_del(ig->ev_poll);
		event_add(ig->ev_read, NULL);
	}
	ig->polling = 0;
}

/* What the network process sends (common/chan.c), by type. */
static const struct chan_handler ingest_chan[] = {
	{ REC_SESSION,	ingest_session },
	{ REC_SYN,	ingest_syn },
	{ REC_STATS,	ingest_stats },
	{ REC_BYE,	ingest_bye },
};

/*
 * One message from the network process, to its handler by type; one of
 * an unknown type or version goes to the session batch, which counts it
 * as invalid.
 */
static void
ingest_record(struct ingest *ig, const uint8_t *rec, size_t len)
{
	ig->nrec++;
	if (ig->slow)
		usleep(20000);
	if (chan_dispatch(ingest_chan, sizeof(ingest_chan) /
	    sizeof(ingest_chan[0]), ig, rec, len) == -1)
		ingest_session(ig, rec, len);
}

static void
ingest_bye(void *arg, const uint8_t *rec, size_t len)
{
	struct ingest	*ig = arg;
	const char	*why;

	if (chan_decode_empty(rec, len, REC_BYE, &why) == -1) {
		log_warn("store: bad stop message from the network process: "
		    "%s", why);
		return;
	}
	/* The network process stops on its own signal: not a crash. */
	if (!ig->stopping)
		log_info("store: network process is stopping");
	ig->stopping = 1;
}

static void
ingest_stats(void *arg, const uint8_t *rec, size_t len)
{
	struct ingest	*ig = arg;

	metrics_net(ig->metrics, rec, len);
}

static void
ingest_syn(void *arg, const uint8_t *rec, size_t len)
{
	struct ingest	*ig = arg;

	if (synstore_queue(ig->syns, rec, len) == 0)
		ingest_arm(ig);
}

/* A session record: decoded and checked by batch_add(). */
static void
ingest_session(void *arg, const uint8_t *rec, size_t len)
{
	struct ingest	*ig = arg;

	geo_refresh(ig->geo, util_now_us());
	if (batch_add(ig->b, rec, len) == -1)
		return;
	if (batch_pending(ig->b) >= ig->conf->batch_max)
		ingest_flush(ig);
	else
		ingest_arm(ig);
}

/* Arms the flush timer unless it already runs. */
static void
ingest_arm(struct ingest *ig)
{
	uint32_t	 ms = ig->conf->batch_interval_ms;
	struct timeval	 tv;

	if (evtimer_pending(ig->ev_flush, NULL))
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ig->ev_flush, &tv);
}

/*
 * Before each batch: a database file deleted or replaced under the
 * daemon is opened again at its path (a new, empty one when it was
 * deleted), so that what is pending and what comes next is not written
 * into an unlinked file (decoymx(8), FILES).  A failed reopen is
 * retried before the next batch; the records wait meanwhile.
 */
static void
ingest_check_db(struct ingest *ig)
{
	char	 err[512];

	if (!store_file_changed(ig->st)) {
		ig->reopen_failed = 0;
		return;
	}
	if (!ig->reopen_failed)
		log_error("store %s; opening %s again, pending=%u",
		    store_error(ig->st), store_path(ig->st),
		    batch_pending(ig->b));
	synstore_release(ig->syns);
	if (store_reopen(ig->st, err, sizeof(err)) == 0) {
		log_warn("store reopened db=%s: sessions from now on are "
		    "written there", store_path(ig->st));
		ig->reopen_failed = 0;
	} else if (!ig->reopen_failed) {
		log_error("store cannot reopen: %s; records wait, retrying "
		    "before each batch", err);
		ig->reopen_failed = 1;
	} else
		ig->reopen_failed = 1;
	if (!ig->reopen_failed &&
	    synstore_prepare(ig->syns, err, sizeof(err)) == -1)
		log_error("store sensor writer: %s", err);
}

static void
ingest_flush(struct ingest *ig)
{
	int64_t	 t0 = util_now_us();
	int	 n;

	ingest_check_db(ig);
	/* SYNs first: a session stored after its SYN gets its label. */
	synstore_flush(ig->syns);
	if ((n = batch_flush(ig->b, ig->st)) > 0)
		log_debug("store flushed sessions=%d duration_ms=%u", n,
		    (unsigned)((util_now_us() - t0) / 1000));
	ig->flush_failed = 0;
	if (batch_pending(ig->b) > 0 || synstore_pending(ig->syns) > 0) {
		ig->flush_failed = 1;
		ingest_arm(ig);		/* failed: retry on the next tick */
		ingest_wait(ig, 1, 0);	/* and read as records come */
	}
}

/* The flush timer: first what came since the last read, while polling. */
static void
ingest_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest	*ig = arg;
	uint32_t	 n;
	int		 empty = 1;

	(void)fd;
	(void)what;
	if (ig->polling && (empty = ingest_drain(ig, &n)) == -1)
		return;		/* EOF: the loop ends, the final flush follows */
	ingest_flush(ig);
	if (!empty)
		ingest_wait(ig, 0, n);	/* more waits: read when readable */
}

static void
ingest_signal(evutil_socket_t sig, short what, void *arg)
{
	struct ingest	*ig = arg;
	struct timeval	 tv = { INGEST_DEADLINE_S, 0 };

	(void)what;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		if (ig->stopping)
			return;
		ig->stopping = 1;
		log_info("store stop requested signal=%s pending=%u",
		    sig == SIGTERM ? "TERM" : "INT", batch_pending(ig->b));
		if (ig->child > 0 && !ig->child_done &&
		    kill(ig->child, SIGTERM) == -1)
			log_warn("store cannot signal network process pid=%ld: "
			    "%s", (long)ig->child, strerror(errno));
		ig->nrec_check = ig->nrec;
		evtimer_add(ig->ev_deadline, &tv);
		ingest_wait(ig, 1, 0);	/* read as records come, to the EOF */
		break;
	case SIGHUP:
		if (ingest_hooks != NULL && ingest_hooks->reload != NULL)
			ingest_hooks->reload(ig->conf, ig->fd);
		geo_open(ig->geo, ig->conf);
		events_reopen(ig->events);
		break;
	case SIGCHLD:
		ingest_reap(ig, WNOHANG);
		break;
	}
}

static void
ingest_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ingest	*ig = arg;
	struct timeval	 tv = { INGEST_DEADLINE_S, 0 };

	(void)fd;
	(void)what;
	ig->waited_s += INGEST_DEADLINE_S;
	if (ig->nrec != ig->nrec_check && ig->waited_s < INGEST_STOP_MAX_S) {
		log_info("store still receiving, waiting waited_s=%d "
		    "records=%llu", ig->waited_s,
		    (unsigned long long)(ig->nrec - ig->nrec_check));
		ig->nrec_check = ig->nrec;
		evtimer_add(ig->ev_deadline, &tv);
		return;
	}
	log_warn("store stop deadline reached, network process still "
	    "connected waited_s=%d sending=%s", ig->waited_s,
	    ig->nrec != ig->nrec_check ? "yes" : "no");
	ig->deadline = 1;
	event_base_loopbreak(ig->base);
}

/* Collects the network process if it has exited (flags for waitpid). */
static void
ingest_reap(struct ingest *ig, int flags)
{
	int	 status;
	pid_t	 pid;

	if (ig->child <= 0 || ig->child_done)
		return;
	while ((pid = waitpid(ig->child, &status, flags)) == -1 &&
	    errno == EINTR)
		;
	if (pid == 0)
		return;
	ig->child_done = 1;
	if (pid == -1)
		log_warn("store waitpid pid=%ld: %s", (long)ig->child,
		    strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("network process exited pid=%ld status=0",
		    (long)ig->child);
	else if (WIFEXITED(status))
		log_warn("network process exited pid=%ld status=%d",
		    (long)ig->child, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warn("network process killed pid=%ld signal=%d",
		    (long)ig->child, WTERMSIG(status));
}

/* At exit: give the network process 2 s to go, then SIGKILL it. */
static void
ingest_reap_wait(struct ingest *ig)
{
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };

	if (ig->child <= 0)
		return;
	ingest_reap(ig, WNOHANG);
	if (!ig->child_done && !ig->stopping)
		kill(ig->child, SIGTERM);
	for (int i = 0; i < 20 && !ig->child_done && !ig->deadline; i++) {
		nanosleep(&ts, NULL);
		ingest_reap(ig, WNOHANG);
	}
	if (!ig->child_done) {
		log_warn("store killing network process pid=%ld",
		    (long)ig->child);
		kill(ig->child, SIGKILL);
		ingest_reap(ig, 0);
	}
}

static int
ingest_setup(struct ingest *ig)
{
	static const int sigs[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };

	if ((ig->buf = malloc((size_t)INGEST_VEC * (MAX_RECORD + 1))) ==
	    NULL ||
	    (ig->b = batch_new(ig->conf->queue_size)) == NULL ||
	    (ig->base = event_base_new()) == NULL)
		return -1;
	batch_set_geo(ig->b, ig->geo);
	batch_set_events(ig->b, ig->events);
	batch_set_sensor(ig->b, ig->conf->sensor_name);
	batch_set_syns(ig->b, ig->syns);
	ig->ev_read = event_new(ig->base, ig->fd, EV_READ | EV_PERSIST,
	    ingest_read, ig);
	ig->ev_flush = evtimer_new(ig->base, ingest_flush_cb, ig);
	ig->ev_deadline = evtimer_new(ig->base, ingest_deadline, ig);
	ig->ev_poll = evtimer_new(ig->base, ingest_read, ig);
	if (ig->ev_read == NULL || ig->ev_flush == NULL ||
	    ig->ev_deadline == NULL || ig->ev_poll == NULL ||
	    event_add(ig->ev_read, NULL) == -1)
		return -1;
	if (ig->metrics_fd != -1 && (ig->metrics = metrics_new(ig->base,
	    ig->metrics_fd, ig->b)) == NULL)
		return -1;
	metrics_set_store(ig->metrics, ig->st, ig->conf);
	for (int i = 0; i < 4; i++) {
		ig->ev_sig[i] = evsignal_new(ig->base, sigs[i], ingest_signal,
		    ig);
		if (ig->ev_sig[i] == NULL || evsignal_add(ig->ev_sig[i],
		    NULL) == -1)
			return -1;
	}
	/* Each export once at start, then every every_ms. */
	for (int i = 0; i < ig->conf->nexports; i++) {
		struct ingest_export *x = &ig->exports[i];
		uint32_t	 ms = ig->conf->exports[i].every_ms;
		struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

		x->ig = ig;
		x->i = i;
		if ((x->ev = event_new(ig->base, -1, EV_PERSIST, ingest_export,
		    x)) == NULL || event_add(x->ev, &tv) == -1)
			return -1;
		event_active(x->ev, EV_TIMEOUT, 1);
	}
	return 0;
}

/*
 * Writes one configured export from the store's own connection, between
 * batches (no transaction is open).  It blocks the store loop while it
 * runs; the network process queues meanwhile.
 */
static void
ingest_export(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_export	*x = arg;
	struct ingest		*ig = x->ig;
	const struct export_conf *e;
	int64_t			 t0 = util_now_us(), entries = 0;
	int			 st;

	(void)fd;
	(void)what;
	if (x->i >= ig->conf->nexports || store_db(ig->st) == NULL ||
	    ingest_hooks == NULL || ingest_hooks->export == NULL)
		return;		/* gone with a reload, or no database */
	e = &ig->conf->exports[x->i];
	if ((st = ingest_hooks->export(ig->conf, x->i, store_db(ig->st),
	    store_path(ig->st), &entries)) == -1) {
		log_warn("export format=%s path=%s failed: no parsed options",
		    e->format, e->path);
		return;
	}
	metrics_export(ig->metrics, x->i, e->format, e->path, st == 0,
	    util_now_us() - t0, entries);
	if (st != 0)
		log_warn("export format=%s path=%s failed status=%d",
		    e->format, e->path, st);
	else
		log_debug("export format=%s path=%s duration_ms=%u", e->format,
		    e->path, (unsigned)((util_now_us() - t0) / 1000));
}

static void
ingest_teardown(struct ingest *ig)
{
	metrics_free(ig->metrics);
	for (int i = 0; i < 4; i++)
		if (ig->ev_sig[i] != NULL)
			event_free(ig->ev_sig[i]);
	for (int i = 0; i < MAX_EXPORTS; i++)
		if (ig->exports[i].ev != NULL)
			event_free(ig->exports[i].ev);
	if (ig->ev_read != NULL)
		event_free(ig->ev_read);
	if (ig->ev_flush != NULL)
		event_free(ig->ev_flush);
	if (ig->ev_deadline != NULL)
		event_free(ig->ev_deadline);
	if (ig->ev_poll != NULL)
		event_free(ig->ev_poll);
	if (ig->base != NULL)
		event_base_free(ig->base);
	batch_free(ig->b);
	synstore_free(ig->syns);
	fpdb_free(ig->fpdb);
	geo_free(ig->geo);
	events_close(ig->events);
	free(ig->buf);
}

/*
 * Sets what the program plugs into the store loop: the periodic exports
 * and the reload on SIGHUP (struct ingest_hooks).  hooks is kept by
 * reference; NULL, or a NULL member, turns that part off.
 */
void
ingest_set_hooks(const struct ingest_hooks *hooks)
{
	ingest_hooks = hooks;
}

/*
 * Runs the store process until the network process is gone.  fd is the
 * store's end of the SOCK_SEQPACKET socketpair (a zero-length message
 * reads as EOF, so the network process never sends one); child is the
 * network process, or 0 when there is none to signal and reap.  Returns
 * 0 after a requested stop with everything written, 1 when the network
 * process went away on its own, the stop deadline passed, or records
 * could not be written at exit.  Does not close fd or the store.
 * metrics_fd is a listening socket for /metrics, or -1.  conf is
 * replaced on SIGHUP by the reload hook (ingest_set_hooks()).
 */
int
ingest_run(struct config *conf, struct store *st, int fd, pid_t child,
    int metrics_fd)
{
	struct ingest			 ig;
	const struct batch_stats	*bs;
	const struct geo_stats		*gs;
	char				 why[512];
	int				 ret = 0, geo_rv = 0;

	memset(&ig, 0, sizeof(ig));
	ig.conf = conf;
	ig.st = st;
	ig.fd = fd;
	ig.child = child;
	ig.metrics_fd = metrics_fd;
	ig.slow = util_fault("store-slow");
	if ((ig.geo = geo_new()) != NULL &&
	    (geo_rv = geo_open(ig.geo, conf)) == -2) {
		/* A geoip file of another kind: a configuration error. */
		ingest_reap_wait(&ig);
		ingest_teardown(&ig);
		return EXIT_USAGE;
	}
	if (ig.geo == NULL || (geo_rv == -1 && conf->geoip_required)) {
		log_error("store cannot start: %s", ig.geo == NULL ?
		    "out of memory" : "a geoip database could not be opened "
		    "and geoip-required is yes");
		ingest_reap_wait(&ig);
		ingest_teardown(&ig);
		return 1;
	}
	if ((ig.fpdb = fpdb_load_conf(conf, why, sizeof(why))) == NULL ||
	    (ig.syns = synstore_new(st, ig.fpdb, conf->queue_size, why,
	    sizeof(why))) == NULL) {
		log_error("store cannot start the sensor's writer: %s", why);
		ingest_reap_wait(&ig);
		ingest_teardown(&ig);
		return 1;
	}
	if (conf->events_log[0] != '\0' && (ig.events = events_open(
	    conf->events_log, conf->sensor_name, why, sizeof(why))) == NULL) {
		log_error("store cannot start: %s", why);
		ingest_reap_wait(&ig);
		ingest_teardown(&ig);
		return 1;
	}
	if (ingest_setup(&ig) == -1) {
		log_error("store cannot set up its event loop");
		ingest_teardown(&ig);
		return 1;
	}
	log_info("store started db=%s", store_path(st));
	/* proc_run() blocked the signals until the handlers were in. */
	sigprocmask(SIG_SETMASK, &(sigset_t){ 0 }, NULL);
	event_base_dispatch(ig.base);

	ingest_check_db(&ig);
	for (int i = 0; i < INGEST_FINAL_TRIES &&
	    synstore_pending(ig.syns) > 0; i++)
		synstore_flush(ig.syns);
	for (int i = 0; i < INGEST_FINAL_TRIES && batch_pending(ig.b); i++)
		batch_flush(ig.b, st);
	if (batch_pending(ig.b) > 0) {
		log_error("store lost sessions=%u at exit error=\"%s\"",
		    batch_pending(ig.b), store_error(st));
		ret = 1;
	}
	if (!ig.stopping) {
		log_error("store network process closed its channel "
		    "unexpectedly");
		ret = 1;
	}
	if (ig.deadline)
		ret = 1;
	ingest_reap_wait(&ig);

	bs = batch_stats(ig.b);
	log_info("store stopping sessions=%llu batches=%llu dropped=%llu "
	    "invalid=%llu failures=%llu",
	    (unsigned long long)bs->sessions, (unsigned long long)bs->batches,
	    (unsigned long long)bs->dropped, (unsigned long long)bs->invalid,
	    (unsigned long long)bs->failures);
	gs = geo_stats(ig.geo);
	log_info("geo stopping lookups=%llu invalid=%llu errors=%llu "
	    "reopens=%llu open_failures=%llu",
	    (unsigned long long)gs->lookups, (unsigned long long)gs->invalid,
	    (unsigned long long)gs->errors, (unsigned long long)gs->reopens,
	    (unsigned long long)gs->open_failures);
	ingest_teardown(&ig);
	return ret;
}
