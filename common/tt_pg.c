/* tt_pg.c - see tt_pg.h. */
#include "tt_pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_config.h"

bool
tt_pg_init(struct tt_pg *pg, const char *conninfo, const char *app_name, char *err, size_t errsz)
{
	const char *attempts = tt_env("RECONNECT_MAX_ATTEMPTS");
	uint64_t max_attempts = 0;

	memset(pg, 0, sizeof *pg);
	pg->app_name = app_name;
	if (conninfo == NULL)
		conninfo = tt_env("DATABASE_URL");
	if (conninfo == NULL || conninfo[0] == '\0') {
		snprintf(err, errsz, "DATABASE_URL is not set");
		return false;
	}
	if (strncmp(conninfo, "postgresql://", 13) == 0 || strncmp(conninfo, "postgres://", 11) == 0)
		tt_log_redact_url(conninfo, pg->redacted, sizeof pg->redacted);
	else
		snprintf(pg->redacted, sizeof pg->redacted, "(a key=value connection string, not shown)");
	if (attempts != NULL && !tt_parse_u64(attempts, 0, 1000000, &max_attempts)) {
		snprintf(err, errsz, "RECONNECT_MAX_ATTEMPTS must be a number from 0 (forever) to 1000000");
		return false;
	}
	pg->max_attempts = (unsigned)max_attempts;
	pg->conninfo = strdup(conninfo);
	if (pg->conninfo == NULL) {
		snprintf(err, errsz, "out of memory");
		return false;
	}
	tt_backoff_init(&pg->backoff, 1000, 60000, 2.0, 0.2, 0);
	return true;
}

void
tt_pg_disconnect(struct tt_pg *pg)
{
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
}

void
tt_pg_free(struct tt_pg *pg)
{
	tt_pg_disconnect(pg);
	if (pg->conninfo != NULL) {
		/* The secret does not outlive its use in freed memory. */
		memset(pg->conninfo, 0, strlen(pg->conninfo));
		free(pg->conninfo);
	}
	pg->conninfo = NULL;
}

/* libpq's messages about a connection string it cannot parse: they may
 * quote the part that failed, which may be the password. */
static const char *const parse_errors[] = {
	"invalid URI", "invalid percent-encoded", "missing \"=\"", "invalid connection option",
	"invalid integer value", "unterminated quoted string", "invalid IPv6",
	"extra key/value separator", "unexpected spaces",
};

static bool
is_parse_error(const char *m)
{
	for (size_t i = 0; i < sizeof parse_errors / sizeof parse_errors[0]; i++)
		if (strstr(m, parse_errors[i]) != NULL)
			return true;
	return false;
}

/* libpq's message for a failed connection: its first line, which names
 * the server and the reason (never the password); for a string it cannot
 * parse, our own words instead. */
static void
log_connect_error(struct tt_pg *pg, enum tt_log_level level, const char *msg)
{
	char text[512];
	struct tt_logrec r;

	snprintf(text, sizeof text, "%s", pg->conn != NULL ? PQerrorMessage(pg->conn) : "out of memory");
	if (is_parse_error(text))
		snprintf(text, sizeof text, "the connection string cannot be parsed (libpq's message is not "
		    "shown: it may quote the password)");
	text[strcspn(text, "\n")] = '\0';
	if (tt_log_begin(&r, level, msg)) {
		tt_log_str(&r, "url", pg->redacted);
		tt_log_str(&r, "error", text);
		tt_log_end(&r);
	}
}

/* Whether a refused connection will be refused again whatever we wait:
 * bad credentials, unknown database or role, a malformed conninfo. */
static bool
refusal_is_final(PGconn *conn)
{
	static const char *const final[] = {
		"password authentication failed", "does not exist", "no password supplied",
		"pg_hba.conf rejects",
	};
	const char *m = conn != NULL ? PQerrorMessage(conn) : "";

	for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
		if (strstr(m, final[i]) != NULL)
			return true;
	return is_parse_error(m);
}

/* Server notices (WARNING, NOTICE) as log lines, not raw text on stderr. */
static void
log_notice(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *text = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	struct tt_logrec r;

	(void)arg;
	if (tt_log_begin(&r, severity != NULL && strcmp(severity, "WARNING") == 0 ? TT_LOG_WARN : TT_LOG_DEBUG,
	    "PostgreSQL notice")) {
		tt_log_str(&r, "sqlstate", tt_pg_state(res));
		tt_log_str(&r, "error", text != NULL ? text : "");
		tt_log_end(&r);
	}
}

