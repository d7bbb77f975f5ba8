/* SPDX-License-Identifier: ISC */
/*
 * config.c -- the configuration file: one "key value..." per line, '#'
 * starts a comment.  Each key is a row of keys[]: a path, number,
 * duration or name read by its type into its field, or a setter of its
 * own; every value is validated, and errors come back as "file:line:
 * message" and the caller exits 2.
 */
#include <sys/stat.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decoymx.h"

/* The parser of export lines, set by the program (config_set_export_parse). */
static struct export_opts *(*config_export_parse)(const struct export_conf *,
		    char *, size_t);

typedef int (*setter_fn)(struct config *, char *, char *, size_t);

static int	 set_listen(struct config *, char *, char *, size_t);
static int	 set_real_mx(struct config *, char *, char *, size_t);
static int	 set_hostname(struct config *, char *, char *, size_t);
static int	 set_chroot(struct config *, char *, char *, size_t);
static int	 set_defer_stage(struct config *, char *, char *, size_t);
static int	 set_defer_reply(struct config *, char *, char *, size_t);
static int	 set_log_level(struct config *, char *, char *, size_t);
static int	 set_stutter(struct config *, char *, char *, size_t);
static int	 set_tarpit(struct config *, char *, char *, size_t);
static int	 set_metrics(struct config *, char *, char *, size_t);
static int	 set_export(struct config *, char *, char *, size_t);
static int	 set_sensor(struct config *, char *, char *, size_t);
static int	 set_geoip(struct config *, char *, char *, size_t);
static int	 config_seen_id(size_t key, const char *args);
struct key;
static int	 config_set(struct config *, const struct key *, char *,
		    char *, size_t);
static int	 one_word(char *, char **, char *, size_t);

/* How often a key may appear. */
enum { K_ONCE, K_MANY, K_SUB };	/* K_SUB: once per first word */
static int	 set_ignore(struct config *, char *, char *, size_t);
static int	 set_ignore_file(struct config *, char *, char *, size_t);
static int	 set_banner(struct config *, char *, char *, size_t);
static int	 ignore_add(struct config *, char *, char *, size_t);

/*
 * The names of each enumerated setting, by value: the one spelling that
 * its setter takes and config_dump() prints.  A name function returns
 * NULL past the last value.  The log levels are log.c's
 * (log_level_name()), the geoip kinds names.c's (geo_kind_name()).
 */
typedef const char *(*name_fn)(int);

#define CONFIG_NAMES(fn, ...)						\
	static const char *						\
	fn(int v)							\
	{								\
		static const char *const t[] = { __VA_ARGS__ };		\
									\
		return v >= 0 && (size_t)v < sizeof(t) / sizeof(t[0]) ?	\
		    t[v] : NULL;					\
	}

CONFIG_NAMES(defer_stage_name, "greeting", "helo", "mail", "rcpt", "data")
CONFIG_NAMES(tarpit_name, "none", "bots", "all")	/* enum tarpit_who */
CONFIG_NAMES(sensor_mode_name, "off", "auto", "on")	/* SENSOR_ */
CONFIG_NAMES(returning_name, "off", "greeting", "reset")		/* RETURNING_ */
CONFIG_NAMES(log_target_name, "stderr", "syslog")	/* log_syslog */
CONFIG_NAMES(bool_name, "no", "yes")

/*
 * How a key's value is read: by its own setter (T_FN), or by its type
 * into its field of struct config: a path (one word), a number from min
 * to max, a duration from 1ms to max ms (T_MS0: 0 or "off" too), or one
 * of the names of a vocabulary (T_NAME, an int field).
 */
enum key_type { T_FN, T_PATH, T_U32, T_MS, T_MS0, T_NAME };

struct key {
	const char	*key;
	int		 times;		/* K_ONCE, K_MANY, K_SUB */
	enum key_type	 type;
	setter_fn	 set;		/* T_FN */
	size_t		 off, size;	/* the field; size: T_PATH */
	unsigned long	 min, max;	/* T_U32; T_MS, T_MS0: max */
	name_fn		 names;		/* T_NAME */
};

#define KF(f)		offsetof(struct config, f)
#define FN(fn)		T_FN, fn, 0, 0, 0, 0, NULL
#define PATH(f)		T_PATH, NULL, KF(f), sizeof(((struct config *)0)->f), \
			    0, 0, NULL
#define U32(f, lo, hi)	T_U32, NULL, KF(f), 0, lo, hi, NULL
#define MS(f, hi)	T_MS, NULL, KF(f), 0, 0, hi, NULL
#define MS0(f, hi)	T_MS0, NULL, KF(f), 0, 0, hi, NULL
#define NAMES(f, n)	T_NAME, NULL, KF(f), 0, 0, 0, n

