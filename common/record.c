/* SPDX-License-Identifier: ISC */
/*
 * record.c -- the event records the network process sends to the store
 * over their socketpair, one record per SOCK_SEQPACKET message.
 *
 * Layout: a type byte, a version byte, then fields as tag (1 byte),
 * length (2 bytes, big endian), value.  Integers are 8 bytes big endian;
 * strings are raw bytes, never NUL-terminated.  The store does not trust
 * the network process: record_decode_session() checks every bound again.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "decoymx.h"

#define REC_VERSION	1

enum tag {
	T_UID = 1, T_START, T_END, T_SRC_IP, T_SRC_PORT, T_DST_IP, T_DST_PORT,
	T_MX_PREF, T_ROLE, T_GREET_DELAY, T_HELO_VERB, T_HELO, T_MAIL_FROM,
	T_RCPT, T_RCPT_TOTAL, T_AUTH_MECH, T_AUTH_USER, T_STAGE, T_REPLY,
	T_REASON, T_BYTES_IN, T_BYTES_OUT, T_COMMANDS, T_ERRORS, T_ANOMALIES,
	T_TXN,		/* starts a transaction: 8-byte header, then params */
	T_TXN_MAIL,	/* its MAIL FROM path */
	T_TXN_RCPT,	/* one of its RCPTs: 2-byte reply, then the path */
	T_TXN_TOTAL,	/* transactions seen, kept or not */
	T_VIA,		/* the balancer of a PROXY header, when relayed */
	T_EOR,		/* end of record: empty, last, required */
	T_MAX
};

/* rec_walk() keeps the tags seen in 32 bits: widen it before adding one. */
_Static_assert(T_MAX <= 32, "too many REC_SESSION tags for rec_walk");

static int	 valid_ip(const uint8_t *, size_t, char *, size_t);
static void	 encode_txns(struct rec_writer *, const struct sess_rec *);
static int	 decode_txn(struct sess_rec *, int, const uint8_t *, size_t,
		    const char **);
static int	 decode_txn_check(struct sess_rec *, uint32_t, const char **);
static void	 decode_txn_legacy(struct sess_rec *);

/* A transaction flagged with a sender whose T_TXN_MAIL is still due. */
static const char txn_mail_due[] = "";

static const char *txn_end_names[TXN_END_MAX] = {
	[TXN_CLOSE] = "close", [TXN_MAIL] = "mail", [TXN_RSET] = "rset",
	[TXN_HELO] = "helo", [TXN_QUIT] = "quit",
};

/* The name of how a transaction ended, or NULL if e is out of range. */
const char *
txn_end_name(int e)
{
	return e >= 0 && e < TXN_END_MAX ? txn_end_names[e] : NULL;
}

/* Starts a record of the given type in buf. */
void
rec_begin(struct rec_writer *w, uint8_t *buf, size_t cap, int type)
{
	w->p = buf;
	w->len = 0;
	w->cap = cap;
	w->overflow = cap < 2;
	if (!w->overflow) {
		buf[w->len++] = (uint8_t)type;
		buf[w->len++] = REC_VERSION;
	}
}

/* Appends one field; a field that does not fit marks the record bad. */
void
rec_put(struct rec_writer *w, int tag, const void *v, size_t len)
{
	if (w->overflow || len > 0xffff || w->len + 3 + len > w->cap) {
		w->overflow = 1;
		return;
	}
	w->p[w->len++] = (uint8_t)tag;
	w->p[w->len++] = (uint8_t)(len >> 8);
	w->p[w->len++] = (uint8_t)len;
	if (len > 0)
		memcpy(w->p + w->len, v, len);
	w->len += len;
}

void
rec_put_u64(struct rec_writer *w, int tag, uint64_t v)
{
	uint8_t b[8];

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	rec_put(w, tag, b, 8);
}

/* Ends the record with its empty end marker.  Returns its length or 0. */
size_t
rec_finish(struct rec_writer *w, int eor_tag)
{
	rec_put(w, eor_tag, NULL, 0);
	return w->overflow ? 0 : w->len;
}

