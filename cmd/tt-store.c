/* tt-store - UnifiedEvent v1 lines in, PostgreSQL rows out, each line
 * echoed once its transaction has committed.
 *
 * An echoing sink: lines are stored in batches, one transaction each
 * (streams, sessions and users bookkeeping, then the events by COPY); a
 * batch's lines, with their _ack receipts, go to standard output only after
 * COMMIT, so `... | tt-store | tt-xack ...` acknowledges an entry only once
 * its event is stored. A line that cannot be stored becomes a dlq.v1
 * record; the rest of its batch commits. See tt-store(1).
 *
 * Two batches take turns: while the server runs one batch's COPY and
 * COMMIT (the batch "in flight"), the next is read, checked and encoded.
 * Anything but a clean commit of the batch in flight is finished, and
 * retried, the synchronous way (try_batch).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_config.h"
#include "tt_dlq.h"
#include "tt_exit.h"
#include "tt_json.h"
#include "tt_lines.h"
#include "tt_log.h"
#include "tt_out.h"
#include "tt_pg.h"
#include "tt_schema.h"
#include "tt_schemas.h"
#include "tt_time.h"

#define USAGE \
	"usage: tt-store [--batch N] [--flush-ms MS] [--dlq FILE] [--max-line BYTES]\n" \
	"       tt-store --help\n" \
	"Stores UnifiedEvent v1 lines of standard input in PostgreSQL (DATABASE_URL)\n" \
	"and echoes each line, _ack included, once its transaction has committed.\n" \
	"  --batch N         events per transaction at most (default 1000)\n" \
	"  --flush-ms MS     longest a line waits for its batch to fill (default 200)\n" \
	"  --dlq FILE        append dlq.v1 records of lines that cannot be stored to\n" \
	"                    FILE (- = standard output; default: log them)\n" \
	"  --max-line BYTES  longest line accepted (default 1048576)\n" \
	"Environment: DATABASE_URL, RECONNECT_MAX_ATTEMPTS, LOG_LEVEL.\n"

/* Distinct sessions one batch may touch; one more ends the batch early. */
#define MAX_SESSIONS 64
/* Days (partitions) remembered as existing. */
#define MAX_DAYS 4096
/* Lines read between two looks at the batch in flight. */
#define PUMP_EVERY 16

#define EVENT_COLUMNS "event_id, ts, ingested_at, event_type, source, stream_id, session_id, seq_no, user_id, event"

/* A growable byte buffer (the COPY data, the bookkeeping SQL). */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

/* Makes room for n more bytes and a NUL; false (and failed set) when
 * memory is short. */
static bool
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 65536;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* One field of COPY's text format: backslash, tab, newline and carriage
 * return escaped; a NUL is sent as \000, which PostgreSQL refuses (the
 * line then goes to the DLQ rather than being cut short). One pass into
 * room made for the worst case (every byte a NUL). */
static void
copy_field(struct buf *b, const char *s, size_t n)
{
	char *out;

	if (!buf_reserve(b, 4 * n))
		return;
	out = b->p + b->len;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* The only bytes to escape are 0, 9, 10, 13 and 92. */
		if (c > '\r' && c != '\\') {
			*out++ = (char)c;
			continue;
		}
		switch (c) {
		case '\\': *out++ = '\\'; *out++ = '\\'; break;
		case '\t': *out++ = '\\'; *out++ = 't'; break;
		case '\n': *out++ = '\\'; *out++ = 'n'; break;
		case '\r': *out++ = '\\'; *out++ = 'r'; break;
		case '\0': memcpy(out, "\\000", 4); out += 4; break;
		default: *out++ = (char)c; break;
		}
	}
	b->len = (size_t)(out - b->p);
	b->p[b->len] = '\0';
}

/* ---- a batch -------------------------------------------------------- */

struct row {
	const char *line;         /* the line as it came (echoed, or the DLQ payload) */
	size_t line_len;
	const struct tt_json *v;  /* parsed */
	size_t copy_off, copy_len; /* its COPY line in the batch's copy buffer */
	int64_t day;              /* of its timestamp, days since 1970-01-01 UTC */
	uint64_t lineno;
	const char *error;        /* set when PostgreSQL refused it */
};

struct session {
	const char *id, *stream_id, *source;
	const char *first_ts, *last_ts, *ended_at, *end_reason;
	int64_t first_ms, last_ms;
};

/* One user of a batch, summed over their events: PostgreSQL gets one row
 * per user, not one per event. */
struct user {
	const char *id;
	size_t id_len;
	const char *unique_id, *nickname, *avatar; /* of their latest event; NULL: none */
	const char *first_ts, *last_ts;
	int64_t first_ms, last_ms;
};

struct batch {
	struct row *rows;         /* cap of them */
	size_t count;
	struct session sessions[MAX_SESSIONS];
	size_t nsessions;
	struct user *users;       /* cap of them */
	size_t nusers;
	uint32_t *user_slots;     /* open-addressing index into users (i + 1; 0 = free) */
	size_t nslots;            /* a power of two, at least twice cap */
	struct tt_arena arena;    /* the batch's lines and trees */
	struct buf copy;          /* the batch's COPY data */
	int64_t started;          /* monotonic ms of the batch's first line */
	uint64_t stored, duplicates; /* of the attempt under way */
};

/* ---- the batch in flight ---------------------------------------------
 *
 * At most one batch is in flight: BEGIN, its bookkeeping and SAVEPOINT
 * whole_batch have run, and "COPY events ... FROM STDIN; COMMIT" was sent
 * with all its rows (a tt_pg_copy). The server answers with the COPY's
 * result, then COMMIT's; if the COPY is refused, the COMMIT is skipped and
 * the transaction waits, aborted, for a ROLLBACK TO SAVEPOINT.
 *
 * Invariants: a batch's lines are echoed only after its COMMIT came back
 * OK (land); a batch is sent only once the one before it has landed, so
 * lines are echoed in input order.
 */
