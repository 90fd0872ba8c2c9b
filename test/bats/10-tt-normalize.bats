#!/usr/bin/env bats
# tt-normalize: raw.v1 lines in, UnifiedEvent v1 lines out, DLQ records for
# the rest. Fixture in, golden out, diff.

load helpers

setup() {
	ttlc_setup
	bg_pid=
}

teardown() {
	# A live-pipe test that failed half-way must not leave its filter behind.
	if [ -n "${bg_pid:-}" ]; then
		kill "$bg_pid" 2>/dev/null || true
		wait "$bg_pid" 2>/dev/null || true
	fi
}

# raw_line N / golden_line N - line N of the raw fixture / the golden output.
raw_line() { sed -n "$1p" "$RAW_FRAMES"; }
golden_line() { sed -n "$1p" "$UNIFIED_EVENTS"; }
dlq_line() { sed -n "$1p" "$DLQ_FRAMES"; }

# event_of SEQNO - the event of out.ndjson with that seqNo, compact.
event_of() { jq -c --argjson n "$1" 'select(.seqNo == $n)' out.ndjson; }

# ---- golden output -----------------------------------------------------------

@test "golden: raw-frames.ndjson normalizes to unified-events.ndjson exactly" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	diff -u "$UNIFIED_EVENTS" out.ndjson
	[ "$(exit_counts)" = "38 38 0 0 0" ]
}

@test "golden: the same fixture on standard input gives the same output" {
	run_normalize <"$RAW_FRAMES"
	expect_status 0
	diff -u "$UNIFIED_EVENTS" out.ndjson
}

@test "mapping: one event per raw line, in order, with the envelope copied and raw.type/raw.data unchanged" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	[ "$(wc -l <out.ndjson)" -eq "$(wc -l <"$RAW_FRAMES")" ]
	jq -s -e --slurpfile raw "$RAW_FRAMES" '
	    length == ($raw | length) and
	    ([range(0; length) as $i | .[$i] as $e | $raw[$i] as $r |
	      $e.schemaVersion == "unified-event.v1" and
	      $e.streamId == $r.streamId and $e.sessionId == $r.sessionId and
	      $e.seqNo == $r.seqNo and $e.source == $r.source and
	      $e.timestamp == $r.timestamp and $e.ingestedAt == $r.ingestedAt and
	      $e.raw == {type: $r.type, data: $r.data}] | all)' out.ndjson
	# raw.data is the input text byte for byte, not a re-encoding.
	local i=0 data
	while IFS= read -r line; do
		i=$((i + 1))
		data=${line#*\"data\":}
		data=${data%\}}
		sed -n "${i}p" out.ndjson | grep -qF -- "\"data\":$data" ||
		    fail "line $i: raw.data is not the input text verbatim"
	done <"$RAW_FRAMES"
}

@test "mapping: event types per raw line" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	want="CONNECTED ROOM_USER JOIN CHAT LIKE CHAT GIFT JOIN GIFT CHAT GIFT FOLLOW CHAT JOIN CHAT CHAT CHAT CHAT LIKE GIFT SHARE RAW SUBSCRIBE EMOTE SHARE SUBSCRIBE ERROR RAW BATTLE BATTLE BATTLE RAW LIKE RAW RAW RAW STREAM_END DISCONNECTED"
	[ "$(jq -r .eventType out.ndjson | tr '\n' ' ' | sed 's/ $//')" = "$want" ]
}

@test "mapping: gift streaks - in-progress updates count nothing, the final one counts repeatCount x diamonds" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	# Rose streak (gift.type 1): seqNo 7 and 9 in progress, 11 ends it.
	event_of 7 | jq -e '.payload | .streakable and .streakState == "in_progress" and .repeatEnd == false and .repeatCount == 1 and .giftCount == 0 and .coins == 0'
	event_of 9 | jq -e '.payload | .streakState == "in_progress" and .repeatCount == 3 and .giftCount == 0 and .coins == 0'
	event_of 11 | jq -e '.payload | .streakState == "final" and .repeatEnd and .repeatCount == 3 and .giftCount == 3 and .coins == 3 and .giftName == "Rose" and .giftId == "5655" and .diamondCount == 1'
	# Galaxy (gift.type 2) is not streakable: final at once.
	event_of 20 | jq -e '.payload | .streakable == false and .streakState == "final" and .giftCount == 1 and .coins == 1000 and .receiverUserId == "6987654321098765432"'
	# Summing coins over all events never double-counts the streak.
	[ "$(jq -s '[.[] | select(.eventType == "GIFT") | .payload.coins] | add' out.ndjson)" -eq 1003 ]
	[ "$(jq -s '[.[] | select(.eventType == "GIFT") | .payload.giftCount] | add' out.ndjson)" -eq 4 ]
}

