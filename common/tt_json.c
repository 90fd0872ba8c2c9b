/* tt_json.c - see tt_json.h. */
#include "tt_json.h"

#include "tt_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---------------------------------------------------------- */

#define ARENA_CHUNK (64 * 1024)


void
tt_arena_init(struct tt_arena *a, size_t max)
{
	a->head = NULL;
	a->used = 0;
	a->max = max;
	a->failed = false;
	a->spare = NULL;
	a->nspare = 0;
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

		if (chunk == ARENA_CHUNK && a->spare != NULL) {
			c = a->spare;
			a->spare = c->older;
			a->nspare--;
		} else {
			c = malloc(sizeof *c + chunk);
		}
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

bool
tt_arena_charge(struct tt_arena *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	size_t need = (size + align - 1) / align * align;

	if (need < size || a->used > a->max || need > a->max - a->used) {
		a->failed = true;
		return false;
	}
	a->used += need;
	return true;
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

/* A chunk no longer in use: kept among the spares when it has the
 * standard size and there is room, else freed. */
static void
retire_chunk(struct tt_arena *a, struct tt_arena_chunk *c)
{
	if (c->size == ARENA_CHUNK && a->nspare < 1024) {
		c->older = a->spare;
		a->spare = c;
		a->nspare++;
	} else {
		free(c);
	}
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

		retire_chunk(a, c);
		c = older;
	}
	c->off = 0;
	a->head = c;
	a->used = 0;
}

struct tt_arena_mark
tt_arena_mark(const struct tt_arena *a)
{
	struct tt_arena_mark m = { a->head, a->head != NULL ? a->head->off : 0, a->used };

	return m;
}

void
tt_arena_release(struct tt_arena *a, struct tt_arena_mark m)
{
	struct tt_arena_chunk *c = a->head;

	while (c != NULL && c != m.head) {
		struct tt_arena_chunk *older = c->older;

		retire_chunk(a, c);
		c = older;
	}
	a->head = c;
	if (c != NULL)
		c->off = m.off;
	a->used = m.used;
	a->failed = false;
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
	while (a->spare != NULL) {
		struct tt_arena_chunk *older = a->spare->older;

		free(a->spare);
		a->spare = older;
	}
	a->nspare = 0;
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
 * included (see README, "Why the JSON parser and writer are our own"). yajl is the
 * reference this parser is checked against in test/fuzz. */

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


/* Reads 4 hex digits at ps->p. */
static bool
read_hex4(struct tt_json_parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return parse_fail(ps, TT_JSON_ERR_SYNTAX, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		int d = tt_hex_digit(ps->p[i]);

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

/* Appends byte c to the decoded string at *o, unless the string is being
 * skipped (*o is NULL). */
static void
put_byte(char **o, char c)
{
	if (*o != NULL)
		*(*o)++ = c;
}

/* Parses the string at ps->p (an opening quote). With v, into an arena
 * copy, unescaped and NUL-terminated, with its quoted text as v's span;
 * without (a skipped value), only checks it. */
static bool
parse_string(struct tt_json_parser *ps, struct tt_json *v)
{
	const char *begin = ps->p + 1, *q = begin;
	char *out = NULL, *o = NULL;

	/* Fast scan to the first quote, backslash or control byte: eight
	 * bytes at a time, and the lowest flagged byte is exact (the SWAR
	 * test can only misflag bytes above a real one). */
	while (ps->end - q >= 8) {
		uint64_t w, m;

		memcpy(&w, q, 8);
		m = special_bytes(w);
		if (m != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			q += (unsigned)__builtin_ctzll(m) / 8;
#endif
			break;
		}
		q += 8;
	}
	while (q < ps->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
		q++;
	if (q < ps->end && *q == '"') {
		/* No escapes: one copy (or, skipped, the charge for one). */
		if (v == NULL && !tt_arena_charge(ps->arena, (size_t)(q - begin) + 1))
			return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
		if (v != NULL) {
			v->str = tt_arena_strdup(ps->arena, begin, (size_t)(q - begin));
			if (v->str == NULL)
				return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
			v->len = (size_t)(q - begin);
			v->src = begin - 1;
			v->src_len = (size_t)(q - begin) + 2;
		}
		ps->p = q + 1;
		return true;
	}
	{
		/* Escapes: find this string's end, then decode; the result is
		 * never longer than its escaped text. Skipped, charge the same. */
		const char *e = q;

		while (e < ps->end && *e != '"')
			e += *e == '\\' ? 2 : 1;
		if (e > ps->end)
			e = ps->end;
		if (v == NULL) {
			if (!tt_arena_charge(ps->arena, (size_t)(e - begin) + 1))
				return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
		} else {
			out = tt_arena_alloc(ps->arena, (size_t)(e - begin) + 1);
			if (out == NULL)
				return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
			memcpy(out, begin, (size_t)(q - begin));
			o = out + (q - begin);
		}
	}
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
			put_byte(&o, (char)c);
			ps->p++;
			continue;
		}
		if (++ps->p >= ps->end)
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "unterminated string");
		c = (unsigned char)*ps->p++;
		switch (c) {
		case '"': put_byte(&o, '"'); break;
		case '\\': put_byte(&o, '\\'); break;
		case '/': put_byte(&o, '/'); break;
		case 'b': put_byte(&o, '\b'); break;
		case 'f': put_byte(&o, '\f'); break;
		case 'n': put_byte(&o, '\n'); break;
		case 'r': put_byte(&o, '\r'); break;
		case 't': put_byte(&o, '\t'); break;
		case 'u': {
			unsigned cp, lo;
			char utf8[4];
			size_t n;

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
			n = put_utf8(utf8, cp);
			for (size_t i = 0; i < n; i++)
				put_byte(&o, utf8[i]);
			break;
		}
		default:
			ps->p--;
			return parse_fail(ps, TT_JSON_ERR_SYNTAX, "bad escape in string");
		}
	}
	if (v != NULL) {
		*o = '\0';
		v->str = out;
		v->len = (size_t)(o - out);
		v->src = begin - 1;
		v->src_len = (size_t)(ps->p - begin) + 2;
	}
	ps->p++;
	return true;
}

static bool
is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* Parses a number's literal text (RFC 8259 grammar) into v, or only checks
 * it when v is NULL. */
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
	if (v != NULL) {
		v->str = tt_arena_strdup(ps->arena, ps->p, (size_t)(q - ps->p));
		if (v->str == NULL)
			return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
		v->len = (size_t)(q - ps->p);
	} else if (!tt_arena_charge(ps->arena, (size_t)(q - ps->p) + 1)) {
		return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
	}
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

/* The filter entry for member name key (exact name first, then "*"), or
 * NULL: the member is checked but not built. */
static const struct tt_json_filter *
filter_entry(const struct tt_json_filter *f, const char *key, size_t key_len)
{
	const struct tt_json_filter *any = NULL;

	/* key is NUL-terminated (an arena copy), so key[0] is safe to read. */
	for (; f->name != NULL; f++) {
		if (f->name[0] == '*' && f->name[1] == '\0')
			any = f;
		else if (f->name[0] == key[0] && strnlen(f->name, key_len + 1) == key_len &&
		    memcmp(f->name, key, key_len) == 0)
			return f;
	}
	return any;
}

static bool parse_value(struct tt_json_parser *ps, const struct tt_json_filter *filter,
    bool build, struct tt_json **out);

/* Parses the object or array at ps->p into v, or only checks it when v is
 * NULL. filter (NULL = everything) says which members of an object to
 * build; an array's elements share the array's filter. */
static bool
parse_container(struct tt_json_parser *ps, struct tt_json *v, bool object,
    const struct tt_json_filter *filter)
{
	char close = object ? '}' : ']';
	const char *open = ps->p;

	if (++ps->depth > TT_JSON_MAX_DEPTH) {
		snprintf(ps->errbuf, ps->errsz, "nested deeper than %d levels", TT_JSON_MAX_DEPTH);
		ps->err = TT_JSON_ERR_DEPTH;
		return false;
	}
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		goto done;
	}
	for (;;) {
		struct tt_json key = { 0 }, *child = NULL;
		const struct tt_json_filter *child_filter = filter;
		bool build = v != NULL;

		if (object) {
			if (ps->p >= ps->end || *ps->p != '"')
				return parse_fail(ps, TT_JSON_ERR_SYNTAX, "expected a member name");
			if (!parse_string(ps, v != NULL ? &key : NULL))
				return false;
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return parse_fail(ps, TT_JSON_ERR_SYNTAX, "expected ':'");
			ps->p++;
			skip_space(ps);
			if (build && filter != NULL) {
				const struct tt_json_filter *e = filter_entry(filter, key.str, key.len);

				build = e != NULL;
				child_filter = e != NULL ? e->children : NULL;
			}
		}
		if (!parse_value(ps, child_filter, build, &child))
			return false;
		if (child != NULL) {
			child->key = key.str;
			child->key_len = key.len;
			if (v->last == NULL)
				v->first = child;
			else
				v->last->next = child;
			v->last = child;
			v->count++;
		}
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
	if (v != NULL) {
		v->src = open;
		v->src_len = (size_t)(ps->p - open);
		if (object)
			v->filter = filter;
	}
	ps->depth--;
	return true;
}

/* Parses one value at ps->p (no leading white space): built into a new
 * node in *out when build, else only checked (*out stays NULL). */
static bool
parse_value(struct tt_json_parser *ps, const struct tt_json_filter *filter, bool build,
    struct tt_json **out)
{
	struct tt_json *v = NULL;
	bool ok;

	*out = NULL;
	if (ps->p >= ps->end)
		return parse_fail(ps, TT_JSON_ERR_SYNTAX, "unexpected end of input");
	if (build) {
		v = tt_arena_alloc(ps->arena, sizeof *v);
		if (v == NULL)
			return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
		memset(v, 0, sizeof *v);
	} else if (!tt_arena_charge(ps->arena, sizeof *v)) {
		return parse_fail(ps, TT_JSON_ERR_MEMORY, "value too large");
	}
	switch (*ps->p) {
	case '{':
		if (v != NULL)
			v->kind = TT_JSON_OBJECT;
		ok = parse_container(ps, v, true, filter);
		break;
	case '[':
		if (v != NULL)
			v->kind = TT_JSON_ARRAY;
		ok = parse_container(ps, v, false, filter);
		break;
	case '"':
		if (v != NULL)
			v->kind = TT_JSON_STRING;
		ok = parse_string(ps, v);
		break;
	case 't':
		if (v != NULL)
			v->kind = TT_JSON_TRUE;
		ok = parse_literal(ps, "true");
		break;
	case 'f':
		if (v != NULL)
			v->kind = TT_JSON_FALSE;
		ok = parse_literal(ps, "false");
		break;
	case 'n':
		if (v != NULL)
			v->kind = TT_JSON_NULL;
		ok = parse_literal(ps, "null");
		break;
	default:
		if (v != NULL)
			v->kind = TT_JSON_NUMBER;
		ok = parse_number(ps, v);
		break;
	}
	*out = v;
	return ok;
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
tt_json_parse_filtered(struct tt_json_parser *ps, struct tt_arena *arena, const char *text,
    size_t len, const struct tt_json_filter *filter, struct tt_json **out, char *errbuf, size_t errsz)
{
	struct tt_json *root = NULL;
	bool ok;

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
	ok = parse_value(ps, filter, true, &root);
	if (ok) {
		skip_space(ps);
		if (ps->p != ps->end)
			ok = parse_fail(ps, TT_JSON_ERR_SYNTAX, "text after the value");
	}
	if (!ok)
		return ps->err != TT_JSON_OK ? ps->err : TT_JSON_ERR_SYNTAX;
	*out = root;
	return TT_JSON_OK;
}

enum tt_json_err
tt_json_parse(struct tt_json_parser *ps, struct tt_arena *arena, const char *text,
    size_t len, struct tt_json **out, char *errbuf, size_t errsz)
{
	return tt_json_parse_filtered(ps, arena, text, len, NULL, out, errbuf, errsz);
}

/* ---- lookup --------------------------------------------------------- */

static bool check_filters;

void
tt_json_check_filters(bool on)
{
	check_filters = on;
}

const struct tt_json *
tt_json_get(const struct tt_json *obj, const char *key)
{
	size_t klen;

	if (obj == NULL || obj->kind != TT_JSON_OBJECT)
		return NULL;
	klen = strlen(key);
	if (check_filters && obj->filter != NULL && filter_entry(obj->filter, key, klen) == NULL) {
		fprintf(stderr, "tt_json_get: member \"%s\" is read but its object was parsed "
		    "under a filter that drops it: add it to the filter\n", key);
		abort();
	}
	/* Length and first byte first: most members differ there, and a
	 * memcmp call costs more than the whole test. */
	for (const struct tt_json *m = obj->first; m != NULL; m = m->next)
		if (m->key_len == klen && (klen == 0 || m->key[0] == key[0]) &&
		    memcmp(m->key, key, klen) == 0)
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

/* The writer is ours too: yajl's generator cost about 15 % of a
 * normalized line, most of it in per-token calls; this one copies verbatim
 * spans with one memcpy and escapes only built strings. Its output is
 * compact JSON that test/fuzz/fuzz-json.c parses back to the same values. */
struct tt_json_writer {
	char *buf;
	size_t len, cap;
	bool failed; /* out of memory or past the ceiling */
};

/* Output larger than this is refused rather than grown into. */
#define WRITER_MAX ((size_t)1 << 30)

struct tt_json_writer *
tt_json_writer_new(void)
{
	return calloc(1, sizeof(struct tt_json_writer));
}

void
tt_json_writer_free(struct tt_json_writer *w)
{
	if (w == NULL)
		return;
	free(w->buf);
	free(w);
}

/* Makes room for n more bytes; false (and w->failed) if it cannot. */
static bool
reserve(struct tt_json_writer *w, size_t n)
{
	size_t cap = w->cap == 0 ? 4096 : w->cap;
	char *b;

	if (w->failed)
		return false;
	if (n <= w->cap - w->len)
		return true;
	if (n > WRITER_MAX - w->len) {
		w->failed = true;
		return false;
	}
	while (cap - w->len < n)
		cap *= 2;
	b = realloc(w->buf, cap);
	if (b == NULL) {
		w->failed = true;
		return false;
	}
	w->buf = b;
	w->cap = cap;
	return true;
}

static inline void
put(struct tt_json_writer *w, const void *p, size_t n)
{
	if (n <= w->cap - w->len || reserve(w, n)) {
		memcpy(w->buf + w->len, p, n);
		w->len += n;
	}
}

static inline void
put_char(struct tt_json_writer *w, char c)
{
	if (w->len < w->cap || reserve(w, 1))
		w->buf[w->len++] = c;
}

/* Writes s[0..n) as a JSON string: quotes, and escapes for '"', '\\' and
 * control characters; everything else (UTF-8 included) as it is. Room for
 * each block's worst case is made up front, so the loop writes without
 * checks. */
static void
put_string(struct tt_json_writer *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const size_t block = 4096;
	char *o;
	size_t i = 0, block_end = 0;

	/* A short string (nearly all: keys, ids, names) reserves once. */
	if (!reserve(w, n <= block ? 6 * n + 2 : 1))
		return;
	if (n <= block)
		block_end = n;
	o = w->buf + w->len;
	*o++ = '"';
	while (i < n) {
		unsigned char c;

		if (i >= block_end) {
			/* Room for the next block at its worst (all \u00XX), made
			 * per block so a long plain string needs only its length. */
			size_t take = n - i < block ? n - i : block;

			w->len = (size_t)(o - w->buf);
			if (!reserve(w, 6 * take + 1))
				return;
			o = w->buf + w->len;
			block_end = i + take;
		}

		/* Eight plain bytes at a time. */
		if (block_end - i >= 8) {
			uint64_t word;

			memcpy(&word, s + i, 8);
			if (special_bytes(word) == 0) {
				memcpy(o, s + i, 8);
				o += 8;
				i += 8;
				continue;
			}
		}
		c = (unsigned char)s[i++];
		if (c != '"' && c != '\\' && c >= 0x20) {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	if (n <= block) {
		*o++ = '"';
		w->len = (size_t)(o - w->buf);
		return;
	}
	w->len = (size_t)(o - w->buf);
	if (reserve(w, 1))
		w->buf[w->len++] = '"';
}

/* Writes v and its children. */
static void
gen_value(struct tt_json_writer *w, const struct tt_json *v)
{
	switch (v->kind) {
	case TT_JSON_NULL:
		put(w, "null", 4);
		break;
	case TT_JSON_FALSE:
		put(w, "false", 5);
		break;
	case TT_JSON_TRUE:
		put(w, "true", 4);
		break;
	case TT_JSON_NUMBER:
		put(w, v->str, v->len);
		break;
	case TT_JSON_VERBATIM:
		put(w, v->src, v->src_len);
		break;
	case TT_JSON_STRING:
		put_string(w, v->str, v->len);
		break;
	case TT_JSON_ARRAY:
	case TT_JSON_OBJECT:
		put_char(w, v->kind == TT_JSON_ARRAY ? '[' : '{');
		for (const struct tt_json *c = v->first; c != NULL; c = c->next) {
			if (c != v->first)
				put_char(w, ',');
			if (v->kind == TT_JSON_OBJECT) {
				put_string(w, c->key != NULL ? c->key : "", c->key_len);
				put_char(w, ':');
			}
			gen_value(w, c);
		}
		put_char(w, v->kind == TT_JSON_ARRAY ? ']' : '}');
		break;
	}
}

bool
tt_json_write(struct tt_json_writer *w, const struct tt_json *v,
    const unsigned char **buf, size_t *len)
{
	w->len = 0;
	w->failed = false;
	gen_value(w, v);
	if (w->failed)
		return false;
	*buf = (const unsigned char *)w->buf;
	*len = w->len;
	return true;
}
