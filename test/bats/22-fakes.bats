#!/usr/bin/env bats
# The fake TikTok and the fake Euler (test/fakes/) checked on their own, with
# curl and a small node client: the suites of the providers trust them.

bats_require_minimum_version 1.5.0
load helpers
load fakes

ROOM=7311234567890123456
PUSH_PATH=/webcast/im/ws_proxy/ws_reuse_supplement/

setup() {
	ttlc_setup
	write_client
}

teardown() {
	fakes_stop
}

# write_client - client.js: a push-WebSocket client in node.
#   node client.js URL MODE [UA] [COOKIE] [ROOM]
# MODE good: im_enter_room, a heartbeat every 100 ms, an ack per needAck;
# hbfirst: a heartbeat before im_enter_room; badack: acks with a wrong
# payload; rude: garbage, a text message, then the TCP socket destroyed;
# listen: sends nothing. Prints one JSON line per thing that arrives.
write_client() {
	cat >client.js <<'EOF'
'use strict';
const zlib = require('zlib');
const path = require('path');
const protobuf = require('protobufjs');
const WebSocket = require('ws');
const root = new protobuf.Root().loadSync(path.join(process.env.TTLC_ROOT, "proto/webcast.proto"), { keepCase: true });
const T = (n) => root.lookupType('webcast.' + n);
const [url, mode, ua, cookie, roomId] = process.argv.slice(2);
const headers = {};
if (ua) headers['User-Agent'] = ua;
if (cookie) headers.Cookie = cookie;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const frame = (o) => T('WebcastPushFrame').encode(Object.assign({ payloadEncoding: 'pb' }, o)).finish();
const ws = new WebSocket(url, { headers, ca: process.env.FAKE_CA_FILE ? require('fs').readFileSync(process.env.FAKE_CA_FILE) : undefined });
let seq = 0;
const hb = () => ws.send(frame({ payloadType: 'hb',
	payload: T('HeartBeatMessage').encode({ roomId, sendPacketSeqId: ++seq }).finish() }));
ws.on('unexpected-response', (req, res) => {
	out({ kind: 'unexpected', status: res.statusCode, handshakeStatus: res.headers['handshake-status'] || null,
		handshakeMsg: res.headers['handshake-msg'] || null });
	process.exit(0);
});
ws.on('error', (e) => { out({ kind: 'error', message: e.message }); process.exit(0); });
ws.on('open', () => {
	if (mode === 'rude') {
		ws.send(Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]));
		ws.send('hello?');
		setTimeout(() => { ws._socket.destroy(); process.exit(0); }, 100);
		return;
	}
	if (mode === 'listen') return;
	if (mode === 'hbfirst') hb();
	ws.send(frame({ payloadType: 'im_enter_room', payload: T('WebcastImEnterRoomMessage').encode({
		roomId, liveId: 12, identity: 'audience', filterWelcomeMsg: '0' }).finish() }));
	hb();
	setInterval(hb, 100);
});
ws.on('message', (data, isBinary) => {
	if (!isBinary) { out({ kind: 'text', text: String(data) }); return; }
	const pf = T('WebcastPushFrame').decode(data);
	let p = Buffer.from(pf.payload);
	const gzip = p.length > 2 && p[0] === 0x1f && p[1] === 0x8b;
	if (gzip) p = zlib.gunzipSync(p);
	const fr = T('ProtoMessageFetchResult').decode(p);
	const msgs = fr.messages.map((m) => {
		const t = root.lookup('webcast.' + m.method, [protobuf.Type]);
		return { method: m.method, data: t ? t.toObject(t.decode(m.payload), { longs: String }) : null };
	});
	const hdr = (pf.headers || []).find((h) => h.key === 'compress_type');
	out({ kind: 'frame', payloadType: pf.payloadType, logId: String(pf.logId), gzip,
		compressType: hdr ? hdr.value : null, needAck: fr.needAck, internalExt: fr.internalExt, messages: msgs });
	if (fr.needAck) {
		const payload = Buffer.from(mode === 'badack' ? 'wrong' : fr.internalExt);
		ws.send(frame({ payloadType: 'ack', logId: pf.logId, payload }));
	}
});
ws.on('close', (code, reason) => { out({ kind: 'close', code, reason: String(reason) }); process.exit(0); });
setTimeout(() => { out({ kind: 'timeout' }); process.exit(0); }, Number(process.env.CLIENT_MS || 5000));
EOF
}

