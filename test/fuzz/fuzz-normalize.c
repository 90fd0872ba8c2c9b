/* fuzz-normalize - libFuzzer target for one raw.v1 line through the
 * normalizer: whatever the bytes, the result is one JSON object, either a
 * UnifiedEvent that passes the schema or a dlq.v1 record, the normalizer's
 * partial parse gives the same result as a full one, and nothing crashes
 * or leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_json.h"
#include "tt_normalize.h"
#include "tt_schema.h"
#include "tt_schemas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tt_normalizer *n, *full;
	static struct tt_schema *event, *dlq;
	static struct tt_json_parser *p;
	struct tt_norm_result res;
	struct tt_arena a;
	struct tt_json *v;
	char err[512];
	char *copy;

	if (n == NULL) {
		n = tt_normalizer_new(err, sizeof err);
		full = tt_normalizer_new(err, sizeof err);
		if (full == NULL)
			abort();
		tt_normalizer_full_parse(full, true);
		/* A read the filter tables miss aborts, even when the member is
		 * absent from the input: the corpus need not contain it. */
		tt_json_check_filters(true);
		event = tt_schema_compile(tt_schema_unified_event_v1, tt_schema_unified_event_v1_len, err, sizeof err);
		dlq = tt_schema_compile(tt_schema_dlq_v1, tt_schema_dlq_v1_len, err, sizeof err);
		p = tt_json_parser_new();
		if (n == NULL || event == NULL || dlq == NULL || p == NULL)
			abort();
	}
	if (!tt_normalizer_line(n, (const char *)data, size, 1, false, &res))
		abort();
	/* The filtered parse (only what the mapping reads) must give exactly
	 * what the full parse gives; failedAt (a clock) aside, byte for byte. */
	{
		struct tt_norm_result fres;
		char *a_copy = malloc(res.len + 1);

		memcpy(a_copy, res.text, res.len);
		if (!tt_normalizer_line(full, (const char *)data, size, 1, false, &fres))
			abort();
		if (fres.dlq != res.dlq || (!res.dlq && (fres.len != res.len || memcmp(fres.text, a_copy, res.len) != 0)) ||
		    (res.dlq && strcmp(fres.reason, res.reason) != 0)) {
			fprintf(stderr, "filtered and full parse differ:\n%.*s\n%.*s\n", (int)res.len, a_copy,
			    (int)fres.len, (const char *)fres.text);
			abort();
		}
		free(a_copy);
	}
	/* The result must itself be valid against its own schema. */
	copy = malloc(res.len + 1);
	memcpy(copy, res.text, res.len);
	tt_arena_init(&a, 64u << 20);
	if (tt_json_parse(p, &a, copy, res.len, &v, err, sizeof err) != TT_JSON_OK)
		abort();
	if (!tt_schema_validate(res.dlq ? dlq : event, v, NULL)) {
		fprintf(stderr, "output fails its schema: %.*s\n", (int)res.len, copy);
		abort();
	}
	tt_arena_free(&a);
	free(copy);
	return 0;
}
