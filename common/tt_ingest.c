/* tt_ingest.c - see tt_ingest.h. */
#include "tt_ingest.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tt_log.h"
#include "tt_time.h"

#define FRAME_ARENA (64 * 1024 * 1024)

bool
tt_ingest_init(struct tt_ingest *s, struct tt_out *out, const char *provider, const char *source)
{
	memset(s, 0, sizeof *s);
	s->out = out;
	s->provider = provider;
	s->source = source;
	tt_arena_init(&s->arena, FRAME_ARENA);
	s->writer = tt_json_writer_new();
	return s->writer != NULL;
}

void
tt_ingest_free(struct tt_ingest *s)
{
	tt_json_writer_free(s->writer);
	tt_arena_free(&s->arena);
	s->writer = NULL;
}

uint64_t
tt_ingest_next_seq(struct tt_ingest *s)
{
	return s->seq++;
}

static struct tt_json *
str(struct tt_arena *a, const char *s)
{
	return tt_json_new_str(a, s, strlen(s));
}

bool
tt_ingest_emit(struct tt_ingest *s, const char *type, const struct tt_json *data, const char *timestamp)
{
	struct tt_arena *a = &s->arena;
	char now[TT_TIME_ISO_LEN];
	struct tt_json *f = tt_json_new(a, TT_JSON_OBJECT);
	const unsigned char *text;
	size_t len;

	tt_time_now_iso(now);
	tt_json_add(f, "schemaVersion", str(a, "raw.v1"));
	tt_json_add(f, "streamId", str(a, s->stream_id));
	tt_json_add(f, "sessionId", str(a, s->session_id));
	tt_json_add(f, "source", str(a, s->source));
	tt_json_add(f, "type", str(a, type));
	tt_json_add(f, "seqNo", tt_json_new_int(a, (int64_t)tt_ingest_next_seq(s)));
	tt_json_add(f, "timestamp", str(a, timestamp != NULL ? timestamp : now));
	tt_json_add(f, "ingestedAt", str(a, now));
	tt_json_add(f, "data", tt_json_new_copy(a, data));
	if (a->failed || !tt_json_write(s->writer, f, &text, &len)) {
		tt_arena_reset(a);
		tt_log_msg(TT_LOG_ERROR, "frame too large to write", "type", type);
		return true; /* counted in the log, the stream goes on */
	}
	tt_arena_reset(a);
	s->frames++;
	return tt_out_line(s->out, text, len);
}

/* Bytes put_str copies as they are: all but control characters, '"' and
 * '\\' (bytes >= 0x80 included: the strings are passed through). */
static const unsigned char plain_byte[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	[0x60] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x90] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xa0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xb0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xc0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xd0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xe0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xf0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Appends s as a JSON string at w (room for 6 bytes per input byte plus
 * 2); returns the end. The strings here are ids, types and times: ASCII
 * in practice, but escaped all the same. */
static char *
put_str(char *w, const char *str)
{
	const unsigned char *p = (const unsigned char *)str;

	*w++ = '"';
	for (;; p++) {
		if (plain_byte[*p]) {
			*w++ = (char)*p;
		} else if (*p == '\0') {
			break;
		} else if (*p == '"' || *p == '\\') {
			*w++ = '\\';
			*w++ = (char)*p;
		} else {
			*w++ = '\\';
			*w++ = 'u';
			*w++ = '0';
			*w++ = '0';
			*w++ = "0123456789abcdef"[*p >> 4];
			*w++ = "0123456789abcdef"[*p & 15];
		}
	}
	*w++ = '"';
	return w;
}

static char *
put_lit(char *w, const char *lit)
{
	size_t n = strlen(lit);

	memcpy(w, lit, n);
	return w + n;
}

/* tt_time_now_iso, formatted again only when the millisecond changed: a
 * file played at full speed writes several frames per millisecond. */