# client ARGS... - runs client.js; its lines in client.out.
client() {
	timeout 15 env NODE_PATH="$FAKES_NODE_MODULES" node client.js "$@" >client.out 2>client.err || {
		cat client.err >&2
		return 1
	}
}

# sign ROOM [UA] - a sign request to the fake TikTok; headers in sign.h, body in sign.bin.
sign() {
	fakes_curl "$FAKE_TT_URL/webcast/rooms/$1/connect?client=ttlc&cursor=&user_agent=${2:-UA-1}&client_enter=true&platform=web" \
	    -H 'x-api-key: k-123' -D sign.h -o sign.bin -w '%{http_code}'
}

# header NAME - a header of sign.h, without the CR.
header() {
	tr -d '\r' <sign.h | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == n { print $2 }'
}

tiktok_scenario() {
	cat >scenario.json <<EOF
{ "users": { "alice": {"roomId":"$ROOM","status":2}, "olive": {"roomId":"7311234567890000004","status":4},
             "wafd": {"page":"captcha"}, "ghost": {"notFound":true}, "shut": {"roomId":"1","page":403,"api":403} },
  "sign": [ {"status":200} ],
  "initial": [ {"method":"WebcastChatMessage","data":{"content":"backlog"}} ],
  "connections": [ {"steps": $1} ],
  "rooms": { "42": { "sign": [ {"status":429,"retryAfter":7}, {"status":401}, {"status":503}, {"status":200,"noCookie":true}, {"status":200,"body":"garbage"} ] } } }
EOF
}

@test "fakes: the live page carries SIGI_STATE with the room id and status; captcha, 403 and unknown users do not" {
	tiktok_scenario '[]'
	fake_tiktok_start scenario.json
	fakes_curl "$FAKE_TT_URL/@alice/live" >page.html
	sed -n 's/.*<script id="SIGI_STATE" type="application\/json">\([^<]*\)<\/script>.*/\1/p' page.html >sigi.json
	[ "$(jq -r .LiveRoom.liveRoomUserInfo.user.roomId sigi.json)" = "$ROOM" ]
	[ "$(jq -r .LiveRoom.liveRoomUserInfo.liveRoom.status sigi.json)" = 2 ]
	fakes_curl "$FAKE_TT_URL/@olive/live" | grep -q '"liveRoom":{"status":4'
	fakes_curl "$FAKE_TT_URL/@wafd/live" >waf.html
	grep -q 'Please wait' waf.html
	! grep -q SIGI_STATE waf.html
	[ "$(fakes_curl "$FAKE_TT_URL/@shut/live" -o /dev/null -w '%{http_code}')" = 403 ]
	fakes_curl "$FAKE_TT_URL/@ghost/live" | grep -q '"liveRoomUserInfo":{"user":{}}'
	fakes_curl "$FAKE_TT_URL/@nobody/live" | grep -q '"liveRoomUserInfo":{"user":{}}'
	fake_tiktok_log >log.json
	[ "$(jq -c '[.pages[].uniqueId]' log.json)" = '["alice","olive","wafd","shut","ghost","nobody"]' ]
}

