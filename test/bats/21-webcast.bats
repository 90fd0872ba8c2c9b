#!/usr/bin/env bats
# tt-ingest, provider file: TTLCWS1 recordings decoded by the webcast
# decoder (tt_webcast, tt_pbjson), end to end through tt-normalize. The
# recordings come from test/bench/gen-recording (protobuf-c pack).

bats_require_minimum_version 1.5.0
load helpers

setup() {
	ttlc_setup
	LIKE_BIN=$FIXTURES/webcast_like_message_payload.bin
}

# play ARGS... - tt-ingest --provider file; stdout out.ndjson, stderr err.log.
play() {
	status=0
	tt-ingest --provider file "$@" >out.ndjson 2>err.log || status=$?
}

# exit_field NAME - a member of tt-ingest's exit log record.
exit_field() {
	jq -r --arg k "$1" 'select(.msg == "exit") | .[$k]' err.log
}

# record KIND ROOM PAYLOAD-FILE - one TTLCWS1 record on stdout.
record() {
	local kind=$1 room=$2 file=$3 len
	len=$(stat -c %s "$file")
	printf '\x00\x06\x12\xe7\x5e\x1d\x4c\x00%s' "$kind"
	printf "\\x$(printf %02x "${#room}")%s" "$room"
	printf "\\x$(printf %02x $((len >> 24 & 255)))\\x$(printf %02x $((len >> 16 & 255)))"
	printf "\\x$(printf %02x $((len >> 8 & 255)))\\x$(printf %02x $((len & 255)))"
	cat "$file"
}

@test "webcast: the captured like payload, gzipped in a push frame, becomes a LIKE of 15 (total 11641)" {
	gen-recording --messages 3 --like "$LIKE_BIN" --no-end rec.bin
	play --frames rec.bin
	expect_status 0
	like=$(jq -c 'select(.type == "WebcastLikeMessage" and .data.common.msgId == "7340702509671467807")' out.ndjson)
	[ -n "$like" ]
	[ "$(jq -r .data.common.roomId <<<"$like")" = 7340691647148018438 ]
	[ "$(jq -r .data.common.createTime <<<"$like")" = 1709140492750 ]
	[ "$(jq -r .timestamp <<<"$like")" = 2024-02-28T17:14:52.750Z ]
	[ "$(jq -r .data.common.displayText.key <<<"$like")" = pm_mt_msg_viewer ]
	[ "$(jq -r .data.common.displayText.defaultPattern <<<"$like")" = "{0:user} liked the LIVE" ]
	[ "$(jq -r '.data.count, .data.total, .data.effectCnt' <<<"$like" | tr '\n' ' ')" = "15 11641 1 " ]
	[ "$(jq -r .data.user.displayId <<<"$like")" = kylleehall ]
	[ "$(jq -c '[.data.user.badgeList[] | select(.displayType == 4 and .sceneType == 8) | .privilegeLogExtra.level]' <<<"$like")" = '["15"]' ]
	tt-normalize <out.ndjson >events.ndjson 2>norm.log
	ev=$(jq -c 'select(.eventType == "LIKE" and .raw.data.common.msgId == "7340702509671467807")' events.ndjson)
	[ "$(jq -r '.payload.count, .payload.total, .user.uniqueId' <<<"$ev" | tr '\n' ' ')" = "15 11641 kylleehall " ]
}

@test "webcast: every mapped event type comes through tt-normalize, nothing in the DLQ" {
	gen-recording --messages 120 rec.bin
	play --frames rec.bin
	expect_status 0
	[ "$(exit_field messages)" -eq 121 ]
	[ "$(exit_field decodeErrors)" -eq 0 ]
	mv out.ndjson raw.ndjson
	run_normalize --dlq dlq.ndjson <raw.ndjson
	expect_status 0
	[ ! -s dlq.ndjson ]
	[ "$(wc -l <out.ndjson)" -eq "$(wc -l <raw.ndjson)" ]
	got=$(jq -r .eventType out.ndjson)
	for t in CONNECTED CHAT GIFT LIKE JOIN FOLLOW SHARE SUBSCRIBE EMOTE BATTLE ROOM_USER RAW STREAM_END DISCONNECTED; do
		grep -qx "$t" <<<"$got" || fail "no $t event"
	done
	# Battle, armies and barrage all map to BATTLE; the unknown method is RAW with base64 data.
	[ "$(jq -r 'select(.eventType == "BATTLE") | .payload.rawType' out.ndjson | sort -u | tr '\n' ' ')" = \
	    "WebcastBarrageMessage WebcastLinkMicArmies WebcastLinkMicBattle " ]
	[ "$(jq -r 'select(.raw.type == "WebcastRoomPinMessage") | .raw.data | type' out.ndjson | sort -u)" = string ]
}

@test "webcast: one session per room: CONNECTED, numbered frames, DISCONNECTED stream_end or end_of_file" {
	gen-recording --messages 30 rec.bin
	play --frames rec.bin
	expect_status 0
	n=$(wc -l <out.ndjson)
	[ "$(jq -r .seqNo out.ndjson | tr '\n' ' ')" = "$(seq 0 $((n - 1)) | tr '\n' ' ')" ]
	[ "$(head -1 out.ndjson | jq -r .type)" = ControlEvent.CONNECTED ]
	[ "$(tail -1 out.ndjson | jq -r '.type + " " + .data.reason')" = "ControlEvent.DISCONNECTED stream_end" ]
	[ "$(jq -r .streamId out.ndjson | sort -u)" = 7340691647148018438 ]
	[ "$(jq -r .data.provider out.ndjson | grep -vc null)" -eq 2 ]
	gen-recording --messages 30 --no-end rec2.bin
	play --frames rec2.bin
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = end_of_file ]
	# Two rooms in one file: two sessions, each framed.
	gen-recording --messages 10 --no-end --room 111 a.bin
	gen-recording --messages 10 --no-end --room 222 --seed 2 b.bin
	{ cat a.bin; tail -c +9 b.bin; } >both.bin
	play --frames both.bin
	expect_status 0
	[ "$(exit_field sessions)" -eq 2 ]
	[ "$(jq -r 'select(.type == "ControlEvent.CONNECTED") | .streamId' out.ndjson | tr '\n' ' ')" = "111 222 " ]
	[ "$(jq -r 'select(.type == "ControlEvent.DISCONNECTED") | .streamId' out.ndjson | tr '\n' ' ')" = "111 222 " ]
	# --stream-id: one session of that id for every record.
	play --frames both.bin --stream-id room-x
	[ "$(exit_field sessions)" -eq 1 ]
	[ "$(jq -r .streamId out.ndjson | sort -u)" = room-x ]
}

