/* tt_redis.c - see tt_redis.h. */
#include "tt_redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_config.h"
#include "tt_json.h"
#include "tt_log.h"

#define DEFAULT_URL "redis://localhost:6379"

/* Decodes %XX escapes of s[0..n) into a new string; NULL when out of memory. */
static char *
url_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && tt_hex_digit(s[i + 1]) >= 0 && tt_hex_digit(s[i + 2]) >= 0) {
			*o++ = (char)(tt_hex_digit(s[i + 1]) * 16 + tt_hex_digit(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

bool
tt_redis_init(struct tt_redis *r, const char *url, char *err, size_t errsz)
{
	const char *prefix = tt_env("REDIS_CONSUMER_GROUP_PREFIX");
	const char *attempts = tt_env("RECONNECT_MAX_ATTEMPTS");
	const char *p, *host, *at, *slash;
	uint64_t port = 6379, db = 0, max_attempts = 0;

	memset(r, 0, sizeof *r);
	r->timeout_ms = 5000;
	if (url == NULL)
		url = tt_env("REDIS_URL");
	if (url == NULL)
		url = DEFAULT_URL;
	tt_log_redact_url(url, r->redacted, sizeof r->redacted);
	if (attempts != NULL && !tt_parse_u64(attempts, 0, 1000000, &max_attempts)) {
		snprintf(err, errsz, "RECONNECT_MAX_ATTEMPTS must be a number from 0 (forever) to 1000000");
		return false;
	}
	r->max_attempts = (unsigned)max_attempts;
	if (prefix != NULL && snprintf(r->prefix, sizeof r->prefix, "%s", prefix) >= (int)sizeof r->prefix) {
		snprintf(err, errsz, "REDIS_CONSUMER_GROUP_PREFIX is longer than %zu bytes", sizeof r->prefix - 1);
		return false;
	}
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, errsz, "%s: rediss:// (TLS) is not supported by this platform's hiredis 0.14; "
		    "use redis:// over a trusted network or a TLS tunnel", r->redacted);
		return false;
	}
	if (strncmp(url, "redis://", 8) != 0) {
		snprintf(err, errsz, "%s: REDIS_URL must start with redis://", r->redacted);
		return false;
	}
	p = url + 8;
	/* As the redaction does: the userinfo ends at the last '@'. */
	at = strrchr(p, '@');
	slash = (at != NULL ? at : p) + strcspn(at != NULL ? at : p, "/?#");
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon != NULL) {
			r->password = url_decode(colon + 1, (size_t)(at - colon - 1));
			if (colon > p)
				r->user = url_decode(p, (size_t)(colon - p));
		} else if (at > p) {
			r->password = url_decode(p, (size_t)(at - p));
		}
		host = at + 1;
	} else {
		host = p;
	}
	{
		const char *colon = memchr(host, ':', (size_t)(slash - host));
		size_t hlen = (size_t)((colon != NULL ? colon : slash) - host);
		char num[16];

		if (hlen == 0 || hlen >= sizeof r->host) {
			snprintf(err, errsz, "%s: no host, or a host name too long", r->redacted);
			return false;
		}
		memcpy(r->host, host, hlen);
		r->host[hlen] = '\0';
		if (colon != NULL) {
			size_t n = (size_t)(slash - colon - 1);

			if (n == 0 || n >= sizeof num) {
				snprintf(err, errsz, "%s: bad port", r->redacted);
				return false;
			}
			memcpy(num, colon + 1, n);
			num[n] = '\0';
			if (!tt_parse_u64(num, 1, 65535, &port)) {
				snprintf(err, errsz, "%s: bad port", r->redacted);
				return false;
			}
		}
	}
	if (*slash == '/' && slash[1] != '\0') {
		char num[16];
		size_t n = strcspn(slash + 1, "?#");

		if (n >= sizeof num) {
			snprintf(err, errsz, "%s: bad database number", r->redacted);
			return false;
		}
		memcpy(num, slash + 1, n);
		num[n] = '\0';
		if (n > 0 && !tt_parse_u64(num, 0, 1000000, &db)) {
			snprintf(err, errsz, "%s: bad database number", r->redacted);
			return false;
		}
	}
	r->port = (int)port;
	r->db = (int)db;
	tt_backoff_init(&r->backoff, 1000, 60000, 2.0, 0.2, 0);
	return true;
}

void
tt_redis_free(struct tt_redis *r)
{
	tt_redis_disconnect(r);
	free(r->user);
	if (r->password != NULL) {
		memset(r->password, 0, strlen(r->password));
		free(r->password);
	}
	r->user = r->password = NULL;
}

