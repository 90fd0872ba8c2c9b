#!/usr/bin/env bats
# tt-ingest, providers direct and euler, against the fake TikTok and the
# fake Euler (test/fakes/): the whole protocol on loopback.

bats_require_minimum_version 1.5.0
load helpers
load fakes

# A key and a session cookie that must never reach a log or an error.
SECRET_KEY=sk_test_9f8e7d6c5b4a39281706
SECRET_SESSION=sess_0a1b2c3d4e5f60718293

ROOM=7311234567890123456

setup() {
	ttlc_setup
	export EULER_API_KEY=$SECRET_KEY
	unset SESSION_ID TT_TARGET_IDC TIKTOK_UNIQUE_ID RECONNECT_MAX_ATTEMPTS TTLC_CA_FILE TTLC_SESSION_HOSTS
}

teardown() {
	fake_tiktok_stop || true
	fake_euler_stop || true
}

# live ARGS... - tt-ingest against the fake TikTok, time 100 times faster;
# stdout to out.ndjson, stderr to err.log, status in $status.
live() {
	status=0
	TIKTOK_WEB_URL=$FAKE_TT_URL TIKTOK_WEBCAST_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL \
	    timeout 60 tt-ingest --provider direct --time-scale 0.01 "$@" >out.ndjson 2>err.log || status=$?
}

euler() {
	status=0
	EULER_WS_URL=$FAKE_EULER_URL timeout 60 tt-ingest --provider euler --time-scale 0.01 "$@" \
	    >out.ndjson 2>err.log || status=$?
}

# no_secrets - neither the key nor the session cookie in any output.
no_secrets() {
	! grep -q -e "$SECRET_KEY" -e "$SECRET_SESSION" out.ndjson err.log || false
}

# valid_raw - every line of out.ndjson is a raw.v1 frame (ajv).
valid_raw() {
	rm -rf raw
	split_lines out.ndjson raw
	ajv_validate "$SCHEMA_DIR/raw.v1.schema.json" raw
}

# types - the frame types of out.ndjson, one per line.
types() {
	jq -r .type out.ndjson
}

# A chat, a like (the captured payload), a gift and a follow.
mixed_messages() {
	cat <<EOF
[{"method":"WebcastChatMessage","data":{"user":{"id":"6899012345678901234","nickname":"Olek","displayId":"olek.big.gifts"},"content":"hello from the fake"}},
 {"method":"WebcastLikeMessage","payloadFile":"test/fixtures/webcast_like_message_payload.bin"},
 {"method":"WebcastGiftMessage","data":{"giftId":"5655","repeatCount":3,"repeatEnd":1,"user":{"id":"6899012345678901234","displayId":"olek.big.gifts"},"gift":{"id":"5655","name":"Rose","diamondCount":1,"type":1}}},
 {"method":"WebcastSocialMessage","data":{"common":{"displayText":{"key":"pm_main_follow_message_viewer_2"}},"user":{"id":"7000000000000000001","displayId":"newfan"},"followCount":"12"}}]
EOF
}

