/* tt_wcemit.c - see tt_wcemit.h. */
#include "tt_wcemit.h"

#include <stdio.h>
#include <string.h>

#include "tt_buf.h"
#include "tt_pbjson.h"
#include "tt_time.h"

/* A createTime fit for a timestamp: after 1970, before the year 10000. */
static bool
valid_ms(int64_t ms)
{
	return ms > 0 && ms < 253402300800000;
}

/* tt_time_format_iso for a valid_ms time, the date and time of day
 * formatted again only when the second changed (messages come in order). */
static void
format_ms(int64_t ms, char buf[TT_TIME_ISO_LEN])
{
	static _Thread_local int64_t last = -1;
	static _Thread_local char text[TT_TIME_ISO_LEN];
	int64_t sec = ms / 1000;
	int frac = (int)(ms % 1000);

	if (sec != last) {
		tt_time_format_iso(sec * 1000, text);
		last = sec;
	}
	memcpy(buf, text, TT_TIME_ISO_LEN);
	buf[20] = (char)('0' + frac / 100);
	buf[21] = (char)('0' + frac / 10 % 10);
	buf[22] = (char)('0' + frac % 10);
}

bool
tt_wc_emit_frame(struct tt_ingest *s, const struct tt_wc_frame *f, struct tt_wc_counts *c, int *stream_end)
{
	char ts[TT_TIME_ISO_LEN];

	for (size_t i = 0; i < f->nmessages; i++) {
		const struct tt_wc_message *m = &f->messages[i];
		const char *when = NULL;
		bool ok;

		if (m->error != NULL) {
			if (!tt_ingest_error(s, "protocol", m->error))
				return false;
			c->errors++;
		}
		if (valid_ms(m->create_time_ms)) {
			format_ms(m->create_time_ms, ts);
			when = ts;
		}
		if (m->json != NULL) {
			ok = tt_ingest_emit_text(s, m->method, m->json, m->json_len, when);
			c->decoded++;
		} else {
			/* The base64 sits between quotes: a JSON string as is. */
			ok = tt_ingest_emit_text(s, m->method, m->b64 - 1, m->b64_len + 2, when);
			c->raw++;
		}
		if (!ok)
			return false;
		c->messages++;
		if (m->control_action == 3 || m->control_action == 4)
			*stream_end = m->control_action;
	}
	return true;
}

/* A type fit for raw.v1: 1..128 of A-Z a-z 0-9 _ . */
static bool
valid_type(const struct tt_json *t)
{
	return t != NULL && t->kind == TT_JSON_STRING && t->len >= 1 && t->len <= 128 &&
	    strlen(t->str) == t->len &&
	    t->str[strspn(t->str, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")] == '\0';
}

/* ControlEvent.ERROR with detail, counted. */
static bool
protocol_error(struct tt_ingest *s, struct tt_wc_counts *c, const char *detail)
{
	c->errors++;
	return tt_ingest_error(s, "protocol", detail);
}

/* The whole bundle as a base64 string frame of type EulerBundle. */
static bool
emit_bundle_raw(struct tt_ingest *s, const char *text, size_t len, struct tt_wc_counts *c)
{
	struct tt_buf b;
	bool ok;

	tt_buf_init(&b, (size_t)TT_WC_MAX_TEXT);
	if (!tt_buf_addc(&b, '"') || !tt_pbjson_base64(&b, text, len) || !tt_buf_addc(&b, '"')) {
		tt_buf_free(&b);
		return protocol_error(s, c, "Euler bundle too large to keep as base64");
	}
	ok = tt_ingest_emit_text(s, "EulerBundle", b.data, b.len, NULL);
	tt_buf_free(&b);
	if (ok) {
		c->messages++;
		c->raw++;
	}
	return ok;
}

bool
tt_wc_emit_euler_text(struct tt_ingest *s, struct tt_json_parser *p, struct tt_arena *a,
    const char *text, size_t len, struct tt_wc_counts *c, int *stream_end)
{
	struct tt_json *v = NULL;
	const struct tt_json *msgs, *bts;
	char err[256], detail[320], ts[TT_TIME_ISO_LEN], bundle_ts[TT_TIME_ISO_LEN];
	bool bad = false, have_bundle_ts = false;
	int64_t ms;
	size_t i = 0;

	tt_arena_reset(a);
	if (tt_json_parse(p, a, text, len, &v, err, sizeof err) != TT_JSON_OK) {
		snprintf(detail, sizeof detail, "Euler text is not JSON: %s", err);
		return protocol_error(s, c, detail) && emit_bundle_raw(s, text, len, c);
	}
	msgs = tt_json_get(v, "messages");
	if (msgs == NULL || msgs->kind != TT_JSON_ARRAY) {
		return protocol_error(s, c, "Euler text is not a bundle (no messages array)") &&
		    emit_bundle_raw(s, text, len, c);
	}
	bts = tt_json_get(v, "timestamp");
	if (tt_json_int(bts, &ms) && valid_ms(ms)) {
		format_ms(ms, bundle_ts);
		have_bundle_ts = true;
	}
	for (const struct tt_json *e = msgs->first; e != NULL; e = e->next, i++) {
		const struct tt_json *type = tt_json_get(e, "type"), *data = tt_json_get(e, "data");
		const char *when = have_bundle_ts ? bundle_ts : NULL;

		if (!valid_type(type) || data == NULL || data->kind != TT_JSON_OBJECT || data->src == NULL) {
			snprintf(detail, sizeof detail, "Euler bundle entry %zu has %s", i,
			    !valid_type(type) ? "no valid type" : "a data that is not an object");
			if (!protocol_error(s, c, detail))
				return false;
			bad = true;
			continue;
		}
		if (tt_json_int(tt_json_path(data, "common.createTime"), &ms) && valid_ms(ms)) {
			format_ms(ms, ts);
			when = ts;
		}
		if (!tt_ingest_emit_text(s, type->str, data->src, data->src_len, when))
			return false;
		c->messages++;
		c->decoded++;
		if (strcmp(type->str, "WebcastControlMessage") == 0 && tt_json_int(tt_json_get(data, "action"), &ms) &&
		    (ms == 3 || ms == 4))
			*stream_end = (int)ms;
	}
	return !bad || emit_bundle_raw(s, text, len, c);
}
