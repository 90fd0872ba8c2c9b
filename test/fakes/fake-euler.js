#!/usr/bin/env node
'use strict';
// fake-euler.js - a fake Euler Stream WebSocket API on one loopback port:
// JSON bundles by default, raw WebcastPushFrames with
// features.rawMessages=true, close codes on cue, and a log of what its
// clients did. See README.md.

const crypto = require('crypto');
const F = require('./frames.js');

const USAGE = 'usage: node test/fakes/fake-euler.js --scenario FILE --port-file PF ' +
	'[--port N] [--tls-cert C --tls-key K]';
const NAME = 'fake-euler';

F.guard(NAME);
const args = F.parseArgs(process.argv.slice(2), ['scenario', 'port-file', 'port', 'tls-cert', 'tls-key'], USAGE);
if (!args.scenario || !args['port-file']) {
	process.stderr.write(USAGE + '\n');
	process.exit(2);
}

let scenario;
try {
	scenario = F.readScenario(args.scenario);
} catch (e) {
	process.stderr.write(`${NAME}: scenario ${args.scenario}: ${e.message}\n`);
	process.exit(2);
}

let log;
let connCount; // uniqueId -> connections so far (picks the "connections" entry)
let socketN;   // sockets accepted so far (the webSocketId)

function reset() {
	log = { connections: [] };
	connCount = new Map();
	socketN = 0;
}
reset();

function user(uniqueId) {
	const u = scenario.users && Object.prototype.hasOwnProperty.call(scenario.users, uniqueId)
		? scenario.users[uniqueId] : null;
	return u || {};
}

// roomIdOf UNIQUEID - the scenario's room id for the user, else a stable
// 19-digit one made from the name.
function roomIdOf(uniqueId) {
	const u = user(uniqueId);
	if (u.roomId != null) return String(u.roomId);
	const h = crypto.createHash('sha256').update(uniqueId).digest();
	return '73' + (h.readBigUInt64BE(0) % 100000000000000000n).toString().padStart(17, '0');
}

function connectionsOf(uniqueId) {
	const u = user(uniqueId);
	return u.connections !== undefined ? u.connections : scenario.connections;
}

// normalize ID - what Euler does with features.normalizeUniqueId (the
// default): strip the URL, "/live" and "@".
function normalize(id) {
	let s = String(id).trim();
	s = s.replace(/^https?:\/\/(www\.)?tiktok\.com\//, '').replace(/\/live\/?$/, '').replace(/^@/, '');
	return s;
}

// ---- HTTP -----------------------------------------------------------------

const server = F.createServer(args, (req, res) => {
	try {
		const u = new URL(req.url, 'http://127.0.0.1');
		const hooks = {
			log: () => log,
			reset,
			scenario: (s) => {
				scenario = s;
				connCount = new Map();
			},
		};
		if (!F.controlRoutes(req, res, u, hooks)) {
			F.sendJson(res, 426, { code: 426, message: 'Upgrade Required' });
		}
	} catch (e) {
		process.stderr.write(`${NAME}: ${req.url}: ${e.stack}\n`);
		if (!res.headersSent) F.sendJson(res, 500, { message: 'fake: internal error' });
	}
});
server.on('clientError', (e, socket) => socket.destroy());

const wss = new F.WebSocket.WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
	const u = F.upgradeUrl(req, socket);
	if (u == null) return;
	if (u.pathname !== '/') {
		F.rawHttp(socket, 404, 'Not Found', {});
		return;
	}
	const query = F.queryObject(u);
	const features = {};
	for (const [k, v] of Object.entries(query)) {
		if (k.startsWith('features.')) features[k.slice(9)] = v;
	}
	const raw = query.uniqueId;
	const uniqueId = raw == null ? null : (features.normalizeUniqueId === 'false' ? raw : normalize(raw));
	const entry = {
		uniqueId, roomId: uniqueId ? roomIdOf(uniqueId) : null, index: null, t: F.nowMs(), query,
		apiKey: query.apiKey != null ? query.apiKey : null,
		jwtKey: query.jwtKey != null ? query.jwtKey : null,
		features,
		userAgent: req.headers['user-agent'] != null ? req.headers['user-agent'] : null,
		rejected: false, rejectReason: null,
		acks: [], other: [], violations: [], sent: [], closed: null,
	};
	log.connections.push(entry);
	if (!uniqueId) {
		entry.rejected = true;
		entry.rejectReason = 'no uniqueId';
		const body = JSON.stringify({ code: 400, message: 'Missing uniqueId' });
		F.rawHttp(socket, 400, 'Bad Request', { 'Content-Type': 'application/json' }, body);
		entry.closed = { t: F.nowMs(), by: 'server', code: null };
		return;
	}
	const n = connCount.get(uniqueId) || 0;
	connCount.set(uniqueId, n + 1);
	entry.index = n;
	const conn = F.pick(connectionsOf(uniqueId), n) || { steps: [] };
	F.upgradeLogged(wss, req, socket, head, entry, (ws) => accept(ws, entry, conn, uniqueId, features));
});

