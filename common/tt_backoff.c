/* tt_backoff.c - see tt_backoff.h. */
#include "tt_backoff.h"

#include <sys/random.h>
#include <time.h>

#include "tt_config.h"

void
tt_backoff_init(struct tt_backoff *b, int64_t initial_ms, int64_t max_ms,
    double factor, double jitter, unsigned max_attempts)
{
	b->initial_ms = initial_ms;
	b->max_ms = max_ms;
	b->factor = factor;
	b->jitter = jitter;
	b->max_attempts = max_attempts;
	b->attempts = 0;
	b->base_ms = initial_ms;
	if (getrandom(&b->rng, sizeof b->rng, GRND_NONBLOCK) != (ssize_t)sizeof b->rng)
		b->rng = (uint64_t)time(NULL);
	b->rng |= 1;
}

/* A uniform double in [0, 1). */
static double
uniform(struct tt_backoff *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return (double)(b->rng >> 11) / 9007199254740992.0;
}

bool
tt_backoff_next(struct tt_backoff *b, int64_t *delay_ms)
{
	double d;

	if (b->max_attempts != 0 && b->attempts >= b->max_attempts)
		return false;
	b->attempts++;
	d = (double)b->base_ms * (1.0 + b->jitter * (2.0 * uniform(b) - 1.0));
	/* max_ms bounds the wait itself, jitter included. */
	if (d > (double)b->max_ms)
		d = (double)b->max_ms;
	*delay_ms = d < 0 ? 0 : (int64_t)d;
	d = (double)b->base_ms * b->factor;
	b->base_ms = d > (double)b->max_ms ? b->max_ms : (int64_t)d;
	return true;
}

void
tt_backoff_reset(struct tt_backoff *b)
{
	b->attempts = 0;
	b->base_ms = b->initial_ms;
}

bool
tt_backoff_wait(struct tt_backoff *b)
{
	int64_t delay;
	struct timespec ts;

	if (!tt_backoff_next(b, &delay))
		return false;
	ts.tv_sec = delay / 1000;
	ts.tv_nsec = (delay % 1000) * 1000000;
	nanosleep(&ts, NULL); /* a stop signal cuts it short */
	return !tt_stop_requested();
}
