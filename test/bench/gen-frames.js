#!/usr/bin/env node
// gen-frames.js N [seed]: writes N synthetic raw.v1 lines to stdout.
//
// The lines have the shape of test/fixtures/raw-frames.ndjson (decoded
// payloads in the proto3 JSON mapping, 64-bit integers as strings) and a
// deterministic mix of message types in rough real-room proportions:
// chat 45%, like 20%, member 12%, gift 6% (streaks included), viewer counts
// 5%, follow/share 3%, emote 2%, battle 2%, other types passed through as
// RAW 5% (one in five of those undecodable, data a base64 string).
// The same N and seed always give the same bytes.
//
// Lines are built as strings from pre-serialized users and written in large
// batches, so that a million lines take seconds, not minutes.
'use strict';

const USAGE = 'usage: node gen-frames.js N [seed]\n';

const N = Number(process.argv[2]);
const SEED = process.argv[3] === undefined ? 1 : Number(process.argv[3]);
if (!Number.isInteger(N) || N < 0 || !Number.isInteger(SEED)) {
  process.stderr.write(USAGE);
  process.exit(2);
}

const STREAM = '7311234567890123456';
const SESSION = '3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10';
const T0 = Date.parse('2026-02-22T10:00:00.000Z');

// ---- deterministic PRNG (mulberry32) ----------------------------------------
let state = SEED >>> 0;
function rnd() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n); // 0 .. n-1
const pick = (a) => a[ri(a.length)];
function digits(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += ri(10);
  return s;
}
const HEX = '0123456789abcdef';
function hex(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += HEX[ri(16)];
  return s;
}
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
function b64(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += B64[ri(64)];
  return s;
}
const q = JSON.stringify;

// ---- users ------------------------------------------------------------------
const FIRST = ['mia', 'liam', 'noor', 'sofia', 'kenji', 'ava', 'mateo', 'zara', 'leo', 'emma',
  'omar', 'yuki', 'chloe', 'ivan', 'amara', 'lucas', 'hana', 'diego', 'nina', 'ethan',
  'lea', 'arjun', 'maya', 'felix', 'sara', 'tariq', 'ines', 'jonas', 'aisha', 'theo'];
const LAST = ['art', 'draws', 'vibes', 'official', 'live', 'gaming', 'daily', 'fan', 'xo', 'tv',
  'studio', 'sketch', 'music', 'life', 'world', 'zone', 'crew', 'nights'];
const FANCY = ['Zoë 🌸', 'Лена', 'さくら', 'José ⚽', 'Αλέξης', 'Ngọc Anh', 'Şebnem', 'Łukasz',
  '민준', '小雨', 'Björn', 'Renée ✨', 'محمد', 'Przemysław', 'Chloé 💫', 'Ayşe', 'ดาว', 'Dũng'];
const EMOJI = ['✨', '🌙', '🔥', '💜', '🎨', '🌸', '⭐', '🦋', '🍀', '💫'];
const cap = (s) => s[0].toUpperCase() + s.slice(1);

function gradeBadge(level) {
  return {
    displayType: 4, sceneType: 8, display: true,
    privilegeLogExtra: { dataVersion: '2', privilegeId: '7138381747292542756', privilegeVersion: '0', privilegeOrderId: 'grade_7138381747292542756', level: String(level) },
    combine: { icon: { urlList: [`https://p19-webcast.tiktokcdn.com/webcast-va/grade_badge_icon_lite_lv${level}_v2.png~tplv-obj.image`] }, str: String(level), displayType: 4 },
  };
}
function subBadge(months) {
  return {
    displayType: 1, sceneType: 4, display: true,
    privilegeLogExtra: { dataVersion: '2', privilegeId: '7265981823487362817', privilegeVersion: '0', level: String(months) },
    image: { displayType: 1, image: { urlList: [`https://p16-webcast.tiktokcdn.com/webcast-va/sub_${months}m_badge_default.png~tplv-obj.image`] } },
  };
}
const MOD_BADGE = { displayType: 2, sceneType: 1, display: true, text: { displayType: 2, key: 'pm_mt_moderator_im', defaultPattern: 'Moderator' } };

