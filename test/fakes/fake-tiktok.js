#!/usr/bin/env node
'use strict';
// fake-tiktok.js - a fake TikTok (live page, api-live route), a fake Euler
// sign server and a fake push WebSocket on one loopback port, driven by a
// scenario file and recording what its clients did. See README.md.

const F = require('./frames.js');

const USAGE = 'usage: node test/fakes/fake-tiktok.js --scenario FILE --port-file PF ' +
	'[--port N] [--tls-cert C --tls-key K]';
const NAME = 'fake-tiktok';
const PUSH_PATH = '/webcast/im/ws_proxy/ws_reuse_supplement/';

F.guard(NAME);
const args = F.parseArgs(process.argv.slice(2), ['scenario', 'port-file', 'port', 'tls-cert', 'tls-key'], USAGE);
if (!args.scenario || !args['port-file']) {
	process.stderr.write(USAGE + '\n');
	process.exit(2);
}
const tls = !!args['tls-cert'];

let scenario;
try {
	scenario = F.readScenario(args.scenario);
} catch (e) {
	process.stderr.write(`${NAME}: scenario ${args.scenario}: ${e.message}\n`);
	process.exit(2);
}

// ---- state ----------------------------------------------------------------

let log;        // what /_fake/log returns
let signCount;  // roomId -> sign requests so far (picks the "sign" entry)
let connCount;  // roomId -> upgrade requests so far (picks the "connections" entry)
let signN;      // sign requests so far, all rooms (the <n> of cursors and cookies)
// roomId -> { userAgent, ttwid } of the room's last successful sign request;
// kept by a reset, like TikTok keeps a signed URL valid.
const lastSign = new Map();

// reset - clears the log and starts each room's "sign" and "connections"
// lists from their first entry again.
function reset() {
	log = { pages: [], api: [], alive: [], sign: [], connections: [] };
	signCount = new Map();
	connCount = new Map();
	signN = 0;
}
reset();

// roomPart ROOMID KEY - the room's override of scenario KEY, else the top level.
function roomPart(roomId, key) {
	const r = scenario.rooms && scenario.rooms[roomId];
	if (r && r[key] !== undefined) return r[key];
	return scenario[key];
}

function bump(map, key) {
	const n = map.get(key) || 0;
	map.set(key, n + 1);
	return n;
}

// ---- the web routes -------------------------------------------------------

const FILLER_HEAD = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
	'<title>TikTok LIVE</title><link rel="icon" href="/favicon.ico">' +
	'<script nonce="fake">window.__INIT__={"appId":1988,"region":"DE"};</script></head><body>' +
	'<div id="app"><div class="css-live-root">LIVE</div></div>';
const FILLER_TAIL = '<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">' +
	'{"__DEFAULT_SCOPE__":{"webapp.app-context":{"language":"en"}}}</script></body></html>';

// userState NAME - { found, roomId, status, page, api } for a uniqueId.
function userState(name) {
	const u = scenario.users && Object.prototype.hasOwnProperty.call(scenario.users, name)
		? scenario.users[name] : null;
	if (!u || u.notFound || u.roomId == null) {
		return { found: false, page: u && u.page, api: u && u.api };
	}
	return { found: true, roomId: String(u.roomId), status: u.status != null ? Number(u.status) : 2, page: u.page, api: u.api };
}

function sendHtml(res, status, html) {
	const body = Buffer.from(html);
	res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length });
	res.end(body);
}

function livePage(req, res, u, uniqueId) {
	const st = userState(uniqueId);
	const entry = {
		t: F.nowMs(), uniqueId, query: F.queryObject(u),
		userAgent: req.headers['user-agent'] || null, cookie: req.headers.cookie || null,
	};
	log.pages.push(entry);
	if (st.page === 403 || st.page === '403') {
		entry.http = 403;
		sendHtml(res, 403, '<html><head><title>Access Denied</title></head><body>' +
			'<h1>Access Denied</h1><p>You don\'t have permission to access this page.</p></body></html>');
		return;
	}
	if (st.page === 'captcha') {
		entry.http = 200;
		sendHtml(res, 200, '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Please wait...</title>' +
			'<script src="/_wafchallengeid/verify.js"></script></head><body>' +
			'<div class="waf-wrap"><p>Please wait...</p></div></body></html>');
		return;
	}
	let sigi;
	if (st.found) {
		sigi = { LiveRoom: { liveRoomUserInfo: {
			user: { id: '6800000000000000001', uniqueId, nickname: uniqueId, roomId: st.roomId, status: st.status },
			liveRoom: { status: st.status, title: `${uniqueId} is LIVE` },
		} } };
	} else {
		sigi = { LiveRoom: { liveRoomUserInfo: { user: {} } } };
	}
	entry.http = 200;
	sendHtml(res, 200, FILLER_HEAD + '<script id="SIGI_STATE" type="application/json">' +
		JSON.stringify(sigi) + '</script>' + FILLER_TAIL);
}