@test "mapping: social messages classify by display key into FOLLOW, SHARE, SUBSCRIBE or RAW" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	event_of 12 | jq -e '.eventType == "FOLLOW" and .payload == {displayType: "pm_main_follow_message_viewer_2", followCount: 184303}'
	event_of 21 | jq -e '.eventType == "SHARE" and .payload.displayType == "pm_mt_guidance_share" and .payload.shareTarget == "whatsapp" and (.payload | has("viewersJoined") | not)'
	event_of 25 | jq -e '.eventType == "SHARE" and .payload.viewersJoined == 7 and .payload.shareCount == 2'
	event_of 26 | jq -e '.eventType == "SUBSCRIBE" and .payload == {displayType: "pm_mt_msg_viewer_subscribe"}'
	event_of 28 | jq -e '.eventType == "RAW" and .payload == {rawType: "WebcastSocialMessage", displayType: "pm_mt_social_unknown"}'
	event_of 23 | jq -e '.eventType == "SUBSCRIBE" and .payload.subMonth == 3'
}

@test "mapping: WebcastControlMessage is STREAM_END only for action 3 or 4" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	event_of 36 | jq -e '.eventType == "RAW" and .payload.rawType == "WebcastControlMessage"'
	event_of 37 | jq -e '.eventType == "STREAM_END" and .payload == {action: 3, reason: "ended"}'
	[ "$(jq -r 'select(.eventType == "STREAM_END") | .seqNo' out.ndjson)" = 37 ]
	# action 4 (suspended) ends it too; 1 (pause) and 2 (unpause) do not.
	for a in 1 2 3 4; do
		raw_line 37 | sed "s/\"action\":3/\"action\":$a/"
	done | tt-normalize 2>err.log >ctl.ndjson
	[ "$(jq -r '"\(.eventType):\(.payload.reason // "-")"' ctl.ndjson | tr '\n' ' ')" = "RAW:- RAW:- STREAM_END:ended STREAM_END:suspended " ]
}

@test "mapping: the seed's legacy chat and like lines" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	event_of 13 | jq -e '.eventType == "CHAT" and .payload == {text: "Hello world"} and .user.userId == "99" and .user.uniqueId == "testuser"'
	event_of 33 | jq -e '.eventType == "LIKE" and .payload == {count: 5, total: 11700} and .user.uniqueId == "priya.k_" and .user.isSubscriber'
	# The seed's example line as it is written there.
	printf '%s\n' '{"schemaVersion":"raw.v1","streamId":"12345","sessionId":"3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10","source":"live","type":"WebcastChatMessage","seqNo":1,"timestamp":"2026-02-22T10:00:00Z","ingestedAt":"2026-02-22T10:00:00Z","data":{"comment":"Hello world","user":{"userId":"99","uniqueId":"testuser"}}}' |
	    tt-normalize 2>err.log | jq -e '.eventType == "CHAT" and .payload.text == "Hello world" and .user.uniqueId == "testuser" and .user.userId == "99"'
}

@test "mapping: user signals - moderator, subscriber, follower, gifter level" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	event_of 14 | jq -e '.user.isModerator'           # userAttr.isAdmin
	event_of 15 | jq -e '.user.isModerator'           # userIdentity.isModeratorOfAnchor
	event_of 17 | jq -e '.user.isModerator'           # badge sceneType 1
	event_of 16 | jq -e '.user.isSubscriber'          # badge sceneType 4
	event_of 4 | jq -e '.user.isModerator == false and .user.isSubscriber == false and .user.followRole == 1 and .user.isFollower and .user.gifterLevel == 15 and .user.uniqueId == "mia.sketches"'
	event_of 7 | jq -e '.user.followRole == 2'
	event_of 5 | jq -e '.user | has("followRole") | not'
}

@test "mapping: proto3 JSON leaves out zero values - they read as 0 or empty" {
	env='"schemaVersion":"raw.v1","streamId":"7311234567890123456","sessionId":"3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10","source":"live","timestamp":"2026-02-22T10:00:00Z","ingestedAt":"2026-02-22T10:00:00Z"'
	user='"user":{"id":"99","displayId":"u"}'
	{
		printf '{%s,"type":"WebcastChatMessage","seqNo":1,"data":{%s}}\n' "$env" "$user"
		printf '{%s,"type":"WebcastLikeMessage","seqNo":2,"data":{%s}}\n' "$env" "$user"
		printf '{%s,"type":"WebcastRoomUserSeqMessage","seqNo":3,"data":{}}\n' "$env"
		printf '{%s,"type":"WebcastSubNotifyMessage","seqNo":4,"data":{%s,"subMonth":"1"}}\n' "$env" "$user"
		printf '{%s,"type":"WebcastSubNotifyMessage","seqNo":5,"data":{%s,"messageType":2}}\n' "$env" "$user"
	} >zero.ndjson
	run_normalize --dlq dlq.ndjson zero.ndjson
	expect_status 0
	[ ! -s dlq.ndjson ]
	[ "$(jq -c '[.eventType, .payload]' out.ndjson | tr '\n' ' ')" = '["CHAT",{"text":""}] ["LIKE",{"count":0}] ["ROOM_USER",{"viewerCount":0}] ["SUBSCRIBE",{"subMonth":1}] ["RAW",{"rawType":"WebcastSubNotifyMessage"}] ' ]
}

# ---- DLQ ---------------------------------------------------------------------

