/* SPDX-License-Identifier: ISC */
/*
 * tarpit.c -- the network process: one libevent loop over the listeners,
 * the sessions and the socketpair to the store.  It never touches the
 * database.  Records go to the store without blocking the loop: what the
 * socket does not take waits in a bounded queue; past the bound records
 * are dropped and counted.  On SIGTERM every open session is closed and
 * recorded, the queue is flushed, and the process exits.
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tarpit.h"
#include "sensor.h"

#define DROP_LOG_US	(10 * 1000000)	/* at most one drop warning per 10 s */
#define IPC_SNDBUF	(4 * 1024 * 1024)

static void	 tarpit_signal(evutil_socket_t, short, void *);
static void	 tarpit_ipc_read(evutil_socket_t, short, void *);
static void	 tarpit_ipc_write(evutil_socket_t, short, void *);
static int	 tarpit_enqueue(struct tarpit *, const uint8_t *, size_t);
static void	 tarpit_drain(struct tarpit *);
static void	 tarpit_shutdown(struct tarpit *);
static void	 tarpit_reload(void *, const uint8_t *, size_t);
static void	 tarpit_stats(evutil_socket_t, short, void *);
static int	 tarpit_wait_ready(int);
static void	 tarpit_send(struct tarpit *, const uint8_t *, size_t);
static void	 tarpit_syn(void *, const struct syn_rec *);

/* What the store sends once running (common/chan.c); READY comes first. */
static const struct chan_handler tarpit_chan[] = {
	{ REC_RELOAD, tarpit_reload },
};

/* A session id: a random 32-bit run id, then a counter. */
uint64_t
tarpit_next_id(struct tarpit *tp)
{
	return tp->idbase | (tp->idseq++ & 0xffffffffu);
}

/*
 * Runs the network process until SIGTERM/SIGINT or until the store goes
 * away (or the capture fails).  sn is the sensor's capture, opened by
 * the parent, or NULL; it is freed here.  Returns the exit status.
 */
int
tarpit_run(const struct config *conf, struct listener *ls, int n, int ipc_fd,
    struct sensor *sn)
{
	struct tarpit	*tp;
	uint32_t	 rnd = 0;
	uint64_t	 seed = 0;
	int		 sz = IPC_SNDBUF, status;

