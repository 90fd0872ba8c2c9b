/* tt-unit - unit tests for the common library, printed as TAP.
 *
 * Each check prints "ok N - name" or "not ok N - name"; the plan comes
 * last. The exit status is 0 only when every check passed. Run by
 * test/bats/00-unit.bats.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "pbtest.pb-c.h"
#include "webcast.pb-c.h"

#include "tt_backoff.h"
#include "tt_frames.h"
#include "tt_buf.h"
#include "tt_hash.h"
#include "tt_json.h"
#include "tt_lines.h"
#include "tt_log.h"
#include "tt_pbjson.h"
#include "tt_redis.h"
#include "tt_schema.h"
#include "tt_time.h"
#include "tt_webcast.h"

static unsigned tests_run;
static unsigned tests_failed;

/* Records one check; the name is a printf format. */
static bool
check(bool ok, const char *fmt, ...)
{
	va_list ap;

	tests_run++;
	if (!ok)
		tests_failed++;
	printf("%sok %u - ", ok ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return ok;
}

/* A TAP comment, for details of a failure. */
static void
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static bool
span_is(const char *s, size_t len, const char *want)
{
	return s != NULL && len == strlen(want) && memcmp(s, want, len) == 0;
}

/* ---- tt_time ------------------------------------------------------------ */

static bool
parses_to(const char *s, int64_t want)
{
	int64_t ms = 0;

	if (!tt_time_parse_iso(s, strlen(s), &ms)) {
		diag("'%s' was rejected", s);
		return false;
	}
	if (ms != want) {
		diag("'%s' parsed to %lld, want %lld", s, (long long)ms, (long long)want);
		return false;
	}
	return true;
}

static bool
rejected(const char *s)
{
	int64_t ms;

	return !tt_time_parse_iso(s, strlen(s), &ms) && !tt_time_valid_iso(s, strlen(s));
}

static void
test_time(void)
{
	/* 2026-02-22T10:00:00Z, as in the fixtures (createTime 1771754401708
	 * for 10:00:01.708Z). */
	const int64_t t0 = 1771754400000;
	static const char *const bad[] = {
		"2026-13-01T00:00:00Z",      /* month 13 */
		"2026-00-10T00:00:00Z",      /* month 0 */
		"2026-02-30T00:00:00Z",      /* Feb 30 */
		"2025-02-29T00:00:00Z",      /* not a leap year */
		"1900-02-29T00:00:00Z",      /* century, not a leap year */
		"2026-04-31T00:00:00Z",      /* April has 30 days */
		"2026-02-00T00:00:00Z",      /* day 0 */
		"2026-02-22T10:00:00",       /* no zone */
		"2026-02-22T10:00:00.123",   /* no zone after a fraction */
		"2026-02-22 10:00:00Z",      /* space for T */
		"2026-02-22T24:00:00Z",      /* hour 24 */
		"2026-02-22T10:60:00Z",      /* minute 60 */
		"2026-02-22T10:00:00.Z",     /* empty fraction */
		"2026-02-22T10:00:00Z ",     /* trailing text */
		"2026-02-22T10:00:00+0100",  /* offset without colon */
		"2026-02-22T10:00:00+24:00", /* offset hour 24 */
		"2026-2-22T10:00:00Z",       /* one-digit month */
		"yesterday",
		"",
	};
	char buf[TT_TIME_ISO_LEN];
	int64_t ms;
	bool all;

	tt_time_format_iso(t0 + 123, buf);
	check(strcmp(buf, "2026-02-22T10:00:00.123Z") == 0, "tt_time_format_iso: 2026-02-22T10:00:00.123Z (got %s)", buf);
	tt_time_format_iso(0, buf);
	check(strcmp(buf, "1970-01-01T00:00:00.000Z") == 0, "tt_time_format_iso: the epoch (got %s)", buf);
	tt_time_format_iso(-1, buf);
	check(strcmp(buf, "1969-12-31T23:59:59.999Z") == 0, "tt_time_format_iso: one ms before the epoch (got %s)", buf);
	tt_time_format_iso(951782400000, buf);
	check(strcmp(buf, "2000-02-29T00:00:00.000Z") == 0, "tt_time_format_iso: leap day 2000 (got %s)", buf);
	tt_time_format_iso(253402300799999, buf);
	check(strcmp(buf, "9999-12-31T23:59:59.999Z") == 0, "tt_time_format_iso: the last ms of 9999 (got %s)", buf);
	tt_time_format_iso(-62167219200000, buf);
	check(strcmp(buf, "0000-01-01T00:00:00.000Z") == 0, "tt_time_format_iso: year 0 (got %s)", buf);
	tt_time_format_iso(4107542400000, buf);
	check(strcmp(buf, "2100-03-01T00:00:00.000Z") == 0, "tt_time_format_iso: 2100 is no leap year (got %s)", buf);

	check(parses_to("2026-02-22T10:00:00Z", t0), "tt_time_parse_iso: whole seconds, Z");
	check(parses_to("2026-02-22T10:00:00.123Z", t0 + 123), "tt_time_parse_iso: milliseconds");
	check(parses_to("2026-02-22T10:00:00.5Z", t0 + 500), "tt_time_parse_iso: one fraction digit");
	check(parses_to("2026-02-22T10:00:00.123456789Z", t0 + 123), "tt_time_parse_iso: nanoseconds cut to ms");
	check(parses_to("2026-02-22t10:00:00z", t0), "tt_time_parse_iso: lowercase t and z");
	check(parses_to("2026-02-22T11:00:00+01:00", t0), "tt_time_parse_iso: +01:00 offset");
	check(parses_to("2026-02-22T05:30:00-04:30", t0), "tt_time_parse_iso: -04:30 offset");
	check(parses_to("2000-02-29T00:00:00Z", 951782400000), "tt_time_parse_iso: leap day 2000");
	check(parses_to("2024-02-29T12:00:00Z", 1709208000000), "tt_time_parse_iso: leap day 2024");
	check(parses_to("1970-01-01T00:00:00Z", 0), "tt_time_parse_iso: the epoch");

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		check(rejected(bad[i]), "tt_time_parse_iso rejects '%s'", bad[i]);

	/* Round trips over a spread of instants (1970 .. ~2100). */
	all = true;
	for (int64_t i = 0, v = 0; i < 5000; i++) {
		v = (int64_t)(((uint64_t)v * 6364136223846793005ULL + 1442695040888963407ULL) >> 1);
		ms = v % 4102444800000;
		tt_time_format_iso(ms, buf);
		int64_t back = -1;

		if (!tt_time_parse_iso(buf, strlen(buf), &back) || back != ms) {
			diag("%lld -> %s -> %lld", (long long)ms, buf, (long long)back);
			all = false;
			break;
		}
	}
	check(all, "tt_time format/parse round trip over 5000 instants");

	tt_time_now_iso(buf);
	check(strlen(buf) == TT_TIME_ISO_LEN - 1 && tt_time_valid_iso(buf, strlen(buf)),
	    "tt_time_now_iso is a valid date-time (%s)", buf);
}

/* ---- tt_backoff --------------------------------------------------------- */

static void
test_backoff(void)
{
	struct tt_backoff b;
	int64_t d = 0, lo = INT64_MAX, hi = 0;
	bool ok = true;

	tt_backoff_init(&b, 1000, 60000, 2.0, 0.2, 0);
	for (int k = 0; k < 12; k++) {
		int64_t base = k < 6 ? (int64_t)1000 << k : 60000;

		int64_t upper = base * 12 / 10 < 60000 ? base * 12 / 10 : 60000;

		if (!tt_backoff_next(&b, &d) || d < base * 8 / 10 || d > upper) {
			diag("attempt %d: delay %lld, want %lld +/- 20%%", k + 1, (long long)d, (long long)base);
			ok = false;
		}
	}
	check(ok, "tt_backoff: 1000, 2000, 4000 ... 32000, then 60000, each +/- 20 %% and never above 60000");

	/* Jitter really varies: 400 first delays spread over most of the band. */
	for (int i = 0; i < 400; i++) {
		tt_backoff_init(&b, 1000, 60000, 2.0, 0.2, 0);
		tt_backoff_next(&b, &d);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	check(lo >= 800 && hi <= 1200 && lo < 900 && hi > 1100,
	    "tt_backoff: jitter spreads first delays over 800..1200 (saw %lld..%lld)", (long long)lo, (long long)hi);

	tt_backoff_init(&b, 1000, 60000, 2.0, 0.2, 3);
	ok = tt_backoff_next(&b, &d) && tt_backoff_next(&b, &d) && tt_backoff_next(&b, &d);
	check(ok && !tt_backoff_next(&b, &d) && !tt_backoff_next(&b, &d),
	    "tt_backoff: max_attempts 3 allows three delays, then refuses");
	tt_backoff_reset(&b);
	ok = tt_backoff_next(&b, &d) && d >= 800 && d <= 1200;
	check(ok, "tt_backoff_reset: the next delay starts from 1000 again (got %lld)", (long long)d);
	ok = tt_backoff_next(&b, &d) && tt_backoff_next(&b, &d) && !tt_backoff_next(&b, &d);
	check(ok, "tt_backoff_reset: max_attempts counts again from zero");

	tt_backoff_init(&b, 1000, 60000, 2.0, 0.2, 0);
	ok = true;
	for (int i = 0; i < 10000 && ok; i++)
		ok = tt_backoff_next(&b, &d) && d >= 48000 * (i >= 6) && d <= 72000;
	check(ok, "tt_backoff: max_attempts 0 never refuses, delays stay bounded");
}

/* ---- tt_hash ---------------------------------------------------------- */

static void
test_hash(void)
{
	struct tt_sha256 *h = tt_sha256_new();
	char hex[TT_SHA256_HEX_LEN], u1[TT_UUID_LEN], u2[TT_UUID_LEN];
	bool ok;

	if (!check(h != NULL, "tt_sha256_new"))
		return;
	ok = tt_sha256_hex(h, "", 0, hex);
	check(ok && strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
	    "tt_sha256_hex(\"\")");
	ok = tt_sha256_hex(h, "abc", 3, hex);
	check(ok && strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
	    "tt_sha256_hex(\"abc\")");
	ok = tt_sha256_hex(h, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	check(ok && strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
	    "tt_sha256_hex(448-bit NIST vector), context reused");
	tt_sha256_free(h);

	ok = tt_uuid_v4(u1) && tt_uuid_v4(u2);
	check(ok && strlen(u1) == 36, "tt_uuid_v4: 36 characters (%s)", u1);
	ok = true;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ok = ok && u1[i] == '-';
		else
			ok = ok && strchr("0123456789abcdef", u1[i]) != NULL && u1[i] != '\0';
	}
	check(ok, "tt_uuid_v4: 8-4-4-4-12 lowercase hex");
	check(u1[14] == '4', "tt_uuid_v4: version nibble is 4");
	check(strchr("89ab", u1[19]) != NULL && u1[19] != '\0', "tt_uuid_v4: RFC 4122 variant");
	check(strcmp(u1, u2) != 0, "tt_uuid_v4: two calls differ");
}

/* ---- tt_utf8_valid ---------------------------------------------------- */

static void
test_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
		bool valid;
		const char *name;
	} cases[] = {
		{ "", 0, true, "empty" },
		{ "plain ascii text, longer than eight bytes", 42, true, "ASCII" },
		{ "h\xc3\xa9llo", 6, true, "2-byte (e acute)" },
		{ "\xe6\x97\xa5\xe6\x9c\xac", 6, true, "3-byte (CJK)" },
		{ "\xf0\x9f\x98\x80", 4, true, "4-byte (emoji)" },
		{ "\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF" },
		{ "a\0b", 3, true, "embedded NUL" },
		{ "\xc0\x80", 2, false, "overlong C0 80" },
		{ "\xc1\xbf", 2, false, "overlong C1 BF" },
		{ "\xe0\x80\xaf", 3, false, "overlong 3-byte" },
		{ "\xf0\x80\x80\xaf", 4, false, "overlong 4-byte" },
		{ "\xed\xa0\x80", 3, false, "surrogate ED A0 80" },
		{ "\xed\xbf\xbf", 3, false, "surrogate ED BF BF" },
		{ "\xf4\x90\x80\x80", 4, false, "above U+10FFFF" },
		{ "\xf5\x80\x80\x80", 4, false, "F5 lead byte" },
		{ "\xe6\x97", 2, false, "truncated 3-byte" },
		{ "abcdefgh\xf0\x9f\x98", 11, false, "truncated 4-byte after ASCII" },
		{ "\x80", 1, false, "lone continuation byte" },
		{ "\xc3\x28", 2, false, "bad continuation byte" },
		{ "\xff", 1, false, "FF byte" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check(tt_utf8_valid(cases[i].s, cases[i].len) == cases[i].valid,
		    "tt_utf8_valid: %s is %s", cases[i].name, cases[i].valid ? "valid" : "invalid");
}

/* ---- tt_json ------------------------------------------------------------ */

static void
test_json(void)
{
	static const char doc[] =
	    " {\"a\" : { \"b\" : [1, 2, {\"c\":\"d\"}] , \"e\":null},"
	    "\"big\":18446744073709551615,\"neg\":-9223372036854775808,"
	    "\"f\":-0.5e10,\"g\":2.5,\"h\":3.0,\"s\":\"x\\u00e9\\n\",\"id\":\"7311234567890123456\"} ";
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_json_writer *w = tt_json_writer_new();
	struct tt_arena a;
	struct tt_json *root = NULL, *obj;
	const struct tt_json *v;
	const unsigned char *out;
	size_t outlen;
	char err[256] = "";
	char deep[2 * (TT_JSON_MAX_DEPTH + 1) + 1];
	enum tt_json_err rc;
	int64_t n = 0;

	if (!check(p != NULL && w != NULL, "tt_json_parser_new, tt_json_writer_new"))
		return;
	tt_arena_init(&a, 1 << 20);

	rc = tt_json_parse(p, &a, doc, strlen(doc), &root, err, sizeof err);
	if (!check(rc == TT_JSON_OK && root != NULL && root->kind == TT_JSON_OBJECT,
	        "tt_json_parse: a document with nesting (%s)", err))
		goto out;
	v = tt_json_get(root, "a");
	check(v != NULL && v->kind == TT_JSON_OBJECT &&
	        span_is(v->src, v->src_len, "{ \"b\" : [1, 2, {\"c\":\"d\"}] , \"e\":null}"),
	    "tt_json_parse: a nested object's span is its verbatim input text");
	v = tt_json_path(root, "a.b");
	check(v != NULL && v->kind == TT_JSON_ARRAY && v->count == 3 &&
	        span_is(v->src, v->src_len, "[1, 2, {\"c\":\"d\"}]"),
	    "tt_json_parse: a nested array's span is its verbatim input text");
	v = tt_json_at(tt_json_path(root, "a.b"), 2);
	check(v != NULL && span_is(v->src, v->src_len, "{\"c\":\"d\"}") &&
	        tt_json_str_eq(tt_json_get(v, "c"), "d"),
	    "tt_json_at / tt_json_get: third element, member c");
	check(tt_json_path(root, "a.e") != NULL && tt_json_path(root, "a.e")->kind == TT_JSON_NULL &&
	        tt_json_path(root, "a.nope") == NULL && tt_json_get(root, "zz") == NULL,
	    "tt_json_path: null member present, missing member NULL");
	v = tt_json_get(root, "big");
	check(v != NULL && v->kind == TT_JSON_NUMBER && span_is(v->str, v->len, "18446744073709551615"),
	    "tt_json_parse: a 64-bit number keeps its exact text");
	check(!tt_json_int(v, &n), "tt_json_int: 2^64-1 overflows int64, refused");
	v = tt_json_get(root, "neg");
	check(tt_json_int(v, &n) && n == INT64_MIN, "tt_json_int: INT64_MIN");
	v = tt_json_get(root, "f");
	check(v != NULL && span_is(v->str, v->len, "-0.5e10") && tt_json_int(v, &n) && n == -5000000000LL,
	    "tt_json_parse: -0.5e10 keeps its text; tt_json_int: it is the integer -5000000000");
	check(!tt_json_int(tt_json_get(root, "g"), &n), "tt_json_int: 2.5 is not an integer");
	check(tt_json_int(tt_json_get(root, "h"), &n) && n == 3, "tt_json_int: 3.0 is the integer 3");
	v = tt_json_get(root, "id");
	check(tt_json_int(v, &n) && n == 7311234567890123456LL, "tt_json_int: a digit string (proto3 int64)");
	v = tt_json_get(root, "s");
	check(v != NULL && v->kind == TT_JSON_STRING && span_is(v->str, v->len, "x\xc3\xa9\n"),
	    "tt_json_parse: string escapes are decoded");

	/* Writing a verbatim copy gives back the input text. */
	obj = tt_json_new(&a, TT_JSON_OBJECT);
	tt_json_add(obj, "copy", tt_json_new_copy(&a, tt_json_get(root, "a")));
	tt_json_add(obj, "n", tt_json_new_int(&a, -42));
	tt_json_add(obj, "t", tt_json_new_bool(&a, true));
	tt_json_add(obj, "s", tt_json_new_str(&a, "q\"", 2));
	check(!a.failed && tt_json_write(w, obj, &out, &outlen) &&
	        span_is((const char *)out, outlen,
	            "{\"copy\":{ \"b\" : [1, 2, {\"c\":\"d\"}] , \"e\":null},\"n\":-42,\"t\":true,\"s\":\"q\\\"\"}"),
	    "tt_json_write: built members and a verbatim copy");

	/* Depth: TT_JSON_MAX_DEPTH levels parse, one more does not. */
	for (int i = 0; i < TT_JSON_MAX_DEPTH; i++) {
		deep[i] = '[';
		deep[2 * TT_JSON_MAX_DEPTH - 1 - i] = ']';
	}
	tt_arena_reset(&a);
	rc = tt_json_parse(p, &a, deep, 2 * TT_JSON_MAX_DEPTH, &root, err, sizeof err);
	check(rc == TT_JSON_OK, "tt_json_parse: %d nested arrays parse (%s)", TT_JSON_MAX_DEPTH, err);
	for (int i = 0; i <= TT_JSON_MAX_DEPTH; i++) {
		deep[i] = '[';
		deep[2 * TT_JSON_MAX_DEPTH + 1 - i] = ']';
	}
	tt_arena_reset(&a);
	err[0] = '\0';
	rc = tt_json_parse(p, &a, deep, 2 * (TT_JSON_MAX_DEPTH + 1), &root, err, sizeof err);
	check(rc == TT_JSON_ERR_DEPTH && root == NULL && err[0] != '\0',
	    "tt_json_parse: %d nested arrays are TT_JSON_ERR_DEPTH (%s)", TT_JSON_MAX_DEPTH + 1, err);

	static const char *const syntax[] = { "{\"a\":1,}", "{\"a\":1} x", "", "   ", "{\"a\"}", "[1 2]", "nul", "{\"a\":01}" };
	for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++) {
		tt_arena_reset(&a);
		err[0] = '\0';
		rc = tt_json_parse(p, &a, syntax[i], strlen(syntax[i]), &root, err, sizeof err);
		check(rc == TT_JSON_ERR_SYNTAX && root == NULL && err[0] != '\0',
		    "tt_json_parse: '%s' is TT_JSON_ERR_SYNTAX (%s)", syntax[i], err);
	}
	tt_arena_reset(&a);
	rc = tt_json_parse(p, &a, "{\"a\":\"\xc0\x80\"}", 10, &root, err, sizeof err);
	check(rc == TT_JSON_ERR_UTF8 && root == NULL, "tt_json_parse: invalid UTF-8 is TT_JSON_ERR_UTF8");

	/* The arena's ceiling bounds the tree. */
	tt_arena_free(&a);
	tt_arena_init(&a, 512);
	rc = tt_json_parse(p, &a, doc, strlen(doc), &root, err, sizeof err);
	check(rc == TT_JSON_ERR_MEMORY && root == NULL, "tt_json_parse: past the arena ceiling is TT_JSON_ERR_MEMORY");
	tt_arena_reset(&a);
	rc = tt_json_parse(p, &a, "[1]", 3, &root, err, sizeof err);
	check(rc == TT_JSON_OK && !a.failed, "tt_arena_reset: the arena is usable again");
out:
	tt_arena_free(&a);
	tt_json_parser_free(p);
	tt_json_writer_free(w);
}

/* ---- tt_schema ---------------------------------------------------------- */

static const char small_schema[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
    " \"type\":\"object\", \"required\":[\"kind\",\"id\"],"
    " \"properties\":{"
    "   \"kind\":{\"enum\":[\"a\",\"b\"]},"
    "   \"id\":{\"$ref\":\"#/$defs/id\"},"
    "   \"n\":{\"type\":\"integer\",\"minimum\":0},"
    "   \"at\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "   \"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"minLength\":1}}},"
    " \"patternProperties\":{\"^_\":true},"
    " \"additionalProperties\":false,"
    " \"if\":{\"properties\":{\"kind\":{\"const\":\"b\"}}},"
    " \"then\":{\"required\":[\"n\"]},"
    " \"$defs\":{\"id\":{\"type\":\"string\",\"pattern\":\"^[0-9]{1,20}$\"}}}";

/* Validates text against s; want_ok, and on failure the path and keyword. */
static void
schema_case(const struct tt_schema *s, const char *text, bool want_ok,
    const char *want_path, const char *want_keyword)
{
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_arena a;
	struct tt_json *v = NULL;
	struct tt_schema_error e;
	char err[256];
	bool ok;

	memset(&e, 0, sizeof e);
	tt_arena_init(&a, 1 << 20);
	if (p == NULL || tt_json_parse(p, &a, text, strlen(text), &v, err, sizeof err) != TT_JSON_OK) {
		check(false, "tt_schema_validate: %s (test input does not parse)", text);
	} else {
		ok = tt_schema_validate(s, v, &e);
		if (want_ok)
			check(ok, "tt_schema_validate accepts %s (%s %s)", text, e.path, e.keyword);
		else
			check(!ok && strcmp(e.path, want_path) == 0 && strcmp(e.keyword, want_keyword) == 0,
			    "tt_schema_validate rejects %s at '%s' by %s (got '%s' %s: %s)", text,
			    want_path, want_keyword, e.path, e.keyword, e.message);
	}
	tt_arena_free(&a);
	tt_json_parser_free(p);
}

/* allOf entries of the form {if: {properties: {P: const|enum}}, then: T}
 * take a faster path; they must mean exactly what JSON Schema says, an
 * absent P included (the if then holds, so T applies). */
static const char disc_schema[] =
    "{\"type\":\"object\",\"allOf\":["
    " {\"if\":{\"properties\":{\"k\":{\"const\":\"a\"}}},\"then\":{\"required\":[\"x\"]}},"
    " {\"if\":{\"properties\":{\"k\":{\"enum\":[\"b\",\"c\"]}}},\"then\":{\"required\":[\"y\"]}}]}";

static void
test_schema_discriminator(void)
{
	char err[256] = "";
	struct tt_schema *s = tt_schema_compile(disc_schema, strlen(disc_schema), err, sizeof err);

	if (!check(s != NULL, "tt_schema_compile: if/then on one member (%s)", err))
		return;
	schema_case(s, "{\"k\":\"a\"}", false, "", "required");
	schema_case(s, "{\"k\":\"a\",\"x\":1}", true, NULL, NULL);
	schema_case(s, "{\"k\":\"c\",\"x\":1}", false, "", "required");
	schema_case(s, "{\"k\":\"c\",\"y\":1}", true, NULL, NULL);
	schema_case(s, "{\"k\":\"z\"}", true, NULL, NULL);
	/* k absent: both ifs hold, both thens apply. */
	schema_case(s, "{\"x\":1}", false, "", "required");
	schema_case(s, "{\"x\":1,\"y\":2}", true, NULL, NULL);
	tt_schema_free(s);
}

/* tt_json_write on a string longer than the writer's 4 KiB block, with
 * characters that need escaping across block edges: it parses back to
 * the same bytes. */
static void
test_json_write_long(void)
{
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_json_writer *w = tt_json_writer_new();
	struct tt_arena a;
	struct tt_json *v, *back = NULL;
	const unsigned char *out;
	size_t len, n = 10000;
	char *s = malloc(n), *copy = NULL, err[256];
	bool ok = p != NULL && w != NULL && s != NULL;

	tt_arena_init(&a, 1 << 24);
	for (size_t i = 0; ok && i < n; i++)
		s[i] = i % 97 == 0 ? '\n' : i % 89 == 0 ? '"' : i % 83 == 0 ? '\x01' : (char)('a' + i % 26);
	v = ok ? tt_json_new_str(&a, s, n) : NULL;
	ok = v != NULL && tt_json_write(w, v, &out, &len);
	if (ok) {
		copy = malloc(len);
		ok = copy != NULL;
		if (ok) {
			memcpy(copy, out, len);
			ok = tt_json_parse(p, &a, copy, len, &back, err, sizeof err) == TT_JSON_OK &&
			    back->kind == TT_JSON_STRING && back->len == n && memcmp(back->str, s, n) == 0;
		}
	}
	check(ok, "tt_json_write: a 10000-byte string with escapes across blocks parses back the same");
	free(copy);
	free(s);
	tt_arena_free(&a);
	tt_json_parser_free(p);
	tt_json_writer_free(w);
}

static bool
schema_refused(const char *text, const char *name)
{
	char err[256] = "";
	struct tt_schema *s = tt_schema_compile(text, strlen(text), err, sizeof err);

	tt_schema_free(s);
	return check(s == NULL && err[0] != '\0', "tt_schema_compile refuses %s (%s)", name, err);
}

static void
test_schema(void)
{
	char err[256] = "";
	struct tt_schema *s = tt_schema_compile(small_schema, strlen(small_schema), err, sizeof err);

	if (!check(s != NULL, "tt_schema_compile: a small schema (%s)", err))
		return;
	schema_case(s, "{\"kind\":\"a\",\"id\":\"123\"}", true, NULL, NULL);
	schema_case(s, "{\"kind\":\"b\",\"id\":\"1\",\"n\":5,\"_ack\":{\"x\":1}}", true, NULL, NULL);
	schema_case(s, "{\"kind\":\"a\",\"id\":\"1\",\"at\":\"2026-02-22T10:00:00Z\",\"tags\":[\"x\"]}", true, NULL, NULL);
	schema_case(s, "[]", false, "", "type");
	schema_case(s, "{\"kind\":\"a\"}", false, "", "required");
	schema_case(s, "{\"kind\":\"c\",\"id\":\"1\"}", false, "/kind", "enum");
	schema_case(s, "{\"kind\":\"a\",\"id\":\"12x\"}", false, "/id", "pattern");
	schema_case(s, "{\"kind\":\"a\",\"id\":\"123456789012345678901\"}", false, "/id", "pattern");
	schema_case(s, "{\"kind\":\"a\",\"id\":7}", false, "/id", "type");
	schema_case(s, "{\"kind\":\"a\",\"id\":\"1\",\"n\":\"5\"}", false, "/n", "type");
	schema_case(s, "{\"kind\":\"a\",\"id\":\"1\",\"n\":1.5}", false, "/n", "type");
	schema_case(s, "{\"kind\":\"a\",\"id\":\"1\",\"n\":-1}", false, "/n", "minimum");
	schema_case(s, "{\"kind\":\"b\",\"id\":\"1\"}", false, "", "required");
	schema_case(s, "{\"kind\":\"a\",\"id\":\"1\",\"at\":\"2026-02-30T00:00:00Z\"}", false, "/at", "format");
	schema_case(s, "{\"kind\":\"a\",\"id\":\"1\",\"tags\":[\"x\",\"\"]}", false, "/tags/1", "minLength");
	tt_schema_free(s);

	{
		struct tt_schema *t;
		char e2[256] = "";
		static const char extra[] = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":true}}";
		struct tt_json_parser *p = tt_json_parser_new();
		struct tt_arena a;
		struct tt_json *v = NULL;
		struct tt_schema_error se;
		bool ok;

		tt_arena_init(&a, 1 << 16);
		t = tt_schema_compile(extra, strlen(extra), e2, sizeof e2);
		ok = t != NULL && p != NULL &&
		    tt_json_parse(p, &a, "{\"a\":1,\"zz\":2}", 14, &v, e2, sizeof e2) == TT_JSON_OK &&
		    !tt_schema_validate(t, v, &se);
		check(ok, "tt_schema_validate: additionalProperties false rejects an unknown member");
		tt_schema_free(t);
		tt_arena_free(&a);
		tt_json_parser_free(p);
	}

	schema_refused("{\"type\":\"string\",\"frobnicate\":1}", "an unknown keyword");
	schema_refused("{\"type\":\"object\",\"requird\":[\"a\"]}", "a misspelt keyword");
	schema_refused("{\"properties\":{\"a\":{\"uniqueItems\":true}}}", "an unsupported keyword nested in properties");
	schema_refused("{\"$ref\":\"#/$defs/missing\"}", "a $ref to a missing definition");
	schema_refused("{\"type\":", "text that is not JSON");
}

/* ---- tt_lines ------------------------------------------------------------ */

/* Writes len bytes to a new temporary file; returns its path (static). */
static const char *
temp_file(const char *data, size_t len)
{
	static char path[256];
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof path, "%s/tt-unit-XXXXXX", dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		return NULL;
	}
	close(fd);
	return path;
}

struct want_line {
	enum tt_lines_status st;
	const char *text; /* NULL: do not compare */
	size_t len;
	uint64_t lineno;
};

static void
lines_case(const char *name, const char *data, size_t datalen, size_t max,
    const struct want_line *want, size_t nwant)
{
	const char *path = temp_file(data, datalen);
	struct tt_lines r;
	bool ok = true;

	if (path == NULL || !tt_lines_open(&r, path, max)) {
		check(false, "tt_lines: %s (cannot set up: %s)", name, strerror(errno));
		if (path != NULL)
			unlink(path);
		return;
	}
	for (size_t i = 0; i < nwant && ok; i++) {
		const char *line = NULL;
		size_t len = 0;
		enum tt_lines_status st = tt_lines_next(&r, &line, &len);

		if (st != want[i].st || (want[i].text != NULL &&
		        (len != want[i].len || memcmp(line, want[i].text, len) != 0)) ||
		    (st != TT_LINES_EOF && r.lineno != want[i].lineno)) {
			diag("%s: call %zu: status %d len %zu line %llu, want status %d len %zu line %llu",
			    name, i + 1, (int)st, len, (unsigned long long)r.lineno, (int)want[i].st,
			    want[i].len, (unsigned long long)want[i].lineno);
			ok = false;
		}
	}
	check(ok, "tt_lines: %s", name);
	tt_lines_close(&r);
	unlink(path);
}

static void
test_lines(void)
{
	char data[256];
	char *big;
	size_t n = 0;
	struct tt_lines r;
	const char *line;
	size_t len;
	bool ok;
	enum tt_lines_status st;
	uint64_t count = 0;

	/* CRLF, an empty line, an over-long line, a line of exactly max
	 * bytes, and a last line without a newline. */
	n = (size_t)snprintf(data, sizeof data, "one\r\n\n%s\ntwo\n%s\nlast",
	    "0123456789abcdefXYZ-over-long-0123456789", "0123456789abcdef");
	{
		const struct want_line want[] = {
			{ TT_LINES_OK, "one", 3, 1 },
			{ TT_LINES_OK, "", 0, 2 },
			{ TT_LINES_TOO_LONG, "0123456789abcdef", 16, 3 },
			{ TT_LINES_OK, "two", 3, 4 },
			{ TT_LINES_OK, "0123456789abcdef", 16, 5 },
			{ TT_LINES_OK, "last", 4, 6 },
			{ TT_LINES_EOF, NULL, 0, 0 },
			{ TT_LINES_EOF, NULL, 0, 0 },
		};

		lines_case("CRLF, blank, over-long, exactly max, last line without newline",
		    data, n, 16, want, sizeof want / sizeof want[0]);
	}
	{
		static const char d2[] = "a\nthis last line is longer than sixteen bytes";
		const struct want_line want[] = {
			{ TT_LINES_OK, "a", 1, 1 },
			{ TT_LINES_TOO_LONG, "this last line i", 16, 2 },
			{ TT_LINES_EOF, NULL, 0, 0 },
		};

		lines_case("an over-long last line without newline", d2, sizeof d2 - 1, 16,
		    want, sizeof want / sizeof want[0]);
	}
	{
		static const char d3[] = "";
		const struct want_line want[] = { { TT_LINES_EOF, NULL, 0, 0 } };

		lines_case("an empty file", d3, 0, 16, want, 1);
	}
	{
		static const char d4[] = "x\r";
		const struct want_line want[] = {
			{ TT_LINES_OK, "x", 1, 1 },
			{ TT_LINES_EOF, NULL, 0, 0 },
		};

		lines_case("a last line ending in CR only", d4, 2, 16, want, 2);
	}

	/* Many lines across read-block boundaries, and an over-long line far
	 * longer than one block. */
	big = malloc(4 << 20);
	if (!check(big != NULL, "tt_lines: allocate a big input"))
		return;
	n = 0;
	for (unsigned i = 1; i <= 50000; i++) {
		n += (size_t)snprintf(big + n, (4u << 20) - n, "line %u\n", i);
		if (i == 25000) {
			memset(big + n, 'z', 300000);
			n += 300000;
			big[n++] = '\n';
		}
	}
	{
		const char *path = temp_file(big, n);

		ok = path != NULL && tt_lines_open(&r, path, 1024);
		if (ok) {
			uint64_t want = 1;
			char expect[32];

			while ((st = tt_lines_next(&r, &line, &len)) != TT_LINES_EOF && ok) {
				unsigned k = (unsigned)(want <= 25000 ? want : want - 1);

				count++;
				if (want == 25001) {
					ok = st == TT_LINES_TOO_LONG && len == 1024 && r.lineno == want;
				} else {
					snprintf(expect, sizeof expect, "line %u", k);
					ok = st == TT_LINES_OK && span_is(line, len, expect) && r.lineno == want;
				}
				if (!ok)
					diag("line %llu: status %d len %zu", (unsigned long long)want, (int)st, len);
				want++;
			}
			tt_lines_close(&r);
		}
		if (path != NULL)
			unlink(path);
		check(ok && count == 50001, "tt_lines: 50001 lines across read blocks, one 300 kB line cut (%llu read)",
		    (unsigned long long)count);
	}
	free(big);

	errno = 0;
	check(!tt_lines_open(&r, "/nonexistent/tt-unit", 64) && errno == ENOENT,
	    "tt_lines_open: a missing file fails with ENOENT");
}

/* ---- tt_log_redact_url ---------------------------------------------------- */

static void
redact_case(const char *url, const char *want)
{
	char out[256];

	tt_log_redact_url(url, out, sizeof out);
	check(strcmp(out, want) == 0, "tt_log_redact_url(%s) = %s (got %s)", url, want, out);
}

static void
test_redact(void)
{
	char small[12];

	redact_case("postgresql://u:secret@h/db", "postgresql://u:***@h/db");
	redact_case("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0");
	redact_case("postgresql://u:p@ss@h:5432/db?sslmode=require", "postgresql://u:***@h:5432/db?sslmode=require");
	redact_case("postgresql://u@h/db", "postgresql://***@h/db"); /* a lone userinfo may be a password */
	redact_case("postgresql://h:5432/db", "postgresql://h:5432/db");
	redact_case("postgresql://ttlc:@127.0.0.1:6391/ttlc", "postgresql://ttlc:***@127.0.0.1:6391/ttlc"); /* empty password */
	redact_case("postgresql://h/db?password=secret&sslmode=require", "postgresql://h/db?password=***&sslmode=require");
	redact_case("host=h password=secret dbname=x", "host=h password=*** dbname=x");
	redact_case("postgresql://u:sec/ret@h/db", "postgresql://u:***@h/db");
	redact_case("wss://ws.example/?uniqueId=a&apiKey=k3y", "wss://ws.example/?uniqueId=a&apiKey=***");
	redact_case("host=h password='se cret' dbname=x", "host=h password=*** dbname=x");
	redact_case("host=h password = secret", "host=h password = ***");
	redact_case("redis://s3cret@127.0.0.1:6379", "redis://***@127.0.0.1:6379");
	redact_case("redis://:pa#ss@h:1", "redis://:***@h:1");
	redact_case("postgresql://h/db?sslpassword=s3cr3t", "postgresql://h/db?sslpassword=***");
	redact_case("https://h/cb?access_token=t0k3n&x=1", "https://h/cb?access_token=***&x=1");
	redact_case("http://h/path@x:y", "http://***@x:y"); /* an @ anywhere may end a userinfo: hide too much, never too little */
	{
		char out[256];

		tt_log_redact_url("postgresql://u:secret@h/db", out, sizeof out);
		check(strstr(out, "secret") == NULL, "tt_log_redact_url: the password never appears");
	}
	memset(small, 'x', sizeof small);
	tt_log_redact_url("postgresql://u:secret@h/db", small, sizeof small);
	check(memchr(small, '\0', sizeof small) != NULL && strstr(small, "secret") == NULL,
	    "tt_log_redact_url: a short buffer is terminated and leaks nothing (%s)", small);
}

/* ---- tt_redis_receive_in ------------------------------------------------ */

/* A peer speaking just enough RESP: answers the PING of a connect, then
 * answers the next command with the start of an array of two strings and
 * hangs up. No real Redis can be made to cut a reply at a chosen byte. */
static pid_t
half_reply_peer(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t salen = sizeof sa;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	pid = fork();
	if (pid == 0) {
		char buf[4096];
		int fd = accept(lfd, NULL, NULL);
		const char *pong = "+PONG\r\n", *half = "*2\r\n$3\r\nfoo\r\n$3\r\nb";

		if (fd < 0 || read(fd, buf, sizeof buf) <= 0 || write(fd, pong, strlen(pong)) < 0 ||
		    read(fd, buf, sizeof buf) <= 0 || write(fd, half, strlen(half)) < 0)
			_exit(1);
		close(fd);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void
test_redis_half_reply(void)
{
	struct tt_redis r;
	struct tt_arena a;
	char url[64], err[256];
	const char *argv[1] = { "XREADGROUP" };
	const size_t lens[1] = { 10 };
	int port = 0, status = -1;
	pid_t pid = half_reply_peer(&port);
	redisReply *reply;

	if (!check(pid > 0, "tt_redis: a fake peer listens")) {
		diag("%s", strerror(errno));
		return;
	}
	snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
	tt_arena_init(&a, 1u << 20);
	check(tt_redis_init(&r, url, err, sizeof err) && tt_redis_connect(&r), "tt_redis: connects to the fake peer");
	check(tt_redis_append(&r, 1, argv, lens) && tt_redis_send(&r), "tt_redis: sends a command");
	/* Regression: the half-built reply lived in the arena and hiredis
	 * freed it with free() (ASan: bad-free) when the connection dropped. */
	reply = tt_redis_receive_in(&r, &a);
	check(reply == NULL && r.ctx == NULL, "tt_redis_receive_in: a reply cut short is a lost connection");
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tt_redis: the fake peer sent half a reply");
	tt_redis_free(&r);
	tt_arena_free(&a);
}

/* ---- tt_arena_mark / tt_arena_release --------------------------------- */

static void
test_arena_mark(void)
{
	struct tt_arena a;
	struct tt_arena_mark m;
	char *kept, *later;

	tt_arena_init(&a, 1u << 30);
	kept = tt_arena_strdup(&a, "kept", 4);
	m = tt_arena_mark(&a);
	/* Several chunks' worth after the mark, then back to it. */
	for (int i = 0; i < 64; i++)
		check(tt_arena_alloc(&a, 16 * 1024) != NULL, "arena alloc %d", i);
	check(a.used > m.used, "arena used grows after the mark");
	tt_arena_release(&a, m);
	check(a.used == m.used, "release gives back all after the mark (used %zu, want %zu)", a.used, m.used);
	check(strcmp(kept, "kept") == 0, "what came before the mark stays");
	later = tt_arena_strdup(&a, "later", 5);
	check(later != NULL && later == kept + m.off, "the next allocation reuses the released space");
	/* A mark on an empty arena releases everything. */
	tt_arena_reset(&a);
	tt_arena_free(&a);
	tt_arena_init(&a, 1u << 20);
	m = tt_arena_mark(&a);
	check(tt_arena_alloc(&a, 100) != NULL, "alloc on a fresh arena");
	tt_arena_release(&a, m);
	check(a.used == 0 && a.head == NULL, "release to an empty mark empties the arena");
	tt_arena_free(&a);
}

/* ---- tt_pbjson ---------------------------------------------------------- */

/* Encodes m into a fresh buffer (ceiling max); returns its text (static
 * storage, NUL-terminated) or NULL when the encoder failed. */
static const char *
pbjson_of(const ProtobufCMessage *m, size_t max, char *err, size_t errsz)
{
	static char text[8192];
	struct tt_buf b;
	bool ok;

	tt_buf_init(&b, max);
	ok = tt_pbjson_encode(&b, m, err, errsz);
	if (ok)
		snprintf(text, sizeof text, "%.*s", (int)b.len, b.data);
	tt_buf_free(&b);
	return ok ? text : NULL;
}

/* Whether text is one valid JSON value (and UTF-8). */
static bool
json_valid(const char *text, size_t len)
{
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_arena a;
	struct tt_json *v;
	char err[128];
	bool ok;

	tt_arena_init(&a, 64u << 20);
	ok = p != NULL && tt_json_parse(p, &a, text, len, &v, err, sizeof err) == TT_JSON_OK;
	if (!ok)
		diag("invalid JSON (%s): %.200s", err, text);
	tt_arena_free(&a);
	tt_json_parser_free(p);
	return ok;
}

static bool
pbjson_is(const ProtobufCMessage *m, const char *want)
{
	char err[128] = "";
	const char *got = pbjson_of(m, 1u << 20, err, sizeof err);

	if (got == NULL) {
		diag("encoder failed: %s", err);
		return false;
	}
	if (strcmp(got, want) != 0) {
		diag("got  %s", got);
		diag("want %s", want);
		return false;
	}
	return json_valid(got, strlen(got));
}

/* U+FFFD in UTF-8. */
#define R1 "\xef\xbf\xbd"

static void
test_pbjson(void)
{
	Pbtest__Scalars s = PBTEST__SCALARS__INIT, child = PBTEST__SCALARS__INIT;
	Pbtest__Inner inner = PBTEST__INNER__INIT, item1 = PBTEST__INNER__INIT, item3 = PBTEST__INNER__INIT;
	Pbtest__Inner five = PBTEST__INNER__INIT;
	Pbtest__Inner *items[] = { &item1, &item3 };
	Pbtest__Scalars__LabelsEntry l1 = PBTEST__SCALARS__LABELS_ENTRY__INIT, l2 = l1, l3 = l1;
	Pbtest__Scalars__LabelsEntry *labels[] = { &l1, &l2, &l3 };
	Pbtest__Scalars__ByIdEntry b1 = PBTEST__SCALARS__BY_ID_ENTRY__INIT, b2 = b1;
	Pbtest__Scalars__ByIdEntry *byid[] = { &b1, &b2 };
	Pbtest__Scalars__FlagsEntry f1 = PBTEST__SCALARS__FLAGS_ENTRY__INIT;
	Pbtest__Scalars__FlagsEntry *flags[] = { &f1 };
	Pbtest__ListEntry le = PBTEST__LIST_ENTRY__INIT;
	Pbtest__ListEntry *list[] = { &le };
	Pbtest__Scalars *children[] = { &child };
	int64_t ids[] = { 1, -2 };
	char *tags[] = { (char *)"p", (char *)"q" };
	uint8_t raw[] = { 0, 1, 2, 0xff };
	char err[128];
	struct tt_buf b;

	check(pbjson_is(&s.base, "{}"), "pbjson: a message of defaults is {}");

	s.i32 = -5;
	s.i64 = INT64_MIN;
	s.u32 = 4000000000u;
	s.u64 = UINT64_MAX;
	s.s32 = -7;
	s.s64 = -9007199254740993;
	s.f32 = 7;
	s.f64 = 8;
	s.sf32 = -9;
	s.sf64 = -10;
	s.flag = 1;
	s.fl = 1.5f;
	s.db = 0.1;
	s.str = (char *)"a\"b\\c\n\t\x01/\xc3\xa9";
	s.raw.data = raw;
	s.raw.len = sizeof raw;
	s.colour = PBTEST__COLOUR__COLOUR_BLUE;
	s.inner = &inner;
	s.n_ids = 2;
	s.ids = ids;
	s.n_tags = 2;
	s.tags = tags;
	item3.n = 3;
	s.n_items = 2;
	s.items = items;
	l1.key = (char *)"k";
	l1.value = (char *)"v1";
	l2.key = (char *)"j";
	l2.value = (char *)"";
	l3.key = (char *)"k";
	l3.value = (char *)"v2";
	s.n_labels = 3;
	s.labels = labels;
	five.name = (char *)"five";
	b1.key = 5;
	b1.value = &five;
	b2.key = 0;
	b2.value = NULL;
	s.n_byid = 2;
	s.byid = byid;
	f1.key = 1;
	f1.value = 0;
	s.n_flags = 1;
	s.flags = flags;
	s.choice_case = PBTEST__SCALARS__CHOICE_PICK;
	s.pick = 0;
	child.i32 = 1;
	s.n_children = 1;
	s.children = children;
	le.key = (char *)"a";
	le.value = (char *)"b";
	s.n_list = 1;
	s.list = list;
	check(pbjson_is(&s.base,
	    "{\"i32\":-5,\"i64\":\"-9223372036854775808\",\"u32\":4000000000,\"u64\":\"18446744073709551615\","
	    "\"s32\":-7,\"s64\":\"-9007199254740993\",\"f32\":7,\"f64\":\"8\",\"sf32\":-9,\"sf64\":\"-10\","
	    "\"flag\":true,\"fl\":1.5,\"db\":0.10000000000000001,"
	    "\"str\":\"a\\\"b\\\\c\\n\\t\\u0001/\xc3\xa9\",\"raw\":\"AAEC/w==\",\"colour\":2,\"inner\":{},"
	    "\"ids\":[\"1\",\"-2\"],\"tags\":[\"p\",\"q\"],\"items\":[{},{\"n\":3}],"
	    "\"labels\":{\"j\":\"\",\"k\":\"v2\"},\"byId\":{\"5\":{\"name\":\"five\"},\"0\":{}},"
	    "\"flags\":{\"true\":0},\"pick\":0,\"children\":[{\"i32\":1}],"
	    "\"list\":[{\"key\":\"a\",\"value\":\"b\"}]}"),
	    "pbjson: every scalar type, enum by number, repeated, maps (last key wins), oneof zero, {}");
	check(tt_pbjson_is_map(&pbtest__scalars__descriptor, &pbtest__scalars__descriptor.fields[20]) &&
	    !tt_pbjson_is_map(&pbtest__scalars__descriptor, &pbtest__scalars__descriptor.fields[26]) &&
	    !tt_pbjson_is_map(&pbtest__scalars__descriptor, &pbtest__scalars__descriptor.fields[19]),
	    "pbjson: maps are told from look-alike repeated messages");

	{
		Pbtest__Scalars n = PBTEST__SCALARS__INIT;

		n.db = NAN;
		n.fl = -INFINITY;
		check(pbjson_is(&n.base, "{\"fl\":\"-Infinity\",\"db\":\"NaN\"}"), "pbjson: NaN and -Infinity as strings");
		n.db = INFINITY;
		n.fl = 0;
		check(pbjson_is(&n.base, "{\"db\":\"Infinity\"}"), "pbjson: Infinity as a string, 0.0 left out");
		n.db = 0;
		n.str = (char *)"a\xff" "b\xc3" "c\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82";
		check(pbjson_is(&n.base, "{\"str\":\"a" R1 "b" R1 "c" R1 R1 R1 R1 R1 R1 R1 R1 R1 R1 R1 "\"}"),
		    "pbjson: invalid UTF-8 (stray, cut, overlong, surrogate, past U+10FFFF) becomes U+FFFD per byte");
		n.str = (char *)"\xf0\x9f\x98\x80\x7f\x1f";
		check(pbjson_is(&n.base, "{\"str\":\"\xf0\x9f\x98\x80\x7f\\u001f\"}"),
		    "pbjson: 4-byte UTF-8 kept, control characters escaped");
	}

	check(pbjson_of(&s.base, 64, err, sizeof err) == NULL && strstr(err, "larger than 64") != NULL,
	    "pbjson: past the ceiling is an error, not a crash (%s)", err);
	{
		Pbtest__Scalars chain[40];
		Pbtest__Scalars *links[40];

		for (int i = 0; i < 40; i++) {
			Pbtest__Scalars init = PBTEST__SCALARS__INIT;

			chain[i] = init;
			links[i] = &chain[i];
		}
		for (int i = 0; i + 1 < 40; i++) {
			chain[i].n_children = 1;
			chain[i].children = &links[i + 1];
		}
		err[0] = '\0';
		check(pbjson_of(&chain[0].base, 1u << 20, err, sizeof err) == NULL && strstr(err, "deep") != NULL,
		    "pbjson: nesting past the depth guard is an error (%s)", err);
		chain[20].n_children = 0;
		check(pbjson_of(&chain[0].base, 1u << 20, err, sizeof err) != NULL, "pbjson: 20 levels are fine");
	}
	tt_buf_init(&b, 1024);
	tt_pbjson_base64(&b, "", 0);
	tt_pbjson_base64(&b, "f", 1);
	tt_buf_addc(&b, '|');
	tt_pbjson_base64(&b, "fo", 2);
	tt_buf_addc(&b, '|');
	tt_pbjson_base64(&b, "foo", 3);
	tt_buf_addc(&b, '|');
	tt_pbjson_base64(&b, "foob", 4);
	check(span_is(b.data, b.len, "Zg==|Zm8=|Zm9v|Zm9vYg=="), "pbjson: base64 with padding (RFC 4648 vectors)");
	tt_buf_free(&b);
	tt_buf_init(&b, 8);
	check(!tt_buf_add(&b, "123456789", 9) && b.failed && b.len == 0 && tt_buf_add(&b, "12345678", 8),
	    "tt_buf: growing past the ceiling fails and appends nothing");
	tt_buf_free(&b);
}

/* ---- tt_webcast --------------------------------------------------------- */

struct bytes {
	uint8_t *p;
	size_t len;
};

static struct bytes
pack_msg(const ProtobufCMessage *m)
{
	struct bytes b;

	b.len = protobuf_c_message_get_packed_size(m);
	b.p = malloc(b.len + 1);
	protobuf_c_message_pack(m, b.p);
	return b;
}

/* gzip of p[0..len) (level 1), malloc'd. */
static struct bytes
gzip_bytes(const void *p, size_t len)
{
	z_stream z;
	struct bytes b;

	memset(&z, 0, sizeof z);
	deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	b.len = deflateBound(&z, len);
	b.p = malloc(b.len);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	z.next_out = b.p;
	z.avail_out = (uInt)b.len;
	deflate(&z, Z_FINISH);
	b.len = z.total_out;
	deflateEnd(&z);
	return b;
}

/* A push frame of type "msg" around payload (gzipped when asked). */
static struct bytes
msg_frame(const struct bytes *payload, bool gzip, uint64_t log_id)
{
	Webcast__WebcastPushFrame pf = WEBCAST__WEBCAST_PUSH_FRAME__INIT;
	struct bytes z = { NULL, 0 }, out;

	if (gzip)
		z = gzip_bytes(payload->p, payload->len);
	pf.logid = (int64_t)log_id;
	pf.seqid = 9;
	pf.payloadencoding = (char *)"pb";
	pf.payloadtype = (char *)"msg";
	pf.payload.data = gzip ? z.p : payload->p;
	pf.payload.len = gzip ? z.len : payload->len;
	out = pack_msg(&pf.base);
	free(z.p);
	return out;
}

/* A fetch result of the given messages (method, payload pairs). */
static struct bytes
fetch_result(size_t n, const char *const *methods, const struct bytes *payloads, bool need_ack)
{
	Webcast__ProtoMessageFetchResult r = WEBCAST__PROTO_MESSAGE_FETCH_RESULT__INIT;
	Webcast__BaseProtoMessage bm[8], *bp[8];
	Webcast__ProtoMessageFetchResult__RouteParamsEntry rp = WEBCAST__PROTO_MESSAGE_FETCH_RESULT__ROUTE_PARAMS_ENTRY__INIT;
	Webcast__ProtoMessageFetchResult__RouteParamsEntry *rps[] = { &rp };

	for (size_t i = 0; i < n && i < 8; i++) {
		Webcast__BaseProtoMessage init = WEBCAST__BASE_PROTO_MESSAGE__INIT;

		bm[i] = init;
		bm[i].method = (char *)methods[i];
		bm[i].payload.data = payloads[i].p;
		bm[i].payload.len = payloads[i].len;
		bm[i].msgid = (int64_t)(1000 + i);
		bm[i].ishistory = i == 0;
		bp[i] = &bm[i];
	}
	r.n_messages = n;
	r.messages = bp;
	r.cursor = (char *)"c-1";
	r.internalext = (char *)"ext:1|2";
	r.needack = need_ack;
	r.heartbeatduration = 10000;
	r.pushserver = (char *)"wss://push.example/ws";
	rp.key = (char *)"im_path";
	rp.value = (char *)"/x";
	r.n_routeparams = 1;
	r.routeparams = rps;
	return pack_msg(&r.base);
}

static void
test_webcast_encoders(struct tt_webcast *w)
{
	uint8_t buf[256];
	struct tt_wc_frame f;
	char err[256];
	size_t n;
	Webcast__WebcastPushFrame *pf;

	n = tt_webcast_ack(buf, sizeof buf, 7340702509671467807u, "ext:abc", 7);
	check(n > 0 && tt_webcast_decode_frame(w, buf, n, &f, err, sizeof err) == TT_WC_OK &&
	    strcmp(f.payload_type, "ack") == 0 && f.log_id == 7340702509671467807u && !f.has_result,
	    "webcast: an ack decodes back to payloadType ack and its logId");
	pf = webcast__webcast_push_frame__unpack(NULL, n, buf);
	check(pf != NULL && strcmp(pf->payloadencoding, "pb") == 0 && pf->payload.len == 7 &&
	    memcmp(pf->payload.data, "ext:abc", 7) == 0 && pf->seqid == 0,
	    "webcast: the ack's payload is internalExt, encoding pb");
	webcast__webcast_push_frame__free_unpacked(pf, NULL);
	check(tt_webcast_ack(buf, 10, 1, "ext:abc", 7) == 0, "webcast: an ack that does not fit returns 0");

	n = tt_webcast_heartbeat(buf, sizeof buf, 7340691647148018438u, 3);
	pf = webcast__webcast_push_frame__unpack(NULL, n, buf);
	if (check(n > 0 && pf != NULL && strcmp(pf->payloadtype, "hb") == 0, "webcast: a heartbeat frame has type hb")) {
		Webcast__HeartBeatMessage *hb = webcast__heart_beat_message__unpack(NULL, pf->payload.len, pf->payload.data);

		check(hb != NULL && (uint64_t)hb->roomid == 7340691647148018438u && hb->sendpacketseqid == 3,
		    "webcast: the heartbeat carries roomId and sendPacketSeqId");
		webcast__heart_beat_message__free_unpacked(hb, NULL);
	}
	webcast__webcast_push_frame__free_unpacked(pf, NULL);

	n = tt_webcast_enter_room(buf, sizeof buf, 7340691647148018438u, 123456789012345u);
	pf = webcast__webcast_push_frame__unpack(NULL, n, buf);
	if (check(n > 0 && pf != NULL && strcmp(pf->payloadtype, "im_enter_room") == 0 &&
	    strcmp(pf->payloadencoding, "pb") == 0, "webcast: enter room frame has type im_enter_room")) {
		Webcast__WebcastImEnterRoomMessage *m =
		    webcast__webcast_im_enter_room_message__unpack(NULL, pf->payload.len, pf->payload.data);

		check(m != NULL && (uint64_t)m->roomid == 7340691647148018438u && m->liveid == 12 &&
		    strcmp(m->identity, "audience") == 0 && m->enteruniqueid == 123456789012345 &&
		    strcmp(m->filterwelcomemsg, "0") == 0,
		    "webcast: enter room carries roomId, liveId 12, audience, enterUniqueId, filterWelcomeMsg 0");
		webcast__webcast_im_enter_room_message__free_unpacked(m, NULL);
	}
	webcast__webcast_push_frame__free_unpacked(pf, NULL);
	check(tt_webcast_enter_room(buf, 8, 1, 1) == 0, "webcast: enter room that does not fit returns 0");
}

static void
test_webcast_decode(struct tt_webcast *w)
{
	Webcast__WebcastChatMessage chat = WEBCAST__WEBCAST_CHAT_MESSAGE__INIT;
	Webcast__WebcastControlMessage ctl = WEBCAST__WEBCAST_CONTROL_MESSAGE__INIT;
	Webcast__CommonMessageData common = WEBCAST__COMMON_MESSAGE_DATA__INIT;
	Webcast__User user = WEBCAST__USER__INIT;
	const char *methods[] = { "WebcastChatMessage", "WebcastFooMessage", "WebcastGiftMessage",
		"WebcastControlMessage", "bad name!" };
	struct bytes payloads[5], result, frame;
	struct tt_wc_frame f;
	char err[256];
	enum tt_wc_status st;

	common.method = (char *)"WebcastChatMessage";
	common.msgid = 7340702509671467807;
	common.createtime = 1709140492750;
	user.id = 42;
	user.nickname = (char *)"Ola \"O\"";
	chat.common = &common;
	chat.user = &user;
	chat.content = (char *)"hi\xff";
	payloads[0] = pack_msg(&chat.base);
	payloads[1] = (struct bytes){ (uint8_t *)strdup("\x08\x01"), 2 };
	payloads[2] = (struct bytes){ (uint8_t *)strdup("\x0a\x7f\x01"), 3 }; /* length past the end */
	ctl.action = 3;
	payloads[3] = pack_msg(&ctl.base);
	payloads[4] = (struct bytes){ (uint8_t *)strdup(""), 0 };
	result = fetch_result(5, methods, payloads, true);

	for (int gz = 0; gz <= 1; gz++) {
		frame = msg_frame(&result, gz, 77);
		st = tt_webcast_decode_frame(w, frame.p, frame.len, &f, err, sizeof err);
		if (!check(st == TT_WC_OK && f.gzip == gz && f.has_result && f.nmessages == 5,
		    "webcast: %s msg frame decodes (%s)", gz ? "gzipped" : "plain", err)) {
			free(frame.p);
			continue;
		}
		check(f.log_id == 77 && f.seq_id == 9 && f.need_ack && strcmp(f.internal_ext, "ext:1|2") == 0 &&
		    f.internal_ext_len == 7 && strcmp(f.cursor, "c-1") == 0 && f.heartbeat_ms == 10000 &&
		    strcmp(f.push_server, "wss://push.example/ws") == 0 && f.nroute == 1 &&
		    strcmp(f.route_keys[0], "im_path") == 0 && strcmp(f.route_values[0], "/x") == 0,
		    "webcast: frame and fetch result fields (%s)", gz ? "gzip" : "plain");
		check(f.messages[0].json != NULL && f.messages[0].error == NULL && f.messages[0].is_history &&
		    f.messages[0].create_time_ms == 1709140492750 && f.messages[0].msg_id == 1000 &&
		    span_is(f.messages[0].json, f.messages[0].json_len,
		    "{\"common\":{\"method\":\"WebcastChatMessage\",\"msgId\":\"7340702509671467807\","
		    "\"createTime\":\"1709140492750\"},\"user\":{\"id\":\"42\",\"nickname\":\"Ola \\\"O\\\"\"},"
		    "\"content\":\"hi\xef\xbf\xbd\"}"),
		    "webcast: a chat message becomes proto3 JSON");
		check(f.messages[1].json == NULL && f.messages[1].error == NULL &&
		    span_is(f.messages[1].b64, f.messages[1].b64_len, "CAE=") && f.messages[1].b64[-1] == '"' &&
		    f.messages[1].b64[f.messages[1].b64_len] == '"',
		    "webcast: a method not in the .proto is lossless base64, no error");
		check(f.messages[2].json == NULL && f.messages[2].error != NULL &&
		    strncmp(f.messages[2].error, "cannot decode WebcastGiftMessage: ", 34) == 0 &&
		    span_is(f.messages[2].b64, f.messages[2].b64_len, "Cn8B"),
		    "webcast: an undecodable message keeps its bytes and says why (%s)",
		    f.messages[2].error != NULL ? f.messages[2].error : "no error");
		check(f.messages[3].control_action == 3 && f.messages[3].json != NULL &&
		    span_is(f.messages[3].json, f.messages[3].json_len, "{\"action\":3}"),
		    "webcast: control action is reported");
		check(strcmp(f.messages[4].method, "Unknown") == 0 && f.messages[4].error != NULL &&
		    f.messages[4].b64_len == 0, "webcast: an invalid method name becomes Unknown with an error");
		free(frame.p);
	}
	st = tt_webcast_decode_result(w, result.p, result.len, &f, err, sizeof err);
	check(st == TT_WC_OK && f.has_result && f.nmessages == 5 && strcmp(f.payload_type, "") == 0 &&
	    f.messages[3].control_action == 3, "webcast: a bare fetch result (sign server body) decodes");

	/* Damage. */
	check(tt_webcast_decode_frame(w, "\x08\xff", 2, &f, err, sizeof err) == TT_WC_BAD_FRAME &&
	    strstr(err, "not a push frame") != NULL, "webcast: garbage is BAD_FRAME (%s)", err);
	check(tt_webcast_decode_frame(w, "", 0, &f, err, sizeof err) == TT_WC_OK && f.payload_type[0] == '\0' &&
	    !f.has_result, "webcast: an empty frame has no payload type and no messages");
	frame = msg_frame(&result, true, 1);
	check(tt_webcast_decode_frame(w, frame.p, frame.len / 2, &f, err, sizeof err) == TT_WC_BAD_FRAME,
	    "webcast: a truncated frame is BAD_FRAME");
	free(frame.p);
	{
		struct bytes z = gzip_bytes(result.p, result.len), cut;
		Webcast__WebcastPushFrame pf = WEBCAST__WEBCAST_PUSH_FRAME__INIT;
		Webcast__PushHeader h = WEBCAST__PUSH_HEADER__INIT, *hs[] = { &h };

		pf.payloadtype = (char *)"msg";
		pf.payload.data = z.p;
		pf.payload.len = z.len - 10;
		cut = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, cut.p, cut.len, &f, err, sizeof err) == TT_WC_BAD_GZIP,
		    "webcast: a truncated gzip payload is BAD_GZIP (%s)", err);
		free(cut.p);
		z.p[5] ^= 0xff;
		z.p[12] ^= 0xff;
		z.p[20] ^= 0xff;
		pf.payload.len = z.len;
		cut = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, cut.p, cut.len, &f, err, sizeof err) != TT_WC_OK,
		    "webcast: a corrupt gzip payload is an error (%s)", err);
		free(cut.p);
		/* Header says gzip, payload is not. */
		h.key = (char *)"compress_type";
		h.value = (char *)"gzip";
		pf.n_headers = 1;
		pf.headers = hs;
		pf.payload.data = result.p;
		pf.payload.len = result.len;
		cut = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, cut.p, cut.len, &f, err, sizeof err) == TT_WC_BAD_GZIP && f.gzip,
		    "webcast: compress_type=gzip on a plain payload is BAD_GZIP");
		free(cut.p);
		pf.n_headers = 0;
		pf.payload.data = (uint8_t *)"\xff\xff\xff";
		pf.payload.len = 3;
		cut = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, cut.p, cut.len, &f, err, sizeof err) == TT_WC_BAD_RESULT &&
		    !f.has_result, "webcast: a msg payload that is no fetch result is BAD_RESULT");
		free(cut.p);
		pf.payloadtype = (char *)"hb";
		cut = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, cut.p, cut.len, &f, err, sizeof err) == TT_WC_OK &&
		    strcmp(f.payload_type, "hb") == 0 && !f.has_result,
		    "webcast: other payload types give only the frame fields");
		free(cut.p);
		free(z.p);
	}
	{
		/* The gzip header is parsed by the decoder itself: every optional
		 * field, and the length in the trailer. */
		z_stream zs;
		gz_header gh;
		Webcast__WebcastPushFrame pf = WEBCAST__WEBCAST_PUSH_FRAME__INIT;
		Webcast__PushHeader h = WEBCAST__PUSH_HEADER__INIT, *hs[1];
		struct bytes z, fr;
		uint8_t *tail;

		memset(&zs, 0, sizeof zs);
		memset(&gh, 0, sizeof gh);
		gh.extra = (Bytef *)"xtra";
		gh.extra_len = 4;
		gh.name = (Bytef *)"result.pb";
		gh.comment = (Bytef *)"a comment";
		gh.hcrc = 1;
		deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		deflateSetHeader(&zs, &gh);
		z.len = deflateBound(&zs, result.len) + 64;
		z.p = malloc(z.len + 4);
		zs.next_in = result.p;
		zs.avail_in = (uInt)result.len;
		zs.next_out = z.p;
		zs.avail_out = (uInt)z.len;
		deflate(&zs, Z_FINISH);
		z.len = zs.total_out;
		deflateEnd(&zs);
		pf.payloadtype = (char *)"msg";
		pf.payload.data = z.p;
		pf.payload.len = z.len;
		fr = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, fr.p, fr.len, &f, err, sizeof err) == TT_WC_OK && f.nmessages == 5,
		    "webcast: a gzip header with FEXTRA, FNAME, FCOMMENT and FHCRC decodes (%s)", err);
		free(fr.p);
		memcpy(z.p + z.len, "junk", 4); /* after the trailer: ignored */
		pf.payload.len = z.len + 4;
		fr = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, fr.p, fr.len, &f, err, sizeof err) == TT_WC_OK && f.nmessages == 5,
		    "webcast: bytes after the gzip trailer are ignored (%s)", err);
		free(fr.p);
		pf.payload.len = z.len;
		z.p[16] ^= 0x01; /* inside the name: the header CRC no longer matches */
		fr = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, fr.p, fr.len, &f, err, sizeof err) == TT_WC_BAD_GZIP &&
		    strstr(err, "header crc") != NULL, "webcast: a bad header CRC is BAD_GZIP (%s)", err);
		free(fr.p);
		z.p[16] ^= 0x01;
		tail = z.p + z.len - 4;
		tail[0] ^= 0x01; /* ISIZE */
		fr = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, fr.p, fr.len, &f, err, sizeof err) == TT_WC_BAD_GZIP &&
		    strstr(err, "length check") != NULL, "webcast: a wrong ISIZE is BAD_GZIP (%s)", err);
		free(fr.p);
		tail[0] ^= 0x01;
		z.p[2] = 7; /* not the magic any more: the header says gzip */
		hs[0] = &h;
		h.key = (char *)"compress_type";
		h.value = (char *)"gzip";
		pf.n_headers = 1;
		pf.headers = hs;
		fr = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, fr.p, fr.len, &f, err, sizeof err) == TT_WC_BAD_GZIP &&
		    strstr(err, "compression method") != NULL, "webcast: a method other than deflate is BAD_GZIP (%s)", err);
		free(fr.p);
		free(z.p);
	}
	{
		/* A gzip bomb: 48 MiB of zeros, about 48 KiB compressed. */
		size_t big = 48u << 20;
		uint8_t *zeros = calloc(1, big);
		struct bytes z = gzip_bytes(zeros, big), bomb;
		Webcast__WebcastPushFrame pf = WEBCAST__WEBCAST_PUSH_FRAME__INIT;

		free(zeros);
		pf.payloadtype = (char *)"msg";
		pf.payload.data = z.p;
		pf.payload.len = z.len;
		bomb = pack_msg(&pf.base);
		check(tt_webcast_decode_frame(w, bomb.p, bomb.len, &f, err, sizeof err) == TT_WC_TOO_LARGE,
		    "webcast: a gzip bomb is TOO_LARGE, not an allocation of its size (%s)", err);
		free(bomb.p);
		free(z.p);
	}
	{
		/* The fetch result is read straight off the wire unless it is
		 * odd, and then unpacked by protobuf-c: both ways the same. */
		static const struct {
			const char *tail; /* bytes appended to the result */
			size_t len;
			enum tt_wc_status st;
			const char *cursor; /* expected, when st is TT_WC_OK */
		} odd[] = {
			{ "\x12\x03" "c-2", 5, TT_WC_OK, "c-2" },           /* a second cursor: the last wins */
			{ "\x12\x02\xc3\xa9", 4, TT_WC_OK, "\xc3\xa9" },   /* not ASCII: protobuf-c's */
			{ "\x12\x03" "a\0b", 5, TT_WC_OK, "a" },            /* a NUL: read up to it */
			{ "\x1a\x00", 2, TT_WC_BAD_RESULT, NULL },          /* fetchInterval as bytes */
			{ "\xf8\x01\x05", 3, TT_WC_OK, "c-1" },            /* an unknown field, skipped */
		};

		for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
			struct bytes r = { malloc(result.len + odd[i].len), result.len + odd[i].len };

			if (r.p == NULL)
				continue;
			memcpy(r.p, result.p, result.len);
			memcpy(r.p + result.len, odd[i].tail, odd[i].len);
			st = tt_webcast_decode_result(w, r.p, r.len, &f, err, sizeof err);
			check(st == odd[i].st && (st != TT_WC_OK || (strcmp(f.cursor, odd[i].cursor) == 0 &&
			    f.nmessages == 5 && f.need_ack && strcmp(f.internal_ext, "ext:1|2") == 0 && f.nroute == 1 &&
			    strcmp(f.route_values[0], "/x") == 0 && f.messages[0].create_time_ms == 1709140492750 &&
			    f.messages[1].b64_len == 4 && strcmp(f.messages[4].method, "Unknown") == 0)),
			    "webcast: odd fetch result %zu decodes as protobuf-c does (%s)", i, err);
			free(r.p);
		}
	}
	check(tt_webcast_known_method("WebcastLikeMessage") && tt_webcast_known_method("WebcastLinkMicBattle") &&
	    !tt_webcast_known_method("WebcastPushFrame") && !tt_webcast_known_method("WebcastImEnterRoomMessage") &&
	    !tt_webcast_known_method("User"), "webcast: the method table holds the event types only");
	for (int i = 0; i < 5; i++)
		free(payloads[i].p);
	free(result.p);
}

