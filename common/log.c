/* SPDX-License-Identifier: ISC */
/*
 * log.c -- one line per event: an ISO-8601 time, then logfmt:
 *
 *	2026-11-30T10:00:00.000Z level=info proc=net msg="closed"
 *	    session=1f3a src=192.0.2.7 reason=timeout ...
 *
 * Callers write "verb words key=value ..." (values from the network
 * escaped and quoted, log_escape()); log_logfmt() turns the words into
 * msg="..." and keeps the key=value pairs in order.  The line goes to
 * stderr, with its syslog priority in front (<3> error ... <7> debug)
 * when stderr is the journal (JOURNAL_STREAM names it), so that
 * "journalctl -p" filters; or, after log_syslog(1) ("log syslog"), to
 * syslog(3) without the time.
 *
 * Exports log_init(), log_setlevel(), log_level_parse(), log_level_name(),
 * log_syslog(), log_escape(), log_endpoint(), log_anomalies(),
 * log_error() ... log_debug(), fatal() and fatalx().
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "decoymx.h"

#define LOG_LINE_MAX	4096

const char	*log_procname = "decoymx";
static int	 log_level = LOG_LVL_INFO;
static int	 log_to_syslog;
static int	 log_journal = -1;	/* -1: not looked yet */

/* Names and syslog priorities of the levels, fatal last. */
static const struct {
	const char	*name;
	int		 prio;
} log_levels[] = {
	{ "error", LOG_ERR }, { "warn", LOG_WARNING }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG }, { "fatal", LOG_ERR },
};

#define LOG_FATAL	4

static void	 log_vwrite(int, const char *, va_list, int);
static int	 log_is_journal(void);
static size_t	 log_logfmt(const char *, char *, size_t);

/* Names this process's lines; stderr is looked at again (after fork). */
void
log_init(const char *procname, int level)
{
	log_procname = procname;
	log_level = level;
	log_journal = -1;
}

void
log_setlevel(int level)
{
	log_level = level;
}

/* The name of a level (LOG_LVL_*), NULL past debug. */
const char *
log_level_name(int level)
{
	return level >= 0 && level < LOG_FATAL ? log_levels[level].name : NULL;
}

/* Returns the level for "error|warn|info|debug", or -1. */
int
log_level_parse(const char *s)
{
	for (int i = 0; i < LOG_FATAL; i++)
		if (strcmp(s, log_levels[i].name) == 0)
			return i;
	return -1;
}

/*
 * Sends the lines to syslog(3) (facility daemon) instead of stderr when
 * on.  Opens the socket now: the network process loses /dev/log when it
 * chroots.
 */
void
log_syslog(int on)
{
	if (on && !log_to_syslog)
		openlog("decoymx", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!on && log_to_syslog)
		closelog();
	log_to_syslog = on;
}

/*
 * Whether stderr is the journal: JOURNAL_STREAM is "DEV:INODE" of the
 * stream systemd connected, and stderr must still be that stream (a
 * child may have redirected it).
 */
static int
log_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	struct stat		 sb;
	unsigned long long	 dev, ino;

	if (log_journal != -1)
		return log_journal;
	log_journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(2, &sb) == 0 && (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
	return log_journal;
}

/*
 * Escapes p[0..len) as a logfmt value between double quotes into out:
 * printable ASCII passes but for " and \ (backslash-escaped); every
 * other byte is \xNN.  Cut to fit cap (always NUL-terminated when cap
 * > 0) at a whole escape.  Returns the length written.
 */
size_t
log_escape(const char *p, size_t len, char *out, size_t cap)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 o = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char	 c = (unsigned char)p[i];
		char		 t[4];
		size_t		 n;

		if (c == '"' || c == '\\') {
			t[0] = '\\';
			t[1] = (char)c;
			n = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			t[0] = (char)c;
			n = 1;
		} else {
			t[0] = '\\';
			t[1] = 'x';
			t[2] = hex[c >> 4];
			t[3] = hex[c & 15];
			n = 4;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, t, n);
		o += n;
	}
	out[o] = '\0';
	return o;
}

/* Whether lines of that level are written (to skip costly arguments). */
int
log_enabled(int level)
{
	return log_level >= level;
}

/* "ADDR:PORT", an IPv6 address in brackets, into buf; returns buf. */
const char *
log_endpoint(const char *ip, unsigned port, char *buf, size_t len)
{
	snprintf(buf, len, strchr(ip, ':') != NULL ? "[%s]:%u" : "%s:%u", ip,
	    port);
	return buf;
}

/* The names of the anomaly bits, comma-separated, or "none"; buf. */
const char *
log_anomalies(uint32_t bits, char *buf, size_t len)
{
	size_t	 n = 0;

	snprintf(buf, len, "none");
	for (int i = 0; i < ANOM_COUNT; i++)
		if (bits & (1u << i))
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0,
			    "%s%s", n ? "," : "", anomaly_name(i));
	return buf;
}