@test "dlq golden: every dlq-frames line is dead-lettered with the reason in dlq-frames.reasons" {
	[ "$(wc -l <"$DLQ_FRAMES")" -eq "$(wc -l <"$DLQ_REASONS")" ]
	run_normalize --dlq dlq.ndjson "$DLQ_FRAMES"
	expect_status 0
	[ ! -s out.ndjson ]
	jq -r .reason dlq.ndjson | diff -u "$DLQ_REASONS" -
	[ "$(jq -r .line dlq.ndjson | tr '\n' ' ')" = "$(seq -s ' ' 1 "$(wc -l <"$DLQ_FRAMES")") " ]
	jq -e '.schemaVersion == "dlq.v1" and .stage == "normalizer" and (.error | length > 0)' dlq.ndjson >/dev/null
	n=$(wc -l <"$DLQ_FRAMES")
	[ "$(exit_counts)" = "$n 0 $n 0 0" ]
}

@test "dlq golden: every DLQ record validates against dlq.v1.schema.json" {
	run_normalize --dlq dlq.ndjson "$DLQ_FRAMES"
	expect_status 0
	split_lines dlq.ndjson records
	ajv_validate "$SCHEMA_DIR/dlq.v1.schema.json" records
}

@test "dlq golden: each payload is the original line (base64 when it is not UTF-8)" {
	run_normalize --dlq dlq.ndjson "$DLQ_FRAMES"
	expect_status 0
	export LC_ALL=C
	n=$(wc -l <"$DLQ_FRAMES")
	for i in $(seq 1 "$n"); do
		awk -v n="$i" 'NR == n { printf "%s", $0 }' "$DLQ_FRAMES" >want.bin
		rec=$(sed -n "${i}p" dlq.ndjson)
		if [ "$(jq -r '.payloadEncoding // "text"' <<<"$rec")" = base64 ]; then
			jq -r .payload <<<"$rec" | base64 -d >got.bin
		else
			jq -j .payload <<<"$rec" >got.bin
		fi
		cmp want.bin got.bin || fail "line $i: payload differs from the input line"
	done
}

@test "dlq: without --dlq each rejected line is a warning on stderr, in order" {
	run_normalize "$DLQ_FRAMES"
	expect_status 0
	[ ! -s out.ndjson ]
	jq -rR 'fromjson? | select(.msg == "line rejected") | .reason' err.log | diff -u "$DLQ_REASONS" -
}

@test "dlq: --dlq - writes DLQ records to standard output" {
	run_normalize --dlq - "$DLQ_FRAMES"
	expect_status 0
	jq -r .reason out.ndjson | diff -u "$DLQ_REASONS" -
	# Mixed with events: each line is one or the other, in input order.
	paste -d '\n' <(head -n 15 "$RAW_FRAMES") "$DLQ_FRAMES" >mixed.ndjson
	run_normalize --dlq - mixed.ndjson
	expect_status 0
	[ "$(jq -r '.schemaVersion' out.ndjson | uniq -c | awk '{print $1}' | sort -u)" = 1 ]
	diff -u <(head -n 15 "$UNIFIED_EVENTS") <(grep '"unified-event.v1"' out.ndjson)
}

@test "dlq: records reach the DLQ file while the input stays open" {
	mkfifo in.fifo
	tt-normalize --dlq dlq.ndjson <in.fifo >out.ndjson 2>err.log 3>&- &
	bg_pid=$!
	exec 5>in.fifo
	dlq_line 1 >&5
	raw_line 1 >&5
	for _ in $(seq 1 30); do
		[ -s out.ndjson ] && [ -s dlq.ndjson ] && break
		sleep 0.1
	done
	[ -s out.ndjson ]
	[ -s dlq.ndjson ] || fail "the DLQ record did not arrive within about 3 s while the pipe was open"
	jq -e '.reason == "invalid_json"' dlq.ndjson
	exec 5>&-
	wait "$bg_pid"
	bg_pid=
}

@test "dlq: --dlq appends to an existing file" {
	run_normalize --dlq dlq.ndjson "$DLQ_FRAMES"
	run_normalize --dlq dlq.ndjson "$DLQ_FRAMES"
	expect_status 0
	[ "$(wc -l <dlq.ndjson)" -eq $((2 * $(wc -l <"$DLQ_FRAMES"))) ]
}

@test "dlq: a DLQ file that cannot be opened exits 74" {
	run_normalize --dlq "$BATS_TEST_TMPDIR/no/such/dir/dlq.ndjson" "$RAW_FRAMES"
	expect_status 74
	grep -q 'cannot open DLQ file' err.log
}

# ---- eventId -----------------------------------------------------------------

@test "eventId: the same input twice gives the same ids, and ids are distinct" {
	tt-normalize "$RAW_FRAMES" 2>/dev/null | jq -r .eventId >ids1
	tt-normalize "$RAW_FRAMES" 2>/dev/null | jq -r .eventId >ids2
	[ "$(wc -l <ids1)" -eq 38 ]
	cmp ids1 ids2
	[ "$(sort -u ids1 | wc -l)" -eq 38 ]
	jq -r .eventId "$UNIFIED_EVENTS" | cmp - ids1
}