/* The conformance test: the real captured like payload, wrapped as
 * BaseProtoMessage -> fetch result (needAck) -> gzip -> push frame, must
 * decode to the values its source lists. */
static void
test_webcast_conformance(struct tt_webcast *w)
{
	const char *root = getenv("TTLC_ROOT");
	char path[4096];
	FILE *fp;
	struct bytes like = { NULL, 0 }, result, frame;
	const char *methods[] = { "WebcastLikeMessage" };
	struct tt_wc_frame f;
	char err[256];
	struct tt_json_parser *p;
	struct tt_arena a;
	struct tt_json *v = NULL;
	const struct tt_json *badge = NULL;
	int64_t n;

	snprintf(path, sizeof path, "%s/test/fixtures/webcast_like_message_payload.bin", root != NULL ? root : ".");
	fp = fopen(path, "rb");
	if (!check(fp != NULL, "conformance: the captured like payload is readable (%s)", path))
		return;
	like.p = malloc(8192);
	like.len = fread(like.p, 1, 8192, fp);
	fclose(fp);
	check(like.len == 2645, "conformance: the payload is 2645 bytes");
	result = fetch_result(1, methods, &like, true);
	frame = msg_frame(&result, true, 4242);
	if (!check(tt_webcast_decode_frame(w, frame.p, frame.len, &f, err, sizeof err) == TT_WC_OK &&
	    f.gzip && f.need_ack && f.nmessages == 1 && f.messages[0].json != NULL && f.messages[0].error == NULL,
	    "conformance: the gzipped like frame decodes (%s)", err))
		goto out;
	check(strcmp(f.messages[0].method, "WebcastLikeMessage") == 0 &&
	    f.messages[0].create_time_ms == 1709140492750, "conformance: method and createTime");
	p = tt_json_parser_new();
	tt_arena_init(&a, 64u << 20);
	if (check(tt_json_parse(p, &a, f.messages[0].json, f.messages[0].json_len, &v, err, sizeof err) == TT_JSON_OK,
	    "conformance: the JSON parses (%s)", err)) {
		check(tt_json_str_eq(tt_json_path(v, "common.method"), "WebcastLikeMessage"), "conformance: common.method");
		check(tt_json_str_eq(tt_json_path(v, "common.msgId"), "7340702509671467807"),
		    "conformance: common.msgId 7340702509671467807");
		check(tt_json_str_eq(tt_json_path(v, "common.roomId"), "7340691647148018438"),
		    "conformance: common.roomId 7340691647148018438");
		check(tt_json_str_eq(tt_json_path(v, "common.createTime"), "1709140492750"),
		    "conformance: common.createTime 1709140492750");
		check(tt_json_str_eq(tt_json_path(v, "common.displayText.key"), "pm_mt_msg_viewer"),
		    "conformance: displayText.key pm_mt_msg_viewer");
		check(tt_json_str_eq(tt_json_path(v, "common.displayText.defaultPattern"), "{0:user} liked the LIVE"),
		    "conformance: displayText.defaultPattern");
		check(tt_json_int(tt_json_get(v, "count"), &n) && n == 15 && tt_json_get(v, "count")->kind == TT_JSON_NUMBER,
		    "conformance: count 15 (a number)");
		check(tt_json_str_eq(tt_json_get(v, "total"), "11641"), "conformance: total \"11641\" (int64 string)");
		check(tt_json_str_eq(tt_json_path(v, "user.displayId"), "kylleehall"), "conformance: user.displayId kylleehall");
		for (const struct tt_json *e = tt_json_path(v, "user.badgeList") != NULL ?
		    tt_json_path(v, "user.badgeList")->first : NULL; e != NULL; e = e->next) {
			int64_t dt, st;

			if (tt_json_int(tt_json_get(e, "displayType"), &dt) && dt == 4 &&
			    tt_json_int(tt_json_get(e, "sceneType"), &st) && st == 8)
				badge = e;
		}
		check(badge != NULL && tt_json_str_eq(tt_json_path(badge, "privilegeLogExtra.level"), "15"),
		    "conformance: a badge with displayType 4, sceneType 8, privilegeLogExtra.level 15");
		check(tt_json_str_eq(tt_json_get(v, "effectCnt"), "1"), "conformance: effectCnt 1");
	}
	tt_arena_free(&a);
	tt_json_parser_free(p);
out:
	free(frame.p);
	free(result.p);
	free(like.p);
}

