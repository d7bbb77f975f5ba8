/* SPDX-License-Identifier: ISC */
/*
 * main.c -- the command line: "decoymx COMMAND ...", dispatched through
 * a table of {name, usage, run} rows.  Exit status 0 success, 1 runtime
 * failure, 2 bad usage or bad configuration (doc/DESIGN.md §10).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <maxminddb.h>
#include <pcap.h>
#include <sqlite3.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "decoymx.h"
#include "reports.h"
#include "store.h"
#include "sensor.h"
#include "daemon.h"

#define DEFAULT_DB	CONFIG_DEFAULT_DB	/* the db key's default */
#define DEV_DB		"var/decoymx.db"

struct cmd;

static int	 cmd_run(int, char **);
static int	 cmd_report_(int, char **);
static int	 cmd_db_(int, char **);
static int	 cmd_export_(int, char **);
static int	 cmd_version(int, char **);
static int	 cmd_help(int, char **);
static int	 main_check_geo(const struct config *);
static int	 main_check_env(const struct config *, const char *);
static int	 main_check_bind(const char *, const char *,
		    const struct sockaddr_storage *, socklen_t);
static int	 main_check_out(const struct config *, const char *,
		    const char *, const char *, int);
static int	 main_access(const struct config *, const char *, int);
static int	 main_wants_help(int, char **);
static int	 main_help(const struct cmd *, const char *);

static const struct cmd {
	const char	*name;
	const char	*usage;
	int		(*run)(int, char **);
	const char	*what;		/* one line for -h */
} cmds[] = {
	{ "run", "run [-c FILE] [--listen ADDR:PORT[,mx=N]]... [--db PATH] "
	    "[--user NAME] [-n]", cmd_run,
	    "runs the decoy MX; -n checks the configuration and the machine" },
	{ "report", "report summary|top KIND|ip ADDR|timeline|sessions|html "
	    "[--db PATH] [--since DUR] [--until TIME] [--decoy ADDR] "
	    "[--country CC] [--asn N] [--cidr NET] [--limit N] [--bucket DUR] "
	    "[--format table|csv|json] [-o FILE]", cmd_report_,
	    "reads the database: one report as a table, CSV, JSON or HTML" },
	{ "export", "export rbldnsd|postfix|nft|plain|json|ipset|abuseipdb|"
	    "stix|misp [--db PATH] "
	    "[-o FILE] [--max-age DUR] [--min-sessions N] [--allowlist FILE] "
	    "[rule and format options]", cmd_export_,
	    "writes the blocklist" },
	{ "db", "db migrate|check|recount [--db PATH] | db merge [--db PATH] "
	    "OTHER.db... | db prune --older-than DUR [--db PATH]",
	    cmd_db_, "creates, checks, recounts, merges or prunes a database" },
	{ "geo", "geo lookup ADDR [-c FILE] [--country PATH] [--asn PATH] "
	    "[--city PATH] [--format table|json]", cmd_geo,
	    "looks an address up in the geoip databases" },
	{ "sensor", "sensor --read FILE.pcap [--fpdb PATH]... "
	    "[--format json|table|none] [--db PATH] [--port N]... [-c FILE]",
	    cmd_sensor, "fingerprints the SYNs of a capture file" },
	{ "version", "version", cmd_version,
	    "prints the version and the libraries'" },
	{ "help", "help [COMMAND [SUBCOMMAND]]", cmd_help,
	    "prints the usage of every command, or of one" },
};

#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  decoymx %s\n", cmds[i].usage);
	fprintf(f, "\"decoymx COMMAND -h\" for one command; see "
	    "decoymx(8).\n");
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

/* The options of run. */
struct run_args {
	const char	*file, *db, *user;
	const char	*listen[MAX_LISTEN];
	int		 nlisten, check;
};

/* A setter of run_optv: one more --listen, up to MAX_LISTEN. */
static int
run_opt_listen(void *ctx, const struct opt *o, const char *v, char *err,
    size_t errlen)
{
	struct run_args	*a = ctx;

	(void)o;
	if (a->nlisten == MAX_LISTEN) {
		snprintf(err, errlen, "more than %d --listen", MAX_LISTEN);
		return -1;
	}
	a->listen[a->nlisten++] = v;
	return 0;
}

#define RA(f)	offsetof(struct run_args, f)

