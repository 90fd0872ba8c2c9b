/* tt_json.c - see tt_json.h. */
#include "tt_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

/* ---- arena ---------------------------------------------------------- */

#define ARENA_CHUNK (64 * 1024)

struct tt_arena_chunk {
	struct tt_arena_chunk *older;
	size_t size; /* usable bytes in data[] */
	size_t off;  /* bytes used in data[] */
	max_align_t data[];
};

void
tt_arena_init(struct tt_arena *a, size_t max)
{
	a->head = NULL;
	a->used = 0;
	a->max = max;
	a->failed = false;
}

void *
tt_arena_alloc(struct tt_arena *a, size_t size)
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

struct tt_json_parser {
	yajl_handle yajl;              /* allocated per parse: yajl has no reset */
	struct tt_arena *arena;
	const char *text;              /* the input being parsed */
	struct tt_json *root;
	struct tt_json *stack[TT_JSON_MAX_DEPTH]; /* open containers */
	int depth;
	const char *key;               /* pending member name */
	size_t key_len;
	enum tt_json_err err;          /* why a callback stopped the parse */
};

/* Attaches a new node of kind to the open container; NULL stops the parse. */
static struct tt_json *
attach(struct tt_json_parser *p, enum tt_json_kind kind)
{
	struct tt_json *v = tt_json_new(p->arena, kind);

	if (v == NULL) {
		p->err = TT_JSON_ERR_MEMORY;
		return NULL;
	}
	if (p->depth == 0) {
		p->root = v;
	} else {
		tt_json_add(p->stack[p->depth - 1], p->key, v);
		v->key_len = p->key_len;
	}
	p->key = NULL;
	p->key_len = 0;
	return v;
}

static int
on_null(void *ctx)
{
	return attach(ctx, TT_JSON_NULL) != NULL;
}

static int
on_boolean(void *ctx, int b)
{
	return attach(ctx, b ? TT_JSON_TRUE : TT_JSON_FALSE) != NULL;
}

static int
on_scalar(struct tt_json_parser *p, enum tt_json_kind kind, const char *s, size_t len)
{
	struct tt_json *v = attach(p, kind);

	if (v == NULL)
		return 0;
	v->str = tt_arena_strdup(p->arena, s, len);
	v->len = len;
	if (v->str == NULL) {
		p->err = TT_JSON_ERR_MEMORY;
		return 0;
	}
	return 1;
}

static int
on_number(void *ctx, const char *s, size_t len)
{
	return on_scalar(ctx, TT_JSON_NUMBER, s, len);
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
	return on_scalar(ctx, TT_JSON_STRING, (const char *)s, len);
}

static int
on_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct tt_json_parser *p = ctx;

	p->key = tt_arena_strdup(p->arena, (const char *)s, len);
	p->key_len = len;
	if (p->key == NULL) {
		p->err = TT_JSON_ERR_MEMORY;
		return 0;
	}
	return 1;
}

static int
on_open(struct tt_json_parser *p, enum tt_json_kind kind)
{
	struct tt_json *v;

	if (p->depth == TT_JSON_MAX_DEPTH) {
		p->err = TT_JSON_ERR_DEPTH;
		return 0;
	}
	v = attach(p, kind);
	if (v == NULL)
		return 0;
	/* yajl calls back just after consuming the '{' or '['. */
	v->src = p->text + yajl_get_bytes_consumed(p->yajl) - 1;
	p->stack[p->depth++] = v;
	return 1;
}

static int
on_close(struct tt_json_parser *p)
{
	struct tt_json *v = p->stack[--p->depth];

	v->src_len = (size_t)(p->text + yajl_get_bytes_consumed(p->yajl) - v->src);
	return 1;
}

static int
on_start_map(void *ctx)
{
	return on_open(ctx, TT_JSON_OBJECT);
}

static int
on_start_array(void *ctx)
{
	return on_open(ctx, TT_JSON_ARRAY);
}

static int
on_end(void *ctx)
{
	return on_close(ctx);
}

static const yajl_callbacks parse_callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_boolean,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_map_key,
	.yajl_end_map = on_end,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end,
};

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

