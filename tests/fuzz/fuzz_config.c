/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config.c -- libFuzzer harness for the configuration parser: every
 * line of the input goes through config_parse_line, then the whole-file
 * check and the dump.  Errors are expected; crashes and overflows not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoymx.h"
#include "daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config	 c;
	static int		 hooked;
	char			*text, *line, *save = NULL, err[256];
	FILE			*devnull;
	int			 n = 0;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!hooked) {
		hooks_install();	/* export lines parsed as in run */
		hooked = 1;
	}
	config_defaults(&c);
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
		free(text);
		return 0;
	}
	/* config_parse_line reports errors on stderr: keep runs quiet. */
	FILE *olderr = stderr;
	stderr = devnull;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		config_parse_line(&c, "fuzz.conf", ++n, line);
	stderr = olderr;
	if (config_check(&c, err, sizeof(err)) == 0)
		config_dump(&c, devnull);
	config_free(&c);		/* the parsed export options */
	fclose(devnull);
	free(text);
	return 0;
}
