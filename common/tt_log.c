/* tt_log.c - structured JSON logging to stderr; see tt_log.h. */
#include "tt_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "tt_time.h"

static const char *log_cmd = "ttlc";
static enum tt_log_level log_threshold = TT_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static bool stdout_was_closed;

/* A command started with fd 0, 1 or 2 closed would open its next file on
 * that number: a DLQ file would then receive the events meant for stdout.
 * Hold each closed one with /dev/null, and remember a closed stdout so the
 * first write reports it (exit 74) instead of vanishing into /dev/null. */
static void
reserve_standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nul;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (fd == STDOUT_FILENO)
			stdout_was_closed = true;
		nul = open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY);
		if (nul >= 0 && nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
}

bool
tt_log_stdout_was_closed(void)
{
	return stdout_was_closed;
}

void
tt_log_init(const char *cmd)
{
	const char *env = getenv("LOG_LEVEL");

	reserve_standard_fds();
	log_cmd = cmd;
	log_threshold = TT_LOG_INFO;
	if (env == NULL || *env == '\0')
		return;
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(env, level_names[i]) == 0) {
			log_threshold = (enum tt_log_level)i;
			return;
		}
	}
	tt_log_msg(TT_LOG_WARN, "unknown LOG_LEVEL, using info", "LOG_LEVEL", env);
}

const char *
tt_log_cmd(void)
{
	return log_cmd;
}

bool
tt_log_enabled(enum tt_log_level level)
{
	return level >= log_threshold;
}

static void
gen_key(yajl_gen g, const char *key)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

bool
tt_log_begin(struct tt_logrec *r, enum tt_log_level level, const char *msg)
{
	char ts[TT_TIME_ISO_LEN];
	yajl_gen g;

	r->gen = NULL;
	if (!tt_log_enabled(level))
		return false;
	g = yajl_gen_alloc(NULL);
	if (g == NULL)
		return false;
	/* Log fields may carry bytes from bad input: never emit invalid UTF-8. */
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	tt_time_now_iso(ts);
	yajl_gen_map_open(g);
	gen_key(g, "ts");
	gen_key(g, ts);
	gen_key(g, "level");
	gen_key(g, level_names[level]);
	gen_key(g, "cmd");
	gen_key(g, log_cmd);
	gen_key(g, "msg");
	gen_key(g, msg);
	r->gen = g;
	return true;
}

void
tt_log_strn(struct tt_logrec *r, const char *key, const char *val, size_t len)
{
	yajl_gen g = r->gen;

	if (g == NULL)
		return;
	gen_key(g, key);
	if (val == NULL) {
		yajl_gen_null(g);
	} else if (yajl_gen_string(g, (const unsigned char *)val, len) != yajl_gen_status_ok) {
		/* Invalid UTF-8 in val: say so rather than drop the record. */
		yajl_gen_string(g, (const unsigned char *)"(invalid UTF-8)", 15);
	}
}

void
tt_log_str(struct tt_logrec *r, const char *key, const char *val)
{
	tt_log_strn(r, key, val, val == NULL ? 0 : strlen(val));
}

void
tt_log_int(struct tt_logrec *r, const char *key, int64_t val)
{
	if (r->gen == NULL)
		return;
	gen_key(r->gen, key);
	yajl_gen_integer(r->gen, val);
}

void
tt_log_uint(struct tt_logrec *r, const char *key, uint64_t val)
{
	char num[24];
	int n;

	if (r->gen == NULL)
		return;
	n = snprintf(num, sizeof num, "%llu", (unsigned long long)val);
	gen_key(r->gen, key);
	yajl_gen_number(r->gen, num, (size_t)n);
}

void
tt_log_end(struct tt_logrec *r)
{
	const unsigned char *buf;
	size_t len;

	if (r->gen == NULL)
		return;
	yajl_gen_map_close(r->gen);
	if (yajl_gen_get_buf(r->gen, &buf, &len) == yajl_gen_status_ok) {
		fwrite(buf, 1, len, stderr);
		fputc('\n', stderr);
		fflush(stderr);
	}
	yajl_gen_free(r->gen);
	r->gen = NULL;
}

void
tt_log_msg(enum tt_log_level level, const char *msg, const char *key, const char *val)
{
	struct tt_logrec r;

	if (!tt_log_begin(&r, level, msg))
		return;
	if (key != NULL)
		tt_log_str(&r, key, val);
	tt_log_end(&r);
}

/* Whether the parameter name s[0..n) names a secret: it contains pass,
 * pwd, token, key or secret, in any case (password, sslpassword, apiKey,
 * access_token, x-api-key ...). */
static bool
secret_name(const char *s, size_t n)
{
	static const char *const parts[] = { "pass", "pwd", "token", "key", "secret" };

	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		size_t len = strlen(parts[i]);

		for (size_t j = 0; j + len <= n; j++)
			if (strncasecmp(s + j, parts[i], len) == 0)
				return true;
	}
	return false;
}

/* If p starts a "name = value" parameter (query string or libpq key=value
 * string) whose name is a secret, returns the end of its value (after a
 * closing quote if quoted) and sets *value to where the value starts;
 * else NULL. */
static const char *
secret_param(const char *p, const char **value)
{
	size_t n = strcspn(p, "=&;? \t");
	const char *v = p + n;

	if (n == 0)
		return NULL;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v != '=' || !secret_name(p, n))
		return NULL;
	v++;
	while (*v == ' ' || *v == '\t')
		v++;
	*value = v;
	if (*v == '\'') {
		/* libpq quoting: 'a b\'c' */
		for (v++; *v != '\0' && *v != '\''; v++)
			if (*v == '\\' && v[1] != '\0')
				v++;
		return *v == '\'' ? v + 1 : v;
	}
	return v + strcspn(v, "&; \t#");
}

void
tt_log_redact_url(const char *url, char *out, size_t outsz)
{
	const char *scheme = strstr(url, "://");
	const char *userinfo = scheme == NULL ? NULL : scheme + 3;
	const char *at = NULL, *colon = NULL;
	size_t o = 0;

	if (outsz == 0)
		return;
	if (userinfo != NULL) {
		/* The userinfo ends at the last '@' anywhere: a password may
		 * itself hold '@', '/', '?' or '#'. (An '@' in a query string
		 * then hides a little too much, never too little.) */
		for (const char *p = userinfo; *p != '\0'; p++)
			if (*p == '@')
				at = p;
		if (at != NULL) {
			colon = memchr(userinfo, ':', (size_t)(at - userinfo));
			/* No colon: the whole userinfo may be a password
			 * (redis://secret@host): hide all of it. */
			if (colon == NULL)
				colon = userinfo - 1;
		}
	}
	for (const char *p = url; *p != '\0' && o + 1 < outsz;) {
		const char *value, *end;

		if (colon != NULL && p == colon + 1) {
			/* user:password@ -> user:***@ */
			for (const char *r = "***"; *r != '\0' && o + 1 < outsz; r++)
				out[o++] = *r;
			p = at;
			colon = NULL; /* once: an empty password leaves p at colon + 1 */
			continue;
		}
		if ((p == url || strchr("?&; \t", p[-1]) != NULL) && (end = secret_param(p, &value)) != NULL) {
			while (p < value && o + 1 < outsz)
				out[o++] = *p++;
			for (const char *r = "***"; *r != '\0' && o + 1 < outsz; r++)
				out[o++] = *r;
			p = end;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
}
