/*
 * metrics.c -- the optional metrics listener of the store process:
 * Prometheus text format at /metrics.  The network process sends its
 * counters once a second (REC_STATS); the store adds its own (batches,
 * pending, drops).  Off unless "metrics ADDR:PORT" is configured; the
 * socket is bound by the parent before privileges are dropped.
 *
 * The HTTP side is a minimal HTTP/1.0-style responder, one bounded
 * request per connection then close: at most METRICS_MAX_CONN
 * connections (accepting waits while that many are open), each with
 * METRICS_TIMEOUT_S to send its request head of at most
 * METRICS_MAX_HEAD bytes.  Out of descriptors pauses accepting for a
 * second instead of retrying at once, and the listener's warnings (and
 * libevent's own) are logged at most once per METRICS_LOG_EVERY_S.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "store.h"

#define METRICS_MAX_CONN	32
#define METRICS_MAX_HEAD	8192
#define METRICS_TIMEOUT_S	10
#define METRICS_PAUSE_MS	1000
#define METRICS_LOG_EVERY_S	60

struct metrics {
	struct event_base	*base;
	struct evconnlistener	*lev;
	struct event		*resume;	/* after out of descriptors */
	const struct batch	*batch;
	struct net_stats	 net;
	int			 have_net;
	struct bufferevent	*conn[METRICS_MAX_CONN];	/* open */
	int			 nconn;
	int			 paused;	/* out of descriptors */
	uint64_t		 accept_paused;	/* times, for the tests/log */
};

/* Rate limit of one kind of warning line. */
struct metrics_ratelimit {
	int64_t		 last_us;
	uint64_t	 suppressed;
};

static void	 metrics_render(struct metrics *, struct evbuffer *);
static void	 metrics_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 metrics_accept_error(struct evconnlistener *, void *);
static void	 metrics_resume(evutil_socket_t, short, void *);
static void	 metrics_read(struct bufferevent *, void *);
static void	 metrics_written(struct bufferevent *, void *);
static void	 metrics_event(struct bufferevent *, short, void *);
static void	 metrics_close(struct metrics *, struct bufferevent *);
static void	 metrics_reply(struct metrics *, struct bufferevent *, int,
		    const char *, struct evbuffer *, int);
static void	 metrics_warn(struct metrics_ratelimit *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 metrics_libevent_log(int, const char *);

static struct metrics_ratelimit metrics_rl_accept, metrics_rl_libevent;

/*
 * Logs a warning unless one of the same kind went out less than
 * METRICS_LOG_EVERY_S ago; the next one that goes out says how many
 * were left out.
 */
static void
metrics_warn(struct metrics_ratelimit *rl, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;
	int64_t	 now = util_now_us();

	if (rl->last_us != 0 &&
	    now - rl->last_us < (int64_t)METRICS_LOG_EVERY_S * 1000000) {
		rl->suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rl->suppressed > 0)
		log_warn("%s suppressed=%llu", line,
		    (unsigned long long)rl->suppressed);
	else
		log_warn("%s", line);
	rl->last_us = now;
	rl->suppressed = 0;
}

/* libevent's own messages in the store: rate-limited, never a flood. */
static void
metrics_libevent_log(int severity, const char *msg)
{
	if (severity < EVENT_LOG_WARN)
		return;
	metrics_warn(&metrics_rl_libevent, "libevent: %s", msg);
}

/*
 * Serves /metrics on the already bound and listening fd (which stays
 * the caller's to close).  Returns the handle (caller frees with
 * metrics_free), or NULL.
 */
struct metrics *
metrics_new(struct event_base *base, int fd, const struct batch *b)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->base = base;
	m->batch = b;
	event_set_log_callback(metrics_libevent_log);
	if ((m->resume = evtimer_new(base, metrics_resume, m)) == NULL ||
	    (m->lev = evconnlistener_new(base, metrics_accept, m, 0, 0,
	    fd)) == NULL) {
		metrics_free(m);
		return NULL;
	}
	evconnlistener_set_error_cb(m->lev, metrics_accept_error);
	return m;
}

