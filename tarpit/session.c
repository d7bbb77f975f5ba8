/* SPDX-License-Identifier: ISC */
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
 * On a "proxy" listener the session first reads the PROXY header
 * (proxy.c) within PROXY_TIMEOUT_MS and takes the client's and decoy's
 * addresses from it; without a valid one it is closed unrecorded.  A
 * client in an "ignore" network gets the defer reply at once.
 *
 * Buffers exist only while needed: the PROXY header, the partial line
 * (line.c) and unsent reply bytes.  When a session ends its record goes to the store queue
 * and the session is freed from the event loop, never inside its own
 * callback.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
static int	 session_banner(struct session *, const struct reply *);
static int	 session_line(void *, const char *, size_t, int);
static void	 session_free_cb(evutil_socket_t, short, void *);
static void	 session_record(struct session *, int64_t);
static void	 session_drain(int);
static void	 session_begin(struct session *);
static void	 session_proxy(struct session *);
static void	 session_proxy_fail(struct session *, int, const char *);
static uint32_t	 counter_add(uint32_t, size_t);

/*
 * Takes ownership of fd and starts the session: on a "proxy" listener
 * it first awaits the PROXY header (session_proxy), else it begins at
 * once (session_begin).
 */
void
session_start(struct tarpit *tp, const struct listener *l, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct session	*s;

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
	if (log_enabled(LOG_LVL_DEBUG)) {
		char	 src[ADDR_STRLEN + 8], dst[ADDR_STRLEN + 8];

		log_debug("session=%016" PRIx64 " opened src=%s dst=%s", s->id,
		    log_endpoint(s->client_ip, s->src_port, src, sizeof(src)),
		    log_endpoint(l->ip, l->port, dst, sizeof(dst)));
	}
	if (l->proxy && (s->pbuf = malloc(PROXY_MAX)) == NULL) {
		session_proxy_fail(s, PROXY_MISSING, "out of memory");
		return;
	}
	if (l->proxy) {
		session_arm(s);		/* the header first */
		return;
	}
	session_begin(s);
}

/*
 * Begins the SMTP dialogue once the client's address is known: an
 * ignored client gets the defer reply at once; one with max-per-client
 * sessions open already a 421; anyone else the greeting (sent at once,
 * or after the greeting delay).
 */
static void
session_begin(struct session *s)
{
	struct tarpit	*tp = s->l->tp;
	struct reply	 r;
	uint8_t		 key[16];
	int		 fd = s->fd, record = 0;

	if (config_ignored(&tp->conf, s->client_ip, &record)) {
		s->ignored = 1;
		s->norecord = !record;
		tp->st.ignored++;
		smtp_defer_now(&s->smtp, &r);
		session_reply(s, &r);
		session_arm(s);
		return;
	}
	if (clients_key(s->client_ip, key) == 0 && (s->counted = 1) &&
	    clients_add(&tp->clients, key) > tp->conf.max_per_client) {
		tp->st.refused_per_client++;
		memset(&r, 0, sizeof(r));
		smtp_limit(&s->smtp, &r);
		session_reply(s, &r);
		session_arm(s);
		return;
	}
	/* A balancer's own check is never a returning client. */
	if (!s->local && session_returning(tp, s))
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
	else if (session_banner(s, &r) == 0) {
		session_arm(s);
		return;
	} else
		s->peeked = 1;
	session_reply(s, &r);
	session_arm(s);
}

/*
 * The returning client rule (recent.c): a client back at a decoy within
 * returning-window (walked to the real MX in between or not) is sent on
 * at once: with "reset" (the default) the connection is reset before any
 * reply, which every MTA of the compatibility matrix takes as "try the
 * next MX" (Courier does not after a 421); with "greeting", 421 at the
 * greeting.  The session is recorded either way.  An IPv4 first contact
 * paired with an IPv6 return (recent_pair()) is sent on the same way.
 * Returns 1 when it did (the session then just closes).
 */
