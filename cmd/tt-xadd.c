/* tt-xadd - NDJSON in, Redis stream entries out, each line echoed once
 * Redis has accepted it.
 *
 * An echoing sink: lines are sent in pipelined batches (XADD key MAXLEN ~ N
 * * field value ...), one batch in flight while the next is read; a
 * batch's lines, with their _ack receipts, go to standard output only
 * after every XADD of the batch has been answered, so
 * `... | tt-xadd ttlc:events | tt-xack ...` acknowledges an upstream entry
 * only after its publication. See tt-xadd(1).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tt_config.h"
#include "tt_exit.h"
#include "tt_json.h"
#include "tt_lines.h"
#include "tt_log.h"
#include "tt_out.h"
#include "tt_redis.h"
#include "tt_stream.h"
#include "tt_time.h"

#define USAGE \
	"usage: tt-xadd [--maxlen N] [--batch N] [--max-line BYTES] STREAM\n" \
	"       tt-xadd --help\n" \
	"Appends each NDJSON line of standard input to the Redis stream STREAM\n" \
	"(prefixed by REDIS_CONSUMER_GROUP_PREFIX) and echoes the line, _ack\n" \
	"included, once Redis has accepted it.\n" \
	"  --maxlen N   trim the stream to about N entries (default: STREAM_MAXLEN,\n" \
	"               else 100000; 0 = no trimming)\n" \
	"  --batch N    lines per pipelined batch (default 256)\n" \
	"  --max-line BYTES  longest line accepted (default 1048576)\n" \
	"Environment: REDIS_URL, REDIS_CONSUMER_GROUP_PREFIX, RECONNECT_MAX_ATTEMPTS,\n" \
	"LOG_LEVEL.\n"

/* One batch: the lines (copies) and their commands, built in one arena. */
struct batch {
	struct tt_arena arena;
	size_t count;
	size_t cap;
	char **lines;
	size_t *line_lens;
	int *argc;
	const char ***argv;
	size_t **lens;
};

struct xadd {
	struct tt_redis redis;
	struct tt_out out;
	struct tt_json_parser *parser;
	struct tt_json_writer *writer;
	struct batch batches[2];
	struct batch *b;          /* the batch being filled */
	struct batch *inflight;   /* sent, replies not read yet; or NULL */
	char key[512];
	char maxlen[24];
	bool trim;
	uint64_t in, out_lines, rejected, batches_sent, retries;
	int status;
};

/* Appends one argument to the command being built for the batch's next
 * line. */
static void
add_arg(struct batch *b, size_t *i, const char *s, size_t len)
{
	b->argv[b->count][*i] = s;
	b->lens[b->count][*i] = len;
	(*i)++;
}

/* Queues one line's XADD; false when the line is not a JSON object (it is
 * then logged and counted, not sent and not echoed: its upstream entry is
 * not acked, so it is delivered again until tt-xread moves it to the DLQ). */
static bool
queue_line(struct xadd *x, const char *line, size_t len, uint64_t lineno, const char *now)
{
	struct batch *b = x->b;
	struct tt_arena *a = &b->arena;
	struct tt_stream_fields f;
	struct tt_json *v;
	char *copy = tt_arena_strdup(a, line, len);
	char err[256];
	size_t n, i = 0;

	if (copy == NULL || tt_json_parse(x->parser, a, copy, len, &v, err, sizeof err) != TT_JSON_OK ||
	    !tt_stream_fields_of(a, x->writer, v, now, &f) || f.count == 0) {
		struct tt_logrec r;

		x->rejected++;
		if (tt_log_begin(&r, TT_LOG_ERROR, "line rejected: not a JSON object with members to store")) {
			tt_log_uint(&r, "line", lineno);
			tt_log_end(&r);
		}
		return false;
	}
	n = 3 + (x->trim ? 3 : 0) + 2 * f.count;
	b->argv[b->count] = tt_arena_alloc(a, n * sizeof(char *));
	b->lens[b->count] = tt_arena_alloc(a, n * sizeof(size_t));
	if (b->argv[b->count] == NULL || b->lens[b->count] == NULL)
		return false;
	add_arg(b, &i, "XADD", 4);
	add_arg(b, &i, x->key, strlen(x->key));
	if (x->trim) {
		add_arg(b, &i, "MAXLEN", 6);
		add_arg(b, &i, "~", 1);
		add_arg(b, &i, x->maxlen, strlen(x->maxlen));
	}
	add_arg(b, &i, "*", 1);
	for (size_t k = 0; k < f.count; k++) {
		add_arg(b, &i, f.names[k], f.name_lens[k]);
		add_arg(b, &i, f.values[k], f.value_lens[k]);
	}
	b->argc[b->count] = (int)i;
	b->lines[b->count] = copy;
	b->line_lens[b->count] = len;
	b->count++;
	return true;
}