	if ((tp = calloc(1, sizeof(*tp))) == NULL)
		fatal("calloc");
	tp->conf = *conf;
	tp->ls = ls;
	tp->nls = n;
	tp->ipc_fd = ipc_fd;
	tp->sensor = sn;
	LIST_INIT(&tp->sessions);
	TAILQ_INIT(&tp->queue);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)getpid() ^ (uint32_t)util_now_us();
	tp->idbase = (uint64_t)rnd << 32;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = tp->idbase ^ (uint64_t)util_now_us();
	if (recent_init(&tp->recent, conf->client_table_size, seed,
	    util_now_us()) == -1)
		log_warn("client table of %u entries: out of memory, "
		    "returning-defer has no effect", conf->client_table_size);
	signal(SIGPIPE, SIG_IGN);
	if (setsockopt(ipc_fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz,
	    sizeof(sz)) == -1)
		setsockopt(ipc_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	evutil_make_socket_nonblocking(ipc_fd);

	/*
	 * The changelist folds the delete and re-add of a session's event
	 * within one loop pass into a single epoll_ctl, or none.
	 */
	struct event_config *ec = event_config_new();
	if (ec == NULL)
		fatalx("event_config_new failed");
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	tp->base = event_base_new_with_config(ec);
	event_config_free(ec);
	if (tp->base == NULL)
		fatalx("event_base_new failed");
	tp->sig_term = evsignal_new(tp->base, SIGTERM, tarpit_signal, tp);
	tp->sig_int = evsignal_new(tp->base, SIGINT, tarpit_signal, tp);
	tp->sig_hup = evsignal_new(tp->base, SIGHUP, tarpit_signal, tp);
	tp->ipc_ev = event_new(tp->base, ipc_fd, EV_READ | EV_PERSIST,
	    tarpit_ipc_read, tp);
	tp->ipc_wev = event_new(tp->base, ipc_fd, EV_WRITE, tarpit_ipc_write, tp);
	if (tp->sig_term == NULL || tp->sig_int == NULL ||
	    tp->sig_hup == NULL || tp->ipc_ev == NULL || tp->ipc_wev == NULL)
		fatalx("event_new failed");
	evsignal_add(tp->sig_term, NULL);
	evsignal_add(tp->sig_int, NULL);
	evsignal_add(tp->sig_hup, NULL);
	event_add(tp->ipc_ev, NULL);
	if ((tp->stats_ev = event_new(tp->base, -1, EV_PERSIST, tarpit_stats,
	    tp)) == NULL)
		fatalx("event_new failed");
	event_add(tp->stats_ev, &(struct timeval){ 1, 0 });
	/*
	 * Accept nothing before the store has the database open and
	 * migrated: a reader that came too early would find no schema.
	 */
	if (tarpit_wait_ready(ipc_fd) == -1) {
		/* The store has said why, in the one line of proc.c. */
		log_debug("store process did not start, exiting");
		tp->status = EXIT_RUNTIME;
	} else
		listen_start(tp, ls, n);
	if (tp->status == 0 && sn != NULL && sensor_start(sn, tp->base, tarpit_syn, tp) == -1)
		fatalx("sensor cannot join the event loop");

	sigprocmask(SIG_SETMASK, &(sigset_t){ 0 }, NULL);
	if (tp->status == 0)
		event_base_dispatch(tp->base);

	/*
	 * After a signal everything is closed already; when the store went
	 * away, end what is still open (its records are lost).  Then stop
	 * every source of new events, so that the last pass below only runs
	 * the deferred frees and ends.
	 */
	tp->stopping = 1;
	listen_stop(tp);
	while (!LIST_EMPTY(&tp->sessions))
		session_close(LIST_FIRST(&tp->sessions), CLOSE_SHUTDOWN);
	event_del(tp->ipc_ev);
	event_del(tp->ipc_wev);
	event_del(tp->stats_ev);
	sensor_free(tp->sensor);
	tp->sensor = NULL;
	event_base_loop(tp->base, EVLOOP_NONBLOCK);
	log_info("network stopping accepted=%llu recorded=%llu dropped=%llu",
	    (unsigned long long)tp->st.conn_total,
	    (unsigned long long)tp->st.records_sent,
	    (unsigned long long)tp->st.records_dropped);
	event_free(tp->sig_term);
	event_free(tp->sig_int);
	event_free(tp->sig_hup);
	event_free(tp->ipc_ev);
	event_free(tp->stats_ev);
	clients_free(&tp->clients);
	recent_free(&tp->recent);
	sensor_free(tp->sensor);
	event_free(tp->ipc_wev);
	if (tp->resume_ev != NULL)
		event_free(tp->resume_ev);
	event_base_free(tp->base);
	while (!TAILQ_EMPTY(&tp->queue)) {
		struct qrec *q = TAILQ_FIRST(&tp->queue);
		TAILQ_REMOVE(&tp->queue, q, entry);
		free(q);
	}
	status = tp->status;
	free(tp);
	free(ls);
	close(ipc_fd);
	return status;
}

static void
tarpit_signal(evutil_socket_t sig, short what, void *arg)
{
	struct tarpit *tp = arg;

	(void)what;
	if (sig == SIGHUP)
		return;		/* the store process reloads and tells us */
	log_info("network received signal=%d, stopping", (int)sig);
	tarpit_shutdown(tp);
}

/*
 * Stops accepting, closes and records every open session, then sends
 * everything still queued, blocking (with a bound) since the loop is
 * about to end anyway.
 */
