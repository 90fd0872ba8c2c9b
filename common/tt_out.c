/* tt_out.c - see tt_out.h. */
#include "tt_out.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tt_log.h"

/* Logs the first failure and remembers it. */
static void
record(struct tt_out *o, int err)
{
	struct tt_logrec r;

	if (o->err != 0)
		return;
	o->err = err != 0 ? err : EIO;
	if (tt_log_begin(&r, TT_LOG_ERROR, "cannot write output")) {
		tt_log_str(&r, "file", o->name);
		tt_log_str(&r, "error", strerror(o->err));
		tt_log_end(&r);
	}
}

static void
init(struct tt_out *o, int fd, const char *name)
{
	signal(SIGPIPE, SIG_IGN);
	o->fd = fd;
	o->name = name;
	o->err = 0;
	o->own = true;
	o->len = 0;
}

void
tt_out_stdout(struct tt_out *o)
{
	init(o, STDOUT_FILENO, "standard output");
	if (tt_log_stdout_was_closed())
		record(o, EBADF);
}

bool
tt_out_open(struct tt_out *o, const char *path)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		tt_out_stdout(o);
		return true;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return false;
	init(o, fd, path);
	return true;
}

/* Writes all of p[0..n), retrying after signals. */
static bool
write_all(struct tt_out *o, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(o->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			record(o, w < 0 ? errno : EIO);
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

bool
tt_out_flush(struct tt_out *o)
{
	bool ok;

	if (o->err != 0)
		return false;
	ok = write_all(o, o->buf, o->len);
	o->len = 0;
	return ok;
}

bool
tt_out_line(struct tt_out *o, const void *text, size_t len)
{
	if (o->err != 0)
		return false;
	if (len + 1 > sizeof o->buf - o->len && !tt_out_flush(o))
		return false;
	if (len + 1 > sizeof o->buf) {
		/* Longer than the buffer: straight through. */
		return write_all(o, text, len) && write_all(o, "\n", 1);
	}
	memcpy(o->buf + o->len, text, len);
	o->buf[o->len + len] = '\n';
	o->len += len + 1;
	return true;
}

char *
tt_out_reserve(struct tt_out *o, size_t max)
{
	if (o->err != 0 || max >= sizeof o->buf)
		return NULL;
	if (max + 1 > sizeof o->buf - o->len && !tt_out_flush(o))
		return NULL;
	return o->buf + o->len;
}

void
tt_out_commit(struct tt_out *o, size_t len)
{
	o->buf[o->len + len] = '\n';
	o->len += len + 1;
}

bool
tt_out_failed(const struct tt_out *o)
{
	return o->err != 0;
}

bool
tt_out_close(struct tt_out *o)
{
	bool ok = tt_out_flush(o);

	if (o->own && o->fd >= 0) {
		if (close(o->fd) != 0 && errno != EINTR && ok) {
			record(o, errno);
			ok = false;
		}
		o->fd = -1;
	}
	return ok && o->err == 0;
}
