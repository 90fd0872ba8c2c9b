/* tt-xack - acknowledges the stream entries named by the _ack receipts of
 * its input lines (batched XACK). The last stage of a Redis pipeline: an
 * entry is acked only once every stage before it has echoed its line.
 * Lines without a receipt are counted and logged, never fatal. See
 * tt-xack(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_ack.h"
#include "tt_config.h"
#include "tt_exit.h"
#include "tt_json.h"
#include "tt_lines.h"
#include "tt_log.h"
#include "tt_out.h"
#include "tt_redis.h"

#define USAGE \
	"usage: tt-xack [-g GROUP] [--echo] [--batch N] [--max-line BYTES] [STREAM]\n" \
	"       tt-xack --help\n" \
	"Acknowledges (XACK) the stream entry named by each input line's _ack.\n" \
	"  -g, --group GROUP  only entries of this group (prefixed like the\n" \
	"                     stream); others are logged and left unacked\n" \
	"  STREAM             only entries of this stream\n" \
	"  --echo             copy every input line to standard output\n" \
	"  --batch N          entries per XACK at most (default 512)\n" \
	"  --max-line BYTES   longest line accepted (default 1048576; match tt-xadd's)\n" \
	"Environment: REDIS_URL, REDIS_CONSUMER_GROUP_PREFIX, RECONNECT_MAX_ATTEMPTS,\n" \
	"LOG_LEVEL.\n"

struct xack {
	struct tt_redis redis;
	struct tt_out out;
	bool echo;
	char want_stream[512], want_group[512]; /* "" = any */
	/* The pending XACK: one stream and group at a time. */
	char stream[512], group[512];
	char **ids;
	size_t *id_lens;
	size_t count, cap;
	uint64_t in, acked, no_receipt, foreign, batches;
	int status;
};

