/* SPDX-License-Identifier: ISC */
/*
 * events.c -- the JSON-lines event log for log shippers ("events-log
 * PATH"): one object a line, written by the store process once a
 * session is committed to the database, in the convention honeypot tools
 * such as Cowrie use: "eventid" ("decoymx.session.closed"), an ISO-8601
 * UTC "timestamp", "sensor", "src_ip", "session", then every field of
 * the "report sessions" JSON object with the same names and values (its
 * MAIL transactions included; what only the database knows, such as the
 * OS the sensor's SYN gave it, comes in struct events_extra), a field
 * without a value as null.  Every string from the network goes through
 * the JSON escaper.  The file is opened for append
 * and reopened on SIGHUP, so logrotate can move it away.
 *
 * Exports events_open(), events_reopen(), events_session(),
 * events_flush() and events_close().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

struct events {
	FILE	*f;
	char	*path;
	char	*sensor;
	uint64_t written, errors;
};

static FILE	*events_fopen(const char *, char *, size_t);

static FILE *
events_fopen(const char *path, char *err, size_t errlen)
{
	int	 fd;
	FILE	*f;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1 || (f = fdopen(fd, "a")) == NULL) {
		snprintf(err, errlen, "events-log %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	return f;
}

/*
 * Opens the event log for appending.  Returns the handle (caller closes
 * with events_close), or NULL with err set.
 */
struct events *
events_open(const char *path, const char *sensor, char *err, size_t errlen)
{
	struct events *ev;

	if ((ev = calloc(1, sizeof(*ev))) == NULL ||
	    (ev->path = strdup(path)) == NULL ||
	    (ev->sensor = strdup(sensor)) == NULL) {
		snprintf(err, errlen, "events-log %s: out of memory", path);
		events_close(ev);
		return NULL;
	}
	if ((ev->f = events_fopen(path, err, errlen)) == NULL) {
		events_close(ev);
		return NULL;
	}
	return ev;
}

/* Reopens the file (after rotation); keeps the old one on failure. */
int
events_reopen(struct events *ev)
{
	char	 err[512];
	FILE	*f;

	if (ev == NULL)
		return 0;
	if ((f = events_fopen(ev->path, err, sizeof(err))) == NULL) {
		log_warn("%s, keeping the open file", err);
		return -1;
	}
	fclose(ev->f);
	ev->f = f;
	log_info("events-log reopened path=%s", ev->path);
	return 0;
}

static void
events_key_str(FILE *f, const char *key, struct span s)
{
	fprintf(f, ",\"%s\":", key);
	if (s.p == NULL)
		fputs("null", f);
	else
		escape_json(f, s.p, s.len);
}

/* ,"key":N or ,"key":null when n is the "none" value. */
static void
events_key_int(FILE *f, const char *key, long long n, int null)
{
	if (null)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%lld", key, n);
}

static void
events_key_time(FILE *f, const char *key, int64_t us)
{
	char	 ts[32];

	util_iso8601(us, ts, sizeof(ts));
	fprintf(f, ",\"%s\":\"%s\"", key, ts);
}

/* The AUTH attempts: [{"mechanism":..., "user":...}]. */
static void
events_auth(FILE *f, const struct sess_rec *r)
{
	fputs(",\"auth\":[", f);
	for (uint32_t i = 0; i < r->nauth; i++) {
		fputs(i > 0 ? ",{\"mechanism\":" : "{\"mechanism\":", f);
		escape_json(f, r->auth[i].mech.p ? r->auth[i].mech.p : "",
		    r->auth[i].mech.len);
		events_key_str(f, "user", r->auth[i].user.p != NULL &&
		    r->auth[i].user.len > 0 ? r->auth[i].user :
		    (struct span){ NULL, 0 });
		putc('}', f);
	}
	putc(']', f);
}

/* The transactions, as "report sessions" prints them. */
static void
events_txns(FILE *f, const struct sess_rec *r)
{
	fprintf(f, ",\"transactions_total\":%u,\"transactions\":[",
	    r->txn_total > r->ntxn ? r->txn_total : r->ntxn);
	for (uint32_t i = 0; i < r->ntxn; i++) {
		const struct txn_rec *t = &r->txn[i];

		fputs(i > 0 ? ",{" : "{", f);
		fputs("\"mail_from\":", f);
		if (t->mail.p == NULL)
			fputs("null", f);
		else
			escape_json(f, t->mail.p, t->mail.len);
		events_key_str(f, "params", t->params);
		events_key_int(f, "reply_code", t->reply, t->reply == 0);
		fputs(",\"rcpt_to\":[", f);
		for (uint32_t j = 0; j < t->nrcpt; j++) {
			const struct txn_rcpt *rc = &r->trcpt[t->rcpt_first + j];
			if (j > 0)
				putc(',', f);
			escape_json(f, rc->path.p ? rc->path.p : "",
			    rc->path.len);
		}
		fputs("],\"rcpt_replies\":[", f);
		for (uint32_t j = 0; j < t->nrcpt; j++) {
			uint16_t code = r->trcpt[t->rcpt_first + j].reply;
			if (j > 0)
				putc(',', f);
			if (code == 0)
				fputs("null", f);
			else
				fprintf(f, "%u", code);
		}
		fprintf(f, "],\"rcpt_total\":%u,\"ended\":\"%s\"}",
		    t->rcpt_total, txn_end_name(t->ended));
	}
	putc(']', f);
}

