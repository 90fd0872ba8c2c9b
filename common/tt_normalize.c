/* tt_normalize.c - see tt_normalize.h and ttlc-event(5). */
#include "tt_normalize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_dlq.h"
#include "tt_hash.h"
#include "tt_json.h"
#include "tt_schema.h"
#include "tt_schemas.h"

/* One line's tree, its event and its DLQ record fit in this many bytes
 * per byte of input, plus a constant; past that the line is rejected. */
#define ARENA_PER_BYTE 24
#define ARENA_BASE (1024 * 1024)

/* What the mapping reads of data: the parser builds these members and only
 * checks the rest (avatars, badges' images, text pieces ...), which is most
 * of a frame. Every path the code below reads must be here;
 * test/fuzz/fuzz-normalize.c holds the filtered and the full parse to the
 * same output. */
static const struct tt_json_filter url_list[] = {
	{ "urlList", NULL },
	{ NULL, NULL },
};
static const struct tt_json_filter badge_filter[] = {
	{ "sceneType", NULL },
	{ "privilegeLogExtra", (const struct tt_json_filter[]){ { "level", NULL }, { NULL, NULL } } },
	{ NULL, NULL },
};
static const struct tt_json_filter user_filter[] = {
	{ "id", NULL },
	{ "userId", NULL },
	{ "idStr", NULL },
	{ "displayId", NULL },
	{ "uniqueId", NULL },
	{ "nickname", NULL },
	{ "avatarThumb", url_list },
	{ "profilePictureUrl", NULL },
	{ "followInfo", (const struct tt_json_filter[]){ { "followStatus", NULL }, { NULL, NULL } } },
	{ "userAttr", (const struct tt_json_filter[]){ { "isAdmin", NULL }, { NULL, NULL } } },
	{ "isModerator", NULL },
	{ "isSubscriber", NULL },
	{ "badgeList", badge_filter },
	{ NULL, NULL },
};
static const struct tt_json_filter display_text[] = {
	{ "key", NULL },
	{ "displayType", NULL },
	{ NULL, NULL },
};
static const struct tt_json_filter data_filter[] = {
	{ "common", (const struct tt_json_filter[]){ { "displayText", display_text }, { NULL, NULL } } },
	{ "user", user_filter },
	{ "userIdentity", NULL },
	{ "content", NULL },
	{ "comment", NULL },
	{ "contentLanguage", NULL },
	{ "emotes", (const struct tt_json_filter[]){
		{ "index", NULL },
		{ "emote", (const struct tt_json_filter[]){ { "emoteId", NULL }, { NULL, NULL } } },
		{ NULL, NULL } } },
	{ "giftId", NULL },
	{ "gift", (const struct tt_json_filter[]){
		{ "id", NULL }, { "name", NULL }, { "diamondCount", NULL }, { "type", NULL }, { NULL, NULL } } },
	{ "giftName", NULL },
	{ "giftType", NULL },
	{ "giftDetails", (const struct tt_json_filter[]){
		{ "giftName", NULL }, { "diamondCount", NULL }, { "giftType", NULL }, { NULL, NULL } } },
	{ "diamondCount", NULL },
	{ "repeatCount", NULL },
	{ "repeatEnd", NULL },
	{ "groupId", NULL },
	{ "toUser", (const struct tt_json_filter[]){ { "id", NULL }, { NULL, NULL } } },
	{ "monitorInfo", (const struct tt_json_filter[]){ { "toUserId", NULL }, { NULL, NULL } } },
	{ "count", NULL },
	{ "likeCount", NULL },
	{ "total", NULL },
	{ "totalLikeCount", NULL },
	{ "memberCount", NULL },
	{ "action", NULL },
	{ "displayType", NULL },
	{ "followCount", NULL },
	{ "shareCount", NULL },
	{ "shareTarget", NULL },
	{ "subMonth", NULL },
	{ "subscribeType", NULL },
	{ "messageType", NULL },
	{ "emoteList", (const struct tt_json_filter[]){
		{ "emoteId", NULL }, { "image", url_list }, { NULL, NULL } } },
	{ "battleId", NULL },
	{ "battleSettings", (const struct tt_json_filter[]){ { "status", NULL }, { NULL, NULL } } },
	{ "triggerReason", NULL },
	{ "msgType", NULL },
	{ "battleResult", (const struct tt_json_filter[]){
		{ "*", (const struct tt_json_filter[]){ { "score", NULL }, { NULL, NULL } } }, { NULL, NULL } } },
	{ "armies", (const struct tt_json_filter[]){
		{ "*", (const struct tt_json_filter[]){ { "hostscore", NULL }, { NULL, NULL } } }, { NULL, NULL } } },
	{ "viewerCount", NULL },
	{ "totalUser", NULL },
	{ "provider", NULL },
	{ "category", NULL },
	{ "code", NULL },
	{ "reason", NULL },
	{ "detail", NULL },
	{ NULL, NULL },
};
/* The envelope is built whole: the raw.v1 check must see every member. */
static const struct tt_json_filter line_filter[] = {
	{ "data", data_filter },
	{ "*", NULL },
	{ NULL, NULL },
};