@test "eventId: sha256(streamId:sessionId:seqNo:type) in lowercase hex, for every line" {
	run_normalize "$RAW_FRAMES"
	expect_status 0
	i=0
	while IFS=$'\t' read -r stream session seq type; do
		i=$((i + 1))
		want=$(printf '%s:%s:%s:%s' "$stream" "$session" "$seq" "$type" | sha256sum | cut -d' ' -f1)
		got=$(sed -n "${i}p" out.ndjson | jq -r .eventId)
		[ "$got" = "$want" ] || fail "line $i: eventId $got, want $want"
	done < <(jq -r '[.streamId, .sessionId, (.seqNo | tostring), .type] | @tsv' "$RAW_FRAMES")
	[ "$i" -eq 38 ]
	# One worked by hand: the seed's legacy chat line.
	want=$(printf '%s' '7311234567890123456:3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10:13:WebcastChatMessage' | sha256sum | cut -d' ' -f1)
	[ "$(event_of 13 | jq -r .eventId)" = "$want" ]
}

@test "eventId: does not depend on source, timestamps or data" {
	raw_line 13 >a.ndjson
	raw_line 13 | sed 's/"source":"live"/"source":"replay"/; s/"ingestedAt":"[^"]*"/"ingestedAt":"2027-01-01T00:00:00Z"/; s/Hello world/Bye/' >b.ndjson
	a=$(tt-normalize a.ndjson 2>/dev/null | jq -r .eventId)
	b=$(tt-normalize b.ndjson 2>/dev/null | jq -r .eventId)
	[ -n "$a" ] && [ "$a" = "$b" ]
}

@test "eventId: seqNo 5.0 or 5e0 is the integer 5 (same seqNo and id as 5)" {
	for s in 5 5.0 5e0 5E+0 50e-1; do
		raw_line 13 | sed "s/\"seqNo\":13/\"seqNo\":$s/"
	done >seq.ndjson
	run_normalize --dlq dlq.ndjson seq.ndjson
	expect_status 0
	[ ! -s dlq.ndjson ]
	[ "$(jq -c '[.seqNo, .eventId]' out.ndjson | sort -u | wc -l)" -eq 1 ]
	want=$(printf '%s' '7311234567890123456:3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10:5:WebcastChatMessage' | sha256sum | cut -d' ' -f1)
	jq -e --arg id "$want" '.seqNo == 5 and .eventId == $id' out.ndjson
}

@test "a type outside [A-Za-z0-9_.] is dead-lettered as bad_type (NUL and multi-byte included)" {
	# Regression: a NUL inside type once cut the eventId source, so
	# different types collided on one eventId.
	type=$(printf '\xf0\x9f\x98\x80%.0s' $(seq 1 4))
	raw_line 36 | sed "s/\"type\":\"WebcastControlMessage\"/\"type\":\"$type\"/" >bad-type.ndjson
	raw_line 36 | sed 's/"type":"WebcastControlMessage"/"type":"WebcastChatMessage\\u0000a"/' >>bad-type.ndjson
	run_normalize --dlq dlq.ndjson bad-type.ndjson
	expect_status 0
	[ ! -s out.ndjson ]
	[ "$(jq -r .reason dlq.ndjson | sort -u)" = bad_type ]
	[ "$(wc -l <dlq.ndjson)" -eq 2 ]
}

# ---- the stream never stalls ---------------------------------------------------

@test "no stall: a gift whose coins overflow 64 bits is dead-lettered, the next line goes on" {
	raw_line 20 | sed 's/"repeatCount":1,/"repeatCount":"9223372036854775807",/' >ovf.ndjson
	raw_line 13 >>ovf.ndjson
	grep -q 9223372036854775807 ovf.ndjson
	run_normalize --dlq dlq.ndjson ovf.ndjson
	expect_status 0
	diff -u <(golden_line 13) out.ndjson
	jq -e '.reason == "schema_violation" and .line == 1' dlq.ndjson
}

@test "no stall: bad lines interleaved with good ones - every good line comes out, in order" {
	# raw 1, dlq 1, raw 2, dlq 2, ... then the rest of raw; blank lines too.
	paste -d '\n' <(head -n 15 "$RAW_FRAMES") "$DLQ_FRAMES" >mixed.ndjson
	printf '\n   \n' >>mixed.ndjson
	tail -n +16 "$RAW_FRAMES" >>mixed.ndjson
	run_normalize --dlq dlq.ndjson mixed.ndjson
	expect_status 0
	diff -u "$UNIFIED_EVENTS" out.ndjson
	jq -r .reason dlq.ndjson | diff -u "$DLQ_REASONS" -
	# DLQ line numbers point at the bad lines: 2, 4, ... 30.
	[ "$(jq -r .line dlq.ndjson | tr '\n' ' ')" = "$(seq -s ' ' 2 2 30) " ]
	exit_log | jq -e '.in == 53 and .out == 38 and .dlq == 15 and .blank == 2 and .in == .out + .dlq and .status == 0'
}

@test "blank lines are skipped and counted, not dead-lettered" {
	{
		raw_line 1
		printf '\n'
		printf '   \n'
		printf '\t\n'
		printf '\r\n'
		raw_line 2
		printf '\n'
	} >blank.ndjson
	run_normalize --dlq dlq.ndjson blank.ndjson
	expect_status 0
	[ ! -s dlq.ndjson ]
	diff -u <(head -n 2 "$UNIFIED_EVENTS") out.ndjson
	[ "$(exit_counts)" = "2 2 0 5 0" ]
}

