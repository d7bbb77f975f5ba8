/* SPDX-License-Identifier: ISC */
/*
 * test_smtp.c -- the SMTP engine and the line splitter, driven directly:
 * replies per verb, the defer policy at each stage, the never-5xx rule,
 * what gets recorded, anomalies, and the bounds on lines and arenas.
 */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "tarpit.h"

static struct config	conf;
static struct smtp	s;
static struct reply	r;

static void
start(void)
{
	smtp_free(&s);
	smtp_init(&s, &conf, "192.0.2.7", "198.51.100.1");
	smtp_greeting(&s, &r);
}

/* Sends one command line; returns the reply code. */
static int
cmd(const char *line)
{
	smtp_line(&s, line, strlen(line), 0, &r);
	return atoi(r.buf);
}

static void
test_dialogue(void)
{
	struct sess_rec rec;

	config_defaults(&conf);
	strcpy(conf.hostname, "mx10.example.net");
	start();
	CHECK(strncmp(r.buf, "220 mx10.example.net", 20) == 0);
	CHECK(cmd("EHLO mail.example.org") == 250);
	CHECK(strstr(r.buf, "PIPELINING") == NULL);
	CHECK(strstr(r.buf, "STARTTLS") == NULL);
	CHECK(strstr(r.buf, "AUTH") == NULL);
	CHECK(cmd("MAIL FROM:<bot@example.com> SIZE=100") == 250);
	CHECK(cmd("RCPT TO:<a@example.org>") == 450);
	CHECK(cmd("RCPT TO:<b@example.org>") == 450);
	CHECK(cmd("DATA") == 450);
	CHECK(cmd("QUIT") == 221 && r.close);
	CHECK(s.state == SMTP_DONE && s.reason == CLOSE_QUIT);

	memset(&rec, 0, sizeof(rec));
	smtp_fill(&s, &rec);
	CHECK(rec.helo.len == 16 && memcmp(rec.helo.p, "mail.example.org",
	    16) == 0);
	CHECK(rec.mail_from.len == 15 && memcmp(rec.mail_from.p,
	    "bot@example.com", 15) == 0);
	CHECK(rec.nrcpt == 2 && rec.rcpt_total == 2);
	CHECK(rec.rcpt[1].len == 13 && memcmp(rec.rcpt[1].p, "b@example.org",
	    13) == 0);
	CHECK(rec.stage == STAGE_DATA);
	CHECK(rec.reply_code == 450);
	CHECK(rec.anomalies == 0);
}

static int
span_is(struct span sp, const char *want)
{
	return sp.p != NULL && sp.len == strlen(want) &&
	    memcmp(sp.p, want, sp.len) == 0;
}

/*
 * Every MAIL transaction is kept in order with its own recipients, the
 * replies, its parameters and how it ended; RCPT without MAIL opens one
 * too; the bounds count what they do not keep.
 */
