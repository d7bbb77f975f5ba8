/* SPDX-License-Identifier: ISC */
/*
 * classify.c -- who is listed, and why.  The evidence of a client comes
 * from the store's aggregates (clients, client_evidence: schema 3) and,
 * when the sensor writes them (schema 4), its SYNs and MX walk.  The
 * rules turn evidence into reasons, each with a fixed name, return code
 * and text; nothing that came from the network ever becomes part of a
 * reason.
 *
 * Rules (doc/DESIGN.md §8), in order:
 *
 *  backup-direct   it touched a backup decoy, and not a primary decoy
 *		    (nor, when the sensor saw it, the primary or the real
 *		    MX) before: it went for the highest MX on purpose.
 *  nolisting-only  it touched a primary decoy and, within the window
 *		    after, never the real MX.  Only when the sensor
 *		    has seen the real MX in the client's address family
 *		    (with an IPv4-only real MX an IPv6 client walks on over
 *		    IPv4, from an address we may never see), only once the
 *		    window has passed, and never when another address sent
 *		    the same envelope (HELO, MAIL FROM and a recipient;
 *		    from the other address family HELO and MAIL FROM)
 *		    within the window and went on to the real MX: a
 *		    dual-stack MTA, an outbound pool.
 *  bot-protocol    pregreet, pipelining without it being offered,
 *		    non-SMTP on the SMTP port, an invalid (forged) HELO,
 *		    an AUTH attempt (no MTA authenticates to a foreign MX),
 *		    or a parallel walk (sessions to a primary and a backup
 *		    decoy that started within a second and overlapped: an
 *		    MTA tries one MX after the other).
 *
 * A client that behaves like an MTA -- a valid HELO and it (or an address
 * linked to it) went on to the real MX, or it retried the same envelope
 * a minute or more later, as a queue does -- is never listed, unless it
 * also shows a strong bot signal: a pregreet, non-SMTP input, or
 * pipelining without it being offered, which no MTA does -- or it only
 * ever came to a backup decoy (an MTA walks the MX list in order on
 * every retry).  An invalid HELO alone is not strong: misconfigured MTAs
 * send them.  A retry alone does not excuse nolisting-only: a bot that
 * retries the primary but never walks is listed.
 *
 * Exports classify_reason_name(), classify_reason_text(),
 * classify_reason_parse(), classify_defaults(), classify_client(),
 * classify_open(), classify_next(), classify_has_sensor() and
 * classify_close().
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define CLASSIFY_SKEW_US	(60LL * 1000000)	/* clock slack, SYN vs session */

static const struct {
	const char	*name;
	const char	*text;
} classify_reasons[REASON_MAX] = {
	[REASON_BACKUP_DIRECT] = { "backup-direct",
	    "went straight for a backup MX" },
	[REASON_NOLISTING_ONLY] = { "nolisting-only",
	    "tried only the first MX, never the real one" },
	[REASON_BOT_PROTOCOL] = { "bot-protocol",
	    "spoke SMTP like a spam bot" },
};

/*
 * One scan of clients joined to everything the rules need, so that a
 * client costs one step: no statement per client.  The plain scan of
 * clients (its sessions index disabled with "+": it would cost a random
 * table lookup per row) beats any index when most clients qualify, as
 * they do for an export.  The %s are the MX walk column and join, the
 * sensor columns, and the filter on one client.
 */
static const char classify_sql_sensor[] =
    "SELECT EXISTS (SELECT 1 FROM syns WHERE role = 'real' AND ver = 4)"
    " | (EXISTS (SELECT 1 FROM syns WHERE role = 'real' AND ver = 6) << 1)";
/*
 * Another address that sent one of the client's envelopes (the same
 * HELO, MAIL FROM and a common recipient) within the window around its
 * first primary session, and went on to the real MX after that session.
 * From the other address family, the same HELO (not empty) and MAIL
 * FROM suffice: a dual-stack MTA delivers each message in parallel, and
 * returning-defer answers all but its first contact per family with 421
 * at the greeting (banner-wait holds that one open), so its IPv4 and
 * IPv6 first contacts may carry two different messages' recipients.
 * The %s is where the other sessions come from: the sessions table for
 * one client (report ip); for a whole export, classify_sql_walked, the
 * sessions of the addresses that ever reached the real MX, built once:
 * a campaign of bots that share an envelope would otherwise cost every
 * one of them a scan of all the others.
 */
