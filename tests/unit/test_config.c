/* SPDX-License-Identifier: ISC */
/*
 * test_config.c -- the configuration parser: every key's validator, the
 * "file:line: message" errors, --listen syntax, roles, and the whole-file
 * check.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "decoymx.h"
#include "daemon.h"
#include "export.h"

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
		"real-mx 192.0.2.20 mx",
		"real-mx 192.0.2.20 pref 20",
		"real-mx 192.0.2.20 mx 70000",
		"returning-defer rcpt",
		"returning-window 0",
		"returning-window 2d",
		"client-table-size 10",
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

/*
 * Every single-valued key given twice is an error naming the key (it
 * would silently replace the first); keys that add (listen, real-mx,
 * export, sensor watch) and the per-kind settings of sensor and geoip
 * may repeat as long as each setting is given once.
 */
static void
test_duplicates(void)
{
	static const struct {
		const char	*first, *second;
		int		 ok;
	} t[] = {
		{ "hostname a.example", "hostname b.example", 0 },
		{ "db /tmp/a.db", "db /tmp/b.db", 0 },
		{ "user a", "user b", 0 },
		{ "chroot /a", "chroot /b", 0 },
		{ "defer-stage rcpt", "defer-stage mail", 0 },
		{ "defer-reply 450 4.7.1 a", "defer-reply 451 4.7.1 b", 0 },
		{ "pipelining yes", "pipelining no", 0 },
		{ "idle-timeout 1s", "idle-timeout 2s", 0 },
		{ "max-session 1m", "max-session 2m", 0 },
		{ "max-errors 3", "max-errors 4", 0 },
		{ "queue-size 3", "queue-size 4", 0 },
		{ "batch-interval 1s", "batch-interval 2s", 0 },
		{ "batch-max 3", "batch-max 4", 0 },
		{ "log-level info", "log-level debug", 0 },
		{ "greeting-delay 1s", "greeting-delay 0", 0 },
		{ "reply-delay 1s", "reply-delay 0", 0 },
		{ "stutter 1s", "stutter 0", 0 },
		{ "tarpit all", "tarpit none", 0 },
		{ "max-clients 3", "max-clients 4", 0 },
		{ "max-per-client 3", "max-per-client 4", 0 },
		{ "metrics 127.0.0.1:9100", "metrics 127.0.0.1:9101", 0 },
		{ "events-log /tmp/a", "events-log /tmp/b", 0 },
		{ "geoip-required yes", "geoip-required no", 0 },
		{ "returning-defer off", "returning-defer greeting", 0 },
		{ "returning-window 1h", "returning-window 2h", 0 },
		{ "client-table-size 1000", "client-table-size 2000", 0 },
		{ "sensor on", "sensor off", 0 },
		{ "sensor auto", "sensor auto", 0 },
		{ "sensor interface lo", "sensor interface eth0", 0 },
		{ "sensor fpdb /a", "sensor fpdb /b", 0 },
		{ "sensor name a", "sensor name b", 0 },
		{ "geoip country /a", "geoip country /b", 1 },	/* split files */
		{ "geoip asn /a", "geoip asn /b", 1 },	/* split files */
		{ "geoip city /a", "geoip city /b", 1 },	/* split files */
		{ "listen 127.0.0.1:25", "listen 127.0.0.1:26", 1 },
		{ "real-mx 192.0.2.20 mx 20", "real-mx 2001:db8::20", 1 },
		{ "real-mx 192.0.2.20 mx 20", "real-mx 192.0.2.21 mx 30", 1 },
		{ "real-mx 192.0.2.20 mx 20", "real-mx 192.0.2.20 mx 20", 0 },
		{ "sensor watch 192.0.2.1", "sensor watch 192.0.2.2", 1 },
		{ "sensor on", "sensor interface lo", 1 },
		{ "geoip country /a", "geoip asn /b", 1 },
		{ "hostname a.example", "db /tmp/a.db", 1 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		config_defaults(&c);
		CHECK(config_parse_line(&c, "t.conf", 3, t[i].first) == 0);
		int rv = config_parse_line(&c, "t.conf", 7, t[i].second);
		if (rv != (t[i].ok ? 0 : -1))
			fprintf(stderr, "case %zu: %s / %s\n", i, t[i].first,
			    t[i].second);
		CHECK(rv == (t[i].ok ? 0 : -1));
	}
	/* The other value, on a fresh configuration, is fine on its own. */
	config_defaults(&c);
	CHECK(line("hostname b.example") == 0);
}

/* The export parser the program plugs in (config_set_export_parse()). */
static char	 seen_export[1600];

static struct export_opts *
stub_export_parse(const struct export_conf *x, char *err, size_t errlen)
{
	snprintf(seen_export, sizeof(seen_export), "%s|%s|%s", x->format,
	    x->path, x->args);
	if (strstr(x->args, "--bad") != NULL) {
		snprintf(err, errlen, "--bad: stub refuses it");
		return NULL;
	}
	return calloc(1, sizeof(struct export_opts));
}

static void
test_export_parse(void)
{
	/* Without a parser (a library user), options are kept as written. */
	config_set_export_parse(NULL);
	config_defaults(&c);
	CHECK(line("export gopher /tmp/x every 5m --whatever") == 0);
	CHECK(c.nexports == 1 && strcmp(c.exports[0].args, "--whatever") == 0);
	CHECK(c.exports[0].opts == NULL);
	/* The parser sees the line's words and its verdict is the line's. */
	config_set_export_parse(stub_export_parse);
	config_defaults(&c);
	CHECK(line("export plain /tmp/y every 1m  --ttl 60") == 0);
	CHECK_STR(seen_export, "plain|/tmp/y|--ttl 60");
	CHECK(c.exports[0].opts != NULL);
	CHECK(line("export plain /tmp/y every 1m --bad") == -1);
	CHECK(c.nexports == 1);
	config_free(&c);
	CHECK(c.exports[0].opts == NULL);
	/* The program's parser is the export command's option table. */
	hooks_install();
	config_defaults(&c);
	CHECK(line("export rbldnsd /tmp/z every 5m --ttl 60 --per-entry") == 0);
	CHECK(c.exports[0].opts != NULL && c.exports[0].opts->per_entry == 1);
	CHECK_STR(c.exports[0].opts->ttl, "60");
	CHECK_STR(c.exports[0].opts->output, "/tmp/z");
	CHECK(line("export gopher /tmp/z every 5m") == -1);
	CHECK(line("export rbldnsd /tmp/z every 5m --ttl \"60") == -1);
	CHECK(line("export rbldnsd /tmp/z every 5m --ttl abc") == -1);
	CHECK(line("export rbldnsd /tmp/z every 5m --no-such-option") == -1);
	CHECK(c.nexports == 1);
	config_free(&c);
	config_set_export_parse(NULL);
}

/*
 * config_reload() on every row of config_fields(): a changed RELOAD_LIVE
 * or RELOAD_NET setting is applied, a changed RELOAD_RESTART one keeps
 * its running value and is named.
 */
static struct config	 run, fresh, out;

static void
test_reload_classes(void)
{
	const struct config_field *f;
	size_t	 nf;
	char	 why[256];

	f = config_fields(&nf);
	CHECK(nf > 40);
	for (size_t i = 0; i < nf; i++) {
		char	*p = (char *)&fresh + f[i].off;
		int	 kept;

		config_defaults(&run);
		config_defaults(&fresh);
		if (f[i].str) {
			p[0] = p[0] == 'Z' ? 'Y' : 'Z';
			p[1] = '\0';
		} else
			p[0] ^= 1;
		kept = config_reload(&run, &fresh, &out, why, sizeof(why));
		if (f[i].reload == RELOAD_RESTART) {
			CHECK(kept == 1);
			CHECK_STR(why, f[i].key);
			CHECK(memcmp((char *)&out + f[i].off, (char *)&run +
			    f[i].off, f[i].size) == 0);
		} else {
			CHECK(kept == 0 && why[0] == '\0');
			CHECK(memcmp((char *)&out + f[i].off, p, f[i].size) ==
			    0);
		}
	}
	/* Rows of one key are consecutive (a key is named once). */
	for (size_t i = 0; i < nf; i++)
		for (size_t j = i + 2; j < nf; j++)
			if (strcmp(f[i].key, f[j].key) == 0)
				CHECK(strcmp(f[j - 1].key, f[i].key) == 0);
}

/* The same on whole files, as a SIGHUP reads them. */
static void
test_reload(void)
{
	char	 why[256];
	int	 kept;

	config_set_export_parse(NULL);
	config_defaults(&run);
	CHECK(config_parse_line(&run, "a.conf", 1, "listen 127.0.0.1:2525") ==
	    0);
	CHECK(config_parse_line(&run, "a.conf", 2, "queue-size 100") == 0);
	CHECK(config_parse_line(&run, "a.conf", 3, "sensor fpdb /a.fp") == 0);
	run.file = "a.conf";
	config_defaults(&fresh);
	CHECK(config_parse_line(&fresh, "a.conf", 1, "listen 127.0.0.1:2526")
	    == 0);
	CHECK(config_parse_line(&fresh, "a.conf", 2, "queue-size 200") == 0);
	CHECK(config_parse_line(&fresh, "a.conf", 3, "sensor fpdb /b.fp /c.fp")
	    == 0);
	CHECK(config_parse_line(&fresh, "a.conf", 4, "hostname new.example")
	    == 0);
	CHECK(config_parse_line(&fresh, "a.conf", 5, "batch-max 7") == 0);
	CHECK(config_parse_line(&fresh, "a.conf", 6, "export plain /x every "
	    "1m") == 0);
	kept = config_reload(&run, &fresh, &out, why, sizeof(why));
	/* Needs a restart: named once each, in the table's order. */
	CHECK(kept == 3);
	CHECK_STR(why, "listen, queue-size, sensor fpdb");
	CHECK(out.queue_size == 100 && out.nlisten == 1);
	CHECK_STR(out.sensor_fpdb, "/a.fp");
	CHECK(out.listen[0].ss.ss_family == AF_INET &&
	    ntohs(((struct sockaddr_in *)&out.listen[0].ss)->sin_port) ==
	    2525);
	/* Live: the network process's and the store's. */
	CHECK_STR(out.hostname, "new.example");
	CHECK(out.batch_max == 7 && out.nexports == 1);
	CHECK(out.file == run.file);
	/* A why too small is cut, never overrun; the count stays. */
	CHECK(config_reload(&run, &fresh, &out, why, 8) == 3);
	CHECK(strlen(why) < 8);
	/* Nothing changed: nothing named. */
	CHECK(config_reload(&run, &run, &out, why, sizeof(why)) == 0);
	CHECK_STR(why, "");
	/* Command-line overrides stay, without a warning. */
	config_defaults(&run);
	strcpy(run.db, "/cli.db");
	run.cli_db = 1;
	CHECK(config_listen_arg(&run, "127.0.0.1:2600", why, sizeof(why)) ==
	    0);
	run.cli_listen = 1;
	config_defaults(&fresh);
	CHECK(config_parse_line(&fresh, "a.conf", 1, "db /file.db") == 0);
	CHECK(config_parse_line(&fresh, "a.conf", 2, "listen 127.0.0.1:2525")
	    == 0);
	CHECK(config_reload(&run, &fresh, &out, why, sizeof(why)) == 0);
	CHECK_STR(out.db, "/cli.db");
	CHECK(out.cli_db == 1 && out.cli_listen == 1 && out.nlisten == 1);
	CHECK(ntohs(((struct sockaddr_in *)&out.listen[0].ss)->sin_port) ==
	    2600);
	/* In place, as proc_reload() does it. */
	CHECK(config_parse_line(&fresh, "a.conf", 3, "queue-size 5") == 0);
	CHECK(config_reload(&run, &fresh, &fresh, why, sizeof(why)) == 1);
	CHECK_STR(why, "queue-size");
	CHECK(fresh.queue_size == run.queue_size);
	CHECK_STR(fresh.db, "/cli.db");
}

/*
 * Every name of an enumerated key is taken by its setter and printed by
 * config_dump() as given (one table for both), and the dump reads back
 * as the same configuration.
 */
static void
test_names(void)
{
	static const char *lines[] = {
		"defer-stage greeting", "defer-stage helo", "defer-stage mail",
		"defer-stage rcpt", "defer-stage data", "tarpit none",
		"tarpit bots", "tarpit all", "sensor off", "sensor auto",
		"sensor on", "returning-defer off", "returning-defer greeting",
		"log stderr", "log syslog", "log-level error", "log-level warn",
		"log-level info", "log-level debug", "pipelining yes",
		"pipelining no", "geoip-required yes", "geoip-required no",
		"geoip country /g/c.mmdb", "geoip asn /g/a.mmdb",
		"geoip city /g/ci.mmdb",
	};
	char	*dump, *dump2, *p, *save = NULL, want[64];
	size_t	 len;
	FILE	*f;
	int	 n = 0;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		config_defaults(&c);
		CHECK(line(lines[i]) == 0);
		f = open_memstream(&dump, &len);
		config_dump(&c, f);
		fclose(f);
		snprintf(want, sizeof(want), "\n%s\n", lines[i]);
		if (strstr(dump, want) == NULL)
			fprintf(stderr, "not in the dump: %s\n", lines[i]);
		CHECK(strstr(dump, want) != NULL);
		free(dump);
	}
	/* A wrong name is refused with the list of the right ones. */
	config_defaults(&c);
	CHECK(line("tarpit some") == -1);
	CHECK(line("sensor maybe") == -1);
	CHECK(line("geoip town /x") == -1);

	/* The dump of a configuration reads back as itself. */
	config_defaults(&c);
	CHECK(line("listen 127.0.0.1:2525 mx 10") == 0);
	CHECK(line("defer-stage helo") == 0);
	CHECK(line("tarpit none") == 0);
	CHECK(line("sensor off") == 0);
	CHECK(line("log-level debug") == 0);
	CHECK(line("geoip asn /g/a.mmdb") == 0);
	CHECK(line("ignore 192.0.2.0/24 record") == 0);
	f = open_memstream(&dump, &len);
	config_dump(&c, f);
	fclose(f);
	config_defaults(&c);
	p = strdup(dump);
	for (char *l = strtok_r(p, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save))
		CHECK(config_parse_line(&c, "dump", ++n, l) == 0);
	free(p);
	f = open_memstream(&dump2, &len);
	config_dump(&c, f);
	fclose(f);
	CHECK_STR(dump2, dump);
	free(dump);
	free(dump2);
}

