/*
 * config.c -- the configuration file: one "key value..." per line, '#'
 * starts a comment.  Each key has one setter that validates its value;
 * errors come back as "file:line: message" and the caller exits 2.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoymx.h"

typedef int (*setter_fn)(struct config *, char *, char *, size_t);

static int	 set_listen(struct config *, char *, char *, size_t);
static int	 set_real_mx(struct config *, char *, char *, size_t);
static int	 set_hostname(struct config *, char *, char *, size_t);
static int	 set_db(struct config *, char *, char *, size_t);
static int	 set_user(struct config *, char *, char *, size_t);
static int	 set_chroot(struct config *, char *, char *, size_t);
static int	 set_defer_stage(struct config *, char *, char *, size_t);
static int	 set_defer_reply(struct config *, char *, char *, size_t);
static int	 set_pipelining(struct config *, char *, char *, size_t);
static int	 set_idle_timeout(struct config *, char *, char *, size_t);
static int	 set_max_session(struct config *, char *, char *, size_t);
static int	 set_max_errors(struct config *, char *, char *, size_t);
static int	 set_queue_size(struct config *, char *, char *, size_t);
static int	 set_batch_interval(struct config *, char *, char *, size_t);
static int	 set_batch_max(struct config *, char *, char *, size_t);
static int	 set_log_level(struct config *, char *, char *, size_t);
static int	 set_events_log(struct config *, char *, char *, size_t);
static int	 set_greeting_delay(struct config *, char *, char *, size_t);
static int	 set_reply_delay(struct config *, char *, char *, size_t);
static int	 set_stutter(struct config *, char *, char *, size_t);
static int	 set_tarpit(struct config *, char *, char *, size_t);
static int	 set_max_clients(struct config *, char *, char *, size_t);
static int	 set_max_per_client(struct config *, char *, char *, size_t);
static int	 set_metrics(struct config *, char *, char *, size_t);
static int	 set_export(struct config *, char *, char *, size_t);
static int	 set_sensor(struct config *, char *, char *, size_t);
static int	 set_geoip(struct config *, char *, char *, size_t);
static int	 set_geoip_required(struct config *, char *, char *, size_t);
static int	 set_returning_defer(struct config *, char *, char *, size_t);
static int	 set_returning_window(struct config *, char *, char *,
		    size_t);
static int	 set_client_table_size(struct config *, char *, char *,
		    size_t);
static int	 config_seen_id(size_t key, const char *args);

/* How often a key may appear. */
enum { K_ONCE, K_MANY, K_SUB };	/* K_SUB: once per first word */

static const struct {
	const char	*key;
	setter_fn	 set;
	int		 times;
} keys[] = {
	{ "listen",		set_listen, K_MANY },
	{ "real-mx",		set_real_mx, K_MANY },
	{ "export",		set_export, K_MANY },
	{ "sensor",		set_sensor, K_SUB },
	{ "geoip",		set_geoip, K_SUB },
	{ "hostname",		set_hostname, K_ONCE },
	{ "db",			set_db, K_ONCE },
	{ "user",		set_user, K_ONCE },
	{ "chroot",		set_chroot, K_ONCE },
	{ "defer-stage",	set_defer_stage, K_ONCE },
	{ "defer-reply",	set_defer_reply, K_ONCE },
	{ "pipelining",		set_pipelining, K_ONCE },
	{ "idle-timeout",	set_idle_timeout, K_ONCE },
	{ "max-session",	set_max_session, K_ONCE },
	{ "max-errors",		set_max_errors, K_ONCE },
	{ "queue-size",		set_queue_size, K_ONCE },
	{ "batch-interval",	set_batch_interval, K_ONCE },
	{ "batch-max",		set_batch_max, K_ONCE },
	{ "log-level",		set_log_level, K_ONCE },
	{ "greeting-delay",	set_greeting_delay, K_ONCE },
	{ "reply-delay",	set_reply_delay, K_ONCE },
	{ "stutter",		set_stutter, K_ONCE },
	{ "tarpit",		set_tarpit, K_ONCE },
	{ "max-clients",	set_max_clients, K_ONCE },
	{ "max-per-client",	set_max_per_client, K_ONCE },
	{ "metrics",		set_metrics, K_ONCE },
	{ "events-log",		set_events_log, K_ONCE },
	{ "geoip-required",	set_geoip_required, K_ONCE },
	{ "returning-defer",	set_returning_defer, K_ONCE },
	{ "returning-window",	set_returning_window, K_ONCE },
	{ "client-table-size",	set_client_table_size, K_ONCE },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/*
 * The settings of K_SUB keys, by their first word: each is once-only
 * (the modes of "sensor" are one setting); a first word not listed here
 * ("sensor watch") may repeat.
 */
static const struct {
	const char	*key, *word;
	int		 id;		/* seen bit, after the keys' own */
} subkeys[] = {
	{ "sensor", "on", 0 }, { "sensor", "off", 0 }, { "sensor", "auto", 0 },
	{ "sensor", "interface", 1 }, { "sensor", "fpdb", 2 },
	{ "sensor", "name", 3 },
	{ "geoip", "country", 4 }, { "geoip", "asn", 5 }, { "geoip", "city", 6 },
};

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->hostname, sizeof(c->hostname) - 1) == -1 ||
	    c->hostname[0] == '\0')
		strlcpy_(c->hostname, "localhost", sizeof(c->hostname));
	strlcpy_(c->sensor_name, c->hostname, sizeof(c->sensor_name));
	strlcpy_(c->db, "/var/lib/decoymx/decoymx.db", sizeof(c->db));
	strlcpy_(c->user, "decoymx", sizeof(c->user));
	strlcpy_(c->chroot, "/var/empty", sizeof(c->chroot));
	c->real_mx_pref = -1;
	c->returning_defer = RETURNING_GREETING;
	c->returning_window_ms = 3600000;
	c->client_table_size = 1000000;
	c->defer_stage = DEFER_RCPT;
	c->defer_code = 450;
	strlcpy_(c->defer_status, "4.7.1", sizeof(c->defer_status));
	strlcpy_(c->defer_text, "Service temporarily unavailable, try again "
	    "later", sizeof(c->defer_text));
	c->idle_timeout_ms = 60000;
	c->max_session_ms = 300000;
	c->max_errors = 10;
	c->queue_size = 50000;
	c->batch_interval_ms = 100;
	c->batch_max = 2000;
	c->log_level = LOG_LVL_INFO;
	c->stutter_bytes = 1;
	c->tarpit = TARPIT_BOTS;
	c->max_clients = 50000;
	c->max_per_client = 20;
	c->sensor = SENSOR_AUTO;
	strlcpy_(c->sensor_if, "any", sizeof(c->sensor_if));
	strlcpy_(c->sensor_fpdb, "/etc/p0f/p0f.fp", sizeof(c->sensor_fpdb));
}

