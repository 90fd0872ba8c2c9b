/* tt_normalize.h - raw.v1 line -> UnifiedEvent v1 line (or a DLQ record).
 *
 * The mapping is the seed's section 5 table, specified field by field in
 * ttlc-event(5). Input is checked against schema/raw.v1.schema.json and
 * every event against schema/unified-event.v1.schema.json before it is
 * returned; a line that fails either becomes a DLQ record instead.
 */
#ifndef TT_NORMALIZE_H
#define TT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tt_normalizer;

struct tt_norm_result {
	bool dlq;                  /* text is a DLQ record, not an event */
	const char *reason;        /* dlq: the record's reason */
	const char *error;         /* dlq: the record's error */
	const unsigned char *text; /* the JSON line, no newline */
	size_t len;
};

/* Returns a normalizer, or NULL with a reason in errbuf. */
struct tt_normalizer *tt_normalizer_new(char *errbuf, size_t errsz);
void tt_normalizer_free(struct tt_normalizer *n);

/* Parse whole lines (true) instead of only what the mapping reads (the
 * default); the output must not differ, and the tests check that it does
 * not. */
void tt_normalizer_full_parse(struct tt_normalizer *n, bool full);

/* Normalizes one input line (lineno is 1-based; too_long says that line
 * is only the start of an over-long line). Fills *res, whose text is valid
 * until the next call. Returns false only when even a DLQ record could not
 * be produced (out of memory). */
bool tt_normalizer_line(struct tt_normalizer *n, const char *line, size_t len,
    uint64_t lineno, bool too_long, struct tt_norm_result *res);

#endif
