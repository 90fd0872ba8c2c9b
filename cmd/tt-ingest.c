/* tt-ingest - TikTok LIVE frames in, raw.v1 NDJSON out.
 *
 * A source. Each provider turns one kind of input into sessions of raw.v1
 * frames framed by tt_ingest (CONNECTED first, DISCONNECTED last). This
 * release has the mock provider, which plays a fixture file so that the
 * whole pipeline runs without a TikTok account, and the replay provider
 * (tt_replay), which plays a session stored by tt-store again. See
 * tt-ingest(1).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tt_config.h"
#include "tt_exit.h"
#include "tt_fileplay.h"
#include "tt_ingest.h"
#include "tt_lines.h"
#include "tt_live.h"
#include "tt_log.h"
#include "tt_out.h"
#include "tt_replay.h"
#include "tt_time.h"

#define USAGE \
	"usage: tt-ingest [--provider NAME] [--fixture FILE] [--keep-session] [--stream-id ID]\n" \
	"                 [--rate N] [--loop] [--limit N] [--retime]\n" \
	"       tt-ingest --replay-session ID [--speed N|max] [--retime]\n" \
	"       tt-ingest --provider direct|euler [--unique-id ID]... [--room-id ID]...\n" \
	"                 [--targets FILE] [--wait-live] [--record FILE] [--silence-timeout S]\n" \
	"                 [--euler-json] [--time-scale X]\n" \
	"       tt-ingest --provider file --frames FILE [--stream-id ID]\n" \
	"       tt-ingest --help\n" \
	"Writes raw.v1 frames of TikTok LIVE sessions on standard output.\n" \
	"  --provider NAME  mock, replay, direct, euler or file (default: INGEST_PROVIDER,\n" \
	"                   else mock)\n" \
	"  --fixture FILE   mock: frames to play (default: INGEST_FIXTURE, else\n" \
	"                   test/fixtures/raw-frames.ndjson, else the installed one)\n" \
	"  --keep-session   mock: keep the fixture's sessionId\n" \
	"  --stream-id ID   mock, file: use ID as streamId\n" \
	"  --rate N         mock: at most N frames per second\n" \
	"  --loop           mock: play the fixture again and again until stopped\n" \
	"  --limit N        mock: stop after N fixture frames\n" \
	"  --retime         stamp timestamp with the current time\n" \
	"  --replay-session ID  replay: play stored session ID again (DATABASE_URL)\n" \
	"                   as a new session with source \"replay\"\n" \
	"  --speed N|max    replay: N times the original timing (default 1), max: no waits\n" \
	"  --unique-id ID   direct, euler: a creator's @handle (repeatable; default:\n" \
	"                   TIKTOK_UNIQUE_ID, comma-separated)\n" \
	"  --room-id ID     direct: a room id, no page lookup (repeatable)\n" \
	"  --targets FILE   direct, euler: handles (or room:ID) one per line, # comments\n" \
	"  --wait-live      offline or ended: check again every 60 s until live\n" \
	"  --record FILE    write every frame received to FILE (for --provider file)\n" \
	"  --silence-timeout S  no frame for S seconds = dead connection (default 60)\n" \
	"  --euler-json     euler: ask for JSON bundles instead of raw push frames\n" \
	"  --time-scale X   multiply every protocol time by X (tests; default 1)\n" \
	"  --frames FILE    file: decode this recording (tt-ingest --record) at full speed\n" \
	"Environment: EULER_API_KEY, SESSION_ID, TT_TARGET_IDC, RECONNECT_MAX_ATTEMPTS,\n" \
	"TIKTOK_WEB_URL, TIKTOK_WEBCAST_URL, SIGN_API_URL, EULER_WS_URL, TTLC_CA_FILE,\n" \
	"TTLC_SESSION_HOSTS (see tt-ingest(1)).\n"

/* The fixture in a source tree, else the one `make install` put in
 * TTLC_DATADIR (set by the Makefile). */
