/* tt_schema.c - see tt_schema.h. */
#include "tt_schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_hash.h"
#include "tt_time.h"

/* ---- simple patterns ------------------------------------------------- */

/* An atom of a simple pattern: one character out of a set, repeated
 * min..max times. */
struct pat_atom {
	unsigned char set[32]; /* bit per byte value */
	unsigned min, max;     /* max UINT32_MAX = unbounded */
};

struct pattern {
	bool simple;            /* atoms[] used, else re */
	size_t fixed_len;       /* anchored, every atom {n}: the length, else 0 */
	bool anchor_start, anchor_end;
	struct pat_atom *atoms;
	size_t natoms;
	regex_t re;
};

static void
set_add(unsigned char *set, unsigned c)
{
	set[c / 8] |= (unsigned char)(1u << (c % 8));
}

static bool
set_has(const unsigned char *set, unsigned char c)
{
	return (set[c / 8] >> (c % 8)) & 1;
}

/* Parses the subset ^ atoms $ where an atom is a literal, '.', or a [class]
 * followed by an optional ?, *, +, {n} or {m,n}. Returns false when the
 * pattern needs the full regex engine. */
static bool
pattern_simple(struct pattern *pt, const char *p)
{
	size_t n = strlen(p), cap = n + 1, i = 0;

	pt->atoms = calloc(cap, sizeof *pt->atoms);
	if (pt->atoms == NULL)
		return false;
	pt->natoms = 0;
	if (p[i] == '^') {
		pt->anchor_start = true;
		i++;
	}
	while (i < n) {
		struct pat_atom *a = &pt->atoms[pt->natoms];
		unsigned char c = (unsigned char)p[i];

		if (c == '$' && i == n - 1) {
			pt->anchor_end = true;
			break;
		}
		if (c == '[') {
			bool neg = false;
			unsigned char tmp[32] = { 0 };

			i++;
			if (p[i] == '^') {
				neg = true;
				i++;
			}
			while (i < n && p[i] != ']') {
				unsigned lo = (unsigned char)p[i], hi = lo;

				if (p[i] == '\\')
					return false;
				if (i + 2 < n && p[i + 1] == '-' && p[i + 2] != ']') {
					hi = (unsigned char)p[i + 2];
					i += 2;
				}
				for (unsigned ch = lo; ch <= hi; ch++)
					set_add(tmp, ch);
				i++;
			}
			if (i >= n)
				return false;
			i++;
			for (unsigned ch = 0; ch < 256; ch++)
				if (set_has(tmp, (unsigned char)ch) != neg)
					set_add(a->set, ch);
		} else if (c == '.') {
			memset(a->set, 0xff, sizeof a->set);
			i++;
		} else if (strchr("\\()|*+?{}^$", c) != NULL) {
			return false;
		} else {
			set_add(a->set, c);
			i++;
		}
		a->min = a->max = 1;
		if (i < n && p[i] == '?') {
			a->min = 0;
			i++;
		} else if (i < n && p[i] == '*') {
			a->min = 0;
			a->max = UINT32_MAX;
			i++;
		} else if (i < n && p[i] == '+') {
			a->max = UINT32_MAX;
			i++;
		} else if (i < n && p[i] == '{') {
			char *end;
			unsigned long lo = strtoul(p + i + 1, &end, 10), hi = lo;

			if (end == p + i + 1)
				return false;
			if (*end == ',') {
				const char *hs = end + 1;

				hi = strtoul(hs, &end, 10);
				if (end == hs)
					return false;
			}
			if (*end != '}' || hi < lo || hi > 100000)
				return false;
			a->min = (unsigned)lo;
			a->max = (unsigned)hi;
			i = (size_t)(end - p) + 1;
		}
		pt->natoms++;
	}
	return true;
}

/* Backtracking match of atoms[k..] against s[0..len) from position pos. */
static bool
atoms_match(const struct pattern *pt, size_t k, const char *s, size_t len, size_t pos)
{
	const struct pat_atom *a;
	size_t count = 0;

	if (k == pt->natoms)
		return !pt->anchor_end || pos == len;
	a = &pt->atoms[k];
	while (count < a->max && pos + count < len && set_has(a->set, (unsigned char)s[pos + count]))
		count++;
	if (count < a->min)
		return false;
	/* Greedy first, then give back. */
	for (size_t c = count + 1; c-- > a->min;)
		if (atoms_match(pt, k + 1, s, len, pos + c))
			return true;
	return false;
}

