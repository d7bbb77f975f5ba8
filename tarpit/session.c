/*
 * session.c -- one accepted SMTP connection: a single event that handles
 * data, writability, timeouts, EOF and errors in one callback, around the
 * pure engine in smtp.c.  Buffers exist only while needed: the partial
 * line (line.c) and unsent reply bytes.  When a session ends its record
 * goes to the store queue and the session is freed from the event loop,
 * never inside its own callback.
 */
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tarpit.h"

#define READ_CHUNK	4096
#define OUT_MAX		65536	/* unsent reply bytes before we give up */

static void	 session_cb(evutil_socket_t, short, void *);
static void	 session_arm(struct session *);
static void	 session_read(struct session *);
static void	 session_write(struct session *, const char *, size_t);
static void	 session_flush(struct session *);
static int	 session_line(void *, const char *, size_t, int);
static void	 session_free_cb(evutil_socket_t, short, void *);
static void	 session_record(struct session *, int64_t);

/* Takes ownership of fd; sends the greeting. */
void
session_start(struct tarpit *tp, const struct listener *l, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct session	*s;
	struct reply	 r;

	(void)salen;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session refused: out of memory");
		close(fd);
		return;
	}
	s->tp = tp;
	s->l = l;
	s->fd = fd;
	s->id = tarpit_next_id(tp);
	s->start_us = s->last_us = util_now_us();
	util_addr_str(sa, s->client_ip, sizeof(s->client_ip), &s->src_port);
	smtp_init(&s->smtp, &tp->conf, s->client_ip, l->ip);
	LIST_INSERT_HEAD(&tp->sessions, s, entry);
	tp->st.accepted++;
	tp->st.open++;
	log_debug("session=%016" PRIx64 " opened src=%s:%u dst=%s:%u", s->id,
	    s->client_ip, s->src_port, l->ip, l->port);

	smtp_greeting(&s->smtp, &r);
	session_write(s, r.buf, r.len);
	session_arm(s);
}

/*
 * Waits for what the session needs next: writability while reply bytes
 * are pending (no reading then, which bounds memory), else input; both
 * with the nearer of the idle and lifetime deadlines as timeout.  Closes
 * the session when the engine is done and everything was sent.
 */
static void
session_arm(struct session *s)
{
	const struct config	*c = &s->tp->conf;
	int64_t			 now = util_now_us(), idle, life, t;
	struct timeval		 tv;
	short			 what;

	if (s->closed)
		return;
	if (s->outlen == 0 && s->smtp.state == SMTP_DONE) {
		session_close(s, s->smtp.reason);
		return;
	}
	idle = s->last_us + (int64_t)c->idle_timeout_ms * 1000;
	life = s->start_us + (int64_t)c->max_session_ms * 1000;
	t = (idle < life ? idle : life) - now;
	if (t < 0)
		t = 0;
	tv.tv_sec = t / 1000000;
	tv.tv_usec = t % 1000000;
	what = s->outlen > 0 ? EV_WRITE : EV_READ;
	event_assign(&s->ev, s->tp->base, s->fd, what, session_cb, s);
	event_add(&s->ev, &tv);
}

static void
session_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	struct reply	 r;

	(void)fd;
	if (what & EV_TIMEOUT) {
		int64_t now = util_now_us();
		enum close_reason why = now >= s->start_us +
		    (int64_t)s->tp->conf.max_session_ms * 1000 ?
		    CLOSE_LIFETIME : CLOSE_TIMEOUT;
		if (s->outlen > 0) {
			/* The client does not read: nothing more to say. */
			session_close(s, why);
			return;
		}
		smtp_timeout(&s->smtp, why, &r);
		session_write(s, r.buf, r.len);
		session_close(s, why);
		return;
	}
	if (what & EV_WRITE)
		session_flush(s);
	else if (what & EV_READ)
		session_read(s);
	session_arm(s);
}

static void
session_read(struct session *s)
{
	char		 buf[READ_CHUNK];
	ssize_t		 n;
	struct reply	 r;

	n = recv(s->fd, buf, sizeof(buf), 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		session_close(s, n == 0 ? CLOSE_EOF : CLOSE_RESET);
		return;
	}
	s->last_us = util_now_us();
	if (s->bytes_in == 0) {
		smtp_first_bytes(&s->smtp, buf, (size_t)n, &r);
		if (r.len > 0)
			session_write(s, r.buf, r.len);
		if (s->smtp.state == SMTP_DONE)
			return;
	}
	s->bytes_in += (uint64_t)n;
	line_feed(&s->lb, buf, (size_t)n, session_line, s);
}

/* line.c callback: one complete line.  Non-zero stops the feed. */
static int
session_line(void *arg, const char *line, size_t len, int flags)
{
	struct session	*s = arg;
	struct reply	 r;

	smtp_line(&s->smtp, line, len, flags, &r);
	session_write(s, r.buf, r.len);
	return s->smtp.state == SMTP_DONE || s->closed;
}

