-- 001_core.sql - the whole schema: streams, sessions, users, the
-- append-only and time-partitioned events, and the tables the rule engine,
-- the API and the audit trail fill (actions_log, rules, user_notes,
-- api_tokens, audit_log).
--
-- Applied by scripts/migrate as the owner of the schema, in one
-- transaction. The application role (psql variable app_role, default ttlc)
-- gets only what the commands need: on events, SELECT and INSERT, never
-- UPDATE, DELETE or TRUNCATE. Partitions are made, and old ones dropped,
-- through SECURITY DEFINER functions, which is also the one way (audited)
-- to rewrite stored events: erasing a viewer's personal data.

CREATE TABLE streams (
	stream_id       text PRIMARY KEY,           -- TikTok room id
	unique_id       text,                       -- the streamer's @handle, when known
	first_seen      timestamptz NOT NULL,
	last_seen       timestamptz NOT NULL,
	last_session_id uuid
);

CREATE TABLE sessions (
	session_id    uuid PRIMARY KEY,
	stream_id     text NOT NULL REFERENCES streams,
	source        text NOT NULL CHECK (source IN ('live', 'replay')),
	started_at    timestamptz NOT NULL,          -- CONNECTED, else the first event
	ended_at      timestamptz,                   -- DISCONNECTED or STREAM_END
	end_reason    text,
	last_event_at timestamptz NOT NULL,
	replay_of     uuid REFERENCES sessions       -- the session a replay plays again
);
CREATE INDEX sessions_stream_started ON sessions (stream_id, started_at);
CREATE INDEX sessions_replay_of ON sessions (replay_of) WHERE replay_of IS NOT NULL;

CREATE TABLE users (
	user_id          text PRIMARY KEY,           -- TikTok's numeric user id
	unique_id        text,                       -- @handle
	nickname         text,
	avatar_url       text,
	first_seen       timestamptz NOT NULL,
	last_seen        timestamptz NOT NULL,
	pseudonymized_at timestamptz                 -- personal data replaced (tt-prune)
);
CREATE INDEX users_last_seen ON users (last_seen);
CREATE INDEX users_unique_id ON users (unique_id);

-- One row per UnifiedEvent, the event itself in "event". Partitioned by
-- day of the event's timestamp, so that retention drops whole partitions.
-- The primary key holds the partition key, as PostgreSQL requires; an
-- eventId always comes with the same timestamp, so (event_id, ts) is as
-- unique as event_id.
CREATE TABLE events (
	event_id    text NOT NULL CHECK (event_id ~ '^[0-9a-f]{64}$'),
	ts          timestamptz NOT NULL,            -- the event's "timestamp"
	ingested_at timestamptz NOT NULL,
	stored_at   timestamptz NOT NULL DEFAULT now(),
	event_type  text NOT NULL,
	source      text NOT NULL CHECK (source IN ('live', 'replay')),
	stream_id   text NOT NULL,
	session_id  uuid NOT NULL,
	seq_no      bigint NOT NULL,
	user_id     text,
	event       jsonb NOT NULL,
	PRIMARY KEY (event_id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX events_session_seq ON events (session_id, seq_no);
CREATE INDEX events_stream_ts ON events (stream_id, ts);
CREATE INDEX events_user_ts ON events (user_id, ts) WHERE user_id IS NOT NULL;
CREATE INDEX events_type_ts ON events (event_type, ts);

-- Append-only, for every role: a row trigger refuses UPDATE and DELETE
-- unless the erasure function has opened its (transaction-local) window,
-- and a statement trigger refuses TRUNCATE. The application role has no
-- such privileges at all; the triggers stop the owner's mistakes too.
CREATE FUNCTION ttlc_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND current_setting('ttlc.erasing', true) = 'on' THEN
		RETURN NEW;
	END IF;
	RAISE EXCEPTION 'events is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
	FOR EACH ROW EXECUTE FUNCTION ttlc_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
	FOR EACH STATEMENT EXECUTE FUNCTION ttlc_events_append_only();

CREATE TABLE rules (
	rule_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text NOT NULL UNIQUE,
	enabled     boolean NOT NULL DEFAULT true,
	event_type  text NOT NULL,                   -- the trigger (seed 5)
	condition   jsonb NOT NULL DEFAULT '{}',
	action      jsonb NOT NULL,                  -- announce, moderate, webhook, log
	cooldown_ms integer NOT NULL DEFAULT 0 CHECK (cooldown_ms >= 0),
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE actions_log (
	action_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	rule_id     bigint REFERENCES rules ON DELETE SET NULL,
	event_id    text,
	session_id  uuid,
	action_type text NOT NULL,
	status      text NOT NULL CHECK (status IN ('ok', 'failed', 'skipped', 'dead_lettered')),
	attempts    integer NOT NULL DEFAULT 1,
	detail      jsonb,
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX actions_log_created ON actions_log (created_at);
CREATE INDEX actions_log_event ON actions_log (event_id);

CREATE TABLE user_notes (
	note_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id    text NOT NULL,
	author     text NOT NULL,
	note       text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_notes_user ON user_notes (user_id);

CREATE TABLE api_tokens (
	token_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name         text NOT NULL,
	token_sha256 text NOT NULL UNIQUE,           -- never the token itself
	role         text NOT NULL CHECK (role IN ('viewer', 'moderator', 'streamer', 'admin')),
	created_at   timestamptz NOT NULL DEFAULT now(),
	last_used_at timestamptz,
	revoked_at   timestamptz
);

CREATE TABLE audit_log (
	audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       timestamptz NOT NULL DEFAULT now(),
	actor    text NOT NULL,                      -- database role or API token name
	action   text NOT NULL,                      -- erase_user, drop_partition, ...
	target   text,
	detail   jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);

-- The partition of events for the day of ts, made when missing. tt-store
-- calls it for each day it has not seen yet.
CREATE FUNCTION ttlc_event_partition(day date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	name text := format('events_%s', to_char(day, 'YYYYMMDD'));
BEGIN
	IF to_regclass('public.' || name) IS NULL THEN
		BEGIN
			EXECUTE format('CREATE TABLE public.%I PARTITION OF public.events FOR VALUES FROM (%L) TO (%L)',
				name, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
			-- Row triggers reach partitions by themselves; TRUNCATE
			-- of the partition itself needs its own.
			EXECUTE format('CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON public.%I '
				'FOR EACH STATEMENT EXECUTE FUNCTION ttlc_events_append_only()', name);
		EXCEPTION WHEN duplicate_table THEN
			NULL; -- made by another writer meanwhile
		END;
	END IF;
	RETURN name;
END
$$;
REVOKE ALL ON FUNCTION ttlc_event_partition(date) FROM PUBLIC;

SELECT format('GRANT SELECT, INSERT, UPDATE ON streams, sessions, users TO %I', :'app_role') \gexec
SELECT format('GRANT SELECT, INSERT ON events TO %I', :'app_role') \gexec
SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON rules, user_notes, api_tokens TO %I', :'app_role') \gexec
SELECT format('GRANT SELECT, INSERT ON actions_log, audit_log TO %I', :'app_role') \gexec
SELECT format('GRANT EXECUTE ON FUNCTION ttlc_event_partition(date) TO %I', :'app_role') \gexec