static bool
pattern_match(const struct pattern *pt, const char *s, size_t len)
{
	if (pt->fixed_len != 0) {
		/* ^...$ of fixed-width atoms (a uuid, a sha256): no search. */
		size_t pos = 0;

		if (len != pt->fixed_len)
			return false;
		for (size_t k = 0; k < pt->natoms; k++)
			for (unsigned c = 0; c < pt->atoms[k].min; c++, pos++)
				if (!set_has(pt->atoms[k].set, (unsigned char)s[pos]))
					return false;
		return true;
	}
	if (!pt->simple) {
		/* regexec needs a C string; our strings may hold NUL. */
		if (memchr(s, '\0', len) != NULL)
			return false;
		return regexec(&pt->re, s, 0, NULL, 0) == 0;
	}
	if (pt->anchor_start)
		return atoms_match(pt, 0, s, len, 0);
	for (size_t start = 0; start <= len; start++)
		if (atoms_match(pt, 0, s, len, start))
			return true;
	return false;
}

static bool
pattern_compile(struct pattern *pt, const char *p)
{
	memset(pt, 0, sizeof *pt);
	if (pattern_simple(pt, p)) {
		pt->simple = true;
		if (pt->anchor_start && pt->anchor_end) {
			size_t total = 0;
			bool fixed = true;

			for (size_t k = 0; k < pt->natoms && fixed; k++) {
				fixed = pt->atoms[k].min == pt->atoms[k].max;
				total += pt->atoms[k].min;
			}
			pt->fixed_len = fixed ? total : 0;
		}
		return true;
	}
	free(pt->atoms);
	pt->atoms = NULL;
	pt->anchor_start = pt->anchor_end = false;
	return regcomp(&pt->re, p, REG_EXTENDED | REG_NOSUB) == 0;
}

static void
pattern_free(struct pattern *pt)
{
	if (pt->simple)
		free(pt->atoms);
	else
		regfree(&pt->re);
}

/* ---- compiled schema ------------------------------------------------- */

enum {
	T_NULL = 1 << 0,
	T_BOOLEAN = 1 << 1,
	T_INTEGER = 1 << 2,
	T_NUMBER = 1 << 3,
	T_STRING = 1 << 4,
	T_ARRAY = 1 << 5,
	T_OBJECT = 1 << 6,
};

enum format { F_NONE, F_DATE_TIME, F_UUID };

struct node;

struct prop {
	const char *name;
	size_t len;
	struct node *schema;
};

struct pprop {
	struct pattern pattern;
	struct node *schema;
};

struct node {
	bool always;                  /* boolean schema: true or false */
	bool is_bool;
	unsigned types;               /* 0 = any */
	const struct tt_json *constv; /* const, or NULL */
	const struct tt_json *enumv;  /* enum array, or NULL */
	struct prop *props;
	size_t nprops;
	const struct tt_json **required;
	size_t nrequired;
	struct pprop *pprops;
	size_t npprops;
	struct node *additional;      /* NULL = anything allowed */
	struct node *items;
	bool has_min_items;
	size_t min_items;
	bool has_min_len, has_max_len;
	size_t min_len, max_len;
	bool has_minimum, has_maximum;
	double minimum, maximum;
	struct pattern *pattern;
	enum format format;
	struct node **all_of, **any_of, **one_of;
	size_t nall, nany, none;
	struct node *not_;
	struct node *if_, *then_, *else_;
	struct node *ref;
	const char *ref_name;         /* "#/$defs/x" before resolution */
	const char *disc_name;        /* if-then on one member's const/enum:
	                               * that member's name, else NULL */
	struct node *next_alloc;      /* every node, for freeing */
};

struct def {
	const char *name;
	struct node *schema;
};

