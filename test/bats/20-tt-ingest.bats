#!/usr/bin/env bats
# tt-ingest, provider mock: session framing, options, signals, errors.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	ttlc_setup
}

# ingest ARGS... - runs tt-ingest; stdout to out.ndjson, stderr to err.log.
ingest() {
	status=0
	tt-ingest "$@" >out.ndjson 2>err.log || status=$?
}

fixture_frames() {
	# Fixture frames the mock passes on: all but its lifecycle open/close.
	grep -vc '"type":"ControlEvent\.\(CONNECTED\|DISCONNECTED\)"' "$RAW_FRAMES"
}

@test "tt-ingest: --help prints the usage on stdout and exits 0" {
	run tt-ingest --help
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "usage: tt-ingest"* ]]
}

@test "tt-ingest: a bad option exits 2 with the usage on stderr" {
	run -2 tt-ingest --no-such-option
	[[ "$output" == *"usage: tt-ingest"* ]]
	run -2 tt-ingest --rate abc
	run -2 tt-ingest --limit 0
	run -2 tt-ingest extra-argument
	run -2 tt-ingest --stream-id "room 42"
}

@test "tt-ingest: a session is CONNECTED, the fixture, DISCONNECTED, numbered from 0" {
	ingest --fixture "$RAW_FRAMES"
	[ "$status" -eq 0 ]
	n=$(wc -l <out.ndjson)
	[ "$n" -eq $(($(fixture_frames) + 2)) ]
	[ "$(head -1 out.ndjson | jq -r .type)" = ControlEvent.CONNECTED ]
	[ "$(tail -1 out.ndjson | jq -r .type)" = ControlEvent.DISCONNECTED ]
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = end_of_fixture ]
	# seqNo 0..n-1 in order, one fresh v4 sessionId for the whole session.
	[ "$(jq -r .seqNo out.ndjson | tr '\n' ' ')" = "$(seq 0 $((n - 1)) | tr '\n' ' ')" ]
	[ "$(jq -r .sessionId out.ndjson | sort -u | wc -l)" -eq 1 ]
	sid=$(head -1 out.ndjson | jq -r .sessionId)
	[[ "$sid" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
	[ "$sid" != "$(jq -r .sessionId "$RAW_FRAMES" | head -1)" ]
	grep -q '"fixtureLifecycleSkipped":2' err.log
}

@test "tt-ingest: each run gets a new sessionId; --keep-session keeps the fixture's" {
	ingest --fixture "$RAW_FRAMES"
	a=$(head -1 out.ndjson | jq -r .sessionId)
	ingest --fixture "$RAW_FRAMES"
	b=$(head -1 out.ndjson | jq -r .sessionId)
	[ "$a" != "$b" ]
	ingest --fixture "$RAW_FRAMES" --keep-session
	[ "$(jq -r .sessionId out.ndjson | sort -u)" = "$(head -1 "$RAW_FRAMES" | jq -r .sessionId)" ]
}

@test "tt-ingest: fixture members other than the assigned ones are copied unchanged" {
	ingest --fixture "$RAW_FRAMES"
	# The data of every passed-on frame is byte-for-byte the fixture's.
	diff <(grep -v '"type":"ControlEvent\.\(CONNECTED\|DISCONNECTED\)"' "$RAW_FRAMES" | jq -c '[.type, .data, .timestamp, .streamId, .source]') \
	     <(sed '1d;$d' out.ndjson | jq -c '[.type, .data, .timestamp, .streamId, .source]')
}

@test "tt-ingest: --limit, --loop, --stream-id and --retime" {
	ingest --fixture "$RAW_FRAMES" --limit 5
	[ "$(wc -l <out.ndjson)" -eq 7 ]
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = limit ]

	ingest --fixture "$RAW_FRAMES" --loop --limit 100 --stream-id room42 --retime
	[ "$status" -eq 0 ]
	[ "$(wc -l <out.ndjson)" -eq 102 ]
	[ "$(jq -r .seqNo out.ndjson | sort -n | uniq | wc -l)" -eq 102 ]
	[ "$(jq -r .streamId out.ndjson | sort -u)" = room42 ]
	year=$(date -u +%Y)
	[ "$(jq -r '.timestamp[0:4]' out.ndjson | sort -u)" = "$year" ]
	grep -q '"rounds":[3-9]' err.log
}

