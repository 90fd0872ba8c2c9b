/* tt-prune - retention and privacy for the stored events, a job for cron.
 *
 * By default: drops the events partitions older than the retention period
 * (EVENT_RETENTION_DAYS, --retention-days) and pseudonymizes the users not
 * seen within it. With --erase-user ID: erases that viewer's personal data
 * everywhere it is stored, nothing else. Either way the work is done by
 * the audited functions of schema/sql/003_retention.sql, each step in a
 * transaction of its own, under an advisory lock that keeps a second
 * tt-prune out; the outcome is one JSON report on standard output. See
 * tt-prune(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt_config.h"
#include "tt_exit.h"
#include "tt_json.h"
#include "tt_log.h"
#include "tt_out.h"
#include "tt_pg.h"

#define USAGE \
	"usage: tt-prune [--dry-run] [--retention-days N]\n" \
	"       tt-prune [--dry-run] --erase-user ID...\n" \
	"       tt-prune --help\n" \
	"Drops the events partitions older than the retention period and\n" \
	"pseudonymizes the users not seen within it; or, with --erase-user, erases\n" \
	"the personal data of a viewer everywhere it is stored. Prints one JSON report.\n" \
	"  --retention-days N  days of events to keep, 1 to 36500 (default:\n" \
	"                      EVENT_RETENTION_DAYS, else 90)\n" \
	"  --erase-user ID     the TikTok numeric user id to erase (repeatable)\n" \
	"  --dry-run           report what would change, change nothing\n" \
	"Environment: DATABASE_URL, EVENT_RETENTION_DAYS, RECONNECT_MAX_ATTEMPTS,\n" \
	"LOG_LEVEL.\n"

#define DEFAULT_RETENTION_DAYS 90
#define MAX_RETENTION_DAYS 36500
#define MAX_ERASE 100
/* Tables that may want a VACUUM after a run: partitions, users, ... */
#define MAX_VACUUM 512
/* The advisory lock every tt-prune takes ("ttlc", 1); the erasure
 * function takes ("ttlc", 2) for its transaction. */
#define LOCK_SQL "SELECT set_config('lock_timeout', '10s', false), pg_try_advisory_lock(1953721443, 1)"

struct prune {
	struct tt_pg pg;
	bool dry_run;
	uint64_t retention_days;
	const char *erase_ids[MAX_ERASE];
	size_t nerase;
	struct tt_arena arena;    /* the report */
	struct tt_json *report;
	char *vacuum[MAX_VACUUM]; /* tables changed in place (owned) */
	size_t nvacuum;
	bool locked;              /* holds the advisory lock */
	uint64_t partitions, events, users, erased;
	int status;
};

/* ---- the database side -------------------------------------------- */

/* The exit status a refusal that retrying cannot mend deserves. (A table
 * that goes away while a step runs is not one: see run's may_vanish.) */
static int
status_of(const PGresult *res)
{
	const char *s = tt_pg_state(res);

	/* The functions or their tables are missing (003 not applied), the
	 * role may not use them, or the period asked is below the owner's
	 * minimum (ttlc_settings): the setup is wrong, not the run. */
	if (strcmp(s, "42883") == 0 || strcmp(s, "42P01") == 0 || strcmp(s, "42501") == 0)
		return TT_EXIT_CONFIG;
	/* lock_timeout: a long transaction holds events; another night. */
	if (strcmp(s, "55P03") == 0)
		return TT_EXIT_TEMPFAIL;
	return TT_EXIT_FAILURE;
}

/* Takes the advisory lock on a new connection (tt_pg_query's on_connect).
 * False with p->status set: 69 or the refusal's status, or 75 when
 * another tt-prune holds the lock. */
static bool
take_lock(void *arg)
{
	struct prune *p = arg;
	PGresult *res;

	p->locked = false;
	res = PQexec(p->pg.conn, LOCK_SQL);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		tt_pg_log_result(TT_LOG_ERROR, "cannot take the advisory lock", &p->pg, res);
		p->status = tt_pg_transient(&p->pg, res) ? TT_EXIT_UNAVAILABLE : status_of(res);
		PQclear(res);
		return false;
	}
	p->locked = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (!p->locked) {
		tt_log_msg(TT_LOG_ERROR, "another tt-prune is running (advisory lock 1953721443/1 held); try later",
		    NULL, NULL);
		p->status = TT_EXIT_TEMPFAIL;
		return false;
	}
	tt_pg_ok(&p->pg);
	return true;
}