function makeUser(i) {
  const first = pick(FIRST);
  const last = pick(LAST);
  let nickname;
  const r = rnd();
  if (r < 0.18) nickname = pick(FANCY);
  else if (r < 0.45) nickname = `${cap(first)} ${pick(EMOJI)}`;
  else if (r < 0.75) nickname = `${cap(first)} ${cap(last)}`;
  else nickname = `${first}.${last}`;
  const handle = `${first}${pick(['.', '_', ''])}${last}${ri(3) === 0 ? ri(1000) : ''}`;
  const id = (ri(2) === 0 ? '6' : '7') + digits(18);
  const h = hex(32);
  const user = {
    id,
    nickname,
    avatarThumb: {
      urlList: [`https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/${h}~tplv-tiktokx-cropcenter:100:100.webp`],
      uri: `100x100/tos-maliva-avt-0068/${h}`,
    },
    followInfo: { followingCount: String(ri(2000)), followerCount: String(ri(5000)) },
    displayId: handle,
    secUid: `MS4wLjABAAAA${b64(64)}`,
  };
  const fs = rnd();
  if (fs < 0.45) user.followInfo.followStatus = '1';
  else if (fs < 0.55) user.followInfo.followStatus = '2';
  const badges = [];
  const mod = i % 97 === 3;
  const sub = rnd() < 0.08;
  if (mod) badges.push(MOD_BADGE);
  if (sub) badges.push(subBadge(1 + ri(12)));
  if (rnd() < 0.55) badges.push(gradeBadge(1 + ri(45)));
  if (badges.length) user.badgeList = badges;
  return {
    id,
    nickname,
    displayId: handle,
    avatar: user.avatarThumb.urlList[0],
    sub,
    json: q(user),
    piece: q({ type: 11, format: { color: '#ff74d2ff', bold: true, weight: 400, fontSize: 14 }, userValue: { user: { id, nickname, displayId: handle }, withColon: false } }),
  };
}
const USERS = [];
for (let i = 0; i < 400; i++) USERS.push(makeUser(i));
// Activity is skewed: a few regulars write most of the chat.
const who = () => USERS[Math.floor(USERS.length * rnd() * rnd())];
const SUBS = USERS.filter((u) => u.sub);
const ANCHOR = { id: '6987654321098765432', nickname: 'Luna paints 🎨', displayId: 'luna.paints' };
const RIVAL = { id: '7001122334455667788', nickname: 'Kenji draws', displayId: 'kenji.draws' };

// ---- text -------------------------------------------------------------------
const PHRASES = ['hi from Texas', 'that sky gradient is unreal', 'what brush is that?', 'lol', 'first time here',
  'can you say hi to my sister', 'love this', 'so relaxing to watch', 'how long did this take',
  'the colors!!', 'ok this is my new favourite stream', 'gg', 'welcome back everyone', 'wait what',
  'can you do a cat next', 'i just got here what did i miss', 'followed!', 'tap tap tap', 'sending love',
  'this song is a vibe', 'are you going live tomorrow?', 'W stream', 'no way', 'teach me pls'];
const INTL = ['すごい！この色、めっちゃ好き', '¡Qué bonito te quedó el cielo!', 'Привет из Москвы', 'que lindo 😍',
  'wow, c\'est magnifique', 'çok güzel oldu', '太好看了吧', 'Schön, weiter so!', 'ขอบคุณค่ะ', 'bravíssimo 👏',
  '안녕하세요!', 'pięknie to wygląda', 'Xin chào mọi người', 'مرحبا من القاهرة'];
const LANGS = ['en', 'en', 'en', 'es', 'pt', 'de', 'fr', 'ja', 'tr'];
const TAILS = ['', '', '', ' 😍', ' 🔥🔥', ' ❤️', ' 😂', ' 👏👏', ' 🎨', '!!'];

const GIFTS = [
  // [id, name, diamonds, type, weight]
  ['5655', 'Rose', 1, 1, 30], ['5269', 'TikTok', 1, 1, 12], ['5487', 'Finger Heart', 5, 1, 12],
  ['5827', 'Ice Cream Cone', 1, 1, 10], ['6064', 'GG', 1, 1, 8], ['5658', 'Perfume', 20, 1, 6],
  ['5879', 'Doughnut', 30, 1, 5], ['5660', 'Hand Hearts', 100, 1, 4], ['6267', 'Corgi', 299, 2, 2],
  ['11046', 'Galaxy', 1000, 2, 1.5], ['6369', 'Lion', 29999, 2, 0.3], ['7168', 'Universe', 34999, 2, 0.2],
].map(([id, name, diamonds, type, w]) => ({ id, name, diamonds, type, w, img: hex(32) }));
const GIFT_W = GIFTS.reduce((s, g) => s + g.w, 0);
function pickGift() {
  let r = rnd() * GIFT_W;
  for (const g of GIFTS) if ((r -= g.w) < 0) return g;
  return GIFTS[0];
}