/*
 * Splits a message into its words and key=value pairs (a value may be
 * a double-quoted string with backslash escapes) and writes
 * msg="the words" then the pairs, in order, into out.  Returns the
 * length written.
 */
static size_t
log_logfmt(const char *m, char *out, size_t cap)
{
	char	 words[LOG_LINE_MAX], pairs[LOG_LINE_MAX];
	size_t	 nw = 0, np = 0;

	while (*m != '\0') {
		const char	*t, *eq = NULL;
		size_t		 len;
		int		 quoted = 0;

		while (*m == ' ')
			m++;
		if (*m == '\0')
			break;
		t = m;
		/* key: a letter or _, then letters, digits, _ . - */
		if ((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') ||
		    *m == '_') {
			const char *k = m;

			while ((*k >= 'a' && *k <= 'z') || (*k >= 'A' &&
			    *k <= 'Z') || (*k >= '0' && *k <= '9') ||
			    *k == '_' || *k == '.' || *k == '-')
				k++;
			if (*k == '=')
				eq = k;
		}
		if (eq != NULL && eq[1] == '"') {
			quoted = 1;
			for (m = eq + 2; *m != '\0' && *m != '"'; m++)
				if (*m == '\\' && m[1] != '\0')
					m++;
			if (*m == '"')
				m++;
		}
		while (*m != '\0' && *m != ' ')
			m++;
		len = (size_t)(m - t);
		if (eq != NULL) {
			/* A bare value with a quote would break the line. */
			if (!quoted && memchr(eq + 1, '"', len -
			    (size_t)(eq + 1 - t)) != NULL) {
				size_t	 kl = (size_t)(eq - t) + 1;

				np += (size_t)snprintf(pairs + np, np <
				    sizeof(pairs) ? sizeof(pairs) - np : 0,
				    " %.*s\"", (int)kl, t);
				if (np < sizeof(pairs))
					np += log_escape(eq + 1, len - kl,
					    pairs + np, sizeof(pairs) - np);
				np += (size_t)snprintf(pairs + np, np <
				    sizeof(pairs) ? sizeof(pairs) - np : 0,
				    "\"");
			} else
				np += (size_t)snprintf(pairs + np, np <
				    sizeof(pairs) ? sizeof(pairs) - np : 0,
				    " %.*s", (int)len, t);
		} else {
			if (nw > 0 && nw < sizeof(words) - 1)
				words[nw++] = ' ';
			if (nw < sizeof(words))
				nw += log_escape(t, len, words + nw,
				    sizeof(words) - nw);
		}
		if (np >= sizeof(pairs))
			np = sizeof(pairs) - 1;
	}
	words[nw < sizeof(words) ? nw : sizeof(words) - 1] = '\0';
	pairs[np] = '\0';
	if (nw == 0)
		return (size_t)snprintf(out, cap, "%s", pairs[0] == ' ' ?
		    pairs + 1 : pairs);
	return (size_t)snprintf(out, cap, "msg=\"%s\"%s", words, pairs);
}

/* Formats and writes one line at level lvl (a log_levels index). */
static void
log_vwrite(int lvl, const char *fmt, va_list ap, int err)
{
	char	 ts[32], msg[LOG_LINE_MAX], body[LOG_LINE_MAX];
	char	 e[256];
	size_t	 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = log_logfmt(msg, body, sizeof(body));
	if (err && n < sizeof(body)) {
		log_escape(strerror(err), strlen(strerror(err)), e, sizeof(e));
		snprintf(body + n, sizeof(body) - n, " error=\"%s\"", e);
	}
	if (log_to_syslog) {
		syslog(log_levels[lvl].prio, "level=%s proc=%s %s",
		    log_levels[lvl].name, log_procname, body);
		return;
	}
	util_iso8601(util_now_us(), ts, sizeof(ts));
	if (log_is_journal())
		fprintf(stderr, "<%d>", log_levels[lvl].prio);
	fprintf(stderr, "%s level=%s proc=%s %s\n", ts, log_levels[lvl].name,
	    log_procname, body);
}

#define LOG_FN(name, lvl)							\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
									\
	if (log_level < (lvl))						\
		return;							\
	va_start(ap, fmt);						\
	log_vwrite(lvl, fmt, ap, 0);					\
	va_end(ap);							\
}

LOG_FN(log_error, LOG_LVL_ERROR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

/* Startup failures and impossible states only: log with errno and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_FATAL, fmt, ap, err);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_FATAL, fmt, ap, 0);
	va_end(ap);
	exit(EXIT_RUNTIME);
}
