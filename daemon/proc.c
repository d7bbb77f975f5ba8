/* SPDX-License-Identifier: ISC */
/*
 * proc.c -- "decoymx run": the process model of doc/DESIGN.md §3.
 * The parent binds the listeners, forks the network process (chroot,
 * unprivileged user, the event loop of tarpit/), drops to the same user
 * and becomes the store process (store/ingest.c), which alone opens the
 * database.  Privilege steps are skipped when not started as root.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "decoymx.h"
#include "store.h"
#include "tarpit.h"
#include "sensor.h"
#include "daemon.h"

struct creds {
	int	 drop;		/* started as root with an unprivileged user */
	uid_t	 uid;
	gid_t	 gid;
};

static int	 proc_creds(const struct config *, struct creds *);
static void	 proc_drop(const struct config *, const struct creds *, int);
static int	 proc_metrics_bind(const struct config *);
static int	 proc_sensor(const struct config *, struct sensor **);
static void	 proc_startup_signal(int);
static void	 proc_startup_signals(void);
static void	 proc_stop_child(pid_t, int);
static void	 proc_quick_check(struct store *);

#define PROC_CHILD_WAIT_MS	2000	/* for the network process to go */

/*
 * Start-up (doc/DESIGN.md §3): until the store sends the go-ahead,
 * SIGTERM and SIGINT end the process at once with one line, whatever
 * step it is blocked in (binding, the database, a privilege step); the
 * network process then reads EOF on the channel and ends too.  From the
 * go-ahead on they wait (blocked) for the event loops' handlers.  SIGHUP
 * and SIGCHLD wait from the beginning: a reload at start-up is not a
 * reason to die.
 */
static void
proc_startup_signal(int sig)
{
	static const char msg[] = "decoymx: stop requested during start-up, "
	    "exiting\n";
	ssize_t	 n;

	(void)sig;
	n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(EXIT_RUNTIME);
}

/* Installs the start-up handlers and the start-up signal mask. */
static void
proc_startup_signals(void)
{
	struct sigaction sa;
	sigset_t	 block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = proc_startup_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
}

/*
 * Ends the network process when the store cannot start: SIGKILL when
 * allowed (it may still be root for a moment), and the channel closed
 * either way, which the network process reads as "store did not start".
 * Waits at most PROC_CHILD_WAIT_MS; never blocks for ever.
 */
static void
proc_stop_child(pid_t pid, int fd)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	int		 killed;

	killed = kill(pid, SIGKILL) == 0;
	close(fd);
	for (int i = 0; i < PROC_CHILD_WAIT_MS / 20; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		if (!killed)
			killed = kill(pid, SIGKILL) == 0;
		nanosleep(&ts, NULL);
	}
	log_warn("network process pid=%ld did not exit within %d ms",
	    (long)pid, PROC_CHILD_WAIT_MS);
}

/*
 * PRAGMA quick_check at start: a damaged database is served (what can
 * still be written is kept) but named, with what to do.
 */
static void
proc_quick_check(struct store *st)
{
	sqlite3_stmt	*q;
	const char	*r;
	int		 rc;

	if (sqlite3_prepare_v2(store_db(st), "PRAGMA quick_check(1)", -1, &q,
	    NULL) != SQLITE_OK) {
		log_warn("database %s: cannot run its integrity check: %s",
		    store_path(st), sqlite3_errmsg(store_db(st)));
		return;
	}
	rc = sqlite3_step(q);
	r = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
	if (rc != SQLITE_ROW || r == NULL || strcmp(r, "ok") != 0)
		log_warn("database %s failed its integrity check: %s; run "
		    "\"decoymx db check\" and restore it from a backup",
		    store_path(st), r != NULL ? r :
		    sqlite3_errmsg(store_db(st)));
	sqlite3_finalize(q);
}

