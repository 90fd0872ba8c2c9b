/* tt_dlq.h - dead-letter records (schema/dlq.v1.schema.json) and the _ack
 * receipt pass-through.
 *
 * Any stage that cannot process a line builds a DLQ record here, so every
 * record has the same shape: the seed's ttlc:dlq fields plus rawType and
 * sessionId (null when the line was too broken to read them), the line
 * number, and the original line as payload (base64 with
 * payloadEncoding "base64" when it is not UTF-8).
 */
#ifndef TT_DLQ_H
#define TT_DLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt_json.h"

struct tt_dlq_info {
	const char *stage;          /* "normalizer", "forwarder", ... */
	const char *reason;         /* category, ttlc-event(5) */
	const char *error;          /* sanitized sentence, no secrets */
	const char *payload;        /* the original line */
	size_t payload_len;
	bool truncated;             /* payload is only the start of the line */
	const struct tt_json *input; /* the parsed line, or NULL */
	uint64_t lineno;            /* 1-based, 0 = unknown */
};

/* Builds the record in arena; NULL when the arena's ceiling is reached. */
struct tt_json *tt_dlq_build(struct tt_arena *a, const struct tt_dlq_info *info);

/* Copies every member of in whose name begins with '_' (the toolchain's
 * reserved members, such as the _ack receipt) to the end of object out. */
void tt_ack_copy(struct tt_arena *a, struct tt_json *out, const struct tt_json *in);

#endif
