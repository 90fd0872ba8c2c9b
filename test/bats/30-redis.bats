#!/usr/bin/env bats
# tt-xadd, tt-xread, tt-xack against a real redis-server that the suite
# starts on a port of its own (and stops after). Each test uses its own
# REDIS_CONSUMER_GROUP_PREFIX, so tests never see each other's streams.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	redis_start_file
}

teardown_file() {
	redis_stop_file
}

setup() {
	LEFTOVER_GROUP=
	ttlc_setup
	export REDIS_CONSUMER_GROUP_PREFIX="t$BATS_TEST_NUMBER-$$-"
	P=$REDIS_CONSUMER_GROUP_PREFIX
}

teardown() {
	# A test that failed half-way leaves nothing running.
	if [ -n "$LEFTOVER_GROUP" ]; then
		kill -KILL -- "-$LEFTOVER_GROUP" 2>/dev/null || true
	fi
}

rcli() {
	redis-cli -p "$TTLC_TEST_REDIS_PORT" "$@"
}

pending() {
	rcli XPENDING "$1" "$2" | head -1
}

@test "redis: --help and usage errors" {
	for c in tt-xadd tt-xread tt-xack; do
		run "$c" --help
		[ "$status" -eq 0 ]
		[[ "${lines[0]}" == "usage: $c"* ]]
	done
	run -2 tt-xadd
	run -2 tt-xread ttlc:raw
	run -2 tt-xread -g g
	run -2 tt-xadd --maxlen x s
}

@test "redis: raw frames round trip xadd -> xread as equal objects; xadd echoes its input" {
	tt-xadd ttlc:raw <"$RAW_FRAMES" >echo.ndjson 2>err.log
	cmp echo.ndjson "$RAW_FRAMES"
	[ "$(rcli XLEN "${P}ttlc:raw")" -eq "$(wc -l <"$RAW_FRAMES")" ]
	tt-xread -g normalizer --block 100 --idle-exit 300 ttlc:raw >read.ndjson 2>err.log
	diff <(jq -cS 'del(._ack)' read.ndjson) <(jq -cS . "$RAW_FRAMES")
	# Every line carries a receipt naming the prefixed stream and group.
	[ "$(jq -r '._ack | split("\t") | .[0] + " " + .[1]' read.ndjson | sort -u)" = "${P}ttlc:raw ${P}normalizer" ]
}

@test "redis: the pipeline xread | normalize | xadd | xack stores every event and leaves nothing pending" {
	tt-xadd ttlc:raw <"$RAW_FRAMES" >/dev/null 2>&1
	tt-xread -g normalizer --block 100 --idle-exit 300 ttlc:raw 2>/dev/null |
		tt-normalize 2>/dev/null | tt-xadd ttlc:events 2>/dev/null | tt-xack -g normalizer ttlc:raw 2>ack.log
	grep -q '"acked":38' ack.log
	[ "$(pending "${P}ttlc:raw" "${P}normalizer")" -eq 0 ]
	tt-xread -g storage --block 100 --idle-exit 300 ttlc:events >events.ndjson 2>/dev/null
	diff <(jq -cS 'del(._ack)' events.ndjson) <(jq -cS . "$UNIFIED_EVENTS")
	# The events stream holds the event JSON and normalizedAt, not _ack.
	rcli XRANGE "${P}ttlc:events" - + COUNT 1 >entry.txt
	grep -qx event entry.txt
	grep -qx normalizedAt entry.txt
	! grep -q _ack entry.txt || false
}

@test "redis: an entry is acked only when its line reaches tt-xack" {
	tt-xadd ttlc:raw <"$RAW_FRAMES" >/dev/null 2>&1
	# Lines dropped before tt-xack (here: all but the first 5) stay pending.
	tt-xread -g normalizer --block 100 --idle-exit 300 ttlc:raw 2>/dev/null | head -5 | tt-xack 2>/dev/null
	[ "$(pending "${P}ttlc:raw" "${P}normalizer")" -eq 33 ]
}

@test "redis: a consumer re-reads its own pending entries first after a restart" {
	tt-xadd ttlc:raw <"$RAW_FRAMES" >/dev/null 2>&1
	tt-xread -g g -c one --block 100 --idle-exit 300 ttlc:raw >first.ndjson 2>/dev/null
	# Not acked: the same consumer gets them again.
	tt-xread -g g -c one --block 100 --idle-exit 300 ttlc:raw >again.ndjson 2>/dev/null
	[ "$(wc -l <again.ndjson)" -eq 38 ]
	diff <(jq -r ._ack first.ndjson) <(jq -r ._ack again.ndjson)
	tt-xack <again.ndjson 2>/dev/null
	[ "$(pending "${P}ttlc:raw" "${P}g")" -eq 0 ]
}