static const struct opt run_optv[] = {
	{ "config", 'c', 1, opt_set_str, RA(file) },
	{ "listen", 0, 1, run_opt_listen, 0 },
	{ "db", 0, 1, opt_set_str, RA(db) },
	{ "user", 0, 1, opt_set_str, RA(user) },
	{ "check", 'n', 0, opt_set_flag, RA(check) },
};

static int
cmd_run(int argc, char **argv)
{
	/* The running configuration, for the life of the process. */
	static struct config c;
	struct run_args	 a = { 0 };
	int		 nwords, rv;
	char		 err[256];

	rv = opt_parse(argc, argv, run_optv, sizeof(run_optv) /
	    sizeof(run_optv[0]), &a, argv + 1, argc - 1, &nwords, err,
	    sizeof(err));
	if (rv == 0 && nwords != 0)
		snprintf(err, sizeof(err), "'%s': run takes no word", argv[1]);
	if (rv != 0 || nwords != 0) {
		fprintf(stderr, "decoymx run: %s\nusage: decoymx %s\n", err,
		    cmds[0].usage);
		return EXIT_USAGE;
	}
	config_defaults(&c);
	if (a.file != NULL && config_load(&c, a.file) == -1)
		return EXIT_USAGE;
	if (a.nlisten > 0)
		c.nlisten = 0;		/* flags replace the file's listeners */
	for (int i = 0; i < a.nlisten; i++)
		if (config_listen_arg(&c, a.listen[i], err, sizeof(err)) ==
		    -1) {
			fprintf(stderr, "decoymx: --listen %s: %s\n",
			    a.listen[i], err);
			return EXIT_USAGE;
		}
	if (a.db != NULL)
		strlcpy_(c.db, a.db, sizeof(c.db));
	if (a.user != NULL)
		strlcpy_(c.user, a.user, sizeof(c.user));
	c.cli_db = a.db != NULL;
	c.cli_user = a.user != NULL;
	c.cli_listen = a.nlisten > 0;
	if (config_check(&c, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", a.file ? a.file : "decoymx", err);
		return EXIT_USAGE;
	}
	if (a.check) {
		config_dump(&c, stdout);
		int geo_rv = main_check_geo(&c);
		if (geo_rv == -2)
			return EXIT_USAGE;	/* a file of another kind */
		if (geo_rv == -1 ||
		    main_check_env(&c, a.file ? a.file : "decoymx") == -1)
			return EXIT_RUNTIME;
		printf("# configuration OK\n");
		return 0;
	}
	log_init("decoymx", c.log_level);
	log_syslog(c.log_syslog);
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

/*
 * For -n: what run would fail on beyond the configuration's syntax.
 * Each listener and the metrics address must bind (in use by another
 * process, e.g. the running daemon, is only a warning: -n checks a
 * configuration before a reload); the database, events-log and export
 * directories must exist and be writable by the configured user.  Each
 * problem is printed; returns -1 if there was one.
 */
static int
main_check_env(const struct config *c, const char *file)
{
	char		 ip[ADDR_STRLEN], what[ADDR_STRLEN + 32];
	uint16_t	 port;
	int		 bad = 0;

	if (geteuid() == 0 && getpwnam(c->user) == NULL)
		fprintf(stderr, "%s: warning: user %s does not exist; run will "
		    "refuse to start\n", file, c->user);
	for (int i = 0; i < c->nlisten; i++) {
		util_addr_str((const struct sockaddr *)&c->listen[i].ss, ip,
		    sizeof(ip), &port);
		snprintf(what, sizeof(what), strchr(ip, ':') ?
		    "listen [%s]:%u" : "listen %s:%u", ip, port);
		bad |= main_check_bind(file, what, &c->listen[i].ss,
		    c->listen[i].sslen);
	}
	if (c->metrics_len != 0) {
		util_addr_str((const struct sockaddr *)&c->metrics, ip,
		    sizeof(ip), &port);
		snprintf(what, sizeof(what), strchr(ip, ':') ?
		    "metrics [%s]:%u" : "metrics %s:%u", ip, port);
		bad |= main_check_bind(file, what, &c->metrics,
		    c->metrics_len);
	}
	bad |= main_check_out(c, file, "db", c->db, 1);
	if (c->events_log[0] != '\0')
		bad |= main_check_out(c, file, "events-log", c->events_log, 0);
	for (int i = 0; i < c->nexports; i++)
		bad |= main_check_out(c, file, "export", c->exports[i].path,
		    1);
	return bad ? -1 : 0;
}

/*
 * Binds (and listens on) a socket the way run does, then closes it.
 * Returns 0, or 1 after printing why it fails.
 */
static int
main_check_bind(const char *file, const char *what,
    const struct sockaddr_storage *ss, socklen_t len)
{
	int	 fd, on = 1, err = 0;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 || (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) ==
	    -1) || bind(fd, (const struct sockaddr *)ss, len) == -1 ||
	    listen(fd, 1) == -1)
		err = errno;
	if (fd != -1)
		close(fd);
	if (err == EADDRINUSE) {
		fprintf(stderr, "%s: warning: %s: %s (the running daemon?)\n",
		    file, what, strerror(err));
		return 0;
	}
	if (err != 0)
		fprintf(stderr, "%s: %s: cannot bind: %s\n", file, what,
		    strerror(err));
	return err != 0;
}