function apiLive(req, res, u) {
	const q = F.queryObject(u);
	const uniqueId = q.uniqueId != null ? q.uniqueId : null;
	const st = userState(uniqueId);
	const entry = { t: F.nowMs(), uniqueId, query: q, userAgent: req.headers['user-agent'] || null };
	log.api.push(entry);
	if (st.api === 403 || st.api === '403') {
		entry.http = 403;
		sendHtml(res, 403, '<html><body><h1>403 Forbidden</h1></body></html>');
		return;
	}
	if (st.api != null && Number(st.api) >= 400) {
		// Another refusal by status: 429 (with retry-after 1), 5xx.
		entry.http = Number(st.api);
		F.sendJson(res, entry.http, { statusCode: entry.http, message: 'fake refusal' },
			entry.http === 429 ? { 'retry-after': '1' } : {});
		return;
	}
	entry.http = 200;
	if (!st.found) {
		F.sendJson(res, 200, { statusCode: 10221, message: 'user_not_found' });
		return;
	}
	F.sendJson(res, 200, {
		statusCode: 0,
		data: {
			user: { id: '6800000000000000001', uniqueId, nickname: uniqueId, roomId: st.roomId, status: st.status },
			liveRoom: { status: st.status, title: `${uniqueId} is LIVE` },
		},
	});
}

// checkAlive - GET /webcast/room/check_alive/?room_ids=A,B: whether each
// room is live (status 2) by the scenario's users; unknown rooms are not.
function checkAlive(req, res, u) {
	const q = F.queryObject(u);
	const ids = q.room_ids ? String(q.room_ids).split(',') : [];
	const users = scenario.users || {};
	log.alive.push({ t: F.nowMs(), query: q, userAgent: req.headers['user-agent'] || null });
	const data = ids.map((id) => {
		const name = Object.keys(users).find((k) => users[k] && String(users[k].roomId) === id);
		const st = name != null ? userState(name) : { found: false };
		return { alive: st.found && st.status !== 4, room_id: Number(id), room_id_str: id };
	});
	F.sendJson(res, 200, { data, extra: { now: F.nowMs() }, status_code: 0 });
}

// ---- the sign server ------------------------------------------------------

// The bodies the real sign server answers with (PROTOCOL.md 1.3).
const SIGN_ERRORS = {
	401: { code: 401, message: 'The provided API Key is invalid.' },
	402: { message: 'This feature requires a paid plan.' },
	403: { code: 403, error: 'This ISP is blocked from accessing the signature service.' },
	500: { message: 'Empty response payload received! (Internal Code: 200)', code: 500 },
	503: { code: 503, error: 'API is not ready for connections yet.' },
};

// Bytes that no protobuf decoder takes: field 1 with wire type 7 (invalid)
// and, read as length-delimited, a length far past the end.
const GARBAGE_BODY = Buffer.from([0x0f, 0xff, 0xff, 0x07, 0x3c, 0x68, 0x74, 0x6d, 0x6c, 0x3e]);

