/* tt_pbjson.c - see tt_pbjson.h. */
#include "tt_pbjson.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct enc {
	struct tt_buf *out;
	const char *why; /* set on failure */
};

/* ---- scalars ------------------------------------------------------------ */

/* "00" .. "99": two digits per division. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal digits of v, written backwards from the end of buf; returns the
 * first digit. */
static char *
u64_digits(uint64_t v, char *end)
{
	while (v >= 100) {
		const char *d = digit_pairs + 2 * (v % 100);

		v /= 100;
		*--end = d[1];
		*--end = d[0];
	}
	if (v >= 10) {
		*--end = digit_pairs[2 * v + 1];
		*--end = digit_pairs[2 * v];
	} else {
		*--end = (char)('0' + v);
	}
	return end;
}

/* The most put_u64 and put_i64 write: '"', '-', 20 digits, '"'. */
#define NUM_MAX 24

/* Appends the number text p[0..n) (p within buf[0..2 * NUM_MAX), at most
 * NUM_MAX before its end) with one fixed-size copy, which the compiler
 * turns into a few moves where a call to memcpy cost more than the digits. */
static inline bool
put_num(struct tt_buf *o, const char *p, size_t n)
{
	if (!tt_buf_reserve(o, NUM_MAX))
		return false;
	memcpy(o->data + o->len, p, NUM_MAX);
	o->len += n;
	return true;
}

static bool
put_u64(struct tt_buf *o, uint64_t v, bool quoted)
{
	char buf[2 * NUM_MAX], *end = buf + NUM_MAX, *p = u64_digits(v, end - 1);

	end[-1] = '"';
	if (quoted)
		*--p = '"';
	return put_num(o, p, (size_t)(end - p) - (quoted ? 0 : 1));
}

static bool
put_i64(struct tt_buf *o, int64_t v, bool quoted)
{
	char buf[2 * NUM_MAX], *end = buf + NUM_MAX, *p;
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	p = u64_digits(mag, end - 1);
	end[-1] = '"';
	if (v < 0)
		*--p = '-';
	if (quoted)
		*--p = '"';
	return put_num(o, p, (size_t)(end - p) - (quoted ? 0 : 1));
}

static bool
put_double(struct tt_buf *o, double v, int digits)
{
	char buf[40];
	int n;

	if (isnan(v))
		return tt_buf_adds(o, "\"NaN\"");
	if (isinf(v))
		return tt_buf_adds(o, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	n = snprintf(buf, sizeof buf, "%.*g", digits, v);
	return n > 0 && (size_t)n < sizeof buf && tt_buf_add(o, buf, (size_t)n);
}

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool
tt_pbjson_base64(struct tt_buf *out, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t full = n / 3, rest = n % 3, need;
	char *w;

	if (full > (SIZE_MAX - 4) / 4)
		return out->failed = true, false;
	need = full * 4 + (rest != 0 ? 4 : 0);
	if (!tt_buf_reserve(out, need))
		return false;
	w = out->data + out->len;
	for (size_t i = 0; i < full; i++, p += 3) {
		uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

		*w++ = b64_alphabet[v >> 18];
		*w++ = b64_alphabet[v >> 12 & 63];
		*w++ = b64_alphabet[v >> 6 & 63];
		*w++ = b64_alphabet[v & 63];
	}
	if (rest != 0) {
		uint32_t v = (uint32_t)p[0] << 16 | (rest == 2 ? (uint32_t)p[1] << 8 : 0);

		*w++ = b64_alphabet[v >> 18];
		*w++ = b64_alphabet[v >> 12 & 63];
		*w++ = rest == 2 ? b64_alphabet[v >> 6 & 63] : '=';
		*w++ = '=';
	}
	out->len += need;
	return true;
}

/* The length of the valid UTF-8 sequence at s[0..n) (s[0] >= 0x80), or 0
 * when it is not one (overlong, surrogate, past U+10FFFF, cut short). */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0; /* overlong, past U+10FFFF */
		return 4;
	}
	return 0;
}

/* Which ASCII bytes need an escape: control characters, '"' and '\\'. */
static const unsigned char needs_escape[128] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	['\\'] = 1,
};

/* Nonzero when one of the eight bytes in v is not plain printable ASCII:
 * >= 0x80, < 0x20, '"' or '\\' (the classic "has a zero byte" test on v
 * and on v xor each special character). */
static inline uint64_t
plain8(uint64_t v)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');

	return (v & high) | ((v - ones * 0x20) & ~v & high) | ((q - ones) & ~q & high) | ((b - ones) & ~b & high);
}

/* The length of the leading run of s[0..n) that needs no look: printable
 * ASCII other than '"' and '\\'. */
static size_t
plain_run(const unsigned char *s, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	/* Sixteen bytes at a time. The compare is signed: bytes >= 0x80 are
	 * negative, so one "less than 0x20" finds them and the controls. */
	const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');

	for (; n - i >= 16; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, space),
		    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
		unsigned m = (unsigned)_mm_movemask_epi8(bad);

		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; n - i >= 8; i += 8) {
		uint64_t v;

		memcpy(&v, s + i, 8);
		if (plain8(v) != 0)
			break;
	}
	/* The last 1..7 bytes of a string of 8 or more: the eight that end
	 * it, overlapping what was looked at, in one test. */
	if (i < n && n - i < 8 && n >= 8) {
		uint64_t v;

		memcpy(&v, s + n - 8, 8);
		if (plain8(v) == 0)
			return n;
	}
	while (i < n && s[i] < 0x80 && !needs_escape[s[i]])
		i++;
	return i;
}

/* tt_pbjson_string; with stop_at_nul, s[0..n) ends at its first NUL
 * byte, as protobuf-c's strings do when read with strlen (no valid UTF-8
 * sequence holds a NUL, so where the text stops changes nothing before). */
