/* tt_json.c - see tt_json.h. */
#include "tt_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

/* ---- arena ---------------------------------------------------------- */

#define ARENA_CHUNK (64 * 1024)


void
tt_arena_init(struct tt_arena *a, size_t max)
{
	a->head = NULL;
	a->used = 0;
	a->max = max;
	a->failed = false;
}

void *
tt_arena_alloc_slow(struct tt_arena *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	struct tt_arena_chunk *c = a->head;
	size_t need = (size + align - 1) / align * align;
	void *p;

	if (need < size || a->used > a->max || need > a->max - a->used) {
		a->failed = true;
		return NULL;
	}
	if (c == NULL || c->size - c->off < need) {
		size_t chunk = need > ARENA_CHUNK ? need : ARENA_CHUNK;

		c = malloc(sizeof *c + chunk);
		if (c == NULL) {
			a->failed = true;
			return NULL;
		}
		c->older = a->head;
		c->size = chunk;
		c->off = 0;
		a->head = c;
	}
	p = (char *)c->data + c->off;
	c->off += need;
	a->used += need;
	return p;
}

char *
tt_arena_strdup(struct tt_arena *a, const char *s, size_t len)
{
	char *p = tt_arena_alloc(a, len + 1);

	if (p == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void
tt_arena_reset(struct tt_arena *a)
{
	struct tt_arena_chunk *c = a->head;

	a->failed = false;
	if (c == NULL)
		return;
	/* Keep the oldest chunk: a steady stream of small lines then needs no
	 * malloc at all. */
	while (c->older != NULL) {
		struct tt_arena_chunk *older = c->older;

		free(c);
		c = older;
	}
	c->off = 0;
	a->head = c;
	a->used = 0;
}

void
tt_arena_free(struct tt_arena *a)
{
	struct tt_arena_chunk *c = a->head;

	while (c != NULL) {
		struct tt_arena_chunk *older = c->older;

		free(c);
		c = older;
	}
	a->head = NULL;
	a->used = 0;
}

/* ---- UTF-8 ---------------------------------------------------------- */

bool
tt_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];

		/* Fast path: eight ASCII bytes at a time. */
		if (c < 0x80) {
			uint64_t w;

			if (len - i >= 8) {
				memcpy(&w, s + i, 8);
				if ((w & 0x8080808080808080ULL) == 0) {
					i += 8;
					continue;
				}
			}
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			if (len - i < 2 || (s[i + 1] & 0xc0) != 0x80)
				return false;
			i += 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			unsigned lo = c == 0xe0 ? 0xa0 : 0x80;
			unsigned hi = c == 0xed ? 0x9f : 0xbf;

			if (len - i < 3 || s[i + 1] < lo || s[i + 1] > hi ||
			    (s[i + 2] & 0xc0) != 0x80)
				return false;
			i += 3;
		} else if (c >= 0xf0 && c <= 0xf4) {
			unsigned lo = c == 0xf0 ? 0x90 : 0x80;
			unsigned hi = c == 0xf4 ? 0x8f : 0xbf;

			if (len - i < 4 || s[i + 1] < lo || s[i + 1] > hi ||
			    (s[i + 2] & 0xc0) != 0x80 || (s[i + 3] & 0xc0) != 0x80)
				return false;
			i += 4;
		} else {
			return false;
		}
	}
	return true;
}

/* ---- parsing -------------------------------------------------------- */

/* The parser is ours rather than yajl's: it is the hot path of every
 * filter, and costs about 60 % of yajl's instructions per line, tree
 * included (see README, "Why the JSON parser is our own"). yajl stays the
 * generator and, in test/fuzz, the reference this parser is checked
 * against. */

struct tt_json_parser {
	struct tt_arena *arena;
	const char *start;   /* the input */
	const char *p;       /* next byte to read */
	const char *end;
	int depth;
	enum tt_json_err err;
	char *errbuf;
	size_t errsz;
};

static bool
parse_fail(struct tt_json_parser *ps, enum tt_json_err err, const char *what)
{
	if (ps->err == TT_JSON_OK) {
		ps->err = err;
		snprintf(ps->errbuf, ps->errsz, "parse error at byte %zu: %s",
		    (size_t)(ps->p - ps->start), what);
	}
	return false;
}

