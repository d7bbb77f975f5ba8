/* SPDX-License-Identifier: ISC */
/*
 * test_format.c -- output escaping of untrusted bytes: JSON strings
 * (always valid UTF-8 JSON), CSV cells (RFC 4180, no formulas, one line)
 * and terminal text (no escape sequences), and the table writer.
 */
#include <stdlib.h>

#include "reports.h"
#include "t.h"

static char	*json(const char *, size_t);
static char	*csv(const char *, size_t);
static char	*term(const char *, size_t, size_t);
static int	 valid_utf8(const char *);

#define JSON(lit)	json(lit, sizeof(lit) - 1)
#define CSV(lit)	csv(lit, sizeof(lit) - 1)

/* What fmt_json_str() writes for p, in a static buffer. */
static char *
json(const char *p, size_t len)
{
	static char	 buf[4096];
	FILE		*f = fmemopen(buf, sizeof(buf), "w");

	fmt_json_str(f, p, len);
	fclose(f);
	return buf;
}

static char *
csv(const char *p, size_t len)
{
	static char	 buf[4096];
	FILE		*f = fmemopen(buf, sizeof(buf), "w");

	fmt_csv_cell(f, p, len);
	fclose(f);
	return buf;
}

static char *
term(const char *p, size_t len, size_t cap)
{
	static char	 buf[4096];

	memset(buf, 'Z', sizeof(buf));
	CHECK(fmt_term(p, len, buf, cap) == strlen(buf));
	CHECK(strlen(buf) < cap);
	return buf;
}