@test "CRLF input normalizes like LF input" {
	sed 's/$/\r/' "$RAW_FRAMES" >crlf.ndjson
	run_normalize crlf.ndjson
	expect_status 0
	diff -u "$UNIFIED_EVENTS" out.ndjson
}

@test "a last line without a newline is still normalized" {
	head -n 3 "$RAW_FRAMES" | head -c -1 >nonl.ndjson
	run_normalize nonl.ndjson
	expect_status 0
	diff -u <(head -n 3 "$UNIFIED_EVENTS") out.ndjson
}

@test "too long: a line over --max-line is line_too_long with payloadTruncated, the next lines go on" {
	{
		raw_line 1
		printf '{"pad":"%s"}\n' "$(head -c 10000 /dev/zero | tr '\0' x)"
		raw_line 13
		raw_line 38
	} >long.ndjson
	run_normalize --max-line 4096 --dlq dlq.ndjson long.ndjson
	expect_status 0
	diff -u <(golden_line 1; golden_line 13; golden_line 38) out.ndjson
	[ "$(wc -l <dlq.ndjson)" -eq 1 ]
	jq -e '.reason == "line_too_long" and .payloadTruncated == true and .line == 2 and (.payload | length) == 4096 and (has("payloadEncoding") | not)' dlq.ndjson
	[ "$(jq -r .payload dlq.ndjson)" = "$(sed -n 2p long.ndjson | head -c 4096)" ]
	[ "$(exit_counts)" = "4 3 1 0 0" ]
}

@test "too long: a cut inside a multi-byte character still gives a UTF-8 payload" {
	{
		printf '{"pad":"'
		for _ in $(seq 1 500); do printf 'ééééééééééé'; done
		printf '"}\n'
		raw_line 13
	} >long.ndjson
	run_normalize --max-line 4097 --dlq dlq.ndjson long.ndjson
	expect_status 0
	diff -u <(golden_line 13) out.ndjson
	jq -e '.reason == "line_too_long" and .payloadTruncated and (has("payloadEncoding") | not) and (.payload | startswith("{\"pad\":\"éé"))' dlq.ndjson
	[ "$(jq -j .payload dlq.ndjson | wc -c)" -le 4097 ]
	split_lines dlq.ndjson records
	ajv_validate "$SCHEMA_DIR/dlq.v1.schema.json" records
}

@test "too long: the default limit is 1 MiB" {
	{
		raw_line 1
		printf '{"pad":"%s"}\n' "$(head -c 1100000 /dev/zero | tr '\0' y)"
		raw_line 2
	} >long.ndjson
	run_normalize --dlq dlq.ndjson long.ndjson
	expect_status 0
	[ "$(wc -l <out.ndjson)" -eq 2 ]
	jq -e '.reason == "line_too_long" and (.payload | length) == 1048576' dlq.ndjson
}

# ---- _ack receipts ---------------------------------------------------------------

@test "_ack: a top-level _ack is copied unchanged to the event" {
	ack='"_ack":"ttlc:raw\u0000normalizer\u00001771754411000-0 é"'
	raw_line 13 | sed "s/^{/{$ack,/" >ack.ndjson
	raw_line 4 | sed 's/^{/{"_ack":{"stream":"ttlc:raw","id":"1771754403961-7","n":[1,2]},/' >>ack.ndjson
	run_normalize ack.ndjson
	expect_status 0
	[ "$(wc -l <out.ndjson)" -eq 2 ]
	jq -s -e --slurpfile in ack.ndjson '[.[0]._ack == $in[0]._ack, .[1]._ack == $in[1]._ack] | all' out.ndjson
	# The rest of the event is what it is without the receipt.
	diff <(jq -c 'del(._ack)' out.ndjson) <({ golden_line 13; golden_line 4; } | jq -c .)
	# An object receipt is copied as its text.
	sed -n 2p out.ndjson | grep -qF '"_ack":{"stream":"ttlc:raw","id":"1771754403961-7","n":[1,2]}'
}

@test "_ack: a top-level _ack is copied unchanged to the DLQ record" {
	raw_line 13 | sed 's/^{/{"_ack":"ttlc:raw|normalizer|1-0",/; s/"source":"live"/"source":"nope"/' >bad.ndjson
	raw_line 13 | sed 's/^{/{"_ack":{"id":"2-0"},/; s/"data":{"comment":"Hello world"/"data":{"comment":42/' >>bad.ndjson
	run_normalize --dlq dlq.ndjson bad.ndjson
	expect_status 0
	[ ! -s out.ndjson ]
	[ "$(jq -r .reason dlq.ndjson | tr '\n' ' ')" = "bad_source schema_violation " ]
	jq -s -e '.[0]._ack == "ttlc:raw|normalizer|1-0" and .[1]._ack == {id: "2-0"}' dlq.ndjson
	split_lines dlq.ndjson records
	ajv_validate "$SCHEMA_DIR/dlq.v1.schema.json" records
}

# ---- command line ------------------------------------------------------------------

@test "--help prints usage on stdout and exits 0" {
	run_normalize --help
	expect_status 0
	grep -q '^usage: tt-normalize' out.ndjson
	grep -q -- '--dlq' out.ndjson
	[ ! -s err.log ]
	run_normalize -h
	expect_status 0
	grep -q '^usage: tt-normalize' out.ndjson
}