// bundle MESSAGES - one Euler text message: {"timestamp":now,"messages":[...]}.
function bundle(messages) {
	return JSON.stringify({ timestamp: F.nowMs(), messages });
}

// decoded BASE - a BaseProtoMessage as Euler's JSON {type, data}; a method
// the proto lacks, or bytes that do not decode, keep their bytes in "raw".
function decoded(base) {
	const t = F.type(base.method);
	if (t) {
		try {
			return { type: base.method, data: F.decode(t, base.payload) };
		} catch (e) {
			// fall through
		}
	}
	return { type: base.method, data: null, raw: Buffer.from(base.payload).toString('base64') };
}

function accept(ws, entry, conn, uniqueId, features) {
	const roomId = roomIdOf(uniqueId);
	const rawMode = features.rawMessages === 'true';
	const maker = new F.FrameMaker(roomId, false);
	let c = null;
	const sendFrame = (spec, copy) => {
		const fr = maker.frame(spec, copy);
		const what = { logId: fr.logId, payloadType: spec.payloadType || 'msg', needAck: fr.needAck };
		if (rawMode) {
			c.send(fr.bytes, 'frame', what);
		} else {
			c.send(bundle(fr.messages.map(decoded)), 'bundle', what);
		}
	};
	c = new F.Conn(ws, entry, maker, sendFrame);
	ws.on('message', (data, isBinary) => {
		if (!isBinary) {
			c.violation(`text message from the client: ${String(data).slice(0, 200)}`);
			return;
		}
		const d = F.decodeClientFrame(Buffer.isBuffer(data) ? data : Buffer.concat(data));
		if (d.kind === 'ack') {
			entry.acks.push(d.entry);
			const v = maker.checkAck(d.entry.logId, d.entry.payload);
			if (v) c.violation(v);
		} else if (d.kind === 'bad') {
			entry.other.push({ t: F.nowMs(), payloadType: null, base64: Buffer.from(data).toString('base64') });
			c.violation(d.error);
		} else {
			entry.other.push(Object.assign({ payloadType: d.kind }, d.entry));
		}
		c.wake();
	});
	const extraStep = (s) => {
		if (s.json !== undefined) {
			c.send(JSON.stringify(s.json), 'json');
			return true;
		}
		if (s.bundle !== undefined) {
			c.send(bundle(Array.isArray(s.bundle) ? s.bundle : [s.bundle]), 'bundle');
			return true;
		}
		return false;
	};
	const socketId = ++socketN;
	if (conn.intro !== false) {
		c.send(bundle([{ type: 'workerInfo', data: {
			webSocketId: `fake-ws-${socketId}`, agentId: 'fake-agent-1', schemaVersion: features.schemaVersion || 'v2',
		} }]), 'workerInfo');
		c.send(bundle([{ type: 'roomInfo', data: {
			// TikTok's JSON has the id as a number, which a JavaScript relay
			// rounds; id_str keeps it exact.
			id: Number(roomId), id_str: roomId, status: 2, title: `${uniqueId} is LIVE`,
			user_count: 0, create_time: Math.floor(F.nowMs() / 1000),
			owner: { display_id: uniqueId, nickname: uniqueId, id_str: '6800000000000000001' },
		} }]), 'roomInfo');
	}
	c.run(Array.isArray(conn.steps) ? conn.steps : [], extraStep);
}

F.listen(server, args, NAME);