// ---- envelope and common ----------------------------------------------------
let seq = 0;
let ms = T0;
let viewers = 1500;
let totalUser = 20000;
let likes = 10000;
let anchorScore = 0;
let rivalScore = 0;
const BATTLE = '7609011223344556677';

function head(type) {
  const ts = new Date(ms).toISOString();
  const ing = new Date(ms + 2 + ri(12)).toISOString();
  return `{"schemaVersion":"raw.v1","streamId":"${STREAM}","sessionId":"${SESSION}","source":"live","type":"${type}","seqNo":${seq},"timestamp":"${ts}","ingestedAt":"${ing}","data":`;
}
function common(method, display) {
  const c = `{"method":"${method}","msgId":"76088${10000000000000 + seq * 1009 + ri(1000)}","roomId":"${STREAM}","createTime":"${ms}"`;
  return display ? `${c},"displayText":${display}}` : `${c}}`;
}
function text(key, pattern, pieces) {
  return `{"key":"${key}","defaultPattern":${q(pattern)},"defaultFormat":{"color":"#ffffffff","weight":400,"fontSize":14},"pieces":[${pieces}]}`;
}

// ---- message builders (each returns the whole line, without newline) ---------
function chatLine() {
  const u = who();
  let content = rnd() < 0.15 ? pick(INTL) : pick(PHRASES);
  content += pick(TAILS);
  let extra = '';
  if (rnd() < 0.25) extra += `,"contentLanguage":"${pick(LANGS)}"`;
  if (rnd() < 0.05) {
    const e = `73340${digits(14)}`;
    extra += `,"emotes":[{"index":${content.length},"emote":{"emoteId":"${e}","image":{"urlList":["https://p16-webcast.tiktokcdn.com/webcast-va/sub_emote_${e}~tplv-obj.image"]},"emoteType":1}}]`;
    content += ' [sticker]';
  }
  const ident = u.sub ? '{"isSubscriberOfAnchor":true,"isFollowerOfAnchor":true}' : '{"isFollowerOfAnchor":true}';
  return `${head('WebcastChatMessage')}{"common":${common('WebcastChatMessage')},"user":${u.json},"content":${q(content)}${extra},"userIdentity":${ident}}}`;
}

function likeLine() {
  const u = who();
  const n = 1 + ri(15);
  likes += n;
  return `${head('WebcastLikeMessage')}{"common":${common('WebcastLikeMessage', text('pm_mt_msg_viewer', '{0:user} liked the LIVE', u.piece))},"count":${n},"total":"${likes}","user":${u.json}}}`;
}

function memberLine() {
  const u = USERS[ri(USERS.length)];
  viewers += ri(5) - 1;
  totalUser += 1;
  return `${head('WebcastMemberMessage')}{"common":${common('WebcastMemberMessage', text('live_room_enter_toast', '{0:user} joined', u.piece))},"user":${u.json},"memberCount":${viewers},"action":1,"enterType":1}}`;
}

const streaks = [];
function giftLine() {
  let u;
  let g;
  let count;
  let end = 0;
  let group;
  if (streaks.length > 0 && rnd() < 0.65) {
    const i = ri(streaks.length);
    const s = streaks[i];
    ({ u, g, group } = s);
    if (rnd() < 0.35 || s.count >= 99) {
      end = 1;
      streaks.splice(i, 1);
    } else {
      s.count += 1 + ri(4);
    }
    count = s.count;
  } else {
    u = who();
    g = pickGift();
    count = 1;
    group = String(ms);
    if (g.type === 1) {
      // A streak whose end never arrives is a known real-world case.
      if (streaks.length >= 4) streaks.shift();
      streaks.push({ u, g, group, count });
    }
  }
  const disp = text('webcast_aweme_gift_send_message', '{0:user} sent {1:gift} {2:string}',
    `${u.piece},{"type":4,"giftValue":{"giftId":"${g.id}"}},{"type":1,"stringValue":"×${count}"}`);
  const gift = `{"image":{"urlList":["https://p19-webcast.tiktokcdn.com/img/maliva/webcast-va/${g.img}~tplv-obj.webp"]},"id":"${g.id}","combo":${g.type === 1},"type":${g.type},"diamondCount":${g.diamonds},"name":${q(g.name)}}`;
  return `${head('WebcastGiftMessage')}{"common":${common('WebcastGiftMessage', disp)},"giftId":"${g.id}","repeatCount":${count},"comboCount":${count},"user":${u.json},"toUser":{"id":"${ANCHOR.id}","displayId":"${ANCHOR.displayId}"},"repeatEnd":${end},"groupId":"${group}","gift":${gift}}}`;
}

