/* tt_ack.c - see tt_ack.h. */
#include "tt_ack.h"

#include <stdio.h>
#include <string.h>

bool
tt_ack_format(char *out, size_t outsz, const char *stream, const char *group, const char *id, size_t id_len)
{
	int n;

	if (strchr(stream, '\t') != NULL || strchr(group, '\t') != NULL || memchr(id, '\t', id_len) != NULL)
		return false;
	n = snprintf(out, outsz, "%s\t%s\t%.*s", stream, group, (int)id_len, id);
	return n > 0 && (size_t)n < outsz;
}

bool
tt_ack_parse(const char *s, size_t len, struct tt_ack *out)
{
	const char *t1 = memchr(s, '\t', len), *t2;

	if (t1 == NULL)
		return false;
	t2 = memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - s));
	if (t2 == NULL || memchr(t2 + 1, '\t', len - (size_t)(t2 + 1 - s)) != NULL)
		return false;
	out->stream = s;
	out->stream_len = (size_t)(t1 - s);
	out->group = t1 + 1;
	out->group_len = (size_t)(t2 - t1 - 1);
	out->id = t2 + 1;
	out->id_len = len - (size_t)(t2 + 1 - s);
	return out->stream_len > 0 && out->group_len > 0 && out->id_len > 0;
}