# scenario FILE CONNECTIONS [SIGN] - a scenario with the live user alice.
scenario() {
	local sign='[{"status":200}]'

	[ $# -ge 3 ] && sign=$3
	cat >"$1" <<EOF
{"users":{"alice":{"roomId":"$ROOM","status":2},"olive":{"roomId":"7311234567890000004","status":4},
          "wafd":{"page":"captcha","roomId":"7311234567890000005","status":2},"ghost":{"notFound":true}},
 "sign":$sign,
 "initial":[{"method":"WebcastChatMessage","data":{"user":{"id":"1","displayId":"early"},"content":"before you came"}}],
 "connections":$2}
EOF
}

@test "live: usage errors and configuration errors" {
	run -2 tt-ingest --provider mock --unique-id alice
	run -2 tt-ingest --provider direct --unique-id 'bad name!'
	run -2 tt-ingest --provider direct --room-id 12ab
	run -2 tt-ingest --provider direct --unique-id alice --euler-json
	run -2 tt-ingest --provider euler --room-id 7311
	run -2 tt-ingest --provider direct --unique-id alice --fixture x
	run -2 tt-ingest --provider direct
	unset EULER_API_KEY
	run -78 tt-ingest --provider euler --unique-id alice
	[[ "$output" == *EULER_API_KEY* ]]
	EULER_API_KEY=$SECRET_KEY RECONNECT_MAX_ATTEMPTS=many run -78 tt-ingest --provider direct --unique-id alice
	[[ "$output" != *"$SECRET_KEY"* ]]
}

@test "live: direct end to end: page, sign, enter room, history, frames, acks, stream end" {
	scenario s.json "[{\"steps\":[{\"waitFor\":\"enter\"},
	  {\"frame\":{\"logId\":\"101\",\"needAck\":true,\"gzip\":true,\"internalExt\":\"ie-101\",\"messages\":$(mixed_messages)}},
	  {\"frame\":{\"logId\":\"102\",\"needAck\":true,\"gzip\":false,\"internalExt\":\"ie-102\",\"messages\":[{\"method\":\"WebcastChatMessage\",\"data\":{\"user\":{\"id\":\"2\",\"displayId\":\"plain\"},\"content\":\"not gzipped\"}}]}},
	  {\"frame\":{\"logId\":\"103\",\"needAck\":false,\"gzip\":true,\"compressHeader\":true,\"internalExt\":\"ie-103\",\"messages\":[{\"method\":\"WebcastChatMessage\",\"data\":{\"user\":{\"id\":\"3\"},\"content\":\"no ack wanted\"}}]}},
	  {\"control\":3}]}]"
	fake_tiktok_start s.json
	live --unique-id @alice
	expect_status 0
	no_secrets
	valid_raw
	# One session: CONNECTED first, DISCONNECTED last, seqNo 0.. in order.
	[ "$(jq -r .sessionId out.ndjson | sort -u | wc -l)" -eq 1 ]
	[ "$(head -n 1 out.ndjson | jq -r '.type + " " + (.seqNo|tostring)')" = "ControlEvent.CONNECTED 0" ]
	[ "$(tail -n 1 out.ndjson | jq -r '.type + " " + .data.reason')" = "ControlEvent.DISCONNECTED stream_end" ]
	jq -s -e '[.[].seqNo] == [range(0; length)]' out.ndjson
	jq -s -e 'all(.[]; .streamId == "'"$ROOM"'" and .source == "live")' out.ndjson
	# The sign body's history comes first, then the frames in order.
	[ "$(types | sed -n 2p)" = WebcastChatMessage ]
	[ "$(sed -n 2p out.ndjson | jq -r .data.content)" = "before you came" ]
	tt-normalize out.ndjson >events.ndjson 2>norm.log
	[ "$(jq -r .eventType events.ndjson | tr '\n' ' ')" = "CONNECTED CHAT CHAT LIKE GIFT FOLLOW CHAT CHAT STREAM_END DISCONNECTED " ]
	jq -e -s '.[3].payload.count == 15 and .[3].payload.total == 11641 and .[3].user.uniqueId == "kylleehall"' events.ndjson
	jq -e -s '.[4].payload.giftCount == 3 and .[4].payload.coins == 3' events.ndjson
	# What the fake saw: UA and cookies from the sign server, the URL
	# parameters, im_enter_room before the heartbeats, one ack per needAck.
	fake_tiktok_log >log.json
	jq -e '.sign | length == 1' log.json
	jq -e '.sign[0].query.user_agent | startswith("Mozilla/5.0")' log.json
	jq -e --arg k "$SECRET_KEY" '.sign[0].apiKey == $k and (.sign[0].query | has("apiKey") | not)' log.json
	jq -e '.connections | length == 1' log.json
	jq -e '.connections[0] | .userAgent == (.query.browser_name + "/" + .query.browser_version)' log.json
	jq -e '.connections[0].cookie | test("ttwid=fake1")' log.json
	jq -e '.connections[0].origin == "https://www.tiktok.com"' log.json
	jq -e '.connections[0].query | .compress == "gzip" and .room_id == "'"$ROOM"'" and .cursor == "c-1"
	    and .internal_ext == "ie-1" and .rp_a == "1" and .rp_b == "x y" and .resp_content_type == "protobuf"' log.json
	jq -e '.connections[0].enterRoom | .roomId == "'"$ROOM"'" and .liveId == "12" and .identity == "audience"
	    and (.enterUniqueId | tonumber > 0)' log.json
	jq -e '.connections[0].acks | map(.logId + ":" + .payload) == ["101:ie-101", "102:ie-102"]' log.json
	jq -e '.connections[0].violations | length == 0' log.json
}

@test "live: every mapped event type decodes and normalizes" {
	cat >msgs.json <<'EOF'
[{"method":"WebcastChatMessage","data":{"user":{"id":"11","displayId":"chatter"},"content":"hi"}},
 {"method":"WebcastGiftMessage","data":{"giftId":"1","repeatCount":1,"user":{"id":"12"},"gift":{"id":"1","name":"Big","diamondCount":500,"type":2}}},
 {"method":"WebcastLikeMessage","data":{"count":5,"total":"100","user":{"id":"13"}}},
 {"method":"WebcastMemberMessage","data":{"user":{"id":"14"},"memberCount":40,"action":1}},
 {"method":"WebcastSocialMessage","data":{"common":{"displayText":{"key":"pm_main_follow_message_viewer_2"}},"user":{"id":"15"}}},
 {"method":"WebcastSocialMessage","data":{"common":{"displayText":{"key":"pm_mt_guidance_share"}},"user":{"id":"16"},"shareCount":2}},
 {"method":"WebcastSubNotifyMessage","data":{"user":{"id":"17"},"subMonth":"2"}},
 {"method":"WebcastEmoteChatMessage","data":{"user":{"id":"18"},"emoteList":[{"emoteId":"e1","image":{"urlList":["https://x/e1.png"]}}]}},
 {"method":"WebcastLinkMicBattle","data":{"battleId":"77","action":4,"battleResult":{"1001":{"userId":"1001","result":0,"score":"30"}}}},
 {"method":"WebcastLinkMicArmies","data":{"battleId":"77","armies":{"1001":{"hostscore":"31"}},"triggerReason":1}},
 {"method":"WebcastBarrageMessage","data":{"msgType":4,"content":{"key":"ttlive_superfan"}}},
 {"method":"WebcastRoomUserSeqMessage","data":{"total":"321","totalUser":"4000"}},
 {"method":"WebcastControlMessage","data":{"action":1}},
 {"method":"WebcastQuestionNewMessage","data":{"data":{"content":"a question"}}},
 {"method":"WebcastNotInOurProto","payloadBase64":"CAES"}]
EOF
	scenario s.json "[{\"steps\":[{\"waitFor\":\"enter\"},{\"frame\":{\"logId\":\"1\",\"needAck\":true,\"gzip\":true,\"internalExt\":\"x\",\"messages\":$(cat msgs.json)}},{\"control\":4}]}]"
	fake_tiktok_start s.json
	live --unique-id alice
	expect_status 0
	tt-normalize out.ndjson >events.ndjson 2>norm.log
	[ "$(jq -r .eventType events.ndjson | tr '\n' ' ')" = \
	    "CONNECTED CHAT CHAT GIFT LIKE JOIN FOLLOW SHARE SUBSCRIBE EMOTE BATTLE BATTLE BATTLE ROOM_USER RAW RAW RAW STREAM_END DISCONNECTED " ]
	jq -e -s '.[3].payload.coins == 500 and .[4].payload.count == 5 and .[13].payload.viewerCount == 321' events.ndjson
	jq -e -s '.[10].payload.scores == [{"hostUserId":"1001","points":30}]' events.ndjson
	jq -e -s '.[11].payload.scores == [{"hostUserId":"1001","points":31}]' events.ndjson
	# A method the .proto does not know is kept as base64, not dropped.
	jq -e -s '.[16].payload.rawType == "WebcastNotInOurProto"' events.ndjson
	grep -q '"type":"WebcastNotInOurProto".*"data":"CAES"' out.ndjson
	[ "$(jq -r 'select(.type == "ControlEvent.DISCONNECTED") | .data.reason' out.ndjson)" = stream_end ]
}

@test "live: heartbeats every 10 s (scaled), numbered from 1, only after im_enter_room" {
	scenario s.json '[{"steps":[{"waitFor":"heartbeats","count":6},{"control":3}]}]'
	fake_tiktok_start s.json
	# 10 s at time scale 0.02 is 200 ms. The fake sends nothing while it
	# counts, so the silence timeout must not strike first.
	TIKTOK_WEB_URL=$FAKE_TT_URL TIKTOK_WEBCAST_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL timeout 60 \
	    tt-ingest --provider direct --time-scale 0.02 --silence-timeout 600 --unique-id alice >out.ndjson 2>err.log
	fake_tiktok_log >log.json
	jq -e '.connections[0].heartbeats | length >= 6' log.json
	jq -e '.connections[0].heartbeats | map(.seq) | .[0:6] == ["1","2","3","4","5","6"]' log.json
	jq -e '.connections[0].heartbeats | all(.roomId == "'"$ROOM"'")' log.json
	jq -e '.connections[0].enterRoom.t <= .connections[0].heartbeats[0].t' log.json
	# Gaps between heartbeats: 200 ms (never much less; a loaded machine
	# may make one later).
	jq -e '[.connections[0].heartbeats[0:6] | map(.t) | . as $a | range(1; 6) | $a[.] - $a[. - 1]]
	    | all(. >= 150 and . <= 2000)' log.json
	jq -e '.connections[0].violations | length == 0' log.json
}

@test "live: a dropped socket reconnects with back-off, re-signs, and opens a new session each time" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"frame":{"logId":"1","messages":[{"method":"WebcastChatMessage","data":{"content":"one"}}]}},{"drop":true}]},
	  {"steps":[{"waitFor":"enter"},{"drop":true}]},
	  {"steps":[{"waitFor":"enter"},{"drop":true}]},
	  {"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	# 1 s, 2 s, 4 s at scale 0.1: 100, 200, 400 ms (+/- 20 %).
	TIKTOK_WEB_URL=$FAKE_TT_URL TIKTOK_WEBCAST_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL timeout 60 \
	    tt-ingest --provider direct --time-scale 0.1 --unique-id alice >out.ndjson 2>err.log
	[ "$(grep -c '"ControlEvent.CONNECTED"' out.ndjson)" -eq 4 ]
	[ "$(jq -r 'select(.type == "ControlEvent.CONNECTED") | .sessionId' out.ndjson | sort -u | wc -l)" -eq 4 ]
	[ "$(jq -r 'select(.type == "ControlEvent.DISCONNECTED") | .data.reason' out.ndjson | tr '\n' ' ')" = "closed closed closed stream_end " ]
	fake_tiktok_log >log.json
	jq -e '.sign | length == 4' log.json
	# Each wait at least the back-off's lower bound (-20 %): 80, 160, 320 ms.
	# Load only makes them longer, so these bounds cannot flake.
	jq -e '[.connections[].t] as $t | ($t[1] - $t[0]) >= 80 and ($t[2] - $t[1]) >= 160 and ($t[3] - $t[2]) >= 320' log.json
}

@test "live: a handshake refused with HTTP 200 is category blocked, and attempts run out (69)" {
	scenario s.json '[{"handshake":{"status":200,"handshakeStatus":415,"handshakeMsg":"DEVICE_BLOCKED"},"steps":[]}]'
	fake_tiktok_start s.json
	RECONNECT_MAX_ATTEMPTS=2 live --unique-id alice
	expect_status 69
	[ "$(jq -r 'select(.data.category == "blocked") | .data.detail' out.ndjson | sort -u)" = "WebSocket rejected by TikTok: DEVICE_BLOCKED (415)" ]
	[ "$(jq -r 'select(.data.category == "blocked") | .sessionId' out.ndjson | sort -u | wc -l)" -eq 3 ]
	! grep -q ControlEvent.CONNECTED out.ndjson || false
	fake_tiktok_log >log.json
	jq -e '.connections | length == 3 and all(.rejected)' log.json
}

@test "live: sign server 429 waits retry-after before asking again" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]' '[{"status":429,"retryAfter":3},{"status":200}]'
	fake_tiktok_start s.json
	# retry-after 3 s at scale 0.1 is 300 ms, more than the 100 ms back-off.
	TIKTOK_WEB_URL=$FAKE_TT_URL TIKTOK_WEBCAST_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL timeout 60 \
	    tt-ingest --provider direct --time-scale 0.1 --unique-id alice >out.ndjson 2>err.log
	jq -e -s 'map(select(.type == "ControlEvent.ERROR"))[0].data | .category == "rate_limited" and .code == 429' out.ndjson
	fake_tiktok_log >log.json
	jq -e '.sign | length == 2 and (.[1].t - .[0].t) >= 280' log.json
	[ "$(tail -n 1 out.ndjson | jq -r .data.reason)" = stream_end ]
}