/* Frees the listener and cuts the open scrapes. */
void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < METRICS_MAX_CONN; i++)
		if (m->conn[i] != NULL)
			bufferevent_free(m->conn[i]);
	if (m->lev != NULL)
		evconnlistener_free(m->lev);
	if (m->resume != NULL)
		event_free(m->resume);
	free(m);
}

/* One connection more; accepting waits while METRICS_MAX_CONN are open. */
static void
metrics_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct metrics		*m = arg;
	struct bufferevent	*bev;
	struct timeval		 tv = { METRICS_TIMEOUT_S, 0 };
	int			 slot = 0;

	(void)sa;
	(void)salen;
	while (slot < METRICS_MAX_CONN && m->conn[slot] != NULL)
		slot++;
	if (slot == METRICS_MAX_CONN || (bev = bufferevent_socket_new(m->base,
	    fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);	/* cannot happen: accepting waits at the cap */
		return;
	}
	m->conn[slot] = bev;
	m->nconn++;
	if (m->nconn >= METRICS_MAX_CONN)
		evconnlistener_disable(lev);
	bufferevent_setcb(bev, metrics_read, NULL, metrics_event, m);
	bufferevent_setwatermark(bev, EV_READ, 0, METRICS_MAX_HEAD + 1);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

/*
 * accept() failed for another reason than a retriable one.  Out of
 * descriptors or memory pauses accepting for METRICS_PAUSE_MS: the
 * pending connection would otherwise wake the loop at once, for ever.
 */
static void
metrics_accept_error(struct evconnlistener *lev, void *arg)
{
	struct metrics	*m = arg;
	struct timeval	 tv = { METRICS_PAUSE_MS / 1000,
	    (METRICS_PAUSE_MS % 1000) * 1000 };
	int		 err = EVUTIL_SOCKET_ERROR();

	evconnlistener_disable(lev);
	m->paused = 1;
	m->accept_paused++;
	evtimer_add(m->resume, &tv);
	metrics_warn(&metrics_rl_accept, "metrics accept paused for %dms: %s "
	    "open=%d", METRICS_PAUSE_MS, strerror(err), m->nconn);
}

static void
metrics_resume(evutil_socket_t fd, short what, void *arg)
{
	struct metrics	*m = arg;

	(void)fd;
	(void)what;
	m->paused = 0;
	if (m->nconn < METRICS_MAX_CONN)
		evconnlistener_enable(m->lev);
}

/* Ends a connection and lets accepting go on when it waited for it. */
static void
metrics_close(struct metrics *m, struct bufferevent *bev)
{
	for (int i = 0; i < METRICS_MAX_CONN; i++)
		if (m->conn[i] == bev)
			m->conn[i] = NULL;
	bufferevent_free(bev);
	if (m->nconn-- == METRICS_MAX_CONN && !m->paused)
		evconnlistener_enable(m->lev);
}

static void
metrics_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	metrics_close(arg, bev);
}

static void
metrics_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		metrics_close(arg, bev);
}

/* Queues a complete response; the connection closes once it is sent. */
static void
metrics_reply(struct metrics *m, struct bufferevent *bev, int code,
    const char *reason, struct evbuffer *body, int head_only)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	size_t		 len = body != NULL ? evbuffer_get_length(body) : 0;

	bufferevent_disable(bev, EV_READ);
	evbuffer_add_printf(out, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", code, reason,
	    code == 200 ? "text/plain; version=0.0.4" : "text/plain", len);
	if (body != NULL && !head_only)
		evbuffer_add_buffer(out, body);
	bufferevent_setcb(bev, NULL, metrics_written, metrics_event, m);
}

/*
 * Waits for the request head (up to an empty line, METRICS_MAX_HEAD
 * bytes at most) and answers it: GET or HEAD of /metrics (a query is
 * ignored), 404 for another path, 405 for another method.
 */
