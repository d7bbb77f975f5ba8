/* SPDX-License-Identifier: ISC */
/*
 * metrics.c -- the optional metrics listener of the store process:
 * Prometheus text format at /metrics.  The network process sends its
 * counters once a second (REC_STATS); the store adds its own (batches,
 * pending, drops), the sessions per decoy and role (live from the
 * network process, and in the database), and the outcome of each
 * periodic export.  Off unless "metrics ADDR:PORT" is configured; the
 * socket is bound by the parent before privileges are dropped.
 *
 * The HTTP side is a minimal HTTP/1.0-style responder, one bounded
 * request per connection then close: at most METRICS_MAX_CONN
 * connections (accepting waits while that many are open), each with
 * METRICS_TIMEOUT_S to send its request head of at most
 * METRICS_MAX_HEAD bytes.  Out of descriptors pauses accepting for a
 * second instead of retrying at once, and the listener's warnings (and
 * libevent's own) are logged at most once per METRICS_LOG_EVERY_S.
 *
 * Label values that are not our own names (decoy addresses, export
 * paths) go through metrics_label(), the exposition format's escaping.
 */
#include <errno.h>
#include <pcap.h>
#include <sqlite3.h>
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

/* The latest run of one configured export (metrics_export). */
struct metrics_export {
	char		 format[16];
	char		 path[256];
	int		 runs;			/* 0: never ran */
	int64_t		 last_ok_us;		/* 0: never succeeded */
	int64_t		 duration_us, entries;
	uint64_t	 failures;
};

struct metrics {
	struct event_base	*base;
	struct evconnlistener	*lev;
	struct event		*resume;	/* after out of descriptors */
	const struct batch	*batch;
	struct store		*st;		/* per-decoy counts, or NULL */
	const struct config	*conf;		/* the listeners, or NULL */
	struct metrics_export	 exports[MAX_EXPORTS];
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
static void	 metrics_label(struct evbuffer *, const char *);
static void	 metrics_decoys(struct metrics *, struct evbuffer *);
static void	 metrics_listeners(struct metrics *, struct evbuffer *);
static void	 metrics_exports(struct metrics *, struct evbuffer *);
static void	 metrics_build(struct evbuffer *);
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

/*
 * The store whose counts table gives the sessions per decoy, and the
 * configuration whose listeners name the network process's per-listener
 * counters (both kept by reference).
 */
void
metrics_set_store(struct metrics *m, struct store *st,
    const struct config *c)
{
	if (m == NULL)
		return;
	m->st = st;
	m->conf = c;
}

/*
 * Records the outcome of configured export i (conf->exports[i]): ok,
 * how long it took and how many entries it wrote.  NULL m: no metrics.
 */
void
metrics_export(struct metrics *m, int i, const char *format,
    const char *path, int ok, int64_t duration_us, int64_t entries)
{
	struct metrics_export	*x;

	if (m == NULL || i < 0 || i >= MAX_EXPORTS)
		return;
	x = &m->exports[i];
	strlcpy_(x->format, format, sizeof(x->format));
	strlcpy_(x->path, path, sizeof(x->path));
	x->runs++;
	x->duration_us = duration_us;
	if (ok) {
		x->last_ok_us = util_now_us();
		x->entries = entries;
	} else
		x->failures++;
}

/*
 * Takes a REC_STATS message from the network process, every counter
 * checked (chan_decode_stats()); a bad message is dropped, the figures
 * of the last good one stay.
 */
void
metrics_net(struct metrics *m, const uint8_t *rec, size_t len)
{
	static int	 warned;
	struct net_stats ns;
	const char	*why;

	if (m == NULL)
		return;
	if (chan_decode_stats(rec, len, &ns, &why) == -1) {
		if (!warned)
			log_warn("store: bad stats message from the network "
			    "process: %s", why);
		warned = 1;
		return;
	}
	m->net = ns;
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
	{ "decoymx_returning_deferred_total", "counter",
	    "returning clients reset or answered 421 at the greeting",
	    offsetof(struct net_stats, returning_deferred) },
	{ "decoymx_returning_paired_total", "counter",
	    "IPv4 first contacts sent on after an IPv6 client's return",
	    offsetof(struct net_stats, returning_paired) },
	{ "decoymx_client_table_entries", "gauge",
	    "slots of the returning-client table in use",
	    offsetof(struct net_stats, clients_tracked) },
	{ "decoymx_client_table_evictions_total", "counter",
	    "live returning-client entries pushed out by new clients",
	    offsetof(struct net_stats, clients_evicted) },
	{ "decoymx_client_table_real_mx_total", "counter",
	    "tracked clients the sensor saw at the real MX",
	    offsetof(struct net_stats, clients_real_seen) },
	{ "decoymx_ignored_total", "counter",
	    "sessions of ignored clients, deferred at once",
	    offsetof(struct net_stats, ignored) },
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
	metric(b, "decoymx_proxy_headers_total", "counter",
	    "PROXY protocol headers on proxy listeners, by result");
	for (int i = 0; i < PROXY_RESULTS; i++)
		evbuffer_add_printf(b, "decoymx_proxy_headers_total"
		    "{result=\"%s\"} %llu\n", proxy_result_name(i),
		    (unsigned long long)n->proxy[i]);
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

	metrics_listeners(m, b);
	metrics_decoys(m, b);
	metrics_exports(m, b);
	metrics_build(b);

	metric(b, "decoymx_metrics_accept_paused_total", "counter",
	    "times the metrics listener paused accepting (out of descriptors)");
	evbuffer_add_printf(b, "decoymx_metrics_accept_paused_total %llu\n",
	    (unsigned long long)m->accept_paused);
}

/*
 * Writes s as a label value between the quotes: backslash, double
 * quote and newline escaped as the text format wants; other control
 * bytes, which it does not forbid but no reader expects, as '?'.
 */
static void
metrics_label(struct evbuffer *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(b, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			evbuffer_add(b, "?", 1);
		else
			evbuffer_add(b, s, 1);
	}
}

/*
 * The network process's closed sessions per listener and stage, named
 * by the listener's address, port and role.
 */
static void
metrics_listeners(struct metrics *m, struct evbuffer *b)
{
	const struct config	*c = m->conf;
	char			 ip[ADDR_STRLEN];
	uint16_t		 port;

	if (c == NULL || !m->have_net || c->nlisten == 0)
		return;
	metric(b, "decoymx_decoy_sessions_total", "counter",
	    "finished sessions by decoy address, port, role and stage");
	for (int i = 0; i < c->nlisten && i < MAX_LISTEN; i++) {
		util_addr_str((const struct sockaddr *)&c->listen[i].ss, ip,
		    sizeof(ip), &port);
		for (int k = 0; k < STAGE_MAX; k++) {
			evbuffer_add_printf(b, "decoymx_decoy_sessions_total"
			    "{decoy=\"");
			metrics_label(b, ip);
			evbuffer_add_printf(b, "\",port=\"%u\",role=\"%s\","
			    "stage=\"%s\"} %llu\n", port, role_name(config_role(c,
			    c->listen[i].mx_pref)), stage_name(k),
			    (unsigned long long)m->net.listener[i][k]);
		}
	}
}

/*
 * Sessions in the database per decoy address and role, from the counts
 * the store keeps as it writes (so they survive a restart; a merge adds
 * other decoys' sessions).
 */
static void
metrics_decoys(struct metrics *m, struct evbuffer *b)
{
	sqlite3_stmt	*q;

	if (m->st == NULL || sqlite3_prepare_v2(store_db(m->st),
	    "SELECT key, coalesce(label, ''), sessions FROM counts"
	    " WHERE dim = 'decoy' ORDER BY key", -1, &q, NULL) != SQLITE_OK)
		return;
	metric(b, "decoymx_db_sessions", "gauge",
	    "sessions in the database by decoy address and role");
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(q, 0);
		const char *r = (const char *)sqlite3_column_text(q, 1);

		evbuffer_add_printf(b, "decoymx_db_sessions{decoy=\"");
		metrics_label(b, k != NULL ? k : "");
		evbuffer_add_printf(b, "\",role=\"");
		metrics_label(b, r != NULL ? r : "");
		evbuffer_add_printf(b, "\"} %lld\n",
		    (long long)sqlite3_column_int64(q, 2));
	}
	sqlite3_finalize(q);
}

