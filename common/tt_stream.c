/* tt_stream.c - see tt_stream.h. */
#include "tt_stream.h"

#include <stdio.h>
#include <string.h>

/* The JSON text of v, copied into a; NULL when a is full. */
static const char *
json_text(struct tt_arena *a, struct tt_json_writer *w, const struct tt_json *v, size_t *len)
{
	const unsigned char *text;

	if (v->kind == TT_JSON_VERBATIM || ((v->kind == TT_JSON_OBJECT || v->kind == TT_JSON_ARRAY) && v->src != NULL)) {
		*len = v->src_len;
		return v->src; /* parsed: the input text itself, byte for byte */
	}
	if (!tt_json_write(w, v, &text, len))
		return NULL;
	return tt_arena_strdup(a, (const char *)text, *len);
}

static bool
reserved(const struct tt_json *m)
{
	return m->key_len > 0 && m->key[0] == '_';
}

bool
tt_stream_fields_of(struct tt_arena *a, struct tt_json_writer *w, const struct tt_json *v,
    const char *normalized_at, struct tt_stream_fields *out)
{
	const struct tt_json *version = tt_json_get(v, "schemaVersion");
	size_t n = 0;

	memset(out, 0, sizeof *out);
	if (v == NULL || v->kind != TT_JSON_OBJECT)
		return false;
	out->names = tt_arena_alloc(a, (v->count + 2) * sizeof *out->names);
	out->name_lens = tt_arena_alloc(a, (v->count + 2) * sizeof *out->name_lens);
	out->values = tt_arena_alloc(a, (v->count + 2) * sizeof *out->values);
	out->value_lens = tt_arena_alloc(a, (v->count + 2) * sizeof *out->value_lens);
	if (out->names == NULL || out->name_lens == NULL || out->values == NULL || out->value_lens == NULL)
		return false;
	if (tt_json_str_eq(version, "unified-event.v1")) {
		/* The event without the toolchain's members. */
		struct tt_json *ev = tt_json_new(a, TT_JSON_OBJECT);
		const unsigned char *text;
		size_t len;

		for (const struct tt_json *m = v->first; m != NULL; m = m->next)
			if (!reserved(m))
				tt_json_add_n(ev, m->key, m->key_len, tt_json_new_copy(a, m));
		if (ev == NULL || a->failed || !tt_json_write(w, ev, &text, &len))
			return false;
		out->names[0] = "event";
		out->name_lens[0] = 5;
		out->values[0] = tt_arena_strdup(a, (const char *)text, len);
		out->value_lens[0] = len;
		out->names[1] = "normalizedAt";
		out->name_lens[1] = 12;
		out->values[1] = normalized_at;
		out->value_lens[1] = strlen(normalized_at);
		out->count = 2;
		return out->values[0] != NULL;
	}
	for (const struct tt_json *m = v->first; m != NULL; m = m->next) {
		size_t len;
		const char *val;

		/* null is stored as no field (it reads back as absent, or as
		 * null where dlq.v1 requires the member). */
		if (reserved(m) || m->kind == TT_JSON_NULL)
			continue;
		if (m->kind == TT_JSON_STRING && !(m->key_len == 4 && memcmp(m->key, "data", 4) == 0)) {
			val = m->str;
			len = m->len;
		} else {
			val = json_text(a, w, m, &len);
			if (val == NULL)
				return false;
		}
		out->names[n] = m->key;
		out->name_lens[n] = m->key_len;
		out->values[n] = val;
		out->value_lens[n] = len;
		n++;
	}
	out->count = n;
	return true;
}

/* Whether a member of this name is stored as JSON text in the flattened
 * layouts (its schema type is not string). */
static bool
json_member(const char *name, size_t len)
{
	static const char *const names[] = { "seqNo", "data", "line", "payloadTruncated" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
			return true;
	return false;
}

struct tt_json *
tt_stream_object_of(struct tt_arena *a, struct tt_json_parser *p, const struct tt_stream_fields *f,
    char *err, size_t errsz)
{
	struct tt_json *obj;

	for (size_t i = 0; i < f->count; i++) {
		if (f->name_lens[i] == 5 && memcmp(f->names[i], "event", 5) == 0) {
			/* The tree points into its text: parse an arena copy, so
			 * it outlives the reply it came from. */
			const char *text = tt_arena_strdup(a, f->values[i], f->value_lens[i]);
			struct tt_json *ev;

			if (text == NULL || tt_json_parse(p, a, text, f->value_lens[i], &ev, err, errsz) != TT_JSON_OK)
				return NULL;
			if (ev->kind != TT_JSON_OBJECT) {
				snprintf(err, errsz, "field event is not a JSON object");
				return NULL;
			}
			return ev;
		}
	}
	obj = tt_json_new(a, TT_JSON_OBJECT);
	for (size_t i = 0; i < f->count && obj != NULL; i++) {
		const char *name = tt_arena_strdup(a, f->names[i], f->name_lens[i]);
		const char *text = tt_arena_strdup(a, f->values[i], f->value_lens[i]);
		struct tt_json *val = NULL;
		char ignored[64];

		if (name == NULL || text == NULL)
			return NULL;
		if (json_member(f->names[i], f->name_lens[i]) &&
		    tt_json_parse(p, a, text, f->value_lens[i], &val, ignored, sizeof ignored) == TT_JSON_OK) {
			/* parsed: kept as its text, exactly */
			val = tt_json_new_copy(a, val);
		} else {
			/* a string member, or JSON text that does not parse:
			 * the string, for the reader's schema to judge */
			val = tt_json_new_str(a, text, f->value_lens[i]);
		}
		if (val == NULL)
			return NULL;
		tt_json_add_n(obj, name, f->name_lens[i], val);
	}
	if (obj == NULL || a->failed) {
		snprintf(err, errsz, "entry too large");
		return NULL;
	}
	/* dlq.v1 requires rawType and sessionId, null when unknown. */
	if (tt_json_str_eq(tt_json_get(obj, "schemaVersion"), "dlq.v1")) {
		if (tt_json_get(obj, "rawType") == NULL)
			tt_json_add(obj, "rawType", tt_json_new(a, TT_JSON_NULL));
		if (tt_json_get(obj, "sessionId") == NULL)
			tt_json_add(obj, "sessionId", tt_json_new(a, TT_JSON_NULL));
	}
	return obj;
}
