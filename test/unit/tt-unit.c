/* tt-unit - unit tests for the common library, printed as TAP.
 *
 * Each check prints "ok N - name" or "not ok N - name"; the plan comes
 * last. The exit status is 0 only when every check passed. Run by
 * test/bats/00-unit.bats.
 */
#include <errno.h>
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

#include "tt_backoff.h"
#include "tt_hash.h"
#include "tt_json.h"
#include "tt_lines.h"
#include "tt_log.h"
#include "tt_redis.h"
#include "tt_schema.h"
#include "tt_time.h"

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
	printf("1..%u\n", tests_run);
	if (tests_failed > 0)
		printf("# %u of %u failed\n", tests_failed, tests_run);
	return tests_failed == 0 ? 0 : 1;
}