static void
test_transactions(void)
{
	static struct sess_rec rec;

	config_defaults(&conf);
	conf.defer_stage = DEFER_DATA;
	start();
	CHECK(cmd("EHLO mail.example.org") == 250);
	CHECK(cmd("MAIL FROM:<one@x.example> SIZE=1234 BODY=8BITMIME") == 250);
	CHECK(cmd("RCPT TO:<u1@victim.example>") == 250);
	CHECK(cmd("RSET") == 250);
	CHECK(cmd("MAIL FROM:<two@y.example>") == 250);
	CHECK(cmd("RCPT TO:<u2@victim.example>") == 250);
	CHECK(cmd("RCPT TO:<u3@victim.example>") == 250);
	CHECK(cmd("MAIL FROM:<three@z.example>") == 250);
	CHECK(cmd("RCPT TO:<u4@victim.example>") == 250);
	CHECK(cmd("QUIT") == 221);
	memset(&rec, 0, sizeof(rec));
	smtp_fill(&s, &rec);
	CHECK(rec.ntxn == 3 && rec.txn_total == 3 && rec.ntrcpt == 4);
	CHECK(span_is(rec.mail_from, "one@x.example"));
	CHECK(span_is(rec.txn[0].mail, "one@x.example"));
	CHECK(span_is(rec.txn[0].params, "SIZE=1234 BODY=8BITMIME"));
	CHECK(rec.txn[0].reply == 250 && rec.txn[0].ended == TXN_RSET);
	CHECK(rec.txn[0].nrcpt == 1 && span_is(rec.trcpt[0].path,
	    "u1@victim.example") && rec.trcpt[0].reply == 250);
	CHECK(span_is(rec.txn[1].mail, "two@y.example"));
	CHECK(rec.txn[1].params.p == NULL && rec.txn[1].ended == TXN_MAIL);
	CHECK(rec.txn[1].rcpt_first == 1 && rec.txn[1].nrcpt == 2);
	CHECK(span_is(rec.trcpt[2].path, "u3@victim.example"));
	CHECK(span_is(rec.txn[2].mail, "three@z.example"));
	CHECK(rec.txn[2].ended == TXN_QUIT && rec.txn[2].nrcpt == 1);
	CHECK(rec.nrcpt == 4 && span_is(rec.rcpt[3], "u4@victim.example"));

	/* RCPT without MAIL: a transaction without a sender, closed at EOF. */
	start();
	CHECK(cmd("HELO mail.example.org") == 250);
	cmd("RCPT TO:<u9@victim.example>");
	smtp_end(&s, CLOSE_EOF);
	memset(&rec, 0, sizeof(rec));
	smtp_fill(&s, &rec);
	CHECK(rec.ntxn == 1 && rec.txn[0].mail.p == NULL);
	CHECK(rec.txn[0].nrcpt == 1 && rec.txn[0].ended == TXN_CLOSE);

	/* A connection reused for many messages is no RSET loop. */
	start();
	CHECK(cmd("EHLO mail.example.org") == 250);
	for (int i = 0; i < 12; i++) {
		cmd("MAIL FROM:<q@mta.example>");
		cmd("RCPT TO:<u@victim.example>");
		CHECK(cmd("RSET") == 250);
	}
	CHECK(!(s.anomalies & ANOM_RSET_LOOP));
	for (int i = 0; i < 6; i++)
		cmd("RSET");
	CHECK(s.anomalies & ANOM_RSET_LOOP);

	/* Past MAX_TXN: counted, not kept. */
	conf.max_errors = 100000;
	start();
	CHECK(cmd("HELO mail.example.org") == 250);
	for (int i = 0; i < MAX_TXN + 20; i++) {
		cmd("MAIL FROM:<a@b.example>");
		cmd("RCPT TO:<c@d.example>");
	}
	memset(&rec, 0, sizeof(rec));
	smtp_fill(&s, &rec);
	CHECK(rec.ntxn == MAX_TXN && rec.txn_total == MAX_TXN + 20);
	CHECK(rec.ntrcpt == MAX_TXN && s.rcpt_total == MAX_TXN + 20);
}

/* Greeting, HELO, MAIL, RCPT, DATA never get a 5xx, whatever is sent. */
static void
test_never_5xx(void)
{
	static const char *bad[] = {
		"MAIL FROM bogus", "RCPT TO:", "EHLO", "HELO", "MAIL",
		"RCPT", "DATA", "DATA extra", "MAIL FROM:<", "RCPT TO:<x",
		"ehlo x", "mail from:<a@b.c>", "rcpt to:<d@e.f>",
	};

	for (int stage = DEFER_GREETING; stage <= DEFER_DATA; stage++) {
		config_defaults(&conf);
		conf.max_errors = 1000;
		conf.defer_stage = (enum defer_stage)stage;
		start();
		CHECK(r.buf[0] == '2' || r.buf[0] == '4');
		if (stage == DEFER_GREETING) {
			CHECK(r.close && s.state == SMTP_DONE);
			continue;
		}
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int code = cmd(bad[i]);
			CHECK(code >= 200 && code < 500);
		}
	}
}

