/* tt-xread - a Redis stream consumer group's entries out as NDJSON, each
 * with an _ack receipt for tt-xack.
 *
 * Creates the group if missing (from the stream's start, MKSTREAM), reads
 * this consumer's own pending entries first, then new ones (XREADGROUP,
 * blocking with a timeout), and claims entries other consumers left idle
 * too long (XPENDING IDLE + XCLAIM). An entry delivered more than --max-deliveries
 * times goes to the DLQ stream (reason max_deliveries) and is acked instead
 * of looping forever. See tt-xread(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt_ack.h"
#include "tt_config.h"
#include "tt_dlq.h"
#include "tt_exit.h"
#include "tt_json.h"
#include "tt_log.h"
#include "tt_out.h"
#include "tt_redis.h"
#include "tt_stream.h"
#include "tt_time.h"

#define USAGE \
	"usage: tt-xread -g GROUP [-c CONSUMER] [--count N] [--block MS] [--claim-idle MS]\n" \
	"                [--max-deliveries N] [--dlq STREAM] [--start ID] [--idle-exit MS] STREAM\n" \
	"       tt-xread --help\n" \
	"Writes the entries of STREAM for consumer group GROUP as NDJSON lines,\n" \
	"each with an \"_ack\" receipt (see tt-xack).\n" \
	"  -g, --group GROUP      consumer group (created if missing)\n" \
	"  -c, --consumer NAME    consumer name (default HOST-PID)\n" \
	"  --count N              entries per read (default 100)\n" \
	"  --block MS             longest wait for new entries per read (default 2000)\n" \
	"  --claim-idle MS        claim entries pending longer than MS in other\n" \
	"                         consumers (default 60000; 0 = never)\n" \
	"  --max-deliveries N     dead-letter an entry delivered more than N times\n" \
	"                         (default 5)\n" \
	"  --dlq STREAM           where dead letters go (default ttlc:dlq)\n" \
	"  --start ID             where a new group starts (default 0: everything)\n" \
	"  --idle-exit MS         exit 0 after MS without an entry (default: never)\n" \
	"Streams and groups are prefixed by REDIS_CONSUMER_GROUP_PREFIX.\n" \
	"Environment: REDIS_URL, REDIS_CONSUMER_GROUP_PREFIX, RECONNECT_MAX_ATTEMPTS,\n" \
	"LOG_LEVEL.\n"

struct xread {
	struct tt_redis redis;
	struct tt_out out;
	struct tt_json_parser *parser;
	struct tt_json_writer *writer;
	struct tt_arena arena;    /* one entry's objects */
	struct tt_arena replies;  /* the last read's reply (tt_redis_receive_in) */
	char key[512], group[512], dlq[512], consumer[256];
	char count[16], block[16], claim_idle[24], start[64];
	uint64_t max_deliveries, claim_ms, idle_exit_ms;
	uint64_t emitted, dead, claimed, unreadable, trimmed;
	int status;
};

/* Runs an idempotent command (retried over reconnects, see tt_redis_call);
 * NULL when giving up, with the exit status set: 0 on a stop signal, 69
 * when Redis stayed away. */
static redisReply *
command(struct xread *x, int argc, const char **argv)
{
	size_t lens[16];
	redisReply *reply;

	if (argc > 16)
		abort(); /* the callers pass fixed argument lists */
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	reply = tt_redis_call(&x->redis, argc, argv, lens);
	if (reply == NULL)
		x->status = tt_stop_requested() ? TT_EXIT_OK : TT_EXIT_UNAVAILABLE;
	return reply;
}

/* Creates the group (and the stream) unless it exists. */
static void
ensure_group(struct xread *x)
{
	const char *argv[] = { "XGROUP", "CREATE", x->key, x->group, x->start, "MKSTREAM" };
	redisReply *reply = command(x, 6, argv);

	if (reply == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
		tt_log_msg(TT_LOG_ERROR, "Redis refused XGROUP CREATE", "error", reply->str);
		x->status = TT_EXIT_FAILURE;
	}
	freeReplyObject(reply);
}

