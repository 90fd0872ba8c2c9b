/* gen-recording - writes a TTLCWS1 recording of synthetic TikTok LIVE
 * traffic, for the benchmark and the file provider's tests.
 *
 * usage: gen-recording [--messages N] [--seed S] [--room ID] [--like FILE]
 *                      [--no-end] [--seeds DIR] OUT
 *
 * The recording opens with the sign server's body ('F', isFirst, three
 * history messages) and one Euler JSON bundle ('T'), then push frames ('B')
 * of 2 to 8 messages each, nine in ten gzipped, with a server heartbeat
 * frame now and then, and (unless --no-end) a Control action 3 last. The
 * message types cycle through every type the normalizer maps (chat, gift,
 * like, member, social follow/share, subscribe, emote, battle, armies,
 * barrage, room user seq, control pause) plus one method not in our
 * .proto; users carry avatars, badges and follow counts like real ones.
 * --like FILE puts that WebcastLikeMessage payload (the captured one) in
 * the first push frame. --seeds DIR also writes the first push frames'
 * bytes, one file each, as fuzzing seeds. Everything is encoded with
 * protobuf-c's pack functions.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tt_frames.h"
#include "webcast.pb-c.h"

#define USAGE "usage: gen-recording [--messages N] [--seed S] [--room ID] [--like FILE] [--no-end] [--seeds DIR] OUT\n"

static uint64_t rng = 88172645463325252u;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* ---- a bump pool for the messages of one frame --------------------------- */

static char pool[1 << 20];
static size_t pool_used;

static void *
alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (pool_used + n > sizeof pool) {
		fprintf(stderr, "gen-recording: pool exhausted\n");
		exit(1);
	}
	p = pool + pool_used;
	pool_used += n;
	return p;
}

static char *
fmt(const char *f, uint64_t a, uint64_t b)
{
	char *s = alloc(512);

	snprintf(s, 512, f, (unsigned long long)a, (unsigned long long)b);
	return s;
}

#define NEW(T, INIT) ({ T *p_ = alloc(sizeof(T)); T i_ = INIT; *p_ = i_; p_; })

/* ---- building blocks ----------------------------------------------------- */

static const char *const nicknames[] = { "Olek", "Mara \xf0\x9f\x8c\xb8", "kay", "Jon\xc3\xa1s", "Li Wei",
	"Sasha_99", "Aiyana", "Tomek", "Priya", "Noor" };
static const char *const words[] = { "hello", "wow", "nice stream", "love this", "\xf0\x9f\x94\xa5\xf0\x9f\x94\xa5",
	"where are you from?", "first time here", "gg", "can you say hi to my friend", "lol" };

static Webcast__ImageModel *
image(const char *kind, uint64_t id)
{
	Webcast__ImageModel *im = NEW(Webcast__ImageModel, WEBCAST__IMAGE_MODEL__INIT);
	char **urls = alloc(2 * sizeof *urls);

	urls[0] = fmt("https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/%016llx~tplv-tiktokx-cropcenter:100:100.webp"
	    "?lk3s=a5d48078&nonce=%llu&refresh_token=Lp5Zx2QwT8vKn4RmYb6H&x-expires=1771927200"
	    "&x-signature=Lp5Zx2QwT8vK%%2Bn4RmYb6H%%3D&shp=a5d48078&shcp=fdd36af4", id, id % 99991);
	urls[1] = fmt("https://p77-sign-va.tiktokcdn.com/tos-maliva-avt-0068/%016llx~tplv-tiktokx-cropcenter:100:100.jpeg"
	    "?lk3s=a5d48078&nonce=%llu&refresh_token=Lp5Zx2QwT8vKn4RmYb6H&x-expires=1771927200"
	    "&x-signature=Lp5Zx2QwT8vK%%2Bn4RmYb6H%%3D&shp=a5d48078&shcp=fdd36af4", id, id % 99991);
	im->n_urllist = 2;
	im->urllist = urls;
	im->uri = fmt("100x100/tos-maliva-avt-0068/%016llx%llu", id, (uint64_t)(kind[0]));
	im->height = im->width = 100;
	return im;
}

