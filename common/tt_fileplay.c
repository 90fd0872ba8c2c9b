/* tt_fileplay.c - see tt_fileplay.h. */
#include "tt_fileplay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_config.h"
#include "tt_exit.h"
#include "tt_buf.h"
#include "tt_frames.h"
#include "tt_ingest.h"
#include "tt_log.h"
#include "tt_pbjson.h"
#include "tt_wcemit.h"
#include "tt_webcast.h"

struct room {
	char id[TT_FRAMES_MAX_ROOM + 1];
	struct tt_ingest s;
};

struct play {
	struct tt_out *out;
	struct room *rooms[TT_FILEPLAY_MAX_ROOMS];
	size_t nrooms;
	struct room *last;           /* the room of the previous record */
	struct tt_webcast *wc;
	struct tt_json_parser *parser;
	struct tt_arena arena;       /* Euler bundles */
	struct tt_wc_counts counts;
	uint64_t records, bad_records, decode_errors, truncated, other_frames, sessions;
};

static bool
valid_room(const char *s, size_t len)
{
	return len >= 1 && len <= TT_FRAMES_MAX_ROOM && strlen(s) == len &&
	    s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")] == '\0';
}

static void
warn_record(const char *msg, uint64_t record, uint64_t offset, const char *detail)
{
	struct tt_logrec r;

	if (tt_log_begin(&r, TT_LOG_WARN, msg)) {
		tt_log_uint(&r, "record", record);
		tt_log_uint(&r, "offset", offset);
		if (detail != NULL)
			tt_log_str(&r, "detail", detail);
		tt_log_end(&r);
	}
}

/* The open session of room id (begun now if need be); NULL when there are
 * too many rooms, or on a write error (*ioerr set). */
static struct room *
room_for(struct play *pl, const char *id, bool *ioerr)
{
	struct room *rm = NULL;

	if (pl->last != NULL && strcmp(pl->last->id, id) == 0) {
		rm = pl->last;
	} else {
		for (size_t i = 0; i < pl->nrooms; i++)
			if (strcmp(pl->rooms[i]->id, id) == 0) {
				rm = pl->rooms[i];
				break;
			}
	}
	if (rm == NULL) {
		if (pl->nrooms == TT_FILEPLAY_MAX_ROOMS || (rm = calloc(1, sizeof *rm)) == NULL)
			return NULL;
		snprintf(rm->id, sizeof rm->id, "%s", id);
		if (!tt_ingest_init(&rm->s, pl->out, "file", "live")) {
			tt_ingest_free(&rm->s);
			free(rm);
			return NULL;
		}
		pl->rooms[pl->nrooms++] = rm;
	}
	pl->last = rm;
	if (!rm->s.open) {
		if (!tt_ingest_begin(&rm->s, rm->id, NULL, NULL)) {
			*ioerr = true;
			return NULL;
		}
		pl->sessions++;
	}
	return rm;
}

/* A record that did not decode: an ERROR frame, then the bytes as a RAW
 * frame of type what, so nothing is lost. */
static bool
undecodable(struct play *pl, struct room *rm, const char *what, const char *err,
    const struct tt_frames_record *rec)
{
	char detail[400];
	struct tt_buf b;
	bool ok;

	pl->decode_errors++;
	snprintf(detail, sizeof detail, "cannot decode %s: %s", what, err);
	if (!tt_ingest_error(&rm->s, "protocol", detail))
		return false;
	pl->counts.errors++;
	tt_buf_init(&b, (size_t)TT_WC_MAX_TEXT);
	if (!tt_buf_addc(&b, '"') || !tt_pbjson_base64(&b, rec->payload, rec->len) || !tt_buf_addc(&b, '"')) {
		tt_buf_free(&b);
		return true; /* said so in the ERROR frame */
	}
	ok = tt_ingest_emit_text(&rm->s, what, b.data, b.len, NULL);
	tt_buf_free(&b);
	pl->counts.raw++;
	pl->counts.messages++;
	return ok;
}

/* Plays one record. False on a write error. */
static bool
play_record(struct play *pl, const struct tt_fileplay_opts *o, const struct tt_frames_record *rec,
    uint64_t offset)
{
	struct tt_wc_frame f;
	enum tt_wc_status st;
	char err[256];
	struct room *rm;
	bool ioerr = false;
	int end = 0;

	if (rec->kind != 'B' && rec->kind != 'T' && rec->kind != 'F') {
		char k[8];

		snprintf(k, sizeof k, "0x%02x", (unsigned char)rec->kind);
		warn_record("recording: unknown record kind, skipped", pl->records, offset, k);
		pl->bad_records++;
		return true;
	}
	if (o->stream_id == NULL && !valid_room(rec->room, rec->room_len)) {
		warn_record("recording: record without a valid room id, skipped (see --stream-id)", pl->records,
		    offset, NULL);
		pl->bad_records++;
		return true;
	}
	rm = room_for(pl, o->stream_id != NULL ? o->stream_id : rec->room, &ioerr);
	if (rm == NULL) {
		if (ioerr)
			return false;
		warn_record("recording: too many rooms, record skipped", pl->records, offset, rec->room);
		pl->bad_records++;
		return true;
	}
	if (rec->kind == 'T')
		return tt_wc_emit_euler_text(&rm->s, pl->parser, &pl->arena, (const char *)rec->payload, rec->len,
		    &pl->counts, &end) &&
		    (end == 0 || tt_ingest_end(&rm->s, "stream_end"));
	if (rec->kind == 'F')
		st = tt_webcast_decode_result(pl->wc, rec->payload, rec->len, &f, err, sizeof err);
	else
		st = tt_webcast_decode_frame(pl->wc, rec->payload, rec->len, &f, err, sizeof err);
	if (st != TT_WC_OK)
		return undecodable(pl, rm, rec->kind == 'F' ? "ProtoMessageFetchResult" : "WebcastPushFrame", err, rec);
	if (!f.has_result) {
		pl->other_frames++; /* hb, im_enter_room_resp, ...: nothing to write */
		return true;
	}
	if (!tt_wc_emit_frame(&rm->s, &f, &pl->counts, &end))
		return false;
	for (size_t i = 0; i < f.nmessages; i++)
		if (f.messages[i].error != NULL)
			pl->decode_errors++;
	return end == 0 || tt_ingest_end(&rm->s, "stream_end");
}

