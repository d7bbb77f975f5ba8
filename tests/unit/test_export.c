/* SPDX-License-Identifier: ISC */
/*
 * test_export.c -- the classification rules on hand-made evidence, the
 * allowlist parser and lookups, and the word splitting of configured
 * exports.  The exports themselves are tested against their consumers
 * in tests/integration/test_export.py.
 */
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "t.h"

#define MIN_US	(60LL * 1000000)

static void	 test_rules(void);
static void	 test_allowlist(void);
static void	 test_argv(void);
static void	 test_opts_parse(void);
static void	 test_sort_keys(void);
static int	 ref_key_cmp(const void *, const void *);

static void
test_rules(void)
{
	struct classify_conf	 c;
	struct evidence		 e;
	struct verdict		 v;

	classify_defaults(&c);
	c.now_us = 1000 * MIN_US;

	/* Only ever the backup: backup-direct, and strong even if it retries. */
	memset(&e, 0, sizeof(e));
	e.backup_sessions = 3;
	e.backup_first_us = 10 * MIN_US;
	e.helo_ok = 3;
	e.retries = 2;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 1u << REASON_BACKUP_DIRECT);
	CHECK(v.mta != NULL && v.strong && v.listed);

	/* Primary first, then backup, like an MTA walking the list. */
	e.primary_sessions = 1;
	e.primary_first_us = 9 * MIN_US;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0 && !v.listed);
	/* ... but backup first: the primary came later. */
	e.primary_first_us = 11 * MIN_US;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 1u << REASON_BACKUP_DIRECT);
	CHECK(!v.strong && !v.listed);		/* it retries like a queue */
	e.retries = 0;
	classify_client(&c, &e, &v);
	CHECK(v.listed);
	/* The sensor saw it try the primary before: not direct. */
	e.syn_before_backup = 1;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0);

	/*
	 * nolisting-only needs the sensor to have seen the real MX in the
	 * client's family, and a window (1h: an MTA's first retry) passed.
	 */
	memset(&e, 0, sizeof(e));
	e.primary_sessions = 1;
	e.primary_first_us = c.now_us - 70 * MIN_US;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0 && v.note == NULL);
	e.sensor_any = 1;		/* seen, but in the other family */
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0 && !v.listed);
	CHECK(v.note != NULL && strstr(v.note, "family") != NULL);
	e.sensor = 1;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 1u << REASON_NOLISTING_ONLY && v.listed);
	e.primary_first_us = c.now_us - 50 * MIN_US;	/* retry still due */
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0 && strstr(v.note, "not yet") != NULL);
	e.primary_first_us = c.now_us - 70 * MIN_US;
	/* A retry of the same envelope is no proof: still listed. */
	e.helo_ok = 2;
	e.retries = 1;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 1u << REASON_NOLISTING_ONLY && v.listed);
	CHECK(v.mta != NULL && strstr(v.note, "retried") != NULL);
	/* Another address with the same envelope walked: not listed. */
	strcpy(e.linked_ip, "192.0.2.25");
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0 && !v.listed && v.mta != NULL);
	CHECK(strstr(v.note, "same envelope") != NULL);
	e.linked_ip[0] = '\0';
	/* It went on to the real MX itself (after a 421 at greeting too). */
	e.real_after_primary = 1;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0 && v.mta != NULL && !v.listed);
	/* A strong bot signal lists it all the same (bot-protocol). */
	e.anomalies = ANOM_PREGREET;
	classify_client(&c, &e, &v);
	CHECK(v.listed && v.reasons == 1u << REASON_BOT_PROTOCOL);

	/* bot-protocol; an invalid HELO alone does not beat an MTA. */
	memset(&e, 0, sizeof(e));
	e.anomalies = ANOM_HELO_INVALID;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 1u << REASON_BOT_PROTOCOL && v.listed);
	e.helo_ok = 1;
	e.retries = 1;
	classify_client(&c, &e, &v);
	CHECK(v.reasons != 0 && !v.listed);
	e.anomalies |= ANOM_PREGREET;
	classify_client(&c, &e, &v);
	CHECK(v.strong && v.listed);
	e.anomalies = ANOM_BARE_LF | ANOM_EARLY_QUIT;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0);

	/* Disabled rules do not fire. */
	c.rules = 1u << REASON_BACKUP_DIRECT;
	e.anomalies = ANOM_PREGREET;
	classify_client(&c, &e, &v);
	CHECK(v.reasons == 0);

	CHECK_STR(classify_reason_name(REASON_NOLISTING_ONLY),
	    "nolisting-only");
	CHECK(classify_reason_parse("bot-protocol") == REASON_BOT_PROTOCOL);
	CHECK(classify_reason_parse("Bot-protocol") == -1);
	CHECK(classify_reason_name(REASON_MAX) == NULL);
}