struct tt_normalizer {
	bool full_parse;   /* build the whole tree (tests compare both ways) */
	struct tt_schema *raw_schema;
	struct tt_schema *event_schema;
	struct tt_json_parser *parser;
	struct tt_json_writer *writer;
	struct tt_sha256 *sha;
	struct tt_arena arena;
	char error[512]; /* the current DLQ record's error text */
};

struct tt_normalizer *
tt_normalizer_new(char *errbuf, size_t errsz)
{
	struct tt_normalizer *n = calloc(1, sizeof *n);

	if (n == NULL) {
		snprintf(errbuf, errsz, "out of memory");
		return NULL;
	}
	tt_arena_init(&n->arena, ARENA_BASE);
	/* The test suites set this: a read the filter tables miss aborts. */
	if (getenv("TTLC_CHECK_FILTERS") != NULL)
		tt_json_check_filters(true);
	n->raw_schema = tt_schema_compile(tt_schema_raw_v1, tt_schema_raw_v1_len, errbuf, errsz);
	if (n->raw_schema != NULL)
		n->event_schema = tt_schema_compile(tt_schema_unified_event_v1,
		    tt_schema_unified_event_v1_len, errbuf, errsz);
	n->parser = tt_json_parser_new();
	n->writer = tt_json_writer_new();
	n->sha = tt_sha256_new();
	if (n->raw_schema == NULL || n->event_schema == NULL || n->parser == NULL ||
	    n->writer == NULL || n->sha == NULL) {
		if (n->raw_schema != NULL && n->event_schema != NULL)
			snprintf(errbuf, errsz, "out of memory");
		tt_normalizer_free(n);
		return NULL;
	}
	return n;
}

void
tt_normalizer_full_parse(struct tt_normalizer *n, bool full)
{
	n->full_parse = full;
}

void
tt_normalizer_free(struct tt_normalizer *n)
{
	if (n == NULL)
		return;
	tt_schema_free(n->raw_schema);
	tt_schema_free(n->event_schema);
	tt_json_parser_free(n->parser);
	tt_json_writer_free(n->writer);
	tt_sha256_free(n->sha);
	tt_arena_free(&n->arena);
	free(n);
}

/* ---- value helpers ---------------------------------------------------- */

/* The first of up to three paths under v that is present. */
static const struct tt_json *
first_of(const struct tt_json *v, const char *a, const char *b, const char *c)
{
	const struct tt_json *r = tt_json_path(v, a);

	if (r == NULL && b != NULL)
		r = tt_json_path(v, b);
	if (r == NULL && c != NULL)
		r = tt_json_path(v, c);
	return r;
}

/* An id as a decimal string. Numbers keep their exact text; anything that
 * is not digits is copied as is, for the schema to reject. */
static struct tt_json *
id_value(struct tt_arena *a, const struct tt_json *v)
{
	if (v->kind == TT_JSON_NUMBER || v->kind == TT_JSON_STRING)
		return tt_json_new_str(a, v->str, v->len);
	return tt_json_new_copy(a, v);
}

/* An integer; digit strings (proto3 int64) become numbers. Anything else is
 * copied as is, for the schema to reject. */
static struct tt_json *
int_value(struct tt_arena *a, const struct tt_json *v)
{
	int64_t n;

	if (tt_json_int(v, &n))
		return tt_json_new_int(a, n);
	return tt_json_new_copy(a, v);
}

static void
add_int(struct tt_arena *a, struct tt_json *obj, const char *key, const struct tt_json *v)
{
	if (v != NULL && v->kind != TT_JSON_NULL)
		tt_json_add(obj, key, int_value(a, v));
}

