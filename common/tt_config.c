/* tt_config.c - see tt_config.h. */
#include "tt_config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_exit.h"
#include "tt_log.h"

const char *
tt_env(const char *name)
{
	const char *v = getenv(name);

	return v == NULL || *v == '\0' ? NULL : v;
}

bool
tt_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int
tt_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
tt_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0)
		return false;
	*out = v;
	return true;
}

size_t
tt_opt_max_line(const char *usage, const char *arg)
{
	uint64_t v;

	if (!tt_parse_u64(arg, 64, 256u << 20, &v))
		tt_usage_error(usage, "--max-line must be a number of bytes from 64 to 268435456", arg);
	return (size_t)v;
}

void
tt_usage_help(const char *usage)
{
	fputs(usage, stdout);
	exit(fflush(stdout) == 0 && !ferror(stdout) ? TT_EXIT_OK : TT_EXIT_IOERR);
}

void
tt_usage_error(const char *usage, const char *msg, const char *arg)
{
	if (arg != NULL)
		fprintf(stderr, "%s: %s: %s\n", tt_log_cmd(), msg, arg);
	else
		fprintf(stderr, "%s: %s\n", tt_log_cmd(), msg);
	fputs(usage, stderr);
	exit(TT_EXIT_USAGE);
}

static volatile sig_atomic_t stop_flag;

static void
on_stop_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void
tt_stop_on_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a blocking read returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

bool
tt_stop_requested(void)
{
	return stop_flag != 0;
}