@test "live: sign server 401 is category auth and a configuration error (78)" {
	scenario s.json '[{"steps":[]}]' '[{"status":401}]'
	fake_tiktok_start s.json
	live --unique-id alice
	expect_status 78
	jq -e -s 'length == 1 and .[0].data.category == "auth" and (.[0].data.detail | test("API Key is invalid"))' out.ndjson
	no_secrets
}

@test "live: sign server 5xx and a body that is no fetch result are category sign_error" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]' '[{"status":503},{"status":200,"body":"garbage"},{"status":200,"noCookie":true},{"status":200}]'
	fake_tiktok_start s.json
	live --unique-id alice
	expect_status 0
	[ "$(jq -r 'select(.type == "ControlEvent.ERROR") | .data.category' out.ndjson | tr '\n' ' ')" = "sign_error sign_error sign_error " ]
	grep -q 'no cookies' out.ndjson
	[ "$(tail -n 1 out.ndjson | jq -r .data.reason)" = stream_end ]
}

@test "live: offline is category offline (69) and asks no sign server; --wait-live waits for the stream" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	live --unique-id olive
	expect_status 69
	jq -e -s 'length == 1 and .[0].data.category == "offline"' out.ndjson
	fake_tiktok_log >log.json
	jq -e '.sign | length == 0' log.json
	# With --wait-live it checks again (60 s scaled to 600 ms) until the
	# creator is live, and keeps going until stopped.
	jq '.users.olive.status = 2' s.json >live.json
	(sleep 1.5; fake_scenario tiktok live.json) 3>&- &
	switcher=$!
	TIKTOK_WEB_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL \
	    tt-ingest --provider direct --time-scale 0.01 --unique-id olive --wait-live >out.ndjson 2>err.log 3>&- &
	pid=$!
	for _ in $(seq 200); do grep -q ControlEvent.CONNECTED out.ndjson && break; sleep 0.1; done
	sleep 0.5
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	wait "$switcher"
	expect_status 0
	[ "$(jq -r 'select(.data.category == "offline") | .type' out.ndjson | wc -l)" -ge 2 ]
	grep -q ControlEvent.CONNECTED out.ndjson
	# The stream ended, and it was still waiting (the kill above found it).
	jq -r 'select(.type == "ControlEvent.DISCONNECTED") | .data.reason' out.ndjson | grep -qx stream_end
}