static void
tarpit_shutdown(struct tarpit *tp)
{
	struct timeval	 tv = { 5, 0 };
	int		 fl;

	if (tp->stopping)
		return;
	tp->stopping = 1;
	listen_stop(tp);
	event_del(tp->stats_ev);
	while (!LIST_EMPTY(&tp->sessions))
		session_close(LIST_FIRST(&tp->sessions), CLOSE_SHUTDOWN);
	fl = fcntl(tp->ipc_fd, F_GETFL);
	fcntl(tp->ipc_fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(tp->ipc_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	tarpit_drain(tp);
	if (!TAILQ_EMPTY(&tp->queue)) {
		log_error("store did not take %u queued records", tp->qlen);
		tp->status = EXIT_RUNTIME;
	} else {
		/* Tells the store this EOF is a requested stop. */
		uint8_t bye[16];
		send(tp->ipc_fd, bye, chan_encode_empty(REC_BYE, bye,
		    sizeof(bye)), MSG_NOSIGNAL);
	}
	shutdown(tp->ipc_fd, SHUT_WR);
	event_base_loopbreak(tp->base);
}

/*
 * Hands a finished session's record to the store, or queues it.  Never
 * blocks; counts what it has to drop.
 */
void
tarpit_emit(struct tarpit *tp, const struct sess_rec *rec)
{
	uint8_t	 buf[MAX_RECORD];
	size_t	 len;

	if ((len = record_encode_session(rec, buf, sizeof(buf))) == 0) {
		log_error("session=%s record does not fit", rec->uid);
		tp->st.records_dropped++;
		return;
	}
	tarpit_send(tp, buf, len);
}

/*
 * The sensor's callback: a SYN to a watched address goes to the store
 * like a session record; NULL means the capture failed (the interface
 * went away), which stops the process with status 1 so that the
 * service manager restarts it.
 */
static void
tarpit_syn(void *arg, const struct syn_rec *r)
{
	struct tarpit	*tp = arg;
	uint8_t		 buf[SYNREC_MAX];
	size_t		 len;

	if (r == NULL) {
		tarpit_shutdown(tp);
		tp->status = EXIT_RUNTIME;
		return;
	}
	if (tp->stopping)
		return;
	if (r->role == ROLE_REAL)
		recent_real(&tp->recent, recent_key_raw(r->s.ver, r->s.src));
	if ((len = synrec_encode(r, buf, sizeof(buf))) == 0) {
		log_error("sensor record does not fit");
		tp->st.records_dropped++;
		return;
	}
	tarpit_send(tp, buf, len);
}

/* Sends one record to the store now, or queues it; never blocks. */
static void
tarpit_send(struct tarpit *tp, const uint8_t *buf, size_t len)
{
	ssize_t	 n;

	if (TAILQ_EMPTY(&tp->queue)) {
		n = send(tp->ipc_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == (ssize_t)len) {
			tp->st.records_sent++;
			return;
		}
		if (n == -1 && errno != EAGAIN && errno != ENOBUFS &&
		    errno != EINTR) {
			if (tp->status == 0)
				log_error("store process gone: %s, exiting",
				    strerror(errno));
			tp->st.records_dropped++;
			tp->status = EXIT_RUNTIME;
			event_base_loopbreak(tp->base);
			return;
		}
	}
	tarpit_enqueue(tp, buf, len);
}

static int
tarpit_enqueue(struct tarpit *tp, const uint8_t *buf, size_t len)
{
	struct qrec	*q;
	int64_t		 now;

	if (tp->qlen >= tp->conf.queue_size ||
	    (q = malloc(sizeof(*q) + len)) == NULL) {
		tp->st.records_dropped++;
		now = util_now_us();
		if (now - tp->last_drop_log >= DROP_LOG_US) {
			log_warn("store queue full, records dropped=%llu "
			    "queue=%u", (unsigned long long)tp->st.records_dropped,
			    tp->qlen);
			tp->last_drop_log = now;
		}
		return -1;
	}
	q->len = len;
	memcpy(q->data, buf, len);
	TAILQ_INSERT_TAIL(&tp->queue, q, entry);
	tp->qlen++;
	if (!tp->stopping)
		event_add(tp->ipc_wev, NULL);
	return 0;
}

/* Sends queued records until the socket is full. */
static void
tarpit_drain(struct tarpit *tp)
{
	struct qrec	*q;
	ssize_t		 n;

	while ((q = TAILQ_FIRST(&tp->queue)) != NULL) {
		n = send(tp->ipc_fd, q->data, q->len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != ENOBUFS) {
				log_error("store process gone: %s",
				    strerror(errno));
				tp->status = EXIT_RUNTIME;
				event_base_loopbreak(tp->base);
			}
			return;
		}
		TAILQ_REMOVE(&tp->queue, q, entry);
		tp->qlen--;
		tp->st.records_sent++;
		free(q);
	}
}

static void
tarpit_ipc_write(evutil_socket_t fd, short what, void *arg)
{
	struct tarpit *tp = arg;

	(void)fd;
	(void)what;
	tarpit_drain(tp);
	if (!TAILQ_EMPTY(&tp->queue) && !tp->stopping)
		event_add(tp->ipc_wev, NULL);
}

/* Messages from the store: a new configuration, or EOF when it died. */
static void
tarpit_ipc_read(evutil_socket_t fd, short what, void *arg)
{
	struct tarpit	*tp = arg;
	static uint8_t	 buf[MAX_RECORD + 1];
	ssize_t		 n;

	(void)what;
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (!tp->stopping) {
			log_error("store process closed the channel, exiting");
			tp->status = EXIT_RUNTIME;
			tp->stopping = 1;
			event_base_loopbreak(tp->base);
		}
		return;
	}
	if (chan_dispatch(tarpit_chan, sizeof(tarpit_chan) /
	    sizeof(tarpit_chan[0]), tp, buf, (size_t)n) == -1)
		log_warn("store sent a message of unknown type, ignored");
}