static void
skip_space(struct tt_json_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Bytes of w that are below 0x20, '"' or '\\' (SWAR: a non-zero result
 * means at least one such byte among the eight). */
static uint64_t
special_bytes(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');

	return (((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) |
	    ((slash - ones) & ~slash)) & highs;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads 4 hex digits at ps->p. */
static bool
read_hex4(struct tt_json_parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return parse_fail(ps, TT_JSON_ERR_SYNTAX, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(ps->p[i]);

		if (d < 0)
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "bad \\u escape");
		v = v * 16 + (unsigned)d;
	}
	ps->p += 4;
	*out = v;
	return true;
}

static size_t
put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Parses the string at ps->p (an opening quote) into an arena copy,
 * unescaped and NUL-terminated. src and src_len get its quoted text. */
static bool
parse_string(struct tt_json_parser *ps, const char **str, size_t *len, const char **src, size_t *src_len)
{
	const char *begin = ps->p + 1, *q = begin;
	char *out, *o;

	/* Fast scan to the first quote, backslash or control byte. */
	while (ps->end - q >= 8) {
		uint64_t w;

		memcpy(&w, q, 8);
		if (special_bytes(w) != 0)
			break;
		q += 8;
	}
	while (q < ps->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
		q++;
	if (q < ps->end && *q == '"') {
		/* No escapes: one copy. */
		*str = tt_arena_strdup(ps->arena, begin, (size_t)(q - begin));
		if (*str == NULL)
			return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
		*len = (size_t)(q - begin);
		*src = begin - 1;
		*src_len = (size_t)(q - begin) + 2;
		ps->p = q + 1;
		return true;
	}
	/* Escapes: find this string's end, then decode; the result is never
	 * longer than its escaped text. */
	{
		const char *e = q;

		while (e < ps->end && *e != '"')
			e += *e == '\\' ? 2 : 1;
		if (e > ps->end)
			e = ps->end;
		out = tt_arena_alloc(ps->arena, (size_t)(e - begin) + 1);
	}
	if (out == NULL)
		return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
	memcpy(out, begin, (size_t)(q - begin));
	o = out + (q - begin);
	ps->p = q;
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end)
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "unterminated string");
		c = (unsigned char)*ps->p;
		if (c == '"')
			break;
		if (c < 0x20)
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "control character in string");
		if (c != '\\') {
			*o++ = (char)c;
			ps->p++;
			continue;
		}
		if (++ps->p >= ps->end)
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "unterminated string");
		c = (unsigned char)*ps->p++;
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;

			if (!read_hex4(ps, &cp))
				return false;
			if (cp >= 0xd800 && cp <= 0xdbff && ps->end - ps->p >= 6 &&
			    ps->p[0] == '\\' && ps->p[1] == 'u') {
				const char *save = ps->p;

				ps->p += 2;
				if (!read_hex4(ps, &lo))
					return false;
				if (lo >= 0xdc00 && lo <= 0xdfff)
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				else
					ps->p = save;
			}
			/* A lone surrogate is not a character; copied verbatim
			 * it would also break every consumer downstream. */
			if (cp >= 0xd800 && cp <= 0xdfff)
				return parse_fail(ps, TT_JSON_ERR_UTF8, "\\u escape of a lone surrogate");
			o += put_utf8(o, cp);
			break;
		}
		default:
			ps->p--;
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "bad escape in string");
		}
	}
	*o = '\0';
	*str = out;
	*len = (size_t)(o - out);
	*src = begin - 1;
	*src_len = (size_t)(ps->p - begin) + 2;
	ps->p++;
	return true;
}

static bool
is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* Parses a number's literal text (RFC 8259 grammar). */
static bool
parse_number(struct tt_json_parser *ps, struct tt_json *v)
{
	const char *q = ps->p;

	if (q < ps->end && *q == '-')
		q++;
	if (!is_digit(q, ps->end))
		return parse_fail(ps, TT_JSON_ERR_SYNTAX, "bad number");
	if (*q == '0')
		q++;
	else
		while (is_digit(q, ps->end))
			q++;
	if (q < ps->end && *q == '.') {
		q++;
		if (!is_digit(q, ps->end))
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "bad number");
		while (is_digit(q, ps->end))
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (!is_digit(q, ps->end))
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "bad number");
		while (is_digit(q, ps->end))
			q++;
	}
	v->str = tt_arena_strdup(ps->arena, ps->p, (size_t)(q - ps->p));
	if (v->str == NULL)
		return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
	v->len = (size_t)(q - ps->p);
	ps->p = q;
	return true;
}

static bool
parse_literal(struct tt_json_parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return parse_fail(ps, TT_JSON_ERR_SYNTAX, "unexpected character");
	ps->p += n;
	return true;
}

static struct tt_json *parse_value(struct tt_json_parser *ps);

/* Parses the members (object) or elements (array) after the opening
 * bracket into v. */
