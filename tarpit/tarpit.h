/* SPDX-License-Identifier: ISC */
/*
 * tarpit.h -- the network process: listeners, the SMTP engine that
 * defers every session, per-connection I/O, and the bounded queue of
 * records going to the store.
 *
 * smtp.c and line.c are pure (no sockets, no clock of their own) so the
 * unit tests drive them directly; session.c, listen.c and tarpit.c do
 * the I/O around them.
 */
#ifndef TARPIT_H
#define TARPIT_H

#include <sys/queue.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "decoymx.h"

/* line.c: splits a byte stream into bounded lines. */
#define LINE_BARE_LF	0x01	/* ended with LF alone */
#define LINE_TOO_LONG	0x02	/* over MAX_LINE: content cut */
#define LINE_MORE	0x04	/* more bytes already followed this line */

#define LINE_INLINE	8	/* bytes of a partial line kept in place */

struct linebuf {
	union {
		char	*p;	/* partial line, allocated only while pending */
		char	 in[LINE_INLINE];	/* or here, while cap is 0 */
	} u;
	uint16_t	 len;
	uint16_t	 cap;	/* bytes allocated at u.p; 0: none, in u.in */
	uint8_t		 discarding;	/* dropping the rest of a long line */
};

/* Called per complete line; return non-zero to stop feeding. */
typedef int (*line_cb)(void *arg, const char *line, size_t len, int flags);

int		 line_feed(struct linebuf *, const char *data, size_t len,
		    line_cb, void *arg);
void		 line_free(struct linebuf *);

/* smtp.c: the protocol engine. */
#define SMTP_ARENA_MAX	32768	/* bytes of recorded strings per session */
#define SMTP_REPLY_MAX	512

struct smtp_str {
	uint32_t	 off;
	uint16_t	 len;
};

/* One MAIL transaction as recorded (struct txn_rec in decoymx.h). */
struct smtp_txn {
	struct smtp_str	 mail, params;
	uint8_t		 has_mail, has_params, ended;
	uint16_t	 reply;
	uint32_t	 rcpt_first, nrcpt, rcpt_total;
};

struct smtp_rcpt {
	struct smtp_str	 path;
	uint16_t	 reply;
};

/* What a session recorded; allocated on the first thing worth keeping. */
struct smtp_env {
	char		*arena;
	uint32_t	 alen, acap;
	char		 helo_verb[5];
	uint8_t		 has_mail;
	struct smtp_str	 helo, mail;
	struct smtp_str	 auth_mech[MAX_AUTH], auth_user[MAX_AUTH];
	uint32_t	 nauth;
	/* transactions, grown while needed up to MAX_TXN / MAX_TXN_RCPT */
	struct smtp_txn	*txn;
	uint32_t	 ntxn, txn_cap, txn_total;
	uint8_t		 txn_open;	/* txn[ntxn - 1] is still going */
	struct smtp_rcpt *rcpt;
	uint32_t	 nrcpt, rcpt_cap;
};

enum smtp_state { SMTP_CMD, SMTP_AUTH_PLAIN, SMTP_AUTH_LOGIN, SMTP_DONE };

struct smtp {
	const struct config	*conf;
	const char		*client_ip;	/* owned by the caller */
	const char		*local_ip;
	struct smtp_env		*env;
	/* enum smtp_state, enum stage, enum close_reason (valid once state
	 * is SMTP_DONE): a byte each, a held session is kept small */
	uint8_t			 state, stage, reason;
	uint32_t		 anomalies;
	uint32_t		 commands, errors, rsets, rcpt_total;
	uint16_t		 reply_code;	/* last reply sent */
	uint16_t		 defer_code;	/* first deferring reply, or 0 */
	uint8_t			 helo_seen, mail_seen, rcpt_ok;
};

struct reply {
	char		 buf[SMTP_REPLY_MAX];
	size_t		 len;
	int		 close;		/* close once the reply is out */
};

void		 smtp_init(struct smtp *, const struct config *,
		    const char *client_ip, const char *local_ip);
