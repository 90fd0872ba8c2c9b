#!/usr/bin/env bats
# tt-prune against a real PostgreSQL 15 that the suite starts (scripts/pg,
# on a port of its own) and removes after: retention over partitions of
# made-up old days and the owner's minimum period, pseudonymization,
# erasure checked with a grep of a full pg_dump and for what it must not
# change, the application role's temporary tables against the owner's
# functions, VACUUM going wrong, the advisory lock, the man page's
# examples and the crontab.

bats_require_minimum_version 1.5.0
load helpers

# The viewer erased in the tests, and what identifies her in the fixture.
MIA_ID=7034155873291748357
MIA_TRACES=(mia.sketches 'Mia ✨' 0f3e6b1d9a2c47e58b7d6c5a4f3e2d1c Bv3Xq9LkT7pZr2MwY6nC
	MS4wLjABAAAAtV8rXcP2qLm7NkJ4hYf9Wd1sZg6Ue3oBa5RiTx0vKyEqHn2lCw8pMj7uFb4Ds1)
TOMASZ_ID=6822019937465501184

setup_file() {
	pg_start_file
}

teardown_file() {
	pg_stop_file
}

# A test that failed half-way leaves no session holding the advisory lock
# (the next tests would exit 75), nor a raised minimum retention, nor an
# application role that became superuser.
teardown() {
	admin_sql -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
	    AND classid = 1953721443" >/dev/null 2>&1 || true
	admin_sql -c "UPDATE ttlc_settings SET min_retention_days = 1" >/dev/null 2>&1 || true
	admin_sql -c "ALTER ROLE ttlc NOSUPERUSER" >/dev/null 2>&1 || true
}

setup() {
	ttlc_setup
	unset EVENT_RETENTION_DAYS
	pg_clear user_notes actions_log audit_log rules
}

count() {
	admin_sql -c "SELECT count(*) FROM $1"
}

# dump FILE - the whole database, schema and data, as its owner (without
# the \restrict lines, whose key is new in every dump).
dump() {
	(. "$TTLC_ROOT/scripts/pg-env"; pg_env "$("$TTLC_ROOT/scripts/pg" admin-url)"; pg_dump --no-owner) |
		grep -v '^\\\(un\)\{0,1\}restrict ' >"$1"
}

# partitions - the names of the events partitions, one a line, sorted.
partitions() {
	admin_sql -c "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'events'::regclass ORDER BY 1"
}

# day AGE - events_YYYYMMDD of the day AGE days before today (UTC).
day() {
	echo "events_$(date -u -d "$1 days ago" +%Y%m%d)"
}

# aged_events AGE - the fixture's events moved to the day AGE days before
# today (UTC), same time of day, each with an eventId of its own
# (sha256 of AGE and its line number).
aged_events() {
	local age=$1 n i
	n=$(wc -l <"$UNIFIED_EVENTS")
	for i in $(seq "$n"); do printf '%s:%s' "$age" "$i" | sha256sum | cut -c1-64; done >"ids-$age"
	jq -c -n --arg day "$(date -u -d "$age days ago" +%F)" --rawfile ids "ids-$age" '
	    ($ids | split("\n")) as $ids | [inputs] | to_entries[] | .key as $i | .value |
	    .eventId = $ids[$i] | .timestamp = ($day + .timestamp[10:]) | .ingestedAt = ($day + .ingestedAt[10:])' \
	    "$UNIFIED_EVENTS"
}

# state - what tt-prune may change, as text: partitions, counts, users,
# notes and the audit log.
state() {
	partitions
	admin_sql -c "SELECT count(*), md5(string_agg(event::text, '' ORDER BY event_id, ts)) FROM events"
	admin_sql -c "SELECT user_id, unique_id, nickname, avatar_url, pseudonymized_at FROM users ORDER BY 1"
	admin_sql -c "SELECT * FROM user_notes ORDER BY 1"
	admin_sql -c "SELECT * FROM audit_log ORDER BY 1"
}

# events_text - every event as stored, one a line: eventId|event::text.
events_text() {
	admin_sql -c "SELECT event_id, event::text FROM events ORDER BY event_id"
}

# shapes - per event: eventId, eventType, raw.type and the path of every
# member, avatar members set to null first (an erasure may null them,
# and their members with them). Equal before and after an erasure: no
# member renamed, added or dropped, no event type changed.
shapes() {
	admin_sql -c "SELECT event FROM events ORDER BY event_id" | jq -c '
	    walk(if type == "object" then with_entries(if (.key | test("^(avatar|profilePicture)")) then .value = null
	        else . end) else . end) |
	    [.eventId, .eventType, .raw.type, [paths | map(tostring) | join("/")]]'
}