struct flight {
	struct batch *b;          /* NULL: nothing in flight */
	struct tt_pg_copy copy;   /* its COPY and COMMIT */
};

struct store {
	struct tt_pg pg;
	struct tt_out out, dlq_out, *dlq;
	struct tt_lines lines;
	struct tt_json_parser *parser;
	struct tt_json_writer *writer;
	struct tt_schema *schema;
	struct tt_arena scratch;  /* one DLQ record at a time */
	struct batch pair[2];     /* the two batches, taking turns */
	struct batch *fill;       /* the batch lines go into */
	struct flight flight;
	size_t cap;               /* --batch */
	uint64_t flush_ms;
	int64_t days[MAX_DAYS];   /* partitions known to exist */
	size_t ndays;
	uint64_t in, stored, duplicates, dead, batches, retries;
	int status;
};

/* Allocates a batch of cap rows; false when memory is short. */
static bool
batch_init(struct batch *b, size_t cap, size_t max_line)
{
	b->nslots = 16;
	while (b->nslots < 2 * cap)
		b->nslots *= 2;
	b->rows = calloc(cap, sizeof *b->rows);
	b->users = calloc(cap, sizeof *b->users);
	b->user_slots = calloc(b->nslots, sizeof *b->user_slots);
	tt_arena_init(&b->arena, cap * (4 * max_line + 65536));
	return b->rows != NULL && b->users != NULL && b->user_slots != NULL;
}

/* Empties a batch for the next lines. */
static void
batch_clear(struct batch *b)
{
	b->count = 0;
	b->nsessions = 0;
	b->nusers = 0;
	memset(b->user_slots, 0, b->nslots * sizeof *b->user_slots);
	b->copy.len = 0;
	tt_arena_reset(&b->arena);
}

static void
batch_free(struct batch *b)
{
	free(b->rows);
	free(b->users);
	free(b->user_slots);
	free(b->copy.p);
	tt_arena_free(&b->arena);
}

/* ---- lines in --------------------------------------------------------- */

/* A string member of v as a NUL-terminated arena copy; NULL if absent or
 * not a string. */
static const char *
str_of(struct tt_arena *a, const struct tt_json *v, const char *key)
{
	const struct tt_json *m = tt_json_get(v, key);

	if (m == NULL || m->kind != TT_JSON_STRING)
		return NULL;
	return tt_arena_strdup(a, m->str, m->len);
}

/* Writes a dlq.v1 record for a line (to --dlq, else as an error log). */
static void
dead_letter(struct store *s, const char *reason, const char *error, const char *line, size_t len,
    bool truncated, const struct tt_json *input, uint64_t lineno)
{
	struct tt_dlq_info info = {
		.stage = "store",
		.reason = reason,
		.error = error,
		.payload = line,
		.payload_len = len,
		.truncated = truncated,
		.input = input,
		.lineno = lineno,
	};
	const unsigned char *text;
	size_t tlen;
	struct tt_json *rec;
	struct tt_logrec r;

	s->dead++;
	if (s->dlq == NULL) {
		if (tt_log_begin(&r, TT_LOG_ERROR, "line not stored")) {
			tt_log_uint(&r, "line", lineno);
			tt_log_str(&r, "reason", reason);
			tt_log_str(&r, "error", error);
			tt_log_end(&r);
		}
		return;
	}
	tt_arena_reset(&s->scratch);
	rec = tt_dlq_build(&s->scratch, &info);
	if (rec == NULL) {
		tt_arena_reset(&s->scratch);
		info.input = NULL;
		rec = tt_dlq_build(&s->scratch, &info);
	}
	if (rec == NULL || !tt_json_write(s->writer, rec, &text, &tlen)) {
		tt_log_msg(TT_LOG_ERROR, "out of memory building a DLQ record", NULL, NULL);
		s->status = TT_EXIT_FAILURE;
		return;
	}
	if (!tt_out_line(s->dlq, text, tlen))
		s->status = TT_EXIT_IOERR;
}

/* Notes the event in its session's aggregate; false when the batch
 * already holds MAX_SESSIONS other sessions. */
static bool
track_session(struct batch *b, const struct tt_json *v, const char *ts, int64_t ms)
{
	struct tt_arena *a = &b->arena;
	const struct tt_json *id = tt_json_get(v, "sessionId");
	const struct tt_json *type = tt_json_get(v, "eventType");
	struct session *ss = NULL;

	for (size_t i = 0; i < b->nsessions; i++)
		if (strlen(b->sessions[i].id) == id->len && memcmp(b->sessions[i].id, id->str, id->len) == 0)
			ss = &b->sessions[i];
	if (ss == NULL) {
		if (b->nsessions == MAX_SESSIONS)
			return false;
		ss = &b->sessions[b->nsessions++];
		memset(ss, 0, sizeof *ss);
		ss->id = tt_arena_strdup(a, id->str, id->len);
		ss->stream_id = str_of(a, v, "streamId");
		ss->source = str_of(a, v, "source");
		ss->first_ts = ss->last_ts = ts;
		ss->first_ms = ss->last_ms = ms;
	}
	if (ms < ss->first_ms) {
		ss->first_ms = ms;
		ss->first_ts = ts;
	}
	if (ms > ss->last_ms) {
		ss->last_ms = ms;
		ss->last_ts = ts;
	}
	if (tt_json_str_eq(type, "DISCONNECTED") || tt_json_str_eq(type, "STREAM_END")) {
		const struct tt_json *reason = tt_json_path(v, "payload.reason");

		ss->ended_at = ts;
		ss->end_reason = reason != NULL && reason->kind == TT_JSON_STRING
		    ? tt_arena_strdup(a, reason->str, reason->len)
		    : tt_arena_strdup(a, type->str, type->len);
	}
	return true;
}

