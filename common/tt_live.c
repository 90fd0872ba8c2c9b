/* tt_live.c - see tt_live.h.
 *
 * Each room is a small state machine driven from one loop:
 *
 *   WAIT --due--> RESOLVE (live page, then api-live) --> SIGN --> CONNECT
 *     ^                                                              |
 *     +---- back-off / retry-after / wait-live <---- closed ---- OPEN
 *
 * The loop is libwebsockets' (its sockets and a 20 ms tick); the tick
 * moves the HTTP requests on, starts what is due, sends heartbeats and
 * notices silence. Times are scaled by time_scale so the tests can run
 * minutes of protocol in seconds.
 */
#include "tt_live.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/evp.h>

#include "tt_backoff.h"
#include "tt_config.h"
#include "tt_exit.h"
#include "tt_frames.h"
#include "tt_http.h"
#include "tt_ingest.h"
#include "tt_json.h"
#include "tt_log.h"
#include "tt_time.h"
#include "tt_webcast.h"
#include "tt_wcemit.h"

#define TICK_US (20 * 1000)
#define MAX_WS_MESSAGE (16u << 20)   /* one WebSocket message */
#define MAX_PAGE (4u << 20)          /* the live page */
#define MAX_TX_QUEUE 256             /* frames waiting to be sent */
#define TX_MAX 16384                 /* one frame we send */
#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"
#define STABLE_MS 30000              /* a connection this old resets the back-off */
#define MAX_WS_PATH 2000             /* lws sends at most 2048 bytes of request line */
#define MAX_CURSOR 256               /* longer cursors are not sent back (the URL has room) */

enum room_state {
	ROOM_WAIT,       /* until due_ms, then next_step */
	ROOM_HTTP,       /* a request in flight */
	ROOM_CONNECTING, /* WebSocket handshake */
	ROOM_OPEN,
	ROOM_CLOSING,    /* we asked the socket to go */
	ROOM_DONE,
};

enum room_step { STEP_RESOLVE, STEP_SIGN, STEP_CONNECT };

struct txmsg {
	struct txmsg *next;
	size_t len;
	unsigned char buf[];  /* LWS_PRE bytes, then the frame */
};

struct live;

struct room {
	struct live *live;
	size_t index;
	char unique_id[128];
	char room_id[32];
	bool room_id_given;
	enum room_state state;
	enum room_step next_step;
	int64_t due_ms;
	struct tt_backoff backoff;
	struct tt_ingest ing;
	struct tt_http_req *http;
	bool tried_api;            /* resolve: the page failed, api-live asked */
	const char *page_failure;  /* why the page did not give a room id */
	char cookie[4096];         /* from X-Set-TT-Cookie, plus our own */
	char *ws_url;
	unsigned char *initial;    /* the sign body, emitted once connected */
	size_t initial_len;
	struct lws *wsi;
	bool established;
	unsigned char *rx;
	size_t rx_len, rx_cap;
	bool rx_binary, rx_too_big;
	struct txmsg *tx_head, *tx_tail;
	size_t tx_n;
	uint64_t hb_seq;
	int64_t next_hb_ms, last_rx_ms;
	int64_t open_since_ms;     /* when the WebSocket opened */
	char cursor[MAX_CURSOR + 1]; /* the last fetch result's, for the next sign */
	uint64_t enter_id;
	int peer_code;             /* close code the server sent */
	char peer_reason[124];
	const char *close_why;     /* we closed: "stopped", "silence", "stream_end", "protocol" */
	bool stream_ended;
	bool flush_then_close;     /* send what is queued (acks), then close */
	int status;                /* exit status once done */
	const char *done_reason;
	uint64_t messages, errors, connects, acks, heartbeats;
};

struct live {
	const struct tt_live_opts *o;
	struct tt_out *out;
	struct lws_context *ctx;
	struct tt_http *http;
	struct tt_webcast *wc;
	struct tt_frames_writer rec;
	bool recording;
	bool record_failed;          /* setup failed there, already logged */
	struct tt_json_parser *parser;
	struct tt_arena arena;       /* per message, for JSON parsing */
	struct room *rooms;
	size_t nrooms, ndone;
	lws_sorted_usec_list_t tick;
	bool stopping;
	bool out_failed;
	char ua_escaped[1024];
	uint64_t rng;
};

/* ---- small helpers ----------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
scaled(const struct live *l, int64_t ms)
{
	double v = (double)ms * l->o->time_scale;

	return v < 1 ? 1 : (int64_t)v;
}

static uint64_t
rand64(struct live *l)
{
	/* xorshift64*; seeded from the clock and pid (not for secrets: the
	 * enter-room id only has to differ between connections). */
	l->rng ^= l->rng >> 12;
	l->rng ^= l->rng << 25;
	l->rng ^= l->rng >> 27;
	return l->rng * 2685821657736338717ULL;
}

static const char *
stream_of(const struct room *r)
{
	return r->room_id[0] != '\0' ? r->room_id : r->unique_id;
}

static void
log_room(enum tt_log_level lv, const struct room *r, const char *msg, const char *key, const char *val)
{
	struct tt_logrec rec;

	if (!tt_log_begin(&rec, lv, msg))
		return;
	if (r->unique_id[0] != '\0')
		tt_log_str(&rec, "uniqueId", r->unique_id);
	if (r->room_id[0] != '\0')
		tt_log_str(&rec, "roomId", r->room_id);
	if (key != NULL && val != NULL)
		tt_log_str(&rec, key, val);
	tt_log_end(&rec);
}

/* Notes a write failure: the run ends (74). */
static void
check_out(struct live *l, bool ok)
{
	if (!ok && !l->out_failed) {
		l->out_failed = true;
		l->stopping = true;
	}
}

static void
room_error(struct room *r, const char *category, int code, const char *detail)
{
	struct tt_lifecycle lc = { .category = category, .code = code, .detail = detail };

	r->errors++;
	log_room(TT_LOG_WARN, r, "room error", "category", category);
	check_out(r->live, tt_ingest_lifecycle(&r->ing, "ERROR", &lc));
}

static void
room_done(struct room *r, int status, const char *why)
{
	if (r->state == ROOM_DONE)
		return;
	r->state = ROOM_DONE;
	r->status = status;
	r->done_reason = why;
	r->live->ndone++;
	log_room(status == 0 ? TT_LOG_INFO : TT_LOG_WARN, r, "room done", "reason", why);
}

/* Waits delay_ms (scaled) before step; a new attempt (sessionId) begins. */
static void
room_schedule(struct room *r, enum room_step step, int64_t delay_ms)
{
	r->state = ROOM_WAIT;
	r->next_step = step;
	r->due_ms = now_ms() + (delay_ms > 0 ? scaled(r->live, delay_ms) : 0);
}

/* After a failure: the next attempt after the back-off, or the room gives
 * up when RECONNECT_MAX_ATTEMPTS are used. min_ms: a floor (retry-after). */
static void
room_retry(struct room *r, enum room_step step, int64_t min_ms)
{
	int64_t delay;

	if (!tt_backoff_next(&r->backoff, &delay)) {
		room_error(r, "network", 0, "reconnect attempts used up (RECONNECT_MAX_ATTEMPTS)");
		room_done(r, TT_EXIT_UNAVAILABLE, "attempts_exhausted");
		return;
	}
	if (delay < min_ms)
		delay = min_ms;
	room_schedule(r, step, delay);
}

/* The first step of an attempt. */
static enum room_step
first_step(const struct room *r)
{
	return r->live->o->euler ? STEP_CONNECT : STEP_RESOLVE;
}

