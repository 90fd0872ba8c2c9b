/* tt_time.h - wall-clock and monotonic time, ISO-8601 / RFC 3339 text. */
#ifndef TT_TIME_H
#define TT_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "2026-02-22T10:00:00.123Z" plus the terminating NUL. */
#define TT_TIME_ISO_LEN 25

/* Writes the current UTC time with milliseconds into buf. */
void tt_time_now_iso(char buf[TT_TIME_ISO_LEN]);

/* Writes the UTC time ms (milliseconds since the epoch) into buf. */
void tt_time_format_iso(int64_t ms, char buf[TT_TIME_ISO_LEN]);

/* Whether s[0..len) is an RFC 3339 date-time (the JSON Schema "date-time"
 * format): YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 't'/'z' allowed. */
bool tt_time_valid_iso(const char *s, size_t len);

/* Parses an RFC 3339 date-time into milliseconds since the epoch (UTC).
 * Returns false when s is not one. */
bool tt_time_parse_iso(const char *s, size_t len, int64_t *ms);

/* Milliseconds of CLOCK_REALTIME / CLOCK_MONOTONIC. */
int64_t tt_time_now_ms(void);
int64_t tt_time_mono_ms(void);

#endif