static int
session_returning(struct tarpit *tp, struct session *s)
{
	struct reply		 r;
	struct linger		 lg = { 1, 0 };
	uint64_t		 key;
	enum recent_verdict	 v;
	enum close_reason	 why = CLOSE_DEFERRED;

	if (tp->conf.returning_defer == RETURNING_OFF ||
	    recent_key(s->client_ip, &key) == -1)
		return 0;
	v = recent_contact(&tp->recent, key, s->start_us,
	    tp->conf.returning_window_ms);
	if (recent_pair(&tp->recent, key, v, s->start_us) != RECENT_RETURNING)
		return 0;
	/* taken as returning by the pair rule, or back in such a window */
	if (v == RECENT_FIRST || recent_paired(&tp->recent, key))
		why = CLOSE_PAIRED;
	tp->st.returning_deferred++;
	if (tp->conf.returning_defer == RETURNING_RESET) {
		log_debug("session=%016" PRIx64 " returning client=%s: reset%s",
		    s->id, s->client_ip, why == CLOSE_PAIRED ? " (paired)" : "");
		/* close() with a zero linger time sends a RST */
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		session_close(s, why);
		return 1;
	}
	log_debug("session=%016" PRIx64 " returning client=%s: 421 at "
	    "greeting%s", s->id, s->client_ip,
	    why == CLOSE_PAIRED ? " (paired)" : "");
	smtp_returning(&s->smtp, &r, why);
	s->peeked = 1;
	session_reply(s, &r);
	session_arm(s);
	return 1;
}

/*
 * The multi-line greeting (banner-wait): its first line now, the last
 * one (last, already made) held for banner-wait while the session
 * watches for a client that talks first.  Returns 0 when it did so, -1
 * when the greeting goes out in one line (banner-wait 0, a greeting
 * that defers, a tarpitted client, whose replies wait anyway, or a load
 * balancer's own health check).
 */
static int
session_banner(struct session *s, const struct reply *last)
{
	const struct config	*c = &s->l->tp->conf;
	struct reply		 first;

	/* A balancer's own check (PROXY LOCAL) reads one line only. */
	if (c->banner_wait_ms == 0 || last->close || s->tarpitted || s->local)
		return -1;
	smtp_greeting_first(&s->smtp, &first);
	session_reply(s, &first);
	s->due_us = s->start_us + (int64_t)c->banner_wait_ms * 1000;
	session_queue(s, last->buf, last->len);
	return 0;
}