/* Offline (or ended): poll again later with --wait-live, else done. */
static void
room_offline(struct room *r, int status, const char *why)
{
	if (r->live->o->wait_live && !r->live->stopping) {
		tt_backoff_reset(&r->backoff);
		room_schedule(r, first_step(r), r->live->o->wait_live_ms);
		return;
	}
	room_done(r, status, why);
}

static bool
b64(const unsigned char *p, size_t n, char **out)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;
	char *s = malloc(cap);

	if (s == NULL)
		return false;
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	*out = s;
	return true;
}

/* A whole message that could not be decoded: ERROR (protocol) with the
 * reason, then a frame of type kind whose data is the base64 of the bytes,
 * so nothing is lost. */
static void
emit_undecodable(struct room *r, const char *kind, const char *why, const unsigned char *p, size_t n)
{
	char *text = NULL, *json;
	size_t len;

	room_error(r, "protocol", 0, why);
	if (!b64(p, n, &text))
		return;
	len = strlen(text);
	json = malloc(len + 3);
	if (json != NULL) {
		json[0] = '"';
		memcpy(json + 1, text, len);
		json[len + 1] = '"';
		json[len + 2] = '\0';
		check_out(r->live, tt_ingest_emit_text(&r->ing, kind, json, len + 2, NULL));
	}
	free(json);
	free(text);
}

static void
record(struct room *r, char kind, const void *p, size_t n)
{
	struct live *l = r->live;
	struct timespec ts;

	if (!l->recording)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!tt_frames_write(&l->rec, (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u, kind,
	    stream_of(r), strlen(stream_of(r)), p, n)) {
		tt_log_msg(TT_LOG_ERROR, "cannot write the recording; recording stopped", "file", l->o->record_path);
		tt_frames_close(&l->rec);
		l->recording = false;
	}
}

/* ---- sending ------------------------------------------------------------ */

static void
tx_clear(struct room *r)
{
	while (r->tx_head != NULL) {
		struct txmsg *m = r->tx_head;

		r->tx_head = m->next;
		free(m);
	}
	r->tx_tail = NULL;
	r->tx_n = 0;
}

static void room_close(struct room *r, const char *why);

/* Queues a frame built by build() for the socket. */
static bool
tx_push(struct room *r, const unsigned char *frame, size_t len)
{
	struct txmsg *m;

	if (r->tx_n >= MAX_TX_QUEUE) {
		room_error(r, "network", 0, "the server does not read what we send");
		room_close(r, "network");
		return false;
	}
	m = malloc(sizeof *m + LWS_PRE + len);
	if (m == NULL)
		return false;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, frame, len);
	if (r->tx_tail != NULL)
		r->tx_tail->next = m;
	else
		r->tx_head = m;
	r->tx_tail = m;
	r->tx_n++;
	if (r->wsi != NULL)
		lws_callback_on_writable(r->wsi);
	return true;
}

static uint64_t
room_id_u64(const struct room *r)
{
	uint64_t v = 0;

	tt_parse_u64(r->room_id, 0, UINT64_MAX, &v);
	return v;
}

static void
send_heartbeat(struct room *r)
{
	unsigned char f[256];
	size_t n = tt_webcast_heartbeat(f, sizeof f, room_id_u64(r), ++r->hb_seq);

	if (n > 0 && tx_push(r, f, n))
		r->heartbeats++;
}

static void
send_enter_room(struct room *r)
{
	unsigned char f[512];
	size_t n;

	r->enter_id = (rand64(r->live) >> 1) | 1; /* positive, never 0 */
	n = tt_webcast_enter_room(f, sizeof f, room_id_u64(r), r->enter_id);
	if (n > 0)
		tx_push(r, f, n);
}

static void
send_ack(struct room *r, uint64_t log_id, const char *ext, size_t ext_len)
{
	unsigned char *f;
	size_t n, cap = ext_len + 128;

	/* Nothing to acknowledge with: the clients skip these too. */
	if (log_id == 0 || ext_len == 0)
		return;
	f = malloc(cap);
	if (f == NULL)
		return;
	n = tt_webcast_ack(f, cap, log_id, ext, ext_len);
	if (n > 0 && tx_push(r, f, n))
		r->acks++;
	free(f);
}

/* ---- receiving ---------------------------------------------------------- */

/* Counts what one emit wrote and closes on a stream end. */
static void
after_emit(struct room *r, const struct tt_wc_counts *c, int end)
{
	r->messages += c->messages;
	r->errors += c->errors;
	if (end != 0 && !r->stream_ended) {
		r->stream_ended = true;
		room_close(r, "stream_end");
	}
}

/* Emits a decoded frame's messages; handles ack and stream end. */
static void
handle_frame(struct room *r, const struct tt_wc_frame *f)
{
	struct tt_wc_counts c = { 0 };
	int end = 0;

	if (!f->has_result)
		return; /* hb, im_enter_room_resp, ack: nothing to pass on */
	if (f->need_ack)
		send_ack(r, f->log_id, f->internal_ext, f->internal_ext_len);
	if (f->cursor[0] != '\0' && strlen(f->cursor) <= MAX_CURSOR)
		memcpy(r->cursor, f->cursor, strlen(f->cursor) + 1);
	check_out(r->live, tt_wc_emit_frame(&r->ing, f, &c, &end));
	after_emit(r, &c, end);
}

static void
handle_binary(struct room *r, const unsigned char *p, size_t n)
{
	struct tt_wc_frame f;
	char err[256];
	enum tt_wc_status st;

	record(r, 'B', p, n);
	st = tt_webcast_decode_frame(r->live->wc, p, n, &f, err, sizeof err);
	if (st != TT_WC_OK) {
		char why[320];

		snprintf(why, sizeof why, "undecodable push frame: %s", err);
		emit_undecodable(r, "WebcastPushFrame", why, p, n);
		return;
	}
	handle_frame(r, &f);
}

static void
handle_text(struct room *r, const unsigned char *p, size_t n)
{
	struct live *l = r->live;
	struct tt_wc_counts c = { 0 };
	int end = 0;

	record(r, 'T', p, n);
	if (!l->o->euler) {
		emit_undecodable(r, "WebSocketText", "unexpected text message from the push server", p, n);
		return;
	}
	tt_arena_reset(&l->arena);
	check_out(l, tt_wc_emit_euler_text(&r->ing, l->parser, &l->arena, (const char *)p, n, &c, &end));
	after_emit(r, &c, end);
}

/* The sign server's fetch result: its messages are the room's recent
 * history; they follow CONNECTED. */
static void
emit_initial(struct room *r)
{
	struct tt_wc_frame f;
	char err[256];

	if (r->initial == NULL)
		return;
	if (tt_webcast_decode_result(r->live->wc, r->initial, r->initial_len, &f, err, sizeof err) == TT_WC_OK) {
		struct tt_wc_counts c = { 0 };
		int end = 0;

		f.need_ack = false; /* the first result is never acked */
		check_out(r->live, tt_wc_emit_frame(&r->ing, &f, &c, &end));
		r->messages += c.messages;
		r->errors += c.errors;
	}
	free(r->initial);
	r->initial = NULL;
	r->initial_len = 0;
}

/* ---- closing ------------------------------------------------------------ */