/*
 * Blocks until the store says it is ready (REC_READY).  Returns 0, or -1
 * when the store closed the channel instead.
 */
static int
tarpit_wait_ready(int fd)
{
	uint8_t		 buf[16];
	ssize_t		 n;
	const char	*why;
	int		 fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n == -1 && errno == EINTR);
	fcntl(fd, F_SETFL, fl);
	return n > 0 && chan_decode_empty(buf, (size_t)n, REC_READY,
	    &why) == 0 ? 0 : -1;
}

/*
 * Sends the counters to the store once a second, for its metrics.  Best
 * effort: when the socket is full the next tick sends newer figures.
 */
static void
tarpit_stats(evutil_socket_t fd, short what, void *arg)
{
	struct tarpit	*tp = arg;
	static uint8_t	 buf[MAX_RECORD];
	size_t		 len;

	(void)fd;
	(void)what;
	tp->st.queue_depth = tp->qlen;
	if (tp->sensor != NULL) {
		struct sensor_stats ss;

		sensor_stats(tp->sensor, &ss);
		tp->st.sensor_on = 1;
		tp->st.sensor_received = ss.received;
		tp->st.sensor_dropped = ss.dropped;
		tp->st.sensor_syns = ss.syns;
		tp->st.sensor_retransmits = ss.retransmits;
		tp->st.sensor_bad = ss.bad;
	}
	tp->st.clients_tracked = tp->recent.used;
	tp->st.clients_evicted = tp->recent.evicted;
	tp->st.clients_real_seen = tp->recent.real_seen;
	tp->st.returning_paired = tp->recent.paired;
	if ((len = chan_encode_stats(&tp->st, buf, sizeof(buf))) > 0)
		send(tp->ipc_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Takes the settings that can change without rebinding from a reloaded
 * configuration.  Sessions read tp->conf, so open ones follow the new
 * timeouts, delays and replies from their next step on.
 */
static void
tarpit_reload(void *arg, const uint8_t *msg, size_t len)
{
	struct tarpit	*tp = arg;
	struct config	 nc = tp->conf;
	const char	*why;

	/* Only the settings of REC_RELOAD change; listeners etc. stay. */
	if (chan_decode_reload(msg, len, &nc, &why) == -1) {
		log_warn("reload message rejected: %s", why);
		return;
	}
	if (nc.client_table_size != tp->conf.client_table_size &&
	    recent_resize(&tp->recent, nc.client_table_size, util_now_us(),
	    nc.returning_window_ms) == -1) {
		log_warn("reload: client table of %u entries: out of memory, "
		    "keeping %u", nc.client_table_size,
		    tp->conf.client_table_size);
		nc.client_table_size = tp->conf.client_table_size;
	}
	tp->conf = nc;
	log_setlevel(nc.log_level);
	log_info("network reloaded hostname=%s defer-stage=%d defer-code=%u",
	    nc.hostname, (int)nc.defer_stage, nc.defer_code);
}