@test "live: a captcha page falls back to api-live; an unknown user is not_found (66)" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	live --unique-id wafd
	expect_status 0
	grep -q ControlEvent.CONNECTED out.ndjson
	[ "$(head -n 1 out.ndjson | jq -r .streamId)" = 7311234567890000005 ]
	fake_tiktok_log >log.json
	jq -e '(.api | length) == 1' log.json
	live --unique-id ghost
	expect_status 66
	jq -e -s 'length == 1 and .[0].data.category == "not_found"' out.ndjson
}

@test "live: a room id skips the page lookup" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	live --room-id "$ROOM"
	expect_status 0
	fake_tiktok_log >log.json
	jq -e '(.pages | length) == 0 and (.api | length) == 0 and (.sign | length) == 1' log.json
	jq -e --arg r "$ROOM" '.alive | length == 1 and .[0].query.room_ids == $r' log.json
	[ "$(head -n 1 out.ndjson | jq -r .streamId)" = "$ROOM" ]
	# An offline room given by id: the live check says so, no signing.
	fake_reset tiktok
	live --room-id 7311234567890000004
	expect_status 69
	jq -e -s 'length == 1 and .[0].data.category == "offline"' out.ndjson
	fake_tiktok_log >log.json
	jq -e '.sign | length == 0' log.json
}

