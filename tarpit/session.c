/*
 * session.c -- one accepted SMTP connection: a single event that handles
 * data, writability, timeouts, EOF and errors in one callback, around the
 * pure engine in smtp.c.
 *
 * The tarpit lives here.  Output is held in s->out until s->due_us: the
 * greeting until the greeting delay has passed (while we watch for a
 * client that talks first), and for a tarpitted client every reply until
 * the reply delay has passed, then sent stutter-bytes at a time.  The
 * one event of the session doubles as its only timer.  A client that
 * behaves like an MTA is never tarpitted under "tarpit bots", so its
 * fall-over to the real MX stays immediate.
 *
 * Buffers exist only while needed: the partial line (line.c) and unsent
 * reply bytes.  When a session ends its record goes to the store queue
 * and the session is freed from the event loop, never inside its own
 * callback.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tarpit.h"

#define READ_CHUNK	4096
#define OUT_MAX		65536	/* unsent reply bytes before we give up */
#define TARPIT_SOCKBUF	2048	/* kernel buffers of a tarpitted socket */

static void	 session_cb(evutil_socket_t, short, void *);
static void	 session_arm(struct session *);
static void	 session_read(struct session *);
static void	 session_peek(struct session *);
static void	 session_reply(struct session *, const struct reply *);
static void	 session_queue(struct session *, const char *, size_t);
static void	 session_flush(struct session *);
static void	 session_tarpit_check(struct session *);
static int	 session_returning(struct tarpit *, struct session *);
static int	 session_line(void *, const char *, size_t, int);
static void	 session_free_cb(evutil_socket_t, short, void *);
static void	 session_record(struct session *, int64_t);
static void	 session_drain(int);
static uint32_t	 counter_add(uint32_t, size_t);

/*
 * Takes ownership of fd and starts the session: refuses it with a 421
 * when the client already has max-per-client sessions open, else queues
 * the greeting (sent at once, or after the greeting delay).
 */
void
session_start(struct tarpit *tp, const struct listener *l, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct session	*s;
	struct reply	 r;
	uint8_t		 key[16];

	(void)salen;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session refused: out of memory");
		close(fd);
		return;
	}
	s->l = l;
	s->fd = fd;
	s->id = tarpit_next_id(tp);
	s->start_us = s->last_us = util_now_us();
	util_addr_str(sa, s->client_ip, sizeof(s->client_ip), &s->src_port);
	smtp_init(&s->smtp, &tp->conf, s->client_ip, l->ip);
	LIST_INSERT_HEAD(&tp->sessions, s, entry);
	tp->st.conn_total++;
	tp->st.conn_open++;
	log_debug("session=%016" PRIx64 " opened src=%s:%u dst=%s:%u", s->id,
	    s->client_ip, s->src_port, l->ip, l->port);

	if (clients_key(s->client_ip, key) == 0 &&
	    clients_add(&tp->clients, key) > tp->conf.max_per_client) {
		tp->st.refused_per_client++;
		memset(&r, 0, sizeof(r));
		smtp_limit(&s->smtp, &r);
		session_reply(s, &r);
		session_arm(s);
		return;
	}
	if (session_returning(tp, s))
		return;
	smtp_greeting(&s->smtp, &r);
	if (tp->conf.greeting_delay_ms == 0) {
		/* Data already waiting at accept: it talked first. */
		int avail = 0;
		if (ioctl(fd, FIONREAD, &avail) == 0 && avail > 0)
			s->smtp.anomalies |= ANOM_PREGREET;
	}
	session_tarpit_check(s);
	if (tp->conf.greeting_delay_ms > 0 && r.close == 0)
		s->due_us = s->start_us +
		    (int64_t)tp->conf.greeting_delay_ms * 1000;
	else
		s->peeked = 1;
	session_reply(s, &r);
	session_arm(s);
}

/*
 * The returning client rule (recent.c): a client back at a decoy within
 * returning-window that was not seen at the real MX since gets 421 at
 * the greeting.  Returns 1 when it did (the session then just closes).
 */
