/* tt_pg.h - one PostgreSQL connection for the storage commands (libpq).
 *
 * DATABASE_URL (postgresql://user:password@host:port/db, or any libpq
 * connection string) names the server; it is a secret: logs show it
 * redacted (a URL without its password, a key=value string not at all),
 * and libpq's own messages never hold the password. Every session runs in
 * UTC. A lost connection is reconnected with the seed's back-off
 * (tt_backoff) until a statement succeeds again (tt_pg_ok); after
 * RECONNECT_MAX_ATTEMPTS failed attempts in a row the caller exits 69.
 * A COPY can be left in flight (tt_pg_copy_send) while the caller works
 * on, so that client and server need not wait for each other.
 */
#ifndef TT_PG_H
#define TT_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "tt_backoff.h"
#include "tt_log.h"

struct tt_pg {
	PGconn *conn;             /* NULL while disconnected */
	char *conninfo;           /* owned, secret: never logged */
	char redacted[512];       /* what logs may show of it */
	const char *app_name;     /* application_name, for pg_stat_activity */
	struct tt_backoff backoff;
	unsigned max_attempts;    /* RECONNECT_MAX_ATTEMPTS; 0 = forever */
	bool failing;             /* nothing has succeeded since the last
	                           * (re)connect: the next attempt backs off */
	unsigned long connects;   /* successful connections so far */
};

/* Reads DATABASE_URL (or conninfo when not NULL) and
 * RECONNECT_MAX_ATTEMPTS. False, with a reason in err (no secret in it),
 * when they cannot be used: exit 78. */
bool tt_pg_init(struct tt_pg *pg, const char *conninfo, const char *app_name, char *err, size_t errsz);

/* (Re)connects, retrying with back-off. False: attempts used up (exit
 * 69), a stop signal, or a refusal that retrying cannot mend (a wrong
 * password, a missing database: *fatal is set, exit 78). */
bool tt_pg_connect(struct tt_pg *pg, bool *fatal);

void tt_pg_disconnect(struct tt_pg *pg);
void tt_pg_free(struct tt_pg *pg);

/* Records that a statement succeeded: the next failure backs off from
 * the first delay again. */
void tt_pg_ok(struct tt_pg *pg);

/* Whether a failure (res may be NULL) means "try again on a new
 * connection": the connection is gone, or the server says the condition
 * passes (shutting down, starting up, too many connections, deadlock,
 * serialization failure, out of resources). */
bool tt_pg_transient(const struct tt_pg *pg, const PGresult *res);

/* The SQLSTATE of a failed result ("" if none). */
const char *tt_pg_state(const PGresult *res);

/* Logs a failed result at level: the message, SQLSTATE and server text. */
void tt_pg_log_result(enum tt_log_level level, const char *msg, const struct tt_pg *pg, const PGresult *res);

/* How tt_pg_query ended. */
enum tt_pg_end {
	TT_PG_OK,          /* *res holds the result */
	TT_PG_REFUSED,     /* a failure that will not pass by retrying: *res
	                    * holds it (not logged: the caller knows what it
	                    * means), or is NULL when on_connect said no */
	TT_PG_STOPPED,     /* a stop signal */
	TT_PG_UNAVAILABLE, /* RECONNECT_MAX_ATTEMPTS used up: exit 69 */
	TT_PG_FATAL,       /* the connection refused for good: exit 78 */
};

/* Runs one statement (text parameters; none: the simple protocol),
 * connecting first when there is no connection. A transient failure
 * (tt_pg_transient) is logged as a warning with what, and the statement
 * runs again on a new connection: it must be safe to run twice.
 * on_connect, when not NULL, runs on each new connection before the
 * statement (a lock to take again, say); false from it ends the call
 * with TT_PG_REFUSED and *res NULL. */
enum tt_pg_end tt_pg_query(struct tt_pg *pg, const char *sql, int nparams, const char *const *params,
    const char *what, bool (*on_connect)(void *arg), void *arg, PGresult **res);

/* Runs one statement without parameters; true when it succeeded (its
 * result is cleared). On failure *res_out, when not NULL, gets the
 * result for the caller to inspect and clear (NULL when the connection
 * failed before one came). */
bool tt_pg_exec(struct tt_pg *pg, const char *sql, PGresult **res_out);

/* Sends data[0..len) as COPY data, in pieces libpq's int lengths can
 * carry. False when libpq cannot take it (the connection failed). */
bool tt_pg_put_copy_data(PGconn *conn, const char *data, size_t len);

/* A COPY in flight: a query string that begins with COPY ... FROM STDIN
 * (statements may follow it, as in "COPY ...; COMMIT"), sent with all its
 * data without waiting for the server, so that the caller can work
 * meanwhile. The caller calls tt_pg_copy_poll now and then (it hands
 * libpq's pending data to the socket) and tt_pg_copy_wait at the end.
 * While one is in flight the connection is non-blocking and may run
 * nothing else. */
struct tt_pg_copy {
	unsigned ok;              /* results that came back OK, in order */
	char last_tag[32];        /* the command tag of the last of them */
	PGresult *failed;         /* the first that was not OK (owned); the
	                           * server skips the statements after it */
	bool lost;                /* sending or reading failed: the connection is gone */
	bool unsent;              /* libpq holds data the socket has not taken:
	                           * a poll(2) should wait for POLLOUT too */
};

/* Starts sql and queues data behind it. True: in flight (c is reset).
 * False: it could not start; *res_out is the server's refusal of the COPY
 * (for the caller to inspect and clear), or NULL when the connection
 * failed. */
bool tt_pg_copy_send(struct tt_pg *pg, struct tt_pg_copy *c, const char *sql, const char *data, size_t len,
    PGresult **res_out);

/* Gathers the results that have come, without blocking. True when all
 * are in (or the connection is lost). */
bool tt_pg_copy_poll(struct tt_pg *pg, struct tt_pg_copy *c);

/* Waits for all the results; then the connection is blocking again (or
 * c->lost is set). */
void tt_pg_copy_wait(struct tt_pg *pg, struct tt_pg_copy *c);

#endif