#define DEFAULT_FIXTURE "test/fixtures/raw-frames.ndjson"
#ifndef TTLC_DATADIR
#define TTLC_DATADIR "/usr/local/share/ttlc"
#endif
#define INSTALLED_FIXTURE TTLC_DATADIR "/fixtures/raw-frames.ndjson"

struct mock_opts {
	const char *fixture;
	const char *stream_id;   /* NULL: the fixture's */
	bool keep_session;
	double rate;             /* frames/s, 0 = unpaced */
	bool loop;
	uint64_t limit;          /* 0 = no limit */
	bool retime;
};

struct mock_counts {
	uint64_t frames, skipped, passed, too_long, rounds;
};

static void
log_errno(const char *msg, const char *file)
{
	struct tt_logrec r;

	if (tt_log_begin(&r, TT_LOG_ERROR, msg)) {
		tt_log_str(&r, "file", file);
		tt_log_str(&r, "error", strerror(errno));
		tt_log_end(&r);
	}
}

/* Finds the first fixture frame's streamId and sessionId (copied into the
 * buffers; empty when there is none). False when the fixture can't be read. */
static bool
peek_fixture(const char *path, char *stream, size_t streamsz, char *session, size_t sessionsz)
{
	struct tt_lines lines;
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_arena a;
	const char *line;
	size_t len;
	enum tt_lines_status st;
	char err[256];

	stream[0] = session[0] = '\0';
	if (p == NULL || !tt_lines_open(&lines, path, TT_LINES_DEFAULT_MAX)) {
		tt_json_parser_free(p);
		return false;
	}
	tt_arena_init(&a, 64u << 20);
	while ((st = tt_lines_next(&lines, &line, &len)) == TT_LINES_OK || st == TT_LINES_TOO_LONG) {
		struct tt_json *v;
		const struct tt_json *s;

		tt_arena_reset(&a);
		if (st != TT_LINES_OK || tt_json_parse(p, &a, line, len, &v, err, sizeof err) != TT_JSON_OK)
			continue;
		s = tt_json_get(v, "streamId");
		if (s == NULL || s->kind != TT_JSON_STRING)
			continue;
		snprintf(stream, streamsz, "%s", s->str);
		s = tt_json_get(v, "sessionId");
		if (s != NULL && s->kind == TT_JSON_STRING)
			snprintf(session, sessionsz, "%s", s->str);
		break;
	}
	tt_arena_free(&a);
	tt_json_parser_free(p);
	tt_lines_close(&lines);
	return st != TT_LINES_ERROR;
}

/* Writes fixture frame v with the session's sessionId, seqNo and ingestedAt
 * (and streamId, timestamp when asked); other members are copied as they
 * are, so a malformed frame stays malformed for the normalizer to reject. */
static bool
emit_fixture_frame(struct tt_ingest *s, const struct mock_opts *o, const struct tt_json *v,
    struct tt_arena *a, struct mock_counts *c)
{
	static const char *const assigned[] = { "sessionId", "seqNo", "ingestedAt" };
	struct tt_json *f = tt_json_new(a, TT_JSON_OBJECT);
	char now[TT_TIME_ISO_LEN];
	const unsigned char *text;
	size_t len;
	uint64_t seq = tt_ingest_next_seq(s);
	bool seen[3] = { false, false, false };