static void
add_id(struct tt_arena *a, struct tt_json *obj, const char *key, const struct tt_json *v)
{
	if (v != NULL && v->kind != TT_JSON_NULL)
		tt_json_add(obj, key, id_value(a, v));
}

static void
add_copy(struct tt_arena *a, struct tt_json *obj, const char *key, const struct tt_json *v)
{
	if (v != NULL)
		tt_json_add(obj, key, tt_json_new_copy(a, v));
}

static void
add_nonempty_str(struct tt_arena *a, struct tt_json *obj, const char *key, const struct tt_json *v)
{
	if (v != NULL && !(v->kind == TT_JSON_STRING && v->len == 0) && v->kind != TT_JSON_NULL)
		tt_json_add(obj, key, tt_json_new_copy(a, v));
}

static bool
str_contains(const struct tt_json *v, const char *needle)
{
	return v != NULL && v->kind == TT_JSON_STRING &&
	    memmem(v->str, v->len, needle, strlen(needle)) != NULL;
}

static int64_t
int_or(const struct tt_json *v, int64_t dflt)
{
	int64_t n;

	return tt_json_int(v, &n) ? n : dflt;
}

/* seqNo as an integer; the schema has already checked that it is one
 * (possibly written 5.0 or 5e0) within 0..2^53. */
static int64_t
seq_value(const struct tt_json *v)
{
	return int_or(v, 0);
}

/* ---- user --------------------------------------------------------------- */
/* The event's user object from data.user (v3 or legacy names), with the
 * moderator / subscriber / gifter signals of ttlc-event(5); NULL when the
 * message has no user. */

static struct tt_json *
build_user(struct tt_arena *a, const struct tt_json *data)
{
	const struct tt_json *user = tt_json_get(data, "user");
	const struct tt_json *v;
	const struct tt_json *badges;
	struct tt_json *u;
	bool moderator, subscriber;
	int64_t level = -1;

	if (user == NULL || user->kind != TT_JSON_OBJECT)
		return NULL;
	u = tt_json_new(a, TT_JSON_OBJECT);
	v = first_of(user, "id", "userId", "idStr");
	tt_json_add(u, "userId", v == NULL ? tt_json_new(a, TT_JSON_NULL) : id_value(a, v));
	v = first_of(user, "displayId", "uniqueId", NULL);
	tt_json_add(u, "uniqueId", v == NULL ? tt_json_new(a, TT_JSON_NULL) : tt_json_new_copy(a, v));
	v = tt_json_get(user, "nickname");
	tt_json_add(u, "nickname", v == NULL ? tt_json_new(a, TT_JSON_NULL) : tt_json_new_copy(a, v));
	v = tt_json_at(tt_json_path(user, "avatarThumb.urlList"), 0);
	if (v == NULL)
		v = tt_json_get(user, "profilePictureUrl");
	tt_json_add(u, "avatarUrl", v == NULL ? tt_json_new(a, TT_JSON_NULL) : tt_json_new_copy(a, v));

	v = tt_json_path(user, "followInfo.followStatus");
	if (v != NULL) {
		int64_t role;

		tt_json_add(u, "followRole", int_value(a, v));
		if (tt_json_int(v, &role))
			tt_json_add(u, "isFollower", tt_json_new_bool(a, role >= 1));
	}

	moderator = tt_json_truthy(tt_json_path(user, "userAttr.isAdmin")) ||
	    tt_json_truthy(tt_json_path(data, "userIdentity.isModeratorOfAnchor")) ||
	    tt_json_truthy(tt_json_get(user, "isModerator"));
	subscriber = tt_json_truthy(tt_json_path(data, "userIdentity.isSubscriberOfAnchor")) ||
	    tt_json_truthy(tt_json_get(user, "isSubscriber"));
	badges = tt_json_get(user, "badgeList");
	if (badges != NULL && badges->kind == TT_JSON_ARRAY) {
		for (const struct tt_json *b = badges->first; b != NULL; b = b->next) {
			int64_t scene = int_or(tt_json_get(b, "sceneType"), 0);

			if (scene == 1)
				moderator = true;
			else if (scene == 4 || scene == 7)
				subscriber = true;
			else if (scene == 8 && level < 0)
				level = int_or(tt_json_path(b, "privilegeLogExtra.level"), -1);
		}
	}
	tt_json_add(u, "isModerator", tt_json_new_bool(a, moderator));
	tt_json_add(u, "isSubscriber", tt_json_new_bool(a, subscriber));
	if (level >= 0)
		tt_json_add(u, "gifterLevel", tt_json_new_int(a, level));
	return u;
}