/*
 * Walks the fields of a record of the given type, checking the framing
 * every record shares: a known tag (1 .. ntags-1), a length inside the
 * record, each tag once unless its bit is in repeatable, the empty end
 * marker eor_tag last and present.  Calls fn for each field.  Returns
 * 0, or -1 with *why set; *seen gets the tags found.
 */
int
rec_walk(const uint8_t *buf, size_t len, int type, int ntags, int eor_tag,
    uint32_t repeatable, uint32_t *seen, rec_field_fn fn, void *arg,
    const char **why)
{
	size_t off = 2;

	*seen = 0;
	if (len < 2 || buf[0] != type || buf[1] != REC_VERSION)
		return *why = "not a record of this type", -1;
	if (len > MAX_RECORD)
		return *why = "record too long", -1;
	while (off < len) {
		if (len - off < 3)
			return *why = "truncated field header", -1;
		int tag = buf[off];
		size_t flen = (size_t)buf[off + 1] << 8 | buf[off + 2];
		off += 3;
		if (flen > len - off)
			return *why = "truncated field", -1;
		if (tag <= 0 || tag >= ntags)
			return *why = "unknown field", -1;
		if ((*seen & 1u << tag) && !(repeatable & 1u << tag))
			return *why = "duplicate field", -1;
		*seen |= 1u << tag;
		if (tag == eor_tag) {
			if (flen != 0)
				return *why = "end marker with content", -1;
			if (off != len)
				return *why = "data after the end marker", -1;
		} else if (fn(arg, tag, buf + off, flen, why) == -1)
			return -1;
		off += flen;
	}
	if (!(*seen & 1u << eor_tag))
		return *why = "no end marker", -1;
	return 0;
}

static void
put_span(struct rec_writer *w, int tag, struct span s, size_t max)
{
	if (s.p != NULL)
		rec_put(w, tag, s.p, s.len < max ? s.len : max);
}

/*
 * Encodes a session summary into buf.  Strings longer than their bound
 * are cut to it.  Returns the record length, or 0 if it does not fit.
 */
size_t
record_encode_session(const struct sess_rec *r, uint8_t *buf, size_t cap)
{
	struct rec_writer w;

	rec_begin(&w, buf, cap, REC_SESSION);
	rec_put(&w, T_UID, r->uid, strlen(r->uid));
	rec_put_u64(&w, T_START, (uint64_t)r->start_us);
	rec_put_u64(&w, T_END, (uint64_t)r->end_us);
	rec_put(&w, T_SRC_IP, r->src_ip, strlen(r->src_ip));
	rec_put_u64(&w, T_SRC_PORT, r->src_port);
	rec_put(&w, T_DST_IP, r->dst_ip, strlen(r->dst_ip));
	rec_put_u64(&w, T_DST_PORT, r->dst_port);
	rec_put_u64(&w, T_MX_PREF, (uint64_t)(int64_t)r->mx_pref);
	rec_put_u64(&w, T_ROLE, r->role);
	rec_put_u64(&w, T_GREET_DELAY, r->greeting_delay_ms);
	put_span(&w, T_HELO_VERB, r->helo_verb, 4);
	put_span(&w, T_HELO, r->helo, MAX_HELO);
	put_span(&w, T_MAIL_FROM, r->mail_from, MAX_PATH_ARG);
	if (r->ntxn == 0)	/* the recipients without transactions */
		for (uint32_t i = 0; i < r->nrcpt && i < MAX_RCPT; i++)
			put_span(&w, T_RCPT, r->rcpt[i], MAX_PATH_ARG);
	rec_put_u64(&w, T_RCPT_TOTAL, r->rcpt_total);
	for (uint32_t i = 0; i < r->nauth && i < MAX_AUTH; i++) {
		put_span(&w, T_AUTH_MECH, r->auth[i].mech, MAX_AUTH_MECH);
		put_span(&w, T_AUTH_USER, r->auth[i].user, MAX_AUTH_USER);
	}
	rec_put_u64(&w, T_STAGE, r->stage);
	rec_put_u64(&w, T_REPLY, r->reply_code);
	rec_put_u64(&w, T_REASON, r->reason);
	rec_put_u64(&w, T_BYTES_IN, r->bytes_in);
	rec_put_u64(&w, T_BYTES_OUT, r->bytes_out);
	rec_put_u64(&w, T_COMMANDS, r->commands);
	rec_put_u64(&w, T_ERRORS, r->errors);
	rec_put_u64(&w, T_ANOMALIES, r->anomalies);
	encode_txns(&w, r);
	if (r->via[0] != '\0')
		rec_put(&w, T_VIA, r->via, strlen(r->via));
	return rec_finish(&w, T_EOR);
}