@test "redis: MAXLEN ~ trims the stream" {
	for i in $(seq 1 10); do cat "$RAW_FRAMES"; done >many.ndjson
	tt-xadd --maxlen 50 ttlc:raw <many.ndjson >/dev/null 2>&1
	n=$(rcli XLEN "${P}ttlc:raw")
	[ "$n" -ge 50 ] && [ "$n" -lt 380 ]
	STREAM_MAXLEN=0 tt-xadd ttlc:untrimmed <many.ndjson >/dev/null 2>&1
	[ "$(rcli XLEN "${P}ttlc:untrimmed")" -eq 380 ]
}

@test "redis: two prefixes on one server never see each other's entries" {
	REDIS_CONSUMER_GROUP_PREFIX="${P}a-" tt-xadd ttlc:raw <"$RAW_FRAMES" >/dev/null 2>&1
	head -3 "$RAW_FRAMES" | REDIS_CONSUMER_GROUP_PREFIX="${P}b-" tt-xadd ttlc:raw >/dev/null 2>&1
	[ "$(REDIS_CONSUMER_GROUP_PREFIX="${P}b-" tt-xread -g n --block 100 --idle-exit 300 ttlc:raw 2>/dev/null | wc -l)" -eq 3 ]
	[ "$(REDIS_CONSUMER_GROUP_PREFIX="${P}a-" tt-xread -g n --block 100 --idle-exit 300 ttlc:raw 2>/dev/null | wc -l)" -eq 38 ]
}

@test "redis: two consumers of one group share the work, no entry delivered to both" {
	for i in $(seq 1 30); do cat "$RAW_FRAMES"; done | tt-xadd ttlc:raw >/dev/null 2>&1
	tt-xread -g shared -c a --count 7 --block 100 --idle-exit 500 ttlc:raw >a.ndjson 2>/dev/null &
	tt-xread -g shared -c b --count 7 --block 100 --idle-exit 500 ttlc:raw >b.ndjson 2>/dev/null &
	wait
	[ -s a.ndjson ] && [ -s b.ndjson ]
	[ $(($(wc -l <a.ndjson) + $(wc -l <b.ndjson))) -eq 1140 ]
	[ "$(cat a.ndjson b.ndjson | jq -r ._ack | sort -u | wc -l)" -eq 1140 ]
	cat a.ndjson b.ndjson | tt-xack -g shared ttlc:raw 2>/dev/null
	[ "$(pending "${P}ttlc:raw" "${P}shared")" -eq 0 ]
}

@test "redis: an entry delivered more than --max-deliveries times goes to the DLQ and is acked" {
	head -4 "$RAW_FRAMES" | tail -1 | tt-xadd ttlc:raw >/dev/null 2>&1
	for c in a b c; do
		sleep 0.05
		tt-xread -g poison -c "$c" --max-deliveries 2 --claim-idle 1 --block 100 --idle-exit 300 ttlc:raw \
		    >"$c.ndjson" 2>"$c.log"
	done
	[ "$(wc -l <a.ndjson)" -eq 1 ]
	[ "$(wc -l <b.ndjson)" -eq 1 ]
	[ ! -s c.ndjson ]
	grep -q '"deadLettered":1' c.log
	[ "$(pending "${P}ttlc:raw" "${P}poison")" -eq 0 ]
	tt-xread -g ops --block 100 --idle-exit 300 ttlc:dlq >dlq.ndjson 2>/dev/null
	[ "$(jq -r .reason dlq.ndjson)" = max_deliveries ]
	[ "$(jq -r .rawType dlq.ndjson)" = "$(head -4 "$RAW_FRAMES" | tail -1 | jq -r .type)" ]
	[ "$(jq -r '.payload | fromjson | .seqNo' dlq.ndjson)" = "$(head -4 "$RAW_FRAMES" | tail -1 | jq -r .seqNo)" ]
	# The DLQ record reads back valid against dlq.v1.
	jq -c 'del(._ack)' dlq.ndjson >rec.json
	mkdir recs && cp rec.json recs/
	ajv_validate "$SCHEMA_DIR/dlq.v1.schema.json" recs
}