static void
test_defer_stages(void)
{
	config_defaults(&conf);
	conf.defer_stage = DEFER_HELO;
	start();
	CHECK(cmd("HELO a.example.org") == 450);
	CHECK(cmd("MAIL FROM:<x@y.z>") == 450);

	conf.defer_stage = DEFER_MAIL;
	start();
	CHECK(cmd("HELO a.example.org") == 250);
	CHECK(cmd("MAIL FROM:<x@y.z>") == 450);
	CHECK(cmd("RCPT TO:<r@y.z>") == 450);
	CHECK(s.env->nrcpt == 1);

	conf.defer_stage = DEFER_DATA;
	conf.defer_code = 451;
	strcpy(conf.defer_status, "4.3.0");
	strcpy(conf.defer_text, "Try later");
	start();
	CHECK(cmd("EHLO a.example.org") == 250);
	CHECK(cmd("MAIL FROM:<x@y.z>") == 250);
	CHECK(cmd("RCPT TO:<r@y.z>") == 250);
	CHECK(cmd("DATA") == 451);
	CHECK(strcmp(r.buf, "451 4.3.0 Try later\r\n") == 0);

	conf.defer_stage = DEFER_GREETING;
	conf.defer_code = 421;
	start();
	CHECK(atoi(r.buf) == 421 && r.close);
	CHECK(s.reason == CLOSE_DEFERRED);

	/* A 421 defer reply closes the session wherever it is given. */
	conf.defer_stage = DEFER_RCPT;
	start();
	cmd("EHLO a.example.org");
	cmd("MAIL FROM:<>");
	CHECK(cmd("RCPT TO:<r@y.z>") == 421 && r.close);
}

static void
test_verbs(void)
{
	config_defaults(&conf);
	start();
	CHECK(cmd("NOOP") == 250);
	CHECK(cmd("VRFY root") == 252);
	CHECK(cmd("EXPN staff") == 502);
	CHECK(cmd("HELP") == 214);
	CHECK(cmd("STARTTLS") == 454);
	CHECK(cmd("RSET") == 250);
	CHECK(cmd("XYZZY") == 502);
	CHECK(cmd("MAIL FROM:<a@b.example>") == 451);	/* no HELO yet */
	CHECK(s.env != NULL && s.env->has_mail);
	CHECK(cmd("BDAT 100 LAST") == 421 && r.close);
	CHECK(s.reason == CLOSE_DEFERRED);
}

static void
test_auth(void)
{
	struct sess_rec rec;

	config_defaults(&conf);
	start();
	cmd("EHLO a.example.org");
	/* PLAIN with initial response: "\0bob\0secret" */
	CHECK(cmd("AUTH PLAIN AGJvYgBzZWNyZXQ=") == 454);
	/* LOGIN dialogue: the user name is asked for and recorded. */
	CHECK(cmd("AUTH LOGIN") == 334);
	CHECK(strcmp(r.buf, "334 VXNlcm5hbWU6\r\n") == 0);
	CHECK(cmd("YWxpY2U=") == 454);		/* "alice" */
	CHECK(cmd("AUTH CRAM-MD5") == 454);
	CHECK(cmd("AUTH PLAIN") == 334);
	CHECK(cmd("*") == 501);
	memset(&rec, 0, sizeof(rec));
	smtp_fill(&s, &rec);
	CHECK(rec.nauth == 4);
	CHECK(rec.auth[0].user.len == 3 && memcmp(rec.auth[0].user.p, "bob",
	    3) == 0);
	CHECK(rec.auth[1].user.len == 5 && memcmp(rec.auth[1].user.p,
	    "alice", 5) == 0);
	CHECK(rec.auth[2].mech.len == 8 && rec.auth[2].user.len == 0);
	CHECK(rec.anomalies & ANOM_AUTH_ATTEMPT);
	CHECK(memmem(s.env->arena, s.env->alen, "secret", 6) == NULL);
}

