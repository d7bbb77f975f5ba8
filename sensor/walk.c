/* SPDX-License-Identifier: ISC */
/*
 * walk.c -- the MX walk of one client: which MX addresses it sent SYNs
 * to, in what order and how fast, and what that says about it.
 *
 * A walk is the run of a client's first SYNs (retransmits are counted
 * on the touch they repeat) with no pause longer than WALK_GAP_US; the
 * store keeps the latest walk of every client in mx_walks.  Verdicts,
 * tried in this order:
 *
 *   parallel           two different MX addresses got their first SYN
 *                      less than WALK_PARALLEL_US apart: the client did
 *                      not wait for an answer from the first (a walker
 *                      needs at least a round trip), typical of bulk
 *                      bots that hit every MX at once.  Not when the
 *                      client had its 4xx from the first (a nearby MTA
 *                      walks on in well under a millisecond): the store
 *                      walks again once that session is stored
 *   backup-direct      the first MX touched is a backup decoy (higher
 *                      preference number than the real MX): it skipped
 *                      the primaries, the classic backup-MX abuse
 *   primary-then-real  a primary (or unranked) decoy first, then the real
 *                      MX: what an RFC 5321 MTA does on a 4xx or a dead
 *                      address; MTA-like
 *   primary-only       a primary (or unranked) decoy first and never the
 *                      real MX (it may have gone on to a backup decoy):
 *                      nolisting stopped it.  Meaningful only when the
 *                      sensor watches the real MX ('real-mx' configured)
 *   real-only          the real MX first: the client knew it by other
 *                      means or its DNS had no decoy; decoys touched
 *                      later are listed in the walk but do not change it
 *
 * Exports walk_verdict(), walk_verdict_name() and walk_format().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sensor.h"

static const char *verdict_names[] = {
	[WALK_PRIMARY_THEN_REAL] = "primary-then-real",
	[WALK_PRIMARY_ONLY] = "primary-only",
	[WALK_BACKUP_DIRECT] = "backup-direct",
	[WALK_REAL_ONLY] = "real-only",
	[WALK_PARALLEL] = "parallel",
	[WALK_NONE] = "none",
};

const char *
walk_verdict_name(enum walk_verdict v)
{
	return (unsigned)v <= WALK_NONE ? verdict_names[v] : "?";
}

/*
 * The verdict on touches t[0..n), in time order, one per address (the
 * caller folds repeats into the first touch of their address).
 */
enum walk_verdict
walk_verdict(const struct walk_touch *t, size_t n)
{
	int	 real = 0;

	if (n == 0)
		return WALK_NONE;
	for (size_t i = 1; i < n; i++)
		if (strcmp(t[i].ip, t[i - 1].ip) != 0 && !t[i - 1].deferred &&
		    t[i].ts_us - t[i - 1].ts_us < WALK_PARALLEL_US)
			return WALK_PARALLEL;
	if (t[0].role == ROLE_BACKUP)
		return WALK_BACKUP_DIRECT;
	if (t[0].role == ROLE_REAL)
		return WALK_REAL_ONLY;
	for (size_t i = 1; i < n; i++)
		if (t[i].role == ROLE_REAL)
			real = 1;
	return real ? WALK_PRIMARY_THEN_REAL : WALK_PRIMARY_ONLY;
}

/*
 * The walk as text, one touch per item, e.g.
 * "192.0.2.10 mx=10 primary +0ms rtx=2, 192.0.2.20 mx=20 real +3012ms"
 * (rtx: retransmitted SYNs, again: further connections).  Offsets are
 * from the first touch.  Returns the length (cut at cap).
 */
size_t
walk_format(const struct walk_touch *t, size_t n, char *buf, size_t cap)
{
	size_t	 len = 0;
	int	 w;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++) {
		char pref[16] = "";

		if (t[i].mx_pref >= 0)
			snprintf(pref, sizeof(pref), " mx=%d", t[i].mx_pref);
		w = snprintf(buf + len, cap - len, "%s%s%s %s +%" PRId64 "ms",
		    i ? ", " : "", t[i].ip, pref, role_name(t[i].role),
		    (t[i].ts_us - t[0].ts_us) / 1000);
		if (w < 0)
			break;
		len += (size_t)w;
		if (len < cap && t[i].retransmits > 0) {
			w = snprintf(buf + len, cap - len, " rtx=%u",
			    t[i].retransmits);
			if (w > 0)
				len += (size_t)w;
		}
		if (len < cap && t[i].repeats > 0) {
			w = snprintf(buf + len, cap - len, " again=%u",
			    t[i].repeats);
			if (w > 0)
				len += (size_t)w;
		}
	}
	return len < cap ? len : cap - 1;
}