/* Notes the event in its user's aggregate: first and last seen, and the
 * handle, nickname and avatar of the latest event (a later line wins a
 * tie). The batch has room: it holds no more users than rows. */
static void
track_user(struct batch *b, const struct tt_json *user, const struct tt_json *id, const char *ts, int64_t ms)
{
	struct tt_arena *a = &b->arena;
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;
	struct user *u = NULL;
	bool latest;

	for (size_t k = 0; k < id->len; k++)
		h = (h ^ (unsigned char)id->str[k]) * 16777619u;
	for (i = h & (b->nslots - 1); b->user_slots[i] != 0; i = (i + 1) & (b->nslots - 1)) {
		struct user *c = &b->users[b->user_slots[i] - 1];

		if (c->id_len == id->len && memcmp(c->id, id->str, id->len) == 0) {
			u = c;
			break;
		}
	}
	if (u == NULL) {
		u = &b->users[b->nusers++];
		b->user_slots[i] = (uint32_t)b->nusers;
		u->id = tt_arena_strdup(a, id->str, id->len);
		u->id_len = id->len;
		u->first_ts = u->last_ts = ts;
		u->first_ms = u->last_ms = ms;
		latest = true;
	} else {
		if (ms < u->first_ms) {
			u->first_ms = ms;
			u->first_ts = ts;
		}
		latest = ms >= u->last_ms;
		if (latest) {
			u->last_ms = ms;
			u->last_ts = ts;
		}
	}
	if (latest) {
		u->unique_id = str_of(a, user, "uniqueId");
		u->nickname = str_of(a, user, "nickname");
		u->avatar = str_of(a, user, "avatarUrl");
	}
}

/* The event as stored: the line's object without its '_' members. A line
 * without any is stored as it came; otherwise the object is written again
 * with them unlinked for the writing only (a DLQ record still copies
 * them). */
static bool
event_text(struct store *s, struct tt_json *v, const char *line, size_t len, const unsigned char **text,
    size_t *tlen)
{
	struct tt_json **links[16], *removed[16], *last = v->last;
	size_t n = 0, count = v->count;
	bool ok, overflow = false, underscored = false;

	for (const struct tt_json *m = v->first; m != NULL && !underscored; m = m->next)
		underscored = m->key_len > 0 && m->key[0] == '_';
	if (!underscored) {
		*text = (const unsigned char *)line;
		*tlen = len;
		return true;
	}
	for (struct tt_json **link = &v->first; *link != NULL;) {
		if ((*link)->key_len > 0 && (*link)->key[0] == '_') {
			if (n == 16) {
				overflow = true; /* refused rather than stored */
				break;
			}
			links[n] = link;
			removed[n++] = *link;
			*link = (*link)->next;
			v->count--;
			continue;
		}
		v->last = *link;
		link = &(*link)->next;
	}
	ok = !overflow && tt_json_write(s->writer, v, text, tlen);
	while (n > 0) {
		n--;
		*links[n] = removed[n];
	}
	v->last = last;
	v->count = count;
	return ok;
}

/* Adds one line to the batch being filled, or dead-letters it. False when
 * the batch must be stored first (full, or too many sessions); the line is
 * then not taken. */
static bool
take_line(struct store *s, const char *line, size_t len, bool too_long, uint64_t lineno)
{
	struct batch *b = s->fill;
	struct tt_arena *a = &b->arena;
	struct buf *copy = &b->copy;
	size_t mark_copy = copy->len;
	struct tt_json *v = NULL;
	struct tt_schema_error serr;
	struct row *row;
	const struct tt_json *user, *user_id = NULL, *seq;
	const unsigned char *text;
	size_t tlen;
	char err[640], num[TT_JSON_INT_LEN];
	int64_t ms, seq_no;
	const char *kept, *ts;
	/* A line that is not kept (dead-lettered, or left for the next
	 * batch) gives its memory back: bad lines alone never fill the
	 * arena of the batch being filled. */
	struct tt_arena_mark mark = tt_arena_mark(a);

	if (too_long) {
		dead_letter(s, "line_too_long", "line longer than --max-line", line, len, true, NULL, lineno);
		return true;
	}
	kept = tt_arena_strdup(a, line, len);
	if (kept == NULL || tt_json_parse(s->parser, a, kept, len, &v, err, sizeof err) != TT_JSON_OK) {
		dead_letter(s, kept == NULL ? "too_large" : "invalid_json", kept == NULL ? "line too large" : err,
		    line, len, false, NULL, lineno);
		tt_arena_release(a, mark);
		return true;
	}
	if (v->kind != TT_JSON_OBJECT) {
		dead_letter(s, "not_object", "the line is not a JSON object", line, len, false, NULL, lineno);
		tt_arena_release(a, mark);
		return true;
	}
	if (!tt_schema_validate(s->schema, v, &serr)) {
		snprintf(err, sizeof err, "%s: %s (%s)", serr.path[0] ? serr.path : "/", serr.message, serr.keyword);
		dead_letter(s, "schema_violation", err, line, len, false, v, lineno);
		tt_arena_release(a, mark);
		return true;
	}
	if (b->count == s->cap) {
		tt_arena_release(a, mark);
		return false;
	}
	ts = str_of(a, v, "timestamp");
	if (ts == NULL || !tt_time_parse_iso(ts, strlen(ts), &ms)) {
		dead_letter(s, "bad_timestamp", "timestamp is not a date-time", line, len, false, v, lineno);
		tt_arena_release(a, mark);
		return true;
	}
	if (!track_session(b, v, ts, ms)) {
		tt_arena_release(a, mark);
		return false;
	}
	row = &b->rows[b->count];
	memset(row, 0, sizeof *row);
	row->line = kept;
	row->line_len = len;
	row->v = v;
	row->lineno = lineno;
	row->day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	user = tt_json_get(v, "user");
	if (user != NULL && user->kind == TT_JSON_OBJECT) {
		user_id = tt_json_get(user, "userId");
		if (user_id != NULL && user_id->kind != TT_JSON_STRING)
			user_id = NULL;
	}
	/* event_id ts ingested_at event_type source stream_id session_id
	 * seq_no user_id event */
	row->copy_off = mark_copy;
	{
		static const char *const cols[] = { "eventId", "timestamp", "ingestedAt", "eventType", "source",
			"streamId", "sessionId" };

		for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
			const struct tt_json *m = tt_json_get(v, cols[i]);

			copy_field(copy, m->str, m->len);
			buf_add(copy, "\t", 1);
		}
	}
	seq = tt_json_get(v, "seqNo");
	if (!tt_json_int(seq, &seq_no))
		seq_no = 0;
	buf_add(copy, num, tt_json_format_int(seq_no, num));
	buf_add(copy, "\t", 1);
	if (user_id != NULL)
		copy_field(copy, user_id->str, user_id->len);
	else
		buf_str(copy, "\\N");
	buf_add(copy, "\t", 1);
	if (!event_text(s, v, line, len, &text, &tlen)) {
		copy->len = mark_copy;
		dead_letter(s, "too_large", "cannot write the event (out of memory, or more than 16 members named _...)",
		    line, len, false, v, lineno);
		return true;
	}
	copy_field(copy, (const char *)text, tlen);
	buf_add(copy, "\n", 1);
	row->copy_len = copy->len - mark_copy;
	if (user_id != NULL)
		track_user(b, user, user_id, ts, ms);
	if (a->failed || copy->failed) {
		s->status = TT_EXIT_FAILURE;
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		return true;
	}
	if (b->count == 0)
		b->started = tt_time_mono_ms();
	b->count++;
	return true;
}