void		 smtp_greeting(struct smtp *, struct reply *);
void		 smtp_greeting_first(struct smtp *, struct reply *);
void		 smtp_line(struct smtp *, const char *, size_t, int flags,
		    struct reply *);
void		 smtp_first_bytes(struct smtp *, const char *, size_t,
		    int pregreet, struct reply *);
void		 smtp_limit(struct smtp *, struct reply *);
void		 smtp_returning(struct smtp *, struct reply *,
		    enum close_reason);
void		 smtp_defer_now(struct smtp *, struct reply *);
void		 smtp_bytes(struct smtp *, const char *, size_t,
		    struct reply *);
void		 smtp_timeout(struct smtp *, enum close_reason,
		    struct reply *);
void		 smtp_end(struct smtp *, enum close_reason);
void		 smtp_fill(const struct smtp *, struct sess_rec *);
void		 smtp_free(struct smtp *);
int		 smtp_helo_valid(const char *helo, size_t len,
		    const char *client_ip, const char *local_ip,
		    const char *hostname);

/* proxy.c: the PROXY protocol header of a "proxy" listener. */
#define PROXY_V1_MAX	107	/* a version 1 line, CRLF included */
#define PROXY_V2_HEAD	16	/* signature, command, family, length */
#define PROXY_MAX	(PROXY_V2_HEAD + 512)	/* any header, TLVs incl. */
#define PROXY_TIMEOUT_MS 5000	/* to receive the header */

struct proxy_hdr {
	uint8_t			 version;	/* 1 or 2 */
	uint8_t			 local;	/* use the connection's endpoints */
	struct sockaddr_storage	 src, dst;	/* unless local */
};

int		 proxy_parse(const uint8_t *, size_t, struct proxy_hdr *,
		    const char **why);

/* session.c: one accepted connection. */
struct tarpit;
struct listener;

/* The addresses a PROXY header gave (allocated for relayed sessions). */
struct session_px {
	char			 dst_ip[ADDR_STRLEN];	/* the decoy */
	char			 via_ip[ADDR_STRLEN];	/* the balancer */
	uint16_t		 dst_port;
};

struct session {
	struct event		 ev;	/* read, write and timeout in one */
	const struct listener	*l;	/* and through it, the tarpit */
	LIST_ENTRY(session)	 entry;
	int			 fd;
	/* flags in one byte: a held session is kept small (README) */
	uint8_t			 closed:1;
	uint8_t			 tarpitted:1;	/* replies delayed/stuttered */
	uint8_t			 peeked:1;	/* pregreet check done */
	uint8_t			 lifetime:1;	/* armed for max-session */
	uint8_t			 norecord:1;	/* never recorded */
	uint8_t			 ignored:1;	/* an "ignore" client */
	uint8_t			 counted:1;	/* in tp->clients */
	uint8_t			 local:1;	/* a balancer's own (LOCAL) check */
	uint16_t		 src_port;
	uint16_t		 plen;
	uint16_t		 outlen, outoff;	/* of out */
	uint8_t			*pbuf;	/* PROXY header, while awaited */
	struct session_px	*px;	/* relayed: the header's addresses */
	uint64_t		 id;
	int64_t			 start_us, last_us;
	int64_t			 due_us;	/* next output allowed at */
	uint32_t		 bytes_in, bytes_out;	/* saturate */
	char			*out;		/* unsent reply, while pending */
	struct linebuf		 lb;
	struct smtp		 smtp;
	char			 client_ip[ADDR_STRLEN];
};

struct session_wait {
	short		 what;		/* EV_READ, EV_WRITE or 0 (timer only) */
	int64_t		 until_us;	/* timeout at */
	int		 lifetime;	/* that is the max-session deadline */
};

void		 session_plan(const struct config *, const struct session *,
		    int64_t now, struct session_wait *);
size_t		 session_chunk(const struct config *, const struct session *);
void		 session_start(struct tarpit *, const struct listener *, int fd,
		    const struct sockaddr *, socklen_t);
void		 session_close(struct session *, enum close_reason);

