/* SPDX-License-Identifier: ISC */
/*
 * offline.c -- "decoymx sensor --read FILE.pcap": fingerprints the TCP
 * SYNs of a capture file (tcpdump -w, any supported link type), prints
 * them as JSON lines or a table, and with --db stores them as the daemon
 * would (syns rows, sessions joined, MX walks).  Needs no privileges.
 *
 * Which SYNs count: with -c FILE, those to the configuration's watched
 * addresses and ports (as the live sensor); otherwise those to the
 * --port ports (default 25), any address.  Retransmits are counted and
 * printed as such, not fingerprinted again; SYN+ACKs are counted.
 *
 * Signature files: every --fpdb in order; without one, those the daemon
 * would load (fpdb_load_conf(): "sensor fpdb" of -c FILE, or decoymx's
 * own file and /etc/p0f/p0f.fp when they exist).
 *
 * A capture that libpcap cannot read on (truncated, corrupt) is an
 * error naming the file and the packet number; exit status 1.
 *
 * Exports cmd_sensor().
 */
#include <pcap.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor.h"
#include "store.h"
#include "daemon.h"

#define MAX_FPDB	6
#define MAX_PORTS	16
#define TX_ROWS		10000		/* SYNs per transaction with --db */

enum fmt { FMT_JSON, FMT_TABLE, FMT_NONE };

struct offline {
	const char	*file, *dbpath;		/* --read, --db */
	const char	*fpdbs[MAX_FPDB];	/* --fpdb */
	int		 nfpdb;
	struct config	 conf;
	int		 have_conf;
	uint16_t	 ports[MAX_PORTS];
	int		 nports;
	enum fmt	 fmt;
	struct fpdb	*db;
	struct syntab	*tab;
	struct store	*st;
	struct synstore	*ss;
	uint64_t	 packets, syns, rtx, synacks, ignored, bad;
	uint32_t	 in_tx;
};

static const char usage_text[] = "sensor --read FILE.pcap [--fpdb PATH]... "
    "[--format json|table|none] [--db PATH] [--port N]... [-c FILE]";

static int	 offline_usage(void);
static int	 offline_fpdb(struct offline *, const char **, int);
static int	 offline_wanted(struct offline *, const struct syn *,
		    int32_t *, enum role *);
static void	 offline_print(struct offline *, const struct syn_rec *,
		    const struct fp_match *);
static int	 offline_run(struct offline *, const char *);
static int	 offline_opt_fpdb(void *, const struct opt *, const char *,
		    char *, size_t);
static int	 offline_opt_format(void *, const struct opt *, const char *,
		    char *, size_t);
static int	 offline_opt_port(void *, const struct opt *, const char *,
		    char *, size_t);
static int	 offline_opt_config(void *, const struct opt *, const char *,
		    char *, size_t);

static int
offline_usage(void)
{
	fprintf(stderr, "usage: decoymx %s\n", usage_text);
	return EXIT_USAGE;
}

/* Loads the signature files (see the header comment). */
static int
offline_fpdb(struct offline *o, const char **paths, int n)
{
	char	 err[512];

	if (n == 0)
		o->db = fpdb_load_conf(&o->conf, err, sizeof(err));
	else if ((o->db = fpdb_new()) == NULL)
		snprintf(err, sizeof(err), "out of memory");
	for (int i = 0; o->db != NULL && i < n; i++)
		if (fpdb_load(o->db, paths[i], err, sizeof(err)) == -1)
			return fprintf(stderr, "decoymx: %s\n", err), -1;
	if (o->db == NULL)
		return fprintf(stderr, "decoymx: %s\n", err), -1;
	return 0;
}

/* Is this SYN one we fingerprint? (See the header comment.) */
static int
offline_wanted(struct offline *o, const struct syn *s, int32_t *pref,
    enum role *role)
{
	if (o->have_conf)
		return sensor_classify(&o->conf, s, pref, role);
	*pref = -1;
	*role = ROLE_DECOY;
	for (int i = 0; i < o->nports; i++)
		if (o->ports[i] == s->dport)
			return 1;
	return 0;
}

