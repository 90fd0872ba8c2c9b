/* tt_webcast.h - the TikTok LIVE push frame codec.
 *
 * Decoding: a binary WebSocket message is one WebcastPushFrame; when its
 * payloadType is "msg" its payload (gzipped or not) is a
 * ProtoMessageFetchResult whose messages each carry a method name and the
 * protobuf bytes of that event. Every message whose method is an event
 * type of proto/webcast.proto is decoded and turned into proto3 JSON
 * (tt_pbjson); any other method, and any payload that does not decode,
 * keeps its bytes as base64 so nothing is lost. One bad message never
 * fails the frame.
 *
 * Encoding: the three frames a client sends (ack, heartbeat, enter room).
 *
 * Memory: everything a decode hands out lives in the decoder (an arena for
 * protobuf-c, reset per frame, and buffers with ceilings) and stays valid
 * until the next decode call on the same decoder or tt_webcast_free().
 */
#ifndef TT_WEBCAST_H
#define TT_WEBCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ceilings: an inflated payload, and all the JSON/base64 of one frame. */
#define TT_WC_MAX_INFLATED (32u << 20)
#define TT_WC_MAX_TEXT (96u << 20)

struct tt_webcast;

/* One message of a fetch result. Exactly one of json and b64 is set. */
struct tt_wc_message {
	const char *method;      /* BaseProtoMessage.method, always a valid raw.v1
	                          * type ("Unknown" when the sent one is not) */
	const char *json;        /* the decoded message as a JSON object, or NULL */
	size_t json_len;
	const char *b64;         /* base64 of the payload when json == NULL; the
	                          * text is stored between '"' characters, so
	                          * b64 - 1 .. b64 + b64_len + 1 is a JSON string */
	size_t b64_len;
	const char *error;       /* why it did not decode ("cannot decode
	                          * WebcastGiftMessage: ..."); NULL when decoded, or
	                          * when the method is simply not in our .proto */
	int64_t create_time_ms;  /* common.createTime, or 0 */
	uint64_t msg_id;         /* BaseProtoMessage.msgId */
	bool is_history;         /* BaseProtoMessage.isHistory */
	int control_action;      /* WebcastControlMessage.action, else 0 */
};

/* One decoded frame. Strings are NUL-terminated, never NULL. */
struct tt_wc_frame {
	const char *payload_type;  /* "msg", "hb", "im_enter_room_resp", ...; ""
	                            * for tt_webcast_decode_result */
	uint64_t log_id, seq_id;
	bool gzip;                 /* the payload was gzipped */
	bool has_result;           /* a fetch result was decoded (fields below) */
	bool need_ack;
	const char *internal_ext;
	size_t internal_ext_len;
	const char *cursor;
	const char *push_server;
	size_t nroute;             /* routeParams, in wire order */
	const char **route_keys, **route_values;
	int64_t heartbeat_ms;      /* heartbeatDuration */
	bool is_first;
	size_t nmessages;
	const struct tt_wc_message *messages;
};

enum tt_wc_status {
	TT_WC_OK,
	TT_WC_BAD_FRAME,   /* not a WebcastPushFrame */
	TT_WC_BAD_GZIP,    /* gzip magic or header, but not valid gzip */
	TT_WC_BAD_RESULT,  /* the payload is not a ProtoMessageFetchResult */
	TT_WC_TOO_LARGE,   /* inflates past TT_WC_MAX_INFLATED, or the frame's
	                    * messages take more than TT_WC_MAX_TEXT as text */
};

/* A decoder; NULL when out of memory. */
struct tt_webcast *tt_webcast_new(void);
void tt_webcast_free(struct tt_webcast *w);

/* The name of a status, for logs ("bad_gzip"). */
const char *tt_wc_status_name(enum tt_wc_status st);

/* Decodes a binary WebSocket message. payloadType "msg": the payload is
 * inflated when it starts with the gzip magic (1f 8b 08) or a header says
 * compress_type=gzip, then parsed as a fetch result whose messages are all
 * decoded. Other payload types: only the frame's own fields. On a status
 * other than TT_WC_OK, err (errsz bytes) says what is wrong and f holds
 * what was decoded before it (the frame fields after TT_WC_BAD_GZIP, for
 * instance) with no messages. Results valid until the next call. */
enum tt_wc_status tt_webcast_decode_frame(struct tt_webcast *w, const void *data, size_t len,
    struct tt_wc_frame *f, char *err, size_t errsz);

/* Decodes the sign server's body: a bare ProtoMessageFetchResult (not
 * gzipped, no push frame around it). As tt_webcast_decode_frame. */
enum tt_wc_status tt_webcast_decode_result(struct tt_webcast *w, const void *data, size_t len,
    struct tt_wc_frame *f, char *err, size_t errsz);

/* Whether method names an event type our .proto decodes. */
bool tt_webcast_known_method(const char *method);

/* ---- encoders (client -> server) ---------------------------------------
 * Each writes one WebcastPushFrame into out[0..cap) and returns its length,
 * or 0 when it does not fit. */

/* PushFrame{2 logId, 6 "pb", 7 "ack", 8 internalExt bytes}. */
size_t tt_webcast_ack(uint8_t *out, size_t cap, uint64_t log_id, const char *internal_ext, size_t len);

/* PushFrame{6 "pb", 7 "hb", 8 HeartBeatMessage{1 roomId, 2 sendPacketSeqId}}. */
size_t tt_webcast_heartbeat(uint8_t *out, size_t cap, uint64_t room_id, uint64_t seq);

/* PushFrame{6 "pb", 7 "im_enter_room", 8 WebcastImEnterRoomMessage{1 roomId,
 * 4 liveId 12, 5 identity "audience", 8 enterUniqueId, 9 filterWelcomeMsg "0"}}. */
size_t tt_webcast_enter_room(uint8_t *out, size_t cap, uint64_t room_id, uint64_t enter_unique_id);

#endif