# valid_events - every stored event is still a UnifiedEvent.
valid_events() {
	admin_sql -c "SELECT event FROM events" >all.ndjson
	split_lines all.ndjson all
	ajv_validate "$SCHEMA_DIR/unified-event.v1.schema.json" all
}

# wait_lock TABLE MODE - waits (10 s at most) until another session holds
# the lock MODE on TABLE.
wait_lock() {
	for _ in $(seq 100); do
		[ "$(count "pg_locks WHERE relation = 'public.$1'::regclass AND mode = '$2' AND granted")" -eq 1 ] && return 0
		sleep 0.1
	done
	fail "no session holds $2 on $1"
}

# The fixture, a chat line by another viewer that mentions Mia, notes on
# Mia and on another viewer, and an action record that thanks her.
store_fixture_with_mentions() {
	{
		cat "$UNIFIED_EVENTS"
		grep '"uniqueId":"haruto_0721"' "$UNIFIED_EVENTS" | grep '"eventType":"CHAT"' | head -1 |
			jq -c '.eventId = ("c" * 64) | .seqNo = 900 | .timestamp = "2026-02-22T10:00:40.000Z" |
			    .payload.text = "@mia.sketches your colours, MIA ✨!" | .raw.data.comment = .payload.text'
	} | tt-store >/dev/null 2>store.log
	app_sql <<SQL
INSERT INTO user_notes (user_id, author, note) VALUES
	('$MIA_ID', 'mod-sam', 'regular, draws live'),
	('$TOMASZ_ID', 'mod-sam', 'gifted because @mia.sketches asked');
INSERT INTO actions_log (event_id, action_type, status, detail) VALUES
	(NULL, 'announce', 'ok', '{"text": "Thank you @mia.sketches for the Rose!", "userId": "$MIA_ID"}'),
	(NULL, 'announce', 'ok', '{"text": "Thank you @tomasz_w for the Rose!", "userId": "$TOMASZ_ID"}');
SQL
}

# hits FILE - how many lines of FILE hold any of MIA_TRACES (case ignored);
# traces FILE - which ones, how often.
hits() {
	local args=() t
	for t in "${MIA_TRACES[@]}"; do args+=(-e "$t"); done
	grep -Fic "${args[@]}" "$1" || true
}
traces() {
	local args=() t
	for t in "${MIA_TRACES[@]}"; do args+=(-e "$t"); done
	grep -oFi "${args[@]}" "$1" | sort | uniq -c
}

@test "prune: --help, usage errors, bad configuration (78), no secret in logs" {
	run tt-prune --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: tt-prune"* ]]
	for args in "--retention-days 0" "--retention-days x" "--retention-days 36501" "--erase-user @mia" \
	    "--erase-user 123456789012345678901" "--erase-user 1 --retention-days 5" "extra" "--bogus"; do
		run -2 tt-prune $args
		[[ "$output" == *"usage: tt-prune"* ]]
	done
	for bad in 0 x 36501 -3; do
		EVENT_RETENTION_DAYS=$bad run -78 tt-prune
		[[ "$output" == *"EVENT_RETENTION_DAYS"* ]]
	done
	# The flag wins over the variable, which is not read then.
	EVENT_RETENTION_DAYS=x run -0 tt-prune --retention-days 5 --dry-run
	DATABASE_URL= run -78 tt-prune
	[[ "$output" == *"DATABASE_URL is not set"* ]]
	secret=$(cat "$TTLC_PG_DIR/app.pw")
	DATABASE_URL="postgresql://ttlc:wrong-Pa55word@127.0.0.1:$TTLC_PG_PORT/ttlc" run -78 tt-prune
	[[ "$output" != *"wrong-Pa55word"* ]]
	DATABASE_URL="postgresql://ttlc:$secret@127.0.0.1:1/ttlc" RECONNECT_MAX_ATTEMPTS=1 run -69 tt-prune
	[[ "$output" != *"$secret"* ]]
	LOG_LEVEL=debug tt-prune >out.json 2>err.log
	! grep -qF "$secret" err.log out.json || false
}