@test "redis: tt-xack counts lines without a receipt and skips other groups' receipts" {
	tt-xadd ttlc:raw <"$RAW_FRAMES" >/dev/null 2>&1
	tt-xread -g mine --block 100 --idle-exit 300 ttlc:raw >read.ndjson 2>/dev/null
	{ cat "$RAW_FRAMES"; cat read.ndjson; } | tt-xack -g other 2>ack.log
	grep -q '"noReceipt":38' ack.log
	grep -q '"otherStreamOrGroup":38' ack.log
	[ "$(pending "${P}ttlc:raw" "${P}mine")" -eq 38 ]
	tt-xack -g mine ttlc:raw --echo <read.ndjson >echoed.ndjson 2>/dev/null
	cmp echoed.ndjson read.ndjson
	[ "$(pending "${P}ttlc:raw" "${P}mine")" -eq 0 ]
}

@test "redis: an unreachable Redis exits 69 after RECONNECT_MAX_ATTEMPTS; its password is never logged" {
	status=0
	REDIS_URL="redis://:s3cr3t-pw@127.0.0.1:1" RECONNECT_MAX_ATTEMPTS=1 timeout 20 tt-xadd s <"$RAW_FRAMES" >/dev/null 2>err.log || status=$?
	[ "$status" -eq 69 ]
	grep -q 'redis://:\*\*\*@127.0.0.1:1' err.log
	! grep -q s3cr3t-pw err.log || false
	status=0
	REDIS_URL="rediss://127.0.0.1:6380" tt-xread -g g s >/dev/null 2>err.log || status=$?
	[ "$status" -eq 78 ]
	grep -q 'TLS' err.log
	status=0
	REDIS_URL="http://x" tt-xack >/dev/null 2>err.log </dev/null || status=$?
	[ "$status" -eq 78 ]
}

@test "redis: tt-xread exits cleanly on SIGTERM while blocked" {
	tt-xread -g idle --block 500 ttlc:nothing >out.ndjson 2>err.log &
	pid=$!
	sleep 0.5
	kill -TERM "$pid"
	status=0
	timeout 10 tail --pid="$pid" -f /dev/null || status=$?
	[ "$status" -eq 0 ] || { kill -KILL "$pid"; false; }
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 0 ]
	grep -q '"msg":"exit"' err.log
}

# normalizer_stage CONSUMER IDLE_MS - the normalizer stage of
# scripts/stage, with a fixed consumer name and an idle exit.
normalizer_stage() {
	tt-xread -g normalizer -c "$1" --count 500 --block 200 --idle-exit "$2" ttlc:raw 2>>xread.log |
		tt-normalize --dlq >(tt-xadd ttlc:dlq 2>>dlq.log | tt-xack -g normalizer ttlc:raw 2>>dlqack.log) 2>>normalize.log |
		tt-xadd ttlc:events 2>>xadd.log |
		tt-xack -g normalizer ttlc:raw 2>>xack.log
}
export -f normalizer_stage

@test "redis: crash safety: SIGKILL the normalizer stage 5 times in 100,000 entries, nothing lost, nothing left pending" {
	tt-ingest --loop --limit 100000 --fixture "$RAW_FRAMES" 2>/dev/null >frames.ndjson
	tt-normalize frames.ndjson 2>/dev/null | jq -r .eventId | sort -u >want.ids
	[ "$(wc -l <want.ids)" -eq 100002 ]
	# No trimming here: the check reads every event back.
	export STREAM_MAXLEN=0
	tt-xadd ttlc:raw <frames.ndjson >/dev/null 2>&1
	for kill in 1 2 3 4 5 6; do
		setsid bash -c 'normalizer_stage worker 60000' &
		pid=$!
		sleep 1.5
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	# Then let it finish: its own pending entries come first.
	bash -c 'normalizer_stage worker 3000'
	[ "$(pending "${P}ttlc:raw" "${P}normalizer")" -eq 0 ]
	tt-xread -g check --count 1000 --block 200 --idle-exit 1000 ttlc:events 2>/dev/null | jq -r .eventId | sort -u >got.ids
	# Every event arrived (duplicates allowed, losses not).
	[ "$(comm -23 want.ids got.ids | wc -l)" -eq 0 ]
	[ "$(rcli XLEN "${P}ttlc:events")" -ge 100002 ]
	# The kills really hit mid-run: only the last run wrote an exit record.
	[ "$(grep -c '"msg":"exit"' xread.log)" -eq 1 ]
}

