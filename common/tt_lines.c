/* tt_lines.c - see tt_lines.h. */
#include "tt_lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt_config.h"
#include "tt_log.h"

#define READ_BLOCK (64 * 1024)

bool
tt_lines_open(struct tt_lines *r, const char *path, size_t max)
{
	memset(r, 0, sizeof *r);
	if (strcmp(path, "-") == 0) {
		r->fd = STDIN_FILENO;
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0)
			return false;
		r->own_fd = true;
	}
	r->max = max;
	r->cap = max + READ_BLOCK;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		if (r->own_fd)
			close(r->fd);
		errno = ENOMEM;
		return false;
	}
	return true;
}

void
tt_lines_close(struct tt_lines *r)
{
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	r->buf = NULL;
}

/* Reads more input after the unread bytes. Returns bytes read, 0 at end of
 * input, -1 on error. */
static ssize_t
fill(struct tt_lines *r)
{
	ssize_t n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if ((r->flush != NULL && !r->flush(r->flush_ctx)) || tt_stop_requested()) {
		r->stopped = true;
		return 0;
	}
	do {
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
		/* A stop signal ends the input like end of file does. */
		if (n < 0 && errno == EINTR && tt_stop_requested()) {
			r->stopped = true;
			return 0;
		}
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		r->end += (size_t)n;
	return n;
}

static void
take(struct tt_lines *r, const char **line, size_t *len, size_t n)
{
	*line = r->buf + r->start;
	*len = n;
	if (n > 0 && (*line)[n - 1] == '\r')
		(*len)--;
	r->lineno++;
}

enum tt_lines_status
tt_lines_next(struct tt_lines *r, const char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		size_t avail = r->end - r->start;
		ssize_t n;

		if (r->skipping) {
			/* Drop the rest of an over-long line. */
			if (nl != NULL) {
				r->start = (size_t)(nl - r->buf) + 1;
				r->skipping = false;
				continue;
			}
			r->start = r->end = 0;
		} else if (nl != NULL && ((size_t)(nl - (r->buf + r->start)) <= r->max ||
		    ((size_t)(nl - (r->buf + r->start)) == r->max + 1 && nl[-1] == '\r'))) {
			/* (A CRLF line of exactly max bytes has max + 1 before its
			 * newline.) */
			size_t n_line = (size_t)(nl - (r->buf + r->start));

			take(r, line, len, n_line);
			r->start += n_line + 1;
			return TT_LINES_OK;
		} else if (nl != NULL || avail > r->max + 1 ||
		    (avail == r->max + 1 && r->buf[r->end - 1] != '\r')) {
			/* (max + 1 bytes ending in '\r' may still be a CRLF
			 * line of max bytes: read on to see.) */
			/* Over-long: hand out its first max bytes, skip the rest. */
			take(r, line, len, r->max);
			*len = r->max;
			r->start += r->max;
			r->skipping = true;
			return TT_LINES_TOO_LONG;
		}
		if (r->eof) {
			if (r->skipping || avail == 0)
				return TT_LINES_EOF;
			if (r->stopped) {
				struct tt_logrec lr;

				if (tt_log_begin(&lr, TT_LOG_WARN, "stopped in the middle of a line; its start is dropped")) {
					tt_log_uint(&lr, "line", r->lineno + 1);
					tt_log_uint(&lr, "bytes", avail);
					tt_log_end(&lr);
				}
				r->start = r->end;
				return TT_LINES_EOF;
			}
			take(r, line, len, avail);
			r->start = r->end;
			return TT_LINES_OK;
		}
		n = fill(r);
		if (n < 0)
			return TT_LINES_ERROR;
		if (n == 0)
			r->eof = true;
	}
}
