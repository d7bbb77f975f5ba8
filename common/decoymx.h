/* SPDX-License-Identifier: ISC */
/*
 * decoymx.h -- what every part of decoymx shares: limits, the session
 * record that travels from the network process to the store, the
 * configuration, logging and the small utilities (addresses, durations,
 * time formatting, escaping) that more than one part needs.
 *
 * Prototypes are grouped by the file that defines them.
 */
#ifndef DECOYMX_H
#define DECOYMX_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DECOYMX_VERSION		"0.1.0"

/* Bounds on everything that comes from the network (bytes, without NUL). */
#define MAX_LINE		1000	/* RFC 5321 4.5.3.1.6 text line, CRLF incl. */
#define MAX_HELO		255
#define MAX_PATH_ARG		512	/* MAIL FROM / RCPT TO argument */
#define MAX_RCPT		100	/* recipients in the legacy rcpt[] */
#define MAX_TXN			100	/* MAIL transactions kept per session */
#define MAX_TXN_RCPT		1000	/* recipients kept per session, all
					   transactions together */
#define MAX_AUTH		8	/* AUTH attempts kept per session */
#define MAX_AUTH_MECH		32
#define MAX_AUTH_USER		255
#define MAX_REPLY_TEXT		200
#define MAX_RECORD		65536	/* one encoded event record */
#define ADDR_STRLEN		46	/* INET6_ADDRSTRLEN */
#define UID_LEN			16	/* hex session id */

/* Exit statuses (doc/DESIGN.md §10). */
#define EXIT_RUNTIME		1
#define EXIT_USAGE		2

/* Role of a decoy address relative to the real MX. */
enum role {
	ROLE_DECOY,		/* preference unknown or no real MX declared */
	ROLE_PRIMARY,		/* lower preference number than the real MX */
	ROLE_BACKUP,		/* higher preference number than the real MX */
	ROLE_REAL,		/* the real MX (sensor records only) */
	ROLE_MAX
};

/* Furthest SMTP stage a session reached, in protocol order. */
enum stage {
	STAGE_CONNECT,		/* accepted, greeting not sent yet */
	STAGE_GREETING,		/* greeting sent */
	STAGE_HELO,
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_MAX
};

/* Why a session ended. */
enum close_reason {
	CLOSE_QUIT,		/* client sent QUIT */
	CLOSE_EOF,		/* client closed without QUIT */
	CLOSE_RESET,		/* connection reset or other socket error */
	CLOSE_TIMEOUT,		/* idle timeout */
	CLOSE_LIFETIME,		/* hard cap on session length */
	CLOSE_ERRORS,		/* too many errors */
	CLOSE_NONSMTP,		/* binary, TLS or HTTP on the SMTP port */
	CLOSE_DEFERRED,		/* we sent 421 (greeting defer, BDAT, limits) */
	CLOSE_SHUTDOWN,		/* daemon stopping */
	CLOSE_LIMIT,		/* max-per-client reached: 421 at connect */
	CLOSE_IGNORED,		/* an "ignore" client: deferred at once */
	CLOSE_PAIRED,		/* sent on by the pair rule (recent.c) */
	CLOSE_MAX
};

/* Protocol anomalies, a bit each (doc/DESIGN.md §5). */
enum anomaly {
	ANOM_PREGREET		= 1 << 0,
	ANOM_PIPELINING		= 1 << 1,
	ANOM_BARE_LF		= 1 << 2,
	ANOM_NON_SMTP		= 1 << 3,
	ANOM_HELO_INVALID	= 1 << 4,
	ANOM_LONG_LINE		= 1 << 5,
	ANOM_TOO_MANY_ERRORS	= 1 << 6,
	ANOM_AUTH_ATTEMPT	= 1 << 7,
	ANOM_EARLY_QUIT		= 1 << 8,
	ANOM_RSET_LOOP		= 1 << 9,
};
#define ANOM_COUNT		10
#define ANOM_ALL		((1u << ANOM_COUNT) - 1)

/* The geolocation databases (store/geo.c), an index of config.geoip[]. */
enum geo_kind { GEO_COUNTRY, GEO_ASN, GEO_CITY, GEO_KINDS };
#define GEO_PATH_MAX		1024
#define GEO_FILES		4	/* "geoip" files per kind (v4/v6 splits) */

struct geo_info;
struct export_opts;		/* reports/export.h, held by pointer */

/* A bounded byte string that points into someone else's buffer. */
struct span {
	const char	*p;
	size_t		 len;
};