static const struct key keys[] = {
	{ "listen",		K_MANY,	FN(set_listen) },
	{ "real-mx",		K_MANY,	FN(set_real_mx) },
	{ "export",		K_MANY,	FN(set_export) },
	{ "sensor",		K_SUB,	FN(set_sensor) },
	{ "geoip",		K_MANY,	FN(set_geoip) },	/* split files */
	{ "hostname",		K_ONCE,	FN(set_hostname) },
	{ "db",			K_ONCE,	PATH(db) },
	{ "user",		K_ONCE,	PATH(user) },
	{ "chroot",		K_ONCE,	FN(set_chroot) },
	{ "defer-stage",	K_ONCE,	FN(set_defer_stage) },
	{ "defer-reply",	K_ONCE,	FN(set_defer_reply) },
	{ "pipelining",		K_ONCE,	NAMES(pipelining, bool_name) },
	{ "idle-timeout",	K_ONCE,	MS(idle_timeout_ms, 3600000) },
	{ "max-session",	K_ONCE,	MS(max_session_ms, 86400000) },
	{ "max-errors",		K_ONCE,	U32(max_errors, 1, 1000) },
	{ "queue-size",		K_ONCE,	U32(queue_size, 1, 10000000) },
	{ "batch-interval",	K_ONCE,	MS(batch_interval_ms, 10000) },
	{ "batch-max",		K_ONCE,	U32(batch_max, 1, 1000000) },
	{ "log-level",		K_ONCE,	FN(set_log_level) },
	/* log stderr|syslog: where the daemon's lines go. */
	{ "log",		K_ONCE,	NAMES(log_syslog, log_target_name) },
	{ "greeting-delay",	K_ONCE,	MS0(greeting_delay_ms, 600000) },
	/* The last line of a multi-line greeting after DUR. */
	{ "banner-wait",	K_ONCE,	MS0(banner_wait_ms, 10000) },
	{ "reply-delay",	K_ONCE,	MS0(reply_delay_ms, 600000) },
	{ "stutter",		K_ONCE,	FN(set_stutter) },
	{ "tarpit",		K_ONCE,	FN(set_tarpit) },
	{ "max-clients",	K_ONCE,	U32(max_clients, 1, 1000000) },
	{ "max-per-client",	K_ONCE,	U32(max_per_client, 1, 1000000) },
	{ "metrics",		K_ONCE,	FN(set_metrics) },
	{ "events-log",		K_ONCE,	PATH(events_log) },
	{ "geoip-required",	K_ONCE,	NAMES(geoip_required, bool_name) },
	{ "returning-defer",	K_ONCE,	NAMES(returning_defer, returning_name) },
	{ "returning-window",	K_ONCE,	MS(returning_window_ms, 86400000) },
	{ "client-table-size",	K_ONCE,	U32(client_table_size, 64, 100000000) },
	{ "ignore",		K_MANY,	FN(set_ignore) },
	{ "ignore-file",	K_MANY,	FN(set_ignore_file) },
	{ "banner",		K_ONCE,	FN(set_banner) },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/*
 * The settings of K_SUB keys, by their first word, a word or any name
 * of a table of names: each is once-only (the modes of "sensor" are one
 * setting, each geoip kind is one); a first word not listed here
 * ("sensor watch") may repeat.
 */
static const struct {
	const char	*key, *word;
	const char	*(*names)(int);	/* or any of these names */
	int		 id;		/* seen bit, after the keys' own */
	int		 each;		/* names: one setting per name */
} subkeys[] = {
	{ "sensor", NULL, sensor_mode_name, 0, 0 },
	{ "sensor", "interface", NULL, 1, 0 }, { "sensor", "fpdb", NULL, 2, 0 },
	{ "sensor", "name", NULL, 3, 0 },
};


/* The value named w, or -1. */
static int
name_find(name_fn names, const char *w)
{
	const char *n;

	for (int i = 0; (n = names(i)) != NULL; i++)
		if (strcmp(n, w) == 0)
			return i;
	return -1;
}

/* err = "'w' is not a, b or c", the names of names.  Returns -1. */
static int
name_bad(name_fn names, const char *w, char *err, size_t errlen)
{
	char	 list[160];
	size_t	 n = 0;

	list[0] = '\0';
	for (int i = 0; names(i) != NULL; i++)
		n += (size_t)snprintf(list + n, n < sizeof(list) ?
		    sizeof(list) - n : 0, "%s%s", i == 0 ? "" :
		    names(i + 1) == NULL ? " or " : ", ", names(i));
	snprintf(err, errlen, "'%s' is not %s", w, list);
	return -1;
}

/* One word naming a value of names, into *v.  0, or -1 with err. */
static int
set_name(int *v, name_fn names, char *args, char *err, size_t errlen)
{
	char	*w;
	int	 i;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if ((i = name_find(names, w)) == -1)
		return name_bad(names, w, err, errlen);
	*v = i;
	return 0;
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->hostname, sizeof(c->hostname) - 1) == -1 ||
	    c->hostname[0] == '\0')
		strlcpy_(c->hostname, "localhost", sizeof(c->hostname));
	strlcpy_(c->sensor_name, c->hostname, sizeof(c->sensor_name));
	strlcpy_(c->db, CONFIG_DEFAULT_DB, sizeof(c->db));
	strlcpy_(c->user, "decoymx", sizeof(c->user));
	strlcpy_(c->chroot, "/var/empty", sizeof(c->chroot));
	c->real_mx_pref = -1;
	c->returning_defer = RETURNING_RESET;
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
	c->banner_wait_ms = 500;	/* see banner-wait in decoymx.conf.5 */
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
 * Adds a listener from "ADDR:PORT[,mx=N][,proxy]" (also the form of
 * --listen).  Returns 0, or -1 with err set.
 */