@test "prune: retention drops exactly the partitions older than the period; --dry-run changes nothing" {
	for age in 200 91 90 89 0; do aged_events "$age"; done | tt-store >/dev/null 2>store.log
	[ "$(count events)" -eq 190 ]
	[ "$(partitions | wc -l)" -eq 5 ]
	state >before.txt

	tt-prune --dry-run >dry.json 2>err.log
	[ "$(jq -c '[.dryRun, [.partitions[].name], .events, .complete]' dry.json)" = \
	    "[true,[\"$(day 200)\",\"$(day 91)\"],76,true]" ]
	[ "$(jq -r .cutoff dry.json)" = "$(date -u -d '90 days ago' +%F)T00:00:00Z" ]
	state >after-dry.txt
	diff before.txt after-dry.txt

	tt-prune >real.json 2>err.log
	[ "$(jq -c '[.dryRun, .partitions, .events, .usersPseudonymized, .complete]' real.json)" = \
	    "[false,[{\"name\":\"$(day 200)\",\"events\":38},{\"name\":\"$(day 91)\",\"events\":38}],76,0,true]" ]
	# The day 90 days ago stays: it may hold events of the last 90 days.
	[ "$(partitions | paste -sd ' ')" = "$(day 90) $(day 89) $(day 0)" ]
	[ "$(count events)" -eq 114 ]
	[ "$(admin_sql -c "SELECT action, target, actor, detail->>'events' FROM audit_log ORDER BY audit_id" | paste -sd ' ')" = \
	    "drop_partition|$(day 200)|ttlc|38 drop_partition|$(day 91)|ttlc|38" ]
	grep -q '"msg":"dropped partition"' err.log
	grep -q '"msg":"exit".*"partitions":2,"events":76.*"status":0' err.log

	# Nothing is left to do: a second run changes nothing.
	state >before.txt
	tt-prune >again.json 2>/dev/null
	[ "$(jq -c '[.partitions, .events, .usersPseudonymized]' again.json)" = "[[],0,0]" ]
	state >after.txt
	diff before.txt after.txt
}

@test "prune: EVENT_RETENTION_DAYS and --retention-days set the period; the flag wins" {
	for age in 200 91 90 89 0; do aged_events "$age"; done | tt-store >/dev/null 2>&1
	EVENT_RETENTION_DAYS=92 tt-prune --dry-run >env.json 2>/dev/null
	[ "$(jq -c '[.retentionDays, [.partitions[].name]]' env.json)" = "[92,[\"$(day 200)\"]]" ]
	EVENT_RETENTION_DAYS=92 tt-prune --retention-days 89 --dry-run >flag.json 2>/dev/null
	[ "$(jq -c '[.retentionDays, [.partitions[].name]]' flag.json)" = \
	    "[89,[\"$(day 200)\",\"$(day 91)\",\"$(day 90)\"]]" ]
	EVENT_RETENTION_DAYS=1 tt-prune >one.json 2>/dev/null
	[ "$(partitions)" = "$(day 0)" ]
	[ "$(jq '.partitions | length' one.json)" -eq 4 ]
}

@test "prune: never drops the default partition, nor a table not named events_YYYYMMDD" {
	admin_sql <<'SQL'
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE TABLE events_archive_2000 PARTITION OF events FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
CREATE TABLE events_20000101x PARTITION OF events FOR VALUES FROM ('2001-01-01') TO ('2001-01-02');
CREATE TABLE events_19990101 (LIKE events);
SQL
	aged_events 200 | tt-store >/dev/null 2>&1
	tt-prune --retention-days 1 >out.json 2>/dev/null
	[ "$(jq -c '[.partitions[].name]' out.json)" = "[\"$(day 200)\"]" ]
	[ "$(partitions | paste -sd ' ')" = "events_20000101x events_archive_2000 events_default" ]
	admin_sql -c "SELECT 'events_19990101'::regclass" >/dev/null
	run app_sql -c "SELECT ttlc_drop_event_partition('events_default', 1, false)"
	[ "$status" -ne 0 ]
	run app_sql -c "SELECT ttlc_drop_event_partition('events_19990101', 1, false)"
	[ "$status" -ne 0 ]
	admin_sql -c "DROP TABLE events_19990101"
}