/* How a MAIL transaction ended (record.c names them). */
enum txn_end {
	TXN_CLOSE,		/* the session ended with it open */
	TXN_MAIL,		/* a new MAIL FROM */
	TXN_RSET,		/* RSET */
	TXN_HELO,		/* HELO or EHLO again */
	TXN_QUIT,		/* QUIT */
	TXN_END_MAX
};

/* One recipient of a transaction and the reply it got (0: none). */
struct txn_rcpt {
	struct span	 path;
	uint16_t	 reply;
};

/*
 * One MAIL transaction: MAIL FROM (p NULL when RCPT came without one),
 * its parameters (SIZE=, BODY=...), the reply, and its recipients, which
 * are trcpt[rcpt_first .. rcpt_first + nrcpt) of the session record.
 */
struct txn_rec {
	struct span	 mail;
	struct span	 params;	/* p NULL: none */
	uint16_t	 reply;		/* to MAIL; 0: none */
	uint8_t		 ended;		/* enum txn_end */
	uint32_t	 rcpt_first, nrcpt;
	uint32_t	 rcpt_total;	/* RCPTs seen in it, kept or not */
};

struct auth_try {
	struct span	 mech;
	struct span	 user;		/* empty when the client never gave one */
};

/*
 * The summary of one finished SMTP session: what the network process sends
 * and the store writes.  Strings are spans into the session (when encoding)
 * or into the received record (when decoding); neither side copies them.
 */
struct sess_rec {
	char		 uid[UID_LEN + 1];
	int64_t		 start_us;	/* microseconds since the epoch, UTC */
	int64_t		 end_us;
	char		 src_ip[ADDR_STRLEN];
	uint16_t	 src_port;
	char		 dst_ip[ADDR_STRLEN];
	uint16_t	 dst_port;
	char		 via[ADDR_STRLEN];	/* relaying balancer, or "" */
	int32_t		 mx_pref;	/* -1 when not configured */
	enum role	 role;
	uint32_t	 greeting_delay_ms;
	struct span	 helo_verb;	/* "HELO" or "EHLO", empty if none */
	struct span	 helo;
	struct span	 mail_from;
	struct span	 rcpt[MAX_RCPT];
	uint32_t	 nrcpt;		/* kept in rcpt[] */
	uint32_t	 rcpt_total;	/* seen, including those not kept */
	struct auth_try	 auth[MAX_AUTH];
	uint32_t	 nauth;
	struct txn_rec	 txn[MAX_TXN];	/* in order */
	uint32_t	 ntxn;		/* kept in txn[] */
	uint32_t	 txn_total;	/* seen, including those not kept */
	struct txn_rcpt	 trcpt[MAX_TXN_RCPT];	/* of every txn[] */
	uint32_t	 ntrcpt;
	enum stage	 stage;
	uint16_t	 reply_code;	/* the deferring reply, else the last */
	enum close_reason reason;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	uint32_t	 commands;
	uint32_t	 errors;
	uint32_t	 anomalies;	/* enum anomaly bits */
	const struct geo_info *geo;	/* set by the store; NULL: none */
	struct span	 sensor;	/* set by the store; not in records */
};

/* What became of a PROXY protocol header (tarpit/proxy.c). */
enum proxy_result { PROXY_OK, PROXY_LOCAL, PROXY_MISSING, PROXY_MALFORMED,
    PROXY_OVERSIZED, PROXY_RESULTS };

/*
 * Counters of the network process, sent to the store once a second
 * (REC_STATS) and served as Prometheus metrics by it.
 */
#define STATS_CODES	600
#define MAX_LISTEN		64

struct net_stats {
	uint64_t	 conn_open;
	uint64_t	 conn_total;
	uint64_t	 tarpit_open;
	uint64_t	 tarpit_total;
	uint64_t	 refused_per_client;
	uint64_t	 accept_paused;
	uint64_t	 queue_depth;
	uint64_t	 records_sent;
	uint64_t	 records_dropped;
	uint64_t	 stage[STAGE_MAX];	/* closed sessions by stage */
	uint64_t	 reason[CLOSE_MAX];
	uint64_t	 anomaly[ANOM_COUNT];
	uint64_t	 reply[STATS_CODES];	/* replies sent, by code */
	uint64_t	 sensor_on;		/* 1: capturing */
	uint64_t	 sensor_received;	/* pcap_stats */
	uint64_t	 sensor_dropped;
	uint64_t	 sensor_syns;		/* first SYNs recorded */
	uint64_t	 sensor_retransmits;
	uint64_t	 sensor_bad;		/* malformed packets */
	uint64_t	 returning_deferred;	/* 421 at greeting: came back */
	uint64_t	 returning_paired;	/* IPv4 paired with an IPv6 return */
	uint64_t	 clients_tracked;	/* entries in the client table */
	uint64_t	 clients_evicted;	/* live entries pushed out */
	uint64_t	 clients_real_seen;	/* marked: SYN to the real MX */
	uint64_t	 proxy[PROXY_RESULTS];	/* headers, by result */
	uint64_t	 ignored;		/* sessions of ignored clients */
	/* closed sessions per listener (config order) and stage */
	uint64_t	 listener[MAX_LISTEN][STAGE_MAX];
};