/* ---- the database side -------------------------------------------- */

enum outcome { DONE, RETRY, FAILED };

/* The outcome of a failed statement: retry on a new connection, or fail
 * (logged). Clears res. */
static enum outcome
failure(struct store *s, PGresult *res, const char *what)
{
	enum outcome o = tt_pg_transient(&s->pg, res) ? RETRY : FAILED;

	tt_pg_log_result(o == RETRY ? TT_LOG_WARN : TT_LOG_ERROR, what, &s->pg, res);
	PQclear(res);
	if (o == RETRY)
		tt_pg_disconnect(&s->pg);
	return o;
}

/* Runs sql with nparams text parameters; DONE, or the failure. */
static enum outcome
run_params(struct store *s, const char *sql, int nparams, const char *const *params, const char *what)
{
	PGresult *res;
	ExecStatusType st;

	if (s->pg.conn == NULL)
		return RETRY;
	res = PQexecParams(s->pg.conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return DONE;
	}
	return failure(s, res, what);
}

static enum outcome
run(struct store *s, const char *sql, const char *what)
{
	return run_params(s, sql, 0, NULL, what);
}

/* Makes the partitions of the batch's days that are not known yet (each
 * in its own short transaction, before the batch's). */
static enum outcome
ensure_partitions(struct store *s, const struct batch *b)
{
	for (size_t i = 0; i < b->count; i++) {
		int64_t day = b->rows[i].day;
		char date[TT_TIME_ISO_LEN];
		const char *params[1] = { date };
		bool known = false;
		enum outcome o;

		for (size_t k = 0; k < s->ndays && !known; k++)
			known = s->days[k] == day;
		if (known)
			continue;
		tt_time_format_iso(day * 86400000, date);
		date[10] = '\0'; /* YYYY-MM-DD */
		o = run_params(s, "SELECT ttlc_event_partition($1::date)", 1, params, "cannot make an events partition");
		if (o != DONE)
			return o;
		if (s->ndays < MAX_DAYS)
			s->days[s->ndays++] = day;
	}
	return DONE;
}

/* Appends ",($k,...)" placeholders for one VALUES row of n columns, with
 * the given casts ("" for none). */
static void
values_row(struct buf *sql, int *k, int n, const char *const *casts)
{
	char num[TT_JSON_INT_LEN];

	buf_str(sql, *k == 1 ? "(" : ",(");
	for (int i = 0; i < n; i++) {
		buf_str(sql, i ? ",$" : "$");
		buf_add(sql, num, tt_json_format_int((*k)++, num));
		buf_str(sql, casts[i]);
	}
	buf_str(sql, ")");
}

/* qsort order of users by id. */
static int
user_id_order(const void *a, const void *b)
{
	const struct user *x = *(const struct user *const *)a, *y = *(const struct user *const *)b;

	return strcmp(x->id, y->id);
}

/* Streams, sessions and users of the batch: inserted or brought up to
 * date, in the batch's transaction. */