/* ---- payloads ------------------------------------------------------------ */
/* CHAT: text (content, or legacy comment), language, emotes. */

static void
chat_payload(struct tt_arena *a, struct tt_json *p, const struct tt_json *data)
{
	const struct tt_json *emotes = tt_json_get(data, "emotes");

	const struct tt_json *text = first_of(data, "content", "comment", NULL);

	/* proto3 JSON leaves out an empty string: no content is "". */
	tt_json_add(p, "text", text == NULL ? tt_json_new_str(a, "", 0) : tt_json_new_copy(a, text));
	add_nonempty_str(a, p, "language", tt_json_get(data, "contentLanguage"));
	if (emotes != NULL && emotes->kind == TT_JSON_ARRAY && emotes->count > 0) {
		struct tt_json *list = tt_json_new(a, TT_JSON_ARRAY);

		for (const struct tt_json *e = emotes->first; e != NULL; e = e->next) {
			struct tt_json *o = tt_json_new(a, TT_JSON_OBJECT);

			add_copy(a, o, "emoteId", tt_json_path(e, "emote.emoteId"));
			add_int(a, o, "index", tt_json_get(e, "index"));
			tt_json_add(list, NULL, o);
		}
		tt_json_add(p, "emotes", list);
	}
}
/* GIFT: ids, counts and the streak rule (streakState, giftCount, coins)
 * that keeps sums from counting a streak twice. */

static void
gift_payload(struct tt_arena *a, struct tt_json *p, const struct tt_json *data)
{
	const struct tt_json *v;
	int64_t diamonds = int_or(first_of(data, "gift.diamondCount", "diamondCount", "giftDetails.diamondCount"), 0);
	int64_t repeat = int_or(tt_json_get(data, "repeatCount"), 1);
	int64_t type = int_or(first_of(data, "gift.type", "giftType", "giftDetails.giftType"), 0);
	const struct tt_json *end = tt_json_get(data, "repeatEnd");
	bool repeat_end = end != NULL && (end->kind == TT_JSON_TRUE || int_or(end, 0) == 1);
	bool streakable = type == 1;
	bool final = !(streakable && !repeat_end);
	int64_t coins;

	add_id(a, p, "giftId", first_of(data, "giftId", "gift.id", NULL));
	v = first_of(data, "gift.name", "giftName", "giftDetails.giftName");
	tt_json_add(p, "giftName", v == NULL ? tt_json_new(a, TT_JSON_NULL) : tt_json_new_copy(a, v));
	v = first_of(data, "gift.diamondCount", "diamondCount", "giftDetails.diamondCount");
	tt_json_add(p, "diamondCount", v == NULL ? tt_json_new_int(a, 0) : int_value(a, v));
	v = tt_json_get(data, "repeatCount");
	tt_json_add(p, "repeatCount", v == NULL ? tt_json_new_int(a, 1) : int_value(a, v));
	v = tt_json_get(data, "groupId");
	if (v != NULL && int_or(v, -1) != 0)
		add_id(a, p, "groupId", v);
	tt_json_add(p, "giftType", tt_json_new_int(a, type));
	tt_json_add(p, "streakable", tt_json_new_bool(a, streakable));
	tt_json_add(p, "repeatEnd", tt_json_new_bool(a, repeat_end));
	tt_json_add(p, "streakState", final ? tt_json_new_str(a, "final", 5) : tt_json_new_str(a, "in_progress", 11));
	tt_json_add(p, "giftCount", tt_json_new_int(a, final ? repeat : 0));
	/* An absurd product cannot wrap: it becomes a value the schema
	 * rejects (above 2^53), so the event goes to the DLQ. */
	if (!final)
		coins = 0;
	else if (repeat < 0 || diamonds < 0 || __builtin_mul_overflow(repeat, diamonds, &coins))
		coins = INT64_MAX;
	tt_json_add(p, "coins", tt_json_new_int(a, coins));
	add_id(a, p, "receiverUserId", first_of(data, "toUser.id", "monitorInfo.toUserId", NULL));
}

/* The display key a social message is classified by. */
static const struct tt_json *
display_key(const struct tt_json *data)
{
	return first_of(data, "common.displayText.key", "common.displayText.displayType", "displayType");
}

