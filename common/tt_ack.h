/* tt_ack.h - the _ack receipt: which stream entry a line came from.
 *
 * tt-xread adds "_ack": "<stream key>\t<group>\t<entry id>" to every line
 * it emits (DESIGN.md, "Receipts"); every filter copies it; tt-xack reads it
 * back to acknowledge the entry. The text is opaque to everyone else.
 */
#ifndef TT_ACK_H
#define TT_ACK_H

#include <stdbool.h>
#include <stddef.h>

struct tt_ack {
	const char *stream, *group, *id; /* point into the receipt text */
	size_t stream_len, group_len, id_len;
};

/* Writes the receipt for an entry into out (size outsz); false if it does
 * not fit or a name holds a tab. */
bool tt_ack_format(char *out, size_t outsz, const char *stream, const char *group, const char *id, size_t id_len);

/* Splits a receipt; false when s[0..len) is not one. */
bool tt_ack_parse(const char *s, size_t len, struct tt_ack *out);

#endif