static enum outcome
bookkeeping(struct store *s, const struct batch *b)
{
	static const char *const stream_casts[] = { "", "::timestamptz", "::timestamptz", "::uuid" };
	static const char *const session_casts[] = { "::uuid", "", "", "::timestamptz", "::timestamptz",
		"::timestamptz", "" };
	static const char *const user_casts[] = { "", "", "", "", "::timestamptz", "::timestamptz" };
	struct buf sql = { 0 };
	size_t nparams = 6 * b->nusers > 7 * b->nsessions ? 6 * b->nusers : 7 * b->nsessions;
	const char **params = calloc(nparams + 1, sizeof *params);
	/* Users are locked in id order: two tt-stores whose batches share
	 * users then wait for each other instead of deadlocking. */
	const struct user **users = calloc(b->nusers + 1, sizeof *users);
	enum outcome o = DONE;
	int k;

	if (params == NULL || users == NULL) {
		free(params);
		free(users);
		return FAILED;
	}
	for (size_t i = 0; i < b->nusers; i++)
		users[i] = &b->users[i];
	qsort(users, b->nusers, sizeof *users, user_id_order);
	k = 1;
	buf_str(&sql, "INSERT INTO streams AS s (stream_id, first_seen, last_seen, last_session_id) "
	    "SELECT v.id, min(v.f), max(v.l), (array_agg(v.sid ORDER BY v.l DESC))[1] FROM (VALUES ");
	for (size_t i = 0; i < b->nsessions; i++) {
		const struct session *ss = &b->sessions[i];

		params[k - 1] = ss->stream_id;
		params[k] = ss->first_ts;
		params[k + 1] = ss->last_ts;
		params[k + 2] = ss->id;
		values_row(&sql, &k, 4, stream_casts);
	}
	buf_str(&sql, ") AS v(id, f, l, sid) GROUP BY v.id ON CONFLICT (stream_id) DO UPDATE SET "
	    "first_seen = LEAST(s.first_seen, EXCLUDED.first_seen), "
	    "last_seen = GREATEST(s.last_seen, EXCLUDED.last_seen), "
	    "last_session_id = CASE WHEN EXCLUDED.last_seen >= s.last_seen "
	    "THEN EXCLUDED.last_session_id ELSE s.last_session_id END");
	if (!sql.failed)
		o = run_params(s, sql.p, k - 1, params, "cannot store streams");

	if (o == DONE) {
		sql.len = 0;
		k = 1;
		buf_str(&sql, "INSERT INTO sessions AS s (session_id, stream_id, source, started_at, last_event_at, "
		    "ended_at, end_reason) VALUES ");
		for (size_t i = 0; i < b->nsessions; i++) {
			const struct session *ss = &b->sessions[i];

			params[k - 1] = ss->id;
			params[k] = ss->stream_id;
			params[k + 1] = ss->source;
			params[k + 2] = ss->first_ts;
			params[k + 3] = ss->last_ts;
			params[k + 4] = ss->ended_at;
			params[k + 5] = ss->end_reason;
			values_row(&sql, &k, 7, session_casts);
		}
		buf_str(&sql, " ON CONFLICT (session_id) DO UPDATE SET "
		    "started_at = LEAST(s.started_at, EXCLUDED.started_at), "
		    "last_event_at = GREATEST(s.last_event_at, EXCLUDED.last_event_at), "
		    "ended_at = COALESCE(EXCLUDED.ended_at, s.ended_at), "
		    "end_reason = COALESCE(EXCLUDED.end_reason, s.end_reason)");
		if (!sql.failed)
			o = run_params(s, sql.p, k - 1, params, "cannot store sessions");
	}

	/* One row per user (track_user): ON CONFLICT DO UPDATE may touch a
	 * row only once per statement, and fewer rows cost less. */
	if (o == DONE && b->nusers > 0) {
		sql.len = 0;
		k = 1;
		buf_str(&sql, "INSERT INTO users AS u (user_id, unique_id, nickname, avatar_url, first_seen, last_seen) "
		    "VALUES ");
		for (size_t i = 0; i < b->nusers; i++) {
			const struct user *u = users[i];

			params[k - 1] = u->id;
			params[k] = u->unique_id;
			params[k + 1] = u->nickname;
			params[k + 2] = u->avatar;
			params[k + 3] = u->first_ts;
			params[k + 4] = u->last_ts;
			values_row(&sql, &k, 6, user_casts);
		}
		buf_str(&sql, " ON CONFLICT (user_id) DO UPDATE SET "
		    "unique_id = CASE WHEN EXCLUDED.last_seen >= u.last_seen "
		    "THEN COALESCE(EXCLUDED.unique_id, u.unique_id) ELSE u.unique_id END, "
		    "nickname = CASE WHEN EXCLUDED.last_seen >= u.last_seen "
		    "THEN COALESCE(EXCLUDED.nickname, u.nickname) ELSE u.nickname END, "
		    "avatar_url = CASE WHEN EXCLUDED.last_seen >= u.last_seen "
		    "THEN COALESCE(EXCLUDED.avatar_url, u.avatar_url) ELSE u.avatar_url END, "
		    "pseudonymized_at = CASE WHEN EXCLUDED.last_seen >= u.last_seen "
		    "THEN NULL ELSE u.pseudonymized_at END, "
		    "first_seen = LEAST(u.first_seen, EXCLUDED.first_seen), "
		    "last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen)");
		if (!sql.failed)
			o = run_params(s, sql.p, k - 1, params, "cannot store users");
	}
	if (sql.failed) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		o = FAILED;
	}
	free(sql.p);
	free(params);
	free(users);
	return o;
}

/* COPY of data[0..len) into table. DONE, or RETRY/FAILED with the
 * failed result in *res_out (not cleared) when the server refused it. */
