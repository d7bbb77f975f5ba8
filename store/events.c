/*
 * events.c -- the JSON-lines event log for log shippers ("events-log
 * PATH"): one object a line, written by the store process once a
 * session is committed to the database, in the convention honeypot tools
 * such as Cowrie use: "eventid" ("decoymx.session.closed"), an ISO-8601
 * UTC "timestamp", "sensor", "src_ip", "session".  Every string from the
 * network goes through the JSON escaper.  The file is opened for append
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

#include "reports.h"
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
		fmt_json_str(f, s.p, s.len);
}

/* Writes the "decoymx.session.closed" line of a committed session. */
void
events_session(struct events *ev, const struct sess_rec *r)
{
	char	 ts[32];
	FILE	*f;
	int	 first = 1;

	if (ev == NULL)
		return;
	f = ev->f;
	util_iso8601(r->end_us, ts, sizeof(ts));
	fprintf(f, "{\"eventid\":\"decoymx.session.closed\",\"timestamp\":"
	    "\"%s\",\"sensor\":", ts);
	fmt_json_str(f, ev->sensor, strlen(ev->sensor));
	fprintf(f, ",\"session\":\"%s\",\"src_ip\":\"%s\",\"src_port\":%u,"
	    "\"dst_ip\":\"%s\",\"dst_port\":%u,\"mx_pref\":", r->uid,
	    r->src_ip, r->src_port, r->dst_ip, r->dst_port);
	if (r->mx_pref < 0)
		fputs("null", f);
	else
		fprintf(f, "%d", r->mx_pref);
	fprintf(f, ",\"role\":\"%s\",\"duration\":%.3f", role_name(r->role),
	    (double)(r->end_us - r->start_us) / 1e6);
	events_key_str(f, "helo", r->helo);
	events_key_str(f, "mail_from", r->mail_from);
	fputs(",\"rcpt_to\":[", f);
	for (uint32_t i = 0; i < r->nrcpt; i++) {
		if (i > 0)
			fputc(',', f);
		fmt_json_str(f, r->rcpt[i].p, r->rcpt[i].len);
	}
	fprintf(f, "],\"stage\":\"%s\",\"reply_code\":%u,\"close_reason\":"
	    "\"%s\",\"anomalies\":[", stage_name(r->stage), r->reply_code,
	    close_reason_name(r->reason));
	for (int i = 0; i < ANOM_COUNT; i++)
		if (r->anomalies & (1u << i)) {
			fprintf(f, "%s\"%s\"", first ? "" : ",",
			    anomaly_name(i));
			first = 0;
		}
	fputc(']', f);
	if (r->geo != NULL && r->geo->country[0] != '\0')
		fprintf(f, ",\"country\":\"%s\"", r->geo->country);
	if (r->geo != NULL && r->geo->asn != 0)
		fprintf(f, ",\"asn\":%u", r->geo->asn);
	if (r->via[0] != '\0')		/* checked to be an address */
		fprintf(f, ",\"via\":\"%s\"", r->via);
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