/* N of "pm_mt_guidance_viewer_<N>_share", or -1. */
static int64_t
viewers_joined(const struct tt_json *key)
{
	static const char prefix[] = "pm_mt_guidance_viewer_";
	const size_t plen = sizeof prefix - 1;
	int64_t n = 0;
	size_t i;

	if (key == NULL || key->kind != TT_JSON_STRING || key->len <= plen ||
	    memcmp(key->str, prefix, plen) != 0)
		return -1;
	for (i = plen; i < key->len && key->str[i] >= '0' && key->str[i] <= '9' && n < 1000000000; i++)
		n = n * 10 + (key->str[i] - '0');
	if (i == plen || strcmp(key->str + i, "_share") != 0)
		return -1;
	return n;
}

static void
social_payload(struct tt_arena *a, struct tt_json *p, const struct tt_json *data, const struct tt_json *key)
{
	int64_t joined = viewers_joined(key);

	add_copy(a, p, "displayType", key);
	add_int(a, p, "followCount", tt_json_get(data, "followCount"));
	add_int(a, p, "shareCount", tt_json_get(data, "shareCount"));
	add_nonempty_str(a, p, "shareTarget", tt_json_get(data, "shareTarget"));
	if (joined >= 0)
		tt_json_add(p, "viewersJoined", tt_json_new_int(a, joined));
}

static void
emote_payload(struct tt_arena *a, struct tt_json *p, const struct tt_json *data)
{
	const struct tt_json *list = tt_json_get(data, "emoteList");
	struct tt_json *out = tt_json_new(a, TT_JSON_ARRAY);

	if (list != NULL && list->kind == TT_JSON_ARRAY) {
		for (const struct tt_json *e = list->first; e != NULL; e = e->next) {
			struct tt_json *o = tt_json_new(a, TT_JSON_OBJECT);

			add_copy(a, o, "emoteId", tt_json_get(e, "emoteId"));
			add_copy(a, o, "imageUrl", tt_json_at(tt_json_path(e, "image.urlList"), 0));
			tt_json_add(out, NULL, o);
		}
	}
	tt_json_add(p, "emotes", out);
}

/* scores from a map of host id -> object, taking points from member field. */
static void
add_scores(struct tt_arena *a, struct tt_json *p, const struct tt_json *map, const char *field)
{
	struct tt_json *list;

	if (map == NULL || map->kind != TT_JSON_OBJECT || map->count == 0)
		return;
	list = tt_json_new(a, TT_JSON_ARRAY);
	for (const struct tt_json *m = map->first; m != NULL; m = m->next) {
		struct tt_json *o = tt_json_new(a, TT_JSON_OBJECT);
		const struct tt_json *pts = tt_json_get(m, field);

		tt_json_add(o, "hostUserId", tt_json_new_str(a, m->key, m->key_len));
		tt_json_add(o, "points", pts == NULL ? tt_json_new_int(a, 0) : int_value(a, pts));
		tt_json_add(list, NULL, o);
	}
	tt_json_add(p, "scores", list);
}

static void
battle_payload(struct tt_arena *a, struct tt_json *p, const struct tt_json *data, const char *type)
{
	tt_json_add(p, "rawType", tt_json_new_str(a, type, strlen(type)));
	add_id(a, p, "battleId", tt_json_get(data, "battleId"));
	add_int(a, p, "action", tt_json_get(data, "action"));
	add_int(a, p, "status", tt_json_path(data, "battleSettings.status"));
	add_int(a, p, "triggerReason", tt_json_get(data, "triggerReason"));
	add_int(a, p, "msgType", tt_json_get(data, "msgType"));
	if (strcmp(type, "WebcastLinkMicBattle") == 0)
		add_scores(a, p, tt_json_get(data, "battleResult"), "score");
	else if (strcmp(type, "WebcastLinkMicArmies") == 0)
		add_scores(a, p, tt_json_get(data, "armies"), "hostscore");
}

static void
lifecycle_payload(struct tt_arena *a, struct tt_json *p, const struct tt_json *data)
{
	static const char *const keys[] = { "provider", "category", "code", "reason", "detail" };

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		add_copy(a, p, keys[i], tt_json_get(data, keys[i]));
}

static void
raw_payload(struct tt_arena *a, struct tt_json *p, const struct tt_json *type, const struct tt_json *data)
{
	tt_json_add(p, "rawType", tt_json_new_copy(a, type));
	add_copy(a, p, "displayType", tt_json_path(data, "common.displayText.key"));
}

