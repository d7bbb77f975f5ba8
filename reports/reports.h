/*
 * reports.h -- the reports part: escaping of untrusted text for JSON,
 * CSV and the terminal, an aligned table writer, and the
 * "decoymx report" command.
 *
 * Prototypes are grouped by the file that defines them.
 */
#ifndef REPORTS_H
#define REPORTS_H

#include <stddef.h>
#include <stdio.h>

#include "decoymx.h"

/* Table column flags. */
#define FMT_RIGHT	0x1	/* right-aligned (numbers) */
#define FMT_SHRINK	0x2	/* may be cut with "..." to fit the width */

struct fmt_col {
	const char	*name;
	int		 flags;
};

struct fmt_table;

/* format.c */
void		 fmt_json_str(FILE *, const char *p, size_t len);
void		 fmt_csv_cell(FILE *, const char *p, size_t len);
size_t		 fmt_term(const char *p, size_t len, char *out, size_t cap);
size_t		 fmt_term_width(FILE *);
struct fmt_table *fmt_table_new(const struct fmt_col *, int ncols);
int		 fmt_table_add(struct fmt_table *, const struct span *cells);
void		 fmt_table_print(struct fmt_table *, FILE *, size_t width);
void		 fmt_table_free(struct fmt_table *);

/* report.c */
int		 cmd_report(int argc, char **argv, const char *default_db);

#endif /* REPORTS_H */
