/* tt_json.h - a JSON document tree on an arena, with its own RFC 8259
 * parser and compact writer (yajl writes the logs, and is the reference the
 * parser is fuzzed against).
 *
 * Why not yajl_tree: a filter must copy a member it does not understand
 * (raw.data) into its output byte for byte, so every object, array and
 * string here remembers the span of input text it came from; and a tree
 * per line must cost no malloc per node, so nodes live in an arena reset
 * per line. Why not yajl at all: see README, "Why the JSON parser and writer
 * are our own"; test/fuzz/fuzz-json.c holds the two to the same answers.
 *
 * Numbers keep their literal text, so 64-bit ids survive exactly.
 * Strings are unescaped, NUL-terminated copies (they may contain NUL).
 */
#ifndef TT_JSON_H
#define TT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---------------------------------------------------------- */

struct tt_arena_chunk {
	struct tt_arena_chunk *older;
	size_t size; /* usable bytes in data[] */
	size_t off;  /* bytes used in data[] */
	max_align_t data[];
};

/* A bump allocator with a ceiling: allocation past max bytes fails (returns
 * NULL) instead of growing without bound. */
struct tt_arena {
	struct tt_arena_chunk *head; /* current chunk, chained to older ones */
	size_t used;                 /* bytes handed out in all chunks */
	size_t max;                  /* ceiling on used */
	bool failed;                 /* an allocation failed since the last reset */
	struct tt_arena_chunk *spare; /* standard chunks kept by a reset for reuse */
	size_t nspare;
};

void tt_arena_init(struct tt_arena *a, size_t max);

/* Counts size bytes against the ceiling, as tt_arena_alloc would, without
 * handing any out: a filtered parse charges what it skips, so that a line
 * is too large for the filtered parse exactly when it is for the full one.
 * False (and a->failed) past the ceiling. */
bool tt_arena_charge(struct tt_arena *a, size_t size);

/* The general case of tt_arena_alloc: a new chunk, or the ceiling. */
void *tt_arena_alloc_slow(struct tt_arena *a, size_t size);

/* Returns size bytes aligned for any object, or NULL past the ceiling.
 * Inline: every node of every line comes from here. */
static inline void *
tt_arena_alloc(struct tt_arena *a, size_t size)
{
	const size_t align = sizeof(max_align_t);
	struct tt_arena_chunk *c = a->head;
	size_t need = (size + align - 1) / align * align;

	if (c != NULL && need >= size && c->size - c->off >= need && need <= a->max - a->used &&
	    a->used <= a->max) {
		void *p = (char *)c->data + c->off;

		c->off += need;
		a->used += need;
		return p;
	}
	return tt_arena_alloc_slow(a, size);
}
/* Copies s[0..len) plus a NUL; NULL past the ceiling. */
char *tt_arena_strdup(struct tt_arena *a, const char *s, size_t len);
/* Forgets everything allocated; keeps the first chunk, and up to 1024 more
 * of the standard size, for reuse (a batch-sized arena then stops calling
 * malloc, and touching fresh pages, once it has seen its largest batch). */
void tt_arena_reset(struct tt_arena *a);
void tt_arena_free(struct tt_arena *a);

/* A point to go back to: what is allocated after tt_arena_mark() is
 * forgotten by tt_arena_release(), what came before stays. For an arena
 * that lives for a batch of lines, so that a line that is not kept costs
 * nothing. */
struct tt_arena_mark {
	struct tt_arena_chunk *head;
	size_t off, used;
};

struct tt_arena_mark tt_arena_mark(const struct tt_arena *a);
void tt_arena_release(struct tt_arena *a, struct tt_arena_mark m);

/* ---- tree ----------------------------------------------------------- */

enum tt_json_kind {
	TT_JSON_NULL,
	TT_JSON_FALSE,
	TT_JSON_TRUE,
	TT_JSON_NUMBER, /* str = literal text */
	TT_JSON_STRING, /* str = unescaped UTF-8 */
	TT_JSON_ARRAY,
	TT_JSON_OBJECT,
	TT_JSON_VERBATIM, /* src = already valid JSON text, written as is */
};

struct tt_json_filter;

struct tt_json {
	enum tt_json_kind kind;
	const char *key;       /* member name when inside an object, else NULL */
	size_t key_len;
	const char *str;       /* NUMBER: literal; STRING (and VERBATIM of one): unescaped */
	size_t len;
	const char *src;       /* parsed ARRAY, OBJECT, STRING: its input text;
	                        * VERBATIM: the JSON text to write */
	size_t src_len;
	enum tt_json_kind verbatim_kind; /* VERBATIM: the kind of value the text is */
	struct tt_json *first; /* ARRAY, OBJECT: children in order */
	struct tt_json *last;
	struct tt_json *next;  /* next sibling */
	size_t count;          /* ARRAY, OBJECT: number of children */
	const struct tt_json_filter *filter; /* OBJECT parsed under a filter:
	                        * the members it kept (see tt_json_check_filters) */
};

/* ---- parsing -------------------------------------------------------- */

/* Deepest nesting the parser accepts; deeper input is TT_JSON_ERR_DEPTH. */
#define TT_JSON_MAX_DEPTH 64