/* Looks the run-as user up while /etc/passwd is still reachable. */
static int
proc_creds(const struct config *c, struct creds *cr)
{
	struct passwd *pw;

	memset(cr, 0, sizeof(*cr));
	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		fprintf(stderr, "decoymx: user '%s' does not exist: create it "
		    "(adduser --system %s) or set 'user' in the "
		    "configuration\n", c->user, c->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_warn("running as root: set 'user' to an unprivileged "
		    "account");
		return 0;
	}
	cr->drop = 1;
	cr->uid = pw->pw_uid;
	cr->gid = pw->pw_gid;
	return 0;
}

/* Drops to the configured user, chrooted first when asked. */
static void
proc_drop(const struct config *c, const struct creds *cr, int do_chroot)
{
	if (util_fault(do_chroot ? "start-net-drop" : "start-store-drop"))
		fatalx("dropping privileges to %s: injected fault", c->user);
	if (!cr->drop)
		return;
	if (do_chroot) {
		if (mkdir(c->chroot, 0755) == -1 && errno != EEXIST)
			fatal("mkdir %s", c->chroot);
		if (chroot(c->chroot) == -1 || chdir("/") == -1)
			fatal("chroot %s", c->chroot);
	}
	if (setgroups(1, &cr->gid) == -1 ||
	    setresgid(cr->gid, cr->gid, cr->gid) == -1 ||
	    setresuid(cr->uid, cr->uid, cr->uid) == -1)
		fatal("dropping privileges to %s", c->user);
	if (setuid(0) != -1)
		fatalx("could regain root after dropping privileges");

}

/*
 * Re-reads the configuration file on SIGHUP (store process).  What may
 * change is config_reload()'s to decide; the settings that need a
 * restart are named in a warning and keep their running values; the
 * network process gets its settings as REC_RELOAD.  A bad file is a
 * warning and the running configuration stays.
 */
