/* tt-store - UnifiedEvent v1 lines in, PostgreSQL rows out, each line
 * echoed once its transaction has committed.
 *
 * An echoing sink: lines are stored in batches, one transaction each
 * (streams, sessions and users bookkeeping, then the events by COPY); a
 * batch's lines, with their _ack receipts, go to standard output only after
 * COMMIT, so `... | tt-store | tt-xack ...` acknowledges an entry only once
 * its event is stored. A line that cannot be stored becomes a dlq.v1
 * record; the rest of its batch commits. See tt-store(1).
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

/* A growable byte buffer (the COPY data, the bookkeeping SQL). */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
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
 * line then goes to the DLQ rather than being cut short). */
static void
copy_field(struct buf *b, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		const char *esc = NULL;

		switch (s[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\0': esc = "\\000"; break;
		default: continue;
		}
		buf_add(b, s + run, i - run);
		buf_str(b, esc);
		run = i + 1;
	}
	buf_add(b, s + run, n - run);
}

struct row {
	const char *line;         /* the line as it came (echoed, or the DLQ payload) */
	size_t line_len;
	const struct tt_json *v;  /* parsed */
	size_t copy_off, copy_len; /* its COPY line in the batch's copy buffer */
	int64_t day;              /* of its timestamp, days since 1970-01-01 UTC */
	const char *ts;           /* the event's timestamp */
	const char *user_id, *unique_id, *nickname, *avatar; /* NULL: none */
	uint64_t lineno;
	const char *error;        /* set when PostgreSQL refused it */
};

struct session {
	const char *id, *stream_id, *source;
	const char *first_ts, *last_ts, *ended_at, *end_reason;
	int64_t first_ms, last_ms;
};

struct store {
	struct tt_pg pg;
	struct tt_out out, dlq_out, *dlq;
	struct tt_lines lines;
	struct tt_json_parser *parser;
	struct tt_json_writer *writer;
	struct tt_schema *schema;
	struct tt_arena arena;    /* the batch's lines and trees */
	struct tt_arena scratch;  /* one DLQ record at a time */
	struct row *rows;
	size_t count, cap;
	struct session sessions[MAX_SESSIONS];
	size_t nsessions;
	struct buf copy;          /* the batch's COPY data */
	int64_t batch_started;    /* monotonic ms of the batch's first line */
	uint64_t flush_ms;
	int64_t days[MAX_DAYS];   /* partitions known to exist */
	size_t ndays;
	unsigned long stage_connects; /* pg.connects when the staging table was
	                               * made (it lives as long as its session) */
	uint64_t in, stored, duplicates, dead, batches, retries;
	int status;
};

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

/* Notes the row in its session's aggregate; false when the batch already
 * holds MAX_SESSIONS other sessions. */
static bool
track_session(struct store *s, const struct tt_json *v, const struct row *row, int64_t ms)
{
	struct tt_arena *a = &s->arena;
	const struct tt_json *id = tt_json_get(v, "sessionId");
	const struct tt_json *type = tt_json_get(v, "eventType");
	struct session *ss = NULL;

	for (size_t i = 0; i < s->nsessions; i++)
		if (strlen(s->sessions[i].id) == id->len && memcmp(s->sessions[i].id, id->str, id->len) == 0)
			ss = &s->sessions[i];
	if (ss == NULL) {
		if (s->nsessions == MAX_SESSIONS)
			return false;
		ss = &s->sessions[s->nsessions++];
		memset(ss, 0, sizeof *ss);
		ss->id = tt_arena_strdup(a, id->str, id->len);
		ss->stream_id = str_of(a, v, "streamId");
		ss->source = str_of(a, v, "source");
		ss->first_ts = ss->last_ts = row->ts;
		ss->first_ms = ss->last_ms = ms;
	}
	if (ms < ss->first_ms) {
		ss->first_ms = ms;
		ss->first_ts = row->ts;
	}
	if (ms > ss->last_ms) {
		ss->last_ms = ms;
		ss->last_ts = row->ts;
	}
	if (tt_json_str_eq(type, "DISCONNECTED") || tt_json_str_eq(type, "STREAM_END")) {
		const struct tt_json *reason = tt_json_path(v, "payload.reason");

		ss->ended_at = row->ts;
		ss->end_reason = reason != NULL && reason->kind == TT_JSON_STRING
		    ? tt_arena_strdup(a, reason->str, reason->len)
		    : tt_arena_strdup(a, type->str, type->len);
	}
	return true;
}