/* Has the client earned the tarpit?  Once in, it stays in. */
static void
session_tarpit_check(struct session *s)
{
	const struct config	*c = &s->l->tp->conf;
	int			 sz = TARPIT_SOCKBUF;

	if (s->tarpitted || s->local || c->tarpit == TARPIT_NONE ||
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
	if (s->pbuf != NULL) {
		w->what = EV_READ;	/* the PROXY header, briefly */
		t = s->start_us + (int64_t)PROXY_TIMEOUT_MS * 1000;
		if (t < w->until_us) {
			w->until_us = t;
			w->lifetime = 0;
		}
	} else if (s->outlen > 0 && s->due_us > now) {
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
	/*
	 * Persistent, and assigned again only when what it waits for
	 * changes: a session waiting for its next command again costs no
	 * epoll_ctl() (without EV_PERSIST, libevent deleted and re-added
	 * it after every command, one EPOLL_CTL_MOD each).
	 */
	if (event_initialized(&s->ev) &&
	    event_get_events(&s->ev) == (w.what | EV_PERSIST)) {
		event_add(&s->ev, &tv);		/* the new deadline */
		return;
	}
	if (event_initialized(&s->ev))
		event_del(&s->ev);
	event_assign(&s->ev, s->l->tp->base, s->fd, w.what | EV_PERSIST,
	    session_cb, s);
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
	if (s->pbuf != NULL) {
		if (what & EV_TIMEOUT)
			session_proxy_fail(s, s->plen ? PROXY_MALFORMED :
			    PROXY_MISSING, "no complete header in time");
		else
			session_proxy(s);
		if (s->closed)
			return;
		if (s->pbuf == NULL)
			session_begin(s);
		else
			session_arm(s);
		return;
	}
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
	static struct sess_rec	 rec;	/* big: transactions */
	const struct listener	*l = s->l;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);

	record_clear(&rec);
	snprintf(rec.uid, sizeof(rec.uid), "%016" PRIx64, s->id);
	rec.start_us = s->start_us;
	rec.end_us = now;
	strlcpy_(rec.src_ip, s->client_ip, sizeof(rec.src_ip));
	rec.src_port = s->src_port;
	strlcpy_(rec.dst_ip, s->px ? s->px->dst_ip : l->ip, sizeof(rec.dst_ip));
	if (s->px == NULL && (strcmp(l->ip, "0.0.0.0") == 0 ||
	    strcmp(l->ip, "::") == 0) &&
	    getsockname(s->fd, (struct sockaddr *)&ss, &sslen) == 0)
		util_addr_str((struct sockaddr *)&ss, rec.dst_ip,
		    sizeof(rec.dst_ip), NULL);
	rec.dst_port = s->px ? s->px->dst_port : l->port;
	if (s->px != NULL)
		strlcpy_(rec.via, s->px->via_ip, sizeof(rec.via));
	rec.mx_pref = l->mx_pref;
	rec.role = l->role;
	rec.greeting_delay_ms = s->l->tp->conf.greeting_delay_ms;
	smtp_fill(&s->smtp, &rec);
	rec.bytes_in = s->bytes_in;
	rec.bytes_out = s->bytes_out;
	if (s->norecord) {
		log_debug("session=%s closed src=%s not recorded%s", rec.uid,
		    rec.src_ip, s->ignored ? " (ignored)" : "");
		return;
	}
	tarpit_emit(s->l->tp, &rec);

	struct net_stats *st = &s->l->tp->st;
	st->stage[rec.stage]++;
	if (s->l >= s->l->tp->ls && s->l < s->l->tp->ls + s->l->tp->nls &&
	    s->l - s->l->tp->ls < MAX_LISTEN)
		st->listener[s->l - s->l->tp->ls][rec.stage]++;
	st->reason[rec.reason]++;
	for (int i = 0; i < ANOM_COUNT; i++)
		if (rec.anomalies & (1u << i))
			st->anomaly[i]++;

	/* No HELO, no MAIL: no key; MAIL FROM:<> is from="<>". */
	char helo[200], mail[200], dst[ADDR_STRLEN + 8], anoms[256];
	char heloq[sizeof(helo) - 12], mailq[sizeof(mail) - 12];

	helo[0] = mail[0] = '\0';
	if (rec.helo.p != NULL) {
		log_escape(rec.helo.p, rec.helo.len, heloq, sizeof(heloq));
		snprintf(helo, sizeof(helo), " helo=\"%s\"", heloq);
	}
	if (rec.mail_from.p != NULL) {
		log_escape(rec.mail_from.p, rec.mail_from.len, mailq,
		    sizeof(mailq));
		snprintf(mail, sizeof(mail), " from=\"<%s>\"", mailq);
	}
	log_info("session=%s closed src=%s dst=%s reason=%s stage=%s "
	    "reply=%u%s%s rcpts=%u txns=%u duration=%.3f tarpit=%d "
	    "anomalies=%s%s%s%s",
	    rec.uid, rec.src_ip, log_endpoint(rec.dst_ip, rec.dst_port, dst,
	    sizeof(dst)), close_reason_name(rec.reason),
	    stage_name(rec.stage), rec.reply_code, helo, mail, rec.rcpt_total,
	    rec.txn_total, (double)(now - s->start_us) / 1e6, s->tarpitted,
	    log_anomalies(rec.anomalies, anoms, sizeof(anoms)),
	    s->px ? " via=" : "", s->px ? s->px->via_ip : "", s->ignored ?
	    " ignored=yes" : "");
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
	if (s->counted && clients_key(s->client_ip, key) == 0)
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
	struct session		*s = arg;
	const struct tarpit	*tp = s->l->tp;

	(void)fd;
	(void)what;
	line_free(&s->lb);
	smtp_free(&s->smtp);
	free(s->out);
	free(s->pbuf);
	free(s->px);
	free(s);
	(void)tp;
#ifdef __GLIBC__
	/*
	 * The last session of a flood is gone (the multi-line greeting
	 * keeps each one open banner-wait longer, so floods overlap more):
	 * hand the freed memory back instead of keeping the flood's peak.
	 */
	if (tp->st.conn_open == 0)
		malloc_trim(0);
#endif
}

/*
 * Reads the PROXY header of a "proxy" listener's session without taking
 * a byte past it: peeks, parses, and takes only what is header (all of
 * what was peeked while the header is incomplete: it is all header).
 * Done: the addresses are the header's, s->pbuf is freed and the caller
 * begins the session.  A bad header closes the session unrecorded.
 */
static void
session_proxy(struct session *s)
{
	struct proxy_hdr	 h;
	const char		*why;
	ssize_t			 n;
	int			 r;

	n = recv(s->fd, s->pbuf + s->plen, PROXY_MAX - s->plen,
	    MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		session_proxy_fail(s, s->plen ? PROXY_MALFORMED :
		    PROXY_MISSING, "connection closed before the header");
		return;
	}
	r = proxy_parse(s->pbuf, s->plen + (size_t)n, &h, &why);
	if (r < 0) {
		session_proxy_fail(s, -r, why);
		return;
	}
	if (r == 0 && s->plen + (size_t)n >= PROXY_MAX) {
		session_proxy_fail(s, PROXY_OVERSIZED, "header too long");
		return;
	}
	n = recv(s->fd, s->pbuf + s->plen, r > 0 ? (size_t)r - s->plen :
	    (size_t)n, MSG_DONTWAIT);
	if (n <= 0 || (r > 0 && (size_t)n != (size_t)r - s->plen)) {
		session_proxy_fail(s, PROXY_MALFORMED, "short read");
		return;
	}
	s->plen = (uint16_t)(s->plen + n);
	if (r == 0)
		return;
	if (!h.local && (s->px = calloc(1, sizeof(*s->px))) == NULL) {
		log_warn("session=%016" PRIx64 " closed: out of memory",
		    s->id);
		s->norecord = 1;
		session_close(s, CLOSE_RESET);
		return;
	}
	s->l->tp->st.proxy[h.local ? PROXY_LOCAL : PROXY_OK]++;
	free(s->pbuf);
	s->pbuf = NULL;
	s->start_us = s->last_us = util_now_us();
	if (h.local) {
		/*
		 * A balancer's own check: its endpoints, never recorded nor
		 * tarpitted (HAProxy's smtpchk wants the 220 in time).
		 */
		s->norecord = 1;
		s->local = 1;
		log_debug("session=%016" PRIx64 " proxy v%d local src=%s",
		    s->id, h.version, s->client_ip);
		return;
	}
	strlcpy_(s->px->via_ip, s->client_ip, sizeof(s->px->via_ip));
	util_addr_str((struct sockaddr *)&h.src, s->client_ip,
	    sizeof(s->client_ip), &s->src_port);
	util_addr_str((struct sockaddr *)&h.dst, s->px->dst_ip,
	    sizeof(s->px->dst_ip), &s->px->dst_port);
	s->smtp.local_ip = s->px->dst_ip;
	log_debug("session=%016" PRIx64 " proxy v%d src=%s:%u dst=%s:%u "
	    "via=%s", s->id, h.version, s->client_ip, s->src_port,
	    s->px->dst_ip, s->px->dst_port, s->px->via_ip);
}

/*
 * A "proxy" listener's session without a valid header: counted, logged
 * with the balancer's address, closed without a reply and unrecorded
 * (what it sent is never trusted, the balancer never listed).
 */
static void
session_proxy_fail(struct session *s, int result, const char *why)
{
	s->l->tp->st.proxy[result]++;
	log_warn("session=%016" PRIx64 " proxy header rejected src=%s:%u "
	    "result=%s why=\"%s\"", s->id, s->client_ip, s->src_port,
	    proxy_result_name(result), why);
	s->norecord = 1;
	session_close(s, CLOSE_NONSMTP);
}
