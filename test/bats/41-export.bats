#!/usr/bin/env bats
# tt-export and the views of schema/sql/002_views.sql against a real
# PostgreSQL 15 that the suite starts (scripts/pg, on a port of its own)
# and removes after. Each test starts from empty tables. Every expected
# answer is computed independently, with jq, from the lines stored.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	pg_start_file
}

teardown_file() {
	pg_stop_file
}

setup() {
	BACKGROUND=
	ttlc_setup
	pg_clear
}

teardown() {
	# A test that failed half-way leaves no export running.
	if [ -n "$BACKGROUND" ]; then
		kill -KILL "$BACKGROUND" 2>/dev/null || true
	fi
}


# store FILE - tt-store FILE; fails the test unless every line is stored.
store() {
	local n
	n=$(wc -l <"$1")
	tt-store <"$1" >/dev/null 2>store.log || fail "tt-store failed" "$(cat store.log)"
	grep -q "\"in\":$n,\"stored\":$n,\"duplicates\":0,\"dlq\":0" store.log ||
		fail "not every line stored" "$(cat store.log)"
}

# The sessions the extra lines add: B and C on the fixture's stream (C the
# reconnection after B), R a replay of it, E another stream.
A=3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c10
B=b0000000-0000-4000-8000-00000000000b
C=c0000000-0000-4000-8000-00000000000c
R=d0000000-0000-4000-8000-00000000000d
E=e0000000-0000-4000-8000-00000000000e
S1=7311234567890123456
S2=7399999999999999999
TOMASZ=6822019937465501184
OLEK=6899012345678901234

# jq: a timestamp with its milliseconds always written, so that text order
# is time order.
JQ_NORM='def norm: if test("[.][0-9]+Z$") then . else sub("Z$"; ".000Z") end;'

# extended FILE - the fixture plus lines made from its own events, over
# three days (three partitions): a streak that never ends, one ended in
# the next session (a reconnection), one with several in-progress events,
# a gift and a chat without a user, a returning and a new viewer, a replay
# session and a second stream.
extended() {
	{
		cat "$UNIFIED_EVENTS"
		jq -cs --arg B "$B" --arg C "$C" --arg R "$R" --arg E "$E" --arg s1 "$S1" --arg s2 "$S2" '
		def ev($t; $sess; $stream; $src; $seq; $ts):
			$t | .sessionId = $sess | .streamId = $stream | .source = $src | .seqNo = $seq
			| .timestamp = $ts | .ingestedAt = $ts
			| .eventId = ($sess[0:1] + ("0" * (63 - ($seq | tostring | length))) + ($seq | tostring));
		def gift($state; $rep; $dia; $grp; $type):
			.payload += {diamondCount: $dia, repeatCount: $rep, groupId: $grp, giftType: $type,
				streakable: ($type == 1), repeatEnd: ($state == "final" and $type == 1),
				streakState: $state,
				giftCount: (if $state == "final" then $rep else 0 end),
				coins: (if $state == "final" then $rep * $dia else 0 end)};
		def galaxy: .payload.giftId = "11046" | .payload.giftName = "Galaxy";
		(map(select(.seqNo == 9))[0]) as $gift
		| (map(select(.seqNo == 20))[0].user) as $olek
		| (map(select(.seqNo == 4))[0]) as $chat
		| (map(select(.seqNo == 3))[0]) as $join
		| {userId: "1111", uniqueId: "newbie", nickname: "Newbie"} as $newbie
		| {userId: null, uniqueId: null, nickname: null} as $nobody
		| ev($join; $B; $s1; "live"; 1; "2026-02-23T09:59:30.000Z"),
		  ev($chat; $B; $s1; "live"; 2; "2026-02-23T09:59:45.000Z"),
		  (ev($chat; $B; $s1; "live"; 3; "2026-02-23T10:00:05.000Z") | .user = $newbie),
		  (ev($chat; $B; $s1; "live"; 4; "2026-02-23T10:00:06.000Z") | .user = $nobody),
		  (ev($gift; $B; $s1; "live"; 5; "2026-02-23T10:00:10.000Z") | gift("in_progress"; 1; 5; "900001"; 1)),
		  (ev($gift; $B; $s1; "live"; 6; "2026-02-23T10:00:11.000Z") | gift("in_progress"; 2; 5; "900001"; 1)),
		  (ev($gift; $B; $s1; "live"; 7; "2026-02-23T10:00:12.000Z") | gift("in_progress"; 5; 5; "900001"; 1)),
		  (ev($gift; $B; $s1; "live"; 8; "2026-02-23T10:01:00.000Z") | .user = $olek | gift("in_progress"; 2; 1; "900002"; 1)),
		  (ev($gift; $B; $s1; "live"; 9; "2026-02-23T10:01:30.000Z") | .user = $nobody | galaxy | gift("final"; 1; 1000; "900003"; 2)),
		  (ev($gift; $B; $s1; "live"; 10; "2026-02-23T10:02:00.000Z") | gift("in_progress"; 1; 1; "900004"; 1)),
		  (ev($gift; $B; $s1; "live"; 11; "2026-02-23T10:02:01.000Z") | gift("in_progress"; 4; 1; "900004"; 1)),
		  (ev($gift; $B; $s1; "live"; 12; "2026-02-23T10:02:02.000Z") | gift("final"; 4; 1; "900004"; 1)),
		  (ev($gift; $C; $s1; "live"; 1; "2026-02-23T11:00:00.000Z") | .user = $olek | gift("final"; 6; 1; "900002"; 1)),
		  (ev($chat; $C; $s1; "live"; 2; "2026-02-23T11:00:05.000Z") | .user = $newbie),
		  ev($chat; $R; $s1; "replay"; 1; "2026-02-24T08:00:00.000Z"),
		  (ev($gift; $R; $s1; "replay"; 2; "2026-02-24T08:00:01.000Z") | .user = $olek | galaxy | gift("final"; 1; 1000; "900005"; 2)),
		  ev($chat; $E; $s2; "live"; 1; "2026-02-23T12:00:00.000Z")
		' "$UNIFIED_EVENTS"
	} >"$1"
}

