/* tt_out.h - NDJSON output with checked writes.
 *
 * A tt_out is a file descriptor with a 64 KiB buffer of its own (not
 * stdio: a stop signal may interrupt a blocked write, and the write must
 * then be retried, not reported as an error with half a line lost).
 * tt_out_flush() is what tt_lines calls before it blocks on input, so a
 * live pipe never sits on buffered events. Any write error (a full disk, a
 * closed pipe: SIGPIPE is ignored so EPIPE arrives as an error) is logged
 * once and remembered; callers check tt_out_failed() and exit 74.
 */
#ifndef TT_OUT_H
#define TT_OUT_H

#include <stdbool.h>
#include <stddef.h>

#define TT_OUT_BUFFER (64 * 1024)

struct tt_out {
	int fd;
	const char *name;  /* for messages: "standard output" or the path */
	int err;           /* errno of the first failure, 0 if none */
	bool own;          /* close fd in tt_out_close */
	size_t len;        /* bytes waiting in buf */
	char buf[TT_OUT_BUFFER];
};

/* Standard output. Also ignores SIGPIPE for the process. A standard output
 * that was closed at start (tt_log_init) is a write error from the start. */
void tt_out_stdout(struct tt_out *o);

/* Opens path for appending, creating it ("-" = standard output). False with
 * errno set on failure. */
bool tt_out_open(struct tt_out *o, const char *path);

/* Writes text[0..len) and a newline. False once any write has failed. */
bool tt_out_line(struct tt_out *o, const void *text, size_t len);

/* Room for a line of at most max bytes, written in place in the buffer
 * (flushed first when it has not that much left) and ended by
 * tt_out_commit: a line built there is not built elsewhere and copied.
 * NULL when max does not fit the buffer or a write has failed; the caller
 * then falls back to tt_out_line, which reports the failure. */
char *tt_out_reserve(struct tt_out *o, size_t max);

/* Ends the line of len (<= the max reserved) bytes at the pointer
 * tt_out_reserve returned, with a newline. */
void tt_out_commit(struct tt_out *o, size_t len);

/* Pushes buffered lines to the file. False once any write has failed. */
bool tt_out_flush(struct tt_out *o);

bool tt_out_failed(const struct tt_out *o);

/* Flushes and closes (standard output too, so late errors such as a full
 * disk are seen). False if any write failed. */
bool tt_out_close(struct tt_out *o);

#endif