void
tt_redis_disconnect(struct tt_redis *r)
{
	if (r->ctx != NULL)
		redisFree(r->ctx);
	r->ctx = NULL;
}

/* Sends a setup command (AUTH, SELECT); false if it fails. */
static bool
setup_command(struct tt_redis *r, int argc, const char **argv, const char *what)
{
	size_t lens[3];
	redisReply *reply;
	bool ok;

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	reply = redisCommandArgv(r->ctx, argc, argv, lens);
	ok = reply != NULL && reply->type != REDIS_REPLY_ERROR;
	if (!ok) {
		struct tt_logrec lr;

		/* The reply text, never the command: AUTH carries the secret. */
		if (tt_log_begin(&lr, TT_LOG_ERROR, what)) {
			tt_log_str(&lr, "url", r->redacted);
			tt_log_str(&lr, "error", reply != NULL ? reply->str : r->ctx->errstr);
			tt_log_end(&lr);
		}
	}
	if (reply != NULL)
		freeReplyObject(reply);
	return ok;
}

/* One connection attempt; false (logged) on failure. */
static bool
connect_once(struct tt_redis *r)
{
	struct timeval tv = { r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000 };

	r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
	if (r->ctx == NULL || r->ctx->err) {
		struct tt_logrec lr;

		if (tt_log_begin(&lr, TT_LOG_WARN, "cannot connect to Redis")) {
			tt_log_str(&lr, "url", r->redacted);
			tt_log_str(&lr, "error", r->ctx != NULL ? r->ctx->errstr : "out of memory");
			tt_log_end(&lr);
		}
		tt_redis_disconnect(r);
		return false;
	}
	if (r->timeout_ms > 0)
		redisSetTimeout(r->ctx, tv);
	if (r->password != NULL) {
		const char *argv[3] = { "AUTH", r->user != NULL ? r->user : r->password, r->password };

		if (!setup_command(r, r->user != NULL ? 3 : 2, argv, "Redis refused AUTH")) {
			tt_redis_disconnect(r);
			return false;
		}
	}
	if (r->db != 0) {
		char num[16];
		const char *argv[2] = { "SELECT", num };

		snprintf(num, sizeof num, "%d", r->db);
		if (!setup_command(r, 2, argv, "Redis refused SELECT")) {
			tt_redis_disconnect(r);
			return false;
		}
	}
	{
		/* A listener that accepts and closes, or a server still
		 * loading, is not a connection yet. */
		const char *argv[1] = { "PING" };

		if (!setup_command(r, 1, argv, "Redis did not answer PING")) {
			tt_redis_disconnect(r);
			return false;
		}
	}
	return true;
}

bool
tt_redis_connect(struct tt_redis *r)
{
	r->backoff.max_attempts = r->max_attempts;
	tt_redis_disconnect(r);
	while (!tt_stop_requested()) {
		/* Every attempt after a failure waits its back-off first, and
		 * only a success of the caller's resets it: a server that
		 * accepts connections but fails all work still runs out of
		 * attempts instead of being hammered. */
		if (r->failing && !tt_backoff_wait(&r->backoff)) {
			if (!tt_stop_requested())
				tt_log_msg(TT_LOG_ERROR, "Redis stayed unreachable, giving up", "url", r->redacted);
			return false;
		}
		r->failing = true;
		if (connect_once(r)) {
			r->connects++;
			return true;
		}
	}
	return false;
}

redisReply *
tt_redis_command(struct tt_redis *r, int argc, const char **argv, const size_t *lens)
{
	redisReply *reply;

	if (r->ctx == NULL)
		return NULL;
	reply = redisCommandArgv(r->ctx, argc, argv, lens);
	if (reply == NULL)
		tt_redis_disconnect(r);
	return reply;
}

redisReply *
tt_redis_call(struct tt_redis *r, int argc, const char **argv, const size_t *lens)
{
	for (;;) {
		redisReply *reply = r->ctx != NULL ? tt_redis_command(r, argc, argv, lens) : NULL;

		if (reply != NULL && tt_redis_transient(reply)) {
			tt_log_msg(TT_LOG_WARN, "Redis busy; retrying", "error", reply->str);
			freeReplyObject(reply);
			tt_redis_disconnect(r);
			reply = NULL;
		}
		if (reply != NULL)
			return reply;
		if (!tt_redis_connect(r))
			return NULL;
	}
}