@test "fakes: api-live gives room id and status; an unknown user is user_not_found; api 403" {
	tiktok_scenario '[]'
	fake_tiktok_start scenario.json
	run fakes_curl "$FAKE_TT_URL/api-live/user/room/?aid=1988&uniqueId=olive&sourceType=54"
	[ "$(jq -r '"\(.statusCode) \(.data.user.roomId) \(.data.liveRoom.status)"' <<<"$output")" = "0 7311234567890000004 4" ]
	run fakes_curl "$FAKE_TT_URL/api-live/user/room/?uniqueId=ghost&sourceType=54"
	[ "$output" = '{"statusCode":10221,"message":"user_not_found"}' ]
	[ "$(fakes_curl "$FAKE_TT_URL/api-live/user/room/?uniqueId=shut&sourceType=54" -o /dev/null -w '%{http_code}')" = 403 ]
	[ "$(fake_tiktok_log | jq -r '.api[0].query.sourceType')" = 54 ]
}

@test "fakes: the sign route answers a fetch result protobufjs decodes, with pushServer and X-Set-TT-Cookie" {
	tiktok_scenario '[]'
	fake_tiktok_start scenario.json
	[ "$(sign "$ROOM" 'Mozilla/5.0%20X')" = 200 ]
	[ "$(header X-Set-TT-Cookie)" = 'ttwid=fake1; tt_csrf_token=tok1' ]
	[ "$(header X-Room-Id)" = "$ROOM" ]
	fake_node -e '
		const pb = require("protobufjs");
		const root = new pb.Root().loadSync(process.env.TTLC_ROOT + "/proto/webcast.proto", { keepCase: true });
		const T = root.lookupType("webcast.ProtoMessageFetchResult");
		const r = T.toObject(T.decode(require("fs").readFileSync("sign.bin")), { longs: String });
		const C = root.lookupType("webcast.WebcastChatMessage");
		r.messages = r.messages.map((m) => Object.assign(m, { payload: C.toObject(C.decode(m.payload), { longs: String }) }));
		console.log(JSON.stringify(r));' >fr.json
	[ "$(jq -r .pushServer fr.json)" = "ws://127.0.0.1:$FAKE_TT_PORT$PUSH_PATH" ]
	[ "$(jq -r '"\(.cursor) \(.internalExt) \(.heartbeatDuration) \(.fetchInterval) \(.isFirst)"' fr.json)" = "c-1 ie-1 10000 1000 true" ]
	[ "$(jq -c .routeParams fr.json)" = '{"rp_a":"1","rp_b":"x y"}' ]
	[ "$(jq -r '.messages[0] | "\(.isHistory) \(.payload.content) \(.payload.common.roomId) \(.payload.common.method)"' fr.json)" = \
	    "true backlog $ROOM WebcastChatMessage" ]
	fake_tiktok_log >log.json
	[ "$(jq -r '.sign[0] | "\(.roomId) \(.apiKey) \(.query.user_agent) \(.query.client_enter) \(.query.platform)"' log.json)" = \
	    "$ROOM k-123 Mozilla/5.0 X true web" ]
}

@test "fakes: the sign route's answers in order: 429 with retry-after, 401, 503, no cookie, garbage (repeating)" {
	tiktok_scenario '[]'
	fake_tiktok_start scenario.json
	[ "$(sign 42)" = 429 ]
	[ "$(header retry-after)" = 7 ]
	now=$(date +%s)
	reset=$(header x-ratelimit-reset)
	[ "$reset" -ge $((now + 5)) ] && [ "$reset" -le $((now + 9)) ]
	[ "$(jq -r .message sign.bin)" = 'Too many connections started, try again later.' ]
	[ "$(jq -r .limit_label sign.bin)" = minute ]
	[ "$(sign 42)" = 401 ]
	[ "$(jq -c . sign.bin)" = '{"code":401,"message":"The provided API Key is invalid."}' ]
	[ "$(sign 42)" = 503 ]
	[ "$(jq -r .error sign.bin)" = 'API is not ready for connections yet.' ]
	[ "$(sign 42)" = 200 ]
	[ -z "$(header X-Set-TT-Cookie)" ]
	for _ in 1 2; do
		[ "$(sign 42)" = 200 ]
		run ! fake_node -e '
			const pb = require("protobufjs");
			const root = pb.loadSync(process.env.TTLC_ROOT + "/proto/webcast.proto");
			root.lookupType("webcast.ProtoMessageFetchResult").decode(require("fs").readFileSync("sign.bin"));'
		[[ $output == *RangeError* ]]
	done
	[ "$(fake_tiktok_log | jq -c '[.sign[].status]')" = '[429,401,503,200,200,200]' ]
}