/* Parses a decimal in [min, max].  Returns 0, or -1 with err set. */
static int
parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *v, char *err, size_t errlen)
{
	char	*end;

	errno = 0;
	if (!isdigit((unsigned char)*s) ||
	    (*v = strtoul(s, &end, 10), errno != 0) || *end != '\0' ||
	    *v < min || *v > max) {
		snprintf(err, errlen, "'%s' is not a number from %lu to %lu",
		    s, min, max);
		return -1;
	}
	return 0;
}

static int
parse_ms(const char *s, uint64_t max, uint32_t *out, char *err,
    size_t errlen)
{
	uint64_t ms;

	if (util_parse_duration_ms(s, &ms) == -1 || ms == 0 || ms > max) {
		snprintf(err, errlen, "'%s' is not a duration (e.g. 100ms, "
		    "30s, 5m) from 1ms to %llus", s,
		    (unsigned long long)(max / 1000));
		return -1;
	}
	*out = (uint32_t)ms;
	return 0;
}

/* Splits off the next whitespace-separated word; NULL when none left. */
static char *
next_word(char **s)
{
	char *w;

	while (isspace((unsigned char)**s))
		(*s)++;
	if (**s == '\0')
		return NULL;
	w = *s;
	while (**s != '\0' && !isspace((unsigned char)**s))
		(*s)++;
	if (**s != '\0')
		*(*s)++ = '\0';
	return w;
}

static int
one_word(char *args, char **w, char *err, size_t errlen)
{
	if ((*w = next_word(&args)) == NULL || next_word(&args) != NULL) {
		snprintf(err, errlen, "expects exactly one value");
		return -1;
	}
	return 0;
}

/* Parses the optional "mx N" (config) or ",mx=N" (command line) suffix. */
static int
parse_pref(const char *s, int32_t *pref, char *err, size_t errlen)
{
	unsigned long v;

	if (parse_uint(s, 0, 65535, &v, err, errlen) == -1)
		return -1;
	*pref = (int32_t)v;
	return 0;
}

/*
 * Adds a listener from "ADDR:PORT[,mx=N]" (also the form of --listen).
 * Returns 0, or -1 with err set.
 */
int
config_listen_arg(struct config *c, const char *arg, char *err,
    size_t errlen)
{
	char			 buf[128];
	char			*comma;
	struct listen_conf	*l;

	if (c->nlisten >= MAX_LISTEN) {
		snprintf(err, errlen, "more than %d listeners", MAX_LISTEN);
		return -1;
	}
	if (strlcpy_(buf, arg, sizeof(buf)) >= sizeof(buf)) {
		snprintf(err, errlen, "listen address too long");
		return -1;
	}
	l = &c->listen[c->nlisten];
	l->mx_pref = -1;
	if ((comma = strchr(buf, ',')) != NULL) {
		*comma++ = '\0';
		if (strncmp(comma, "mx=", 3) != 0) {
			snprintf(err, errlen, "'%s': expected ,mx=N", comma);
			return -1;
		}
		if (parse_pref(comma + 3, &l->mx_pref, err, errlen) == -1)
			return -1;
	}
	if (util_parse_addrport(buf, &l->ss, &l->sslen, 1) == -1) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT (IPv6 as "
		    "[ADDR]:PORT)", buf);
		return -1;
	}
	c->nlisten++;
	return 0;
}

