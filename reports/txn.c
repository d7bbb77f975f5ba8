/* SPDX-License-Identifier: ISC */
/*
 * txn.c -- the MAIL transactions of stored sessions (schema 8), as the
 * session reports show them: a JSON array of objects (mail_from,
 * params, reply_code, rcpt_to, rcpt_replies, rcpt_total, ended) and a
 * one-line text form for CSV cells and tables ("FROM -> RCPT RCPT;
 * FROM2 -> RCPT", <> for the null sender, - for RCPTs without MAIL).
 * Text is raw here; the caller's CSV or table writer escapes it.
 *
 * Exports txnq_open(), txnq_json(), txnq_text() and txnq_close().
 */
#include <string.h>

#include "reports.h"

static struct span txnq_col(sqlite3_stmt *, int);

static struct span
txnq_col(sqlite3_stmt *q, int col)
{
	const char *p = (const char *)sqlite3_column_text(q, col);

	return (struct span){ p, p ? (size_t)sqlite3_column_bytes(q, col) : 0 };
}

/* Prepares the two queries on db.  Returns 0, or -1 (SQLite error). */
int
txnq_open(sqlite3 *db, struct txn_q *tq)
{
	memset(tq, 0, sizeof(*tq));
	if (sqlite3_prepare_v2(db, "SELECT seq, mail_from, params,"
	    " reply_code, rcpt_total, ended FROM transactions"
	    " WHERE session_id = ?1 ORDER BY seq", -1, &tq->txn,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT rcpt, reply_code FROM recipients"
	    " WHERE session_id = ?1 AND txn = ?2 ORDER BY seq", -1, &tq->rcpt,
	    NULL) != SQLITE_OK) {
		txnq_close(tq);
		return -1;
	}
	return 0;
}

void
txnq_close(struct txn_q *tq)
{
	sqlite3_finalize(tq->txn);
	sqlite3_finalize(tq->rcpt);
	tq->txn = tq->rcpt = NULL;
}

/* A JSON value: the text escaped, or null. */
static void
txnq_json_text(FILE *f, struct span s)
{
	if (s.p == NULL)
		fputs("null", f);
	else
		fmt_json_str(f, s.p, s.len);
}

/* The "transactions" array of session id, as JSON, to f. */
void
txnq_json(struct txn_q *tq, FILE *f, int64_t id)
{
	int first = 1;

	putc('[', f);
	sqlite3_bind_int64(tq->txn, 1, id);
	while (sqlite3_step(tq->txn) == SQLITE_ROW) {
		sqlite3_stmt *t = tq->txn;

		fputs(first ? "{\"mail_from\":" : ",{\"mail_from\":", f);
		first = 0;
		txnq_json_text(f, txnq_col(t, 1));
		fputs(",\"params\":", f);
		txnq_json_text(f, txnq_col(t, 2));
		fputs(",\"reply_code\":", f);
		if (sqlite3_column_type(t, 3) == SQLITE_NULL)
			fputs("null", f);
		else
			fprintf(f, "%d", sqlite3_column_int(t, 3));
		fputs(",\"rcpt_to\":[", f);
		sqlite3_bind_int64(tq->rcpt, 1, id);
		sqlite3_bind_int64(tq->rcpt, 2, sqlite3_column_int64(t, 0));
		for (int n = 0; sqlite3_step(tq->rcpt) == SQLITE_ROW; n++) {
			if (n > 0)
				putc(',', f);
			txnq_json_text(f, txnq_col(tq->rcpt, 0));
		}
		sqlite3_reset(tq->rcpt);
		fputs("],\"rcpt_replies\":[", f);
		for (int n = 0; sqlite3_step(tq->rcpt) == SQLITE_ROW; n++) {
			if (n > 0)
				putc(',', f);
			if (sqlite3_column_type(tq->rcpt, 1) == SQLITE_NULL)
				fputs("null", f);
			else
				fprintf(f, "%d", sqlite3_column_int(tq->rcpt,
				    1));
		}
		sqlite3_reset(tq->rcpt);
		fprintf(f, "],\"rcpt_total\":%lld,\"ended\":",
		    (long long)sqlite3_column_int64(t, 4));
		txnq_json_text(f, txnq_col(t, 5));
		putc('}', f);
	}
	sqlite3_reset(tq->txn);
	putc(']', f);
}

/*
 * The transactions of session id as one raw line to f: "FROM -> RCPT
 * RCPT; ..." or, with senders_only, the senders separated by spaces.
 */
void
txnq_text(struct txn_q *tq, FILE *f, int64_t id, int senders_only)
{
	int first = 1;

	sqlite3_bind_int64(tq->txn, 1, id);
	while (sqlite3_step(tq->txn) == SQLITE_ROW) {
		struct span m = txnq_col(tq->txn, 1);

		if (!first)
			fputs(senders_only ? " " : "; ", f);
		first = 0;
		if (m.p == NULL)
			putc('-', f);
		else if (m.len == 0)
			fputs("<>", f);
		else
			fwrite(m.p, 1, m.len, f);
		if (senders_only)
			continue;
		fputs(" ->", f);
		sqlite3_bind_int64(tq->rcpt, 1, id);
		sqlite3_bind_int64(tq->rcpt, 2,
		    sqlite3_column_int64(tq->txn, 0));
		while (sqlite3_step(tq->rcpt) == SQLITE_ROW) {
			struct span r = txnq_col(tq->rcpt, 0);
			putc(' ', f);
			fwrite(r.p ? r.p : "", 1, r.len, f);
		}
		sqlite3_reset(tq->rcpt);
	}
	sqlite3_reset(tq->txn);
}
