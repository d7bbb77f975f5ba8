/* SPDX-License-Identifier: ISC */
/*
 * geo.c -- "decoymx geo lookup ADDR": what the geoip databases say about
 * an address, and which files said it, for the admin to check a setup.
 * The lookups are the store's own (store/geo.c), so the answer is the
 * one the daemon would store.
 *
 * Exports cmd_geo().
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "daemon.h"

/* The options of geo lookup. */
struct geo_args {
	const char	*file, *format;
	const char	*over[GEO_KINDS];	/* --country, --asn, --city */
};

static void	 geo_print_val(FILE *, const char *, const char *, int, int *);
static void	 geo_print(struct geo *, const char *, const struct geo_info *,
		    int);

#define GA(f)	offsetof(struct geo_args, f)

static const struct opt geo_optv[] = {
	{ "config", 'c', 1, opt_set_str, GA(file) },
	{ "country", 0, 1, opt_set_str, GA(over[GEO_COUNTRY]) },
	{ "asn", 0, 1, opt_set_str, GA(over[GEO_ASN]) },
	{ "city", 0, 1, opt_set_str, GA(over[GEO_CITY]) },
	{ "format", 0, 1, opt_set_str, GA(format) },
};

static const char geo_usage[] = "usage: decoymx geo lookup ADDR [-c FILE] "
    "[--country PATH] [--asn PATH] [--city PATH] [--format table|json]\n";

/*
 * One value for geo_print(): NULL prints as "-" or null; a name in
 * geo_numbers is a JSON number.
 */
static void
geo_print_val(FILE *f, const char *name, const char *v, int json, int *first)
{
	static const char *geo_numbers[] = { "asn", "geo_build", "build" };
	char	 esc[4 * GEO_PATH_MAX];
	int	 num = 0;

	for (size_t i = 0; i < sizeof(geo_numbers) / sizeof(geo_numbers[0]);
	    i++)
		num |= strcmp(name, geo_numbers[i]) == 0;
	if (json) {
		fprintf(f, "%s\"%s\":", *first ? "" : ",", name);
		if (v == NULL)
			fputs("null", f);
		else if (num)
			fputs(v, f);
		else
			escape_json(f, v, strlen(v));
	} else {
		if (v != NULL)
			util_escape_term(v, strlen(v), esc, sizeof(esc));
		fprintf(f, "%-10s %s\n", name, v != NULL ? esc : "-");
	}
	*first = 0;
}

/* Prints gi and the databases that produced it, as a table or JSON. */
static void
geo_print(struct geo *g, const char *addr, const struct geo_info *gi,
    int json)
{
	struct geo_file	 d;
	char		 city[GEO_ORG_MAX + 1], num[64], ts[32];
	int		 first = 1, any = 0, rc;

	geo_city(g, addr, city, sizeof(city));
	if (json)
		fputc('{', stdout);
	geo_print_val(stdout, "address", addr, json, &first);
	geo_print_val(stdout, "country", gi->country[0] ? gi->country : NULL,
	    json, &first);
	snprintf(num, sizeof(num), "%u", gi->asn);
	geo_print_val(stdout, "asn", gi->asn ? num : NULL, json, &first);
	geo_print_val(stdout, "as_org", gi->as_org[0] ? gi->as_org : NULL,
	    json, &first);
	snprintf(num, sizeof(num), "%lld", (long long)gi->build);
	geo_print_val(stdout, "geo_build", gi->build ? num : NULL, json,
	    &first);
	geo_print_val(stdout, "city", city[0] ? city : NULL, json, &first);
	if (json)
		fputs(",\"databases\":[", stdout);
	for (int i = 0; (rc = geo_file(g, i, &d)) != -1; i++) {
		int	 open = d.type != NULL;

		if (rc == 0)
			continue;
		first = 1;
		if (json)
			fputs(any++ ? ",{" : "{", stdout);
		else
			printf("\n");
		geo_print_val(stdout, "kind", geo_kind_name(d.kind), json,
		    &first);
		geo_print_val(stdout, "path", d.path, json, &first);
		geo_print_val(stdout, "type", d.type, json, &first);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)d.build);
		geo_print_val(stdout, "build", open ? num : NULL, json, &first);
		if (open && d.build < INT64_MAX / 1000000)
			util_iso8601((int64_t)d.build * 1000000, ts,
			    sizeof(ts));
		geo_print_val(stdout, "built", open ? ts : NULL, json, &first);
		geo_print_val(stdout, "error", open ? NULL : d.why, json,
		    &first);
		if (json)
			fputc('}', stdout);
	}
	if (json)
		fputs("]}\n", stdout);
}

