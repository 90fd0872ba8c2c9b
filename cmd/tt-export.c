/* tt-export - stored events out of PostgreSQL as UnifiedEvent v1 NDJSON.
 *
 * A source: the events of a session, a stream, a time range and/or some
 * event types, one compact JSON object per line on standard output, for
 * ad hoc analytics with jq. One read-only REPEATABLE READ transaction, a
 * NO SCROLL cursor and FETCH FORWARD N in a loop: memory holds one fetch
 * at a time, whatever the size of the result. A connection lost after the
 * first line is written ends the export (exit 69): starting again would
 * write lines twice. See tt-export(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_config.h"
#include "tt_exit.h"
#include "tt_hash.h"
#include "tt_json.h"
#include "tt_log.h"
#include "tt_out.h"
#include "tt_pg.h"
#include "tt_schemas.h"
#include "tt_time.h"

#define USAGE \
	"usage: tt-export [--session UUID] [--stream ID] [--since TIME] [--until TIME]\n" \
	"                 [--type EVENTTYPE]... [--source live|replay] [--fetch N]\n" \
	"       tt-export --all [--fetch N]\n" \
	"       tt-export --help\n" \
	"Writes the stored events (PostgreSQL, DATABASE_URL) that match every selector\n" \
	"given as UnifiedEvent v1 lines on standard output, ordered by timestamp (by\n" \
	"seqNo for one --session).\n" \
	"  --session UUID    the events of one session\n" \
	"  --stream ID       the events of one stream (TikTok room id)\n" \
	"  --since TIME      events at or after TIME\n" \
	"  --until TIME      events before TIME\n" \
	"                    TIME: RFC 3339 (2026-02-22T10:00:00Z, +01:00 offsets),\n" \
	"                    a date (2026-02-22, midnight UTC), or an age: 90s, 30m,\n" \
	"                    24h, 7d, 2w (a leading - is allowed: -24h)\n" \
	"  --type EVENTTYPE  events of this type (CHAT, GIFT, ...); may be repeated\n" \
	"  --source SOURCE   live or replay events only\n" \
	"  --all             every stored event (needed when no selector is given)\n" \
	"  --fetch N         rows per FETCH from the cursor (default 1000)\n" \
	"Environment: DATABASE_URL, RECONNECT_MAX_ATTEMPTS, LOG_LEVEL.\n"

/* Most event types one export may name: the schema's enum has fewer. */
#define MAX_TYPES 32
/* Bind parameters: session, stream, since, until, source, the types. */
#define MAX_PARAMS (5 + MAX_TYPES)
/* Ceiling of the arena one event is parsed into (it grows only as far as
 * the largest event needs; past it, the event is written as PostgreSQL
 * printed it). */
#define EVENT_ARENA_MAX ((size_t)1 << 30)

struct selectors {
	const char *session;            /* canonical UUID text, or NULL */
	const char *stream;
	char since[64], until[64];      /* timestamptz text; "" = open */
	int64_t since_ms, until_ms;
	const char *source;             /* "live", "replay", or NULL */
	const char *types[MAX_TYPES];   /* distinct, each in the schema's enum */
	size_t ntypes;
	bool all;
};

struct export {
	struct tt_pg pg;
	struct tt_out out;
	struct tt_json_parser *parser;
	struct tt_json_writer *writer;
	struct tt_arena arena;          /* one event at a time */
	char declare[4096];             /* DECLARE ... FOR SELECT ..., placeholders only */
	const char *params[MAX_PARAMS];
	int nparams;
	unsigned fetch;                 /* rows per FETCH */
	uint64_t written, fetches, verbatim, retries;
	bool complete;                  /* the cursor was read to its end */
	int status;
};

/* ---- command line ----------------------------------------------------- */

/* An age such as "90s", "30m", "24h", "7d", or "-24h": *ms_ago gets its
 * length in milliseconds. False for anything else. */
static bool
parse_age(const char *s, int64_t *ms_ago)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 }, { 'w', 604800000 },
	};
	size_t len = strlen(s);
	char digits[16];
	uint64_t n;

	if (s[0] == '-') {
		s++;
		len--;
	}
	if (len < 2 || len - 1 >= sizeof digits)
		return false;
	memcpy(digits, s, len - 1);
	digits[len - 1] = '\0';
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (s[len - 1] != units[i].unit)
			continue;
		/* Up to about 100 years back. */
		if (!tt_parse_u64(digits, 0, (uint64_t)(3200000000000 / units[i].ms), &n))
			return false;
		*ms_ago = (int64_t)n * units[i].ms;
		return true;
	}
	return false;
}

/* Reads a TIME argument into text PostgreSQL takes as timestamptz (out,
 * outsz bytes) and its instant in *ms; exits 2 with the usage when it is
 * not one. */