@test "fakes: a ws client gets the scripted frames, gzip and not, and the fake logs enter, heartbeats and acks" {
	tiktok_scenario '[{"waitFor":"enter"},
	    {"frame":{"logId":"101","needAck":true,"gzip":true,"messages":[{"method":"WebcastChatMessage","data":{"content":"hi"}}]}},
	    {"frame":{"logId":"102","gzip":false,"compressHeader":false,"messages":[{"method":"WebcastLikeMessage","payloadFile":"LIKE"}]}},
	    {"waitFor":"heartbeats","count":3},{"control":3},{"close":1000,"reason":"bye"}]'
	# payloadFile: bytes as they are (absolute here; relative names the repo root).
	fake_node -e '
		const pb = require("protobufjs");
		const root = new pb.Root().loadSync(process.env.TTLC_ROOT + "/proto/webcast.proto", { keepCase: true });
		const L = root.lookupType("webcast.WebcastLikeMessage");
		require("fs").writeFileSync("like.bin", L.encode({ common: { method: "WebcastLikeMessage", msgId: "7340702509671467807" }, count: 15, total: 11641 }).finish());'
	sed -i "s#\"LIKE\"#\"$PWD/like.bin\"#" scenario.json
	fake_tiktok_start scenario.json
	[ "$(sign "$ROOM" UA-1)" = 200 ]
	client "ws://127.0.0.1:$FAKE_TT_PORT$PUSH_PATH?room_id=$ROOM&compress=gzip&cursor=c-1" good UA-1 \
	    "tt-target-idc=useast1a; ttwid=fake1; tt_csrf_token=tok1" "$ROOM"
	[ "$(jq -sc '[.[] | .payloadType // .kind]' client.out)" = \
	    '["im_enter_room_resp","msg","msg","msg","close"]' ]
	run jq -sc '[.[] | select(.payloadType == "msg") | [.logId, .gzip, .compressType, .needAck]]' client.out
	[[ "$output" == '[["101",true,"gzip",true],["102",false,null,false],["'*'",true,"gzip",false]]' ]]
	[ "$(jq -sr '.[2].messages[0].data | "\(.count) \(.total) \(.common.msgId)"' client.out)" = "15 11641 7340702509671467807" ]
	[ "$(jq -sr '.[1].messages[0].data | "\(.content) \(.common.roomId)"' client.out)" = "hi $ROOM" ]
	[ "$(jq -sr '.[3].messages[0] | "\(.method) \(.data.action)"' client.out)" = "WebcastControlMessage 3" ]
	[ "$(jq -sr '.[4] | "\(.code) \(.reason)"' client.out)" = "1000 bye" ]
	fake_tiktok_log >log.json
	c='.connections[0]'
	[ "$(jq -r "$c | \"\(.rejected) \(.query.compress) \(.userAgent) \(.enterRoom.roomId) \(.enterRoom.identity)\"" log.json)" = \
	    "false gzip UA-1 $ROOM audience" ]
	[ "$(jq -r "$c.heartbeats | length >= 3" log.json)" = true ]
	[ "$(jq -r "$c.heartbeats[0] | \"\(.roomId) \(.seq)\"" log.json)" = "$ROOM 1" ]
	[ "$(jq -c "[$c.acks[] | [.logId, .payload]]" log.json)" = '[["101","ie-101"]]' ]
	[ "$(jq -c "$c.violations" log.json)" = '[]' ]
	[ "$(jq -r "$c.closed | \"\(.by) \(.code)\"" log.json)" = "server 1000" ]
}