	tt_time_now_iso(now);
	for (const struct tt_json *m = v->first; m != NULL; m = m->next) {
		struct tt_json *val;

		if (strcmp(m->key, "sessionId") == 0 && !o->keep_session) {
			val = tt_json_new_str(a, s->session_id, strlen(s->session_id));
			seen[0] = true;
		} else if (strcmp(m->key, "seqNo") == 0) {
			val = tt_json_new_int(a, (int64_t)seq);
			seen[1] = true;
		} else if (strcmp(m->key, "ingestedAt") == 0) {
			val = tt_json_new_str(a, now, strlen(now));
			seen[2] = true;
		} else if (strcmp(m->key, "timestamp") == 0 && o->retime) {
			val = tt_json_new_str(a, now, strlen(now));
		} else if (strcmp(m->key, "streamId") == 0 && o->stream_id != NULL) {
			val = tt_json_new_str(a, o->stream_id, strlen(o->stream_id));
		} else {
			val = tt_json_new_copy(a, m);
		}
		if (strcmp(m->key, "sessionId") == 0)
			seen[0] = true;
		tt_json_add_n(f, m->key, m->key_len, val);
	}
	for (size_t i = 0; i < 3; i++) {
		if (seen[i])
			continue;
		if (i == 0)
			tt_json_add(f, assigned[i], tt_json_new_str(a, s->session_id, strlen(s->session_id)));
		else if (i == 1)
			tt_json_add(f, assigned[i], tt_json_new_int(a, (int64_t)seq));
		else
			tt_json_add(f, assigned[i], tt_json_new_str(a, now, strlen(now)));
	}
	if (a->failed || !tt_json_write(s->writer, f, &text, &len)) {
		tt_log_msg(TT_LOG_WARN, "fixture frame too large, skipped", NULL, NULL);
		s->seq--; /* the number goes to the next frame: no gap */
		c->too_long++;
		return true;
	}
	s->frames++;
	return tt_out_line(s->out, text, len);
}

/* Sleeps until the next frame is due at the configured rate. */
static void
pace(struct tt_out *out, double rate, struct timespec *due)
{
	long step = (long)(1e9 / rate);

	tt_out_flush(out);
	due->tv_nsec += step % 1000000000L;
	due->tv_sec += step / 1000000000L + due->tv_nsec / 1000000000L;
	due->tv_nsec %= 1000000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, due, NULL) == EINTR && !tt_stop_requested())
		;
}

/* Plays the fixture once. Returns an exit status; *why is set when the
 * session should end (limit reached, stopped). */
static int
play_once(struct tt_ingest *s, const struct mock_opts *o, struct mock_counts *c,
    struct timespec *due, const char **why)
{
	struct tt_lines lines;
	struct tt_json_parser *p = tt_json_parser_new();
	struct tt_arena a;
	enum tt_lines_status st;
	const char *line;
	size_t len;
	char err[256];
	int rc = TT_EXIT_OK;

	if (p == NULL || !tt_lines_open(&lines, o->fixture, TT_LINES_DEFAULT_MAX)) {
		log_errno("cannot open fixture", o->fixture);
		tt_json_parser_free(p);
		return TT_EXIT_FAILURE;
	}
	tt_arena_init(&a, 64u << 20);
	while (*why == NULL && (st = tt_lines_next(&lines, &line, &len)) != TT_LINES_EOF) {
		struct tt_json *v = NULL;
		const struct tt_json *type;
		bool ok;

		if (st == TT_LINES_ERROR) {
			log_errno("cannot read fixture", o->fixture);
			rc = TT_EXIT_FAILURE;
			break;
		}
		if (tt_stop_requested()) {
			*why = "stopped";
			break;
		}
		tt_arena_reset(&a);
		if (len == 0)
			continue;
		if (st == TT_LINES_TOO_LONG) {
			/* Passing on a cut line would change it; say so and
			 * count it instead. */
			struct tt_logrec r;

			if (tt_log_begin(&r, TT_LOG_WARN, "fixture line too long, skipped")) {
				tt_log_uint(&r, "line", lines.lineno);
				tt_log_uint(&r, "max", TT_LINES_DEFAULT_MAX);
				tt_log_end(&r);
			}
			c->too_long++;
			continue;
		}
		if (tt_json_parse(p, &a, line, len, &v, err, sizeof err) == TT_JSON_OK &&
		    v->kind == TT_JSON_OBJECT) {
			type = tt_json_get(v, "type");
			if (tt_json_str_eq(type, "ControlEvent.CONNECTED") ||
			    tt_json_str_eq(type, "ControlEvent.DISCONNECTED")) {
				c->skipped++;
				continue;
			}
			uint64_t skipped_before = c->too_long;

			ok = emit_fixture_frame(s, o, v, &a, c);
			if (ok && c->too_long != skipped_before)
				continue; /* skipped: not a frame for --limit */
		} else {
			/* Not a frame we can re-stamp: pass it on for the
			 * normalizer's DLQ rather than hide it. */
			struct tt_logrec r;

			if (tt_log_begin(&r, TT_LOG_WARN, "fixture line is not a JSON object, passed through")) {
				tt_log_uint(&r, "line", lines.lineno);
				tt_log_end(&r);
			}
			c->passed++;
			ok = tt_out_line(s->out, line, len);
		}
		if (!ok) {
			rc = TT_EXIT_IOERR;
			break;
		}
		c->frames++;
		if (o->limit != 0 && c->frames >= o->limit)
			*why = "limit";
		else if (o->rate > 0)
			pace(s->out, o->rate, due);
	}
	tt_arena_free(&a);
	tt_json_parser_free(p);
	tt_lines_close(&lines);
	return rc;
}
/* The mock provider: one session playing the fixture (again and again
 * with --loop). Returns the exit status. */