/* Connects (with the back-off) and takes the advisory lock. False with
 * p->status set: 78, 69, or 75 (stopped, or another tt-prune holds the
 * lock). */
static bool
connect_and_lock(struct prune *p)
{
	bool fatal;

	p->locked = false;
	if (!tt_pg_connect(&p->pg, &fatal)) {
		p->status = fatal ? TT_EXIT_CONFIG : tt_stop_requested() ? TT_EXIT_TEMPFAIL : TT_EXIT_UNAVAILABLE;
		return false;
	}
	return take_lock(p);
}

/* Runs one statement, in a transaction of its own, with text parameters
 * (none: the simple protocol, which VACUUM needs). A transient failure
 * reconnects, takes the lock again and runs it again: every step is
 * idempotent. Returns the result (the caller clears it), or NULL with the
 * failure logged and p->status set. With may_vanish, the statement is
 * about one table that someone else may drop meanwhile: "no such table"
 * (42P01) then returns NULL with a warning and p->status unchanged. */
static PGresult *
run(struct prune *p, const char *sql, int nparams, const char *const *params, bool may_vanish, const char *what)
{
	PGresult *res;

	switch (tt_pg_query(&p->pg, sql, nparams, params, what, take_lock, p, &res)) {
	case TT_PG_OK:
		return res;
	case TT_PG_REFUSED:
		if (res == NULL)
			return NULL; /* take_lock set the status */
		if (may_vanish && strcmp(tt_pg_state(res), "42P01") == 0) {
			tt_pg_log_result(TT_LOG_WARN, "the table went away meanwhile; skipped", &p->pg, res);
		} else {
			tt_pg_log_result(TT_LOG_ERROR, what, &p->pg, res);
			p->status = status_of(res);
		}
		PQclear(res);
		break;
	case TT_PG_STOPPED:
		p->status = TT_EXIT_TEMPFAIL;
		break;
	case TT_PG_UNAVAILABLE:
		p->status = TT_EXIT_UNAVAILABLE;
		break;
	case TT_PG_FATAL:
		p->status = TT_EXIT_CONFIG;
		break;
	}
	return NULL;
}

/* Notes a table changed in place (its old row versions stay in its files
 * until VACUUM). */
static void
want_vacuum(struct prune *p, const char *table, size_t len)
{
	for (size_t i = 0; i < p->nvacuum; i++)
		if (strlen(p->vacuum[i]) == len && memcmp(p->vacuum[i], table, len) == 0)
			return;
	if (p->nvacuum < MAX_VACUUM && (p->vacuum[p->nvacuum] = strndup(table, len)) != NULL)
		p->nvacuum++;
}

/* VACUUMs one table; false when it was not done (gone meanwhile: a
 * warning; failed: p->status set). */
static bool
vacuum_one(struct prune *p, const char *table)
{
	char *name = PQescapeIdentifier(p->pg.conn, table, strlen(table));
	char sql[256];
	PGresult *res;
	bool done;

	if (name == NULL) {
		tt_log_msg(TT_LOG_ERROR, "out of memory", NULL, NULL);
		p->status = TT_EXIT_FAILURE;
		return false;
	}
	snprintf(sql, sizeof sql, "VACUUM public.%s", name);
	PQfreemem(name);
	res = run(p, sql, 0, NULL, true, "cannot VACUUM");
	done = res != NULL;
	PQclear(res);
	return done;
}

/* VACUUMs the tables noted by want_vacuum when this role may (it owns
 * them, or the database) and every step so far succeeded. Adds to the
 * report "vacuumed" (when it may: the tables done) and "vacuumNeeded"
 * (the tables left for the owner: this role may not, or a step or a
 * VACUUM failed and p->status says why), with a warning naming them. A
 * table gone meanwhile is in neither. */
