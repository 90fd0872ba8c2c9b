/* tt_replay.h - the replay provider of tt-ingest: a stored session played
 * again from PostgreSQL.
 *
 * The events of the session (tt-store's events table) are read in seqNo
 * order, a page at a time, and written as raw.v1 frames of a new session:
 * the stored raw type and data, source "replay", a fresh sessionId and
 * seqNo, the original timestamp. The new session is recorded in the
 * sessions table as a replay of the old one before its first frame, so
 * tt-store finds it there. The original CONNECTED and DISCONNECTED frames
 * are not replayed: the replay session frames itself (tt_ingest).
 *
 * Timing follows the original timestamps divided by the speed (or none
 * at all: as fast as possible). Reading pages by key (not a cursor held
 * open for the length of a paced replay) lets a lost connection be
 * reconnected and the replay go on where it was.
 */
#ifndef TT_REPLAY_H
#define TT_REPLAY_H

#include <stdbool.h>

#include "tt_out.h"

struct tt_replay_opts {
	const char *session_id;   /* the stored session to play */
	const char *conninfo;     /* NULL: DATABASE_URL */
	double speed;             /* N x original timing; 0 = as fast as possible */
	bool retime;              /* stamp frames with the current time */
	bool progress;            /* a progress line on stderr (a terminal) */
};

/* Plays the session on out. Returns the exit status: 0, 66 (no such
 * session), 69 (database unreachable), 74 (output failed), 78
 * (DATABASE_URL unusable or refused). */
int tt_replay_run(const struct tt_replay_opts *o, struct tt_out *out);

#endif
