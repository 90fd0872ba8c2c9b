-- 003_retention.sql - retention and privacy, for tt-prune(1): dropping
-- the events partitions older than the retention period, pseudonymizing
-- the users not seen within it, and erasing one viewer's personal data
-- everywhere it is stored.
--
-- The application role runs tt-prune, and may do these things only
-- through the functions below; it still has no UPDATE, DELETE, TRUNCATE or
-- DROP of its own on events. The functions that need more than it has are
-- SECURITY DEFINER, with search_path pinned as for ttlc_event_partition.
-- Every change writes an audit_log row (actor = session_user, the role
-- that logged in); a dry run computes the same answer and changes nothing.
--
-- The helpers (scrubbing, matching) are not granted to anyone: only the
-- owner's functions call them, under the owner's pinned search_path.

-- ---- retention -------------------------------------------------------

-- The first moment retention keeps: midnight UTC, retention_days days
-- before today (UTC). A partition that ends at or before it cannot hold an
-- event of the retention period; a user last seen before it has no event
-- left in the partitions that are kept.
CREATE FUNCTION ttlc_retention_cutoff(retention_days integer) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public AS $$
BEGIN
	IF retention_days IS NULL OR retention_days < 1 THEN
		RAISE EXCEPTION 'retention_days must be at least 1, not %', retention_days
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN ((now() AT TIME ZONE 'UTC')::date - retention_days)::timestamp AT TIME ZONE 'UTC';
END
$$;

