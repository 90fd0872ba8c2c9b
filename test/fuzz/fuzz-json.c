/* fuzz-json - libFuzzer target for tt_json_parse, checked against yajl.
 *
 * Every input is parsed by both: they must agree on whether it is JSON and,
 * when it is, on the exact sequence of values (kinds, keys, unescaped
 * strings, number text). Then the tree is written back with
 * tt_json_write and must parse again to the same sequence. Crashes,
 * sanitizer reports and disagreements all abort.
 *
 * Not compared: inputs with \u escapes of surrogates (yajl writes '?' for
 * a lone one, we write U+FFFD), inputs nested deeper than our limit,
 * top-level scalars (yajl accepts text after one), and inputs with \v or \f
 * (yajl takes them for white space; RFC 8259 does not).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "tt_json.h"

struct tokens {
	char *buf;
	size_t len, cap;
};

static void
put(struct tokens *t, char tag, const void *s, size_t n)
{
	if (t->len + n + 16 > t->cap) {
		t->cap = (t->len + n + 16) * 2;
		t->buf = realloc(t->buf, t->cap);
		if (t->buf == NULL)
			abort();
	}
	t->buf[t->len++] = tag;
	memcpy(t->buf + t->len, &n, sizeof n);
	t->len += sizeof n;
	if (n > 0)
		memcpy(t->buf + t->len, s, n);
	t->len += n;
}

static int y_null(void *c) { put(c, 'z', NULL, 0); return 1; }
static int y_bool(void *c, int b) { put(c, b ? 't' : 'f', NULL, 0); return 1; }
static int y_num(void *c, const char *s, size_t n) { put(c, 'n', s, n); return 1; }
static int y_str(void *c, const unsigned char *s, size_t n) { put(c, 's', s, n); return 1; }
static int y_key(void *c, const unsigned char *s, size_t n) { put(c, 'k', s, n); return 1; }
static int y_som(void *c) { put(c, '{', NULL, 0); return 1; }
static int y_eom(void *c) { put(c, '}', NULL, 0); return 1; }
static int y_soa(void *c) { put(c, '[', NULL, 0); return 1; }
static int y_eoa(void *c) { put(c, ']', NULL, 0); return 1; }

static const yajl_callbacks callbacks = {
	y_null, y_bool, NULL, NULL, y_num, y_str, y_som, y_key, y_eom, y_soa, y_eoa,
};

static void
walk(struct tokens *t, const struct tt_json *v)
{
	if (v->key != NULL)
		put(t, 'k', v->key, v->key_len);
	switch (v->kind) {
	case TT_JSON_NULL: put(t, 'z', NULL, 0); break;
	case TT_JSON_TRUE: put(t, 't', NULL, 0); break;
	case TT_JSON_FALSE: put(t, 'f', NULL, 0); break;
	case TT_JSON_NUMBER: put(t, 'n', v->str, v->len); break;
	case TT_JSON_STRING: put(t, 's', v->str, v->len); break;
	case TT_JSON_ARRAY:
	case TT_JSON_OBJECT:
		put(t, v->kind == TT_JSON_ARRAY ? '[' : '{', NULL, 0);
		for (const struct tt_json *c = v->first; c != NULL; c = c->next)
			walk(t, c);
		put(t, v->kind == TT_JSON_ARRAY ? ']' : '}', NULL, 0);
		break;
	default:
		abort();
	}
}

static bool
has_surrogate_escape(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (d[i] == '\\' && d[i + 1] == 'u' && (d[i + 2] == 'd' || d[i + 2] == 'D') &&
		    strchr("89abcdefABCDEF", d[i + 3]) != NULL && d[i + 3] != '\0')
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tt_json_parser *p;
	static struct tt_json_writer *w;
	struct tt_arena a;
	struct tt_json *root = NULL, *again = NULL;
	struct tokens ours = { 0 }, theirs = { 0 }, round = { 0 };
	char err[256];
	enum tt_json_err rc;
	yajl_handle y;
	bool yajl_ok;

	if (p == NULL) {
		p = tt_json_parser_new();
		w = tt_json_writer_new();
	}
	tt_arena_init(&a, 64u << 20);
	{
		/* Skipping must not change the verdict or its reason. */
		static const struct tt_json_filter nothing[] = { { NULL, NULL } };
		struct tt_json *skipped = NULL;
		char err2[256];
		enum tt_json_err rc2;

		rc2 = tt_json_parse_filtered(p, &a, (const char *)data, size, nothing, &skipped, err2, sizeof err2);
		rc = tt_json_parse(p, &a, (const char *)data, size, &root, err, sizeof err);
		if (rc2 != rc || (rc != TT_JSON_OK && strcmp(err, err2) != 0)) {
			fprintf(stderr, "filtered parse disagrees: %d (%s) vs %d (%s)\n", rc2, err2, rc, err);
			abort();
		}
		tt_arena_reset(&a);
		rc = tt_json_parse(p, &a, (const char *)data, size, &root, err, sizeof err);
	}
	if (rc == TT_JSON_ERR_UTF8 || rc == TT_JSON_ERR_DEPTH || has_surrogate_escape(data, size) ||
	    memchr(data, '\v', size) != NULL || memchr(data, '\f', size) != NULL)
		goto out;

	y = yajl_alloc(&callbacks, NULL, &theirs);
	yajl_ok = yajl_parse(y, data, size) == yajl_status_ok && yajl_complete_parse(y) == yajl_status_ok;
	yajl_free(y);
	if (yajl_ok && theirs.len == 0)
		yajl_ok = false; /* yajl accepts empty input; JSON does not */
	/* yajl lets text follow a top-level scalar ("2x"); lines are objects,
	 * so only compare inputs whose value is an object or array. */
	if (theirs.len > 0 && theirs.buf[0] != '{' && theirs.buf[0] != '[')
		goto out;
	/* yajl does not look at an unfinished token after a complete value
	 * ('{} "x'); we reject any text there, as RFC 8259 does. */
	if (yajl_ok && rc != TT_JSON_OK && strstr(err, "text after the value") != NULL)
		goto out;
	if (yajl_ok != (rc == TT_JSON_OK)) {
		fprintf(stderr, "disagreement: yajl %s, tt_json %s (%s)\n",
		    yajl_ok ? "accepts" : "rejects", rc == TT_JSON_OK ? "accepts" : "rejects", err);
		abort();
	}
	if (rc != TT_JSON_OK)
		goto out;
	walk(&ours, root);
	if (ours.len != theirs.len || memcmp(ours.buf, theirs.buf, ours.len) != 0) {
		fprintf(stderr, "different values from yajl and tt_json\n");
		abort();
	}
	{
		const unsigned char *text;
		size_t len;
		char *copy;

		if (!tt_json_write(w, root, &text, &len))
			abort();
		copy = malloc(len + 1);
		memcpy(copy, text, len);
		if (tt_json_parse(p, &a, copy, len, &again, err, sizeof err) != TT_JSON_OK)
			abort();
		walk(&round, again);
		if (round.len != ours.len || memcmp(round.buf, ours.buf, ours.len) != 0)
			abort();
		free(copy);
	}
out:
	free(ours.buf);
	free(theirs.buf);
	free(round.buf);
	tt_arena_free(&a);
	return 0;
}