static inline __attribute__((always_inline)) bool
json_string(struct tt_buf *out, const char *str, size_t n, bool stop_at_nul)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	/* The common case, printable ASCII, is copied in runs: one for most
	 * strings, into the room reserved here. */
	if (!tt_buf_reserve(out, n + 2))
		return false;
	out->data[out->len++] = '"';
	for (;;) {
		size_t k = plain_run(s + i, n - i);
		unsigned char c;

		if (!tt_buf_add(out, s + i, k))
			return false;
		i += k;
		if (i == n)
			break;
		c = s[i];
		if (c == 0 && stop_at_nul)
			break;
		if (c < 0x80) {
			char esc[7] = { '\\', 0 };
			size_t elen = 2;

			switch (c) {
			case '"': esc[1] = '"'; break;
			case '\\': esc[1] = '\\'; break;
			case '\n': esc[1] = 'n'; break;
			case '\r': esc[1] = 'r'; break;
			case '\t': esc[1] = 't'; break;
			case '\b': esc[1] = 'b'; break;
			case '\f': esc[1] = 'f'; break;
			default:
				memcpy(esc + 1, "u00", 3);
				esc[4] = "0123456789abcdef"[c >> 4];
				esc[5] = "0123456789abcdef"[c & 15];
				elen = 6;
			}
			if (!tt_buf_add(out, esc, elen))
				return false;
			i++;
		} else if ((k = utf8_seq(s + i, n - i)) != 0) {
			if (!tt_buf_add(out, s + i, k))
				return false;
			i += k;
		} else {
			if (!tt_buf_add(out, "\xef\xbf\xbd", 3))
				return false;
			i++;
		}
	}
	return tt_buf_addc(out, '"');
}

bool
tt_pbjson_string(struct tt_buf *out, const char *str, size_t n)
{
	return json_string(out, str, n, false);
}

/* ---- fields ------------------------------------------------------------- */

static bool encode_message(struct enc *e, const ProtobufCMessage *m, int depth);

/* Whether a singular field of proto3 holds its default (and is left out). */
static bool
is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return *(const uint32_t *)p == 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)p == 0;
	case PROTOBUF_C_TYPE_FLOAT: {
		float v = *(const float *)p;

		return v == 0 && !signbit(v);
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		double v = *(const double *)p;

		return v == 0 && !signbit(v);
	}
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)p;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)p;

		return s == NULL || *s == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(const void *const *)p == NULL;
	}
	return true;
}

/* Writes one value of field f stored at p. as_key: the string form, for a
 * map key (always quoted). */
static bool
put_value(struct enc *e, const ProtobufCFieldDescriptor *f, const void *p, int depth, bool as_key)
{
	struct tt_buf *o = e->out;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return put_i64(o, *(const int32_t *)p, as_key);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return put_u64(o, *(const uint32_t *)p, as_key);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return put_i64(o, *(const int64_t *)p, true);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return put_u64(o, *(const uint64_t *)p, true);
	case PROTOBUF_C_TYPE_FLOAT:
		return put_double(o, *(const float *)p, 9);
	case PROTOBUF_C_TYPE_DOUBLE:
		return put_double(o, *(const double *)p, 17);
	case PROTOBUF_C_TYPE_BOOL:
		if (as_key)
			return tt_buf_adds(o, *(const protobuf_c_boolean *)p ? "\"true\"" : "\"false\"");
		return tt_buf_adds(o, *(const protobuf_c_boolean *)p ? "true" : "false");
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)p;

		return s == NULL ? tt_buf_adds(o, "\"\"") : tt_pbjson_string(o, s, strlen(s));
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;

		return tt_buf_addc(o, '"') && tt_pbjson_base64(o, b->data, b->len) && tt_buf_addc(o, '"');
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;

		if (m == NULL) /* a map value that was not sent */
			return tt_buf_adds(o, "{}");
		return encode_message(e, m, depth + 1);
	}
	}
	return false;
}

/* The size of one element of a repeated field of type t. */
static size_t
elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	default:
		return 4;
	}
}

/*
 * protobuf-c keeps no trace of the map_entry option: a map<K,V> field
 * arrives as a repeated field of a nested message type. protoc builds that
 * type by one rule: it is nested in the message holding the field, named
 * after the field in UpperCamelCase plus "Entry", with exactly the fields
 * key = 1 and value = 2, the key of an integral, bool or string type. A
 * message written by hand cannot take that name in that place (protoc
 * rejects the clash), so a field passing all of these checks is a map.
 */
bool
tt_pbjson_is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	const ProtobufCFieldDescriptor *k, *v;
	char want[256];
	size_t n = 0, plen;
	bool up = true;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE || d == NULL ||
	    d->n_fields != 2)
		return false;
	k = &d->fields[0];
	v = &d->fields[1];
	if (k->id != 1 || v->id != 2 || strcmp(k->name, "key") != 0 || strcmp(v->name, "value") != 0 ||
	    k->label == PROTOBUF_C_LABEL_REPEATED || v->label == PROTOBUF_C_LABEL_REPEATED)
		return false;
	switch (k->type) {
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
	case PROTOBUF_C_TYPE_ENUM:
		return false;
	default:
		break;
	}
	/* The entry's expected short name: FieldName + "Entry". */
	for (const char *s = f->name; *s != '\0' && n < sizeof want - 7; s++) {
		if (*s == '_') {
			up = true;
			continue;
		}
		want[n++] = up && *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
		up = false;
	}
	memcpy(want + n, "Entry", 6);
	if (strcmp(d->short_name, want) != 0)
		return false;
	plen = strlen(parent->name);
	return strncmp(d->name, parent->name, plen) == 0 && d->name[plen] == '.' &&
	    strcmp(d->name + plen + 1, d->short_name) == 0;
}

