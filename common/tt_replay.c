/* tt_replay.c - see tt_replay.h. */
#include "tt_replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tt_config.h"
#include "tt_exit.h"
#include "tt_ingest.h"
#include "tt_json.h"
#include "tt_log.h"
#include "tt_pg.h"
#include "tt_time.h"

/* Rows per page: enough to amortise the round trip, few enough that a
 * paced replay does not hold much in memory. */
#define PAGE_ROWS "500"

/* The lifecycle frames of the old session are not replayed: the replay
 * session opens and closes itself. */
#define SELECT_PAGE \
	"SELECT seq_no, event_id, event->>'timestamp', event->'raw'->>'type', event->'raw'->'data' " \
	"FROM events WHERE session_id = $1::uuid AND event_type NOT IN ('CONNECTED', 'DISCONNECTED') " \
	"AND (seq_no, event_id) > ($2::bigint, $3) ORDER BY seq_no, event_id LIMIT " PAGE_ROWS

#define COUNT_EVENTS \
	"SELECT count(*) FROM events WHERE session_id = $1::uuid " \
	"AND event_type NOT IN ('CONNECTED', 'DISCONNECTED')"

struct replay {
	const struct tt_replay_opts *o;
	struct tt_pg pg;
	struct tt_ingest s;
	struct tt_json_parser *parser;
	struct tt_arena arena;      /* one frame's data */
	int64_t first_ms;           /* original time of the first frame */
	int64_t start_mono;         /* when it was written */
	bool started;
	uint64_t total;             /* frames to play (progress only) */
	uint64_t played, unreadable;
	int64_t last_progress;
};

/* Runs a query (tt_pg_query: reconnecting while the failure passes).
 * Returns the result or NULL with *rc set to the exit status (0 for a
 * stop signal). */
static PGresult *
query(struct replay *r, const char *sql, int n, const char *const *params, const char *what, int *rc)
{
	PGresult *res;

	switch (tt_pg_query(&r->pg, sql, n, params, what, NULL, NULL, &res)) {
	case TT_PG_OK:
		return res;
	case TT_PG_REFUSED:
		tt_pg_log_result(TT_LOG_ERROR, what, &r->pg, res);
		PQclear(res);
		*rc = TT_EXIT_FAILURE;
		break;
	case TT_PG_STOPPED:
		*rc = TT_EXIT_OK;
		break;
	case TT_PG_UNAVAILABLE:
		*rc = TT_EXIT_UNAVAILABLE;
		break;
	case TT_PG_FATAL:
		*rc = TT_EXIT_CONFIG;
		break;
	}
	return NULL;
}

/* The old session's stream, and the new session recorded as its replay.
 * False when the replay cannot start (*rc: the exit status; 0 when a stop
 * signal came first): then no frame may be written. */
