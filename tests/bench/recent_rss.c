/* SPDX-License-Identifier: ISC */
/*
 * recent_rss -- the memory of the returning-client table (tarpit/recent.c)
 * for N clients: resident set growth from before the table is made to
 * after N distinct clients went through it, and the evictions.  Not a
 * test: it measures and prints, for README.md.
 *
 *   recent_rss [N] [SIZE]	(defaults: 1000000 clients, table of N)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tarpit.h"

/* VmRSS of this process in kB, or -1. */
static long
rss_kb(void)
{
	char	 line[256];
	long	 kb = -1;
	FILE	*f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	uint32_t	 n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) :
			    1000000;
	uint32_t	 size = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) :
			    n;
	struct recent	 t;
	long		 before = rss_kb(), after;
	int64_t		 t0 = 1700000000LL * 1000000;

	if (recent_init(&t, size, 12345, t0) == -1) {
		fprintf(stderr, "recent_rss: out of memory\n");
		return 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		/* Addresses spread like real clients: 10.0.0.0/8 and more. */
		uint8_t a[4] = { (uint8_t)(10 + (i >> 24)), (uint8_t)(i >> 16),
		    (uint8_t)(i >> 8), (uint8_t)i };
		recent_contact(&t, recent_key_raw(4, a), t0 + i, 3600000);
	}
	after = rss_kb();
	printf("clients %u table %u slots %u bytes/slot %d rss_growth_kB %ld "
	    "(%.1f bytes/client) held %llu evicted %llu\n", n, size,
	    t.nbuckets * RECENT_WAYS, RECENT_SLOT_SIZE, after - before,
	    (after - before) * 1024.0 / n, (unsigned long long)t.used,
	    (unsigned long long)t.evicted);
	recent_free(&t);
	return 0;
}
