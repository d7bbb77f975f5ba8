/* SPDX-License-Identifier: ISC */
/*
 * suggest.c -- "did you mean ...?" for a mistyped command, report or
 * configuration key: the candidate closest to the word by optimal
 * string alignment distance (edits: insert, delete, substitute, swap
 * two neighbours), if it is close enough to be a typo.
 *
 *	struct suggest	 s;
 *	suggest_init(&s, word);
 *	for (each candidate) suggest_try(&s, name);
 *	if (suggest_best(&s) != NULL) ...
 *
 * Exports suggest_init(), suggest_try() and suggest_best().
 */
#include <string.h>

#include "decoymx.h"

#define SUGGEST_MAXLEN	64	/* longer words are never typos of ours */
#define SUGGEST_MAXDIST	2

static int	 suggest_dist(const char *, size_t, const char *, size_t);

void
suggest_init(struct suggest *s, const char *word)
{
	s->word = word;
	s->best = NULL;
	s->dist = SUGGEST_MAXDIST + 1;
}

/* The optimal string alignment distance of a and b (both short). */
static int
suggest_dist(const char *a, size_t la, const char *b, size_t lb)
{
	int	 d[SUGGEST_MAXLEN + 1][SUGGEST_MAXLEN + 1];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int	 cost = a[i - 1] != b[j - 1], v;

			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/*
 * Considers cand: kept when closer than the best so far, within two
 * edits, and less than half of it changed (so "db" is no typo of "ip").
 * A candidate equal to the word means there is nothing to suggest.
 */
void
suggest_try(struct suggest *s, const char *cand)
{
	size_t	 lw = strlen(s->word), lc = strlen(cand);
	int	 d;

	if (s->dist == 0 || lw > SUGGEST_MAXLEN || lc > SUGGEST_MAXLEN)
		return;
	d = suggest_dist(s->word, lw, cand, lc);
	if (d < s->dist && (size_t)d * 2 < lc) {
		s->best = cand;
		s->dist = d;
	}
}

/* The closest candidate tried, or NULL when none was close enough. */
const char *
suggest_best(const struct suggest *s)
{
	return s->dist == 0 ? NULL : s->best;
}