int
config_listen_arg(struct config *c, const char *arg, char *err,
    size_t errlen)
{
	char			 buf[128];
	char			*opt, *save = NULL;
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
	memset(l, 0, sizeof(*l));
	l->mx_pref = -1;
	if ((opt = strchr(buf, ',')) != NULL)
		*opt++ = '\0';
	for (opt = opt ? strtok_r(opt, ",", &save) : NULL; opt != NULL;
	    opt = strtok_r(NULL, ",", &save)) {
		if (strcmp(opt, "proxy") == 0 && !l->proxy)
			l->proxy = 1;
		else if (strncmp(opt, "mx=", 3) == 0 && l->mx_pref == -1) {
			if (parse_pref(opt + 3, &l->mx_pref, err, errlen) == -1)
				return -1;
		} else {
			snprintf(err, errlen, "'%s': expected ,mx=N or ,proxy",
			    opt);
			return -1;
		}
	}
	if (util_parse_addrport(buf, &l->ss, &l->sslen, 1) == -1) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT (IPv6 as "
		    "[ADDR]:PORT)", buf);
		return -1;
	}
	/* The second socket on one address would fail to bind at run. */
	for (int i = 0; i < c->nlisten; i++) {
		char		 a[ADDR_STRLEN], b[ADDR_STRLEN];
		uint16_t	 pa, pb;

		util_addr_str((struct sockaddr *)&c->listen[i].ss, a,
		    sizeof(a), &pa);
		util_addr_str((struct sockaddr *)&l->ss, b, sizeof(b), &pb);
		if (pa == pb && strcmp(a, b) == 0) {
			snprintf(err, errlen, "'%s' is already a listener",
			    buf);
			return -1;
		}
	}
	c->nlisten++;
	return 0;
}

/* "listen ADDR:PORT [mx N] [proxy]" */
static int
set_listen(struct config *c, char *args, char *err, size_t errlen)
{
	char	*addr = next_word(&args), *w;
	char	 buf[160];
	size_t	 n;

	if (addr == NULL)
		goto usage;
	n = strlcpy_(buf, addr, sizeof(buf));
	while (n < sizeof(buf) && (w = next_word(&args)) != NULL) {
		if (strcmp(w, "proxy") == 0)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    ",proxy");
		else if (strcmp(w, "mx") == 0 && (w = next_word(&args)) != NULL)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			    ",mx=%s", w);
		else
			goto usage;
	}
	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "listen line too long");
		return -1;
	}
	return config_listen_arg(c, buf, err, errlen);
usage:
	snprintf(err, errlen, "expects ADDR:PORT [mx N] [proxy]");
	return -1;
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
	int	 v = 0;

	if (set_name(&v, defer_stage_name, args, err, errlen) == -1)
		return -1;
	c->defer_stage = (enum defer_stage)v;
	return 0;
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
set_log_level(struct config *c, char *args, char *err, size_t errlen)
{
	char	*w;
	int	 l;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if ((l = log_level_parse(w)) == -1)
		return name_bad(log_level_name, w, err, errlen);
	c->log_level = l;
	return 0;
}

