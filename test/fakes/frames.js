'use strict';
// frames.js - what the fake TikTok and the fake Euler share: module loading,
// frames built from proto/webcast.proto with protobufjs, the JSON log, the
// scenario's step runner, and a few HTTP helpers.
//
// Nothing here uses the project's C code: the frames come from the .proto
// file alone, loaded at run time, so a decoder bug in the client cannot be
// mirrored by the peer it is tested against.

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const crypto = require('crypto');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

// need NAME - requires an npm module from build/npm (or $TTLC_NODE_MODULES),
// then from NODE_PATH / the usual resolution, so the fakes run without any
// install step of their own.
function need(name) {
	const dirs = [];
	if (process.env.TTLC_NODE_MODULES) dirs.push(process.env.TTLC_NODE_MODULES);
	dirs.push(path.join(REPO_ROOT, 'build', 'npm', 'node_modules'));
	for (const d of dirs) {
		const p = path.join(d, name);
		if (fs.existsSync(p)) return require(p);
	}
	try {
		return require(name);
	} catch (e) {
		throw new Error(`cannot load the npm module "${name}": run scripts/deps ` +
			`(installs it into build/npm) or set TTLC_NODE_MODULES`);
	}
}

const protobuf = need('protobufjs');
const WebSocket = need('ws');

// The proto, loaded once; names are kept as written (they are the JSON names).
const PROTO_FILE = path.join(REPO_ROOT, 'proto', 'webcast.proto');
const root = new protobuf.Root();
root.loadSync(PROTO_FILE, { keepCase: true });
root.resolveAll();

// type NAME - the webcast message type NAME, or null.
function type(name) {
	if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return null;
	try {
		return root.lookupType('webcast.' + name);
	} catch (e) {
		return null;
	}
}

const T = {
	PushFrame: type('WebcastPushFrame'),
	FetchResult: type('ProtoMessageFetchResult'),
	Base: type('BaseProtoMessage'),
	HeartBeat: type('HeartBeatMessage'),
	EnterRoom: type('WebcastImEnterRoomMessage'),
};

// The proto3 JSON form the fakes log and Euler sends: 64-bit numbers as
// strings, enums as numbers, bytes as base64, default values left out.
const JSON_OPTS = { longs: String, enums: Number, bytes: String, defaults: false };

function toJson(t, msg) {
	return t.toObject(msg, JSON_OPTS);
}

// checkNames TYPE OBJ WHERE - throws on a key of OBJ that TYPE has no field
// for (fromObject would drop it silently, hiding a scenario's typo).
function checkNames(t, obj, where) {
	if (!obj || typeof obj !== 'object' || Buffer.isBuffer(obj)) return;
	for (const k of Object.keys(obj)) {
		const f = t.fields[k];
		if (!f) throw new Error(`${where}: ${t.name} has no field "${k}"`);
		if (!f.resolvedType || !(f.resolvedType instanceof protobuf.Type)) continue;
		const v = obj[k];
		if (f.map) {
			for (const [mk, mv] of Object.entries(v || {})) checkNames(f.resolvedType, mv, `${where}.${k}[${mk}]`);
		} else if (f.repeated && Array.isArray(v)) {
			v.forEach((e, i) => checkNames(f.resolvedType, e, `${where}.${k}[${i}]`));
		} else {
			checkNames(f.resolvedType, v, `${where}.${k}`);
		}
	}
}

// encode TYPE OBJ - the bytes of OBJ (protobufjs fromObject JSON) as TYPE.
// Throws with the field at fault when OBJ does not fit TYPE.
function encode(t, obj) {
	checkNames(t, obj, t.name);
	const msg = t.fromObject(obj);
	const err = t.verify(msg);
	if (err) throw new Error(`${t.name}: ${err}`);
	return Buffer.from(t.encode(msg).finish());
}

