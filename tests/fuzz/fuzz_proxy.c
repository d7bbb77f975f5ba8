/* SPDX-License-Identifier: ISC */
/*
 * fuzz_proxy.c -- libFuzzer harness for the PROXY protocol header parser
 * (tarpit/proxy.c).  Checks its promises: a header is never longer than
 * the input, PROXY_MAX or (version 1) 107 bytes; every shorter prefix of
 * a header asks for more; the header alone parses the same; a relayed
 * header has two addresses of one family, IPv4 or IPv6; an error says
 * why.
 */
#include <stdlib.h>
#include <string.h>

#include "tarpit.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr	 h, h2;
	const char		*why;
	int			 r, r2;

	r = proxy_parse(data, size, &h, &why);
	if (r < 0) {
		if (why == NULL || r < -PROXY_OVERSIZED || r > -PROXY_MISSING)
			abort();
		return 0;
	}
	if (r == 0 || (size_t)r > size || r > PROXY_MAX ||
	    (h.version == 1 && r > PROXY_V1_MAX) ||
	    (h.version != 1 && h.version != 2))
		return r == 0 && size >= PROXY_MAX ? (abort(), 0) : 0;
	if (!h.local && (h.src.ss_family != h.dst.ss_family ||
	    (h.src.ss_family != AF_INET && h.src.ss_family != AF_INET6)))
		abort();
	if ((r2 = proxy_parse(data, (size_t)r, &h2, &why)) != r ||
	    memcmp(&h, &h2, sizeof(h)) != 0)
		abort();
	for (size_t i = 0; i < (size_t)r; i += 1 + i / 8)
		if (proxy_parse(data, i, &h2, &why) != 0)
			abort();
	return 0;
}