/* A duration that may be 0 ("off", "0", "0ms" as config_dump() says). */
static int
parse_ms0(char *args, uint64_t max, uint32_t *out, char *err, size_t errlen)
{
	char		*w;
	uint64_t	 ms;

	if (one_word(args, &w, err, errlen) == -1)
		return -1;
	if (strcmp(w, "off") == 0 ||
	    (util_parse_duration_ms(w, &ms) == 0 && ms == 0)) {
		*out = 0;
		return 0;
	}
	return parse_ms(w, max, out, err, errlen);
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
	int	 v = 0;

	if (set_name(&v, tarpit_name, args, err, errlen) == -1)
		return -1;
	c->tarpit = (enum tarpit_who)v;
	return 0;
}

/*
 * Sets the parser of an export line's format and options.  The option
 * table of the export command is in reports/, above common/, so the
 * program (daemon/hooks.c) plugs it in; without it (unit tests, fuzzing)
 * an export line's options are kept as written and opts stays NULL.
 * parse returns the typed options, allocated (config_free() frees them),
 * or NULL with err set to what is wrong.
 */
void
config_set_export_parse(struct export_opts *(*parse)(
    const struct export_conf *, char *, size_t))
{
	config_export_parse = parse;
}

/*
 * Frees what a configuration owns (the parsed export options).  A copy
 * of a struct config shares them: free one of the copies, once.
 */
void
config_free(struct config *c)
{
	for (int i = 0; i < MAX_EXPORTS; i++) {
		free(c->exports[i].opts);
		c->exports[i].opts = NULL;
	}
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
	uint64_t		 ms;

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
	    strlcpy_(x->args, args, sizeof(x->args)) >= sizeof(x->args)) {
		snprintf(err, errlen, "export options too long or an open "
		    "quote");
		return -1;
	}
	/* Parsed once, by the export command's own option table. */
	x->opts = NULL;
	if (config_export_parse != NULL &&
	    (x->opts = config_export_parse(x, err, errlen)) == NULL)
		return -1;
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

/*
 * "geoip country|asn|city PATH": a database of that kind; up to
 * GEO_FILES of a kind (split IPv4 and IPv6 files), looked up in order.
 */
static int
set_geoip(struct config *c, char *args, char *err, size_t errlen)
{
	char	*kind = next_word(&args), *path = next_word(&args);

	if (kind == NULL || path == NULL || next_word(&args) != NULL) {
		snprintf(err, errlen, "expects country|asn|city PATH");
		return -1;
	}
	for (int i = 0; i < GEO_KINDS; i++) {
		int f = 0;

		if (strcmp(kind, geo_kind_name(i)) != 0)
			continue;
		while (f < GEO_FILES && c->geoip[i][f][0] != '\0' &&
		    strcmp(c->geoip[i][f], path) != 0)
			f++;
		if (f == GEO_FILES) {
			snprintf(err, errlen, "at most %d %s files", GEO_FILES,
			    kind);
			return -1;
		}
		if (c->geoip[i][f][0] != '\0') {
			snprintf(err, errlen, "%s given twice", path);
			return -1;
		}
		if (strlcpy_(c->geoip[i][f], path, sizeof(c->geoip[i][f])) >=
		    sizeof(c->geoip[i][f])) {
			c->geoip[i][f][0] = '\0';
			snprintf(err, errlen, "path too long");
			return -1;
		}
		c->geoip_line[i][f] = c->lineno;
		return 0;
	}
	return name_bad(geo_kind_name, kind, err, errlen);
}

/*
 * "sensor on|off|auto", "sensor interface NAME", "sensor fpdb PATH...|none",
 * "sensor watch ADDR[:PORT] [mx N]" (a decoy address nothing listens on,
 * e.g. a dead nolisting primary; without a port, the listeners' ports).
 */
