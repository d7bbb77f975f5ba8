/* SPDX-License-Identifier: ISC */
/*
 * export_share.c -- what the exports share beyond the blocklist itself:
 * the clients an "ignore ... record" line had recorded (close reason
 * "ignored"), which no export ever lists.
 *
 * Exports share_ignored_load(), share_ignored_has() and
 * share_ignored_free().
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"

static int	 share_strcmp(const void *, const void *);

static int
share_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Loads the addresses of every client with an ignored session into ig
 * (the caller frees it with share_ignored_free).  Returns 0, or -1 with
 * err set.
 */
int
share_ignored_load(sqlite3 *db, struct share_ignored *ig, char *err,
    size_t errlen)
{
	sqlite3_stmt	*st;
	size_t		 cap = 0;
	int		 rc;

	memset(ig, 0, sizeof(*ig));
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT src_ip FROM sessions "
	    "WHERE close_reason = 'ignored'", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *ip = (const char *)sqlite3_column_text(st, 0);

		if (ip == NULL)
			continue;
		if (ig->n == cap) {
			char **tmp = realloc(ig->ip, (cap ? cap * 2 : 16) *
			    sizeof(*tmp));

			if (tmp == NULL)
				goto nomem;
			ig->ip = tmp;
			cap = cap ? cap * 2 : 16;
		}
		if ((ig->ip[ig->n] = strdup(ip)) == NULL)
			goto nomem;
		ig->n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		share_ignored_free(ig);
		return -1;
	}
	if (ig->n > 1)
		qsort(ig->ip, ig->n, sizeof(*ig->ip), share_strcmp);
	return 0;
nomem:
	sqlite3_finalize(st);
	share_ignored_free(ig);
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Whether ip (as the store writes it) had an ignored session. */
int
share_ignored_has(const struct share_ignored *ig, const char *ip)
{
	return ig->n > 0 && bsearch(&ip, ig->ip, ig->n, sizeof(*ig->ip),
	    share_strcmp) != NULL;
}

void
share_ignored_free(struct share_ignored *ig)
{
	for (size_t i = 0; i < ig->n; i++)
		free(ig->ip[i]);
	free(ig->ip);
	memset(ig, 0, sizeof(*ig));
}