static void
offline_print(struct offline *o, const struct syn_rec *r,
    const struct fp_match *m)
{
	char		 src[ADDR_STRLEN], dst[ADDR_STRLEN], ts[40];
	struct fp_sig	 f;

	packet_addr_str(&r->s, 0, src, sizeof(src));
	packet_addr_str(&r->s, 1, dst, sizeof(dst));
	util_iso8601(r->s.ts_us, ts, sizeof(ts));
	if (o->fmt == FMT_NONE)
		return;
	if (r->retransmits > 0) {
		if (o->fmt == FMT_JSON)
			printf("{\"packet\":%llu,\"time\":\"%s\",\"src_ip\":"
			    "\"%s\",\"src_port\":%u,\"dst_ip\":\"%s\","
			    "\"dst_port\":%u,\"retransmit\":%u}\n",
			    (unsigned long long)o->packets, ts, src,
			    r->s.sport, dst, r->s.dport, r->retransmits);
		else
			printf("%-8llu %-27s %s:%u > %s:%u  retransmit %u\n",
			    (unsigned long long)o->packets, ts, src,
			    r->s.sport, dst, r->s.dport, r->retransmits);
		return;
	}
	fp_signature(&r->s, &f);
	if (o->fmt == FMT_TABLE) {
		printf("%-8llu %-27s %s:%u > %s:%u  %s  %s%s%s [%s] dist=%u\n",
		    (unsigned long long)o->packets, ts, src, r->s.sport, dst,
		    r->s.dport, f.sig, m->label[0] ? m->label : "???",
		    m->os_class[0] ? " /" : "", m->os_class,
		    fpdb_quality_name(m->quality), m->dist);
		return;
	}
	/* Labels come from a local file; still, only printable ASCII. */
	char label[LABEL_MAX * 4];
	util_escape_term(m->label, strlen(m->label), label, sizeof(label));
	printf("{\"packet\":%llu,\"time\":\"%s\",\"src_ip\":\"%s\","
	    "\"src_port\":%u,\"dst_ip\":\"%s\",\"dst_port\":%u,\"ver\":%u,"
	    "\"ttl\":%u,\"ittl\":%u,\"dist\":%u,\"olen\":%u,\"win\":%u,"
	    "\"mss\":%u,\"wscale\":%u,\"olayout\":\"%s\",\"quirks\":\"%s\","
	    "\"pclass\":\"%s\",\"sig\":\"%s\",\"label\":%s%s%s,"
	    "\"os_class\":%s%s%s,\"match\":\"%s\",\"bad_ttl\":%s,"
	    "\"retransmit\":0}\n",
	    (unsigned long long)o->packets, ts, src, r->s.sport, dst,
	    r->s.dport, r->s.ver, r->s.ttl, f.ittl, m->dist, r->s.ip_opt_len,
	    r->s.win, r->s.mss, r->s.wscale, f.olayout, f.quirks,
	    r->s.pay ? "+" : "0", f.sig, m->label[0] ? "\"" : "",
	    m->label[0] ? label : "null", m->label[0] ? "\"" : "",
	    m->os_class[0] ? "\"" : "", m->os_class[0] ? m->os_class : "null",
	    m->os_class[0] ? "\"" : "", fpdb_quality_name(m->quality),
	    m->bad_ttl ? "true" : "false");
}

/* Reads the capture; returns the exit status. */
static int
offline_run(struct offline *o, const char *file)
{
	char			 ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr	*h;
	const u_char		*p;
	pcap_t			*pc;
	struct syn_rec		 r;
	struct fp_match		 m;
	const char		*why;
	int			 dlt, rc, status = 0;

	if ((pc = pcap_open_offline(file, ebuf)) == NULL) {
		fprintf(stderr, "decoymx: %s: %s\n", file, ebuf);
		return EXIT_RUNTIME;
	}
	dlt = pcap_datalink(pc);
	if (!packet_link_supported(dlt)) {
		fprintf(stderr, "decoymx: %s: link type %s (%d) is not "
		    "supported (Ethernet, Linux cooked v1/v2, raw IP, BSD "
		    "loopback are)\n", file, pcap_datalink_val_to_name(dlt) ?
		    pcap_datalink_val_to_name(dlt) : "?", dlt);
		pcap_close(pc);
		return EXIT_RUNTIME;
	}
	while ((rc = pcap_next_ex(pc, &h, &p)) == 1) {
		o->packets++;
		memset(&r, 0, sizeof(r));
		switch (packet_parse(dlt, p, h->caplen, &r.s, &why)) {
		case PKT_BAD:
			o->bad++;
			continue;
		case PKT_SYNACK:
			o->synacks++;
			continue;
		case PKT_OTHER:
			o->ignored++;
			continue;
		case PKT_SYN:
			break;
		}
		if (!offline_wanted(o, &r.s, &r.mx_pref, &r.role)) {
			o->ignored++;
			continue;
		}
		r.s.ts_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec;
		r.retransmits = syntab_seen(o->tab, &r.s);
		if (r.retransmits > 0)
			o->rtx++;
		else
			o->syns++;
		if (o->ss != NULL) {
			if (o->in_tx == 0 && sqlite3_exec(store_db(o->st),
			    "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
				goto dberr;
			if (synstore_add(o->ss, &r, &m) == -1)
				goto dberr;
			if (++o->in_tx == TX_ROWS) {
				if (sqlite3_exec(store_db(o->st), "COMMIT",
				    NULL, NULL, NULL) != SQLITE_OK)
					goto dberr;
				o->in_tx = 0;
			}
		} else if (r.retransmits == 0)
			fpdb_match(o->db, &r.s, &m);
		offline_print(o, &r, &m);
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "decoymx: %s: packet %llu: %s\n", file,
		    (unsigned long long)o->packets + 1, pcap_geterr(pc));
		status = EXIT_RUNTIME;
	}
	if (o->in_tx > 0 && sqlite3_exec(store_db(o->st), "COMMIT", NULL,
	    NULL, NULL) != SQLITE_OK)
		goto dberr;
	pcap_close(pc);
	fflush(stdout);
	fprintf(stderr, "sensor read file=%s packets=%llu syns=%llu "
	    "retransmits=%llu synacks=%llu ignored=%llu bad=%llu%s\n", file,
	    (unsigned long long)o->packets, (unsigned long long)o->syns,
	    (unsigned long long)o->rtx, (unsigned long long)o->synacks,
	    (unsigned long long)o->ignored, (unsigned long long)o->bad,
	    status ? " (stopped at the error)" : "");
	return status;
dberr:
	fprintf(stderr, "decoymx: %s: packet %llu: database: %s\n", file,
	    (unsigned long long)o->packets, sqlite3_errmsg(store_db(o->st)));
	pcap_close(pc);
	return EXIT_RUNTIME;
}

/* --fpdb PATH, up to MAX_FPDB of them. */
static int
offline_opt_fpdb(void *ctx, const struct opt *opt, const char *v,
    char *err, size_t errlen)
{
	struct offline	*o = ctx;

	(void)opt;
	if (o->nfpdb == MAX_FPDB) {
		snprintf(err, errlen, "--fpdb: more than %d files", MAX_FPDB);
		return -1;
	}
	o->fpdbs[o->nfpdb++] = v;
	return 0;
}

/* --format json|table|none */
static int
offline_opt_format(void *ctx, const struct opt *opt, const char *v,
    char *err, size_t errlen)
{
	static const char *const names[] = {
		[FMT_JSON] = "json", [FMT_TABLE] = "table", [FMT_NONE] = "none"
	};
	struct offline	*o = ctx;

	(void)opt;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(v, names[i]) == 0) {
			o->fmt = (enum fmt)i;
			return 0;
		}
	snprintf(err, errlen, "bad --format %s: want json, table or none", v);
	return -1;
}