static void
test_allowlist(void)
{
	static const char text[] =
	    "# partners\n"
	    "192.0.2.77/24   # host bits cleared\n"
	    "\n"
	    "  2001:db8::/32\n"
	    "198.51.100.7\n"
	    "[2001:db8:ffff::1]";
	struct allowlist	 al = { 0 };
	uint8_t			 a4[4] = { 192, 0, 2, 200 };
	uint8_t			 b4[4] = { 192, 0, 3, 1 };
	uint8_t			 h4[4] = { 198, 51, 100, 7 };
	uint8_t			 a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 9 };
	uint8_t			 b6[16] = { 0x20, 0x01, 0x0d, 0xb9 };
	char			 err[256];

	CHECK(allowlist_parse(&al, text, sizeof(text) - 1, "a.txt", err,
	    sizeof(err)) == 0);
	CHECK(al.n == 4);
	CHECK(allowlist_match(&al, 4, a4) != NULL);
	CHECK(allowlist_match(&al, 4, a4)->prefix == 24);
	CHECK(allowlist_match(&al, 4, b4) == NULL);
	CHECK(allowlist_match(&al, 4, h4) != NULL);
	CHECK(allowlist_match(&al, 6, a6) != NULL);
	CHECK(allowlist_match(&al, 6, b6) == NULL);
	CHECK(allowlist_inside(&al.nets[0], 4, (uint8_t[4]){ 192, 0, 0, 0 },
	    16));
	CHECK(!allowlist_inside(&al.nets[0], 4, (uint8_t[4]){ 192, 0, 2, 0 },
	    28));
	allowlist_free(&al);

	CHECK(allowlist_parse(&al, "1.2.3.4\n1.2.3.5 x\n", 18, "b.txt", err,
	    sizeof(err)) == -1);
	CHECK_STR(err, "b.txt:2: one network a line, then only a # comment");
	allowlist_free(&al);
	CHECK(allowlist_parse(&al, "\n\nexample.org\n", 14, "c", err,
	    sizeof(err)) == -1);
	CHECK(strncmp(err, "c:3: example.org: not an", 24) == 0);
	allowlist_free(&al);
	CHECK(allowlist_parse(&al, "\x1b[2J/8\n", 7, "d", err,
	    sizeof(err)) == -1);
	CHECK(strchr(err, '\x1b') == NULL);
	allowlist_free(&al);
	CHECK(allowlist_parse(&al, "1.2.3.4\0\n", 9, "e", err,
	    sizeof(err)) == -1);
	CHECK(strstr(err, "NUL") != NULL);
	allowlist_free(&al);
	CHECK(allowlist_parse(&al, "::/129", 6, "f", err, sizeof(err)) == -1);
	allowlist_free(&al);
	CHECK(allowlist_parse(&al, "", 0, "g", err, sizeof(err)) == 0);
	CHECK(al.n == 0);
	allowlist_free(&al);
}

static void
test_argv(void)
{
	char	 buf[256], *argv[16];
	int	 argc;

	argc = export_argv("rbldnsd", "/x/y", " --ttl 60  --soa \"1 ns. hm."
	    " 0 1 1 1 1\" -q", buf, sizeof(buf), argv, 16);
	CHECK(argc == 10);
	CHECK_STR(argv[1], "rbldnsd");
	CHECK_STR(argv[3], "/x/y");
	CHECK_STR(argv[8], "1 ns. hm. 0 1 1 1 1");
	CHECK(argv[10] == NULL);
	CHECK(export_argv("plain", "/x", "--ttl \"60", buf, sizeof(buf), argv,
	    16) == -1);
	CHECK(export_argv("plain", "/x", "a b c d e f g h i j k l", buf,
	    sizeof(buf), argv, 16) == -1);
	CHECK(export_argv("plain", "/x", "", buf, 8, argv, 16) == -1);
}