static void
now_iso_cached(char buf[TT_TIME_ISO_LEN])
{
	static _Thread_local int64_t last = -1;
	static _Thread_local char text[TT_TIME_ISO_LEN];
	int64_t ms = tt_time_now_ms();

	if (ms != last) {
		tt_time_format_iso(ms, text);
		last = ms;
	}
	memcpy(buf, text, TT_TIME_ISO_LEN);
}

/* The start of every line, up to and including "type":. */
static char *
put_head(char *w, const struct tt_ingest *s)
{
	w = put_lit(w, "{\"schemaVersion\":\"raw.v1\",\"streamId\":");
	w = put_str(w, s->stream_id);
	w = put_lit(w, ",\"sessionId\":");
	w = put_str(w, s->session_id);
	w = put_lit(w, ",\"source\":");
	w = put_str(w, s->source);
	return put_lit(w, ",\"type\":");
}

/* The length of put_head's text, cached in s->head and escaped again only
 * when one of its strings changed: a session writes thousands of lines
 * with the same three. 0 when they are too long for the cache. */
static size_t
cached_head(struct tt_ingest *s)
{
	size_t a = strlen(s->stream_id), b = strlen(s->session_id), c = strlen(s->source);
	char *k = s->head_key;

	if (a + b + c + 3 > sizeof s->head_key || 100 + 6 * (a + b + c) > sizeof s->head)
		return 0;
	if (s->head_len != 0 && s->head_key_len == a + b + c + 3 && memcmp(k, s->stream_id, a + 1) == 0 &&
	    memcmp(k + a + 1, s->session_id, b + 1) == 0 && memcmp(k + a + b + 2, s->source, c + 1) == 0)
		return s->head_len;
	memcpy(k, s->stream_id, a + 1);
	memcpy(k + a + 1, s->session_id, b + 1);
	memcpy(k + a + b + 2, s->source, c + 1);
	s->head_key_len = a + b + c + 3;
	s->head_len = (size_t)(put_head(s->head, s) - s->head);
	return s->head_len;
}

bool
tt_ingest_emit_text(struct tt_ingest *s, const char *type, const char *data_json, size_t len,
    const char *timestamp)
{
	char now[TT_TIME_ISO_LEN], seq[TT_JSON_INT_LEN];
	size_t strs, need, hlen;
	char *line, *w;
	bool ok, direct;

	now_iso_cached(now);
	if (timestamp == NULL)
		timestamp = now;
	hlen = cached_head(s);
	strs = strlen(type) + strlen(timestamp) + strlen(now);
	if (hlen == 0)
		strs += strlen(s->stream_id) + strlen(s->session_id) + strlen(s->source);
	need = 160 + hlen + 6 * strs;
	/* Built in place in the output buffer when it fits there. */
	line = len <= SIZE_MAX - need ? tt_out_reserve(s->out, need + len) : NULL;
	direct = line != NULL;
	if (!direct && (len > SIZE_MAX - need || (line = tt_arena_alloc(&s->arena, need + len)) == NULL)) {
		tt_arena_reset(&s->arena);
		tt_log_msg(TT_LOG_ERROR, "frame too large to write", "type", type);
		return true; /* counted in the log, the stream goes on */
	}
	tt_json_format_int((int64_t)tt_ingest_next_seq(s), seq);
	if (hlen != 0) {
		memcpy(line, s->head, hlen);
		w = line + hlen;
	} else {
		w = put_head(line, s);
	}
	w = put_str(w, type);
	w = put_lit(w, ",\"seqNo\":");
	w = put_lit(w, seq);
	w = put_lit(w, ",\"timestamp\":");
	w = put_str(w, timestamp);
	w = put_lit(w, ",\"ingestedAt\":");
	w = put_str(w, now);
	w = put_lit(w, ",\"data\":");
	memcpy(w, data_json, len);
	w += len;
	*w++ = '}';
	s->frames++;
	if (direct) {
		tt_out_commit(s->out, (size_t)(w - line));
		return true;
	}
	ok = tt_out_line(s->out, line, (size_t)(w - line));
	tt_arena_reset(&s->arena);
	return ok;
}