/* --port N, up to MAX_PORTS of them. */
static int
offline_opt_port(void *ctx, const struct opt *opt, const char *v,
    char *err, size_t errlen)
{
	struct offline	*o = ctx;
	char		*end;
	long		 port = strtol(v, &end, 10);

	(void)opt;
	if (*v == '\0' || *end != '\0' || port < 1 || port > 65535 ||
	    o->nports == MAX_PORTS) {
		snprintf(err, errlen, "bad --port %s: want 1 to 65535, at most "
		    "%d times", v, MAX_PORTS);
		return -1;
	}
	o->ports[o->nports++] = (uint16_t)port;
	return 0;
}

/* -c FILE: the configuration; config_load() says what is wrong. */
static int
offline_opt_config(void *ctx, const struct opt *opt, const char *v,
    char *err, size_t errlen)
{
	struct offline	*o = ctx;

	(void)opt;
	(void)errlen;
	err[0] = '\0';
	if (config_load(&o->conf, v) == -1)
		return -1;
	o->have_conf = 1;
	return 0;
}

static const struct opt offline_optv[] = {
	{ "read", 'r', 1, opt_set_str, offsetof(struct offline, file) },
	{ "fpdb", 0, 1, offline_opt_fpdb, 0 },
	{ "format", 0, 1, offline_opt_format, 0 },
	{ "db", 0, 1, opt_set_str, offsetof(struct offline, dbpath) },
	{ "port", 0, 1, offline_opt_port, 0 },
	{ "config", 'c', 1, offline_opt_config, 0 },
};

/* "decoymx sensor --read FILE ...": returns the exit status. */
int
cmd_sensor(int argc, char **argv)
{
	struct offline	*o;
	char		 err[512];
	int		 nwords, rv, status = EXIT_USAGE;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return EXIT_RUNTIME;
	config_defaults(&o->conf);
	if ((rv = opt_parse(argc, argv, offline_optv, sizeof(offline_optv) /
	    sizeof(offline_optv[0]), o, argv + 1, argc - 1, &nwords, err,
	    sizeof(err))) != 0) {
		if (err[0] == '\0')
			goto out;	/* the configuration said why */
		fprintf(stderr, "decoymx sensor: %s\n", err);
		goto usage;
	}
	if (o->file == NULL || nwords != 0)
		goto usage;
	if (o->nports == 0)
		o->ports[o->nports++] = 25;
	status = EXIT_RUNTIME;
	if (offline_fpdb(o, o->fpdbs, o->nfpdb) == -1 ||
	    (o->tab = syntab_new()) == NULL)
		goto out;
	if (o->dbpath != NULL) {
		if ((o->st = store_open(o->dbpath, STORE_RW, err,
		    sizeof(err))) == NULL ||
		    (o->ss = synstore_new(o->st, o->db, 1, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "decoymx: %s\n", err);
			goto out;
		}
	}
	status = offline_run(o, o->file);
	goto out;
usage:
	status = offline_usage();
out:
	synstore_free(o->ss);
	store_close(o->st);
	syntab_free(o->tab);
	fpdb_free(o->db);
	config_free(&o->conf);
	free(o);
	return status;
}