static int
session_returning(struct tarpit *tp, struct session *s)
{
	struct reply	 r;
	uint64_t	 key;

	if (tp->conf.returning_defer != RETURNING_GREETING ||
	    recent_key(s->client_ip, &key) == -1 ||
	    recent_contact(&tp->recent, key, s->start_us,
	    tp->conf.returning_window_ms) != RECENT_RETURNING)
		return 0;
	tp->st.returning_deferred++;
	log_debug("session=%016" PRIx64 " returning client=%s: 421 at "
	    "greeting", s->id, s->client_ip);
	smtp_returning(&s->smtp, &r);
	s->peeked = 1;
	session_reply(s, &r);
	session_arm(s);
	return 1;
}

/* Has the client earned the tarpit?  Once in, it stays in. */
static void
session_tarpit_check(struct session *s)
{
	const struct config	*c = &s->l->tp->conf;
	int			 sz = TARPIT_SOCKBUF;

	if (s->tarpitted || c->tarpit == TARPIT_NONE ||
	    (c->tarpit == TARPIT_BOTS && !(s->smtp.anomalies & ANOM_BOT)))
		return;
	s->tarpitted = 1;
	s->l->tp->st.tarpit_open++;
	s->l->tp->st.tarpit_total++;
	setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/*
 * Decides what the session waits for next and until when (pure: the
 * clock is an argument, so the unit tests drive it).  Pending output not
 * yet due: a timer (and, before the greeting, watch for a client that
 * talks first).  Pending output due: writability.  Otherwise input, with
 * the idle timeout.  The session lifetime caps every wait.
 */
void
session_plan(const struct config *c, const struct session *s, int64_t now,
    struct session_wait *w)
{
	int64_t t;

	w->until_us = s->start_us + (int64_t)c->max_session_ms * 1000;
	w->lifetime = 1;
	if (s->outlen > 0 && s->due_us > now) {
		w->what = s->peeked ? 0 : EV_READ;
		if (s->due_us < w->until_us) {
			w->until_us = s->due_us;
			w->lifetime = 0;
		}
	} else if (s->outlen > 0)
		w->what = EV_WRITE;
	else {
		w->what = EV_READ;
		t = s->last_us + (int64_t)c->idle_timeout_ms * 1000;
		if (t < w->until_us) {
			w->until_us = t;
			w->lifetime = 0;
		}
	}
}

/*
 * How many held bytes may go out now: all of them, or stutter-bytes for
 * a tarpitted session with stutter on (pure, like session_plan).
 */
size_t
session_chunk(const struct config *c, const struct session *s)
{
	size_t len = s->outlen - s->outoff;

	if (s->tarpitted && c->stutter_ms > 0 && len > c->stutter_bytes)
		len = c->stutter_bytes;
	return len;
}

/* Arms the session's one event as session_plan() says, or closes it. */
static void
session_arm(struct session *s)
{
	struct session_wait	 w;
	int64_t			 now = util_now_us(), t;
	struct timeval		 tv;

	if (s->closed)
		return;
	if (s->outlen == 0 && s->smtp.state == SMTP_DONE) {
		session_close(s, s->smtp.reason);
		return;
	}
	session_plan(&s->l->tp->conf, s, now, &w);
	s->lifetime = w.lifetime;
	t = w.until_us - now;
	if (t < 0)
		t = 0;
	tv.tv_sec = t / 1000000;
	tv.tv_usec = t % 1000000;
	event_assign(&s->ev, s->l->tp->base, s->fd, w.what, session_cb, s);
	event_add(&s->ev, &tv);
}

static void
session_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session		*s = arg;
	const struct config	*c = &s->l->tp->conf;
	struct reply		 r;
	int64_t			 now;

	(void)fd;
	if (what & EV_TIMEOUT) {
		/*
		 * Which deadline fired is what the event was armed for: the
		 * loop's clock is coarser than ours and may fire a tick early.
		 */
		now = util_now_us();
		int life = s->lifetime || now >= s->start_us +
		    (int64_t)c->max_session_ms * 1000;
		if (life || s->outlen == 0) {
			/* Say why, best effort, and go. */
			enum close_reason why = life ? CLOSE_LIFETIME :
			    CLOSE_TIMEOUT;
			smtp_timeout(&s->smtp, why, &r);
			if (s->outlen == 0)
				send(s->fd, r.buf, r.len,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
			session_close(s, why);
			return;
		}
		s->peeked = 1;
		session_flush(s);
	} else if (what & EV_WRITE)
		session_flush(s);
	else if (what & EV_READ) {
		if (!s->peeked)
			session_peek(s);
		else
			session_read(s);
	}
	session_arm(s);
}

/*
 * Input while the greeting is held back: the client talked first.
 * Looks at the bytes without taking them; they are read as commands
 * once the greeting is out.
 */
static void
session_peek(struct session *s)
{
	char		 buf[8];
	ssize_t		 n;
	struct reply	 r;

	s->peeked = 1;
	n = recv(s->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n <= 0)
		return;		/* EOF or error: seen on the next read */
	smtp_first_bytes(&s->smtp, buf, (size_t)n, 1, &r);
	session_tarpit_check(s);
	if (r.len > 0) {
		/* Not SMTP: drop the held greeting, answer and close. */
		free(s->out);
		s->out = NULL;
		s->outlen = s->outoff = 0;
		s->due_us = 0;
		session_reply(s, &r);
	}
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
	if (s->bytes_in == 0)
		smtp_first_bytes(&s->smtp, buf, (size_t)n, 0, &r);
	else
		smtp_bytes(&s->smtp, buf, (size_t)n, &r);
	s->bytes_in = counter_add(s->bytes_in, (size_t)n);
	if (r.len > 0)
		session_reply(s, &r);
	if (s->smtp.state == SMTP_DONE)
		return;
	line_feed(&s->lb, buf, (size_t)n, session_line, s);
}

/* line.c callback: one complete line.  Non-zero stops the feed. */
static int
session_line(void *arg, const char *line, size_t len, int flags)
{
	struct session	*s = arg;
	struct reply	 r;

	smtp_line(&s->smtp, line, len, flags, &r);
	session_tarpit_check(s);
	session_reply(s, &r);
	return s->smtp.state == SMTP_DONE || s->closed;
}

/*
 * Sends a reply now, or holds it: a tarpitted session's replies wait
 * for the reply delay and then trickle out (stutter).
 */
static void
session_reply(struct session *s, const struct reply *r)
{
	const struct config *c = &s->l->tp->conf;

	s->l->tp->st.reply[s->smtp.reply_code % STATS_CODES]++;
	if (s->tarpitted && (c->reply_delay_ms > 0 || c->stutter_ms > 0)) {
		if (s->outlen == 0)
			s->due_us = util_now_us() +
			    (int64_t)c->reply_delay_ms * 1000;
		session_queue(s, r->buf, r->len);
		return;
	}
	if (s->outlen == 0 && s->due_us == 0) {
		ssize_t n = send(s->fd, r->buf, r->len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			smtp_end(&s->smtp, CLOSE_RESET);
			return;
		}
		if (n < 0)
			n = 0;
		s->bytes_out = counter_add(s->bytes_out, (size_t)n);
		session_queue(s, r->buf + n, r->len - (size_t)n);
		return;
	}
	session_queue(s, r->buf, r->len);
}

/*
 * Keeps reply bytes for later.  A client that stops reading while we
 * hold OUT_MAX bytes is dropped.
 */
static void
session_queue(struct session *s, const char *p, size_t len)
{
	char *no;

	if (len == 0 || s->closed)
		return;
	if (s->outlen + len > OUT_MAX ||
	    (no = realloc(s->out, s->outlen + len)) == NULL) {
		smtp_end(&s->smtp, CLOSE_RESET);
		free(s->out);
		s->out = NULL;
		s->outlen = s->outoff = 0;
		return;
	}
	s->out = no;
	memcpy(s->out + s->outlen, p, len);
	s->outlen += (uint16_t)len;
}

/*
 * Sends held output that is due: all of it, or stutter-bytes of it for
 * a tarpitted session, which then waits stutter again.
 */
static void
session_flush(struct session *s)
{
	const struct config	*c = &s->l->tp->conf;
	size_t			 len = session_chunk(c, s);
	ssize_t			 n;

	n = send(s->fd, s->out + s->outoff, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			smtp_end(&s->smtp, CLOSE_RESET);
			free(s->out);
			s->out = NULL;
			s->outlen = s->outoff = 0;
		}
		return;
	}
	s->bytes_out = counter_add(s->bytes_out, (size_t)n);
	s->outoff += (uint16_t)n;
	s->due_us = 0;
	if (s->outoff == s->outlen) {
		free(s->out);
		s->out = NULL;
		s->outlen = s->outoff = 0;
		s->last_us = util_now_us();
	} else if (s->tarpitted && c->stutter_ms > 0)
		s->due_us = util_now_us() + (int64_t)c->stutter_ms * 1000;
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
	rec.greeting_delay_ms = s->l->tp->conf.greeting_delay_ms;
	smtp_fill(&s->smtp, &rec);
	rec.bytes_in = s->bytes_in;
	rec.bytes_out = s->bytes_out;
	tarpit_emit(s->l->tp, &rec);

	struct net_stats *st = &s->l->tp->st;
	st->stage[rec.stage]++;
	st->reason[rec.reason]++;
	for (int i = 0; i < ANOM_COUNT; i++)
		if (rec.anomalies & (1u << i))
			st->anomaly[i]++;

	char helo[96], mail[96];
	util_escape_term(rec.helo.p, rec.helo.len, helo, sizeof(helo));
	util_escape_term(rec.mail_from.p, rec.mail_from.len, mail,
	    sizeof(mail));
	log_info("session=%s closed src=%s dst=%s:%u reason=%s stage=%s "
	    "reply=%u helo=\"%s\" from=\"%s\" rcpts=%u duration=%.3f "
	    "tarpit=%d anomalies=0x%x", rec.uid, rec.src_ip, rec.dst_ip,
	    rec.dst_port, close_reason_name(rec.reason), stage_name(rec.stage),
	    rec.reply_code, helo, mail, rec.rcpt_total,
	    (double)(now - s->start_us) / 1e6, s->tarpitted, rec.anomalies);
}