/* Asks the socket to go; the rest happens in on_closed(). */
static void
room_close(struct room *r, const char *why)
{
	if (r->close_why == NULL)
		r->close_why = why;
	if (r->wsi == NULL || r->state == ROOM_CLOSING)
		return;
	r->state = ROOM_CLOSING;
	if (r->tx_head != NULL && r->established && strcmp(why, "stream_end") == 0) {
		/* The acks of the last frames go out first; a peer that does
		 * not read gets 2 s. */
		r->flush_then_close = true;
		lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, 2);
		lws_callback_on_writable(r->wsi);
		return;
	}
	/* TikTok needs no close handshake, and a dead peer would not answer
	 * one: drop the connection now. */
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Euler close codes (Euler's close-code table): what each means here. */
struct close_rule {
	int code;
	const char *category;  /* ERROR category, NULL: no ERROR frame */
	enum { AFTER_RETRY, AFTER_END, AFTER_OFFLINE, AFTER_FATAL, AFTER_SLOW } after;
};

static const struct close_rule euler_rules[] = {
	{ 4005, NULL, AFTER_END },
	{ 4006, NULL, AFTER_RETRY },
	{ 4400, "config", AFTER_FATAL },
	{ 4401, "auth", AFTER_FATAL },
	{ 4403, "auth", AFTER_FATAL },
	{ 4404, "offline", AFTER_OFFLINE },
	{ 4429, "rate_limited", AFTER_SLOW },
	{ 4500, NULL, AFTER_RETRY },
	{ 4555, NULL, AFTER_RETRY },
	{ 4556, NULL, AFTER_RETRY },
	{ 4557, NULL, AFTER_RETRY },
	{ 1011, NULL, AFTER_RETRY },
};

static void
on_closed(struct room *r)
{
	struct live *l = r->live;
	struct tt_lifecycle lc = { 0 };
	const struct close_rule *rule = NULL;
	char detail[192];
	bool was_open = r->established;

	r->wsi = NULL;
	r->established = false;
	tx_clear(r);
	free(r->rx);
	r->rx = NULL;
	r->rx_len = r->rx_cap = 0;
	if (l->o->euler && r->peer_code != 0) {
		for (size_t i = 0; i < sizeof euler_rules / sizeof euler_rules[0]; i++)
			if (euler_rules[i].code == r->peer_code)
				rule = &euler_rules[i];
	}
	if (r->peer_code != 0)
		snprintf(detail, sizeof detail, "closed by the server: %d%s%s", r->peer_code,
		    r->peer_reason[0] != '\0' ? " " : "", r->peer_reason);
	else
		snprintf(detail, sizeof detail, "%s", r->close_why != NULL ? r->close_why : "connection lost");
	if (rule != NULL && rule->category != NULL)
		room_error(r, rule->category, r->peer_code, detail);
	if (was_open) {
		if (r->close_why != NULL)
			lc.reason = r->close_why;
		else if (rule != NULL && rule->after == AFTER_END)
			lc.reason = "stream_end";
		else
			lc.reason = "closed";
		lc.code = r->peer_code;
		lc.detail = detail;
		check_out(l, tt_ingest_lifecycle(&r->ing, "DISCONNECTED", &lc));
	}
	r->peer_code = 0;
	r->peer_reason[0] = '\0';
	/* Only a connection that lasted resets the back-off: a server that
	 * accepts, sends its greeting and closes must not be hammered. */
	if (was_open && now_ms() - r->open_since_ms >= scaled(l, STABLE_MS))
		tt_backoff_reset(&r->backoff);
	if (l->stopping || (r->close_why != NULL && strcmp(r->close_why, "stopped") == 0)) {
		room_done(r, TT_EXIT_OK, "stopped");
	} else if (r->stream_ended || (rule != NULL && rule->after == AFTER_END)) {
		room_offline(r, TT_EXIT_OK, "stream_end");
	} else if (rule != NULL && rule->after == AFTER_OFFLINE) {
		room_offline(r, TT_EXIT_UNAVAILABLE, "offline");
	} else if (rule != NULL && rule->after == AFTER_FATAL) {
		room_done(r, TT_EXIT_CONFIG, rule->category);
	} else if (rule != NULL && rule->after == AFTER_SLOW) {
		room_retry(r, first_step(r), 30000);
	} else {
		room_retry(r, first_step(r), 0);
	}
	r->close_why = NULL;
	r->stream_ended = false;
	r->flush_then_close = false;
}

/* ---- the WebSocket ------------------------------------------------------ */

/* The handshake failed: a TikTok refusal (HTTP 200 with handshake-msg), a
 * refusal by status, or a network/TLS failure. */
static void
on_connect_error(struct room *r, struct lws *wsi, const char *why)
{
	char msg[128] = "", status[16] = "", detail[320];
	bool fatal = false;
	int n;

	r->wsi = NULL;
	tx_clear(r);
	if (r->live->stopping || (r->close_why != NULL && strcmp(r->close_why, "stopped") == 0)) {
		r->close_why = NULL;
		room_done(r, TT_EXIT_OK, "stopped");
		return;
	}
	r->close_why = NULL;
	r->stream_ended = false;
	if (wsi != NULL) {
		n = lws_hdr_custom_copy(wsi, msg, sizeof msg, "handshake-msg:", 14);
		if (n <= 0)
			msg[0] = '\0';
		n = lws_hdr_custom_copy(wsi, status, sizeof status, "handshake-status:", 17);
		if (n <= 0)
			status[0] = '\0';
	}
	if (msg[0] != '\0') {
		snprintf(detail, sizeof detail, "WebSocket rejected by TikTok: %s%s%s%s", msg,
		    status[0] != '\0' ? " (" : "", status, status[0] != '\0' ? ")" : "");
		room_error(r, "blocked", 0, detail);
	} else if (why != NULL && strstr(why, "unauthorized") != NULL) {
		snprintf(detail, sizeof detail, "WebSocket refused: %s", why);
		room_error(r, "auth", 0, detail);
		fatal = r->live->o->euler;
	} else if (why != NULL && strstr(why, "not 101") != NULL) {
		snprintf(detail, sizeof detail, "WebSocket refused: %s", why);
		room_error(r, "blocked", 0, detail);
	} else {
		snprintf(detail, sizeof detail, "WebSocket connect failed: %s", why != NULL ? why : "unknown error");
		room_error(r, "network", 0, detail);
	}
	if (fatal)
		room_done(r, TT_EXIT_CONFIG, "auth");
	else
		room_retry(r, first_step(r), 0);
}

static void
on_established(struct room *r)
{
	struct live *l = r->live;
	char detail[160];

	r->established = true;
	r->state = ROOM_OPEN;
	r->connects++;
	r->hb_seq = 0;
	r->last_rx_ms = r->open_since_ms = now_ms();
	r->next_hb_ms = r->last_rx_ms + scaled(l, l->o->heartbeat_ms);
	snprintf(detail, sizeof detail, "%s%s", l->o->euler ? "euler " : "room ", l->o->euler ? r->unique_id : r->room_id);
	check_out(l, tt_ingest_begin(&r->ing, stream_of(r), r->ing.session_id, detail));
	if (!l->o->euler) {
		emit_initial(r);
		send_enter_room(r);
	}
}

static bool
rx_append(struct room *r, const void *in, size_t len)
{
	if (r->rx_too_big)
		return true;
	if (r->rx_len + len > MAX_WS_MESSAGE) {
		r->rx_too_big = true;
		return true;
	}
	if (r->rx_len + len > r->rx_cap) {
		size_t cap = r->rx_cap == 0 ? 65536 : r->rx_cap;
		unsigned char *p;

		while (cap < r->rx_len + len)
			cap *= 2;
		p = realloc(r->rx, cap);
		if (p == NULL)
			return false;
		r->rx = p;
		r->rx_cap = cap;
	}
	memcpy(r->rx + r->rx_len, in, len);
	r->rx_len += len;
	return true;
}

static void
on_receive(struct room *r, struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi)) {
		r->rx_len = 0;
		r->rx_too_big = false;
		r->rx_binary = lws_frame_is_binary(wsi) != 0;
	}
	r->last_rx_ms = now_ms();
	if (!rx_append(r, in, len)) {
		room_error(r, "protocol", 0, "out of memory for a WebSocket message");
		room_close(r, "protocol");
		return;
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
		return;
	if (r->rx_too_big) {
		room_error(r, "protocol", 0, "WebSocket message over 16 MiB, skipped");
	} else if (r->rx_binary) {
		handle_binary(r, r->rx, r->rx_len);
	} else {
		handle_text(r, r->rx, r->rx_len);
	}
	r->rx_len = 0;
	if (r->rx_cap > (1u << 20)) {
		/* Do not keep a large buffer for one large message. */
		free(r->rx);
		r->rx = NULL;
		r->rx_cap = 0;
	}
}

