/*
 * log.c -- one line per event on stderr: an ISO-8601 time, the process
 * name, then "verb key=value ..." text.  Callers escape anything that came
 * from the network (util_escape_term) before it gets here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decoymx.h"

const char	*log_procname = "decoymx";
static int	 log_level = LOG_LVL_INFO;

static void	 log_vwrite(const char *, const char *, va_list, int);

void
log_init(const char *procname, int level)
{
	log_procname = procname;
	log_level = level;
}

void
log_setlevel(int level)
{
	log_level = level;
}

/* Returns the level for "error|warn|info|debug", or -1. */
int
log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static void
log_vwrite(const char *level, const char *fmt, va_list ap, int err)
{
	char	 ts[32], msg[2048];
	int64_t	 now = util_now_us();

	util_iso8601(now, ts, sizeof(ts));
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		fprintf(stderr, "%s %s %s: %s: %s\n", ts, log_procname, level,
		    msg, strerror(err));
	else
		fprintf(stderr, "%s %s %s: %s\n", ts, log_procname, level, msg);
}

#define LOG_FN(name, lvl, tag)						\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
									\
	if (log_level < (lvl))						\
		return;							\
	va_start(ap, fmt);						\
	log_vwrite(tag, fmt, ap, 0);					\
	va_end(ap);							\
}

LOG_FN(log_error, LOG_LVL_ERROR, "error")
LOG_FN(log_warn, LOG_LVL_WARN, "warn")
LOG_FN(log_info, LOG_LVL_INFO, "info")
LOG_FN(log_debug, LOG_LVL_DEBUG, "debug")

/* Startup failures and impossible states only: log with errno and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 err = errno;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, err);
	va_end(ap);
	exit(EXIT_RUNTIME);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, 0);
	va_end(ap);
	exit(EXIT_RUNTIME);
}