/* Whether a SubNotify messageType says "subscribed": absent, 0, or its
 * proto3 JSON enum name. Reminders and notices (other values) are not. */
static bool
sub_success(const struct tt_json *mt)
{
	int64_t n;

	return mt == NULL || (tt_json_int(mt, &n) && n == 0) || tt_json_str_eq(mt, "SUB_SUCCESS");
}

/* Fills payload p for a raw frame of the given type and returns the
 * eventType. */
static const char *
map_event(struct tt_arena *a, struct tt_json *p, const struct tt_json *type, const struct tt_json *data)
{
	const char *t = type->str;
	bool object = data->kind == TT_JSON_OBJECT;

	if (strncmp(t, "ControlEvent.", 13) == 0) {
		const char *what = t + 13;

		if (strcmp(what, "CONNECTED") == 0 || strcmp(what, "DISCONNECTED") == 0 ||
		    strcmp(what, "ERROR") == 0) {
			lifecycle_payload(a, p, data);
			return what;
		}
	} else if (!object) {
		/* Undecoded bytes: nothing to map. */
	} else if (strcmp(t, "WebcastChatMessage") == 0) {
		chat_payload(a, p, data);
		return "CHAT";
	} else if (strcmp(t, "WebcastGiftMessage") == 0) {
		gift_payload(a, p, data);
		return "GIFT";
	} else if (strcmp(t, "WebcastLikeMessage") == 0) {
		const struct tt_json *count = first_of(data, "count", "likeCount", NULL);

		/* proto3 JSON leaves out zeros: no count is 0. */
		tt_json_add(p, "count", count == NULL ? tt_json_new_int(a, 0) : int_value(a, count));
		add_int(a, p, "total", first_of(data, "total", "totalLikeCount", NULL));
		return "LIKE";
	} else if (strcmp(t, "WebcastMemberMessage") == 0) {
		add_int(a, p, "memberCount", tt_json_get(data, "memberCount"));
		add_int(a, p, "action", tt_json_get(data, "action"));
		return "JOIN";
	} else if (strcmp(t, "WebcastSocialMessage") == 0) {
		const struct tt_json *key = display_key(data);

		if (str_contains(key, "follow")) {
			social_payload(a, p, data, key);
			return "FOLLOW";
		}
		if (str_contains(key, "share")) {
			social_payload(a, p, data, key);
			return "SHARE";
		}
		if (str_contains(key, "subscribe")) {
			add_copy(a, p, "displayType", key);
			return "SUBSCRIBE";
		}
		tt_json_add(p, "rawType", tt_json_new_copy(a, type));
		if (key != NULL)
			add_copy(a, p, "displayType", key);
		return "RAW";
	} else if (strcmp(t, "WebcastSubNotifyMessage") == 0 && sub_success(tt_json_get(data, "messageType"))) {
		/* messageType 0 (or absent) is the subscription itself; the
		 * others are reminders and sub-goal notices, which stay RAW. */
		add_int(a, p, "subMonth", tt_json_get(data, "subMonth"));
		add_int(a, p, "subscribeType", tt_json_get(data, "subscribeType"));
		add_copy(a, p, "displayType", tt_json_path(data, "common.displayText.key"));
		return "SUBSCRIBE";
	} else if (strcmp(t, "WebcastEmoteChatMessage") == 0) {
		emote_payload(a, p, data);
		return "EMOTE";
	} else if (strcmp(t, "WebcastLinkMicBattle") == 0 || strcmp(t, "WebcastLinkMicArmies") == 0 ||
	    strcmp(t, "WebcastBarrageMessage") == 0) {
		battle_payload(a, p, data, t);
		return "BATTLE";
	} else if (strcmp(t, "WebcastRoomUserSeqMessage") == 0) {
		const struct tt_json *viewers = first_of(data, "total", "viewerCount", NULL);

		tt_json_add(p, "viewerCount", viewers == NULL ? tt_json_new_int(a, 0) : int_value(a, viewers));
		add_int(a, p, "totalUser", tt_json_get(data, "totalUser"));
		return "ROOM_USER";
	} else if (strcmp(t, "WebcastControlMessage") == 0) {
		int64_t action = int_or(tt_json_get(data, "action"), 0);

		/* Only 3 (ended) and 4 (suspended) end a stream; pause and
		 * unpause stay RAW (see QUIRKS.md). */
		if (action == 3 || action == 4) {
			tt_json_add(p, "action", tt_json_new_int(a, action));
			tt_json_add(p, "reason", action == 3 ? tt_json_new_str(a, "ended", 5) : tt_json_new_str(a, "suspended", 9));
			return "STREAM_END";
		}
	}
	raw_payload(a, p, type, data);
	return "RAW";
}