static const char classify_sql_link[] =
    "SELECT s2.src_ip FROM sessions s JOIN %s s2"
    " ON s2.mail_from = s.mail_from"
    " AND s2.start_us BETWEEN s.start_us - :window AND s.start_us + :window"
    " AND s2.src_ip <> s.src_ip"
    " AND coalesce(s2.helo, '') = coalesce(s.helo, '')"
    " WHERE s.src_ip = :ip AND s.mail_from IS NOT NULL"
    " AND s.start_us BETWEEN :first - :window AND :first + :window"
    " AND EXISTS (SELECT 1 FROM syns y WHERE y.src_ip = s2.src_ip"
    "  AND y.role = 'real' AND y.ts_us BETWEEN s2.start_us - 60000000"
    "  AND s2.start_us + :window)"
    " AND (((instr(s2.src_ip, ':') > 0) <> (instr(s.src_ip, ':') > 0)"
    "  AND s.helo IS NOT NULL AND s.helo <> '')"
    "  OR EXISTS (SELECT 1 FROM recipients r JOIN recipients r2"
    "  ON r2.session_id = s2.id AND r2.rcpt = r.rcpt"
    "  WHERE r.session_id = s.id))"
    " LIMIT 1";
static const char classify_sql_walked[] =
    "DROP TABLE IF EXISTS temp.classify_walked;"
    "CREATE TEMP TABLE classify_walked AS"
    " SELECT s.id, s.src_ip, s.start_us, s.helo, s.mail_from FROM"
    " (SELECT DISTINCT src_ip FROM syns WHERE role = 'real') y"
    " JOIN sessions s ON s.src_ip = y.src_ip WHERE s.mail_from IS NOT NULL;"
    "CREATE INDEX temp.classify_walked_env"
    " ON classify_walked(mail_from, start_us);";
/* Without a walk, a join to mx_walks would still cost a search a row. */
static const char classify_sql_walks[] =
    "SELECT EXISTS (SELECT 1 FROM mx_walks)";
static const char classify_sql_clients[] =
    "SELECT c.ip, c.first_us, c.last_us, c.sessions, c.anomalies,"
    " e.primary_first_us, e.primary_sessions, e.backup_first_us,"
    " e.backup_sessions, e.helo_ok, e.retries, e.parallel%s%s"
    " FROM clients c LEFT JOIN client_evidence e ON e.ip = c.ip%s"
    " WHERE c.last_us >= :since AND +c.sessions >= :min%s";
static const char classify_sql_walk_col[] = ", w.verdict";
static const char classify_sql_walk_join[] =
    " LEFT JOIN mx_walks w ON w.ip = c.ip";
/* A SYN to the real MX after the first primary session; one from the
 * same client to the primary or the real MX before its first backup. */
static const char classify_sql_sensor_cols[] =
    ", CASE WHEN e.primary_sessions > 0 THEN EXISTS (SELECT 1 FROM syns"
    " WHERE src_ip = c.ip AND role = 'real' AND ts_us BETWEEN"
    " e.primary_first_us - 60000000 AND e.primary_first_us + :window) END"
    ", CASE WHEN e.backup_sessions > 0 THEN EXISTS (SELECT 1 FROM syns"
    " WHERE src_ip = c.ip AND role IN ('primary', 'real')"
    " AND ts_us < e.backup_first_us - 60000000"
    " AND ts_us >= e.backup_first_us - :window) END";

enum {
	CLASSIFY_COL_PARALLEL = 11, CLASSIFY_COL_WALK, CLASSIFY_COL_REAL_AFTER,
	CLASSIFY_COL_BEFORE_BACKUP
};

struct classify_q {
	sqlite3			*db;
	struct classify_conf	 conf;
	sqlite3_stmt		*rows;
	sqlite3_stmt		*link;		/* prepared when first needed */
	int			 one;		/* one client: no walked table */
	int			 sensor;	/* it watches the real MX */
	int			 families;	/* 1: IPv4, 2: IPv6 real MX seen */
};

static void	 classify_row(struct classify_q *, struct evidence *);
static void	 classify_nolisting(const struct classify_conf *,
		    const struct evidence *, int, struct verdict *);