/*
 * Sends reply bytes, keeping what the socket does not take for later.
 * A client that stops reading while we hold OUT_MAX bytes is dropped.
 */
static void
session_write(struct session *s, const char *p, size_t len)
{
	ssize_t	 n = 0;

	if (s->closed || len == 0)
		return;
	if (s->outlen == 0) {
		n = send(s->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			smtp_end(&s->smtp, CLOSE_RESET);
			return;
		}
		if (n < 0)
			n = 0;
		s->bytes_out += (uint64_t)n;
		if ((size_t)n == len)
			return;
	}
	if (s->outlen + (len - (size_t)n) > OUT_MAX) {
		smtp_end(&s->smtp, CLOSE_RESET);
		free(s->out);
		s->out = NULL;
		s->outlen = s->outoff = 0;
		return;
	}
	char *no = realloc(s->out, s->outlen + (len - (size_t)n));
	if (no == NULL) {
		smtp_end(&s->smtp, CLOSE_RESET);
		return;
	}
	s->out = no;
	memcpy(s->out + s->outlen, p + n, len - (size_t)n);
	s->outlen += (uint16_t)(len - (size_t)n);
}

static void
session_flush(struct session *s)
{
	ssize_t n;

	n = send(s->fd, s->out + s->outoff, s->outlen - s->outoff,
	    MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			smtp_end(&s->smtp, CLOSE_RESET);
			s->outlen = s->outoff = 0;
			free(s->out);
			s->out = NULL;
		}
		return;
	}
	s->bytes_out += (uint64_t)n;
	s->outoff += (uint16_t)n;
	if (s->outoff == s->outlen) {
		free(s->out);
		s->out = NULL;
		s->outlen = s->outoff = 0;
	}
}

/* Builds the session's record and hands it to the store queue. */
static void
session_record(struct session *s, int64_t now)
{
	struct sess_rec		 rec;
	const struct listener	*l = s->l;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);

	memset(&rec, 0, sizeof(rec));
	snprintf(rec.uid, sizeof(rec.uid), "%016" PRIx64, s->id);
	rec.start_us = s->start_us;
	rec.end_us = now;
	strlcpy_(rec.src_ip, s->client_ip, sizeof(rec.src_ip));
	rec.src_port = s->src_port;
	strlcpy_(rec.dst_ip, l->ip, sizeof(rec.dst_ip));
	if ((strcmp(l->ip, "0.0.0.0") == 0 || strcmp(l->ip, "::") == 0) &&
	    getsockname(s->fd, (struct sockaddr *)&ss, &sslen) == 0)
		util_addr_str((struct sockaddr *)&ss, rec.dst_ip,
		    sizeof(rec.dst_ip), NULL);
	rec.dst_port = l->port;
	rec.mx_pref = l->mx_pref;
	rec.role = l->role;
	smtp_fill(&s->smtp, &rec);
	rec.bytes_in = s->bytes_in;
	rec.bytes_out = s->bytes_out;
	tarpit_emit(s->tp, &rec);

	char helo[96], mail[96];
	util_escape_term(rec.helo.p, rec.helo.len, helo, sizeof(helo));
	util_escape_term(rec.mail_from.p, rec.mail_from.len, mail,
	    sizeof(mail));
	log_info("session=%s closed src=%s dst=%s:%u reason=%s stage=%s "
	    "reply=%u helo=\"%s\" from=\"%s\" rcpts=%u duration=%.3f "
	    "anomalies=0x%x", rec.uid, rec.src_ip, rec.dst_ip, rec.dst_port,
	    close_reason_name(rec.reason), stage_name(rec.stage),
	    rec.reply_code, helo, mail, rec.rcpt_total,
	    (double)(now - s->start_us) / 1e6, rec.anomalies);
}

/*
 * Ends a session: records it once, closes the socket and leaves the
 * memory to be freed from the event loop.  The first reason given (by
 * the engine or here) is the one recorded.
 */
void
session_close(struct session *s, enum close_reason why)
{
	struct tarpit	*tp = s->tp;

	if (s->closed)
		return;
	s->closed = 1;
	smtp_end(&s->smtp, why);
	if (event_initialized(&s->ev))
		event_del(&s->ev);
	session_record(s, util_now_us());
	close(s->fd);
	s->fd = -1;
	LIST_REMOVE(s, entry);
	tp->st.open--;
	tp->st.closed++;
	if (event_base_once(tp->base, -1, EV_TIMEOUT, session_free_cb, s,
	    NULL) == -1)
		session_free_cb(-1, 0, s);
}

static void
session_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	line_free(&s->lb);
	smtp_free(&s->smtp);
	free(s->out);
	free(s);
}
