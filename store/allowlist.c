/* SPDX-License-Identifier: ISC */
/*
 * allowlist.c -- the allowlist of the exports: a text file of networks
 * that are never listed, one "ADDR" or "ADDR/LEN" a line (IPv4 or
 * IPv6), '#' starts a comment, blank lines are ignored.  A bad line is
 * an error that names the file and the line, never skipped.
 *
 * Lookups are by prefix-length group: the networks are sorted by
 * (family, length, address) and an address is masked once per length
 * present and searched for with bsearch, so a large allowlist costs
 * little per client.
 *
 * Exports allowlist_parse(), allowlist_load(), allowlist_match(),
 * allowlist_inside() and allowlist_free().
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define ALLOW_MAX_FILE	(64 * 1024 * 1024)
#define ALLOW_MAX_LINE	256

static int	 allowlist_cmp(const void *, const void *);
static int	 allowlist_add(struct allowlist *, const char *, char *, size_t);
static void	 allowlist_mask(uint8_t *, int, int);

static int
allowlist_cmp(const void *a, const void *b)
{
	const struct allow_net	*x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static void
allowlist_mask(uint8_t *a, int len, int prefix)
{
	for (int i = 0; i < len; i++) {
		int bits = prefix - 8 * i;

		if (bits < 8)
			a[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

/*
 * Parses one network word into the list.  Host bits are cleared (so
 * 192.0.2.7/24 means 192.0.2.0/24).  Returns 0 or -1 with err set.
 */
static int
allowlist_add(struct allowlist *al, const char *w, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct allow_net	*n;
	char			 buf[ADDR_STRLEN + 8], *slash, *end;
	long			 v;

	if (strlcpy_(buf, w, sizeof(buf)) >= sizeof(buf)) {
		snprintf(err, errlen, "network too long");
		return -1;
	}
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (util_parse_addr(buf, &ss) == -1) {
		snprintf(err, errlen, "not an IPv4 or IPv6 address");
		return -1;
	}
	if (al->n == al->cap) {
		size_t		 cap = al->cap == 0 ? 64 : al->cap * 2;
		struct allow_net *tmp = realloc(al->nets, cap * sizeof(*tmp));

		if (tmp == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		al->nets = tmp;
		al->cap = cap;
	}
	n = &al->nets[al->n];
	memset(n, 0, sizeof(*n));
	if (ss.ss_family == AF_INET) {
		n->family = 4;
		memcpy(n->addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		n->prefix = 32;
	} else {
		n->family = 6;
		memcpy(n->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		n->prefix = 128;
	}
	if (slash != NULL) {
		errno = 0;
		v = strtol(slash, &end, 10);
		if (!isdigit((unsigned char)*slash) || *end != '\0' ||
		    errno != 0 || v < 0 || v > n->prefix) {
			snprintf(err, errlen, "bad prefix length /%s", slash);
			return -1;
		}
		n->prefix = (int)v;
	}
	allowlist_mask(n->addr, n->family == 4 ? 4 : 16, n->prefix);
	al->n++;
	return 0;
}

/*
 * Parses the allowlist text buf[0..len) (it need not be NUL-terminated)
 * into al, adding to what al holds.  file names the source in messages.
 * Returns 0, or -1 with "file:line: what is wrong" in err.
 */
int
allowlist_parse(struct allowlist *al, const char *buf, size_t len,
    const char *file, char *err, size_t errlen)
{
	char		 line[ALLOW_MAX_LINE + 1], why[128], *p, *w, *rest;
	size_t		 i = 0, n;
	int		 lineno = 0;

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);

		n = nl != NULL ? (size_t)(nl - (buf + i)) : len - i;
		lineno++;
		if (n > ALLOW_MAX_LINE) {
			snprintf(err, errlen, "%s:%d: line longer than %d "
			    "characters", file, lineno, ALLOW_MAX_LINE);
			return -1;
		}
		memcpy(line, buf + i, n);
		line[n] = '\0';
		i += n + 1;
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, errlen, "%s:%d: NUL byte", file, lineno);
			return -1;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			continue;
		w = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		rest = p;
		if (*p != '\0')
			*p++ = '\0', rest = p;
		while (isspace((unsigned char)*rest))
			rest++;
		if (*rest != '\0') {
			snprintf(err, errlen, "%s:%d: one network a line, "
			    "then only a # comment", file, lineno);
			return -1;
		}
		if (allowlist_add(al, w, why, sizeof(why)) == -1) {
			char	 esc[64];

			util_escape_term(w, strlen(w), esc, sizeof(esc));
			snprintf(err, errlen, "%s:%d: %s: %s", file, lineno,
			    esc, why);
			return -1;
		}
	}
	if (al->n > 0)
		qsort(al->nets, al->n, sizeof(*al->nets), allowlist_cmp);
	return 0;
}

/* Reads and parses the allowlist file path into al.  0 or -1 (err). */
int
allowlist_load(struct allowlist *al, const char *path, char *err,
    size_t errlen)
{
	struct stat	 sb;
	FILE		*f;
	char		*buf;
	size_t		 n;
	int		 ret;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > ALLOW_MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of at most %d "
		    "bytes", path, ALLOW_MAX_FILE);
		fclose(f);
		return -1;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, (size_t)sb.st_size, f);
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = -1;
	} else
		ret = allowlist_parse(al, buf, n, path, err, errlen);
	free(buf);
	fclose(f);
	return ret;
}

/*
 * The allowlist network containing the address (family 4 or 6, addr in
 * network order, 4 or 16 bytes), or NULL.
 */
const struct allow_net *
allowlist_match(const struct allowlist *al, int family, const uint8_t *addr)
{
	struct allow_net	 key;
	const struct allow_net	*hit;
	size_t			 i = 0, j;

	while (i < al->n) {
		for (j = i; j < al->n && al->nets[j].family == al->nets[i].family
		    && al->nets[j].prefix == al->nets[i].prefix; j++)
			;
		if (al->nets[i].family == family) {
			memset(&key, 0, sizeof(key));
			key.family = family;
			key.prefix = al->nets[i].prefix;
			memcpy(key.addr, addr, family == 4 ? 4 : 16);
			allowlist_mask(key.addr, family == 4 ? 4 : 16,
			    key.prefix);
			hit = bsearch(&key, al->nets + i, j - i,
			    sizeof(key), allowlist_cmp);
			if (hit != NULL)
				return hit;
		}
		i = j;
	}
	return NULL;
}

/*
 * Whether allowlist network n lies inside the network (family, addr,
 * prefix): then a listing of that network needs an exclusion for n.
 */
int
allowlist_inside(const struct allow_net *n, int family, const uint8_t *addr,
    int prefix)
{
	uint8_t	 a[16];

	if (n->family != family || n->prefix < prefix)
		return 0;
	memcpy(a, n->addr, sizeof(a));
	allowlist_mask(a, family == 4 ? 4 : 16, prefix);
	return memcmp(a, addr, family == 4 ? 4 : 16) == 0;
}

void
allowlist_free(struct allowlist *al)
{
	free(al->nets);
	memset(al, 0, sizeof(*al));
}
