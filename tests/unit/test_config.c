/*
 * test_config.c -- the configuration parser: every key's validator, the
 * "file:line: message" errors, --listen syntax, roles, and the whole-file
 * check.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "decoymx.h"

static struct config c;

static int
line(const char *l)
{
	return config_parse_line(&c, "t.conf", 1, l);
}

static void
test_keys(void)
{
	config_defaults(&c);
	CHECK(c.defer_code == 450 && c.defer_stage == DEFER_RCPT);
	CHECK(c.pipelining == 0);
	CHECK(line("# a comment") == 0);
	CHECK(line("   ") == 0);
	CHECK(line("listen 127.0.0.1:2525 mx 10  # trailing comment") == 0);
	CHECK(line("listen [::1]:2526") == 0);
	CHECK(c.nlisten == 2 && c.listen[0].mx_pref == 10);
	CHECK(c.listen[1].mx_pref == -1);
	CHECK(c.listen[1].ss.ss_family == AF_INET6);
	CHECK(line("real-mx 192.0.2.20 mx 20") == 0);
	CHECK(config_role(&c, 10) == ROLE_PRIMARY);
	CHECK(config_role(&c, 40) == ROLE_BACKUP);
	CHECK(config_role(&c, -1) == ROLE_DECOY);
	CHECK(line("hostname mx10.example.net") == 0);
	CHECK_STR(c.hostname, "mx10.example.net");
	CHECK(line("defer-stage data") == 0 && c.defer_stage == DEFER_DATA);
	CHECK(line("defer-reply 451 4.3.2 Please try again later") == 0);
	CHECK(c.defer_code == 451);
	CHECK_STR(c.defer_text, "Please try again later");
	CHECK(line("idle-timeout 90s") == 0 && c.idle_timeout_ms == 90000);
	CHECK(line("max-session 5m") == 0 && c.max_session_ms == 300000);
	CHECK(line("batch-interval 250ms") == 0 &&
	    c.batch_interval_ms == 250);
	CHECK(line("pipelining yes") == 0 && c.pipelining == 1);
	CHECK(line("log-level debug") == 0 && c.log_level == LOG_LVL_DEBUG);
	CHECK(line("queue-size 5") == 0 && c.queue_size == 5);
}

static void
test_errors(void)
{
	static const char *bad[] = {
		"nosuchkey 1",
		"listen 127.0.0.1",			/* no port */
		"listen 127.0.0.1:0",
		"listen 127.0.0.1:70000",
		"listen 999.0.0.1:25",
		"listen 127.0.0.1:25 mx",
		"listen 127.0.0.1:25 pref 10",
		"real-mx 192.0.2.20",
		"real-mx 192.0.2.20 mx 70000",
		"defer-stage never",
		"defer-reply 550 5.7.1 No",		/* never 5xx */
		"defer-reply 250 2.0.0 Ok",
		"defer-reply 450 5.7.1 Mismatch",
		"defer-reply 450 4.7.1",
		"idle-timeout forever",
		"idle-timeout 0",
		"pipelining maybe",
		"hostname bad/name",
		"hostname a b",
		"log-level loud",
		"max-errors 0",
		"chroot relative/dir",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		int rv = line(bad[i]);
		if (strncmp(bad[i], "defer-reply 550", 15) == 0)
			CHECK(rv == -1);	/* message names the 5xx rule */
		if (rv != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(rv == -1);
	}
}

static void
test_listen_arg(void)
{
	char err[256];

	config_defaults(&c);
	CHECK(config_listen_arg(&c, "127.0.0.2:25,mx=40", err,
	    sizeof(err)) == 0);
	CHECK(c.listen[0].mx_pref == 40);
	CHECK(config_listen_arg(&c, "[::1]:25,mx=5", err, sizeof(err)) == 0);
	CHECK(config_listen_arg(&c, "127.0.0.1:25,pref=5", err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "mx=") != NULL);
	CHECK(config_listen_arg(&c, "::1:25", err, sizeof(err)) == -1);
}

static void
test_file(void)
{
	char	 path[] = "/tmp/decoymx-test-XXXXXX";
	char	 err[256];
	int	 fd = mkstemp(path);
	FILE	*f = fdopen(fd, "w");

	fputs("listen 127.0.0.1:2525 mx 10\nreal-mx 127.0.0.1 mx 20\n"
	    "db /tmp/x.db\n", f);
	fclose(f);
	config_defaults(&c);
	CHECK(config_load(&c, path) == 0);
	CHECK(config_check(&c, err, sizeof(err)) == 0);

	f = fopen(path, "a");
	fputs("listen 127.0.0.1:2526 mx 20\n", f);	/* same as real MX */
	fclose(f);
	config_defaults(&c);
	CHECK(config_load(&c, path) == 0);
	CHECK(config_check(&c, err, sizeof(err)) == -1);

	config_defaults(&c);
	CHECK(config_check(&c, err, sizeof(err)) == -1);
	CHECK(strstr(err, "no listener") != NULL);
	CHECK(config_load(&c, "/nonexistent/decoymx.conf") == -1);
	unlink(path);
}

static void
test_util(void)
{
	uint64_t	 ms;
	int64_t		 us;
	char		 buf[64];

	CHECK(util_parse_duration_ms("100ms", &ms) == 0 && ms == 100);
	CHECK(util_parse_duration_ms("7d", &ms) == 0 && ms == 604800000);
	CHECK(util_parse_duration_ms("30", &ms) == 0 && ms == 30000);
	CHECK(util_parse_duration_ms("-1s", &ms) == -1);
	CHECK(util_parse_duration_ms("1y", &ms) == -1);
	CHECK(util_parse_duration_ms("99999999999999999999d", &ms) == -1);
	CHECK(util_parse_time("2026-11-27T06:00:00Z", 0, &us) == 0);
	util_iso8601(us, buf, sizeof(buf));
	CHECK_STR(buf, "2026-11-27T06:00:00.000Z");
	CHECK(util_parse_time("24h", 100000000000LL, &us) == 0 &&
	    us == 100000000000LL - 86400000000LL);
	CHECK(util_parse_time("yesterday", 0, &us) == -1);
	util_escape_term("a\x1b[31mb\\\n", 9, buf, sizeof(buf));
	CHECK_STR(buf, "a\\x1b[31mb\\\\\\x0a");
	util_escape_term("abcdefghij", 10, buf, 8);
	CHECK_STR(buf, "abcd...");
	util_escape_term("abc", 3, buf, 4);
	CHECK_STR(buf, "abc");
}

int
main(void)
{
	test_keys();
	test_errors();
	test_listen_arg();
	test_file();
	test_util();
	return t_done("test_config");
}