@test "fakes: DEVICE_BLOCKED (HTTP 200) for a wrong User-Agent, a missing ttwid, and when the scenario says so" {
	tiktok_scenario '[]'
	fake_tiktok_start scenario.json
	url="ws://127.0.0.1:$FAKE_TT_PORT$PUSH_PATH?room_id=$ROOM"
	[ "$(sign "$ROOM" UA-1)" = 200 ]
	client "$url" good UA-2 'ttwid=fake1' "$ROOM"
	[ "$(jq -r '"\(.kind) \(.status) \(.handshakeStatus) \(.handshakeMsg)"' client.out)" = "unexpected 200 415 DEVICE_BLOCKED" ]
	client "$url" good UA-1 'ttwid=fake0' "$ROOM"
	[ "$(jq -r .handshakeMsg client.out)" = DEVICE_BLOCKED ]
	CLIENT_MS=300 client "$url" listen UA-1 'ttwid=fake1' "$ROOM"
	[ "$(jq -r .kind client.out)" = timeout ]
	cat >s2.json <<EOF
{"connections":[{"handshake":{"status":200,"handshakeStatus":417,"handshakeMsg":"illegal app_id"}}]}
EOF
	fake_scenario tiktok s2.json
	client "$url" good UA-1 'ttwid=fake1' "$ROOM"
	[ "$(jq -r '"\(.handshakeStatus) \(.handshakeMsg)"' client.out)" = "417 illegal app_id" ]
	[ "$(fake_tiktok_log | jq -c '[.connections[].rejected]')" = '[true,true,false,true]' ]
}

@test "fakes: violations are logged (hb before enter, a wrong ack) and the fake survives garbage and an abrupt close" {
	tiktok_scenario '[{"frames":{"needAck":true,"messages":[{"method":"WebcastChatMessage","data":{"content":"x"}}]},"repeat":3,"intervalMs":20},{"silent":true}]'
	fake_tiktok_start scenario.json
	url="ws://127.0.0.1:$FAKE_TT_PORT$PUSH_PATH?room_id=$ROOM"
	[ "$(sign "$ROOM" UA-1)" = 200 ]
	# Connection 0 sends hb first, connection 1 acks wrongly.
	CLIENT_MS=400 client "$url" hbfirst UA-1 'ttwid=fake1' "$ROOM"
	CLIENT_MS=400 client "$url" badack UA-1 'ttwid=fake1' "$ROOM"
	client "$url" rude UA-1 'ttwid=fake1' "$ROOM"
	sleep 0.2
	fake_tiktok_log >log.json
	[ "$(jq -r '.connections[0].violations[0].what' log.json)" = 'hb before im_enter_room' ]
	[ "$(jq -r '[.connections[1].violations[].what | select(test("carries \"wrong\""))] | length' log.json)" = 3 ]
	[ "$(jq -r '.connections[2].violations | map(.what) | any(test("not a WebcastPushFrame"))' log.json)" = true ]
	[ "$(jq -r '.connections[2].violations | map(.what) | any(test("text message"))' log.json)" = true ]
	[ "$(jq -r '.connections[2].closed | "\(.by) \(.code)"' log.json)" = "client 1006" ]
	kill -0 "$FAKE_TT_PID"
	[ "$(sign "$ROOM" UA-1)" = 200 ]
}