@test "tt-ingest: --rate paces the frames" {
	start=$(date +%s%N)
	ingest --fixture "$RAW_FRAMES" --rate 40 --limit 20
	end=$(date +%s%N)
	[ "$status" -eq 0 ]
	# 20 frames at 40/s cannot take less than 19 intervals of 25 ms.
	[ $(((end - start) / 1000000)) -ge 450 ]
}

@test "tt-ingest: the mock stream normalizes cleanly, framed by lifecycle events" {
	tt-ingest --fixture "$RAW_FRAMES" | tt-normalize --dlq dlq.ndjson >events.ndjson 2>err.log
	[ ! -s dlq.ndjson ]
	[ "$(wc -l <events.ndjson)" -eq $(($(fixture_frames) + 2)) ]
	[ "$(head -1 events.ndjson | jq -r .eventType)" = CONNECTED ]
	[ "$(tail -1 events.ndjson | jq -r .eventType)" = DISCONNECTED ]
	[ "$(head -1 events.ndjson | jq -r .payload.provider)" = mock ]
}

@test "tt-ingest: a fixture line that is not a JSON object is passed on, warned about, and DLQ'd downstream" {
	head -3 "$RAW_FRAMES" >f.ndjson
	echo '{"broken":' >>f.ndjson
	tail -2 "$RAW_FRAMES" >>f.ndjson
	tt-ingest --fixture f.ndjson 2>err.log | tt-normalize --dlq dlq.ndjson >events.ndjson 2>/dev/null
	grep -q 'not a JSON object, passed through' err.log
	[ "$(wc -l <dlq.ndjson)" -eq 1 ]
	[ "$(jq -r .reason dlq.ndjson)" = invalid_json ]
	[ "$(jq -r .payload dlq.ndjson)" = '{"broken":' ]
}

@test "tt-ingest: SIGTERM ends the session with DISCONNECTED (stopped) and exit 0" {
	tt-ingest --fixture "$RAW_FRAMES" --loop --rate 50 >out.ndjson 2>err.log &
	pid=$!
	sleep 1
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 0 ]
	[ "$(tail -1 out.ndjson | jq -r .type)" = ControlEvent.DISCONNECTED ]
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = stopped ]
}

@test "tt-ingest: providers, environment and errors" {
	# The live providers need a target (23-live.bats tests them).
	INGEST_PROVIDER=direct TIKTOK_UNIQUE_ID= ingest
	[ "$status" -eq 2 ]
	grep -q 'need --unique-id' err.log
	EULER_API_KEY= ingest --provider euler --unique-id someone
	[ "$status" -eq 78 ]
	grep -q 'needs EULER_API_KEY' err.log
	ingest --provider nonsense
	[ "$status" -eq 78 ]
	ingest --fixture does-not-exist.ndjson
	[ "$status" -eq 1 ]
	grep -q 'cannot open fixture' err.log
	head -4 "$RAW_FRAMES" >small.ndjson
	INGEST_PROVIDER=mock INGEST_FIXTURE=small.ndjson ingest
	[ "$status" -eq 0 ]
	[ "$(wc -l <out.ndjson)" -eq $(($(grep -vc '"type":"ControlEvent\.\(CONNECTED\|DISCONNECTED\)"' small.ndjson) + 2)) ]
}

@test "tt-ingest: a closed or full standard output exits 74 with a message" {
	status=0
	tt-ingest --fixture "$RAW_FRAMES" >&- 2>err.log || status=$?
	[ "$status" -eq 74 ]
	grep -q 'cannot write output' err.log
	status=0
	tt-ingest --fixture "$RAW_FRAMES" >/dev/full 2>err.log || status=$?
	[ "$status" -eq 74 ]
}

@test "tt-ingest: a stop signal after a round's last frame ends --loop (no spin)" {
	# Regression: the loop once started round after round after the stop.
	sed -n 2p "$RAW_FRAMES" >one.ndjson
	tt-ingest --fixture one.ndjson --rate 2 --loop >out.ndjson 2>err.log &
	pid=$!
	sleep 1.2
	kill -TERM "$pid"
	status=0
	timeout 5 tail --pid="$pid" -f /dev/null || status=$?
	[ "$status" -eq 0 ] || { kill -KILL "$pid"; false; }
	wait "$pid"
	[ "$(tail -1 out.ndjson | jq -r .data.reason)" = stopped ]
}

@test "tt-ingest: --rate below 0.001 is refused" {
	run -2 tt-ingest --rate 1e-10
}