@test "webcast: bad records are reported and skipped, never the end of the file" {
	gen-recording --messages 10 --no-end rec.bin
	printf '\x08\xff\xff' >garbage.bin
	printf '{"messages":[{"type":"WebcastChatMessage","data":"nope"}]}' >euler-bad.json
	printf 'not json at all' >euler-nojson.json
	printf '{"messages":[{"type":"WebcastControlMessage","data":{"action":3}}]}' >euler-end.json
	long=$(printf 'r%.0s' $(seq 70))
	{
		cat rec.bin
		record B 7340691647148018438 garbage.bin
		record X 7340691647148018438 garbage.bin
		record B "$long" garbage.bin
		record B "bad room!" garbage.bin
		record T 7340691647148018438 euler-bad.json
		record T 7340691647148018438 euler-nojson.json
		record T 7340691647148018438 euler-end.json
	} >bad.bin
	play --frames bad.bin
	expect_status 0
	[ "$(exit_field badRecords)" -eq 3 ]
	[ "$(exit_field decodeErrors)" -eq 1 ]
	errs=$(jq -c 'select(.type == "ControlEvent.ERROR") | .data' out.ndjson)
	[ "$(jq -r .category <<<"$errs" | sort -u)" = protocol ]
	grep -q 'cannot decode WebcastPushFrame: not a push frame' <<<"$errs"
	grep -q 'entry 0 has a data that is not an object' <<<"$errs"
	grep -q 'Euler text is not JSON' <<<"$errs"
	# The bytes are kept: the garbage frame and the bad bundles as base64.
	[ "$(jq -r 'select(.type == "WebcastPushFrame") | .data' out.ndjson)" = "CP//" ]
	[ "$(jq -r 'select(.type == "EulerBundle") | .data' out.ndjson | head -1 | base64 -d)" = \
	    '{"messages":[{"type":"WebcastChatMessage","data":"nope"}]}' ]
	# The Euler control message ended the session.
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = stream_end ]
	grep -q '"msg":"recording: unknown record kind, skipped"' err.log
	mv out.ndjson raw.ndjson
	run_normalize --dlq dlq.ndjson <raw.ndjson
	expect_status 0
	[ ! -s dlq.ndjson ]
	[ "$(wc -l <out.ndjson)" -eq "$(wc -l <raw.ndjson)" ]
}

@test "webcast: a truncated last record is a warning and a count; bad magic and missing files are errors" {
	gen-recording --messages 20 --no-end rec.bin
	head -c -7 rec.bin >cut.bin
	play --frames cut.bin
	expect_status 0
	[ "$(exit_field truncated)" -eq 1 ]
	grep -q 'the last record is cut short' err.log
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = end_of_file ]
	printf 'TTLCWS0\nxxxxxxxx' >magic.bin
	play --frames magic.bin
	expect_status 1
	grep -q 'not a recording' err.log
	[ ! -s out.ndjson ]
	play --frames no-such-file.bin
	expect_status 66
	: >empty.bin
	play --frames empty.bin
	expect_status 0
	[ ! -s out.ndjson ]
}

@test "webcast: usage errors exit 2" {
	run -2 tt-ingest --frames x.bin
	[[ "$output" == *"--frames belongs to the file provider"* ]]
	run -2 tt-ingest --provider file
	[[ "$output" == *"needs --frames"* ]]
	run -2 tt-ingest --provider file --frames x.bin --loop
	run -2 tt-ingest --provider file --frames x.bin --retime
	run -2 tt-ingest --provider mock --frames x.bin
	run -2 tt-ingest --replay-session 3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10 --frames x.bin
	run -2 tt-ingest --provider file --frames x.bin --stream-id "bad id"
}

@test "webcast: SIGTERM while reading a pipe ends the session with reason stopped" {
	gen-recording --messages 20 --no-end rec.bin
	mkfifo fifo
	tt-ingest --provider file --frames fifo >out.ndjson 2>err.log &
	pid=$!
	# Hold the pipe open after the recording: tt-ingest waits for more.
	exec 7>fifo
	cat rec.bin >&7
	for _ in $(seq 100); do
		grep -q '"type":"WebcastChatMessage"' out.ndjson 2>/dev/null && break
		sleep 0.05
	done
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	exec 7>&-
	expect_status 0
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = stopped ]
	[ "$(exit_field reason)" = stopped ]
}