/*
 * Writes the "decoymx.session.closed" line of a committed session: every
 * field of the "report sessions" JSON object (x holds those only the
 * database knows: id, os, os_class), a field without a value as null.
 */
void
events_session(struct events *ev, const struct sess_rec *r,
    const struct events_extra *x)
{
	const struct geo_info	*g = r->geo;
	FILE			*f;
	int			 first = 1;

	if (ev == NULL)
		return;
	f = ev->f;
	fputs("{\"eventid\":\"decoymx.session.closed\"", f);
	events_key_time(f, "timestamp", r->end_us);
	events_key_str(f, "sensor", (struct span){ ev->sensor,
	    strlen(ev->sensor) });
	fprintf(f, ",\"session\":\"%s\",\"uid\":\"%s\"", r->uid, r->uid);
	events_key_int(f, "id", x ? x->id : 0, x == NULL || x->id <= 0);
	events_key_time(f, "start", r->start_us);
	events_key_time(f, "end", r->end_us);
	fprintf(f, ",\"src_ip\":\"%s\",\"src_port\":%u,"
	    "\"dst_ip\":\"%s\",\"dst_port\":%u", r->src_ip, r->src_port,
	    r->dst_ip, r->dst_port);
	events_key_int(f, "mx_pref", r->mx_pref, r->mx_pref < 0);
	fprintf(f, ",\"role\":\"%s\",\"duration\":%.3f", role_name(r->role),
	    (double)(r->end_us - r->start_us) / 1e6);
	fprintf(f, ",\"greeting_delay_ms\":%u", r->greeting_delay_ms);
	events_key_str(f, "helo_verb", r->helo_verb);
	events_key_str(f, "helo", r->helo);
	events_key_str(f, "mail_from", r->mail_from);
	fputs(",\"rcpt_to\":[", f);
	for (uint32_t i = 0; i < r->ntrcpt; i++) {
		if (i > 0)
			fputc(',', f);
		escape_json(f, r->trcpt[i].path.p ? r->trcpt[i].path.p : "",
		    r->trcpt[i].path.len);
	}
	fputc(']', f);
	fprintf(f, ",\"rcpt_total\":%u", r->rcpt_total);
	events_auth(f, r);
	fprintf(f, ",\"stage\":\"%s\"", stage_name(r->stage));
	events_key_int(f, "reply_code", r->reply_code, r->reply_code == 0);
	fprintf(f, ",\"close_reason\":\"%s\",\"bytes_in\":%llu,"
	    "\"bytes_out\":%llu,\"anomalies\":[", close_reason_name(r->reason),
	    (unsigned long long)r->bytes_in,
	    (unsigned long long)r->bytes_out);
	for (int i = 0; i < ANOM_COUNT; i++)
		if (r->anomalies & (1u << i)) {
			fprintf(f, "%s\"%s\"", first ? "" : ",",
			    anomaly_name(i));
			first = 0;
		}
	fputc(']', f);
	events_key_str(f, "country", g != NULL && g->country[0] != '\0' ?
	    (struct span){ g->country, strlen(g->country) } :
	    (struct span){ NULL, 0 });
	events_key_int(f, "asn", g ? g->asn : 0, g == NULL || g->asn == 0);
	events_key_str(f, "as_org", g != NULL && g->as_org[0] != '\0' ?
	    (struct span){ g->as_org, strlen(g->as_org) } :
	    (struct span){ NULL, 0 });
	events_key_str(f, "os", x ? x->os : (struct span){ NULL, 0 });
	events_key_str(f, "os_class", x ? x->os_class :
	    (struct span){ NULL, 0 });
	events_txns(f, r);
	events_key_str(f, "via", r->via[0] != '\0' ?	/* an address */
	    (struct span){ r->via, strlen(r->via) } :
	    (struct span){ NULL, 0 });
	fputs("}\n", f);
	ev->written++;
}

/* Pushes the lines of a batch to the file; counts a write error once. */
void
events_flush(struct events *ev)
{
	if (ev == NULL)
		return;
	if (fflush(ev->f) == EOF || ferror(ev->f)) {
		if (ev->errors++ == 0)
			log_warn("events-log %s: write failed: %s", ev->path,
			    strerror(errno));
		clearerr(ev->f);
	}
}

void
events_close(struct events *ev)
{
	if (ev == NULL)
		return;
	if (ev->f != NULL)
		fclose(ev->f);
	free(ev->path);
	free(ev->sensor);
	free(ev);
}