/*
 * Checks that the file at path can be written by the configured user:
 * its directory must exist; an existing file must be writable; the
 * directory must be writable too when the file does not exist or when
 * dir_too (SQLite's journal, an export's temporary file).  Returns 0,
 * or 1 after printing why not.
 */
static int
main_check_out(const struct config *c, const char *file, const char *what,
    const char *path, int dir_too)
{
	char		 dir[4096];
	const char	*bad = NULL;
	struct stat	 sb;
	int		 err = 0, exists = access(path, F_OK) == 0;

	strlcpy_(dir, path, sizeof(dir));
	strlcpy_(dir, dirname(dir), sizeof(dir));
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "%s: %s %s: directory %s does not exist\n",
		    file, what, path, dir);
		return 1;
	}
	if ((err = main_access(c, dir, (dir_too || !exists ? W_OK : 0) |
	    X_OK)) != 0)
		bad = dir;
	else if (exists && (err = main_access(c, path, W_OK)) != 0)
		bad = path;
	if (bad == NULL)
		return 0;
	fprintf(stderr, "%s: %s %s: %s is not writable by user %s: %s\n",
	    file, what, path, bad, c->user, strerror(err));
	return 1;
}

/*
 * access(path, mode) as the configured user: in a child that becomes
 * that user when we are root and it exists, else as ourselves (then
 * run does not change user either).  Returns 0 or the errno.
 */
static int
main_access(const struct config *c, const char *path, int mode)
{
	struct passwd	*pw;
	pid_t		 pid;
	int		 st;

	if (geteuid() != 0 || (pw = getpwnam(c->user)) == NULL ||
	    pw->pw_uid == 0)
		return access(path, mode) == 0 ? 0 : errno;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return errno;
	if (pid == 0) {
		if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
		    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
			_exit(EPERM);
		_exit(access(path, mode) == 0 ? 0 : errno);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : EPERM;
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

/* decoymx help [COMMAND [SUBCOMMAND]]: to stdout, exit 0. */
static int
cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return main_help(&cmds[i], argc > 2 ? argv[2] : NULL);
	fprintf(stderr, "decoymx help: unknown command '%s'\n", argv[1]);
	return EXIT_USAGE;
}

/*
 * Whether the words after the command ask for help: -h or --help
 * before any "--".
 */
static int
main_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

/*
 * The usage of one command on stdout; of its subcommand sub too when
 * it has a table of them (report).  Returns 0.
 */
static int
main_help(const struct cmd *c, const char *sub)
{
	if (c->run == cmd_report_ && report_help(stdout, sub) == 0)
		return 0;
	if (c->run == cmd_export_) {
		export_help(stdout);
		return 0;
	}
	printf("usage: decoymx %s\n\n%s %s.\nSee decoymx(8).\n", c->usage,
	    c->name, c->what);
	return 0;
}

int
main(int argc, char **argv)
{
	struct suggest	 sg;

	hooks_install();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(1, argv);
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			if (main_wants_help(argc - 1, argv + 1))
				return main_help(&cmds[i], argc > 2 &&
				    argv[2][0] != '-' ? argv[2] : NULL);
			return cmds[i].run(argc - 1, argv + 1);
		}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	suggest_init(&sg, argv[1]);
	for (size_t i = 0; i < NCMDS; i++)
		suggest_try(&sg, cmds[i].name);
	if (suggest_best(&sg) != NULL)
		fprintf(stderr, "decoymx: unknown command '%s'; did you mean "
		    "'%s'?\n", argv[1], suggest_best(&sg));
	else
		fprintf(stderr, "decoymx: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