void
proc_reload(struct config *running, int ipc_fd)
{
	struct config	 nc;
	char		 err[256], kept[256];
	static uint8_t	 buf[MAX_RECORD];
	size_t		 len;

	if (running->file == NULL) {
		log_info("reload: no configuration file, nothing to do");
		return;
	}
	config_defaults(&nc);
	if (config_load(&nc, running->file) == -1) {
		log_warn("reload: %s has errors, keeping the running "
		    "configuration", running->file);
		config_free(&nc);
		return;
	}
	if (config_reload(running, &nc, &nc, kept, sizeof(kept)) > 0)
		log_warn("reload: changes to %s need a restart; kept as "
		    "running", kept);
	if (config_check(&nc, err, sizeof(err)) == -1) {
		log_warn("reload: %s: %s, keeping the running configuration",
		    running->file, err);
		config_free(&nc);
		return;
	}
	log_info("reload: %s applied", running->file);
	config_free(running);
	*running = nc;
	log_setlevel(nc.log_level);
	/* The settings the network process takes, field by field. */
	if ((len = chan_encode_reload(&nc, buf, sizeof(buf))) == 0)
		log_warn("reload: the settings do not fit in a message, the "
		    "network process keeps its own");
	else if (send(ipc_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_warn("reload: could not tell the network process: %s",
		    strerror(errno));
}

/*
 * Binds the metrics listener while still privileged.  Returns its fd,
 * -1 when none is configured, -2 on failure (logged).
 */
static int
proc_metrics_bind(const struct config *c)
{
	char	 ip[ADDR_STRLEN];
	uint16_t port;
	int	 fd, on = 1;

	if (c->metrics_len == 0)
		return -1;
	util_addr_str((const struct sockaddr *)&c->metrics, ip, sizeof(ip),
	    &port);
	fd = socket(c->metrics.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 || bind(fd, (const struct sockaddr *)&c->metrics,
	    c->metrics_len) == -1 || listen(fd, 64) == -1) {
		log_error("metrics %s port %u: %s", ip, port, strerror(errno));
		if (fd != -1)
			close(fd);
		return -2;
	}
	log_info("metrics listening addr=%s port=%u", ip, port);
	return fd;
}

/*
 * Opens the capture while still privileged (doc/DESIGN.md §3).
 * "sensor auto" (the default) runs without it, with a warning, when the
 * capture cannot be opened (not root, no CAP_NET_RAW, no such
 * interface); "sensor on" makes that fatal.  Returns 0 with *sn set (or
 * NULL), -1 when the daemon must not start.
 */
static int
proc_sensor(const struct config *c, struct sensor **sn)
{
	char	 err[512];

	*sn = NULL;
	if (c->sensor == SENSOR_OFF)
		return 0;
	if ((*sn = sensor_open(c, err, sizeof(err))) != NULL)
		return 0;
	if (c->sensor == SENSOR_ON) {
		log_error("%s (sensor on: not starting)", err);
		return -1;
	}
	log_warn("%s; running without the sensor (set 'sensor off' to "
	    "silence this, 'sensor on' to require it)", err);
	return 0;
}

/*
 * Runs the daemon.  Returns the exit status: 0 after a clean stop, 1 on
 * a runtime failure.
 */
int
proc_run(struct config *c)
{
	struct listener	*ls;
	struct sensor	*sn;
	struct creds	 cr;
	struct store	*st;
	char		 err[512];
	int		 n, sp[2], rv, mfd;
	pid_t		 pid;

	if (proc_creds(c, &cr) == -1)
		return EXIT_USAGE;
	/*
	 * The database, its -wal and -shm and the events log hold AUTH
	 * user names and envelopes: 0640 at most.  Exports set their own
	 * mode (0644) for the DNS servers that read them.
	 */
	umask(027);
	proc_startup_signals();
	if (util_fault("start-hang"))
		for (;;)
			pause();
	if (listen_bind(c, &ls, &n) == -1)
		return EXIT_RUNTIME;
	if ((mfd = proc_metrics_bind(c)) == -2)
		return EXIT_RUNTIME;
	if (proc_sensor(c, &sn) == -1)
		return EXIT_RUNTIME;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	fflush(stderr);
	if ((pid = util_fault("start-fork") ? -1 : fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sp[0]);
		if (mfd != -1)
			close(mfd);
		log_init("net", c->log_level);
		proc_drop(c, &cr, 1);
		_exit(tarpit_run(c, ls, n, sp[1], sn));
	}

	close(sp[1]);
	sensor_free(sn);
	for (int i = 0; i < n; i++)
		close(ls[i].fd);
	free(ls);
	log_init("store", c->log_level);
	proc_drop(c, &cr, 0);
	if (util_fault("start-store-hang"))
		for (;;)
			pause();
	if (util_fault("start-store-open")) {
		st = NULL;
		strlcpy_(err, "opening the database: injected fault",
		    sizeof(err));
	} else
		st = store_open(c->db, STORE_RW, err, sizeof(err));
	if (st == NULL) {
		log_error("%s; not starting", err);
		proc_stop_child(pid, sp[0]);
		return EXIT_RUNTIME;
	}
	proc_quick_check(st);
	log_info("store ready db=%s", c->db);
	{
		/* The network process starts accepting on this. */
		uint8_t ready[16];
		size_t rlen = chan_encode_empty(REC_READY, ready,
		    sizeof(ready));
		sigset_t block;

		/* From here on a stop is the event loop's (ingest.c). */
		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGINT);
		sigprocmask(SIG_BLOCK, &block, NULL);
		if (send(sp[0], ready, rlen, MSG_NOSIGNAL) == -1) {
			log_error("store cannot reach the network process: %s; "
			    "not starting", strerror(errno));
			store_close(st);
			proc_stop_child(pid, sp[0]);
			return EXIT_RUNTIME;
		}
	}
	rv = ingest_run(c, st, sp[0], pid, mfd);
	if (mfd != -1)
		close(mfd);
	store_close(st);
	close(sp[0]);
	return rv;
}