// decode TYPE BYTES - the JSON form of BYTES as TYPE; throws on bad bytes.
function decode(t, bytes) {
	return toJson(t, t.decode(bytes));
}

function nowMs() {
	return Date.now();
}

// Message ids: increasing over the life of the process, 19 digits like
// TikTok's, unique across rooms and connections.
let msgIdNext = 7400000000000000000n;
function nextMsgId() {
	msgIdNext += 1n;
	return msgIdNext.toString();
}

// readPayloadFile REL - the bytes of a file named relative to the repo root.
function readPayloadFile(rel) {
	if (typeof rel !== 'string' || rel === '') throw new Error('payloadFile: want a path');
	const p = path.isAbsolute(rel) ? rel : path.join(REPO_ROOT, rel);
	return fs.readFileSync(p);
}

// buildMessage SPEC ROOMID OPTS - one BaseProtoMessage object (for
// fromObject) from a scenario MESSAGE. For "data", common.method, msgId,
// roomId and createTime are filled when left out. OPTS.isHistory marks the
// initial fetch result's backlog.
function buildMessage(spec, roomId, opts = {}) {
	if (!spec || typeof spec !== 'object') throw new Error('MESSAGE: want an object');
	const method = spec.method;
	if (typeof method !== 'string' || method === '') throw new Error('MESSAGE: "method" missing');
	let payload;
	let msgId = spec.msgId != null ? String(spec.msgId) : null;
	if (spec.payloadBase64 != null) {
		payload = Buffer.from(String(spec.payloadBase64), 'base64');
	} else if (spec.payloadFile != null) {
		payload = readPayloadFile(spec.payloadFile);
	} else {
		const t = type(method);
		if (!t) throw new Error(`MESSAGE: method ${method} is not in webcast.proto (use payloadBase64)`);
		const data = JSON.parse(JSON.stringify(spec.data || {}));
		if (t.fields.common) {
			const c = data.common = data.common || {};
			if (c.method == null) c.method = method;
			if (c.msgId == null) c.msgId = msgId || nextMsgId();
			if (c.roomId == null && roomId != null && /^[0-9]+$/.test(String(roomId))) c.roomId = String(roomId);
			if (c.createTime == null) c.createTime = String(nowMs());
			msgId = msgId || String(c.msgId);
		}
		payload = encode(t, data);
	}
	const base = { method, payload, msgId: msgId || nextMsgId() };
	if (opts.isHistory) base.isHistory = true;
	if (spec.msgType != null) base.msgType = spec.msgType;
	return base;
}

// buildFetchResult FIELDS - the bytes of a ProtoMessageFetchResult.
function buildFetchResult(fields) {
	return encode(T.FetchResult, fields);
}

// FrameMaker: per-connection defaults for scenario FRAMEs (log ids, cursors,
// compression) and the record of what was sent, for checking acks.
class FrameMaker {
	// roomId: fills common.roomId; gzip: the default for FRAME.gzip.
	constructor(roomId, gzipDefault) {
		this.roomId = roomId;
		this.gzipDefault = !!gzipDefault;
		this.logIdNext = 1000n;
		this.needAck = new Map(); // logId -> internalExt of frames that asked for an ack
		this.acked = new Set();
	}