enum tt_json_err {
	TT_JSON_OK,
	TT_JSON_ERR_SYNTAX, /* not JSON */
	TT_JSON_ERR_UTF8,   /* not UTF-8, or an escaped lone surrogate */
	TT_JSON_ERR_DEPTH,  /* nested deeper than TT_JSON_MAX_DEPTH */
	TT_JSON_ERR_MEMORY, /* the arena's ceiling was reached */
};

struct tt_json_parser;

/* Returns a parser, or NULL when out of memory. */
struct tt_json_parser *tt_json_parser_new(void);
void tt_json_parser_free(struct tt_json_parser *p);

/* Parses text[0..len) (one JSON value, surrounding white space allowed) into
 * a tree allocated in arena. On success *out is the root and TT_JSON_OK is
 * returned; otherwise *out is NULL and errbuf (errsz bytes) says what is
 * wrong. text must stay alive as long as the tree (spans point into it). */
enum tt_json_err tt_json_parse(struct tt_json_parser *p, struct tt_arena *arena,
    const char *text, size_t len, struct tt_json **out, char *errbuf, size_t errsz);

/* Which members of an object to build, for a reader that needs only a
 * few: an array of entries ended by { NULL, NULL }. A member whose name is
 * in the list (or matches an entry named "*") is built, its value filtered
 * by the entry's children (NULL: all of it); any other member is checked
 * as strictly as a built one but gets no node, so looking it up finds
 * nothing. Elements of an array share the array's filter. The object's
 * input span still covers every member, so a verbatim copy is whole. */
struct tt_json_filter {
	const char *name;
	const struct tt_json_filter *children;
};

/* tt_json_parse, building only what filter asks for (NULL: everything).
 * The verdict (valid or not, and why) never depends on the filter. */

/* A test aid: when on, tt_json_get() on an object parsed under a filter
 * aborts if the name it is asked for is not one the filter keeps, so a
 * reader whose filter misses a member it reads fails loudly in tests
 * instead of quietly finding nothing. Off by default. */
void tt_json_check_filters(bool on);
enum tt_json_err tt_json_parse_filtered(struct tt_json_parser *p, struct tt_arena *arena,
    const char *text, size_t len, const struct tt_json_filter *filter, struct tt_json **out,
    char *errbuf, size_t errsz);

/* Whether s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool tt_utf8_valid(const char *s, size_t len);

/* ---- lookup --------------------------------------------------------- */

/* The member named key (NUL-terminated) of obj, or NULL (also when obj is
 * NULL or not an object). */
const struct tt_json *tt_json_get(const struct tt_json *obj, const char *key);

/* Follows a dotted path of member names: tt_json_path(v, "user.followInfo"). */
const struct tt_json *tt_json_path(const struct tt_json *v, const char *path);

/* The index-th element of an array, or NULL. */
const struct tt_json *tt_json_at(const struct tt_json *arr, size_t index);

/* Whether v is a string equal to s. */
bool tt_json_str_eq(const struct tt_json *v, const char *s);

/* Reads v as an integer: a number with an integral value (5, 5.0, 5e0;
 * beyond 2^53 only plain literals), or a string of decimal digits (proto3
 * JSON writes int64 that way). False for anything else, or on overflow. */
bool tt_json_int(const struct tt_json *v, int64_t *out);

/* Whether v is true, or a number/digit string other than 0. */
bool tt_json_truthy(const struct tt_json *v);

/* ---- building ------------------------------------------------------- */
/* All return NULL when the arena's ceiling is reached; tt_json_add then
 * does nothing, so a caller may build freely and check arena->failed once
 * at the end. */

struct tt_json *tt_json_new(struct tt_arena *a, enum tt_json_kind kind);
struct tt_json *tt_json_new_str(struct tt_arena *a, const char *s, size_t len);
struct tt_json *tt_json_new_int(struct tt_arena *a, int64_t v);

/* Decimal text of n into buf (NUL-terminated); returns its length. */
#define TT_JSON_INT_LEN 21
size_t tt_json_format_int(int64_t n, char buf[TT_JSON_INT_LEN]);
struct tt_json *tt_json_new_bool(struct tt_arena *a, bool v);
/* A copy of v: for a parsed container, a verbatim node pointing at its
 * input text; for a built one, a deep copy. Keys are shared, not copied. */
struct tt_json *tt_json_new_copy(struct tt_arena *a, const struct tt_json *v);

/* Appends child to an array (key NULL) or as member key of an object. The
 * key is not copied: it must outlive the tree (a literal, or arena text). */
void tt_json_add(struct tt_json *parent, const char *key, struct tt_json *child);

/* The same with the key's length given (a parsed key may hold NUL). */
void tt_json_add_n(struct tt_json *parent, const char *key, size_t key_len, struct tt_json *child);

/* ---- generating ----------------------------------------------------- */

struct tt_json_writer;

/* A writer of compact JSON into a buffer of its own. NULL when out of
 * memory. */
struct tt_json_writer *tt_json_writer_new(void);
void tt_json_writer_free(struct tt_json_writer *w);

/* Serialises v compactly and returns its text in buf and len, valid until
 * the next call. Strings are written as they are (they must be UTF-8:
 * parsed ones are), with '"', '\\' and control characters escaped.
 * Returns false when out of memory or past 1 GiB of output. */
bool tt_json_write(struct tt_json_writer *w, const struct tt_json *v,
    const unsigned char **buf, size_t *len);

#endif
