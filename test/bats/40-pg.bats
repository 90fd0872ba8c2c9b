#!/usr/bin/env bats
# tt-store, the schema and the PostgreSQL scripts against a real
# PostgreSQL 15 that the suite starts (scripts/pg, on a port of its own)
# and removes after. Each test starts from empty tables.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	pg_start_file
}

teardown_file() {
	pg_stop_file
}

setup() {
	ttlc_setup
	pg_clear
}

count() {
	admin_sql -c "SELECT count(*) FROM $1"
}

# hold_line N SECONDS - another session inserts the event of fixture line
# N and holds it uncommitted for SECONDS, then rolls back: a COPY of that
# event waits meanwhile. Returns once the row is held; sets $holder.
hold_line() {
	local insert
	admin_sql -c "SELECT ttlc_event_partition('2026-02-22')" >/dev/null
	insert=$(sed -n "$1p" "$UNIFIED_EVENTS" | jq -r '"INSERT INTO events (event_id, ts, ingested_at, event_type, source,
	    stream_id, session_id, seq_no, event) VALUES (\([.eventId, .timestamp, .ingestedAt, .eventType, .source,
	    .streamId, .sessionId] | map("\u0027\(.)\u0027") | join(", ")), \(.seqNo), \u0027{}\u0027)"')
	admin_sql -c "BEGIN" -c "$insert" -c "SELECT pg_sleep($2)" -c "ROLLBACK" >/dev/null 3>&- &
	holder=$!
	for _ in $(seq 50); do
		[ "$(admin_sql -c "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep($2)'")" -eq 1 ] && return
		sleep 0.1
	done
	return 1
}

# store_waits - until tt-store's COPY waits for the held row (5 s at most).
store_waits() {
	for _ in $(seq 50); do
		[ "$(admin_sql -c "SELECT count(*) FROM pg_stat_activity
		    WHERE application_name = 'tt-store' AND wait_event_type = 'Lock'")" -eq 1 ] && return
		sleep 0.1
	done
	return 1
}

@test "pg: tt-store --help, usage errors, and no DATABASE_URL (78)" {
	run tt-store --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: tt-store"* ]]
	run tt-store --batch 0
	[ "$status" -eq 2 ]
	run tt-store extra
	[ "$status" -eq 2 ]
	DATABASE_URL= run tt-store </dev/null
	[ "$status" -eq 78 ]
}

@test "pg: tt-store stores every event and echoes every line once committed" {
	tt-store <"$UNIFIED_EVENTS" >out.ndjson 2>err.log
	cmp out.ndjson "$UNIFIED_EVENTS"
	[ "$(count events)" -eq "$(wc -l <"$UNIFIED_EVENTS")" ]
	# Every stored event equals its line.
	admin_sql -c "SELECT event FROM events ORDER BY seq_no" | jq -cS . >stored.ndjson
	jq -cS . "$UNIFIED_EVENTS" | sort >want.sorted
	sort stored.ndjson | cmp - want.sorted
	grep -q '"stored":38,"duplicates":0,"dlq":0' err.log
}

@test "pg: storing the same events twice changes nothing (idempotent)" {
	tt-store <"$UNIFIED_EVENTS" >/dev/null 2>&1
	admin_sql -c "SELECT event_id, ts, event::text FROM events ORDER BY 1" >first.txt
	tt-store <"$UNIFIED_EVENTS" >out.ndjson 2>err.log
	admin_sql -c "SELECT event_id, ts, event::text FROM events ORDER BY 1" >second.txt
	cmp first.txt second.txt
	cmp out.ndjson "$UNIFIED_EVENTS"
	grep -q '"stored":0,"duplicates":38,"dlq":0' err.log
	# A batch mixing new and stored events stores only the new ones.
	head -1 "$UNIFIED_EVENTS" | jq -c '.eventId = ("f" * 64) | .seqNo = 999' >new.ndjson
	cat new.ndjson "$UNIFIED_EVENTS" | tt-store >/dev/null 2>err.log
	grep -q '"stored":1,"duplicates":38,"dlq":0' err.log
}

@test "pg: receipts are echoed, never stored" {
	jq -c '. + {_ack: "ttlc:events\tstorage\t1-\(.seqNo)"}' "$UNIFIED_EVENTS" >in.ndjson
	tt-store <in.ndjson >out.ndjson 2>/dev/null
	cmp out.ndjson in.ndjson
	[ "$(admin_sql -c "SELECT count(*) FROM events WHERE event ? '_ack'")" -eq 0 ]
}

@test "pg: events are append-only for the application role and the owner alike" {
	tt-store <"$UNIFIED_EVENTS" >/dev/null 2>&1
	for sql in "UPDATE events SET event_type = 'X'" "DELETE FROM events" "TRUNCATE events"; do
		run app_sql -c "$sql"
		[ "$status" -ne 0 ]
		[[ "$output" == *"permission denied"* ]]
		run admin_sql -c "$sql"
		[ "$status" -ne 0 ]
		[[ "$output" == *"append-only"* ]]
	done
	partition=$(admin_sql -c "SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'events'::regclass LIMIT 1")
	run admin_sql -c "TRUNCATE $partition"
	[[ "$output" == *"append-only"* ]]
	run app_sql -c "SELECT count(*) FROM $partition"
	[[ "$output" == *"permission denied"* ]]
	[ "$(count events)" -eq 38 ]
}

@test "pg: sessions, streams and users are kept up to date" {
	tt-store <"$UNIFIED_EVENTS" >/dev/null 2>&1
	sid=$(head -1 "$UNIFIED_EVENTS" | jq -r .sessionId)
	started=$(jq -r 'select(.eventType == "CONNECTED") | .timestamp' "$UNIFIED_EVENTS")
	ended=$(jq -r 'select(.eventType == "DISCONNECTED" or .eventType == "STREAM_END") | .timestamp' "$UNIFIED_EVENTS" | tail -1)
	row=$(admin_sql -c "SELECT source, to_char(started_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
	    to_char(ended_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM sessions WHERE session_id = '$sid'")
	[ "$row" = "live|$started|$ended" ]
	[ "$(count streams)" -eq 1 ]
	# One row per user, last_seen their latest event, nickname the latest.
	jq -r 'select(.user.userId != null) | .user.userId' "$UNIFIED_EVENTS" | sort -u >want.users
	admin_sql -c "SELECT user_id FROM users ORDER BY 1" | sort >got.users
	cmp want.users got.users
	jq -r 'select(.user.userId != null) | [.user.userId,
	    (.timestamp | if test("[.][0-9]{3}Z$") then . else sub("Z$"; ".000Z") end)] | @tsv' "$UNIFIED_EVENTS" |
		sort -k1,1 -k2,2r | sort -u -k1,1 >want.last
	admin_sql -F $'\t' -c "SELECT user_id, to_char(last_seen, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM users" |
		sort -k1,1 >got.last
	cmp want.last got.last
	# A later session of the same stream moves streams.last_session_id.
	jq -c '.sessionId = "00000000-0000-4000-8000-000000000001" | .eventId = ("e" * 63 + "\(.seqNo % 10)") |
	    .timestamp = "2026-02-23T10:00:00.000Z"' "$UNIFIED_EVENTS" | head -1 | tt-store >/dev/null 2>&1
	[ "$(admin_sql -c "SELECT last_session_id FROM streams")" = "00000000-0000-4000-8000-000000000001" ]
	[ "$(count sessions)" -eq 2 ]
}

@test "pg: a line that cannot be stored becomes a DLQ record; the rest of its batch commits" {
	{
		echo 'not json'
		echo '[1]'
		head -2 "$UNIFIED_EVENTS" | tail -1 | jq -c 'del(.eventType)'
		# Valid JSON and a valid event, but PostgreSQL's jsonb refuses \u0000.
		grep '"eventType":"CHAT"' "$UNIFIED_EVENTS" | head -1 | jq -c '.payload.text = "a\u0000b" | ._ack = "s\tg\t1-1"'
		cat "$UNIFIED_EVENTS"
	} >in.ndjson
	tt-store --dlq dlq.ndjson <in.ndjson >out.ndjson 2>err.log
	cmp out.ndjson "$UNIFIED_EVENTS"
	[ "$(count events)" -eq 38 ]
	[ "$(jq -r .reason dlq.ndjson | paste -sd ' ')" = "invalid_json not_object schema_violation store_rejected" ]
	[ "$(jq -r .stage dlq.ndjson | sort -u)" = "store" ]
	# The refused event keeps its receipt, so its entry is acked with it.
	[ "$(jq -r 'select(.reason == "store_rejected") | ._ack' dlq.ndjson)" = $'s\tg\t1-1' ]
	jq -r 'select(.reason == "store_rejected") | .error' dlq.ndjson | grep -q 'SQLSTATE'
	"$AJV" validate --spec=draft2020 -c ajv-formats -s "$SCHEMA_DIR/dlq.v1.schema.json" -d dlq.ndjson >/dev/null 2>&1 ||
		while read -r rec; do echo "$rec" >one.json
			"$AJV" validate --spec=draft2020 -c ajv-formats -s "$SCHEMA_DIR/dlq.v1.schema.json" -d one.json; done <dlq.ndjson
	grep -q '"stored":38,"duplicates":0,"dlq":4' err.log
}

@test "pg: a slow stream is stored within --flush-ms, without waiting for a full batch" {
	mkfifo in
	tt-store --flush-ms 100 <in >out.ndjson 2>err.log &
	store=$!
	exec 8>in
	head -1 "$UNIFIED_EVENTS" >&8
	for _ in $(seq 50); do [ -s out.ndjson ] && break; sleep 0.1; done
	[ "$(wc -l <out.ndjson)" -eq 1 ]
	[ "$(count events)" -eq 1 ]
	exec 8>&-
	wait "$store"
}

@test "pg: in small batches, each line is echoed once, in order, and only after it is stored" {
	# Another session holds line 5's event uncommitted: the COPY of the
	# second batch (lines 4-6) waits for it, the third is read meanwhile,
	# and only the first may be echoed until it rolls back.
	hold_line 5 5
	tt-store --batch 3 <"$UNIFIED_EVENTS" >out.ndjson 2>err.log 3>&- &
	store=$!
	store_waits
	sleep 0.5
	if ! head -3 "$UNIFIED_EVENTS" | cmp -s - out.ndjson; then
		kill "$store"
		fail "echoed before stored: $(wc -l <out.ndjson) lines, want 3"
	fi
	wait "$holder"
	wait "$store"
	cmp out.ndjson "$UNIFIED_EVENTS"
	[ "$(count events)" -eq 38 ]
	grep -q '"stored":38,"duplicates":0,"dlq":0,"batches":13,' err.log
}

@test "pg: the connection lost while a batch's COPY runs: the batch is stored again, nothing lost or echoed twice" {
	hold_line 5 5
	tt-store --batch 3 <"$UNIFIED_EVENTS" >out.ndjson 2>err.log 3>&- &
	store=$!
	store_waits
	[ "$(admin_sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'tt-store'")" -eq 1 ]
	wait "$holder"
	wait "$store"
	grep -q '"msg":"connection lost storing the batch"' err.log || fail "$(cat err.log)"
	cmp out.ndjson "$UNIFIED_EVENTS"
	[ "$(count events)" -eq 38 ]
	grep -q '"stored":38,"duplicates":0,"dlq":0,"batches":13,"retries":1,' err.log
}

@test "pg: a batch is echoed as soon as it commits, even while the input pauses" {
	mkfifo in
	# A full batch of one line: stored at once, whatever --flush-ms says.
	tt-store --batch 1 --flush-ms 60000 <in >out.ndjson 2>err.log 3>&- &
	store=$!
	exec 8>in
	head -1 "$UNIFIED_EVENTS" >&8
	for _ in $(seq 50); do [ -s out.ndjson ] && break; sleep 0.1; done
	if [ "$(wc -l <out.ndjson)" -ne 1 ]; then
		exec 8>&-
		fail "not echoed while the input pauses" "$(cat err.log)"
	fi
	head -3 "$UNIFIED_EVENTS" | tail -2 >&8
	exec 8>&-
	wait "$store"
	head -3 "$UNIFIED_EVENTS" | cmp - out.ndjson
	[ "$(count events)" -eq 3 ]
}

@test "pg: redelivered and refused events in later batches: the rest commits, in order" {
	head -10 "$UNIFIED_EVENTS" | tt-store >/dev/null 2>&1
	bad=$(grep '"eventType":"CHAT"' "$UNIFIED_EVENTS" | head -1 | jq -c '.eventId = ("d" * 64) | .payload.text = "a\u0000b"')
	{ head -20 "$UNIFIED_EVENTS"; echo "$bad"; tail -n +21 "$UNIFIED_EVENTS"; } >in.ndjson
	tt-store --batch 4 --dlq dlq.ndjson <in.ndjson >out.ndjson 2>err.log
	cmp out.ndjson "$UNIFIED_EVENTS"
	[ "$(jq -r .reason dlq.ndjson)" = store_rejected ]
	[ "$(count events)" -eq 38 ]
	grep -q '"stored":28,"duplicates":10,"dlq":1,' err.log
}

@test "pg: a user's latest event in a batch wins, whatever the line order" {
	jq -c 'select(.user.userId == "7034155873291748357")' "$UNIFIED_EVENTS" >mia.ndjson
	[ "$(wc -l <mia.ndjson)" -ge 2 ]
	# The latest event first, with a nickname of its own.
	{ tail -1 mia.ndjson | jq -c '.user.nickname = "latest"'; head -n -1 mia.ndjson; } | tt-store >/dev/null 2>&1
	first=$(head -1 mia.ndjson | jq -r .timestamp)
	last=$(tail -1 mia.ndjson | jq -r .timestamp)
	row=$(admin_sql -c "SELECT nickname, to_char(first_seen, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
	    to_char(last_seen, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM users WHERE user_id = '7034155873291748357'")
	[ "$row" = "latest|$first|$last" ] || fail "got $row"
}

@test "pg: PostgreSQL restarted mid-run: tt-store reconnects, retries the batch, loses nothing" {
	tt-ingest --loop --limit 20000 --fixture "$RAW_FRAMES" 2>/dev/null | tt-normalize 2>/dev/null >events.ndjson
	n=$(wc -l <events.ndjson)
	# A paced input, so the restart falls in the middle.
	awk '{ print; fflush() } NR % 500 == 0 { system("sleep 0.1") }' events.ndjson |
		tt-store --batch 200 >out.ndjson 2>err.log 3>&- &
	store=$!
	sleep 1.5
	"$TTLC_ROOT/scripts/pg" stop
	sleep 2
	"$TTLC_ROOT/scripts/pg" start >/dev/null 2>&1
	status=0
	timeout 180 tail --pid="$store" -f /dev/null || status=$?
	wait "$store" || status=$?
	[ "$status" -eq 0 ] || fail "status $status" "$(tail -5 err.log)"
	grep -q 'cannot connect to PostgreSQL\|connection lost\|cannot' err.log
	[ "$(count events)" -eq "$n" ]
	[ "$(wc -l <out.ndjson)" -eq "$n" ]
}

@test "pg: bad lines alone never fill a batch's memory: the good lines after them are stored" {
	# 300 lines that fail to parse, each near --max-line, then 5 events,
	# one batch each: with the memory of every dead letter kept, the
	# batch arena (a few lines' worth at this --max-line) would be full
	# long before the good lines came.
	{
		for _ in $(seq 300); do printf '{"x":"%08000d"\n' 0; done
		head -5 "$UNIFIED_EVENTS"
	} >in.ndjson
	tt-store --batch 1 --max-line 8192 --dlq dlq.ndjson <in.ndjson >out.ndjson 2>err.log
	[ "$(count events)" -eq 5 ]
	[ "$(wc -l <out.ndjson)" -eq 5 ]
	[ "$(jq -r .reason dlq.ndjson | sort | uniq -c | awk '{ print $1, $2 }')" = "300 invalid_json" ]
}

@test "pg: tt-store that gives up while its input is quiet exits at once (69), not at the next line" {
	mkfifo in.fifo
	RECONNECT_MAX_ATTEMPTS=1 tt-store --flush-ms 100 <in.fifo >out.ndjson 2>err.log 3>&- &
	store=$!
	exec 7>in.fifo
	head -1 "$UNIFIED_EVENTS" >&7
	for _ in $(seq 50); do
		[ -s out.ndjson ] && break
		sleep 0.1
	done
	[ -s out.ndjson ]
	"$TTLC_ROOT/scripts/pg" stop
	head -2 "$UNIFIED_EVENTS" | tail -1 >&7
	# The writer stays open: only the failure may end the run.
	status=0
	timeout 30 tail --pid="$store" -f /dev/null || status=$?
	exec 7>&-
	"$TTLC_ROOT/scripts/pg" start >/dev/null 2>&1
	[ "$status" -eq 0 ] || fail "tt-store still running 30 s after giving up" "$(tail -3 err.log)"
	status=0
	wait "$store" || status=$?
	[ "$status" -eq 69 ]
}

@test "pg: the password of DATABASE_URL never reaches a log" {
	secret=$(cat "$TTLC_PG_DIR/app.pw")
	# A wrong password is final: 78 at once.
	DATABASE_URL="postgresql://ttlc:wrong-Pa55word@127.0.0.1:$TTLC_PG_PORT/ttlc" run -78 tt-store </dev/null
	[[ "$output" != *"wrong-Pa55word"* ]]
	[[ "$output" == *"ttlc:***@"* ]]
	# Nobody listening: retried, then 69.
	DATABASE_URL="postgresql://ttlc:$secret@127.0.0.1:1/ttlc" RECONNECT_MAX_ATTEMPTS=1 run -69 tt-store </dev/null
	[[ "$output" != *"$secret"* ]]
	# And nothing of a normal run either.
	LOG_LEVEL=debug tt-store <"$UNIFIED_EVENTS" >/dev/null 2>err.log
	! grep -q "$secret" err.log || false
}

@test "pg: migrations apply once; running them again changes nothing" {
	before=$(admin_sql -c "SELECT version || applied_at FROM schema_migrations ORDER BY 1")
	DATABASE_ADMIN_URL=$("$TTLC_ROOT/scripts/pg" admin-url) "$TTLC_ROOT/scripts/migrate" 2>err.log
	after=$(admin_sql -c "SELECT version || applied_at FROM schema_migrations ORDER BY 1")
	[ "$before" = "$after" ]
	[ ! -s err.log ]
	for t in streams sessions users events actions_log rules user_notes api_tokens audit_log; do
		admin_sql -c "SELECT 'public.$t'::regclass" >/dev/null
	done
}