static int	 classify_link(struct classify_q *, struct evidence *);
static int	 classify_table(sqlite3 *, const char *);
static int	 classify_any(sqlite3 *, const char *, int *);

const char *
classify_reason_name(int r)
{
	return r >= 0 && r < REASON_MAX ? classify_reasons[r].name : NULL;
}

const char *
classify_reason_text(int r)
{
	return r >= 0 && r < REASON_MAX ? classify_reasons[r].text : NULL;
}

/* The reason for a name, or -1. */
int
classify_reason_parse(const char *name)
{
	for (int i = 0; i < REASON_MAX; i++)
		if (strcmp(name, classify_reasons[i].name) == 0)
			return i;
	return -1;
}

void
classify_defaults(struct classify_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->rules = (1u << REASON_MAX) - 1;
	/*
	 * The first retry of these MTAs falls inside, by their defaults: Postfix
	 * 5-10 min (queue_run_delay, minimal_backoff_time 300s), OpenSMTPD
	 * 400 s (its scheduler backs off 400 s x n^2), Exim 15 min plus
	 * its queue runner's interval.  A returning client gets 421 at the
	 * greeting and walks on; that walk must count.
	 */
	c->window_us = 60LL * 60 * 1000000;
	c->now_us = util_now_us();
	c->bot_anoms = ANOM_PREGREET | ANOM_PIPELINING | ANOM_NON_SMTP |
	    ANOM_HELO_INVALID | ANOM_AUTH_ATTEMPT;
	c->strong_anoms = ANOM_PREGREET | ANOM_PIPELINING | ANOM_NON_SMTP |
	    ANOM_AUTH_ATTEMPT;
}

/*
 * Applies the rules to the evidence e: fills v with the reasons (a bit
 * per enum reason), whether e looks like an MTA and why, and whether
 * the client is listed.  Never consults an allowlist (the caller does).
 */
void
classify_client(const struct classify_conf *c, const struct evidence *e,
    struct verdict *v)
{
	int	 walked = e->real_after_primary || e->linked_ip[0] != '\0';

	memset(v, 0, sizeof(*v));
	if ((c->rules & (1u << REASON_BACKUP_DIRECT)) && e->backup_sessions > 0 &&
	    (e->primary_sessions == 0 ||
	    e->backup_first_us < e->primary_first_us) && !e->syn_before_backup)
		v->reasons |= 1u << REASON_BACKUP_DIRECT;
	if ((c->rules & (1u << REASON_NOLISTING_ONLY)) && e->sensor_any &&
	    e->primary_sessions > 0)
		classify_nolisting(c, e, walked, v);
	if ((c->rules & (1u << REASON_BOT_PROTOCOL)) &&
	    ((e->anomalies & c->bot_anoms) || e->parallel > 0))
		v->reasons |= 1u << REASON_BOT_PROTOCOL;
	if (e->helo_ok > 0 && e->real_after_primary)
		v->mta = "went on to the real MX";
	else if (e->helo_ok > 0 && e->linked_ip[0] != '\0')
		v->mta = "another address of the same sender went on to the "
		    "real MX";
	else if (e->helo_ok > 0 && e->retries > 0)
		v->mta = "retried the same envelope like a queue";
	/*
	 * An MTA walks the MX list in order, on every retry: a client that
	 * only ever came to a backup decoy is not one, however it retries.
	 */
	v->strong = (e->anomalies & c->strong_anoms) != 0 || e->parallel > 0 ||
	    ((v->reasons & (1u << REASON_BACKUP_DIRECT)) &&
	    e->primary_sessions == 0 && !e->syn_before_backup);
	v->listed = v->reasons != 0 && (v->mta == NULL || v->strong);
	/* A retry alone is no proof: a bot may retry, only an MTA walks. */
	if ((v->reasons & (1u << REASON_NOLISTING_ONLY)) && !walked)
		v->listed = 1;
}

/*
 * The nolisting-only rule for a client that touched a primary decoy,
 * with the sensor on: sets the reason, or says in v->note why not.
 */