static Webcast__BadgeStruct *
badge(int display_type, int scene, const char *level)
{
	Webcast__BadgeStruct *b = NEW(Webcast__BadgeStruct, WEBCAST__BADGE_STRUCT__INIT);
	Webcast__PrivilegeLogExtra *x = NEW(Webcast__PrivilegeLogExtra, WEBCAST__PRIVILEGE_LOG_EXTRA__INIT);

	b->displaytype = display_type;
	b->scenetype = scene;
	b->display = 1;
	x->dataversion = (char *)"2";
	x->privilegeid = fmt("7138381%llu", rnd() % 100000000, 0);
	x->level = (char *)level;
	b->privilegelogextra = x;
	if (display_type == 1) {
		Webcast__ImageBadge *ib = NEW(Webcast__ImageBadge, WEBCAST__IMAGE_BADGE__INIT);

		ib->displaytype = 1;
		ib->image = image("badge", rnd());
		b->image = ib;
	} else {
		Webcast__TextBadge *tb = NEW(Webcast__TextBadge, WEBCAST__TEXT_BADGE__INIT);

		tb->displaytype = display_type;
		tb->key = (char *)"live_fans_badge";
		tb->defaultpattern = (char *)"Fan";
		b->text = tb;
	}
	return b;
}

static Webcast__User *
user(void)
{
	Webcast__User *u = NEW(Webcast__User, WEBCAST__USER__INIT);
	Webcast__FollowInfo *fi = NEW(Webcast__FollowInfo, WEBCAST__FOLLOW_INFO__INIT);
	Webcast__BadgeStruct **badges = alloc(2 * sizeof *badges);
	unsigned k = pick(10);
	uint64_t id = 6800000000000000000u + rnd() % 1000000000000000u;

	u->id = (int64_t)id;
	u->nickname = (char *)nicknames[k];
	u->avatarthumb = image("thumb", id);
	u->displayid = fmt("user%llu_%llu", id % 100000, k);
	u->secuid = fmt("MS4wLjABAAAA%llu-k3xJt9qWzPfLmN8vR2sYd4%llu", id, id % 7777);
	fi->followingcount = (int64_t)pick(2000);
	fi->followercount = (int64_t)pick(50000);
	u->followinfo = fi;
	badges[0] = badge(1, 1, "12");
	badges[1] = badge(4, 8, "15");
	u->n_badgelist = 2;
	u->badgelist = badges;
	u->idstr = fmt("%llu", id, 0);
	return u;
}

static Webcast__CommonMessageData *
common(const char *method, uint64_t room, int64_t ms, const char *key, const char *pattern)
{
	Webcast__CommonMessageData *c = NEW(Webcast__CommonMessageData, WEBCAST__COMMON_MESSAGE_DATA__INIT);

	c->method = (char *)method;
	c->msgid = (int64_t)(7340000000000000000u + rnd() % 1000000000000000u);
	c->roomid = (int64_t)room;
	c->createtime = ms;
	if (key != NULL) {
		Webcast__Text *t = NEW(Webcast__Text, WEBCAST__TEXT__INIT);

		t->key = (char *)key;
		t->defaultpattern = (char *)pattern;
		c->displaytext = t;
	}
	return c;
}

/* ---- the messages ------------------------------------------------------- */

enum kind { CHAT, GIFT, LIKE, MEMBER, FOLLOW, SHARE, SUB, EMOTE, BATTLE, ARMIES, BARRAGE, SEQ, PAUSE, UNKNOWN };

/* Realistic proportions, and every kind within the first 24 messages. */
static const enum kind cycle[] = { CHAT, LIKE, MEMBER, GIFT, CHAT, FOLLOW, LIKE, SEQ, CHAT, SHARE, MEMBER, SUB,
	CHAT, EMOTE, LIKE, BATTLE, GIFT, ARMIES, CHAT, BARRAGE, MEMBER, PAUSE, LIKE, UNKNOWN };

struct msg {
	const char *method;
	uint8_t *payload;
	size_t len;
};

static void
packed(struct msg *m, const char *method, const ProtobufCMessage *pm)
{
	m->method = method;
	m->len = protobuf_c_message_get_packed_size(pm);
	m->payload = alloc(m->len);
	protobuf_c_message_pack(pm, m->payload);
}

