#!/usr/bin/env bats
# tt-unit: the common library's unit tests (test/unit/tt-unit.c), as TAP.

load helpers

setup() {
	ttlc_setup
}

@test "tt-unit: every unit check of common/ passes" {
	run tt-unit
	if [ "$status" -ne 0 ] || grep -q '^not ok' <<<"$output"; then
		grep -v '^ok' <<<"$output" >&2
		fail "tt-unit exited $status"
	fi
	# The plan matches the checks that ran, and there are plenty of them.
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$output")
	[ -n "$plan" ] && [ "$plan" -ge 100 ]
	[ "$(grep -c '^ok ' <<<"$output")" -eq "$plan" ]
}