/* Whether two map keys (field k of entries a and b) are equal. */
static bool
same_key(const ProtobufCFieldDescriptor *k, const void *a, const void *b)
{
	const void *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;

	if (k->type == PROTOBUF_C_TYPE_STRING) {
		const char *sa = *(const char *const *)pa, *sb = *(const char *const *)pb;

		return strcmp(sa != NULL ? sa : "", sb != NULL ? sb : "") == 0;
	}
	return memcmp(pa, pb, elem_size(k->type)) == 0;
}

static bool
put_map(struct enc *e, const ProtobufCFieldDescriptor *f, size_t n, void *const *entries, int depth)
{
	const ProtobufCMessageDescriptor *d = f->descriptor;
	const ProtobufCFieldDescriptor *k = &d->fields[0], *v = &d->fields[1];
	bool first = true;

	if (!tt_buf_addc(e->out, '{'))
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *ent = entries[i];
		bool later = false;

		if (n <= TT_PBJSON_MAP_DEDUP)
			for (size_t j = i + 1; j < n && !later; j++)
				later = same_key(k, ent, entries[j]);
		if (later)
			continue; /* a later entry with this key wins */
		if ((!first && !tt_buf_addc(e->out, ',')) || !put_value(e, k, ent + k->offset, depth, true) ||
		    !tt_buf_addc(e->out, ':') || !put_value(e, v, ent + v->offset, depth, false))
			return false;
		first = false;
	}
	return tt_buf_addc(e->out, '}');
}

/* Writes ,"name": (no comma before the first member). */
static bool
put_member_name(struct tt_buf *o, const char *name, bool *first)
{
	size_t n = strlen(name);

	if (!tt_buf_reserve(o, n + 4))
		return false;
	if (!*first)
		o->data[o->len++] = ',';
	o->data[o->len++] = '"';
	memcpy(o->data + o->len, name, n);
	o->len += n;
	o->data[o->len++] = '"';
	o->data[o->len++] = ':';
	*first = false;
	return true;
}

static bool
encode_message(struct enc *e, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	struct tt_buf *o = e->out;
	bool first = true;

	if (depth > TT_PBJSON_MAX_DEPTH) {
		e->why = "nested too deep";
		return false;
	}
	if (!tt_buf_addc(o, '{'))
		return false;
	/* protobuf-c keeps d->fields sorted by number (its unpacker's
	 * binary search depends on it): field number order for free. */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = base + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(const char *const *)p;
			size_t sz = elem_size(f->type);

			if (n == 0 || arr == NULL)
				continue;
			if (!put_member_name(o, f->name, &first))
				return false;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && tt_pbjson_is_map(d, f)) {
				if (!put_map(e, f, n, (void *const *)arr, depth))
					return false;
				continue;
			}
			if (!tt_buf_addc(o, '['))
				return false;
			for (size_t j = 0; j < n; j++) {
				if ((j > 0 && !tt_buf_addc(o, ',')) || !put_value(e, f, arr + j * sz, depth, false))
					return false;
			}
			if (!tt_buf_addc(o, ']'))
				return false;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    f->type != PROTOBUF_C_TYPE_STRING) {
			if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
			if (*(const void *const *)p == NULL ||
			    (f->type == PROTOBUF_C_TYPE_STRING && *(const char *const *)p == f->default_value))
				continue; /* proto2: absent, or the default's own pointer */
		} else if (f->label == PROTOBUF_C_LABEL_NONE && is_default(f, p)) {
			continue;
		}
		if (!put_member_name(o, f->name, &first))
			return false;
		if (!put_value(e, f, p, depth, false))
			return false;
	}
	return tt_buf_addc(o, '}');
}

bool
tt_pbjson_encode(struct tt_buf *out, const ProtobufCMessage *msg, char *err, size_t errsz)
{
	struct enc e = { .out = out, .why = NULL };

	if (encode_message(&e, msg, 0))
		return true;
	if (errsz > 0) {
		if (e.why != NULL)
			snprintf(err, errsz, "%s (more than %d levels)", e.why, TT_PBJSON_MAX_DEPTH);
		else
			snprintf(err, errsz, "JSON larger than %zu bytes", out->max);
	}
	return false;
}

/* ---- straight from the wire --------------------------------------------- */

/*
 * tt_pbjson_encode_wire writes what protobuf_c_message_unpack followed by
 * tt_pbjson_encode would write, reading the protobuf bytes in place: no
 * allocation per field, no copy of a string or bytes field. It keeps to
 * that promise by accepting only input it reproduces exactly, and giving
 * up on everything else: malformed or truncated bytes, a wire type that
 * does not fit the field (even where protobuf-c would cope, as it does
 * with a bool sent as fixed32), a singular message field sent twice
 * (protobuf-c merges the two), groups, oneofs, proto2 labels, nesting
 * past TT_PBJSON_MAX_DEPTH, the output ceiling. The caller then takes the
 * protobuf-c path, so errors and edge cases keep their exact behaviour
 * and messages; giving up costs time, never correctness.
 *
 * Two passes per message: scan the fields into an array of (field, offset,
 * length) on a stack shared by the nesting levels (one allocation, kept
 * and reused), sort it by field number when the wire was not in order
 * (a stable counting sort, so repeated values keep their order), then
 * write the JSON field by field.
 */

enum {
	WT_VARINT = 0,
	WT_64BIT = 1,
	WT_LEN = 2,
	WT_32BIT = 5,
};

