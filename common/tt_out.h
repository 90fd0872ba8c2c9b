/* tt_out.h - NDJSON output with checked writes.
 *
 * A tt_out wraps a FILE (standard output, or a file such as a DLQ). Lines
 * are block-buffered; tt_out_flush() is what tt_lines calls before it
 * blocks on input, so a live pipe never sits on buffered events. Any write
 * error (a full disk, a closed pipe: SIGPIPE is ignored so EPIPE arrives as
 * an error) is remembered; callers check tt_out_failed() and exit 74.
 */
#ifndef TT_OUT_H
#define TT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct tt_out {
	FILE *fp;
	const char *name;  /* for messages: "standard output" or the path */
	int err;           /* errno of the first failure, 0 if none */
	bool own;          /* fclose in tt_out_close */
};

/* Standard output, block-buffered. Also ignores SIGPIPE for the process. */
void tt_out_stdout(struct tt_out *o);

/* Opens path for appending ("-" = standard output). False with errno set on
 * failure. */
bool tt_out_open(struct tt_out *o, const char *path);

/* Writes text[0..len) and a newline. False once any write has failed. */
bool tt_out_line(struct tt_out *o, const void *text, size_t len);

/* Pushes buffered lines to the file. False once any write has failed. */
bool tt_out_flush(struct tt_out *o);

/* Flush hook for tt_lines (ctx is a struct tt_out). */
void tt_out_flush_hook(void *ctx);

bool tt_out_failed(const struct tt_out *o);

/* Flushes and closes (standard output too: fclose reports late errors such
 * as a full disk). False if any write failed; logs the reason once. */
bool tt_out_close(struct tt_out *o);

#endif
