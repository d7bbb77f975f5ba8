/* SPDX-License-Identifier: ISC */
/*
 * fuzz_smtp.c -- libFuzzer harness for what a client sends: the first
 * bytes check, the line splitter and the SMTP engine, fed in two chunks
 * split where the input says, under several defer stages.  Checks the
 * engine's promises: bounded arena, no 5xx to protected verbs' stages
 * beyond what the table allows, and a record that encodes and decodes.
 */
#include <stdlib.h>
#include <string.h>

#include "tarpit.h"

struct ctx {
	struct smtp	*s;
	struct reply	 r;
};

static int
fuzz_line(void *arg, const char *p, size_t len, int flags)
{
	struct ctx *c = arg;

	smtp_line(c->s, p, len, flags, &c->r);
	if (c->r.len == 0 || c->r.len > sizeof(c->r.buf) ||
	    memcmp(c->r.buf + c->r.len - 2, "\r\n", 2) != 0)
		abort();
	return c->s->state == SMTP_DONE;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config	 conf;
	struct smtp		 s;
	struct linebuf		 lb = { 0 };
	struct ctx		 c = { &s, { { 0 }, 0, 0 } };
	static struct sess_rec	 rec, back;
	uint32_t		 n = 0;
	static uint8_t		 buf[MAX_RECORD];
	const char		*why;
	size_t			 cut, len;

	if (size < 2)
		return 0;
	config_defaults(&conf);
	conf.defer_stage = (enum defer_stage)(data[0] % 5);
	conf.pipelining = data[0] & 0x80;
	conf.max_errors = 1 + data[1] % 20;
	cut = size > 2 ? data[1] % (size - 2) : 0;
	data += 2;
	size -= 2;

	smtp_init(&s, &conf, "192.0.2.7", "198.51.100.1");
	smtp_greeting(&s, &c.r);
	smtp_first_bytes(&s, (const char *)data, size, 0, &c.r);
	if (s.state != SMTP_DONE &&
	    line_feed(&lb, (const char *)data, cut, fuzz_line, &c) == 0)
		line_feed(&lb, (const char *)data + cut, size - cut,
		    fuzz_line, &c);
	if (s.env != NULL && s.env->alen > SMTP_ARENA_MAX)
		abort();
	smtp_end(&s, CLOSE_EOF);

	memset(&rec, 0, sizeof(rec));
	strcpy(rec.uid, "0123456789abcdef");
	strcpy(rec.src_ip, "192.0.2.7");
	strcpy(rec.dst_ip, "198.51.100.1");
	rec.mx_pref = -1;
	smtp_fill(&s, &rec);
	/* Transactions in bounds, recipients contiguous and all counted. */
	if (rec.ntxn > MAX_TXN || rec.ntrcpt > MAX_TXN_RCPT ||
	    rec.txn_total < rec.ntxn || s.rcpt_total < rec.ntrcpt)
		abort();
	for (uint32_t i = 0; i < rec.ntxn; i++) {
		if (rec.txn[i].rcpt_first != n ||
		    rec.txn[i].nrcpt > rec.txn[i].rcpt_total)
			abort();
		n += rec.txn[i].nrcpt;
	}
	if (n != rec.ntrcpt)
		abort();
	len = record_encode_session(&rec, buf, sizeof(buf));
	if (len == 0 || record_decode_session(buf, len, &back, &why) != 0)
		abort();
	if (back.ntxn != rec.ntxn || back.ntrcpt != rec.ntrcpt)
		abort();
	line_free(&lb);
	smtp_free(&s);
	return 0;
}
