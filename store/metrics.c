/*
 * metrics.c -- the optional metrics listener of the store process:
 * Prometheus text format at /metrics over libevent's evhttp.  The
 * network process sends its counters once a second (REC_STATS); the
 * store adds its own (batches, pending, drops).  Off unless "metrics
 * ADDR:PORT" is configured; the socket is bound by the parent before
 * privileges are dropped.
 */
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "store.h"

struct metrics {
	struct evhttp		*http;
	const struct batch	*batch;
	struct net_stats	 net;
	int			 have_net;
};

static void	 metrics_cb(struct evhttp_request *, void *);
static void	 metrics_notfound(struct evhttp_request *, void *);

/*
 * Serves /metrics on the already bound and listening fd.  Returns the
 * handle (caller frees with metrics_free), or NULL.
 */
struct metrics *
metrics_new(struct event_base *base, int fd, const struct batch *b)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->batch = b;
	if ((m->http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket(m->http, fd) == -1) {
		metrics_free(m);
		return NULL;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_cb(m->http, "/metrics", metrics_cb, m);
	evhttp_set_gencb(m->http, metrics_notfound, m);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	free(m);
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
	{ "decoymx_returning_deferred_total", "counter",
	    "returning clients answered 421 at the greeting",
	    offsetof(struct net_stats, returning_deferred) },
	{ "decoymx_client_table_entries", "gauge",
	    "slots of the returning-client table in use",
	    offsetof(struct net_stats, clients_tracked) },
	{ "decoymx_client_table_evictions_total", "counter",
	    "live returning-client entries pushed out by new clients",
	    offsetof(struct net_stats, clients_evicted) },
	{ "decoymx_client_table_real_mx_total", "counter",
	    "tracked clients the sensor saw at the real MX",
	    offsetof(struct net_stats, clients_real_seen) },
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

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct metrics			*m = arg;
	const struct net_stats		*n = &m->net;
	const struct batch_stats	*bs = batch_stats(m->batch);
	struct evbuffer			*b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
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

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void
metrics_notfound(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "try /metrics");
}
