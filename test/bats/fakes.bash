# fakes.bash - start, stop and read the fake TikTok and the fake Euler
# (test/fakes/) from a bats suite: `load helpers` then `load fakes`.
#
#   fake_tiktok_start SCENARIO_FILE [--tls]   exports FAKE_TT_URL (http(s)://127.0.0.1:PORT),
#                                             FAKE_TT_PORT, FAKE_TT_PID
#   fake_tiktok_stop
#   fake_tiktok_log                           prints the fake's JSON log
#   fake_euler_start SCENARIO_FILE [--tls]    exports FAKE_EULER_URL (ws(s)://127.0.0.1:PORT),
#                                             FAKE_EULER_HTTP (http(s)://, for the log),
#                                             FAKE_EULER_PORT, FAKE_EULER_PID
#   fake_euler_stop
#   fake_euler_log
#   fakes_stop                                stops whichever runs (for teardown)
#   fake_scenario KIND FILE                   replaces the running fake's scenario (KIND tiktok|euler)
#   fake_reset KIND                           clears its log and restarts its per-room/user order
#   fake_node ARGS...                         node with ws and protobufjs resolvable (NODE_PATH)
#
# With --tls, FAKE_CA_FILE names a CA (made with openssl into the test's
# tmp dir) that signed the fake's certificate for IP 127.0.0.1 and DNS
# localhost. The fake's stderr goes to fake-tiktok.err / fake-euler.err in
# that dir. A fake started in setup_file lives in BATS_FILE_TMPDIR.

FAKES_DIR=$TTLC_ROOT/test/fakes
FAKES_NODE_MODULES=${TTLC_NODE_MODULES:-$TTLC_ROOT/build/npm/node_modules}

# fakes_tmp - where a fake's files go: the test's tmp dir, else the file's.
fakes_tmp() {
	if [ -n "${BATS_TEST_TMPDIR:-}" ] && [ -d "$BATS_TEST_TMPDIR" ]; then
		echo "$BATS_TEST_TMPDIR"
	elif [ -n "${BATS_FILE_TMPDIR:-}" ]; then
		echo "$BATS_FILE_TMPDIR"
	else
		echo "${TMPDIR:-/tmp}"
	fi
}

fake_node() {
	NODE_PATH=$FAKES_NODE_MODULES${NODE_PATH:+:$NODE_PATH} node "$@"
}

# fakes_tls_ca DIR - a CA and a server certificate for 127.0.0.1/localhost
# in DIR/fake-tls (made once per DIR); exports FAKE_CA_FILE.
fakes_tls_ca() {
	local d=$1/fake-tls
	if [ ! -s "$d/server.pem" ]; then
		mkdir -p "$d" || return 1
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
		    'keyUsage=critical,digitalSignature,keyEncipherment' \
		    'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost' >"$d/server.ext"
		if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj '/CN=ttlc test CA' \
		    -addext 'basicConstraints=critical,CA:TRUE' \
		    -addext 'keyUsage=critical,keyCertSign,cRLSign' >"$d/openssl.log" 2>&1 ||
		    ! openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		    -keyout "$d/server.key" -out "$d/server.csr" -subj '/CN=localhost' >>"$d/openssl.log" 2>&1 ||
		    ! openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		    -CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.pem" >>"$d/openssl.log" 2>&1; then
			echo "fakes: openssl failed: $(cat "$d/openssl.log")" >&2
			return 1
		fi
	fi
	FAKE_TLS_DIR=$d
	export FAKE_CA_FILE=$d/ca.pem
}