/* A listener as configured. */
struct listen_conf {
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int32_t			 mx_pref;	/* -1 when not given */
	uint8_t			 proxy;	/* a PROXY header comes first */
};

#define MAX_REAL_MX		16	/* "real-mx" lines */
#define CONFIG_SEEN_MAX		64	/* single-valued settings tracked */
#define MAX_IGNORE		1024	/* "ignore" networks, file included */

/* A network of "ignore" (own scanners, health checks). */
struct ignore_net {
	uint8_t			 family;	/* 4 or 6 */
	uint8_t			 prefix;
	uint8_t			 record;	/* sessions still recorded */
	uint8_t			 addr[16];	/* host bits cleared */
};
#define MAX_EXPORTS		8	/* "export ... every" lines */
/* The db key's default, also the commands' --db fallback (main.c). */
#define CONFIG_DEFAULT_DB	"/var/lib/decoymx/decoymx.db"

enum defer_stage {
	DEFER_GREETING, DEFER_HELO, DEFER_MAIL, DEFER_RCPT, DEFER_DATA
};

/* Who gets the reply delay and stutter. */
enum tarpit_who { TARPIT_NONE, TARPIT_BOTS, TARPIT_ALL };

/* Anomalies that make a client a bot for "tarpit bots". */
#define ANOM_BOT	(ANOM_PREGREET | ANOM_PIPELINING | ANOM_NON_SMTP | \
			 ANOM_HELO_INVALID | ANOM_LONG_LINE | \
			 ANOM_TOO_MANY_ERRORS | ANOM_AUTH_ATTEMPT | \
			 ANOM_RSET_LOOP | ANOM_BARE_LF)

struct config {
	const char		*file;		/* for messages; NULL: none */
	uint8_t			 cli_db;	/* --db given: not the file's */
	uint8_t			 cli_user;	/* --user given */
	uint8_t			 cli_listen;	/* --listen given */
	struct listen_conf	 listen[MAX_LISTEN];
	int			 nlisten;
	struct real_mx_conf {
		struct sockaddr_storage	 ss;
		int32_t			 mx_pref;	/* -1: not given */
	}			 real_mx[MAX_REAL_MX];
	int			 nreal_mx;
	int			 real_mx_set;	/* nreal_mx > 0 */
	int32_t			 real_mx_pref;	/* lowest given, -1: none */
	char			 hostname[MAX_HELO + 1];
	char			 db[4096];
	char			 user[64];
	char			 chroot[4096];
	enum defer_stage	 defer_stage;
	uint16_t		 defer_code;
	char			 defer_status[16];	/* e.g. "4.7.1" */
	char			 defer_text[MAX_REPLY_TEXT + 1];
	char			 banner[MAX_REPLY_TEXT + 1];	/* "": default */
	struct ignore_net	 ignore[MAX_IGNORE];
	int			 nignore;
	int			 pipelining;	/* advertise PIPELINING */
	uint32_t		 idle_timeout_ms;
	uint32_t		 max_session_ms;
	uint32_t		 max_errors;
	uint32_t		 queue_size;	/* records held for the store */
	uint32_t		 batch_interval_ms;
	uint32_t		 batch_max;
	int			 log_level;
	/* returning clients (issue 11): tarpit/recent.c */
	int			 returning_defer;	/* RETURNING_* */
	uint32_t		 returning_window_ms;
	uint32_t		 client_table_size;	/* entries */
	/* single-valued settings already given, and where (duplicates) */
	uint64_t		 seen;
	uint16_t		 seen_line[CONFIG_SEEN_MAX];
	int			 log_syslog;	/* "log syslog" */
	/* tarpit (issue 3) */
	uint32_t		 greeting_delay_ms;
	uint32_t		 banner_wait_ms;	/* 0: one-line greeting */
	uint32_t		 reply_delay_ms;
	uint32_t		 stutter_ms;	/* 0: replies go out whole */
	uint32_t		 stutter_bytes;
	enum tarpit_who		 tarpit;
	uint32_t		 max_clients;
	uint32_t		 max_per_client;
	struct sockaddr_storage	 metrics;
	socklen_t		 metrics_len;	/* 0: no metrics listener */
	/* fleet (issue 8) */
	char			 sensor_name[64];	/* default: hostname */
	char			 events_log[4096];	/* "": none */
	/* sensor (issue 5) */
	int			 sensor;	/* SENSOR_OFF, _AUTO, _ON */
	char			 sensor_if[64];	/* "any" */
	char			 sensor_fpdb[4096];	/* "": none */
	int			 sensor_fpdb_set;	/* given: must load */
	struct sensor_watch {
		struct sockaddr_storage	 ss;	/* a port of 0: every port */
		int32_t			 mx_pref;
	}			 watch[MAX_LISTEN];	/* dead decoys */
	int			 nwatch;
	/* geolocation (issue 4) */
	/* per kind, looked up in order; "": none */
	char			 geoip[GEO_KINDS][GEO_FILES][GEO_PATH_MAX];
	int			 geoip_line[GEO_KINDS][GEO_FILES];
	int			 lineno;	/* of the line being parsed */
	int			 geoip_required;
	/* periodic exports (issue 7), run by the store process */
	struct export_conf {
		char		 format[16];
		char		 path[1024];
		uint32_t	 every_ms;
		char		 args[512];	/* export options, as written */
		/* parsed from them by the program's hook, owned (free()),
		   NULL without one: struct export_opts is reports/' */
		struct export_opts *opts;
	}			 exports[MAX_EXPORTS];
	int			 nexports;
};

