#!/usr/bin/env bats
# Every EXAMPLES block of every man page runs and succeeds (STYLE.md: the
# examples are tests, so the documentation cannot rot). Each block runs
# with bash -e -o pipefail in a directory that looks like the source tree.

load helpers

# The examples that store or replay use a private PostgreSQL and Redis,
# started here as make run would start them (scripts/pg, redis-server).
setup_file() {
	pg_start_file
	redis_start_file
}

teardown_file() {
	redis_stop_file
	pg_stop_file
}

setup() {
	ttlc_setup
	ln -s "$TTLC_ROOT/test" test
	ln -s "$TTLC_ROOT/scripts" scripts
}

@test "man: tt-normalize(1) examples run" {
	man_examples tt-normalize.1
}

@test "man: tt-ingest(1) examples run" {
	man_examples tt-ingest.1
}

@test "man: ttlc(7) examples run" {
	man_examples ttlc.7
}

@test "man: tt-xadd(1) examples run" {
	man_examples tt-xadd.1
}

@test "man: tt-xread(1) examples run" {
	man_examples tt-xread.1
}

@test "man: tt-xack(1) examples run" {
	man_examples tt-xack.1
}

@test "man: tt-store(1) examples run" {
	man_examples tt-store.1
}
