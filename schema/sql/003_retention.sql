-- 003_retention.sql - retention and privacy, for tt-prune(1): dropping
-- the events partitions older than the retention period, pseudonymizing
-- the users not seen within it, and erasing one viewer's personal data
-- everywhere it is stored.
--
-- The application role runs tt-prune, and may do these things only
-- through the functions below; it still has no UPDATE, DELETE, TRUNCATE or
-- DROP of its own on events. The functions that need more than it has are
-- SECURITY DEFINER. Every change writes an audit_log row (actor =
-- session_user, the role that logged in); a dry run computes the same
-- answer and changes nothing.
--
-- Every function here pins search_path = pg_catalog, public, pg_temp.
-- pg_temp is named, and last, because where it is not named PostgreSQL
-- looks for tables and types in the caller's temporary schema FIRST: a
-- temporary table called audit_log or pg_class, made by the caller, would
-- be what the owner's function reads and writes. Besides, every table is
-- named with its schema (public.events, pg_catalog.pg_class), and so is
-- every function of ours (public.ttlc_...); built-in functions and
-- operators come from pg_catalog, searched first (a temporary schema is
-- never searched for them). The application role must not be able to
-- create objects in public (PostgreSQL 15's default): checked below.
--
-- The helpers (scrubbing, matching) are not granted to anyone: only the
-- owner's functions call them.

-- public is in the functions' search_path: nobody but the owner may add
-- a function there that could be picked instead of a built-in one.
SELECT has_schema_privilege(:'app_role', 'public', 'CREATE') AS app_may_create \gset
\if :app_may_create
DO $$ BEGIN
	RAISE EXCEPTION 'the application role may create objects in schema public: '
		'REVOKE CREATE ON SCHEMA public FROM PUBLIC (and from the role) first';
END $$;
\endif

-- The functions of 001 get the same: ttlc_event_partition is SECURITY
-- DEFINER with search_path pg_catalog, public (pg_temp searched first);
-- the append-only trigger runs as whoever rewrites events, the owner
-- during an erasure.
ALTER FUNCTION ttlc_event_partition(date) SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION ttlc_events_append_only() SET search_path = pg_catalog, public, pg_temp;

-- ---- settings --------------------------------------------------------

-- Settings of the schema's owner, one row. min_retention_days is the
-- shortest retention the functions below accept, whoever asks: the
-- application role cannot lower it (it may only read it), so a stolen
-- DATABASE_URL cannot drop recent events by asking for a short period.
-- The owner raises it with UPDATE ttlc_settings SET min_retention_days = N.
CREATE TABLE ttlc_settings (
	one                boolean PRIMARY KEY DEFAULT true CHECK (one),  -- one row only
	min_retention_days integer NOT NULL DEFAULT 1 CHECK (min_retention_days >= 1)
);
INSERT INTO ttlc_settings DEFAULT VALUES;
SELECT format('GRANT SELECT ON ttlc_settings TO %I', :'app_role') \gexec

-- ---- retention -------------------------------------------------------

-- The first moment retention keeps: midnight UTC, retention_days days
-- before today (UTC). A partition that ends at or before it cannot hold an
-- event of the retention period; a user last seen before it has no event
-- left in the partitions that are kept. Refuses (insufficient_privilege)
-- a retention_days below ttlc_settings.min_retention_days: every function
-- that drops or pseudonymizes computes its cutoff here.
CREATE FUNCTION ttlc_retention_cutoff(retention_days integer) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	floor_days integer;
BEGIN
	IF retention_days IS NULL OR retention_days < 1 THEN
		RAISE EXCEPTION 'retention_days must be at least 1, not %', retention_days
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT s.min_retention_days INTO floor_days FROM public.ttlc_settings s;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ttlc_settings holds no row: the schema''s owner must put it back'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF retention_days < floor_days THEN
		RAISE EXCEPTION 'retention_days % is below the minimum of % days set by the schema''s owner '
			'(ttlc_settings.min_retention_days)', retention_days, floor_days
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN ((pg_catalog.now() AT TIME ZONE 'UTC')::date - retention_days)::timestamp AT TIME ZONE 'UTC';
END
$$;

-- The partitions retention may drop, oldest first: children of
-- public.events named events_YYYYMMDD whose range, read from the catalog
-- (not from the name), ends at or before the cutoff. The default partition
-- and anything else attached to events are never listed.
CREATE FUNCTION ttlc_expired_partitions(retention_days integer)
RETURNS TABLE (partition text, range_from timestamptz, range_to timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, public, pg_temp
SET datestyle = 'ISO, YMD' SET timezone = 'UTC' AS $$
	SELECT c.relname::text, b[1]::timestamptz, b[2]::timestamptz
	FROM pg_catalog.pg_inherits i
	JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	CROSS JOIN LATERAL pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
		'^FOR VALUES FROM \(''([^'']+)''\) TO \(''([^'']+)''\)$') AS b
	WHERE i.inhparent = 'public.events'::regclass
		AND c.relispartition AND c.relkind = 'r' AND n.nspname = 'public'
		AND c.relname ~ '^events_[0-9]{8}$'
		AND b[2]::timestamptz <= public.ttlc_retention_cutoff(retention_days)
	ORDER BY 2, 1
$$;

-- Drops one expired partition and returns how many events it held (with
-- dry_run, only counts them). NULL when no such table exists (dropped
-- already). Refuses any table that ttlc_expired_partitions does not list
-- for this retention_days, and any retention_days below the owner's
-- minimum, so the caller cannot drop recent events.
CREATE FUNCTION ttlc_drop_event_partition(part text, retention_days integer, dry_run boolean)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	r record;
	n bigint;
BEGIN
	-- (The floor first: even asking about a table is refused below it.)
	PERFORM public.ttlc_retention_cutoff(retention_days);
	IF pg_catalog.to_regclass(pg_catalog.format('public.%I', part)) IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT * INTO r FROM public.ttlc_expired_partitions(retention_days) p WHERE p.partition = part;
	IF NOT FOUND THEN
		RAISE EXCEPTION '% is not an events partition older than % days', part, retention_days
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM public.%I', part) INTO n;
	IF dry_run THEN
		RETURN n;
	END IF;
	EXECUTE pg_catalog.format('DROP TABLE public.%I', part);
	INSERT INTO public.audit_log (actor, action, target, detail)
	VALUES (session_user, 'drop_partition', part, pg_catalog.jsonb_build_object('events', n,
		'from', r.range_from, 'to', r.range_to, 'retentionDays', retention_days));
	RETURN n;
END
$$;

-- Pseudonymizes the users last seen before the cutoff and not yet
-- pseudonymized: handle, nickname and avatar become NULL (nothing is kept
-- that could be turned back into them), pseudonymized_at is set; user_id
-- stays, as the key of their notes and of the counts over events. Returns
-- how many (with dry_run, how many would be). tt-store clears
-- pseudonymized_at and fills the columns in again when such a user is seen
-- again. The application role may update users anyway: no definer needed.
CREATE FUNCTION ttlc_pseudonymize_users(retention_days integer, dry_run boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	cutoff timestamptz := public.ttlc_retention_cutoff(retention_days);
	n bigint;
BEGIN
	IF dry_run THEN
		SELECT pg_catalog.count(*) INTO n FROM public.users WHERE last_seen < cutoff AND pseudonymized_at IS NULL;
		RETURN n;
	END IF;
	UPDATE public.users SET unique_id = NULL, nickname = NULL, avatar_url = NULL, pseudonymized_at = pg_catalog.now()
	WHERE last_seen < cutoff AND pseudonymized_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		INSERT INTO public.audit_log (actor, action, target, detail)
		VALUES (session_user, 'pseudonymize_users', NULL, pg_catalog.jsonb_build_object('users', n,
			'lastSeenBefore', cutoff, 'retentionDays', retention_days));
	END IF;
	RETURN n;
END
$$;

-- ---- erasure: the helpers ------------------------------------------
--
-- What an erasure changes, and nothing else (tt-prune(1), PRIVACY):
--  * in an object that names the user by id (a member of
--    ttlc_user_id_keys equal to it), the members of ttlc_handle_keys,
--    ttlc_name_keys and ttlc_avatar_keys become null;
--  * in an object that names nobody by id, a member whose name ends like
--    a handle's (contributorDisplayId, ...: ttlc_is_handle_key) becomes
--    null when its whole value is one of the user's handles or nicknames;
--  * a string holding the key of one of the user's avatars becomes the
--    marker (what is left of a signed URL is of no use);
--  * in the free-text members (ttlc_free_text_keys: the chat text, ...),
--    the user's handles and nicknames of 3 characters or more, not all
--    digits, are replaced by the marker where they are not part of a
--    longer word (ttlc_word_pattern: "@handle thanks!" -> "@[erased]
--    thanks!"), ignoring case.
-- Member names are never changed; nor is any other value (ids, event
-- types, timestamps, other people's names).

-- What replaces a viewer's handle, nickname or avatar in text.
CREATE FUNCTION ttlc_erased_marker() RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$ SELECT '[erased]' $$;

-- The members that name a user by id, and the members of such an object
-- that are personal data (set to null by the erasure): handles (what
-- @mentions use; a stream's unique_id is one), other names, avatars.
-- TikTok's messages (raw.data) and the UnifiedEvent user object both use
-- these names.
CREATE FUNCTION ttlc_user_id_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT ARRAY['id', 'idStr', 'id_str', 'userId', 'userIdStr', 'user_id', 'uid']
$$;
CREATE FUNCTION ttlc_handle_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT ARRAY['uniqueId', 'unique_id', 'displayId', 'display_id']
$$;
CREATE FUNCTION ttlc_name_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT ARRAY['nickname', 'nickName', 'nick_name', 'username', 'userName', 'secUid', 'sec_uid']
$$;
CREATE FUNCTION ttlc_avatar_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT ARRAY['avatarUrl', 'avatar_url', 'avatar', 'avatarThumb', 'avatarMedium', 'avatarLarge',
		'avatarJpg', 'profilePictureUrl', 'profilePicture', 'profilePictureUrls']
$$;

-- The members whose string value is text people wrote, or text naming
-- people that TikTok wrote: UnifiedEvent's CHAT payload.text; in TikTok's
-- messages the chat's content (or comment), a gift's describe ("<nickname>:
-- sent Rose"), a goal's description; in action and audit records, text,
-- message or note.
CREATE FUNCTION ttlc_free_text_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT ARRAY['text', 'content', 'comment', 'describe', 'description', 'message', 'note']
$$;

-- Whether a member's name says it holds a handle or name: one of
-- ttlc_handle_keys or ttlc_name_keys, or a name ending like one
-- (contributorDisplayId, fromNickname, ...).
CREATE FUNCTION ttlc_is_handle_key(key text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT pg_catalog.lower(pg_catalog.replace(key, '_', '')) ~ '(uniqueid|displayid|nickname|username|secuid)$'
$$;

-- What identifies an avatar picture whatever its size, host or signature:
-- the image key, the last path segment up to '~' or '.'
-- (.../tos-maliva-avt-0068/0f3e6b...~tplv-...webp?x-signature=...), when
-- it is long enough to be unique (16 characters); else the URL without
-- its query; NULL for nothing usable.
CREATE FUNCTION ttlc_avatar_key(url text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT CASE WHEN pg_catalog.char_length(k) >= 16 THEN k
		WHEN pg_catalog.char_length(base) >= 16 THEN base END
	FROM (SELECT pg_catalog.split_part(url, '?', 1) AS base) b,
		LATERAL (SELECT pg_catalog.split_part(pg_catalog.split_part(
			pg_catalog.regexp_replace(base, '^.*/', ''), '~', 1), '.', 1) AS k) s
$$;

-- The handles, other names and avatar keys of the user found in doc: in
-- each object that names the user by id, the values of ttlc_handle_keys
-- (kind 'handle'), of ttlc_name_keys ('name'), and the avatar key of every
-- string under ttlc_avatar_keys ('avatar').
CREATE FUNCTION ttlc_identifiers(doc jsonb, uid text) RETURNS TABLE (kind text, value text)
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	-- (PL/pgSQL, not SQL: its plan is made once per session, not per call.)
	RETURN QUERY
	WITH members AS (
		SELECT m.key, m.value
		FROM pg_catalog.jsonb_path_query(doc, 'strict $.** ? (@.type() == "object")') AS o,
			pg_catalog.jsonb_each(o) m
		WHERE EXISTS (SELECT 1 FROM pg_catalog.jsonb_each(o) i
			WHERE i.key = ANY (public.ttlc_user_id_keys())
				AND pg_catalog.jsonb_typeof(i.value) IN ('string', 'number') AND i.value #>> '{}' = uid)
	)
	SELECT CASE WHEN members.key = ANY (public.ttlc_handle_keys()) THEN 'handle' ELSE 'name' END,
		members.value #>> '{}'
	FROM members
	WHERE (members.key = ANY (public.ttlc_handle_keys()) OR members.key = ANY (public.ttlc_name_keys()))
		AND pg_catalog.jsonb_typeof(members.value) = 'string' AND members.value #>> '{}' <> ''
	UNION
	SELECT 'avatar', k FROM members, pg_catalog.jsonb_path_query(members.value, 'strict $.**') AS s,
		LATERAL public.ttlc_avatar_key(s #>> '{}') AS k
	WHERE members.key = ANY (public.ttlc_avatar_keys()) AND pg_catalog.jsonb_typeof(s) = 'string'
		AND k IS NOT NULL;
END
$$;

-- s with every character that means something in a regular expression
-- escaped.
CREATE FUNCTION ttlc_regex_quote(s text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT pg_catalog.regexp_replace(s, '([^[:alnum:][:space:]])', '\\\1', 'g')
$$;

-- A regular expression finding s where it is not part of a longer word:
-- not preceded by a letter, digit or underscore when s begins with one,
-- nor followed by one when s ends with one ("@mia.sketches!" holds
-- mia.sketches, "userId" does not hold user).
CREATE FUNCTION ttlc_word_pattern(s text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT CASE WHEN s ~ '^[[:alnum:]_]' THEN '(?<![[:alnum:]_])' ELSE '' END
		|| public.ttlc_regex_quote(s)
		|| CASE WHEN s ~ '[[:alnum:]_]$' THEN '(?![[:alnum:]_])' ELSE '' END
$$;

-- What to look for in the text of a jsonb value (lower case, escaped as
-- JSON escapes them) to find what may need scrubbing: the user id; each
-- avatar key and each handle or name of 3 characters or more anywhere; a
-- shorter one only as a whole string. A superset: ttlc_scrub decides.
CREATE FUNCTION ttlc_needles(uid text, names text[], avatars text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT pg_catalog.array_agg(DISTINCT pg_catalog.lower(n)) FROM (
		SELECT uid AS n
		UNION ALL
		SELECT pg_catalog.substr(pg_catalog.to_jsonb(a)::text, 2, pg_catalog.length(pg_catalog.to_jsonb(a)::text) - 2)
		FROM pg_catalog.unnest(avatars) a
		UNION ALL
		SELECT CASE WHEN pg_catalog.char_length(h) >= 3
			THEN pg_catalog.substr(pg_catalog.to_jsonb(h)::text, 2, pg_catalog.length(pg_catalog.to_jsonb(h)::text) - 2)
			ELSE pg_catalog.to_jsonb(h)::text END
		FROM pg_catalog.unnest(names) h
	) x
$$;

-- The handles and names that free text is scrubbed of: 3 characters or
-- more and not all digits (a shorter one, or a number, would hit words and
-- numbers that are not the user), lower case, longest first (so that a
-- nickname holding the handle goes whole).
CREATE FUNCTION ttlc_text_needles(names text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT coalesce(pg_catalog.array_agg(h ORDER BY pg_catalog.char_length(h) DESC, h), '{}')
	FROM (SELECT DISTINCT pg_catalog.lower(n) AS h FROM pg_catalog.unnest(names) n) x
	WHERE pg_catalog.char_length(h) >= 3 AND h !~ '^[0-9]+$'
$$;

-- Whether doc (JSON text, or any text) holds one of the needles, ignoring
-- case.
CREATE FUNCTION ttlc_mentions(doc text, needles text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	l text := pg_catalog.lower(doc);
	n text;
BEGIN
	FOREACH n IN ARRAY needles LOOP
		IF pg_catalog.strpos(l, n) > 0 THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;

-- Whether free text s names the user: one of texts (ttlc_text_needles)
-- not part of a longer word (ttlc_word_pattern), ignoring case.
CREATE FUNCTION ttlc_mentions_word(s text, texts text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	l text := pg_catalog.lower(s);
	h text;
BEGIN
	FOREACH h IN ARRAY texts LOOP
		IF pg_catalog.strpos(l, h) > 0 AND l ~ public.ttlc_word_pattern(h) THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;

-- Free text s with the user's traces replaced by the marker: s whole when
-- it holds one of the avatar keys; else each of texts (ttlc_text_needles)
-- not part of a longer word (ttlc_word_pattern), ignoring case. NULL
-- stays NULL.
CREATE FUNCTION ttlc_erase_text(s text, texts text[], avatars text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	l text;
	h text;
	pattern text;
	replaced text;
BEGIN
	IF s IS NULL THEN
		RETURN NULL;
	END IF;
	l := pg_catalog.lower(s);
	FOREACH h IN ARRAY avatars LOOP
		IF pg_catalog.strpos(l, h) > 0 THEN
			RETURN public.ttlc_erased_marker();
		END IF;
	END LOOP;
	FOREACH h IN ARRAY texts LOOP
		CONTINUE WHEN pg_catalog.strpos(l, h) = 0;
		pattern := public.ttlc_word_pattern(h);
		CONTINUE WHEN l !~ pattern;
		replaced := pg_catalog.regexp_replace(s, pattern, public.ttlc_erased_marker(), 'gi');
		-- lower() and the regex may disagree on a character's case:
		-- then the whole text goes rather than the name staying.
		IF pg_catalog.lower(replaced) ~ pattern THEN
			RETURN public.ttlc_erased_marker();
		END IF;
		s := replaced;
		l := pg_catalog.lower(s);
	END LOOP;
	RETURN s;
END
$$;

-- doc with the user erased, as the rules above this section say; names
-- are the user's handles and other names (lower case), texts
-- ttlc_text_needles of them, avatars the avatar keys (lower case),
-- needles ttlc_needles. Subtrees whose text holds no needle are kept as
-- they are without being walked; scalars are handled in place, and the
-- tests are written out here rather than called: a call per member would
-- cost more than the walk.
CREATE FUNCTION ttlc_scrub(doc jsonb, uid text, names text[], texts text[], avatars text[], needles text[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	kind text := pg_catalog.jsonb_typeof(doc);
	l text;
	n text;
	hit boolean := false;
	avatar_here boolean := false;  -- the text holds an avatar key
	ids text[];
	personal boolean;
	anonymous boolean;
	result jsonb;
BEGIN
	IF kind NOT IN ('string', 'object', 'array') THEN
		RETURN doc;
	END IF;
	l := pg_catalog.lower(doc::text);
	FOREACH n IN ARRAY needles LOOP
		hit := pg_catalog.strpos(l, n) > 0;
		EXIT WHEN hit;
	END LOOP;
	IF NOT hit THEN
		RETURN doc;
	END IF;
	FOREACH n IN ARRAY avatars LOOP
		avatar_here := pg_catalog.strpos(l, n) > 0;
		EXIT WHEN avatar_here;
	END LOOP;
	IF kind = 'string' THEN
		-- (Only an array's element, or doc itself, comes here.)
		RETURN CASE WHEN avatar_here THEN pg_catalog.to_jsonb(public.ttlc_erased_marker()) ELSE doc END;
	ELSIF kind = 'array' THEN
		SELECT pg_catalog.jsonb_agg(CASE WHEN pg_catalog.jsonb_typeof(e) IN ('object', 'array')
				OR (avatar_here AND pg_catalog.jsonb_typeof(e) = 'string')
			THEN public.ttlc_scrub(e, uid, names, texts, avatars, needles) ELSE e END ORDER BY i) INTO result
		FROM pg_catalog.jsonb_array_elements(doc) WITH ORDINALITY AS a(e, i);
		RETURN result;
	END IF;
	SELECT coalesce(pg_catalog.array_agg(m.value #>> '{}'), '{}') INTO ids
	FROM pg_catalog.jsonb_each(doc) m
	WHERE m.key = ANY (public.ttlc_user_id_keys()) AND pg_catalog.jsonb_typeof(m.value) IN ('string', 'number');
	personal := uid = ANY (ids);
	anonymous := pg_catalog.cardinality(ids) = 0;
	SELECT pg_catalog.jsonb_object_agg(m.key, CASE
		WHEN personal AND (m.key = ANY (public.ttlc_handle_keys()) OR m.key = ANY (public.ttlc_name_keys())
			OR m.key = ANY (public.ttlc_avatar_keys()))
		THEN 'null'::jsonb
		WHEN pg_catalog.jsonb_typeof(m.value) IN ('object', 'array')
		THEN public.ttlc_scrub(m.value, uid, names, texts, avatars, needles)
		WHEN pg_catalog.jsonb_typeof(m.value) <> 'string' THEN m.value
		WHEN avatar_here AND public.ttlc_mentions(m.value #>> '{}', avatars)
		THEN pg_catalog.to_jsonb(public.ttlc_erased_marker())
		WHEN m.key = ANY (public.ttlc_free_text_keys())
		THEN pg_catalog.to_jsonb(public.ttlc_erase_text(m.value #>> '{}', texts, '{}'))
		WHEN anonymous AND pg_catalog.lower(m.value #>> '{}') = ANY (names) AND public.ttlc_is_handle_key(m.key)
		THEN 'null'::jsonb
		ELSE m.value END)
	INTO result FROM pg_catalog.jsonb_each(doc) m;
	RETURN result;
END
$$;

-- ---- erasure ---------------------------------------------------------

-- Erases a viewer (TikTok numeric user id): deletes their users row and
-- the notes about them, and scrubs (ttlc_scrub) every stored event,
-- action record and audit record that mentions them, and the text of
-- notes about others and of audit targets (ttlc_erase_text); a stream
-- whose handle is theirs loses it. Rules that mention them are counted,
-- not changed (they are the streamer's configuration). One transaction;
-- the events are rewritten inside the ttlc.erasing window that the
-- append-only trigger honours, closed again before returning.
--
-- What is erased is learned first: the users row (if any), then every
-- object naming the user by id in their own events (events.user_id, by
-- index), then again in every event whose text mentions the id or a
-- handle, name or avatar key found so far, until nothing new turns up
-- (a full scan of events per round, usually one). So an erasure works
-- when the users row is gone, and a nickname the user had long ago is
-- found where others' events still show it. The events to scrub are kept
-- in a temporary table of the transaction, not in memory.
--
-- Returns the counts as json, in a fixed order (no handle, nickname or
-- avatar in it); the audit_log row holds the same. With dry_run, the same
-- counts and nothing changed, no audit row.
CREATE FUNCTION ttlc_erase_user(erase_id text, dry_run boolean) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	handles text[] := '{}';
	others text[] := '{}';
	avatars text[] := '{}';
	found_handles text[];
	found_others text[];
	found_avatars text[];
	names text[];
	texts text[];
	needles text[];
	rounds integer := 0;
	n_matched bigint;
	n_users bigint;
	n_notes bigint;
	n_notes_scrubbed bigint;
	n_events bigint;
	n_actions bigint;
	n_audit bigint;
	n_streams bigint;
	n_rules bigint;
	parts text[];
	report json;
BEGIN
	IF erase_id IS NULL OR erase_id !~ '^[0-9]{1,20}$' THEN
		RAISE EXCEPTION 'a user id is 1 to 20 decimal digits' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- One erasure at a time: each rewrites rows the other may read.
	PERFORM pg_catalog.pg_advisory_xact_lock(1953721443, 2);
	-- Made here (it fails if the caller made one of that name), dropped
	-- before returning, and at the end of the transaction in any case.
	CREATE TEMPORARY TABLE pg_temp.ttlc_erase_candidates (event_id text NOT NULL, ts timestamptz NOT NULL)
		ON COMMIT DROP;

	SELECT pg_catalog.array_remove(ARRAY[nullif(u.unique_id, '')], NULL),
		pg_catalog.array_remove(ARRAY[nullif(u.nickname, '')], NULL),
		pg_catalog.array_remove(ARRAY[public.ttlc_avatar_key(u.avatar_url)], NULL)
	INTO handles, others, avatars FROM public.users u WHERE u.user_id = erase_id;
	handles := coalesce(handles, '{}');
	others := coalesce(others, '{}');
	avatars := coalesce(avatars, '{}');
	SELECT coalesce(pg_catalog.array_agg(DISTINCT x.value) FILTER (WHERE x.kind = 'handle'), '{}'),
		coalesce(pg_catalog.array_agg(DISTINCT x.value) FILTER (WHERE x.kind = 'name'), '{}'),
		coalesce(pg_catalog.array_agg(DISTINCT pg_catalog.lower(x.value)) FILTER (WHERE x.kind = 'avatar'), '{}')
	INTO found_handles, found_others, found_avatars
	FROM public.events e, public.ttlc_identifiers(e.event, erase_id) x WHERE e.user_id = erase_id;
	avatars := ARRAY(SELECT pg_catalog.lower(a) FROM pg_catalog.unnest(avatars) a);

	LOOP
		handles := ARRAY(SELECT DISTINCT pg_catalog.unnest(handles || found_handles));
		others := ARRAY(SELECT DISTINCT pg_catalog.unnest(others || found_others));
		avatars := ARRAY(SELECT DISTINCT pg_catalog.unnest(avatars || found_avatars));
		rounds := rounds + 1;
		needles := public.ttlc_needles(erase_id, handles || others, avatars);
		TRUNCATE pg_temp.ttlc_erase_candidates;
		-- Only others' events that hold the id can name the user in
		-- an object not seen yet: the user's own were read above.
		WITH cand AS MATERIALIZED (
			SELECT e.event_id, e.ts, e.user_id, e.event FROM public.events e
			-- (ttlc_mentions written out: a call per event costs.)
			WHERE e.user_id = erase_id OR EXISTS (SELECT 1 FROM pg_catalog.unnest(needles) n
				WHERE pg_catalog.strpos(pg_catalog.lower(e.event::text), n) > 0)
		), kept AS (
			INSERT INTO pg_temp.ttlc_erase_candidates (event_id, ts) SELECT cand.event_id, cand.ts FROM cand
		), found AS MATERIALIZED (
			SELECT x.kind, x.value FROM cand, public.ttlc_identifiers(cand.event, erase_id) x
			WHERE cand.user_id IS DISTINCT FROM erase_id AND pg_catalog.strpos(cand.event::text, erase_id) > 0
		)
		SELECT (SELECT coalesce(pg_catalog.array_agg(DISTINCT value) FILTER (WHERE kind = 'handle'), '{}') FROM found),
			(SELECT coalesce(pg_catalog.array_agg(DISTINCT value) FILTER (WHERE kind = 'name'), '{}') FROM found),
			(SELECT coalesce(pg_catalog.array_agg(DISTINCT pg_catalog.lower(value)) FILTER (WHERE kind = 'avatar'), '{}')
				FROM found)
		INTO found_handles, found_others, found_avatars;
		EXIT WHEN found_handles <@ handles AND found_others <@ others AND found_avatars <@ avatars;
		IF rounds = 10 THEN
			RAISE EXCEPTION 'erasure: identifiers still growing after 10 scans' USING ERRCODE = 'program_limit_exceeded';
		END IF;
	END LOOP;
	names := ARRAY(SELECT DISTINCT pg_catalog.lower(n) FROM pg_catalog.unnest(handles || others) n);
	texts := public.ttlc_text_needles(names);
	SELECT pg_catalog.count(*) INTO n_matched FROM pg_temp.ttlc_erase_candidates;
	ANALYZE pg_temp.ttlc_erase_candidates;

	IF NOT dry_run THEN
		PERFORM pg_catalog.set_config('ttlc.erasing', 'on', true);
	END IF;
	-- (A data-modifying WITH runs whether or not its rows are read.
	-- MATERIALIZED, or the planner may scrub every event to filter on
	-- the change before the join with the candidates.)
	WITH cand AS MATERIALIZED (
		SELECT e.event_id, e.ts, e.tableoid, e.event AS old,
			public.ttlc_scrub(e.event, erase_id, names, texts, avatars, needles) AS new
		FROM pg_temp.ttlc_erase_candidates c
		JOIN public.events e ON e.event_id = c.event_id AND e.ts = c.ts
	), changed AS (
		SELECT * FROM cand WHERE new IS DISTINCT FROM old
	), updated AS (
		UPDATE public.events e SET event = changed.new FROM changed
		WHERE NOT dry_run AND e.event_id = changed.event_id AND e.ts = changed.ts
		RETURNING 1
	)
	SELECT pg_catalog.count(*), coalesce(pg_catalog.array_agg(DISTINCT c.relname::text), '{}')
	INTO n_events, parts
	FROM changed JOIN pg_catalog.pg_class c ON c.oid = changed.tableoid;
	PERFORM pg_catalog.set_config('ttlc.erasing', 'off', true);
	DROP TABLE pg_temp.ttlc_erase_candidates;

	WITH cand AS (
		SELECT a.action_id, public.ttlc_scrub(a.detail, erase_id, names, texts, avatars, needles) AS new,
			a.detail AS old
		FROM public.actions_log a WHERE public.ttlc_mentions(a.detail::text, needles)
	), changed AS (
		SELECT * FROM cand WHERE new IS DISTINCT FROM old
	), updated AS (
		UPDATE public.actions_log a SET detail = changed.new FROM changed
		WHERE NOT dry_run AND a.action_id = changed.action_id RETURNING 1
	)
	SELECT pg_catalog.count(*) FROM changed INTO n_actions;

	WITH cand AS (
		SELECT a.audit_id, public.ttlc_erase_text(a.target, texts, avatars) AS new_target,
			public.ttlc_scrub(a.detail, erase_id, names, texts, avatars, needles) AS new_detail, a.target, a.detail
		FROM public.audit_log a
		WHERE public.ttlc_mentions(coalesce(a.target, '') || ' ' || coalesce(a.detail::text, ''), needles)
	), changed AS (
		SELECT * FROM cand
		WHERE new_target IS DISTINCT FROM target OR new_detail IS DISTINCT FROM detail
	), updated AS (
		UPDATE public.audit_log a SET target = changed.new_target, detail = changed.new_detail FROM changed
		WHERE NOT dry_run AND a.audit_id = changed.audit_id RETURNING 1
	)
	SELECT pg_catalog.count(*) FROM changed INTO n_audit;

	WITH cand AS (
		SELECT u.note_id, public.ttlc_erase_text(u.note, texts, avatars) AS note,
			public.ttlc_erase_text(u.author, texts, avatars) AS author, u.note AS old_note, u.author AS old_author
		FROM public.user_notes u
		WHERE u.user_id <> erase_id AND public.ttlc_mentions(u.note || ' ' || u.author, needles)
	), changed AS (
		SELECT * FROM cand WHERE note <> old_note OR author <> old_author
	), updated AS (
		UPDATE public.user_notes u SET note = changed.note, author = changed.author FROM changed
		WHERE NOT dry_run AND u.note_id = changed.note_id RETURNING 1
	)
	SELECT pg_catalog.count(*) FROM changed INTO n_notes_scrubbed;

	SELECT pg_catalog.count(*) INTO n_rules FROM public.rules r
	WHERE pg_catalog.strpos(r.name || ' ' || r.condition::text || ' ' || r.action::text, erase_id) > 0
		OR public.ttlc_mentions_word(r.name || ' ' || r.condition::text || ' ' || r.action::text, texts);

	IF dry_run THEN
		SELECT pg_catalog.count(*) INTO n_users FROM public.users WHERE user_id = erase_id;
		SELECT pg_catalog.count(*) INTO n_notes FROM public.user_notes WHERE user_id = erase_id;
		SELECT pg_catalog.count(*) INTO n_streams FROM public.streams s
		WHERE pg_catalog.lower(s.unique_id) IN (SELECT pg_catalog.lower(h) FROM pg_catalog.unnest(handles) h);
	ELSE
		DELETE FROM public.users WHERE user_id = erase_id;
		GET DIAGNOSTICS n_users = ROW_COUNT;
		DELETE FROM public.user_notes WHERE user_id = erase_id;
		GET DIAGNOSTICS n_notes = ROW_COUNT;
		UPDATE public.streams s SET unique_id = NULL
		WHERE pg_catalog.lower(s.unique_id) IN (SELECT pg_catalog.lower(h) FROM pg_catalog.unnest(handles) h);
		GET DIAGNOSTICS n_streams = ROW_COUNT;
	END IF;

	report := pg_catalog.json_build_object('userId', erase_id, 'users', n_users, 'notes', n_notes,
		'events', n_events, 'eventsMatched', n_matched, 'partitions', pg_catalog.to_jsonb(parts),
		'actions', n_actions, 'audit', n_audit, 'notesScrubbed', n_notes_scrubbed, 'streams', n_streams,
		'rulesMentioning', n_rules, 'identifiers', pg_catalog.cardinality(names) + pg_catalog.cardinality(avatars),
		'scans', rounds);
	IF NOT dry_run THEN
		INSERT INTO public.audit_log (actor, action, target, detail)
		VALUES (session_user, 'erase_user', erase_id, report::jsonb);
	END IF;
	RETURN report;
END
$$;

REVOKE ALL ON FUNCTION ttlc_retention_cutoff(integer), ttlc_expired_partitions(integer),
	ttlc_drop_event_partition(text, integer, boolean), ttlc_pseudonymize_users(integer, boolean),
	ttlc_erased_marker(), ttlc_user_id_keys(), ttlc_handle_keys(), ttlc_name_keys(), ttlc_avatar_keys(),
	ttlc_free_text_keys(), ttlc_is_handle_key(text), ttlc_avatar_key(text),
	ttlc_identifiers(jsonb, text), ttlc_regex_quote(text), ttlc_word_pattern(text),
	ttlc_needles(text, text[], text[]), ttlc_text_needles(text[]), ttlc_mentions(text, text[]),
	ttlc_mentions_word(text, text[]), ttlc_erase_text(text, text[], text[]),
	ttlc_scrub(jsonb, text, text[], text[], text[], text[]), ttlc_erase_user(text, boolean) FROM PUBLIC;
SELECT format('GRANT EXECUTE ON FUNCTION ttlc_retention_cutoff(integer), ttlc_expired_partitions(integer), '
	'ttlc_drop_event_partition(text, integer, boolean), ttlc_pseudonymize_users(integer, boolean), '
	'ttlc_erase_user(text, boolean) TO %I', :'app_role') \gexec