/* "returning-defer greeting|off": what a returning client gets. */
enum { RETURNING_OFF, RETURNING_GREETING, RETURNING_RESET };

/* "sensor off|auto|on": auto runs without it when capture is denied. */
enum { SENSOR_OFF, SENSOR_AUTO, SENSOR_ON };

enum { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* config.c */
void		 config_defaults(struct config *);
int		 config_load(struct config *, const char *path);
int		 config_parse_line(struct config *, const char *file, int lineno,
		    const char *line);
int		 config_listen_arg(struct config *, const char *arg, char *err,
		    size_t errlen);
int		 config_check(struct config *, char *err, size_t errlen);
enum role	 config_role(const struct config *, int32_t mx_pref);
int		 config_ignored(const struct config *, const char *ip,
		    int *record);
int		 config_ignore_match(const struct ignore_net *, int n,
		    const char *ip, int *record);
int		 config_cidr(const char *, struct ignore_net *);
void		 config_dump(const struct config *, FILE *);

void		 config_free(struct config *);
int		 config_reload(const struct config *running,
		    const struct config *fresh, struct config *out, char *why,
		    size_t whylen);

/* What a reload does with a setting (config_reload(), doc/DESIGN.md §3). */
enum reload_class {
	RELOAD_LIVE,		/* taken at once by the store process */
	RELOAD_NET,		/* by both: REC_RELOAD carries it */
	RELOAD_RESTART		/* needs a restart: running value stays */
};
struct config_field {
	const char		*key;	/* as in the file */
	size_t			 off, size;
	uint8_t			 str;	/* a string: strcmp */
	enum reload_class	 reload;
};
const struct config_field *config_fields(size_t *n);
void		 config_set_export_parse(struct export_opts *(*)(
		    const struct export_conf *, char *err, size_t errlen));

/* log.c */
extern const char *log_procname;
void		 log_init(const char *procname, int level);
void		 log_setlevel(int level);
void		 log_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_warn(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 fatal(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
void		 fatalx(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
int		 log_level_parse(const char *);
const char	*log_level_name(int);
void		 log_syslog(int on);
int		 log_enabled(int level);
size_t		 log_escape(const char *, size_t, char *, size_t);
const char	*log_endpoint(const char *ip, unsigned port, char *, size_t);
const char	*log_anomalies(uint32_t, char *, size_t);

/* opt.c: the option tables of the subcommands */
struct opt {
	const char	*name;		/* --name */
	int		 letter;	/* -x, or 0 */
	int		 arg;		/* takes a value */
	int		(*set)(void *ctx, const struct opt *, const char *v,
			    char *err, size_t errlen);	/* 0, or -1 */
	size_t		 off;		/* the field opt_set_*() fill */
};
int		 opt_parse(int argc, char **argv, const struct opt *, size_t,
		    void *ctx, char **words, int maxwords, int *nwords,
		    char *err, size_t errlen);
int		 opt_parse_head(int argc, char **argv, const struct opt *,
		    size_t, void *ctx, char *err, size_t errlen);
int		 opt_set_str(void *, const struct opt *, const char *, char *,
		    size_t);
int		 opt_set_flag(void *, const struct opt *, const char *, char *,
		    size_t);

/* suggest.c */
struct suggest {
	const char	*word, *best;
	int		 dist;
};
void		 suggest_init(struct suggest *, const char *word);
void		 suggest_try(struct suggest *, const char *cand);
const char	*suggest_best(const struct suggest *);

/* chan.c: every message between the two processes (doc/DESIGN.md §4). */
struct chan_handler {
	int	 type;			/* enum rec_type */
	void	(*fn)(void *arg, const uint8_t *msg, size_t len);
};
size_t		 chan_encode_empty(int type, uint8_t *buf, size_t cap);
int		 chan_decode_empty(const uint8_t *, size_t, int type,
		    const char **why);
size_t		 chan_encode_stats(const struct net_stats *, uint8_t *buf,
		    size_t cap);
int		 chan_decode_stats(const uint8_t *, size_t, struct net_stats *,
		    const char **why);
size_t		 chan_encode_reload(const struct config *, uint8_t *buf,
		    size_t cap);
int		 chan_decode_reload(const uint8_t *, size_t, struct config *,
		    const char **why);
int		 chan_reload_carries(size_t off, size_t size);
int		 chan_dispatch(const struct chan_handler *, size_t n, void *arg,
		    const uint8_t *msg, size_t len);

/* escape.c: untrusted bytes made safe for JSON and a terminal. */
size_t		 escape_utf8_len(const unsigned char *, size_t);
int		 escape_utf8_unsafe(const unsigned char *, size_t);
void		 escape_json(FILE *, const char *, size_t);
size_t		 escape_term(const char *, size_t, char *out, size_t cap);

/* proxy.c (tarpit/) */
const char	*proxy_result_name(int);

/* record.c */
enum rec_type {
	REC_SESSION = 1,	/* net -> store: a finished session */
	REC_STATS = 2,		/* net -> store: counters, once a second */
	REC_RELOAD = 3,		/* store -> net: reloaded configuration */
	REC_BYE = 4,		/* net -> store: clean stop, nothing follows */
	REC_READY = 5,		/* store -> net: database open, start */
	REC_SYN = 16,		/* net -> store: a TCP SYN (sensor/synrec.c) */
};
/* The layout every record shares: see record.c. */
struct rec_writer {
	uint8_t	*p;
	size_t	 len, cap;
	int	 overflow;
};
typedef int (*rec_field_fn)(void *arg, int tag, const uint8_t *v,
    size_t len, const char **why);
void		 rec_begin(struct rec_writer *, uint8_t *buf, size_t cap,
		    int type);
void		 rec_put(struct rec_writer *, int tag, const void *, size_t);
void		 rec_put_u64(struct rec_writer *, int tag, uint64_t);
size_t		 rec_finish(struct rec_writer *, int eor_tag);
uint64_t	 rec_u64(const uint8_t *);
int		 rec_walk(const uint8_t *buf, size_t len, int type, int ntags,
		    int eor_tag, uint32_t repeatable, uint32_t *seen,
		    rec_field_fn, void *arg, const char **why);
size_t		 record_encode_session(const struct sess_rec *, uint8_t *buf,
		    size_t cap);
int		 record_decode_session(const uint8_t *buf, size_t len,
		    struct sess_rec *, const char **why);
int		 record_type(const uint8_t *buf, size_t len);
void		 record_clear(struct sess_rec *);
const char	*txn_end_name(int);

/* names.c */
const char	*role_name(enum role);
int		 role_parse(const char *);
int		 close_reason_parse(const char *);
const char	*stage_name(enum stage);
int		 stage_parse(const char *);
const char	*close_reason_name(enum close_reason);
const char	*anomaly_name(int bit);	/* bit index 0..ANOM_COUNT-1 */
int		 anomaly_parse(const char *);
const char	*geo_kind_name(int);	/* enum geo_kind; NULL past */

/* util.c */
int64_t		 util_now_us(void);
int		 util_fault(const char *point);
int		 util_parse_addrport(const char *, struct sockaddr_storage *,
		    socklen_t *, int need_port);
int		 util_parse_addr(const char *, struct sockaddr_storage *);
void		 util_addr_str(const struct sockaddr *, char *ip, size_t iplen,
		    uint16_t *port);
int		 util_parse_duration_ms(const char *, uint64_t *ms);
void		 util_iso8601(int64_t us, char *buf, size_t len);
int		 util_parse_time(const char *, int64_t now_us, int64_t *us);
size_t		 util_escape_term(const char *, size_t, char *out, size_t cap);
size_t		 strlcpy_(char *, const char *, size_t);

#endif /* DECOYMX_H */