static void
test_anomalies(void)
{
	config_defaults(&conf);
	conf.max_errors = 3;
	start();
	smtp_line(&s, "EHLO x", 6, LINE_BARE_LF | LINE_MORE, &r);
	CHECK(s.anomalies & ANOM_BARE_LF);
	CHECK(s.anomalies & ANOM_PIPELINING);
	CHECK(s.anomalies & ANOM_HELO_INVALID);
	CHECK(cmd("FOO") == 502);
	CHECK(cmd("BAR") == 502);
	CHECK(cmd("BAZ") == 421 && r.close);
	CHECK(s.anomalies & ANOM_TOO_MANY_ERRORS && s.reason == CLOSE_ERRORS);

	conf.pipelining = 1;
	start();
	smtp_line(&s, "EHLO a.example.org", 18, LINE_MORE, &r);
	CHECK(strstr(r.buf, "250-PIPELINING") != NULL);
	CHECK(s.anomalies == 0);

	conf.pipelining = 0;
	start();
	smtp_line(&s, "GET / HTTP/1.1", 14, 0, &r);
	CHECK(atoi(r.buf) == 421 && r.close && s.anomalies & ANOM_NON_SMTP);
	start();
	smtp_line(&s, "HELO a\0b", 8, 0, &r);
	CHECK(s.reason == CLOSE_NONSMTP);
	start();
	smtp_first_bytes(&s, "\x16\x03\x01\x02\x00", 5, 0, &r);
	CHECK(r.close && s.anomalies & ANOM_NON_SMTP);
	start();
	smtp_bytes(&s, "EHLO \x01\x02 binary, no line end", 26, &r);
	CHECK(r.close && s.anomalies & ANOM_NON_SMTP);
	start();
	smtp_bytes(&s, "EHLO caf\xc3\xa9.example\t\r\n", 21, &r);
	CHECK(r.len == 0 && s.state != SMTP_DONE);	/* UTF-8 and TAB pass */
	smtp_init(&s, &conf, "192.0.2.7", "198.51.100.1");
	smtp_first_bytes(&s, "EHLO", 4, 1, &r);	/* before the greeting */
	CHECK(s.anomalies & ANOM_PREGREET && r.len == 0);
	start();
	smtp_line(&s, "x", 1, LINE_TOO_LONG, &r);
	CHECK(atoi(r.buf) == 451 && s.anomalies & ANOM_LONG_LINE);

	start();
	for (int i = 0; i < 6; i++)
		cmd("RSET");
	CHECK(s.anomalies & ANOM_RSET_LOOP);

	start();
	cmd("EHLO a.example.org");
	cmd("QUIT");
	CHECK(s.anomalies & ANOM_EARLY_QUIT);
	start();
	cmd("EHLO a.example.org");
	cmd("MAIL FROM:<>");
	cmd("RCPT TO:<a@b.example>");
	cmd("QUIT");
	CHECK(!(s.anomalies & ANOM_EARLY_QUIT));

	start();
	smtp_timeout(&s, CLOSE_TIMEOUT, &r);
	CHECK(strncmp(r.buf, "421 4.4.2", 9) == 0 && r.close);
}

static void
test_helo_valid(void)
{
	CHECK(smtp_helo_valid("mail.example.org", 16, "192.0.2.7", NULL, "h"));
	CHECK(smtp_helo_valid("[192.0.2.7]", 11, "192.0.2.7", NULL, "h"));
	CHECK(smtp_helo_valid("[IPv6:2001:db8::1]", 18, "2001:db8::1", NULL,
	    "h"));
	CHECK(!smtp_helo_valid("[192.0.2.8]", 11, "192.0.2.7", NULL, "h"));
	CHECK(!smtp_helo_valid("localhost", 9, "192.0.2.7", NULL, "h"));
	CHECK(!smtp_helo_valid("192.0.2.7", 9, "192.0.2.7", NULL, "h"));
	CHECK(!smtp_helo_valid("mx.decoy.test", 13, "192.0.2.7", NULL,
	    "mx.decoy.test"));
	CHECK(!smtp_helo_valid("[198.51.100.1]", 14, "198.51.100.1",
	    "198.51.100.1", "h"));
	CHECK(!smtp_helo_valid("-bad.example.org", 16, NULL, NULL, "h"));
	CHECK(!smtp_helo_valid("a..b", 4, NULL, NULL, "h"));
	CHECK(!smtp_helo_valid("", 0, NULL, NULL, "h"));
}

