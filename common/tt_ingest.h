/* tt_ingest.h - the session framing every tt-ingest provider shares.
 *
 * A session is one connection (or one replay, or one play of a fixture):
 * it gets a fresh sessionId, opens with a ControlEvent.CONNECTED frame,
 * numbers its frames with seqNo (CONNECTED is 0), and closes with
 * ControlEvent.DISCONNECTED. Providers hand frames to tt_ingest_emit*();
 * the framing, the raw.v1 envelope and the write to standard output are
 * here, once.
 */
#ifndef TT_INGEST_H
#define TT_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "tt_hash.h"
#include "tt_json.h"
#include "tt_out.h"

struct tt_ingest {
	struct tt_out *out;
	const char *provider;        /* "mock", "direct", ... */
	const char *source;          /* "live" or "replay" */
	char stream_id[65];          /* the room id */
	char session_id[TT_UUID_LEN];
	uint64_t seq;                /* seqNo of the next frame */
	bool open;                   /* CONNECTED written, DISCONNECTED not yet */
	struct tt_arena arena;       /* per frame */
	struct tt_json_writer *writer;
	uint64_t frames;             /* frames written, lifecycle ones included */
	/* tt_ingest_emit_text's cache of the line start up to "type":, and the
	 * strings it was built from (the fields above may be rewritten at
	 * any time, so it is checked against them, not invalidated). */
	char head[1024];
	size_t head_len;             /* 0: nothing cached */
	char head_key[65 + TT_UUID_LEN + 32]; /* the three, NUL-terminated */
	size_t head_key_len;
};

/* Prepares a session writer on out; false when out of memory. */
bool tt_ingest_init(struct tt_ingest *s, struct tt_out *out, const char *provider, const char *source);
void tt_ingest_free(struct tt_ingest *s);

/* Starts a session: a fresh sessionId (or keep_session_id when not NULL),
 * then a ControlEvent.CONNECTED frame whose data holds provider, reason
 * "connected" and detail (may be NULL). False on a write error. */
bool tt_ingest_begin(struct tt_ingest *s, const char *stream_id, const char *keep_session_id,
    const char *detail);

/* Writes one frame of the given type whose data is the tree data (an
 * object or a base64 string). timestamp NULL means now. False on a write
 * error. */
bool tt_ingest_emit(struct tt_ingest *s, const char *type, const struct tt_json *data,
    const char *timestamp);

/* The fast path of tt_ingest_emit for a decoder that already has the data
 * as JSON text: data_json[0..len) must be one valid JSON value (an object
 * or a string); it is spliced into the envelope as is, with no tree built
 * and nothing parsed. timestamp NULL means now. False on a write error; a
 * frame too large for the frame arena is logged and dropped (true). */
bool tt_ingest_emit_text(struct tt_ingest *s, const char *type, const char *data_json, size_t len,
    const char *timestamp);

/* Writes a ControlEvent.ERROR frame with category and detail. */
bool tt_ingest_error(struct tt_ingest *s, const char *category, const char *detail);

/* Ends the session with a ControlEvent.DISCONNECTED frame (reason says
 * why). Does nothing if no session is open. */
bool tt_ingest_end(struct tt_ingest *s, const char *reason);

/* Starts a new attempt for stream_id: a fresh sessionId and seqNo 0, but
 * no frame yet. A live provider calls it before each connection attempt,
 * so that an ERROR about an attempt that never connected still carries a
 * sessionId of its own; tt_ingest_begin(s, ..., s->session_id, ...) then
 * opens the session under that id. False without randomness. */
bool tt_ingest_attempt(struct tt_ingest *s, const char *stream_id);

/* A lifecycle frame (ControlEvent.<what>) with any of its members; NULL
 * strings and code 0 are left out. DISCONNECTED closes the session. */
struct tt_lifecycle {
	const char *reason;
	const char *category;
	int code;
	const char *detail;
};
bool tt_ingest_lifecycle(struct tt_ingest *s, const char *what, const struct tt_lifecycle *l);

/* The next seqNo and the session id, for providers that write frames
 * themselves (the mock copies fixture frames with these replaced). */
uint64_t tt_ingest_next_seq(struct tt_ingest *s);

#endif
