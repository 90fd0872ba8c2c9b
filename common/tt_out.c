/* tt_out.c - see tt_out.h. */
#include "tt_out.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "tt_log.h"

#define OUT_BUFFER (64 * 1024)

static void record(struct tt_out *o);

void
tt_out_stdout(struct tt_out *o)
{
	static char buffer[OUT_BUFFER];

	signal(SIGPIPE, SIG_IGN);
	o->fp = stdout;
	o->name = "standard output";
	o->err = 0;
	o->own = true;
	setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
	if (tt_log_stdout_was_closed()) {
		errno = EBADF;
		record(o);
	}
}

bool
tt_out_open(struct tt_out *o, const char *path)
{
	if (strcmp(path, "-") == 0) {
		tt_out_stdout(o);
		return true;
	}
	signal(SIGPIPE, SIG_IGN);
	o->fp = fopen(path, "ae");
	o->name = path;
	o->err = 0;
	o->own = true;
	return o->fp != NULL;
}

static void
record(struct tt_out *o)
{
	if (o->err == 0) {
		o->err = errno != 0 ? errno : EIO;
		struct tt_logrec r;

		if (tt_log_begin(&r, TT_LOG_ERROR, "cannot write output")) {
			tt_log_str(&r, "file", o->name);
			tt_log_str(&r, "error", strerror(o->err));
			tt_log_end(&r);
		}
	}
}

bool
tt_out_line(struct tt_out *o, const void *text, size_t len)
{
	if (o->err != 0)
		return false;
	errno = 0;
	if (fwrite(text, 1, len, o->fp) != len || putc('\n', o->fp) == EOF) {
		record(o);
		return false;
	}
	return true;
}

bool
tt_out_flush(struct tt_out *o)
{
	if (o->err != 0)
		return false;
	errno = 0;
	if (fflush(o->fp) == EOF) {
		record(o);
		return false;
	}
	return true;
}

void
tt_out_flush_hook(void *ctx)
{
	tt_out_flush(ctx);
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

	if (o->own && o->fp != NULL) {
		errno = 0;
		if (fclose(o->fp) == EOF && ok) {
			record(o);
			ok = false;
		}
		o->fp = NULL;
	}
	return ok && o->err == 0;
}