-- The partitions retention may drop, oldest first: children of
-- public.events named events_YYYYMMDD whose range, read from the catalog
-- (not from the name), ends at or before the cutoff. The default partition
-- and anything else attached to events are never listed.
CREATE FUNCTION ttlc_expired_partitions(retention_days integer)
RETURNS TABLE (partition text, range_from timestamptz, range_to timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, public
SET datestyle = 'ISO, YMD' SET timezone = 'UTC' AS $$
	SELECT c.relname::text, b[1]::timestamptz, b[2]::timestamptz
	FROM pg_inherits i
	JOIN pg_class c ON c.oid = i.inhrelid
	JOIN pg_namespace n ON n.oid = c.relnamespace
	CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
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
-- for this retention_days, so the caller cannot drop recent events.
CREATE FUNCTION ttlc_drop_event_partition(part text, retention_days integer, dry_run boolean)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	r record;
	n bigint;
BEGIN
	IF to_regclass(format('public.%I', part)) IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT * INTO r FROM public.ttlc_expired_partitions(retention_days) p WHERE p.partition = part;
	IF NOT FOUND THEN
		RAISE EXCEPTION '% is not an events partition older than % days', part, retention_days
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	EXECUTE format('SELECT count(*) FROM public.%I', part) INTO n;
	IF dry_run THEN
		RETURN n;
	END IF;
	EXECUTE format('DROP TABLE public.%I', part);
	INSERT INTO public.audit_log (actor, action, target, detail)
	VALUES (session_user, 'drop_partition', part, jsonb_build_object('events', n,
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
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
	cutoff timestamptz := public.ttlc_retention_cutoff(retention_days);
	n bigint;
BEGIN
	IF dry_run THEN
		SELECT count(*) INTO n FROM public.users WHERE last_seen < cutoff AND pseudonymized_at IS NULL;
		RETURN n;
	END IF;
	UPDATE public.users SET unique_id = NULL, nickname = NULL, avatar_url = NULL, pseudonymized_at = now()
	WHERE last_seen < cutoff AND pseudonymized_at IS NULL;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		INSERT INTO public.audit_log (actor, action, target, detail)
		VALUES (session_user, 'pseudonymize_users', NULL, jsonb_build_object('users', n,
			'lastSeenBefore', cutoff, 'retentionDays', retention_days));
	END IF;
	RETURN n;
END
$$;

-- ---- erasure: the helpers ------------------------------------------

-- What replaces a viewer's handle, nickname or avatar in text.
CREATE FUNCTION ttlc_erased_marker() RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '[erased]' $$;

-- The members that name a user by id, and the members of such an object
-- that are personal data (set to null by the erasure). TikTok's messages
-- (raw.data) and the UnifiedEvent user object both use these names.
CREATE FUNCTION ttlc_user_id_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT ARRAY['id', 'idStr', 'id_str', 'userId', 'userIdStr', 'user_id', 'uid']
$$;
CREATE FUNCTION ttlc_handle_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT ARRAY['uniqueId', 'unique_id', 'displayId', 'display_id', 'nickname', 'nickName', 'nick_name',
		'username', 'userName', 'secUid', 'sec_uid']
$$;
CREATE FUNCTION ttlc_avatar_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT ARRAY['avatarUrl', 'avatar_url', 'avatar', 'avatarThumb', 'avatarMedium', 'avatarLarge',
		'avatarJpg', 'profilePictureUrl', 'profilePicture', 'profilePictureUrls']
$$;

-- Whether the object names the user by one of ttlc_user_id_keys (a
-- string or a number).
CREATE FUNCTION ttlc_identifies(obj jsonb, uid text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT EXISTS (SELECT 1 FROM jsonb_each(obj) m
		WHERE m.key = ANY (public.ttlc_user_id_keys())
			AND jsonb_typeof(m.value) IN ('string', 'number') AND m.value #>> '{}' = uid)
$$;

-- What identifies an avatar picture whatever its size, host or signature:
-- the image key, the last path segment up to '~' or '.'
-- (.../tos-maliva-avt-0068/0f3e6b...~tplv-...webp?x-signature=...), when
-- it is long enough to be unique (16 characters); else the URL without
-- its query; NULL for nothing usable.
CREATE FUNCTION ttlc_avatar_key(url text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN char_length(k) >= 16 THEN k
		WHEN char_length(base) >= 16 THEN base END
	FROM (SELECT split_part(url, '?', 1) AS base) b,
		LATERAL (SELECT split_part(split_part(regexp_replace(base, '^.*/', ''), '~', 1), '.', 1) AS k) s
$$;

-- The handles, nicknames and avatar keys of the user found in doc: the
-- values of ttlc_handle_keys, and the avatar keys of every string under
-- ttlc_avatar_keys, of each object that ttlc_identifies.
CREATE FUNCTION ttlc_identifiers(doc jsonb, uid text) RETURNS TABLE (kind text, value text)
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	-- (PL/pgSQL, not SQL: its plan is made once per session, not per call.)
	RETURN QUERY
	WITH members AS (
		SELECT m.key, m.value
		FROM jsonb_path_query(doc, 'strict $.** ? (@.type() == "object")') AS o, jsonb_each(o) m
		WHERE public.ttlc_identifies(o, uid)
	)
	SELECT 'handle', members.value #>> '{}' FROM members
	WHERE members.key = ANY (public.ttlc_handle_keys()) AND jsonb_typeof(members.value) = 'string'
		AND members.value #>> '{}' <> ''
	UNION
	SELECT 'avatar', k FROM members, jsonb_path_query(members.value, 'strict $.**') AS s,
		LATERAL public.ttlc_avatar_key(s #>> '{}') AS k
	WHERE members.key = ANY (public.ttlc_avatar_keys()) AND jsonb_typeof(s) = 'string' AND k IS NOT NULL;
END
$$;

-- s with every character that means something in a regular expression
-- escaped.
CREATE FUNCTION ttlc_regex_quote(s text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(s, '([^[:alnum:][:space:]])', '\\\1', 'g')
$$;

-- What to look for in the text of a jsonb value (lower case, escaped as
-- JSON escapes them): the user id; each avatar key and each handle of 3
-- characters or more anywhere; a shorter handle only as a whole string.
CREATE FUNCTION ttlc_needles(uid text, handles text[], avatars text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg(DISTINCT lower(n)) FROM (
		SELECT uid AS n
		UNION ALL
		SELECT substr(to_jsonb(a)::text, 2, length(to_jsonb(a)::text) - 2) FROM unnest(avatars) a
		UNION ALL
		SELECT CASE WHEN char_length(h) >= 3 THEN substr(to_jsonb(h)::text, 2, length(to_jsonb(h)::text) - 2)
			ELSE to_jsonb(h)::text END
		FROM unnest(handles) h
	) x
$$;

-- Whether doc (JSON text, or any text) holds one of the needles, ignoring
-- case.
CREATE FUNCTION ttlc_mentions(doc text, needles text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	l text := lower(doc);
	n text;
BEGIN
	FOREACH n IN ARRAY needles LOOP
		IF strpos(l, n) > 0 THEN
			RETURN true;
		END IF;
	END LOOP;
	RETURN false;
END
$$;

-- s with the user's traces replaced by the marker, ignoring case: a string
-- holding an avatar key is replaced whole (what is left of a signed URL is
-- of no use); a handle or nickname of 3 characters or more is replaced
-- where it occurs ("@handle thanks!" -> "@[erased] thanks!"), a shorter
-- one only as the whole string. handles are longest first.
CREATE FUNCTION ttlc_erase_text(s text, handles text[], avatars text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	l text;
	h text;
	replaced text;
BEGIN
	IF s IS NULL THEN
		RETURN NULL;
	END IF;
	l := lower(s);
	FOREACH h IN ARRAY avatars LOOP
		IF strpos(l, lower(h)) > 0 THEN
			RETURN public.ttlc_erased_marker();
		END IF;
	END LOOP;
	FOREACH h IN ARRAY handles LOOP
		IF char_length(h) < 3 THEN
			IF l = lower(h) THEN
				RETURN public.ttlc_erased_marker();
			END IF;
		ELSIF strpos(l, lower(h)) > 0 THEN
			replaced := regexp_replace(s, public.ttlc_regex_quote(h), public.ttlc_erased_marker(), 'gi');
			-- lower() and the regex may disagree on a character's case:
			-- then the whole string goes rather than the handle staying.
			IF replaced = s THEN
				RETURN public.ttlc_erased_marker();
			END IF;
			s := replaced;
			l := lower(s);
		END IF;
	END LOOP;
	RETURN s;
END
$$;

-- doc with the user erased: in each object that names the user by id,
-- the members of ttlc_handle_keys and ttlc_avatar_keys become null (the
-- id stays, so that counts still add up and a second erasure finds the
-- same events); every other string, and every member name, goes through
-- ttlc_erase_text. Subtrees whose text holds no needle are kept as they
-- are without being walked; scalars are handled in place (a call per
-- member would cost more than the walk).
CREATE FUNCTION ttlc_scrub(doc jsonb, uid text, handles text[], avatars text[], needles text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	kind text := jsonb_typeof(doc);
	personal boolean;
	result jsonb;
BEGIN
	IF kind = 'string' THEN
		RETURN to_jsonb(public.ttlc_erase_text(doc #>> '{}', handles, avatars));
	ELSIF kind NOT IN ('object', 'array') OR NOT public.ttlc_mentions(doc::text, needles) THEN
		RETURN doc;
	ELSIF kind = 'array' THEN
		SELECT jsonb_agg(CASE WHEN jsonb_typeof(e) IN ('number', 'boolean', 'null') THEN e
			ELSE public.ttlc_scrub(e, uid, handles, avatars, needles) END ORDER BY i) INTO result
		FROM jsonb_array_elements(doc) WITH ORDINALITY AS a(e, i);
		RETURN result;
	END IF;
	personal := public.ttlc_identifies(doc, uid);
	SELECT jsonb_object_agg(public.ttlc_erase_text(m.key, handles, avatars),
		CASE WHEN personal AND (m.key = ANY (public.ttlc_handle_keys()) OR m.key = ANY (public.ttlc_avatar_keys()))
			THEN 'null'::jsonb
			WHEN jsonb_typeof(m.value) IN ('number', 'boolean', 'null') THEN m.value
			WHEN jsonb_typeof(m.value) = 'string'
			THEN to_jsonb(public.ttlc_erase_text(m.value #>> '{}', handles, avatars))
			ELSE public.ttlc_scrub(m.value, uid, handles, avatars, needles) END)
	INTO result FROM jsonb_each(doc) m;
	RETURN result;
END
$$;

-- ---- erasure ---------------------------------------------------------

-- Erases a viewer (TikTok numeric user id): deletes their users row and
-- the notes about them, and scrubs every stored event, action record,
-- audit record and note that mentions them (ttlc_scrub); a stream whose
-- handle is theirs loses it. Rules that mention them are counted, not
-- changed (they are the streamer's configuration). One transaction; the
-- events are rewritten inside the ttlc.erasing window that the
-- append-only trigger honours, closed again before returning.
--
-- What is erased is learned first: the users row (if any), then every
-- object naming the user by id in their own events (events.user_id, by
-- index), then again in every event whose text mentions the id or a
-- handle, nickname or avatar key found so far, until nothing new turns up
-- (a full scan of events per round, usually one). So an erasure works
-- when the users row is gone, and a nickname the user had long ago is
-- found where others' events still show it.
--
-- Returns the counts as json, in a fixed order (no handle, nickname or
-- avatar in it); the audit_log row holds the same. With dry_run, the same counts and nothing
-- changed, no audit row.
CREATE FUNCTION ttlc_erase_user(erase_id text, dry_run boolean) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	handles text[] := '{}';
	avatars text[] := '{}';
	found_handles text[];
	found_avatars text[];
	needles text[];
	cand_ids text[];
	cand_ts timestamptz[];
	rounds integer := 0;
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
	PERFORM pg_advisory_xact_lock(1953721443, 2);

	SELECT array_remove(ARRAY[nullif(u.unique_id, ''), nullif(u.nickname, '')], NULL),
		array_remove(ARRAY[public.ttlc_avatar_key(u.avatar_url)], NULL)
	INTO handles, avatars FROM users u WHERE u.user_id = erase_id;
	handles := coalesce(handles, '{}');
	avatars := coalesce(avatars, '{}');
	SELECT coalesce(array_agg(DISTINCT x.value) FILTER (WHERE x.kind = 'handle'), '{}'),
		coalesce(array_agg(DISTINCT x.value) FILTER (WHERE x.kind = 'avatar'), '{}')
	INTO found_handles, found_avatars
	FROM events e, public.ttlc_identifiers(e.event, erase_id) x WHERE e.user_id = erase_id;
	handles := ARRAY(SELECT DISTINCT unnest(handles || found_handles));
	avatars := ARRAY(SELECT DISTINCT unnest(avatars || found_avatars));

	LOOP
		rounds := rounds + 1;
		needles := public.ttlc_needles(erase_id, handles, avatars);
		-- Only others' events that hold the id can name the user in
		-- an object not seen yet: the user's own were read above.
		WITH cand AS MATERIALIZED (
			SELECT e.event_id, e.ts, e.user_id, e.event FROM events e
			WHERE e.user_id = erase_id OR public.ttlc_mentions(e.event::text, needles)
		), found AS MATERIALIZED (
			SELECT x.kind, x.value FROM cand, public.ttlc_identifiers(cand.event, erase_id) x
			WHERE cand.user_id IS DISTINCT FROM erase_id AND strpos(cand.event::text, erase_id) > 0
		)
		SELECT (SELECT coalesce(array_agg(event_id), '{}') FROM cand),
			(SELECT coalesce(array_agg(ts), '{}') FROM cand),
			(SELECT coalesce(array_agg(DISTINCT value) FILTER (WHERE kind = 'handle'), '{}') FROM found),
			(SELECT coalesce(array_agg(DISTINCT value) FILTER (WHERE kind = 'avatar'), '{}') FROM found)
		INTO cand_ids, cand_ts, found_handles, found_avatars;
		EXIT WHEN found_handles <@ handles AND found_avatars <@ avatars;
		handles := ARRAY(SELECT DISTINCT unnest(handles || found_handles));
		avatars := ARRAY(SELECT DISTINCT unnest(avatars || found_avatars));
		IF rounds = 10 THEN
			RAISE EXCEPTION 'erasure: identifiers still growing after 10 scans' USING ERRCODE = 'program_limit_exceeded';
		END IF;
	END LOOP;
	-- Longest first, so that a nickname containing the handle goes whole.
	handles := ARRAY(SELECT h FROM unnest(handles) h ORDER BY char_length(h) DESC, h);

	IF NOT dry_run THEN
		PERFORM set_config('ttlc.erasing', 'on', true);
	END IF;
	-- (A data-modifying WITH runs whether or not its rows are read.)
	WITH cand AS (
		SELECT e.event_id, e.ts, e.tableoid, e.event AS old,
			public.ttlc_scrub(e.event, erase_id, handles, avatars, needles) AS new
		FROM unnest(cand_ids, cand_ts) AS c(event_id, ts)
		JOIN events e ON e.event_id = c.event_id AND e.ts = c.ts
	), changed AS (
		SELECT * FROM cand WHERE new IS DISTINCT FROM old
	), updated AS (
		UPDATE events e SET event = changed.new FROM changed
		WHERE NOT dry_run AND e.event_id = changed.event_id AND e.ts = changed.ts
		RETURNING 1
	)
	SELECT count(*), coalesce(array_agg(DISTINCT c.relname::text), '{}')
	INTO n_events, parts
	FROM changed JOIN pg_class c ON c.oid = changed.tableoid;
	PERFORM set_config('ttlc.erasing', 'off', true);

	WITH cand AS (
		SELECT a.action_id, public.ttlc_scrub(a.detail, erase_id, handles, avatars, needles) AS new, a.detail AS old
		FROM actions_log a WHERE public.ttlc_mentions(a.detail::text, needles)
	), changed AS (
		SELECT * FROM cand WHERE new IS DISTINCT FROM old
	), updated AS (
		UPDATE actions_log a SET detail = changed.new FROM changed
		WHERE NOT dry_run AND a.action_id = changed.action_id RETURNING 1
	)
	SELECT count(*) FROM changed INTO n_actions;

	WITH cand AS (
		SELECT a.audit_id, public.ttlc_erase_text(a.target, handles, avatars) AS new_target,
			public.ttlc_scrub(a.detail, erase_id, handles, avatars, needles) AS new_detail, a.target, a.detail
		FROM audit_log a
		WHERE public.ttlc_mentions(coalesce(a.target, '') || ' ' || coalesce(a.detail::text, ''), needles)
	), changed AS (
		SELECT * FROM cand
		WHERE new_target IS DISTINCT FROM target OR new_detail IS DISTINCT FROM detail
	), updated AS (
		UPDATE audit_log a SET target = changed.new_target, detail = changed.new_detail FROM changed
		WHERE NOT dry_run AND a.audit_id = changed.audit_id RETURNING 1
	)
	SELECT count(*) FROM changed INTO n_audit;

	WITH cand AS (
		SELECT u.note_id, public.ttlc_erase_text(u.note, handles, avatars) AS note,
			public.ttlc_erase_text(u.author, handles, avatars) AS author, u.note AS old_note, u.author AS old_author
		FROM user_notes u
		WHERE u.user_id <> erase_id AND public.ttlc_mentions(u.note || ' ' || u.author, needles)
	), changed AS (
		SELECT * FROM cand WHERE note <> old_note OR author <> old_author
	), updated AS (
		UPDATE user_notes u SET note = changed.note, author = changed.author FROM changed
		WHERE NOT dry_run AND u.note_id = changed.note_id RETURNING 1
	)
	SELECT count(*) FROM changed INTO n_notes_scrubbed;

	SELECT count(*) INTO n_rules FROM rules r
	WHERE public.ttlc_mentions(r.name || ' ' || r.condition::text || ' ' || r.action::text, needles);

	IF dry_run THEN
		SELECT count(*) INTO n_users FROM users WHERE user_id = erase_id;
		SELECT count(*) INTO n_notes FROM user_notes WHERE user_id = erase_id;
		SELECT count(*) INTO n_streams FROM streams s
		WHERE lower(s.unique_id) IN (SELECT lower(h) FROM unnest(handles) h);
	ELSE
		DELETE FROM users WHERE user_id = erase_id;
		GET DIAGNOSTICS n_users = ROW_COUNT;
		DELETE FROM user_notes WHERE user_id = erase_id;
		GET DIAGNOSTICS n_notes = ROW_COUNT;
		UPDATE streams s SET unique_id = NULL
		WHERE lower(s.unique_id) IN (SELECT lower(h) FROM unnest(handles) h);
		GET DIAGNOSTICS n_streams = ROW_COUNT;
	END IF;

	report := json_build_object('userId', erase_id, 'users', n_users, 'notes', n_notes,
		'events', n_events, 'eventsMatched', cardinality(cand_ids), 'partitions', to_jsonb(parts),
		'actions', n_actions, 'audit', n_audit, 'notesScrubbed', n_notes_scrubbed, 'streams', n_streams,
		'rulesMentioning', n_rules, 'identifiers', cardinality(handles) + cardinality(avatars), 'scans', rounds);
	IF NOT dry_run THEN
		INSERT INTO audit_log (actor, action, target, detail)
		VALUES (session_user, 'erase_user', erase_id, report::jsonb);
	END IF;
	RETURN report;
END
$$;

REVOKE ALL ON FUNCTION ttlc_retention_cutoff(integer), ttlc_expired_partitions(integer),
	ttlc_drop_event_partition(text, integer, boolean), ttlc_pseudonymize_users(integer, boolean),
	ttlc_erased_marker(), ttlc_user_id_keys(), ttlc_handle_keys(), ttlc_avatar_keys(),
	ttlc_identifies(jsonb, text), ttlc_avatar_key(text), ttlc_identifiers(jsonb, text),
	ttlc_regex_quote(text), ttlc_needles(text, text[], text[]), ttlc_mentions(text, text[]),
	ttlc_erase_text(text, text[], text[]), ttlc_scrub(jsonb, text, text[], text[], text[]),
	ttlc_erase_user(text, boolean) FROM PUBLIC;
SELECT format('GRANT EXECUTE ON FUNCTION ttlc_retention_cutoff(integer), ttlc_expired_partitions(integer), '
	'ttlc_drop_event_partition(text, integer, boolean), ttlc_pseudonymize_users(integer, boolean), '
	'ttlc_erase_user(text, boolean) TO %I', :'app_role') \gexec
