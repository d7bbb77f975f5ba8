/* SPDX-License-Identifier: ISC */
/*
 * sensor.h -- the passive sensor: libpcap capture of TCP SYNs to the
 * decoy and real MX addresses, the packet parser, the p0f v3 compatible
 * fingerprint and signature matcher, and the MX-walk verdicts.
 *
 * Who does what (doc/DESIGN.md §3):
 *
 *   network process   capture.c + packet.c: reads packets, parses them
 *                     (bounds-checked), keeps the retransmit table and
 *                     sends one REC_SYN record per SYN (raw fields only)
 *   store process     synrec validation again, fp.c + fpdb.c: the p0f
 *                     signature and its label, walk.c: the MX walk and its
 *                     verdict, store/syns.c: the rows
 *   offline           "decoymx sensor --read": all of the above in one
 *                     process (daemon/offline.c)
 *
 * Prototypes are grouped by the file that defines them.
 */
#ifndef SENSOR_H
#define SENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "decoymx.h"

/* p0f quirk bits (names and order as p0f prints them). */
enum quirk {
	Q_DF		= 1 << 0,	/* IPv4 don't fragment */
	Q_NZ_ID		= 1 << 1,	/* id+: DF set, IP id non-zero */
	Q_ZERO_ID	= 1 << 2,	/* id-: DF clear, IP id zero */
	Q_ECN		= 1 << 3,
	Q_NZ_MBZ	= 1 << 4,	/* 0+: IPv4 must-be-zero bit set */
	Q_FLOW		= 1 << 5,	/* IPv6 flow label non-zero */
	Q_ZERO_SEQ	= 1 << 6,	/* seq- */
	Q_NZ_ACK	= 1 << 7,	/* ack+: ACK number without ACK flag */
	Q_ZERO_ACK	= 1 << 8,	/* ack-: ACK flag with zero number */
	Q_NZ_URG	= 1 << 9,	/* uptr+ */
	Q_URG		= 1 << 10,	/* urgf+ */
	Q_PUSH		= 1 << 11,	/* pushf+ */
	Q_TS1_ZERO	= 1 << 12,	/* ts1- */
	Q_TS2_NZ	= 1 << 13,	/* ts2+ */
	Q_OPT_EOL_NZ	= 1 << 14,	/* opt+: non-zero bytes after EOL */
	Q_EXWS		= 1 << 15,	/* exws: window scale over 14 */
	Q_OPT_BAD	= 1 << 16,	/* bad: malformed options */
};
#define QUIRK_COUNT	17
#define QUIRK_ALL	((1u << QUIRK_COUNT) - 1)

#define MAX_TCP_OPT	24	/* option kinds kept, as p0f */
#define MAX_DIST	35	/* furthest plausible TTL distance, as p0f */
#define SIG_MAX		160	/* a p0f signature string, NUL included */
#define LABEL_MAX	96	/* "Linux 3.11 and newer", NUL included */
#define CLASS_MAX	16

/* TCP option kinds. */
#define OPT_EOL		0
#define OPT_NOP		1
#define OPT_MSS		2
#define OPT_WS		3
#define OPT_SOK		4
#define OPT_SACK	5
#define OPT_TS		8

/* Everything the fingerprint needs from one TCP packet, parsed. */
struct syn {
	int64_t		 ts_us;		/* capture time */
	uint8_t		 ver;		/* 4 or 6 */
	uint8_t		 src[16], dst[16];	/* IPv4 in the first 4 */
	uint16_t	 sport, dport;
	uint8_t		 flags;		/* TCP flags byte */
	uint8_t		 ttl;		/* TTL or hop limit as seen */
	uint8_t		 tos;		/* DSCP, for information */
	uint8_t		 ip_opt_len;	/* IPv4 option bytes */
	uint16_t	 tot_hdr;	/* IP + TCP header bytes */
	uint32_t	 seq;
	uint16_t	 win;
	uint16_t	 mss;		/* 0: no MSS option */
	uint8_t		 wscale;
	uint8_t		 nopt;
	uint8_t		 olayout[MAX_TCP_OPT];
	uint8_t		 eol_pad;	/* bytes after EOL */
	uint8_t		 pay;		/* payload present */
	uint32_t	 ts1;		/* first timestamp, 0 if none */
	uint32_t	 quirks;	/* enum quirk bits */
};

/* packet.c: what packet_parse() found. */
enum pkt_kind {
	PKT_SYN,	/* a SYN without ACK/RST/FIN: fingerprint it */
	PKT_SYNACK,	/* a SYN+ACK: counted, not fingerprinted */
	PKT_OTHER,	/* IP but not a TCP SYN we want, or not IP */
	PKT_BAD		/* malformed: counted */
};

/* TCP flags. */
#define TH_FIN_		0x01
#define TH_SYN_		0x02
#define TH_RST_		0x04
#define TH_PUSH_	0x08
#define TH_ACK_		0x10
#define TH_URG_		0x20
#define TH_ECE_		0x40
#define TH_CWR_		0x80

int		 packet_link_supported(int dlt);
const char	*packet_link_name(int dlt);
enum pkt_kind	 packet_parse(int dlt, const uint8_t *p, size_t caplen,
		    struct syn *, const char **why);
void		 packet_addr_str(const struct syn *, int dst, char *,
		    size_t);

