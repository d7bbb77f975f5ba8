/* SPDX-License-Identifier: ISC */
/*
 * daemon.h -- the top part: the program.  The command table and main()
 * (main.c), the process model of "decoymx run" (proc.c), and the entry
 * points of the commands whose work lives in a library part: "decoymx
 * sensor" (offline.c), "decoymx db" (db.c) and "decoymx geo" (geo.c);
 * what it plugs into the parts below (hooks.c).  Nothing below daemon/
 * includes this header (doc/DESIGN.md §2).
 *
 * Prototypes are grouped by the file that defines them.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include "decoymx.h"

/* main.c */
const char	*main_default_db(void);

/* proc.c */
int		 proc_run(struct config *);
void		 proc_reload(struct config *, int ipc_fd);

/* hooks.c */
void		 hooks_install(void);

/* offline.c: "decoymx sensor --read". */
int		 cmd_sensor(int argc, char **argv);

/* db.c */
int		 cmd_db(int argc, char **argv, const char *default_db);

/* geo.c: "decoymx geo lookup". */
int		 cmd_geo(int argc, char **argv);

#endif /* DAEMON_H */