	// frame SPEC COPY - { bytes, logId, needAck, internalExt, messages } for
	// scenario FRAME SPEC; COPY (0..) shifts an explicit logId for repeats.
	frame(spec, copy = 0) {
		spec = spec || {};
		let logId;
		if (spec.logId != null) {
			logId = (BigInt(String(spec.logId)) + BigInt(copy)).toString();
		} else {
			this.logIdNext += 1n;
			logId = this.logIdNext.toString();
		}
		const payloadType = spec.payloadType != null ? String(spec.payloadType) : 'msg';
		const internalExt = spec.internalExt != null ? String(spec.internalExt) : `ie-${logId}`;
		const cursor = spec.cursor != null ? String(spec.cursor) : `c-${logId}`;
		const needAck = !!spec.needAck;
		const gzip = spec.gzip != null ? !!spec.gzip : this.gzipDefault;
		const compressHeader = spec.compressHeader != null ? !!spec.compressHeader : true;
		const specs = Array.isArray(spec.messages) ? spec.messages : [];
		const messages = specs.map((m) => buildMessage(m, this.roomId));
		let payload;
		if (spec.rawPayloadBase64 != null) {
			payload = Buffer.from(String(spec.rawPayloadBase64), 'base64');
		} else {
			const fr = { messages, cursor, internalExt, fetchInterval: '1000', now: String(nowMs()) };
			if (needAck) fr.needAck = true;
			payload = buildFetchResult(fr);
			if (gzip) payload = zlib.gzipSync(payload);
		}
		const pf = { logId, payloadEncoding: 'pb', payloadType, payload };
		if (spec.seqId != null) pf.seqId = String(spec.seqId);
		if (compressHeader) pf.headers = [{ key: 'compress_type', value: gzip ? 'gzip' : 'none' }];
		if (needAck) this.needAck.set(logId, internalExt);
		return { bytes: encode(T.PushFrame, pf), logId, needAck, internalExt, messages };
	}

	// checkAck LOGID PAYLOAD - a violation text, or null when the ack answers
	// a frame that asked for one, with that frame's internalExt, once.
	checkAck(logId, payload) {
		if (!this.needAck.has(logId)) return `ack for logId ${logId}, which no needAck frame had`;
		if (this.acked.has(logId)) return `second ack for logId ${logId}`;
		this.acked.add(logId);
		const want = this.needAck.get(logId);
		if (payload !== want) return `ack for logId ${logId} carries "${payload}", want "${want}"`;
		return null;
	}
}

// decodeClientFrame BYTES - what a client's binary message was, for the log:
// { kind: 'im_enter_room'|'hb'|'ack'|'other', entry } or { kind: 'bad', error }.
function decodeClientFrame(bytes) {
	let pf;
	try {
		pf = T.PushFrame.decode(bytes);
	} catch (e) {
		return { kind: 'bad', error: `not a WebcastPushFrame: ${e.message}` };
	}
	const t = nowMs();
	const payload = Buffer.from(pf.payload || []);
	const logId = pf.logId != null ? pf.logId.toString() : '0';
	switch (pf.payloadType) {
	case 'im_enter_room':
		try {
			return { kind: 'im_enter_room', entry: Object.assign({ t }, decode(T.EnterRoom, payload)) };
		} catch (e) {
			return { kind: 'bad', error: `im_enter_room payload: ${e.message}` };
		}
	case 'hb': {
		let hb;
		try {
			hb = decode(T.HeartBeat, payload);
		} catch (e) {
			return { kind: 'bad', error: `hb payload: ${e.message}` };
		}
		return { kind: 'hb', entry: { t, roomId: hb.roomId || '0', seq: hb.sendPacketSeqId || '0' } };
	}
	case 'ack':
		return { kind: 'ack', entry: { t, logId, payload: payload.toString('utf8') } };
	default:
		return {
			kind: 'other',
			entry: { t, payloadType: pf.payloadType || '', logId, base64: payload.toString('base64') },
		};
	}
}

// ---- the step runner -------------------------------------------------------

const WAIT_FOR_MAX_MS = 30000;

// Conn: one accepted WebSocket, its log entry and its scenario steps. The
// server decides what "frame" means (binary push frame or JSON bundle) by
// passing sendFrame.
class Conn {
	// ws: the socket; entry: its log entry; maker: a FrameMaker;
	// sendFrame(spec, copy): sends one scenario FRAME.
	constructor(ws, entry, maker, sendFrame) {
		this.ws = ws;
		this.entry = entry;
		this.maker = maker;
		this.sendFrame = sendFrame;
		this.done = false; // the socket has closed
		this.serverClosing = false;
		this.waiters = [];
		ws.on('close', (code) => {
			this.done = true;
			if (!entry.closed) {
				entry.closed = { t: nowMs(), by: this.serverClosing ? 'server' : 'client', code };
			}
			this.wake();
		});
		ws.on('error', (e) => this.violation(`socket error: ${e.message}`));
	}