static enum outcome
copy_in(struct store *s, const char *table, const char *data, size_t len, PGresult **res_out)
{
	char sql[256];
	PGresult *res;
	enum outcome o = DONE;

	*res_out = NULL;
	if (s->pg.conn == NULL)
		return RETRY;
	snprintf(sql, sizeof sql, "COPY %s (" EVENT_COLUMNS ") FROM STDIN", table);
	res = PQexec(s->pg.conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
		*res_out = res;
		return tt_pg_transient(&s->pg, res) ? RETRY : FAILED;
	}
	PQclear(res);
	if (!tt_pg_put_copy_data(s->pg.conn, data, len))
		o = RETRY;
	if (PQputCopyEnd(s->pg.conn, o == DONE ? NULL : "client failed") != 1)
		o = RETRY;
	while ((res = PQgetResult(s->pg.conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && *res_out == NULL) {
			*res_out = res;
			continue;
		}
		PQclear(res);
	}
	if (*res_out != NULL)
		return tt_pg_transient(&s->pg, *res_out) ? RETRY : FAILED;
	if (o != DONE || PQstatus(s->pg.conn) != CONNECTION_OK)
		return RETRY;
	return DONE;
}

/* Stores the rows one by one, each under a savepoint: a duplicate is
 * already stored, any other refusal marks the row (it becomes a DLQ
 * record once the rest has committed). */
static enum outcome
store_rows_one_by_one(struct store *s, struct batch *b)
{
	for (size_t i = 0; i < b->count; i++) {
		struct row *row = &b->rows[i];
		PGresult *res;
		enum outcome o;

		if ((o = run(s, "SAVEPOINT one_row", "cannot set a savepoint")) != DONE)
			return o;
		o = copy_in(s, "events", b->copy.p + row->copy_off, row->copy_len, &res);
		if (o == DONE) {
			b->stored++;
		} else if (o == RETRY) {
			return failure(s, res, "connection lost storing a row");
		} else if (strcmp(tt_pg_state(res), "23505") == 0) {
			b->duplicates++;
		} else {
			const char *text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			char err[400];

			snprintf(err, sizeof err, "PostgreSQL refused the event: %s (SQLSTATE %s)",
			    text != NULL ? text : "unknown error", tt_pg_state(res));
			row->error = tt_arena_strdup(&b->arena, err, strlen(err));
		}
		PQclear(res);
		if ((o = run(s, o == DONE ? "RELEASE SAVEPOINT one_row" : "ROLLBACK TO SAVEPOINT one_row",
		    "cannot end a savepoint")) != DONE)
			return o;
	}
	return DONE;
}

/* The events of a batch that holds duplicates: COPY into a staging table,
 * then INSERT ... ON CONFLICT DO NOTHING. */
static enum outcome
store_with_duplicates(struct store *s, struct batch *b, PGresult **res_out)
{
	PGresult *res;
	enum outcome o;

	/* Every time, not once a connection: made after the batch's
	 * savepoint, the table goes with a rollback to it. */
	o = run(s, "CREATE TEMP TABLE IF NOT EXISTS ttlc_stage (LIKE events INCLUDING DEFAULTS) "
	    "ON COMMIT DELETE ROWS", "cannot make the staging table");
	if (o != DONE)
		return o;
	o = copy_in(s, "ttlc_stage", b->copy.p, b->copy.len, res_out);
	if (o != DONE)
		return o;
	res = PQexec(s->pg.conn, "INSERT INTO events SELECT * FROM ttlc_stage ON CONFLICT DO NOTHING");
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		*res_out = res;
		return tt_pg_transient(&s->pg, res) ? RETRY : FAILED;
	}
	{
		uint64_t inserted = strtoull(PQcmdTuples(res), NULL, 10);

		b->stored += inserted;
		b->duplicates += b->count - inserted;
	}
	PQclear(res);
	return run(s, "TRUNCATE ttlc_stage", "cannot empty the staging table");
}

/* The start of every attempt: a clean slate, the partitions, BEGIN, the
 * bookkeeping, and the savepoint the events go back to when refused. */
static enum outcome
begin_batch(struct store *s, struct batch *b)
{
	enum outcome o;

	b->stored = b->duplicates = 0;
	for (size_t i = 0; i < b->count; i++)
		b->rows[i].error = NULL;
	if ((o = ensure_partitions(s, b)) != DONE)
		return o;
	if ((o = run(s, "BEGIN", "cannot begin")) != DONE)
		return o;
	if ((o = bookkeeping(s, b)) != DONE)
		return o;
	return run(s, "SAVEPOINT whole_batch", "cannot set a savepoint");
}

/* The rest of an attempt once the COPY of the whole batch into events has
 * given o, with res its failed result (owned; NULL if none): a refused
 * COPY is redone from the savepoint, through the staging table when it
 * was a duplicate, else row by row; then COMMIT. */
static enum outcome
complete_attempt(struct store *s, struct batch *b, enum outcome o, PGresult *res)
{
	if (o == DONE) {
		b->stored = b->count;
	} else if (o == FAILED) {
		bool duplicate = strcmp(tt_pg_state(res), "23505") == 0;

		PQclear(res);
		res = NULL;
		if ((o = run(s, "ROLLBACK TO SAVEPOINT whole_batch", "cannot roll back")) != DONE)
			return o;
		/* An entry delivered again: skip what is stored already. */
		if (duplicate) {
			o = store_with_duplicates(s, b, &res);
			if (o == FAILED) {
				PQclear(res);
				res = NULL;
				if ((o = run(s, "ROLLBACK TO SAVEPOINT whole_batch", "cannot roll back")) != DONE)
					return o;
				o = store_rows_one_by_one(s, b);
			}
		} else {
			/* Some row is refused: find it, store the others. */
			o = store_rows_one_by_one(s, b);
		}
	}
	if (o == RETRY && res != NULL)
		return failure(s, res, "connection lost storing the batch");
	if (o == RETRY)
		tt_pg_disconnect(&s->pg);
	if (o != DONE)
		return o;
	return run(s, "COMMIT", "cannot commit");
}

/* One attempt at storing the batch in one transaction, synchronously. */
static enum outcome
try_batch(struct store *s, struct batch *b)
{
	PGresult *res = NULL;
	enum outcome o;

	if ((o = begin_batch(s, b)) != DONE)
		return o;
	o = copy_in(s, "events", b->copy.p, b->copy.len, &res);
	return complete_attempt(s, b, o, res);
}

