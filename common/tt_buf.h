/* tt_buf.h - a growable byte buffer with a ceiling.
 *
 * For output whose size is only known once written (a message turned into
 * JSON, an inflated payload, an NDJSON line): it grows by doubling up to
 * max bytes, and growing past max is a reported failure (b->failed, and
 * false from the call) rather than a crash or an unbounded allocation.
 * The contents are not NUL-terminated unless the caller adds one.
 */
#ifndef TT_BUF_H
#define TT_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct tt_buf {
	char *data;   /* owned; NULL until the first write */
	size_t len;   /* bytes in use */
	size_t cap;   /* bytes allocated */
	size_t max;   /* ceiling on len */
	bool failed;  /* a write hit the ceiling or malloc failed since the last reset */
};

/* An empty buffer that never holds more than max bytes. Allocates nothing. */
void tt_buf_init(struct tt_buf *b, size_t max);
void tt_buf_free(struct tt_buf *b);

/* Empties the buffer (keeps its memory) and clears failed. */
static inline void
tt_buf_reset(struct tt_buf *b)
{
	b->len = 0;
	b->failed = false;
}

/* The slow path of tt_buf_reserve: grows the allocation. */
bool tt_buf_grow(struct tt_buf *b, size_t n);

/* Makes room for n more bytes; false (and b->failed) past the ceiling or
 * when out of memory. */
static inline bool
tt_buf_reserve(struct tt_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return true;
	return tt_buf_grow(b, n);
}

/* Appends p[0..n); false past the ceiling (nothing is appended then). */
static inline bool
tt_buf_add(struct tt_buf *b, const void *p, size_t n)
{
	if (!tt_buf_reserve(b, n))
		return false;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

static inline bool
tt_buf_addc(struct tt_buf *b, char c)
{
	if (!tt_buf_reserve(b, 1))
		return false;
	b->data[b->len++] = c;
	return true;
}

/* Appends the NUL-terminated s (without the NUL). */
static inline bool
tt_buf_adds(struct tt_buf *b, const char *s)
{
	return tt_buf_add(b, s, strlen(s));
}

#endif
