#!/usr/bin/env bats
# The libFuzzer targets, briefly (make fuzz runs them longer): the JSON
# parser against yajl, and the whole normalizer on arbitrary lines.

setup() {
	cd "$TTLC_ROOT"
}

@test "fuzz: JSON parser agrees with yajl and the normalizer never emits schema-invalid output" {
	[ -x build/fuzz/fuzz-json ] && [ -x build/fuzz/fuzz-normalize ]
	run scripts/fuzz "${TTLC_FUZZ_SECONDS:-15}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Done' <<<"$output")" -eq 2 ]
}