/* A configured line's options: parsed once, typed, with exact errors. */
static void
test_opts_parse(void)
{
	static const struct {
		const char	*fmt, *args, *err;
	} bad[] = {
		{ "rbldnsd", "--ttl abc", "--ttl: 'abc' is not a TTL" },
		{ "rbldnsd", "--ttl 1x", "--ttl: '1x' is not a TTL" },
		{ "rbldnsd", "--ttl 99999999999", "--ttl: '99999999999' is not "
		    "a TTL" },
		{ "rbldnsd", "--soa \"1 2\"", "--soa: '1 2' is not 8 words" },
		{ "rbldnsd", "--ns 300", "--ns: '300' is not at least 2" },
		{ "plain", "--max-age forever", "--max-age: 'forever' is not a "
		    "duration" },
		{ "plain", "--min-sessions 0", "--min-sessions: '0' is not a "
		    "number from 1" },
		{ "plain", "--v6-prefix 200", "--v6-prefix: '200' is not a "
		    "number from 16 to 128" },
		{ "plain", "--rules backup-direct,nosuch", "--rules: "
		    "'backup-direct,nosuch' is not a comma list" },
		{ "plain", "--code nosuch=127.0.0.5", "--code: "
		    "'nosuch=127.0.0.5' is not REASON=127.0.0.X" },
		{ "postfix", "--map btree", "--map: 'btree' is not cidr or " },
		{ "nft", "--nft-set \"bad name\"", "--nft-set: 'bad name' is "
		    "not a name" },
		{ "ipset", "--ipset-set abcdefghijklmnopqrstuvwxyz",
		    "--ipset-set: 'abcdefghijklmnopqrstuvwxyz' is longer than "
		    "24" },
		{ "plain", "--no-such-option", "--no-such-option: unknown "
		    "option" },
		{ "plain", "--ttl", "--ttl: needs a value" },
		{ "plain", "stray", "'stray' is not an option" },
		{ "gopher", "", "'gopher' is not a format (rbldnsd, postfix" },
		{ "plain", "--ttl \"60", "options too long or an open "
		    "quote" },
		{ "plain", "-o /elsewhere", "--output: the line's PATH" },
		{ "plain", "--db /x.db", "--db: the store's own database" },
	};
	struct export_opts	*o;
	char			 err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		o = export_opts_parse(bad[i].fmt, "/var/x", bad[i].args, err,
		    sizeof(err));
		CHECK(o == NULL);
		free(o);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fprintf(stderr, "case %zu: got '%s'\n", i, err);
		CHECK(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0);
	}
	/* A control character is shown escaped, never raw. */
	o = export_opts_parse("rbldnsd", "/var/x", "--txt \"a\x1b[2Jb\"", err,
	    sizeof(err));
	CHECK(o == NULL && strchr(err, '\x1b') == NULL &&
	    strstr(err, "\\x1b") != NULL);

	/* Typed fields, the defaults kept where no option is given. */
	o = export_opts_parse("rbldnsd", "/var/lib/bl", "--ttl 1h30m --soa "
	    "\"300 ns. hm. 0 600 300 86400 300\" --max-age 2d --v6-prefix 48 "
	    "--code nolisting-only=127.0.0.9 --per-entry", err, sizeof(err));
	CHECK(o != NULL);
	if (o == NULL)
		return;
	CHECK_STR(o->format, "rbldnsd");
	CHECK_STR(o->output, "/var/lib/bl");
	CHECK(o->quiet == 1 && o->per_entry == 1 && o->map_hash == 0);
	CHECK_STR(o->ttl, "1h30m");
	CHECK_STR(o->soa, "300 ns. hm. 0 600 300 86400 300");
	CHECK(o->max_age_us == 2LL * 86400 * 1000000);
	CHECK(o->v6_prefix == 48 && o->min_sessions == 1);
	CHECK_STR(o->codes[REASON_NOLISTING_ONLY], "127.0.0.9");
	CHECK_STR(o->codes[REASON_BOT_PROTOCOL], "127.0.0.4");
	CHECK(o->db == NULL && o->ns == NULL);
	free(o);
	o = export_opts_parse("postfix", "/x", "--map hash", err, sizeof(err));
	CHECK(o != NULL && o->map_hash == 1);
	free(o);
}

/* The order the export needs: family, address, prefix, then index. */
static int
ref_key_cmp(const void *a, const void *b)
{
	const struct export_key	*x = a, *y = b;
	int			 c = export_key_cmp(a, b);

	return c != 0 ? c : x->i < y->i ? -1 : x->i > y->i;
}

/*
 * export_sort_keys() against qsort on the full order: IPv4 /32s (the
 * radix sort, with repeated addresses), IPv4 networks, IPv6 /64s and
 * /128s, mixed.
 */
static void
test_sort_keys(void)
{
	static const size_t	 sizes[] = { 1, 2, 7, 1000, 70000 };
	struct export_key	*k, *ref;
	uint32_t		 r = 12345;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];

		k = calloc(n, sizeof(*k));
		ref = calloc(n, sizeof(*ref));
		CHECK(k != NULL && ref != NULL);
		if (k == NULL || ref == NULL)
			return;
		for (size_t i = 0; i < n; i++) {
			r = r * 1103515245u + 12345u;
			k[i].i = (uint32_t)i;
			switch (r >> 29) {
			case 0: case 1: case 2: case 3:	/* /32, some repeated */
				k[i].family = 4;
				k[i].prefix = 32;
				k[i].hi = (uint64_t)(r % (n * 3 + 1) *
				    2654435761u) << 32;
				break;
			case 4:
				k[i].family = 4;
				k[i].prefix = 24;
				k[i].hi = (uint64_t)(r & 0xffffff00u) << 32;
				break;
			default:
				k[i].family = 6;
				k[i].prefix = r & 1 ? 64 : 128;
				k[i].hi = 0x20010db800000000ull | (r % 97);
				k[i].lo = k[i].prefix == 64 ? 0 : r % 5;
				break;
			}
		}
		memcpy(ref, k, n * sizeof(*k));
		qsort(ref, n, sizeof(*ref), ref_key_cmp);
		CHECK(export_sort_keys(k, n) == 0);
		for (size_t i = 0; i < n; i++)
			if (ref_key_cmp(&k[i], &ref[i]) != 0) {
				CHECK(!"export_sort_keys: out of order");
				break;
			}
		free(k);
		free(ref);
	}
}

int
main(void)
{
	test_rules();
	test_allowlist();
	test_argv();
	test_opts_parse();
	test_sort_keys();
	return t_done("test_export");
}