static void
test_webcast(void)
{
	struct tt_webcast *w = tt_webcast_new();

	if (!check(w != NULL, "webcast: a decoder"))
		return;
	test_webcast_encoders(w);
	test_webcast_decode(w);
	test_webcast_conformance(w);
	tt_webcast_free(w);
}

/* ---- tt_pbjson_encode_wire: differential against unpack + encode ------- */

extern const ProtobufCMessageDescriptor *const tt_webcast_descs[];

enum wire_diff { WD_SAME, WD_GAVE_UP, WD_DIFFER };

/* Encodes p[0..n) as d both ways: the walker must write exactly what
 * protobuf_c_message_unpack + tt_pbjson_encode write, or give up. */
static enum wire_diff
wire_diff(struct tt_pbjson_wire *wire, const ProtobufCMessageDescriptor *d, const void *p, size_t n,
    const char *name)
{
	struct tt_buf a, b;
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
	char err[128];
	bool old_ok = false, new_ok;
	enum wire_diff r;

	tt_buf_init(&a, 64u << 20);
	tt_buf_init(&b, 64u << 20);
	if (m != NULL)
		old_ok = tt_pbjson_encode(&a, m, err, sizeof err);
	tt_buf_addc(&b, 'x'); /* giving up must leave what was there */
	new_ok = tt_pbjson_encode_wire(wire, &b, d, p, n);
	if (!new_ok)
		r = b.len == 1 && !b.failed ? WD_GAVE_UP : WD_DIFFER;
	else
		r = old_ok && a.len + 1 == b.len && memcmp(a.data, b.data + 1, a.len) == 0 ? WD_SAME : WD_DIFFER;
	if (r == WD_DIFFER) {
		diag("%s: walker %s, protobuf-c %s", name, new_ok ? "wrote" : "gave up but changed the buffer",
		    old_ok ? "wrote" : "failed");
		diag("  protobuf-c: %.*s", old_ok ? (int)(a.len > 600 ? 600 : a.len) : 0, a.data);
		diag("  walker:     %.*s", (int)(b.len > 601 ? 600 : b.len - 1), b.data + 1);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	tt_buf_free(&a);
	tt_buf_free(&b);
	return r;
}

/* The walker's JSON of p[0..n) as d into out (NUL-terminated), or "". */
static const char *
wire_json(struct tt_pbjson_wire *wire, const ProtobufCMessageDescriptor *d, const void *p, size_t n,
    char *out, size_t cap)
{
	struct tt_buf b;

	tt_buf_init(&b, 1u << 20);
	out[0] = '\0';
	if (tt_pbjson_encode_wire(wire, &b, d, p, n) && b.len < cap) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
	}
	tt_buf_free(&b);
	return out;
}

