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
	struct sess_rec	 a, b;
	static uint8_t	 buf[MAX_RECORD];
	const char	*why;
	size_t		 len;

	if (record_decode_session(data, size, &a, &why) != 0)
		return 0;
	len = record_encode_session(&a, buf, sizeof(buf));
	if (len == 0 || record_decode_session(buf, len, &b, &why) != 0)
		abort();
	if (strcmp(a.uid, b.uid) != 0 || a.nrcpt != b.nrcpt ||
	    a.helo.len != b.helo.len || a.anomalies != b.anomalies)
		abort();
	return 0;
}