static int
set_sensor(struct config *c, char *args, char *err, size_t errlen)
{
	char	*w = next_word(&args), *v = next_word(&args);
	char	*kw = next_word(&args), *pref = next_word(&args);

	if (w == NULL) {
		snprintf(err, errlen, "expects on|off|auto, interface NAME, "
		    "fpdb PATH or watch ADDR [mx N]");
		return -1;
	}
	if (v == NULL && name_find(sensor_mode_name, w) != -1) {
		c->sensor = name_find(sensor_mode_name, w);
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

/*
 * Sets key k of c from args: by the key's own setter, or by its type
 * into its field.  0, or -1 with err set.
 */
static int
config_set(struct config *c, const struct key *k, char *args, char *err,
    size_t errlen)
{
	void	*f = (char *)c + k->off;
	char	*w;

	switch (k->type) {
	case T_FN:
		return k->set(c, args, err, errlen);
	case T_PATH:
		return set_path(f, k->size, args, err, errlen);
	case T_U32:
		return set_u32(f, k->min, k->max, args, err, errlen);
	case T_MS:
		return one_word(args, &w, err, errlen) == -1 ? -1 :
		    parse_ms(w, k->max, f, err, errlen);
	case T_MS0:
		return parse_ms0(args, k->max, f, err, errlen);
	case T_NAME:
		return set_name(f, k->names, args, err, errlen);
	}
	return -1;
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
	for (size_t i = 0; i < sizeof(subkeys) / sizeof(subkeys[0]); i++) {
		int v = 0;

		if (strcmp(subkeys[i].key, keys[key].key) != 0)
			continue;
		if (subkeys[i].names != NULL &&
		    (v = name_find(subkeys[i].names, word)) != -1)
			return (int)NKEYS + subkeys[i].id +
			    (subkeys[i].each ? v : 0);
		if (subkeys[i].word != NULL &&
		    strcmp(subkeys[i].word, word) == 0)
			return (int)NKEYS + subkeys[i].id;
	}
	return -1;
}

/*
 * Parses "ADDR" or "ADDR/LEN" (IPv4 or IPv6) into n, host bits cleared.
 * Returns 0, or -1 when it is not a network.
 */
int
config_cidr(const char *w, struct ignore_net *n)
{
	struct sockaddr_storage	 ss;
	char			 buf[ADDR_STRLEN + 8], *slash;
	unsigned long		 v;
	int			 max;

	memset(n, 0, sizeof(*n));
	if (strlcpy_(buf, w, sizeof(buf)) >= sizeof(buf))
		return -1;
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (util_parse_addr(buf, &ss) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		n->family = 4;
		memcpy(n->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else {
		n->family = 6;
		memcpy(n->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	}
	max = n->family == 4 ? 32 : 128;
	v = (unsigned long)max;
	if (slash != NULL && (!isdigit((unsigned char)*slash) ||
	    strlen(slash) > 3 || (v = strtoul(slash, NULL, 10)) > (unsigned
	    long)max || (slash[0] == '0' && slash[1] != '\0')))
		return -1;
	n->prefix = (uint8_t)v;
	for (int i = 0; i < 16; i++) {
		int bits = n->prefix - 8 * i;

		if (bits < 8)
			n->addr[i] &= bits <= 0 ? 0 :
			    (uint8_t)(0xff << (8 - bits));
	}
	return 0;
}

/*
 * Whether the client at ip (text) is in an "ignore" network; *record
 * says whether its sessions are still recorded.  Linear: the list is
 * short (own scanners) and looked up once per session.
 */
int
config_ignored(const struct config *c, const char *ip, int *record)
{
	return config_ignore_match(c->ignore, c->nignore, ip, record);
}

/* config_ignored() on the n networks of nets. */
int
config_ignore_match(const struct ignore_net *nets, int n, const char *ip,
    int *record)
{
	struct ignore_net	 a;

	if (n == 0 || config_cidr(ip, &a) == -1)
		return 0;
	for (int i = 0; i < n; i++) {
		const struct ignore_net *m = &nets[i];
		int	 full = m->prefix / 8, rest = m->prefix % 8;

		if (m->family != a.family ||
		    memcmp(m->addr, a.addr, (size_t)full) != 0 ||
		    (rest && (a.addr[full] & (uint8_t)(0xff << (8 - rest))) !=
		    m->addr[full]))
			continue;
		*record = m->record;
		return 1;
	}
	return 0;
}

/* One "NET [record]" of an ignore line or file.  0 or -1 with err. */
static int
ignore_add(struct config *c, char *args, char *err, size_t errlen)
{
	char	*net = next_word(&args), *kw = next_word(&args);

	if (net == NULL || (kw != NULL && strcmp(kw, "record") != 0) ||
	    next_word(&args) != NULL) {
		snprintf(err, errlen, "expects ADDR[/LEN] [record]");
		return -1;
	}
	if (c->nignore >= MAX_IGNORE) {
		snprintf(err, errlen, "more than %d ignored networks",
		    MAX_IGNORE);
		return -1;
	}
	if (config_cidr(net, &c->ignore[c->nignore]) == -1) {
		snprintf(err, errlen, "'%s' is not ADDR or ADDR/LEN", net);
		return -1;
	}
	c->ignore[c->nignore++].record = kw != NULL;
	return 0;
}

/* "ignore ADDR[/LEN] [record]" */
static int
set_ignore(struct config *c, char *args, char *err, size_t errlen)
{
	return ignore_add(c, args, err, errlen);
}

/*
 * "ignore-file PATH": one "ADDR[/LEN] [record]" a line, '#' comments.
 * Read with the configuration, so again on every reload (SIGHUP).
 */
static int
set_ignore_file(struct config *c, char *args, char *err, size_t errlen)
{
	char		*path, line[256], e[160];
	FILE		*f;
	struct stat	 sb;
	int		 lineno = 0, rv = 0;

	if (one_word(args, &path, err, errlen) == -1)
		return -1;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		fclose(f);
		return -1;
	}
	while (rv == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path,
			    lineno);
			rv = -1;
			break;
		}
		line[strcspn(line, "#\r\n")] = '\0';
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '\0' && ignore_add(c, p, e, sizeof(e)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, e);
			rv = -1;
		}
	}
	if (rv == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rv = -1;
	}
	fclose(f);
	return rv;
}

/* "banner TEXT": the greeting after "220 ", printable ASCII. */
static int
set_banner(struct config *c, char *args, char *err, size_t errlen)
{
	size_t	 n;

	while (isspace((unsigned char)*args))
		args++;
	n = strlen(args);
	while (n > 0 && isspace((unsigned char)args[n - 1]))
		args[--n] = '\0';
	if (n == 0 || n > MAX_REPLY_TEXT) {
		snprintf(err, errlen, "banner text must be 1 to %d characters",
		    MAX_REPLY_TEXT);
		return -1;
	}
	for (const char *p = args; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
			snprintf(err, errlen, "banner text must be printable "
			    "ASCII");
			return -1;
		}
	strlcpy_(c->banner, args, sizeof(c->banner));
	return 0;
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
		c->lineno = lineno;
		if (config_set(c, &keys[i], p, err, sizeof(err)) == 0) {
			if (id >= 0 && id < CONFIG_SEEN_MAX) {
				c->seen |= 1ull << id;
				c->seen_line[id] = (uint16_t)lineno;
			}
			return 0;
		}
		fprintf(stderr, "%s:%d: %s: %s\n", file, lineno, key, err);
		return -1;
	}
	{
		struct suggest	 sg;

		suggest_init(&sg, key);
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			suggest_try(&sg, keys[i].key);
		if (suggest_best(&sg) != NULL)
			fprintf(stderr, "%s:%d: unknown key '%s'; did you mean "
			    "'%s'?\n", file, lineno, key, suggest_best(&sg));
		else
			fprintf(stderr, "%s:%d: unknown key '%s'\n", file,
			    lineno, key);
	}
	return -1;
}