struct tt_schema {
	struct tt_arena arena;   /* the schema text's tree */
	char *text;              /* owned copy the tree points into */
	struct node *root;
	struct node *all_nodes;
	struct def *defs;
	size_t ndefs;
	char *err;               /* compile error buffer */
	size_t errsz;
	bool failed;
};

static void
compile_error(struct tt_schema *s, const char *fmt, ...)
{
	va_list ap;

	if (s->failed)
		return;
	s->failed = true;
	va_start(ap, fmt);
	vsnprintf(s->err, s->errsz, fmt, ap);
	va_end(ap);
}

static struct node *
new_node(struct tt_schema *s)
{
	struct node *n = calloc(1, sizeof *n);

	if (n == NULL) {
		compile_error(s, "out of memory");
		return NULL;
	}
	n->next_alloc = s->all_nodes;
	s->all_nodes = n;
	return n;
}

static struct node *compile_node(struct tt_schema *s, const struct tt_json *v);

static unsigned
type_bit(const struct tt_json *v)
{
	static const char *const names[] = { "null", "boolean", "integer", "number", "string", "array", "object" };

	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (tt_json_str_eq(v, names[i]))
			return 1u << i;
	return 0;
}

static struct node **
compile_list(struct tt_schema *s, const struct tt_json *arr, size_t *count)
{
	struct node **list;
	size_t i = 0;

	if (arr->kind != TT_JSON_ARRAY || arr->count == 0) {
		compile_error(s, "expected a non-empty array of schemas");
		return NULL;
	}
	list = calloc(arr->count, sizeof *list);
	if (list == NULL) {
		compile_error(s, "out of memory");
		return NULL;
	}
	for (const struct tt_json *e = arr->first; e != NULL; e = e->next)
		list[i++] = compile_node(s, e);
	*count = arr->count;
	return list;
}

static bool
number_of(const struct tt_json *v, double *out)
{
	char *end;

	if (v == NULL || v->kind != TT_JSON_NUMBER)
		return false;
	*out = strtod(v->str, &end);
	return end == v->str + v->len;
}

static bool
size_of(const struct tt_json *v, size_t *out)
{
	int64_t n;

	if (!tt_json_int(v, &n) || n < 0 || v->kind != TT_JSON_NUMBER)
		return false;
	*out = (size_t)n;
	return true;
}

/* Keywords that only annotate; everything else must be understood. */
static bool
annotation(const char *key)
{
	static const char *const names[] = { "$schema", "$id", "$comment", "title", "description", "$defs", "default", "examples" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(key, names[i]) == 0)
			return true;
	return false;
}
/* Compiles one schema object (or boolean schema) into a node owned by s;
 * an unsupported keyword marks s failed with the reason. */

