/* tt-normalize - raw.v1 NDJSON in, UnifiedEvent v1 NDJSON out.
 *
 * A filter: reads files (or standard input), writes one event per good line
 * to standard output and one DLQ record per bad line to --dlq FILE. A bad
 * line never stops the stream (unless --strict). See tt-normalize(1).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tt_config.h"
#include "tt_exit.h"
#include "tt_lines.h"
#include "tt_log.h"
#include "tt_normalize.h"
#include "tt_out.h"

#define USAGE \
	"usage: tt-normalize [--dlq FILE] [--max-line BYTES] [--strict] [FILE...]\n" \
	"       tt-normalize --help\n" \
	"Reads raw.v1 lines (FILE or standard input, - for standard input) and\n" \
	"writes UnifiedEvent v1 lines. Lines that cannot be normalized become\n" \
	"DLQ records appended to --dlq FILE (else a warning on standard error).\n" \
	"  --dlq FILE        append dlq.v1 records to FILE (- = standard output)\n" \
	"  --max-line BYTES  longest line accepted (default 1048576)\n" \
	"  --strict          stop at the first bad line, exit 65\n"

/* Whether line[0..len) holds only blanks (skipped and counted, not data). */
static bool
is_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return false;
	return true;
}

/* Both outputs, flushed together whenever the input pauses, so neither
 * events nor dead letters sit in a buffer while a live stream is quiet. */
struct outputs {
	struct tt_out *out;
	struct tt_out *dlq; /* NULL, or == out for --dlq - */
};

/* A failed write ends the input: the exit is 74 either way, and a quiet
 * input must not keep a normalizer that cannot write. */
static bool
flush_outputs(void *ctx)
{
	struct outputs *o = ctx;
	bool ok = tt_out_flush(o->out);

	if (o->dlq != NULL && o->dlq != o->out)
		ok = tt_out_flush(o->dlq) && ok;
	return ok;
}

struct counts {
	uint64_t in, out, dlq, blank;
};

/* Handles one rejected line: to the DLQ file, or, without one, as an
 * error-level log line (it is then the only trace of the line, so no
 * LOG_LEVEL may hide it). */
static bool
dead_letter(struct tt_out *dlq, const struct tt_norm_result *res, uint64_t lineno)
{
	struct tt_logrec r;

	if (dlq != NULL)
		return tt_out_line(dlq, res->text, res->len);
	if (tt_log_begin(&r, TT_LOG_ERROR, "line rejected")) {
		tt_log_uint(&r, "line", lineno);
		tt_log_str(&r, "reason", res->reason);
		tt_log_str(&r, "error", res->error);
		tt_log_end(&r);
	}
	return true;
}

/* Normalizes every line of path. Returns an exit status, TT_EXIT_OK to go on. */
static int
run_file(const char *path, size_t max_line, bool strict, struct tt_normalizer *norm,
    struct tt_out *out, struct tt_out *dlq, struct counts *c)
{
	struct tt_lines lines;
	enum tt_lines_status st;
	const char *line;
	size_t len;
	int rc = TT_EXIT_OK;

	if (!tt_lines_open(&lines, path, max_line)) {
		struct tt_logrec r;

		if (tt_log_begin(&r, TT_LOG_ERROR, "cannot open input")) {
			tt_log_str(&r, "file", path);
			tt_log_str(&r, "error", strerror(errno));
			tt_log_end(&r);
		}
		return TT_EXIT_FAILURE;
	}
	struct outputs both = { out, dlq };

