/* tt_hash.h - sha256 as lowercase hex (OpenSSL), and random UUIDs. */
#ifndef TT_HASH_H
#define TT_HASH_H

#include <stdbool.h>
#include <stddef.h>

#define TT_SHA256_HEX_LEN 65 /* 64 hex digits and a NUL */
#define TT_UUID_LEN 37       /* 36 characters and a NUL */

struct tt_sha256;

/* A reusable hashing context (cheaper than one per call); NULL on failure. */
struct tt_sha256 *tt_sha256_new(void);
void tt_sha256_free(struct tt_sha256 *h);

/* Writes the sha256 of data[0..len) as 64 lowercase hex digits. */
bool tt_sha256_hex(struct tt_sha256 *h, const void *data, size_t len, char out[TT_SHA256_HEX_LEN]);

/* Writes a random (version 4) UUID, lowercase. False if the system has no
 * randomness to give. */
bool tt_uuid_v4(char out[TT_UUID_LEN]);

/* Whether s[0..len) is a UUID in the 8-4-4-4-12 hex form, either case. */
bool tt_uuid_valid(const char *s, size_t len);

#endif
