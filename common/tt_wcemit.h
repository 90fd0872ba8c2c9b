/* tt_wcemit.h - decoded TikTok traffic out as raw.v1 frames.
 *
 * Shared by every provider that speaks the webcast protocol (direct,
 * euler, file): a decoded push frame (tt_webcast) or an Euler JSON text
 * bundle becomes one raw.v1 frame per message, in the session s.
 */
#ifndef TT_WCEMIT_H
#define TT_WCEMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt_ingest.h"
#include "tt_json.h"
#include "tt_webcast.h"

struct tt_wc_counts {
	uint64_t messages;  /* raw.v1 message frames written (decoded or RAW) */
	uint64_t decoded;   /* ... of which were decoded to JSON */
	uint64_t raw;       /* ... of which carry base64 (unknown method or not decodable) */
	uint64_t errors;    /* ControlEvent.ERROR frames written for bad messages/bundles */
};

/* Writes every message of f as a raw.v1 frame of session s: type = the
 * method, data = the JSON (spliced, not parsed again) or the base64
 * string; timestamp = common.createTime when set, else now. A message with
 * an error first gets a ControlEvent.ERROR frame (category "protocol",
 * detail = the error; never payload bytes), then its RAW frame. Sets
 * *stream_end to 3 or 4 when a WebcastControlMessage with that action was
 * written (leaves it alone otherwise). False only on a write error. */
bool tt_wc_emit_frame(struct tt_ingest *s, const struct tt_wc_frame *f, struct tt_wc_counts *c,
    int *stream_end);

/* Writes an Euler JSON text bundle {"messages":[{"type":T,"data":D},...]}:
 * each entry becomes a raw.v1 frame of type T whose data is D as it came
 * (an object), timestamp D.common.createTime when set, else the bundle's
 * "timestamp" (milliseconds) when set, else now. Text that is not such a
 * bundle, and entries without a valid type or an object data, give a
 * ControlEvent.ERROR (category "protocol") each and then one frame of type
 * "EulerBundle" whose data is the base64 of the whole text. A
 * WebcastControlMessage entry with data.action 3 or 4 sets *stream_end.
 * p parses, a holds the tree (reset here, before use). False only on a
 * write error. */
bool tt_wc_emit_euler_text(struct tt_ingest *s, struct tt_json_parser *p, struct tt_arena *a,
    const char *text, size_t len, struct tt_wc_counts *c, int *stream_end);

#endif