@test "prune: the application role cannot drop or delete events itself, nor misuse the functions" {
	for age in 200 0; do aged_events "$age"; done | tt-store >/dev/null 2>&1
	old=$(day 200) today=$(day 0)
	run app_sql -c "DROP TABLE $old"
	[ "$status" -ne 0 ]
	[[ "$output" == *"must be owner"* ]]
	for sql in "DELETE FROM events" "DELETE FROM $old" "TRUNCATE $old" "UPDATE events SET event = '{}'" \
	    "BEGIN; SET LOCAL ttlc.erasing = on; UPDATE events SET event = '{}'; COMMIT" \
	    "ALTER TABLE events DETACH PARTITION $old"; do
		run app_sql -c "$sql"
		[ "$status" -ne 0 ]
		[[ "$output" == *"permission denied"* || "$output" == *"must be owner"* ]] || fail "$sql: $output"
	done
	# The drop function refuses what retention would keep.
	run app_sql -c "SELECT ttlc_drop_event_partition('$today', 1, false)"
	[ "$status" -ne 0 ]
	[[ "$output" == *"is not an events partition older than 1 days"* ]]
	run app_sql -c "SELECT ttlc_drop_event_partition('users', 1, false)"
	[ "$status" -ne 0 ]
	run app_sql -c "SELECT ttlc_drop_event_partition('$old', 0, false)"
	[[ "$output" == *"retention_days must be at least 1"* ]]
	# The erasure closes its window before it returns: even the owner's
	# next UPDATE in the same transaction is refused.
	run admin_sql -c "BEGIN" -c "SELECT ttlc_erase_user('$MIA_ID', false)" \
	    -c "UPDATE events SET event_type = 'X'" -c "COMMIT"
	[ "$status" -ne 0 ]
	[[ "$output" == *"append-only: UPDATE refused"* ]]
	# The helpers are the owner's only.
	run app_sql -c "SELECT ttlc_scrub('{}', '1', '{}', '{}', '{}', '{}')"
	[[ "$output" == *"permission denied for function"* ]]
	[ "$(count events)" -eq 76 ]
	[ "$(partitions | wc -l)" -eq 2 ]
	# A role without the grants of 003_retention.sql is a configuration error.
	admin_sql -c "REVOKE EXECUTE ON FUNCTION ttlc_pseudonymize_users(integer, boolean) FROM ttlc"
	run -78 tt-prune --retention-days 300
	admin_sql -c "GRANT EXECUTE ON FUNCTION ttlc_pseudonymize_users(integer, boolean) TO ttlc"
	[[ "$output" == *"permission denied for function ttlc_pseudonymize_users"* ]]
	[[ "$output" == *'"complete":false'* ]]
}

@test "prune: a period below the owner's minimum (ttlc_settings) is refused with 78, by tt-prune and by the functions" {
	for age in 200 40 0; do aged_events "$age"; done | tt-store >/dev/null 2>&1
	admin_sql -c "UPDATE ttlc_settings SET min_retention_days = 30"
	[ "$(app_sql -c "SELECT min_retention_days FROM ttlc_settings")" -eq 30 ]
	state >before.txt
	run -78 tt-prune --retention-days 7
	[[ "$output" == *"retention_days 7 is below the minimum of 30 days"* ]]
	[[ "$output" == *'"complete":false'* ]]
	EVENT_RETENTION_DAYS=7 run -78 tt-prune --dry-run
	[[ "$output" == *"below the minimum of 30 days"* ]]
	# The application role cannot lower it, nor get round it with a
	# temporary table of the same name, nor call the functions below it.
	run app_sql -c "UPDATE ttlc_settings SET min_retention_days = 1"
	[[ "$output" == *"permission denied for table ttlc_settings"* ]]
	run app_sql -c "CREATE TEMP TABLE ttlc_settings (one boolean, min_retention_days integer)" \
	    -c "INSERT INTO ttlc_settings VALUES (true, 1)" -c "SELECT ttlc_drop_event_partition('$(day 40)', 7, false)"
	[ "$status" -ne 0 ]
	[[ "$output" == *"retention_days 7 is below the minimum of 30 days"* ]]
	for sql in "SELECT ttlc_drop_event_partition('$(day 200)', 29, true)" "SELECT ttlc_pseudonymize_users(7, false)" \
	    "SELECT * FROM ttlc_expired_partitions(1)"; do
		run app_sql -c "$sql"
		[[ "$output" == *"below the minimum of 30 days"* ]] || fail "$sql: $output"
	done
	state >after.txt
	diff before.txt after.txt
	# At the minimum, retention works.
	tt-prune --retention-days 30 >out.json 2>/dev/null
	[ "$(jq -c '[.partitions[].name]' out.json)" = "[\"$(day 200)\",\"$(day 40)\"]" ]
	admin_sql -c "UPDATE ttlc_settings SET min_retention_days = 1"
}