/* data {provider, <k1>: v1, <k2>: v2} for lifecycle frames. */
static bool
lifecycle(struct tt_ingest *s, const char *what, const char *k1, const char *v1,
    const char *k2, const char *v2)
{
	struct tt_arena scratch;
	struct tt_json *data;
	bool ok;

	/* The frame itself is built in s->arena; data in its own arena so
	 * the one reset does not pull data from under the frame. */
	tt_arena_init(&scratch, 64 * 1024);
	data = tt_json_new(&scratch, TT_JSON_OBJECT);
	tt_json_add(data, "provider", str(&scratch, s->provider));
	if (v1 != NULL)
		tt_json_add(data, k1, str(&scratch, v1));
	if (v2 != NULL)
		tt_json_add(data, k2, str(&scratch, v2));
	ok = data != NULL && !scratch.failed && tt_ingest_emit(s, what, data, NULL);
	tt_arena_free(&scratch);
	return ok;
}

bool
tt_ingest_begin(struct tt_ingest *s, const char *stream_id, const char *keep_session_id,
    const char *detail)
{
	if (stream_id != s->stream_id)
		snprintf(s->stream_id, sizeof s->stream_id, "%s", stream_id);
	if (keep_session_id == s->session_id) {
		/* the attempt's id (tt_ingest_attempt) */
	} else if (keep_session_id != NULL) {
		snprintf(s->session_id, sizeof s->session_id, "%s", keep_session_id);
	} else if (!tt_uuid_v4(s->session_id)) {
		tt_log_msg(TT_LOG_ERROR, "no randomness for a session id", NULL, NULL);
		return false;
	}
	s->seq = 0;
	s->open = true;
	return lifecycle(s, "ControlEvent.CONNECTED", "reason", "connected", "detail", detail);
}

bool
tt_ingest_error(struct tt_ingest *s, const char *category, const char *detail)
{
	return lifecycle(s, "ControlEvent.ERROR", "category", category, "detail", detail);
}

bool
tt_ingest_end(struct tt_ingest *s, const char *reason)
{
	if (!s->open)
		return true;
	s->open = false;
	return lifecycle(s, "ControlEvent.DISCONNECTED", "reason", reason, NULL, NULL);
}

bool
tt_ingest_attempt(struct tt_ingest *s, const char *stream_id)
{
	if (stream_id != s->stream_id)
		snprintf(s->stream_id, sizeof s->stream_id, "%s", stream_id);
	s->seq = 0;
	s->open = false;
	if (!tt_uuid_v4(s->session_id)) {
		tt_log_msg(TT_LOG_ERROR, "no randomness for a session id", NULL, NULL);
		return false;
	}
	return true;
}

bool
tt_ingest_lifecycle(struct tt_ingest *s, const char *what, const struct tt_lifecycle *l)
{
	struct tt_arena scratch;
	struct tt_json *data;
	char type[64];
	bool ok;

	if (strcmp(what, "DISCONNECTED") == 0) {
		if (!s->open)
			return true;
		s->open = false;
	}
	snprintf(type, sizeof type, "ControlEvent.%s", what);
	tt_arena_init(&scratch, 64 * 1024);
	data = tt_json_new(&scratch, TT_JSON_OBJECT);
	tt_json_add(data, "provider", str(&scratch, s->provider));
	if (l->reason != NULL)
		tt_json_add(data, "reason", str(&scratch, l->reason));
	if (l->category != NULL)
		tt_json_add(data, "category", str(&scratch, l->category));
	if (l->code != 0)
		tt_json_add(data, "code", tt_json_new_int(&scratch, l->code));
	if (l->detail != NULL)
		tt_json_add(data, "detail", str(&scratch, l->detail));
	ok = data != NULL && !scratch.failed && tt_ingest_emit(s, type, data, NULL);
	tt_arena_free(&scratch);
	return ok;
}