/* One occurrence of a known field in the scanned message. */
struct went {
	uint32_t key; /* field index << 3 | wire type; WENT_ABSENT: a map entry's missing key or value */
	uint32_t off; /* offset of the value (past any length prefix) from the start of the message */
	uint32_t len; /* the value's length in bytes */
};

#define WENT_ABSENT UINT32_MAX

/* What the walker needs of one field, worked out once per descriptor. */
struct wfield {
	uint8_t kind; /* WF_* */
	uint8_t wt;   /* the wire type of one value */
	bool packable; /* a scalar: a repeated one may also come packed (wire type 2) */
	uint16_t nlen; /* strlen(name) */
	const char *jname; /* "name": (nlen + 3 bytes), to copy in one go */
};

enum {
	WF_SINGLE,   /* proto3 singular, no oneof */
	WF_REPEATED,
	WF_MAP,      /* repeated map entry (tt_pbjson_is_map) */
	WF_BAD,      /* oneof, proto2 optional: left to protobuf-c */
};

/* What the walker knows of one message type: one allocation, the fields
 * followed by their "name": strings. */
struct wmsg {
	uint8_t byid[64];   /* the index of field number 0..63, 0xff: none */
	struct wfield f[];  /* d->n_fields entries */
};

struct wdesc {
	const ProtobufCMessageDescriptor *d;
	struct wmsg *m; /* NULL: the whole message is left to protobuf-c */
};

#define JNAME_PAD 32              /* see put_name */
#define WDESC_SLOTS 1024        /* descriptors the walker knows; a power of two */
#define WENT_MAX (1u << 22)     /* field occurrences in scope at once (48 MiB) */
#define WENT_KEEP (1u << 16)    /* entries kept allocated between messages */

struct tt_pbjson_wire {
	struct went *ents; /* the scan stack */
	size_t n, cap;
	size_t ndesc;
	struct wdesc desc[WDESC_SLOTS]; /* open addressing on the pointer */
};

struct tt_pbjson_wire *
tt_pbjson_wire_new(void)
{
	return calloc(1, sizeof(struct tt_pbjson_wire));
}

void
tt_pbjson_wire_free(struct tt_pbjson_wire *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < WDESC_SLOTS; i++)
		free(w->desc[i].m);
	free(w->ents);
	free(w);
}

static uint8_t
wire_type_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return WT_32BIT;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return WT_64BIT;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return WT_LEN;
	default:
		return WT_VARINT;
	}
}

/* Whether the map entry type d holds nothing the walker would write
 * differently: key and value singular, no default but proto3's. */
static bool
plain_entry(const ProtobufCMessageDescriptor *d)
{
	for (unsigned i = 0; i < 2; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if ((f->label != PROTOBUF_C_LABEL_NONE && f->label != PROTOBUF_C_LABEL_OPTIONAL) ||
		    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0)
			return false;
		if (f->default_value != NULL &&
		    !(f->type == PROTOBUF_C_TYPE_STRING && f->default_value == &protobuf_c_empty_string))
			return false;
	}
	return true;
}

/* The walker's view of d, built on first use; NULL when d is left to
 * protobuf-c (a required field, or no room or memory for it). */
static const struct wmsg *
wire_fields(struct tt_pbjson_wire *w, const ProtobufCMessageDescriptor *d)
{
	size_t h = (size_t)(((uintptr_t)d >> 3) * 0x9e3779b97f4a7c15u >> 40);
	struct wdesc *s;
	struct wmsg *m;
	struct wfield *wf;
	size_t names = 0;
	char *jn;

	for (;; h++) {
		s = &w->desc[h & (WDESC_SLOTS - 1)];
		if (s->d == d)
			return s->m;
		if (s->d == NULL)
			break;
	}
	if (w->ndesc >= WDESC_SLOTS / 2)
		return NULL; /* keep the table sparse; never reached with our .proto */
	for (unsigned i = 0; i < d->n_fields; i++)
		names += strlen(d->fields[i].name) + 3;
	/* One block: the fields, then their "name": strings, then JNAME_PAD
	 * bytes so put_name may copy that many from any of them. */
	if ((m = calloc(1, sizeof *m + d->n_fields * sizeof *wf + names + JNAME_PAD)) == NULL)
		return NULL;
	memset(m->byid, 0xff, sizeof m->byid);
	wf = m->f;
	jn = (char *)(wf + d->n_fields);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t nlen = strlen(f->name);

		wf[i].jname = jn;
		*jn++ = '"';
		memcpy(jn, f->name, nlen);
		jn += nlen;
		*jn++ = '"';
		*jn++ = ':';

		if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
			free(m);
			m = NULL; /* unpack fails when it is missing */
			break;
		}
		if (f->id < sizeof m->byid && i < 0xff)
			m->byid[f->id] = (uint8_t)i;
		wf[i].wt = wire_type_of(f->type);
		wf[i].packable = wf[i].wt != WT_LEN;
		wf[i].nlen = (uint16_t)nlen;
		if (nlen > UINT16_MAX || (i > 0 && f->id <= d->fields[i - 1].id))
			wf[i].kind = WF_BAD;
		else if (f->label == PROTOBUF_C_LABEL_REPEATED)
			wf[i].kind = f->type != PROTOBUF_C_TYPE_MESSAGE || !tt_pbjson_is_map(d, f) ? WF_REPEATED
			    : plain_entry(f->descriptor) ? WF_MAP : WF_BAD;
		else if (f->label == PROTOBUF_C_LABEL_NONE && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0)
			wf[i].kind = WF_SINGLE;
		else
			wf[i].kind = WF_BAD;
	}
	s->d = d;
	s->m = m;
	w->ndesc++;
	return m;
}