@test "prune: a temporary table of the caller's is never used by the owner's functions (no trigger runs as the owner)" {
	store_fixture_with_mentions
	# As the application role: temporary tables named like the ones the
	# erasure reads and writes, each with a trigger that would make the
	# role a superuser if it ran with the owner's rights.
	run app_sql <<SQL
CREATE FUNCTION pg_temp.escalate() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	EXECUTE 'ALTER ROLE ttlc SUPERUSER';
	RETURN NULL;
END \$\$;
DO \$\$
DECLARE t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['audit_log', 'users', 'user_notes', 'actions_log', 'streams', 'rules', 'events'] LOOP
		EXECUTE format('CREATE TEMP TABLE %I AS SELECT * FROM public.%I WITH NO DATA', t, t);
		EXECUTE format('CREATE TRIGGER escalate BEFORE INSERT OR UPDATE OR DELETE ON pg_temp.%I '
		    'FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.escalate()', t);
	END LOOP;
END \$\$;
BEGIN;
SELECT ttlc_erase_user('$MIA_ID', false)::jsonb->'events';
SELECT (ttlc_erase_user('$TOMASZ_ID', true)::jsonb->>'eventsMatched')::int > 0;
SELECT to_regclass('pg_temp.ttlc_erase_candidates') IS NULL;
COMMIT;
SELECT count(*) FROM pg_temp.audit_log;
SQL
	[ "$(admin_sql -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'ttlc'")" = f ]
	[ "$status" -eq 0 ] || fail "$output"
	# Two erasures in one transaction, the candidates' table gone after
	# each, and nothing in the caller's tables.
	[ "$output" = "$(printf '7\nt\nt\n0')" ]
	# The erasure did its work in public.
	[ "$(count "audit_log WHERE action = 'erase_user' AND target = '$MIA_ID'")" -eq 1 ]
	[ "$(count "users WHERE user_id = '$MIA_ID'")" -eq 0 ]
	# A table of the caller's named like the erasure's own is never used.
	run app_sql -c "CREATE TEMP TABLE ttlc_erase_candidates (event_id text, ts timestamptz)" \
	    -c "SELECT ttlc_erase_user('$TOMASZ_ID', false)"
	[ "$status" -ne 0 ]
	[[ "$output" == *'relation "ttlc_erase_candidates" already exists'* ]]
	[ "$(count "users WHERE user_id = '$TOMASZ_ID'")" -eq 1 ]
}

@test "prune: a temporary pg_class cannot make ttlc_drop_event_partition drop a recent partition" {
	for age in 200 0; do aged_events "$age"; done | tt-store >/dev/null 2>&1
	old=$(day 200) today=$(day 0)
	# Today's partition, in a copy of pg_class, with the range of the old one.
	run app_sql <<SQL
CREATE TEMP TABLE pg_class AS SELECT * FROM pg_catalog.pg_class;
UPDATE pg_temp.pg_class SET relpartbound = (SELECT relpartbound FROM pg_catalog.pg_class WHERE relname = '$old')
WHERE relname = '$today';
SELECT string_agg(partition, ' ') FROM ttlc_expired_partitions(90);
SELECT ttlc_drop_event_partition('$today', 90, false);
SQL
	[ "$status" -ne 0 ]
	[[ "$output" == "$old"$'\n'*"$today is not an events partition older than 90 days"* ]] || fail "$output"
	[ "$(partitions | paste -sd ' ')" = "$old $today" ]
	[ "$(count events)" -eq 76 ]
}

@test "prune: users not seen within the period are pseudonymized, recent ones are not" {
	aged_events 200 | tt-store >/dev/null 2>&1
	# Mia comes back today; nobody else does.
	aged_events 0 | jq -c "select(.user.userId == \"$MIA_ID\")" | tt-store >/dev/null 2>&1
	total=$(count users)
	[ "$total" -gt 5 ]
	state >before.txt
	tt-prune --dry-run >dry.json 2>/dev/null
	[ "$(jq .usersPseudonymized dry.json)" -eq $((total - 1)) ]
	state >after.txt
	diff before.txt after.txt

	tt-prune >real.json 2>err.log
	[ "$(jq .usersPseudonymized real.json)" -eq $((total - 1)) ]
	[ "$(admin_sql -c "SELECT count(*) FROM users WHERE pseudonymized_at IS NOT NULL
	    AND unique_id IS NULL AND nickname IS NULL AND avatar_url IS NULL")" -eq $((total - 1)) ]
	[ "$(admin_sql -c "SELECT unique_id, nickname, pseudonymized_at IS NULL FROM users WHERE user_id = '$MIA_ID'")" = \
	    "mia.sketches|Mia ✨|t" ]
	[ "$(admin_sql -c "SELECT detail->>'users' FROM audit_log WHERE action = 'pseudonymize_users'")" -eq $((total - 1)) ]
	# The application role may not VACUUM: the report says what the owner should.
	[ "$(jq -c .vacuumNeeded real.json)" = '["users"]' ]
	grep -q 'until VACUUM' err.log
	tt-prune >again.json 2>/dev/null
	[ "$(jq .usersPseudonymized again.json)" -eq 0 ]
	[ "$(admin_sql -c "SELECT count(*) FROM audit_log WHERE action = 'pseudonymize_users'")" -eq 1 ]
	# A pseudonymized viewer seen again gets a name again (tt-store).
	aged_events 0 | jq -c "select(.user.userId == \"$TOMASZ_ID\")" | tt-store >/dev/null 2>&1
	[ "$(admin_sql -c "SELECT unique_id, pseudonymized_at IS NULL FROM users WHERE user_id = '$TOMASZ_ID'")" = "tomasz_w|t" ]
}

