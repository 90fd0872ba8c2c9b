/* tt_schema.h - validate a tt_json tree against a JSON Schema (2020-12).
 *
 * The schemas in schema/ are the contracts; this is how a command holds
 * itself to them at run time. It implements the keywords those schemas use:
 * type, const, enum, properties, required, additionalProperties,
 * patternProperties, items, minItems, minLength, maxLength, minimum, maximum,
 * pattern, format (date-time, uuid), allOf, anyOf, oneOf, not, if/then/else,
 * $ref to "#/$defs/<name>", and boolean schemas. A schema using any other
 * keyword is refused at compile time, so it cannot be silently ignored.
 * Patterns are POSIX extended regular expressions; simple anchored ones are
 * matched by a small built-in matcher (glibc's regexec allocates per call).
 */
#ifndef TT_SCHEMA_H
#define TT_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "tt_json.h"

struct tt_schema;

/* What failed, for a DLQ record: the instance path ("/payload/text", "" for
 * the root), the failing keyword and a sentence. */
struct tt_schema_error {
	char path[256];
	char keyword[32];
	char message[256];
};

/* Compiles the schema in text[0..len). Returns NULL and writes a reason into
 * errbuf when the text is not a schema this validator fully understands. */
struct tt_schema *tt_schema_compile(const char *text, size_t len, char *errbuf, size_t errsz);
void tt_schema_free(struct tt_schema *s);

/* Whether v is valid; on false, *err (if not NULL) says why. */
bool tt_schema_validate(const struct tt_schema *s, const struct tt_json *v,
    struct tt_schema_error *err);

#endif