/* listen.c */
struct listener {
	struct tarpit	*tp;
	struct event	 ev;
	int		 fd;
	int32_t		 mx_pref;
	enum role	 role;
	uint8_t		 proxy;		/* a PROXY header comes first */
	char		 ip[ADDR_STRLEN];
	uint16_t	 port;
};

int		 listen_bind(const struct config *, struct listener **, int *n);
void		 listen_start(struct tarpit *, struct listener *, int n);
void		 listen_pause(struct tarpit *);
void		 listen_stop(struct tarpit *);
void		 listen_resume(struct tarpit *);

/* clients.c: open sessions per client address. */
struct client_slot;
struct clients {
	struct client_slot	*slots;
	uint32_t		 cap, used;
};

int		 clients_key(const char *ip, uint8_t key[16]);
uint32_t	 clients_add(struct clients *, const uint8_t key[16]);
void		 clients_del(struct clients *, const uint8_t key[16]);
void		 clients_free(struct clients *);

/* recent.c: clients that met a decoy lately (returning-defer). */
#define RECENT_WAYS	8	/* slots per bucket */
#define RECENT_SLOT_SIZE 16	/* bytes per client */

struct recent_slot;
struct recent {
	struct recent_slot	*slot;
	uint32_t		 nbuckets;
	uint64_t		 seed;
	int64_t			 base_us;	/* second 1 of the table */
	uint64_t		 used;		/* slots ever filled */
	uint64_t		 evicted;	/* live entries pushed out */
	uint64_t		 real_seen;	/* marked by the sensor */
	int64_t			 pair_us;	/* armed by an IPv6 return */
	uint64_t		 paired;	/* IPv4 first contacts paired */
};

enum recent_verdict { RECENT_FIRST, RECENT_RETURNING };

#define RECENT_KEY_V6(key) (((key) >> 32) != 0xffff)
/* After an IPv6 client's return, one IPv4 first contact within this. */
#define RECENT_PAIR_US	(5 * 1000000LL)

int		 recent_init(struct recent *, uint32_t size, uint64_t seed,
		    int64_t now_us);
int		 recent_resize(struct recent *, uint32_t size, int64_t now_us,
		    uint32_t window_ms);
void		 recent_free(struct recent *);
uint64_t	 recent_key_raw(int ver, const uint8_t *addr);
int		 recent_key(const char *ip, uint64_t *key);
enum recent_verdict recent_contact(struct recent *, uint64_t key,
		    int64_t now_us, uint32_t window_ms);
void		 recent_real(struct recent *, uint64_t key);
enum recent_verdict recent_pair(struct recent *, uint64_t key,
		    enum recent_verdict, int64_t now_us);
int		 recent_paired(const struct recent *, uint64_t key);

/* tarpit.c: the network process. */
struct qrec {
	TAILQ_ENTRY(qrec) entry;
	size_t		 len;
	uint8_t		 data[];
};

struct tarpit {
	struct config		 conf;	/* reloadable copy */
	struct event_base	*base;
	struct listener		*ls;
	int			 nls;
	int			 ipc_fd;
	struct event		*ipc_ev;		/* control in, EOF */
	struct event		*ipc_wev;	/* queue draining */
	int			 status;	/* exit status */
	struct event		*sig_term, *sig_int, *sig_hup;
	struct event		*resume_ev;
	struct event		*stats_ev;
	LIST_HEAD(, session)	 sessions;
	TAILQ_HEAD(, qrec)	 queue;
	uint32_t		 qlen;
	uint64_t		 idbase;
	uint64_t		 idseq;
	int64_t			 last_drop_log;
	int			 stopping;
	struct net_stats	 st;
	struct clients		 clients;
	struct recent		 recent;	/* returning clients */
	int			 full;		/* paused at max-clients */
	struct sensor		*sensor;	/* NULL: no capture */
};

int		 tarpit_run(const struct config *, struct listener *, int n,
		    int ipc_fd, struct sensor *);
void		 tarpit_emit(struct tarpit *, const struct sess_rec *);
uint64_t	 tarpit_next_id(struct tarpit *);

#endif /* TARPIT_H */
