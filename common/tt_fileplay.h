/* tt_fileplay.h - the tt-ingest `file` provider: plays a recording
 * (tt_frames) back through the webcast decoder at full speed.
 *
 * 'F' records (the sign server's body) and 'B' records (push frames) are
 * decoded by tt_webcast, 'T' records (Euler JSON bundles) split by
 * tt_wcemit; every message becomes a raw.v1 frame. Each room id of the
 * file is a session of its own (CONNECTED when first seen, DISCONNECTED
 * "end_of_file" at the end, "stream_end" after a Control action 3/4 - a
 * later record of that room starts a new session - or "stopped" on a stop
 * signal), unless a stream id is given: then every record belongs to one
 * session of that id. A bad record is reported and counted, never the end
 * of the file.
 */
#ifndef TT_FILEPLAY_H
#define TT_FILEPLAY_H

#include "tt_out.h"

/* Sessions open at once, at most; records of further rooms are skipped
 * (counted as bad records). */
#define TT_FILEPLAY_MAX_ROOMS 1024

struct tt_fileplay_opts {
	const char *path;       /* the recording; "-" = standard input */
	const char *stream_id;  /* NULL: each record's room id */
};

/* Plays the recording to out and writes the exit log record. Returns the
 * exit status: 0, 66 (cannot open), 1 (not a recording, read error), 74
 * (output could not be written). */
int tt_fileplay_run(const struct tt_fileplay_opts *o, struct tt_out *out);

#endif