	violation(text) {
		this.entry.violations.push({ t: nowMs(), what: text });
	}

	// wake - re-checks what the steps wait for (an enter, heartbeats, close).
	wake() {
		const w = this.waiters;
		this.waiters = [];
		for (const f of w) f();
	}

	// until PRED MS - resolves true when PRED holds, false after MS or on close.
	until(pred, ms) {
		return new Promise((resolve) => {
			const deadline = nowMs() + ms;
			let timer = null;
			const check = () => {
				if (pred()) {
					clearTimeout(timer);
					resolve(true);
				} else if (this.done || nowMs() >= deadline) {
					clearTimeout(timer);
					resolve(false);
				} else {
					this.waiters.push(check);
				}
			};
			timer = setTimeout(() => {
				this.waiters = this.waiters.filter((f) => f !== check);
				resolve(pred());
			}, ms);
			check();
		});
	}

	sleep(ms) {
		return this.until(() => false, Math.max(0, Number(ms) || 0));
	}

	open() {
		return !this.done && this.ws.readyState === WebSocket.OPEN;
	}

	sent(what, extra) {
		this.entry.sent.push(Object.assign({ t: nowMs(), what }, extra || {}));
	}

	send(data, what, extra) {
		if (!this.open()) return false;
		this.ws.send(data, { binary: Buffer.isBuffer(data) });
		this.sent(what, extra);
		return true;
	}

	// run STEPS - runs the scenario steps in order until one ends the
	// connection, the client goes, or the list ends (the socket then stays
	// open until the client closes it).
	async run(steps, extraStep) {
		for (const step of steps || []) {
			if (!this.open()) return;
			try {
				if (await this.step(step, extraStep) === 'stop') return;
			} catch (e) {
				this.violation(`scenario step ${JSON.stringify(step)}: ${e.message}`);
				process.stderr.write(`fake: scenario step failed: ${e.stack}\n`);
			}
		}
	}

	async step(s, extraStep) {
		if (s.waitFor === 'enter') {
			if (!await this.until(() => this.entry.enterRoom != null, WAIT_FOR_MAX_MS) && !this.done) {
				this.violation('no im_enter_room within 30 s');
			}
		} else if (s.waitFor === 'heartbeats') {
			const n = Number(s.count) || 1;
			if (!await this.until(() => this.entry.heartbeats.length >= n, WAIT_FOR_MAX_MS) && !this.done) {
				this.violation(`fewer than ${n} heartbeats within 30 s`);
			}
		} else if (s.wait != null) {
			await this.sleep(s.wait);
		} else if (s.frame != null) {
			this.sendFrame(s.frame, 0);
		} else if (s.frames != null) {
			const n = s.repeat != null ? Number(s.repeat) : 1;
			for (let i = 0; i < n && this.open(); i++) {
				if (i > 0 && s.intervalMs) await this.sleep(s.intervalMs);
				if (!this.open()) break;
				this.sendFrame(s.frames, i);
				// Let the socket drain between copies of a burst.
				if (!s.intervalMs && i % 64 === 63) await new Promise((r) => setImmediate(r));
			}
		} else if (s.control != null) {
			// Other keys of the step (needAck, gzip, logId, ...) are FRAME fields.
			const frame = Object.assign({}, s, {
				messages: [{ method: 'WebcastControlMessage', data: { action: Number(s.control) } }],
			});
			delete frame.control;
			this.sendFrame(frame, 0);
		} else if (s.garbage != null) {
			this.send(crypto.randomBytes(Math.max(1, Number(s.garbage) || 1)), 'garbage');
		} else if (s.text != null) {
			this.send(String(s.text), 'text');
		} else if (s.close != null) {
			this.serverClosing = true;
			const code = Number(s.close);
			this.sent('close', { code });
			this.entry.closed = { t: nowMs(), by: 'server', code };
			this.ws.close(code, s.reason != null ? String(s.reason) : '');
			return 'stop';
		} else if (s.drop) {
			this.serverClosing = true;
			this.sent('drop');
			this.entry.closed = { t: nowMs(), by: 'server', code: 1006 };
			this.ws.terminate();
			return 'stop';
		} else if (s.silent) {
			this.sent('silent');
			return 'stop';
		} else if (!(extraStep && extraStep(s))) {
			this.violation(`unknown scenario step ${JSON.stringify(s)}`);
		}
		return null;
	}
}

