/* SPDX-License-Identifier: ISC */
/*
 * names.c -- the fixed vocabulary shared by the daemon, the store and the
 * reports: role, stage, close reason and anomaly names, and the kinds of
 * geolocation database.  These strings are
 * part of the JSON contract (doc/DESIGN.md §11); extend, never rename.
 */
#include <string.h>

#include "decoymx.h"

static const char *role_names[ROLE_MAX] = {
	"decoy", "primary", "backup", "real"
};

static const char *stage_names[STAGE_MAX] = {
	"connect", "greeting", "helo", "mail", "rcpt", "data"
};

static const char *reason_names[CLOSE_MAX] = {
	"quit", "eof", "reset", "timeout", "lifetime", "errors", "non-smtp",
	"deferred", "shutdown", "limit", "ignored", "paired"
};

static const char *geo_kind_names[GEO_KINDS] = {
	"country", "asn", "city"		/* enum geo_kind */
};

static const char *anomaly_names[ANOM_COUNT] = {
	"pregreet", "pipelining", "bare-lf", "non-smtp", "helo-invalid",
	"long-line", "too-many-errors", "auth-attempt", "early-quit",
	"rset-loop"
};

const char *
role_name(enum role r)
{
	return (unsigned)r < ROLE_MAX ? role_names[r] : "?";
}

const char *
stage_name(enum stage s)
{
	return (unsigned)s < STAGE_MAX ? stage_names[s] : "?";
}

/* Returns the stage index for a name, or -1. */
int
stage_parse(const char *name)
{
	for (int i = 0; i < STAGE_MAX; i++)
		if (strcmp(name, stage_names[i]) == 0)
			return i;
	return -1;
}

const char *
close_reason_name(enum close_reason r)
{
	return (unsigned)r < CLOSE_MAX ? reason_names[r] : "?";
}

/* Name of anomaly bit index 0..ANOM_COUNT-1, NULL when out of range. */
const char *
anomaly_name(int bit)
{
	return bit >= 0 && bit < ANOM_COUNT ? anomaly_names[bit] : NULL;
}

/* Returns the bit index for an anomaly name, or -1. */
int
anomaly_parse(const char *name)
{
	for (int i = 0; i < ANOM_COUNT; i++)
		if (strcmp(name, anomaly_names[i]) == 0)
			return i;
	return -1;
}

/* Returns the role for a name, or -1. */
int
role_parse(const char *name)
{
	for (int i = 0; i < ROLE_MAX; i++)
		if (strcmp(name, role_names[i]) == 0)
			return i;
	return -1;
}

/* Returns the close reason for a name, or -1. */
int
close_reason_parse(const char *name)
{
	for (int i = 0; i < CLOSE_MAX; i++)
		if (strcmp(name, reason_names[i]) == 0)
			return i;
	return -1;
}

/* The name of a geolocation database kind ("geoip KIND"), NULL past. */
const char *
geo_kind_name(int k)
{
	return k >= 0 && k < GEO_KINDS ? geo_kind_names[k] : NULL;
}
