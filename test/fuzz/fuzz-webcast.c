/* fuzz-webcast - libFuzzer target for the push frame decoder: the bytes as
 * a WebSocket message (tt_webcast_decode_frame) and as a sign server body
 * (tt_webcast_decode_result). Whatever they are, nothing crashes or leaks,
 * and every message that comes out is usable as it stands: a method fit
 * for raw.v1's type, and either a JSON object that parses or base64
 * between quotes.
 *
 * And the wire walker against protobuf-c: the bytes as an event message
 * (of the type their first byte picks, or of pbtest.Scalars, which has
 * every field type), and every event message inside them when they are a
 * fetch result or a push frame holding one: tt_pbjson_encode_wire writes
 * exactly what protobuf_c_message_unpack + tt_pbjson_encode write, or
 * gives up and leaves its output as it was. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbtest.pb-c.h"
#include "tt_json.h"
#include "tt_pbjson.h"
#include "tt_webcast.h"
#include "webcast.pb-c.h"

extern const ProtobufCMessageDescriptor *const tt_webcast_descs[];

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

/* Aborts unless the walker wrote what unpack + encode write, or gave up. */
static void
wire_diff(struct tt_pbjson_wire *wire, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	static struct tt_buf a, b;
	ProtobufCMessage *m;
	char err[128];
	bool old_ok = false;

	if (a.max == 0) {
		tt_buf_init(&a, 64u << 20);
		tt_buf_init(&b, 64u << 20);
	}
	tt_buf_reset(&a);
	tt_buf_reset(&b);
	if ((m = protobuf_c_message_unpack(d, NULL, n, p)) != NULL) {
		old_ok = tt_pbjson_encode(&a, m, err, sizeof err);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	tt_buf_addc(&b, '#');
	if (!tt_pbjson_encode_wire(wire, &b, d, p, n)) {
		if (b.len != 1 || b.failed)
			abort(); /* gave up, but changed the output */
		return;
	}
	if (!old_ok || a.len + 1 != b.len || memcmp(a.data, b.data + 1, a.len) != 0) {
		fprintf(stderr, "walker and protobuf-c differ on %s:\n  protobuf-c: %.*s\n  walker:     %.*s\n",
		    d->name, old_ok ? (int)a.len : 0, a.data, (int)b.len - 1, b.data + 1);
		abort();
	}
}

static const ProtobufCMessageDescriptor *
event_desc(const char *method)
{
	for (size_t i = 0; method != NULL && tt_webcast_descs[i] != NULL; i++)
		if (strcmp(tt_webcast_descs[i]->short_name, method) == 0)
			return tt_webcast_descs[i];
	return NULL;
}

/* Every event message of the fetch result p[0..n), if it is one. */
static void
wire_diff_result(struct tt_pbjson_wire *wire, const uint8_t *p, size_t n)
{
	Webcast__ProtoMessageFetchResult *r = webcast__proto_message_fetch_result__unpack(NULL, n, p);

	for (size_t i = 0; r != NULL && i < r->n_messages; i++) {
		const ProtobufCMessageDescriptor *d = event_desc(r->messages[i]->method);

		if (d != NULL)
			wire_diff(wire, d, r->messages[i]->payload.data, r->messages[i]->payload.len);
	}
	webcast__proto_message_fetch_result__free_unpacked(r, NULL);
}

static void
check_wire(const uint8_t *data, size_t size)
{
	static struct tt_pbjson_wire *wire;
	static size_t ndescs;
	Webcast__WebcastPushFrame *pf;

	if (wire == NULL) {
		if ((wire = tt_pbjson_wire_new()) == NULL)
			abort();
		while (tt_webcast_descs[ndescs] != NULL)
			ndescs++;
	}
	if (size >= 1) {
		const ProtobufCMessageDescriptor *d =
		    data[0] == 0xff ? &pbtest__scalars__descriptor : tt_webcast_descs[data[0] % ndescs];

		wire_diff(wire, d, data + 1, size - 1);
	}
	wire_diff_result(wire, data, size);
	if ((pf = webcast__webcast_push_frame__unpack(NULL, size, data)) != NULL) {
		wire_diff_result(wire, pf->payload.data, pf->payload.len);
		webcast__webcast_push_frame__free_unpacked(pf, NULL);
	}
}

/* The fetch result as tt_webcast_decode_result read it (straight off the
 * wire unless it was odd) against protobuf-c's unpack of the same bytes:
 * the same status, the same fields, the same messages. */
static void
check_result(struct tt_webcast *w, const uint8_t *data, size_t size)
{
	Webcast__ProtoMessageFetchResult *r = webcast__proto_message_fetch_result__unpack(NULL, size, data);
	struct tt_wc_frame f;
	char err[256];
	enum tt_wc_status st = tt_webcast_decode_result(w, data, size, &f, err, sizeof err);

	if (r == NULL) {
		if (st != TT_WC_BAD_RESULT && st != TT_WC_TOO_LARGE)
			abort();
		return;
	}
	if (st == TT_WC_OK) {
		if (!f.has_result || f.need_ack != r->needack || f.is_first != r->isfirst ||
		    f.heartbeat_ms != r->heartbeatduration || strcmp(f.cursor, r->cursor) != 0 ||
		    strcmp(f.internal_ext, r->internalext) != 0 || f.internal_ext_len != strlen(r->internalext) ||
		    strcmp(f.push_server, r->pushserver) != 0 || f.nroute != r->n_routeparams ||
		    f.nmessages != r->n_messages)
			abort();
		for (size_t i = 0; i < f.nroute; i++)
			if (strcmp(f.route_keys[i], r->routeparams[i]->key) != 0 ||
			    strcmp(f.route_values[i], r->routeparams[i]->value) != 0)
				abort();
		for (size_t i = 0; i < f.nmessages; i++) {
			const Webcast__BaseProtoMessage *b = r->messages[i];

			if (f.messages[i].msg_id != (uint64_t)b->msgid || f.messages[i].is_history != b->ishistory ||
			    (strcmp(f.messages[i].method, b->method) != 0 && strcmp(f.messages[i].method, "Unknown") != 0))
				abort();
			if (f.messages[i].json == NULL && f.messages[i].error == NULL &&
			    f.messages[i].b64_len != (b->payload.len + 2) / 3 * 4)
				abort();
		}
	} else if (st != TT_WC_TOO_LARGE) {
		abort();
	}
	webcast__proto_message_fetch_result__free_unpacked(r, NULL);
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
	check_wire(data, size);
	check_result(w, data, size);
	return 0;
}