@test "a bad option exits 2 with usage on stderr and nothing on stdout" {
	run_normalize --no-such-option "$RAW_FRAMES"
	expect_status 2
	[ ! -s out.ndjson ]
	grep -q '^usage: tt-normalize' err.log
	for bad in abc 10 -1 999999999999 ''; do
		run_normalize --max-line "$bad" "$RAW_FRAMES"
		expect_status 2
		[ ! -s out.ndjson ]
		grep -q 'max-line' err.log
	done
	run_normalize --dlq
	expect_status 2
}

@test "--strict exits 65 at the first bad line, after the good lines before it" {
	{ head -n 3 "$RAW_FRAMES"; dlq_line 5; raw_line 4; } >strict.ndjson
	run_normalize --strict --dlq dlq.ndjson strict.ndjson
	expect_status 65
	diff -u <(head -n 3 "$UNIFIED_EVENTS") out.ndjson
	[ "$(jq -r .reason dlq.ndjson)" = "$(sed -n 5p "$DLQ_REASONS")" ]
	jq -R 'fromjson? | select(.msg == "bad input line (--strict)")' err.log | jq -e '.line == 4'
	[ "$(exit_counts)" = "4 3 1 0 65" ]
}

@test "--strict on a clean input exits 0" {
	run_normalize --strict "$RAW_FRAMES"
	expect_status 0
	diff -u "$UNIFIED_EVENTS" out.ndjson
}

@test "a nonexistent input file exits 1 and names the file" {
	run_normalize "$BATS_TEST_TMPDIR/missing.ndjson"
	expect_status 1
	[ ! -s out.ndjson ]
	jq -R 'fromjson? | select(.msg == "cannot open input")' err.log | jq -e '.file | endswith("missing.ndjson")'
}

@test "multiple FILE arguments and - are read in order" {
	head -n 10 "$RAW_FRAMES" >part1
	sed -n '11,25p' "$RAW_FRAMES" >part2
	tail -n +26 "$RAW_FRAMES" >part3
	run_normalize part1 - part3 <part2
	expect_status 0
	diff -u "$UNIFIED_EVENTS" out.ndjson
	[ "$(exit_counts)" = "38 38 0 0 0" ]
}

@test "DLQ line numbers restart in each input file" {
	run_normalize --dlq dlq.ndjson "$DLQ_FRAMES" "$DLQ_FRAMES"
	expect_status 0
	n=$(wc -l <"$DLQ_FRAMES")
	[ "$(jq -r .line dlq.ndjson | tr '\n' ' ')" = "$(seq -s ' ' 1 "$n") $(seq -s ' ' 1 "$n") " ]
}

# ---- output errors --------------------------------------------------------------------

@test "write error: a closed stdout exits 74 with a clear error" {
	status=0
	tt-normalize "$RAW_FRAMES" >&- 2>err.log || status=$?
	expect_status 74
	jq -R 'fromjson? | select(.msg == "cannot write output")' err.log | jq -e '.file == "standard output" and (.error | length > 0)'
	status=0
	tt-normalize <"$RAW_FRAMES" >&- 2>err.log || status=$?
	expect_status 74
}

@test "write error: a full disk (/dev/full) exits 74 with a clear error" {
	[ -w /dev/full ] || skip "no /dev/full"
	status=0
	tt-normalize "$RAW_FRAMES" >/dev/full 2>err.log || status=$?
	expect_status 74
	jq -R 'fromjson? | select(.msg == "cannot write output")' err.log | jq -e '.error | test("space")'
	exit_log | jq -e '.status == 74'
}

@test "write error: a full disk for the DLQ file exits 74" {
	[ -w /dev/full ] || skip "no /dev/full"
	run_normalize --dlq /dev/full "$DLQ_FRAMES"
	expect_status 74
	grep -q 'cannot write output' err.log
}

@test "write error: with stdout closed, events never land in the DLQ file" {
	status=0
	tt-normalize --dlq dlq.ndjson "$RAW_FRAMES" >&- 2>err.log || status=$?
	expect_status 74
	# Regression: the DLQ file once opened as fd 1 and took the events.
	! grep -q unified-event dlq.ndjson || false
	grep -q 'cannot write output' err.log
}

# ---- streaming ----------------------------------------------------------------------------

@test "constant memory: a 200 MiB input runs in bounded RSS and every line comes out" {
	[ -x /usr/bin/time ] || fail "/usr/bin/time is missing (Debian package 'time')"
	bytes=$(wc -c <"$RAW_FRAMES")
	lines=$(wc -l <"$RAW_FRAMES")
	reps=$(((200 * 1024 * 1024) / bytes + 1))
	# The fixture repeated reps times, generated on the fly (no temp file).
	# A small ASan quarantine keeps freed blocks from counting as live
	# memory; with it a sanitizer build runs in ~30 MB, a release build
	# in ~6 MB. Loading the input would need over 200 MB.
	yes "$RAW_FRAMES" | head -n "$reps" | xargs cat |
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" \
	    /usr/bin/time -o rss.txt -f '%M' tt-normalize 2>err.log |
	    wc -l >count.txt
	[ "$((reps * bytes))" -ge $((200 * 1024 * 1024)) ]
	[ "$(cat count.txt)" -eq $((reps * lines)) ]
	[ "$(exit_counts)" = "$((reps * lines)) $((reps * lines)) 0 0 0" ]
	rss_kb=$(tail -n 1 rss.txt)
	echo "# max RSS ${rss_kb} kB for $((reps * bytes)) bytes" >&3
	[ "$rss_kb" -lt $((64 * 1024)) ] || fail "max RSS ${rss_kb} kB, want < 65536 kB"
}