static void
parse_time(const char *opt, const char *arg, char *out, size_t outsz, int64_t *ms)
{
	size_t len = strlen(arg);
	int64_t ago;
	char msg[96];

	snprintf(msg, sizeof msg, "%s wants an RFC 3339 time, a date or an age such as 24h", opt);
	if (parse_age(arg, &ago)) {
		*ms = tt_time_now_ms() - ago;
		tt_time_format_iso(*ms, out);
		return;
	}
	if (len == 10 && len + 10 < outsz) {
		/* A date: midnight UTC. */
		memcpy(out, arg, len);
		memcpy(out + len, "T00:00:00Z", 11);
	} else if (len < outsz) {
		memcpy(out, arg, len + 1);
	} else {
		tt_usage_error(USAGE, msg, arg);
	}
	len = strlen(out);
	/* PostgreSQL's year 0 does not exist (1 BC is year 0 in RFC 3339's
	 * proleptic calendar): refuse it here rather than fail later. */
	if (!tt_time_parse_iso(out, len, ms) || memcmp(out, "0000", 4) == 0)
		tt_usage_error(USAGE, msg, arg);
	out[10] = 'T';
	if (out[len - 1] == 'z')
		out[len - 1] = 'Z';
}

/* The eventType enum of the UnifiedEvent v1 schema built into the
 * binary; whether name is one of its members. */
static bool
event_type_known(const char *name)
{
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_arena a;
	struct tt_json *schema = NULL;
	const struct tt_json *types;
	bool known = false;
	char err[128];

	tt_arena_init(&a, 16u << 20);
	if (p != NULL && tt_json_parse(p, &a, tt_schema_unified_event_v1, tt_schema_unified_event_v1_len, &schema,
	    err, sizeof err) == TT_JSON_OK) {
		types = tt_json_path(schema, "properties.eventType.enum");
		for (size_t i = 0; types != NULL && !known; i++) {
			const struct tt_json *t = tt_json_at(types, i);

			if (t == NULL)
				break;
			known = tt_json_str_eq(t, name);
		}
	}
	tt_arena_free(&a);
	tt_json_parser_free(p);
	return known;
}

static void
add_type(struct selectors *sel, const char *name)
{
	for (size_t i = 0; i < sel->ntypes; i++)
		if (strcmp(sel->types[i], name) == 0)
			return;
	if (!event_type_known(name))
		tt_usage_error(USAGE, "--type: not a UnifiedEvent v1 eventType", name);
	if (sel->ntypes == MAX_TYPES)
		tt_usage_error(USAGE, "too many --type options", name);
	sel->types[sel->ntypes++] = name;
}

/* ---- the query -------------------------------------------------------- */

/* Appends s to the DECLARE text; the text is far larger than what the
 * selectors can make, so running out of room is a bug. */
static void
sql_add(struct export *x, const char *s)
{
	size_t len = strlen(x->declare), n = strlen(s);

	if (len + n >= sizeof x->declare) {
		fprintf(stderr, "%s:%d: query text too long\n", __FILE__, __LINE__);
		abort();
	}
	memcpy(x->declare + len, s, n + 1);
}

/* Appends "<AND|WHERE> column op $k[cast]" and binds value to $k. */
static void
sql_where(struct export *x, const char *column_op, const char *cast, const char *value)
{
	char ph[32];

	sql_add(x, x->nparams == 0 ? " WHERE " : " AND ");
	sql_add(x, column_op);
	snprintf(ph, sizeof ph, " $%d%s", x->nparams + 1, cast);
	sql_add(x, ph);
	x->params[x->nparams++] = value;
}

/* The DECLARE statement and its parameters, from the selectors. Every
 * value is a bind parameter; the text holds only placeholders. */
static void
build_query(struct export *x, const struct selectors *sel)
{
	x->declare[0] = '\0';
	x->nparams = 0;
	sql_add(x, "DECLARE ttlc_export NO SCROLL CURSOR FOR SELECT event::text FROM events");
	if (sel->session != NULL)
		sql_where(x, "session_id =", "::uuid", sel->session);
	if (sel->stream != NULL)
		sql_where(x, "stream_id =", "", sel->stream);
	if (sel->since[0] != '\0')
		sql_where(x, "ts >=", "::timestamptz", sel->since);
	if (sel->until[0] != '\0')
		sql_where(x, "ts <", "::timestamptz", sel->until);
	if (sel->source != NULL)
		sql_where(x, "source =", "", sel->source);
	for (size_t i = 0; i < sel->ntypes; i++) {
		char ph[32];

		if (i == 0) {
			sql_add(x, x->nparams == 0 ? " WHERE " : " AND ");
			sql_add(x, "event_type IN (");
		}
		snprintf(ph, sizeof ph, "%s$%d", i ? ", " : "", x->nparams + 1);
		sql_add(x, ph);
		x->params[x->nparams++] = sel->types[i];
	}
	if (sel->ntypes > 0)
		sql_add(x, ")");
	/* event_id last: two events may share a seqNo (not a type). */
	if (sel->session != NULL)
		sql_add(x, " ORDER BY seq_no, ts, event_id");
	else
		sql_add(x, " ORDER BY ts, session_id, seq_no, event_id");
}