@test "live: silence while connected is a dead connection: error, reconnect" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"frame":{"logId":"1","messages":[{"method":"WebcastChatMessage","data":{"content":"then nothing"}}]}},{"silent":true}]},
	  {"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	# 2 s of silence at scale 0.1: 200 ms; heartbeats (1 s) are not frames received.
	TIKTOK_WEB_URL=$FAKE_TT_URL TIKTOK_WEBCAST_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL timeout 60 \
	    tt-ingest --provider direct --time-scale 0.1 --silence-timeout 2 --unique-id alice >out.ndjson 2>err.log
	jq -e -s 'map(select(.type == "ControlEvent.ERROR"))[0].data | .category == "network" and (.detail | test("no frame"))' out.ndjson
	[ "$(jq -r 'select(.type == "ControlEvent.DISCONNECTED") | .data.reason' out.ndjson | tr '\n' ' ')" = "silence stream_end " ]
	[ "$(grep -c '"ControlEvent.CONNECTED"' out.ndjson)" -eq 2 ]
}

@test "live: garbage frames and undecodable messages become ERROR + base64, the connection lives on" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"garbage":64},
	  {"frame":{"logId":"5","needAck":true,"internalExt":"ie5","messages":[{"method":"WebcastGiftMessage","payloadBase64":"/////w=="},{"method":"WebcastChatMessage","data":{"content":"still here"}}]}},
	  {"text":"not a push frame"},
	  {"control":3}]}]'
	fake_tiktok_start s.json
	live --unique-id alice
	expect_status 0
	valid_raw
	[ "$(jq -r 'select(.type == "ControlEvent.ERROR") | .data.category' out.ndjson | sort | uniq -c | awk '{print $1, $2}')" = "3 protocol" ]
	jq -e -s 'map(select(.type == "WebcastPushFrame"))[0].data | type == "string" and length > 80' out.ndjson
	jq -e -s 'map(select(.type == "WebcastGiftMessage"))[0].data == "/////w=="' out.ndjson
	grep -q '"content":"still here"' out.ndjson
	fake_tiktok_log >log.json
	jq -e '.connections[0].acks | map(.payload) == ["ie5"]' log.json
	tt-normalize out.ndjson >events.ndjson 2>norm.log
	[ "$(jq -r .eventType events.ndjson | grep -c ERROR)" -eq 3 ]
}

@test "live: SIGTERM ends the open session with reason stopped and exit 0" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"frames":{"logId":"9","messages":[{"method":"WebcastChatMessage","data":{"content":"tick"}}]},"repeat":1000,"intervalMs":20}]}]'
	fake_tiktok_start s.json
	TIKTOK_WEB_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL tt-ingest --provider direct --unique-id alice >out.ndjson 2>err.log 3>&- &
	pid=$!
	for _ in $(seq 100); do grep -q '"content":"tick"' out.ndjson && break; sleep 0.1; done
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	expect_status 0
	[ "$(tail -n 1 out.ndjson | jq -r '.type + " " + .data.reason')" = "ControlEvent.DISCONNECTED stopped" ]
	! grep -q ControlEvent.ERROR out.ndjson || false
}

@test "live: SIGTERM while the handshake hangs: no ERROR, exit 0" {
	# A push server that accepts TCP and never answers the upgrade.
	port=$(free_port)
	node -e 'require("net").createServer(() => {}).listen(+process.argv[1], "127.0.0.1")' "$port" 3>&- &
	hang=$!
	scenario s.json '[{"steps":[]}]' "[{\"status\":200,\"pushServer\":\"ws://127.0.0.1:$port/ws\"}]"
	fake_tiktok_start s.json
	TIKTOK_WEB_URL=$FAKE_TT_URL SIGN_API_URL=$FAKE_TT_URL TIKTOK_WEBCAST_URL=$FAKE_TT_URL \
	    tt-ingest --provider direct --unique-id alice >out.ndjson 2>err.log 3>&- &
	pid=$!
	for _ in $(seq 100); do [ "$(fake_tiktok_log | jq '.sign | length')" -ge 1 ] && break; sleep 0.1; done
	sleep 0.5
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	kill "$hang"
	wait "$hang" || true
	expect_status 0
	! grep -q ControlEvent.ERROR out.ndjson || false
	! grep -q ControlEvent.CONNECTED out.ndjson || false
	grep -q '"reason":"stopped"' err.log
}

