/* tt_buf.c - see tt_buf.h. */
#include "tt_buf.h"

#include <stdint.h>
#include <stdlib.h>

void
tt_buf_init(struct tt_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->failed = false;
}

void
tt_buf_free(struct tt_buf *b)
{
	free(b->data);
	tt_buf_init(b, b->max);
}

bool
tt_buf_grow(struct tt_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (n > b->max || b->len > b->max - n) {
		b->failed = true;
		return false;
	}
	want = b->len + n;
	cap = b->cap < 4096 ? 4096 : b->cap;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	if (cap > b->max)
		cap = b->max;
	p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}
