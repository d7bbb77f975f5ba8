/* SPDX-License-Identifier: ISC */
/*
 * smtp.c -- the SMTP engine: one line in, one reply out, and a record of
 * what the client said.  No sockets and no clock here; session.c does the
 * I/O, the unit tests call these functions directly.
 *
 * The defer policy: every session is answered with a 4xx at the
 * configured stage (default RCPT) so real MTAs move on to the next MX at
 * once.  Greeting, HELO/EHLO, MAIL, RCPT and DATA never get a 5xx, not
 * even for bad syntax: a 5xx there could bounce legitimate mail.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tarpit.h"

#define RSET_LOOP	5	/* more RSETs than this: rset-loop */

typedef void (*verb_fn)(struct smtp *, const char *, size_t, struct reply *);

static void	 reply_fmt(struct smtp *, struct reply *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 reply_defer(struct smtp *, struct reply *);
static void	 reply_error(struct smtp *, struct reply *, const char *);
static struct smtp_env *env_get(struct smtp *);
static int	 env_put(struct smtp *, const char *, size_t, size_t,
		    struct smtp_str *);
static struct smtp_txn *txn_new(struct smtp *);
static struct smtp_txn *txn_cur(struct smtp *);
static void	 txn_end(struct smtp *, enum txn_end);
static void	 txn_mail(struct smtp *, const char *, size_t,
		    const struct span *);
static int	 txn_rcpt(struct smtp *, const char *, size_t);
static void	 txn_fill(const struct smtp_env *, struct sess_rec *);
static void	 smtp_banner(struct smtp *, char, struct reply *);
static int	 defer_here(const struct smtp *, enum defer_stage);
static void	 cmd_helo(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_ehlo(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_mail(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_rcpt(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_data(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_bdat(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_rset(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_noop(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_quit(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_vrfy(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_expn(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_help(struct smtp *, const char *, size_t, struct reply *);
static void	 cmd_starttls(struct smtp *, const char *, size_t,
		    struct reply *);
static void	 cmd_auth(struct smtp *, const char *, size_t, struct reply *);

static const struct verb {
	const char	*name;
	verb_fn		 fn;
} verbs[] = {
	{ "HELO",	cmd_helo },
	{ "EHLO",	cmd_ehlo },
	{ "MAIL",	cmd_mail },
	{ "RCPT",	cmd_rcpt },
	{ "DATA",	cmd_data },
	{ "BDAT",	cmd_bdat },
	{ "RSET",	cmd_rset },
	{ "NOOP",	cmd_noop },
	{ "QUIT",	cmd_quit },
	{ "VRFY",	cmd_vrfy },
	{ "EXPN",	cmd_expn },
	{ "HELP",	cmd_help },
	{ "STARTTLS",	cmd_starttls },
	{ "AUTH",	cmd_auth },
};

void
smtp_init(struct smtp *s, const struct config *conf, const char *client_ip,
    const char *local_ip)
{
	memset(s, 0, sizeof(*s));
	s->conf = conf;
	s->client_ip = client_ip;
	s->local_ip = local_ip;
	s->state = SMTP_CMD;
	s->stage = STAGE_CONNECT;
}

void
smtp_free(struct smtp *s)
{
	if (s->env != NULL) {
		free(s->env->arena);
		free(s->env->txn);
		free(s->env->rcpt);
		free(s->env);
		s->env = NULL;
	}
}

/* Formats one reply line; the code is taken from its first digits. */
static void
reply_fmt(struct smtp *s, struct reply *r, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(r->buf, sizeof(r->buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(r->buf) - 3)
		n = (int)sizeof(r->buf) - 3;
	memcpy(r->buf + n, "\r\n", 3);
	r->len = (size_t)n + 2;
	s->reply_code = (uint16_t)atoi(r->buf);
}

static void
reply_defer(struct smtp *s, struct reply *r)
{
	const struct config *c = s->conf;

	reply_fmt(s, r, "%u %s %s", c->defer_code, c->defer_status,
	    c->defer_text);
	if (s->defer_code == 0)
		s->defer_code = c->defer_code;
	if (c->defer_code == 421) {
		r->close = 1;
		smtp_end(s, CLOSE_DEFERRED);
	}
}

/* Replies with an error (already 4xx where it must be) and counts it. */
static void
reply_error(struct smtp *s, struct reply *r, const char *text)
{
	if (++s->errors >= s->conf->max_errors) {
		s->anomalies |= ANOM_TOO_MANY_ERRORS;
		reply_fmt(s, r, "421 4.7.0 %s Error: too many errors",
		    s->conf->hostname);
		r->close = 1;
		smtp_end(s, CLOSE_ERRORS);
		return;
	}
	reply_fmt(s, r, "%s", text);
}

/* Is the configured defer stage this one (or already passed)? */
static int
defer_here(const struct smtp *s, enum defer_stage st)
{
	return s->conf->defer_stage <= st;
}

static void
stage_reach(struct smtp *s, enum stage st)
{
	if (s->stage < st)
		s->stage = st;
}

/*
 * Keeps a copy of untrusted bytes (cut to max) in the session's arena.
 * Once the arena is full nothing more is kept: a client cannot make a
 * session grow without bound by repeating itself.
 */
static int
env_put(struct smtp *s, const char *p, size_t len, size_t max,
    struct smtp_str *dst)
{
	struct smtp_env	*e;

	if (len > max)
		len = max;
	if ((e = env_get(s)) == NULL)
		return -1;
	if (e->alen + len > SMTP_ARENA_MAX)
		return -1;
	if (e->alen + len > e->acap) {
		uint32_t cap = e->acap ? e->acap : 256;
		while (cap < e->alen + len)
			cap *= 2;
		if (cap > SMTP_ARENA_MAX)
			cap = SMTP_ARENA_MAX;
		char *na = realloc(e->arena, cap);
		if (na == NULL)
			return -1;
		e->arena = na;
		e->acap = cap;
	}
	if (len > 0)
		memcpy(e->arena + e->alen, p, len);
	dst->off = e->alen;
	dst->len = (uint16_t)len;
	e->alen += (uint32_t)len;
	return 0;
}

/* The session's record, allocated on the first thing worth keeping. */
static struct smtp_env *
env_get(struct smtp *s)
{
	if (s->env == NULL)
		s->env = calloc(1, sizeof(*s->env));
	return s->env;
}

static void
skip_space(const char **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
}

/*
 * Extracts the path of "FROM:<path> params" / "TO:<path> params".
 * Returns 0 and the path span (without brackets), or -1 when the
 * argument does not have that shape.
 */
static int
parse_path(const char *kw, const char *a, size_t alen, struct span *path)
{
	size_t	 kl = strlen(kw);

	if (alen < kl || strncasecmp(a, kw, kl) != 0)
		return -1;
	a += kl;
	alen -= kl;
	skip_space(&a, &alen);
	if (alen == 0)
		return -1;
	if (*a == '<') {
		const char *gt = memchr(a, '>', alen);
		if (gt == NULL)
			return -1;
		path->p = a + 1;
		path->len = (size_t)(gt - a - 1);
		return 0;
	}
	path->p = a;
	path->len = 0;
	while (path->len < alen && a[path->len] != ' ')
		path->len++;
	return 0;
}

/*
 * Is this HELO/EHLO argument acceptable from a real MTA?  A domain with
 * at least two labels, or an address literal equal to the client's
 * address, and never our own name or address.  Returns 1 or 0.
 */
int
smtp_helo_valid(const char *h, size_t len, const char *client_ip,
    const char *local_ip, const char *hostname)
{
	char	 lit[ADDR_STRLEN + 8];
	size_t	 label = 0, labels = 0, digits_only = 1;

	if (len == 0 || len > 253)
		return 0;
	if (h[0] == '[') {
		if (len < 3 || h[len - 1] != ']' || len - 2 >= sizeof(lit))
			return 0;
		memcpy(lit, h + 1, len - 2);
		lit[len - 2] = '\0';
		const char *a = lit;
		if (strncasecmp(a, "IPv6:", 5) == 0)
			a += 5;
		if (local_ip != NULL && strcasecmp(a, local_ip) == 0)
			return 0;
		return client_ip != NULL && strcasecmp(a, client_ip) == 0;
	}
	if (hostname != NULL && strlen(hostname) == len &&
	    strncasecmp(h, hostname, len) == 0)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? h[i] : '.';
		if (c == '.') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return 0;
			labels++;
			label = 0;
			if (i < len)
				digits_only = 1;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return 0;
		if (label == 0 && c == '-')
			return 0;
		if (!isdigit((unsigned char)c))
			digits_only = 0;
		label++;
	}
	/* A bare dotted quad is not a domain; the last label has a letter. */
	return labels >= 2 && !digits_only;
}

static void
helo_common(struct smtp *s, const char *verb, const char *a, size_t alen)
{
	struct smtp_env *e;

	stage_reach(s, STAGE_HELO);
	txn_end(s, TXN_HELO);
	s->helo_seen = 1;
	s->mail_seen = 0;
	if ((e = env_get(s)) == NULL)
		return;
	env_put(s, a, alen, MAX_HELO, &e->helo);
	memcpy(e->helo_verb, verb, 5);
	if (!smtp_helo_valid(a, alen, s->client_ip, s->local_ip,
	    s->conf->hostname))
		s->anomalies |= ANOM_HELO_INVALID;
}

static void
cmd_helo(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	if (alen == 0) {
		reply_error(s, r, "451 4.5.4 HELO needs a domain, try again");
		return;
	}
	helo_common(s, "HELO", a, alen);
	if (defer_here(s, DEFER_HELO))
		reply_defer(s, r);
	else
		reply_fmt(s, r, "250 %s", s->conf->hostname);
}

static void
cmd_ehlo(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	if (alen == 0) {
		reply_error(s, r, "451 4.5.4 EHLO needs a domain, try again");
		return;
	}
	helo_common(s, "EHLO", a, alen);
	if (defer_here(s, DEFER_HELO))
		reply_defer(s, r);
	else
		reply_fmt(s, r, "250-%s\r\n%s250-8BITMIME\r\n"
		    "250 ENHANCEDSTATUSCODES", s->conf->hostname,
		    s->conf->pipelining ? "250-PIPELINING\r\n" : "");
}

static void
cmd_mail(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	struct span	 path;
	int		 ok = parse_path("FROM:", a, alen, &path) == 0;

	stage_reach(s, STAGE_MAIL);
	if (env_get(s) != NULL && !s->env->has_mail) {
		env_put(s, ok ? path.p : a, ok ? path.len : alen, MAX_PATH_ARG,
		    &s->env->mail);
		s->env->has_mail = 1;
	}
	txn_mail(s, a, alen, ok ? &path : NULL);
	if (!ok)
		reply_error(s, r, "451 4.5.2 Syntax: MAIL FROM:<address>");
	else if (!s->helo_seen)
		reply_error(s, r, "451 4.5.1 Send HELO/EHLO first");
	else if (defer_here(s, DEFER_MAIL))
		reply_defer(s, r);
	else {
		s->mail_seen = 1;
		reply_fmt(s, r, "250 2.1.0 Ok");
	}
	if (txn_cur(s) != NULL)
		txn_cur(s)->reply = s->reply_code;
}

static void
cmd_rcpt(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	struct span	 path;
	int		 ok = parse_path("TO:", a, alen, &path) == 0, k;

	stage_reach(s, STAGE_RCPT);
	s->rcpt_total++;
	k = txn_rcpt(s, ok ? path.p : a, ok ? path.len : alen);
	if (!ok)
		reply_error(s, r, "451 4.5.2 Syntax: RCPT TO:<address>");
	else if (!s->mail_seen && !defer_here(s, DEFER_MAIL))
		reply_error(s, r, "451 4.5.1 Send MAIL first");
	else if (defer_here(s, DEFER_RCPT))
		reply_defer(s, r);
	else {
		s->rcpt_ok = 1;
		reply_fmt(s, r, "250 2.1.5 Ok");
	}
	if (k >= 0)
		s->env->rcpt[k].reply = s->reply_code;
}

/* DATA is never accepted: with or without recipients it is deferred. */
static void
cmd_data(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	stage_reach(s, STAGE_DATA);
	reply_defer(s, r);
}

/*
 * BDAT was not offered; its binary chunk would follow the command, so
 * the only safe answer is a 421 and the end of the session.
 */
static void
cmd_bdat(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	stage_reach(s, STAGE_DATA);
	reply_fmt(s, r, "421 4.7.0 %s BDAT not offered, closing",
	    s->conf->hostname);
	if (s->defer_code == 0)
		s->defer_code = 421;
	r->close = 1;
	smtp_end(s, CLOSE_DEFERRED);
}

static void
cmd_rset(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	s->mail_seen = 0;
	s->rcpt_ok = 0;
	/*
	 * An RSET that ends a transaction is an MTA reusing the connection
	 * for its next message; only RSETs that end none count to the loop.
	 */
	if (s->env != NULL && s->env->txn_open)
		txn_end(s, TXN_RSET);
	else if (++s->rsets > RSET_LOOP)
		s->anomalies |= ANOM_RSET_LOOP;
	reply_fmt(s, r, "250 2.0.0 Ok");
}

static void
cmd_noop(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	reply_fmt(s, r, "250 2.0.0 Ok");
}

static void
cmd_quit(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	txn_end(s, TXN_QUIT);
	reply_fmt(s, r, "221 2.0.0 Bye");
	r->close = 1;
	smtp_end(s, CLOSE_QUIT);
}

static void
cmd_vrfy(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	reply_fmt(s, r, "252 2.0.0 Cannot VRFY user");
}

static void
cmd_expn(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	reply_error(s, r, "502 5.5.1 EXPN not available");
}

static void
cmd_help(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	reply_fmt(s, r, "214 2.0.0 See RFC 5321");
}

static void
cmd_starttls(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	(void)a;
	(void)alen;
	reply_error(s, r, "454 4.7.0 TLS not available");
}

/* Decodes base64 into out (bounded).  Returns the length, or -1. */
static int
b64_decode(const char *in, size_t len, char *out, size_t cap)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t	 acc = 0;
	int		 bits = 0;
	size_t		 o = 0;

	for (size_t i = 0; i < len; i++) {
		const char *q;

		if (in[i] == '=')
			break;
		if (in[i] == '\0' || (q = strchr(tbl, in[i])) == NULL)
			return -1;
		acc = acc << 6 | (uint32_t)(q - tbl);
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (char)(acc >> bits);
		}
	}
	return (int)o;
}

/*
 * Records the user name from an AUTH response: the authentication
 * identity of PLAIN ("authzid NUL authcid NUL password"; the password is
 * never kept) or the LOGIN user name.
 */
static void
auth_user(struct smtp *s, enum smtp_state mech, const char *a, size_t alen)
{
	char		 buf[3 * MAX_LINE / 4 + 4];
	const char	*u = buf;
	int		 n;
	size_t		 ulen;

	if (s->env == NULL || s->env->nauth == 0 ||
	    (n = b64_decode(a, alen, buf, sizeof(buf))) < 0)
		return;
	ulen = (size_t)n;
	if (mech == SMTP_AUTH_PLAIN) {
		const char *nul = memchr(buf, '\0', ulen);
		if (nul == NULL)
			return;
		u = nul + 1;
		ulen -= (size_t)(u - buf);
		if ((nul = memchr(u, '\0', ulen)) != NULL)
			ulen = (size_t)(nul - u);
	}
	env_put(s, u, ulen, MAX_AUTH_USER,
	    &s->env->auth_user[s->env->nauth - 1]);
}

static void
cmd_auth(struct smtp *s, const char *a, size_t alen, struct reply *r)
{
	const char	*mech = a, *resp;
	size_t		 mlen = 0, rlen;
	enum smtp_state	 st = SMTP_CMD;

	s->anomalies |= ANOM_AUTH_ATTEMPT;
	while (mlen < alen && a[mlen] != ' ')
		mlen++;
	resp = a + mlen;
	rlen = alen - mlen;
	skip_space(&resp, &rlen);
	if (mlen == 0) {
		reply_error(s, r, "451 4.5.4 Syntax: AUTH mechanism");
		return;
	}
	if (env_get(s) != NULL && s->env->nauth < MAX_AUTH) {
		env_put(s, mech, mlen, MAX_AUTH_MECH,
		    &s->env->auth_mech[s->env->nauth]);
		s->env->nauth++;
	}
	if (mlen == 5 && strncasecmp(mech, "PLAIN", 5) == 0)
		st = SMTP_AUTH_PLAIN;
	else if (mlen == 5 && strncasecmp(mech, "LOGIN", 5) == 0)
		st = SMTP_AUTH_LOGIN;
	if (st != SMTP_CMD && rlen == 0) {
		/* Ask for the user name so it can be recorded. */
		s->state = st;
		reply_fmt(s, r, "334 %s", st == SMTP_AUTH_LOGIN ?
		    "VXNlcm5hbWU6" : "");
		return;
	}
	if (st != SMTP_CMD)
		auth_user(s, st, resp, rlen);
	reply_error(s, r, "454 4.7.0 Temporary authentication failure");
}

/* Recognises a first line that is an HTTP request, not SMTP. */
static int
is_http(const char *p, size_t len)
{
	static const char *methods[] = {
		"GET ", "POST ", "HEAD ", "PUT ", "OPTIONS ", "CONNECT ",
		"DELETE ",
	};

	if (len < 14 || memmem(p, len, " HTTP/", 6) == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strncmp(p, methods[i], strlen(methods[i])) == 0)
			return 1;
	return 0;
}

static void
non_smtp(struct smtp *s, struct reply *r)
{
	s->anomalies |= ANOM_NON_SMTP;
	reply_fmt(s, r, "421 4.7.0 %s not an SMTP client, closing",
	    s->conf->hostname);
	r->close = 1;
	smtp_end(s, CLOSE_NONSMTP);
}

/* The greeting; or, with defer-stage greeting, the deferral and close. */
void
smtp_greeting(struct smtp *s, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	stage_reach(s, STAGE_GREETING);
	if (s->conf->defer_stage == DEFER_GREETING) {
		const struct config *c = s->conf;
		reply_fmt(s, r, "%u %s %s %s", c->defer_code, c->defer_status,
		    c->hostname, c->defer_text);
		s->defer_code = c->defer_code;
		r->close = 1;
		smtp_end(s, CLOSE_DEFERRED);
		return;
	}
	smtp_banner(s, ' ', r);
}

/*
 * The greeting line "220<sep>TEXT": sep '-' for the first line of a
 * multi-line greeting, ' ' for the last (or only) one.  The one place
 * the greeting text is made.
 */
static void
smtp_banner(struct smtp *s, char sep, struct reply *r)
{
	if (s->conf->banner[0] != '\0')	/* "banner TEXT" */
		reply_fmt(s, r, "220%c%s", sep, s->conf->banner);
	else
		reply_fmt(s, r, "220%c%s ESMTP", sep, s->conf->hostname);
}

/*
 * The first line of a multi-line greeting ("220-"), sent at once while
 * the last one waits banner-wait: a client that talks before the last
 * line is a pregreeter (postscreen's test).
 */
void
smtp_greeting_first(struct smtp *s, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	smtp_banner(s, '-', r);
}

/*
 * Looks at the first bytes a client sent, before they are split into
 * lines: data before the greeting is "pregreet", a TLS handshake on the
 * plain port is not SMTP.  Sets r->len when it has something to answer.
 */
void
smtp_first_bytes(struct smtp *s, const char *p, size_t len, int pregreet,
    struct reply *r)
{
	const unsigned char *u = (const unsigned char *)p;

	memset(r, 0, sizeof(*r));
	if (pregreet)
		s->anomalies |= ANOM_PREGREET;
	if (len >= 3 && ((u[0] == 0x16 && u[1] == 0x03 && u[2] <= 0x04) ||
	    (u[0] & 0x80 && u[2] == 0x01)))
		non_smtp(s, r);
	else
		smtp_bytes(s, p, len, r);
}

/*
 * Looks at every chunk a client sends before it is split into lines:
 * NUL and C0 control bytes other than TAB, CR and LF never occur in SMTP
 * commands (the same rule smtp_line applies to a whole line), so binary
 * input is answered at once, even when it holds no line end.  Sets r->len when it has something to answer.
 */
void
smtp_bytes(struct smtp *s, const char *p, size_t len, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') {
			non_smtp(s, r);
			return;
		}
	}
}

/*
 * Handles one line (without its CR LF).  The reply is always set; when
 * r->close is set the session ends once the reply is out.
 */
void
smtp_line(struct smtp *s, const char *p, size_t len, int flags,
    struct reply *r)
{
	const char	*arg;
	size_t		 vlen = 0, alen;

	memset(r, 0, sizeof(*r));
	if (flags & LINE_BARE_LF)
		s->anomalies |= ANOM_BARE_LF;
	if ((flags & LINE_MORE) && !s->conf->pipelining)
		s->anomalies |= ANOM_PIPELINING;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 && p[i] != '\t') {
			non_smtp(s, r);
			return;
		}
	if (s->commands++ == 0 && is_http(p, len)) {
		non_smtp(s, r);
		return;
	}
	if (flags & LINE_TOO_LONG) {
		s->anomalies |= ANOM_LONG_LINE;
		s->state = SMTP_CMD;
		reply_error(s, r, "451 4.5.0 Line too long");
		return;
	}
	if (s->state == SMTP_AUTH_PLAIN || s->state == SMTP_AUTH_LOGIN) {
		enum smtp_state st = s->state;
		s->state = SMTP_CMD;
		if (len == 1 && p[0] == '*') {
			reply_fmt(s, r, "501 5.7.0 Authentication aborted");
			return;
		}
		auth_user(s, st, p, len);
		reply_error(s, r, "454 4.7.0 Temporary authentication failure");
		return;
	}
	while (vlen < len && p[vlen] != ' ')
		vlen++;
	arg = p + vlen;
	alen = len - vlen;
	skip_space(&arg, &alen);
	while (alen > 0 && (arg[alen - 1] == ' ' || arg[alen - 1] == '\t'))
		alen--;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == vlen &&
		    strncasecmp(p, verbs[i].name, vlen) == 0) {
			verbs[i].fn(s, arg, alen, r);
			return;
		}
	reply_error(s, r, "502 5.5.2 Error: command not recognized");
}

/* Too many sessions from this client: a 421 at connect, then close. */
void
smtp_limit(struct smtp *s, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	reply_fmt(s, r, "421 4.7.0 %s Error: too many connections from %s",
	    s->conf->hostname, s->client_ip);
	s->defer_code = 421;
	r->close = 1;
	smtp_end(s, CLOSE_LIMIT);
}

/*
 * A client that came back within returning-window (tarpit/recent.c):
 * 421 at the greeting, then close; every MTA but Courier then tries the
 * next MX at once.  why: CLOSE_DEFERRED, or
 * CLOSE_PAIRED for a first contact the pair rule sends on.
 */
void
smtp_returning(struct smtp *s, struct reply *r, enum close_reason why)
{
	memset(r, 0, sizeof(*r));
	stage_reach(s, STAGE_GREETING);
	reply_fmt(s, r, "421 %s %s %s", s->conf->defer_status,
	    s->conf->hostname, s->conf->defer_text);
	s->defer_code = 421;
	r->close = 1;
	smtp_end(s, why);
}

/*
 * The defer reply in place of the greeting, for an ignored client (an
 * own scanner): never tarpitted, the session ends once it is sent.
 */
void
smtp_defer_now(struct smtp *s, struct reply *r)
{
	const struct config *c = s->conf;

	memset(r, 0, sizeof(*r));
	stage_reach(s, STAGE_GREETING);
	reply_fmt(s, r, "%u %s %s %s", c->defer_code, c->defer_status,
	    c->hostname, c->defer_text);
	s->defer_code = c->defer_code;
	r->close = 1;
	smtp_end(s, CLOSE_IGNORED);
}

/* The reply for an idle timeout or the end of the session's lifetime. */
void
smtp_timeout(struct smtp *s, enum close_reason why, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	reply_fmt(s, r, "421 4.4.2 %s Error: timeout exceeded",
	    s->conf->hostname);
	r->close = 1;
	smtp_end(s, why);
}

/*
 * Marks the session finished (the first reason wins) and derives the
 * anomalies that depend on how it ended.
 */
void
smtp_end(struct smtp *s, enum close_reason why)
{
	if (s->state == SMTP_DONE)
		return;
	s->state = SMTP_DONE;
	s->reason = why;
	txn_end(s, TXN_CLOSE);
	if ((why == CLOSE_QUIT || why == CLOSE_EOF || why == CLOSE_RESET) &&
	    s->rcpt_total == 0 && s->defer_code == 0 &&
	    s->conf->defer_stage >= DEFER_RCPT)
		s->anomalies |= ANOM_EARLY_QUIT;
}

static struct span
env_span(const struct smtp_env *e, const struct smtp_str *str)
{
	if (e->arena == NULL)
		return (struct span){ "", 0 };
	return (struct span){ e->arena + str->off, str->len };
}

/* Fills the protocol part of a session record; spans point into s. */
void
smtp_fill(const struct smtp *s, struct sess_rec *rec)
{
	const struct smtp_env *e = s->env;

	rec->stage = s->stage;
	rec->reason = s->state == SMTP_DONE ? s->reason : CLOSE_EOF;
	rec->reply_code = s->defer_code ? s->defer_code : s->reply_code;
	rec->commands = s->commands;
	rec->errors = s->errors;
	rec->anomalies = s->anomalies;
	rec->rcpt_total = s->rcpt_total;
	if (e == NULL)
		return;
	if (e->helo_verb[0] != '\0') {
		rec->helo_verb = (struct span){ e->helo_verb, 4 };
		rec->helo = env_span(e, &e->helo);
	}
	if (e->has_mail)
		rec->mail_from = env_span(e, &e->mail);
	txn_fill(e, rec);
	for (uint32_t i = 0; i < e->nauth; i++) {
		rec->auth[i].mech = env_span(e, &e->auth_mech[i]);
		rec->auth[i].user = env_span(e, &e->auth_user[i]);
	}
	rec->nauth = e->nauth;
}

/*
 * Transactions.  A MAIL FROM starts one (ending the one before: "mail"),
 * so does an RCPT that comes without one; RSET, HELO/EHLO, QUIT and the
 * end of the session end it.  Past MAX_TXN transactions or MAX_TXN_RCPT
 * recipients (or a full arena) they are counted, not kept.
 */

/* Ends the open transaction, if any, saying how. */
static void
txn_end(struct smtp *s, enum txn_end how)
{
	struct smtp_txn *t = txn_cur(s);

	if (t != NULL)
		t->ended = (uint8_t)how;
	if (s->env != NULL)
		s->env->txn_open = 0;
}

/* The open transaction when it is kept, else NULL. */
static struct smtp_txn *
txn_cur(struct smtp *s)
{
	struct smtp_env *e = s->env;

	if (e == NULL || !e->txn_open || e->ntxn == 0 ||
	    e->txn_total != e->ntxn)
		return NULL;
	return &e->txn[e->ntxn - 1];
}

/* Opens a new transaction; NULL when it is past the bound (counted). */
static struct smtp_txn *
txn_new(struct smtp *s)
{
	struct smtp_env	*e;
	struct smtp_txn	*t;

	txn_end(s, TXN_MAIL);
	if ((e = env_get(s)) == NULL)
		return NULL;
	e->txn_open = 1;
	e->txn_total++;
	if (e->ntxn >= MAX_TXN || e->txn_total != e->ntxn + 1)
		return NULL;
	if (e->ntxn == e->txn_cap) {
		uint32_t cap = e->txn_cap ? e->txn_cap * 2 : 4;
		if (cap > MAX_TXN)
			cap = MAX_TXN;
		if ((t = reallocarray(e->txn, cap, sizeof(*t))) == NULL)
			return NULL;
		e->txn = t;
		e->txn_cap = cap;
	}
	t = &e->txn[e->ntxn++];
	memset(t, 0, sizeof(*t));
	t->rcpt_first = e->nrcpt;
	return t;
}

/* MAIL FROM: a new transaction with its path (raw when unparsable). */
static void
txn_mail(struct smtp *s, const char *a, size_t alen, const struct span *path)
{
	struct smtp_txn	*t = txn_new(s);
	const char	*rest;
	size_t		 rlen;

	if (t == NULL)
		return;
	t->has_mail = env_put(s, path ? path->p : a, path ? path->len : alen,
	    MAX_PATH_ARG, &t->mail) == 0;
	if (path == NULL)
		return;
	rest = path->p + path->len;
	if (rest < a + alen && *rest == '>')
		rest++;
	rlen = (size_t)(a + alen - rest);
	skip_space(&rest, &rlen);
	if (rlen > 0)
		t->has_params = env_put(s, rest, rlen, MAX_PATH_ARG,
		    &t->params) == 0;
}

/*
 * RCPT TO: counted in the open transaction (one is opened when none
 * is) and kept when the bounds allow.  Returns its index in env->rcpt
 * (for the reply), or -1 when not kept.
 */
static int
txn_rcpt(struct smtp *s, const char *p, size_t len)
{
	struct smtp_env		*e;
	struct smtp_txn		*t;
	struct smtp_rcpt	*nr;

	if (s->env == NULL || !s->env->txn_open)
		(void)txn_new(s);
	if ((t = txn_cur(s)) == NULL)
		return -1;
	e = s->env;
	t->rcpt_total++;
	if (e->nrcpt >= MAX_TXN_RCPT)
		return -1;
	if (e->nrcpt == e->rcpt_cap) {
		uint32_t cap = e->rcpt_cap ? e->rcpt_cap * 2 : 8;
		if (cap > MAX_TXN_RCPT)
			cap = MAX_TXN_RCPT;
		if ((nr = reallocarray(e->rcpt, cap, sizeof(*nr))) == NULL)
			return -1;
		e->rcpt = nr;
		e->rcpt_cap = cap;
	}
	if (env_put(s, p, len, MAX_PATH_ARG, &e->rcpt[e->nrcpt].path) == -1)
		return -1;
	e->rcpt[e->nrcpt].reply = 0;
	t->nrcpt++;
	return (int)e->nrcpt++;
}

/* The transactions part of the record, and the legacy rcpt[] from it. */
static void
txn_fill(const struct smtp_env *e, struct sess_rec *rec)
{
	for (uint32_t i = 0; i < e->ntxn; i++) {
		const struct smtp_txn *t = &e->txn[i];
		struct txn_rec *o = &rec->txn[i];

		o->mail = t->has_mail ? env_span(e, &t->mail) :
		    (struct span){ NULL, 0 };
		o->params = t->has_params ? env_span(e, &t->params) :
		    (struct span){ NULL, 0 };
		o->reply = t->reply;
		o->ended = t->ended;
		o->rcpt_first = t->rcpt_first;
		o->nrcpt = t->nrcpt;
		o->rcpt_total = t->rcpt_total;
	}
	rec->ntxn = e->ntxn;
	rec->txn_total = e->txn_total;
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		rec->trcpt[i].path = env_span(e, &e->rcpt[i].path);
		rec->trcpt[i].reply = e->rcpt[i].reply;
		if (i < MAX_RCPT)
			rec->rcpt[i] = rec->trcpt[i].path;
	}
	rec->ntrcpt = e->nrcpt;
	rec->nrcpt = e->nrcpt < MAX_RCPT ? e->nrcpt : MAX_RCPT;
}
