#!/usr/bin/env bats
# Contracts: the fixtures and tt-normalize's output checked against the JSON
# Schemas in schema/ by an independent validator (ajv, draft 2020-12, with
# ajv-formats), one line per file.

load helpers

setup() {
	ttlc_setup
}

@test "contract: every line of unified-events.ndjson is a valid UnifiedEvent v1" {
	split_lines "$UNIFIED_EVENTS" events
	[ "$(ls events | wc -l)" -eq "$(wc -l <"$UNIFIED_EVENTS")" ]
	ajv_validate "$SCHEMA_DIR/unified-event.v1.schema.json" events
}

@test "contract: every event tt-normalize writes for raw-frames.ndjson is a valid UnifiedEvent v1" {
	tt-normalize "$RAW_FRAMES" >out.ndjson 2>err.log
	[ "$(wc -l <out.ndjson)" -eq "$(wc -l <"$RAW_FRAMES")" ]
	split_lines out.ndjson events
	ajv_validate "$SCHEMA_DIR/unified-event.v1.schema.json" events
}

@test "contract: every line of raw-frames.ndjson is a valid raw.v1 envelope" {
	split_lines "$RAW_FRAMES" raw
	[ "$(ls raw | wc -l)" -eq "$(wc -l <"$RAW_FRAMES")" ]
	ajv_validate "$SCHEMA_DIR/raw.v1.schema.json" raw
}

@test "contract: ajv also rejects the dlq-frames lines tt-normalize rejects as bad raw.v1" {
	# The lines whose reason is a raw.v1 schema failure, not a parse
	# failure (ajv cannot read those) or a failure after the raw check.
	paste -d '\t' "$DLQ_REASONS" <(LC_ALL=C cat "$DLQ_FRAMES") |
	    LC_ALL=C awk -F '\t' '$1 !~ /^(invalid_json|invalid_utf8|too_deep|too_large|line_too_long|schema_violation|internal)$/ { sub(/^[^\t]*\t/, ""); print }' >bad-raw.ndjson
	[ "$(wc -l <bad-raw.ndjson)" -ge 10 ]
	split_lines bad-raw.ndjson bad
	ajv_rejects "$SCHEMA_DIR/raw.v1.schema.json" bad
}

@test "contract: a line dead-lettered as schema_violation is valid raw.v1 (the event, not the input, failed)" {
	paste -d '\t' "$DLQ_REASONS" <(LC_ALL=C cat "$DLQ_FRAMES") |
	    LC_ALL=C awk -F '\t' '$1 == "schema_violation" { sub(/^[^\t]*\t/, ""); print }' >violation.ndjson
	[ -s violation.ndjson ] || skip "no schema_violation line in dlq-frames.ndjson"
	split_lines violation.ndjson lines
	ajv_validate "$SCHEMA_DIR/raw.v1.schema.json" lines
}

@test "contract: negative control - broken events fail ajv" {
	mkdir broken
	first=$(head -n 1 "$UNIFIED_EVENTS")
	gift=$(jq -c 'select(.eventType == "GIFT")' "$UNIFIED_EVENTS" | head -n 1)
	chat=$(jq -c 'select(.eventType == "CHAT")' "$UNIFIED_EVENTS" | head -n 1)
	jq -c '.eventType = "NOPE"' <<<"$first" >broken/event-type.json
	jq -c 'del(.eventId)' <<<"$first" >broken/no-event-id.json
	jq -c '.eventId = "ABC"' <<<"$first" >broken/event-id-pattern.json
	jq -c '.seqNo = "1"' <<<"$first" >broken/seqno-string.json
	jq -c '.timestamp = "2026-02-30T10:00:00Z"' <<<"$first" >broken/timestamp.json
	jq -c '.extra = 1' <<<"$first" >broken/extra-member.json
	jq -c '.payload.streakState = "done"' <<<"$gift" >broken/gift-streak-state.json
	jq -c '.payload.coins = -1' <<<"$gift" >broken/gift-coins.json
	jq -c 'del(.user)' <<<"$chat" >broken/chat-no-user.json
	jq -c '.user.userId = "12ab"' <<<"$chat" >broken/chat-user-id.json
	ajv_rejects "$SCHEMA_DIR/unified-event.v1.schema.json" broken
	# The same events unbroken pass, so the failures above are the edits.
	mkdir fine
	printf '%s\n' "$first" >fine/first.json
	printf '%s\n' "$gift" >fine/gift.json
	printf '%s\n' "$chat" >fine/chat.json
	ajv_validate "$SCHEMA_DIR/unified-event.v1.schema.json" fine
}
