/*
 * main.c -- the command line: "decoymx COMMAND ...", dispatched through
 * a table of {name, usage, run} rows.  Exit status 0 success, 1 runtime
 * failure, 2 bad usage or bad configuration (DESIGN.md section 6).
 */
#include <getopt.h>
#include <maxminddb.h>
#include <pcap.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "decoymx.h"
#include "reports.h"
#include "store.h"
#include "sensor.h"

#ifndef DEFAULT_DB
#define DEFAULT_DB	"/var/lib/decoymx/decoymx.db"
#endif
#define DEV_DB		"var/decoymx.db"

static int	 cmd_run(int, char **);
static int	 cmd_report_(int, char **);
static int	 cmd_db_(int, char **);
static int	 cmd_export_(int, char **);
static int	 cmd_version(int, char **);
static int	 cmd_help(int, char **);
static int	 main_check_geo(const struct config *);

static const struct cmd {
	const char	*name;
	const char	*usage;
	int		(*run)(int, char **);
} cmds[] = {
	{ "run", "run [-c FILE] [--listen ADDR:PORT[,mx=N]]... [--db PATH] "
	    "[--user NAME] [-n]", cmd_run },
	{ "report", "report summary|top KIND|ip ADDR|timeline|sessions "
	    "[--db PATH] [--since DUR] [--until TIME] [--decoy ADDR] "
	    "[--country CC] [--asn N] [--cidr NET] [--limit N] [--bucket DUR] "
	    "[--format table|csv|json]", cmd_report_ },
	{ "export", "export rbldnsd|postfix|nft|plain|json [--db PATH] "
	    "[-o FILE] [--max-age DUR] [--min-sessions N] [--allowlist FILE] "
	    "[rule and format options]", cmd_export_ },
	{ "db", "db migrate|check|recount [--db PATH] | db merge [--db PATH] "
	    "OTHER.db...",
	    cmd_db_ },
	{ "geo", "geo lookup ADDR [-c FILE] [--country PATH] [--asn PATH] "
	    "[--city PATH] [--format table|json]", cmd_geo },
	{ "sensor", "sensor --read FILE.pcap [--fpdb PATH]... "
	    "[--format json|table|none] [--db PATH] [--port N]... [-c FILE]",
	    cmd_sensor },
	{ "version", "version", cmd_version },
	{ "help", "help", cmd_help },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  decoymx %s\n", cmds[i].usage);
}

/*
 * The database the reading commands use without --db: $DECOYMX_DB, the
 * installed location, or the development tree's var/decoymx.db (what
 * "make run" writes) when only that one exists.
 */
const char *
main_default_db(void)
{
	const char *env = getenv("DECOYMX_DB");

	if (env != NULL && *env != '\0')
		return env;
	if (access(DEFAULT_DB, F_OK) == -1 && access(DEV_DB, F_OK) == 0)
		return DEV_DB;
	return DEFAULT_DB;
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config",	required_argument, NULL, 'c' },
		{ "listen",	required_argument, NULL, 'l' },
		{ "db",		required_argument, NULL, 'd' },
		{ "user",	required_argument, NULL, 'u' },
		{ "check",	no_argument,	   NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	 c;
	const char	*file = NULL, *db = NULL, *user = NULL;
	const char	*listen[MAX_LISTEN];
	int		 nlisten = 0, check = 0, ch;
	char		 err[256];

	while ((ch = getopt_long(argc, argv, "c:n", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'd': db = optarg; break;
		case 'u': user = optarg; break;
		case 'n': check = 1; break;
		case 'l':
			if (nlisten == MAX_LISTEN) {
				fprintf(stderr, "decoymx: more than %d "
				    "--listen\n", MAX_LISTEN);
				return EXIT_USAGE;
			}
			listen[nlisten++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: decoymx %s\n", cmds[0].usage);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: decoymx %s\n", cmds[0].usage);
		return EXIT_USAGE;
	}
	config_defaults(&c);
	if (file != NULL && config_load(&c, file) == -1)
		return EXIT_USAGE;
	if (nlisten > 0)
		c.nlisten = 0;		/* flags replace the file's listeners */
	for (int i = 0; i < nlisten; i++)
		if (config_listen_arg(&c, listen[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "decoymx: --listen %s: %s\n",
			    listen[i], err);
			return EXIT_USAGE;
		}
	if (db != NULL)
		strlcpy_(c.db, db, sizeof(c.db));
	if (user != NULL)
		strlcpy_(c.user, user, sizeof(c.user));
	c.cli_db = db != NULL;
	c.cli_user = user != NULL;
	if (config_check(&c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", file ? file : "decoymx", err);
		return EXIT_USAGE;
	}
	if (check) {
		config_dump(&c, stdout);
		int geo_rv = main_check_geo(&c);
		if (geo_rv < 0)
			return geo_rv == -2 ? EXIT_USAGE : EXIT_RUNTIME;
		printf("# configuration OK\n");
		return 0;
	}
	log_init("decoymx", c.log_level);
	return proc_run(&c);
}

/*
 * For -n: opens the geoip databases the way the store will.  Problems
 * are warnings on stderr; returns -1 only when geoip-required is yes,
 * -2 for a file of another kind than its line says (a config error).
 */
static int
main_check_geo(const struct config *c)
{
	struct geo	*g;
	int		 rv;

	fflush(stdout);
	log_init("decoymx", LOG_LVL_WARN);
	if ((g = geo_new()) == NULL)
		return -1;
	rv = geo_open(g, c);
	geo_free(g);
	if (rv == -2)
		return -2;	/* a file of another kind: said by geo_open */
	if (rv == -1 && c->geoip_required) {
		fprintf(stderr, "%s: geoip-required is yes and a geoip database "
		    "could not be opened\n", c->file ? c->file : "decoymx");
		return -1;
	}
	return 0;
}

static int
cmd_report_(int argc, char **argv)
{
	return cmd_report(argc, argv, main_default_db());
}

static int
cmd_export_(int argc, char **argv)
{
	return cmd_export(argc, argv, main_default_db());
}

static int
cmd_db_(int argc, char **argv)
{
	return cmd_db(argc, argv, main_default_db());
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("decoymx %s (libevent %s, SQLite %s, %s, libmaxminddb %s)\n",
	    DECOYMX_VERSION, event_get_version(), sqlite3_libversion(),
	    pcap_lib_version(), MMDB_lib_version());
	return 0;
}

static int
cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	fprintf(stderr, "decoymx: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