/* Makes room for k more entries on the stack. */
static bool
went_reserve(struct tt_pbjson_wire *w, size_t k)
{
	size_t cap = w->cap == 0 ? 256 : w->cap;
	struct went *e;

	if (w->cap - w->n >= k)
		return true;
	if (k > WENT_MAX - w->n)
		return false;
	while (cap - w->n < k)
		cap *= 2;
	if (cap > WENT_MAX)
		cap = WENT_MAX;
	if ((e = realloc(w->ents, cap * sizeof *e)) == NULL)
		return false;
	w->ents = e;
	w->cap = cap;
	return true;
}

static bool
went_push(struct tt_pbjson_wire *w, uint32_t key, size_t off, size_t len)
{
	if (!went_reserve(w, 1))
		return false;
	w->ents[w->n++] = (struct went){ .key = key, .off = (uint32_t)off, .len = (uint32_t)len };
	return true;
}

/* The index of the field numbered id in d (fields sorted by number), or
 * -1. */
static inline int
field_index(const ProtobufCMessageDescriptor *d, const struct wmsg *m, uint32_t id)
{
	unsigned lo = 0, hi = d->n_fields;

	if (id < sizeof m->byid)
		return m->byid[id] == 0xff ? -1 : m->byid[id];
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (d->fields[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->n_fields && d->fields[lo].id == id ? (int)lo : -1;
}

/*
 * Reads one tag and the extent of its value at p[*pos..n), with
 * protobuf-c's limits (a tag of at most 5 bytes and not 0 in its first
 * byte, varints of at most 10 bytes, length prefixes of at most 5). On
 * success *pos is past the value, *voff and *vlen its bytes. False on
 * anything protobuf-c rejects, and on a length prefix of 2^31 or more
 * (whose handling differs between protobuf-c versions).
 */
static inline __attribute__((always_inline)) bool
wire_next(const uint8_t *p, size_t n, size_t *pos, uint32_t *tag, unsigned *wt, size_t *voff, size_t *vlen)
{
	size_t at = *pos, rem = n - at, i, max;
	uint8_t b = p[at];
	uint32_t t = (b & 0x7f) >> 3;

	if ((b & 0xf8) == 0)
		return false;
	*wt = b & 7;
	if (b & 0x80) {
		unsigned shift = 4;

		max = rem > 5 ? 5 : rem;
		for (i = 1; i < max; i++) {
			t |= (uint32_t)(p[at + i] & 0x7f) << shift;
			shift += 7;
			if ((p[at + i] & 0x80) == 0)
				break;
		}
		if (i == max)
			return false;
		at += i + 1;
	} else {
		at++;
	}
	*tag = t;
	rem = n - at;
	/* One-byte varints and length prefixes first: most of them. */
	if (rem > 0 && p[at] < 0x80) {
		if (*wt == WT_VARINT) {
			*voff = at;
			*vlen = 1;
			*pos = at + 1;
			return true;
		}
		if (*wt == WT_LEN) {
			if (p[at] > rem - 1)
				return false;
			*voff = at + 1;
			*vlen = p[at];
			*pos = *voff + *vlen;
			return true;
		}
	}
	switch (*wt) {
	case WT_VARINT:
		max = rem < 10 ? rem : 10;
		for (i = 0; i < max && (p[at + i] & 0x80) != 0; i++)
			;
		if (i == max)
			return false;
		*voff = at;
		*vlen = i + 1;
		break;
	case WT_64BIT:
	case WT_32BIT:
		*vlen = *wt == WT_64BIT ? 8 : 4;
		if (rem < *vlen)
			return false;
		*voff = at;
		break;
	case WT_LEN: {
		size_t v = 0;

		max = rem < 5 ? rem : 5;
		for (i = 0; i < max; i++) {
			v |= (size_t)(p[at + i] & 0x7f) << (7 * i);
			if ((p[at + i] & 0x80) == 0)
				break;
		}
		if (i == max || (i == 4 && p[at + 4] > 0x07) || v > rem - (i + 1))
			return false;
		*voff = at + i + 1;
		*vlen = v;
		break;
	}
	default:
		return false; /* groups (3, 4) and 6, 7: protobuf-c refuses them */
	}
	*pos = *voff + *vlen;
	return true;
}

/* Scans the message p[0..n) of type d onto w's stack: one entry per known
 * field occurrence, unknown fields skipped. *sorted: the fields came in
 * number order. False: give up. */
static bool
wire_scan(struct tt_pbjson_wire *w, const ProtobufCMessageDescriptor *d, const struct wmsg *m,
    const uint8_t *p, size_t n, bool *sorted)
{
	const struct wfield *wf = m->f;
	size_t pos = 0, voff, vlen;
	unsigned last = 0;
	uint32_t tag;
	unsigned wt;

	/* Every field takes two bytes at least (a tag, a value or a length):
	 * room for all of them now, none to check below. */
	if (!went_reserve(w, n / 2 + 1))
		return false;
	*sorted = true;
	while (pos < n) {
		int idx;

		if (!wire_next(p, n, &pos, &tag, &wt, &voff, &vlen))
			return false;
		if ((idx = field_index(d, m, tag)) < 0)
			continue;
		if (wf[idx].kind == WF_BAD)
			return false;
		if (wt != wf[idx].wt && !(wt == WT_LEN && wf[idx].kind == WF_REPEATED && wf[idx].packable))
			return false;
		if ((unsigned)idx < last)
			*sorted = false;
		last = (unsigned)idx;
		w->ents[w->n++] = (struct went){ .key = (uint32_t)idx << 3 | wt, .off = (uint32_t)voff, .len = (uint32_t)vlen };
	}
	return true;
}

/* Sorts w->ents[base..w->n) by field index, keeping the wire order within
 * a field. */
static bool
wire_sort(struct tt_pbjson_wire *w, unsigned nfields, size_t base)
{
	size_t end = w->n, cnt = end - base;
	uint32_t start[257];

	if (nfields > 256)
		return false;
	if (!went_reserve(w, cnt)) /* room for a copy above the stack */
		return false;
	memcpy(w->ents + end, w->ents + base, cnt * sizeof *w->ents);
	memset(start, 0, sizeof start);
	for (size_t i = 0; i < cnt; i++)
		start[(w->ents[end + i].key >> 3) + 1]++;
	for (unsigned f = 1; f <= nfields; f++)
		start[f] += start[f - 1];
	for (size_t i = 0; i < cnt; i++) {
		const struct went *e = &w->ents[end + i];

		w->ents[base + start[e->key >> 3]++] = *e;
	}
	w->n = end;
	return true;
}

/* protobuf-c's decoding of the varint v[0..len), 64 bits (32-bit types
 * keep the low half). */
static uint64_t
wire_varint(const uint8_t *v, size_t len)
{
	uint64_t r = 0;

	if (len == 1) /* most of them: a small number, a length, a bool */
		return v[0] & 0x7f;

	for (size_t i = 0; i < len; i++)
		r |= (uint64_t)(v[i] & 0x7f) << (7 * i);
	return r;
}

/* protobuf-c's bool: any value bit set, in any of the varint's bytes. */
static bool
wire_bool(const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (v[i] & 0x7f)
			return true;
	return false;
}

static uint32_t
wire_le32(const uint8_t *v)
{
	return (uint32_t)v[0] | (uint32_t)v[1] << 8 | (uint32_t)v[2] << 16 | (uint32_t)v[3] << 24;
}

static uint64_t
wire_le64(const uint8_t *v)
{
	return (uint64_t)wire_le32(v) | (uint64_t)wire_le32(v + 4) << 32;
}

/* A string as protobuf-c keeps it: up to its first NUL. */
static size_t
wire_strlen(const uint8_t *v, size_t len)
{
	const uint8_t *z = len > 0 ? memchr(v, 0, len) : NULL;

	return z != NULL ? (size_t)(z - v) : len;
}

/* Whether a singular non-message value holds its proto3 default (the
 * test of is_default on what unpack would store). */
static bool
wire_is_default(ProtobufCType t, const uint8_t *v, size_t len)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_ENUM:
		return (uint32_t)wire_varint(v, len) == 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
		return wire_varint(v, len) == 0;
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT: /* +0.0 only: all bits clear */
		return wire_le32(v) == 0;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return wire_le64(v) == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return !wire_bool(v, len);
	case PROTOBUF_C_TYPE_STRING:
		return wire_strlen(v, len) == 0;
	case PROTOBUF_C_TYPE_BYTES:
		return len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return false; /* present, even empty: {} */
	}
	return false;
}