static struct node *
compile_node(struct tt_schema *s, const struct tt_json *v)
{
	struct node *n = new_node(s);

	if (n == NULL)
		return NULL;
	if (v->kind == TT_JSON_TRUE || v->kind == TT_JSON_FALSE) {
		n->is_bool = true;
		n->always = v->kind == TT_JSON_TRUE;
		return n;
	}
	if (v->kind != TT_JSON_OBJECT) {
		compile_error(s, "a schema must be an object or a boolean");
		return n;
	}
	for (const struct tt_json *m = v->first; m != NULL && !s->failed; m = m->next) {
		const char *k = m->key;

		if (annotation(k)) {
			continue;
		} else if (strcmp(k, "type") == 0) {
			if (m->kind == TT_JSON_ARRAY) {
				for (const struct tt_json *e = m->first; e != NULL; e = e->next)
					n->types |= type_bit(e);
			} else {
				n->types = type_bit(m);
			}
			if (n->types == 0)
				compile_error(s, "unknown type");
			/* "number" admits integers too. */
			if (n->types & T_NUMBER)
				n->types |= T_INTEGER;
		} else if (strcmp(k, "const") == 0) {
			n->constv = m;
		} else if (strcmp(k, "enum") == 0) {
			if (m->kind != TT_JSON_ARRAY)
				compile_error(s, "enum must be an array");
			n->enumv = m;
		} else if (strcmp(k, "properties") == 0) {
			size_t i = 0;

			n->props = calloc(m->count + 1, sizeof *n->props);
			if (n->props == NULL) {
				compile_error(s, "out of memory");
				break;
			}
			for (const struct tt_json *p = m->first; p != NULL; p = p->next) {
				n->props[i].name = p->key;
				n->props[i].len = p->key_len;
				n->props[i].schema = compile_node(s, p);
				i++;
			}
			n->nprops = i;
		} else if (strcmp(k, "required") == 0) {
			size_t i = 0;

			n->required = calloc(m->count + 1, sizeof *n->required);
			if (n->required == NULL) {
				compile_error(s, "out of memory");
				break;
			}
			for (const struct tt_json *p = m->first; p != NULL; p = p->next)
				n->required[i++] = p;
			n->nrequired = i;
		} else if (strcmp(k, "patternProperties") == 0) {
			size_t i = 0;

			n->pprops = calloc(m->count + 1, sizeof *n->pprops);
			if (n->pprops == NULL) {
				compile_error(s, "out of memory");
				break;
			}
			for (const struct tt_json *p = m->first; p != NULL; p = p->next) {
				if (!pattern_compile(&n->pprops[i].pattern, p->key)) {
					compile_error(s, "bad pattern '%s'", p->key);
					break;
				}
				n->pprops[i].schema = compile_node(s, p);
				n->npprops = ++i;
			}
		} else if (strcmp(k, "additionalProperties") == 0) {
			n->additional = compile_node(s, m);
		} else if (strcmp(k, "items") == 0) {
			n->items = compile_node(s, m);
		} else if (strcmp(k, "minItems") == 0) {
			n->has_min_items = size_of(m, &n->min_items);
			if (!n->has_min_items)
				compile_error(s, "bad minItems");
		} else if (strcmp(k, "minLength") == 0) {
			n->has_min_len = size_of(m, &n->min_len);
			if (!n->has_min_len)
				compile_error(s, "bad minLength");
		} else if (strcmp(k, "maxLength") == 0) {
			n->has_max_len = size_of(m, &n->max_len);
			if (!n->has_max_len)
				compile_error(s, "bad maxLength");
		} else if (strcmp(k, "minimum") == 0) {
			n->has_minimum = number_of(m, &n->minimum);
			if (!n->has_minimum)
				compile_error(s, "bad minimum");
		} else if (strcmp(k, "maximum") == 0) {
			n->has_maximum = number_of(m, &n->maximum);
			if (!n->has_maximum)
				compile_error(s, "bad maximum");
		} else if (strcmp(k, "pattern") == 0) {
			n->pattern = calloc(1, sizeof *n->pattern);
			if (m->kind != TT_JSON_STRING || n->pattern == NULL ||
			    !pattern_compile(n->pattern, m->str)) {
				free(n->pattern);
				n->pattern = NULL;
				compile_error(s, "bad pattern");
			}
		} else if (strcmp(k, "format") == 0) {
			if (tt_json_str_eq(m, "date-time"))
				n->format = F_DATE_TIME;
			else if (tt_json_str_eq(m, "uuid"))
				n->format = F_UUID;
			else
				compile_error(s, "unsupported format");
		} else if (strcmp(k, "allOf") == 0) {
			n->all_of = compile_list(s, m, &n->nall);
		} else if (strcmp(k, "anyOf") == 0) {
			n->any_of = compile_list(s, m, &n->nany);
		} else if (strcmp(k, "oneOf") == 0) {
			n->one_of = compile_list(s, m, &n->none);
		} else if (strcmp(k, "not") == 0) {
			n->not_ = compile_node(s, m);
		} else if (strcmp(k, "if") == 0) {
			n->if_ = compile_node(s, m);
		} else if (strcmp(k, "then") == 0) {
			n->then_ = compile_node(s, m);
		} else if (strcmp(k, "else") == 0) {
			n->else_ = compile_node(s, m);
		} else if (strcmp(k, "$ref") == 0) {
			if (m->kind != TT_JSON_STRING || strncmp(m->str, "#/$defs/", 8) != 0)
				compile_error(s, "only local $ref \"#/$defs/<name>\" is supported");
			else
				n->ref_name = m->str + 8;
		} else {
			compile_error(s, "unsupported keyword '%s'", k);
		}
	}
	return n;
}