	lines.flush = flush_outputs;
	lines.flush_ctx = &both;
	while ((st = tt_lines_next(&lines, &line, &len)) == TT_LINES_OK || st == TT_LINES_TOO_LONG) {
		struct tt_norm_result res;

		if (st == TT_LINES_OK && is_blank(line, len)) {
			c->blank++;
			continue;
		}
		c->in++;
		if (!tt_normalizer_line(norm, line, len, lines.lineno, st == TT_LINES_TOO_LONG, &res)) {
			tt_log_msg(TT_LOG_ERROR, "out of memory", "file", path);
			rc = TT_EXIT_FAILURE;
			break;
		}
		if (!res.dlq) {
			c->out++;
			if (!tt_out_line(out, res.text, res.len)) {
				rc = TT_EXIT_IOERR;
				break;
			}
			continue;
		}
		c->dlq++;
		if (!dead_letter(dlq, &res, lines.lineno)) {
			rc = TT_EXIT_IOERR;
			break;
		}
		if (strict) {
			struct tt_logrec r;

			if (tt_log_begin(&r, TT_LOG_ERROR, "bad input line (--strict)")) {
				tt_log_str(&r, "file", path);
				tt_log_uint(&r, "line", lines.lineno);
				tt_log_str(&r, "reason", res.reason);
				tt_log_str(&r, "error", res.error);
				tt_log_end(&r);
			}
			rc = TT_EXIT_DATAERR;
			break;
		}
	}
	if (st == TT_LINES_ERROR) {
		struct tt_logrec r;

		if (tt_log_begin(&r, TT_LOG_ERROR, "cannot read input")) {
			tt_log_str(&r, "file", path);
			tt_log_str(&r, "error", strerror(errno));
			tt_log_end(&r);
		}
		rc = TT_EXIT_FAILURE;
	}
	tt_lines_close(&lines);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dlq", required_argument, NULL, 'd' },
		{ "max-line", required_argument, NULL, 'm' },
		{ "strict", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dlq_path = NULL;
	uint64_t max_line = TT_LINES_DEFAULT_MAX;
	bool strict = false;
	struct tt_normalizer *norm;
	struct tt_out out, dlq_out, *dlq = NULL;
	struct counts c = { 0 };
	char err[512];
	int opt, rc = TT_EXIT_OK;
	struct tt_logrec r;

	tt_log_init("tt-normalize");
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dlq_path = optarg;
			break;
		case 'm':
			max_line = tt_opt_max_line(USAGE, optarg);
			break;
		case 's':
			strict = true;
			break;
		case 'h':
			tt_usage_help(USAGE);
		default:
			tt_usage_error(USAGE, "bad usage", NULL);
		}
	}
	norm = tt_normalizer_new(err, sizeof err);
	if (norm == NULL) {
		tt_log_msg(TT_LOG_ERROR, "cannot start", "error", err);
		return TT_EXIT_FAILURE;
	}
	tt_out_stdout(&out);
	if (dlq_path != NULL && strcmp(dlq_path, "-") == 0) {
		dlq = &out; /* dead letters mixed into standard output */
	} else if (dlq_path != NULL && !tt_out_open(&dlq_out, dlq_path)) {
		if (tt_log_begin(&r, TT_LOG_ERROR, "cannot open DLQ file")) {
			tt_log_str(&r, "file", dlq_path);
			tt_log_str(&r, "error", strerror(errno));
			tt_log_end(&r);
		}
		tt_normalizer_free(norm);
		return TT_EXIT_IOERR;
	} else if (dlq_path != NULL) {
		dlq = &dlq_out;
	}
	tt_stop_on_signals();
	if (optind == argc) {
		rc = run_file("-", (size_t)max_line, strict, norm, &out, dlq, &c);
	} else {
		for (int i = optind; i < argc && rc == TT_EXIT_OK && !tt_stop_requested(); i++)
			rc = run_file(argv[i], (size_t)max_line, strict, norm, &out, dlq, &c);
	}
	if (dlq == &dlq_out && !tt_out_close(&dlq_out) && rc == TT_EXIT_OK)
		rc = TT_EXIT_IOERR;
	if (!tt_out_close(&out) && (rc == TT_EXIT_OK || rc == TT_EXIT_DATAERR))
		rc = TT_EXIT_IOERR;
	if (tt_log_begin(&r, rc == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_uint(&r, "in", c.in);
		tt_log_uint(&r, "out", c.out);
		tt_log_uint(&r, "dlq", c.dlq);
		tt_log_uint(&r, "blank", c.blank);
		tt_log_int(&r, "status", rc);
		tt_log_end(&r);
	}
	tt_normalizer_free(norm);
	return rc;
}