/* Hand-written wire bytes. */
struct wb {
	uint8_t p[1024];
	size_t n;
};

static void
wb_varint(struct wb *b, uint64_t v)
{
	do {
		b->p[b->n++] = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
		v >>= 7;
	} while (v != 0);
}

static void
wb_tag(struct wb *b, uint32_t field, unsigned wt)
{
	wb_varint(b, (uint64_t)field << 3 | wt);
}

static void
wb_uint(struct wb *b, uint32_t field, uint64_t v)
{
	wb_tag(b, field, 0);
	wb_varint(b, v);
}

static void
wb_lp(struct wb *b, uint32_t field, const void *p, size_t n)
{
	wb_tag(b, field, 2);
	wb_varint(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
wb_fixed(struct wb *b, uint32_t field, uint64_t v, unsigned size)
{
	wb_tag(b, field, size == 4 ? 5 : 1);
	for (unsigned i = 0; i < size; i++)
		b->p[b->n++] = (uint8_t)(v >> (8 * i));
}

/* Every message of a gen-recording recording, both ways. */
static void
test_pbwire_recording(struct tt_pbjson_wire *wire)
{
	char path[] = "/tmp/tt-unit-rec-XXXXXX", exe[4096], cmd[8400];
	ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
	int fd = mkstemp(path);
	struct tt_frames_reader r;
	struct tt_frames_record rec;
	size_t checked = 0, same = 0;
	bool ok = true;

	if (!check(fd >= 0 && el > 0, "wire: a temporary file"))
		return;
	close(fd);
	exe[el] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(cmd, sizeof cmd, "'%s/gen-recording' --messages 3000 --seed 7 '%s' >/dev/null 2>&1", exe, path);
	if (!check(system(cmd) == 0 && tt_frames_open(&r, path) == TT_FRAMES_OK, "wire: gen-recording wrote a recording"))
		goto out;
	while (tt_frames_next(&r, &rec) == TT_FRAMES_OK) {
		Webcast__WebcastPushFrame *pf = NULL;
		Webcast__ProtoMessageFetchResult *res;
		const uint8_t *pl = rec.payload;
		size_t plen = rec.len;
		uint8_t *inflated = NULL;

		if (rec.kind == 'B') {
			if ((pf = webcast__webcast_push_frame__unpack(NULL, rec.len, rec.payload)) == NULL)
				continue;
			pl = pf->payload.data;
			plen = pf->payload.len;
			if (plen >= 2 && pl[0] == 0x1f && pl[1] == 0x8b) {
				z_stream z;
				size_t cap = 64u << 20;

				memset(&z, 0, sizeof z);
				inflated = malloc(cap);
				inflateInit2(&z, 16 + MAX_WBITS);
				z.next_in = (Bytef *)(uintptr_t)pl;
				z.avail_in = (uInt)plen;
				z.next_out = inflated;
				z.avail_out = (uInt)cap;
				inflate(&z, Z_FINISH);
				plen = z.total_out;
				pl = inflated;
				inflateEnd(&z);
			}
		} else if (rec.kind != 'F') {
			continue;
		}
		if ((res = webcast__proto_message_fetch_result__unpack(NULL, plen, pl)) != NULL) {
			for (size_t i = 0; i < res->n_messages; i++) {
				const Webcast__BaseProtoMessage *bm = res->messages[i];
				const ProtobufCMessageDescriptor *d = NULL;

				for (size_t k = 0; tt_webcast_descs[k] != NULL && d == NULL; k++)
					if (strcmp(tt_webcast_descs[k]->short_name, bm->method) == 0)
						d = tt_webcast_descs[k];
				if (d == NULL)
					continue;
				checked++;
				switch (wire_diff(wire, d, bm->payload.data, bm->payload.len, bm->method)) {
				case WD_SAME: same++; break;
				case WD_GAVE_UP: diag("wire: gave up on a %s from the recording", bm->method); break;
				case WD_DIFFER: ok = false; break;
				}
			}
			webcast__proto_message_fetch_result__free_unpacked(res, NULL);
		}
		free(inflated);
		webcast__webcast_push_frame__free_unpacked(pf, NULL);
	}
	tt_frames_close_reader(&r);
	check(ok && checked >= 2500 && same == checked,
	    "wire: %zu of %zu recorded messages, JSON byte for byte as unpack + encode", same, checked);
out:
	unlink(path);
}

static void
test_pbwire(void)
{
	const ProtobufCMessageDescriptor *sd = &pbtest__scalars__descriptor;
	struct tt_pbjson_wire *wire = tt_pbjson_wire_new();
	const char *root = getenv("TTLC_ROOT");
	char path[4096], json[8192];
	struct wb b, in, e;
	FILE *fp;

	if (!check(wire != NULL, "wire: a walker"))
		return;
	test_pbwire_recording(wire);

	/* The captured like payload. */
	snprintf(path, sizeof path, "%s/test/fixtures/webcast_like_message_payload.bin", root != NULL ? root : ".");
	if ((fp = fopen(path, "rb")) != NULL) {
		static uint8_t like[8192];
		size_t n = fread(like, 1, sizeof like, fp);

		fclose(fp);
		check(wire_diff(wire, &webcast__webcast_like_message__descriptor, like, n, "like") == WD_SAME,
		    "wire: the captured like payload, as unpack + encode");
	} else {
		check(false, "wire: the captured like payload is readable (%s)", path);
	}

	/* Every scalar type, with awkward values. */
	memset(&b, 0, sizeof b);
	wb_uint(&b, 1, (uint64_t)(int64_t)-5);          /* int32 -5: a 10-byte varint */
	wb_uint(&b, 2, (uint64_t)INT64_MIN);
	wb_uint(&b, 3, 0x1ffffffffull);                 /* uint32: truncated to 32 bits */
	wb_uint(&b, 4, UINT64_MAX);
	wb_uint(&b, 5, 3);                              /* sint32 zigzag: -2 */
	wb_uint(&b, 6, UINT64_MAX);                     /* sint64 zigzag: INT64_MIN */
	wb_fixed(&b, 7, 0xfffffffe, 4);
	wb_fixed(&b, 8, UINT64_MAX, 8);
	wb_fixed(&b, 9, 0x80000000, 4);
	wb_fixed(&b, 10, 0x8000000000000000ull, 8);
	wb_uint(&b, 11, 2);                             /* bool from a 2 */
	wb_fixed(&b, 12, 0x3fc00000, 4);                /* 1.5f */
	wb_fixed(&b, 13, 0x7ff8000000000000ull, 8);     /* NaN */
	wb_lp(&b, 14, "a\"b\\\n\xff\xc3\xa9z\0hidden", 16); /* escapes, bad UTF-8, a NUL */
	wb_lp(&b, 15, "\x00\x01\x02\xfe", 4);
	wb_uint(&b, 16, (uint64_t)(int64_t)-1);         /* enum -1 */
	check(wire_diff(wire, sd, b.p, b.n, "scalars") == WD_SAME, "wire: every scalar type, as unpack + encode");
	wire_json(wire, sd, b.p, b.n, json, sizeof json);
	check(strstr(json, "\"i32\":-5,") != NULL && strstr(json, "\"u32\":4294967295") != NULL &&
	    strstr(json, "\"s32\":-2") != NULL && strstr(json, "\"db\":\"NaN\"") != NULL &&
	    strstr(json, "\"str\":\"a\\\"b\\\\\\n\xef\xbf\xbd\xc3\xa9z\"") != NULL,
	    "wire: int32 from 10 bytes, uint32 truncated, zigzag, NaN, a string cut at its NUL (%s)", json);

	/* Defaults sent on the wire are left out, -0.0 is not a default. */
	memset(&b, 0, sizeof b);
	wb_uint(&b, 1, 0);
	wb_uint(&b, 2, 0);
	wb_uint(&b, 11, 0);
	wb_fixed(&b, 12, 0, 4);
	wb_fixed(&b, 13, 0x8000000000000000ull, 8);     /* -0.0 */
	wb_lp(&b, 14, "", 0);
	wb_lp(&b, 14, "\0x", 2);                        /* "" to protobuf-c */
	wb_lp(&b, 15, "", 0);
	wb_uint(&b, 16, 0);
	wb_uint(&b, 11, (uint64_t)1 << 63 << 0);        /* bool: bit 63 set -> true */
	check(wire_diff(wire, sd, b.p, b.n, "defaults") == WD_SAME, "wire: defaults on the wire, as unpack + encode");
	wire_json(wire, sd, b.p, b.n, json, sizeof json);
	check(strcmp(json, "{\"flag\":true,\"db\":-0}") == 0, "wire: defaults left out, -0 kept (%s)", json);

	/* Repeated fields interleaved, packed and not, an empty packed run;
	 * the last of a repeated scalar wins; unknown fields of every wire
	 * type skipped. */
	memset(&b, 0, sizeof b);
	memset(&in, 0, sizeof in);
	wb_uint(&b, 18, 1);
	wb_lp(&b, 19, "a", 1);
	wb_uint(&b, 99, 7);
	wb_uint(&b, 1, 4);
	wb_varint(&in, 2);
	wb_varint(&in, 300);
	wb_lp(&b, 18, in.p, in.n);                      /* packed 2, 300 */
	wb_lp(&b, 19, "b", 1);
	wb_fixed(&b, 100, 1, 4);
	wb_uint(&b, 18, 3);
	wb_lp(&b, 18, "", 0);                           /* an empty packed run */
	wb_fixed(&b, 101, 1, 8);
	wb_lp(&b, 102, "junk", 4);
	wb_uint(&b, 1, 9);                              /* last wins */
	wb_uint(&b, 536870911, 1);                      /* the highest field number */
	check(wire_diff(wire, sd, b.p, b.n, "interleaved") == WD_SAME, "wire: interleaved repeated fields, as unpack + encode");
	wire_json(wire, sd, b.p, b.n, json, sizeof json);
	check(strcmp(json, "{\"i32\":9,\"ids\":[\"1\",\"2\",\"300\",\"3\"],\"tags\":[\"a\",\"b\"]}") == 0,
	    "wire: ... grouped in field order, the last scalar wins (%s)", json);
	memset(&b, 0, sizeof b);
	wb_lp(&b, 18, "", 0);
	check(wire_diff(wire, sd, b.p, b.n, "empty packed") == WD_SAME, "wire: only an empty packed run: no field");

	/* Messages, repeated messages, nested; a map-shaped list. */
	memset(&b, 0, sizeof b);
	memset(&in, 0, sizeof in);
	wb_lp(&in, 1, "n", 1);
	wb_uint(&in, 2, 7);
	wb_lp(&b, 20, in.p, in.n);
	wb_lp(&b, 17, "", 0);                           /* present and empty: {} */
	wb_lp(&b, 20, "", 0);
	wb_lp(&b, 26, b.p, b.n);                        /* a child holding all that */
	memset(&e, 0, sizeof e);
	wb_lp(&e, 1, "k", 1);
	wb_lp(&e, 2, "v", 1);
	wb_lp(&b, 27, e.p, e.n);
	wb_lp(&b, 27, e.p, e.n);
	check(wire_diff(wire, sd, b.p, b.n, "messages") == WD_SAME, "wire: nested and repeated messages, as unpack + encode");

	/* Maps: a key sent twice (the last wins: "k", and "" for the entry
	 * with no key, then the empty entry), missing keys and values, bool
	 * and int64 keys, a message value left out. */
	memset(&b, 0, sizeof b);
	memset(&e, 0, sizeof e);
	wb_lp(&e, 1, "k", 1);
	wb_lp(&e, 2, "one", 3);
	wb_lp(&b, 21, e.p, e.n);
	memset(&e, 0, sizeof e);
	wb_lp(&e, 2, "nokey", 5);
	wb_lp(&b, 21, e.p, e.n);
	memset(&e, 0, sizeof e);
	wb_lp(&e, 1, "k", 1);
	wb_lp(&e, 2, "two", 3);
	wb_uint(&e, 9, 1);                              /* unknown, in an entry */
	wb_lp(&b, 21, e.p, e.n);
	memset(&e, 0, sizeof e);
	wb_lp(&e, 2, "x", 1);
	wb_lp(&e, 1, "novalue", 7);                     /* value before key */
	wb_lp(&e, 1, "v2", 2);                          /* the key twice */
	wb_lp(&b, 21, e.p, e.n);
	wb_lp(&b, 21, "", 0);                           /* an empty entry: "":"" */
	memset(&e, 0, sizeof e);
	wb_uint(&e, 1, (uint64_t)(int64_t)-7);
	wb_lp(&b, 22, e.p, e.n);                        /* no value: {} */
	memset(&e, 0, sizeof e);
	memset(&in, 0, sizeof in);
	wb_uint(&in, 2, 5);
	wb_uint(&e, 1, 8);
	wb_lp(&e, 2, in.p, in.n);
	wb_lp(&b, 22, e.p, e.n);
	memset(&e, 0, sizeof e);
	wb_uint(&e, 1, 1);
	wb_uint(&e, 2, 3);
	wb_lp(&b, 23, e.p, e.n);
	wb_lp(&b, 23, "", 0);                           /* false: 0 */
	check(wire_diff(wire, sd, b.p, b.n, "maps") == WD_SAME, "wire: maps with missing keys, values and repeats, as unpack + encode");
	wire_json(wire, sd, b.p, b.n, json, sizeof json);
	check(strstr(json, "\"labels\":{\"k\":\"two\",\"v2\":\"x\",\"\":\"\"}") != NULL &&
	    strstr(json, "\"byId\":{\"-7\":{},\"8\":{\"n\":5}}") != NULL && strstr(json, "\"flags\":{\"true\":3,\"false\":0}") != NULL,
	    "wire: ... as objects (%s)", json);

	/* Where protobuf-c does something else: the walker gives up. */
	memset(&b, 0, sizeof b);
	wb_lp(&b, 17, "\x08\x01", 2);
	wb_lp(&b, 17, "\x10\x02", 2);                   /* merged by protobuf-c */
	check(wire_diff(wire, sd, b.p, b.n, "message twice") == WD_GAVE_UP, "wire: a singular message sent twice: gives up");
	memset(&b, 0, sizeof b);
	wb_uint(&b, 24, 0);                             /* a oneof member */
	check(wire_diff(wire, sd, b.p, b.n, "oneof") == WD_GAVE_UP, "wire: a oneof: gives up");
	memset(&b, 0, sizeof b);
	wb_fixed(&b, 11, 1, 4);                         /* bool as fixed32: protobuf-c takes it */
	check(wire_diff(wire, sd, b.p, b.n, "bool fixed32") == WD_GAVE_UP, "wire: a bool as fixed32: gives up");
	memset(&b, 0, sizeof b);
	for (int i = 0; i < 40; i++) {                  /* deeper than TT_PBJSON_MAX_DEPTH */
		memcpy(in.p, b.p, b.n);
		in.n = b.n;
		b.n = 0;
		wb_lp(&b, 26, in.p, in.n);
	}
	check(wire_diff(wire, sd, b.p, b.n, "deep") == WD_GAVE_UP, "wire: nesting past the depth limit: gives up");

	/* Malformed input: the walker gives up, and so does protobuf-c. */
	{
		static const struct {
			const char *name;
			const char *p;
			size_t n;
		} bad[] = {
			{ "a truncated varint", "\x08\x80", 2 },
			{ "an 11-byte varint", "\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12 },
			{ "a length past the end", "\x72\x05" "ab", 4 },
			{ "a cut length prefix", "\x72\x80", 2 },
			{ "a cut fixed64", "\x41\x01\x02\x03", 4 },
			{ "a cut fixed32", "\x3d\x01\x02", 3 },
			{ "a wire type for another type", "\x0a\x01\x01", 3 },
			{ "a string as a varint", "\x70\x01", 2 },
			{ "a group", "\x9b\x06\x9c\x06", 4 },
			{ "an end group", "\x9c\x06", 2 },
			{ "wire type 6", "\x0e\x01", 2 },
			{ "tag 0", "\x00\x01", 2 },
			{ "a cut tag", "\x80", 1 },
			{ "a 6-byte tag", "\x88\x80\x80\x80\x80\x00\x01", 7 },
			{ "packed fixed32 of 3 bytes", "\x3a\x03\x01\x02\x03", 5 },
			{ "packed int64 cut short", "\x92\x01\x02\x01\x80", 5 },
			{ "a bad nested message", "\x8a\x01\x02\x08\x80", 5 },
			{ "a bad map entry", "\xaa\x01\x02\x0a\x05", 5 },
		};

		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			ProtobufCMessage *m = protobuf_c_message_unpack(sd, NULL, bad[i].n, (const uint8_t *)bad[i].p);

			check(wire_diff(wire, sd, bad[i].p, bad[i].n, bad[i].name) == WD_GAVE_UP && m == NULL,
			    "wire: %s: protobuf-c fails, the walker gives up", bad[i].name);
			protobuf_c_message_free_unpacked(m, NULL);
		}
	}
	tt_pbjson_wire_free(wire);
}

/* ---- tt_frames ---------------------------------------------------------- */

static void
test_frames(void)
{
	char path[] = "/tmp/tt-unit-frames-XXXXXX";
	int fd = mkstemp(path);
	struct tt_frames_writer w;
	struct tt_frames_reader r;
	struct tt_frames_record rec;
	static uint8_t big[70000];
	FILE *f;
	enum tt_frames_status st;

	if (!check(fd >= 0, "frames: a temporary file"))
		return;
	close(fd);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	check(tt_frames_create(&w, path, false) && tt_frames_write(&w, 1709140492750123u, 'B', "7340691647148018438", 19, "\x01\x02", 2) &&
	    tt_frames_write(&w, 2, 'F', NULL, 0, big, sizeof big) && tt_frames_close(&w),
	    "frames: write a recording");
	check(tt_frames_create(&w, path, true) && tt_frames_write(&w, 3, 'T', "r", 1, "{}", 2) && tt_frames_close(&w),
	    "frames: append to it");
	check(!tt_frames_create(&w, path, false) || (tt_frames_write(&w, 0, 'B', "x", 65, "", 0) == false && tt_frames_close(&w)),
	    "frames: a room id over 64 bytes is refused");
	/* That create truncated the file: write it again. */
	tt_frames_create(&w, path, false);
	tt_frames_write(&w, 1709140492750123u, 'B', "7340691647148018438", 19, "\x01\x02", 2);
	tt_frames_write(&w, 2, 'F', NULL, 0, big, sizeof big);
	tt_frames_write(&w, 3, 'T', "r", 1, "{}", 2);
	tt_frames_close(&w);

	st = tt_frames_open(&r, path);
	check(st == TT_FRAMES_OK, "frames: open checks the magic");
	st = tt_frames_next(&r, &rec);
	check(st == TT_FRAMES_OK && rec.time_us == 1709140492750123u && rec.kind == 'B' &&
	    strcmp(rec.room, "7340691647148018438") == 0 && rec.len == 2 && memcmp(rec.payload, "\x01\x02", 2) == 0,
	    "frames: first record round trip");
	st = tt_frames_next(&r, &rec);
	check(st == TT_FRAMES_OK && rec.kind == 'F' && rec.room_len == 0 && rec.len == sizeof big &&
	    memcmp(rec.payload, big, sizeof big) == 0, "frames: a 70000-byte payload round trip");
	st = tt_frames_next(&r, &rec);
	check(st == TT_FRAMES_OK && rec.kind == 'T' && strcmp(rec.room, "r") == 0, "frames: the third record");
	check(tt_frames_next(&r, &rec) == TT_FRAMES_EOF, "frames: then EOF");
	tt_frames_close_reader(&r);

	/* Cut the last record short. */
	check(truncate(path, 8 + 8 + 2 + 19 + 4 + 2 + 8 + 2 + 4 + sizeof big + 5) == 0, "frames: cut the file");
	tt_frames_open(&r, path);
	tt_frames_next(&r, &rec);
	tt_frames_next(&r, &rec);
	check(tt_frames_next(&r, &rec) == TT_FRAMES_TRUNCATED, "frames: a cut last record is TRUNCATED, not EOF");
	tt_frames_close_reader(&r);

	/* A record of 64 MiB + 1 (a sparse file), then a good one. */
	f = fopen(path, "wb");
	fwrite(TT_FRAMES_MAGIC, 1, 8, f);
	fwrite("\0\0\0\0\0\0\0\1B\0\x04\x00\x00\x01", 1, 14, f);
	fseek(f, (long)(8 + 14 + (64u << 20) + 1), SEEK_SET);
	fwrite("\0\0\0\0\0\0\0\1B\0\0\0\0\1z", 1, 15, f);
	fclose(f);
	tt_frames_open(&r, path);
	check(tt_frames_next(&r, &rec) == TT_FRAMES_TOO_LONG, "frames: a payload over 64 MiB is TOO_LONG");
	check(tt_frames_next(&r, &rec) == TT_FRAMES_OK && rec.len == 1 && rec.payload[0] == 'z',
	    "frames: ... skipped, and the next record reads");
	tt_frames_close_reader(&r);
	f = fopen(path, "wb");
	fwrite(TT_FRAMES_MAGIC, 1, 8, f);
	fwrite("\0\0\0\0\0\0\0\1B\0\x04\x00\x00\x01xyz", 1, 17, f);
	fclose(f);
	tt_frames_open(&r, path);
	check(tt_frames_next(&r, &rec) == TT_FRAMES_TRUNCATED, "frames: a too long record cut short is TRUNCATED");
	tt_frames_close_reader(&r);

	f = fopen(path, "wb");
	fwrite("TTLCWS2\n", 1, 8, f);
	fclose(f);
	check(tt_frames_open(&r, path) == TT_FRAMES_BAD_MAGIC, "frames: another magic is BAD_MAGIC");
	tt_frames_close_reader(&r);
	check(!tt_frames_create(&w, path, true) && errno == EINVAL, "frames: appending to a non-recording is refused");
	unlink(path);
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_time();
	test_backoff();
	test_hash();
	test_utf8();
	test_json();
	test_schema();
	test_schema_discriminator();
	test_json_write_long();
	test_lines();
	test_arena_mark();
	test_redact();
	test_redis_half_reply();
	test_pbjson();
	test_webcast();
	test_pbwire();
	test_frames();
	printf("1..%u\n", tests_run);
	if (tests_failed > 0)
		printf("# %u of %u failed\n", tests_failed, tests_run);
	return tests_failed == 0 ? 0 : 1;
}