function roomUserLine() {
  const r = [0, 1, 2].map((i) => `{"score":"${3000 >> i}","user":${USERS[i].json},"rank":"${i + 1}"}`).join(',');
  const pop = viewers >= 1000 ? `${(viewers / 1000).toFixed(1)}K` : String(viewers);
  return `${head('WebcastRoomUserSeqMessage')}{"common":${common('WebcastRoomUserSeqMessage')},"ranks":[${r}],"total":"${viewers}","popStr":"${pop}","totalUser":"${totalUser}"}}`;
}

function socialLine() {
  const u = USERS[ri(USERS.length)];
  const r = rnd();
  let key;
  let pattern;
  let extra;
  if (r < 0.6) {
    key = 'pm_main_follow_message_viewer_2';
    pattern = '{0:user} followed the LIVE creator';
    extra = `,"action":"1","followCount":"${184000 + seq}"`;
  } else if (r < 0.93) {
    key = 'pm_mt_guidance_share';
    pattern = '{0:user} shared the LIVE';
    extra = `,"shareType":"1","action":"3","shareTarget":"${pick(['whatsapp', 'copy_link', 'instagram', 'messenger'])}","shareCount":1`;
  } else {
    const n = 2 + ri(9);
    key = `pm_mt_guidance_viewer_${n}_share`;
    pattern = `{0:user} shared the LIVE and ${n} viewers joined`;
    extra = ',"shareType":"1","action":"3","shareCount":1';
  }
  return `${head('WebcastSocialMessage')}{"common":${common('WebcastSocialMessage', text(key, pattern, u.piece))},"user":${u.json}${extra}}}`;
}

function emoteLine() {
  const u = SUBS.length ? pick(SUBS) : USERS[0];
  const e = `73340${digits(14)}`;
  return `${head('WebcastEmoteChatMessage')}{"common":${common('WebcastEmoteChatMessage')},"user":${u.json},"emoteList":[{"emoteId":"${e}","image":{"urlList":["https://p16-webcast.tiktokcdn.com/webcast-va/sub_emote_${e}~tplv-obj.image"],"height":64,"width":64},"emoteType":1}],"userIdentity":{"isSubscriberOfAnchor":true}}}`;
}

function battleLine() {
  const r = rnd();
  if (r < 0.8) {
    const u = who();
    const pts = 1 + ri(30);
    if (rnd() < 0.6) anchorScore += pts; else rivalScore += pts;
    const army = (uid, nick, s) => `{"userId":"${uid}","score":"${s}","nickname":${q(nick)},"diamondScore":"${s}","userIdStr":"${uid}"}`;
    return `${head('WebcastLinkMicArmies')}{"common":${common('WebcastLinkMicArmies')},"battleId":"${BATTLE}","armies":{"${ANCHOR.id}":{"userArmies":[${army(u.id, u.nickname, anchorScore)}],"hostscore":"${anchorScore}","anchorIdStr":"${ANCHOR.id}"},"${RIVAL.id}":{"userArmies":[${army(USERS[5].id, USERS[5].nickname, rivalScore)}],"hostscore":"${rivalScore}","anchorIdStr":"${RIVAL.id}"}},"triggerReason":1,"fromUserId":"${u.id}","giftId":"5655","giftCount":1,"totalDiamondCount":${pts},"repeatCount":1}}`;
  }
  if (r < 0.95) {
    const res = (id, s, w) => `{"userId":"${id}","result":${w},"score":"${s}"}`;
    const a = anchorScore >= rivalScore ? 0 : 1;
    return `${head('WebcastLinkMicBattle')}{"common":${common('WebcastLinkMicBattle')},"battleId":"${BATTLE}","battleSettings":{"battleId":"${BATTLE}","startTimeMs":"${ms - 60000}","duration":300,"status":1,"battleType":1},"action":${pick([4, 5])},"battleResult":{"${ANCHOR.id}":${res(ANCHOR.id, anchorScore, a)},"${RIVAL.id}":${res(RIVAL.id, rivalScore, 1 - a)}}}}`;
  }
  const u = SUBS.length ? pick(SUBS) : USERS[0];
  return `${head('WebcastBarrageMessage')}{"common":${common('WebcastBarrageMessage')},"msgType":4,"content":${text('ttlive_superfan', '{0:user} became a Super Fan', u.piece)},"duration":"3000","user":${u.json}}}`;
}

