/* tt_pbjson.h - any protobuf-c message as proto3 JSON, from its descriptor.
 *
 * One encoder for every message type: it walks the message's descriptor,
 * so a field added to proto/webcast.proto reaches the JSON with no code
 * here. The mapping (proto3 JSON, as the normalizer reads it):
 *
 *   field name        the descriptor's name, as written in the .proto
 *                     (ours are already lowerCamelCase: the JSON names)
 *   field order       field number order
 *   int64 uint64 sint64 fixed64 sfixed64    decimal strings ("123")
 *   int32 uint32 sint32 fixed32 sfixed32    numbers
 *   enum              numbers (the value's number, never its name: the
 *                     normalizer compares numbers, and a value newer than
 *                     our .proto still has one)
 *   bool              true / false
 *   float double      numbers; NaN and infinities as the strings "NaN",
 *                     "Infinity", "-Infinity"
 *   string            JSON string; bytes that are not UTF-8 become U+FFFD
 *                     (one per bad byte), so the output is always UTF-8.
 *                     protobuf-c ends strings at their first NUL byte.
 *   bytes             standard base64 with padding
 *   message           object; present but empty -> {}
 *   repeated          array
 *   map<K,V>          object keyed by the key's string form; a key sent
 *                     twice keeps its last value (as a parser would), for
 *                     maps of up to TT_PBJSON_MAP_DEDUP entries
 *   defaults          proto3 defaults are left out: 0, "", false, empty
 *                     bytes, empty repeated/map, absent message. Fields in a
 *                     oneof, and proto2/proto3-optional fields with has_*
 *                     set, are written even when they hold the default.
 */
#ifndef TT_PBJSON_H
#define TT_PBJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "tt_buf.h"

/* Nesting deeper than this is an error (the schema bounds it already,
 * except for recursive types such as User.topFans). */
#define TT_PBJSON_MAX_DEPTH 32

/* Maps with more entries than this are written as they are, duplicates
 * and all (the duplicate check is quadratic). */
#define TT_PBJSON_MAP_DEDUP 256

/* Appends msg as one JSON object to out. False when out's ceiling was
 * reached or the nesting is too deep; err (errsz bytes) then says which,
 * and out holds a partial object the caller must discard. */
bool tt_pbjson_encode(struct tt_buf *out, const ProtobufCMessage *msg, char *err, size_t errsz);

/* Appends the standard base64 (with padding) of p[0..n) to out, no
 * quotes. False past the ceiling. */
bool tt_pbjson_base64(struct tt_buf *out, const void *p, size_t n);

/* Appends s[0..n) as a quoted JSON string (escaped; invalid UTF-8 bytes
 * become U+FFFD). False past the ceiling. */
bool tt_pbjson_string(struct tt_buf *out, const char *s, size_t n);

/* Whether the repeated message field f is a proto3 map (see the .c). */
bool tt_pbjson_is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f);

/* ---- straight from the wire ----
 *
 * The same JSON from a message's protobuf bytes, without unpacking it:
 * byte for byte what protobuf_c_message_unpack + tt_pbjson_encode write,
 * for every message it accepts. It gives up (false, out as it was) on
 * anything it does not reproduce exactly - malformed bytes, a wire type
 * that does not fit the field, a singular message sent twice, groups,
 * oneofs, proto2 labels, nesting too deep, the output ceiling - and the
 * caller then unpacks with protobuf-c, which keeps that path's exact
 * behaviour and error messages for all of them.
 *
 * The ceilings differ: the walker needs no memory per field, so a valid
 * message whose unpacked form would not fit the decoder's arena (a huge
 * repeated field, say) still becomes JSON here, where unpack alone would
 * have given up. The JSON is right; only more messages decode. A message
 * with more fields than the scan stack holds (4M) goes the other way, to
 * unpack.
 */

/* The walker's reusable memory: its scan stack and what it learnt of each
 * descriptor. One per thread. NULL when out of memory. */
struct tt_pbjson_wire *tt_pbjson_wire_new(void);
void tt_pbjson_wire_free(struct tt_pbjson_wire *w);

/* Appends the JSON of the message of type d in data[0..len) to out. False:
 * gave up, out unchanged; decode with protobuf-c instead. */
bool tt_pbjson_encode_wire(struct tt_pbjson_wire *w, struct tt_buf *out, const ProtobufCMessageDescriptor *d,
    const void *data, size_t len);

/* The last occurrence of a field at the top level of a message. */
struct tt_pbjson_wval {
	unsigned wire_type;
	uint64_t u;        /* wire type 0: the varint, as protobuf-c reads a 64-bit field */
	const uint8_t *p;  /* the value's bytes (a length-delimited one's payload) */
	size_t len;
};

/* Finds the last occurrence of field number id in the message data[0..len)
 * into *v; false when there is none or the bytes are malformed. Meant for
 * bytes tt_pbjson_encode_wire accepted, where the last occurrence is the
 * value unpack keeps. */
bool tt_pbjson_wire_find(const void *data, size_t len, uint32_t id, struct tt_pbjson_wval *v);

/* Reads the field at data[*pos..len) into *id and *v and moves *pos past
 * it, with protobuf-c's limits on tags, varints and lengths; false on
 * anything protobuf-c would reject there (the caller then unpacks). */
bool tt_pbjson_wire_next(const void *data, size_t len, size_t *pos, uint32_t *id, struct tt_pbjson_wval *v);

#endif