static void
vacuum_changed(struct prune *p)
{
	struct tt_arena *a = &p->arena;
	struct tt_json *done, *needed;
	char names[2048];
	size_t off = 0, nneeded = 0;
	PGresult *res;
	bool may = false;
	struct tt_logrec r;

	if (p->nvacuum == 0)
		return;
	if (p->status == TT_EXIT_OK)
		res = run(p, "SELECT pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE') "
		    "FROM pg_class c, pg_database d WHERE c.oid = 'public.events'::regclass "
		    "AND d.datname = current_database()", 0, NULL, false, "cannot check who owns events");
	else
		res = NULL;
	if (res != NULL) {
		may = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
	}
	done = tt_json_new(a, TT_JSON_ARRAY);
	needed = tt_json_new(a, TT_JSON_ARRAY);
	names[0] = '\0';
	for (size_t i = 0; i < p->nvacuum; i++) {
		const char *table = p->vacuum[i];
		struct tt_json *item = tt_json_new_str(a, table, strlen(table));

		if (may && p->status == TT_EXIT_OK) {
			if (vacuum_one(p, table))
				tt_json_add(done, NULL, item);
			if (p->status == TT_EXIT_OK)
				continue;
		}
		tt_json_add(needed, NULL, item);
		nneeded++;
		if (off < sizeof names)
			off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", off ? " " : "", table);
	}
	if (may)
		tt_json_add(p->report, "vacuumed", done);
	if (nneeded == 0)
		return;
	tt_json_add(p->report, "vacuumNeeded", needed);
	if (tt_log_begin(&r, TT_LOG_WARN, !may && p->status == TT_EXIT_OK ?
	    "old row versions stay in the files until VACUUM, which this role may not run: run it as the owner" :
	    "old row versions stay in the files until VACUUM, which did not run: run it as the owner")) {
		tt_log_str(&r, "tables", names);
		tt_log_end(&r);
	}
}

/* ---- retention ------------------------------------------------------ */

static void
retention(struct prune *p)
{
	struct tt_arena *a = &p->arena;
	struct tt_json *list = tt_json_new(a, TT_JSON_ARRAY);
	char days[TT_JSON_INT_LEN];
	const char *dry = p->dry_run ? "true" : "false";
	const char *params[3];
	PGresult *res, *parts;
	struct tt_logrec r;

	tt_json_format_int((int64_t)p->retention_days, days);
	tt_json_add(p->report, "retentionDays", tt_json_new_int(a, (int64_t)p->retention_days));
	params[0] = days;
	res = run(p, "SELECT to_char(ttlc_retention_cutoff($1::integer) AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", 1, params, false, "cannot compute the cutoff");
	if (res == NULL)
		return;
	tt_json_add(p->report, "cutoff", tt_json_new_str(a, tt_arena_strdup(a, PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0)), (size_t)PQgetlength(res, 0, 0)));
	PQclear(res);
	tt_json_add(p->report, "partitions", list);

	parts = run(p, "SELECT partition FROM ttlc_expired_partitions($1::integer)", 1, params, false,
	    "cannot list the expired partitions");
	if (parts == NULL)
		return;
	for (int i = 0; i < PQntuples(parts) && p->status == TT_EXIT_OK; i++) {
		const char *name = PQgetvalue(parts, i, 0);
		struct tt_json *one;
		const char *drop_params[3] = { name, days, dry };

		res = run(p, "SELECT ttlc_drop_event_partition($1, $2::integer, $3::boolean)", 3, drop_params,
		    true, "cannot drop a partition");
		if (res == NULL && p->status != TT_EXIT_OK)
			break;
		if (res == NULL || PQgetisnull(res, 0, 0)) {
			/* Gone meanwhile (the owner, or a step retried after a
			 * reconnect that had committed). */
			tt_log_msg(TT_LOG_INFO, "partition already gone", "partition", name);
			PQclear(res);
			continue;
		}
		one = tt_json_new(a, TT_JSON_OBJECT);
		tt_json_add(one, "name", tt_json_new_str(a, tt_arena_strdup(a, name, strlen(name)), strlen(name)));
		{
			uint64_t n = strtoull(PQgetvalue(res, 0, 0), NULL, 10);

			tt_json_add(one, "events", tt_json_new_int(a, (int64_t)n));
			p->events += n;
			p->partitions++;
			if (tt_log_begin(&r, TT_LOG_INFO, p->dry_run ? "would drop partition" : "dropped partition")) {
				tt_log_str(&r, "partition", name);
				tt_log_uint(&r, "events", n);
				tt_log_end(&r);
			}
		}
		tt_json_add(list, NULL, one);
		PQclear(res);
	}
	PQclear(parts);
	tt_json_add(p->report, "events", tt_json_new_int(a, (int64_t)p->events));
	if (p->status != TT_EXIT_OK)
		return;

	params[1] = dry;
	res = run(p, "SELECT ttlc_pseudonymize_users($1::integer, $2::boolean)", 2, params, false,
	    "cannot pseudonymize users");
	if (res == NULL)
		return;
	p->users = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	tt_json_add(p->report, "usersPseudonymized", tt_json_new_int(a, (int64_t)p->users));
	if (tt_log_begin(&r, TT_LOG_INFO, p->dry_run ? "would pseudonymize users" : "pseudonymized users")) {
		tt_log_uint(&r, "users", p->users);
		tt_log_end(&r);
	}
	if (p->users > 0 && !p->dry_run)
		want_vacuum(p, "users", 5);
}