function rawLine() {
  const r = rnd();
  if (r < 0.3) {
    const u = who();
    return `${head('WebcastGoalUpdateMessage')}{"common":${common('WebcastGoalUpdateMessage')},"goal":{"id":"7609002233445566778","type":1,"status":1,"subGoals":[{"type":1,"id":"5655","progress":"${seq % 2000}","target":"2000"}],"description":"Roses for the new canvas 🌹","contributors":[{"userId":"${u.id}","displayId":"${u.displayId}","score":"${1 + ri(500)}"}]},"contributorId":"${u.id}","updateSource":"1"}}`;
  }
  if (r < 0.5) {
    return `${head('WebcastHourlyRankRewardMessage')}{"common":${common('WebcastHourlyRankRewardMessage', text('pm_mt_hourly_rank_reward', '{0:user} is in the top 10 of the hourly ranking', '{"type":11,"userValue":{"user":{"id":"6987654321098765432","nickname":"Luna paints 🎨"}}}'))},"rankType":8,"rank":${1 + ri(10)},"rewardDuration":"600"}}`;
  }
  if (r < 0.7) {
    const u = who();
    return `${head('WebcastRoomPinMessage')}{"common":${common('WebcastRoomPinMessage')},"chatMessage":{"common":${common('WebcastChatMessage')},"user":${u.json},"content":${q(pick(PHRASES))}},"originalMsgType":"WebcastChatMessage","timestamp":"${ms}","action":1}}`;
  }
  if (r < 0.8) {
    return `${head('WebcastRankUpdateMessage')}{"common":${common('WebcastRankUpdateMessage')},"updatesList":[{"rankType":"${ri(12)}","ownerRank":"${1 + ri(99)}","defaultContent":{"key":"pm_mt_rank_update","defaultPattern":"Weekly ranking updated"}}]}}`;
  }
  // Undecodable: the original bytes, base64.
  let bytes = '';
  for (let i = 0, n = 60 + ri(120); i < n; i++) bytes += String.fromCharCode(ri(256));
  return `${head('WebcastInRoomBannerMessage')}${q(Buffer.from(bytes, 'latin1').toString('base64'))}}`;
}

// Cumulative weights in percent.
const MIX = [
  [45, chatLine], [65, likeLine], [77, memberLine], [83, giftLine], [88, roomUserLine],
  [91, socialLine], [93, emoteLine], [95, battleLine], [100, rawLine],
];
function nextLine() {
  seq++;
  ms += ri(41);
  const r = rnd() * 100;
  for (const [w, f] of MIX) if (r < w) return f();
  return chatLine();
}

// ---- output: large batches, honouring backpressure --------------------------
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

async function main() {
  // Encoding each line into a byte buffer is several times faster than
  // handing Node one long concatenated string.
  const SIZE = 1 << 20;
  let out = Buffer.allocUnsafe(SIZE);
  let off = 0;
  for (let i = 0; i < N; i++) {
    const line = nextLine() + '\n';
    if (off + line.length * 3 > SIZE) { // 3: UTF-8 bytes per UTF-16 unit, at most
      const ok = process.stdout.write(out.subarray(0, off));
      out = Buffer.allocUnsafe(SIZE);
      off = 0;
      if (!ok) await new Promise((r) => process.stdout.once('drain', r));
    }
    off += out.write(line, off);
  }
  if (off > 0) process.stdout.write(out.subarray(0, off));
}
main();
