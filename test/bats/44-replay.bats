#!/usr/bin/env bats
# tt-ingest --replay-session and scripts/replay against a real PostgreSQL
# 15 and a real redis-server, both started by the suite on ports of their
# own. The seed's 9.2.1: record a session, replay it, and check what the
# replay stored: distinct eventIds, source "replay", the same events in
# the same order, the session recorded as a replay of the original.

bats_require_minimum_version 1.5.0
load helpers

ORIGINAL=3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10 # the fixture's session

setup_file() {
	pg_start_file
	redis_start_file
}

teardown_file() {
	redis_stop_file
	pg_stop_file
}

setup() {
	BG=
	ttlc_setup
	export REDIS_CONSUMER_GROUP_PREFIX="t$BATS_TEST_NUMBER-$$-"
	pg_clear
}

teardown() {
	# A test that failed half-way leaves nothing running (the store
	# stage leads a process group of its own).
	if [ -n "$BG" ]; then
		kill -KILL -- "-$BG" 2>/dev/null || kill -KILL "$BG" 2>/dev/null || true
	fi
}

# sql ARGS... - psql as the schema's owner.
sql() {
	admin_sql "$@"
}

# record - stores the fixture's session (the one to replay).
record() {
	tt-normalize <"$RAW_FRAMES" 2>/dev/null | tt-store >/dev/null 2>store.log
}

# replay_session - the session id of the (one) replay.
replay_session() {
	sql -c "SELECT session_id FROM sessions WHERE source = 'replay'"
}

# events_of SESSION - type, timestamp, user, payload, raw of its events
# but the lifecycle ones, in seqNo order: what a replay must reproduce.
events_of() {
	sql -c "SELECT jsonb_build_array(event->'eventType', event->'timestamp', event->'user',
	    event->'payload', event->'raw')::text FROM events
	    WHERE session_id = '$1' AND event_type NOT IN ('CONNECTED', 'DISCONNECTED') ORDER BY seq_no"
}

@test "replay: usage errors, no DATABASE_URL (78), unknown session (66)" {
	run -2 tt-ingest --replay-session not-a-uuid
	[[ "$output" == *"must be a session id"* ]]
	run -2 tt-ingest --replay-session "$ORIGINAL" --speed 0
	run -2 tt-ingest --replay-session "$ORIGINAL" --speed fast
	run -2 tt-ingest --replay-session "$ORIGINAL" --loop
	run -2 tt-ingest --replay-session "$ORIGINAL" --fixture "$RAW_FRAMES"
	run -2 tt-ingest --provider mock --speed 2
	run -2 tt-ingest --provider replay
	run -2 "$TTLC_ROOT/scripts/replay"
	DATABASE_URL= run -78 tt-ingest --replay-session "$ORIGINAL"
	run -66 tt-ingest --replay-session 00000000-0000-4000-8000-000000000000
	[[ "$output" == *"no such stored session"* ]]
	# Stopped while the database is away: not one frame (a frame without
	# its session would be invalid), exit 0, and the password not logged.
	DATABASE_URL=postgresql://ttlc:s3cr3t-pw@127.0.0.1:1/ttlc \
	    timeout --preserve-status -s TERM 2 tt-ingest --replay-session "$ORIGINAL" >frames.ndjson 2>err.log
	[ ! -s frames.ndjson ]
	grep -q 'postgresql://ttlc:\*\*\*@127.0.0.1:1/ttlc' err.log
	run ! grep -q s3cr3t err.log
	# A URL libpq cannot parse: a configuration error at once, and libpq's
	# message, which would quote the password, is not logged.
	DATABASE_URL='postgresql://ttlc:s3cr%zzt@127.0.0.1:1/ttlc' run -78 tt-ingest --replay-session "$ORIGINAL"
	[[ "$output" == *"cannot be parsed"* ]]
	[[ "$output" != *"s3cr"* ]]
	run tt-ingest --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--replay-session ID"* ]]
}