static void
make_message(struct msg *m, enum kind k, uint64_t room, int64_t ms, int control_action)
{
	switch (k) {
	case CHAT: {
		Webcast__WebcastChatMessage *c = NEW(Webcast__WebcastChatMessage, WEBCAST__WEBCAST_CHAT_MESSAGE__INIT);

		c->common = common("WebcastChatMessage", room, ms, "", "");
		c->user = user();
		c->content = (char *)words[pick(10)];
		c->contentlanguage = (char *)"en";
		packed(m, "WebcastChatMessage", &c->base);
		break;
	}
	case GIFT: {
		Webcast__WebcastGiftMessage *g = NEW(Webcast__WebcastGiftMessage, WEBCAST__WEBCAST_GIFT_MESSAGE__INIT);
		Webcast__Gift *gd = NEW(Webcast__Gift, WEBCAST__GIFT__INIT);

		g->common = common("WebcastGiftMessage", room, ms, "webcast_gift_send_message", "{0:user} sent {1:gift} {2:string}");
		g->giftid = 5655;
		g->repeatcount = 1 + (int32_t)pick(10);
		g->repeatend = (int32_t)pick(2);
		g->groupid = (int64_t)(1709140000000 + pick(1000));
		g->user = user();
		g->logid = fmt("20240228%llu", rnd() % 1000000000000u, 0);
		gd->id = 5655;
		gd->name = (char *)"Rose";
		gd->diamondcount = 1;
		gd->type = 1;
		gd->combo = 1;
		gd->image = image("gift", 5655);
		g->gift = gd;
		packed(m, "WebcastGiftMessage", &g->base);
		break;
	}
	case LIKE: {
		Webcast__WebcastLikeMessage *l = NEW(Webcast__WebcastLikeMessage, WEBCAST__WEBCAST_LIKE_MESSAGE__INIT);

		l->common = common("WebcastLikeMessage", room, ms, "pm_mt_msg_viewer", "{0:user} liked the LIVE");
		l->count = 1 + (int32_t)pick(15);
		l->total = (int64_t)(10000 + pick(5000));
		l->user = user();
		l->effectcnt = 1;
		packed(m, "WebcastLikeMessage", &l->base);
		break;
	}
	case MEMBER: {
		Webcast__WebcastMemberMessage *mm = NEW(Webcast__WebcastMemberMessage, WEBCAST__WEBCAST_MEMBER_MESSAGE__INIT);

		mm->common = common("WebcastMemberMessage", room, ms, "live_room_enter_toast", "{0:user} joined");
		mm->user = user();
		mm->membercount = (int32_t)(100 + pick(900));
		mm->action = 1;
		packed(m, "WebcastMemberMessage", &mm->base);
		break;
	}
	case FOLLOW:
	case SHARE: {
		Webcast__WebcastSocialMessage *s = NEW(Webcast__WebcastSocialMessage, WEBCAST__WEBCAST_SOCIAL_MESSAGE__INIT);

		s->common = common("WebcastSocialMessage", room, ms,
		    k == FOLLOW ? "pm_main_follow_message_viewer_2" : "pm_mt_guidance_share",
		    k == FOLLOW ? "{0:user} followed the LIVE creator" : "{0:user} shared the LIVE");
		s->user = user();
		s->action = k == FOLLOW ? 1 : 3;
		s->followcount = (int64_t)pick(10000);
		s->sharetype = k == SHARE ? 1 : 0;
		packed(m, "WebcastSocialMessage", &s->base);
		break;
	}
	case SUB: {
		Webcast__WebcastSubNotifyMessage *s = NEW(Webcast__WebcastSubNotifyMessage, WEBCAST__WEBCAST_SUB_NOTIFY_MESSAGE__INIT);

		s->common = common("WebcastSubNotifyMessage", room, ms, "ttlive_subscribe_message", "{0:user} subscribed");
		s->user = user();
		s->submonth = 1 + (int64_t)pick(12);
		packed(m, "WebcastSubNotifyMessage", &s->base);
		break;
	}
	case EMOTE: {
		Webcast__WebcastEmoteChatMessage *e = NEW(Webcast__WebcastEmoteChatMessage, WEBCAST__WEBCAST_EMOTE_CHAT_MESSAGE__INIT);
		Webcast__EmoteModel *em = NEW(Webcast__EmoteModel, WEBCAST__EMOTE_MODEL__INIT), **list = alloc(sizeof *list);

		e->common = common("WebcastEmoteChatMessage", room, ms, NULL, NULL);
		e->user = user();
		em->emoteid = fmt("72%llu", rnd() % 10000000000000000u, 0);
		em->image = image("emote", rnd());
		list[0] = em;
		e->n_emotelist = 1;
		e->emotelist = list;
		packed(m, "WebcastEmoteChatMessage", &e->base);
		break;
	}
	case BATTLE: {
		Webcast__WebcastLinkMicBattle *b = NEW(Webcast__WebcastLinkMicBattle, WEBCAST__WEBCAST_LINK_MIC_BATTLE__INIT);
		Webcast__BattleSetting *bs = NEW(Webcast__BattleSetting, WEBCAST__BATTLE_SETTING__INIT);
		Webcast__WebcastLinkMicBattle__BattleResultEntry **res = alloc(2 * sizeof *res);

		b->common = common("WebcastLinkMicBattle", room, ms, NULL, NULL);
		b->battleid = 7340000000123;
		b->action = 1;
		bs->battleid = b->battleid;
		bs->starttimems = ms;
		bs->duration = 300;
		bs->status = 1;
		b->battlesettings = bs;
		for (int i = 0; i < 2; i++) {
			Webcast__WebcastLinkMicBattle__BattleResultEntry *e =
			    NEW(Webcast__WebcastLinkMicBattle__BattleResultEntry, WEBCAST__WEBCAST_LINK_MIC_BATTLE__BATTLE_RESULT_ENTRY__INIT);
			Webcast__BattleResult *r = NEW(Webcast__BattleResult, WEBCAST__BATTLE_RESULT__INIT);

			e->key = 7000000000000000000 + i;
			r->userid = e->key;
			r->score = (int64_t)pick(5000);
			r->result = i;
			e->value = r;
			res[i] = e;
		}
		b->n_battleresult = 2;
		b->battleresult = res;
		packed(m, "WebcastLinkMicBattle", &b->base);
		break;
	}
	case ARMIES: {
		Webcast__WebcastLinkMicArmies *a = NEW(Webcast__WebcastLinkMicArmies, WEBCAST__WEBCAST_LINK_MIC_ARMIES__INIT);
		Webcast__WebcastLinkMicArmies__ArmiesEntry **arm = alloc(2 * sizeof *arm);

		a->common = common("WebcastLinkMicArmies", room, ms, NULL, NULL);
		a->battleid = 7340000000123;
		a->triggerreason = 1;
		for (int i = 0; i < 2; i++) {
			Webcast__WebcastLinkMicArmies__ArmiesEntry *e =
			    NEW(Webcast__WebcastLinkMicArmies__ArmiesEntry, WEBCAST__WEBCAST_LINK_MIC_ARMIES__ARMIES_ENTRY__INIT);
			Webcast__BattleUserArmies *ua = NEW(Webcast__BattleUserArmies, WEBCAST__BATTLE_USER_ARMIES__INIT);
			Webcast__BattleUserArmy *army = NEW(Webcast__BattleUserArmy, WEBCAST__BATTLE_USER_ARMY__INIT), **al = alloc(sizeof *al);

			e->key = 7000000000000000000 + i;
			ua->hostscore = (int64_t)pick(9000);
			ua->anchoridstr = fmt("%llu", (uint64_t)e->key, 0);
			army->userid = (int64_t)(6800000000000000000u + pick(100000));
			army->score = (int64_t)pick(500);
			army->nickname = (char *)nicknames[pick(10)];
			army->avatarthumb = image("army", (uint64_t)army->userid);
			al[0] = army;
			ua->n_userarmies = 1;
			ua->userarmies = al;
			e->value = ua;
			arm[i] = e;
		}
		a->n_armies = 2;
		a->armies = arm;
		packed(m, "WebcastLinkMicArmies", &a->base);
		break;
	}
	case BARRAGE: {
		Webcast__WebcastBarrageMessage *b = NEW(Webcast__WebcastBarrageMessage, WEBCAST__WEBCAST_BARRAGE_MESSAGE__INIT);
		Webcast__Text *t = NEW(Webcast__Text, WEBCAST__TEXT__INIT);

		b->common = common("WebcastBarrageMessage", room, ms, NULL, NULL);
		b->msgtype = 1;
		t->key = (char *)"pm_mt_barrage";
		t->defaultpattern = (char *)"{0:user} is on fire";
		b->content = t;
		b->duration = 3000;
		b->user = user();
		packed(m, "WebcastBarrageMessage", &b->base);
		break;
	}
	case SEQ: {
		Webcast__WebcastRoomUserSeqMessage *s = NEW(Webcast__WebcastRoomUserSeqMessage, WEBCAST__WEBCAST_ROOM_USER_SEQ_MESSAGE__INIT);
		Webcast__Contributor **ranks = alloc(3 * sizeof *ranks);

		s->common = common("WebcastRoomUserSeqMessage", room, ms, NULL, NULL);
		for (int i = 0; i < 3; i++) {
			Webcast__Contributor *c = NEW(Webcast__Contributor, WEBCAST__CONTRIBUTOR__INIT);

			c->score = (int64_t)pick(5000);
			c->rank = i + 1;
			c->user = user();
			ranks[i] = c;
		}
		s->n_ranks = 3;
		s->ranks = ranks;
		s->total = (int64_t)(100 + pick(5000));
		s->totaluser = s->total * 3;
		s->popstr = fmt("%llu", (uint64_t)s->total, 0);
		packed(m, "WebcastRoomUserSeqMessage", &s->base);
		break;
	}
	case PAUSE: {
		Webcast__WebcastControlMessage *c = NEW(Webcast__WebcastControlMessage, WEBCAST__WEBCAST_CONTROL_MESSAGE__INIT);

		c->common = common("WebcastControlMessage", room, ms, NULL, NULL);
		c->action = control_action != 0 ? control_action : 1 + (int)pick(2);
		packed(m, "WebcastControlMessage", &c->base);
		break;
	}
	case UNKNOWN: {
		Webcast__WebcastChatMessage *c = NEW(Webcast__WebcastChatMessage, WEBCAST__WEBCAST_CHAT_MESSAGE__INIT);

		/* Some bytes under a method our .proto does not have. */
		c->common = common("WebcastRoomPinMessage", room, ms, NULL, NULL);
		c->content = (char *)"pinned";
		packed(m, "WebcastRoomPinMessage", &c->base);
		break;
	}
	}
}