/* One export's labels: {export="i",format="...",path="..."}. */
static void
metrics_export_labels(struct evbuffer *b, int i,
    const struct metrics_export *x)
{
	evbuffer_add_printf(b, "{export=\"%d\",format=\"", i);
	metrics_label(b, x->format);
	evbuffer_add_printf(b, "\",path=\"");
	metrics_label(b, x->path);
	evbuffer_add_printf(b, "\"}");
}

/* The outcome of each configured export that ran at least once. */
static void
metrics_exports(struct metrics *m, struct evbuffer *b)
{
	static const struct {
		const char	*name, *type, *help;
	} fam[] = {
		{ "decoymx_export_last_success_timestamp_seconds", "gauge",
		    "when the export last succeeded (0: never)" },
		{ "decoymx_export_entries", "gauge",
		    "entries written by the last successful run" },
		{ "decoymx_export_duration_seconds", "gauge",
		    "how long the last run took" },
		{ "decoymx_export_runs_total", "counter", "runs of the export" },
		{ "decoymx_export_failures_total", "counter",
		    "runs of the export that failed" },
	};
	int	 any = 0;

	for (int i = 0; i < MAX_EXPORTS; i++)
		any |= m->exports[i].runs > 0;
	if (!any)
		return;
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		metric(b, fam[f].name, fam[f].type, fam[f].help);
		for (int i = 0; i < MAX_EXPORTS; i++) {
			const struct metrics_export *x = &m->exports[i];

			if (x->runs == 0)
				continue;
			evbuffer_add_printf(b, "%s", fam[f].name);
			metrics_export_labels(b, i, x);
			if (f == 0)
				evbuffer_add_printf(b, " %.3f\n",
				    (double)x->last_ok_us / 1e6);
			else if (f == 1)
				evbuffer_add_printf(b, " %lld\n",
				    (long long)x->entries);
			else if (f == 2)
				evbuffer_add_printf(b, " %.6f\n",
				    (double)x->duration_us / 1e6);
			else if (f == 3)
				evbuffer_add_printf(b, " %d\n", x->runs);
			else
				evbuffer_add_printf(b, " %llu\n",
				    (unsigned long long)x->failures);
		}
	}
}

/* decoymx_build_info: the version and the libraries', value 1. */
static void
metrics_build(struct evbuffer *b)
{
	metric(b, "decoymx_build_info", "gauge",
	    "the version of decoymx and of its libraries");
	evbuffer_add_printf(b, "decoymx_build_info{version=\"");
	metrics_label(b, DECOYMX_VERSION);
	evbuffer_add_printf(b, "\",libevent=\"");
	metrics_label(b, event_get_version());
	evbuffer_add_printf(b, "\",sqlite=\"");
	metrics_label(b, sqlite3_libversion());
	evbuffer_add_printf(b, "\",libpcap=\"");
	metrics_label(b, pcap_lib_version());
	evbuffer_add_printf(b, "\"} 1\n");
}