function sign(req, res, u, roomId) {
	const q = F.queryObject(u);
	const k = bump(signCount, roomId);
	const n = ++signN;
	const want = F.pick(roomPart(roomId, 'sign'), k) || { status: 200 };
	const status = Number(want.status || 200);
	const entry = {
		t: F.nowMs(), roomId, n, query: q,
		apiKey: req.headers['x-api-key'] != null ? req.headers['x-api-key'] : null,
		userAgent: req.headers['user-agent'] || null, status,
	};
	log.sign.push(entry);
	const common = { 'x-request-id': `fake-req-${n}`, 'x-agent-id': 'fake-agent' };
	if (status === 429) {
		const after = want.retryAfter != null ? Number(want.retryAfter) : 1;
		F.sendJson(res, 429, want.body || {
			message: 'Too many connections started, try again later.', limit_label: 'minute',
		}, Object.assign(common, {
			'retry-after': String(after),
			'x-ratelimit-reset': String(Math.ceil(F.nowMs() / 1000) + after),
		}));
		return;
	}
	if (status !== 200) {
		F.sendJson(res, status, want.body || SIGN_ERRORS[status] || { code: status, message: 'Sign failed.' }, common);
		return;
	}
	if (want.body === 'garbage') {
		res.writeHead(200, Object.assign(common, {
			'Content-Type': 'application/protobuf', 'Content-Length': GARBAGE_BODY.length,
			'X-Set-TT-Cookie': `ttwid=fake${n}; tt_csrf_token=tok${n}`, 'X-Room-Id': roomId,
		}));
		res.end(GARBAGE_BODY);
		return;
	}
	let body;
	try {
		const initial = roomPart(roomId, 'initial') || [];
		const scheme = tls ? 'wss' : 'ws';
		body = F.buildFetchResult({
			messages: initial.map((m) => F.buildMessage(m, roomId, { isHistory: true })),
			cursor: `c-${n}`,
			internalExt: `ie-${n}`,
			fetchInterval: '1000',
			now: String(F.nowMs()),
			routeParams: { rp_a: '1', rp_b: 'x y' },
			heartbeatDuration: '10000',
			// needAck false: left out, as proto3 writers do.
			pushServer: want.pushServer || `${scheme}://127.0.0.1:${server.address().port}${PUSH_PATH}`,
			isFirst: true,
		});
	} catch (e) {
		entry.error = e.message;
		F.sendJson(res, 500, { code: 500, message: `fake: bad scenario: ${e.message}` });
		return;
	}
	const headers = Object.assign(common, {
		'Content-Type': 'application/protobuf', 'Content-Length': body.length, 'X-Room-Id': roomId,
	});
	const userAgent = q.user_agent != null ? q.user_agent : null;
	if (want.noCookie) {
		lastSign.set(roomId, { userAgent, ttwid: null });
	} else {
		headers['X-Set-TT-Cookie'] = want.cookie || `ttwid=fake${n}; tt_csrf_token=tok${n}`;
		const given = want.cookie ? /(?:^|;\s*)ttwid=([^;]*)/.exec(want.cookie) : null;
		lastSign.set(roomId, { userAgent, ttwid: given ? given[1] : `fake${n}` });
	}
	res.writeHead(200, headers);
	res.end(body);
}

// ---- HTTP -----------------------------------------------------------------

function handle(req, res) {
	let u;
	try {
		u = new URL(req.url, 'http://127.0.0.1');
	} catch (e) {
		F.sendJson(res, 400, { message: 'bad request' });
		return;
	}
	const hooks = {
		log: () => log,
		reset,
		scenario: (s) => {
			scenario = s;
			signCount = new Map();
			connCount = new Map();
		},
	};
	if (F.controlRoutes(req, res, u, hooks)) return;
	let m;
	if (req.method === 'GET' && (m = /^\/@([^/]+)\/live\/?$/.exec(u.pathname))) {
		livePage(req, res, u, decodeURIComponent(m[1]));
	} else if (req.method === 'GET' && u.pathname === '/api-live/user/room/') {
		apiLive(req, res, u);
	} else if (req.method === 'GET' && u.pathname === '/webcast/room/check_alive/') {
		checkAlive(req, res, u);
	} else if (req.method === 'GET' && (m = /^\/webcast\/rooms\/([^/]+)\/connect\/?$/.exec(u.pathname))) {
		sign(req, res, u, decodeURIComponent(m[1]));
	} else {
		F.sendJson(res, 404, { message: 'not found' });
	}
}

const server = F.createServer(args, (req, res) => {
	try {
		handle(req, res);
	} catch (e) {
		process.stderr.write(`${NAME}: ${req.url}: ${e.stack}\n`);
		if (!res.headersSent) F.sendJson(res, 500, { message: 'fake: internal error' });
	}
});
server.on('clientError', (e, socket) => socket.destroy());

// ---- the push WebSocket ---------------------------------------------------

const wss = new F.WebSocket.WebSocketServer({ noServer: true, autoPong: false, perMessageDeflate: false });

// cookieHas HEADER VALUE - whether the Cookie header has the pair ttwid=VALUE.
function cookieHas(header, value) {
	return String(header || '').split(';').some((p) => p.trim() === `ttwid=${value}`);
}

// whyBlock REQ ROOMID - why TikTok would answer DEVICE_BLOCKED, or null.
function whyBlock(req, roomId) {
	const ua = req.headers['user-agent'];
	const ls = lastSign.get(roomId);
	if (!ls) return `no successful sign request for room ${roomId}`;
	if (!ua) return 'no User-Agent header';
	if (ls.userAgent != null && ua !== ls.userAgent) return 'User-Agent differs from the sign request\'s user_agent';
	if (ls.userAgent == null) return 'the sign request gave no user_agent';
	if (ls.ttwid != null && !cookieHas(req.headers.cookie, ls.ttwid)) return `Cookie lacks ttwid=${ls.ttwid}`;
	return null;
}

