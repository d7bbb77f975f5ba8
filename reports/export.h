/* SPDX-License-Identifier: ISC */
/*
 * export.h -- what the files of "decoymx export" share: export_run.c
 * (the command and the run), export_opts.c (the options and the format
 * table), export_list.c
 * (the listing), export_formats.c and export_share.c (the writers) and
 * export_file.c (the atomic replacement): the collected list, the
 * options and the format table's row.
 */
#ifndef EXPORT_H
#define EXPORT_H

#include "reports.h"
#include "store.h"

#define REASON_TEST	31		/* the RFC 5782 entry's reason bit */

struct export_entry {
	uint8_t		 family;	/* 4 or 6 */
	uint8_t		 prefix;
	uint8_t		 addr[16];
	uint32_t	 reasons;
	uint32_t	 anomalies;
	int64_t		 clients, sessions, primary, backup;
	int64_t		 first_us, last_us;
	uint8_t		 who[2][16];	/* first two listed clients in it */
};

/* The sort key of an entry: 24 bytes sort much faster than an entry. */
struct export_key {
	uint64_t		 hi, lo;	/* the address as numbers */
	uint32_t		 i;		/* index of the entry */
	uint8_t			 family, prefix;
};

/* export_sort.c: keys into export order, equal ones by index. */
int		 export_sort_keys(struct export_key *, size_t);
int		 export_key_cmp(const void *, const void *);

/* An export's body in memory, as it is written (export_body_open). */
struct export_body {
	char			*p;
	size_t			 n, cap;
};

struct export_list {
	struct export_entry	*e;
	size_t			 n, cap;
	struct allow_net	*excl;		/* allowlisted, inside listings */
	size_t			 nexcl;
	struct export_key	*mta;		/* IPv6 nets of MTA-like clients */
	size_t			 nmta, capmta;
};

struct export_opts {
	const char		*db;
	const char		*format;
	const char		*output;	/* NULL or "-": stdout */
	const char		*v6_output;
	const char		*allowlist;
	int64_t			 max_age_us;
	int64_t			 min_sessions;
	int			 v6_prefix;
	struct classify_conf	 cc;
	char			 codes[REASON_MAX][16];
	const char		*ttl, *soa, *ns, *txt, *action;
	const char		*nft_table, *nft_set;
	int			 map_hash;	/* postfix: hash-ready keys */
	int			 per_entry;	/* rbldnsd: a value per line */
	int			 quiet;
	const char		*ipset_set;	/* ipset: set name prefix */
	const char		*sensor;	/* stix, misp: NULL: host */
	const char		*config;	/* its "ignore" networks */
};

struct export_fmt {
	const char	*name;
	int		 parts;		/* files written: rbldnsd 2, else 1 */
	void		(*write)(const struct export_opts *,
			    const struct export_list *, FILE *, int part);
	const char	*json_head;	/* NULL: "# ..." comment header */
};

/* What an export_share.c format needs beyond a row of export_fmts[]. */
struct share_fmt {
	const char	*name;
	void		(*head)(const struct export_opts *,
			    const struct export_list *, int part,
			    const char *now, char *buf, size_t len);
	int		(*path)(const struct export_opts *, int part,
			    char *buf, size_t len);	/* -o is a directory */
	int		 nopad;		/* the first line is data (CSV) */
};

/* export_opts.c */
extern const struct export_fmt export_fmts[];
extern const size_t export_nfmts;
void		 export_defaults(struct export_opts *);
int		 export_parse(int, char **, struct export_opts *, char *,
		    size_t);

/* export_list.c */
int		 export_collect(sqlite3 *, const struct export_opts *,
		    const struct allowlist *, struct export_list *, char *,
		    size_t);

/* export_formats.c */
size_t		 export_addr(const uint8_t *, int, char *, size_t);
size_t		 export_net(const struct export_entry *, char *, size_t);
void		 export_excl(const struct export_list *, size_t,
		    struct export_entry *);
size_t		 export_excl_net(const struct export_list *, size_t, char *,
		    size_t);
void		 export_rbldnsd(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 export_postfix(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 export_nft(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 export_plain(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 export_json(const struct export_opts *,
		    const struct export_list *, FILE *, int);

/* export_file.c */
FILE		*export_body_open(struct export_body *);
int		 export_commit(const char *, const char *, const char *,
		    size_t, int, char *, size_t);

/* export_share.c */
const struct share_fmt *share_fmt(const char *name);
void		 share_ipset(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 share_abuseipdb(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 share_abuseipdb_head(const struct export_opts *,
		    const struct export_list *, int, const char *, char *,
		    size_t);
void		 share_stix(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 share_stix_head(const struct export_opts *,
		    const struct export_list *, int, const char *, char *,
		    size_t);
void		 share_misp(const struct export_opts *,
		    const struct export_list *, FILE *, int);
void		 share_misp_head(const struct export_opts *,
		    const struct export_list *, int, const char *, char *,
		    size_t);
int		 share_misp_path(const struct export_opts *, int, char *,
		    size_t);

#endif /* EXPORT_H */