/* ---- the export ------------------------------------------------------- */

enum outcome { DONE, RETRY, FAILED };

/* What a failed statement means: RETRY on a new connection (only while
 * nothing is written), or the end. Logs, clears res. */
static enum outcome
failure(struct export *x, PGresult *res, const char *what)
{
	bool transient = tt_pg_transient(&x->pg, res);
	struct tt_logrec r;

	if (transient && x->written == 0) {
		tt_pg_log_result(TT_LOG_WARN, what, &x->pg, res);
		PQclear(res);
		tt_pg_disconnect(&x->pg);
		return RETRY;
	}
	tt_pg_log_result(TT_LOG_ERROR, what, &x->pg, res);
	PQclear(res);
	if (transient) {
		/* Reading again from the start would repeat lines a reader
		 * already has: end here, and say how far the output goes. */
		if (tt_log_begin(&r, TT_LOG_ERROR, "connection lost mid-export: the output is incomplete")) {
			tt_log_uint(&r, "written", x->written);
			tt_log_end(&r);
		}
		x->status = TT_EXIT_UNAVAILABLE;
	} else {
		x->status = TT_EXIT_FAILURE;
	}
	return FAILED;
}

/* Writes one event: the jsonb text parsed and written compactly. An event
 * the parser cannot hold is written as PostgreSQL printed it (valid JSON
 * on one line too, with spaces), and counted. */
static void
write_event(struct export *x, const char *text, size_t len)
{
	struct tt_json *v = NULL;
	const unsigned char *out;
	size_t out_len;
	char err[256];

	tt_arena_reset(&x->arena);
	if (tt_json_parse(x->parser, &x->arena, text, len, &v, err, sizeof err) == TT_JSON_OK &&
	    tt_json_write(x->writer, v, &out, &out_len)) {
		if (!tt_out_line(&x->out, out, out_len))
			x->status = TT_EXIT_IOERR;
	} else {
		struct tt_logrec r;

		if (v != NULL)
			snprintf(err, sizeof err, "out of memory writing it");
		if (x->verbatim++ == 0 && tt_log_begin(&r, TT_LOG_WARN, "event written as PostgreSQL printed it")) {
			tt_log_uint(&r, "line", x->written + 1);
			tt_log_str(&r, "error", err);
			tt_log_end(&r);
		}
		if (!tt_out_line(&x->out, text, len))
			x->status = TT_EXIT_IOERR;
	}
	if (x->status == TT_EXIT_OK)
		x->written++;
}

/* One attempt: begin, declare the cursor, fetch and write to the end.
 * DONE also when stopped or when output failed (x->status says which). */
