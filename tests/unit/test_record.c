/* SPDX-License-Identifier: ISC */
/*
 * test_record.c -- event records between the network process and the
 * store: a round trip keeps every field, bounds are applied when
 * encoding, and the decoder refuses every malformed record.
 */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "decoymx.h"

static void
sample(struct sess_rec *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->uid, "0123456789abcdef");
	r->start_us = 1700000000000000LL;
	r->end_us = r->start_us + 1500;
	strcpy(r->src_ip, "192.0.2.7");
	r->src_port = 40000;
	strcpy(r->dst_ip, "2001:db8::10");
	r->dst_port = 25;
	r->mx_pref = 40;
	r->role = ROLE_BACKUP;
	r->helo_verb = (struct span){ "EHLO", 4 };
	r->helo = (struct span){ "bot\0x", 5 };
	r->mail_from = (struct span){ "", 0 };
	r->rcpt[0] = (struct span){ "a@example.org", 13 };
	r->rcpt[1] = (struct span){ "b@example.org", 13 };
	r->nrcpt = 2;
	r->rcpt_total = 7;
	r->auth[0].mech = (struct span){ "PLAIN", 5 };
	r->auth[0].user = (struct span){ "bob", 3 };
	r->nauth = 1;
	r->stage = STAGE_RCPT;
	r->reply_code = 450;
	r->reason = CLOSE_QUIT;
	r->bytes_in = 100;
	r->bytes_out = 200;
	r->commands = 5;
	r->errors = 1;
	r->anomalies = ANOM_PIPELINING | ANOM_BARE_LF;
}

static void
test_roundtrip(void)
{
	struct sess_rec	 a, b;
	uint8_t		 buf[MAX_RECORD];
	const char	*why = NULL;
	size_t		 len;

	sample(&a);
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(len > 0);
	CHECK(record_type(buf, len) == REC_SESSION);
	CHECK(record_decode_session(buf, len, &b, &why) == 0);
	CHECK_STR(b.uid, a.uid);
	CHECK(b.start_us == a.start_us && b.end_us == a.end_us);
	CHECK_STR(b.src_ip, "192.0.2.7");
	CHECK_STR(b.dst_ip, "2001:db8::10");
	CHECK(b.src_port == 40000 && b.dst_port == 25 && b.mx_pref == 40);
	CHECK(b.role == ROLE_BACKUP && b.stage == STAGE_RCPT);
	CHECK(b.helo.len == 5 && memcmp(b.helo.p, "bot\0x", 5) == 0);
	CHECK(b.mail_from.p != NULL && b.mail_from.len == 0);
	CHECK(b.nrcpt == 2 && b.rcpt_total == 7);
	CHECK(b.rcpt[1].len == 13 && memcmp(b.rcpt[1].p, "b@example.org",
	    13) == 0);
	CHECK(b.nauth == 1 && b.auth[0].user.len == 3);
	CHECK(b.reply_code == 450 && b.reason == CLOSE_QUIT);
	CHECK(b.anomalies == (ANOM_PIPELINING | ANOM_BARE_LF));
	CHECK(b.bytes_in == 100 && b.bytes_out == 200 && b.errors == 1);

	/* No MAIL FROM at all stays absent (NULL), not empty. */
	a.mail_from = (struct span){ NULL, 0 };
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == 0);
	CHECK(b.mail_from.p == NULL);

	/* Over-long strings are cut to their bound when encoding. */
	static char big[4000];
	memset(big, 'h', sizeof(big));
	a.helo = (struct span){ big, sizeof(big) };
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == 0);
	CHECK(b.helo.len == MAX_HELO);
	CHECK(record_encode_session(&a, buf, 40) == 0);
}