@test "live: authenticated mode sends the session cookies to TikTok only, and never logs them" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	# The fake's push server is not a TikTok host: no session cookies...
	SESSION_ID=$SECRET_SESSION TT_TARGET_IDC=useast2a LOG_LEVEL=debug live --unique-id alice
	expect_status 0
	no_secrets
	grep -q 'not a TikTok host' err.log
	fake_tiktok_log >log.json
	jq -e --arg s "$SECRET_SESSION" '.connections[0].cookie | contains($s) | not' log.json
	# ...unless the host is allowed.
	fake_reset tiktok
	TTLC_SESSION_HOSTS=127.0.0.1 SESSION_ID=$SECRET_SESSION TT_TARGET_IDC=useast2a LOG_LEVEL=debug live --unique-id alice
	expect_status 0
	no_secrets
	fake_tiktok_log >log.json
	jq -e --arg s "$SECRET_SESSION" '.connections[0].cookie | contains("sessionid=" + $s) and contains("tt-target-idc=useast2a")' log.json
	jq -e --arg s "$SECRET_SESSION" '[.sign[0], .pages[0]] | tostring | contains($s) | not' log.json
}

@test "live: TLS is verified: the fake's CA is trusted only when given" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json --tls
	# HTTPS is checked by libcurl here; the euler test below checks WSS
	# (libwebsockets).
	[[ "$FAKE_TT_URL" == https://* ]]
	RECONNECT_MAX_ATTEMPTS=1 live --unique-id alice
	expect_status 69
	jq -e -s '.[0].data.category == "network"' out.ndjson
	TTLC_CA_FILE=$FAKE_CA_FILE live --unique-id alice
	expect_status 0
	fake_tiktok_log >log.json
	jq -e '.connections | length == 1' log.json
	[ "$(tail -n 1 out.ndjson | jq -r .data.reason)" = stream_end ]
}

@test "live: a 5 KB cookie from the sign server is an error, not a crash" {
	cookie=$(head -c 5000 /dev/zero | tr '\0' c)
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]' "[{\"status\":200,\"cookie\":\"ttwid=$cookie\"}]"
	fake_tiktok_start s.json
	RECONNECT_MAX_ATTEMPTS=1 live --unique-id alice
	expect_status 69
	jq -e -s 'map(select(.data.category == "sign_error")) | length == 2 and all(.data.detail | test("too long"))' out.ndjson
}

@test "live: a 4000-byte cookie reaches the push server whole (the handshake buffer is bounded right)" {
	cookie="ttwid=$(head -c 3990 /dev/zero | tr '\0' k)"
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]' "[{\"status\":200,\"cookie\":\"$cookie\"}]"
	fake_tiktok_start s.json
	live --unique-id alice
	expect_status 0
	fake_tiktok_log >log.json
	jq -e --arg c "$cookie" '.connections[0].cookie | startswith($c + ";")' log.json
}

@test "live: api-live refusals: 429 is rate_limited, 5xx network, both retried" {
	cat >s.json <<EOF
{"users":{"ratey":{"page":"captcha","api":429,"roomId":"1","status":2},"down":{"page":"captcha","api":503,"roomId":"2","status":2}},
 "sign":[{"status":200}],"connections":[{"steps":[]}]}
EOF
	fake_tiktok_start s.json
	RECONNECT_MAX_ATTEMPTS=1 live --unique-id ratey
	expect_status 69
	[ "$(jq -r 'select(.type == "ControlEvent.ERROR") | .data.category + ":" + ((.data.code // 0)|tostring)' out.ndjson | tr '\n' ' ')" = "rate_limited:429 rate_limited:429 network:0 " ]
	RECONNECT_MAX_ATTEMPTS=1 live --unique-id down
	expect_status 69
	[ "$(jq -r 'select(.type == "ControlEvent.ERROR") | .data.category + ":" + ((.data.code // 0)|tostring)' out.ndjson | tr '\n' ' ')" = "network:503 network:503 network:0 " ]
	fake_tiktok_log >log.json
	jq -e '.sign | length == 0' log.json
}

@test "live: the last cursor goes back to the sign server on a reconnect" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"frame":{"cursor":"c-77","messages":[{"method":"WebcastChatMessage","data":{"user":{"id":"1"},"content":"x"}}]}},{"drop":true}]},
	  {"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	live --unique-id alice
	expect_status 0
	fake_tiktok_log >log.json
	jq -e '[.sign[].query.cursor] == ["", "c-77"]' log.json
}

@test "live: a push URL past 2000 bytes is a protocol error, not a cut request" {
	long=$(head -c 2100 /dev/zero | tr '\0' p)
	scenario s.json '[{"steps":[]}]' "[{\"status\":200,\"pushServer\":\"ws://127.0.0.1:1/$long\"}]"
	fake_tiktok_start s.json
	RECONNECT_MAX_ATTEMPTS=1 live --unique-id alice
	expect_status 69
	jq -e -s 'map(select(.data.category == "protocol")) | length == 2 and all(.data.detail | test("2000 bytes"))' out.ndjson
}