@test "replay: a stored session played again is stored as a new session, event for event (seed 9.2.1)" {
	record
	[ "$(sql -c "SELECT count(*) FROM events WHERE session_id = '$ORIGINAL'")" -eq 38 ]

	tt-ingest --replay-session "$ORIGINAL" --speed max >frames.ndjson 2>err.log
	# raw.v1 frames of one new session, numbered from 0 without a gap,
	# CONNECTED first and DISCONNECTED last, all source "replay".
	split_lines frames.ndjson frames
	ajv_validate "$SCHEMA_DIR/raw.v1.schema.json" frames
	[ "$(jq -s 'map(.sessionId) | unique | length' frames.ndjson)" -eq 1 ]
	[ "$(jq -r .sessionId frames.ndjson | head -1)" != "$ORIGINAL" ]
	[ "$(jq -s '[.[].seqNo] == [range(length)]' frames.ndjson)" = true ]
	[ "$(jq -r .source frames.ndjson | sort -u)" = replay ]
	[ "$(head -1 frames.ndjson | jq -r .type)" = ControlEvent.CONNECTED ]
	[ "$(head -1 frames.ndjson | jq -r .data.detail)" = "replay of $ORIGINAL" ]
	[ "$(tail -1 frames.ndjson | jq -r '.type + " " + .data.reason')" = "ControlEvent.DISCONNECTED end_of_session" ]
	[ "$(jq -c 'select(.msg == "exit") | [.replayed, .frames, .status]' err.log)" = "[36,38,0]" ]

	tt-normalize <frames.ndjson 2>/dev/null | tt-store >/dev/null 2>store.log
	new=$(replay_session)
	[ "$(sql -c "SELECT source, replay_of, stream_id FROM sessions WHERE session_id = '$new'")" = \
	    "replay|$ORIGINAL|7311234567890123456" ]
	# The replay's events: as many, all "replay", none sharing an eventId
	# with the original, and the same events in the same order.
	[ "$(sql -c "SELECT count(*), count(*) FILTER (WHERE source = 'replay') FROM events WHERE session_id = '$new'")" = "38|38" ]
	[ "$(sql -c "SELECT count(*) FROM events a JOIN events b USING (event_id) WHERE a.session_id = '$new' AND b.session_id = '$ORIGINAL'")" -eq 0 ]
	[ "$(sql -c "SELECT count(DISTINCT event_id) FROM events")" -eq 76 ]
	events_of "$ORIGINAL" >original.txt
	events_of "$new" >replayed.txt
	[ "$(wc -l <original.txt)" -eq 36 ]
	diff original.txt replayed.txt
}

@test "replay: --speed follows the original timing, --retime stamps the present" {
	record
	# The fixture's session lasts 52 s (10:00:00.250 to 10:00:52.185, its
	# frames after CONNECTED from 10:00:01.708): at 40x that is 1.3 s.
	start=$(date +%s%N)
	tt-ingest --replay-session "$ORIGINAL" --speed 40 >frames.ndjson 2>err.log
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -ge 1250 ] || fail "replay at 40x took $elapsed ms, want >= 1250"
	[ "$elapsed" -lt 10000 ]
	# Original timestamps are kept without --retime.
	jq -r 'select(.type | startswith("ControlEvent.") | not) | .timestamp' frames.ndjson >ts.txt
	[ "$(head -1 ts.txt)" = 2026-02-22T10:00:01.708Z ]

	start=$(date +%s%N)
	tt-ingest --replay-session "$ORIGINAL" --speed max --retime >fast.ndjson 2>/dev/null
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -lt 1250 ] || fail "replay at max speed took $elapsed ms"
	# With --retime every timestamp is the present (within a minute), none
	# the stored one.
	now=$(date +%s)
	[ "$(jq -r --argjson now "$now" 'select((.timestamp | sub("\\.[0-9]+Z$"; "Z") | fromdate) - $now | fabs > 60)' \
	    fast.ndjson | wc -l)" -eq 0 ]
	[ "$(grep -c 2026-02-22T fast.ndjson)" -eq 0 ]
}