static void
metrics_read(struct bufferevent *bev, void *arg)
{
	struct metrics		*m = arg;
	struct evbuffer		*in = bufferevent_get_input(bev), *body;
	struct evbuffer_ptr	 end;
	char			 line[256], *sp, *path, *q;
	size_t			 n;
	int			 head;

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos == -1)
		end = evbuffer_search(in, "\n\n", 2, NULL);
	if (end.pos == -1) {
		if (evbuffer_get_length(in) > METRICS_MAX_HEAD) {
			metrics_reply(m, bev, 431, "Request Header Fields Too "
			    "Large", NULL, 0);
		}
		return;
	}
	n = evbuffer_copyout(in, line, sizeof(line) - 1);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	head = strncmp(line, "HEAD ", 5) == 0;
	if (strncmp(line, "GET ", 4) != 0 && !head) {
		metrics_reply(m, bev, 405, "Method Not Allowed", NULL, 0);
		return;
	}
	path = line + (head ? 5 : 4);
	if ((sp = strchr(path, ' ')) != NULL)
		*sp = '\0';
	if ((q = strchr(path, '?')) != NULL)
		*q = '\0';
	if (strcmp(path, "/metrics") != 0) {
		if ((body = evbuffer_new()) != NULL)
			evbuffer_add_printf(body, "try /metrics\n");
		metrics_reply(m, bev, 404, "Not Found", body, head);
		if (body != NULL)
			evbuffer_free(body);
	} else if ((body = evbuffer_new()) == NULL)
		metrics_reply(m, bev, 500, "Internal Server Error", NULL, 0);
	else {
		metrics_render(m, body);
		metrics_reply(m, bev, 200, "OK", body, head);
		evbuffer_free(body);
	}
}

/* Takes a REC_STATS message from the network process. */
void
metrics_net(struct metrics *m, const uint8_t *rec, size_t len)
{
	if (m == NULL || len != 2 + sizeof(m->net))
		return;
	memcpy(&m->net, rec + 2, sizeof(m->net));
	m->have_net = 1;
}

static void
metric(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One sample per row: a uint64_t at off in the stats struct. */
struct metric_row {
	const char	*name;
	const char	*type;
	const char	*help;
	size_t		 off;
};

static const struct metric_row net_rows[] = {
	{ "decoymx_connections_open", "gauge", "SMTP connections open",
	    offsetof(struct net_stats, conn_open) },
	{ "decoymx_connections_total", "counter", "SMTP connections accepted",
	    offsetof(struct net_stats, conn_total) },
	{ "decoymx_tarpitted_open", "gauge",
	    "connections held in the tarpit now",
	    offsetof(struct net_stats, tarpit_open) },
	{ "decoymx_tarpitted_total", "counter",
	    "connections that were tarpitted",
	    offsetof(struct net_stats, tarpit_total) },
	{ "decoymx_refused_per_client_total", "counter",
	    "connections refused by max-per-client",
	    offsetof(struct net_stats, refused_per_client) },
	{ "decoymx_accept_paused_total", "counter",
	    "times accepting paused (max-clients or out of descriptors)",
	    offsetof(struct net_stats, accept_paused) },
	{ "decoymx_queue_depth", "gauge",
	    "records waiting in the network process for the store",
	    offsetof(struct net_stats, queue_depth) },
};

static const struct metric_row store_rows[] = {
	{ "decoymx_store_sessions_total", "counter",
	    "sessions committed to the database",
	    offsetof(struct batch_stats, sessions) },
	{ "decoymx_store_batches_total", "counter", "transactions committed",
	    offsetof(struct batch_stats, batches) },
	{ "decoymx_store_invalid_total", "counter",
	    "records refused by validation",
	    offsetof(struct batch_stats, invalid) },
	{ "decoymx_store_failures_total", "counter",
	    "failed commits (retried)",
	    offsetof(struct batch_stats, failures) },
};

static const struct metric_row sensor_rows[] = {
	{ "decoymx_sensor_received_total", "counter",
	    "packets the capture received (pcap_stats)",
	    offsetof(struct net_stats, sensor_received) },
	{ "decoymx_sensor_dropped_total", "counter",
	    "packets the kernel dropped (pcap_stats)",
	    offsetof(struct net_stats, sensor_dropped) },
	{ "decoymx_sensor_syns_total", "counter", "first SYNs recorded",
	    offsetof(struct net_stats, sensor_syns) },
	{ "decoymx_sensor_retransmits_total", "counter",
	    "retransmitted SYNs counted",
	    offsetof(struct net_stats, sensor_retransmits) },
	{ "decoymx_sensor_bad_total", "counter", "malformed packets",
	    offsetof(struct net_stats, sensor_bad) },
};

static void
metrics_scalars(struct evbuffer *b, const struct metric_row *rows, size_t n,
    const void *stats)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, (const char *)stats + rows[i].off, sizeof(v));
		metric(b, rows[i].name, rows[i].type, rows[i].help);
		evbuffer_add_printf(b, "%s %llu\n", rows[i].name,
		    (unsigned long long)v);
	}
}