static void
log_exit(const struct play *pl, const struct tt_fileplay_opts *o, int rc, const char *why)
{
	struct tt_logrec r;

	if (tt_log_begin(&r, rc == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_str(&r, "provider", "file");
		tt_log_str(&r, "file", o->path);
		tt_log_uint(&r, "records", pl->records);
		tt_log_uint(&r, "messages", pl->counts.messages);
		tt_log_uint(&r, "decoded", pl->counts.decoded);
		tt_log_uint(&r, "raw", pl->counts.raw);
		tt_log_uint(&r, "decodeErrors", pl->decode_errors);
		tt_log_uint(&r, "badRecords", pl->bad_records);
		tt_log_uint(&r, "truncated", pl->truncated);
		tt_log_uint(&r, "otherFrames", pl->other_frames);
		tt_log_uint(&r, "sessions", pl->sessions);
		tt_log_str(&r, "reason", why);
		tt_log_int(&r, "status", rc);
		tt_log_end(&r);
	}
}

int
tt_fileplay_run(const struct tt_fileplay_opts *o, struct tt_out *out)
{
	struct play *pl = calloc(1, sizeof *pl);
	struct tt_frames_reader rd;
	struct tt_frames_record rec;
	enum tt_frames_status st;
	const char *why = "end_of_file";
	int rc = TT_EXIT_OK;

	if (pl == NULL) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		return TT_EXIT_FAILURE;
	}
	pl->out = out;
	pl->wc = tt_webcast_new();
	pl->parser = tt_json_parser_new();
	tt_arena_init(&pl->arena, 64u << 20);
	st = tt_frames_open(&rd, o->path);
	if (pl->wc == NULL || pl->parser == NULL) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		rc = TT_EXIT_FAILURE;
		why = "error";
	} else if (st == TT_FRAMES_ERROR) {
		struct tt_logrec r;

		if (tt_log_begin(&r, TT_LOG_ERROR, "cannot open recording")) {
			tt_log_str(&r, "file", o->path);
			tt_log_str(&r, "error", strerror(errno));
			tt_log_end(&r);
		}
		rc = errno == ENOENT ? TT_EXIT_NOINPUT : TT_EXIT_FAILURE;
		why = "error";
	} else if (st == TT_FRAMES_BAD_MAGIC || st == TT_FRAMES_TRUNCATED) {
		tt_log_msg(TT_LOG_ERROR, "not a recording (no TTLCWS1 magic)", "file", o->path);
		rc = TT_EXIT_FAILURE;
		why = "error";
	}
	while (rc == TT_EXIT_OK && st == TT_FRAMES_OK) {
		uint64_t offset = rd.offset;

		if (tt_stop_requested()) {
			why = "stopped";
			break;
		}
		st = tt_frames_next(&rd, &rec);
		if (st == TT_FRAMES_EOF)
			break;
		if ((st == TT_FRAMES_ERROR || st == TT_FRAMES_TRUNCATED) && tt_stop_requested()) {
			why = "stopped"; /* the signal cut a read from a pipe short */
			break;
		}
		pl->records++;
		if (st == TT_FRAMES_TOO_LONG || st == TT_FRAMES_BAD_ROOM) {
			warn_record(st == TT_FRAMES_TOO_LONG ? "recording: payload too long, record skipped" :
			    "recording: room id longer than 64 bytes, record skipped", pl->records, offset, NULL);
			pl->bad_records++;
			st = TT_FRAMES_OK;
			continue;
		}
		if (st == TT_FRAMES_TRUNCATED) {
			warn_record("recording: the last record is cut short, ignored", pl->records, offset, NULL);
			pl->truncated++;
			break;
		}
		if (st == TT_FRAMES_ERROR) {
			tt_log_msg(TT_LOG_ERROR, "cannot read recording", "error", strerror(errno));
			rc = TT_EXIT_FAILURE;
			why = "error";
			break;
		}
		if (!play_record(pl, o, &rec, offset))
			rc = TT_EXIT_IOERR;
	}
	for (size_t i = 0; i < pl->nrooms; i++) {
		if (rc != TT_EXIT_IOERR && !tt_ingest_end(&pl->rooms[i]->s, why))
			rc = TT_EXIT_IOERR;
		tt_ingest_free(&pl->rooms[i]->s);
		free(pl->rooms[i]);
	}
	if (rc == TT_EXIT_IOERR)
		why = "output_error";
	log_exit(pl, o, rc, why);
	tt_frames_close_reader(&rd);
	tt_arena_free(&pl->arena);
	tt_json_parser_free(pl->parser);
	tt_webcast_free(pl->wc);
	free(pl);
	return rc;
}