static int32_t
unzigzag32(uint32_t v)
{
	return (int32_t)(v >> 1) ^ -(int32_t)(v & 1);
}

static int64_t
unzigzag64(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

struct wctx {
	struct enc e;               /* e.out: the output */
	struct tt_pbjson_wire *w;
};

static bool wire_message(struct wctx *c, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
    int depth);

/* Writes one value of field f from its wire bytes v[0..len) (a varint, 4
 * or 8 bytes, or the payload of a length-delimited value), as put_value
 * writes what unpack stores. */
static bool
put_wire_value(struct wctx *c, const ProtobufCFieldDescriptor *f, const uint8_t *v, size_t len, int depth,
    bool as_key)
{
	struct tt_buf *o = c->e.out;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM:
		return put_i64(o, (int32_t)(uint32_t)wire_varint(v, len), as_key);
	case PROTOBUF_C_TYPE_SINT32:
		return put_i64(o, unzigzag32((uint32_t)wire_varint(v, len)), as_key);
	case PROTOBUF_C_TYPE_SFIXED32:
		return put_i64(o, (int32_t)wire_le32(v), as_key);
	case PROTOBUF_C_TYPE_UINT32:
		return put_u64(o, (uint32_t)wire_varint(v, len), as_key);
	case PROTOBUF_C_TYPE_FIXED32:
		return put_u64(o, wire_le32(v), as_key);
	case PROTOBUF_C_TYPE_INT64:
		return put_i64(o, (int64_t)wire_varint(v, len), true);
	case PROTOBUF_C_TYPE_SINT64:
		return put_i64(o, unzigzag64(wire_varint(v, len)), true);
	case PROTOBUF_C_TYPE_SFIXED64:
		return put_i64(o, (int64_t)wire_le64(v), true);
	case PROTOBUF_C_TYPE_UINT64:
		return put_u64(o, wire_varint(v, len), true);
	case PROTOBUF_C_TYPE_FIXED64:
		return put_u64(o, wire_le64(v), true);
	case PROTOBUF_C_TYPE_FLOAT: {
		uint32_t bits = wire_le32(v);
		float x;

		memcpy(&x, &bits, sizeof x);
		return put_double(o, x, 9);
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		uint64_t bits = wire_le64(v);
		double x;

		memcpy(&x, &bits, sizeof x);
		return put_double(o, x, 17);
	}
	case PROTOBUF_C_TYPE_BOOL:
		if (as_key)
			return tt_buf_adds(o, wire_bool(v, len) ? "\"true\"" : "\"false\"");
		return tt_buf_adds(o, wire_bool(v, len) ? "true" : "false");
	case PROTOBUF_C_TYPE_STRING:
		return json_string(o, (const char *)v, len, true); /* up to a NUL, as wire_strlen */
	case PROTOBUF_C_TYPE_BYTES:
		return tt_buf_addc(o, '"') && tt_pbjson_base64(o, v, len) && tt_buf_addc(o, '"');
	case PROTOBUF_C_TYPE_MESSAGE:
		return wire_message(c, f->descriptor, v, len, depth + 1);
	}
	return false;
}