static bool
connect_once(struct tt_pg *pg, bool *fatal)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout", "options", NULL };
	const char *values[] = { pg->conninfo, pg->app_name, "10", "-c TimeZone=UTC", NULL };

	/* expand_dbname: the URL (or key=value string) in dbname gives
	 * every setting it holds; the others fill in what it leaves out. */
	pg->conn = PQconnectdbParams(keys, values, 1);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
		*fatal = refusal_is_final(pg->conn);
		log_connect_error(pg, *fatal ? TT_LOG_ERROR : TT_LOG_WARN,
		    *fatal ? "PostgreSQL refused the connection" : "cannot connect to PostgreSQL");
		tt_pg_disconnect(pg);
		return false;
	}
	PQsetNoticeReceiver(pg->conn, log_notice, NULL);
	return true;
}

bool
tt_pg_connect(struct tt_pg *pg, bool *fatal)
{
	*fatal = false;
	pg->backoff.max_attempts = pg->max_attempts;
	tt_pg_disconnect(pg);
	while (!tt_stop_requested()) {
		/* Every attempt after a failure waits its back-off first, and
		 * only a success of the caller's resets it: a server that
		 * accepts connections but fails all work still runs out of
		 * attempts instead of being hammered. */
		if (pg->failing && !tt_backoff_wait(&pg->backoff)) {
			if (!tt_stop_requested())
				tt_log_msg(TT_LOG_ERROR, "PostgreSQL stayed unreachable, giving up", "url", pg->redacted);
			return false;
		}
		pg->failing = true;
		if (connect_once(pg, fatal)) {
			pg->connects++;
			return true;
		}
		if (*fatal)
			return false;
	}
	return false;
}

void
tt_pg_ok(struct tt_pg *pg)
{
	tt_backoff_reset(&pg->backoff);
	pg->failing = false;
}

const char *
tt_pg_state(const PGresult *res)
{
	const char *s = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s != NULL ? s : "";
}

bool
tt_pg_transient(const struct tt_pg *pg, const PGresult *res)
{
	const char *s = tt_pg_state(res);

	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK || res == NULL || s[0] == '\0')
		return true;
	/* 08 connection exception, 53 insufficient resources, 57P01-03
	 * shutdown / cannot connect now, 40001 serialization, 40P01 deadlock. */
	return strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 || strncmp(s, "57P0", 4) == 0 ||
	    strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0;
}

void
tt_pg_log_result(enum tt_log_level level, const char *msg, const struct tt_pg *pg, const PGresult *res)
{
	const char *text = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char conn_text[256];
	struct tt_logrec r;

	if (text == NULL) {
		snprintf(conn_text, sizeof conn_text, "%s",
		    pg->conn != NULL ? PQerrorMessage(pg->conn) : "connection lost");
		conn_text[strcspn(conn_text, "\n")] = '\0';
		text = conn_text;
	}
	if (tt_log_begin(&r, level, msg)) {
		tt_log_str(&r, "sqlstate", tt_pg_state(res));
		tt_log_str(&r, "error", text);
		tt_log_end(&r);
	}
}

enum tt_pg_end
tt_pg_query(struct tt_pg *pg, const char *sql, int nparams, const char *const *params,
    const char *what, bool (*on_connect)(void *arg), void *arg, PGresult **res)
{
	*res = NULL;
	for (;;) {
		ExecStatusType st;
		bool fatal;

		if (tt_stop_requested())
			return TT_PG_STOPPED;
		if (pg->conn == NULL) {
			if (!tt_pg_connect(pg, &fatal))
				return fatal ? TT_PG_FATAL : tt_stop_requested() ? TT_PG_STOPPED : TT_PG_UNAVAILABLE;
			if (on_connect != NULL && !on_connect(arg))
				return TT_PG_REFUSED;
		}
		*res = nparams > 0 ? PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0)
		    : PQexec(pg->conn, sql);
		st = *res != NULL ? PQresultStatus(*res) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			tt_pg_ok(pg);
			return TT_PG_OK;
		}
		if (!tt_pg_transient(pg, *res))
			return TT_PG_REFUSED;
		tt_pg_log_result(TT_LOG_WARN, what, pg, *res);
		PQclear(*res);
		*res = NULL;
		tt_pg_disconnect(pg);
	}
}

