/* SPDX-License-Identifier: ISC */
/*
 * fuzz_allowlist.c -- libFuzzer harness for the export allowlist parser
 * (store/allowlist.c): the input is an allowlist file.  When it parses,
 * every network must be well-formed (family 4 or 6, prefix in range,
 * host bits clear), sorted, and found again by allowlist_match(), and
 * allowlist_inside() must hold for each network inside itself.  Parse
 * errors are expected; crashes, overflows and broken invariants not.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowlist	 al = { 0 };
	char			 err[512];

	if (allowlist_parse(&al, (const char *)data, size, "fuzz.allow", err,
	    sizeof(err)) == 0) {
		for (size_t i = 0; i < al.n; i++) {
			const struct allow_net *n = &al.nets[i];
			int	 max = n->family == 4 ? 32 : 128;

			if ((n->family != 4 && n->family != 6) ||
			    n->prefix < 0 || n->prefix > max)
				abort();
			if (allowlist_match(&al, n->family, n->addr) == NULL)
				abort();
			if (!allowlist_inside(n, n->family, n->addr, n->prefix))
				abort();
			if (i > 0 && (al.nets[i - 1].family > n->family ||
			    (al.nets[i - 1].family == n->family &&
			    al.nets[i - 1].prefix > n->prefix)))
				abort();
		}
	} else if (memchr(err, '\0', sizeof(err)) == NULL ||
	    strncmp(err, "fuzz.allow:", 11) != 0)
		abort();	/* every error names the file and line */
	allowlist_free(&al);
	return 0;
}