/* Whether n has no keyword but those its caller allows: properties,
 * const/enum, if/then. */
static bool
bare(const struct node *n, bool allow_props, bool allow_value, bool allow_if_then)
{
	return !n->is_bool && n->types == 0 && n->nrequired == 0 && n->npprops == 0 &&
	    n->additional == NULL && n->items == NULL && !n->has_min_items && !n->has_min_len &&
	    !n->has_max_len && !n->has_minimum && !n->has_maximum && n->pattern == NULL &&
	    n->format == F_NONE && n->nall == 0 && n->nany == 0 && n->none == 0 && n->not_ == NULL &&
	    n->else_ == NULL && n->ref_name == NULL &&
	    (allow_if_then || (n->if_ == NULL && n->then_ == NULL)) &&
	    (allow_props || n->nprops == 0) &&
	    (allow_value || (n->constv == NULL && n->enumv == NULL));
}

/* Marks n, when it is exactly {if: {properties: {P: {const|enum}}}, then:
 * T}, with P, so that validating an object tests the condition with one
 * lookup and a compare instead of a validation. */
static void
mark_discriminator(struct node *n)
{
	const struct node *cond = n->if_, *prop;

	if (cond == NULL || n->then_ == NULL || !bare(n, false, false, true) ||
	    !bare(cond, true, false, false) || cond->nprops != 1)
		return;
	prop = cond->props[0].schema;
	if (!bare(prop, false, true, false) || (prop->constv == NULL) == (prop->enumv == NULL))
		return;
	n->disc_name = cond->props[0].name;
}

static struct node *
find_def(const struct tt_schema *s, const char *name)
{
	for (size_t i = 0; i < s->ndefs; i++)
		if (strcmp(s->defs[i].name, name) == 0)
			return s->defs[i].schema;
	return NULL;
}

void
tt_schema_free(struct tt_schema *s)
{
	struct node *n;

	if (s == NULL)
		return;
	n = s->all_nodes;
	while (n != NULL) {
		struct node *next = n->next_alloc;

		for (size_t i = 0; i < n->npprops; i++)
			pattern_free(&n->pprops[i].pattern);
		if (n->pattern != NULL) {
			pattern_free(n->pattern);
			free(n->pattern);
		}
		free(n->props);
		free(n->required);
		free(n->pprops);
		free(n->all_of);
		free(n->any_of);
		free(n->one_of);
		free(n);
		n = next;
	}
	free(s->defs);
	free(s->text);
	tt_arena_free(&s->arena);
	free(s);
}

struct tt_schema *
tt_schema_compile(const char *text, size_t len, char *errbuf, size_t errsz)
{
	struct tt_schema *s = calloc(1, sizeof *s);
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_json *doc = NULL;
	const struct tt_json *defs;

	if (s == NULL || p == NULL) {
		snprintf(errbuf, errsz, "out of memory");
		free(s);
		tt_json_parser_free(p);
		return NULL;
	}
	s->err = errbuf;
	s->errsz = errsz;
	tt_arena_init(&s->arena, SIZE_MAX / 2);
	s->text = malloc(len + 1);
	if (s->text == NULL) {
		compile_error(s, "out of memory");
		goto out;
	}
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	if (tt_json_parse(p, &s->arena, s->text, len, &doc, errbuf, errsz) != TT_JSON_OK) {
		s->failed = true;
		goto out;
	}
	defs = tt_json_get(doc, "$defs");
	if (defs != NULL) {
		size_t i = 0;

		s->defs = calloc(defs->count + 1, sizeof *s->defs);
		if (s->defs == NULL) {
			compile_error(s, "out of memory");
			goto out;
		}
		for (const struct tt_json *d = defs->first; d != NULL; d = d->next) {
			s->defs[i].name = d->key;
			s->defs[i].schema = compile_node(s, d);
			s->ndefs = ++i;
		}
	}
	s->root = compile_node(s, doc);
	for (struct node *n = s->all_nodes; n != NULL && !s->failed; n = n->next_alloc)
		mark_discriminator(n);
	for (struct node *n = s->all_nodes; n != NULL && !s->failed; n = n->next_alloc) {
		if (n->ref_name == NULL)
			continue;
		n->ref = find_def(s, n->ref_name);
		if (n->ref == NULL)
			compile_error(s, "$ref to unknown definition '%s'", n->ref_name);
	}
out:
	tt_json_parser_free(p);
	if (s->failed) {
		tt_schema_free(s);
		return NULL;
	}
	s->err = NULL;
	return s;
}