/* Reads a configuration file.  Returns 0, or -1 after printing why. */
int
config_load(struct config *c, const char *path)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 lineno = 0, rv = 0;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	c->file = path;
	while ((n = getline(&line, &cap, f)) != -1) {
		/* What follows a NUL would be silently ignored. */
		if (memchr(line, '\0', (size_t)n) != NULL) {
			fprintf(stderr, "%s:%d: NUL byte in the line\n", path,
			    ++lineno);
			rv = -1;
		} else if (config_parse_line(c, path, ++lineno, line) == -1)
			rv = -1;
	}
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
	char	 ip[ADDR_STRLEN];
	uint16_t port;

	for (int i = 0; i < c->nlisten; i++) {
		util_addr_str((const struct sockaddr *)&c->listen[i].ss, ip,
		    sizeof(ip), &port);
		fprintf(f, "listen %s%s%s:%u", strchr(ip, ':') ? "[" : "", ip,
		    strchr(ip, ':') ? "]" : "", port);
		if (c->listen[i].mx_pref >= 0)
			fprintf(f, " mx %d", c->listen[i].mx_pref);
		if (c->listen[i].proxy)
			fputs(" proxy", f);
		if (c->listen[i].mx_pref >= 0)
			fprintf(f, " # %s", role_name(config_role(c,
			    c->listen[i].mx_pref)));
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
	if (c->banner[0] != '\0')
		fprintf(f, "banner %s\n", c->banner);
	for (int i = 0; i < c->nignore; i++) {
		const struct ignore_net *n = &c->ignore[i];

		inet_ntop(n->family == 4 ? AF_INET : AF_INET6, n->addr, ip,
		    sizeof(ip));
		fprintf(f, "ignore %s/%u%s\n", ip, n->prefix, n->record ?
		    " record" : "");
	}
	fprintf(f, "sensor name %s\n", c->sensor_name);
	if (c->events_log[0] != '\0')
		fprintf(f, "events-log %s\n", c->events_log);
	fprintf(f, "log %s\nlog-level %s\n", log_target_name(c->log_syslog),
	    log_level_name(c->log_level));
	fprintf(f, "defer-stage %s\ndefer-reply %u %s %s\n",
	    defer_stage_name(c->defer_stage), c->defer_code, c->defer_status,
	    c->defer_text);
	fprintf(f, "returning-defer %s\nreturning-window %ums\n"
	    "client-table-size %u\n", returning_name(c->returning_defer),
	    c->returning_window_ms, c->client_table_size);
	fprintf(f, "greeting-delay %ums\nbanner-wait %ums\nreply-delay %ums\n"
	    "stutter %ums %u\ntarpit %s\nmax-clients %u\nmax-per-client %u\n",
	    c->greeting_delay_ms, c->banner_wait_ms, c->reply_delay_ms,
	    c->stutter_ms, c->stutter_bytes, tarpit_name(c->tarpit),
	    c->max_clients,
	    c->max_per_client);
	if (c->metrics_len > 0) {
		util_addr_str((const struct sockaddr *)&c->metrics, ip,
		    sizeof(ip), &port);
		fprintf(f, "metrics %s%s%s:%u\n", strchr(ip, ':') ? "[" : "",
		    ip, strchr(ip, ':') ? "]" : "", port);
	}
	for (int i = 0; i < GEO_KINDS; i++)
		for (int k = 0; k < GEO_FILES; k++)
			if (c->geoip[i][k][0] != '\0')
				fprintf(f, "geoip %s %s\n", geo_kind_name(i),
				    c->geoip[i][k]);
	fprintf(f, "geoip-required %s\n", bool_name(c->geoip_required));
	for (int i = 0; i < c->nexports; i++)
		fprintf(f, "export %s %s every %ums%s%s\n", c->exports[i].format,
		    c->exports[i].path, c->exports[i].every_ms,
		    c->exports[i].args[0] ? " " : "", c->exports[i].args);
	fprintf(f, "sensor %s\nsensor interface %s\nsensor fpdb %s\n",
	    sensor_mode_name(c->sensor), c->sensor_if, c->sensor_fpdb[0] ?
	    c->sensor_fpdb : "none");
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
	    bool_name(c->pipelining), c->idle_timeout_ms,
	    c->max_session_ms, c->max_errors, c->queue_size,
	    c->batch_interval_ms, c->batch_max);
}