/*
 * The transactions of a session: per transaction a T_TXN (reply to MAIL,
 * how it ended, has-MAIL flag, RCPTs seen; then the MAIL parameters),
 * its T_TXN_MAIL and one T_TXN_RCPT per recipient kept (the reply it got,
 * then the path); the recipients of the legacy rcpt[] are the first of
 * these and are not sent again.
 */
static void
encode_txns(struct rec_writer *w, const struct sess_rec *r)
{
	uint8_t	 b[8 + MAX_PATH_ARG];

	for (uint32_t i = 0; i < r->ntxn && i < MAX_TXN; i++) {
		const struct txn_rec *t = &r->txn[i];
		size_t plen = t->params.p == NULL ? 0 : t->params.len;

		if (plen > MAX_PATH_ARG)
			plen = MAX_PATH_ARG;
		b[0] = (uint8_t)(t->reply >> 8);
		b[1] = (uint8_t)t->reply;
		b[2] = t->ended;
		b[3] = (uint8_t)((t->mail.p != NULL) | (t->params.p != NULL) << 1);
		for (int k = 0; k < 4; k++)
			b[4 + k] = (uint8_t)(t->rcpt_total >> (24 - 8 * k));
		if (plen > 0)
			memcpy(b + 8, t->params.p, plen);
		rec_put(w, T_TXN, b, 8 + plen);
		put_span(w, T_TXN_MAIL, t->mail, MAX_PATH_ARG);
		for (uint32_t j = 0; j < t->nrcpt; j++) {
			uint32_t k = t->rcpt_first + j;
			size_t len;

			if (k >= r->ntrcpt || k >= MAX_TXN_RCPT)
				break;
			len = r->trcpt[k].path.len < MAX_PATH_ARG ?
			    r->trcpt[k].path.len : MAX_PATH_ARG;
			b[0] = (uint8_t)(r->trcpt[k].reply >> 8);
			b[1] = (uint8_t)r->trcpt[k].reply;
			if (len > 0)
				memcpy(b + 2, r->trcpt[k].path.p, len);
			rec_put(w, T_TXN_RCPT, b, 2 + len);
		}
	}
	if (r->ntxn > 0)
		rec_put_u64(w, T_TXN_TOTAL, r->txn_total > r->ntxn ?
		    r->txn_total : r->ntxn);
}

/*
 * Empties a session record without writing its big arrays: txn[] and
 * trcpt[] are only read up to ntxn and ntrcpt, and every entry is set
 * when it is added, so clearing them (32 KiB) per session is not needed.
 */
void
record_clear(struct sess_rec *r)
{
	memset(r, 0, offsetof(struct sess_rec, txn));
	r->ntxn = r->txn_total = r->ntrcpt = 0;
	memset(&r->stage, 0, sizeof(*r) - offsetof(struct sess_rec, stage));
}

/* Returns the record type of a received message, or -1. */
int
record_type(const uint8_t *buf, size_t len)
{
	if (len < 2 || buf[1] != REC_VERSION)
		return -1;
	return buf[0];
}