bool
tt_redis_append(struct tt_redis *r, int argc, const char **argv, const size_t *lens)
{
	if (r->ctx == NULL)
		return false;
	if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK) {
		tt_redis_disconnect(r);
		return false;
	}
	return true;
}

bool
tt_redis_send(struct tt_redis *r)
{
	int done = 0;

	if (r->ctx == NULL)
		return false;
	while (!done) {
		if (redisBufferWrite(r->ctx, &done) != REDIS_OK) {
			tt_redis_disconnect(r);
			return false;
		}
	}
	return true;
}

redisReply *
tt_redis_receive(struct tt_redis *r)
{
	redisReply *reply = NULL;

	if (r->ctx == NULL)
		return NULL;
	if (redisGetReply(r->ctx, (void **)&reply) != REDIS_OK || reply == NULL) {
		if (reply != NULL)
			freeReplyObject(reply);
		tt_redis_disconnect(r);
		return NULL;
	}
	return reply;
}

/* hiredis reply builders that allocate from the arena in the reader's
 * privdata; a NULL return is hiredis's out-of-memory error. */
static redisReply *
arena_reply(const redisReadTask *task, int type, size_t extra)
{
	struct tt_arena *a = task->privdata;
	redisReply *r = tt_arena_alloc(a, sizeof *r + extra);

	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof *r);
	r->type = type;
	if (task->parent != NULL) {
		redisReply *parent = task->parent->obj;

		parent->element[task->idx] = r;
	}
	return r;
}

static void *
arena_string(const redisReadTask *task, char *str, size_t len)
{
	redisReply *r = arena_reply(task, task->type, len + 1);

	if (r == NULL)
		return NULL;
	r->str = (char *)(r + 1);
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	return r;
}

static void *
arena_array(const redisReadTask *task, int elements)
{
	redisReply *r = arena_reply(task, REDIS_REPLY_ARRAY, 0);

	if (r == NULL)
		return NULL;
	if (elements > 0) {
		r->element = tt_arena_alloc(task->privdata, (size_t)elements * sizeof *r->element);
		if (r->element == NULL)
			return NULL;
		r->elements = (size_t)elements;
	}
	return r;
}

static void *
arena_integer(const redisReadTask *task, long long value)
{
	redisReply *r = arena_reply(task, REDIS_REPLY_INTEGER, 0);

	if (r != NULL)
		r->integer = value;
	return r;
}

static void *
arena_nil(const redisReadTask *task)
{
	return arena_reply(task, REDIS_REPLY_NIL, 0);
}

static void
arena_free(void *reply)
{
	(void)reply; /* the arena's owner resets it */
}

redisReply *
tt_redis_receive_in(struct tt_redis *r, struct tt_arena *a)
{
	/* hiredis 0.14's table (later versions add members: revisit this
	 * on an upgrade). */
	static redisReplyObjectFunctions arena_fns = {
		.createString = arena_string,
		.createArray = arena_array,
		.createInteger = arena_integer,
		.createNil = arena_nil,
		.freeObject = arena_free,
	};
	redisReplyObjectFunctions *fns;
	void *privdata;
	redisReply *reply = NULL;
	int rc;

	if (r->ctx == NULL)
		return NULL;
	fns = r->ctx->reader->fn;
	privdata = r->ctx->reader->privdata;
	r->ctx->reader->fn = &arena_fns;
	r->ctx->reader->privdata = a;
	rc = redisGetReply(r->ctx, (void **)&reply);
	if (rc != REDIS_OK || reply == NULL) {
		/* Dropped while the reader may still hold a partial reply
		 * from the arena: it must be "freed" by arena_free, not by
		 * hiredis's own free. */
		tt_redis_disconnect(r);
		return NULL;
	}
	r->ctx->reader->fn = fns;
	r->ctx->reader->privdata = privdata;
	return reply;
}

void
tt_redis_ok(struct tt_redis *r)
{
	tt_backoff_reset(&r->backoff);
	r->failing = false;
}

bool
tt_redis_transient(const redisReply *reply)
{
	static const char *const codes[] = { "LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "OOM",
		"CLUSTERDOWN" };

	if (reply == NULL || reply->type != REDIS_REPLY_ERROR || reply->str == NULL)
		return false;
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		size_t n = strlen(codes[i]);

		if (strncmp(reply->str, codes[i], n) == 0 && (reply->str[n] == ' ' || reply->str[n] == '\0'))
			return true;
	}
	return false;
}

bool
tt_redis_key(const struct tt_redis *r, const char *name, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s%s", r->prefix, name);

	return n >= 0 && (size_t)n < outsz;
}
