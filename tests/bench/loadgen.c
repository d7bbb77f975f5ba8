/* SPDX-License-Identifier: ISC */
/*
 * loadgen.c -- load generator for decoymx (and any SMTP server, such as
 * Postfix's smtp-sink, for a side-by-side figure).
 *
 *   loadgen run  -t ADDR:PORT -n SESSIONS -c CONCURRENCY [-s SRCBASE -k NSRC]
 *       each session: connect, greeting, EHLO, MAIL, RCPT, QUIT; prints
 *       sessions/s, latency percentiles and reply codes seen per stage.
 *   loadgen hold -t ADDR:PORT -c CONNECTIONS -d SECONDS [-s SRCBASE -k NSRC]
 *       [-b EVERY]
 *       opens and keeps CONNECTIONS connections for SECONDS, reading
 *       whatever the server trickles; prints how many stayed open.  With
 *       -b, each also sends one byte every EVERY seconds and never a line
 *       end (slowloris), the first at a spread offset.
 *
 * Source addresses rotate over NSRC addresses from SRCBASE (IPv4, e.g.
 * 127.1.0.1), so a loopback test looks like many clients.  Every run is
 * bounded by its count and by a time limit (-T, default 300 s).
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum step { S_GREET, S_EHLO, S_MAIL, S_RCPT, S_QUIT, S_DONE, S_MAX };
static const char *step_name[] = { "greeting", "ehlo", "mail", "rcpt",
    "quit" };
static const char *step_cmd[] = { NULL, "EHLO loadgen.example.org\r\n",
    "MAIL FROM:<bench@example.org>\r\n", "RCPT TO:<user@example.net>\r\n",
    "QUIT\r\n" };

struct conn {
	int		 fd;
	enum step	 step;
	double		 t0;
	char		 buf[1024];
	size_t		 len;
};

static struct sockaddr_in	 target;
static uint32_t			 srcbase, nsrc = 1, srcnext;
static unsigned			 codes[S_MAX][6];	/* by first digit */
static unsigned			 errors;
static double			*lat;
static size_t			 nlat;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Opens a non-blocking connection from the next source address. */
static int
conn_open(int ep, struct conn *c)
{
	struct epoll_event	 ev;
	struct sockaddr_in	 src;
	int			 one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		return -1;
	if (srcbase != 0) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(srcbase + srcnext++ % nsrc);
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			close(c->fd);
			return -1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&target, sizeof(target)) == -1 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		return -1;
	}
	c->step = S_GREET;
	c->len = 0;
	c->t0 = now();
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

/*
 * Reads what arrived; on a complete reply records its code and sends the
 * next command.  Returns 1 when the session is over, -1 on error.
 */
static int
conn_input(struct conn *c)
{
	ssize_t	 n;
	char	*line, *eol;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (n == 0 && c->step == S_DONE)
		return 1;
	if (n <= 0)
		return (n == -1 && errno == EAGAIN) ? 0 : -1;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	for (line = c->buf; (eol = strstr(line, "\r\n")) != NULL;
	    line = eol + 2) {
		if (eol - line < 4 || line[3] == '-')
			continue;	/* continuation line */
		int d = line[0] - '0';
		if (c->step < S_DONE && d >= 0 && d <= 5)
			codes[c->step][d]++;
		if (d == 4 && line[1] == '2' && line[2] == '1')
			c->step = S_QUIT;	/* 421: server is closing */
		c->step++;
		if (c->step == S_DONE)
			return 1;
		if (send(c->fd, step_cmd[c->step], strlen(step_cmd[c->step]),
		    MSG_NOSIGNAL) == -1)
			return -1;
	}
	c->len = strlen(line);
	memmove(c->buf, line, c->len + 1);
	if (c->len >= sizeof(c->buf) - 1)
		return -1;
	return 0;
}

