# helpers.bash - shared setup for the bats suites (load 'helpers').
#
# Environment (set by scripts/test; defaults for a manual `bats test/bats`):
#   TTLC_ROOT  the repository root
#   PATH       starts with the directory of the binaries under test
#   AJV        the ajv-cli binary (default: $TTLC_ROOT/build/npm/node_modules/.bin/ajv,
#              then ajv on PATH)

TTLC_ROOT=${TTLC_ROOT:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
export TTLC_ROOT
FIXTURES=$TTLC_ROOT/test/fixtures
SCHEMA_DIR=$TTLC_ROOT/schema
RAW_FRAMES=$FIXTURES/raw-frames.ndjson
DLQ_FRAMES=$FIXTURES/dlq-frames.ndjson
DLQ_REASONS=$FIXTURES/dlq-frames.reasons
UNIFIED_EVENTS=$FIXTURES/unified-events.ndjson

# Without a runner, prefer the sanitizer build, then the release build.
if ! command -v tt-normalize >/dev/null 2>&1; then
	for d in "$TTLC_ROOT/build/asan/bin" "$TTLC_ROOT/build/release/bin"; do
		if [ -x "$d/tt-normalize" ]; then
			PATH=$d:$PATH
			break
		fi
	done
fi

# Every test runs in a directory of its own, removed by bats afterwards.
ttlc_setup() {
	cd "$BATS_TEST_TMPDIR" || return 1
	# Timestamps in logs and DLQ records stay UTC whatever the host says.
	export TZ=UTC LOG_LEVEL=info
}

# run_normalize ARGS... - runs tt-normalize; stdout goes to out.ndjson,
# stderr to err.log, the exit status to $status. Redirect stdin on the call.
run_normalize() {
	status=0
	tt-normalize "$@" >out.ndjson 2>err.log || status=$?
}

# exit_log - the "exit" record tt-normalize wrote to err.log, compact.
exit_log() {
	jq -cR 'fromjson? | select(.msg == "exit")' err.log
}

# exit_counts - "in out dlq blank status" from the exit record.
exit_counts() {
	exit_log | jq -r '"\(.in) \(.out) \(.dlq) \(.blank) \(.status)"'
}

# fail MESSAGE... - ends the test with a message on the bats report.
fail() {
	printf '%s\n' "$@" >&2
	return 1
}

# expect_status WANT - checks $status, showing stderr when it differs.
expect_status() {
	if [ "$status" -ne "$1" ]; then
		fail "exit status $status, want $1" "--- stderr:" "$(cat err.log 2>/dev/null)"
		return 1
	fi
}

# split_lines FILE DIR - writes line N of FILE to DIR/line-NNNN.json.
split_lines() {
	mkdir -p "$2"
	awk -v dir="$2" '{ f = sprintf("%s/line-%04d.json", dir, NR); print > f; close(f) }' "$1"
}

# ---- ajv-cli (JSON Schema 2020-12, with ajv-formats) -----------------------

# require_ajv - sets AJV_BIN and AJV_FORMATS, or fails the test.
require_ajv() {
	local c real nm

	AJV_BIN=
	for c in "${AJV:-}" "$TTLC_ROOT/build/npm/node_modules/.bin/ajv" "$(command -v ajv 2>/dev/null)"; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			AJV_BIN=$c
			break
		fi
	done
	if [ -z "$AJV_BIN" ]; then
		fail "ajv-cli not found: set AJV to the ajv binary (npm install ajv-cli@5 ajv-formats@3)"
		return 1
	fi
	# ajv -c resolves a bare module name from the current directory, so
	# name ajv-formats by its path in the node_modules that holds ajv-cli.
	real=$(readlink -f "$AJV_BIN")
	nm=${real%/ajv-cli/*}
	if [ -d "$nm/ajv-formats" ]; then
		AJV_FORMATS=$nm/ajv-formats
	else
		AJV_FORMATS=ajv-formats
		export NODE_PATH=$nm${NODE_PATH:+:$NODE_PATH}
	fi
}

# ajv_run SCHEMA DIR - runs ajv on every DIR/*.json; sets ajv_files,
# ajv_valid, ajv_invalid and ajv_rc, the report in ajv.log. An empty DIR
# is an error, not a pass.
ajv_run() {
	local schema=$1 dir=$2

	require_ajv || return 1
	ajv_files=$(find "$dir" -maxdepth 1 -name '*.json' | wc -l)
	if [ "$ajv_files" -eq 0 ]; then
		fail "no files to validate in $dir"
		return 1
	fi
	ajv_rc=0
	"$AJV_BIN" validate --spec=draft2020 --allow-union-types -c "$AJV_FORMATS" \
	    -s "$schema" -d "$dir/*.json" >ajv.log 2>&1 || ajv_rc=$?
	ajv_valid=$(grep -c ' valid$' ajv.log || true)
	ajv_invalid=$(grep -c ' invalid$' ajv.log || true)
}

# ajv_validate SCHEMA DIR - succeeds only when ajv reports each DIR/*.json
# valid against SCHEMA.
ajv_validate() {
	ajv_run "$1" "$2" || return 1
	if [ "$ajv_rc" -ne 0 ] || [ "$ajv_valid" -ne "$ajv_files" ]; then
		fail "ajv: $ajv_valid of $ajv_files valid against $(basename "$1") (exit $ajv_rc)" "$(head -c 4000 ajv.log)"
		return 1
	fi
}

# ajv_rejects SCHEMA DIR - succeeds only when ajv reports every DIR/*.json
# invalid (the negative control: proves the check can fail).
ajv_rejects() {
	ajv_run "$1" "$2" || return 1
	if [ "$ajv_rc" -eq 0 ] || [ "$ajv_invalid" -ne "$ajv_files" ]; then
		fail "ajv: $ajv_invalid of $ajv_files rejected by $(basename "$1") (exit $ajv_rc), want all" "$(head -c 4000 ajv.log)"
		return 1
	fi
}

# free_port - prints a loopback TCP port that nothing listens on now.
free_port() {
	local port
	for port in $(shuf -i 20000-39999 -n 50); do
		if ! (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# ---- man page examples (STYLE.md: the examples are tests) -----------------

# man_examples PAGE [MIN] - runs each EXAMPLES block of man/PAGE with
# bash -e -o pipefail in the current directory (make it look like the
# source tree first: links to test/ and scripts/). Each block must succeed
# and print something (kept in PAGE-N.out); at least MIN blocks (default 1).
man_examples() {
	local page=$TTLC_ROOT/man/$1 min=${2:-1} n=0 block= line

	[ -f "$page" ] || { fail "no man page $1"; return 1; }
	while IFS= read -r line || [ -n "$block" ]; do
		if [ -n "$line" ]; then
			block+="$line"$'\n'
			continue
		fi
		[ -n "$block" ] || continue
		n=$((n + 1))
		if ! bash -e -o pipefail -c "$block" >"$1-$n.out" 2>"$1-$n.err"; then
			fail "example $n of $1 failed:" "$block" "$(cat "$1-$n.err")"
			return 1
		fi
		if [ ! -s "$1-$n.out" ]; then
			fail "example $n of $1 printed nothing:" "$block"
			return 1
		fi
		block=
	done < <("$TTLC_ROOT/scripts/man-examples" "$page")
	[ "$n" -ge "$min" ] || { fail "$1: $n examples, want at least $min"; return 1; }
}

# ---- private servers: a suite that needs one starts its own ---------------

# pg_start_file - from setup_file: a private PostgreSQL 15 (scripts/pg) on a
# free loopback port under BATS_FILE_TMPDIR, schema applied. Exports
# TTLC_PG_DIR, TTLC_PG_PORT and DATABASE_URL (the application role).
pg_start_file() {
	local port
	port=$(free_port) || return 1
	export TTLC_PG_DIR=$BATS_FILE_TMPDIR/pg TTLC_PG_PORT=$port
	if ! "$TTLC_ROOT/scripts/pg" start 3>&- >"$BATS_FILE_TMPDIR/pg-start.log" 2>&1; then
		cat "$BATS_FILE_TMPDIR/pg-start.log" >&2
		return 1
	fi
	DATABASE_URL=$("$TTLC_ROOT/scripts/pg" url)
	export DATABASE_URL
}

# pg_stop_file - from teardown_file: the server and its data gone.
pg_stop_file() {
	"$TTLC_ROOT/scripts/pg" destroy >/dev/null 2>&1 || true
}

# admin_sql ARGS... / app_sql ARGS... - psql as the schema's owner / as
# the application role of DATABASE_URL; quiet, tuples only, stop on error.
# The passwords go to psql through the environment, never argv.
admin_sql() {
	(. "$TTLC_ROOT/scripts/pg-env"; pg_env "$("$TTLC_ROOT/scripts/pg" admin-url)"
	psql -X -q -At -v ON_ERROR_STOP=1 "$@")
}
app_sql() {
	(. "$TTLC_ROOT/scripts/pg-env"; pg_env "$DATABASE_URL"; psql -X -q -At -v ON_ERROR_STOP=1 "$@")
}

# pg_clear [TABLE...] - every event gone (its partitions dropped: events
# itself refuses DELETE and TRUNCATE), and sessions, streams, users and
# the TABLEs emptied.
pg_clear() {
	local more=
	[ $# -eq 0 ] || more=", $(IFS=,; echo "$*")"
	admin_sql <<SQL
SELECT format('DROP TABLE %s', inhrelid::regclass) FROM pg_inherits
WHERE inhparent = 'events'::regclass \gexec
TRUNCATE sessions, streams, users$more CASCADE;
SQL
}

# redis_start_file - from setup_file: a private redis-server on a free
# loopback port, nothing persisted. Exports TTLC_TEST_REDIS_PORT and
# REDIS_URL.
redis_start_file() {
	local port
	port=$(free_port) || return 1
	export TTLC_TEST_REDIS_PORT=$port REDIS_URL="redis://127.0.0.1:$port"
	redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
	    --dir "$BATS_FILE_TMPDIR" --daemonize yes --logfile "$BATS_FILE_TMPDIR/redis.log" \
	    --pidfile "$BATS_FILE_TMPDIR/redis.pid" 3>&-
	for _ in $(seq 1 50); do
		redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "redis-server did not start" >&2
	return 1
}

# redis_stop_file - from teardown_file.
redis_stop_file() {
	redis-cli -p "$TTLC_TEST_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}
