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

#endif