static bool
parse_container(struct tt_json_parser *ps, struct tt_json *v)
{
	bool object = v->kind == TT_JSON_OBJECT;
	char close = object ? '}' : ']';

	if (++ps->depth > TT_JSON_MAX_DEPTH) {
		snprintf(ps->errbuf, ps->errsz, "nested deeper than %d levels", TT_JSON_MAX_DEPTH);
		ps->err = TT_JSON_ERR_DEPTH;
		return false;
	}
	v->src = ps->p;
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		goto done;
	}
	for (;;) {
		const char *key = NULL, *ksrc;
		size_t key_len = 0, ksrc_len;
		struct tt_json *child;

		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return parse_fail(ps, TT_JSON_ERR_SYNTAX, "expected a member name");
			if (!parse_string(ps, &key, &key_len, &ksrc, &ksrc_len))
				return false;
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return parse_fail(ps, TT_JSON_ERR_SYNTAX, "expected ':'");
			ps->p++;
			skip_space(ps);
		}
		child = parse_value(ps);
		if (child == NULL)
			return false;
		child->key = key;
		child->key_len = key_len;
		if (v->last == NULL)
			v->first = child;
		else
			v->last->next = child;
		v->last = child;
		v->count++;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_space(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			break;
		}
		return parse_fail(ps, TT_JSON_ERR_SYNTAX, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
done:
	v->src_len = (size_t)(ps->p - v->src);
	ps->depth--;
	return true;
}

/* Parses one value at ps->p (no leading white space). NULL on error. */
static struct tt_json *
parse_value(struct tt_json_parser *ps)
{
	struct tt_json *v;
	bool ok;

	if (ps->p >= ps->end) {
		parse_fail(ps, TT_JSON_ERR_SYNTAX, "unexpected end of input");
		return NULL;
	}
	v = tt_arena_alloc(ps->arena, sizeof *v);
	if (v == NULL) {
		parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
		return NULL;
	}
	memset(v, 0, sizeof *v);
	switch (*ps->p) {
	case '{':
		v->kind = TT_JSON_OBJECT;
		ok = parse_container(ps, v);
		break;
	case '[':
		v->kind = TT_JSON_ARRAY;
		ok = parse_container(ps, v);
		break;
	case '"':
		v->kind = TT_JSON_STRING;
		ok = parse_string(ps, &v->str, &v->len, &v->src, &v->src_len);
		break;
	case 't':
		v->kind = TT_JSON_TRUE;
		ok = parse_literal(ps, "true");
		break;
	case 'f':
		v->kind = TT_JSON_FALSE;
		ok = parse_literal(ps, "false");
		break;
	case 'n':
		v->kind = TT_JSON_NULL;
		ok = parse_literal(ps, "null");
		break;
	default:
		v->kind = TT_JSON_NUMBER;
		ok = parse_number(ps, v);
		break;
	}
	return ok ? v : NULL;
}

struct tt_json_parser *
tt_json_parser_new(void)
{
	return calloc(1, sizeof(struct tt_json_parser));
}

void
tt_json_parser_free(struct tt_json_parser *p)
{
	free(p);
}

enum tt_json_err
tt_json_parse(struct tt_json_parser *ps, struct tt_arena *arena, const char *text,
    size_t len, struct tt_json **out, char *errbuf, size_t errsz)
{
	struct tt_json *root;

	*out = NULL;
	/* UTF-8 first, on the whole line: a clear reason, and the string
	 * scanner then need not decode. */
	if (!tt_utf8_valid(text, len)) {
		snprintf(errbuf, errsz, "invalid UTF-8");
		return TT_JSON_ERR_UTF8;
	}
	ps->arena = arena;
	ps->start = ps->p = text;
	ps->end = text + len;
	ps->depth = 0;
	ps->err = TT_JSON_OK;
	ps->errbuf = errbuf;
	ps->errsz = errsz;
	skip_space(ps);
	if (ps->p == ps->end) {
		snprintf(errbuf, errsz, "empty input");
		return TT_JSON_ERR_SYNTAX;
	}
	root = parse_value(ps);
	if (root != NULL) {
		skip_space(ps);
		if (ps->p != ps->end) {
			parse_fail(ps, TT_JSON_ERR_SYNTAX, "text after the value");
			root = NULL;
		}
	}
	if (root == NULL)
		return ps->err != TT_JSON_OK ? ps->err : TT_JSON_ERR_SYNTAX;
	*out = root;
	return TT_JSON_OK;
}

/* ---- lookup --------------------------------------------------------- */