@test "redis: Redis restarted mid-run (append-only persistence): the stage reconnects, nothing lost" {
	local port dir=$BATS_TEST_TMPDIR/persist
	mkdir -p "$dir"
	port=$((TTLC_TEST_REDIS_PORT + 1))
	start_persistent() {
		redis-server --port "$port" --bind 127.0.0.1 --appendonly yes --appendfsync always --save "" \
		    --dir "$dir" --daemonize yes --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
		for _ in $(seq 1 50); do
			redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
			sleep 0.1
		done
		return 1
	}
	start_persistent
	export REDIS_URL="redis://127.0.0.1:$port" STREAM_MAXLEN=0
	tt-ingest --loop --limit 20000 --fixture "$RAW_FRAMES" 2>/dev/null >frames.ndjson
	tt-normalize frames.ndjson 2>/dev/null | jq -r .eventId | sort -u >want.ids
	tt-xadd ttlc:raw <frames.ndjson >/dev/null 2>&1
	bash -c 'normalizer_stage worker 4000' &
	stage=$!
	sleep 1
	redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
	sleep 1.5
	start_persistent
	status=0
	timeout 120 tail --pid="$stage" -f /dev/null || status=$?
	[ "$status" -eq 0 ] || { kill -KILL "$stage"; false; }
	wait "$stage"
	[ "$(redis-cli -p "$port" XPENDING "${P}ttlc:raw" "${P}normalizer" | head -1)" -eq 0 ]
	tt-xread -g check --count 1000 --block 200 --idle-exit 1000 ttlc:events 2>/dev/null | jq -r .eventId | sort -u >got.ids
	[ "$(comm -23 want.ids got.ids | wc -l)" -eq 0 ]
	# The stage saw the restart and came back.
	grep -q 'cannot connect to Redis' xread.log xadd.log xack.log
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

@test "redis: a dead letter Redis refuses is never acked; the entry stays pending" {
	head -4 "$RAW_FRAMES" | tail -1 | tt-xadd ttlc:raw >/dev/null 2>&1
	rcli SET "${P}ttlc:dlq" not-a-stream >/dev/null
	for c in a b; do
		sleep 0.05
		tt-xread -g g -c "$c" --max-deliveries 1 --claim-idle 1 --block 100 --idle-exit 300 ttlc:raw >/dev/null 2>"$c.log" || true
	done
	grep -q 'Redis refused the dead letter' b.log
	[ "$(pending "${P}ttlc:raw" "${P}g")" -eq 1 ]
	# Once the DLQ stream can be written, the entry moves there.
	rcli DEL "${P}ttlc:dlq" >/dev/null
	sleep 0.05
	tt-xread -g g -c c --max-deliveries 1 --claim-idle 1 --block 100 --idle-exit 300 ttlc:raw >/dev/null 2>c.log
	[ "$(pending "${P}ttlc:raw" "${P}g")" -eq 0 ]
	[ "$(rcli XLEN "${P}ttlc:dlq")" -eq 1 ]
}

@test "redis: tt-xread makes its group again when the stream is deleted under it" {
	tt-xadd ttlc:raw <"$RAW_FRAMES" >/dev/null 2>&1
	tt-xread -g g --block 100 --idle-exit 3000 ttlc:raw >read.ndjson 2>err.log &
	pid=$!
	sleep 0.7
	rcli DEL "${P}ttlc:raw" >/dev/null
	sleep 0.3
	head -2 "$RAW_FRAMES" | tt-xadd ttlc:raw >/dev/null 2>&1
	wait "$pid"
	grep -q 'group or stream gone' err.log
	[ "$(wc -l <read.ndjson)" -eq 40 ]
}

@test "redis: a password holding # or ? is never logged" {
	status=0
	REDIS_URL='redis://:pa#ss?w@127.0.0.1:1' RECONNECT_MAX_ATTEMPTS=1 tt-xack </dev/null >/dev/null 2>err.log || status=$?
	[ "$status" -eq 69 ]
	! grep -q 'pa#ss' err.log || false
	! grep -q 'ss?w' err.log || false
	grep -q ':\*\*\*@127.0.0.1:1' err.log
}

@test "redis: tt-xread with a long --block still stops within about a second of SIGTERM" {
	tt-xread -g idle --block 60000 ttlc:nothing >/dev/null 2>err.log &
	pid=$!
	sleep 0.5
	kill -TERM "$pid"
	status=0
	timeout 3 tail --pid="$pid" -f /dev/null || status=$?
	[ "$status" -eq 0 ] || { kill -KILL "$pid"; false; }
	wait "$pid"
}

@test "redis: claiming is not starved by this consumer's own idle entries" {
	# Regression: one XPENDING page held only our own entries, so another
	# consumer's abandoned entry was never claimed.
	# "mine" takes the two oldest (and never acks them), "gone" a third.
	for i in 1 2; do head -4 "$RAW_FRAMES" | tail -1; done | tt-xadd ttlc:raw >/dev/null 2>&1
	tt-xread -g g -c mine --block 100 --idle-exit 200 --claim-idle 0 ttlc:raw >/dev/null 2>&1
	head -5 "$RAW_FRAMES" | tail -1 | tt-xadd ttlc:raw >/dev/null 2>&1
	tt-xread -g g -c gone --block 100 --idle-exit 200 --claim-idle 0 ttlc:raw >gone.ndjson 2>/dev/null
	[ "$(wc -l <gone.ndjson)" -eq 1 ]
	sleep 0.05
	# As "mine" again, with one entry per page: it must page past its own
	# two to claim the one "gone" left.
	tt-xread -g g -c mine --count 1 --claim-idle 1 --block 100 --idle-exit 300 ttlc:raw >mine.ndjson 2>mine.log
	grep -q '"claimed":1' mine.log
	[ "$(jq -r ._ack mine.ndjson | grep -c "$(jq -r '._ack | split("\t")[2]' gone.ndjson)")" -ge 1 ]
}

# stage_filters - the pids of this test's tt-* processes (found by the
# test's own REDIS_CONSUMER_GROUP_PREFIX in their environment).
stage_filters() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
		tt-*) grep -qa "REDIS_CONSUMER_GROUP_PREFIX=$P" "$f" 2>/dev/null && echo "$pid" ;;
		esac
	done
	return 0
}