static int
set_listen(struct config *c, char *args, char *err, size_t errlen)
{
	char	*addr = next_word(&args), *kw = next_word(&args);
	char	*pref = next_word(&args);
	char	 buf[160];

	if (addr == NULL || (kw != NULL && (strcmp(kw, "mx") != 0 ||
	    pref == NULL)) || next_word(&args) != NULL) {
		snprintf(err, errlen, "expects ADDR:PORT [mx N]");
		return -1;
	}
	if (kw == NULL)
		return config_listen_arg(c, addr, err, errlen);
	snprintf(buf, sizeof(buf), "%s,mx=%s", addr, pref);
	return config_listen_arg(c, buf, err, errlen);
}

/*
 * "real-mx ADDR [mx N]", once per address of the real MX (several hosts,
 * IPv4 and IPv6).  The lowest preference given is the one the decoys'
 * roles are measured against; an address without one takes it.
 */
static int
set_real_mx(struct config *c, char *args, char *err, size_t errlen)
{
	char			*addr = next_word(&args), *kw = next_word(&args);
	char			*pref = next_word(&args);
	struct real_mx_conf	*r;

	if (addr == NULL || (kw != NULL && (strcmp(kw, "mx") != 0 ||
	    pref == NULL)) || next_word(&args) != NULL) {
		snprintf(err, errlen, "expects ADDR [mx N]");
		return -1;
	}
	if (c->nreal_mx >= MAX_REAL_MX) {
		snprintf(err, errlen, "more than %d real-mx addresses",
		    MAX_REAL_MX);
		return -1;
	}
	r = &c->real_mx[c->nreal_mx];
	if (util_parse_addr(addr, &r->ss) == -1) {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address",
		    addr);
		return -1;
	}
	for (int i = 0; i < c->nreal_mx; i++)
		if (memcmp(&c->real_mx[i].ss, &r->ss, sizeof(r->ss)) == 0) {
			snprintf(err, errlen, "'%s' given twice", addr);
			return -1;
		}
	r->mx_pref = -1;
	if (pref != NULL && parse_pref(pref, &r->mx_pref, err, errlen) == -1)
		return -1;
	c->nreal_mx++;
	c->real_mx_set = 1;
	if (r->mx_pref >= 0 && (c->real_mx_pref < 0 ||
	    r->mx_pref < c->real_mx_pref))
		c->real_mx_pref = r->mx_pref;
	return 0;
}

static int
set_hostname(struct config *c, char *args, char *err, size_t errlen)
{
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	for (const char *p = w; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-') {
			snprintf(err, errlen, "'%s' is not a host name", w);
			return -1;
		}
	if (strlcpy_(c->hostname, w, sizeof(c->hostname)) >=
	    sizeof(c->hostname)) {
		snprintf(err, errlen, "host name too long");
		return -1;
	}
	return 0;
}

static int
set_path(char *dst, size_t dstlen, char *args, char *err, size_t errlen)
{
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if (strlcpy_(dst, w, dstlen) >= dstlen) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	return 0;
}

static int
set_events_log(struct config *c, char *args, char *err, size_t errlen)
{
	return set_path(c->events_log, sizeof(c->events_log), args, err,
	    errlen);
}

static int
set_db(struct config *c, char *args, char *err, size_t errlen)
{
	return set_path(c->db, sizeof(c->db), args, err, errlen);
}

static int
set_user(struct config *c, char *args, char *err, size_t errlen)
{
	return set_path(c->user, sizeof(c->user), args, err, errlen);
}

static int
set_chroot(struct config *c, char *args, char *err, size_t errlen)
{
	if (set_path(c->chroot, sizeof(c->chroot), args, err, errlen) == -1)
		return -1;
	if (c->chroot[0] != '/') {
		snprintf(err, errlen, "chroot must be an absolute path");
		return -1;
	}
	return 0;
}

static int
set_defer_stage(struct config *c, char *args, char *err, size_t errlen)
{
	static const char *names[] = {
		"greeting", "helo", "mail", "rcpt", "data"
	};
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	for (int i = 0; i < 5; i++)
		if (strcmp(w, names[i]) == 0) {
			c->defer_stage = (enum defer_stage)i;
			return 0;
		}
	snprintf(err, errlen, "'%s' is not one of greeting, helo, mail, "
	    "rcpt, data", w);
	return -1;
}

