/* SPDX-License-Identifier: ISC */
/*
 * t.h -- the smallest test harness that does the job: CHECK() counts a
 * pass or prints file:line and the failed expression, t_done() prints the
 * "N passed, N failed" line the runner adds up and returns the exit status.
 */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(e) do {							\
	if (e)								\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__,	\
		    __LINE__, #e);					\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *t_a_ = (a), *t_b_ = (b);				\
	if (t_a_ != NULL && t_b_ != NULL && strcmp(t_a_, t_b_) == 0)	\
		t_pass++;						\
	else {								\
		t_fail++;						\
		fprintf(stderr, "%s:%d: FAILED: %s == %s (\"%s\" vs \"%s\")\n",\
		    __FILE__, __LINE__, #a, #b, t_a_ ? t_a_ : "(null)",	\
		    t_b_ ? t_b_ : "(null)");				\
	}								\
} while (0)

static inline int
t_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, t_pass, t_fail);
	return t_fail == 0 ? 0 : 1;
}

#endif