const struct tt_json *
tt_json_get(const struct tt_json *obj, const char *key)
{
	size_t klen;

	if (obj == NULL || obj->kind != TT_JSON_OBJECT)
		return NULL;
	klen = strlen(key);
	for (const struct tt_json *m = obj->first; m != NULL; m = m->next)
		if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
			return m;
	return NULL;
}

const struct tt_json *
tt_json_path(const struct tt_json *v, const char *path)
{
	char name[64];

	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof name)
			return NULL;
		memcpy(name, path, n);
		name[n] = '\0';
		v = tt_json_get(v, name);
		path += n;
		if (*path == '.')
			path++;
	}
	return v;
}

const struct tt_json *
tt_json_at(const struct tt_json *arr, size_t index)
{
	const struct tt_json *e;

	if (arr == NULL || arr->kind != TT_JSON_ARRAY)
		return NULL;
	for (e = arr->first; e != NULL && index > 0; e = e->next)
		index--;
	return e;
}

bool
tt_json_str_eq(const struct tt_json *v, const char *s)
{
	size_t n = strlen(s);

	return v != NULL && v->kind == TT_JSON_STRING && v->len == n &&
	    memcmp(v->str, s, n) == 0;
}

bool
tt_json_int(const struct tt_json *v, int64_t *out)
{
	const char *s;
	size_t i = 0, len;
	bool neg = false;
	uint64_t acc = 0;

	if (v == NULL || (v->kind != TT_JSON_NUMBER && v->kind != TT_JSON_STRING))
		return false;
	s = v->str;
	len = v->len;
	if (v->kind == TT_JSON_NUMBER && memchr(s, '.', len) == NULL &&
	    memchr(s, 'e', len) == NULL && memchr(s, 'E', len) == NULL) {
		/* plain integer literal: below */
	} else if (v->kind == TT_JSON_NUMBER) {
		/* 3.0 and 1e3 are integers too (JSON Schema says so); exact
		 * only up to 2^53. */
		double d = strtod(s, NULL);

		if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
			return false;
		*out = (int64_t)d;
		return true;
	}
	if (len > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return false;
	for (; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9)
			return false;
		if (acc > (UINT64_MAX - d) / 10)
			return false;
		acc = acc * 10 + d;
	}
	if (acc > (uint64_t)INT64_MAX + neg)
		return false;
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return true;
}

bool
tt_json_truthy(const struct tt_json *v)
{
	int64_t n;

	if (v == NULL)
		return false;
	if (v->kind == TT_JSON_TRUE)
		return true;
	return tt_json_int(v, &n) && n != 0;
}

/* ---- building ------------------------------------------------------- */

struct tt_json *
tt_json_new(struct tt_arena *a, enum tt_json_kind kind)
{
	struct tt_json *v = tt_arena_alloc(a, sizeof *v);

	if (v == NULL)
		return NULL;
	memset(v, 0, sizeof *v);
	v->kind = kind;
	return v;
}

struct tt_json *
tt_json_new_str(struct tt_arena *a, const char *s, size_t len)
{
	struct tt_json *v = tt_json_new(a, TT_JSON_STRING);

	if (v == NULL)
		return NULL;
	v->str = s;
	v->len = len;
	return v;
}

