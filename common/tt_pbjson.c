/* tt_pbjson.c - see tt_pbjson.h. */
#include "tt_pbjson.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

static bool
put_u64(struct tt_buf *o, uint64_t v, bool quoted)
{
	char buf[24], *p = u64_digits(v, buf + sizeof buf - 1);

	buf[sizeof buf - 1] = '"';
	if (quoted)
		*--p = '"';
	return tt_buf_add(o, p, (size_t)(buf + sizeof buf - p) - (quoted ? 0 : 1));
}

static bool
put_i64(struct tt_buf *o, int64_t v, bool quoted)
{
	char buf[24], *p;
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	p = u64_digits(mag, buf + sizeof buf - 1);
	buf[sizeof buf - 1] = '"';
	if (v < 0)
		*--p = '-';
	if (quoted)
		*--p = '"';
	return tt_buf_add(o, p, (size_t)(buf + sizeof buf - p) - (quoted ? 0 : 1));
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
	while (i < n && s[i] < 0x80 && !needs_escape[s[i]])
		i++;
	return i;
}

bool
tt_pbjson_string(struct tt_buf *out, const char *str, size_t n)
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
		size_t nlen;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(const char *const *)p;
			size_t sz = elem_size(f->type);

			if (n == 0 || arr == NULL)
				continue;
			nlen = strlen(f->name);
			if (!tt_buf_reserve(o, nlen + 4))
				return false;
			if (!first)
				o->data[o->len++] = ',';
			o->data[o->len++] = '"';
			memcpy(o->data + o->len, f->name, nlen);
			o->len += nlen;
			o->data[o->len++] = '"';
			o->data[o->len++] = ':';
			first = false;
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
		nlen = strlen(f->name);
		if (!tt_buf_reserve(o, nlen + 4))
			return false;
		if (!first)
			o->data[o->len++] = ',';
		o->data[o->len++] = '"';
		memcpy(o->data + o->len, f->name, nlen);
		o->len += nlen;
		o->data[o->len++] = '"';
		o->data[o->len++] = ':';
		first = false;
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