/* Writes a value that is not on the wire (a map entry's missing key or
 * value): what put_value writes for unpack's zeroed field. */
static bool
put_absent(struct wctx *c, const ProtobufCFieldDescriptor *f, int depth, bool as_key)
{
	union {
		uint64_t u;
		double d;
		void *p;
		ProtobufCBinaryData b;
	} zero;

	memset(&zero, 0, sizeof zero);
	return put_value(&c->e, f, &zero, depth, as_key);
}

/* Writes ,"name": (the comma unless first) of field wf. */
static inline bool
put_name(struct tt_buf *o, const struct wfield *wf, bool *first)
{
	if (!tt_buf_reserve(o, (size_t)wf->nlen + 4 + JNAME_PAD))
		return false;
	if (!*first)
		o->data[o->len++] = ',';
	/* A fixed-size copy for the usual short name (the names are padded
	 * for it): a few moves instead of a call. */
	if (wf->nlen + 3 <= JNAME_PAD)
		memcpy(o->data + o->len, wf->jname, JNAME_PAD);
	else
		memcpy(o->data + o->len, wf->jname, (size_t)wf->nlen + 3);
	o->len += (size_t)wf->nlen + 3;
	*first = false;
	return true;
}

/* Writes the repeated field f from its occurrences w->ents[i..j) in the
 * message at p; nothing when they hold no value (empty packed runs). */
static bool
wire_array(struct wctx *c, const ProtobufCFieldDescriptor *f, const struct wfield *wf, const uint8_t *p, size_t i,
    size_t j, int depth, bool *first)
{
	struct tt_buf *o = c->e.out;
	size_t mark = o->len, count = 0;
	bool was_first = *first;
	uint8_t one = wire_type_of(f->type);

	if (!put_name(o, wf, first) || !tt_buf_addc(o, '['))
		return false;
	for (size_t k = i; k < j; k++) {
		struct went e = c->w->ents[k]; /* a copy: nested messages move the stack */
		const uint8_t *v = p + e.off;

		if ((e.key & 7) == one) {
			if ((count++ > 0 && !tt_buf_addc(o, ',')) || !put_wire_value(c, f, v, e.len, depth, false))
				return false;
			continue;
		}
		/* Packed: fixed-size values must fill it exactly, varints must
		 * each end within 10 bytes, as protobuf-c checks. */
		for (size_t at = 0, step; at < e.len; at += step) {
			if (one == WT_VARINT) {
				size_t max = e.len - at < 10 ? e.len - at : 10;

				for (step = 0; step < max && (v[at + step] & 0x80) != 0; step++)
					;
				if (step++ == max)
					return false;
			} else {
				step = one == WT_32BIT ? 4 : 8;
				if (e.len % step != 0)
					return false;
			}
			if ((count++ > 0 && !tt_buf_addc(o, ',')) || !put_wire_value(c, f, v + at, step, depth, false))
				return false;
		}
	}
	if (count == 0) {
		o->len = mark;
		*first = was_first;
		return true;
	}
	return tt_buf_addc(o, ']');
}

/* A map key as unpack stores it, for the duplicate check. */
struct wkey {
	uint64_t u;
	const uint8_t *s; /* string keys: s[0..u) */
};

static struct wkey
wire_key(const ProtobufCFieldDescriptor *k, const uint8_t *p, const struct went *e)
{
	struct wkey r = { 0, (const uint8_t *)"" };
	const uint8_t *v = p + e->off;

	if (e->key == WENT_ABSENT)
		return r;
	switch (k->type) {
	case PROTOBUF_C_TYPE_STRING:
		r.s = v;
		r.u = wire_strlen(v, e->len);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		r.u = wire_bool(v, e->len);
		break;
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
		r.u = wire_le32(v);
		break;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
		r.u = wire_le64(v);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
		r.u = wire_varint(v, e->len);
		break;
	default: /* 32-bit varints: stored truncated */
		r.u = (uint32_t)wire_varint(v, e->len);
		break;
	}
	return r;
}

static bool
same_wire_key(const ProtobufCFieldDescriptor *k, struct wkey a, struct wkey b)
{
	return a.u == b.u && (k->type != PROTOBUF_C_TYPE_STRING || memcmp(a.s, b.s, a.u) == 0);
}

/* Writes the map field f from its entries w->ents[i..j) in the message at
 * p, as put_map does: an entry whose key comes again later is skipped
 * (its value still checked, as unpack would have). */
