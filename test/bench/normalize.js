#!/usr/bin/env node
// normalize.js: raw.v1 NDJSON on stdin -> UnifiedEvent v1 NDJSON on stdout.
//
// A plain Node baseline for the benchmark (make bench): the same mapping as
// tt-normalize, written the obvious way (readline, JSON.parse, sha256,
// JSON.stringify). One line out per line in; a line that is not a JSON
// object is counted and reported on stderr, not emitted.
//
// Known differences from the C tool, inherent to JavaScript: numbers inside
// `data` pass through a double (64-bit integers written as JSON numbers lose
// precision; ids in the proto3 JSON mapping are strings, so real input is
// unaffected), and an object's integer-like keys (below 2^32) are reordered.
'use strict';

const crypto = require('crypto');
const readline = require('readline');

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// A count: a JSON integer, or a digit string (the proto3 JSON form of int64).
function int(v) {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) return Number(v);
  return null;
}

// An id: kept as a decimal string.
function id(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function put(o, k, v) {
  if (v !== null && v !== undefined) o[k] = v;
}

function badges(u) {
  return Array.isArray(u.badgeList) ? u.badgeList.filter(isObj) : [];
}

function user(d) {
  const u = d.user;
  const fi = isObj(u.followInfo) ? u.followInfo : {};
  const ui = isObj(d.userIdentity) ? d.userIdentity : {};
  const b = badges(u);
  const urls = isObj(u.avatarThumb) && Array.isArray(u.avatarThumb.urlList) ? u.avatarThumb.urlList : [];
  const out = {
    userId: id(u.id ?? u.userId ?? u.idStr ?? null),
    uniqueId: u.displayId ?? u.uniqueId ?? null,
    nickname: u.nickname ?? null,
    avatarUrl: urls[0] ?? u.profilePictureUrl ?? null,
  };
  const role = int(fi.followStatus);
  if (role !== null) {
    out.followRole = role;
    out.isFollower = role >= 1;
  }
  out.isModerator = (isObj(u.userAttr) && u.userAttr.isAdmin === true) ||
    ui.isModeratorOfAnchor === true ||
    b.some((x) => int(x.sceneType) === 1) ||
    u.isModerator === true;
  out.isSubscriber = ui.isSubscriberOfAnchor === true ||
    b.some((x) => { const s = int(x.sceneType); return s === 4 || s === 7; }) ||
    u.isSubscriber === true;
  const grade = b.find((x) => int(x.sceneType) === 8);
  if (grade && isObj(grade.privilegeLogExtra)) put(out, 'gifterLevel', int(grade.privilegeLogExtra.level));
  return out;
}

function displayKey(d) {
  return isObj(d.common) && isObj(d.common.displayText) ? d.common.displayText.key ?? null : null;
}

function raw(type, d) {
  const p = { rawType: type };
  if (isObj(d)) put(p, 'displayType', displayKey(d));
  return ['RAW', p];
}

function chat(d) {
  const p = { text: d.content ?? d.comment ?? '' };
  if (typeof d.contentLanguage === 'string' && d.contentLanguage !== '') p.language = d.contentLanguage;
  if (Array.isArray(d.emotes) && d.emotes.length > 0) {
    p.emotes = d.emotes.filter(isObj).map((e) => {
      const o = { emoteId: isObj(e.emote) ? e.emote.emoteId ?? null : null };
      put(o, 'index', int(e.index));
      return o;
    });
  }
  return ['CHAT', p];
}

function gift(d) {
  const g = isObj(d.gift) ? d.gift : {};
  const diamonds = int(g.diamondCount ?? d.diamondCount ?? 0) ?? 0;
  const repeat = int(d.repeatCount ?? 1) ?? 1;
  const type = int(g.type ?? d.giftType ?? 0) ?? 0;
  const streakable = type === 1;
  const end = int(d.repeatEnd) === 1 || d.repeatEnd === true;
  const final = !(streakable && !end);
  const p = {
    giftId: id(d.giftId ?? g.id ?? null),
    giftName: g.name ?? d.giftName ?? null,
    diamondCount: diamonds,
    repeatCount: repeat,
  };
  const group = id(d.groupId ?? null);
  if (group !== null && group !== '0') p.groupId = group;
  p.giftType = type;
  p.streakable = streakable;
  p.repeatEnd = end;
  p.streakState = final ? 'final' : 'in_progress';
  p.giftCount = final ? repeat : 0;
  p.coins = final ? repeat * diamonds : 0;
  const to = isObj(d.toUser) ? d.toUser.id : undefined;
  const mon = isObj(d.monitorInfo) ? d.monitorInfo.toUserId : undefined;
  put(p, 'receiverUserId', id(to ?? mon ?? null));
  return ['GIFT', p];
}

function like(d) {
  const p = { count: int(d.count ?? d.likeCount) ?? 0 };
  put(p, 'total', int(d.total ?? d.totalLikeCount));
  return ['LIKE', p];
}

function member(d) {
  const p = {};
  put(p, 'memberCount', int(d.memberCount));
  put(p, 'action', int(d.action));
  return ['JOIN', p];
}

const VIEWERS_SHARE = /^pm_mt_guidance_viewer_([0-9]+)_share$/;

function social(d) {
  const dt = isObj(d.common) && isObj(d.common.displayText) ? d.common.displayText : {};
  const key = dt.key ?? dt.displayType ?? d.displayType ?? null;
  const k = typeof key === 'string' ? key : '';
  let type = null;
  if (k.includes('follow')) type = 'FOLLOW';
  else if (k.includes('share')) type = 'SHARE';
  else if (k.includes('subscribe')) return ['SUBSCRIBE', { displayType: k }];
  if (type === null) {
    const p = { rawType: 'WebcastSocialMessage' };
    if (typeof key === 'string') p.displayType = key;
    return ['RAW', p];
  }
  const p = { displayType: k };
  put(p, 'followCount', int(d.followCount));
  put(p, 'shareCount', int(d.shareCount));
  if (typeof d.shareTarget === 'string' && d.shareTarget !== '') p.shareTarget = d.shareTarget;
  const m = VIEWERS_SHARE.exec(k);
  if (m) p.viewersJoined = Number(m[1]);
  return [type, p];
}

// Only a subscription itself (messageType 0 SUB_SUCCESS, or absent) is a
// SUBSCRIBE; reminders and sub-goal notices stay RAW.
function subNotify(type, d) {
  const mt = int(d.messageType);
  if (mt !== null && mt !== 0) return raw(type, d);
  const p = {};
  put(p, 'subMonth', int(d.subMonth));
  put(p, 'subscribeType', int(d.subscribeType));
  put(p, 'displayType', displayKey(d));
  return ['SUBSCRIBE', p];
}

function emote(d) {
  const list = Array.isArray(d.emoteList) ? d.emoteList.filter(isObj) : [];
  return ['EMOTE', {
    emotes: list.map((e) => {
      const o = { emoteId: e.emoteId ?? null };
      const urls = isObj(e.image) && Array.isArray(e.image.urlList) ? e.image.urlList : [];
      put(o, 'imageUrl', urls[0]);
      return o;
    }),
  }];
}

function battle(type, d) {
  const p = { rawType: type };
  put(p, 'battleId', id(d.battleId ?? null));
  put(p, 'action', int(d.action));
  if (isObj(d.battleSettings)) put(p, 'status', int(d.battleSettings.status));
  put(p, 'triggerReason', int(d.triggerReason));
  put(p, 'msgType', int(d.msgType));
  let map = null;
  let field = null;
  if (type === 'WebcastLinkMicBattle') { map = d.battleResult; field = 'score'; }
  if (type === 'WebcastLinkMicArmies') { map = d.armies; field = 'hostscore'; }
  if (isObj(map)) {
    const scores = [];
    for (const [k, v] of Object.entries(map)) {
      scores.push({ hostUserId: k, points: (isObj(v) ? int(v[field]) : null) ?? 0 });
    }
    if (scores.length > 0) p.scores = scores;
  }
  return ['BATTLE', p];
}

function roomUser(d) {
  const p = { viewerCount: int(d.total ?? d.viewerCount) ?? 0 };
  put(p, 'totalUser', int(d.totalUser));
  return ['ROOM_USER', p];
}

function control(type, d) {
  const a = int(d.action);
  if (a === 3) return ['STREAM_END', { action: 3, reason: 'ended' }];
  if (a === 4) return ['STREAM_END', { action: 4, reason: 'suspended' }];
  return raw(type, d);
}

const LIFECYCLE = {
  'ControlEvent.CONNECTED': 'CONNECTED',
  'ControlEvent.DISCONNECTED': 'DISCONNECTED',
  'ControlEvent.ERROR': 'ERROR',
};
const LIFECYCLE_KEYS = ['provider', 'category', 'code', 'reason', 'detail'];

function lifecycle(et, d) {
  const p = {};
  if (isObj(d)) for (const k of LIFECYCLE_KEYS) put(p, k, d[k]);
  return [et, p];
}

// Returns [eventType, payload].
function classify(type, d) {
  if (LIFECYCLE[type]) return lifecycle(LIFECYCLE[type], d);
  if (!isObj(d)) return ['RAW', { rawType: type }];
  switch (type) {
    case 'WebcastChatMessage': return chat(d);
    case 'WebcastGiftMessage': return gift(d);
    case 'WebcastLikeMessage': return like(d);
    case 'WebcastMemberMessage': return member(d);
    case 'WebcastSocialMessage': return social(d);
    case 'WebcastSubNotifyMessage': return subNotify(type, d);
    case 'WebcastEmoteChatMessage': return emote(d);
    case 'WebcastLinkMicBattle':
    case 'WebcastLinkMicArmies':
    case 'WebcastBarrageMessage': return battle(type, d);
    case 'WebcastRoomUserSeqMessage': return roomUser(d);
    case 'WebcastControlMessage': return control(type, d);
    default: return raw(type, d);
  }
}

function normalize(e) {
  const d = e.data;
  const [eventType, payload] = classify(e.type, d);
  const out = {
    schemaVersion: 'unified-event.v1',
    eventId: crypto.createHash('sha256')
      .update(`${e.streamId}:${e.sessionId}:${e.seqNo}:${e.type}`)
      .digest('hex'),
    eventType,
    source: e.source,
    streamId: e.streamId,
    sessionId: e.sessionId,
    seqNo: e.seqNo,
    timestamp: e.timestamp,
    ingestedAt: e.ingestedAt,
  };
  if (isObj(d) && isObj(d.user)) out.user = user(d);
  out.payload = payload;
  out.raw = { type: e.type, data: d };
  for (const k of Object.keys(e)) if (k.startsWith('_')) out[k] = e[k];
  return out;
}

async function main() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const FLUSH = 1 << 16;
  let buf = '';
  let bad = 0;
  let n = 0;
  const flush = async () => {
    const s = buf;
    buf = '';
    if (!process.stdout.write(s)) await new Promise((r) => process.stdout.once('drain', r));
  };
  for await (const line of rl) {
    n++;
    if (line === '') continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch (err) {
      bad++;
      continue;
    }
    if (!isObj(e)) { bad++; continue; }
    buf += JSON.stringify(normalize(e)) + '\n';
    if (buf.length >= FLUSH) await flush();
  }
  if (buf.length > 0) await flush();
  if (bad > 0) process.stderr.write(`normalize.js: ${bad} of ${n} lines were not JSON objects\n`);
}

process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
main();