static int
run(int n, int conc, double limit)
{
	int			 ep = epoll_create1(0), started = 0, done = 0;
	struct conn		*cs = calloc((size_t)conc, sizeof(*cs));
	struct epoll_event	 evs[256];
	double			 t0 = now();

	lat = calloc((size_t)n, sizeof(*lat));
	for (int i = 0; i < conc && started < n; i++, started++)
		if (conn_open(ep, &cs[i]) == -1)
			errors++;
	while (done + (int)errors < started || started < n) {
		if (now() - t0 > limit) {
			fprintf(stderr, "time limit reached\n");
			break;
		}
		int k = epoll_wait(ep, evs, 256, 1000);
		for (int i = 0; i < k; i++) {
			struct conn *c = evs[i].data.ptr;
			int r = conn_input(c);
			if (r == 0)
				continue;
			if (r == 1) {
				lat[nlat++] = now() - c->t0;
				done++;
			} else
				errors++;
			close(c->fd);
			if (started < n) {
				started++;
				if (conn_open(ep, c) == -1)
					errors++;
			}
		}
	}
	double el = now() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("sessions=%d completed=%zu errors=%u elapsed=%.3f "
	    "rate=%.0f/s\n", n, nlat, errors, el, nlat / el);
	if (nlat > 0)
		printf("latency_ms p50=%.2f p90=%.2f p99=%.2f max=%.2f\n",
		    lat[nlat / 2] * 1e3, lat[nlat * 9 / 10] * 1e3,
		    lat[nlat * 99 / 100] * 1e3, lat[nlat - 1] * 1e3);
	for (int s = 0; s < S_DONE; s++)
		printf("replies %-8s 2xx=%u 3xx=%u 4xx=%u 5xx=%u\n",
		    step_name[s], codes[s][2], codes[s][3], codes[s][4],
		    codes[s][5]);
	return errors == 0 && nlat == (size_t)n ? 0 : 1;
}

static int
hold(int k, double secs, double every)
{
	int			 ep = epoll_create1(0), open_ = 0, closed = 0;
	struct conn		*cs = calloc((size_t)k, sizeof(*cs));
	struct epoll_event	 evs[256];
	double			 t0 = now();
	unsigned long long	 bytes = 0, sent = 0;

	for (int i = 0; i < k; i++) {
		if (conn_open(ep, &cs[i]) == -1) {
			cs[i].fd = -1;
			errors++;
			continue;
		}
		open_++;
		if (i % 1000 == 999) {	/* let the server accept */
			int m = epoll_wait(ep, evs, 256, 0);
			(void)m;
		}
	}
	printf("opened=%d failed=%u in %.1fs\n", open_, errors, now() - t0);
	fflush(stdout);
	for (int i = 0; i < k; i++)	/* c->t0: when the next byte is due */
		cs[i].t0 = now() + (every > 0 ? every * i / k : 0);
	while (now() - t0 < secs) {
		int m = epoll_wait(ep, evs, 256, 200);
		double t = now();

		for (int i = 0; every > 0 && i < k; i++) {
			if (cs[i].fd < 0 || cs[i].t0 > t)
				continue;
			if (send(cs[i].fd, "x", 1, MSG_NOSIGNAL) == 1)
				sent++;
			cs[i].t0 += every;
		}
		for (int i = 0; i < m; i++) {
			struct conn *c = evs[i].data.ptr;
			char buf[512];
			ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
			if (r > 0)
				bytes += (unsigned long long)r;
			else if (r == 0 || errno != EAGAIN) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
				closed++;
			}
		}
	}
	printf("held=%d closed_by_server=%d bytes_received=%llu "
	    "bytes_sent=%llu\n", open_ - closed, closed, bytes, sent);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen run -t ADDR:PORT -n N -c C "
	    "[-s SRCBASE -k NSRC] [-T LIMIT]\n"
	    "       loadgen hold -t ADDR:PORT -c K -d SECONDS "
	    "[-s SRCBASE -k NSRC] [-b EVERY]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	int		 n = 1000, conc = 50, ch;
	double		 secs = 10, limit = 300, every = 0;
	char		*t = NULL, *colon;
	struct rlimit	 rl;

	if (argc < 2)
		usage();
	optind = 2;
	while ((ch = getopt(argc, argv, "t:n:c:s:k:d:T:b:")) != -1) {
		switch (ch) {
		case 't': t = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'k': nsrc = (uint32_t)atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'T': limit = atof(optarg); break;
		case 'b': every = atof(optarg); break;
		case 's': {
			struct in_addr a;
			if (inet_pton(AF_INET, optarg, &a) != 1)
				usage();
			srcbase = ntohl(a.s_addr);
			break;
		}
		default: usage();
		}
	}
	if (t == NULL || (colon = strrchr(t, ':')) == NULL || n < 1 ||
	    conc < 1 || nsrc < 1)
		usage();
	*colon = '\0';
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, t, &target.sin_addr) != 1)
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (strcmp(argv[1], "run") == 0)
		return run(n, conc, limit);
	if (strcmp(argv[1], "hold") == 0)
		return hold(conc, secs > limit ? limit : secs, every);
	usage();
	return 2;
}