static int
run_mock(const struct mock_opts *o, struct tt_out *out)
{
	struct tt_ingest s;
	struct mock_counts c = { 0 };
	char stream[65], session[TT_UUID_LEN];
	const char *why = NULL;
	struct timespec due;
	struct tt_logrec r;
	int rc = TT_EXIT_OK;

	if (!peek_fixture(o->fixture, stream, sizeof stream, session, sizeof session)) {
		log_errno("cannot open fixture", o->fixture);
		return TT_EXIT_FAILURE;
	}
	if (o->stream_id != NULL)
		snprintf(stream, sizeof stream, "%s", o->stream_id);
	else if (stream[0] == '\0')
		snprintf(stream, sizeof stream, "mock");
	if (!tt_ingest_init(&s, out, "mock", "live")) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		return TT_EXIT_FAILURE;
	}
	if (!tt_ingest_begin(&s, stream, o->keep_session && session[0] != '\0' ? session : NULL, NULL)) {
		tt_ingest_free(&s);
		return tt_out_failed(out) ? TT_EXIT_IOERR : TT_EXIT_FAILURE;
	}
	clock_gettime(CLOCK_MONOTONIC, &due);
	do {
		c.rounds++;
		rc = play_once(&s, o, &c, &due, &why);
		if (why == NULL && tt_stop_requested())
			why = "stopped";
	} while (rc == TT_EXIT_OK && why == NULL && o->loop && c.frames > 0);
	if (rc == TT_EXIT_OK && why == NULL)
		why = tt_stop_requested() ? "stopped" : "end_of_fixture";
	if (rc != TT_EXIT_IOERR && !tt_ingest_end(&s, why != NULL ? why : "error"))
		rc = TT_EXIT_IOERR;
	if (tt_log_begin(&r, rc == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_str(&r, "provider", "mock");
		tt_log_str(&r, "sessionId", s.session_id);
		tt_log_uint(&r, "frames", s.frames);
		tt_log_uint(&r, "fixtureLifecycleSkipped", c.skipped);
		tt_log_uint(&r, "passedThrough", c.passed);
		tt_log_uint(&r, "tooLongSkipped", c.too_long);
		tt_log_uint(&r, "rounds", c.rounds);
		tt_log_str(&r, "reason", why);
		tt_log_int(&r, "status", rc);
		tt_log_end(&r);
	}
	tt_ingest_free(&s);
	return rc;
}

/* ---- the live providers' command line ------------------------------------ */

struct targets {
	struct tt_live_target *v;
	size_t n, cap;
	char **owned;        /* strings this list allocated */
	size_t nowned;
};

/* A creator's handle as people paste it: "@name", a profile or live URL.
 * Copies the bare handle into out; false when none is left or it holds
 * characters TikTok handles do not. */