// ---- logs, scenarios, HTTP --------------------------------------------------

// pick LIST N - entry N (0-based) of LIST, the last one repeating; null for
// an empty or missing LIST.
function pick(list, n) {
	if (!Array.isArray(list) || list.length === 0) return null;
	return list[Math.min(n, list.length - 1)];
}

function readScenario(file) {
	const text = fs.readFileSync(file, 'utf8');
	return JSON.parse(text);
}

// parseArgs ARGV SPEC - { name: value } for "--name value" options in SPEC
// (a list of names); exits 2 with the usage on anything else.
function parseArgs(argv, names, usage) {
	const out = {};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === '--help') {
			process.stdout.write(usage + '\n');
			process.exit(0);
		}
		const m = /^--([a-z-]+)$/.exec(a);
		if (!m || !names.includes(m[1]) || i + 1 >= argv.length) {
			process.stderr.write(`${usage}\n`);
			process.exit(2);
		}
		out[m[1]] = argv[++i];
	}
	return out;
}

// queryObject URL - the query of URL as a plain object (last value wins).
function queryObject(u) {
	const q = {};
	for (const [k, v] of u.searchParams) q[k] = v;
	return q;
}

function sendJson(res, status, obj, headers) {
	const body = Buffer.from(JSON.stringify(obj));
	res.writeHead(status, Object.assign({
		'Content-Type': 'application/json; charset=utf-8',
		'Content-Length': body.length,
	}, headers || {}));
	res.end(body);
}

// readBody REQ MAX - the request body (a Buffer, at most MAX bytes).
function readBody(req, max = 16 << 20) {
	return new Promise((resolve, reject) => {
		const parts = [];
		let n = 0;
		req.on('data', (c) => {
			n += c.length;
			if (n > max) {
				reject(new Error('body too large'));
				req.destroy();
				return;
			}
			parts.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(parts)));
		req.on('error', reject);
	});
}

// controlRoutes REQ RES URL HOOKS - serves /_fake/log, /_fake/reset and
// /_fake/scenario; returns false for any other path.
function controlRoutes(req, res, u, hooks) {
	if (u.pathname === '/_fake/log' && req.method === 'GET') {
		sendJson(res, 200, hooks.log());
		return true;
	}
	if (u.pathname === '/_fake/reset' && req.method === 'POST') {
		hooks.reset();
		sendJson(res, 200, { ok: true });
		return true;
	}
	if (u.pathname === '/_fake/scenario' && req.method === 'POST') {
		readBody(req).then((b) => {
			let s;
			try {
				s = JSON.parse(b.toString('utf8'));
			} catch (e) {
				sendJson(res, 400, { ok: false, error: `scenario: ${e.message}` });
				return;
			}
			if (!s || typeof s !== 'object' || Array.isArray(s)) {
				sendJson(res, 400, { ok: false, error: 'scenario: want a JSON object' });
				return;
			}
			hooks.scenario(s);
			sendJson(res, 200, { ok: true });
		}, (e) => sendJson(res, 400, { ok: false, error: e.message }));
		return true;
	}
	return false;
}

