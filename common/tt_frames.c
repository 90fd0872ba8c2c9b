/* tt_frames.c - see tt_frames.h. */
#include "tt_frames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void
put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- writer ------------------------------------------------------------- */

bool
tt_frames_create(struct tt_frames_writer *w, const char *path, bool append)
{
	char magic[TT_FRAMES_MAGIC_LEN];
	long size;

	memset(w, 0, sizeof w[0]);
	w->path = path;
	w->f = fopen(path, append ? "ab+" : "wb");
	if (w->f == NULL)
		return false;
	if (append) {
		if (fseek(w->f, 0, SEEK_END) != 0 || (size = ftell(w->f)) < 0)
			goto fail;
		if (size > 0) {
			if (fseek(w->f, 0, SEEK_SET) != 0 || fread(magic, 1, sizeof magic, w->f) != sizeof magic ||
			    memcmp(magic, TT_FRAMES_MAGIC, sizeof magic) != 0) {
				errno = EINVAL;
				goto fail;
			}
			/* "a" mode: writes go to the end wherever we read. */
			if (fseek(w->f, 0, SEEK_END) != 0)
				goto fail;
			return true;
		}
	}
	if (fwrite(TT_FRAMES_MAGIC, 1, TT_FRAMES_MAGIC_LEN, w->f) != TT_FRAMES_MAGIC_LEN)
		goto fail;
	return true;
fail: {
	int e = errno;

	fclose(w->f);
	w->f = NULL;
	errno = e;
	return false;
}
}

bool
tt_frames_write(struct tt_frames_writer *w, uint64_t time_us, char kind, const char *room,
    size_t room_len, const void *payload, size_t len)
{
	uint8_t head[8 + 1 + 1 + TT_FRAMES_MAX_ROOM + 4];
	size_t n = 0;

	if (w->err != 0) {
		errno = w->err;
		return false;
	}
	if (room == NULL)
		room_len = 0;
	if (room_len > TT_FRAMES_MAX_ROOM || len > TT_FRAMES_MAX_PAYLOAD) {
		errno = EINVAL;
		return false;
	}
	put_be(head, time_us, 8);
	head[8] = (uint8_t)kind;
	head[9] = (uint8_t)room_len;
	n = 10;
	if (room_len > 0)
		memcpy(head + n, room, room_len);
	n += room_len;
	put_be(head + n, len, 4);
	n += 4;
	if (fwrite(head, 1, n, w->f) != n || (len > 0 && fwrite(payload, 1, len, w->f) != len)) {
		w->err = errno != 0 ? errno : EIO;
		return false;
	}
	return true;
}

bool
tt_frames_flush(struct tt_frames_writer *w)
{
	if (w->err == 0 && fflush(w->f) != 0)
		w->err = errno != 0 ? errno : EIO;
	if (w->err != 0)
		errno = w->err;
	return w->err == 0;
}

bool
tt_frames_close(struct tt_frames_writer *w)
{
	bool ok;

	if (w->f == NULL)
		return w->err == 0;
	ok = tt_frames_flush(w);
	if (fclose(w->f) != 0 && ok) {
		w->err = errno != 0 ? errno : EIO;
		ok = false;
	}
	w->f = NULL;
	if (!ok)
		errno = w->err;
	return ok;
}

/* ---- reader ------------------------------------------------------------- */

enum tt_frames_status
tt_frames_open(struct tt_frames_reader *r, const char *path)
{
	char magic[TT_FRAMES_MAGIC_LEN];
	size_t n;

	memset(r, 0, sizeof *r);
	r->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (r->f == NULL)
		return TT_FRAMES_ERROR;
	setvbuf(r->f, NULL, _IOFBF, 1u << 20);
	n = fread(magic, 1, sizeof magic, r->f);
	r->offset = n;
	if (n < sizeof magic) {
		if (ferror(r->f))
			return TT_FRAMES_ERROR;
		return n == 0 ? TT_FRAMES_EOF : TT_FRAMES_TRUNCATED;
	}
	return memcmp(magic, TT_FRAMES_MAGIC, sizeof magic) == 0 ? TT_FRAMES_OK : TT_FRAMES_BAD_MAGIC;
}

