/* tt_dlq.c - see tt_dlq.h. */
#include "tt_dlq.h"

#include <openssl/evp.h>
#include <string.h>

#include "tt_time.h"

void
tt_ack_copy(struct tt_arena *a, struct tt_json *out, const struct tt_json *in)
{
	if (in == NULL || in->kind != TT_JSON_OBJECT)
		return;
	for (const struct tt_json *m = in->first; m != NULL; m = m->next)
		if (m->key_len > 0 && m->key[0] == '_')
			tt_json_add_n(out, m->key, m->key_len, tt_json_new_copy(a, m));
}

/* A cut line may end inside a UTF-8 sequence: the length up to the last
 * complete character. */
static size_t
whole_chars(const char *p, size_t len)
{
	size_t k = len, need;
	unsigned char lead;

	while (k > 0 && len - k < 4 && ((unsigned char)p[k - 1] & 0xc0) == 0x80)
		k--;
	if (k == 0)
		return len;
	lead = (unsigned char)p[k - 1];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	return len - (k - 1) >= need ? len : k - 1;
}

static struct tt_json *
str_or_null(struct tt_arena *a, const struct tt_json *v)
{
	if (v != NULL && v->kind == TT_JSON_STRING)
		return tt_json_new_str(a, v->str, v->len);
	return tt_json_new(a, TT_JSON_NULL);
}

struct tt_json *
tt_dlq_build(struct tt_arena *a, const struct tt_dlq_info *info)
{
	struct tt_json *rec = tt_json_new(a, TT_JSON_OBJECT);
	const char *p = info->payload;
	size_t len = info->payload_len;
	char *failed_at = tt_arena_alloc(a, TT_TIME_ISO_LEN);
	struct tt_json *payload;
	bool base64 = false;

	if (rec == NULL || failed_at == NULL)
		return NULL;
	if (info->truncated)
		len = whole_chars(p, len);
	if (tt_utf8_valid(p, len)) {
		payload = tt_json_new_str(a, p, len);
	} else {
		char *b64 = tt_arena_alloc(a, 4 * ((len + 2) / 3) + 1);

		if (b64 == NULL)
			return NULL;
		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)p, (int)len);
		payload = tt_json_new_str(a, b64, strlen(b64));
		base64 = true;
	}
	tt_time_now_iso(failed_at);
	tt_json_add(rec, "schemaVersion", tt_json_new_str(a, "dlq.v1", 6));
	tt_json_add(rec, "stage", tt_json_new_str(a, info->stage, strlen(info->stage)));
	tt_json_add(rec, "reason", tt_json_new_str(a, info->reason, strlen(info->reason)));
	tt_json_add(rec, "error", tt_json_new_str(a, info->error, strlen(info->error)));
	tt_json_add(rec, "payload", payload);
	if (base64)
		tt_json_add(rec, "payloadEncoding", tt_json_new_str(a, "base64", 6));
	if (info->truncated)
		tt_json_add(rec, "payloadTruncated", tt_json_new_bool(a, true));
	tt_json_add(rec, "failedAt", tt_json_new_str(a, failed_at, TT_TIME_ISO_LEN - 1));
	tt_json_add(rec, "rawType", str_or_null(a, tt_json_get(info->input, "type")));
	tt_json_add(rec, "sessionId", str_or_null(a, tt_json_get(info->input, "sessionId")));
	if (info->lineno > 0)
		tt_json_add(rec, "line", tt_json_new_int(a, (int64_t)info->lineno));
	tt_ack_copy(a, rec, info->input);
	return rec;
}