/* ---- erasure -------------------------------------------------------- */

/* The count named key of an erasure report (0 if absent). */
static int64_t
count_of(const struct tt_json *v, const char *key)
{
	int64_t n;

	return tt_json_int(tt_json_get(v, key), &n) ? n : 0;
}

/* Erases one user; the function's counts go into the report. */
static void
erase_one(struct prune *p, const char *id, struct tt_json *list)
{
	static const struct { const char *count, *table; } touched[] = {
		{ "users", "users" }, { "notes", "user_notes" }, { "notesScrubbed", "user_notes" },
		{ "actions", "actions_log" }, { "audit", "audit_log" }, { "streams", "streams" },
	};
	struct tt_arena *a = &p->arena;
	const char *params[2] = { id, p->dry_run ? "true" : "false" };
	struct tt_json_parser *parser;
	struct tt_json *v = NULL;
	const struct tt_json *parts;
	PGresult *res;
	char *text, err[256];
	size_t len;
	struct tt_logrec r;

	res = run(p, "SELECT ttlc_erase_user($1, $2::boolean)::text", 2, params, false, "cannot erase the user");
	if (res == NULL)
		return;
	len = (size_t)PQgetlength(res, 0, 0);
	text = tt_arena_strdup(a, PQgetvalue(res, 0, 0), len);
	PQclear(res);
	parser = tt_json_parser_new();
	if (text == NULL || parser == NULL ||
	    tt_json_parse(parser, a, text, len, &v, err, sizeof err) != TT_JSON_OK || v->kind != TT_JSON_OBJECT) {
		tt_log_msg(TT_LOG_ERROR, "cannot read the erasure's report", "error", text == NULL ? "out of memory" : err);
		tt_json_parser_free(parser);
		p->status = TT_EXIT_FAILURE;
		return;
	}
	tt_json_parser_free(parser);
	tt_json_add(list, NULL, v);
	p->erased++;
	p->events += (uint64_t)count_of(v, "events");
	if (tt_log_begin(&r, TT_LOG_INFO, p->dry_run ? "would erase user" : "erased user")) {
		/* The id only: never a handle, nickname or avatar. */
		tt_log_str(&r, "userId", id);
		tt_log_int(&r, "events", count_of(v, "events"));
		tt_log_int(&r, "users", count_of(v, "users"));
		tt_log_int(&r, "notes", count_of(v, "notes"));
		tt_log_end(&r);
	}
	if (count_of(v, "rulesMentioning") > 0 && tt_log_begin(&r, TT_LOG_WARN, "rules mention the erased user; "
	    "they are not changed: edit them")) {
		tt_log_str(&r, "userId", id);
		tt_log_int(&r, "rules", count_of(v, "rulesMentioning"));
		tt_log_end(&r);
	}
	if (p->dry_run)
		return;
	parts = tt_json_get(v, "partitions");
	for (const struct tt_json *e = parts != NULL ? parts->first : NULL; e != NULL; e = e->next)
		if (e->kind == TT_JSON_STRING)
			want_vacuum(p, e->str, e->len);
	for (size_t i = 0; i < sizeof touched / sizeof touched[0]; i++)
		if (count_of(v, touched[i].count) > 0)
			want_vacuum(p, touched[i].table, strlen(touched[i].table));
}

static void
erasure(struct prune *p)
{
	struct tt_json *list = tt_json_new(&p->arena, TT_JSON_ARRAY);

	tt_json_add(p->report, "erased", list);
	for (size_t i = 0; i < p->nerase && p->status == TT_EXIT_OK; i++)
		erase_one(p, p->erase_ids[i], list);
}

/* ---- main ----------------------------------------------------------- */

/* Whether s is a TikTok numeric user id: 1 to 20 decimal digits. */
static bool
is_user_id(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n >= 1 && n <= 20 && s[n] == '\0';
}

/* Writes the report as one line on standard output; "complete" says
 * whether every step ran, the VACUUMs included. */