server.on('upgrade', (req, socket, head) => {
	const u = F.upgradeUrl(req, socket);
	if (u == null) return;
	if (u.pathname !== PUSH_PATH) {
		F.rawHttp(socket, 404, 'Not Found', {});
		return;
	}
	const query = F.queryObject(u);
	const roomId = query.room_id != null ? String(query.room_id) : '';
	const index = bump(connCount, roomId);
	const conn = F.pick(roomPart(roomId, 'connections'), index) || { steps: [] };
	const entry = {
		roomId, index, t: F.nowMs(), query,
		userAgent: req.headers['user-agent'] != null ? req.headers['user-agent'] : null,
		cookie: req.headers.cookie != null ? req.headers.cookie : null,
		origin: req.headers.origin != null ? req.headers.origin : null,
		rejected: false, rejectReason: null,
		enterRoom: null, heartbeats: [], acks: [], other: [], violations: [], sent: [], closed: null,
	};
	log.connections.push(entry);
	const hs = conn.handshake;
	const why = roomId === '' ? 'no room_id in the query' : whyBlock(req, roomId);
	if (hs || why) {
		const h = hs || { status: 200, handshakeStatus: 415, handshakeMsg: 'DEVICE_BLOCKED' };
		entry.rejected = true;
		entry.rejectReason = hs ? 'scenario' : why;
		const headers = {};
		if (h.handshakeStatus != null) headers['handshake-status'] = String(h.handshakeStatus);
		if (h.handshakeMsg != null) headers['handshake-msg'] = String(h.handshakeMsg);
		const status = Number(h.status || 200);
		F.rawHttp(socket, status, status === 200 ? 'OK' : 'Error', headers);
		entry.closed = { t: F.nowMs(), by: 'server', code: null };
		return;
	}
	F.upgradeLogged(wss, req, socket, head, entry, (ws) => accept(ws, entry, conn, roomId, query));
});

function accept(ws, entry, conn, roomId, query) {
	const maker = new F.FrameMaker(roomId, query.compress === 'gzip');
	let c = null;
	const sendFrame = (spec, copy) => {
		const fr = maker.frame(spec, copy);
		c.send(fr.bytes, 'frame', { logId: fr.logId, payloadType: spec.payloadType || 'msg', needAck: fr.needAck });
	};
	c = new F.Conn(ws, entry, maker, sendFrame);
	let lastSeq = 0n;
	ws.on('message', (data, isBinary) => {
		const t = F.nowMs();
		if (!isBinary) {
			c.violation(`text message from the client: ${String(data).slice(0, 200)}`);
			return;
		}
		const d = F.decodeClientFrame(Buffer.isBuffer(data) ? data : Buffer.concat(data));
		switch (d.kind) {
		case 'im_enter_room':
			if (entry.enterRoom == null) {
				entry.enterRoom = d.entry;
				if (d.entry.roomId !== roomId) c.violation(`im_enter_room for room ${d.entry.roomId}, connected to ${roomId}`);
			} else {
				entry.other.push(Object.assign({ payloadType: 'im_enter_room' }, d.entry));
			}
			c.send(F.encode(F.T.PushFrame, { payloadEncoding: 'pb', payloadType: 'im_enter_room_resp', logId: '1' }),
				'im_enter_room_resp');
			break;
		case 'hb': {
			if (entry.enterRoom == null) c.violation('hb before im_enter_room');
			if (d.entry.roomId !== roomId) c.violation(`hb for room ${d.entry.roomId}, connected to ${roomId}`);
			const seq = BigInt(d.entry.seq);
			if (seq <= lastSeq) c.violation(`hb sendPacketSeqId ${seq} after ${lastSeq}`);
			lastSeq = seq;
			entry.heartbeats.push(d.entry);
			break;
		}
		case 'ack': {
			entry.acks.push(d.entry);
			const v = maker.checkAck(d.entry.logId, d.entry.payload);
			if (v) c.violation(v);
			break;
		}
		case 'other':
			entry.other.push(d.entry);
			break;
		default:
			entry.other.push({ t, payloadType: null, base64: Buffer.from(data).toString('base64') });
			c.violation(d.error);
		}
		c.wake();
	});
	const steps = Array.isArray(conn.steps) ? conn.steps : [];
	c.run(steps);
}

F.listen(server, args, NAME);