/* Sends the pending XACK. */
static void
flush_acks(struct xack *x)
{
	const char **argv;
	size_t *lens;
	redisReply *reply;

	if (x->count == 0 || x->status != TT_EXIT_OK)
		return;
	argv = malloc((x->count + 3) * sizeof *argv);
	lens = malloc((x->count + 3) * sizeof *lens);
	if (argv == NULL || lens == NULL) {
		x->status = TT_EXIT_FAILURE;
		goto out;
	}
	argv[0] = "XACK";
	lens[0] = 4;
	argv[1] = x->stream;
	lens[1] = strlen(x->stream);
	argv[2] = x->group;
	lens[2] = strlen(x->group);
	for (size_t i = 0; i < x->count; i++) {
		argv[i + 3] = x->ids[i];
		lens[i + 3] = x->id_lens[i];
	}
	/* XACK is idempotent: retried over reconnects. */
	reply = tt_redis_call(&x->redis, (int)x->count + 3, argv, lens);
	if (reply == NULL) {
		x->status = tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
	} else if (reply->type == REDIS_REPLY_INTEGER) {
		x->acked += (uint64_t)reply->integer;
		x->batches++;
		tt_redis_ok(&x->redis);
	} else {
		tt_log_msg(TT_LOG_ERROR, "Redis refused XACK", "error",
		    reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		x->status = TT_EXIT_FAILURE;
	}
	if (reply != NULL)
		freeReplyObject(reply);
out:
	for (size_t i = 0; i < x->count; i++)
		free(x->ids[i]);
	x->count = 0;
	free(argv);
	free(lens);
}

static bool
flush_hook(void *ctx)
{
	struct xack *x = ctx;

	flush_acks(x);
	if (x->echo)
		tt_out_flush(&x->out);
	return x->status == TT_EXIT_OK;
}

static bool
span_is(const char *s, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(s, want, len) == 0;
}

/* Queues the receipt of one line. */
static void
take_line(struct xack *x, struct tt_json_parser *p, struct tt_arena *a, const char *line, size_t len,
    uint64_t lineno)
{
	struct tt_json *v = NULL;
	const struct tt_json *receipt;
	struct tt_ack ack;
	char err[128];

	tt_arena_reset(a);
	if (tt_json_parse(p, a, line, len, &v, err, sizeof err) != TT_JSON_OK ||
	    (receipt = tt_json_get(v, "_ack")) == NULL || receipt->kind != TT_JSON_STRING ||
	    !tt_ack_parse(receipt->str, receipt->len, &ack)) {
		struct tt_logrec r;

		x->no_receipt++;
		if (tt_log_begin(&r, TT_LOG_WARN, "line without an _ack receipt, nothing to acknowledge")) {
			tt_log_uint(&r, "line", lineno);
			tt_log_end(&r);
		}
		return;
	}
	if ((x->want_stream[0] != '\0' && !span_is(ack.stream, ack.stream_len, x->want_stream)) ||
	    (x->want_group[0] != '\0' && !span_is(ack.group, ack.group_len, x->want_group)) ||
	    ack.stream_len >= sizeof x->stream || ack.group_len >= sizeof x->group) {
		struct tt_logrec r;

		x->foreign++;
		if (tt_log_begin(&r, TT_LOG_WARN, "receipt for another stream or group, not acknowledged")) {
			tt_log_uint(&r, "line", lineno);
			tt_log_strn(&r, "stream", ack.stream, ack.stream_len);
			tt_log_strn(&r, "group", ack.group, ack.group_len);
			tt_log_end(&r);
		}
		return;
	}
	if (x->count > 0 && (!span_is(ack.stream, ack.stream_len, x->stream) ||
	    !span_is(ack.group, ack.group_len, x->group)))
		flush_acks(x);
	if (x->count == 0) {
		memcpy(x->stream, ack.stream, ack.stream_len);
		x->stream[ack.stream_len] = '\0';
		memcpy(x->group, ack.group, ack.group_len);
		x->group[ack.group_len] = '\0';
	}
	x->ids[x->count] = strndup(ack.id, ack.id_len);
	if (x->ids[x->count] == NULL) {
		x->status = TT_EXIT_FAILURE;
		return;
	}
	x->id_lens[x->count++] = ack.id_len;
	if (x->count == x->cap)
		flush_acks(x);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "echo", no_argument, NULL, 'e' },
		{ "batch", required_argument, NULL, 'b' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct xack x;
	uint64_t batch = 512, max_line = TT_LINES_DEFAULT_MAX;
	const char *group = NULL;
	struct tt_json_parser *p = NULL;
	struct tt_arena a;
	struct tt_lines lines;
	enum tt_lines_status st;
	const char *line;
	size_t len;
	char err[512];
	int opt;
	struct tt_logrec r;

	tt_log_init("tt-xack");
	while ((opt = getopt_long(argc, argv, "g:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g':
			group = optarg;
			break;
		case 'e':
			x.echo = true;
			break;
		case 'b':
			if (!tt_parse_u64(optarg, 1, 100000, &batch))
				tt_usage_error(USAGE, "--batch must be from 1 to 100000", optarg);
			break;
		case 'l':
			max_line = tt_opt_max_line(USAGE, optarg);
			break;
		case 'h':
			tt_usage_help(USAGE);
		default:
			tt_usage_error(USAGE, "bad usage", NULL);
		}
	}
	if (optind + 1 < argc)
		tt_usage_error(USAGE, "at most one STREAM", NULL);
	if (!tt_redis_init(&x.redis, NULL, err, sizeof err)) {
		tt_log_msg(TT_LOG_ERROR, "bad Redis configuration", "error", err);
		return TT_EXIT_CONFIG;
	}
	if ((optind < argc && !tt_redis_key(&x.redis, argv[optind], x.want_stream, sizeof x.want_stream)) ||
	    (group != NULL && !tt_redis_key(&x.redis, group, x.want_group, sizeof x.want_group))) {
		tt_log_msg(TT_LOG_ERROR, "stream or group name too long", NULL, NULL);
		tt_redis_free(&x.redis);
		return TT_EXIT_USAGE;
	}
	x.cap = batch;
	x.ids = calloc(batch, sizeof *x.ids);
	x.id_lens = calloc(batch, sizeof *x.id_lens);
	p = tt_json_parser_new();
	tt_arena_init(&a, 64u << 20);
	tt_out_stdout(&x.out);
	tt_stop_on_signals();
	if (x.ids == NULL || x.id_lens == NULL || p == NULL) {
		x.status = TT_EXIT_FAILURE;
	} else if (!tt_redis_connect(&x.redis)) {
		x.status = tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
	} else if (!tt_lines_open(&lines, "-", (size_t)max_line)) {
		x.status = TT_EXIT_FAILURE;
	} else {
		lines.flush = flush_hook;
		lines.flush_ctx = &x;
		while (x.status == TT_EXIT_OK &&
		    ((st = tt_lines_next(&lines, &line, &len)) == TT_LINES_OK || st == TT_LINES_TOO_LONG)) {
			x.in++;
			if (st != TT_LINES_OK) {
				/* Only its start was read: neither echoed cut nor acked. */
				x.no_receipt++;
				tt_log_msg(TT_LOG_ERROR, "line longer than --max-line: not echoed, not acknowledged", NULL, NULL);
				continue;
			}
			if (x.echo && !tt_out_line(&x.out, line, len))
				x.status = TT_EXIT_IOERR;
			take_line(&x, p, &a, line, len, lines.lineno);
		}
		flush_acks(&x);
		tt_lines_close(&lines);
	}
	if (!tt_out_close(&x.out) && x.status == TT_EXIT_OK)
		x.status = TT_EXIT_IOERR;
	if (tt_log_begin(&r, x.status == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_uint(&r, "in", x.in);
		tt_log_uint(&r, "acked", x.acked);
		tt_log_uint(&r, "noReceipt", x.no_receipt);
		tt_log_uint(&r, "otherStreamOrGroup", x.foreign);
		tt_log_uint(&r, "batches", x.batches);
		tt_log_int(&r, "status", x.status);
		tt_log_end(&r);
	}
	for (size_t i = 0; i < x.count; i++)
		free(x.ids[i]);
	free(x.ids);
	free(x.id_lens);
	tt_json_parser_free(p);
	tt_arena_free(&a);
	tt_redis_free(&x.redis);
	return x.status;
}
