/* tt_log.h - structured JSON logging to stderr.
 *
 * One JSON object per line: {"ts":..,"level":..,"cmd":..,"msg":..,<fields>}.
 * LOG_LEVEL (debug, info, warn, error) sets the threshold; default info.
 * Never pass a secret (SESSION_ID, EULER_API_KEY, a password) as a field:
 * use tt_log_redact_url() for connection strings.
 *
 * Use:
 *	struct tt_logrec r;
 *	if (tt_log_begin(&r, TT_LOG_INFO, "done")) {
 *		tt_log_uint(&r, "in", n);
 *		tt_log_end(&r);
 *	}
 */
#ifndef TT_LOG_H
#define TT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tt_log_level { TT_LOG_DEBUG, TT_LOG_INFO, TT_LOG_WARN, TT_LOG_ERROR };

struct tt_logrec {
	void *gen; /* yajl_gen building the line; NULL when the level is filtered */
};

/* Sets the command name and reads LOG_LEVEL. An unknown level is reported
 * and info is used. Also holds any closed fd 0-2 with /dev/null, so no file
 * the command opens lands on a standard number. Call first in main(). */
void tt_log_init(const char *cmd);

/* Whether standard output was closed when tt_log_init() ran (it then holds
 * /dev/null; tt_out_stdout() turns that into a write error). */
bool tt_log_stdout_was_closed(void);

/* The command name given to tt_log_init() ("ttlc" before). */
const char *tt_log_cmd(void);

/* Whether a record of this level would be written. */
bool tt_log_enabled(enum tt_log_level level);

/* Starts a record; returns false (and does nothing) when the level is
 * filtered out, in which case the other calls must not be made. */
bool tt_log_begin(struct tt_logrec *r, enum tt_log_level level, const char *msg);
void tt_log_str(struct tt_logrec *r, const char *key, const char *val);
void tt_log_strn(struct tt_logrec *r, const char *key, const char *val, size_t len);
void tt_log_int(struct tt_logrec *r, const char *key, int64_t val);
void tt_log_uint(struct tt_logrec *r, const char *key, uint64_t val);
/* Writes the record to stderr as one line and frees it. */
void tt_log_end(struct tt_logrec *r);

/* One-liners for a message with at most one string field (field may be NULL). */
void tt_log_msg(enum tt_log_level level, const char *msg, const char *key, const char *val);

/* Copies url into out (size outsz, always terminated) with every password
 * replaced by "***": the userinfo's ("redis://:pw@h" -> "redis://:***@h",
 * even when the password holds '@' or '/'), and the value of a password,
 * pwd, token, apikey or secret parameter in a query string or a libpq
 * key=value string ("host=h password=pw" -> "host=h password=***"). */
void tt_log_redact_url(const char *url, char *out, size_t outsz);

#endif