/* ---- validation ------------------------------------------------------ */

struct vctx {
	struct tt_schema_error *err; /* NULL: only the verdict is wanted */
	const char *seg[32];         /* instance path segments */
	size_t seglen[32];
	char idx[32][12];            /* array index text per depth */
	size_t depth;
};

static void
fail(struct vctx *c, const char *keyword, const char *fmt, ...)
{
	struct tt_schema_error *e = c->err;
	size_t off = 0;
	va_list ap;

	if (e == NULL)
		return;
	e->path[0] = '\0';
	for (size_t i = 0; i < c->depth && off < sizeof e->path; i++) {
		int n = snprintf(e->path + off, sizeof e->path - off, "/%.*s",
		    (int)c->seglen[i], c->seg[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	snprintf(e->keyword, sizeof e->keyword, "%s", keyword);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
}

static enum tt_json_kind
kind_of(const struct tt_json *v)
{
	return v->kind == TT_JSON_VERBATIM ? v->verbatim_kind : v->kind;
}

static bool
is_integer(const struct tt_json *v)
{
	double d;

	if (kind_of(v) != TT_JSON_NUMBER)
		return false;
	if (v->kind == TT_JSON_NUMBER && strpbrk(v->str, ".eE") == NULL)
		return true;
	return number_of(v, &d) && isfinite(d) && floor(d) == d;
}

static unsigned
types_of(const struct tt_json *v)
{
	switch (kind_of(v)) {
	case TT_JSON_NULL:
		return T_NULL;
	case TT_JSON_FALSE:
	case TT_JSON_TRUE:
		return T_BOOLEAN;
	case TT_JSON_NUMBER:
		return is_integer(v) ? T_INTEGER | T_NUMBER : T_NUMBER;
	case TT_JSON_STRING:
		return T_STRING;
	case TT_JSON_ARRAY:
		return T_ARRAY;
	default:
		return T_OBJECT;
	}
}

/* JSON equality for const/enum, on the scalar kinds our schemas use. */
static bool
json_equal(const struct tt_json *a, const struct tt_json *b)
{
	double x, y;

	if (kind_of(a) == TT_JSON_NUMBER && kind_of(b) == TT_JSON_NUMBER)
		return number_of(a, &x) && number_of(b, &y) && x == y;
	if (kind_of(a) != kind_of(b))
		return false;
	if (kind_of(a) == TT_JSON_STRING)
		return a->str != NULL && b->str != NULL && a->len == b->len &&
		    memcmp(a->str, b->str, a->len) == 0;
	return a->kind == TT_JSON_NULL || a->kind == TT_JSON_TRUE || a->kind == TT_JSON_FALSE;
}

static size_t
utf8_length(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static bool validate(struct vctx *c, const struct node *n, const struct tt_json *v);

/* Whether m satisfies p, a schema holding only const or enum (checked at
 * compile time by mark_discriminator). */
static bool
disc_matches(const struct node *p, const struct tt_json *m)
{
	if (p->constv != NULL)
		return json_equal(p->constv, m);
	for (const struct tt_json *e = p->enumv->first; e != NULL; e = e->next)
		if (json_equal(e, m))
			return true;
	return false;
}

static bool
validate_quiet(struct vctx *c, const struct node *n, const struct tt_json *v)
{
	struct tt_schema_error *saved = c->err;
	bool ok;

	c->err = NULL;
	ok = validate(c, n, v);
	c->err = saved;
	return ok;
}

static bool
push(struct vctx *c, const char *seg, size_t len)
{
	if (c->depth == sizeof c->seg / sizeof c->seg[0])
		return false;
	c->seg[c->depth] = seg;
	c->seglen[c->depth] = len;
	c->depth++;
	return true;
}
/* required, properties, patternProperties and additionalProperties. */

static bool
validate_object(struct vctx *c, const struct node *n, const struct tt_json *v)
{
	for (size_t i = 0; i < n->nrequired; i++) {
		const struct tt_json *r = n->required[i];

		if (tt_json_get(v, r->str) == NULL) {
			fail(c, "required", "missing required member '%s'", r->str);
			return false;
		}
	}
	if (n->additional == NULL && n->npprops == 0) {
		/* Only named members matter: look each one up. (An "if" that
		 * tests one member of a large object is the common case.) */
		for (size_t i = 0; i < n->nprops; i++) {
			const struct prop *p = &n->props[i];
			const struct tt_json *m = tt_json_get(v, p->name);
			bool ok;

			if (m == NULL)
				continue;
			if (!push(c, m->key, m->key_len)) {
				fail(c, "depth", "too deeply nested");
				return false;
			}
			ok = validate(c, p->schema, m);
			c->depth--;
			if (!ok)
				return false;
		}
		return true;
	}
	for (const struct tt_json *m = v->first; m != NULL; m = m->next) {
		bool matched = false;
		bool ok = true;

		if (!push(c, m->key, m->key_len)) {
			fail(c, "depth", "too deeply nested");
			return false;
		}
		for (size_t i = 0; i < n->nprops && ok; i++) {
			const struct prop *p = &n->props[i];

			if (p->len == m->key_len && (p->len == 0 || p->name[0] == m->key[0]) &&
			    memcmp(p->name, m->key, p->len) == 0) {
				matched = true;
				ok = validate(c, p->schema, m);
			}
		}
		for (size_t i = 0; i < n->npprops && ok; i++) {
			if (pattern_match(&n->pprops[i].pattern, m->key, m->key_len)) {
				matched = true;
				ok = validate(c, n->pprops[i].schema, m);
			}
		}
		if (ok && !matched && n->additional != NULL) {
			ok = validate(c, n->additional, m);
			if (!ok && n->additional->is_bool && c->err != NULL)
				fail(c, "additionalProperties", "member not allowed here");
		}
		c->depth--;
		if (!ok)
			return false;
	}
	return true;
}
/* minItems and items. */

static bool
validate_array(struct vctx *c, const struct node *n, const struct tt_json *v)
{
	size_t i = 0;

	if (n->has_min_items && v->count < n->min_items) {
		fail(c, "minItems", "fewer than %zu items", n->min_items);
		return false;
	}
	if (n->items == NULL)
		return true;
	for (const struct tt_json *e = v->first; e != NULL; e = e->next, i++) {
		bool ok;

		snprintf(c->idx[c->depth], sizeof c->idx[0], "%zu", i);
		if (!push(c, c->idx[c->depth], strlen(c->idx[c->depth]))) {
			fail(c, "depth", "too deeply nested");
			return false;
		}
		ok = validate(c, n->items, e);
		c->depth--;
		if (!ok)
			return false;
	}
	return true;
}
/* Whether v satisfies node n; on false, c->err (if set) says why. */

static bool
validate(struct vctx *c, const struct node *n, const struct tt_json *v)
{
	unsigned t;

	if (n->is_bool) {
		if (!n->always)
			fail(c, "false", "no value is allowed here");
		return n->always;
	}
	if (n->ref != NULL && !validate(c, n->ref, v))
		return false;
	if (n->types != 0) {
		/* Whether a number is an integer matters only where "integer"
		 * is allowed and "number" is not; skip the scan elsewhere. */
		if (kind_of(v) == TT_JSON_NUMBER && (n->types & T_NUMBER))
			t = T_NUMBER;
		else
			t = types_of(v);
		if ((n->types & t) == 0) {
			fail(c, "type", "wrong type");
			return false;
		}
	}
	if (n->constv != NULL && !json_equal(n->constv, v)) {
		fail(c, "const", "value is not the required constant");
		return false;
	}
	if (n->enumv != NULL) {
		bool found = false;

		for (const struct tt_json *e = n->enumv->first; e != NULL && !found; e = e->next)
			found = json_equal(e, v);
		if (!found) {
			fail(c, "enum", "value is not one of the allowed values");
			return false;
		}
	}
	if (kind_of(v) == TT_JSON_STRING && v->str != NULL) {
		if (n->has_min_len || n->has_max_len) {
			size_t len = utf8_length(v->str, v->len);

			if (n->has_min_len && len < n->min_len) {
				fail(c, "minLength", "shorter than %zu characters", n->min_len);
				return false;
			}
			if (n->has_max_len && len > n->max_len) {
				fail(c, "maxLength", "longer than %zu characters", n->max_len);
				return false;
			}
		}
		if (n->pattern != NULL && !pattern_match(n->pattern, v->str, v->len)) {
			fail(c, "pattern", "does not match the required pattern");
			return false;
		}
		if (n->format == F_DATE_TIME && !tt_time_valid_iso(v->str, v->len)) {
			fail(c, "format", "not an RFC 3339 date-time");
			return false;
		}
		if (n->format == F_UUID && !tt_uuid_valid(v->str, v->len)) {
			fail(c, "format", "not a UUID");
			return false;
		}
	}
	if ((n->has_minimum || n->has_maximum) && kind_of(v) == TT_JSON_NUMBER) {
		double d;
		int64_t i;

		/* Integers (nearly all of them) without strtod; exact below 2^53,
		 * as the bounds in our schemas are. */
		if (tt_json_int(v, &i) && i > -9007199254740992LL && i < 9007199254740992LL)
			d = (double)i;
		else if (!number_of(v, &d)) {
			fail(c, "type", "not a number");
			return false;
		}
		if (n->has_minimum && d < n->minimum) {
			fail(c, "minimum", "less than %.17g", n->minimum);
			return false;
		}
		if (n->has_maximum && d > n->maximum) {
			fail(c, "maximum", "greater than %.17g", n->maximum);
			return false;
		}
	}
	/* A verbatim value was validated as JSON when parsed; only its type
	 * is checked here. */
	if (v->kind == TT_JSON_OBJECT && !validate_object(c, n, v))
		return false;
	if (v->kind == TT_JSON_ARRAY && !validate_array(c, n, v))
		return false;
	for (size_t i = 0; i < n->nall; i++) {
		const struct node *a = n->all_of[i];

		if (a->disc_name != NULL) {
			/* {if: {properties: {P: {const|enum}}}, then: T}: the if is
			 * a lookup and a compare, not a full validation. */
			const struct tt_json *m = tt_json_get(v, a->disc_name);

			/* (An absent member satisfies "properties": the if holds.) */
			if (kind_of(v) == TT_JSON_OBJECT && m != NULL && !disc_matches(a->if_->props[0].schema, m))
				continue;
			if (kind_of(v) != TT_JSON_OBJECT && !validate_quiet(c, a->if_, v))
				continue;
			if (!validate(c, a->then_, v))
				return false;
			continue;
		}
		if (!validate(c, a, v))
			return false;
	}
	if (n->nany > 0) {
		bool any = false;

		for (size_t i = 0; i < n->nany && !any; i++)
			any = validate_quiet(c, n->any_of[i], v);
		if (!any) {
			fail(c, "anyOf", "matches none of the alternatives");
			return false;
		}
	}
	if (n->none > 0) {
		size_t matches = 0;

		for (size_t i = 0; i < n->none; i++)
			matches += validate_quiet(c, n->one_of[i], v);
		if (matches != 1) {
			fail(c, "oneOf", "matches %zu alternatives, not exactly one", matches);
			return false;
		}
	}
	if (n->not_ != NULL && validate_quiet(c, n->not_, v)) {
		fail(c, "not", "matches a schema it must not match");
		return false;
	}
	if (n->if_ != NULL) {
		const struct node *branch = validate_quiet(c, n->if_, v) ? n->then_ : n->else_;

		if (branch != NULL && !validate(c, branch, v))
			return false;
	}
	return true;
}

bool
tt_schema_validate(const struct tt_schema *s, const struct tt_json *v, struct tt_schema_error *err)
{
	struct vctx c = { .err = err, .depth = 0 };

	return validate(&c, s->root, v);
}