@test "prune: --erase-user leaves no trace of the viewer in a full dump; others' data stays" {
	store_fixture_with_mentions
	events=$(count events)
	dump before.sql
	# The grep can find her: each trace is there before.
	for t in "${MIA_TRACES[@]}"; do grep -qiF -e "$t" before.sql || fail "no $t before"; done
	[ "$(hits before.sql)" -ge 9 ]

	tt-prune --erase-user "$MIA_ID" --dry-run >dry.json 2>err.log
	dump after-dry.sql
	cmp before.sql after-dry.sql
	[ "$(jq -c '.erased[0] | [.userId, .users, .notes, .events, .actions, .notesScrubbed]' dry.json)" = \
	    "[\"$MIA_ID\",1,1,7,1,1]" ]

	tt-prune --erase-user "$MIA_ID" >real.json 2>err.log
	[ "$(jq -c '.erased[0]' real.json)" = "$(jq -c '.erased[0]' dry.json)" ]
	dump after.sql
	[ "$(hits after.sql)" -eq 0 ] || fail "traces left:" "$(traces after.sql)"
	# The negative control: another viewer's data is all still there.
	[ "$(grep -Fc tomasz_w after.sql)" -eq "$(grep -Fc tomasz_w before.sql)" ]
	grep -qF 'Tomasz Wiśniewski' after.sql
	[ "$(count events)" -eq "$events" ]
	[ "$(count "users WHERE user_id = '$MIA_ID'")" -eq 0 ]
	[ "$(count "user_notes WHERE user_id = '$MIA_ID'")" -eq 0 ]
	# Her id stays in her events; what named her is null.
	[ "$(admin_sql -c "SELECT DISTINCT event->'user'->>'userId', event->'user'->'uniqueId', event->'user'->'nickname',
	    event->'user'->'avatarUrl' FROM events WHERE user_id = '$MIA_ID'")" = "$MIA_ID|null|null|null" ]
	[ "$(admin_sql -c "SELECT event->'payload'->>'text' FROM events WHERE seq_no = 900")" = "@[erased] your colours, [erased]!" ]
	[ "$(admin_sql -c "SELECT note FROM user_notes WHERE user_id = '$TOMASZ_ID'")" = "gifted because @[erased] asked" ]
	# One audit record: who, whom, the counts, and no name.
	[ "$(admin_sql -c "SELECT actor, target, detail->>'events' FROM audit_log WHERE action = 'erase_user'")" = \
	    "ttlc|$MIA_ID|7" ]
	# The erased events are still UnifiedEvents.
	admin_sql -c "SELECT event FROM events WHERE user_id = '$MIA_ID' OR seq_no = 900" >erased.ndjson
	split_lines erased.ndjson erased
	ajv_validate "$SCHEMA_DIR/unified-event.v1.schema.json" erased
	grep -q '"msg":"erased user","userId":"'"$MIA_ID"'"' err.log
	! grep -qiF mia.sketches err.log real.json || false
}

@test "prune: erasure renames no member and changes no id or event type (a nickname 'user')" {
	tt-store <"$UNIFIED_EVENTS" >/dev/null 2>&1
	# A nickname that is also a member name (user, userId, ...), as the
	# application role may set it.
	app_sql -c "UPDATE users SET nickname = 'user' WHERE user_id = '$MIA_ID'"
	shapes >shapes-before.txt
	events_text >before.txt
	tt-prune --erase-user "$MIA_ID" >out.json 2>err.log
	[ "$(jq '.erased[0].events' out.json)" -ge 5 ]
	shapes >shapes-after.txt
	diff shapes-before.txt shapes-after.txt
	events_text >after.txt
	# The events that do not hold her id are byte for byte what they were.
	diff <(grep -vF "$MIA_ID" before.txt) <(grep -vF "$MIA_ID" after.txt)
	[ "$(grep -vcF "$MIA_ID" after.txt)" -gt 25 ]
	# Her names are nulled where she is named by id, not replaced in text.
	! grep -qF '[erased]' after.txt || false
	[ "$(hits after.txt)" -eq 0 ] || fail "traces left:" "$(traces after.txt)"
	valid_events
}