/* ---- the line ------------------------------------------------------------- */

/* The DLQ reason for a raw.v1 schema failure. */
static const char *
raw_reason(const struct tt_schema_error *e)
{
	static const struct {
		const char *path, *reason;
	} by_path[] = {
		{ "/data", "bad_data" },
		{ "/schemaVersion", "bad_schema_version" },
		{ "/source", "bad_source" },
		{ "/seqNo", "bad_seqno" },
		{ "/timestamp", "bad_timestamp" },
		{ "/ingestedAt", "bad_timestamp" },
		{ "/sessionId", "bad_session_id" },
		{ "/streamId", "bad_stream_id" },
	};

	if (strcmp(e->keyword, "required") == 0)
		return "missing_field";
	if (strcmp(e->path, "/data") == 0)
		return "bad_data";
	if (strcmp(e->keyword, "type") == 0)
		return "wrong_type";
	if (strcmp(e->keyword, "additionalProperties") == 0 || strcmp(e->keyword, "false") == 0)
		return "unknown_field";
	if (strcmp(e->path, "/type") == 0)
		return strcmp(e->keyword, "minLength") == 0 ? "empty_type" : "bad_type";
	for (size_t i = 0; i < sizeof by_path / sizeof by_path[0]; i++)
		if (strcmp(e->path, by_path[i].path) == 0)
			return by_path[i].reason;
	return "schema_violation";
}
/* Makes the DLQ record for this line in res; false only when even that
 * cannot be built. */

static bool
reject(struct tt_normalizer *n, struct tt_norm_result *res, const char *reason,
    const char *line, size_t len, uint64_t lineno, bool truncated, const struct tt_json *input)
{
	struct tt_dlq_info info = {
		.stage = "normalizer",
		.reason = reason,
		.error = n->error,
		.payload = line,
		.payload_len = len,
		.truncated = truncated,
		.input = input,
		.lineno = lineno,
	};
	struct tt_json *rec = tt_dlq_build(&n->arena, &info);

	if (rec == NULL) {
		/* The arena is full: retry without the parsed input. */
		tt_arena_reset(&n->arena);
		info.input = NULL;
		rec = tt_dlq_build(&n->arena, &info);
	}
	res->dlq = true;
	res->reason = reason;
	res->error = n->error;
	return rec != NULL && tt_json_write(n->writer, rec, &res->text, &res->len);
}

/* Writes streamId:sessionId:seqNo:type into buf; returns its length, or 0
 * if it does not fit. */
static size_t
event_id_source(char *buf, size_t size, const struct tt_json *stream,
    const struct tt_json *session, int64_t seq, const struct tt_json *type)
{
	char num[TT_JSON_INT_LEN];
	size_t numlen = tt_json_format_int(seq, num);
	size_t len = stream->len + session->len + numlen + type->len + 3;
	char *p = buf;

	if (len > size)
		return 0;
	memcpy(p, stream->str, stream->len);
	p += stream->len;
	*p++ = ':';
	memcpy(p, session->str, session->len);
	p += session->len;
	*p++ = ':';
	memcpy(p, num, numlen);
	p += numlen;
	*p++ = ':';
	memcpy(p, type->str, type->len);
	return len;
}

static void
schema_error_text(struct tt_normalizer *n, const struct tt_schema_error *e)
{
	snprintf(n->error, sizeof n->error, "%.200s: %.200s (%.31s)",
	    e->path[0] != '\0' ? e->path : "/", e->message, e->keyword);
}

