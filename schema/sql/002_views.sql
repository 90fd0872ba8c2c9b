-- 002_views.sql - views for the usual questions about stored events: who
-- gave the most coins, how busy each minute was, how many people chatted,
-- and which viewers came back. Documented, column by column, in
-- ttlc-views(7).
--
-- Every view reads the partitioned table events (never a partition), so
-- it sees every day that is stored and nothing else. Nothing is dropped
-- quietly: events without a user still count where a count of events is
-- asked for, and a streak without its end is counted and flagged.
-- The views run with their owner's rights; the application role may read
-- them (and reads events anyway).

-- Every gift as it should be counted: one row per streak or single gift.
--
-- A streakable gift (giftType 1) arrives as several GIFT events while the
-- viewer holds the streak: streakState "in_progress" ones (coins and
-- giftCount 0, repeatCount growing), then one "final" with the streak's
-- giftCount and coins (repeatCount x diamondCount). A gift that cannot
-- streak arrives once, "final". So:
--
--  * each final event is one row, with its own giftCount and coins;
--  * the in-progress events of a streak whose final never came (the
--    connection dropped; TikTok sometimes does not send it; or the streak
--    is still running) form one row per streak, keyed by stream, source,
--    user, giftId and groupId, with gifts = the largest repeatCount seen
--    and coins = that x diamondCount, and finished = false. The streak's
--    session is the one of its latest event. If a final with the same key
--    exists in any session of the stream (the connection was remade in
--    the middle of the streak), the in-progress events count for nothing:
--    the final counts the whole streak.
--
-- In-progress events without a groupId, of the same user and gift, cannot
-- be told apart and make one streak: the count errs low, never high.
CREATE OR REPLACE VIEW ttlc_gift_streaks AS
-- NOT MATERIALIZED: inlined, so that a condition on the view reaches events.
WITH gift AS NOT MATERIALIZED (
	SELECT stream_id, session_id, source, user_id, ts, seq_no,
	       event #>> '{payload,giftId}' AS gift_id,
	       event #>> '{payload,giftName}' AS gift_name,
	       event #>> '{payload,groupId}' AS group_id,
	       event #>> '{payload,streakState}' AS streak_state,
	       (event #>> '{payload,giftCount}')::numeric AS gift_count,
	       (event #>> '{payload,coins}')::numeric AS coins,
	       (event #>> '{payload,repeatCount}')::numeric AS repeat_count,
	       (event #>> '{payload,diamondCount}')::numeric AS diamond_count
	FROM events
	WHERE event_type = 'GIFT'
)
SELECT stream_id, session_id, source, user_id, gift_id, gift_name, group_id,
       ts AS at, gift_count::bigint AS gifts, coins::bigint AS coins, true AS finished
FROM gift
WHERE streak_state IS DISTINCT FROM 'in_progress'
UNION ALL
SELECT stream_id,
       (array_agg(session_id ORDER BY ts DESC, seq_no DESC))[1],
       source, user_id, gift_id,
       (array_agg(gift_name ORDER BY ts DESC, seq_no DESC))[1],
       group_id, max(ts),
       max(repeat_count)::bigint, (max(repeat_count) * max(diamond_count))::bigint, false
FROM gift g
WHERE streak_state = 'in_progress'
  AND NOT EXISTS (
	SELECT 1 FROM gift f
	WHERE f.streak_state IS DISTINCT FROM 'in_progress'
	  AND f.stream_id = g.stream_id AND f.source = g.source
	  -- NULL matches NULL; '' is no id, and equality can be hashed.
	  AND coalesce(f.user_id, '') = coalesce(g.user_id, '')
	  AND coalesce(f.gift_id, '') = coalesce(g.gift_id, '')
	  AND coalesce(f.group_id, '') = coalesce(g.group_id, ''))
GROUP BY stream_id, source, user_id, gift_id, group_id;

COMMENT ON VIEW ttlc_gift_streaks IS
	'One row per gift as it should be counted: each final GIFT event, and each streak whose final never came (finished = false, counted at its largest repeatCount). See ttlc-views(7).';

-- Gifters per session, the most generous first when ordered by coins.
-- Handle and nickname are the user's latest (users), which tt-prune may
-- have pseudonymized. A gift without a user is one row with user_id NULL.
CREATE OR REPLACE VIEW ttlc_top_gifters AS
SELECT g.stream_id, g.session_id, g.source, g.user_id, u.unique_id, u.nickname,
       sum(g.coins)::bigint AS coins,
       sum(g.gifts)::bigint AS gifts,
       count(*) AS sends,
       count(*) FILTER (WHERE NOT g.finished) AS unfinished_streaks,
       coalesce(sum(g.coins) FILTER (WHERE NOT g.finished), 0)::bigint AS unfinished_coins
FROM ttlc_gift_streaks g
LEFT JOIN users u ON u.user_id = g.user_id
GROUP BY g.stream_id, g.session_id, g.source, g.user_id, u.unique_id, u.nickname;

COMMENT ON VIEW ttlc_top_gifters IS
	'Coins and gifts per gifter and session, each streak counted once. See ttlc-views(7).';

-- The same over every session of a stream (live and replay apart: a replay
-- repeats the gifts of the session it plays).
CREATE OR REPLACE VIEW ttlc_top_gifters_by_stream AS
SELECT stream_id, source, user_id, unique_id, nickname,
       sum(coins)::bigint AS coins,
       sum(gifts)::bigint AS gifts,
       sum(sends)::bigint AS sends,
       count(*) AS sessions,
       sum(unfinished_streaks)::bigint AS unfinished_streaks,
       sum(unfinished_coins)::bigint AS unfinished_coins
FROM ttlc_top_gifters
GROUP BY stream_id, source, user_id, unique_id, nickname;

COMMENT ON VIEW ttlc_top_gifters_by_stream IS
	'ttlc_top_gifters summed over the sessions of a stream, per source. See ttlc-views(7).';

-- Events per minute (UTC) by type, per session; minutes without events
-- have no row.
CREATE OR REPLACE VIEW ttlc_events_per_minute AS
SELECT stream_id, session_id, date_trunc('minute', ts, 'UTC') AS minute, event_type,
       count(*) AS events
FROM events
GROUP BY stream_id, session_id, date_trunc('minute', ts, 'UTC'), event_type;

COMMENT ON VIEW ttlc_events_per_minute IS
	'Events per session, UTC minute and event type. See ttlc-views(7).';

-- Chat per session: every session with stored events has a row (0 when
-- nobody chatted). chat_messages counts every CHAT event; chatters counts
-- the distinct users among them, so a message without a user counts in
-- chat_messages and anonymous_messages, not in chatters.
CREATE OR REPLACE VIEW ttlc_chatters AS
SELECT stream_id, session_id,
       count(DISTINCT user_id) FILTER (WHERE event_type = 'CHAT') AS chatters,
       count(*) FILTER (WHERE event_type = 'CHAT') AS chat_messages,
       count(*) FILTER (WHERE event_type = 'CHAT' AND user_id IS NULL) AS anonymous_messages
FROM events
GROUP BY stream_id, session_id;

COMMENT ON VIEW ttlc_chatters IS
	'Distinct chatters and chat messages per session. See ttlc-views(7).';

-- Every viewer of every session: a user with any event in it (a join, a
-- like, a chat, a gift, ...). A viewer is new in the session that holds
-- their first event on the stream, and returning in any later one. Live
-- and replay sessions are counted apart. Of two sessions holding a
-- viewer's first event at the same instant, the smaller session_id is
-- the first.
CREATE OR REPLACE VIEW ttlc_viewers AS
WITH seen AS (
	SELECT stream_id, session_id, source, user_id, min(ts) AS first_at, max(ts) AS last_at,
	       count(*) AS events
	FROM events
	WHERE user_id IS NOT NULL
	GROUP BY stream_id, session_id, source, user_id
)
SELECT s.stream_id, s.session_id, s.source, s.user_id, s.first_at, s.last_at, s.events,
       NOT EXISTS (
	       SELECT 1 FROM events e
	       WHERE e.user_id = s.user_id AND e.stream_id = s.stream_id AND e.source = s.source
	         AND (e.ts, e.session_id) < (s.first_at, s.session_id)) AS is_new
FROM seen s;

COMMENT ON VIEW ttlc_viewers IS
	'Users with an event in a session, and whether the session is their first on the stream. See ttlc-views(7).';

-- New and returning viewers per session (sessions without any event of a
-- user have no row).
CREATE OR REPLACE VIEW ttlc_new_returning_viewers AS
SELECT stream_id, session_id, source,
       count(*) AS viewers,
       count(*) FILTER (WHERE is_new) AS new_viewers,
       count(*) FILTER (WHERE NOT is_new) AS returning_viewers
FROM ttlc_viewers
GROUP BY stream_id, session_id, source;

COMMENT ON VIEW ttlc_new_returning_viewers IS
	'Viewers per session, new to the stream or returning. See ttlc-views(7).';

SELECT format('GRANT SELECT ON ttlc_gift_streaks, ttlc_top_gifters, ttlc_top_gifters_by_stream, '
	'ttlc_events_per_minute, ttlc_chatters, ttlc_viewers, ttlc_new_returning_viewers TO %I', :'app_role') \gexec