/* An 8-byte big-endian integer field's value. */
uint64_t
rec_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Copies a textual address into out if it parses as IPv4 or IPv6. */
static int
valid_ip(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	struct in6_addr	 a6;

	if (len == 0 || len >= outlen)
		return 0;
	memcpy(out, p, len);
	out[len] = '\0';
	return inet_pton(AF_INET, out, &a6) == 1 ||
	    inet_pton(AF_INET6, out, &a6) == 1;
}

static int
valid_uid(const uint8_t *p, size_t len)
{
	if (len != UID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit(p[i]))
			return 0;
	return 1;
}

/* Bounds for string fields; integer fields have length 8. */
static const size_t str_max[T_MAX] = {
	[T_HELO_VERB] = 4, [T_HELO] = MAX_HELO, [T_MAIL_FROM] = MAX_PATH_ARG,
	[T_RCPT] = MAX_PATH_ARG, [T_AUTH_MECH] = MAX_AUTH_MECH,
	[T_AUTH_USER] = MAX_AUTH_USER, [T_TXN] = 8 + MAX_PATH_ARG,
	[T_TXN_MAIL] = MAX_PATH_ARG, [T_TXN_RCPT] = 2 + MAX_PATH_ARG,
};

static int
decode_field(void *arg, int tag, const uint8_t *v, size_t len,
    const char **why)
{
	struct sess_rec	*r = arg;
	struct span	 s = { (const char *)v, len };
	uint64_t	 n = 0;

	if (str_max[tag] != 0) {
		if (len > str_max[tag]) {
			*why = "string field over its bound";
			return -1;
		}
	} else if (tag != T_UID && tag != T_SRC_IP && tag != T_DST_IP &&
	    tag != T_VIA) {
		if (len != 8) {
			*why = "integer field of wrong size";
			return -1;
		}
		n = rec_u64(v);
	}

	if (tag == T_TXN || tag == T_TXN_MAIL || tag == T_TXN_RCPT)
		return decode_txn(r, tag, v, len, why);
	switch (tag) {
	case T_UID:
		if (!valid_uid(v, len))
			return *why = "bad uid", -1;
		memcpy(r->uid, v, len);
		r->uid[len] = '\0';
		break;
	case T_START:	r->start_us = (int64_t)n; break;
	case T_END:	r->end_us = (int64_t)n; break;
	case T_SRC_IP:
		if (!valid_ip(v, len, r->src_ip, sizeof(r->src_ip)))
			return *why = "bad source address", -1;
		break;
	case T_DST_IP:
		if (!valid_ip(v, len, r->dst_ip, sizeof(r->dst_ip)))
			return *why = "bad decoy address", -1;
		break;
	case T_VIA:
		if (!valid_ip(v, len, r->via, sizeof(r->via)))
			return *why = "bad balancer address", -1;
		break;
	case T_SRC_PORT:
	case T_DST_PORT:
		if (n > 65535)
			return *why = "port out of range", -1;
		if (tag == T_SRC_PORT)
			r->src_port = (uint16_t)n;
		else
			r->dst_port = (uint16_t)n;
		break;
	case T_MX_PREF:
		if ((int64_t)n < -1 || (int64_t)n > 65535)
			return *why = "mx preference out of range", -1;
		r->mx_pref = (int32_t)(int64_t)n;
		break;
	case T_ROLE:
		if (n >= ROLE_REAL)	/* sessions are on decoys only */
			return *why = "bad role", -1;
		r->role = (enum role)n;
		break;
	case T_GREET_DELAY:
		if (n > 86400000)
			return *why = "greeting delay out of range", -1;
		r->greeting_delay_ms = (uint32_t)n;
		break;
	case T_HELO_VERB: r->helo_verb = s; break;
	case T_HELO:	r->helo = s; break;
	case T_MAIL_FROM: r->mail_from = s; break;
	case T_RCPT:
		if (r->nrcpt >= MAX_RCPT)
			return *why = "too many recipients", -1;
		r->rcpt[r->nrcpt++] = s;
		break;
	case T_AUTH_MECH:
		if (r->nauth >= MAX_AUTH)
			return *why = "too many auth attempts", -1;
		r->auth[r->nauth++].mech = s;
		break;
	case T_AUTH_USER:
		if (r->nauth == 0)
			return *why = "auth user without mechanism", -1;
		r->auth[r->nauth - 1].user = s;
		break;
	case T_STAGE:
		if (n >= STAGE_MAX)
			return *why = "bad stage", -1;
		r->stage = (enum stage)n;
		break;
	case T_REPLY:
		if (n != 0 && (n < 200 || n > 599))
			return *why = "bad reply code", -1;
		r->reply_code = (uint16_t)n;
		break;
	case T_REASON:
		if (n >= CLOSE_MAX)
			return *why = "bad close reason", -1;
		r->reason = (enum close_reason)n;
		break;
	case T_BYTES_IN:  r->bytes_in = n; break;
	case T_BYTES_OUT: r->bytes_out = n; break;
	case T_COMMANDS:
	case T_ERRORS:
	case T_RCPT_TOTAL:
		if (n > UINT32_MAX)
			return *why = "counter out of range", -1;
		if (tag == T_COMMANDS)
			r->commands = (uint32_t)n;
		else if (tag == T_ERRORS)
			r->errors = (uint32_t)n;
		else
			r->rcpt_total = (uint32_t)n;
		break;
	case T_ANOMALIES:
		if (n & ~(uint64_t)ANOM_ALL)
			return *why = "unknown anomaly bits", -1;
		r->anomalies = (uint32_t)n;
		break;
	case T_TXN_TOTAL:
		if (n > UINT32_MAX)
			return *why = "counter out of range", -1;
		r->txn_total = (uint32_t)n;
		break;
	}
	return 0;
}