/* Deliveries of entry id for the group (from XPENDING): 0 if it is not
 * pending (or when giving up: x->status says so). */
static long long
deliveries(struct xread *x, const char *id)
{
	const char *argv[] = { "XPENDING", x->key, x->group, id, id, "1" };
	redisReply *reply = command(x, 6, argv);
	long long n = 0;

	if (reply == NULL)
		return 0;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
	    reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 4 &&
	    reply->element[0]->element[3]->type == REDIS_REPLY_INTEGER)
		n = reply->element[0]->element[3]->integer;
	freeReplyObject(reply);
	return n;
}

/* Acknowledges entry id. A refusal is fatal: every later ack would fail
 * the same way. */
static void
ack(struct xread *x, const char *id)
{
	const char *argv[] = { "XACK", x->key, x->group, id };
	redisReply *reply = command(x, 4, argv);

	if (reply == NULL)
		return;
	if (reply->type != REDIS_REPLY_INTEGER) {
		tt_log_msg(TT_LOG_ERROR, "Redis refused XACK", "error",
		    reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		x->status = TT_EXIT_FAILURE;
	}
	freeReplyObject(reply);
}

/* Moves an entry delivered too often to the DLQ stream (a dlq.v1 record
 * built by tt_dlq_build, stored with tt_stream's layout), then acks it:
 * only once Redis has accepted the record. A record sent again over a new
 * connection may be stored twice; an entry whose record is refused stays
 * pending. */
static void
dead_letter(struct xread *x, const char *id, const struct tt_stream_fields *f, long long n)
{
	struct tt_arena *a = &x->arena;
	struct tt_json *orig, *rec;
	struct tt_stream_fields df;
	const unsigned char *text;
	size_t plen = 0;
	char err[256], why[160], now[TT_TIME_ISO_LEN];
	const char **argv;
	size_t *lens;
	redisReply *reply;

	/* The payload: the entry as its reader would see it, or, when it
	 * cannot be read back, its raw fields as a JSON object of strings. */
	orig = tt_stream_object_of(a, x->parser, f, err, sizeof err);
	if (orig == NULL) {
		orig = tt_json_new(a, TT_JSON_OBJECT);
		for (size_t i = 0; i < f->count; i++)
			tt_json_add_n(orig, tt_arena_strdup(a, f->names[i], f->name_lens[i]), f->name_lens[i],
			    tt_json_new_str(a, tt_arena_strdup(a, f->values[i], f->value_lens[i]), f->value_lens[i]));
	}
	snprintf(why, sizeof why, "entry %s delivered %lld times without acknowledgement", id, n);
	if (orig == NULL || a->failed || !tt_json_write(x->writer, orig, &text, &plen))
		goto cannot;
	{
		const char *payload = tt_arena_strdup(a, (const char *)text, plen);
		struct tt_dlq_info info = {
			.stage = "xread",
			.reason = "max_deliveries",
			.error = why,
			.payload = payload,
			.payload_len = plen,
			.input = orig,
		};

		rec = payload == NULL ? NULL : tt_dlq_build(a, &info);
	}
	tt_time_now_iso(now);
	if (rec == NULL || !tt_stream_fields_of(a, x->writer, rec, now, &df))
		goto cannot;
	argv = tt_arena_alloc(a, (3 + 2 * df.count) * sizeof *argv);
	lens = tt_arena_alloc(a, (3 + 2 * df.count) * sizeof *lens);
	if (argv == NULL || lens == NULL)
		goto cannot;
	argv[0] = "XADD";
	lens[0] = 4;
	argv[1] = x->dlq;
	lens[1] = strlen(x->dlq);
	argv[2] = "*";
	lens[2] = 1;
	for (size_t i = 0; i < df.count; i++) {
		argv[3 + 2 * i] = df.names[i];
		lens[3 + 2 * i] = df.name_lens[i];
		argv[4 + 2 * i] = df.values[i];
		lens[4 + 2 * i] = df.value_lens[i];
	}
	reply = tt_redis_call(&x->redis, 3 + 2 * (int)df.count, argv, lens);
	if (reply == NULL) {
		x->status = tt_stop_requested() ? TT_EXIT_OK : TT_EXIT_UNAVAILABLE;
		return;
	}
	if (reply->type != REDIS_REPLY_STRING) {
		/* Not stored: never ack it. It stays pending, and is tried
		 * again when it is claimed or re-read. */
		tt_log_msg(TT_LOG_ERROR, "Redis refused the dead letter; the entry stays pending", "error",
		    reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		freeReplyObject(reply);
		return;
	}
	freeReplyObject(reply);
	x->dead++;
	ack(x, id);
	return;
cannot:
	tt_log_msg(TT_LOG_ERROR, "cannot build the dead letter (out of memory); the entry stays pending", "id", id);
}

/* Handles one entry reply [id, [field, value, ...]]. check: the entry
 * was delivered before (own pending, claimed): look up its deliveries,
 * and ack it when it was trimmed away. New entries (check false) issue no
 * command, so a read can be in flight meanwhile. */
static void
handle_entry(struct xread *x, const redisReply *e, bool check)
{
	const redisReply *idr, *fr;
	struct tt_stream_fields f;
	struct tt_json *obj;
	const unsigned char *text;
	size_t len, n;
	char err[256] = "", receipt[1100];

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
		return;
	idr = e->element[0];
	fr = e->element[1];
	if (fr->type != REDIS_REPLY_ARRAY) {
		/* Trimmed away (MAXLEN) while pending: nothing is left to
		 * deliver; say so, count it, and drop it from the pending list. */
		struct tt_logrec lr;

		if (!check)
			return; /* cannot happen to a new entry; re-read later */
		x->trimmed++;
		if (tt_log_begin(&lr, TT_LOG_WARN, "pending entry was trimmed from the stream before it was acknowledged")) {
			tt_log_str(&lr, "id", idr->str);
			tt_log_end(&lr);
		}
		ack(x, idr->str);
		return;
	}
	tt_arena_reset(&x->arena);
	n = fr->elements / 2;
	f.count = n;
	f.names = tt_arena_alloc(&x->arena, (n + 1) * sizeof *f.names);
	f.name_lens = tt_arena_alloc(&x->arena, (n + 1) * sizeof *f.name_lens);
	f.values = tt_arena_alloc(&x->arena, (n + 1) * sizeof *f.values);
	f.value_lens = tt_arena_alloc(&x->arena, (n + 1) * sizeof *f.value_lens);
	if (f.names == NULL || f.name_lens == NULL || f.values == NULL || f.value_lens == NULL) {
		x->unreadable++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		f.names[i] = fr->element[2 * i]->str;
		f.name_lens[i] = fr->element[2 * i]->len;
		f.values[i] = fr->element[2 * i + 1]->str;
		f.value_lens[i] = fr->element[2 * i + 1]->len;
	}
	if (check) {
		long long times = deliveries(x, idr->str);

		if (times > (long long)x->max_deliveries) {
			dead_letter(x, idr->str, &f, times);
			return;
		}
	}
	obj = tt_stream_object_of(&x->arena, x->parser, &f, err, sizeof err);
	if (obj == NULL || !tt_ack_format(receipt, sizeof receipt, x->key, x->group, idr->str, idr->len)) {
		struct tt_logrec r;

		/* Left pending: it comes back, and max_deliveries ends it. */
		x->unreadable++;
		if (tt_log_begin(&r, TT_LOG_ERROR, "entry cannot be read back as JSON")) {
			tt_log_str(&r, "id", idr->str);
			tt_log_str(&r, "error", err);
			tt_log_end(&r);
		}
		return;
	}
	tt_json_add(obj, "_ack", tt_json_new_str(&x->arena, receipt, strlen(receipt)));
	if (x->arena.failed || !tt_json_write(x->writer, obj, &text, &len)) {
		x->unreadable++;
		return;
	}
	if (!tt_out_line(&x->out, text, len))
		x->status = TT_EXIT_IOERR;
	x->emitted++;
}

/* The entries of an XREADGROUP reply (one stream), or NULL. */
static const redisReply *
read_entries(const redisReply *reply)
{
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
	    reply->element[0]->type != REDIS_REPLY_ARRAY || reply->element[0]->elements != 2 ||
	    reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return reply->element[0]->element[1];
}

/* Handles the entries of an XREADGROUP reply; *last gets the last id (for
 * paging pending entries). Returns how many there were. */
static size_t
handle_read(struct xread *x, const redisReply *reply, bool check, char *last, size_t lastsz)
{
	const redisReply *entries = read_entries(reply);
	size_t got = 0;

	if (entries == NULL)
		return 0;
	for (size_t i = 0; i < entries->elements && x->status == TT_EXIT_OK; i++) {
		const redisReply *e = entries->element[i];

		handle_entry(x, e, check);
		if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING)
			snprintf(last, lastsz, "%s", e->element[0]->str);
		got++;
	}
	return got;
}

/* An error reply to XREADGROUP: the group or stream gone (NOGROUP, or
 * UNBLOCKED for a read blocked on a key that was deleted): returns true,
 * make it again; a passing state: the connection is dropped, to be
 * reconnected after a back-off; anything else will not pass (exit 1). */
static bool
read_error(struct xread *x, const redisReply *reply)
{
	if (strncmp(reply->str, "NOGROUP", 7) == 0 || strncmp(reply->str, "UNBLOCKED", 9) == 0) {
		tt_log_msg(TT_LOG_WARN, "group or stream gone; creating it again", "error", reply->str);
		return true;
	}
	if (tt_redis_transient(reply)) {
		tt_log_msg(TT_LOG_WARN, "Redis busy; retrying", "error", reply->str);
		tt_redis_disconnect(&x->redis);
	} else {
		tt_log_msg(TT_LOG_ERROR, "Redis refused XREADGROUP", "error", reply->str);
		x->status = TT_EXIT_FAILURE;
	}
	return false;
}

/* Re-reads this consumer's own pending entries: after a start or a
 * reconnect, replies lost with the old connection may hold entries never
 * emitted. (Entries still in flight downstream are emitted again: at
 * least once.) */
static void
read_pending(struct xread *x)
{
	char last[64] = "0";
	unsigned long connects = x->redis.connects;

	while (x->status == TT_EXIT_OK && x->redis.connects == connects && !tt_stop_requested()) {
		const char *argv[] = { "XREADGROUP", "GROUP", x->group, x->consumer, "COUNT", x->count,
			"STREAMS", x->key, last };
		redisReply *reply = command(x, 9, argv);
		size_t got;

		if (reply == NULL)
			return;
		if (reply->type == REDIS_REPLY_ERROR) {
			if (read_error(x, reply))
				ensure_group(x);
			freeReplyObject(reply);
			return;
		}
		got = handle_read(x, reply, true, last, sizeof last);
		freeReplyObject(reply);
		tt_out_flush(&x->out);
		if (got == 0)
			return;
	}
}

/* Claims entries idle too long in other consumers (XPENDING with IDLE,
 * then XCLAIM of those not ours: XAUTOCLAIM would also take back our own
 * entries still in flight downstream, and emit them twice). */
static void
claim(struct xread *x)
{
	const size_t want = strtoull(x->count, NULL, 10);
	const char **argv = calloc(want + 5, sizeof *argv);
	size_t *lens = calloc(want + 5, sizeof *lens);
	redisReply *pages[16] = { NULL }, *reply;
	char start[80] = "-";
	size_t n = 0, npages = 0;

	if (argv == NULL || lens == NULL) {
		free(argv);
		free(lens);
		return;
	}
	argv[0] = "XCLAIM";
	argv[1] = x->key;
	argv[2] = x->group;
	argv[3] = x->consumer;
	argv[4] = x->claim_idle;
	/* Page through the idle pending entries (oldest first) until enough
	 * of other consumers' are found: our own idle ones must not hide
	 * them. A bounded number of pages per round. */
	while (n < want && npages < sizeof pages / sizeof pages[0]) {
		const char *pargv[] = { "XPENDING", x->key, x->group, "IDLE", x->claim_idle, start, "+", x->count };
		redisReply *page = command(x, 8, pargv);

		if (page == NULL)
			break;
		pages[npages++] = page;
		if (page->type != REDIS_REPLY_ARRAY || page->elements == 0)
			break;
		for (size_t i = 0; i < page->elements && n < want; i++) {
			const redisReply *e = page->element[i];

			if (e->type == REDIS_REPLY_ARRAY && e->elements == 4 && e->element[0]->type == REDIS_REPLY_STRING &&
			    e->element[1]->type == REDIS_REPLY_STRING && strcmp(e->element[1]->str, x->consumer) != 0)
				argv[5 + n++] = e->element[0]->str;
		}
		if (page->elements < want)
			break;
		{
			const redisReply *last = page->element[page->elements - 1];

			if (last->type != REDIS_REPLY_ARRAY || last->elements < 1 || last->element[0]->type != REDIS_REPLY_STRING)
				break;
			/* Exclusive start: the entries after the page's last. */
			snprintf(start, sizeof start, "(%s", last->element[0]->str);
		}
	}
	for (size_t i = 0; i < n + 5; i++)
		lens[i] = strlen(argv[i]);
	if (x->status == TT_EXIT_OK && n > 0) {
		/* Sent again after a lost reply, it claims only what the
		 * first did not: those are ours now, re-read with our own
		 * pending entries after the reconnect. */
		reply = tt_redis_call(&x->redis, (int)n + 5, argv, lens);
		if (reply == NULL) {
			x->status = tt_stop_requested() ? TT_EXIT_OK : TT_EXIT_UNAVAILABLE;
		} else {
			if (reply->type == REDIS_REPLY_ARRAY) {
				for (size_t i = 0; i < reply->elements && x->status == TT_EXIT_OK; i++) {
					handle_entry(x, reply->element[i], true);
					x->claimed++;
				}
			}
			freeReplyObject(reply);
		}
	}
	for (size_t i = 0; i < npages; i++)
		freeReplyObject(pages[i]);
	free(argv);
	free(lens);
	tt_out_flush(&x->out);
}

/* Sends an XREADGROUP for new entries without waiting for its reply (the
 * next read goes out while the last one's entries are written). */
static bool
send_read(struct xread *x)
{
	const char *argv[] = { "XREADGROUP", "GROUP", x->group, x->consumer, "COUNT", x->count,
		"BLOCK", x->block, "STREAMS", x->key, ">" };
	size_t lens[11];

	for (int i = 0; i < 11; i++)
		lens[i] = strlen(argv[i]);
	return tt_redis_append(&x->redis, 11, argv, lens) && tt_redis_send(&x->redis);
}

/* The consumer loop; returns when stopped, idle long enough, or failed. */
static void
run(struct xread *x)
{
	int64_t last_entry = tt_time_mono_ms(), last_claim = 0;
	unsigned long seen = 0;  /* x->redis.connects when last looked at */
	bool fresh = true;       /* (re)connected: group and own pending first */
	bool inflight = false;   /* a read was sent, its reply not read yet */
	const size_t want = strtoull(x->count, NULL, 10);

	while (x->status == TT_EXIT_OK && !tt_stop_requested()) {
		redisReply *reply;
		const redisReply *entries;
		char last[64];
		size_t got;
		bool claim_due;

		if (x->redis.connects != seen) {
			/* A new connection: what was in flight is gone. */
			seen = x->redis.connects;
			fresh = true;
			inflight = false;
		}
		if (fresh) {
			fresh = false;
			ensure_group(x);
			if (x->status == TT_EXIT_OK)
				read_pending(x);
			continue; /* a reconnect meanwhile starts over */
		}
		claim_due = x->claim_ms > 0 && tt_time_mono_ms() - last_claim >= (int64_t)x->claim_ms / 2;
		if (claim_due && !inflight) {
			last_claim = tt_time_mono_ms();
			claim(x);
			if (x->status != TT_EXIT_OK || x->redis.connects != seen)
				continue;
		}
		if (!inflight && !send_read(x))
			goto lost;
		inflight = false;
		tt_arena_reset(&x->replies);
		reply = tt_redis_receive_in(&x->redis, &x->replies);
		if (reply == NULL)
			goto lost;
		if (reply->type == REDIS_REPLY_ERROR) {
			fresh = read_error(x, reply);
			if (!fresh && x->status == TT_EXIT_OK)
				goto lost;
			continue;
		}
		tt_redis_ok(&x->redis);
		/* A full read: more are likely waiting, so ask for them
		 * before writing these out. */
		entries = read_entries(reply);
		if (entries != NULL && entries->elements == want && !claim_due && !tt_stop_requested())
			inflight = send_read(x);
		got = handle_read(x, reply, false, last, sizeof last);
		tt_out_flush(&x->out);
		if (got > 0)
			last_entry = tt_time_mono_ms();
		else if (x->idle_exit_ms > 0 && tt_time_mono_ms() - last_entry >= (int64_t)x->idle_exit_ms)
			break;
		continue;
lost:
		if (tt_stop_requested())
			break;
		if (!tt_redis_connect(&x->redis))
			x->status = tt_stop_requested() ? TT_EXIT_OK : TT_EXIT_UNAVAILABLE;
	}
	if (inflight && x->status == TT_EXIT_OK) {
		/* Stopping with a read in flight: its entries are ours now,
		 * so write them out rather than leave them to a restart. */
		redisReply *reply;

		tt_arena_reset(&x->replies);
		reply = tt_redis_receive_in(&x->redis, &x->replies);
		if (reply != NULL && reply->type != REDIS_REPLY_ERROR) {
			char last[64];

			handle_read(x, reply, false, last, sizeof last);
			tt_out_flush(&x->out);
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "consumer", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "block", required_argument, NULL, 'b' },
		{ "claim-idle", required_argument, NULL, 'i' },
		{ "max-deliveries", required_argument, NULL, 'm' },
		{ "dlq", required_argument, NULL, 'd' },
		{ "start", required_argument, NULL, 's' },
		{ "idle-exit", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct xread x;
	const char *group = NULL, *consumer = NULL, *dlq = "ttlc:dlq";
	uint64_t count = 100, block = 2000;
	char err[512], host[128];
	int opt;
	struct tt_logrec r;

	tt_log_init("tt-xread");
	x.claim_ms = 60000;
	x.max_deliveries = 5;
	snprintf(x.start, sizeof x.start, "0");
	while ((opt = getopt_long(argc, argv, "g:c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g':
			group = optarg;
			break;
		case 'c':
			consumer = optarg;
			break;
		case 'n':
			if (!tt_parse_u64(optarg, 1, 100000, &count))
				tt_usage_error(USAGE, "--count must be from 1 to 100000", optarg);
			break;
		case 'b':
			if (!tt_parse_u64(optarg, 1, 3600000, &block))
				tt_usage_error(USAGE, "--block must be from 1 to 3600000 ms", optarg);
			break;
		case 'i':
			if (!tt_parse_u64(optarg, 0, UINT32_MAX, &x.claim_ms))
				tt_usage_error(USAGE, "--claim-idle must be a number of ms", optarg);
			break;
		case 'm':
			if (!tt_parse_u64(optarg, 1, 1000000, &x.max_deliveries))
				tt_usage_error(USAGE, "--max-deliveries must be from 1 to 1000000", optarg);
			break;
		case 'd':
			dlq = optarg;
			break;
		case 's':
			if (strlen(optarg) >= sizeof x.start)
				tt_usage_error(USAGE, "--start is too long", optarg);
			snprintf(x.start, sizeof x.start, "%s", optarg);
			break;
		case 'x':
			if (!tt_parse_u64(optarg, 1, UINT32_MAX, &x.idle_exit_ms))
				tt_usage_error(USAGE, "--idle-exit must be a number of ms", optarg);
			break;
		case 'h':
			tt_usage_help(USAGE);
		default:
			tt_usage_error(USAGE, "bad usage", NULL);
		}
	}
	if (group == NULL || optind + 1 != argc)
		tt_usage_error(USAGE, "-g GROUP and one STREAM are needed", NULL);
	if (!tt_redis_init(&x.redis, NULL, err, sizeof err)) {
		tt_log_msg(TT_LOG_ERROR, "bad Redis configuration", "error", err);
		return TT_EXIT_CONFIG;
	}
	if (!tt_redis_key(&x.redis, argv[optind], x.key, sizeof x.key) ||
	    !tt_redis_key(&x.redis, group, x.group, sizeof x.group) ||
	    !tt_redis_key(&x.redis, dlq, x.dlq, sizeof x.dlq) ||
	    strchr(x.key, '\t') != NULL || strchr(x.group, '\t') != NULL) {
		tt_log_msg(TT_LOG_ERROR, "stream or group name too long or holding a tab", NULL, NULL);
		tt_redis_free(&x.redis);
		return TT_EXIT_USAGE;
	}
	if (consumer == NULL) {
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "host");
		host[sizeof host - 1] = '\0';
		snprintf(x.consumer, sizeof x.consumer, "%s-%ld", host, (long)getpid());
	} else {
		snprintf(x.consumer, sizeof x.consumer, "%s", consumer);
	}
	snprintf(x.count, sizeof x.count, "%llu", (unsigned long long)count);
	/* Reads wait at most 1 s at a time, so a stop signal (which hiredis
	 * does not let interrupt a read) is seen within a second. */
	snprintf(x.block, sizeof x.block, "%llu", (unsigned long long)(block < 1000 ? block : 1000));
	snprintf(x.claim_idle, sizeof x.claim_idle, "%llu", (unsigned long long)x.claim_ms);
	/* A blocking read must not time out before Redis answers it. */
	x.redis.timeout_ms = 6000;
	x.parser = tt_json_parser_new();
	x.writer = tt_json_writer_new();
	tt_arena_init(&x.arena, 256u << 20);
	tt_arena_init(&x.replies, 1u << 30);
	tt_out_stdout(&x.out);
	tt_stop_on_signals();
	if (x.parser == NULL || x.writer == NULL)
		x.status = TT_EXIT_FAILURE;
	else if (!tt_redis_connect(&x.redis))
		x.status = tt_stop_requested() ? TT_EXIT_OK : TT_EXIT_UNAVAILABLE;
	else
		run(&x);
	if (!tt_out_close(&x.out) && x.status == TT_EXIT_OK)
		x.status = TT_EXIT_IOERR;
	if (tt_log_begin(&r, x.status == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_str(&r, "stream", x.key);
		tt_log_str(&r, "group", x.group);
		tt_log_str(&r, "consumer", x.consumer);
		tt_log_uint(&r, "emitted", x.emitted);
		tt_log_uint(&r, "claimed", x.claimed);
		tt_log_uint(&r, "deadLettered", x.dead);
		tt_log_uint(&r, "unreadable", x.unreadable);
		tt_log_uint(&r, "trimmedWhilePending", x.trimmed);
		tt_log_int(&r, "status", x.status);
		tt_log_end(&r);
	}
	tt_redis_free(&x.redis);
	tt_json_parser_free(x.parser);
	tt_json_writer_free(x.writer);
	tt_arena_free(&x.arena);
	tt_arena_free(&x.replies);
	return x.status;
}