static int
on_writable(struct room *r, struct lws *wsi)
{
	struct txmsg *m = r->tx_head;

	if (m == NULL && r->flush_then_close) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	if (m == NULL || (r->state == ROOM_CLOSING && !r->flush_then_close))
		return 0;
	if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_BINARY) < (int)m->len)
		return -1;
	r->tx_head = m->next;
	if (r->tx_head == NULL)
		r->tx_tail = NULL;
	r->tx_n--;
	free(m);
	if (r->tx_head != NULL || r->flush_then_close)
		lws_callback_on_writable(wsi);
	return 0;
}

static int
append_headers(struct room *r, struct lws *wsi, unsigned char **p, unsigned char *end)
{
	const struct tt_live_opts *o = r->live->o;

	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT, (const unsigned char *)o->user_agent,
	    (int)strlen(o->user_agent), p, end))
		return -1;
	if (r->cookie[0] != '\0' &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_COOKIE, (const unsigned char *)r->cookie,
	    (int)strlen(r->cookie), p, end))
		return -1;
	return 0;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct room *r = lws_get_opaque_user_data(wsi);

	(void)user;
	if (r == NULL)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		/* in points at lws's write position; len is the room left. */
		unsigned char **pp = in;

		return append_headers(r, wsi, pp, *pp + len);
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		lws_set_opaque_user_data(wsi, NULL);
		on_connect_error(r, wsi, in != NULL ? (const char *)in : NULL);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		on_established(r);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(r, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writable(r, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *b = in;
			size_t n = len - 2 < sizeof r->peer_reason - 1 ? len - 2 : sizeof r->peer_reason - 1;
			size_t k = 0;

			r->peer_code = b[0] << 8 | b[1];
			/* Keep printable ASCII only: it reaches a log line. */
			for (size_t i = 0; i < n; i++)
				if (b[2 + i] >= 0x20 && b[2 + i] < 0x7f)
					r->peer_reason[k++] = (char)b[2 + i];
			r->peer_reason[k] = '\0';
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		lws_set_opaque_user_data(wsi, NULL);
		on_closed(r);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Closed before CLIENT_CLOSED could say so (e.g. killed while
		 * connecting). */
		lws_set_opaque_user_data(wsi, NULL);
		if (r->wsi == wsi) {
			if (r->established)
				on_closed(r);
			else
				on_connect_error(r, NULL, r->close_why != NULL ? r->close_why :
				    "closed or timed out before the handshake finished");
		}
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "ttlc-webcast", ws_callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* Opens the WebSocket at url (ws:// or wss://). */
static void
ws_connect(struct room *r, const char *url)
{
	struct lws_client_connect_info ci;
	char buf[8192], path[8192];
	const char *proto, *addr, *p;
	int port;

	memset(&ci, 0, sizeof ci);
	if (strlen(url) >= sizeof buf) {
		room_error(r, "protocol", 0, "WebSocket URL too long");
		room_retry(r, first_step(r), 0);
		return;
	}
	snprintf(buf, sizeof buf, "%s", url);
	if (lws_parse_uri(buf, &proto, &addr, &port, &p) != 0 ||
	    (strcmp(proto, "ws") != 0 && strcmp(proto, "wss") != 0)) {
		room_error(r, "protocol", 0, "push server URL is not ws:// or wss://");
		room_retry(r, first_step(r), 0);
		return;
	}
	/* lws_parse_uri drops the path's leading slash. lws writes the
	 * request line into 2048 bytes and cuts the rest without a word. */
	if (strlen(p) + 1 > MAX_WS_PATH) {
		room_error(r, "protocol", 0, "WebSocket URL longer than the 2000 bytes libwebsockets sends");
		room_retry(r, first_step(r), 0);
		return;
	}
	snprintf(path, sizeof path, "/%s", p);
	ci.context = r->live->ctx;
	ci.address = addr;
	ci.port = port;
	ci.path = path;
	ci.host = addr;
	ci.origin = "https://www.tiktok.com";
	ci.ssl_connection = strcmp(proto, "wss") == 0 ? LCCSCF_USE_SSL : 0;
	ci.protocol = NULL;
	ci.local_protocol_name = protocols[0].name;
	ci.opaque_user_data = r;
	ci.pwsi = &r->wsi;
	r->state = ROOM_CONNECTING;
	r->established = false;
	if (lws_client_connect_via_info(&ci) == NULL) {
		/* lws has already called CONNECTION_ERROR when it could;
		 * otherwise say it here. */
		if (r->state == ROOM_CONNECTING) {
			r->wsi = NULL;
			room_error(r, "network", 0, "WebSocket connect failed");
			room_retry(r, first_step(r), 0);
		}
	}
}

/* ---- resolve: live page, then api-live ---------------------------------- */

static void start_sign(struct room *r);
static void start_api(struct room *r);

/* The room id and status from a JSON tree: user.roomId and the live
 * status (4 = offline) in liveRoom.status or user.status. */
static bool
room_from(struct room *r, const struct tt_json *user, const struct tt_json *live_room, int64_t *status)
{
	const struct tt_json *id = tt_json_get(user, "roomId");
	int64_t st = 0;

	*status = 0;
	if (tt_json_int(tt_json_get(live_room, "status"), &st) || tt_json_int(tt_json_get(user, "status"), &st))
		*status = st;
	if (id == NULL || id->kind != TT_JSON_STRING || id->len == 0 || id->len >= sizeof r->room_id ||
	    id->str[strspn(id->str, "0123456789")] != '\0')
		return false;
	if (strcmp(r->room_id, id->str) != 0)
		r->cursor[0] = '\0'; /* another room: the old cursor means nothing there */
	memcpy(r->room_id, id->str, id->len + 1);
	return true;
}

/* The room id is known: offline or on to the sign server. */
static void
resolved(struct room *r, int64_t status)
{
	r->ing.stream_id[0] = '\0';
	snprintf(r->ing.stream_id, sizeof r->ing.stream_id, "%s", r->room_id);
	if (status == 4) {
		room_error(r, "offline", 0, "the creator is not live");
		room_offline(r, TT_EXIT_UNAVAILABLE, "offline");
		return;
	}
	start_sign(r);
}

static void
on_page(void *ctx, const struct tt_http_result *res)
{
	struct room *r = ctx;
	struct live *l = r->live;
	static const char open_tag[] = "<script id=\"SIGI_STATE\" type=\"application/json\">";
	const char *start, *end;
	struct tt_json *v;
	char err[128];
	int64_t status;

	r->http = NULL;
	if (res->error != NULL) {
		char detail[256];

		snprintf(detail, sizeof detail, "live page: %s", res->error);
		room_error(r, "network", 0, detail);
		room_retry(r, STEP_RESOLVE, 0);
		return;
	}
	if (res->status == 403 || res->status == 429) {
		r->page_failure = res->status == 403 ? "live page: HTTP 403" : "live page: HTTP 429";
		start_api(r);
		return;
	}
	if (res->status == 404) {
		r->page_failure = "live page: HTTP 404";
		start_api(r);
		return;
	}
	start = res->status == 200 ? strstr(res->body, open_tag) : NULL;
	end = start != NULL ? strstr(start, "</script>") : NULL;
	if (start == NULL || end == NULL) {
		r->page_failure = res->status == 200 ? "live page has no SIGI_STATE (a captcha or WAF page?)" : "live page: unexpected HTTP status";
		start_api(r);
		return;
	}
	start += sizeof open_tag - 1;
	tt_arena_reset(&l->arena);
	if (tt_json_parse(l->parser, &l->arena, start, (size_t)(end - start), &v, err, sizeof err) != TT_JSON_OK) {
		r->page_failure = "live page: SIGI_STATE is not JSON";
		start_api(r);
		return;
	}
	if (!room_from(r, tt_json_path(v, "LiveRoom.liveRoomUserInfo.user"),
	    tt_json_path(v, "LiveRoom.liveRoomUserInfo.liveRoom"), &status)) {
		r->page_failure = "live page: no room id in SIGI_STATE";
		start_api(r);
		return;
	}
	resolved(r, status);
}

static void
on_api(void *ctx, const struct tt_http_result *res)
{
	struct room *r = ctx;
	struct live *l = r->live;
	struct tt_json *v;
	const struct tt_json *msg;
	int64_t code = 0, status;
	char err[128], detail[320];

	r->http = NULL;
	if (res->error != NULL) {
		snprintf(detail, sizeof detail, "%s; api-live: %s", r->page_failure, res->error);
		room_error(r, "network", 0, detail);
		room_retry(r, STEP_RESOLVE, 0);
		return;
	}
	tt_arena_reset(&l->arena);
	if (res->status == 429 || res->status >= 500) {
		uint64_t after = 0;

		snprintf(detail, sizeof detail, "%s; api-live: HTTP %ld", r->page_failure, res->status);
		room_error(r, res->status == 429 ? "rate_limited" : "network", (int)res->status, detail);
		if (res->status == 429 && (res->header[0] == NULL || !tt_parse_u64(res->header[0], 0, 86400, &after)))
			after = 60;
		room_retry(r, STEP_RESOLVE, (int64_t)after * 1000);
		return;
	}
	if (res->status != 200 ||
	    tt_json_parse(l->parser, &l->arena, res->body, res->body_len, &v, err, sizeof err) != TT_JSON_OK) {
		snprintf(detail, sizeof detail, "%s; api-live: HTTP %ld%s", r->page_failure, res->status,
		    res->status == 200 ? " (not JSON)" : "");
		room_error(r, "blocked", (int)res->status, detail);
		room_retry(r, STEP_RESOLVE, 0);
		return;
	}
	msg = tt_json_get(v, "message");
	tt_json_int(tt_json_get(v, "statusCode"), &code);
	if (tt_json_str_eq(msg, "user_not_found")) {
		snprintf(detail, sizeof detail, "no such TikTok user: %s", r->unique_id);
		room_error(r, "not_found", 0, detail);
		room_done(r, TT_EXIT_NOINPUT, "not_found");
		return;
	}
	if (code != 0) {
		/* Another refusal (TikTok's own codes): not final. */
		snprintf(detail, sizeof detail, "%s; api-live statusCode %" PRId64, r->page_failure, code);
		room_error(r, "blocked", 0, detail);
		room_retry(r, STEP_RESOLVE, 0);
		return;
	}
	if (!room_from(r, tt_json_path(v, "data.user"), tt_json_path(v, "data.liveRoom"), &status)) {
		const struct tt_json *user = tt_json_path(v, "data.user"), *id = tt_json_get(user, "roomId");

		if (user != NULL && user->kind == TT_JSON_OBJECT &&
		    (id == NULL || (id->kind == TT_JSON_STRING && id->len == 0))) {
			/* The user exists but has no room: not live. */
			room_error(r, "offline", 0, "the creator has no live room");
			room_offline(r, TT_EXIT_UNAVAILABLE, "offline");
			return;
		}
		snprintf(detail, sizeof detail, "%s; api-live answer has no usable data.user.roomId", r->page_failure);
		room_error(r, "protocol", 0, detail);
		room_retry(r, STEP_RESOLVE, 0);
		return;
	}
	resolved(r, status);
}

/* The headers of a request to TikTok's web. */
static void
web_headers(const struct room *r, char cookie[512], const char *hdr[8])
{
	const struct tt_live_opts *o = r->live->o;
	static char ua_line[600];
	size_t n = 0;

	snprintf(ua_line, sizeof ua_line, "User-Agent: %s", o->user_agent);
	snprintf(cookie, 512, "Cookie: tt-target-idc=%s", o->target_idc != NULL ? o->target_idc : "useast1a");
	hdr[n++] = ua_line;
	hdr[n++] = cookie;
	hdr[n++] = "Accept: text/html,application/json,application/protobuf";
	hdr[n++] = "Referer: https://www.tiktok.com/";
	hdr[n++] = "Accept-Language: en-US,en;q=0.9";
	hdr[n] = NULL;
}

static const char *const api_want[] = { "retry-after", NULL };

static void
start_http(struct room *r, const char *url, const char *const *hdr, const char *const *want,
    size_t max_body, tt_http_done_fn *done, bool follow)
{
	struct tt_http_get g = {
		.url = url, .headers = hdr, .want_headers = want, .max_body = max_body,
		.timeout_ms = r->live->o->http_timeout_ms, .follow_redirects = follow,
	};

	r->state = ROOM_HTTP;
	r->http = tt_http_start(r->live->http, &g, done, r);
	if (r->http == NULL) {
		room_error(r, "network", 0, "cannot start an HTTP request (out of memory)");
		room_retry(r, first_step(r), 0);
	}
}

/* A room given by id: TikTok's check_alive route says whether it is live.
 * When the check itself fails, the sign server is asked anyway: the
 * check is a courtesy to the rate limit, not a gate. */
static void
on_alive(void *ctx, const struct tt_http_result *res)
{
	struct room *r = ctx;
	struct live *l = r->live;
	struct tt_json *v;
	const struct tt_json *alive;
	char err[128];

	r->http = NULL;
	tt_arena_reset(&l->arena);
	if (res->error == NULL && res->status == 200 &&
	    tt_json_parse(l->parser, &l->arena, res->body, res->body_len, &v, err, sizeof err) == TT_JSON_OK &&
	    (alive = tt_json_get(tt_json_at(tt_json_get(v, "data"), 0), "alive")) != NULL &&
	    (alive->kind == TT_JSON_FALSE || alive->kind == TT_JSON_TRUE)) {
		if (alive->kind == TT_JSON_TRUE) {
			start_sign(r);
			return;
		}
		room_error(r, "offline", 0, "the room is not live");
		room_offline(r, TT_EXIT_UNAVAILABLE, "offline");
		return;
	}
	log_room(TT_LOG_WARN, r, "live check failed or unreadable; signing anyway", "error",
	    res->error != NULL ? res->error : res->status != 200 ? "HTTP status not 200" : "no data[0].alive");
	start_sign(r);
}

static void
start_resolve(struct room *r)
{
	char url[1024], id[512], cookie[512];
	const char *hdr[8];

	if (r->room_id_given) {
		snprintf(url, sizeof url, "%s/webcast/room/check_alive/?aid=1988&region=CH&room_ids=%s&user_is_login=false",
		    r->live->o->webcast_url, r->room_id);
		web_headers(r, cookie, hdr);
		start_http(r, url, hdr, NULL, MAX_PAGE, on_alive, true);
		return;
	}
	r->tried_api = false;
	r->page_failure = NULL;
	tt_http_escape(r->unique_id, id, sizeof id);
	snprintf(url, sizeof url, "%s/@%s/live", r->live->o->web_url, id);
	web_headers(r, cookie, hdr);
	start_http(r, url, hdr, NULL, MAX_PAGE, on_page, true);
}

static void
start_api(struct room *r)
{
	char url[1024], id[512], cookie[512];
	const char *hdr[8];

	r->tried_api = true;
	tt_http_escape(r->unique_id, id, sizeof id);
	snprintf(url, sizeof url, "%s/api-live/user/room/?aid=1988&app_name=tiktok_web&device_platform=web_pc"
	    "&app_language=en&browser_language=en-US&uniqueId=%s&sourceType=54", r->live->o->web_url, id);
	web_headers(r, cookie, hdr);
	start_http(r, url, hdr, api_want, MAX_PAGE, on_api, true);
}

/* ---- sign --------------------------------------------------------------- */

enum { H_COOKIE, H_ROOM, H_RETRY };
static const char *const sign_want[] = { "X-Set-TT-Cookie", "X-Room-Id", "retry-after", NULL };

/* Appends "&k=v" (both escaped; "?" for the first) to url. False when
 * it does not fit. */
static bool
add_param(char *url, size_t size, const char *k, const char *v)
{
	size_t n = strlen(url), kl = strlen(k) * 3 + 1, vl = strlen(v) * 3 + 1;
	char *ek = malloc(kl), *ev = malloc(vl);
	bool ok = ek != NULL && ev != NULL && tt_http_escape(k, ek, kl) && tt_http_escape(v, ev, vl);

	if (ok) {
		int w = snprintf(url + n, size - n, "%s%s=%s", strchr(url, '?') != NULL ? "&" : "?", ek, ev);

		ok = w >= 0 && (size_t)w < size - n;
	}
	free(ek);
	free(ev);
	return ok;
}

/* The push server URL with the parameters the web client sends (the
 * protocol notes, 1.4). */
static char *
build_ws_url(struct room *r, const struct tt_wc_frame *f)
{
	const struct tt_live_opts *o = r->live->o;
	size_t size = 16384;
	char *url = malloc(size);
	bool ok;
	static const char *const fixed[][2] = {
		{ "version_code", "180800" }, { "aid", "1988" }, { "app_language", "en" },
		{ "app_name", "tiktok_web" }, { "browser_platform", "Win32" }, { "browser_language", "en-US" },
		{ "browser_name", "Mozilla" }, { "browser_online", "true" }, { "cookie_enabled", "true" },
		{ "tz_name", "Europe/Berlin" }, { "device_platform", "web" }, { "identity", "audience" },
		{ "live_id", "12" }, { "webcast_language", "en" }, { "ws_direct", "0" },
		{ "sup_ws_ds_opt", "1" }, { "update_version_code", "2.0.0" }, { "did_rule", "3" },
		{ "screen_height", "1080" }, { "screen_width", "1920" }, { "heartbeat_duration", "0" },
		{ "resp_content_type", "protobuf" }, { "history_comment_count", "6" },
		{ "client_enter", "1" }, { "compress", "gzip" },
	};
	const char *slash = strchr(o->user_agent, '/');

	if (url == NULL)
		return NULL;
	snprintf(url, size, "%s", f->push_server);
	ok = true;
	for (size_t i = 0; ok && i < sizeof fixed / sizeof fixed[0]; i++)
		ok = add_param(url, size, fixed[i][0], fixed[i][1]);
	ok = ok && add_param(url, size, "browser_version", slash != NULL ? slash + 1 : o->user_agent);
	{
		char rtt[16];

		/* The web client reports a random round trip of 100-200 ms. */
		snprintf(rtt, sizeof rtt, "%u", 100 + (unsigned)(rand64(r->live) % 101));
		ok = ok && add_param(url, size, "last_rtt", rtt);
	}
	ok = ok && add_param(url, size, "room_id", r->room_id);
	if (ok && f->internal_ext != NULL && f->internal_ext_len > 0) {
		char *ext = strndup(f->internal_ext, f->internal_ext_len);

		ok = ext != NULL && add_param(url, size, "internal_ext", ext);
		free(ext);
	}
	ok = ok && add_param(url, size, "cursor", f->cursor != NULL ? f->cursor : "");
	for (size_t i = 0; ok && i < f->nroute; i++)
		if (f->route_values[i] != NULL && f->route_values[i][0] != '\0')
			ok = add_param(url, size, f->route_keys[i], f->route_values[i]);
	if (ok) {
		size_t n = strlen(url);

		ok = n + sizeof "&version_code=270000" <= size;
		if (ok)
			memcpy(url + n, "&version_code=270000", sizeof "&version_code=270000");
	}
	if (!ok) {
		free(url);
		return NULL;
	}
	return url;
}

/* Whether the push server at url may receive the session cookies: over
 * wss, to tiktok.com or one of its subdomains; or to a host named in
 * TTLC_SESSION_HOSTS (any scheme: the tests). The host is the one
 * libwebsockets will connect to (its own parser), not a reading of the
 * text that a crafted URL could make differ. The push server comes from a
 * third party's sign server, which must not be able to collect the session
 * by naming a host of its own. */
static bool
session_host_ok(const struct tt_live_opts *o, const char *url)
{
	char copy[MAX_WS_PATH + 512], list[1024], *save = NULL;
	const char *proto, *addr, *path;
	size_t n;
	int port;

	if (strlen(url) >= sizeof copy)
		return false;
	snprintf(copy, sizeof copy, "%s", url);
	if (lws_parse_uri(copy, &proto, &addr, &port, &path) != 0)
		return false;
	n = strlen(addr);
	if (o->session_hosts != NULL && strlen(o->session_hosts) < sizeof list) {
		snprintf(list, sizeof list, "%s", o->session_hosts);
		for (char *t = strtok_r(list, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save))
			if (strcasecmp(t, addr) == 0)
				return true;
	}
	if (strcmp(proto, "wss") != 0 || n == 0 || addr[strspn(addr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")] != '\0')
		return false;
	return strcasecmp(addr, "tiktok.com") == 0 || (n > 11 && strcasecmp(addr + n - 11, ".tiktok.com") == 0);
}

/* The WebSocket's Cookie header: the sign server's cookies, the target
 * IDC, and in authenticated mode the session (TikTok hosts only). False
 * when it does not fit. */
static bool
make_cookie(struct room *r, const char *signed_cookies, const char *push_url)
{
	const struct tt_live_opts *o = r->live->o;
	const char *idc = o->target_idc != NULL ? o->target_idc : "useast1a";
	int n;

	if (o->session_id != NULL && !session_host_ok(o, push_url)) {
		log_room(TT_LOG_WARN, r, "push server is not a TikTok host: the session cookies are not sent", NULL, NULL);
	} else if (o->session_id != NULL) {
		n = snprintf(r->cookie, sizeof r->cookie, "%s; tt-target-idc=%s; sessionid=%s; sessionid_ss=%s; sid_tt=%s",
		    signed_cookies, idc, o->session_id, o->session_id, o->session_id);
		return n >= 0 && (size_t)n < sizeof r->cookie;
	}
	n = snprintf(r->cookie, sizeof r->cookie, "%s; tt-target-idc=%s", signed_cookies, idc);
	return n >= 0 && (size_t)n < sizeof r->cookie;
}

static void
on_sign(void *ctx, const struct tt_http_result *res)
{
	struct room *r = ctx;
	struct live *l = r->live;
	struct tt_wc_frame f;
	char detail[400], err[256];

	r->http = NULL;
	if (res->error != NULL) {
		snprintf(detail, sizeof detail, "sign server: %s", res->error);
		room_error(r, "network", 0, detail);
		room_retry(r, STEP_SIGN, 0);
		return;
	}
	if (res->status == 429) {
		uint64_t after = 0;
		const char *ra = res->header[H_RETRY];

		if (ra == NULL || !tt_parse_u64(ra, 0, 86400, &after))
			after = 60;
		snprintf(detail, sizeof detail, "sign server rate limit (HTTP 429); retry after %" PRIu64 " s", after);
		room_error(r, "rate_limited", 429, detail);
		room_retry(r, STEP_SIGN, (int64_t)after * 1000);
		return;
	}
	if (res->status != 200) {
		/* The body is the sign server's JSON message; keep it short and
		 * printable. It never holds our key. */
		char body[200];
		size_t k = 0;

		for (size_t i = 0; i < res->body_len && k < sizeof body - 1; i++)
			body[k++] = res->body[i] >= 0x20 && res->body[i] < 0x7f ? res->body[i] : '?';
		body[k] = '\0';
		snprintf(detail, sizeof detail, "sign server: HTTP %ld: %s", res->status, body);
		if (res->status == 401 || res->status == 402) {
			room_error(r, "auth", (int)res->status, detail);
			room_done(r, TT_EXIT_CONFIG, "auth");
		} else if (res->status == 403) {
			room_error(r, "blocked", 403, detail);
			room_retry(r, STEP_SIGN, 0);
		} else {
			room_error(r, "sign_error", (int)res->status, detail);
			room_retry(r, STEP_SIGN, 0);
		}
		return;
	}
	if (res->header[H_COOKIE] == NULL || res->header[H_COOKIE][0] == '\0') {
		room_error(r, "sign_error", 0, "sign server sent no cookies (X-Set-TT-Cookie)");
		room_retry(r, STEP_SIGN, 0);
		return;
	}
	record(r, 'F', res->body, res->body_len);
	if (tt_webcast_decode_result(l->wc, res->body, res->body_len, &f, err, sizeof err) != TT_WC_OK) {
		snprintf(detail, sizeof detail, "sign server body is not a fetch result: %s", err);
		room_error(r, "sign_error", 0, detail);
		room_retry(r, STEP_SIGN, 0);
		return;
	}
	if (f.push_server == NULL || f.push_server[0] == '\0' || f.cursor == NULL || f.cursor[0] == '\0') {
		room_error(r, "sign_error", 0, f.push_server == NULL || f.push_server[0] == '\0' ?
		    "fetch result has no push server" : "fetch result has no cursor");
		room_retry(r, STEP_SIGN, 0);
		return;
	}
	if (strlen(f.cursor) <= MAX_CURSOR)
		memcpy(r->cursor, f.cursor, strlen(f.cursor) + 1);
	if (res->header[H_ROOM] != NULL && res->header[H_ROOM][0] != '\0' &&
	    strlen(res->header[H_ROOM]) < sizeof r->room_id &&
	    res->header[H_ROOM][strspn(res->header[H_ROOM], "0123456789")] == '\0' &&
	    strcmp(res->header[H_ROOM], r->room_id) != 0) {
		snprintf(r->room_id, sizeof r->room_id, "%s", res->header[H_ROOM]);
		r->cursor[0] = '\0';
	}
	if (!make_cookie(r, res->header[H_COOKIE], f.push_server)) {
		room_error(r, "sign_error", 0, "sign server cookies too long");
		room_retry(r, STEP_SIGN, 0);
		return;
	}
	free(r->ws_url);
	r->ws_url = build_ws_url(r, &f);
	if (r->ws_url == NULL) {
		room_error(r, "sign_error", 0, "push server URL too long");
		room_retry(r, STEP_SIGN, 0);
		return;
	}
	free(r->initial);
	r->initial = malloc(res->body_len > 0 ? res->body_len : 1);
	if (r->initial != NULL) {
		memcpy(r->initial, res->body, res->body_len);
		r->initial_len = res->body_len;
	}
	ws_connect(r, r->ws_url);
}

static void
start_sign(struct room *r)
{
	const struct tt_live_opts *o = r->live->o;
	char url[2048], key[600], ua[700];
	const char *hdr[5];
	size_t n = 0;

	snprintf(url, sizeof url, "%s/webcast/rooms/%s/connect", o->sign_url, r->room_id);
	if (!add_param(url, sizeof url, "client", "ttlc") || !add_param(url, sizeof url, "cursor", r->cursor) ||
	    !add_param(url, sizeof url, "user_agent", o->user_agent) ||
	    !add_param(url, sizeof url, "client_enter", "true") || !add_param(url, sizeof url, "platform", "web") ||
	    (r->unique_id[0] != '\0' && !add_param(url, sizeof url, "unique_id", r->unique_id))) {
		room_error(r, "sign_error", 0, "sign URL too long");
		room_done(r, TT_EXIT_CONFIG, "config");
		return;
	}
	snprintf(ua, sizeof ua, "User-Agent: ttlc (%s)", "tt-ingest");
	hdr[n++] = ua;
	hdr[n++] = "Accept: application/protobuf,application/json";
	if (o->api_key != NULL) {
		/* The key goes in a header only, never in the URL. */
		snprintf(key, sizeof key, "x-api-key: %s", o->api_key);
		hdr[n++] = key;
	}
	hdr[n] = NULL;
	/* No redirects: the key header would follow them to another host. */
	start_http(r, url, hdr, sign_want, 8u << 20, on_sign, false);
	explicit_bzero(key, sizeof key);
}

/* ---- euler -------------------------------------------------------------- */

static void
start_euler(struct room *r)
{
	const struct tt_live_opts *o = r->live->o;
	char url[2048];

	/* "wss://host" has no path; the query needs one before it. */
	const char *host = strstr(o->euler_url, "://");

	snprintf(url, sizeof url, "%s%s", o->euler_url,
	    host != NULL && strchr(host + 3, '/') == NULL ? "/" : "");
	if (!add_param(url, sizeof url, "uniqueId", r->unique_id) ||
	    !add_param(url, sizeof url, "apiKey", o->api_key) ||
	    !add_param(url, sizeof url, "features.rawMessages", o->euler_json ? "false" : "true")) {
		room_error(r, "config", 0, "Euler URL too long");
		room_done(r, TT_EXIT_CONFIG, "config");
		return;
	}
	ws_connect(r, url);
	explicit_bzero(url, sizeof url);
}

/* ---- the loop ----------------------------------------------------------- */

static void
start_step(struct room *r)
{
	if (!tt_ingest_attempt(&r->ing, stream_of(r))) {
		room_done(r, TT_EXIT_FAILURE, "no_randomness");
		return;
	}
	switch (r->next_step) {
	case STEP_RESOLVE:
		start_resolve(r);
		break;
	case STEP_SIGN:
		start_sign(r);
		break;
	case STEP_CONNECT:
		start_euler(r);
		break;
	}
}

static void
stop_all(struct live *l)
{
	for (size_t i = 0; i < l->nrooms; i++) {
		struct room *r = &l->rooms[i];

		if (r->http != NULL) {
			tt_http_cancel(l->http, r->http);
			r->http = NULL;
		}
		if (r->wsi != NULL)
			room_close(r, "stopped");
		else if (r->state != ROOM_DONE)
			room_done(r, TT_EXIT_OK, "stopped");
	}
}

static void
on_tick(lws_sorted_usec_list_t *sul)
{
	struct live *l = lws_container_of(sul, struct live, tick);
	int64_t now = now_ms();

	if (tt_stop_requested() && !l->stopping)
		l->stopping = true;
	if (l->stopping)
		stop_all(l);
	tt_http_poll(l->http);
	for (size_t i = 0; i < l->nrooms && !l->stopping; i++) {
		struct room *r = &l->rooms[i];

		if (r->state == ROOM_WAIT && now >= r->due_ms) {
			start_step(r);
		} else if (r->state == ROOM_OPEN) {
			if (now - r->last_rx_ms >= scaled(l, l->o->silence_ms)) {
				char detail[96];

				snprintf(detail, sizeof detail, "no frame for %" PRId64 " ms: the connection is dead",
				    now - r->last_rx_ms);
				room_error(r, "network", 0, detail);
				room_close(r, "silence");
			} else if (!l->o->euler && now >= r->next_hb_ms) {
				send_heartbeat(r);
				r->next_hb_ms = now + scaled(l, l->o->heartbeat_ms);
			}
		}
	}
	check_out(l, tt_out_flush(l->out));
	lws_sul_schedule(l->ctx, 0, &l->tick, on_tick, TICK_US);
}

static bool
live_init(struct live *l, const struct tt_live_opts *o, struct tt_out *out)
{
	struct lws_context_creation_info info;
	const char *ca = o->ca_file;

	memset(l, 0, sizeof *l);
	l->o = o;
	l->out = out;
	l->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)now_ms();
	if (l->rng == 0)
		l->rng = 88172645463325252ULL;
	if (ca == NULL && access(SYSTEM_CA, R_OK) == 0)
		ca = SYSTEM_CA;
	lws_set_log_level(0, NULL); /* its lines could carry a URL with a key */
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	/* JUST_USE_RAW_ORIGIN: send Origin as given (lws would prefix
	 * "http://"); the handshake buffer holds long cookies. */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	info.pt_serv_buf_size = 32768;
	info.client_ssl_ca_filepath = ca;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	l->ctx = lws_create_context(&info);
	l->http = tt_http_new(o->ca_file);
	l->wc = tt_webcast_new();
	l->parser = tt_json_parser_new();
	tt_arena_init(&l->arena, 64u << 20);
	l->rooms = calloc(o->ntargets, sizeof *l->rooms);
	if (l->ctx == NULL || l->http == NULL || l->wc == NULL || l->parser == NULL || l->rooms == NULL)
		return false;
	if (o->record_path != NULL) {
		l->recording = tt_frames_create(&l->rec, o->record_path, false);
		if (!l->recording) {
			struct tt_logrec rec;

			if (tt_log_begin(&rec, TT_LOG_ERROR, "cannot create the recording")) {
				tt_log_str(&rec, "file", o->record_path);
				tt_log_str(&rec, "error", strerror(errno));
				tt_log_end(&rec);
			}
			l->record_failed = true;
			return false;
		}
	}
	return true;
}

static void
live_free(struct live *l)
{
	/* Sockets still open call back into their rooms while they close:
	 * the context goes first, the rooms after. */
	l->stopping = true; /* a socket closed by the teardown is a stop */
	if (l->ctx != NULL)
		lws_context_destroy(l->ctx);
	l->ctx = NULL;
	for (size_t i = 0; l->rooms != NULL && i < l->nrooms; i++) {
		struct room *r = &l->rooms[i];

		tx_clear(r);
		free(r->rx);
		free(r->ws_url);
		free(r->initial);
		tt_ingest_free(&r->ing);
	}
	tt_http_free(l->http);
	tt_webcast_free(l->wc);
	tt_json_parser_free(l->parser);
	tt_arena_free(&l->arena);
	if (l->recording && !tt_frames_close(&l->rec))
		tt_log_msg(TT_LOG_ERROR, "cannot write the recording", "file", l->o->record_path);
	free(l->rooms);
}

/* The exit status of the run: a write error first, else the worst room. */
static int
run_status(const struct live *l)
{
	int rc = TT_EXIT_OK;

	if (l->out_failed)
		return TT_EXIT_IOERR;
	for (size_t i = 0; i < l->nrooms; i++) {
		int s = l->rooms[i].status;

		if (s == TT_EXIT_CONFIG || (s != TT_EXIT_OK && rc == TT_EXIT_OK))
			rc = s;
	}
	return rc;
}

static void
log_exit(const struct live *l, int rc)
{
	for (size_t i = 0; i < l->nrooms; i++) {
		const struct room *r = &l->rooms[i];
		struct tt_logrec rec;

		if (!tt_log_begin(&rec, r->status == 0 ? TT_LOG_INFO : TT_LOG_WARN, "room exit"))
			continue;
		if (r->unique_id[0] != '\0')
			tt_log_str(&rec, "uniqueId", r->unique_id);
		if (r->room_id[0] != '\0')
			tt_log_str(&rec, "roomId", r->room_id);
		tt_log_str(&rec, "reason", r->done_reason != NULL ? r->done_reason : "unknown");
		tt_log_uint(&rec, "connects", r->connects);
		tt_log_uint(&rec, "messages", r->messages);
		tt_log_uint(&rec, "errors", r->errors);
		tt_log_uint(&rec, "acks", r->acks);
		tt_log_uint(&rec, "heartbeats", r->heartbeats);
		tt_log_int(&rec, "status", r->status);
		tt_log_end(&rec);
	}
	tt_log_msg(rc == 0 ? TT_LOG_INFO : TT_LOG_ERROR, "exit", "provider", l->o->euler ? "euler" : "direct");
}

int
tt_live_run(const struct tt_live_opts *o, struct tt_out *out)
{
	struct live l;
	int rc;

	if (!live_init(&l, o, out)) {
		if (!l.record_failed)
			tt_log_msg(TT_LOG_ERROR, "cannot set up the live provider", NULL, NULL);
		live_free(&l);
		return TT_EXIT_FAILURE;
	}
	for (size_t i = 0; i < o->ntargets; i++) {
		struct room *r = &l.rooms[i];

		r->live = &l;
		r->index = i;
		if (o->targets[i].room_id != NULL) {
			snprintf(r->room_id, sizeof r->room_id, "%s", o->targets[i].room_id);
			r->room_id_given = true;
		}
		if (o->targets[i].unique_id != NULL)
			snprintf(r->unique_id, sizeof r->unique_id, "%s", o->targets[i].unique_id);
		tt_backoff_init(&r->backoff, 1000, 60000, 2.0, 0.2, o->max_attempts);
		if (!tt_ingest_init(&r->ing, out, o->euler ? "euler" : "direct", "live")) {
			l.nrooms = i + 1;
			live_free(&l);
			tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
			return TT_EXIT_FAILURE;
		}
		l.nrooms = i + 1;
		room_schedule(r, first_step(r), 0);
	}
	lws_sul_schedule(l.ctx, 0, &l.tick, on_tick, 1);
	while (l.ndone < l.nrooms) {
		if (lws_service(l.ctx, 0) < 0)
			break;
	}
	/* Sockets left (lws_service failed) close here, as stopped, before
	 * the status is taken. */
	l.stopping = true;
	lws_context_destroy(l.ctx);
	l.ctx = NULL;
	check_out(&l, tt_out_flush(out));
	rc = run_status(&l);
	log_exit(&l, rc);
	live_free(&l);
	return rc;
}