# fakes_start KIND SCENARIO [--tls] - starts test/fakes/fake-KIND.js on a
# free loopback port (another one if that was taken meanwhile) and waits
# until it listens; sets FAKES_PID, FAKES_PORT, FAKES_SCHEME (http|https).
fakes_start() {
	local kind=$1 scenario=$2 tls=${3:-} dir pf port
	local -a extra=()

	if [ ! -f "$scenario" ]; then
		echo "fakes: no scenario file $scenario" >&2
		return 1
	fi
	if [ -n "$tls" ] && [ "$tls" != --tls ]; then
		echo "fakes: fake_${kind}_start SCENARIO_FILE [--tls]" >&2
		return 1
	fi
	dir=$(fakes_tmp)
	FAKES_SCHEME=http
	if [ "$tls" = --tls ]; then
		fakes_tls_ca "$dir" || return 1
		extra=(--tls-cert "$FAKE_TLS_DIR/server.pem" --tls-key "$FAKE_TLS_DIR/server.key")
		FAKES_SCHEME=https
	fi
	pf=$dir/fake-$kind.port
	for _ in 1 2 3 4 5; do
		port=$(free_port) || return 1
		rm -f "$pf"
		# 3>&- : bats waits for fd 3 to close before it ends a test.
		node "$FAKES_DIR/fake-$kind.js" --scenario "$scenario" --port-file "$pf" --port "$port" \
		    "${extra[@]}" </dev/null >>"$dir/fake-$kind.err" 2>&1 3>&- &
		FAKES_PID=$!
		for _ in $(seq 1 200); do
			if [ -s "$pf" ]; then
				FAKES_PORT=$(cat "$pf")
				return 0
			fi
			kill -0 "$FAKES_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$FAKES_PID" 2>/dev/null || true
		wait "$FAKES_PID" 2>/dev/null || true
		grep -q EADDRINUSE "$dir/fake-$kind.err" || break
	done
	echo "fakes: fake-$kind did not start: $(tail -5 "$dir/fake-$kind.err")" >&2
	return 1
}

# fakes_kill PID - stops a fake: TERM, then KILL after 5 s.
fakes_kill() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	# Reaps it when this shell started it; bats runs under set -e.
	wait "$pid" 2>/dev/null || true
	return 0
}

# fakes_curl URL ARGS... - curl that trusts FAKE_CA_FILE for https.
fakes_curl() {
	local url=$1
	shift
	if [[ $url == https:* ]]; then
		curl -sS --max-time 10 --cacert "$FAKE_CA_FILE" "$@" "$url"
	else
		curl -sS --max-time 10 "$@" "$url"
	fi
}

fake_tiktok_start() {
	fakes_start tiktok "$@" || return 1
	export FAKE_TT_PID=$FAKES_PID FAKE_TT_PORT=$FAKES_PORT
	export FAKE_TT_URL=$FAKES_SCHEME://127.0.0.1:$FAKES_PORT
}

fake_tiktok_stop() {
	fakes_kill "${FAKE_TT_PID:-}"
	unset FAKE_TT_PID
}

fake_tiktok_log() {
	fakes_curl "$FAKE_TT_URL/_fake/log"
}

fake_euler_start() {
	fakes_start euler "$@" || return 1
	export FAKE_EULER_PID=$FAKES_PID FAKE_EULER_PORT=$FAKES_PORT
	export FAKE_EULER_HTTP=$FAKES_SCHEME://127.0.0.1:$FAKES_PORT
	if [ "$FAKES_SCHEME" = https ]; then
		export FAKE_EULER_URL=wss://127.0.0.1:$FAKES_PORT
	else
		export FAKE_EULER_URL=ws://127.0.0.1:$FAKES_PORT
	fi
}

fake_euler_stop() {
	fakes_kill "${FAKE_EULER_PID:-}"
	unset FAKE_EULER_PID
}

fake_euler_log() {
	fakes_curl "$FAKE_EULER_HTTP/_fake/log"
}

fakes_stop() {
	fake_tiktok_stop
	fake_euler_stop
}

# fakes_base KIND - the running fake's http(s) base URL.
fakes_base() {
	case $1 in
	tiktok) echo "$FAKE_TT_URL" ;;
	euler) echo "$FAKE_EULER_HTTP" ;;
	*) echo "fakes: KIND is tiktok or euler" >&2; return 1 ;;
	esac
}

fake_scenario() {
	local base
	base=$(fakes_base "$1") || return 1
	fakes_curl "$base/_fake/scenario" -f -X POST -H 'Content-Type: application/json' --data-binary "@$2" >/dev/null
}

fake_reset() {
	local base
	base=$(fakes_base "$1") || return 1
	fakes_curl "$base/_fake/reset" -f -X POST >/dev/null
}