/* ---- frames ------------------------------------------------------------- */

static uint8_t *
pack_result(const struct msg *msgs, size_t n, bool first, size_t *len)
{
	Webcast__ProtoMessageFetchResult r = WEBCAST__PROTO_MESSAGE_FETCH_RESULT__INIT;
	Webcast__BaseProtoMessage **bm = alloc(n * sizeof *bm);
	Webcast__ProtoMessageFetchResult__RouteParamsEntry *rp[2];
	uint8_t *out;

	for (size_t i = 0; i < n; i++) {
		bm[i] = NEW(Webcast__BaseProtoMessage, WEBCAST__BASE_PROTO_MESSAGE__INIT);
		bm[i]->method = (char *)msgs[i].method;
		bm[i]->payload.data = msgs[i].payload;
		bm[i]->payload.len = msgs[i].len;
		bm[i]->msgid = (int64_t)(7340000000000000000u + rnd() % 1000000000000000u);
		bm[i]->ishistory = first;
	}
	r.n_messages = n;
	r.messages = bm;
	r.cursor = fmt("t-%llu_r-1_d-1_u-1_fh-%llu", rnd() % 10000000000000u, rnd() % 100000);
	r.internalext = fmt("internal_src:dim|wss_push_room_id:7340691647148018438|wss_push_did:%llu|first_req_ms:%llu"
	    "|fetch_time:1709140492750|seq:1|wss_info:0-1709140492750-0-0|wrds_v:7340702508733", rnd() % 10000000000000000u,
	    rnd() % 10000000000000u);
	r.fetchinterval = 1000;
	r.now = 1709140492750;
	r.needack = !first;
	r.heartbeatduration = 10000;
	if (first) {
		r.isfirst = 1;
		r.pushserver = (char *)"wss://webcast-ws.tiktok.com/webcast/im/ws_proxy/ws_reuse_supplement/";
		for (int i = 0; i < 2; i++) {
			rp[i] = NEW(Webcast__ProtoMessageFetchResult__RouteParamsEntry,
			    WEBCAST__PROTO_MESSAGE_FETCH_RESULT__ROUTE_PARAMS_ENTRY__INIT);
			rp[i]->key = (char *)(i == 0 ? "im_path" : "wrss");
			rp[i]->value = (char *)(i == 0 ? "/webcast/im/fetch/" : "k3xJt9qWzPfLmN8vR2sYd4");
		}
		r.n_routeparams = 2;
		r.routeparams = rp;
	}
	*len = webcast__proto_message_fetch_result__get_packed_size(&r);
	out = malloc(*len);
	webcast__proto_message_fetch_result__pack(&r, out);
	return out;
}