/* Checks transaction i once all of its fields are in. */
static int
decode_txn_check(struct sess_rec *r, uint32_t i, const char **why)
{
	if (r->txn[i].mail.p == txn_mail_due)
		return *why = "transaction without its flagged sender", -1;
	return 0;
}

/*
 * Makes the two views of the envelope agree: a record with recipients
 * or a sender but no transactions gets one transaction holding them
 * (records of the legacy shape), one with transactions gets the legacy
 * rcpt[] (the first MAX_RCPT recipients) and mail_from (the first
 * sender) from them.
 */
static void
decode_txn_legacy(struct sess_rec *r)
{
	if (r->ntxn == 0 && (r->mail_from.p != NULL || r->nrcpt > 0)) {
		struct txn_rec *t = &r->txn[0];

		memset(t, 0, sizeof(*t));
		t->mail = r->mail_from;
		t->ended = TXN_CLOSE;
		t->rcpt_total = r->rcpt_total;
		for (uint32_t i = 0; i < r->nrcpt; i++) {
			r->trcpt[i].path = r->rcpt[i];
			r->trcpt[i].reply = 0;
		}
		t->nrcpt = r->ntrcpt = r->nrcpt;
		r->ntxn = 1;
	}
	if (r->nrcpt == 0)
		for (uint32_t i = 0; i < r->ntrcpt && i < MAX_RCPT; i++)
			r->rcpt[r->nrcpt++] = r->trcpt[i].path;
	for (uint32_t i = 0; i < r->ntxn && r->mail_from.p == NULL; i++)
		r->mail_from = r->txn[i].mail;
	if (r->txn_total < r->ntxn)
		r->txn_total = r->ntxn;
}

/* A reply code field: 0 (none) or 200..599. */
static int
valid_reply(unsigned n)
{
	return n == 0 || (n >= 200 && n <= 599);
}

/*
 * The fields of one transaction (see encode_txns): T_TXN opens the next
 * one, T_TXN_MAIL and T_TXN_RCPT belong to the last one opened.
 */