@test "fakes: with --tls the fake's certificate verifies against FAKE_CA_FILE (127.0.0.1 and localhost) and the push server is wss" {
	tiktok_scenario '[]'
	fake_tiktok_start scenario.json --tls
	[[ $FAKE_TT_URL == https://127.0.0.1:* ]]
	[ -s "$FAKE_CA_FILE" ]
	fakes_curl "$FAKE_TT_URL/@alice/live" | grep -q "$ROOM"
	curl -sS --cacert "$FAKE_CA_FILE" "https://localhost:$FAKE_TT_PORT/@alice/live" | grep -q "$ROOM"
	run ! curl -sS "$FAKE_TT_URL/@alice/live"
	[ "$(sign "$ROOM" UA-1)" = 200 ]
	grep -aq "wss://127.0.0.1:$FAKE_TT_PORT$PUSH_PATH" sign.bin
	CLIENT_MS=300 client "wss://127.0.0.1:$FAKE_TT_PORT$PUSH_PATH?room_id=$ROOM" good UA-1 'ttwid=fake1' "$ROOM"
	[ "$(head -1 client.out | jq -r .payloadType)" = im_enter_room_resp ]
	[ "$(fake_tiktok_log | jq -r '.connections[0].enterRoom.roomId')" = "$ROOM" ]
}

@test "fakes: euler JSON mode: workerInfo, roomInfo, a decoded bundle, then the close code and reason" {
	cat >euler.json <<'EOF'
{"users":{"alice":{"roomId":"7311234567890123456"}},
 "connections":[{"steps":[{"frame":{"messages":[{"method":"WebcastChatMessage","data":{"content":"hi","user":{"id":"6811111111111111111","displayId":"bob"}}}]}},
   {"bundle":[{"type":"WebcastMemberMessage","data":{"action":1}}]},{"json":{"any":"thing"}},{"close":4404,"reason":"Streamer is not live"}]}]}
EOF
	fake_euler_start euler.json
	[[ $FAKE_EULER_URL == ws://127.0.0.1:* ]]
	client "$FAKE_EULER_URL/?uniqueId=@alice&apiKey=k-9&features.bundleEvents=true" listen
	[ "$(jq -sr '[.[] | if .kind == "text" then (.text | fromjson | (.messages[0].type // "json")) else .kind end] | join(" ")' client.out)" = \
	    "workerInfo roomInfo WebcastChatMessage WebcastMemberMessage json close" ]
	[ "$(jq -sr '.[1].text | fromjson | .messages[0].data.id_str' client.out)" = 7311234567890123456 ]
	[ "$(jq -sr '.[2].text | fromjson | .messages[0].data | "\(.content) \(.user.id) \(.common.roomId)"' client.out)" = \
	    "hi 6811111111111111111 7311234567890123456" ]
	[ "$(jq -sr '.[5] | "\(.code) \(.reason)"' client.out)" = "4404 Streamer is not live" ]
	fake_euler_log >log.json
	[ "$(jq -r '.connections[0] | "\(.uniqueId) \(.apiKey) \(.features.bundleEvents) \(.query.uniqueId) \(.closed.code)"' log.json)" = \
	    "alice k-9 true @alice 4404" ]
}

@test "fakes: euler raw mode sends binary push frames and logs the acks; no uniqueId is HTTP 400" {
	cat >euler.json <<'EOF'
{"connections":[{"steps":[{"frame":{"logId":"555","needAck":true,"messages":[{"method":"WebcastChatMessage","data":{"content":"raw"}}]}},
   {"wait":300},{"close":4005,"reason":"TikTok stream ended"}]}]}
EOF
	fake_euler_start euler.json
	client "$FAKE_EULER_URL/?uniqueId=alice&apiKey=k&features.rawMessages=true" good "" "" 0
	[ "$(jq -sr '[.[] | .kind] | join(" ")' client.out)" = "text text frame close" ]
	[ "$(jq -sr '.[2] | "\(.logId) \(.needAck) \(.gzip) \(.messages[0].data.content)"' client.out)" = "555 true false raw" ]
	[ "$(jq -sr '.[3].code' client.out)" = 4005 ]
	client "$FAKE_EULER_URL/?apiKey=k" listen
	[ "$(jq -r '"\(.kind) \(.status)"' client.out)" = "unexpected 400" ]
	fake_euler_log >log.json
	[ "$(jq -c '[.connections[0].acks[] | [.logId, .payload]]' log.json)" = '[["555","ie-555"]]' ]
	[ "$(jq -c '[.connections[].rejected]' log.json)" = '[false,true]' ]
}