// rawHttp SOCKET STATUS HEADERS - writes a whole HTTP/1.1 response on a
// socket that asked to upgrade, then closes it.
function rawHttp(socket, status, reason, headers, body = '') {
	const lines = [`HTTP/1.1 ${status} ${reason}`];
	for (const [k, v] of Object.entries(headers || {})) lines.push(`${k}: ${v}`);
	lines.push(`Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', '');
	try {
		socket.end(lines.join('\r\n') + body);
	} catch (e) {
		socket.destroy();
	}
}

// listen SERVER ARGS - listens on 127.0.0.1:--port (0 = any) and writes the
// port to --port-file (atomically) once listening.
function listen(server, args, name) {
	server.on('error', (e) => {
		process.stderr.write(`${name}: ${e.message}\n`);
		process.exit(1);
	});
	server.listen(Number(args.port || 0), '127.0.0.1', () => {
		const port = server.address().port;
		if (args['port-file']) {
			const tmp = `${args['port-file']}.tmp${process.pid}`;
			fs.writeFileSync(tmp, `${port}\n`);
			fs.renameSync(tmp, args['port-file']);
		}
		process.stderr.write(`${name}: listening on 127.0.0.1:${port}\n`);
	});
}

// createServer ARGS HANDLER - an HTTP server, or HTTPS with --tls-cert/--tls-key.
function createServer(args, handler) {
	if (args['tls-cert'] || args['tls-key']) {
		if (!args['tls-cert'] || !args['tls-key']) {
			process.stderr.write('--tls-cert and --tls-key go together\n');
			process.exit(2);
		}
		return require('https').createServer({
			cert: fs.readFileSync(args['tls-cert']),
			key: fs.readFileSync(args['tls-key']),
		}, handler);
	}
	return require('http').createServer(handler);
}

// guard - the fakes must outlive any client: report, never die.
function guard(name) {
	process.on('uncaughtException', (e) => process.stderr.write(`${name}: uncaught: ${e.stack}\n`));
	process.on('unhandledRejection', (e) => process.stderr.write(`${name}: unhandled: ${e && e.stack}\n`));
	process.on('SIGTERM', () => process.exit(0));
	process.on('SIGINT', () => process.exit(0));
}

// upgradeUrl REQ SOCKET - the URL of an upgrade request, or null after
// answering 400 to one that does not parse.
function upgradeUrl(req, socket) {
	socket.on('error', () => {});
	try {
		return new URL(req.url, 'http://127.0.0.1');
	} catch (e) {
		rawHttp(socket, 400, 'Bad Request', {});
		return null;
	}
}

// upgradeLogged WSS REQ SOCKET HEAD ENTRY ONACCEPT - completes a WebSocket
// upgrade and calls ONACCEPT(ws). ws answers a bad handshake (say, no
// Sec-WebSocket-Key) with 400 and never calls back: ENTRY logs that too.
function upgradeLogged(wss, req, socket, head, entry, onAccept) {
	let upgraded = false;
	socket.once('close', () => {
		if (upgraded || entry.closed) return;
		entry.rejected = true;
		entry.rejectReason = 'bad WebSocket handshake';
		entry.closed = { t: nowMs(), by: 'server', code: null };
	});
	wss.handleUpgrade(req, socket, head, (ws) => {
		upgraded = true;
		onAccept(ws);
	});
}

module.exports = {
	REPO_ROOT, need, protobuf, WebSocket, root, type, T, JSON_OPTS, toJson, encode, decode,
	nowMs, nextMsgId, buildMessage, buildFetchResult, FrameMaker, decodeClientFrame, Conn,
	pick, readScenario, parseArgs, queryObject, sendJson, readBody, controlRoutes, rawHttp,
	listen, createServer, guard, upgradeLogged, upgradeUrl,
};