/* Copies yajl's one-line error text (without its trailing newline). */
static void
copy_yajl_error(yajl_handle h, const char *text, size_t len, char *errbuf, size_t errsz)
{
	unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);

	if (msg == NULL) {
		snprintf(errbuf, errsz, "invalid JSON");
		return;
	}
	snprintf(errbuf, errsz, "%.*s", (int)strcspn((char *)msg, "\n"), (char *)msg);
	yajl_free_error(h, msg);
}

enum tt_json_err
tt_json_parse(struct tt_json_parser *p, struct tt_arena *arena, const char *text,
    size_t len, struct tt_json **out, char *errbuf, size_t errsz)
{
	yajl_status st;

	*out = NULL;
	/* UTF-8 first, on the whole line: a clear reason, and yajl then need
	 * not check strings again. */
	if (!tt_utf8_valid(text, len)) {
		snprintf(errbuf, errsz, "invalid UTF-8");
		return TT_JSON_ERR_UTF8;
	}
	p->arena = arena;
	p->text = text;
	p->root = NULL;
	p->depth = 0;
	p->key = NULL;
	p->key_len = 0;
	p->err = TT_JSON_OK;
	p->yajl = yajl_alloc(&parse_callbacks, NULL, p);
	if (p->yajl == NULL) {
		snprintf(errbuf, errsz, "out of memory");
		return TT_JSON_ERR_MEMORY;
	}
	yajl_config(p->yajl, yajl_dont_validate_strings, 1);
	st = yajl_parse(p->yajl, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(p->yajl);
	if (st != yajl_status_ok) {
		enum tt_json_err err = p->err != TT_JSON_OK ? p->err : TT_JSON_ERR_SYNTAX;

		if (err == TT_JSON_ERR_DEPTH)
			snprintf(errbuf, errsz, "nested deeper than %d levels", TT_JSON_MAX_DEPTH);
		else if (err == TT_JSON_ERR_MEMORY)
			snprintf(errbuf, errsz, "value too large");
		else
			copy_yajl_error(p->yajl, text, len, errbuf, errsz);
		yajl_free(p->yajl);
		p->yajl = NULL;
		return err;
	}
	yajl_free(p->yajl);
	p->yajl = NULL;
	if (p->root == NULL) {
		snprintf(errbuf, errsz, "empty input");
		return TT_JSON_ERR_SYNTAX;
	}
	*out = p->root;
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

struct tt_json *
tt_json_new_int(struct tt_arena *a, int64_t n)
{
	struct tt_json *v = tt_json_new(a, TT_JSON_NUMBER);
	char buf[24];
	int len;

	if (v == NULL)
		return NULL;
	len = snprintf(buf, sizeof buf, "%lld", (long long)n);
	v->str = tt_arena_strdup(a, buf, (size_t)len);
	v->len = (size_t)len;
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

	if (src->kind != TT_JSON_ARRAY && src->kind != TT_JSON_OBJECT) {
		v = tt_json_new(a, src->kind);
		if (v == NULL)
			return NULL;
		v->str = src->str;
		v->len = src->len;
		return v;
	}
	if (src->src == NULL) {
		/* Built, not parsed: no text to point at, so copy the tree. */
		v = tt_json_new(a, src->kind);
		for (const struct tt_json *c = src->first; c != NULL && v != NULL; c = c->next) {
			struct tt_json *cc = tt_json_new_copy(a, c);

			if (cc == NULL)
				return NULL;
			tt_json_add(v, c->key, cc);
			cc->key_len = c->key_len;
		}
		return v;
	}
	v = tt_json_new(a, TT_JSON_VERBATIM);
	if (v == NULL)
		return NULL;
	v->verbatim_kind = src->kind;
	v->str = src->src;
	v->len = src->src_len;
	return v;
}

void
tt_json_add(struct tt_json *parent, const char *key, struct tt_json *child)
{
	if (parent == NULL || child == NULL)
		return;
	child->key = key;
	child->key_len = key == NULL ? 0 : strlen(key);
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
		st = yajl_gen_number(g, v->str, v->len);
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