@test "live pipe: each event is written while the input stays open" {
	mkfifo in.fifo
	tt-normalize <in.fifo >out.ndjson 2>err.log 3>&- &
	bg_pid=$!
	exec 5>in.fifo
	for n in 1 2; do
		raw_line "$n" >&5
		for _ in $(seq 1 30); do
			[ "$(wc -l <out.ndjson)" -ge "$n" ] && break
			sleep 0.1
		done
		[ "$(wc -l <out.ndjson)" -eq "$n" ] || fail "event $n did not arrive within about 3 s while the pipe was open"
	done
	exec 5>&-
	wait "$bg_pid"
	bg_pid=
	diff -u <(head -n 2 "$UNIFIED_EVENTS") out.ndjson
}

@test "SIGTERM: finishes, flushes and exits 0" {
	mkfifo in.fifo
	tt-normalize <in.fifo >out.ndjson 2>err.log 3>&- &
	bg_pid=$!
	exec 5>in.fifo
	raw_line 1 >&5
	for _ in $(seq 1 30); do
		[ -s out.ndjson ] && break
		sleep 0.1
	done
	kill -TERM "$bg_pid"
	status=0
	wait "$bg_pid" || status=$?
	bg_pid=
	exec 5>&-
	expect_status 0
	diff -u <(head -n 1 "$UNIFIED_EVENTS") out.ndjson
	exit_log | jq -e '.in == 1 and .out == 1 and .status == 0'
}

# ---- regressions from review ------------------------------------------------------------

@test "SIGTERM while a write is blocked: everything read is written whole, exit 0" {
	# (fd 3 belongs to bats: the tests use fd 8.)
	# Regression: an interrupted write was once fatal (exit 74) and cut a line.
	for i in $(seq 1 300); do cat "$RAW_FRAMES"; done >big.ndjson
	mkfifo pipe
	tt-normalize big.ndjson >pipe 2>err.log &
	pid=$!
	exec 8<pipe
	sleep 1 # the writer is now blocked on the full pipe
	kill -TERM "$pid"
	cat <&8 >got.ndjson
	exec 8<&-
	status=0
	wait "$pid" || status=$?
	expect_status 0
	out=$(exit_log | jq -r .out)
	[ "$(wc -l <got.ndjson)" -eq "$out" ]
	# Every line arrived whole.
	jq -c .eventId got.ndjson >/dev/null
}

@test "stop signal in the middle of a line: the fragment is logged and dropped, not dead-lettered" {
	mkfifo in
	tt-normalize --dlq dlq.ndjson <in >out.ndjson 2>err.log &
	pid=$!
	exec 8>in
	raw_line 4 >&8
	printf '{"schemaVersion":"raw' >&8
	sleep 0.5
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	exec 8>&-
	expect_status 0
	[ "$(wc -l <out.ndjson)" -eq 1 ]
	[ ! -s dlq.ndjson ]
	grep -q 'stopped in the middle of a line' err.log
}

@test "CRLF line of exactly --max-line bytes after a read boundary is one line, not too long" {
	# Regression: the check once ran before the newline had been read.
	python3 -c 'import sys;L="["+" "*62+"]";sys.stdout.write("\n"*65535+L+"\r\n"+L+"\r\n")' >c.ndjson
	run_normalize --max-line 64 --dlq dlq.ndjson c.ndjson
	expect_status 0
	[ "$(jq -r .reason dlq.ndjson | sort | uniq -c | tr -s ' ')" = " 2 not_object" ]
}

@test "without --dlq a rejected line is logged at error level, so LOG_LEVEL=error still shows it" {
	printf 'garbage\n' | LOG_LEVEL=error tt-normalize >out.ndjson 2>err.log
	grep -q '"level":"error".*"msg":"line rejected".*"reason":"invalid_json"' err.log
}

@test "an escaped lone surrogate is invalid_utf8; an escaped pair is a character" {
	raw_line 4 | jq -c '.data.content = "PH"' | sed 's/"PH"/"a\\ud800b"/' >s.ndjson
	raw_line 4 | jq -c '.data.content = "PH"' | sed 's/"PH"/"\\ud83d\\ude00"/' >>s.ndjson
	run_normalize --dlq dlq.ndjson s.ndjson
	[ "$(jq -r .reason dlq.ndjson)" = invalid_utf8 ]
	[ "$(jq -r .payload.text out.ndjson)" = "$(printf '\xf0\x9f\x98\x80')" ]
}

