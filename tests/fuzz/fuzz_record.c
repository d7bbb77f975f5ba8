/* SPDX-License-Identifier: ISC */
/*
 * fuzz_record.c -- libFuzzer harness for the store's side of the
 * socketpair: record_decode_session must refuse or accept any bytes
 * without reading out of bounds, and what it accepts must re-encode to
 * a record that decodes to the same fields.
 */
#include <stdlib.h>
#include <string.h>

#include "decoymx.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sess_rec a, b;
	static uint8_t	 buf[2 * MAX_RECORD];
	const char	*why;
	size_t		 len;
	uint32_t	 n = 0;

	if (record_decode_session(data, size, &a, &why) != 0)
		return 0;
	/* The transactions are whole: contiguous recipients, in bounds. */
	if (a.ntxn > MAX_TXN || a.ntrcpt > MAX_TXN_RCPT ||
	    a.txn_total < a.ntxn || a.rcpt_total < a.ntrcpt)
		abort();
	for (uint32_t i = 0; i < a.ntxn; i++) {
		if (a.txn[i].rcpt_first != n || a.txn[i].ended >= TXN_END_MAX ||
		    a.txn[i].nrcpt > a.txn[i].rcpt_total)
			abort();
		n += a.txn[i].nrcpt;
	}
	if (n != a.ntrcpt)
		abort();
	/*
	 * A record without the legacy sender or with legacy recipients
	 * re-encodes a little longer (record.c derives one from the other):
	 * one right at the size bound may not fit again.
	 */
	len = record_encode_session(&a, buf, sizeof(buf));
	if (len == 0 || len > MAX_RECORD) {
		if (size + 1024 < MAX_RECORD)
			abort();
		return 0;
	}
	if (record_decode_session(buf, len, &b, &why) != 0)
		abort();
	if (strcmp(a.uid, b.uid) != 0 || a.nrcpt != b.nrcpt ||
	    a.helo.len != b.helo.len || a.anomalies != b.anomalies ||
	    a.ntxn != b.ntxn || a.ntrcpt != b.ntrcpt ||
	    a.txn_total != b.txn_total)
		abort();
	for (uint32_t i = 0; i < a.ntxn; i++)
		if (a.txn[i].mail.len != b.txn[i].mail.len ||
		    (a.txn[i].mail.p == NULL) != (b.txn[i].mail.p == NULL) ||
		    a.txn[i].nrcpt != b.txn[i].nrcpt)
			abort();
	return 0;
}