size_t
tt_json_format_int(int64_t n, char buf[TT_JSON_INT_LEN])
{
	char tmp[TT_JSON_INT_LEN];
	uint64_t u = n < 0 ? 0 - (uint64_t)n : (uint64_t)n;
	size_t len = 0, i = 0;

	/* Called for every number an event holds: no printf machinery. */
	do {
		tmp[i++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (n < 0)
		buf[len++] = '-';
	while (i > 0)
		buf[len++] = tmp[--i];
	buf[len] = '\0';
	return len;
}

struct tt_json *
tt_json_new_int(struct tt_arena *a, int64_t n)
{
	struct tt_json *v = tt_json_new(a, TT_JSON_NUMBER);
	char buf[TT_JSON_INT_LEN];
	size_t len;

	if (v == NULL)
		return NULL;
	len = tt_json_format_int(n, buf);
	v->str = tt_arena_strdup(a, buf, len);
	v->len = len;
	return v->str == NULL ? NULL : v;
}

struct tt_json *
tt_json_new_bool(struct tt_arena *a, bool b)
{
	return tt_json_new(a, b ? TT_JSON_TRUE : TT_JSON_FALSE);
}

struct tt_json *
tt_json_new_copy(struct tt_arena *a, const struct tt_json *src)
{
	struct tt_json *v;

	if (src->kind == TT_JSON_STRING && src->src != NULL) {
		v = tt_json_new(a, TT_JSON_VERBATIM);
		if (v == NULL)
			return NULL;
		v->verbatim_kind = TT_JSON_STRING;
		v->str = src->str;
		v->len = src->len;
		v->src = src->src;
		v->src_len = src->src_len;
		return v;
	}
	if (src->kind != TT_JSON_ARRAY && src->kind != TT_JSON_OBJECT) {
		v = tt_json_new(a, src->kind);
		if (v == NULL)
			return NULL;
		v->str = src->str;
		v->len = src->len;
		v->src = src->src;
		v->src_len = src->src_len;
		v->verbatim_kind = src->verbatim_kind;
		return v;
	}
	if (src->src == NULL) {
		/* Built, not parsed: no text to point at, so copy the tree. */
		v = tt_json_new(a, src->kind);
		for (const struct tt_json *c = src->first; c != NULL && v != NULL; c = c->next) {
			struct tt_json *cc = tt_json_new_copy(a, c);

			if (cc == NULL)
				return NULL;
			tt_json_add_n(v, c->key, c->key_len, cc);
		}
		return v;
	}
	v = tt_json_new(a, TT_JSON_VERBATIM);
	if (v == NULL)
		return NULL;
	v->verbatim_kind = src->kind;
	v->src = src->src;
	v->src_len = src->src_len;
	return v;
}

void
tt_json_add(struct tt_json *parent, const char *key, struct tt_json *child)
{
	tt_json_add_n(parent, key, key == NULL ? 0 : strlen(key), child);
}

void
tt_json_add_n(struct tt_json *parent, const char *key, size_t key_len, struct tt_json *child)
{
	if (parent == NULL || child == NULL)
		return;
	child->key = key;
	child->key_len = key_len;
	child->next = NULL;
	if (parent->last == NULL)
		parent->first = child;
	else
		parent->last->next = child;
	parent->last = child;
	parent->count++;
}

/* ---- generating ----------------------------------------------------- */

struct tt_json_writer {
	yajl_gen gen;
};

struct tt_json_writer *
tt_json_writer_new(void)
{
	struct tt_json_writer *w = malloc(sizeof *w);

	if (w == NULL)
		return NULL;
	w->gen = yajl_gen_alloc(NULL);
	if (w->gen == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

void
tt_json_writer_free(struct tt_json_writer *w)
{
	if (w == NULL)
		return;
	yajl_gen_free(w->gen);
	free(w);
}
/* Writes v (and its children) with yajl; false when yajl refuses. */

static bool
gen_value(yajl_gen g, const struct tt_json *v)
{
	yajl_gen_status st = yajl_gen_status_ok;

	switch (v->kind) {
	case TT_JSON_NULL:
		st = yajl_gen_null(g);
		break;
	case TT_JSON_FALSE:
	case TT_JSON_TRUE:
		st = yajl_gen_bool(g, v->kind == TT_JSON_TRUE);
		break;
	case TT_JSON_NUMBER:
		st = yajl_gen_number(g, v->str, v->len);
		break;
	case TT_JSON_VERBATIM:
		/* yajl_gen_number writes its text unchanged and keeps the
		 * generator's separators right: the way to splice a value that
		 * the parser has already validated. */
		st = yajl_gen_number(g, v->src, v->src_len);
		break;
	case TT_JSON_STRING:
		st = yajl_gen_string(g, (const unsigned char *)v->str, v->len);
		break;
	case TT_JSON_ARRAY:
		st = yajl_gen_array_open(g);
		for (const struct tt_json *e = v->first; e != NULL && st == yajl_gen_status_ok; e = e->next)
			st = gen_value(g, e) ? yajl_gen_status_ok : yajl_gen_invalid_string;
		if (st == yajl_gen_status_ok)
			st = yajl_gen_array_close(g);
		break;
	case TT_JSON_OBJECT:
		st = yajl_gen_map_open(g);
		for (const struct tt_json *m = v->first; m != NULL && st == yajl_gen_status_ok; m = m->next) {
			st = yajl_gen_string(g, (const unsigned char *)m->key, m->key_len);
			if (st == yajl_gen_status_ok && !gen_value(g, m))
				st = yajl_gen_invalid_string;
		}
		if (st == yajl_gen_status_ok)
			st = yajl_gen_map_close(g);
		break;
	}
	return st == yajl_gen_status_ok;
}

bool
tt_json_write(struct tt_json_writer *w, const struct tt_json *v,
    const unsigned char **buf, size_t *len)
{
	yajl_gen_clear(w->gen);
	yajl_gen_reset(w->gen, NULL);
	if (!gen_value(w->gen, v))
		return false;
	return yajl_gen_get_buf(w->gen, buf, len) == yajl_gen_status_ok;
}