/*
 * Every setting of struct config, by the key that sets it, and what a
 * reload does with it (doc/DESIGN.md §3): RELOAD_NET rows are what the
 * network process reads, so REC_RELOAD carries exactly them (chan_conf[]
 * in chan.c; tests/unit/test_chan.c checks the two agree).  A key may
 * fill several fields: its rows are consecutive.  Not listed: file, the
 * cli_ flags, seen and seen_line (the parser's bookkeeping).
 */
#define CF(key, f, str, r) { key, offsetof(struct config, f), \
	sizeof(((struct config *)NULL)->f), str, r }

static const struct config_field config_field_tab[] = {
	CF("listen", listen, 0, RELOAD_RESTART),
	CF("listen", nlisten, 0, RELOAD_RESTART),
	CF("real-mx", real_mx, 0, RELOAD_RESTART),
	CF("real-mx", nreal_mx, 0, RELOAD_RESTART),
	CF("real-mx", real_mx_set, 0, RELOAD_RESTART),
	CF("real-mx", real_mx_pref, 0, RELOAD_RESTART),
	CF("hostname", hostname, 1, RELOAD_NET),
	CF("db", db, 1, RELOAD_RESTART),
	CF("user", user, 1, RELOAD_RESTART),
	CF("chroot", chroot, 1, RELOAD_RESTART),
	CF("defer-stage", defer_stage, 0, RELOAD_NET),
	CF("defer-reply", defer_code, 0, RELOAD_NET),
	CF("defer-reply", defer_status, 1, RELOAD_NET),
	CF("defer-reply", defer_text, 1, RELOAD_NET),
	CF("banner", banner, 1, RELOAD_NET),
	CF("ignore", ignore, 0, RELOAD_NET),	/* and ignore-file */
	CF("ignore", nignore, 0, RELOAD_NET),
	CF("pipelining", pipelining, 0, RELOAD_NET),
	CF("idle-timeout", idle_timeout_ms, 0, RELOAD_NET),
	CF("max-session", max_session_ms, 0, RELOAD_NET),
	CF("max-errors", max_errors, 0, RELOAD_NET),
	CF("queue-size", queue_size, 0, RELOAD_RESTART),
	CF("batch-interval", batch_interval_ms, 0, RELOAD_LIVE),
	CF("batch-max", batch_max, 0, RELOAD_LIVE),
	CF("log-level", log_level, 0, RELOAD_NET),
	CF("returning-defer", returning_defer, 0, RELOAD_NET),
	CF("returning-window", returning_window_ms, 0, RELOAD_NET),
	CF("client-table-size", client_table_size, 0, RELOAD_NET),
	CF("log", log_syslog, 0, RELOAD_RESTART),
	CF("greeting-delay", greeting_delay_ms, 0, RELOAD_NET),
	CF("banner-wait", banner_wait_ms, 0, RELOAD_NET),
	CF("reply-delay", reply_delay_ms, 0, RELOAD_NET),
	CF("stutter", stutter_ms, 0, RELOAD_NET),
	CF("stutter", stutter_bytes, 0, RELOAD_NET),
	CF("tarpit", tarpit, 0, RELOAD_NET),
	CF("max-clients", max_clients, 0, RELOAD_NET),
	CF("max-per-client", max_per_client, 0, RELOAD_NET),
	CF("metrics", metrics, 0, RELOAD_RESTART),
	CF("metrics", metrics_len, 0, RELOAD_RESTART),
	CF("sensor name", sensor_name, 1, RELOAD_LIVE),
	CF("events-log", events_log, 1, RELOAD_RESTART),
	CF("sensor", sensor, 0, RELOAD_RESTART),
	CF("sensor interface", sensor_if, 1, RELOAD_RESTART),
	CF("sensor fpdb", sensor_fpdb, 1, RELOAD_RESTART),
	CF("sensor fpdb", sensor_fpdb_set, 0, RELOAD_RESTART),
	CF("sensor watch", watch, 0, RELOAD_RESTART),
	CF("sensor watch", nwatch, 0, RELOAD_RESTART),
	CF("geoip", geoip, 0, RELOAD_LIVE),
	CF("geoip-required", geoip_required, 0, RELOAD_RESTART),
	CF("export", exports, 0, RELOAD_LIVE),
	CF("export", nexports, 0, RELOAD_LIVE),
};

