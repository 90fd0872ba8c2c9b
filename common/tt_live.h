/* tt_live.h - the live providers of tt-ingest: direct and euler.
 *
 * direct: TikTok's own webcast WebSocket. Per room: the room id from the
 * live page (SIGI_STATE) or the api-live route, a signed connect through
 * the sign server (its body is the first fetch result, its X-Set-TT-Cookie
 * the cookies), then the WebSocket with im_enter_room, a heartbeat every
 * 10 s and an ack for every fetch result that asks for one.
 *
 * euler: Euler Stream's WebSocket, which does the TikTok side itself and
 * sends JSON bundles, or with raw messages the push frames as TikTok sent
 * them (decoded and acked like direct).
 *
 * Many rooms run in one process, on one libwebsockets loop, each with its
 * own state, back-off and sessions: every connection is a session of its
 * own (ControlEvent.CONNECTED ... DISCONNECTED); a failure is a
 * ControlEvent.ERROR with a category (tt-ingest(1) lists them). HTTP runs
 * on the same loop through tt_http, so no room waits for another's.
 */
#ifndef TT_LIVE_H
#define TT_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tt_out.h"

struct tt_live_target {
	const char *unique_id;   /* the creator's @handle (NULL with room_id) */
	const char *room_id;     /* a room id given directly (direct only) */
};

struct tt_live_opts {
	bool euler;                      /* false: direct */
	const struct tt_live_target *targets;
	size_t ntargets;
	bool wait_live;                  /* offline or ended: poll until live again */
	const char *record_path;         /* --record FILE, or NULL */
	double time_scale;               /* 1 = real time; tests run faster */
	int64_t heartbeat_ms;            /* between heartbeats (10 s) */
	int64_t silence_ms;              /* no frame for this long = dead connection */
	int64_t wait_live_ms;            /* between live checks with wait_live */
	int64_t http_timeout_ms;
	unsigned max_attempts;           /* RECONNECT_MAX_ATTEMPTS, 0 = unlimited */
	const char *web_url;             /* TikTok web (live page, api-live) */
	const char *webcast_url;         /* TikTok webcast (check_alive for room ids) */
	const char *sign_url;            /* sign server */
	const char *euler_url;           /* Euler WebSocket */
	const char *ca_file;             /* CA bundle to trust, NULL = system */
	const char *user_agent;
	bool euler_json;                 /* euler: JSON bundles instead of raw frames */
	/* Secrets: never logged. */
	const char *api_key;             /* EULER_API_KEY */
	const char *session_id;          /* SESSION_ID: authenticated mode */
	const char *target_idc;          /* tt-target-idc cookie */
	const char *session_hosts;       /* more hosts that may get the session cookies */
};

/* Runs until every room is done or a stop signal; returns the exit status
 * (tt-ingest(1) EXIT STATUS). */
int tt_live_run(const struct tt_live_opts *o, struct tt_out *out);

#endif