/* The arena stops growing at its bound however much a client repeats. */
static void
test_bounds(void)
{
	char	 big[MAX_LINE];
	struct sess_rec rec;

	config_defaults(&conf);
	conf.max_errors = 1000;
	start();
	memset(big, 'a', sizeof(big));
	memcpy(big, "HELO ", 5);
	for (int i = 0; i < 500; i++)
		smtp_line(&s, big, 900, 0, &r);
	CHECK(s.env->alen <= SMTP_ARENA_MAX);
	memcpy(big, "RCPT TO:", 8);
	for (int i = 0; i < 300; i++)
		smtp_line(&s, big, 600, 0, &r);
	/* The arena bounds what is kept; every RCPT is still counted. */
	CHECK(s.rcpt_total == 300 && s.env->nrcpt < 300);
	CHECK(s.env->ntxn == 1 && s.env->txn[0].rcpt_total == 300);
	memset(&rec, 0, sizeof(rec));
	smtp_fill(&s, &rec);
	CHECK(rec.ntrcpt == s.env->nrcpt && rec.nrcpt <= MAX_RCPT);
	CHECK(rec.helo.len <= MAX_HELO);
	for (uint32_t i = 0; i < rec.nrcpt; i++)
		CHECK(rec.rcpt[i].len <= MAX_PATH_ARG);
}

/* line.c */
struct got {
	char	 line[8][MAX_LINE + 1];
	size_t	 len[8];
	int	 flags[8];
	int	 n;
};

static int
got_line(void *arg, const char *p, size_t len, int flags)
{
	struct got *g = arg;

	if (g->n < 8) {
		memcpy(g->line[g->n], p, len);
		g->line[g->n][len] = '\0';
		g->len[g->n] = len;
		g->flags[g->n] = flags;
	}
	g->n++;
	return 0;
}