/* "defer-reply CODE STATUS TEXT...": only 421, 450, 451, 452. */
static int
set_defer_reply(struct config *c, char *args, char *err, size_t errlen)
{
	char		*code = next_word(&args), *status = next_word(&args);
	unsigned long	 v;

	if (code == NULL || status == NULL) {
		snprintf(err, errlen, "expects CODE STATUS TEXT");
		return -1;
	}
	if (parse_uint(code, 200, 599, &v, err, errlen) == -1)
		return -1;
	if (v != 421 && v != 450 && v != 451 && v != 452) {
		snprintf(err, errlen, "reply code %lu: use 421, 450, 451 or "
		    "452 (never 5xx: it could bounce legitimate mail)", v);
		return -1;
	}
	unsigned a, b, d;
	int n = 0;
	if (sscanf(status, "%u.%u.%u%n", &a, &b, &d, &n) != 3 ||
	    status[n] != '\0' || a != 4 || b > 7 || d > 999) {
		snprintf(err, errlen, "'%s' is not a 4.X.Y enhanced status",
		    status);
		return -1;
	}
	while (isspace((unsigned char)*args))
		args++;
	for (const char *p = args; *p; p++)
		if (!isprint((unsigned char)*p)) {
			snprintf(err, errlen, "reply text has a control "
			    "character");
			return -1;
		}
	if (*args == '\0' || strlen(args) > MAX_REPLY_TEXT) {
		snprintf(err, errlen, "reply text must be 1 to %d characters",
		    MAX_REPLY_TEXT);
		return -1;
	}
	c->defer_code = (uint16_t)v;
	strlcpy_(c->defer_status, status, sizeof(c->defer_status));
	strlcpy_(c->defer_text, args, sizeof(c->defer_text));
	return 0;
}

static int
set_bool(int *dst, char *args, char *err, size_t errlen)
{
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if (strcmp(w, "yes") == 0)
		*dst = 1;
	else if (strcmp(w, "no") == 0)
		*dst = 0;
	else {
		snprintf(err, errlen, "'%s' is not yes or no", w);
		return -1;
	}
	return 0;
}

static int
set_pipelining(struct config *c, char *args, char *err, size_t errlen)
{
	return set_bool(&c->pipelining, args, err, errlen);
}

static int
set_idle_timeout(struct config *c, char *args, char *err, size_t errlen)
{
	char *w;

	return one_word(args, &w, err, errlen) == -1 ? -1 :
	    parse_ms(w, 3600000, &c->idle_timeout_ms, err, errlen);
}

static int
set_max_session(struct config *c, char *args, char *err, size_t errlen)
{
	char *w;

	return one_word(args, &w, err, errlen) == -1 ? -1 :
	    parse_ms(w, 86400000, &c->max_session_ms, err, errlen);
}

static int
set_batch_interval(struct config *c, char *args, char *err, size_t errlen)
{
	char *w;

	return one_word(args, &w, err, errlen) == -1 ? -1 :
	    parse_ms(w, 10000, &c->batch_interval_ms, err, errlen);
}

static int
set_u32(uint32_t *dst, unsigned long min, unsigned long max, char *args,
    char *err, size_t errlen)
{
	char		*w;
	unsigned long	 v;

	if (one_word(args, &w, err, errlen) == -1 ||
	    parse_uint(w, min, max, &v, err, errlen) == -1)
		return -1;
	*dst = (uint32_t)v;
	return 0;
}

static int
set_max_errors(struct config *c, char *args, char *err, size_t errlen)
{
	return set_u32(&c->max_errors, 1, 1000, args, err, errlen);
}

static int
set_queue_size(struct config *c, char *args, char *err, size_t errlen)
{
	return set_u32(&c->queue_size, 1, 10000000, args, err, errlen);
}

static int
set_batch_max(struct config *c, char *args, char *err, size_t errlen)
{
	return set_u32(&c->batch_max, 1, 1000000, args, err, errlen);
}

static int
set_log_level(struct config *c, char *args, char *err, size_t errlen)
{
	char	*w;
	int	 l;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if ((l = log_level_parse(w)) == -1) {
		snprintf(err, errlen, "'%s' is not error, warn, info or debug",
		    w);
		return -1;
	}
	c->log_level = l;
	return 0;
}

/* A duration that may be 0 ("off"). */
static int
parse_ms0(char *args, uint64_t max, uint32_t *out, char *err, size_t errlen)
{
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if (strcmp(w, "0") == 0 || strcmp(w, "off") == 0) {
		*out = 0;
		return 0;
	}
	return parse_ms(w, max, out, err, errlen);
}

static int
set_greeting_delay(struct config *c, char *args, char *err, size_t errlen)
{
	return parse_ms0(args, 600000, &c->greeting_delay_ms, err, errlen);
}