static enum outcome
run_export(struct export *x)
{
	char fetch[64];
	PGresult *res;

	snprintf(fetch, sizeof fetch, "FETCH FORWARD %u FROM ttlc_export", x->fetch);
	if (!tt_pg_exec(&x->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &res))
		return failure(x, res, "cannot begin");
	res = PQexecParams(x->pg.conn, x->declare, x->nparams, NULL, x->params, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		return failure(x, res, "cannot declare the cursor");
	PQclear(res);
	while (x->status == TT_EXIT_OK && !tt_stop_requested()) {
		int rows;

		res = PQexec(x->pg.conn, fetch);
		if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
			return failure(x, res, "cannot fetch");
		x->fetches++;
		tt_pg_ok(&x->pg);
		rows = PQntuples(res);
		for (int i = 0; i < rows && x->status == TT_EXIT_OK && !tt_stop_requested(); i++)
			write_event(x, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
		PQclear(res);
		if (rows == 0) {
			x->complete = true;
			break;
		}
		/* Lines reach a live pipe as each fetch is done. */
		if (!tt_out_flush(&x->out))
			x->status = TT_EXIT_IOERR;
	}
	/* Read-only: COMMIT and ROLLBACK are the same; either closes the
	 * cursor. A failure here changes nothing already written. */
	if (!tt_pg_exec(&x->pg, x->complete ? "COMMIT" : "ROLLBACK", &res) && res != NULL) {
		tt_pg_log_result(TT_LOG_WARN, "cannot end the transaction", &x->pg, res);
		PQclear(res);
	}
	return DONE;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "session", required_argument, NULL, 'S' },
		{ "stream", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'b' },
		{ "until", required_argument, NULL, 'e' },
		{ "type", required_argument, NULL, 't' },
		{ "source", required_argument, NULL, 'o' },
		{ "all", no_argument, NULL, 'a' },
		{ "fetch", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct export x;
	struct selectors sel = { 0 };
	uint64_t fetch = 1000;
	char err[512];
	int opt;
	bool fatal;
	struct tt_logrec r;

	tt_log_init("tt-export");
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'S':
			if (sel.session != NULL)
				tt_usage_error(USAGE, "--session given twice", optarg);
			if (!tt_uuid_valid(optarg, strlen(optarg)))
				tt_usage_error(USAGE, "--session wants a UUID", optarg);
			sel.session = optarg;
			break;
		case 's':
			if (sel.stream != NULL)
				tt_usage_error(USAGE, "--stream given twice", optarg);
			if (optarg[0] == '\0')
				tt_usage_error(USAGE, "--stream wants a stream id", NULL);
			sel.stream = optarg;
			break;
		case 'b':
			parse_time("--since", optarg, sel.since, sizeof sel.since, &sel.since_ms);
			break;
		case 'e':
			parse_time("--until", optarg, sel.until, sizeof sel.until, &sel.until_ms);
			break;
		case 't':
			add_type(&sel, optarg);
			break;
		case 'o':
			if (strcmp(optarg, "live") != 0 && strcmp(optarg, "replay") != 0)
				tt_usage_error(USAGE, "--source must be live or replay", optarg);
			sel.source = optarg;
			break;
		case 'a':
			sel.all = true;
			break;
		case 'f':
			if (!tt_parse_u64(optarg, 1, 100000, &fetch))
				tt_usage_error(USAGE, "--fetch must be from 1 to 100000", optarg);
			break;
		case 'h':
			tt_usage_help(USAGE);
		default:
			tt_usage_error(USAGE, "bad usage", NULL);
		}
	}
	if (optind != argc)
		tt_usage_error(USAGE, "no operands", argv[optind]);
	if (!sel.all && sel.session == NULL && sel.stream == NULL && sel.since[0] == '\0' && sel.until[0] == '\0' &&
	    sel.source == NULL && sel.ntypes == 0)
		tt_usage_error(USAGE, "no selector: name what to export, or give --all for every event", NULL);
	if (sel.since[0] != '\0' && sel.until[0] != '\0' && sel.since_ms >= sel.until_ms)
		tt_usage_error(USAGE, "--since must be before --until", NULL);
	if (!tt_pg_init(&x.pg, NULL, "tt-export", err, sizeof err)) {
		tt_log_msg(TT_LOG_ERROR, "bad PostgreSQL configuration", "error", err);
		return TT_EXIT_CONFIG;
	}
	x.fetch = (unsigned)fetch;
	build_query(&x, &sel);
	tt_out_stdout(&x.out);
	x.parser = tt_json_parser_new();
	x.writer = tt_json_writer_new();
	tt_arena_init(&x.arena, EVENT_ARENA_MAX);
	tt_stop_on_signals();
	if (x.parser == NULL || x.writer == NULL) {
		tt_log_msg(TT_LOG_ERROR, "cannot start", "error", "out of memory");
		x.status = TT_EXIT_FAILURE;
	} else if (tt_out_failed(&x.out)) {
		x.status = TT_EXIT_IOERR;
	} else {
		/* Retried only while nothing is written (the server went away
		 * before the first fetch came back). */
		for (;;) {
			if (!tt_pg_connect(&x.pg, &fatal)) {
				x.status = fatal ? TT_EXIT_CONFIG : tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
				break;
			}
			if (run_export(&x) != RETRY)
				break;
			x.retries++;
		}
	}
	if (!tt_out_close(&x.out) && (x.status == TT_EXIT_OK || x.status == TT_EXIT_TEMPFAIL))
		x.status = TT_EXIT_IOERR;
	/* Stopped by a signal before the end: the lines written are whole,
	 * but the export is not, so say so in the status. */
	if (x.status == TT_EXIT_OK && !x.complete)
		x.status = TT_EXIT_TEMPFAIL;
	if (tt_log_begin(&r, x.status == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_uint(&r, "written", x.written);
		tt_log_uint(&r, "fetches", x.fetches);
		tt_log_uint(&r, "verbatim", x.verbatim);
		tt_log_uint(&r, "retries", x.retries);
		tt_log_str(&r, "end", x.complete ? "complete" : "incomplete");
		tt_log_int(&r, "status", x.status);
		tt_log_end(&r);
	}
	tt_pg_free(&x.pg);
	tt_json_parser_free(x.parser);
	tt_json_writer_free(x.writer);
	tt_arena_free(&x.arena);
	return x.status;
}