static bool
normalize_handle(const char *in, char *out, size_t outsz)
{
	static const char *const prefixes[] = { "https://www.tiktok.com/", "http://www.tiktok.com/",
		"https://tiktok.com/", "www.tiktok.com/", "tiktok.com/" };
	size_t len;

	while (*in == ' ' || *in == '\t')
		in++;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(in, prefixes[i], strlen(prefixes[i])) == 0) {
			in += strlen(prefixes[i]);
			break;
		}
	if (*in == '@')
		in++;
	/* The handle ends at a path, query or fragment ("/live"); trailing
	 * blanks are dropped, inner ones make it invalid below. */
	len = strcspn(in, "/?#");
	while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t' || in[len - 1] == '\r' || in[len - 1] == '\n'))
		len--;
	if (len == 0 || len > 64 || len >= outsz)
		return false;
	memcpy(out, in, len);
	out[len] = '\0';
	return out[strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")] == '\0';
}

static bool
valid_room_id(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 20 && s[strspn(s, "0123456789")] == '\0';
}

static void
targets_add(struct targets *t, const char *handle, const char *room)
{
	char buf[80], *copy, **owned;

	if (handle != NULL && !normalize_handle(handle, buf, sizeof buf))
		tt_usage_error(USAGE, "not a TikTok handle (letters, digits, _ and ., at most 64)", handle);
	if (room != NULL && !valid_room_id(room))
		tt_usage_error(USAGE, "a room id is 1 to 20 digits", room);
	if (t->n == t->cap) {
		size_t cap = t->cap == 0 ? 8 : t->cap * 2;
		struct tt_live_target *v = realloc(t->v, cap * sizeof *v);

		if (v == NULL)
			goto oom;
		t->v = v;
		t->cap = cap;
	}
	owned = realloc(t->owned, (t->nowned + 1) * sizeof *owned);
	if (owned == NULL)
		goto oom;
	t->owned = owned;
	copy = strdup(handle != NULL ? buf : room);
	if (copy == NULL)
		goto oom;
	t->owned[t->nowned++] = copy;
	t->v[t->n].unique_id = handle != NULL ? copy : NULL;
	t->v[t->n].room_id = room != NULL ? copy : NULL;
	t->n++;
	return;
oom:
	tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
	exit(TT_EXIT_FAILURE);
}

static void
targets_free(struct targets *t)
{
	for (size_t i = 0; i < t->nowned; i++)
		free(t->owned[i]);
	free(t->owned);
	free(t->v);
}

/* Handles separated by commas or spaces (TIKTOK_UNIQUE_ID). */
static void
targets_add_list(struct targets *t, const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (copy == NULL)
		exit(TT_EXIT_FAILURE);
	for (char *tok = strtok_r(copy, ", \t", &save); tok != NULL; tok = strtok_r(NULL, ", \t", &save))
		targets_add(t, tok, NULL);
	free(copy);
}

/* One target a line: a handle or room:ID; blank lines and # comments. */
static void
targets_add_file(struct targets *t, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned long lineno = 0;

	if (f == NULL) {
		log_errno("cannot open the targets file", path);
		exit(TT_EXIT_CONFIG);
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *p = line, *end;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f) && (ungetc(getc(f), f) != EOF)) {
			struct tt_logrec r;

			if (tt_log_begin(&r, TT_LOG_ERROR, "targets file line longer than 510 bytes")) {
				tt_log_str(&r, "file", path);
				tt_log_uint(&r, "line", lineno);
				tt_log_end(&r);
			}
			fclose(f);
			exit(TT_EXIT_CONFIG);
		}
		p[strcspn(p, "#\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0')
			continue;
		if (strncmp(p, "room:", 5) == 0)
			targets_add(t, NULL, p + 5);
		else
			targets_add(t, p, NULL);
	}
	if (ferror(f)) {
		log_errno("cannot read the targets file", path);
		fclose(f);
		exit(TT_EXIT_CONFIG);
	}
	fclose(f);
}

/* A URL from the environment, without a trailing slash (tests point these
 * at the fakes). */
static const char *
base_url(const char *env, const char *def, bool ws, char *buf, size_t size)
{
	const char *v = tt_env(env);
	size_t n;

	if (v == NULL)
		v = def;
	if (strlen(v) >= size || (ws ? strncmp(v, "ws://", 5) != 0 && strncmp(v, "wss://", 6) != 0
	    : strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)) {
		tt_log_msg(TT_LOG_ERROR, ws ? "not a ws:// or wss:// URL of at most 511 bytes"
		    : "not an http:// or https:// URL (lowercase) of at most 511 bytes", "variable", env);
		exit(TT_EXIT_CONFIG);
	}
	snprintf(buf, size, "%s", v);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '/')
		buf[--n] = '\0';
	return buf;
}