/* Takes an attempt that gave o to its end: retried whole over new
 * connections while the failure passes, rolled back when it does not.
 * True when the batch has committed. */
static bool
settle(struct store *s, struct batch *b, enum outcome o)
{
	bool fatal;

	while (o == RETRY) {
		s->retries++;
		if (!tt_pg_connect(&s->pg, &fatal)) {
			s->status = fatal ? TT_EXIT_CONFIG : tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
			return false;
		}
		o = try_batch(s, b);
	}
	if (o == FAILED) {
		if (s->pg.conn != NULL && PQtransactionStatus(s->pg.conn) != PQTRANS_IDLE)
			tt_pg_exec(&s->pg, "ROLLBACK", NULL);
		s->status = TT_EXIT_FAILURE;
		return false;
	}
	tt_pg_ok(&s->pg);
	return true;
}

/* ---- lines out ------------------------------------------------------ */

/* A committed batch: its lines echoed in order, the rows PostgreSQL
 * refused written as DLQ records; then the batch is emptied. */
static void
echo_batch(struct store *s, struct batch *b)
{
	s->batches++;
	s->stored += b->stored;
	s->duplicates += b->duplicates;
	for (size_t i = 0; i < b->count && s->status == TT_EXIT_OK; i++) {
		const struct row *row = &b->rows[i];

		if (row->error != NULL)
			dead_letter(s, "store_rejected", row->error, row->line, row->line_len, false, row->v, row->lineno);
		else if (!tt_out_line(&s->out, row->line, row->line_len))
			s->status = TT_EXIT_IOERR;
	}
	tt_out_flush(&s->out);
	if (s->dlq != NULL && s->dlq != &s->out)
		tt_out_flush(s->dlq);
	batch_clear(b);
}

/* ---- the batch in flight: sending and landing --------------------- */

#define COPY_AND_COMMIT "COPY events (" EVENT_COLUMNS ") FROM STDIN; COMMIT"

/* Finishes the batch in flight (waiting for its results): echoed if it
 * committed, else taken to its end the synchronous way first. */
static void
land(struct store *s)
{
	struct batch *b = s->flight.b;
	struct tt_pg_copy *c = &s->flight.copy;
	enum outcome o;

	s->flight.b = NULL;
	if (s->status != TT_EXIT_OK) {
		/* Stopping on an error: the server commits or rolls back on
		 * its own; the lines are not echoed, so they come again. */
		PQclear(c->failed);
		tt_pg_disconnect(&s->pg);
		batch_clear(b);
		return;
	}
	tt_pg_copy_wait(&s->pg, c);
	if (c->lost) {
		tt_pg_log_result(TT_LOG_WARN, "connection lost storing the batch", &s->pg, c->failed);
		PQclear(c->failed);
		tt_pg_disconnect(&s->pg);
		o = RETRY;
	} else if (c->failed == NULL && c->ok == 2 && strcmp(c->last_tag, "COMMIT") == 0) {
		b->stored = b->count;
		o = DONE;
	} else if (c->failed != NULL && c->ok == 0) {
		/* The COPY was refused: go on from the savepoint. */
		o = complete_attempt(s, b, tt_pg_transient(&s->pg, c->failed) ? RETRY : FAILED, c->failed);
	} else if (c->failed != NULL) {
		o = failure(s, c->failed, "cannot commit");
	} else {
		tt_log_msg(TT_LOG_ERROR, "COMMIT did not commit", "tag", c->last_tag);
		o = FAILED;
	}
	if (settle(s, b, o))
		echo_batch(s, b);
}

/* Moves the batch in flight along without waiting: hands libpq's pending
 * data to the socket, and lands the batch once its results are in. */
static void
pump(struct store *s)
{
	if (s->flight.b != NULL && tt_pg_copy_poll(&s->pg, &s->flight.copy))
		land(s);
}

/* Starts storing the batch being filled: the batch in flight lands first
 * (its lines are echoed before any of this one's), then this one is sent
 * and the other batch is filled meanwhile. When it cannot be sent, it is
 * stored (or given up) synchronously. */
static void
ship(struct store *s)
{
	struct batch *b = s->fill;
	PGresult *res;
	enum outcome o;

	if (s->flight.b != NULL)
		land(s);
	if (b->count == 0 || s->status != TT_EXIT_OK)
		return;
	if ((o = begin_batch(s, b)) == DONE) {
		if (tt_pg_copy_send(&s->pg, &s->flight.copy, COPY_AND_COMMIT, b->copy.p, b->copy.len, &res)) {
			s->flight.b = b;
			s->fill = b == &s->pair[0] ? &s->pair[1] : &s->pair[0];
			return;
		}
		o = complete_attempt(s, b, tt_pg_transient(&s->pg, res) ? RETRY : FAILED, res);
	}
	if (settle(s, b, o))
		echo_batch(s, b);
}

/* Stores everything read so far, and waits for it. */
static void
store_all(struct store *s)
{
	ship(s);
	if (s->flight.b != NULL)
		land(s);
}

/* tt_lines' hook, before a read that may block. While input keeps coming
 * within --flush-ms of the first line of the batch being filled, it goes
 * on filling; when the input pauses, the batch in flight lands as soon as
 * its results come, and the batch being filled is stored once its first
 * line has waited --flush-ms. */