static int
decode_txn(struct sess_rec *r, int tag, const uint8_t *v, size_t len,
    const char **why)
{
	struct txn_rec	*t = r->ntxn > 0 ? &r->txn[r->ntxn - 1] : NULL;
	unsigned	 code = len >= 2 ? (unsigned)v[0] << 8 | v[1] : 0;

	if (tag == T_TXN) {
		if (len < 8 || r->ntxn >= MAX_TXN)
			return *why = len < 8 ? "short transaction" :
			    "too many transactions", -1;
		if (!valid_reply(code) || v[2] >= TXN_END_MAX || v[3] > 3)
			return *why = "bad transaction header", -1;
		if (t != NULL && decode_txn_check(r, r->ntxn - 1, why) == -1)
			return -1;
		t = &r->txn[r->ntxn++];
		memset(t, 0, sizeof(*t));
		t->reply = (uint16_t)code;
		t->ended = v[2];
		t->mail.p = v[3] & 1 ? txn_mail_due : NULL;
		if (v[3] & 2)
			t->params = (struct span){ (const char *)v + 8,
			    len - 8 };
		else if (len > 8)
			return *why = "transaction parameters not flagged", -1;
		t->rcpt_total = (uint32_t)v[4] << 24 | (uint32_t)v[5] << 16 |
		    (uint32_t)v[6] << 8 | v[7];
		t->rcpt_first = r->ntrcpt;
		return 0;
	}
	if (t == NULL)
		return *why = "transaction field before its transaction", -1;
	if (tag == T_TXN_MAIL) {
		if (t->mail.p != txn_mail_due)
			return *why = "unexpected transaction sender", -1;
		t->mail = (struct span){ (const char *)v, len };
		return 0;
	}
	if (t->mail.p == txn_mail_due)
		return *why = "transaction recipient before its sender", -1;
	if (len < 2 || !valid_reply(code))
		return *why = "bad transaction recipient", -1;
	if (r->ntrcpt >= MAX_TXN_RCPT)
		return *why = "too many recipients", -1;
	if (t->nrcpt >= t->rcpt_total)
		return *why = "transaction recipients over its total", -1;
	r->trcpt[r->ntrcpt].path = (struct span){ (const char *)v + 2,
	    len - 2 };
	r->trcpt[r->ntrcpt++].reply = (uint16_t)code;
	t->nrcpt++;
	return 0;
}

/*
 * Decodes and validates a session record.  Spans in *r point into buf,
 * which must outlive r.  Returns 0, or -1 with *why set to a static
 * description of the first problem found.
 */
int
record_decode_session(const uint8_t *buf, size_t len, struct sess_rec *r,
    const char **why)
{
	uint32_t	 seen;
	const uint32_t	 required = 1u << T_UID | 1u << T_START | 1u << T_END |
	    1u << T_SRC_IP | 1u << T_SRC_PORT | 1u << T_DST_IP |
	    1u << T_DST_PORT | 1u << T_STAGE | 1u << T_REASON | 1u << T_EOR;
	const uint32_t	 repeatable = 1u << T_RCPT | 1u << T_AUTH_MECH |
	    1u << T_AUTH_USER | 1u << T_TXN | 1u << T_TXN_MAIL |
	    1u << T_TXN_RCPT;

	record_clear(r);
	r->mx_pref = -1;
	if (rec_walk(buf, len, REC_SESSION, T_MAX, T_EOR, repeatable, &seen,
	    decode_field, r, why) == -1)
		return -1;
	if ((seen & required) != required)
		return *why = "missing required field", -1;
	if (r->ntxn > 0 && decode_txn_check(r, r->ntxn - 1, why) == -1)
		return -1;
	if (r->ntxn > 0 && (seen & 1u << T_RCPT))
		return *why = "recipients outside transactions", -1;
	if (r->txn_total != 0 && r->txn_total < r->ntxn)
		return *why = "transaction total below transactions kept", -1;
	if (r->txn_total != 0 && r->ntxn == 0)
		return *why = "transaction total without transactions", -1;
	if (r->rcpt_total < r->ntrcpt)
		return *why = "recipient total below recipients kept", -1;
	decode_txn_legacy(r);
	if (r->end_us < r->start_us)
		return *why = "session ends before it starts", -1;
	if (r->rcpt_total < r->nrcpt)
		return *why = "recipient total below recipients kept", -1;
	return 0;
}