static void
classify_nolisting(const struct classify_conf *c, const struct evidence *e,
    int walked, struct verdict *v)
{
	if (e->real_after_primary)
		v->note = "nolisting-only: no, it went on to the real MX "
		    "within the window";
	else if (walked)
		v->note = "nolisting-only: no, another address sent the same "
		    "envelope (HELO, MAIL FROM, a recipient) within the window "
		    "and went on to the real MX";
	else if (!e->sensor)
		v->note = "nolisting-only: no, the sensor never saw the real "
		    "MX in this client's address family (it may walk on over "
		    "the other one)";
	else if (c->now_us - e->primary_first_us < c->window_us)
		v->note = "nolisting-only: not yet, the window after its first "
		    "primary session has not passed";
	else {
		v->reasons |= 1u << REASON_NOLISTING_ONLY;
		v->note = e->retries > 0 ? "nolisting-only: yes, it retried the "
		    "same envelope but never went on to the real MX (a retry "
		    "alone is no proof of an MTA)" : "nolisting-only: yes, "
		    "no SYN to the real MX in the window after its first "
		    "primary session";
	}
}

/*
 * The columns of classify_sql_clients into e: the aggregates, and what
 * the sensor knows.  The MX walk verdict is kept only when it is one of
 * the known ones (as a static string).
 */
static void
classify_row(struct classify_q *cq, struct evidence *e)
{
	static const char	*walks[] = {
		"primary-then-real", "primary-only", "backup-direct"
	};
	sqlite3_stmt		*q = cq->rows;
	const unsigned char	*ip = sqlite3_column_text(q, 0);
	const char		*verdict;
	int			 n;

	memset(e, 0, sizeof(*e));
	n = sqlite3_column_bytes(q, 0);
	if (ip == NULL || (size_t)n >= sizeof(e->ip))
		n = 0;
	memcpy(e->ip, ip != NULL ? (const char *)ip : "", (size_t)n);
	e->ip[n] = '\0';
	e->first_us = sqlite3_column_int64(q, 1);
	e->last_us = sqlite3_column_int64(q, 2);
	e->sessions = sqlite3_column_int64(q, 3);
	e->anomalies = (uint32_t)sqlite3_column_int64(q, 4);
	e->primary_first_us = sqlite3_column_int64(q, 5);
	e->primary_sessions = sqlite3_column_int64(q, 6);
	e->backup_first_us = sqlite3_column_int64(q, 7);
	e->backup_sessions = sqlite3_column_int64(q, 8);
	e->helo_ok = sqlite3_column_int64(q, 9);
	e->retries = sqlite3_column_int64(q, 10);
	e->parallel = sqlite3_column_int64(q, CLASSIFY_COL_PARALLEL);
	e->sensor_any = cq->sensor;
	e->sensor = (cq->families & (strchr(e->ip, ':') != NULL ? 2 : 1)) != 0;
	if ((verdict = (const char *)sqlite3_column_text(q,
	    CLASSIFY_COL_WALK)) != NULL)
		for (size_t i = 0; i < sizeof(walks) / sizeof(walks[0]); i++)
			if (strcmp(verdict, walks[i]) == 0)
				e->walk = walks[i];
	if (!cq->sensor)
		return;
	e->real_after_primary = sqlite3_column_int(q,
	    CLASSIFY_COL_REAL_AFTER);
	if (e->walk == walks[0])
		e->real_after_primary = 1;
	e->syn_before_backup = sqlite3_column_int(q,
	    CLASSIFY_COL_BEFORE_BACKUP);
}

/* Runs a one-value EXISTS query sql into *found.  0 or -1. */
static int
classify_any(sqlite3 *db, const char *sql, int *found)
{
	sqlite3_stmt	*q;

	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	*found = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
	sqlite3_finalize(q);
	return 0;
}

static int
classify_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt	*q;
	int		 found;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master"
	    " WHERE type = 'table' AND name = ?1", -1, &q, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return found;
}

/*
 * Starts reading the evidence of every client seen at or after since
 * with at least min_sessions sessions (or, with ip not NULL, of that
 * client only).  Returns a handle for classify_next() that the caller
 * frees with classify_close(), or NULL with a message in err.
 */