@test "live: a failed live check of a room id does not stop the connect" {
	scenario s.json '[{"steps":[{"waitFor":"enter"},{"control":3}]}]'
	fake_tiktok_start s.json
	status=0
	TIKTOK_WEB_URL=$FAKE_TT_URL TIKTOK_WEBCAST_URL=http://127.0.0.1:$(free_port) SIGN_API_URL=$FAKE_TT_URL \
	    timeout 60 tt-ingest --provider direct --time-scale 0.01 --room-id "$ROOM" >out.ndjson 2>err.log || status=$?
	expect_status 0
	grep -q 'live check failed or unreadable; signing anyway' err.log
	[ "$(tail -n 1 out.ndjson | jq -r .data.reason)" = stream_end ]
}

@test "live: session cookies never go to a push host that only looks like TikTok's" {
	for host in '[127.0.0.1].tiktok.com' 'tiktok.com.127.0.0.1.nip.io' '127.0.0.1:1'; do
		scenario s.json '[{"steps":[]}]' "[{\"status\":200,\"pushServer\":\"wss://$host/ws\"}]"
		fake_tiktok_start s.json
		SESSION_ID=$SECRET_SESSION RECONNECT_MAX_ATTEMPTS=1 live --unique-id alice
		fake_tiktok_stop
		expect_status 69
		grep -q 'not a TikTok host' err.log || fail "$host: no refusal"
		no_secrets
	done
}

@test "live: 50 rooms in one process, each with its own session" {
	users=$(for i in $(seq 0 49); do printf '"u%d":{"roomId":"73110000000000%05d","status":2},' "$i" "$i"; done)
	# Frames 300 ms apart: the silence timeout (600 ms scaled) is raised so a
	# loaded machine does not turn a slow room into a reconnect.
	cat >s.json <<EOF
{"users":{${users%,}},"sign":[{"status":200}],
 "connections":[{"steps":[{"waitFor":"enter"},{"frame":{"logId":"1","needAck":true,"internalExt":"x","messages":[{"method":"WebcastChatMessage","data":{"content":"hi"}}]}},{"wait":300},{"control":3}]}]}
EOF
	fake_tiktok_start s.json
	args=()
	for i in $(seq 0 49); do args+=(--unique-id "u$i"); done
	live --silence-timeout 600 "${args[@]}"
	expect_status 0
	[ "$(grep -c '"ControlEvent.CONNECTED"' out.ndjson)" -eq 50 ]
	[ "$(jq -r 'select(.type == "ControlEvent.DISCONNECTED") | .data.reason' out.ndjson | sort | uniq -c | awk '{print $1, $2}')" = "50 stream_end" ]
	[ "$(jq -r .streamId out.ndjson | sort -u | wc -l)" -eq 50 ]
	[ "$(jq -r .sessionId out.ndjson | sort -u | wc -l)" -eq 50 ]
	# Each session is numbered on its own, from 0 and without gaps.
	jq -s -e 'group_by(.sessionId) | all(map(.seqNo) == [range(0; length)])' out.ndjson
	fake_tiktok_log >log.json
	jq -e '[.connections[].acks | length] | all(. == 1)' log.json
}

@test "live: --record writes every frame; --provider file decodes the recording to the same messages" {
	scenario s.json "[{\"steps\":[{\"waitFor\":\"enter\"},{\"frame\":{\"logId\":\"101\",\"needAck\":true,\"gzip\":true,\"internalExt\":\"ie-101\",\"messages\":$(mixed_messages)}},{\"garbage\":16},{\"control\":3}]}]"
	fake_tiktok_start s.json
	live --unique-id alice --record rec.bin
	expect_status 0
	[ "$(head -c 8 rec.bin)" = "$(printf 'TTLCWS1\n')" ]
	tt-ingest --provider file --frames rec.bin >replayed.ndjson 2>file.log
	# Same messages (type and data), lifecycle frames aside.
	jq -c 'select(.type | startswith("ControlEvent.") | not) | [.type, .data]' out.ndjson >a
	jq -c 'select(.type | startswith("ControlEvent.") | not) | [.type, .data]' replayed.ndjson >b
	diff a b
	[ "$(jq -r .streamId replayed.ndjson | sort -u)" = "$ROOM" ]
}

# ---- euler ------------------------------------------------------------------

