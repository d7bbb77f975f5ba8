/* SPDX-License-Identifier: ISC */
/*
 * fuzz_geo.c -- libFuzzer harness for the geolocation reader: arbitrary
 * bytes are written to a memfd and opened as every kind of .mmdb
 * database (store/geo.c over libmaxminddb); whatever opens is looked up
 * at a few IPv4, IPv6 and IPv4-mapped addresses.  Lookups must not read
 * out of bounds, and whatever passes validation must obey the rules:
 * two upper-case letters, an organisation of at most GEO_ORG_MAX bytes.
 * Seeds: tests/fuzz/corpus/geo (fixtures of scripts/make-mmdb-fixtures).
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
const char *__lsan_default_suppressions(void);

/*
 * libmaxminddb 1.7.1 (Debian 12) leaks the metadata it decoded when
 * MMDB_open() fails on some corrupt files (upstream pull request 356,
 * fixed after that release).  The daemon retries such a file only when
 * it changes on disk, so the leak is bounded; here it is not ours.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libmaxminddb.so\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *addrs[] = {
		"127.0.0.1", "1.2.3.4", "255.255.255.255", "0.0.0.0", "::1",
		"2001:db8::1", "::ffff:127.0.0.1", "ffff:ffff::ffff",
	};
	static struct config	 c;
	struct geo		*g;
	struct geo_info		 gi;
	int			 fd;

	log_init("fuzz", LOG_LVL_ERROR);
	if ((fd = memfd_create("fuzz.mmdb", MFD_CLOEXEC)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	config_defaults(&c);
	for (int k = 0; k < GEO_KINDS; k++)
		snprintf(c.geoip[k][0], sizeof(c.geoip[k][0]), "/proc/self/fd/%d",
		    fd);
	if ((g = geo_new()) == NULL)
		abort();
	geo_open(g, &c);
	close(fd);		/* the mapping stays */
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		geo_lookup(g, addrs[i], &gi);
		if (gi.country[0] != '\0' && (strlen(gi.country) != 2 ||
		    gi.country[0] < 'A' || gi.country[0] > 'Z' ||
		    gi.country[1] < 'A' || gi.country[1] > 'Z'))
			abort();
		if (strlen(gi.as_org) > GEO_ORG_MAX)
			abort();
	}
	geo_free(g);
	return 0;
}
