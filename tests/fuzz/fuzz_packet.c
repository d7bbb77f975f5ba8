/* SPDX-License-Identifier: ISC */
/*
 * fuzz_packet.c -- libFuzzer harness for the sensor's packet parser:
 * the first byte picks the link type, the rest is the captured frame.
 * Every parsed SYN also goes through the signature, the matcher (an
 * empty database) and the REC_SYN round trip, which must agree.
 */
#include <stdlib.h>
#include <string.h>

#include "sensor.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const int dlts[] = { 1, 113, 276, 12, 228, 229, 0, 108, 105 };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct syn_rec	 r, back;
	struct fp_sig	 f;
	struct fp_match	 m;
	const char	*why;
	uint8_t		*copy, rec[512];
	size_t		 len;

	if (size < 1)
		return 0;
	/* An exact-size copy, so reads past the end are caught. */
	if ((copy = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	memset(&r, 0, sizeof(r));
	if (packet_parse(dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))],
	    copy, size - 1, &r.s, &why) == PKT_SYN) {
		fp_signature(&r.s, &f);
		fpdb_match(NULL, &r.s, &m);
		r.mx_pref = -1;
		len = synrec_encode(&r, rec, sizeof(rec));
		if (len == 0 || (synrec_decode(rec, len, &back, &why) == 0 &&
		    memcmp(&back.s, &r.s, sizeof(r.s)) != 0))
			abort();
	}
	free(copy);
	return 0;
}