/* The default browser identity (the protocol notes' device preset). */
#define DEFAULT_UA "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
	"Chrome/129.0.0.0 Safari/537.36 Edg/128.0.2739.79"

static int
run_live(struct tt_live_opts *lo, struct targets *t)
{
	char web[512], webcast[512], sign[512], euler[512];
	struct tt_out out;
	uint64_t max = 0;
	const char *v;
	int rc;

	if (t->n == 0 && tt_env("TIKTOK_UNIQUE_ID") != NULL)
		targets_add_list(t, tt_env("TIKTOK_UNIQUE_ID"));
	if (t->n == 0)
		tt_usage_error(USAGE, "the live providers need --unique-id, --room-id, --targets or TIKTOK_UNIQUE_ID", NULL);
	for (size_t i = 0; lo->euler && i < t->n; i++)
		if (t->v[i].unique_id == NULL)
			tt_usage_error(USAGE, "the euler provider takes handles, not room ids", t->v[i].room_id);
	lo->targets = t->v;
	lo->ntargets = t->n;
	lo->api_key = tt_env("EULER_API_KEY");
	lo->session_id = tt_env("SESSION_ID");
	lo->target_idc = tt_env("TT_TARGET_IDC");
	if (lo->euler && lo->api_key == NULL) {
		tt_log_msg(TT_LOG_ERROR, "the euler provider needs EULER_API_KEY", NULL, NULL);
		return TT_EXIT_CONFIG;
	}
	/* Secrets are checked for size only, and never quoted. */
	if ((lo->api_key != NULL && strlen(lo->api_key) > 512) || (lo->session_id != NULL && strlen(lo->session_id) > 512)) {
		tt_log_msg(TT_LOG_ERROR, "EULER_API_KEY or SESSION_ID is longer than 512 bytes", NULL, NULL);
		return TT_EXIT_CONFIG;
	}
	v = tt_env("RECONNECT_MAX_ATTEMPTS");
	if (v != NULL && !tt_parse_u64(v, 0, 1000000, &max)) {
		tt_log_msg(TT_LOG_ERROR, "RECONNECT_MAX_ATTEMPTS must be a number (0 = unlimited)", "value", v);
		return TT_EXIT_CONFIG;
	}
	lo->max_attempts = (unsigned)max;
	lo->web_url = base_url("TIKTOK_WEB_URL", "https://www.tiktok.com", false, web, sizeof web);
	lo->webcast_url = base_url("TIKTOK_WEBCAST_URL", "https://webcast.tiktok.com", false, webcast, sizeof webcast);
	lo->session_hosts = tt_env("TTLC_SESSION_HOSTS");
	if (lo->session_hosts != NULL && strlen(lo->session_hosts) > 1000) {
		tt_log_msg(TT_LOG_ERROR, "TTLC_SESSION_HOSTS is longer than 1000 bytes", NULL, NULL);
		return TT_EXIT_CONFIG;
	}
	lo->sign_url = base_url("SIGN_API_URL", "https://api.eulerstream.com", false, sign, sizeof sign);
	lo->euler_url = base_url("EULER_WS_URL", "wss://ws.eulerstream.com", true, euler, sizeof euler);
	lo->ca_file = tt_env("TTLC_CA_FILE");
	lo->user_agent = DEFAULT_UA;
	lo->heartbeat_ms = 10000;
	lo->wait_live_ms = 60000;
	lo->http_timeout_ms = 20000;
	tt_out_stdout(&out);
	tt_stop_on_signals();
	rc = tt_live_run(lo, &out);
	if (!tt_out_close(&out) && rc == TT_EXIT_OK)
		rc = TT_EXIT_IOERR;
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "provider", required_argument, NULL, 'p' },
		{ "fixture", required_argument, NULL, 'f' },
		{ "keep-session", no_argument, NULL, 'k' },
		{ "stream-id", required_argument, NULL, 'i' },
		{ "rate", required_argument, NULL, 'r' },
		{ "loop", no_argument, NULL, 'l' },
		{ "limit", required_argument, NULL, 'n' },
		{ "retime", no_argument, NULL, 't' },
		{ "replay-session", required_argument, NULL, 'R' },
		{ "speed", required_argument, NULL, 's' },
		{ "unique-id", required_argument, NULL, 'U' },
		{ "room-id", required_argument, NULL, 'I' },
		{ "targets", required_argument, NULL, 'T' },
		{ "wait-live", no_argument, NULL, 'W' },
		{ "record", required_argument, NULL, 'C' },
		{ "silence-timeout", required_argument, NULL, 'S' },
		{ "euler-json", no_argument, NULL, 'J' },
		{ "time-scale", required_argument, NULL, 'X' },
		{ "frames", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mock_opts o = { 0 };
	struct tt_replay_opts ro = { .speed = 1 };
	struct tt_live_opts lo = { .time_scale = 1, .silence_ms = 60000 };
	struct targets targets = { 0 };
	struct tt_fileplay_opts fo = { 0 };
	bool mock_only = false, speed_given = false, live_only = false;
	const char *provider = tt_env("INGEST_PROVIDER");
	struct tt_out out;
	int opt, rc;

	tt_log_init("tt-ingest");
	o.fixture = tt_env("INGEST_FIXTURE");
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			provider = optarg;
			break;
		case 'f':
			mock_only = true;
			o.fixture = optarg;
			break;
		case 'k':
			mock_only = true;
			o.keep_session = true;
			break;
		case 'i':
			if (*optarg == '\0' || strlen(optarg) > 64 ||
			    optarg[strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")] != '\0')
				tt_usage_error(USAGE, "--stream-id must be 1 to 64 of A-Z a-z 0-9 _ . : -", optarg);
			o.stream_id = fo.stream_id = optarg;
			break;
		case 'r':
			if (!tt_parse_double(optarg, &o.rate) || o.rate < 0.001 || o.rate > 1e6)
				tt_usage_error(USAGE, "--rate must be from 0.001 to 1000000 frames per second", optarg);
			mock_only = true;
			break;
		case 'l':
			mock_only = true;
			o.loop = true;
			break;
		case 'n':
			if (!tt_parse_u64(optarg, 1, UINT64_MAX, &o.limit))
				tt_usage_error(USAGE, "--limit must be a positive number", optarg);
			mock_only = true;
			break;
		case 't':
			o.retime = ro.retime = true;
			break;
		case 'R':
			if (!tt_uuid_valid(optarg, strlen(optarg)))
				tt_usage_error(USAGE, "--replay-session must be a session id (a UUID)", optarg);
			ro.session_id = optarg;
			break;
		case 's':
			speed_given = true;
			if (strcmp(optarg, "max") == 0)
				ro.speed = 0;
			else if (!tt_parse_double(optarg, &ro.speed) || ro.speed < 0.001 || ro.speed > 1e6)
				tt_usage_error(USAGE, "--speed must be max or from 0.001 to 1000000", optarg);
			break;
		case 'U':
			live_only = true;
			targets_add(&targets, optarg, NULL);
			break;
		case 'I':
			live_only = true;
			targets_add(&targets, NULL, optarg);
			break;
		case 'T':
			live_only = true;
			targets_add_file(&targets, optarg);
			break;
		case 'W':
			live_only = lo.wait_live = true;
			break;
		case 'C':
			live_only = true;
			lo.record_path = optarg;
			break;
		case 'S': {
			double sec;

			if (!tt_parse_double(optarg, &sec) || sec < 1 || sec > 86400)
				tt_usage_error(USAGE, "--silence-timeout must be from 1 to 86400 seconds", optarg);
			live_only = true;
			lo.silence_ms = (int64_t)(sec * 1000);
			break;
		}
		case 'J':
			live_only = lo.euler_json = true;
			break;
		case 'X':
			if (!tt_parse_double(optarg, &lo.time_scale) || lo.time_scale < 0.0001 || lo.time_scale > 100)
				tt_usage_error(USAGE, "--time-scale must be from 0.0001 to 100", optarg);
			live_only = true;
			break;
		case 'F':
			fo.path = optarg;
			break;
		case 'h':
			tt_usage_help(USAGE);
		default:
			tt_usage_error(USAGE, "bad usage", NULL);
		}
	}
	if (optind != argc)
		tt_usage_error(USAGE, "unexpected argument", argv[optind]);
	if (ro.session_id != NULL && (provider == NULL || tt_env("INGEST_PROVIDER") == provider))
		provider = "replay"; /* --replay-session outranks the environment */
	if (provider == NULL)
		provider = "mock";
	if (strcmp(provider, "replay") == 0) {
		if (ro.session_id == NULL)
			tt_usage_error(USAGE, "the replay provider needs --replay-session ID", NULL);
		if (mock_only || o.stream_id != NULL)
			tt_usage_error(USAGE, "--fixture, --keep-session, --stream-id, --rate, --loop and --limit are mock options", NULL);
		if (live_only)
			tt_usage_error(USAGE, "the live options belong to the direct and euler providers", NULL);
		if (fo.path != NULL)
			tt_usage_error(USAGE, "--frames belongs to the file provider", NULL);
		ro.progress = isatty(STDERR_FILENO) == 1;
		tt_out_stdout(&out);
		tt_stop_on_signals();
		rc = tt_replay_run(&ro, &out);
		if (!tt_out_close(&out) && rc == TT_EXIT_OK)
			rc = TT_EXIT_IOERR;
		return rc;
	}
	if (ro.session_id != NULL || speed_given)
		tt_usage_error(USAGE, "--replay-session and --speed belong to the replay provider", provider);
	if (strcmp(provider, "file") == 0) {
		if (fo.path == NULL)
			tt_usage_error(USAGE, "the file provider needs --frames FILE", NULL);
		if (mock_only || o.retime || live_only)
			tt_usage_error(USAGE, "the file provider takes --frames and --stream-id only", NULL);
		tt_out_stdout(&out);
		tt_stop_on_signals();
		rc = tt_fileplay_run(&fo, &out);
		if (!tt_out_close(&out) && rc == TT_EXIT_OK)
			rc = TT_EXIT_IOERR;
		return rc;
	}
	if (fo.path != NULL)
		tt_usage_error(USAGE, "--frames belongs to the file provider", provider);
	if (strcmp(provider, "direct") == 0 || strcmp(provider, "euler") == 0) {
		if (mock_only || o.stream_id != NULL || o.retime)
			tt_usage_error(USAGE, "--fixture, --keep-session, --stream-id, --rate, --loop, --limit and --retime are not live options", NULL);
		lo.euler = strcmp(provider, "euler") == 0;
		if (lo.euler_json && !lo.euler)
			tt_usage_error(USAGE, "--euler-json belongs to the euler provider", NULL);
		rc = run_live(&lo, &targets);
		targets_free(&targets);
		return rc;
	}
	if (live_only)
		tt_usage_error(USAGE, "--unique-id, --room-id, --targets, --wait-live, --record, --silence-timeout, --euler-json and --time-scale belong to the direct and euler providers", provider);
	if (strcmp(provider, "mock") != 0) {
		tt_log_msg(TT_LOG_ERROR, "unknown provider (mock, replay, file, direct, euler)", "provider", provider);
		return TT_EXIT_CONFIG;
	}
	if (o.fixture == NULL)
		o.fixture = access(DEFAULT_FIXTURE, R_OK) == 0 ? DEFAULT_FIXTURE : INSTALLED_FIXTURE;
	tt_out_stdout(&out);
	tt_stop_on_signals();
	rc = run_mock(&o, &out);
	if (!tt_out_close(&out) && rc == TT_EXIT_OK)
		rc = TT_EXIT_IOERR;
	return rc;
}