@test "timestamps: a leap second only at 23:59:60 UTC" {
	raw_line 4 | jq -c '.timestamp = "2026-02-22T10:00:60Z"' >t.ndjson
	raw_line 4 | jq -c '.timestamp = "2016-12-31T23:59:60Z"' >>t.ndjson
	raw_line 4 | jq -c '.timestamp = "2016-12-31T18:59:60-05:00"' >>t.ndjson
	run_normalize --dlq dlq.ndjson t.ndjson
	[ "$(jq -r .reason dlq.ndjson)" = bad_timestamp ]
	[ "$(wc -l <out.ndjson)" -eq 2 ]
}

@test "many escaped strings in a large frame do not exhaust memory" {
	# Regression: each escaped string once reserved the rest of the line.
	raw_line 4 | jq -c '.data.pad = [range(0; 60) | "PAD"]' |
		sed 's/"PAD"/"'"$(printf 'x%.0s' $(seq 1 1800))"'\\u00e9"/g' >esc.ndjson
	[ "$(wc -c <esc.ndjson)" -gt 100000 ]
	run_normalize --dlq dlq.ndjson esc.ndjson
	[ ! -s dlq.ndjson ]
	[ "$(wc -l <out.ndjson)" -eq 1 ]
}

@test "whole numbers written 3.0 and 1e3 count as 3 and 1000" {
	raw_line 7 | jq -c '.data.repeatCount = "RC" | .data.gift.diamondCount = "DC" | .data.gift.type = 2' |
		sed 's/"RC"/3.0/; s/"DC"/1e3/' >g.ndjson
	run_normalize --dlq dlq.ndjson g.ndjson
	[ "$(jq -c '.payload | [.repeatCount, .diamondCount, .streakState, .giftCount, .coins]' out.ndjson)" = '[3,1000,"final",3,3000]' ]
}

@test "SubNotify: a reminder (messageType 2, 2.0 or an enum name) is RAW, SUB_SUCCESS is SUBSCRIBE" {
	raw_line 23 | jq -c '.data.messageType = 2' >n.ndjson
	raw_line 23 | jq -c '.data.messageType = "MT"' | sed 's/"MT"/2.0/' >>n.ndjson
	raw_line 23 | jq -c '.data.messageType = "SUB_REMINDER"' >>n.ndjson
	raw_line 23 | jq -c '.data.messageType = "SUB_SUCCESS"' >>n.ndjson
	raw_line 23 | jq -c '.data.messageType = 0' >>n.ndjson
	run_normalize --dlq dlq.ndjson n.ndjson
	[ "$(jq -r .eventType out.ndjson | tr '\n' ' ')" = "RAW RAW RAW SUBSCRIBE SUBSCRIBE " ]
}

@test "a reserved member whose name holds NUL is copied with its whole name" {
	raw_line 4 | sed 's/^{/{"_a\\u0000b":1,/' >k.ndjson
	run_normalize k.ndjson
	[ "$(jq -c 'to_entries | map(select(.key | startswith("_"))) | .[0].key' out.ndjson)" = '"_a\u0000b"' ]
}

@test "fallback field names (test/fuzz/seeds/fallbacks.ndjson) normalize, with every read in the parse filter" {
	# scripts/test sets TTLC_CHECK_FILTERS: a field the mapping reads but
	# the parse filter drops aborts tt-normalize here.
	TTLC_CHECK_FILTERS=1 run_normalize --dlq dlq.ndjson "$TTLC_ROOT/test/fuzz/seeds/fallbacks.ndjson"
	expect_status 0
	[ ! -s dlq.ndjson ]
	[ "$(jq -c '[.eventType, .user.userId // null]' out.ndjson | tr '\n' ' ')" = \
	  '["GIFT","6813181309701719620"] ["GIFT","99"] ["RAW","1"] ["ROOM_USER",null] ["ERROR",null] ["FOLLOW","7"] ["SHARE","7"] ["LIKE","7"] ' ]
	[ "$(sed -n 1p out.ndjson | jq -c '.payload | [.giftName, .giftType, .coins]')" = '["Rose",1,2]' ]
	[ "$(sed -n 1p out.ndjson | jq -c '.user | [.uniqueId, .avatarUrl, .isModerator, .isSubscriber]')" = '["legacy","https://p16.example/a.webp",true,true]' ]
	[ "$(sed -n 2p out.ndjson | jq -r .payload.receiverUserId)" = 42 ]
	[ "$(sed -n 4p out.ndjson | jq -c .payload)" = '{"viewerCount":1234,"totalUser":9000}' ]
	[ "$(sed -n 5p out.ndjson | jq -r .payload.code)" = 429 ]
	[ "$(sed -n 7p out.ndjson | jq -r .payload.viewersJoined)" = 3 ]
	[ "$(sed -n 8p out.ndjson | jq -c '[.payload.count, .payload.total, .user.isModerator]')" = '[5,100,true]' ]
}

@test "a frame whose tree would not fit is too_large, even where the parse skips it" {
	# Regression: skipped members once cost nothing, so a frame the full
	# parse rejects as too_large passed when its bulk sat in skipped data.
	raw_line 1 | jq -c '.data.x = [range(0; 400000) | 0]' >big.ndjson
	run_normalize --dlq dlq.ndjson big.ndjson
	expect_status 0
	[ ! -s out.ndjson ]
	[ "$(jq -r .reason dlq.ndjson)" = too_large ]
}