/*
 * "decoymx geo lookup ADDR [-c FILE] [--country PATH] [--asn PATH]
 * [--city PATH] [--format table|json]": what the databases say about
 * ADDR.  The options override the file's geoip lines.  Exit status 0;
 * 1 when a configured database could not be opened; 2 on bad usage or
 * configuration.
 */
int
cmd_geo(int argc, char **argv)
{
	struct geo_args		 a = { NULL, "table", { NULL, NULL, NULL } };
	struct config		 c;
	struct sockaddr_storage	 ss;
	struct geo_info		 gi;
	struct geo		*g;
	char			 err[256], **words;
	int			 nwords, rv, any = 0;

	if (argc < 2 || strcmp(argv[1], "lookup") != 0) {
		fputs(geo_usage, stderr);
		return EXIT_USAGE;
	}
	/* "lookup" is the command word of what follows. */
	words = argv + 2;
	if (opt_parse(argc - 1, argv + 1, geo_optv, sizeof(geo_optv) /
	    sizeof(geo_optv[0]), &a, words, argc - 2, &nwords, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "decoymx geo: %s\n", err);
		fputs(geo_usage, stderr);
		return EXIT_USAGE;
	}
	if (nwords != 1 || (strcmp(a.format, "table") != 0 &&
	    strcmp(a.format, "json") != 0)) {
		fputs(geo_usage, stderr);
		return EXIT_USAGE;
	}
	/* A bare address, as the store looks them up: no [brackets]. */
	if (words[0][0] == '[' || util_parse_addr(words[0], &ss) == -1) {
		fprintf(stderr, "decoymx: '%s' is not an IPv4 or IPv6 address\n",
		    words[0]);
		return EXIT_USAGE;
	}
	config_defaults(&c);
	if (a.file != NULL && config_load(&c, a.file) == -1) {
		config_free(&c);
		return EXIT_USAGE;
	}
	config_free(&c);	/* only its geoip paths are used */
	for (int k = 0; k < GEO_KINDS; k++) {
		if (a.over[k] != NULL) {
			memset(c.geoip[k], 0, sizeof(c.geoip[k]));
			if (strlcpy_(c.geoip[k][0], a.over[k],
			    sizeof(c.geoip[k][0])) >= sizeof(c.geoip[k][0])) {
				fprintf(stderr, "decoymx: --%s: path too long\n",
				    geo_kind_name(k));
				return EXIT_USAGE;
			}
		}
		any |= c.geoip[k][0][0] != '\0';
	}
	if (!any) {
		fprintf(stderr, "decoymx: no geoip database configured: give -c "
		    "FILE with geoip lines, or --country, --asn, --city\n");
		return EXIT_USAGE;
	}
	log_init("decoymx", LOG_LVL_WARN);
	if ((g = geo_new()) == NULL) {
		fprintf(stderr, "decoymx: out of memory\n");
		return EXIT_RUNTIME;
	}
	rv = geo_open(g, &c);
	rv = rv == -2 ? EXIT_USAGE : rv == -1 ? EXIT_RUNTIME : 0;
	geo_lookup(g, words[0], &gi);
	geo_print(g, words[0], &gi, strcmp(a.format, "json") == 0);
	geo_free(g);
	return rv;
}