bool
tt_normalizer_line(struct tt_normalizer *n, const char *line, size_t len,
    uint64_t lineno, bool too_long, struct tt_norm_result *res)
{
	struct tt_arena *a = &n->arena;
	struct tt_json *in = NULL, *ev, *payload, *raw, *user;
	const struct tt_json *type, *data, *stream, *session, *seq;
	struct tt_schema_error serr;
	char idsrc[1024], *event_id;
	const char *event_type;
	size_t idlen;

	tt_arena_reset(a);
	/* Room for the tree of a line this long, its event and a DLQ record. */
	a->max = ARENA_BASE + ARENA_PER_BYTE * len;
	memset(res, 0, sizeof *res);
	if (too_long) {
		snprintf(n->error, sizeof n->error, "line longer than %zu bytes", len);
		return reject(n, res, "line_too_long", line, len, lineno, true, NULL);
	}
	switch (tt_json_parse_filtered(n->parser, a, line, len, n->full_parse ? NULL : line_filter,
	    &in, n->error, sizeof n->error)) {
	case TT_JSON_OK:
		break;
	case TT_JSON_ERR_UTF8:
		return reject(n, res, "invalid_utf8", line, len, lineno, false, NULL);
	case TT_JSON_ERR_DEPTH:
		return reject(n, res, "too_deep", line, len, lineno, false, NULL);
	case TT_JSON_ERR_MEMORY:
		return reject(n, res, "too_large", line, len, lineno, false, NULL);
	default:
		return reject(n, res, "invalid_json", line, len, lineno, false, NULL);
	}
	if (in->kind != TT_JSON_OBJECT) {
		snprintf(n->error, sizeof n->error, "line is not a JSON object");
		return reject(n, res, "not_object", line, len, lineno, false, NULL);
	}
	if (!tt_schema_validate(n->raw_schema, in, &serr)) {
		schema_error_text(n, &serr);
		return reject(n, res, raw_reason(&serr), line, len, lineno, false, in);
	}
	type = tt_json_get(in, "type");
	data = tt_json_get(in, "data");
	stream = tt_json_get(in, "streamId");
	session = tt_json_get(in, "sessionId");
	seq = tt_json_get(in, "seqNo");

	/* eventId = sha256(streamId:sessionId:seqNo:type); the schema bounds
	 * every part (64 + 36 + 16 + 128 characters of at most 4 bytes), so
	 * idsrc cannot overflow. seqNo is written in canonical
	 * decimal, so 5 and 5.0 give one id. */
	idlen = event_id_source(idsrc, sizeof idsrc, stream, session, seq_value(seq), type);
	event_id = tt_arena_alloc(a, TT_SHA256_HEX_LEN);
	if (idlen == 0 || event_id == NULL || !tt_sha256_hex(n->sha, idsrc, idlen, event_id)) {
		snprintf(n->error, sizeof n->error, "cannot compute eventId");
		return reject(n, res, "internal", line, len, lineno, false, in);
	}

	ev = tt_json_new(a, TT_JSON_OBJECT);
	payload = tt_json_new(a, TT_JSON_OBJECT);
	raw = tt_json_new(a, TT_JSON_OBJECT);
	event_type = map_event(a, payload, type, data);
	user = data->kind == TT_JSON_OBJECT ? build_user(a, data) : NULL;
	tt_json_add(ev, "schemaVersion", tt_json_new_str(a, "unified-event.v1", 16));
	tt_json_add(ev, "eventId", tt_json_new_str(a, event_id, 64));
	tt_json_add(ev, "eventType", tt_json_new_str(a, event_type, strlen(event_type)));
	tt_json_add(ev, "source", tt_json_new_copy(a, tt_json_get(in, "source")));
	tt_json_add(ev, "streamId", tt_json_new_copy(a, stream));
	tt_json_add(ev, "sessionId", tt_json_new_copy(a, session));
	tt_json_add(ev, "seqNo", tt_json_new_int(a, seq_value(seq)));
	tt_json_add(ev, "timestamp", tt_json_new_copy(a, tt_json_get(in, "timestamp")));
	tt_json_add(ev, "ingestedAt", tt_json_new_copy(a, tt_json_get(in, "ingestedAt")));
	if (user != NULL)
		tt_json_add(ev, "user", user);
	tt_json_add(ev, "payload", payload);
	tt_json_add(raw, "type", tt_json_new_copy(a, type));
	tt_json_add(raw, "data", tt_json_new_copy(a, data));
	tt_json_add(ev, "raw", raw);
	tt_ack_copy(a, ev, in);
	if (a->failed) {
		snprintf(n->error, sizeof n->error, "event too large");
		return reject(n, res, "too_large", line, len, lineno, false, in);
	}
	if (!tt_schema_validate(n->event_schema, ev, &serr)) {
		schema_error_text(n, &serr);
		return reject(n, res, "schema_violation", line, len, lineno, false, in);
	}
	if (!tt_json_write(n->writer, ev, &res->text, &res->len)) {
		snprintf(n->error, sizeof n->error, "cannot write event");
		return reject(n, res, "internal", line, len, lineno, false, in);
	}
	return true;
}