static int
set_reply_delay(struct config *c, char *args, char *err, size_t errlen)
{
	return parse_ms0(args, 600000, &c->reply_delay_ms, err, errlen);
}

/* "stutter DUR [BYTES]": BYTES of a reply every DUR (spamd's stutter). */
static int
set_stutter(struct config *c, char *args, char *err, size_t errlen)
{
	char		*dur = next_word(&args), *bytes = next_word(&args);
	unsigned long	 v = 1;

	if (dur == NULL || next_word(&args) != NULL) {
		snprintf(err, errlen, "expects DURATION [BYTES]");
		return -1;
	}
	if (bytes != NULL && parse_uint(bytes, 1, 512, &v, err, errlen) == -1)
		return -1;
	if (parse_ms0(dur, 60000, &c->stutter_ms, err, errlen) == -1)
		return -1;
	c->stutter_bytes = (uint32_t)v;
	return 0;
}

static int
set_tarpit(struct config *c, char *args, char *err, size_t errlen)
{
	static const char *names[] = { "none", "bots", "all" };
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(w, names[i]) == 0) {
			c->tarpit = (enum tarpit_who)i;
			return 0;
		}
	snprintf(err, errlen, "'%s' is not none, bots or all", w);
	return -1;
}

static int
set_max_clients(struct config *c, char *args, char *err, size_t errlen)
{
	return set_u32(&c->max_clients, 1, 1000000, args, err, errlen);
}

static int
set_max_per_client(struct config *c, char *args, char *err, size_t errlen)
{
	return set_u32(&c->max_per_client, 1, 1000000, args, err, errlen);
}

/*
 * "export FORMAT PATH every DUR [OPTION...]": the store process writes
 * that export every DUR (decoymx export FORMAT -o PATH OPTION...).
 */
static int
set_export(struct config *c, char *args, char *err, size_t errlen)
{
	struct export_conf	*x;
	char			*fmt = next_word(&args), *path = next_word(&args);
	char			*kw = next_word(&args), *dur = next_word(&args);
	char			 buf[2048], *argv[64];
	uint64_t		 ms;
	int			 argc, olderr, devnull;

	if (fmt == NULL || path == NULL || kw == NULL || dur == NULL ||
	    strcmp(kw, "every") != 0) {
		snprintf(err, errlen, "expects FORMAT PATH every DURATION "
		    "[OPTION...]");
		return -1;
	}
	if (c->nexports >= MAX_EXPORTS) {
		snprintf(err, errlen, "more than %d exports", MAX_EXPORTS);
		return -1;
	}
	x = &c->exports[c->nexports];
	if (path[0] != '/' || strlcpy_(x->path, path, sizeof(x->path)) >=
	    sizeof(x->path)) {
		snprintf(err, errlen, "'%s': want an absolute path", path);
		return -1;
	}
	if (util_parse_duration_ms(dur, &ms) == -1 || ms < 10000 ||
	    ms > 86400000) {
		snprintf(err, errlen, "'%s' is not a duration from 10s to 1d",
		    dur);
		return -1;
	}
	while (isspace((unsigned char)*args))
		args++;
	if (strlcpy_(x->format, fmt, sizeof(x->format)) >= sizeof(x->format) ||
	    strlcpy_(x->args, args, sizeof(x->args)) >= sizeof(x->args) ||
	    (argc = export_argv(x->format, x->path, x->args, buf, sizeof(buf),
	    argv, 64)) == -1) {
		snprintf(err, errlen, "export options too long or an open "
		    "quote");
		return -1;
	}
	/* export_check() says why on stderr; keep only its verdict here. */
	fflush(stderr);
	olderr = dup(STDERR_FILENO);
	if ((devnull = open("/dev/null", O_WRONLY)) != -1) {
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
	optind = 0;
	argc = export_check(argc, argv);
	fflush(stderr);
	if (olderr != -1) {
		dup2(olderr, STDERR_FILENO);
		close(olderr);
	}
	if (argc != 0) {
		snprintf(err, errlen, "bad export format or options (try them "
		    "with decoymx export %s)", fmt);
		return -1;
	}
	x->every_ms = (uint32_t)ms;
	c->nexports++;
	return 0;
}

static int
set_metrics(struct config *c, char *args, char *err, size_t errlen)
{
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if (util_parse_addrport(w, &c->metrics, &c->metrics_len, 1) == -1) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT", w);
		return -1;
	}
	return 0;
}