@test "prune: erasure changes no event type (a nickname 'chat'); free text loses it only as a word" {
	tt-store <"$UNIFIED_EVENTS" >/dev/null 2>&1
	app_sql -c "INSERT INTO users (user_id, nickname, first_seen, last_seen) VALUES ('42', 'chat', now(), now())"
	shapes >shapes-before.txt
	events_text >before.txt
	tt-prune --erase-user 42 >out.json 2>err.log
	shapes >shapes-after.txt
	diff shapes-before.txt shapes-after.txt
	events_text >after.txt
	# What changed: exactly the events whose free text holds the word,
	# computed here from the fixture.
	jq -r 'select([.. | objects | to_entries[] | select(.key | IN("text", "content", "comment", "describe", "description"))
	    | .value | strings | test("(^|[^[:alnum:]_])chat($|[^[:alnum:]_])"; "i")] | any) | .eventId' \
	    "$UNIFIED_EVENTS" | sort >expected.txt
	[ "$(wc -l <expected.txt)" -eq 2 ]
	diff <(diff before.txt after.txt | sed -n 's/^> \([0-9a-f]\{64\}\)|.*/\1/p' | sort) expected.txt
	[ "$(jq '.erased[0].events' out.json)" -eq 2 ]
	[ "$(admin_sql -c "SELECT DISTINCT event->'payload'->>'text' FROM events WHERE event->'payload'->>'text' LIKE 'reminder%'")" = \
	    'reminder: be kind in [erased], links get removed 🙏' ]
	[ "$(count "events WHERE event_type = 'CHAT' AND event->>'eventType' = 'CHAT' AND event->'raw'->>'type' = 'WebcastChatMessage'")" -eq \
	    "$(jq -s 'map(select(.eventType == "CHAT")) | length' "$UNIFIED_EVENTS")" ]
	valid_events
}

@test "prune: erasure works when the users row is gone, and again after itself" {
	store_fixture_with_mentions
	admin_sql -c "DELETE FROM users WHERE user_id = '$TOMASZ_ID'"
	dump before.sql
	grep -qF tomasz_w before.sql
	tt-prune --erase-user "$TOMASZ_ID" >out.json 2>err.log
	[ "$(jq '.erased[0].users' out.json)" -eq 0 ]
	[ "$(jq '.erased[0].events' out.json)" -gt 3 ]
	dump after.sql
	! grep -Fi -e tomasz_w -e 'Tomasz Wiśniewski' -e a81c4e7f20d94b3a9e6f1c5d8b2a7e40 after.sql || false
	grep -qF mia.sketches after.sql
	# A second erasure finds nothing more to change, and says so.
	tt-prune --erase-user "$TOMASZ_ID" >again.json 2>/dev/null
	[ "$(jq -c '.erased[0] | [.users, .events, .notes]' again.json)" = "[0,0,0]" ]
	[ "$(count "audit_log WHERE action = 'erase_user'")" -eq 2 ]
	# Two users in one run, each in its own transaction and audit record.
	tt-prune --erase-user "$MIA_ID" --erase-user 99 >two.json 2>/dev/null
	[ "$(jq -c '[.erased[].userId]' two.json)" = "[\"$MIA_ID\",\"99\"]" ]
	[ "$(count "audit_log WHERE action = 'erase_user'")" -eq 4 ]
}

@test "prune: as the owner, tt-prune also VACUUMs what it rewrote" {
	store_fixture_with_mentions
	DATABASE_URL=$("$TTLC_ROOT/scripts/pg" admin-url) tt-prune --erase-user "$MIA_ID" >out.json 2>err.log
	[ "$(jq -c .vacuumed out.json)" = '["events_20260222","users","user_notes","actions_log"]' ]
	[ "$(admin_sql -c "SELECT count(*) FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL
	    AND relname IN ('events_20260222', 'users', 'user_notes', 'actions_log')")" -eq 4 ]
	! grep -q 'until VACUUM' err.log || false
	[ "$(admin_sql -c "SELECT actor FROM audit_log WHERE action = 'erase_user'")" = ttlc_admin ]
}

@test "prune: a partition dropped while tt-prune waits to VACUUM is skipped with a warning, not a configuration error" {
	store_fixture_with_mentions
	aged_events 0 | jq -c "select(.user.userId == \"$MIA_ID\")" | tt-store >/dev/null 2>&1
	today=$(day 0)
	# Another session holds the first partition, so that tt-prune waits
	# to VACUUM it, and meanwhile drops the second one.
	admin_sql >other.log 2>&1 3>&- <<SQL &
BEGIN;
LOCK TABLE events_20260222 IN SHARE UPDATE EXCLUSIVE MODE;
DO \$\$ BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'public.events_20260222'::regclass AND NOT granted);
		PERFORM pg_sleep(0.05);
	END LOOP;