/* The whole /metrics page into b. */
static void
metrics_render(struct metrics *m, struct evbuffer *b)
{
	const struct net_stats		*n = &m->net;
	const struct batch_stats	*bs = batch_stats(m->batch);

	metrics_scalars(b, net_rows, sizeof(net_rows) / sizeof(net_rows[0]), n);

	metric(b, "decoymx_sessions_total", "counter",
	    "finished sessions by furthest stage reached");
	for (int i = 0; i < STAGE_MAX; i++)
		evbuffer_add_printf(b, "decoymx_sessions_total{stage=\"%s\"} "
		    "%llu\n", stage_name(i), (unsigned long long)n->stage[i]);
	metric(b, "decoymx_sessions_closed_total", "counter",
	    "finished sessions by close reason");
	for (int i = 0; i < CLOSE_MAX; i++)
		evbuffer_add_printf(b, "decoymx_sessions_closed_total"
		    "{reason=\"%s\"} %llu\n", close_reason_name(i),
		    (unsigned long long)n->reason[i]);
	metric(b, "decoymx_anomalies_total", "counter",
	    "finished sessions showing each protocol anomaly");
	for (int i = 0; i < ANOM_COUNT; i++)
		evbuffer_add_printf(b, "decoymx_anomalies_total{kind=\"%s\"} "
		    "%llu\n", anomaly_name(i),
		    (unsigned long long)n->anomaly[i]);
	metric(b, "decoymx_replies_total", "counter", "SMTP replies by code");
	for (int i = 0; i < STATS_CODES; i++)
		if (n->reply[i] != 0)
			evbuffer_add_printf(b, "decoymx_replies_total"
			    "{code=\"%d\"} %llu\n", i,
			    (unsigned long long)n->reply[i]);

	metric(b, "decoymx_records_dropped_total", "counter",
	    "session records dropped because a queue was full");
	evbuffer_add_printf(b, "decoymx_records_dropped_total"
	    "{where=\"network\"} %llu\n",
	    (unsigned long long)n->records_dropped);
	evbuffer_add_printf(b, "decoymx_records_dropped_total"
	    "{where=\"store\"} %llu\n", (unsigned long long)bs->dropped);
	metrics_scalars(b, store_rows, sizeof(store_rows) /
	    sizeof(store_rows[0]), bs);
	metric(b, "decoymx_store_pending", "gauge",
	    "records received and not yet committed");
	evbuffer_add_printf(b, "decoymx_store_pending %u\n",
	    batch_pending(m->batch));

	if (n->sensor_on)	/* the sensor's counters, when it captures */
		metrics_scalars(b, sensor_rows, sizeof(sensor_rows) /
		    sizeof(sensor_rows[0]), n);

	metric(b, "decoymx_metrics_accept_paused_total", "counter",
	    "times the metrics listener paused accepting (out of descriptors)");
	evbuffer_add_printf(b, "decoymx_metrics_accept_paused_total %llu\n",
	    (unsigned long long)m->accept_paused);
}
