/* tt_stream.h - NDJSON objects <-> Redis stream entries (seed 3.8).
 *
 * Three layouts, chosen by the object's schemaVersion:
 *   unified-event.v1  one field "event" holding the event's JSON, and
 *                     "normalizedAt" (when it was published);
 *   dlq.v1            one field per member (the ttlc:dlq fields);
 *   anything else     one field per member: raw.v1 envelopes flattened,
 *                     "data" always as JSON text.
 * In every layout a string member is its field's value as it is, any other
 * value its JSON text, and a null member no field at all. Members whose
 * names begin with '_' (the toolchain's, such as the _ack receipt) are
 * never stored.
 *
 * Reading turns an entry back into the object: "event" parsed; in the
 * other layouts the members the schemas give a non-string type (seqNo,
 * data, line, payloadTruncated) parsed from their JSON text, the others
 * strings, and dlq.v1's rawType and sessionId null when absent. An object
 * survives the round trip as an equal JSON value (a null member of a raw
 * frame comes back absent).
 */
#ifndef TT_STREAM_H
#define TT_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "tt_json.h"

/* Field names and values of one entry (pointers into an arena). */
struct tt_stream_fields {
	size_t count;
	const char **names;
	size_t *name_lens;
	const char **values;
	size_t *value_lens;
};

/* The fields for object v (already parsed), allocated in a; normalized_at
 * is used for the event layout. False when v is not an object or a is
 * full. */
bool tt_stream_fields_of(struct tt_arena *a, struct tt_json_writer *w, const struct tt_json *v,
    const char *normalized_at, struct tt_stream_fields *out);

/* The object for an entry's fields, built in a with parser p; NULL (and a
 * reason in err) when the entry cannot be read back (an "event" field
 * that is not a JSON object). */
struct tt_json *tt_stream_object_of(struct tt_arena *a, struct tt_json_parser *p,
    const struct tt_stream_fields *f, char *err, size_t errsz);

#endif