@test "redis: a supervisor killed with SIGKILL takes every filter of its stage down with it" {
	setsid "$TTLC_ROOT/scripts/supervise" normalizer "$TTLC_ROOT/scripts/stage" normalizer 2>sup.log 3>&- &
	sup=$!
	LEFTOVER_GROUP=$sup
	# The whole pipeline is up: tt-xread, tt-normalize, two tt-xadd, two tt-xack.
	for _ in $(seq 100); do
		[ "$(stage_filters | wc -l)" -ge 6 ] && break
		sleep 0.1
	done
	[ "$(stage_filters | wc -l)" -ge 6 ] || fail "stage did not start: $(cat sup.log)"
	kill -KILL "$sup"
	wait "$sup" 2>/dev/null || true
	for _ in $(seq 100); do
		[ "$(stage_filters | wc -l)" -eq 0 ] && break
		sleep 0.1
	done
	left=$(stage_filters)
	[ -z "$left" ] || { kill -KILL $left 2>/dev/null; fail "left running: $left"; }
}

@test "redis: the supervisor stops (no restart) when the first filter of its stage exits 78" {
	# tt-ingest refuses an unknown provider (78) while the tt-xadd after it
	# ends well at end of input: only the pipeline's status (pipefail) tells
	# the supervisor not to restart.
	status=0
	INGEST_PROVIDER=nonsense timeout 30 "$TTLC_ROOT/scripts/supervise" ingest \
	    "$TTLC_ROOT/scripts/stage" ingest 2>sup.log 3>&- || status=$?
	[ "$status" -eq 78 ] || fail "status $status" "$(cat sup.log)"
	[ "$(grep -c '"msg":"starting"' sup.log)" -eq 1 ]
	grep -q 'not restarting' sup.log
}