static bool
wire_map(struct wctx *c, const ProtobufCFieldDescriptor *f, const struct wfield *wf, const uint8_t *p, size_t i,
    size_t j, int depth, bool *first)
{
	struct tt_pbjson_wire *w = c->w;
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	const struct wmsg *em = wire_fields(w, ed);
	struct tt_buf *o = c->e.out;
	size_t n = j - i, pairs = w->n;
	bool firstkv = true;

	if (em == NULL || em->f[0].kind != WF_SINGLE || em->f[1].kind != WF_SINGLE)
		return false;
	/* The key and value of each entry, as two stack entries with offsets
	 * from p. */
	for (size_t k = i; k < j; k++) {
		struct went e = w->ents[k], kv[2] = { { WENT_ABSENT, 0, 0 }, { WENT_ABSENT, 0, 0 } };
		size_t sub = w->n, nval = 0;
		bool sorted;

		if (!wire_scan(w, ed, em, p + e.off, e.len, &sorted))
			return false;
		for (size_t m = sub; m < w->n; m++) {
			struct went x = w->ents[m];

			nval += (x.key >> 3) == 1;
			x.off += e.off;
			kv[x.key >> 3] = x;
		}
		if (nval > 1 && vf->type == PROTOBUF_C_TYPE_MESSAGE)
			return false; /* merged by protobuf-c */
		w->n = sub;
		if (!went_push(w, kv[0].key, kv[0].off, kv[0].len) || !went_push(w, kv[1].key, kv[1].off, kv[1].len))
			return false;
	}
	if (!put_name(o, wf, first) || !tt_buf_addc(o, '{'))
		return false;
	for (size_t k = 0; k < n; k++) {
		struct went ke = w->ents[pairs + 2 * k], ve = w->ents[pairs + 2 * k + 1];
		bool later = false;

		if (n <= TT_PBJSON_MAP_DEDUP) {
			struct wkey key = wire_key(kf, p, &ke);

			for (size_t m = k + 1; m < n && !later; m++)
				later = same_wire_key(kf, key, wire_key(kf, p, &w->ents[pairs + 2 * m]));
		}
		if (later) {
			size_t mark = o->len;

			if (ve.key != WENT_ABSENT && vf->type == PROTOBUF_C_TYPE_MESSAGE) {
				if (!wire_message(c, vf->descriptor, p + ve.off, ve.len, depth + 1))
					return false;
				o->len = mark;
			}
			continue;
		}
		if (!firstkv && !tt_buf_addc(o, ','))
			return false;
		firstkv = false;
		if (!(ke.key == WENT_ABSENT ? put_absent(c, kf, depth, true)
			: put_wire_value(c, kf, p + ke.off, ke.len, depth, true)) ||
		    !tt_buf_addc(o, ':') ||
		    !(ve.key == WENT_ABSENT ? put_absent(c, vf, depth, false)
			: put_wire_value(c, vf, p + ve.off, ve.len, depth, false)))
			return false;
	}
	w->n = pairs;
	return tt_buf_addc(o, '}');
}

/* Writes the message p[0..n) of type d as one JSON object. */
static bool
wire_message(struct wctx *c, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, int depth)
{
	struct tt_pbjson_wire *w = c->w;
	struct tt_buf *o = c->e.out;
	const struct wmsg *m;
	const struct wfield *wf;
	size_t base = w->n, end;
	bool sorted, first = true;

	if (depth > TT_PBJSON_MAX_DEPTH || (m = wire_fields(w, d)) == NULL)
		return false;
	wf = m->f;
	if (!wire_scan(w, d, m, p, n, &sorted) || (!sorted && !wire_sort(w, d->n_fields, base)))
		return false;
	end = w->n;
	if (!tt_buf_addc(o, '{'))
		return false;
	for (size_t i = base, j; i < end; i = j) {
		unsigned idx = w->ents[i].key >> 3;
		const ProtobufCFieldDescriptor *f = &d->fields[idx];

		for (j = i + 1; j < end && w->ents[j].key >> 3 == idx; j++)
			;
		if (wf[idx].kind == WF_REPEATED) {
			if (!wire_array(c, f, &wf[idx], p, i, j, depth, &first))
				return false;
		} else if (wf[idx].kind == WF_MAP) {
			if (!wire_map(c, f, &wf[idx], p, i, j, depth, &first))
				return false;
		} else {
			struct went e = w->ents[j - 1]; /* the last one wins */

			if (f->type == PROTOBUF_C_TYPE_MESSAGE && j - i > 1)
				return false; /* protobuf-c merges the two */
			if (wire_is_default(f->type, p + e.off, e.len))
				continue;
			if (!put_name(o, &wf[idx], &first) ||
			    !put_wire_value(c, f, p + e.off, e.len, depth, false))
				return false;
		}
	}
	w->n = base;
	return tt_buf_addc(o, '}');
}

bool
tt_pbjson_encode_wire(struct tt_pbjson_wire *w, struct tt_buf *out, const ProtobufCMessageDescriptor *d,
    const void *data, size_t len)
{
	struct wctx c = { .e = { .out = out, .why = NULL }, .w = w };
	size_t start = out->len;
	bool failed = out->failed;

	bool ok;

	w->n = 0;
	ok = len <= INT32_MAX && wire_message(&c, d, data, len, 0);
	if (!ok) {
		out->len = start;
		out->failed = failed;
	}
	w->n = 0;
	if (w->cap > WENT_KEEP) {
		/* One huge (or hostile) message must not pin megabytes for the
		 * rest of the run. */
		free(w->ents);
		w->ents = NULL;
		w->cap = 0;
	}
	return ok;
}

bool
tt_pbjson_wire_next(const void *data, size_t len, size_t *pos, uint32_t *id, struct tt_pbjson_wval *v)
{
	const uint8_t *p = data;
	size_t voff, vlen;
	unsigned wt;

	if (*pos >= len || !wire_next(p, len, pos, id, &wt, &voff, &vlen))
		return false;
	v->wire_type = wt;
	v->p = p + voff;
	v->len = vlen;
	v->u = wt == WT_VARINT ? wire_varint(p + voff, vlen) : 0;
	return true;
}

bool
tt_pbjson_wire_find(const void *data, size_t len, uint32_t id, struct tt_pbjson_wval *v)
{
	const uint8_t *p = data;
	size_t pos = 0, voff, vlen;
	uint32_t tag;
	unsigned wt;
	bool found = false;

	while (pos < len) {
		if (!wire_next(p, len, &pos, &tag, &wt, &voff, &vlen))
			return false;
		if (tag != id)
			continue;
		found = true;
		v->wire_type = wt;
		v->p = p + voff;
		v->len = vlen;
		v->u = wt == WT_VARINT ? wire_varint(p + voff, vlen) : 0;
	}
	return found;
}
