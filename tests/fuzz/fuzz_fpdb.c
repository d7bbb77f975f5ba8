/* SPDX-License-Identifier: ISC */
/*
 * fuzz_fpdb.c -- libFuzzer harness for the p0f.fp signature file parser
 * and the matcher: the input is a signature file; whatever loads is
 * matched against a fixed set of SYNs.
 */
#include <stdlib.h>
#include <string.h>

#include "sensor.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fpdb	*db = fpdb_new();
	struct fp_match	 m;
	struct syn	 s;
	char		 err[256], *text;
	static const uint8_t layouts[3][5] = {
		{ OPT_MSS, OPT_SOK, OPT_TS, OPT_NOP, OPT_WS },
		{ OPT_MSS, OPT_NOP, OPT_WS, OPT_NOP, OPT_NOP },
		{ OPT_MSS, 0, 0, 0, 0 },
	};

	if (db == NULL || (text = malloc(size ? size : 1)) == NULL) {
		fpdb_free(db);
		return 0;
	}
	memcpy(text, data, size);
	fpdb_load_mem(db, "fuzz.fp", text, size, err, sizeof(err));
	for (int i = 0; i < 6; i++) {
		memset(&s, 0, sizeof(s));
		s.ver = i & 1 ? 6 : 4;
		s.ttl = (uint8_t)(40 + i * 20);
		s.mss = 1460;
		s.win = (uint16_t)(i < 2 ? 64240 : 8192);
		s.wscale = 7;
		s.tot_hdr = 60;
		s.nopt = i / 2 == 2 ? 1 : 5;
		memcpy(s.olayout, layouts[i / 2], 5);
		s.quirks = i & 1 ? Q_FLOW : Q_DF | Q_NZ_ID;
		fpdb_match(db, &s, &m);
		if (m.quality != FPM_NONE && m.label[0] == '\0')
			abort();
	}
	free(text);
	fpdb_free(db);
	return 0;
}