/* The event as stored: the line's object without its '_' members (they
 * are unlinked for the writing only: a DLQ record still copies them). */
static bool
event_text(struct store *s, struct tt_json *v, const unsigned char **text, size_t *len)
{
	struct tt_json **links[16], *removed[16], *last = v->last;
	size_t n = 0, count = v->count;
	bool ok, overflow = false;

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
	ok = !overflow && tt_json_write(s->writer, v, text, len);
	while (n > 0) {
		n--;
		*links[n] = removed[n];
	}
	v->last = last;
	v->count = count;
	return ok;
}

/* Adds one line to the batch, or dead-letters it. False when the batch
 * must be flushed first (too many sessions); the line is then not taken. */
static bool
take_line(struct store *s, const char *line, size_t len, bool too_long, uint64_t lineno)
{
	struct tt_arena *a = &s->arena;
	size_t mark_copy = s->copy.len;
	struct tt_json *v = NULL;
	struct tt_schema_error serr;
	struct row *row;
	const struct tt_json *user, *seq;
	const unsigned char *text;
	size_t tlen;
	char err[640], num[TT_JSON_INT_LEN];
	int64_t ms, seq_no;
	const char *copy;

	if (too_long) {
		dead_letter(s, "line_too_long", "line longer than --max-line", line, len, true, NULL, lineno);
		return true;
	}
	copy = tt_arena_strdup(a, line, len);
	if (copy == NULL || tt_json_parse(s->parser, a, copy, len, &v, err, sizeof err) != TT_JSON_OK) {
		dead_letter(s, copy == NULL ? "too_large" : "invalid_json", copy == NULL ? "line too large" : err,
		    line, len, false, NULL, lineno);
		return true;
	}
	if (v->kind != TT_JSON_OBJECT) {
		dead_letter(s, "not_object", "the line is not a JSON object", line, len, false, NULL, lineno);
		return true;
	}
	if (!tt_schema_validate(s->schema, v, &serr)) {
		snprintf(err, sizeof err, "%s: %s (%s)", serr.path[0] ? serr.path : "/", serr.message, serr.keyword);
		dead_letter(s, "schema_violation", err, line, len, false, v, lineno);
		return true;
	}
	if (s->count == s->cap)
		return false;
	row = &s->rows[s->count];
	memset(row, 0, sizeof *row);
	row->line = copy;
	row->line_len = len;
	row->v = v;
	row->lineno = lineno;
	row->ts = str_of(a, v, "timestamp");
	if (row->ts == NULL || !tt_time_parse_iso(row->ts, strlen(row->ts), &ms)) {
		dead_letter(s, "bad_timestamp", "timestamp is not a date-time", line, len, false, v, lineno);
		return true;
	}
	row->day = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	if (!track_session(s, v, row, ms))
		return false;
	user = tt_json_get(v, "user");
	if (user != NULL && user->kind == TT_JSON_OBJECT) {
		row->user_id = str_of(a, user, "userId");
		row->unique_id = str_of(a, user, "uniqueId");
		row->nickname = str_of(a, user, "nickname");
		row->avatar = str_of(a, user, "avatarUrl");
	}
	/* event_id ts ingested_at event_type source stream_id session_id
	 * seq_no user_id event */
	row->copy_off = mark_copy;
	{
		static const char *const cols[] = { "eventId", "timestamp", "ingestedAt", "eventType", "source",
			"streamId", "sessionId" };

		for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
			const struct tt_json *m = tt_json_get(v, cols[i]);

			copy_field(&s->copy, m->str, m->len);
			buf_add(&s->copy, "\t", 1);
		}
	}
	seq = tt_json_get(v, "seqNo");
	if (!tt_json_int(seq, &seq_no))
		seq_no = 0;
	buf_add(&s->copy, num, tt_json_format_int(seq_no, num));
	buf_add(&s->copy, "\t", 1);
	if (row->user_id != NULL)
		copy_field(&s->copy, row->user_id, strlen(row->user_id));
	else
		buf_str(&s->copy, "\\N");
	buf_add(&s->copy, "\t", 1);
	if (!event_text(s, v, &text, &tlen)) {
		s->copy.len = mark_copy;
		dead_letter(s, "too_large", "cannot write the event (out of memory, or more than 16 members named _...)",
		    line, len, false, v, lineno);
		return true;
	}
	copy_field(&s->copy, (const char *)text, tlen);
	buf_add(&s->copy, "\n", 1);
	row->copy_len = s->copy.len - mark_copy;
	if (a->failed || s->copy.failed) {
		s->status = TT_EXIT_FAILURE;
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		return true;
	}
	if (s->count == 0)
		s->batch_started = tt_time_mono_ms();
	s->count++;
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
ensure_partitions(struct store *s)
{
	for (size_t i = 0; i < s->count; i++) {
		int64_t day = s->rows[i].day;
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
	char ph[32];

	buf_str(sql, *k == 1 ? "(" : ",(");
	for (int i = 0; i < n; i++) {
		snprintf(ph, sizeof ph, "%s$%d%s", i ? "," : "", (*k)++, casts[i]);
		buf_str(sql, ph);
	}
	buf_str(sql, ")");
}

/* Streams, sessions and users of the batch: inserted or brought up to
 * date, in the batch's transaction. */
static enum outcome
bookkeeping(struct store *s)
{
	static const char *const stream_casts[] = { "", "::timestamptz", "::timestamptz", "::uuid" };
	static const char *const session_casts[] = { "::uuid", "", "", "::timestamptz", "::timestamptz",
		"::timestamptz", "" };
	static const char *const user_casts[] = { "", "", "", "", "::timestamptz" };
	struct buf sql = { 0 };
	const char **params = calloc(5 * s->count + 7 * MAX_SESSIONS + 1, sizeof *params);
	enum outcome o = DONE;
	int k;

	if (params == NULL)
		return FAILED;
	k = 1;
	buf_str(&sql, "INSERT INTO streams AS s (stream_id, first_seen, last_seen, last_session_id) "
	    "SELECT v.id, min(v.f), max(v.l), (array_agg(v.sid ORDER BY v.l DESC))[1] FROM (VALUES ");
	for (size_t i = 0; i < s->nsessions; i++) {
		const struct session *ss = &s->sessions[i];

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
		for (size_t i = 0; i < s->nsessions; i++) {
			const struct session *ss = &s->sessions[i];

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

	if (o == DONE) {
		sql.len = 0;
		k = 1;
		buf_str(&sql, "INSERT INTO users AS u (user_id, unique_id, nickname, avatar_url, first_seen, last_seen) "
		    "SELECT v.id, (array_agg(v.uid ORDER BY v.ts DESC))[1], (array_agg(v.nick ORDER BY v.ts DESC))[1], "
		    "(array_agg(v.av ORDER BY v.ts DESC))[1], min(v.ts), max(v.ts) FROM (VALUES ");
		for (size_t i = 0; i < s->count; i++) {
			const struct row *row = &s->rows[i];

			if (row->user_id == NULL)
				continue;
			params[k - 1] = row->user_id;
			params[k] = row->unique_id;
			params[k + 1] = row->nickname;
			params[k + 2] = row->avatar;
			params[k + 3] = row->ts;
			values_row(&sql, &k, 5, user_casts);
		}
		buf_str(&sql, ") AS v(id, uid, nick, av, ts) GROUP BY v.id ON CONFLICT (user_id) DO UPDATE SET "
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
		if (k > 1 && !sql.failed)
			o = run_params(s, sql.p, k - 1, params, "cannot store users");
	}
	if (sql.failed) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		o = FAILED;
	}
	free(sql.p);
	free(params);
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
	snprintf(sql, sizeof sql, "COPY %s (event_id, ts, ingested_at, event_type, source, stream_id, "
	    "session_id, seq_no, user_id, event) FROM STDIN", table);
	res = PQexec(s->pg.conn, sql);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
		*res_out = res;
		return tt_pg_transient(&s->pg, res) ? RETRY : FAILED;
	}
	PQclear(res);
	for (size_t off = 0; off < len && o == DONE;) {
		size_t n = len - off < (1u << 20) ? len - off : (1u << 20);

		if (PQputCopyData(s->pg.conn, data + off, (int)n) != 1)
			o = RETRY;
		off += n;
	}
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
store_rows_one_by_one(struct store *s)
{
	for (size_t i = 0; i < s->count; i++) {
		struct row *row = &s->rows[i];
		PGresult *res;
		enum outcome o;

		if ((o = run(s, "SAVEPOINT one_row", "cannot set a savepoint")) != DONE)
			return o;
		o = copy_in(s, "events", s->copy.p + row->copy_off, row->copy_len, &res);
		if (o == DONE) {
			s->stored++;
		} else if (o == RETRY) {
			return failure(s, res, "connection lost storing a row");
		} else if (strcmp(tt_pg_state(res), "23505") == 0) {
			s->duplicates++;
		} else {
			const char *text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			char err[400];

			snprintf(err, sizeof err, "PostgreSQL refused the event: %s (SQLSTATE %s)",
			    text != NULL ? text : "unknown error", tt_pg_state(res));
			row->error = tt_arena_strdup(&s->arena, err, strlen(err));
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
store_with_duplicates(struct store *s, PGresult **res_out)
{
	PGresult *res;
	enum outcome o;

	if (s->stage_connects != s->pg.connects) {
		o = run(s, "CREATE TEMP TABLE IF NOT EXISTS ttlc_stage (LIKE events INCLUDING DEFAULTS) "
		    "ON COMMIT DELETE ROWS", "cannot make the staging table");
		if (o != DONE)
			return o;
		s->stage_connects = s->pg.connects;
	}
	o = copy_in(s, "ttlc_stage", s->copy.p, s->copy.len, res_out);
	if (o != DONE)
		return o;
	res = PQexec(s->pg.conn, "INSERT INTO events SELECT * FROM ttlc_stage ON CONFLICT DO NOTHING");
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		*res_out = res;
		return tt_pg_transient(&s->pg, res) ? RETRY : FAILED;
	}
	{
		uint64_t inserted = strtoull(PQcmdTuples(res), NULL, 10);

		s->stored += inserted;
		s->duplicates += s->count - inserted;
	}
	PQclear(res);
	return run(s, "TRUNCATE ttlc_stage", "cannot empty the staging table");
}

/* One attempt at storing the batch in one transaction. */
static enum outcome
try_batch(struct store *s)
{
	uint64_t stored = s->stored, duplicates = s->duplicates;
	PGresult *res = NULL;
	enum outcome o;

	for (size_t i = 0; i < s->count; i++)
		s->rows[i].error = NULL;
	if ((o = ensure_partitions(s)) != DONE)
		return o;
	if ((o = run(s, "BEGIN", "cannot begin")) != DONE)
		return o;
	if ((o = bookkeeping(s)) != DONE)
		return o;
	if ((o = run(s, "SAVEPOINT whole_batch", "cannot set a savepoint")) != DONE)
		return o;
	/* Nearly always: one COPY straight into events. */
	o = copy_in(s, "events", s->copy.p, s->copy.len, &res);
	if (o == DONE) {
		s->stored += s->count;
	} else if (o == FAILED) {
		bool duplicate = strcmp(tt_pg_state(res), "23505") == 0;

		PQclear(res);
		res = NULL;
		if ((o = run(s, "ROLLBACK TO SAVEPOINT whole_batch", "cannot roll back")) != DONE)
			return o;
		/* An entry delivered again: skip what is stored already. */
		if (duplicate) {
			o = store_with_duplicates(s, &res);
			if (o == FAILED) {
				PQclear(res);
				res = NULL;
				if ((o = run(s, "ROLLBACK TO SAVEPOINT whole_batch", "cannot roll back")) != DONE)
					return o;
				o = store_rows_one_by_one(s);
			}
		} else {
			/* Some row is refused: find it, store the others. */
			o = store_rows_one_by_one(s);
		}
	}
	if (o == RETRY && res != NULL)
		o = failure(s, res, "connection lost storing the batch");
	else if (o == RETRY)
		tt_pg_disconnect(&s->pg);
	if (o != DONE)
		goto undo;
	if ((o = run(s, "COMMIT", "cannot commit")) != DONE)
		goto undo;
	tt_pg_ok(&s->pg);
	return DONE;
undo:
	s->stored = stored;
	s->duplicates = duplicates;
	return o;
}

/* Stores the batch (retrying it whole over new connections), then echoes
 * its lines and writes the DLQ records of the rows PostgreSQL refused. */
static void
flush_batch(struct store *s)
{
	enum outcome o;

	if (s->count == 0 || s->status != TT_EXIT_OK)
		return;
	while ((o = try_batch(s)) == RETRY) {
		bool fatal;

		s->retries++;
		if (!tt_pg_connect(&s->pg, &fatal)) {
			s->status = fatal ? TT_EXIT_CONFIG : tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
			return;
		}
	}
	if (o == FAILED) {
		if (s->pg.conn != NULL && PQtransactionStatus(s->pg.conn) != PQTRANS_IDLE)
			tt_pg_exec(&s->pg, "ROLLBACK", NULL);
		s->status = TT_EXIT_FAILURE;
		return;
	}
	s->batches++;
	for (size_t i = 0; i < s->count && s->status == TT_EXIT_OK; i++) {
		const struct row *row = &s->rows[i];

		if (row->error != NULL)
			dead_letter(s, "store_rejected", row->error, row->line, row->line_len, false, row->v, row->lineno);
		else if (!tt_out_line(&s->out, row->line, row->line_len))
			s->status = TT_EXIT_IOERR;
	}
	tt_out_flush(&s->out);
	if (s->dlq != NULL && s->dlq != &s->out)
		tt_out_flush(s->dlq);
	s->count = 0;
	s->nsessions = 0;
	s->copy.len = 0;
	tt_arena_reset(&s->arena);
}

/* tt_lines' hook, before a read that may block: keep filling the batch
 * while lines keep coming within --flush-ms of its first, else store it. */
static void
flush_hook(void *ctx)
{
	struct store *s = ctx;
	int64_t waited = tt_time_mono_ms() - s->batch_started;

	if (s->count > 0 && waited < (int64_t)s->flush_ms) {
		struct pollfd p = { .fd = s->lines.fd, .events = POLLIN };

		if (poll(&p, 1, (int)((int64_t)s->flush_ms - waited)) > 0)
			return;
	}
	flush_batch(s);
	if (s->dlq != NULL)
		tt_out_flush(s->dlq); /* dead letters of lines that never reach a batch */
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
	bool fatal;
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
	s.cap = batch;
	s.rows = calloc(batch, sizeof *s.rows);
	s.parser = tt_json_parser_new();
	s.writer = tt_json_writer_new();
	s.schema = tt_schema_compile(tt_schema_unified_event_v1, tt_schema_unified_event_v1_len, err, sizeof err);
	tt_arena_init(&s.arena, (size_t)batch * (4 * max_line + 65536));
	tt_arena_init(&s.scratch, 8 * max_line + 65536);
	tt_stop_on_signals();
	if (s.rows == NULL || s.parser == NULL || s.writer == NULL || s.schema == NULL) {
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
				flush_batch(&s);
				if (s.status == TT_EXIT_OK && !take_line(&s, line, len, false, s.lines.lineno)) {
					tt_log_msg(TT_LOG_ERROR, "cannot take a line into an empty batch", NULL, NULL);
					s.status = TT_EXIT_FAILURE;
				}
			}
			if (s.count == s.cap)
				flush_batch(&s);
		}
		flush_batch(&s);
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
	tt_arena_free(&s.arena);
	tt_arena_free(&s.scratch);
	free(s.rows);
	free(s.copy.p);
	return s.status;
}