static uint8_t *
gzip_buf(const uint8_t *p, size_t len, size_t *zlen)
{
	static z_stream z;
	static bool ready;
	uint8_t *out;

	if (!ready && deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		exit(1);
	if (ready && deflateReset(&z) != Z_OK)
		exit(1);
	ready = true;
	*zlen = deflateBound(&z, len);
	out = malloc(*zlen);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)*zlen;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		exit(1);
	*zlen = z.total_out;
	return out;
}

static uint8_t *
pack_push(const char *type, const uint8_t *payload, size_t len, bool gzip, uint64_t seq, size_t *out_len)
{
	Webcast__WebcastPushFrame pf = WEBCAST__WEBCAST_PUSH_FRAME__INIT;
	Webcast__PushHeader h = WEBCAST__PUSH_HEADER__INIT, *hs[] = { &h };
	uint8_t *z = NULL, *out;
	size_t zlen = 0;

	if (gzip)
		z = gzip_buf(payload, len, &zlen);
	pf.seqid = (int64_t)seq;
	pf.logid = (int64_t)(7340702000000000000u + seq);
	pf.payloadencoding = (char *)"pb";
	pf.payloadtype = (char *)type;
	h.key = (char *)"compress_type";
	h.value = (char *)(gzip ? "gzip" : "none");
	pf.n_headers = 1;
	pf.headers = hs;
	pf.payload.data = gzip ? z : (uint8_t *)(uintptr_t)payload;
	pf.payload.len = gzip ? zlen : len;
	*out_len = webcast__webcast_push_frame__get_packed_size(&pf);
	out = malloc(*out_len);
	webcast__webcast_push_frame__pack(&pf, out);
	free(z);
	return out;
}