static bool
flush_hook(void *ctx)
{
	struct store *s = ctx;

	while (s->status == TT_EXIT_OK) {
		struct pollfd p[2] = { { .fd = s->lines.fd, .events = POLLIN }, { .fd = -1 } };
		int timeout = -1;

		pump(s);
		if (s->fill->count > 0) {
			int64_t left = s->fill->started + (int64_t)s->flush_ms - tt_time_mono_ms();

			if (left <= 0) {
				store_all(s);
				break;
			}
			timeout = (int)left;
		} else if (s->flight.b == NULL) {
			break; /* nothing is waiting: the read may block */
		}
		if (s->flight.b != NULL) {
			p[1].fd = PQsocket(s->pg.conn);
			p[1].events = POLLIN | (s->flight.copy.unsent ? POLLOUT : 0);
		}
		if (poll(p, 2, timeout) < 0 && errno == EINTR && tt_stop_requested())
			return true;
		if (p[0].revents != 0)
			return true; /* more input */
	}
	if (s->dlq != NULL)
		tt_out_flush(s->dlq); /* dead letters of lines that never reach a batch */
	return s->status == TT_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, 'b' },
		{ "flush-ms", required_argument, NULL, 'f' },
		{ "dlq", required_argument, NULL, 'd' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct store s;
	uint64_t batch = 1000, max_line = TT_LINES_DEFAULT_MAX;
	const char *dlq_path = NULL;
	enum tt_lines_status st;
	const char *line;
	size_t len;
	char err[512];
	int opt;
	bool fatal, batches_ok;
	struct tt_logrec r;

	tt_log_init("tt-store");
	s.flush_ms = 200;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			if (!tt_parse_u64(optarg, 1, 10000, &batch))
				tt_usage_error(USAGE, "--batch must be from 1 to 10000", optarg);
			break;
		case 'f':
			if (!tt_parse_u64(optarg, 0, 60000, &s.flush_ms))
				tt_usage_error(USAGE, "--flush-ms must be from 0 to 60000", optarg);
			break;
		case 'd':
			dlq_path = optarg;
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
	if (optind != argc)
		tt_usage_error(USAGE, "no operands: events come on standard input", NULL);
	if (!tt_pg_init(&s.pg, NULL, "tt-store", err, sizeof err)) {
		tt_log_msg(TT_LOG_ERROR, "bad PostgreSQL configuration", "error", err);
		return TT_EXIT_CONFIG;
	}
	tt_out_stdout(&s.out);
	if (dlq_path != NULL && strcmp(dlq_path, "-") == 0) {
		s.dlq = &s.out;
	} else if (dlq_path != NULL) {
		if (!tt_out_open(&s.dlq_out, dlq_path)) {
			if (tt_log_begin(&r, TT_LOG_ERROR, "cannot open DLQ file")) {
				tt_log_str(&r, "file", dlq_path);
				tt_log_str(&r, "error", strerror(errno));
				tt_log_end(&r);
			}
			tt_pg_free(&s.pg);
			return TT_EXIT_IOERR;
		}
		s.dlq = &s.dlq_out;
	}
	s.cap = (size_t)batch;
	batches_ok = batch_init(&s.pair[0], s.cap, (size_t)max_line);
	batches_ok = batch_init(&s.pair[1], s.cap, (size_t)max_line) && batches_ok;
	s.fill = &s.pair[0];
	s.parser = tt_json_parser_new();
	s.writer = tt_json_writer_new();
	s.schema = tt_schema_compile(tt_schema_unified_event_v1, tt_schema_unified_event_v1_len, err, sizeof err);
	tt_arena_init(&s.scratch, 8 * max_line + 65536);
	tt_stop_on_signals();
	if (!batches_ok || s.parser == NULL || s.writer == NULL || s.schema == NULL) {
		tt_log_msg(TT_LOG_ERROR, "cannot start", "error", s.schema == NULL ? err : "out of memory");
		s.status = TT_EXIT_FAILURE;
	} else if (!tt_pg_connect(&s.pg, &fatal)) {
		s.status = fatal ? TT_EXIT_CONFIG : tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
	} else if (!tt_lines_open(&s.lines, "-", (size_t)max_line)) {
		s.status = TT_EXIT_FAILURE;
	} else {
		s.lines.flush = flush_hook;
		s.lines.flush_ctx = &s;
		while (s.status == TT_EXIT_OK &&
		    ((st = tt_lines_next(&s.lines, &line, &len)) == TT_LINES_OK || st == TT_LINES_TOO_LONG)) {
			s.in++;
			if (!take_line(&s, line, len, st == TT_LINES_TOO_LONG, s.lines.lineno)) {
				/* The batch is full (or holds too many sessions). */
				ship(&s);
				if (s.status == TT_EXIT_OK && !take_line(&s, line, len, false, s.lines.lineno)) {
					tt_log_msg(TT_LOG_ERROR, "cannot take a line into an empty batch", NULL, NULL);
					s.status = TT_EXIT_FAILURE;
				}
			}
			if (s.fill->count == s.cap)
				ship(&s);
			else if (s.in % PUMP_EVERY == 0)
				pump(&s);
		}
		store_all(&s);
		tt_lines_close(&s.lines);
	}
	if (s.dlq == &s.dlq_out && !tt_out_close(&s.dlq_out) && s.status == TT_EXIT_OK)
		s.status = TT_EXIT_IOERR;
	if (!tt_out_close(&s.out) && s.status == TT_EXIT_OK)
		s.status = TT_EXIT_IOERR;
	if (tt_log_begin(&r, s.status == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_uint(&r, "in", s.in);
		tt_log_uint(&r, "stored", s.stored);
		tt_log_uint(&r, "duplicates", s.duplicates);
		tt_log_uint(&r, "dlq", s.dead);
		tt_log_uint(&r, "batches", s.batches);
		tt_log_uint(&r, "retries", s.retries);
		tt_log_int(&r, "status", s.status);
		tt_log_end(&r);
	}
	tt_pg_free(&s.pg);
	tt_json_parser_free(s.parser);
	tt_json_writer_free(s.writer);
	tt_schema_free(s.schema);
	batch_free(&s.pair[0]);
	batch_free(&s.pair[1]);
	tt_arena_free(&s.scratch);
	return s.status;
}