/* Several real-mx: the lowest preference sets the roles. */
static void
test_real_mx(void)
{
	char err[256];

	config_defaults(&c);
	CHECK(line("listen 127.0.0.1:25 mx 10") == 0);
	CHECK(line("listen 127.0.0.1:26 mx 40") == 0);
	CHECK(line("real-mx 2001:db8::20") == 0);
	CHECK(c.real_mx_pref == -1 && config_role(&c, 10) == ROLE_DECOY);
	CHECK(line("real-mx 192.0.2.30 mx 30") == 0);
	CHECK(line("real-mx 192.0.2.20 mx 20") == 0);
	CHECK(c.nreal_mx == 3 && c.real_mx_pref == 20);
	CHECK(config_role(&c, 10) == ROLE_PRIMARY);
	CHECK(config_role(&c, 25) == ROLE_BACKUP);
	CHECK(config_role(&c, 40) == ROLE_BACKUP);
	CHECK(config_check(&c, err, sizeof(err)) == 0);
	CHECK(line("listen 127.0.0.1:27 mx 30") == 0);	/* a real one's */
	CHECK(config_check(&c, err, sizeof(err)) == -1);

	config_defaults(&c);
	CHECK(line("listen 127.0.0.1:25 mx 10") == 0);
	CHECK(line("real-mx 192.0.2.20") == 0);
	CHECK(config_check(&c, err, sizeof(err)) == -1);
	CHECK(strstr(err, "mx N") != NULL);
	CHECK(c.returning_defer == RETURNING_RESET);	/* the default */
	CHECK(c.returning_window_ms == 3600000);
	CHECK(line("returning-defer off") == 0);
	CHECK(c.returning_defer == RETURNING_OFF);
	config_defaults(&c);
	CHECK(line("returning-defer greeting") == 0);
	CHECK(c.returning_defer == RETURNING_GREETING);
	CHECK(line("returning-window 20m") == 0);
	CHECK(c.returning_window_ms == 1200000);
	CHECK(line("client-table-size 5000") == 0);
	CHECK(c.client_table_size == 5000);
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
	test_duplicates();
	test_real_mx();
	test_export_parse();
	test_reload_classes();
	test_names();
	test_reload();
	test_util();
	return t_done("test_config");
}
