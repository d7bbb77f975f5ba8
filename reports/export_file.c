/* SPDX-License-Identifier: ISC */
/*
 * export_file.c -- how an export reaches its file: the body is written
 * into memory (export_body_open), then replaces the file atomically
 * (export_commit: a temporary file in the same directory, fsync,
 * rename, fsync of the directory), and not at all when its content is
 * unchanged.  The first line is a generation comment (in JSON, the
 * first line of the object) that is left out of that comparison and
 * padded so that a changed file always changes size too: rbldnsd
 * notices a new file by mtime (1 s resolution) or size.
 *
 * Exports export_body_open() and export_commit().
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"

#define EXPORT_BUF	(256 * 1024)	/* the stdio buffer of an export file */

static ssize_t	 export_body_write(void *, const char *, size_t);

/* fopencookie's write: appends to the body.  len, or -1 (ENOMEM). */
static ssize_t
export_body_write(void *cookie, const char *buf, size_t len)
{
	struct export_body	*b = cookie;
	char			*tmp;
	size_t			 cap = b->cap ? b->cap : EXPORT_BUF;

	if (b->n + len > b->cap) {
		while (cap < b->n + len)
			cap *= 2;
		/* A large block is moved by remapping: no copy, unlike the
		 * buffer of open_memstream. */
		if ((tmp = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = tmp;
		b->cap = cap;
	}
	memcpy(b->p + b->n, buf, len);
	b->n += len;
	return (ssize_t)len;
}

/*
 * A stream that writes to b (emptied first), with a big buffer; the
 * caller fcloses it, then owns b->p.  NULL on error.
 */
FILE *
export_body_open(struct export_body *b)
{
	cookie_io_functions_t	 io = { .write = export_body_write };
	FILE			*f;

	b->n = 0;
	if ((f = fopencookie(b, "w", io)) == NULL)
		return NULL;
	setvbuf(f, NULL, _IOFBF, EXPORT_BUF);
	return f;
}

/*
 * Writes header + body to path atomically, unless the file there has
 * the same body after its first line.  The header must end in "\n"; a
 * space is added before it when the new file would have the old size.
 * Returns 1 when written, 0 when unchanged, -1 with err set.
 */
int
export_commit(const char *path, const char *header, const char *body,
    size_t blen, int may_pad, char *err, size_t errlen)
{
	struct stat	 sb;
	char		 tmp[PATH_MAX], dcopy[PATH_MAX], *dir, *old, *nl;
	size_t		 hlen = strlen(header), olen;
	FILE		*f;
	int		 fd, same = 0, pad = 0, dfd;

	if ((fd = open(path, O_RDONLY)) != -1) {
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
			olen = (size_t)sb.st_size;
			pad = may_pad && (off_t)(hlen + blen) == sb.st_size;
			/* Mapped, not read: the old file may be 100 MB. */
			if (olen > blen && (old = mmap(NULL, olen, PROT_READ,
			    MAP_PRIVATE, fd, 0)) != MAP_FAILED) {
				nl = memchr(old, '\n', olen);
				same = nl != NULL && (size_t)(old + olen - nl -
				    1) == blen && memcmp(nl + 1, body,
				    blen) == 0;
				munmap(old, olen);
			}
		}
		close(fd);
	}
	if (same)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    (int)sizeof(tmp) || strlcpy_(dcopy, path, sizeof(dcopy)) >=
	    sizeof(dcopy)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		snprintf(err, errlen, "cannot create a file beside %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fwrite(header, 1, hlen - 1, f);
	if (pad)
		putc(' ', f);
	putc('\n', f);
	fwrite(body, 1, blen, f);
	if (fflush(f) == EOF || ferror(f) || fchmod(fd, 0644) == -1 ||
	    fsync(fd) == -1) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	dir = dirname(dcopy);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 1;
}