static bool
open_session(struct replay *r, char *stream, size_t streamsz, int *rc)
{
	const char *params[3] = { r->o->session_id, NULL, NULL };
	PGresult *res;

	res = query(r, "SELECT stream_id FROM sessions WHERE session_id = $1::uuid", 1, params,
	    "cannot look up the session", rc);
	if (res == NULL)
		return false;
	if (PQntuples(res) == 0) {
		PQclear(res);
		tt_log_msg(TT_LOG_ERROR, "no such stored session", "sessionId", r->o->session_id);
		*rc = TT_EXIT_NOINPUT;
		return false;
	}
	snprintf(stream, streamsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (r->o->progress) {
		res = query(r, COUNT_EVENTS, 1, params, "cannot count the session's events", rc);
		if (res == NULL)
			return false;
		r->total = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	/* The new sessionId is made here (tt_ingest_begin would make it only
	 * with the CONNECTED frame), so that the row exists before any
	 * frame of the replay can reach tt-store. */
	if (!tt_uuid_v4(r->s.session_id)) {
		tt_log_msg(TT_LOG_ERROR, "no randomness for a session id", NULL, NULL);
		*rc = TT_EXIT_FAILURE;
		return false;
	}
	params[0] = r->s.session_id;
	params[1] = stream;
	params[2] = r->o->session_id;
	res = query(r, "INSERT INTO sessions (session_id, stream_id, source, started_at, last_event_at, replay_of) "
	    "VALUES ($1::uuid, $2, 'replay', now(), now(), $3::uuid) "
	    /* a retry after a commit whose reply was lost */
	    "ON CONFLICT (session_id) DO NOTHING", 3, params,
	    "cannot record the replay session", rc);
	if (res == NULL)
		return false;
	PQclear(res);
	return true;
}

/* Waits until the frame stamped ts_ms is due at the chosen speed. */
static void
pace(struct replay *r, const char *timestamp)
{
	int64_t ts_ms, due_mono;
	struct timespec due;

	if (r->o->speed <= 0 || !tt_time_parse_iso(timestamp, strlen(timestamp), &ts_ms))
		return;
	if (!r->started) {
		r->started = true;
		r->first_ms = ts_ms;
		r->start_mono = tt_time_mono_ms();
		return;
	}
	if (ts_ms <= r->first_ms)
		return;
	due_mono = r->start_mono + (int64_t)((double)(ts_ms - r->first_ms) / r->o->speed);
	if (due_mono <= tt_time_mono_ms())
		return;
	tt_out_flush(r->s.out);
	due.tv_sec = due_mono / 1000;
	due.tv_nsec = (long)(due_mono % 1000) * 1000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR && !tt_stop_requested())
		;
}

/* "replay 1200/5000 (24 %)" over itself on a terminal, at most 5 times
 * a second, and once more at the end. */
static void
progress(struct replay *r, bool last)
{
	int64_t now = tt_time_mono_ms();

	if (!r->o->progress || (!last && now - r->last_progress < 200))
		return;
	r->last_progress = now;
	fprintf(stderr, "\rtt-ingest: replay %" PRIu64 "/%" PRIu64 " (%" PRIu64 " %%)%s", r->played, r->total,
	    r->total > 0 ? r->played * 100 / r->total : 100, last ? "\n" : "");
	fflush(stderr);
}

/* Writes one stored event as a frame of the replay session. False when
 * the output failed. */
static bool
play_row(struct replay *r, PGresult *res, int i)
{
	const char *timestamp = PQgetvalue(res, i, 2);
	const char *type = PQgetvalue(res, i, 3);
	const char *data = PQgetvalue(res, i, 4);
	struct tt_json *v = NULL;
	char err[256];
	bool ok;

	tt_arena_reset(&r->arena);
	if (PQgetisnull(res, i, 3) || PQgetisnull(res, i, 4) ||
	    tt_json_parse(r->parser, &r->arena, data, strlen(data), &v, err, sizeof err) != TT_JSON_OK) {
		/* tt-store stores valid UnifiedEvents only, so this is a row
		 * written by something else: say which, and go on. */
		struct tt_logrec rec;

		if (tt_log_begin(&rec, TT_LOG_WARN, "stored event without a usable raw frame, skipped")) {
			tt_log_str(&rec, "eventId", PQgetvalue(res, i, 1));
			tt_log_end(&rec);
		}
		r->unreadable++;
		return true;
	}
	pace(r, timestamp);
	ok = tt_ingest_emit(&r->s, type, v, r->o->retime || PQgetisnull(res, i, 2) ? NULL : timestamp);
	r->played++;
	progress(r, false);
	return ok;
}

/* Plays every page. Returns 0 or an exit status; *why says how it ended. */
static int
play(struct replay *r, const char **why)
{
	char seq[24] = "-1", event_id[65] = "";
	const char *params[3] = { r->o->session_id, seq, event_id };
	int rc = TT_EXIT_OK;

	for (;;) {
		PGresult *res = query(r, SELECT_PAGE, 3, params, "cannot read the session's events", &rc);
		int n;

		if (res == NULL) {
			*why = tt_stop_requested() ? "stopped" : "error";
			return rc;
		}
		n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			if (tt_stop_requested()) {
				PQclear(res);
				*why = "stopped";
				return TT_EXIT_OK;
			}
			if (!play_row(r, res, i)) {
				PQclear(res);
				*why = "error";
				return TT_EXIT_IOERR;
			}
		}
		if (n > 0) {
			snprintf(seq, sizeof seq, "%s", PQgetvalue(res, n - 1, 0));
			snprintf(event_id, sizeof event_id, "%s", PQgetvalue(res, n - 1, 1));
		}
		PQclear(res);
		if (n == 0) {
			*why = "end_of_session";
			return TT_EXIT_OK;
		}
	}
}

int
tt_replay_run(const struct tt_replay_opts *o, struct tt_out *out)
{
	struct replay r = { .o = o };
	char stream[256], err[256], detail[64], session[TT_UUID_LEN];
	const char *why = "error";
	bool ok;
	struct tt_logrec rec;
	int rc = TT_EXIT_OK;

	if (!tt_pg_init(&r.pg, o->conninfo, "tt-ingest", err, sizeof err)) {
		tt_log_msg(TT_LOG_ERROR, err, NULL, NULL);
		tt_pg_free(&r.pg);
		return TT_EXIT_CONFIG;
	}
	ok = tt_ingest_init(&r.s, out, "replay", "replay");
	r.parser = tt_json_parser_new();
	tt_arena_init(&r.arena, 64u << 20);
	if (!ok || r.parser == NULL) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		rc = TT_EXIT_FAILURE;
		goto done;
	}
	if (!open_session(&r, stream, sizeof stream, &rc)) {
		why = tt_stop_requested() ? "stopped" : "error";
		goto done;
	}
	snprintf(detail, sizeof detail, "replay of %s", o->session_id);
	memcpy(session, r.s.session_id, sizeof session);
	if (!tt_ingest_begin(&r.s, stream, session, detail)) {
		rc = TT_EXIT_IOERR;
		goto done;
	}
	rc = play(&r, &why);
	progress(&r, true);
	if (rc != TT_EXIT_IOERR && !tt_ingest_end(&r.s, why))
		rc = TT_EXIT_IOERR;
done:
	if (tt_log_begin(&rec, rc == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_str(&rec, "provider", "replay");
		tt_log_str(&rec, "replayOf", o->session_id);
		tt_log_str(&rec, "sessionId", r.s.session_id);
		tt_log_uint(&rec, "frames", r.s.frames);
		tt_log_uint(&rec, "replayed", r.played);
		tt_log_uint(&rec, "unreadableSkipped", r.unreadable);
		tt_log_str(&rec, "reason", why);
		tt_log_int(&rec, "status", rc);
		tt_log_end(&rec);
	}
	tt_ingest_free(&r.s);
	tt_arena_free(&r.arena);
	tt_json_parser_free(r.parser);
	tt_pg_free(&r.pg);
	return rc;
}