/* Reads exactly n bytes: OK, TRUNCATED (the file ended first) or ERROR. */
static enum tt_frames_status
read_full(struct tt_frames_reader *r, void *p, size_t n)
{
	size_t got = n > 0 ? fread(p, 1, n, r->f) : 0;

	r->offset += got;
	if (got == n)
		return TT_FRAMES_OK;
	return ferror(r->f) ? TT_FRAMES_ERROR : TT_FRAMES_TRUNCATED;
}

/* Skips n bytes of payload. */
static enum tt_frames_status
skip(struct tt_frames_reader *r, uint64_t n)
{
	uint8_t tmp[65536];

	while (n > 0) {
		size_t k = n < sizeof tmp ? (size_t)n : sizeof tmp;
		enum tt_frames_status st = read_full(r, tmp, k);

		if (st != TT_FRAMES_OK)
			return st;
		n -= k;
	}
	return TT_FRAMES_OK;
}

enum tt_frames_status
tt_frames_next(struct tt_frames_reader *r, struct tt_frames_record *rec)
{
	uint8_t head[10], lenb[4];
	size_t got;
	enum tt_frames_status st;
	uint64_t len;

	memset(rec, 0, sizeof *rec);
	got = fread(head, 1, sizeof head, r->f);
	r->offset += got;
	if (got == 0)
		return ferror(r->f) ? TT_FRAMES_ERROR : TT_FRAMES_EOF;
	if (got < sizeof head)
		return ferror(r->f) ? TT_FRAMES_ERROR : TT_FRAMES_TRUNCATED;
	rec->time_us = get_be(head, 8);
	rec->kind = (char)head[8];
	rec->room_len = head[9];
	if (rec->room_len > TT_FRAMES_MAX_ROOM) {
		uint8_t room[255];

		if ((st = read_full(r, room, rec->room_len)) != TT_FRAMES_OK ||
		    (st = read_full(r, lenb, 4)) != TT_FRAMES_OK || (st = skip(r, get_be(lenb, 4))) != TT_FRAMES_OK)
			return st;
		r->records++;
		return TT_FRAMES_BAD_ROOM;
	}
	if ((st = read_full(r, rec->room, rec->room_len)) != TT_FRAMES_OK)
		return st;
	rec->room[rec->room_len] = '\0';
	if ((st = read_full(r, lenb, 4)) != TT_FRAMES_OK)
		return st;
	len = get_be(lenb, 4);
	rec->len = (size_t)len;
	if (len > TT_FRAMES_MAX_PAYLOAD) {
		if ((st = skip(r, len)) != TT_FRAMES_OK)
			return st;
		r->records++;
		return TT_FRAMES_TOO_LONG;
	}
	if (len > r->cap) {
		size_t cap = r->cap < 65536 ? 65536 : r->cap;
		uint8_t *p;

		while (cap < len)
			cap *= 2;
		if (cap > TT_FRAMES_MAX_PAYLOAD)
			cap = TT_FRAMES_MAX_PAYLOAD;
		p = realloc(r->buf, cap);
		if (p == NULL) {
			errno = ENOMEM;
			return TT_FRAMES_ERROR;
		}
		r->buf = p;
		r->cap = cap;
	}
	if ((st = read_full(r, r->buf, (size_t)len)) != TT_FRAMES_OK)
		return st;
	rec->payload = r->buf != NULL ? r->buf : (const uint8_t *)"";
	r->records++;
	return TT_FRAMES_OK;
}

void
tt_frames_close_reader(struct tt_frames_reader *r)
{
	if (r->f != NULL && r->f != stdin)
		fclose(r->f);
	free(r->buf);
	memset(r, 0, sizeof *r);
}

const char *
tt_frames_status_name(enum tt_frames_status st)
{
	switch (st) {
	case TT_FRAMES_OK: return "ok";
	case TT_FRAMES_EOF: return "eof";
	case TT_FRAMES_TRUNCATED: return "truncated";
	case TT_FRAMES_BAD_MAGIC: return "bad_magic";
	case TT_FRAMES_TOO_LONG: return "too_long";
	case TT_FRAMES_BAD_ROOM: return "bad_room";
	case TT_FRAMES_ERROR: return "error";
	}
	return "unknown";
}
