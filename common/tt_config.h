/* tt_config.h - configuration from the environment and the command line.
 *
 * Every command reads the seed's environment variables (ttlc(7)) and lets
 * a flag override them. These helpers parse numbers strictly (no atoi: a
 * typo is an error, not a zero) and print usage the same way everywhere.
 */
#ifndef TT_CONFIG_H
#define TT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* getenv(), but NULL for an empty value too. */
const char *tt_env(const char *name);

/* Parses a whole decimal number in [min, max]. */
bool tt_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* The value of hex digit c, or -1. */
int tt_hex_digit(char c);

/* Parses a non-negative decimal number, fraction allowed ("2.5"). */
bool tt_parse_double(const char *s, double *out);

/* The value of a --max-line option (64 bytes to 256 MiB), the same in every
 * command that reads lines; exits 2 with the usage when it is not one. */
size_t tt_opt_max_line(const char *usage, const char *arg);

/* Prints usage to stdout and exits 0 (for --help). */
_Noreturn void tt_usage_help(const char *usage);

/* Prints "cmd: msg" and the usage to stderr and exits 2. */
_Noreturn void tt_usage_error(const char *usage, const char *msg, const char *arg);


/* Makes SIGTERM, SIGINT and SIGHUP set a flag instead of killing the
 * process (and interrupt blocking reads), so a command can finish the line
 * or batch in flight, flush, and exit 0. */
void tt_stop_on_signals(void);

/* Whether one of those signals has arrived. */
bool tt_stop_requested(void);

#endif
