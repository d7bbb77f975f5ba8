/* SPDX-License-Identifier: ISC */
/*
 * test_log.c -- the log line (common/log.c): "verb words key=value"
 * messages become logfmt after the time, values with quotes stay one
 * value, escapes are printable; the journal prefix only when stderr is
 * the stream JOURNAL_STREAM names; the endpoint and anomaly helpers;
 * and "did you mean" (common/suggest.c).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "decoymx.h"
#include "t.h"

static char	*logged(void (*)(const char *, ...), const char *);
static const char *suggest(const char *, const char *const *);

/*
 * What one call of fn(fmt) writes to stderr, without the time (up to
 * the first space), in a static buffer.  stderr goes to a temporary
 * file meanwhile.
 */
static char *
logged(void (*fn)(const char *, ...), const char *msg)
{
	static char	 buf[8192];
	char		*p;
	FILE		*tmp = tmpfile();
	int		 saved = dup(2);
	size_t		 n;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	fn("%s", msg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (buf[0] == '<')
		return buf;		/* journal prefix: keep it all */
	p = strchr(buf, ' ');
	return p != NULL ? p + 1 : buf;
}

static void
test_logfmt(void)
{
	log_init("net", LOG_LVL_DEBUG);
	unsetenv("JOURNAL_STREAM");
	CHECK_STR(logged(log_info, "store started db=/x.db"),
	    "level=info proc=net msg=\"store started\" db=/x.db");
	/* words after a pair join the message; pairs keep their order */
	CHECK_STR(logged(log_warn, "export format=plain path=/a failed "
	    "status=1"), "level=warn proc=net msg=\"export failed\" "
	    "format=plain path=/a status=1");
	/* a quoted value with spaces, quotes and = is one value */
	CHECK_STR(logged(log_info, "session=1f closed helo=\"a \\\"b\\\" c=d\" "
	    "rcpts=0"), "level=info proc=net msg=\"closed\" session=1f "
	    "helo=\"a \\\"b\\\" c=d\" rcpts=0");
	/* a bare value holding a quote gets quoted and escaped */
	CHECK_STR(logged(log_error, "bad x=a\"b"),
	    "level=error proc=net msg=\"bad\" x=\"a\\\"b\"");
	/* words with quotes, backslashes and bytes are escaped */
	CHECK_STR(logged(log_debug, "say \"hi\" c:\\ \x1b[0m"),
	    "level=debug proc=net msg=\"say \\\"hi\\\" c:\\\\ \\x1b[0m\"");
	/* only pairs: no msg */
	CHECK_STR(logged(log_info, "a=1 b=2"), "level=info proc=net a=1 b=2");
	/* a level below the threshold writes nothing */
	log_setlevel(LOG_LVL_WARN);
	CHECK_STR(logged(log_info, "quiet"), "");
	CHECK(!log_enabled(LOG_LVL_INFO) && log_enabled(LOG_LVL_WARN));
	log_setlevel(LOG_LVL_DEBUG);
}

static void
test_escape(void)
{
	char	 out[16];

	CHECK(log_escape("a\"b\\c\n", 6, out, sizeof(out)) == 11);
	CHECK_STR(out, "a\\\"b\\\\c\\x0a");
	/* cut at a whole escape, always terminated */
	CHECK(log_escape("\x01\x02\x03\x04", 4, out, 10) == 8);
	CHECK_STR(out, "\\x01\\x02");
	CHECK(log_escape("abc", 3, out, 1) == 0 && out[0] == '\0');
}

static void
test_helpers(void)
{
	char	 buf[128];

	CHECK_STR(log_endpoint("192.0.2.1", 25, buf, sizeof(buf)),
	    "192.0.2.1:25");
	CHECK_STR(log_endpoint("2001:db8::1", 2525, buf, sizeof(buf)),
	    "[2001:db8::1]:2525");
	CHECK_STR(log_anomalies(0, buf, sizeof(buf)), "none");
	snprintf(buf, sizeof(buf), "%s,%s", anomaly_name(0), anomaly_name(4));
	{
		char	 got[128];

		CHECK_STR(log_anomalies(1 | 16, got, sizeof(got)), buf);
	}
}

/* The journal prefix: only when stderr is the stream named. */
static void
test_journal(void)
{
	FILE		*tmp = tmpfile();
	struct stat	 sb;
	char		 env[64], *line;
	int		 saved = dup(2);

	/* log.c looks once per log_init(): check in a child. */
	fflush(stdout);
	fflush(stderr);
	fstat(fileno(tmp), &sb);
	snprintf(env, sizeof(env), "%llu:%llu",
	    (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
	if (fork() == 0) {
		setenv("JOURNAL_STREAM", env, 1);
		dup2(fileno(tmp), 2);
		log_init("child", LOG_LVL_DEBUG);
		log_warn("w");
		log_error("e");
		log_debug("d");
		fflush(stderr);
		_exit(0);
	}
	wait(NULL);
	dup2(saved, 2);
	close(saved);
	{
		char	 buf[1024];
		size_t	 n;

		rewind(tmp);
		n = fread(buf, 1, sizeof(buf) - 1, tmp);
		buf[n] = '\0';
		line = buf;
		CHECK(strncmp(line, "<4>", 3) == 0);
		CHECK(strstr(line, "\n<3>") != NULL);
		CHECK(strstr(line, "\n<7>") != NULL);
	}
	fclose(tmp);
	/* another stream: no prefix */
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init("net", LOG_LVL_DEBUG);
	CHECK(strncmp(logged(log_warn, "x"), "level=warn", 10) == 0);
	unsetenv("JOURNAL_STREAM");
}

/* The suggestion for word among the NULL-ended cands, or NULL. */
static const char *
suggest(const char *word, const char *const *cands)
{
	static struct suggest	 s;

	suggest_init(&s, word);
	for (; *cands != NULL; cands++)
		suggest_try(&s, *cands);
	return suggest_best(&s);
}

static void
test_suggest(void)
{
	static const char *const cmds[] = { "run", "report", "export", "db",
	    "geo", "sensor", "version", "help", NULL };

	CHECK_STR(suggest("reprot", cmds), "report");
	CHECK_STR(suggest("exort", cmds), "export");
	CHECK_STR(suggest("vresion", cmds), "version");
	CHECK_STR(suggest("rnu", cmds), "run");
	CHECK(suggest("report", cmds) == NULL);		/* no typo */
	CHECK(suggest("xy", cmds) == NULL);		/* db: too short */
	CHECK(suggest("frobnicate", cmds) == NULL);
	CHECK(suggest("", cmds) == NULL);
}

int
main(void)
{
	test_logfmt();
	test_escape();
	test_helpers();
	test_journal();
	test_suggest();
	return t_done("test_log");
}