/* Adds to a byte counter, stopping at its maximum instead of wrapping. */
static uint32_t
counter_add(uint32_t c, size_t n)
{
	return n > UINT32_MAX - c ? UINT32_MAX : c + (uint32_t)n;
}

/*
 * Reads and discards what the client sent and we did not take (bounded),
 * so that close() does not turn into a reset that could destroy our last
 * reply (a 421) before the client reads it.
 */
static void
session_drain(int fd)
{
	char	 buf[READ_CHUNK];

	for (int i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

/*
 * Ends a session: records it once, closes the socket and leaves the
 * memory to be freed from the event loop.  The first reason given (by
 * the engine or here) is the one recorded.
 */
void
session_close(struct session *s, enum close_reason why)
{
	struct tarpit	*tp = s->l->tp;
	uint8_t		 key[16];

	if (s->closed)
		return;
	s->closed = 1;
	smtp_end(&s->smtp, why);
	if (event_initialized(&s->ev))
		event_del(&s->ev);
	session_record(s, util_now_us());
	session_drain(s->fd);
	close(s->fd);
	s->fd = -1;
	LIST_REMOVE(s, entry);
	if (clients_key(s->client_ip, key) == 0)
		clients_del(&tp->clients, key);
	tp->st.conn_open--;
	if (s->tarpitted)
		tp->st.tarpit_open--;
	if (tp->full && tp->st.conn_open < tp->conf.max_clients)
		listen_resume(tp);
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