@test "redis: a Redis still loading its dataset (LOADING) is waited for at connect, not fatal" {
	local port dir=$BATS_TEST_TMPDIR/loading
	mkdir -p "$dir"
	port=$((TTLC_TEST_REDIS_PORT + 2))
	serve() {
		redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
		    --daemonize yes --logfile "$dir/redis.log" --enable-debug-command local "$@"
	}
	# A dump that takes seconds to load: key-load-delay slows each key.
	serve
	for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
	redis-cli -p "$port" DEBUG POPULATE 30000 >/dev/null
	redis-cli -p "$port" SAVE >/dev/null
	redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
	for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 || break; sleep 0.1; done
	serve --dbfilename dump.rdb --key-load-delay 100 --loading-process-events-interval-bytes 1024
	for _ in $(seq 50); do redis-cli -p "$port" ping 2>/dev/null | grep -q LOADING && break; sleep 0.05; done
	head -1 "$RAW_FRAMES" | REDIS_URL="redis://127.0.0.1:$port" RECONNECT_MAX_ATTEMPTS=20 \
	    tt-xadd ttlc:raw >echo.ndjson 2>xadd.log
	REDIS_URL="redis://127.0.0.1:$port" RECONNECT_MAX_ATTEMPTS=20 \
	    tt-xread -g g --block 100 --idle-exit 300 ttlc:raw >read.ndjson 2>xread.log
	len=$(redis-cli -p "$port" XLEN "${P}ttlc:raw")
	redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
	# It really met the loading server, then stored and read the frame.
	grep -q LOADING xadd.log
	[ "$len" -eq 1 ]
	[ "$(wc -l <echo.ndjson)" -eq 1 ]
	[ "$(wc -l <read.ndjson)" -eq 1 ]
}

@test "redis: tt-xack waits out a passing refusal (READONLY) and acks once it passes" {
	local port dir=$BATS_TEST_TMPDIR/readonly
	mkdir -p "$dir"
	port=$((TTLC_TEST_REDIS_PORT + 3))
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
	    --daemonize yes --logfile "$dir/redis.log" 3>&-
	for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
	export REDIS_URL="redis://127.0.0.1:$port"
	head -5 "$RAW_FRAMES" | tt-xadd ttlc:raw >/dev/null 2>&1
	tt-xread -g g --block 100 --idle-exit 300 ttlc:raw >read.ndjson 2>/dev/null
	# A replica of nothing: PING works, every write gets READONLY.
	redis-cli -p "$port" REPLICAOF 127.0.0.1 1 >/dev/null
	tt-xack -g g ttlc:raw <read.ndjson 2>xack.log &
	xack=$!
	sleep 1.5
	redis-cli -p "$port" REPLICAOF NO ONE >/dev/null
	status=0
	timeout 30 tail --pid="$xack" -f /dev/null || status=$?
	wait "$xack" || status=$?
	left=$(redis-cli -p "$port" XPENDING "${P}ttlc:raw" "${P}g" | head -1)
	redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
	[ "$status" -eq 0 ] || fail "tt-xack status $status" "$(cat xack.log)"
	grep -q 'READONLY' xack.log
	grep -q '"acked":5' xack.log
	[ "$left" -eq 0 ]
}

@test "redis: tt-xread cut off by CLIENT KILL while a read is in flight reconnects and loses nothing" {
	# It is stuck writing one read out (its reader sleeps) while the next
	# read is in flight; the connection is killed meanwhile. (A reply cut
	# at a given byte is checked by tt-unit against a fake peer: with a real
	# Redis the socket buffers decide where the cut falls.)
	export STREAM_MAXLEN=0
	awk 'BEGIN { pad = sprintf("%200s", ""); gsub(/ /, "x", pad)
		for (i = 1; i <= 20000; i++)
			printf "{\"schemaVersion\":\"raw.v1\",\"type\":\"T\",\"seqNo\":%d,\"data\":{\"p\":\"%s\"}}\n", i, pad }' |
		tt-xadd ttlc:raw >/dev/null 2>&1
	tt-xread -g g -c cut --count 5000 --block 100 --idle-exit 2000 ttlc:raw 2>xread.log 3>&- |
		{ sleep 3; cat; } >read.ndjson &
	reader=$!
	sleep 1.5
	[ "$(rcli CLIENT KILL TYPE normal SKIPME yes)" -ge 1 ]
	status=0
	timeout 120 tail --pid="$reader" -f /dev/null || status=$?
	wait "$reader" || status=$?
	[ "$status" -eq 0 ] || fail "status $status" "$(tail -5 xread.log)"
	grep -q '"msg":"exit","stream":"[^"]*","group":"[^"]*","consumer":"cut".*"status":0' xread.log
	[ "$(jq -r .seqNo read.ndjson | sort -u | wc -l)" -eq 20000 ]
}