static void
test_lines(void)
{
	struct linebuf	 lb = { 0 };
	struct got	 g = { 0 };
	static char	 big[3 * MAX_LINE];

	line_feed(&lb, "HELO a\r\nMAIL", 12, got_line, &g);
	CHECK(g.n == 1 && strcmp(g.line[0], "HELO a") == 0);
	CHECK(g.flags[0] == LINE_MORE);
	CHECK(lb.len == 4 && lb.cap == 0 && memcmp(lb.u.in, "MAIL", 4) == 0);
	line_feed(&lb, " FROM:<>\n", 9, got_line, &g);
	CHECK(g.n == 2 && strcmp(g.line[1], "MAIL FROM:<>") == 0);
	CHECK(g.flags[1] == LINE_BARE_LF);
	CHECK(lb.cap == 0 && lb.len == 0);

	/* An over-long line arriving in pieces is cut and flagged. */
	memset(big, 'x', sizeof(big));
	memset(&g, 0, sizeof(g));
	line_feed(&lb, big, 700, got_line, &g);
	line_feed(&lb, big, sizeof(big), got_line, &g);
	CHECK(lb.len <= MAX_LINE - 1);
	line_feed(&lb, "yy\r\nQUIT\r\n", 10, got_line, &g);
	CHECK(g.n == 2 && (g.flags[0] & LINE_TOO_LONG));
	CHECK(g.len[0] == MAX_LINE - 1);	/* 1000 octets with the LF */
	CHECK(strcmp(g.line[1], "QUIT") == 0 && g.flags[1] == 0);
	line_free(&lb);

	/*
	 * A line trickled a byte at a time (slowloris) is kept in place
	 * for its first LINE_INLINE bytes, then in a small buffer that
	 * grows with it, and arrives whole, or cut as above.
	 */
	memset(&g, 0, sizeof(g));
	line_feed(&lb, "E", 1, got_line, &g);
	CHECK(lb.len == 1 && lb.cap == 0);
	for (int i = 1; i < LINE_INLINE; i++)
		line_feed(&lb, "x", 1, got_line, &g);
	CHECK(lb.len == LINE_INLINE && lb.cap == 0);
	line_feed(&lb, "x", 1, got_line, &g);
	CHECK(lb.len == LINE_INLINE + 1 && lb.cap > LINE_INLINE &&
	    lb.cap <= 64 && lb.u.p[0] == 'E' && lb.u.p[LINE_INLINE] == 'x');
	for (int i = LINE_INLINE + 1; i < 601; i++)
		line_feed(&lb, "x", 1, got_line, &g);
	CHECK(g.n == 0 && lb.len == 601 && lb.cap >= 601);
	CHECK(lb.cap <= MAX_LINE - 1);
	line_feed(&lb, "\r\n", 2, got_line, &g);
	CHECK(g.n == 1 && g.len[0] == 601 && g.line[0][0] == 'E');
	CHECK(g.line[0][600] == 'x' && g.flags[0] == 0);
	CHECK(lb.cap == 0 && lb.len == 0);
	/* A short line kept in place arrives whole too. */
	memset(&g, 0, sizeof(g));
	line_feed(&lb, "QU", 2, got_line, &g);
	line_feed(&lb, "IT\r", 3, got_line, &g);
	line_feed(&lb, "\n", 1, got_line, &g);
	CHECK(g.n == 1 && strcmp(g.line[0], "QUIT") == 0 && g.flags[0] == 0);
	CHECK(lb.cap == 0 && lb.len == 0);
	memset(&g, 0, sizeof(g));
	for (int i = 0; i < 3 * MAX_LINE; i++)
		line_feed(&lb, "y", 1, got_line, &g);
	CHECK(g.n == 0 && lb.len == MAX_LINE - 1 && lb.cap == MAX_LINE - 1);
	line_feed(&lb, "\r\n", 2, got_line, &g);
	CHECK(g.n == 1 && (g.flags[0] & LINE_TOO_LONG));
	CHECK(g.len[0] == MAX_LINE - 1 && g.line[0][MAX_LINE - 2] == 'y');
	line_free(&lb);
}

/* A returning client (tarpit/recent.c): 421 instead of the greeting. */
static void
test_returning(void)
{
	struct sess_rec rec;

	config_defaults(&conf);
	strcpy(conf.hostname, "mx10.example.net");
	smtp_free(&s);
	smtp_init(&s, &conf, "192.0.2.7", "198.51.100.1");
	smtp_returning(&s, &r, CLOSE_DEFERRED);
	CHECK(strcmp(r.buf, "421 4.7.1 mx10.example.net Service temporarily "
	    "unavailable, try again later\r\n") == 0);
	CHECK(r.close && s.state == SMTP_DONE && s.reason == CLOSE_DEFERRED);
	memset(&rec, 0, sizeof(rec));
	smtp_fill(&s, &rec);
	CHECK(rec.stage == STAGE_GREETING && rec.reply_code == 421);
	CHECK(rec.helo.len == 0 && rec.nrcpt == 0);
	CHECK((rec.anomalies & ANOM_EARLY_QUIT) == 0);
}

int
main(void)
{
	test_dialogue();
	test_returning();
	test_transactions();
	test_never_5xx();
	test_defer_stages();
	test_verbs();
	test_auth();
	test_anomalies();
	test_helo_valid();
	test_bounds();
	test_lines();
	smtp_free(&s);
	return t_done("test_smtp");
}