/* "geoip country|asn|city PATH": the database of that kind. */
static int
set_geoip(struct config *c, char *args, char *err, size_t errlen)
{
	static const char *kinds[GEO_KINDS] = { "country", "asn", "city" };
	char	*kind = next_word(&args), *path = next_word(&args);

	if (kind == NULL || path == NULL || next_word(&args) != NULL) {
		snprintf(err, errlen, "expects country|asn|city PATH");
		return -1;
	}
	for (int i = 0; i < GEO_KINDS; i++) {
		if (strcmp(kind, kinds[i]) != 0)
			continue;
		if (strlcpy_(c->geoip[i], path, sizeof(c->geoip[i])) >=
		    sizeof(c->geoip[i])) {
			c->geoip[i][0] = '\0';
			snprintf(err, errlen, "path too long");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "'%s' is not country, asn or city", kind);
	return -1;
}

static int
set_geoip_required(struct config *c, char *args, char *err, size_t errlen)
{
	return set_bool(&c->geoip_required, args, err, errlen);
}

/*
 * "sensor on|off|auto", "sensor interface NAME", "sensor fpdb PATH...|none",
 * "sensor watch ADDR[:PORT] [mx N]" (a decoy address nothing listens on,
 * e.g. a dead nolisting primary; without a port, the listeners' ports).
 */
static int
set_sensor(struct config *c, char *args, char *err, size_t errlen)
{
	static const char *modes[] = { "off", "auto", "on" };
	char	*w = next_word(&args), *v = next_word(&args);
	char	*kw = next_word(&args), *pref = next_word(&args);

	if (w == NULL) {
		snprintf(err, errlen, "expects on|off|auto, interface NAME, "
		    "fpdb PATH or watch ADDR [mx N]");
		return -1;
	}
	for (int i = 0; i < 3 && v == NULL; i++)
		if (strcmp(w, modes[i]) == 0) {
			c->sensor = i;
			return 0;
		}
	if (strcmp(w, "watch") == 0 && v != NULL && next_word(&args) == NULL &&
	    (kw == NULL || (strcmp(kw, "mx") == 0 && pref != NULL))) {
		struct sensor_watch *sw = &c->watch[c->nwatch];
		socklen_t len;

		if (c->nwatch >= MAX_LISTEN) {
			snprintf(err, errlen, "more than %d watched addresses",
			    MAX_LISTEN);
			return -1;
		}
		if (util_parse_addrport(v, &sw->ss, &len, 1) == -1 &&
		    util_parse_addr(v, &sw->ss) == -1) {
			snprintf(err, errlen, "'%s' is not ADDR or ADDR:PORT", v);
			return -1;
		}
		sw->mx_pref = -1;
		if (pref != NULL && parse_pref(pref, &sw->mx_pref, err,
		    errlen) == -1)
			return -1;
		c->nwatch++;
		return 0;
	}
	if (strcmp(w, "fpdb") == 0 && v != NULL) {
		/* "sensor fpdb PATH [PATH...]": loaded in this order. */
		char list[sizeof(c->sensor_fpdb)];
		int n = snprintf(list, sizeof(list), "%s%s%s%s%s%s%s", v,
		    kw ? " " : "", kw ? kw : "", pref ? " " : "",
		    pref ? pref : "", *args ? " " : "", args);
		if (n < 0 || (size_t)n >= sizeof(list)) {
			snprintf(err, errlen, "paths too long");
			return -1;
		}
		strlcpy_(c->sensor_fpdb, strcmp(list, "none") == 0 ? "" : list,
		    sizeof(c->sensor_fpdb));
		c->sensor_fpdb_set = c->sensor_fpdb[0] != '\0';
		return 0;
	}
	if (v == NULL || kw != NULL) {
		snprintf(err, errlen, "'%s': expects on|off|auto, interface "
		    "NAME, fpdb PATH or watch ADDR [mx N]", w);
		return -1;
	}
	if (strcmp(w, "name") == 0) {
		/* The name every stored event carries (fleets of decoys). */
		for (const char *q = v; *q; q++)
			if (!isalnum((unsigned char)*q) && !strchr(".-_", *q)) {
				snprintf(err, errlen, "sensor name '%s': use "
				    "letters, digits, '.', '-', '_'", v);
				return -1;
			}
		if (strlcpy_(c->sensor_name, v, sizeof(c->sensor_name)) >=
		    sizeof(c->sensor_name)) {
			snprintf(err, errlen, "sensor name too long");
			return -1;
		}
		return 0;
	}
	if (strcmp(w, "interface") == 0) {
		if (strlcpy_(c->sensor_if, v, sizeof(c->sensor_if)) >=
		    sizeof(c->sensor_if)) {
			snprintf(err, errlen, "interface name too long");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown sensor setting '%s'", w);
	return -1;
}

/* "returning-defer greeting|off" (tarpit/recent.c). */
static int
set_returning_defer(struct config *c, char *args, char *err, size_t errlen)
{
	char *w;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if (strcmp(w, "greeting") == 0)
		c->returning_defer = RETURNING_GREETING;
	else if (strcmp(w, "off") == 0)
		c->returning_defer = RETURNING_OFF;
	else {
		snprintf(err, errlen, "'%s' is not greeting or off", w);
		return -1;
	}
	return 0;
}

static int
set_returning_window(struct config *c, char *args, char *err, size_t errlen)
{
	char *w;

	return one_word(args, &w, err, errlen) == -1 ? -1 :
	    parse_ms(w, 86400000, &c->returning_window_ms, err, errlen);
}

static int
set_client_table_size(struct config *c, char *args, char *err,
    size_t errlen)
{
	return set_u32(&c->client_table_size, 64, 100000000, args, err,
	    errlen);
}

/*
 * The seen bit of a once-only setting: the key's index, or for a K_SUB
 * key the id of its first word after them.  -1: it may repeat.
 */
static int
config_seen_id(size_t key, const char *args)
{
	char	 word[16];
	size_t	 n;

	if (keys[key].times == K_ONCE)
		return (int)key;
	if (keys[key].times == K_MANY)
		return -1;
	while (*args == ' ' || *args == '\t')
		args++;
	n = strcspn(args, " \t");
	if (n >= sizeof(word))
		return -1;
	memcpy(word, args, n);
	word[n] = '\0';
	for (size_t i = 0; i < sizeof(subkeys) / sizeof(subkeys[0]); i++)
		if (strcmp(subkeys[i].key, keys[key].key) == 0 &&
		    strcmp(subkeys[i].word, word) == 0)
			return (int)NKEYS + subkeys[i].id;
	return -1;
}

/*
 * Applies one configuration line.  Returns 0, or -1 after printing
 * "file:line: message" to stderr.
 */
int
config_parse_line(struct config *c, const char *file, int lineno,
    const char *line)
{
	char	 buf[1024], err[256];
	char	*p = buf, *key, *hash;

	if (strlcpy_(buf, line, sizeof(buf)) >= sizeof(buf)) {
		fprintf(stderr, "%s:%d: line too long\n", file, lineno);
		return -1;
	}
	if ((hash = strchr(buf, '#')) != NULL)
		*hash = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if ((key = next_word(&p)) == NULL)
		return 0;
	for (size_t i = 0; i < NKEYS; i++) {
		int id;

		if (strcmp(key, keys[i].key) != 0)
			continue;
		/* A second value would silently replace the first. */
		if ((id = config_seen_id(i, p)) >= 0 &&
		    id < CONFIG_SEEN_MAX && (c->seen & (1ull << id))) {
			fprintf(stderr, "%s:%d: %s: duplicate key (first at "
			    "line %u)\n", file, lineno, key, c->seen_line[id]);
			return -1;
		}
		if (keys[i].set(c, p, err, sizeof(err)) == 0) {
			if (id >= 0 && id < CONFIG_SEEN_MAX) {
				c->seen |= 1ull << id;
				c->seen_line[id] = (uint16_t)lineno;
			}
			return 0;
		}
		fprintf(stderr, "%s:%d: %s: %s\n", file, lineno, key, err);
		return -1;
	}
	fprintf(stderr, "%s:%d: unknown key '%s'\n", file, lineno, key);
	return -1;
}

/* Reads a configuration file.  Returns 0, or -1 after printing why. */
int
config_load(struct config *c, const char *path)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	int	 lineno = 0, rv = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	c->file = path;
	while (getline(&line, &cap, f) != -1)
		if (config_parse_line(c, path, ++lineno, line) == -1)
			rv = -1;
	if (ferror(f)) {
		fprintf(stderr, "%s: read error: %s\n", path, strerror(errno));
		rv = -1;
	}
	free(line);
	fclose(f);
	return rv;
}

/* Checks the whole configuration once every line is in. */
int
config_check(struct config *c, char *err, size_t errlen)
{
	if (c->nlisten == 0) {
		snprintf(err, errlen, "no listener: add 'listen ADDR:PORT' or "
		    "--listen");
		return -1;
	}
	if (c->db[0] == '\0') {
		snprintf(err, errlen, "no database path");
		return -1;
	}
	if (c->real_mx_set && c->real_mx_pref < 0) {
		snprintf(err, errlen, "real-mx: no real-mx line gives its MX "
		    "preference (mx N)");
		return -1;
	}
	for (int i = 0; i < c->nlisten; i++)
		for (int j = 0; j < c->nreal_mx; j++) {
			int32_t p = c->real_mx[j].mx_pref >= 0 ?
			    c->real_mx[j].mx_pref : c->real_mx_pref;
			if (c->listen[i].mx_pref != p)
				continue;
			snprintf(err, errlen, "a decoy has the same MX "
			    "preference (%d) as the real MX", p);
			return -1;
		}
	return 0;
}

/* The role of a decoy with preference mx_pref (-1: not given). */
enum role
config_role(const struct config *c, int32_t mx_pref)
{
	if (!c->real_mx_set || c->real_mx_pref < 0 || mx_pref < 0 ||
	    mx_pref == c->real_mx_pref)
		return ROLE_DECOY;
	return mx_pref < c->real_mx_pref ? ROLE_PRIMARY : ROLE_BACKUP;
}

/* Prints the effective configuration (for -n). */
void
config_dump(const struct config *c, FILE *f)
{
	static const char *stages[] = {
		"greeting", "helo", "mail", "rcpt", "data"
	};
	char	 ip[ADDR_STRLEN];
	uint16_t port;

	for (int i = 0; i < c->nlisten; i++) {
		util_addr_str((const struct sockaddr *)&c->listen[i].ss, ip,
		    sizeof(ip), &port);
		fprintf(f, "listen %s%s%s:%u", strchr(ip, ':') ? "[" : "", ip,
		    strchr(ip, ':') ? "]" : "", port);
		if (c->listen[i].mx_pref >= 0)
			fprintf(f, " mx %d # %s", c->listen[i].mx_pref,
			    role_name(config_role(c, c->listen[i].mx_pref)));
		fputc('\n', f);
	}
	for (int i = 0; i < c->nreal_mx; i++) {
		util_addr_str((const struct sockaddr *)&c->real_mx[i].ss, ip,
		    sizeof(ip), NULL);
		fprintf(f, "real-mx %s mx %d\n", ip, c->real_mx[i].mx_pref >= 0 ?
		    c->real_mx[i].mx_pref : c->real_mx_pref);
	}
	fprintf(f, "hostname %s\ndb %s\nuser %s\nchroot %s\n", c->hostname,
	    c->db, c->user, c->chroot);
	fprintf(f, "sensor name %s\n", c->sensor_name);
	if (c->events_log[0] != '\0')
		fprintf(f, "events-log %s\n", c->events_log);
	fprintf(f, "defer-stage %s\ndefer-reply %u %s %s\n",
	    stages[c->defer_stage], c->defer_code, c->defer_status,
	    c->defer_text);
	fprintf(f, "returning-defer %s\nreturning-window %ums\n"
	    "client-table-size %u\n", c->returning_defer ==
	    RETURNING_GREETING ? "greeting" : "off", c->returning_window_ms,
	    c->client_table_size);
	fprintf(f, "greeting-delay %ums\nreply-delay %ums\nstutter %ums %u\n"
	    "tarpit %s\nmax-clients %u\nmax-per-client %u\n",
	    c->greeting_delay_ms, c->reply_delay_ms, c->stutter_ms,
	    c->stutter_bytes, c->tarpit == TARPIT_ALL ? "all" :
	    c->tarpit == TARPIT_BOTS ? "bots" : "none", c->max_clients,
	    c->max_per_client);
	if (c->metrics_len > 0) {
		util_addr_str((const struct sockaddr *)&c->metrics, ip,
		    sizeof(ip), &port);
		fprintf(f, "metrics %s%s%s:%u\n", strchr(ip, ':') ? "[" : "",
		    ip, strchr(ip, ':') ? "]" : "", port);
	}
	for (int i = 0; i < GEO_KINDS; i++)
		if (c->geoip[i][0] != '\0')
			fprintf(f, "geoip %s %s\n", i == GEO_COUNTRY ? "country" :
			    i == GEO_ASN ? "asn" : "city", c->geoip[i]);
	fprintf(f, "geoip-required %s\n", c->geoip_required ? "yes" : "no");
	for (int i = 0; i < c->nexports; i++)
		fprintf(f, "export %s %s every %ums%s%s\n", c->exports[i].format,
		    c->exports[i].path, c->exports[i].every_ms,
		    c->exports[i].args[0] ? " " : "", c->exports[i].args);
	fprintf(f, "sensor %s\nsensor interface %s\nsensor fpdb %s\n",
	    c->sensor == SENSOR_ON ? "on" : c->sensor == SENSOR_OFF ? "off" :
	    "auto", c->sensor_if, c->sensor_fpdb[0] ? c->sensor_fpdb : "none");
	for (int i = 0; i < c->nwatch; i++) {
		util_addr_str((const struct sockaddr *)&c->watch[i].ss, ip,
		    sizeof(ip), &port);
		fprintf(f, "sensor watch %s%s%s", strchr(ip, ':') ? "[" : "",
		    ip, strchr(ip, ':') ? "]" : "");
		if (port != 0)
			fprintf(f, ":%u", port);
		if (c->watch[i].mx_pref >= 0)
			fprintf(f, " mx %d", c->watch[i].mx_pref);
		fputc('\n', f);
	}
	fprintf(f, "pipelining %s\nidle-timeout %ums\nmax-session %ums\n"
	    "max-errors %u\nqueue-size %u\nbatch-interval %ums\nbatch-max %u\n",
	    c->pipelining ? "yes" : "no", c->idle_timeout_ms,
	    c->max_session_ms, c->max_errors, c->queue_size,
	    c->batch_interval_ms, c->batch_max);
}