bool
tt_pg_exec(struct tt_pg *pg, const char *sql, PGresult **res_out)
{
	PGresult *res;
	ExecStatusType st;

	if (res_out != NULL)
		*res_out = NULL;
	if (pg->conn == NULL)
		return false;
	res = PQexec(pg->conn, sql);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return true;
	}
	if (res_out != NULL)
		*res_out = res;
	else
		PQclear(res);
	return false;
}

bool
tt_pg_put_copy_data(PGconn *conn, const char *data, size_t len)
{
	for (size_t off = 0; off < len;) {
		size_t n = len - off < (1u << 20) ? len - off : (1u << 20);

		if (PQputCopyData(conn, data + off, (int)n) != 1)
			return false;
		off += n;
	}
	return true;
}

bool
tt_pg_copy_send(struct tt_pg *pg, struct tt_pg_copy *c, const char *sql, const char *data, size_t len,
    PGresult **res_out)
{
	PGresult *res, *more;
	int flushed;

	memset(c, 0, sizeof *c);
	*res_out = NULL;
	if (pg->conn == NULL || !PQsendQuery(pg->conn, sql))
		return false;
	res = PQgetResult(pg->conn);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
		/* Refused at once: the statements after it are skipped. */
		while ((more = PQgetResult(pg->conn)) != NULL)
			PQclear(more);
		*res_out = res;
		return false;
	}
	PQclear(res);
	/* Non-blocking: libpq keeps what the socket cannot take yet, and
	 * tt_pg_copy_poll hands it over later. */
	if (PQsetnonblocking(pg->conn, 1) != 0 || !tt_pg_put_copy_data(pg->conn, data, len) ||
	    PQputCopyEnd(pg->conn, NULL) != 1 || (flushed = PQflush(pg->conn)) < 0)
		return false;
	c->unsent = flushed == 1;
	return true;
}

/* Takes one result into c. */
static void
copy_result(struct tt_pg_copy *c, PGresult *res)
{
	if (c->failed == NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
		c->ok++;
		snprintf(c->last_tag, sizeof c->last_tag, "%s", PQcmdStatus(res));
		PQclear(res);
	} else if (c->failed == NULL) {
		c->failed = res;
	} else {
		PQclear(res);
	}
}

bool
tt_pg_copy_poll(struct tt_pg *pg, struct tt_pg_copy *c)
{
	PGresult *res;
	int flushed;

	while (!c->lost) {
		flushed = PQflush(pg->conn);
		c->unsent = flushed == 1;
		if (flushed < 0 || !PQconsumeInput(pg->conn)) {
			c->lost = true;
			break;
		}
		if (PQisBusy(pg->conn))
			return false;
		if ((res = PQgetResult(pg->conn)) == NULL)
			break;
		copy_result(c, res);
	}
	c->unsent = false;
	return true;
}

void
tt_pg_copy_wait(struct tt_pg *pg, struct tt_pg_copy *c)
{
	PGresult *res;

	/* PQgetResult sends what libpq still holds, then waits. */
	while (!c->lost && (res = PQgetResult(pg->conn)) != NULL)
		copy_result(c, res);
	c->unsent = false;
	/* A refused COPY ends while libpq may still hold rows it has not
	 * sent; the server reads and drops them, and they must go before
	 * the connection is blocking again (PQsetnonblocking flushes once,
	 * without waiting, and fails on a full socket). */
	while (!c->lost) {
		struct pollfd p = { .fd = PQsocket(pg->conn), .events = POLLOUT | POLLIN };
		int flushed = PQflush(pg->conn);

		if (flushed == 0)
			break;
		if (flushed < 0 || (poll(&p, 1, -1) < 0 && errno != EINTR) ||
		    ((p.revents & POLLIN) != 0 && !PQconsumeInput(pg->conn)))
			c->lost = true;
	}
	if (!c->lost && PQsetnonblocking(pg->conn, 0) != 0)
		c->lost = true;
}
