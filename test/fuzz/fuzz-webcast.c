/* fuzz-webcast - libFuzzer target for the push frame decoder: the bytes as
 * a WebSocket message (tt_webcast_decode_frame) and as a sign server body
 * (tt_webcast_decode_result). Whatever they are, nothing crashes or leaks,
 * and every message that comes out is usable as it stands: a method fit
 * for raw.v1's type, and either a JSON object that parses or base64
 * between quotes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_json.h"
#include "tt_webcast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_frame(const struct tt_wc_frame *f, struct tt_json_parser *p)
{
	struct tt_arena a;
	char err[256];

	tt_arena_init(&a, 256u << 20);
	for (size_t i = 0; i < f->nmessages; i++) {
		const struct tt_wc_message *m = &f->messages[i];
		size_t n = strlen(m->method);
		struct tt_json *v;

		if (n < 1 || n > 128 ||
		    m->method[strspn(m->method, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")] != '\0')
			abort();
		if ((m->json == NULL) == (m->b64 == NULL))
			abort();
		if (m->json != NULL) {
			tt_arena_reset(&a);
			if (tt_json_parse(p, &a, m->json, m->json_len, &v, err, sizeof err) != TT_JSON_OK ||
			    v->kind != TT_JSON_OBJECT) {
				fprintf(stderr, "bad JSON from %s: %s\n", m->method, err);
				abort();
			}
		} else if (m->b64[-1] != '"' || m->b64[m->b64_len] != '"' || m->b64_len % 4 != 0) {
			abort();
		}
	}
	tt_arena_free(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tt_webcast *w;
	static struct tt_json_parser *p;
	struct tt_wc_frame f;
	char err[256];

	if (w == NULL) {
		w = tt_webcast_new();
		p = tt_json_parser_new();
		if (w == NULL || p == NULL)
			abort();
	}
	if (tt_webcast_decode_frame(w, data, size, &f, err, sizeof err) == TT_WC_OK)
		check_frame(&f, p);
	if (tt_webcast_decode_result(w, data, size, &f, err, sizeof err) == TT_WC_OK)
		check_frame(&f, p);
	return 0;
}
