/* tt_lines.h - the NDJSON line reader every filter shares.
 *
 * Reads lines from a file descriptor into one bounded buffer: a line longer
 * than the maximum is reported (TT_LINES_TOO_LONG, with its first max bytes)
 * and skipped to its newline, never grown into. A trailing '\r' is dropped,
 * so CRLF files work. The last line needs no newline.
 *
 * Before every read(2) that may block, the reader calls the flush hook, so a
 * filter's output reaches a live pipe as soon as its input pauses, while a
 * fast input is still written in large blocks.
 */
#ifndef TT_LINES_H
#define TT_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TT_LINES_DEFAULT_MAX (1024 * 1024)

enum tt_lines_status {
	TT_LINES_OK,       /* *line is a whole line */
	TT_LINES_TOO_LONG, /* *line is the first max bytes of an over-long line */
	TT_LINES_EOF,      /* no more input */
	TT_LINES_ERROR,    /* read(2) failed; errno says why */
};

struct tt_lines {
	int fd;
	bool own_fd;               /* close fd in tt_lines_close() */
	char *buf;
	size_t cap;                /* max + one read block */
	size_t max;                /* longest line returned whole */
	size_t start, end;         /* unread bytes are buf[start..end) */
	bool eof;
	bool stopped;              /* eof came from a stop signal (or a failing
	                            * flush hook), not from the input */
	bool skipping;             /* discarding the rest of an over-long line */
	uint64_t lineno;           /* 1-based number of the line last returned */
	/* Called before a read that may block; false ends the input as a
	 * stop signal does (the caller has failed and must not wait on a
	 * read that may never return). */
	bool (*flush)(void *ctx);
	void *flush_ctx;
};

/* Opens path ("-" = standard input) for reading lines of at most max bytes.
 * Returns false with errno set when the file cannot be opened or memory is
 * short. */
bool tt_lines_open(struct tt_lines *r, const char *path, size_t max);

/* Returns the next line in line and len (not NUL-terminated, valid until
 * the next call). After a stop signal (tt_stop_on_signals) the lines
 * already read are still returned, then TT_LINES_EOF; an unfinished last
 * line is then logged and dropped, as its writer never finished it. */
enum tt_lines_status tt_lines_next(struct tt_lines *r, const char **line, size_t *len);

void tt_lines_close(struct tt_lines *r);

#endif
