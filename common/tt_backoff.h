/* tt_backoff.h - exponential back-off with jitter, for every reconnect.
 *
 * The seed's policy: start at initial_ms, multiply by factor after each
 * failure up to max_ms, and randomise each delay by +/- jitter (0.2 = 20 %),
 * so that many clients that failed together do not retry together.
 * max_attempts 0 means unlimited.
 */
#ifndef TT_BACKOFF_H
#define TT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct tt_backoff {
	int64_t initial_ms;
	int64_t max_ms;
	double factor;
	double jitter;
	unsigned max_attempts; /* 0 = unlimited */
	unsigned attempts;     /* failures so far */
	int64_t base_ms;       /* next delay before jitter */
	uint64_t rng;          /* xorshift state */
};

/* The seed's reconnect policy: 1 s -> 60 s, x2, +/-20 %. */
void tt_backoff_init(struct tt_backoff *b, int64_t initial_ms, int64_t max_ms,
    double factor, double jitter, unsigned max_attempts);

/* Records a failure. Returns false when max_attempts is used up; otherwise
 * true and the delay to wait in *delay_ms, never above max_ms. */
bool tt_backoff_next(struct tt_backoff *b, int64_t *delay_ms);

/* Records a failure and sleeps its delay; a stop signal (tt_config's
 * tt_stop_on_signals) cuts the sleep short. False, without sleeping, when
 * max_attempts is used up; also false after a stop signal. */
bool tt_backoff_wait(struct tt_backoff *b);

/* Records a success: the next failure starts from initial_ms again. */
void tt_backoff_reset(struct tt_backoff *b);

#endif