static void
print_report(struct prune *p)
{
	struct tt_json_writer *w = tt_json_writer_new();
	struct tt_out out;
	const unsigned char *text;
	size_t len;

	tt_json_add(p->report, "complete", tt_json_new_bool(&p->arena, p->status == TT_EXIT_OK));
	tt_out_stdout(&out);
	if (w == NULL || p->arena.failed || !tt_json_write(w, p->report, &text, &len)) {
		tt_log_msg(TT_LOG_ERROR, "out of memory writing the report", NULL, NULL);
		if (p->status == TT_EXIT_OK)
			p->status = TT_EXIT_FAILURE;
	} else if ((!tt_out_line(&out, text, len) || !tt_out_close(&out)) && p->status == TT_EXIT_OK) {
		p->status = TT_EXIT_IOERR;
	}
	tt_json_writer_free(w);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "retention-days", required_argument, NULL, 'r' },
		{ "erase-user", required_argument, NULL, 'e' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct prune p;
	const char *days_flag = NULL, *env;
	char err[512];
	int opt;
	struct tt_logrec r;

	tt_log_init("tt-prune");
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (!tt_parse_u64(optarg, 1, MAX_RETENTION_DAYS, &p.retention_days))
				tt_usage_error(USAGE, "--retention-days must be a number of days from 1 to 36500", optarg);
			days_flag = optarg;
			break;
		case 'e':
			if (!is_user_id(optarg))
				tt_usage_error(USAGE, "--erase-user takes a TikTok numeric user id (1 to 20 digits)", optarg);
			if (p.nerase == MAX_ERASE)
				tt_usage_error(USAGE, "at most 100 --erase-user per run", NULL);
			p.erase_ids[p.nerase++] = optarg;
			break;
		case 'n':
			p.dry_run = true;
			break;
		case 'h':
			tt_usage_help(USAGE);
		default:
			tt_usage_error(USAGE, "bad usage", NULL);
		}
	}
	if (optind != argc)
		tt_usage_error(USAGE, "no operands", argv[optind]);
	if (p.nerase > 0 && days_flag != NULL)
		tt_usage_error(USAGE, "--erase-user erases only: --retention-days does not apply", NULL);
	if (p.nerase == 0 && days_flag == NULL) {
		p.retention_days = DEFAULT_RETENTION_DAYS;
		env = tt_env("EVENT_RETENTION_DAYS");
		if (env != NULL && !tt_parse_u64(env, 1, MAX_RETENTION_DAYS, &p.retention_days)) {
			tt_log_msg(TT_LOG_ERROR, "EVENT_RETENTION_DAYS must be a number of days from 1 to 36500",
			    "EVENT_RETENTION_DAYS", env);
			return TT_EXIT_CONFIG;
		}
	}
	if (!tt_pg_init(&p.pg, NULL, "tt-prune", err, sizeof err)) {
		tt_log_msg(TT_LOG_ERROR, "bad PostgreSQL configuration", "error", err);
		return TT_EXIT_CONFIG;
	}
	tt_stop_on_signals();
	tt_arena_init(&p.arena, 64u << 20);
	p.report = tt_json_new(&p.arena, TT_JSON_OBJECT);
	tt_json_add(p.report, "dryRun", tt_json_new_bool(&p.arena, p.dry_run));
	if (p.report != NULL && connect_and_lock(&p)) {
		if (p.nerase > 0)
			erasure(&p);
		else
			retention(&p);
		if (!p.dry_run)
			vacuum_changed(&p);
		print_report(&p);
	} else if (p.report == NULL) {
		p.status = TT_EXIT_FAILURE;
	}
	if (tt_log_begin(&r, p.status == TT_EXIT_OK ? TT_LOG_INFO : TT_LOG_ERROR, "exit")) {
		tt_log_str(&r, "mode", p.nerase > 0 ? "erase" : "retention");
		tt_log_int(&r, "dryRun", p.dry_run);
		tt_log_uint(&r, "partitions", p.partitions);
		tt_log_uint(&r, "events", p.events);
		tt_log_uint(&r, "users", p.users);
		tt_log_uint(&r, "erased", p.erased);
		tt_log_int(&r, "status", p.status);
		tt_log_end(&r);
	}
	/* Closing the session releases the advisory lock. */
	tt_pg_free(&p.pg);
	for (size_t i = 0; i < p.nvacuum; i++)
		free(p.vacuum[i]);
	tt_arena_free(&p.arena);
	return p.status;
}