@test "euler: JSON bundles become frames; apiKey and uniqueId in the query; key never logged" {
	cat >e.json <<'EOF'
{"connections":[{"steps":[
  {"bundle":[{"type":"WebcastChatMessage","data":{"common":{"method":"WebcastChatMessage","msgId":"1","createTime":"1730000000000"},"user":{"userId":"5","uniqueId":"viewer5"},"comment":"json mode"}}]},
  {"close":4005,"reason":"TikTok stream ended"}]}]}
EOF
	fake_euler_start e.json
	euler --unique-id alice --euler-json
	expect_status 0
	no_secrets
	[ "$(types | tr '\n' ' ')" = "ControlEvent.CONNECTED workerInfo roomInfo WebcastChatMessage ControlEvent.DISCONNECTED " ]
	[ "$(tail -n 1 out.ndjson | jq -r '.data.reason + " " + (.data.code|tostring)')" = "stream_end 4005" ]
	tt-normalize out.ndjson >events.ndjson 2>norm.log
	[ "$(jq -r 'select(.eventType == "CHAT") | .payload.text' events.ndjson)" = "json mode" ]
	fake_euler_log >log.json
	jq -e --arg k "$SECRET_KEY" '.connections[0].query | .uniqueId == "alice" and .apiKey == $k and .["features.rawMessages"] == "false"' log.json
}

@test "euler: raw mode decodes push frames like direct and acks them over the Euler socket" {
	cat >e.json <<EOF
{"connections":[{"steps":[
  {"frame":{"logId":"201","needAck":true,"gzip":true,"internalExt":"ie-201","messages":$(mixed_messages)}},
  {"control":3}]}]}
EOF
	fake_euler_start e.json
	euler --unique-id alice
	expect_status 0
	tt-normalize out.ndjson >events.ndjson 2>norm.log
	[ "$(jq -r .eventType events.ndjson | grep -v RAW | tr '\n' ' ')" = "CONNECTED CHAT LIKE GIFT FOLLOW STREAM_END DISCONNECTED " ]
	fake_euler_log >log.json
	jq -e '.connections[0].query["features.rawMessages"] == "true"' log.json
	jq -e '.connections[0].acks | map(.logId + ":" + .payload) == ["201:ie-201"]' log.json
}

@test "euler: close codes map to categories and behaviour" {
	# 4404 offline: exit 69.
	echo '{"connections":[{"steps":[{"close":4404,"reason":"Streamer is not live"}]}]}' >e.json
	fake_euler_start e.json
	euler --unique-id alice
	expect_status 69
	jq -e -s 'map(select(.type == "ControlEvent.ERROR"))[0].data | .category == "offline" and .code == 4404' out.ndjson
	fake_euler_stop
	# 4401 and 4400: configuration, exit 78, no retry.
	for code in 4401 4400 4403; do
		echo "{\"connections\":[{\"steps\":[{\"close\":$code,\"reason\":\"no\"}]}]}" >e.json
		fake_euler_start e.json
		euler --unique-id alice
		expect_status 78
		fake_euler_log >log.json
		jq -e '.connections | length == 1' log.json
		fake_euler_stop
	done
	# 4555, 4500, 1011 and 4429 reconnect; then a stream end.
	echo '{"connections":[{"steps":[{"close":4555,"reason":"Max lifetime exceeded"}]},{"steps":[{"close":4500,"reason":"x"}]},{"steps":[{"close":1011,"reason":"x"}]},{"steps":[{"close":4429,"reason":"Too many"}]},{"steps":[{"close":4005,"reason":"end"}]}]}' >e.json
	fake_euler_start e.json
	euler --unique-id alice
	expect_status 0
	[ "$(jq -r 'select(.type == "ControlEvent.DISCONNECTED") | .data.code' out.ndjson | tr '\n' ' ')" = "4555 4500 1011 4429 4005 " ]
	jq -e -s 'map(select(.type == "ControlEvent.ERROR")) | length == 1 and .[0].data.category == "rate_limited"' out.ndjson
	fake_euler_log >log.json
	jq -e '.connections | length == 5' log.json
	no_secrets
}

@test "euler: a server that greets and closes is still backed off, and attempts run out" {
	echo '{"connections":[{"steps":[{"close":4500,"reason":"TikTok closed the connection unexpectedly"}]}]}' >e.json
	fake_euler_start e.json
	RECONNECT_MAX_ATTEMPTS=2 euler --unique-id alice
	expect_status 69
	fake_euler_log >log.json
	# workerInfo and roomInfo arrive each time; they do not reset the back-off.
	jq -e '.connections | length == 3' log.json
	jq -e '[.connections[].t] as $t | ($t[1] - $t[0]) >= 8 and ($t[2] - $t[1]) >= 16' log.json
}

@test "euler: WSS is verified by libwebsockets: the fake's CA only when given" {
	echo '{"connections":[{"steps":[{"close":4005,"reason":"end"}]}]}' >e.json
	fake_euler_start e.json --tls
	[[ "$FAKE_EULER_URL" == wss://* ]]
	RECONNECT_MAX_ATTEMPTS=1 euler --unique-id alice
	expect_status 69
	jq -e -s 'length >= 2 and .[0].data.category == "network"' out.ndjson
	! grep -q ControlEvent.CONNECTED out.ndjson || false
	TTLC_CA_FILE=$FAKE_CA_FILE euler --unique-id alice
	expect_status 0
	[ "$(tail -n 1 out.ndjson | jq -r '.data.reason + " " + (.data.code|tostring)')" = "stream_end 4005" ]
}