/* A strict UTF-8 check, written apart from format.c's on purpose. */
static int
valid_utf8(const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	unsigned long		 cp;
	int			 n;

	while (*u) {
		if (*u < 0x80) {
			u++;
			continue;
		}
		if ((*u & 0xe0) == 0xc0)
			n = 1, cp = *u & 0x1f;
		else if ((*u & 0xf0) == 0xe0)
			n = 2, cp = *u & 0x0f;
		else if ((*u & 0xf8) == 0xf0)
			n = 3, cp = *u & 0x07;
		else
			return 0;
		for (int i = 1; i <= n; i++) {
			if ((u[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (u[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		u += n + 1;
	}
	return 1;
}

static void
test_json(void)
{
	char	 all[256];
	char	*out;

	CHECK_STR(JSON(""), "\"\"");
	CHECK_STR(JSON("plain text"), "\"plain text\"");
	CHECK_STR(JSON("a\"b\\c"), "\"a\\\"b\\\\c\"");
	CHECK_STR(JSON("\r\n\t\b"), "\"\\r\\n\\t\\u0008\"");
	CHECK_STR(JSON("a\0b"), "\"a\\u0000b\"");
	CHECK_STR(JSON("\x1b[2J\x1b]0;x\x07"),
	    "\"\\u001b[2J\\u001b]0;x\\u0007\"");
	CHECK_STR(JSON("\x7f"), "\"\\u007f\"");
	/* Valid multibyte passes: U+00E9, U+20AC, U+1F600, U+10FFFF. */
	CHECK_STR(JSON("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	CHECK_STR(JSON("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");
	/* C1 controls, U+2028 and U+2029 are escaped. */
	CHECK_STR(JSON("\xc2\x9b" "1m"), "\"\\u009b1m\"");
	CHECK_STR(JSON("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"");
	/* Format characters (Cf): bidi overrides, isolates, zero width. */
	CHECK_STR(JSON("a\xe2\x80\xae" "b"), "\"a\\u202eb\"");
	CHECK_STR(JSON("\xe2\x80\xaa\xe2\x80\xad"), "\"\\u202a\\u202d\"");
	CHECK_STR(JSON("\xe2\x81\xa6\xe2\x81\xa9"), "\"\\u2066\\u2069\"");
	CHECK_STR(JSON("\xe2\x80\x8b\xe2\x80\x8f\xef\xbb\xbf\xc2\xad"),
	    "\"\\u200b\\u200f\\ufeff\\u00ad\"");
	/* Above U+FFFF as a surrogate pair: U+E0041 (TAG LATIN A). */
	CHECK_STR(JSON("\xf3\xa0\x81\x81"), "\"\\udb40\\udc41\"");
	/* A neighbour of the Cf ranges passes: U+2010. */
	CHECK_STR(JSON("\xe2\x80\x90"), "\"\xe2\x80\x90\"");
	/* Invalid UTF-8: each offending byte as \u00XX. */
	CHECK_STR(JSON("\x80"), "\"\\u0080\"");
	CHECK_STR(JSON("a\xc0\xaf" "b"), "\"a\\u00c0\\u00afb\"");
	CHECK_STR(JSON("\xe0\x80\xaf"), "\"\\u00e0\\u0080\\u00af\"");
	CHECK_STR(JSON("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");
	CHECK_STR(JSON("\xf4\x90\x80\x80"),
	    "\"\\u00f4\\u0090\\u0080\\u0080\"");
	CHECK_STR(JSON("\xf5\x80\x80\x80"),
	    "\"\\u00f5\\u0080\\u0080\\u0080\"");
	CHECK_STR(JSON("\xff\xfe"), "\"\\u00ff\\u00fe\"");
	/* Truncated sequences, at the end and before ASCII. */
	CHECK_STR(JSON("\xe2\x82"), "\"\\u00e2\\u0082\"");
	CHECK_STR(JSON("\xf0\x9f\x98" "x"), "\"\\u00f0\\u009f\\u0098x\"");
	CHECK_STR(JSON("\xc3"), "\"\\u00c3\"");

	/* Every byte value, and the result is valid UTF-8 without controls. */
	for (int i = 0; i < 256; i++)
		all[i] = (char)(255 - i);
	out = json(all, sizeof(all));
	CHECK(valid_utf8(out));
	for (const char *p = out; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void
test_csv(void)
{
	CHECK_STR(CSV(""), "");
	CHECK_STR(CSV("plain"), "plain");
	CHECK_STR(CSV("a,b"), "\"a,b\"");
	CHECK_STR(CSV("say \"hi\""), "\"say \"\"hi\"\"\"");
	CHECK_STR(CSV(" padded "), "\" padded \"");
	/* Formula injection neutralised. */
	CHECK_STR(CSV("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
	CHECK_STR(CSV("+1+1"), "'+1+1");
	CHECK_STR(CSV("-2+3"), "'-2+3");
	CHECK_STR(CSV("@SUM(A1)"), "'@SUM(A1)");
	CHECK_STR(CSV("\t=1"), "'\\x09=1");
	CHECK_STR(CSV("\r=1"), "'\\x0d=1");
	CHECK_STR(CSV("=HYPERLINK(\"http://x\",\"y\")"),
	    "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
	CHECK_STR(CSV("a=b"), "a=b");
	/* One record is one line: controls become \xNN text. */
	CHECK_STR(CSV("line1\r\nline2"), "line1\\x0d\\x0aline2");
	CHECK_STR(CSV("nul\0esc\x1b[1m"), "nul\\x00esc\\x1b[1m");
	CHECK_STR(CSV("back\\slash"), "back\\\\slash");
	/* Valid UTF-8 passes, invalid bytes and C1 controls are escaped. */
	CHECK_STR(CSV("caf\xc3\xa9"), "caf\xc3\xa9");
	CHECK_STR(CSV("\xc0\xaf\x80"), "\\xc0\\xaf\\x80");
	CHECK_STR(CSV("\xc2\x9b"), "\\xc2\\x9b");
	CHECK_STR(CSV("a\xe2\x80\xa8" "b"), "a\\xe2\\x80\\xa8b");
	/* Format characters (Cf) too: U+202E, U+2067, U+200D. */
	CHECK_STR(CSV("x\xe2\x80\xaey"), "x\\xe2\\x80\\xaey");
	CHECK_STR(CSV("\xe2\x81\xa7\xe2\x80\x8d"),
	    "\\xe2\\x81\\xa7\\xe2\\x80\\x8d");
}

static void
test_term(void)
{
	CHECK_STR(term("hello", 5, 64), "hello");
	CHECK_STR(term("\x1b[31mred\x1b[0m", 12, 64),
	    "\\x1b[31mred\\x1b[0m");
	CHECK_STR(term("\x1b]0;title\x07", 10, 64), "\\x1b]0;title\\x07");
	CHECK_STR(term("a\\b", 3, 64), "a\\\\b");
	CHECK_STR(term("\r\n\0\x9b\xff", 5, 64),
	    "\\x0d\\x0a\\x00\\x9b\\xff");
	CHECK_STR(term("caf\xc3\xa9", 5, 64), "caf\\xc3\\xa9");
	/* Exactly fits; one short; cut never splits an escape. */
	CHECK_STR(term("abcdef", 6, 7), "abcdef");
	CHECK_STR(term("abcdefg", 7, 7), "abc...");
	CHECK_STR(term("a\x1b" "bcdefgh", 9, 9), "a\\x1b...");
	CHECK_STR(term("a\x1b" "bcdefgh", 9, 8), "a...");
	CHECK_STR(term("abcdef", 6, 3), "..");
	CHECK_STR(term("abcdef", 6, 1), "");
}

static void
test_table(void)
{
	static const struct fmt_col cols[] = {
		{ "name", FMT_SHRINK }, { "n", FMT_RIGHT }, { "last", 0 },
	};
	struct fmt_table	*t;
	struct span		 row[3];
	char			 buf[1024];
	FILE			*f;

	t = fmt_table_new(cols, 3);
	CHECK(t != NULL);
	row[0] = (struct span){ "a-rather-long-name", 18 };
	row[1] = (struct span){ "7", 1 };
	row[2] = (struct span){ "x\x1b", 2 };
	CHECK(fmt_table_add(t, row) == 0);
	row[0] = (struct span){ "b", 1 };
	row[1] = (struct span){ "123", 3 };
	row[2] = (struct span){ NULL, 0 };
	CHECK(fmt_table_add(t, row) == 0);

	f = fmemopen(buf, sizeof(buf), "w");
	fmt_table_print(t, f, 0);
	fclose(f);
	CHECK_STR(buf,
	    "name                  n  last\n"
	    "a-rather-long-name    7  x\\x1b\n"
	    "b                   123  -\n");

	f = fmemopen(buf, sizeof(buf), "w");
	fmt_table_print(t, f, 20);
	fclose(f);
	CHECK_STR(buf,
	    "name        n  last\n"
	    "a-rat...    7  x\\x1b\n"
	    "b         123  -\n");
	fmt_table_free(t);
}

int
main(void)
{
	test_json();
	test_csv();
	test_term();
	test_table();
	return t_done("test_format");
}
