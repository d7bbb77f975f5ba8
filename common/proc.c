/*
 * proc.c -- "decoymx run": the process model of DESIGN.md section 2.
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
#include <unistd.h>

#include "decoymx.h"
#include "store.h"
#include "tarpit.h"
#include "sensor.h"

struct creds {
	int	 drop;		/* started as root with an unprivileged user */
	uid_t	 uid;
	gid_t	 gid;
};

static int	 proc_creds(const struct config *, struct creds *);
static void	 proc_drop(const struct config *, const struct creds *, int);
static int	 proc_metrics_bind(const struct config *);
static int	 proc_sensor(const struct config *, struct sensor **);

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
 * Re-reads the configuration file on SIGHUP (store process).  Settings
 * that need a restart are named; the rest goes to the network process.
 * A bad file is a warning and the running configuration stays.
 */
void
proc_reload(struct config *running, int ipc_fd)
{
	struct config	 nc;
	char		 err[256];
	uint8_t		 buf[2 + sizeof(nc)];

	if (running->file == NULL) {
		log_info("reload: no configuration file, nothing to do");
		return;
	}
	config_defaults(&nc);
	if (config_load(&nc, running->file) == -1) {
		log_warn("reload: %s has errors, keeping the running "
		    "configuration", running->file);
		return;
	}
	/* Command-line overrides and what cannot change stay as running. */
	if (running->cli_db)
		strlcpy_(nc.db, running->db, sizeof(nc.db));
	if (running->cli_user)
		strlcpy_(nc.user, running->user, sizeof(nc.user));
	nc.cli_db = running->cli_db;
	nc.cli_user = running->cli_user;
	if (nc.real_mx_set != running->real_mx_set ||
	    nc.real_mx_pref != running->real_mx_pref ||
	    nc.nreal_mx != running->nreal_mx ||
	    memcmp(nc.real_mx, running->real_mx, sizeof(nc.real_mx)) != 0 ||
	    nc.metrics_len != running->metrics_len ||
	    memcmp(&nc.metrics, &running->metrics, sizeof(nc.metrics)) != 0 ||
	    nc.queue_size != running->queue_size ||
	    strcmp(nc.db, running->db) != 0 ||
	    strcmp(nc.user, running->user) != 0 ||
	    strcmp(nc.chroot, running->chroot) != 0)
		log_warn("reload: changes to real-mx, metrics, queue-size, db, "
		    "user and chroot need a restart; kept as running");
	memcpy(nc.listen, running->listen, sizeof(nc.listen));
	nc.nlisten = running->nlisten;
	memcpy(nc.real_mx, running->real_mx, sizeof(nc.real_mx));
	nc.nreal_mx = running->nreal_mx;
	nc.real_mx_set = running->real_mx_set;
	nc.real_mx_pref = running->real_mx_pref;
	nc.metrics = running->metrics;
	nc.metrics_len = running->metrics_len;
	nc.queue_size = running->queue_size;
	strlcpy_(nc.db, running->db, sizeof(nc.db));
	strlcpy_(nc.user, running->user, sizeof(nc.user));
	strlcpy_(nc.chroot, running->chroot, sizeof(nc.chroot));
	if (config_check(&nc, err, sizeof(err)) == -1) {
		log_warn("reload: %s: %s, keeping the running configuration",
		    running->file, err);
		return;
	}
	log_info("reload: %s applied (listen changes need a restart)",
	    running->file);
	nc.file = running->file;
	*running = nc;
	log_setlevel(nc.log_level);
	buf[0] = REC_RELOAD;
	buf[1] = 1;
	memcpy(buf + 2, &nc, sizeof(nc));
	if (send(ipc_fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
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
 * Opens the capture while still privileged (DESIGN.md section 2).
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
	 * Signals wait (blocked) until each process has its handlers in
	 * its event loop: a SIGHUP or SIGTERM at startup must not kill it.
	 */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (listen_bind(c, &ls, &n) == -1)
		return EXIT_RUNTIME;
	if ((mfd = proc_metrics_bind(c)) == -2)
		return EXIT_RUNTIME;
	if (proc_sensor(c, &sn) == -1)
		return EXIT_RUNTIME;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	fflush(stderr);
	if ((pid = fork()) == -1)
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
	if ((st = store_open(c->db, STORE_RW, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return EXIT_RUNTIME;
	}
	log_info("store ready db=%s", c->db);
	{
		/* The network process starts accepting on this. */
		uint8_t ready[2] = { REC_READY, 1 };
		send(sp[0], ready, sizeof(ready), MSG_NOSIGNAL);
	}
	rv = ingest_run(c, st, sp[0], pid, mfd);
	if (mfd != -1)
		close(mfd);
	store_close(st);
	close(sp[0]);
	return rv;
}