@test "replay: PostgreSQL restarted mid-replay: the replay goes on where it was, nothing twice" {
	# A session of 1,500 events 2 ms apart: three pages, and a replay at
	# half speed that lasts about 6 s.
	tt-ingest --fixture "$RAW_FRAMES" --limit 1500 --loop --rate 500 --retime 2>/dev/null | tt-normalize 2>/dev/null |
		tt-store >/dev/null 2>store.log
	session=$(sql -c "SELECT session_id FROM sessions")
	want=$(sql -c "SELECT count(*) FROM events WHERE session_id = '$session'
	    AND event_type NOT IN ('CONNECTED', 'DISCONNECTED')")
	[ "$want" -ge 1400 ]

	tt-ingest --replay-session "$session" --speed 0.5 >frames.ndjson 2>err.log 3>&- &
	BG=$!
	sleep 1.5
	"$TTLC_ROOT/scripts/pg" stop >/dev/null 2>&1
	sleep 1
	"$TTLC_ROOT/scripts/pg" start 3>&- >/dev/null 2>&1
	wait "$BG"
	BG=
	grep -q '"cannot read the session' err.log || fail "no reconnect seen: the restart missed the replay" "$(cat err.log)"
	[ "$(jq -c 'select(.msg == "exit") | .status' err.log)" -eq 0 ]
	[ "$(jq -s '[.[].seqNo] == [range(length)]' frames.ndjson)" = true ]
	[ "$(jq -r 'select(.type != "ControlEvent.CONNECTED" and .type != "ControlEvent.DISCONNECTED") | .type' frames.ndjson | wc -l)" -eq "$want" ]
	# The same frames in the same order as stored.
	sql -c "SELECT event->'raw'->>'type' FROM events WHERE session_id = '$session'
	    AND event_type NOT IN ('CONNECTED', 'DISCONNECTED') ORDER BY seq_no" >want.txt
	jq -r 'select(.type != "ControlEvent.CONNECTED" and .type != "ControlEvent.DISCONNECTED") | .type' frames.ndjson >got.txt
	diff want.txt got.txt
}

@test "replay: a stop signal ends the replay session cleanly (exit 0, DISCONNECTED stopped)" {
	record
	tt-ingest --replay-session "$ORIGINAL" --speed 1 >frames.ndjson 2>err.log 3>&- &
	BG=$!
	sleep 1
	kill -TERM "$BG"
	wait "$BG"
	BG=
	[ "$(tail -1 frames.ndjson | jq -r '.type + " " + .data.reason')" = "ControlEvent.DISCONNECTED stopped" ]
	[ "$(jq -c 'select(.msg == "exit") | .status' err.log)" -eq 0 ]
}

@test "replay: scripts/replay feeds ttlc:raw, and the replay goes through normalizer and store" {
	record
	"$TTLC_ROOT/scripts/replay" "$ORIGINAL" --speed max 2>err.log
	P=$REDIS_CONSUMER_GROUP_PREFIX
	[ "$(redis-cli -p "$TTLC_TEST_REDIS_PORT" XLEN "${P}ttlc:raw")" -eq 38 ]
	# What a normalizer stage would do with it, through the stream.
	tt-xread -g normalizer --idle-exit 500 ttlc:raw 2>/dev/null | tt-normalize 2>/dev/null |
		tt-store 2>store.log | tt-xack -g normalizer ttlc:raw 2>/dev/null
	new=$(replay_session)
	[ "$(sql -c "SELECT count(*) FROM events WHERE session_id = '$new' AND source = 'replay'")" -eq 38 ]
	[ "$(sql -c "SELECT replay_of FROM sessions WHERE session_id = '$new'")" = "$ORIGINAL" ]
	run -66 "$TTLC_ROOT/scripts/replay" 00000000-0000-4000-8000-000000000000 --speed max
}

@test "replay: the store stage of make run (scripts/stage store) stores ttlc:events, dead letters to ttlc:dlq, acks all" {
	P=$REDIS_CONSUMER_GROUP_PREFIX
	{
		cat "$UNIFIED_EVENTS"
		echo '{"schemaVersion":"unified-event.v1","eventType":"CHAT"}'
	} | tt-xadd ttlc:events >/dev/null 2>&1
	setsid "$TTLC_ROOT/scripts/stage" store 2>stage.log 3>&- &
	BG=$!
	for _ in $(seq 1 100); do
		[ "$(redis-cli -p "$TTLC_TEST_REDIS_PORT" XLEN "${P}ttlc:dlq")" -eq 1 ] &&
			[ "$(sql -c "SELECT count(*) FROM events")" -eq 38 ] && break
		sleep 0.2
	done
	kill -TERM -- "-$BG"
	wait "$BG" || true
	BG=
	[ "$(sql -c "SELECT count(*) FROM events")" -eq 38 ]
	[ "$(redis-cli -p "$TTLC_TEST_REDIS_PORT" XLEN "${P}ttlc:dlq")" -eq 1 ]
	redis-cli -p "$TTLC_TEST_REDIS_PORT" XRANGE "${P}ttlc:dlq" - + | grep -q schema_violation
	[ "$(redis-cli -p "$TTLC_TEST_REDIS_PORT" XPENDING "${P}ttlc:events" "${P}storage" | head -1)" -eq 0 ]
}

@test "replay: progress on a terminal's stderr, none on a file" {
	record
	# script(1) gives the command a terminal; its output is that terminal's.
	script -qec "tt-ingest --replay-session $ORIGINAL --speed max >/dev/null" tty.log >/dev/null
	grep -q 'replay 36/36 (100 %)' tty.log || fail "no progress line" "$(cat -v tty.log)"
	tt-ingest --replay-session "$ORIGINAL" --speed max >/dev/null 2>err.log
	run ! grep -q 'replay 36/36' err.log
}