struct classify_q *
classify_open(sqlite3 *db, const struct classify_conf *conf, int64_t since,
    int64_t min_sessions, const char *ip, char *err, size_t errlen)
{
	struct classify_q	*cq;
	char			 sql[sizeof(classify_sql_clients) +
				    sizeof(classify_sql_walk_col) +
				    sizeof(classify_sql_walk_join) +
				    sizeof(classify_sql_sensor_cols) + 32];
	int			 walk, i;

	if ((cq = calloc(1, sizeof(*cq))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cq->db = db;
	cq->conf = *conf;
	cq->one = ip != NULL;
	walk = 0;
	if ((classify_table(db, "mx_walks") &&
	    classify_any(db, classify_sql_walks, &walk) == -1) ||
	    (classify_table(db, "syns") &&
	    classify_any(db, classify_sql_sensor, &cq->families) == -1))
		goto fail;
	cq->sensor = cq->families != 0;
	snprintf(sql, sizeof(sql), classify_sql_clients,
	    walk ? classify_sql_walk_col : ", NULL",
	    cq->sensor ? classify_sql_sensor_cols : ", NULL, NULL",
	    walk ? classify_sql_walk_join : "",
	    ip != NULL ? " AND c.ip = :ip" : "");
	if (sqlite3_prepare_v2(db, sql, -1, &cq->rows, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(cq->rows, sqlite3_bind_parameter_index(cq->rows,
	    ":since"), since);
	sqlite3_bind_int64(cq->rows, sqlite3_bind_parameter_index(cq->rows,
	    ":min"), min_sessions);
	if ((i = sqlite3_bind_parameter_index(cq->rows, ":window")) > 0)
		sqlite3_bind_int64(cq->rows, i, conf->window_us);
	if (ip != NULL)
		sqlite3_bind_text(cq->rows, sqlite3_bind_parameter_index(
		    cq->rows, ":ip"), ip, -1, SQLITE_TRANSIENT);
	return cq;
fail:
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	classify_close(cq);
	return NULL;
}

/*
 * The next client's evidence and verdict.  Returns 1 with *e and *v
 * filled, 0 at the end, or -1 on a database error.  e->walk points to
 * a static string or is NULL.
 */
int
classify_next(struct classify_q *cq, struct evidence *e, struct verdict *v)
{
	int	 rc;

	if ((rc = sqlite3_step(cq->rows)) != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : -1;
	classify_row(cq, e);
	classify_client(&cq->conf, e, v);
	/* Only a client the rule would list costs the search for a link. */
	if ((v->reasons & (1u << REASON_NOLISTING_ONLY)) &&
	    classify_link(cq, e) == 1)
		classify_client(&cq->conf, e, v);
	return 1;
}

/*
 * Looks for another address that sent one of e's envelopes and walked
 * (classify_sql_link); sets e->linked_ip.  Returns 1 when found, 0 when
 * not, -1 on a database error (then no link: the client stays listed).
 */
static int
classify_link(struct classify_q *cq, struct evidence *e)
{
	sqlite3_stmt	*q;
	const char	*ip;
	int		 rc;

	if (cq->link == NULL) {
		char sql[sizeof(classify_sql_link) + 32];

		if (!cq->one && sqlite3_exec(cq->db, classify_sql_walked, NULL,
		    NULL, NULL) != SQLITE_OK)
			return -1;
		snprintf(sql, sizeof(sql), classify_sql_link, cq->one ?
		    "sessions" : "temp.classify_walked");
		if (sqlite3_prepare_v2(cq->db, sql, -1, &cq->link,
		    NULL) != SQLITE_OK)
			return -1;
	}
	q = cq->link;
	sqlite3_bind_text(q, sqlite3_bind_parameter_index(q, ":ip"), e->ip,
	    -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":window"),
	    cq->conf.window_us);
	sqlite3_bind_int64(q, sqlite3_bind_parameter_index(q, ":first"),
	    e->primary_first_us);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && (ip = (const char *)sqlite3_column_text(q,
	    0)) != NULL)
		strlcpy_(e->linked_ip, ip, sizeof(e->linked_ip));
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return e->linked_ip[0] != '\0';
}

/* Whether the sensor watches the real MX (SYNs to it are recorded). */
int
classify_has_sensor(const struct classify_q *cq)
{
	return cq->sensor;
}

void
classify_close(struct classify_q *cq)
{
	if (cq == NULL)
		return;
	sqlite3_finalize(cq->rows);
	sqlite3_finalize(cq->link);
	if (cq->link != NULL && !cq->one)
		sqlite3_exec(cq->db, "DROP TABLE IF EXISTS temp.classify_walked",
		    NULL, NULL, NULL);
	free(cq);
}
