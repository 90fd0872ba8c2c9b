/* tt_redis.h - one Redis connection for the stream adaptors (hiredis).
 *
 * REDIS_URL (redis://[[user]:password@]host[:port][/db]; default
 * redis://localhost:6379) names the server; the password is sent with AUTH
 * and never logged (the URL is logged redacted). rediss:// (TLS) is refused
 * as a configuration error: the hiredis on this platform (0.14) has no TLS.
 * REDIS_CONSUMER_GROUP_PREFIX prefixes every stream key and group name
 * (seed 9.5), so two test runs on one server never meet.
 *
 * A lost connection, or a transient error reply (tt_redis_transient), is
 * retried with the seed's back-off (tt_backoff) until a command succeeds
 * again (tt_redis_ok); after max_attempts failed attempts in a row the
 * caller exits 69.
 */
#ifndef TT_REDIS_H
#define TT_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "tt_backoff.h"

struct tt_arena;

struct tt_redis {
	redisContext *ctx;        /* NULL while disconnected */
	char host[256];
	int port;
	int db;
	char *user;               /* owned; NULL when none */
	char *password;           /* owned, secret: never logged */
	char redacted[512];       /* the URL as logs may show it */
	char prefix[128];         /* REDIS_CONSUMER_GROUP_PREFIX */
	struct tt_backoff backoff;
	int timeout_ms;           /* connect and command timeout; 0 = none */
	unsigned max_attempts;    /* RECONNECT_MAX_ATTEMPTS; 0 = forever */
	bool failing;             /* no command has succeeded since the last
	                           * (re)connect: the next one backs off */
	unsigned long connects;   /* successful connections so far: a caller
	                           * that sees it change knows replies it was
	                           * waiting for may have been lost */
};

/* Reads REDIS_URL (or url when not NULL), the prefix and
 * RECONNECT_MAX_ATTEMPTS. Returns false with a reason in err (no secret in
 * it) when they cannot be used: exit 78. */
bool tt_redis_init(struct tt_redis *r, const char *url, char *err, size_t errsz);

/* (Re)connects, retrying with back-off until connected or the
 * RECONNECT_MAX_ATTEMPTS attempts (0 = forever) are used up. False: give up
 * (exit 69), or a stop signal arrived while waiting. */
bool tt_redis_connect(struct tt_redis *r);

/* Drops the connection (after an I/O error; the next command reconnects). */
void tt_redis_disconnect(struct tt_redis *r);

void tt_redis_free(struct tt_redis *r);

/* Runs one command (argv of argc byte strings) and returns its reply, or
 * NULL on a connection error (the connection is dropped; the caller decides
 * whether to reconnect and retry). The caller frees the reply with
 * freeReplyObject(). */
redisReply *tt_redis_command(struct tt_redis *r, int argc, const char **argv, const size_t *lens);

/* Runs one command, and after a lost connection or a transient error
 * reply reconnects with back-off and sends it again: for commands whose
 * second sending does no harm (XACK, XPENDING, XGROUP CREATE, XCLAIM; a
 * dead letter's XADD, which may then be stored twice). Returns the reply,
 * which may be a refusal (an error reply that will not pass) for the
 * caller to judge; the caller calls tt_redis_ok when the work it stands
 * for is done. NULL when giving up: RECONNECT_MAX_ATTEMPTS used up (exit
 * 69), or a stop signal. */
redisReply *tt_redis_call(struct tt_redis *r, int argc, const char **argv, const size_t *lens);

/* Pipelining: tt_redis_append queues a command, tt_redis_send writes every
 * queued command without waiting, tt_redis_receive reads the next reply
 * (in order). False/NULL on a lost connection, which is dropped. */
bool tt_redis_append(struct tt_redis *r, int argc, const char **argv, const size_t *lens);
bool tt_redis_send(struct tt_redis *r);
redisReply *tt_redis_receive(struct tt_redis *r);

/* As tt_redis_receive, but the reply is built in arena a (hiredis would
 * malloc every element: most of a bulk reader's time). It lives until a
 * is reset; never pass it to freeReplyObject. Only for a reply that is
 * read while no other reply is held. */
redisReply *tt_redis_receive_in(struct tt_redis *r, struct tt_arena *a);

/* Records that a command succeeded: the next failure starts the back-off
 * from its first delay again. */
void tt_redis_ok(struct tt_redis *r);

/* Whether reply is an error that passes (LOADING, BUSY, MASTERDOWN,
 * READONLY, TRYAGAIN, OOM, CLUSTERDOWN): to be retried like a lost
 * connection, not reported as a refusal. */
bool tt_redis_transient(const redisReply *reply);

/* Writes prefix + name into out (size outsz). False if it does not fit. */
bool tt_redis_key(const struct tt_redis *r, const char *name, char *out, size_t outsz);

#endif