static void
test_rejects(void)
{
	struct sess_rec	 a, b;
	uint8_t		 buf[MAX_RECORD], bad[MAX_RECORD];
	const char	*why;
	size_t		 len;

	sample(&a);
	len = record_encode_session(&a, buf, sizeof(buf));

	/* Every truncation is refused, none crashes. */
	int refused = 0;
	for (size_t n = 0; n < len; n++)
		refused += record_decode_session(buf, n, &b, &why) == -1;
	CHECK(refused == (int)len);

	memcpy(bad, buf, len);
	bad[0] = 9;
	CHECK(record_decode_session(bad, len, &b, &why) == -1);

	/* A bad address, uid, or enum is refused with a reason. */
	strcpy(a.src_ip, "not-an-ip");
	len = record_encode_session(&a, buf, sizeof(buf));
	why = NULL;
	CHECK(record_decode_session(buf, len, &b, &why) == -1 && why != NULL);
	sample(&a);
	strcpy(a.uid, "xyz");
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == -1);
	sample(&a);
	a.stage = STAGE_MAX;
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == -1);
	sample(&a);
	a.anomalies = 1u << 30;
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == -1);
	sample(&a);
	a.end_us = a.start_us - 1;
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == -1);
	sample(&a);
	a.reply_code = 999;
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == -1);

	/* A duplicated single field is refused. */
	sample(&a);
	len = record_encode_session(&a, buf, sizeof(buf));
	memcpy(bad, buf, len);
	memcpy(bad + len - 3, buf + 2, 3 + UID_LEN);	/* uid before EOR */
	memcpy(bad + len + UID_LEN, buf + len - 3, 3);
	CHECK(record_decode_session(bad, len + 3 + UID_LEN, &b, &why) == -1);
	/* Anything after the end marker is refused. */
	memcpy(bad, buf, len);
	bad[len] = 0;
	CHECK(record_decode_session(bad, len + 1, &b, &why) == -1);
}

static int
span_is(struct span sp, const char *want)
{
	return sp.p != NULL && sp.len == strlen(want) &&
	    memcmp(sp.p, want, sp.len) == 0;
}

/* Transactions survive the trip in order, each with its recipients. */
static void
test_txn(void)
{
	static struct sess_rec	 a, b;
	static uint8_t		 buf[MAX_RECORD];
	const char		*why = NULL;
	size_t			 len;
	static const char	*from[3] = { "one@x.example", "two@y.example",
				    "three@z.example" };
	static const char	*to[4] = { "u1@v.example", "u2@v.example",
				    "u3@v.example", "u4@v.example" };
	static const uint32_t	 first[3] = { 0, 1, 3 }, n[3] = { 1, 2, 1 };

	sample(&a);
	a.nrcpt = 0;
	a.mail_from = (struct span){ from[0], strlen(from[0]) };
	for (int i = 0; i < 3; i++) {
		a.txn[i].mail = (struct span){ from[i], strlen(from[i]) };
		a.txn[i].reply = 250;
		a.txn[i].ended = i == 0 ? TXN_RSET : i == 1 ? TXN_MAIL :
		    TXN_QUIT;
		a.txn[i].rcpt_first = first[i];
		a.txn[i].nrcpt = n[i];
		a.txn[i].rcpt_total = n[i] + (i == 2);
	}
	a.txn[0].params = (struct span){ "SIZE=10", 7 };
	for (int i = 0; i < 4; i++) {
		a.trcpt[i].path = (struct span){ to[i], strlen(to[i]) };
		a.trcpt[i].reply = (uint16_t)(i == 3 ? 450 : 250);
	}
	a.ntxn = 3;
	a.txn_total = 5;
	a.ntrcpt = 4;
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(len > 0);
	CHECK(record_decode_session(buf, len, &b, &why) == 0);
	CHECK(b.ntxn == 3 && b.txn_total == 5 && b.ntrcpt == 4);
	for (int i = 0; i < 3; i++) {
		CHECK(span_is(b.txn[i].mail, from[i]));
		CHECK(b.txn[i].rcpt_first == first[i] && b.txn[i].nrcpt == n[i]);
		CHECK(b.txn[i].ended == a.txn[i].ended);
		CHECK(b.txn[i].rcpt_total == a.txn[i].rcpt_total);
	}
	CHECK(span_is(b.txn[0].params, "SIZE=10") && b.txn[1].params.p == NULL);
	CHECK(span_is(b.trcpt[3].path, to[3]) && b.trcpt[3].reply == 450);
	/* The legacy view: first sender, all recipients. */
	CHECK(span_is(b.mail_from, from[0]) && b.nrcpt == 4);
	CHECK(span_is(b.rcpt[2], to[2]));

	/* More recipients than the transaction saw: refused. */
	a.txn[1].rcpt_total = 1;
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == -1);

	/* A record without transactions gets one holding its envelope. */
	sample(&a);
	len = record_encode_session(&a, buf, sizeof(buf));
	CHECK(record_decode_session(buf, len, &b, &why) == 0);
	CHECK(b.ntxn == 1 && b.txn_total == 1 && b.ntrcpt == 2);
	CHECK(b.txn[0].mail.p != NULL && b.txn[0].mail.len == 0);
	CHECK(b.txn[0].nrcpt == 2 && span_is(b.trcpt[1].path,
	    "b@example.org"));
	CHECK(strcmp(txn_end_name(TXN_RSET), "rset") == 0);
}

int
main(void)
{
	test_roundtrip();
	test_txn();
	test_rejects();
	return t_done("test_record");
}