static void
write_or_die(struct tt_frames_writer *w, uint64_t us, char kind, const char *room, const void *p, size_t len)
{
	if (!tt_frames_write(w, us, kind, room, strlen(room), p, len)) {
		perror("gen-recording: write");
		exit(1);
	}
}

static void
seed_file(const char *dir, unsigned n, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/frame-%02u.bin", dir, n);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	uint64_t want = 1000, made = 0, seq = 1, room_id;
	const char *room = "7340691647148018438", *like_path = NULL, *seeds = NULL, *out = NULL;
	bool end = true;
	struct tt_frames_writer w;
	uint64_t us = 1709140492750000u;
	int64_t ms = 1709140492750;
	unsigned nseeds = 0;
	struct msg msgs[8];
	uint8_t *res, *frame;
	size_t rlen, flen;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
			want = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			rng ^= strtoull(argv[++i], NULL, 10) * 0x9e3779b97f4a7c15u;
		else if (strcmp(argv[i], "--room") == 0 && i + 1 < argc)
			room = argv[++i];
		else if (strcmp(argv[i], "--like") == 0 && i + 1 < argc)
			like_path = argv[++i];
		else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			seeds = argv[++i];
		else if (strcmp(argv[i], "--no-end") == 0)
			end = false;
		else if (argv[i][0] != '-' && out == NULL)
			out = argv[i];
		else {
			fputs(USAGE, stderr);
			return 2;
		}
	}
	if (out == NULL || strlen(room) > 64) {
		fputs(USAGE, stderr);
		return 2;
	}
	room_id = strtoull(room, NULL, 10);
	if (!tt_frames_create(&w, out, false)) {
		perror(out);
		return 1;
	}
	/* The sign server's body: three history messages. */
	pool_used = 0;
	for (int i = 0; i < 3; i++)
		make_message(&msgs[i], cycle[i], room_id, ms - 5000 + i, 0);
	res = pack_result(msgs, 3, true, &rlen);
	write_or_die(&w, us, 'F', room, res, rlen);
	if (seeds != NULL)
		seed_file(seeds, nseeds++, res, rlen);
	free(res);
	made += 3;
	/* One Euler JSON bundle. */
	{
		char text[1024];
		int n = snprintf(text, sizeof text,
		    "{\"messages\":[{\"type\":\"WebcastChatMessage\",\"data\":{\"common\":{\"method\":\"WebcastChatMessage\","
		    "\"msgId\":\"7340702509671400001\",\"roomId\":\"%llu\",\"createTime\":\"%lld\"},\"user\":{\"id\":"
		    "\"6800000000000000001\",\"nickname\":\"Euler\",\"displayId\":\"euler_user\"},\"content\":\"via euler\"}},"
		    "{\"type\":\"roomInfo\",\"data\":{\"id\":\"%llu\",\"status\":2}}]}",
		    (unsigned long long)room_id, (long long)ms, (unsigned long long)room_id);

		write_or_die(&w, us + 1000, 'T', room, text, (size_t)n);
		made += 2;
	}
	if (like_path != NULL) {
		FILE *f = fopen(like_path, "rb");
		static uint8_t like[1 << 16];

		if (f == NULL) {
			perror(like_path);
			return 1;
		}
		pool_used = 0;
		msgs[0].method = "WebcastLikeMessage";
		msgs[0].payload = like;
		msgs[0].len = fread(like, 1, sizeof like, f);
		fclose(f);
		res = pack_result(msgs, 1, false, &rlen);
		frame = pack_push("msg", res, rlen, true, seq++, &flen);
		write_or_die(&w, us + 2000, 'B', room, frame, flen);
		if (seeds != NULL)
			seed_file(seeds, nseeds++, frame, flen);
		free(res);
		free(frame);
		made++;
	}
	while (made < want) {
		size_t n = 2 + pick(7);

		if (n > want - made)
			n = (size_t)(want - made);
		pool_used = 0;
		for (size_t i = 0; i < n; i++, made++) {
			ms += 1 + (int64_t)pick(40);
			make_message(&msgs[i], cycle[made % (sizeof cycle / sizeof cycle[0])], room_id, ms, 0);
		}
		us = (uint64_t)ms * 1000 + 350;
		res = pack_result(msgs, n, false, &rlen);
		frame = pack_push("msg", res, rlen, pick(10) != 0, seq++, &flen);
		write_or_die(&w, us, 'B', room, frame, flen);
		if (seeds != NULL && nseeds < 6)
			seed_file(seeds, nseeds++, frame, flen);
		free(res);
		free(frame);
		if (seq % 50 == 0) { /* the server's heartbeat reply */
			frame = pack_push("hb", (const uint8_t *)"", 0, false, seq++, &flen);
			write_or_die(&w, us + 1, 'B', room, frame, flen);
			free(frame);
		}
	}
	if (end) {
		pool_used = 0;
		make_message(&msgs[0], PAUSE, room_id, ms + 1000, 3);
		res = pack_result(msgs, 1, false, &rlen);
		frame = pack_push("msg", res, rlen, true, seq++, &flen);
		write_or_die(&w, us + 1000000, 'B', room, frame, flen);
		free(res);
		free(frame);
	}
	if (!tt_frames_close(&w)) {
		perror(out);
		return 1;
	}
	return 0;
}
