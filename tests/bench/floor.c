/* SPDX-License-Identifier: ISC */
/*
 * floor.c -- the floor for the throughput benchmark: one epoll loop that
 * answers the decoy's dialogue (greeting, EHLO, MAIL, RCPT -> 4xx, QUIT)
 * with the same replies and stores nothing.  On a machine where the load
 * generator shares the cores, this is as fast as any SMTP server can go;
 * run-bench reports decoymx as a fraction of it.
 *
 *   floor ADDR:PORT [SECONDS]
 *
 * Serves until SECONDS (default 600) have passed or SIGTERM.  IPv4 only,
 * a line at most 1000 bytes, every buffer bounded.  A benchmark tool,
 * not part of decoymx.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_LINE	1000
#define FLOOR_MAXFD	65536

struct fconn {
	int	 fd;
	size_t	 len;
	char	 buf[FLOOR_LINE + 1];
};

static volatile sig_atomic_t	 stop;

static const char greeting[] = "220 mx.example ESMTP\r\n";
static const char ehlo[] = "250-mx.example\r\n250-PIPELINING\r\n"
    "250 8BITMIME\r\n";

static void
floor_sig(int sig)
{
	(void)sig;
	stop = 1;
}

/* The reply to one command line. */
static const char *
floor_reply(const char *line)
{
	if (strncasecmp(line, "EHLO", 4) == 0)
		return ehlo;
	if (strncasecmp(line, "HELO", 4) == 0 ||
	    strncasecmp(line, "MAIL", 4) == 0 ||
	    strncasecmp(line, "RSET", 4) == 0 ||
	    strncasecmp(line, "NOOP", 4) == 0)
		return "250 2.0.0 Ok\r\n";
	if (strncasecmp(line, "RCPT", 4) == 0)
		return "450 4.7.1 Try again later\r\n";
	if (strncasecmp(line, "QUIT", 4) == 0)
		return "221 2.0.0 Bye\r\n";
	return "502 5.5.2 Error\r\n";
}

/* Reads and answers; returns -1 when the connection is over. */
static int
floor_input(struct fconn *c)
{
	ssize_t	 n;
	char	*p, *lf;

	n = recv(c->fd, c->buf + c->len, FLOOR_LINE - c->len, 0);
	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	p = c->buf;
	while ((lf = memchr(p, '\n', c->len - (size_t)(p - c->buf))) != NULL) {
		const char *r = floor_reply(p);

		*lf = '\0';
		if (send(c->fd, r, strlen(r), MSG_NOSIGNAL) == -1)
			return -1;
		if (r[0] == '2' && r[1] == '2' && r[2] == '1')
			return -1;
		p = lf + 1;
	}
	c->len -= (size_t)(p - c->buf);
	memmove(c->buf, p, c->len);
	return c->len >= FLOOR_LINE ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[256];
	struct fconn		**conns;
	char			*colon;
	double			 secs = argc > 2 ? atof(argv[2]) : 600;
	time_t			 end;
	int			 lfd, ep, one = 1;

	if (argc < 2 || (colon = strrchr(argv[1], ':')) == NULL) {
		fprintf(stderr, "usage: floor ADDR:PORT [SECONDS]\n");
		return 2;
	}
	*colon = '\0';
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "floor: bad address %s\n", argv[1]);
		return 2;
	}
	signal(SIGTERM, floor_sig);
	signal(SIGINT, floor_sig);
	if ((conns = calloc(FLOOR_MAXFD, sizeof(*conns))) == NULL ||
	    (lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1 || (ep = epoll_create1(0)) == -1) {
		perror("floor");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	end = time(NULL) + (time_t)secs;
	while (!stop && time(NULL) < end) {
		int k = epoll_wait(ep, evs, 256, 500);

		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					if (c >= FLOOR_MAXFD || (conns[c] =
					    calloc(1, sizeof(**conns))) ==
					    NULL) {
						close(c);
						continue;
					}
					conns[c]->fd = c;
					send(c, greeting, sizeof(greeting) - 1,
					    MSG_NOSIGNAL);
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			if (floor_input(conns[fd]) == -1) {
				close(fd);
				free(conns[fd]);
				conns[fd] = NULL;
			}
		}
	}
	return 0;
}
