/* tt_frames.h - recordings of WebSocket traffic (tt-ingest --record, and
 * --provider file --frames to play them back).
 *
 * A recording is the 8-byte magic "TTLCWS1\n", then records; integers are
 * big-endian:
 *
 *   u64  receive time, microseconds since the Unix epoch
 *   u8   kind: 'B' a binary WebSocket message (a WebcastPushFrame),
 *              'T' a text WebSocket message (an Euler JSON bundle),
 *              'F' the sign server's HTTP 200 body (a fetch result)
 *   u8   n, the length of the room id (0..64)
 *   n    room id bytes
 *   u32  payload length (at most TT_FRAMES_MAX_PAYLOAD)
 *   payload bytes
 *
 * The writer checks every write; the reader is buffered and tells a clean
 * end of file from a cut one, a bad magic, and a record it cannot take.
 */
#ifndef TT_FRAMES_H
#define TT_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TT_FRAMES_MAGIC "TTLCWS1\n"
#define TT_FRAMES_MAGIC_LEN 8
#define TT_FRAMES_MAX_ROOM 64
#define TT_FRAMES_MAX_PAYLOAD (64u << 20)

/* ---- writer ------------------------------------------------------------- */

struct tt_frames_writer {
	FILE *f;
	const char *path;  /* for messages; not owned */
	int err;           /* errno of the first failure, 0 if none */
};

/* Opens path for writing: a new file (truncated) gets the magic; with
 * append, an existing non-empty file must start with the magic and
 * records go at its end. False with errno set (EINVAL: not a recording). */
bool tt_frames_create(struct tt_frames_writer *w, const char *path, bool append);

/* Writes one record. room may be NULL (no room id); room_len <= 64 and
 * len <= TT_FRAMES_MAX_PAYLOAD, else false with errno EINVAL. False on a
 * write error (remembered in w->err; every later write fails too). */
bool tt_frames_write(struct tt_frames_writer *w, uint64_t time_us, char kind, const char *room,
    size_t room_len, const void *payload, size_t len);

/* Pushes buffered records to the file. False on a write error. */
bool tt_frames_flush(struct tt_frames_writer *w);

/* Flushes and closes; false if any write (or the close) failed, with errno. */
bool tt_frames_close(struct tt_frames_writer *w);

/* ---- reader ------------------------------------------------------------- */

enum tt_frames_status {
	TT_FRAMES_OK,
	TT_FRAMES_EOF,        /* the end, on a record boundary */
	TT_FRAMES_TRUNCATED,  /* the file ends inside a record (or the magic) */
	TT_FRAMES_BAD_MAGIC,  /* not a recording (from tt_frames_open only) */
	TT_FRAMES_TOO_LONG,   /* a payload over TT_FRAMES_MAX_PAYLOAD, skipped */
	TT_FRAMES_BAD_ROOM,   /* a room id longer than 64 bytes; record skipped */
	TT_FRAMES_ERROR,      /* a read error; errno set */
};

struct tt_frames_record {
	uint64_t time_us;
	char kind;
	char room[TT_FRAMES_MAX_ROOM + 1]; /* NUL-terminated (may hold NUL) */
	size_t room_len;
	const uint8_t *payload;             /* valid until the next call */
	size_t len;
};

struct tt_frames_reader {
	FILE *f;
	uint8_t *buf;       /* the payload; grows up to TT_FRAMES_MAX_PAYLOAD */
	size_t cap;
	uint64_t offset;    /* bytes consumed: where the next record starts */
	uint64_t records;   /* records returned or skipped */
};

/* Opens path ("-" = standard input) and checks the magic: TT_FRAMES_OK,
 * TT_FRAMES_BAD_MAGIC, TT_FRAMES_TRUNCATED (shorter than the magic), or
 * TT_FRAMES_ERROR with errno. Close with tt_frames_close_reader in every
 * case. */
enum tt_frames_status tt_frames_open(struct tt_frames_reader *r, const char *path);

/* Reads the next record into rec. After TT_FRAMES_TOO_LONG and
 * TT_FRAMES_BAD_ROOM the record was skipped (rec holds its header) and
 * reading may go on; after TRUNCATED and ERROR it may not. */
enum tt_frames_status tt_frames_next(struct tt_frames_reader *r, struct tt_frames_record *rec);

void tt_frames_close_reader(struct tt_frames_reader *r);

/* A name for a status, for logs. */
const char *tt_frames_status_name(enum tt_frames_status st);

#endif