/* Writes batch b's commands to Redis without waiting for replies (one
 * batch is kept in flight: Redis stores it while the next is parsed).
 * False when the connection failed. */
static bool
send_batch(struct xadd *x, struct batch *b)
{
	for (size_t k = 0; k < b->count; k++)
		if (!tt_redis_append(&x->redis, b->argc[k], b->argv[k], b->lens[k]))
			return false;
	return tt_redis_send(&x->redis);
}

/* Reads the replies of batch b, sent before. Returns 1 when every entry
 * was accepted, 0 when the connection failed (resend), -1 when Redis
 * refused an entry (a configuration error such as a key of another type). */
static int
read_replies(struct xadd *x, struct batch *b)
{
	int rc = 1;

	for (size_t k = 0; k < b->count; k++) {
		redisReply *reply = tt_redis_receive(&x->redis);

		if (reply == NULL)
			return 0;
		if (tt_redis_transient(reply)) {
			/* Passing (LOADING ...): drop the connection, and with it
			 * the other replies; the whole batch is sent again. */
			tt_log_msg(TT_LOG_WARN, "Redis busy; retrying the batch", "error", reply->str);
			freeReplyObject(reply);
			tt_redis_disconnect(&x->redis);
			return 0;
		}
		if (reply->type != REDIS_REPLY_STRING && rc == 1) {
			tt_log_msg(TT_LOG_ERROR, "Redis refused XADD", "error",
			    reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
			rc = -1;
		}
		freeReplyObject(reply);
	}
	if (rc == 1)
		tt_redis_ok(&x->redis);
	return rc;
}

/* Waits for the batch in flight to be stored, resending it over a new
 * connection if the old one failed (an entry may then be stored twice:
 * at-least-once, which the eventId makes harmless), then echoes its
 * lines. */
static void
complete_inflight(struct xadd *x)
{
	struct batch *b = x->inflight;
	int rc;

	if (b == NULL)
		return;
	x->inflight = NULL;
	while ((rc = read_replies(x, b)) == 0) {
		x->retries++;
		if (!tt_redis_connect(&x->redis)) {
			x->status = tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
			return;
		}
		if (!send_batch(x, b))
			continue;
	}
	if (rc < 0) {
		x->status = TT_EXIT_FAILURE;
		return;
	}
	x->batches_sent++;
	for (size_t k = 0; k < b->count; k++) {
		if (!tt_out_line(&x->out, b->lines[k], b->line_lens[k])) {
			x->status = TT_EXIT_IOERR;
			break;
		}
		x->out_lines++;
	}
	tt_out_flush(&x->out);
	b->count = 0;
	tt_arena_reset(&b->arena);
}

/* Sends the batch being filled and makes it the one in flight (after
 * completing the previous one); with wait, also completes it. */
static void
flush_batch(struct xadd *x, bool wait)
{
	struct batch *b = x->b;

	if (x->status != TT_EXIT_OK)
		return;
	if (b->count > 0) {
		complete_inflight(x);
		if (x->status != TT_EXIT_OK)
			return;
		/* A failed send is found, and resent, by complete_inflight. */
		send_batch(x, b);
		x->inflight = b;
		x->b = b == &x->batches[0] ? &x->batches[1] : &x->batches[0];
	}
	if (wait)
		complete_inflight(x);
}

/* tt_lines' hook: the input is about to block, so send what we have. */
static bool
flush_hook(void *ctx)
{
	struct xadd *x = ctx;

	flush_batch(x, true);
	return x->status == TT_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "maxlen", required_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct xadd x;
	uint64_t maxlen = 100000, batch = 256, max_line = TT_LINES_DEFAULT_MAX;
	const char *env;
	struct tt_lines lines;
	enum tt_lines_status st;
	const char *line;
	size_t len;
	char err[512], now[TT_TIME_ISO_LEN];
	int opt;
	struct tt_logrec r;

	tt_log_init("tt-xadd");
	env = tt_env("STREAM_MAXLEN");
	if (env != NULL && !tt_parse_u64(env, 0, UINT64_MAX, &maxlen)) {
		tt_log_msg(TT_LOG_ERROR, "STREAM_MAXLEN must be a number", "STREAM_MAXLEN", env);
		return TT_EXIT_CONFIG;
	}
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (!tt_parse_u64(optarg, 0, UINT64_MAX, &maxlen))
				tt_usage_error(USAGE, "--maxlen must be a number", optarg);
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
	if (optind + 1 != argc)
		tt_usage_error(USAGE, "one STREAM is needed", NULL);
	if (!tt_redis_init(&x.redis, NULL, err, sizeof err)) {
		tt_log_msg(TT_LOG_ERROR, "bad Redis configuration", "error", err);
		return TT_EXIT_CONFIG;
	}
	if (!tt_redis_key(&x.redis, argv[optind], x.key, sizeof x.key)) {
		tt_log_msg(TT_LOG_ERROR, "stream name too long", "stream", argv[optind]);
		tt_redis_free(&x.redis);
		return TT_EXIT_USAGE;
	}
	x.trim = maxlen > 0;
	snprintf(x.maxlen, sizeof x.maxlen, "%llu", (unsigned long long)maxlen);
	x.parser = tt_json_parser_new();
	x.writer = tt_json_writer_new();
	for (int i = 0; i < 2; i++) {
		struct batch *b = &x.batches[i];

		b->cap = batch;
		b->lines = calloc(batch, sizeof *b->lines);
		b->line_lens = calloc(batch, sizeof *b->line_lens);
		b->argc = calloc(batch, sizeof *b->argc);
		b->argv = calloc(batch, sizeof *b->argv);
		b->lens = calloc(batch, sizeof *b->lens);
		tt_arena_init(&b->arena, (size_t)batch * (3 * max_line + 65536));
		if (b->lines == NULL || b->line_lens == NULL || b->argc == NULL || b->argv == NULL || b->lens == NULL)
			x.status = TT_EXIT_FAILURE;
	}
	x.b = &x.batches[0];
	tt_out_stdout(&x.out);
	tt_stop_on_signals();
	if (x.parser == NULL || x.writer == NULL || x.status != TT_EXIT_OK) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
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
			if (st == TT_LINES_TOO_LONG) {
				x.rejected++;
				tt_log_msg(TT_LOG_ERROR, "line rejected: too long", NULL, NULL);
				continue;
			}
			tt_time_now_iso(now);
			queue_line(&x, line, len, lines.lineno, now);
			if (x.b->count == x.b->cap)
				flush_batch(&x, false);
		}
		flush_batch(&x, true);
		tt_lines_close(&lines);
	}
	if (!tt_out_close(&x.out) && x.status == TT_EXIT_OK)
		x.status = TT_EXIT_IOERR;
	if (tt_log_begin(&r, x.status == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_str(&r, "stream", x.key);
		tt_log_uint(&r, "in", x.in);
		tt_log_uint(&r, "out", x.out_lines);
		tt_log_uint(&r, "rejected", x.rejected);
		tt_log_uint(&r, "batches", x.batches_sent);
		tt_log_uint(&r, "retries", x.retries);
		tt_log_int(&r, "status", x.status);
		tt_log_end(&r);
	}
	tt_redis_free(&x.redis);
	tt_json_parser_free(x.parser);
	tt_json_writer_free(x.writer);
	for (int i = 0; i < 2; i++) {
		tt_arena_free(&x.batches[i].arena);
		free(x.batches[i].lines);
		free(x.batches[i].line_lens);
		free(x.batches[i].argc);
		free(x.batches[i].argv);
		free(x.batches[i].lens);
	}
	return x.status;
}
