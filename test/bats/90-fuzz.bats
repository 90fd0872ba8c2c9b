#!/usr/bin/env bats
# The libFuzzer targets, briefly (make fuzz runs them longer): the JSON
# parser against yajl, the whole normalizer on arbitrary lines, and the
# webcast push frame decoder on arbitrary bytes.

setup() {
	cd "$TTLC_ROOT"
}

@test "fuzz: JSON parser agrees with yajl, the normalizer never emits schema-invalid output, the frame decoder holds" {
	[ -x build/fuzz/fuzz-json ] && [ -x build/fuzz/fuzz-normalize ] && [ -x build/fuzz/fuzz-webcast ]
	run scripts/fuzz "${TTLC_FUZZ_SECONDS:-15}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Done' <<<"$output")" -eq 3 ]
}