/* The table above (tests, and whoever needs a setting by its key). */
const struct config_field *
config_fields(size_t *n)
{
	*n = sizeof(config_field_tab) / sizeof(config_field_tab[0]);
	return config_field_tab;
}

/*
 * What a reload applies: out becomes fresh (a configuration just read
 * from running's file), except that every RELOAD_RESTART setting keeps
 * its running value, and so do the command-line overrides (--db,
 * --user, --listen).  Pure: no I/O, no logging.  out may be fresh
 * itself; it takes fresh's parsed export options (running's stay
 * running's to free).  Returns the number of keys whose change needs a
 * restart (kept as running), their names, comma-separated, in why.
 */
int
config_reload(const struct config *running, const struct config *fresh,
    struct config *out, char *why, size_t whylen)
{
	const char	*last = NULL;
	size_t		 n = 0;
	int		 kept = 0;

	if (out != fresh)
		*out = *fresh;
	out->file = running->file;
	out->cli_db = running->cli_db;
	out->cli_user = running->cli_user;
	out->cli_listen = running->cli_listen;
	/* Overrides from the command line are not the file's to change. */
	if (running->cli_db)
		memcpy(out->db, running->db, sizeof(out->db));
	if (running->cli_user)
		memcpy(out->user, running->user, sizeof(out->user));
	if (running->cli_listen) {
		memcpy(out->listen, running->listen, sizeof(out->listen));
		out->nlisten = running->nlisten;
	}
	if (whylen > 0)
		why[0] = '\0';
	for (size_t i = 0; i < sizeof(config_field_tab) /
	    sizeof(config_field_tab[0]); i++) {
		const struct config_field *f = &config_field_tab[i];
		const char	*r = (const char *)running + f->off;
		char		*o = (char *)out + f->off;

		if (f->reload != RELOAD_RESTART)
			continue;
		if ((f->str ? strcmp(r, o) : memcmp(r, o, f->size)) != 0 &&
		    (last == NULL || strcmp(last, f->key) != 0)) {
			last = f->key;
			kept++;
			if (n < whylen)
				n += (size_t)snprintf(why + n, whylen - n,
				    "%s%s", n > 0 ? ", " : "", f->key);
		}
		memcpy(o, r, f->size);
	}
	return kept;
}