/* fp.c: the p0f v3 signature of a SYN. */
struct fp_sig {
	uint8_t		 ittl;		/* guessed initial TTL */
	uint8_t		 dist;		/* ittl - ttl */
	int16_t		 win_multi;	/* -1: raw window */
	uint8_t		 win_mtu;	/* win_multi is a multiple of the MTU */
	char		 olayout[SIG_MAX];	/* "mss,sok,ts,nop,ws" */
	char		 quirks[SIG_MAX];	/* "df,id+" */
	char		 sig[SIG_MAX];	/* the whole p0f raw_sig */
};

uint8_t		 fp_guess_dist(uint8_t ttl);
int16_t		 fp_win_multi(const struct syn *, uint8_t *use_mtu);
void		 fp_signature(const struct syn *, struct fp_sig *);
size_t		 fp_olayout(const struct syn *, char *, size_t);
size_t		 fp_quirks(uint32_t quirks, char *, size_t);
const char	*fp_quirk_name(int bit);

/* fpdb.c: p0f.fp signature files and matching. */
enum fp_quality { FPM_NONE, FPM_EXACT, FPM_GENERIC, FPM_FUZZY };

struct fp_match {
	enum fp_quality	 quality;
	char		 label[LABEL_MAX];	/* "Linux 3.11 and newer" */
	char		 os_class[CLASS_MAX];	/* win, unix, other, app */
	uint8_t		 dist;
	uint8_t		 bad_ttl;	/* matched a "ttl-" signature */
	const char	*file;		/* where the signature came from */
	int		 line;
};

#ifndef FP_OVERRIDE
#define FP_OVERRIDE	"/usr/local/share/decoymx/decoymx-fp.fp"
#endif
#define FP_OVERRIDE_DEV	"dist/decoymx-fp.fp"	/* in the source tree */

struct fpdb;
struct fpdb	*fpdb_new(void);
struct fpdb	*fpdb_load_conf(const struct config *, char *, size_t);
void		 fpdb_free(struct fpdb *);
int		 fpdb_load(struct fpdb *, const char *path, char *err,
		    size_t errlen);
int		 fpdb_load_mem(struct fpdb *, const char *name,
		    const char *text, size_t len, char *err, size_t errlen);
size_t		 fpdb_count(const struct fpdb *);
void		 fpdb_match(const struct fpdb *, const struct syn *,
		    struct fp_match *);
const char	*fpdb_quality_name(enum fp_quality);

/* walk.c: the MX walk of one client and its verdict. */
#define WALK_MAX	32		/* touches kept per walk */
#define WALK_GAP_US	(10LL * 60 * 1000000)	/* a pause that ends a walk */
#define WALK_PARALLEL_US 1000		/* two MX this close: parallel */

struct walk_touch {
	char		 ip[ADDR_STRLEN];
	int32_t		 mx_pref;	/* -1: unknown */
	enum role	 role;		/* ROLE_REAL for the real MX */
	int64_t		 ts_us;
	uint32_t	 retransmits;	/* of the SYNs to this address */
	uint32_t	 repeats;	/* further connections to it */
	uint8_t		 deferred;	/* the client had a 4xx from it */
};

enum walk_verdict {
	WALK_PRIMARY_THEN_REAL, WALK_PRIMARY_ONLY, WALK_BACKUP_DIRECT,
	WALK_REAL_ONLY, WALK_PARALLEL, WALK_NONE
};

enum walk_verdict walk_verdict(const struct walk_touch *, size_t n);
const char	*walk_verdict_name(enum walk_verdict);
size_t		 walk_format(const struct walk_touch *, size_t n, char *,
		    size_t);

/*
 * synrec.c: the REC_SYN record, network process to store.  Raw fields
 * only; the store validates them again and derives everything else.
 */
struct syn_rec {
	struct syn	 s;
	int32_t		 mx_pref;	/* -1: unknown */
	enum role	 role;		/* ROLE_REAL for the real MX */
	uint32_t	 retransmits;	/* 0: first SYN; N: Nth retransmit */
};

#define SYNREC_MAX	512		/* an encoded REC_SYN always fits */

size_t		 synrec_encode(const struct syn_rec *, uint8_t *, size_t);
int		 synrec_decode(const uint8_t *, size_t, struct syn_rec *,
		    const char **why);

/* capture.c: the capture handle, the retransmit table, the watch list. */
#define SYNTAB_SLOTS	65536		/* recent SYNs kept for retransmits */
#define SYNTAB_AGE_US	(60LL * 1000000)

struct syntab;
struct syntab	*syntab_new(void);
void		 syntab_free(struct syntab *);
uint32_t	 syntab_seen(struct syntab *, const struct syn *);

struct sensor_stats {
	uint64_t	 received;	/* pcap_stats ps_recv */
	uint64_t	 dropped;	/* ps_drop + ps_ifdrop */
	uint64_t	 syns;		/* first SYNs recorded */
	uint64_t	 retransmits;
	uint64_t	 ignored;	/* not a SYN to a watched address */
	uint64_t	 bad;		/* malformed */
};

struct sensor;
struct event_base;
typedef void (*sensor_emit_fn)(void *, const struct syn_rec *);

struct sensor	*sensor_open(const struct config *, char *err, size_t errlen);
int		 sensor_start(struct sensor *, struct event_base *,
		    sensor_emit_fn, void *arg);
void		 sensor_free(struct sensor *);
void		 sensor_stats(struct sensor *, struct sensor_stats *);
char		*sensor_filter(const struct config *);
int		 sensor_classify(const struct config *, const struct syn *,
		    int32_t *mx_pref, enum role *);

#endif /* SENSOR_H */
