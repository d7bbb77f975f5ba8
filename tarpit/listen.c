/* SPDX-License-Identifier: ISC */
/*
 * listen.c -- the listening sockets.  They are bound in the privileged
 * parent before the network process is forked (port 25 needs it); the
 * network process accepts on them.  Running out of file descriptors
 * pauses accepting for a second instead of failing.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tarpit.h"

#define ACCEPT_BUDGET	64	/* connections taken per wake-up */
#define LISTEN_BACKLOG	4096

static void	 listen_accept(evutil_socket_t, short, void *);
static void	 listen_resume_cb(evutil_socket_t, short, void *);

/*
 * Creates and binds one socket per configured listener.  Returns 0 with
 * *ls (caller frees) and *n, or -1 after logging which address failed.
 */
int
listen_bind(const struct config *c, struct listener **lsp, int *n)
{
	struct listener	*ls;
	int		 on = 1;

	if ((ls = calloc((size_t)c->nlisten, sizeof(*ls))) == NULL)
		return -1;
	for (int i = 0; i < c->nlisten; i++) {
		const struct listen_conf *lc = &c->listen[i];
		struct listener *l = &ls[i];

		util_addr_str((const struct sockaddr *)&lc->ss, l->ip,
		    sizeof(l->ip), &l->port);
		l->mx_pref = lc->mx_pref;
		l->proxy = lc->proxy;
		l->role = config_role(c, lc->mx_pref);
		l->fd = socket(lc->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (l->fd == -1 ||
		    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1 ||
		    (lc->ss.ss_family == AF_INET6 &&
		    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on)) == -1) ||
		    bind(l->fd, (const struct sockaddr *)&lc->ss,
		    lc->sslen) == -1 ||
		    listen(l->fd, LISTEN_BACKLOG) == -1) {
			log_error("listen %s port %u: %s", l->ip, l->port,
			    strerror(errno));
			for (int j = 0; j <= i; j++)
				if (ls[j].fd != -1)
					close(ls[j].fd);
			free(ls);
			return -1;
		}
	}
	*lsp = ls;
	*n = c->nlisten;
	return 0;
}

void
listen_start(struct tarpit *tp, struct listener *ls, int n)
{
	for (int i = 0; i < n; i++) {
		ls[i].tp = tp;
		event_assign(&ls[i].ev, tp->base, ls[i].fd,
		    EV_READ | EV_PERSIST, listen_accept, &ls[i]);
		event_add(&ls[i].ev, NULL);
		log_info("listening addr=%s port=%u mx=%d role=%s proxy=%s",
		    ls[i].ip, ls[i].port, ls[i].mx_pref,
		    role_name(ls[i].role), ls[i].proxy ? "yes" : "no");
	}
}

static void
listen_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener		*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 s;

	(void)what;
	for (int i = 0; i < ACCEPT_BUDGET && !l->tp->stopping; i++) {
		if (l->tp->st.conn_open >= l->tp->conf.max_clients) {
			/* Resumed by session_close() below the limit. */
			for (int j = 0; j < l->tp->nls; j++)
				event_del(&l->tp->ls[j].ev);
			if (!l->tp->full)
				log_warn("max-clients %u reached, not "
				    "accepting", l->tp->conf.max_clients);
			l->tp->full = 1;
			l->tp->st.accept_paused++;
			return;
		}
		len = sizeof(ss);
		s = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s != -1) {
			session_start(l->tp, l, s, (struct sockaddr *)&ss, len);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			l->tp->st.accept_paused++;
			log_warn("accept paused for 1s: %s open=%llu",
			    strerror(errno),
			    (unsigned long long)l->tp->st.conn_open);
			listen_pause(l->tp);
			return;
		default:
			if (errno != EAGAIN)
				log_warn("accept %s port %u: %s", l->ip,
				    l->port, strerror(errno));
			return;
		}
	}
}

/* Stops accepting for a second (out of descriptors or memory). */
void
listen_pause(struct tarpit *tp)
{
	struct timeval tv = { 1, 0 };

	for (int i = 0; i < tp->nls; i++)
		event_del(&tp->ls[i].ev);
	if (tp->resume_ev == NULL)
		tp->resume_ev = evtimer_new(tp->base, listen_resume_cb, tp);
	if (tp->resume_ev != NULL)
		evtimer_add(tp->resume_ev, &tv);
}

static void
listen_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	listen_resume(arg);
}

/* Accepts again, unless stopping or still at max-clients. */
void
listen_resume(struct tarpit *tp)
{
	if (tp->stopping || tp->st.conn_open >= tp->conf.max_clients)
		return;
	if (tp->full)
		log_info("accepting again open=%llu",
		    (unsigned long long)tp->st.conn_open);
	tp->full = 0;
	for (int i = 0; i < tp->nls; i++)
		event_add(&tp->ls[i].ev, NULL);
}

/* Stops accepting and closes the listening sockets. */
void
listen_stop(struct tarpit *tp)
{
	for (int i = 0; i < tp->nls; i++) {
		if (tp->ls[i].tp != NULL)
			event_del(&tp->ls[i].ev);
		if (tp->ls[i].fd != -1)
			close(tp->ls[i].fd);
		tp->ls[i].fd = -1;
	}
	if (tp->resume_ev != NULL)
		evtimer_del(tp->resume_ev);
}