# multiply N MINUTES - N more copies of every stored event, each copy a
# session of its own, copy g MINUTES x g minutes later (cheap in SQL: the
# suite needs tens of thousands of events in seconds).
multiply() {
	admin_sql -v n="$1" -v step="$2" <<'SQL'
SELECT ttlc_event_partition('2026-02-22'::date + d) FROM generate_series(0, 3) d \g /dev/null
INSERT INTO events (event_id, ts, ingested_at, event_type, source, stream_id, session_id, seq_no, user_id, event)
SELECT c.id, c.ts, e.ingested_at, e.event_type, e.source, e.stream_id, c.sid, e.seq_no, e.user_id,
       e.event || jsonb_build_object('eventId', c.id, 'sessionId', c.sid::text,
           'timestamp', to_char(c.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
FROM events e, generate_series(1, :n) g,
     LATERAL (SELECT md5(g::text)::uuid AS sid, e.ts + g * :step * interval '1 minute' AS ts,
                     encode(sha256(convert_to(e.event_id || ':' || g, 'UTF8')), 'hex') AS id) c;
SQL
}

# exit_field NAME - a member of tt-export's exit record in err.log.
exit_field() {
	jq -rR --arg k "$1" 'fromjson? | select(.msg == "exit") | .[$k]' err.log
}

# same_lines WANT GOT - the two files hold the same events, as sets.
same_lines() {
	diff <(jq -cS . "$1" | sort) <(jq -cS . "$2" | sort) >diff.out ||
		fail "$2 differs from $1" "$(head -c 2000 diff.out)"
}

# ---- the command ---------------------------------------------------------

@test "export: --help, usage errors, and no DATABASE_URL (78)" {
	run -0 tt-export --help
	[[ "${lines[0]}" == "usage: tt-export"* ]]
	# No selector: exporting everything must be asked for.
	run -2 tt-export
	[[ "$output" == *"no selector"* ]]
	for bad in "--since yesterday" "--since 2026-02-30T10:00:00Z" "--until 2026-02-22T25:00:00Z" \
	    "--since 2026-02-22T10:00:00" "--since 24x" "--since 0000-01-01T00:00:00Z" "--until 2026-2-22" \
	    "--since 2026-02-23 --until 2026-02-22" "--since 2026-02-22 --until 2026-02-22" \
	    "--session 3f0c7a52" "--session 3f0c7a52-8d1e-4c55-9a0b-2b6f1d9e4c1g" "--session $A --session $B" \
	    "--type Chat" "--type GIFTS" "--source archive" "--fetch 0" "--fetch 100001" "--stream" "--all extra"; do
		# shellcheck disable=SC2086 # the options are split on purpose
		run -2 tt-export $bad
		[[ "$output" == *"usage: tt-export"* ]] || fail "$bad: $output"
	done
	DATABASE_URL= run -78 tt-export --all
	[[ "$output" == *"DATABASE_URL is not set"* ]]
	# Usage is checked before the database is needed.
	DATABASE_URL= run -2 tt-export --since never
}

@test "export: a wrong password is 78, nobody listening is 69, and the password never reaches a log" {
	secret=$(cat "$TTLC_PG_DIR/app.pw")
	DATABASE_URL="postgresql://ttlc:wrong-Pa55word@127.0.0.1:$TTLC_PG_PORT/ttlc" run -78 tt-export --all
	[[ "$output" != *"wrong-Pa55word"* ]]
	[[ "$output" == *"ttlc:***@"* ]]
	DATABASE_URL="postgresql://ttlc:$secret@127.0.0.1:1/ttlc" RECONNECT_MAX_ATTEMPTS=1 run -69 tt-export --all
	[[ "$output" != *"$secret"* ]]
	store "$UNIFIED_EVENTS"
	LOG_LEVEL=debug tt-export --all >/dev/null 2>err.log
	! grep -q "$secret" err.log || false
}

@test "export: round trip - the export is the stored lines, and storing it in an empty database makes the same rows" {
	extended in.ndjson
	store in.ndjson
	[ "$(admin_sql -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")" -eq 3 ]
	tt-export --all >out.ndjson 2>err.log
	[ "$(wc -l <out.ndjson)" -eq "$(wc -l <in.ndjson)" ]
	same_lines in.ndjson out.ndjson
	# Compact: one object per line, no white space between tokens.
	jq -c . out.ndjson | cmp - out.ndjson
	[ "$(exit_field written)" -eq "$(wc -l <in.ndjson)" ]
	[ "$(exit_field end)" = complete ]
	[ "$(exit_field status)" -eq 0 ]
	dump() {
		admin_sql -c "SELECT event_id, ts, ingested_at, event_type, source, stream_id, session_id, seq_no,
		    user_id, event::text FROM events ORDER BY 1"
		admin_sql -c "SELECT * FROM sessions ORDER BY 1"
		admin_sql -c "SELECT * FROM streams ORDER BY 1"
		admin_sql -c "SELECT * FROM users ORDER BY 1"
	}
	dump >before.txt
	pg_clear
	[ "$(admin_sql -c "SELECT count(*) FROM events")" -eq 0 ]
	store out.ndjson
	dump >after.txt
	[ "$(wc -l <after.txt)" -gt "$(wc -l <in.ndjson)" ]
	diff before.txt after.txt
}

@test "export: one --session comes in seqNo order, anything else in timestamp order" {
	extended in.ndjson
	store in.ndjson
	# Stored in another order than either: the order is the export's.
	pg_clear
	shuf --random-source=in.ndjson in.ndjson >shuffled.ndjson
	store shuffled.ndjson
	tt-export --session "$A" --fetch 7 >a.ndjson
	[ "$(jq -s -c 'map(.seqNo)' a.ndjson)" = "$(jq -s -c 'map(.seqNo) | sort' a.ndjson)" ]
	[ "$(wc -l <a.ndjson)" -eq 38 ]
	tt-export --all --fetch 5 >all.ndjson
	jq -s -c "$JQ_NORM"' map([(.timestamp | norm), .sessionId, .seqNo])' all.ndjson >got.order
	jq -s -c "$JQ_NORM"' map([(.timestamp | norm), .sessionId, .seqNo]) | sort' in.ndjson >want.order
	cmp got.order want.order
}

@test "export: each selector gives exactly the events jq selects" {
	extended in.ndjson
	store in.ndjson
	# check 'JQ CONDITION' OPTIONS... - the export equals jq's selection.
	check() {
		local cond=$1
		shift
		tt-export "$@" >got.ndjson 2>err.log || fail "tt-export $* failed" "$(cat err.log)"
		jq -c "$JQ_NORM select($cond)" in.ndjson >want.ndjson
		same_lines want.ndjson got.ndjson
		[ "$(wc -l <got.ndjson)" -eq "$(wc -l <want.ndjson)" ]
		echo "$* -> $(wc -l <got.ndjson)"
	}
	check ".sessionId == \"$B\"" --session "$B"
	check ".streamId == \"$S2\"" --stream "$S2"
	check ".streamId == \"$S1\"" --stream "$S1"
	# Since is inclusive, until exclusive: both bounds are timestamps of
	# stored events (B's 3rd and C's 1st).
	since=2026-02-23T10:00:05.000Z until=2026-02-23T11:00:00.000Z
	check "(.timestamp | norm) >= \"$since\" and (.timestamp | norm) < \"$until\"" --since "$since" --until "$until"
	[ "$(jq -r .timestamp got.ndjson | head -1)" = "$since" ]
	! grep -q "$until" got.ndjson || false
	check "(.timestamp | norm) < \"$since\"" --until "$since"
	check "(.timestamp | norm) >= \"$until\"" --since "$until"
	# The same instant written with an offset.
	check "(.timestamp | norm) >= \"$since\"" --since 2026-02-23T11:00:05+01:00
	check "(.timestamp | norm) >= \"2026-02-23\" and (.timestamp | norm) < \"2026-02-24\"" --since 2026-02-23 --until 2026-02-24
	check '.eventType == "GIFT" or .eventType == "CHAT"' --type GIFT --type CHAT --type GIFT
	check '.eventType == "STREAM_END"' --type STREAM_END
	check '.source == "replay"' --source replay
	check '.source == "live"' --source live
	check ".streamId == \"$S1\" and .source == \"live\" and .eventType == \"CHAT\" and (.timestamp | norm) >= \"2026-02-23\"" \
	    --stream "$S1" --source live --type CHAT --since 2026-02-23
	check ".sessionId == \"$A\" and .eventType == \"LIKE\"" --session "$A" --type LIKE --all
	# Ages: a century back holds everything, and nothing is that old.
	check 'true' --since 36500d
	check 'false' --until -36500d
	check 'false' --session 00000000-0000-4000-8000-000000000000
	[ "$(exit_field end)" = complete ]
}

@test "export: an event too deep to parse again is written as PostgreSQL printed it, and counted" {
	store "$UNIFIED_EVENTS"
	# Only the owner can write such an event (tt-store refuses it):
	# 70 nested arrays in raw.data.
	admin_sql <<SQL
INSERT INTO events (event_id, ts, ingested_at, event_type, source, stream_id, session_id, seq_no, event)
SELECT repeat('a', 64), '2026-02-22T10:00:59Z', '2026-02-22T10:00:59Z', 'RAW', 'live', '$S1', '$A', 99,
       jsonb_build_object('eventId', repeat('a', 64), 'seqNo', 99,
           'raw', jsonb_build_object('data', (repeat('[', 70) || repeat(']', 70))::jsonb));
SQL
	tt-export --session "$A" >out.ndjson 2>err.log
	[ "$(wc -l <out.ndjson)" -eq 39 ]
	[ "$(tail -1 out.ndjson)" = "$(admin_sql -c "SELECT event::text FROM events WHERE seq_no = 99")" ]
	[ "$(tail -1 out.ndjson | jq -r .eventId)" = "$(printf 'a%.0s' $(seq 64))" ]
	head -38 out.ndjson | jq -c . | cmp - <(head -38 out.ndjson)
	grep -q '"level":"warn".*event written as PostgreSQL printed it' err.log
	[ "$(exit_field verbatim)" -eq 1 ]
	[ "$(exit_field status)" -eq 0 ]
}

@test "export: memory stays flat however many events are exported" {
	store "$UNIFIED_EVENTS"
	multiply 1600 1
	[ "$(admin_sql -c "SELECT count(*) FROM events")" -eq 60838 ]
	# AddressSanitizer keeps up to 256 MiB of freed memory in quarantine,
	# which would make any long run look large; a small quarantine keeps
	# what is measured the program's own memory. (No effect without ASan.)
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8"
	/usr/bin/time -f %M -o small.rss tt-export --until 2026-02-22T12:00:00Z >small.ndjson 2>err.log
	/usr/bin/time -f %M -o all.rss tt-export --all >all.ndjson 2>err.log
	[ "$(wc -l <all.ndjson)" -eq 60838 ]
	[ "$(exit_field written)" -eq 60838 ]
	small=$(tail -1 small.rss) all=$(tail -1 all.rss) bytes=$(wc -c <all.ndjson)
	echo "# RSS: $(wc -l <small.ndjson) events ${small} KB; 60838 events ($((bytes >> 20)) MiB) ${all} KB" >&3
	# Holding the result would take more than the output's size.
	[ "$bytes" -gt $((120 << 20)) ]
	[ "$all" -lt $((96 << 10)) ] || fail "RSS $all KB for $bytes bytes"
	[ $((all - small)) -lt $((16 << 10)) ] || fail "RSS grew from $small KB to $all KB"
}

# stalled_export - tt-export --all into a FIFO (fd 8 open on its reading
# end) that nobody reads yet: the export fills the pipe and blocks, its
# server session idle in the transaction between two fetches. Returns
# once the server shows it so; BACKGROUND is its pid, stderr err.log.
stalled_export() {
	mkfifo pipe
	tt-export --all --fetch 100 >pipe 2>err.log 3>&- &
	BACKGROUND=$!
	exec 8<pipe
	for _ in $(seq 100); do
		[ "$(admin_sql -c "SELECT count(*) FROM pg_stat_activity
		    WHERE application_name = 'tt-export' AND state = 'idle in transaction'")" -eq 1 ] && break
		sleep 0.1
	done
	sleep 0.3
}

@test "export: a connection lost mid-export ends it with 69, every line written whole" {
	store "$UNIFIED_EVENTS"
	multiply 200 0
	tt-export --all --fetch 100 >full.ndjson 2>/dev/null
	total=$(wc -l <full.ndjson)
	stalled_export
	[ "$(admin_sql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	    WHERE application_name = 'tt-export'")" -eq 1 ]
	cat <&8 >out.ndjson
	exec 8<&-
	status=0
	wait "$BACKGROUND" || status=$?
	BACKGROUND=
	expect_status 69
	n=$(wc -l <out.ndjson)
	[ "$n" -gt 0 ] && [ "$n" -lt "$total" ]
	# Whole lines, the first n of the export, nothing repeated.
	head -n "$n" full.ndjson | cmp - out.ndjson
	grep -q 'connection lost mid-export' err.log
	[ "$(exit_field written)" -eq "$n" ]
	[ "$(exit_field end)" = incomplete ]
	[ "$(exit_field status)" -eq 69 ]
}

@test "export: SIGTERM stops after a whole line (75); a reader that goes away is 74" {
	store "$UNIFIED_EVENTS"
	multiply 200 0
	stalled_export
	kill -TERM "$BACKGROUND"
	cat <&8 >out.ndjson
	exec 8<&-
	status=0
	wait "$BACKGROUND" || status=$?
	BACKGROUND=
	expect_status 75
	jq -c . out.ndjson >/dev/null
	[ "$(exit_field written)" -eq "$(wc -l <out.ndjson)" ]
	[ "$(exit_field end)" = incomplete ]
	# Its server session ends with it.
	for _ in $(seq 50); do
		left=$(admin_sql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tt-export'")
		[ "$left" -eq 0 ] && break
		sleep 0.1
	done
	[ "$left" -eq 0 ]
	# head reads one line and leaves.
	{
		rc=0
		tt-export --all 2>err.log || rc=$?
		echo "$rc" >rc
	} | head -1 >one.ndjson
	status=$(cat rc)
	expect_status 74
	[ "$(wc -l <one.ndjson)" -eq 1 ]
	grep -q 'cannot write output' err.log
}

# ---- the views -------------------------------------------------------------

@test "views: ttlc_top_gifters counts each streak once, and a streak without its end at its last count" {
	extended in.ndjson
	store in.ndjson
	# The rule, in jq: every final event counts; the in-progress events of
	# a streak (stream, source, user, gift, group) with no final anywhere
	# count once, at their largest repeatCount, in their latest session.
	jq -rs "$JQ_NORM"'
		def key: [.streamId, .source, (.user.userId // null), .payload.giftId, (.payload.groupId // null)];
		map(select(.eventType == "GIFT")) as $g
		| ($g | map(select(.payload.streakState == "final"))) as $finals
		| ($finals | map(key)) as $final_keys
		| [$finals[] | {s: .sessionId, u: (.user.userId // ""), coins: .payload.coins,
		    gifts: .payload.giftCount, open: 0}]
		  + [$g | map(select(.payload.streakState == "in_progress")) | group_by(key)[]
		    | select(.[0] | key | IN($final_keys[]) | not)
		    | {s: (max_by([(.timestamp | norm), .seqNo]) | .sessionId), u: (.[0].user.userId // ""),
		       gifts: (map(.payload.repeatCount) | max),
		       coins: ((map(.payload.repeatCount) | max) * (map(.payload.diamondCount) | max)), open: 1}]
		| group_by([.s, .u])[]
		| "\(.[0].s)|\(.[0].u)|\(map(.coins) | add)|\(map(.gifts) | add)|\(length)|\(map(.open) | add)"
	' in.ndjson | sort >want.txt
	admin_sql -c "SELECT session_id, coalesce(user_id, ''), coins, gifts, sends, unfinished_streaks
	    FROM ttlc_top_gifters" | sort >got.txt
	diff want.txt got.txt
	# The cases by name. The fixture: three Rose events, one streak.
	grep -qx "$A|$TOMASZ|3|3|1|0" got.txt
	grep -qx "$A|$OLEK|1000|1|1|0" got.txt
	# B: a streak that never ended (5 roses of 5 coins), one that did
	# after two in-progress events (4 x 1).
	grep -qx "$B|$TOMASZ|29|9|2|1" got.txt
	[ "$(admin_sql -c "SELECT unfinished_coins FROM ttlc_top_gifters WHERE session_id = '$B' AND user_id = '$TOMASZ'")" -eq 25 ]
	# The streak begun in B and ended in C counts once, in C.
	! grep -q "^$B|$OLEK|" got.txt || false
	grep -qx "$C|$OLEK|6|6|1|0" got.txt
	# A gift without a user is not dropped.
	grep -qx "$B||1000|1|1|0" got.txt
	# Handles come from users.
	[ "$(admin_sql -c "SELECT unique_id || ' ' || nickname FROM ttlc_top_gifters WHERE session_id = '$A' AND user_id = '$OLEK'")" = "olek.big.gifts Olek" ]
	# Per stream: live and replay apart.
	[ "$(admin_sql -c "SELECT source, coins, gifts, sessions FROM ttlc_top_gifters_by_stream
	    WHERE user_id = '$OLEK' ORDER BY source" | paste -sd ' ')" = "live|1006|7|2 replay|1000|1|1" ]
	# And per streak: the unfinished one is flagged.
	[ "$(admin_sql -c "SELECT gifts, coins, finished FROM ttlc_gift_streaks WHERE group_id = '900001'")" = "5|25|f" ]
	# Summing every GIFT event's repeatCount x diamondCount, the mistake
	# the views exist to avoid, gives another answer.
	naive=$(jq -s "map(select(.eventType == \"GIFT\" and .sessionId == \"$B\" and .user.userId == \"$TOMASZ\")
	    | .payload.repeatCount * .payload.diamondCount) | add" in.ndjson)
	[ "$naive" -ne 29 ]
}

@test "views: events per minute, chatters, and new and returning viewers match jq" {
	extended in.ndjson
	store in.ndjson
	jq -rs "$JQ_NORM"'
		group_by([.streamId, .sessionId, (.timestamp | norm | .[0:16]), .eventType])[]
		| "\(.[0].streamId)|\(.[0].sessionId)|\(.[0].timestamp | .[0:16])|\(.[0].eventType)|\(length)"
	' in.ndjson | sort >want.txt
	admin_sql -c "SELECT stream_id, session_id, to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI'),
	    event_type, events FROM ttlc_events_per_minute" | sort >got.txt
	diff want.txt got.txt
	grep -qx "$S1|$B|2026-02-23T10:00|GIFT|3" got.txt
	[ "$(cut -d'|' -f3 got.txt | sort -u | wc -l)" -ge 6 ]

	jq -rs '
		group_by(.sessionId)[]
		| map(select(.eventType == "CHAT")) as $chat
		| "\(.[0].streamId)|\(.[0].sessionId)|\($chat | map(.user.userId // empty) | unique | length)|\($chat | length)|\($chat | map(select(.user.userId == null)) | length)"
	' in.ndjson | sort >want.txt
	admin_sql -c "SELECT stream_id, session_id, chatters, chat_messages, anonymous_messages FROM ttlc_chatters" |
		sort >got.txt
	diff want.txt got.txt
	grep -qx "$S1|$A|7|8|0" got.txt
	grep -qx "$S1|$B|2|3|1" got.txt

	# A viewer is new in the session of their first event on the stream
	# (live and replay apart; ties go to the smaller session id).
	jq -rs "$JQ_NORM"'
		map(select(.user.userId != null)) as $ev
		| ($ev | group_by([.streamId, .source, .user.userId])
		    | map(min_by([(.timestamp | norm), .sessionId]) | {key: "\(.streamId) \(.source) \(.user.userId)", value: .sessionId})
		    | from_entries) as $first
		| $ev | group_by([.sessionId, .user.userId])
		| map(.[0] | {st: .streamId, s: .sessionId, src: .source, new: ($first["\(.streamId) \(.source) \(.user.userId)"] == .sessionId)})
		| group_by(.s)[]
		| "\(.[0].st)|\(.[0].s)|\(.[0].src)|\(length)|\(map(select(.new)) | length)|\(map(select(.new | not)) | length)"
	' in.ndjson | sort >want.txt
	admin_sql -c "SELECT stream_id, session_id, source, viewers, new_viewers, returning_viewers
	    FROM ttlc_new_returning_viewers" | sort >got.txt
	diff want.txt got.txt
	grep -qx "$S1|$A|live|11|11|0" got.txt
	grep -qx "$S1|$B|live|4|1|3" got.txt
	grep -qx "$S1|$C|live|2|0|2" got.txt
	grep -qx "$S1|$R|replay|2|2|0" got.txt
	grep -qx "$S2|$E|live|1|1|0" got.txt
	[ "$(admin_sql -c "SELECT is_new FROM ttlc_viewers WHERE session_id = '$B' AND user_id = '1111'")" = t ]
	[ "$(admin_sql -c "SELECT is_new FROM ttlc_viewers WHERE session_id = '$C' AND user_id = '1111'")" = f ]
}

@test "views: the application role reads every view, and the migration added them all" {
	extended in.ndjson
	store in.ndjson
	for v in ttlc_gift_streaks ttlc_top_gifters ttlc_top_gifters_by_stream ttlc_events_per_minute \
	    ttlc_chatters ttlc_viewers ttlc_new_returning_viewers; do
		[ "$(app_sql -c "SELECT count(*) FROM $v")" -gt 0 ] || fail "$v is empty for the application role"
		admin_sql -c "SELECT obj_description('$v'::regclass)" | grep -q 'ttlc-views(7)'
	done
	[ "$(admin_sql -c "SELECT count(*) FROM schema_migrations WHERE version = '002_views'")" -eq 1 ]
}

@test "man: tt-export(1) and ttlc-views(7) examples run" {
	store "$UNIFIED_EVENTS"
	ln -s "$TTLC_ROOT/test" test
	ln -s "$TTLC_ROOT/scripts" scripts
	export OTHER_DATABASE_URL=$DATABASE_URL
	man_examples tt-export.1 3
	man_examples ttlc-views.7 3
	# What they print is right, too.
	grep -q '^ *8 CHAT$' tt-export.1-1.out
	[ "$(head -1 tt-export.1-3.out)" = '{"user":"olek.big.gifts","coins":1000}' ]
	[ "$(head -1 ttlc-views.7-1.out)" = 'olek.big.gifts|1000|1' ]
}