END \$\$;
DROP TABLE $today;
COMMIT;
SQL
	other=$!
	wait_lock events_20260222 ShareUpdateExclusiveLock
	DATABASE_URL=$("$TTLC_ROOT/scripts/pg" admin-url) run -0 --separate-stderr tt-prune --erase-user "$MIA_ID"
	wait "$other"
	[ "$(jq -c '[.erased[0].partitions, .vacuumed, .vacuumNeeded, .complete]' <<<"$output")" = \
	    "[[\"events_20260222\",\"$today\"],[\"events_20260222\",\"users\",\"user_notes\",\"actions_log\"],null,true]" ]
	[[ "$stderr" == *'"level":"warn"'*'"msg":"the table went away meanwhile; skipped"'*"$today"* ]]
}

@test "prune: a VACUUM that fails makes the report incomplete and leaves the tables in vacuumNeeded" {
	store_fixture_with_mentions
	# Another session holds users, and cancels tt-prune's VACUUM of it.
	admin_sql >other.log 2>&1 3>&- <<'SQL' &
BEGIN;
LOCK TABLE users IN SHARE UPDATE EXCLUSIVE MODE;
DO $$ BEGIN
	FOR i IN 1..600 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'public.users'::regclass AND NOT granted);
		PERFORM pg_sleep(0.05);
	END LOOP;
	PERFORM pg_cancel_backend(pid) FROM pg_locks WHERE relation = 'public.users'::regclass AND NOT granted;
END $$;
COMMIT;
SQL
	other=$!
	wait_lock users ShareUpdateExclusiveLock
	DATABASE_URL=$("$TTLC_ROOT/scripts/pg" admin-url) run -1 --separate-stderr tt-prune --erase-user "$MIA_ID"
	wait "$other"
	[ "$(jq -c '[.erased[0].events, .vacuumed, .vacuumNeeded, .complete]' <<<"$output")" = \
	    '[7,["events_20260222"],["users","user_notes","actions_log"],false]' ]
	[[ "$stderr" == *'"msg":"cannot VACUUM","sqlstate":"57014"'* ]]
	[[ "$stderr" == *'which did not run: run it as the owner","tables":"users user_notes actions_log"'* ]]
}

@test "prune: a second tt-prune is refused while one runs (advisory lock), with exit 75" {
	aged_events 200 | tt-store >/dev/null 2>&1
	# Hold the lock as tt-prune would, in a session of our own.
	app_sql -c "SELECT pg_advisory_lock(1953721443, 1)" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 3>&- &
	holder=$!
	for _ in $(seq 100); do
		[ "$(count "pg_locks WHERE locktype = 'advisory' AND classid = 1953721443 AND objid = 1 AND granted")" -eq 1 ] && break
		sleep 0.1
	done
	run -75 tt-prune
	[[ "$output" == *"another tt-prune is running"* ]]
	run -75 tt-prune --erase-user "$MIA_ID"
	[ "$(partitions | wc -l)" -eq 1 ]
	admin_sql -c "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
	    AND classid = 1953721443 AND objid = 1" >/dev/null
	wait "$holder" || true
	run -0 tt-prune
	[ "$(partitions | wc -l)" -eq 0 ]
}

@test "prune: the examples of tt-prune(1) run" {
	store_fixture_with_mentions
	ln -s "$TTLC_ROOT/test" test
	ln -s "$TTLC_ROOT/scripts" scripts
	man_examples tt-prune.1 3
}

@test "prune: the crontab example runs tt-prune and logs its report" {
	tab=$TTLC_ROOT/scripts/prune-crontab
	line=$(grep -v '^[[:space:]]*#' "$tab" | grep -E '^[0-9*]' | head -1)
	# minute hour day month weekday user command
	read -r minute hour _ _ _ user cmd <<<"$line"
	[ "$minute $hour $user" = "17 3 ttlc" ]
	# The command, with the env file and logger of this test.
	printf 'DATABASE_URL=%s\nEVENT_RETENTION_DAYS=90\nRECONNECT_MAX_ATTEMPTS=5\n' "$DATABASE_URL" >prune.env
	mkdir bin
	printf '#!/bin/sh\ncat >>"%s/syslog"\n' "$PWD" >bin/logger
	chmod +x bin/logger
	aged_events 200 | tt-store >/dev/null 2>&1
	cmd=${cmd//\/etc\/ttlc\/prune.env/$PWD/prune.env}
	PATH=$PWD/bin:$PATH sh -c "$cmd"
	grep -q '"msg":"exit".*"status":0' syslog
	[ "$(grep '^{"dryRun"' syslog | jq '.partitions | length')" -eq 1 ]
	[ "$(partitions | wc -l)" -eq 0 ]
}
