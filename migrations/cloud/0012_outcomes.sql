-- Outcomes: an append-only record of what happened to conversations and bookings, written in the
-- same business transaction as the change it records; the owner's reports are computed from it
-- (definitions: docs/metrics.md). Rows are only ever inserted. No foreign keys: a figure for last
-- quarter stays what it was when a conversation or a service is deleted later.
--
-- An *episode* is one stretch of a conversation from being opened (or reopened) to being
-- resolved; `episode_at` is when the row's episode began, so every row of one episode shares it.
CREATE TABLE outcomes (
    id               TEXT PRIMARY KEY,                -- not personal
    business_id      TEXT NOT NULL,                   -- not personal
    kind             TEXT NOT NULL,                   -- not personal
    at               BIGINT NOT NULL,                 -- not personal
    conversation_id  TEXT,                            -- not personal
    episode_at       BIGINT,                          -- not personal
    booking_id       TEXT,                            -- not personal
    channel          TEXT,                            -- not personal
    staff_id         TEXT,                            -- not personal
    -- Bookings: assistant_chat, assistant_voice, staff or api.
    source           TEXT,                            -- not personal
    service_id       TEXT,                            -- not personal
    value_cents      BIGINT,                          -- not personal
    -- Bookings: the appointment's start after this change.
    starts_at        BIGINT,                          -- not personal
    -- Replies: when the clock started (the oldest customer message not yet answered by a person).
    since_at         BIGINT,                          -- not personal
    -- Whether this row was reconstructed by this migration from older data (see docs/metrics.md).
    backfilled       BIGINT NOT NULL DEFAULT 0        -- not personal
);
CREATE INDEX outcomes_business_time ON outcomes(business_id, at);
CREATE INDEX outcomes_conversation ON outcomes(conversation_id, kind, at);
CREATE INDEX outcomes_booking ON outcomes(booking_id, at);
CREATE INDEX outcomes_episodes ON outcomes(business_id, episode_at);
CREATE INDEX outcomes_appointments ON outcomes(business_id, starts_at);

-- Backfill from what the database already knows. Reopenings, moves and the order of earlier
-- events were not kept before this table, so each conversation is one episode from its creation,
-- and a moved booking's earlier times are not known (its current time stands in).

INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, backfilled)
SELECT 'bf-open-' || c.id, c.business_id, 'conversation_opened', c.created_at, c.id, c.created_at, c.channel, 1
FROM conversations c;

-- Every person's reply; the first of each conversation is its first human reply. The clock starts
-- at the oldest customer message after the previous reply by a person.
INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, staff_id, since_at, backfilled)
SELECT 'bf-reply-' || m.id, m.business_id,
       CASE WHEN EXISTS (SELECT 1 FROM messages p WHERE p.conversation_id = m.conversation_id AND p.author_kind = 'staff' AND p.kind <> 'event'
                         AND (p.created_at < m.created_at OR (p.created_at = m.created_at AND p.id < m.id)))
            THEN 'human_reply' ELSE 'first_human_reply' END,
       m.created_at, m.conversation_id, c.created_at, c.channel, m.author_staff_id,
       (SELECT MIN(q.created_at) FROM messages q WHERE q.conversation_id = m.conversation_id AND q.author_kind = 'customer'
          AND q.created_at <= m.created_at
          AND q.created_at > COALESCE((SELECT MAX(p.created_at) FROM messages p WHERE p.conversation_id = m.conversation_id
                                         AND p.author_kind = 'staff' AND p.kind <> 'event' AND p.created_at < m.created_at), -1)),
       1
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.author_kind = 'staff' AND m.kind <> 'event';

INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, backfilled)
SELECT 'bf-ai-' || m.id, m.business_id, 'ai_reply', m.created_at, m.conversation_id, c.created_at, c.channel, 1
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.author_kind = 'assistant' AND m.kind <> 'event';

INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, staff_id, backfilled)
SELECT 'bf-audit-' || a.id, a.business_id,
       CASE WHEN a.action = 'conversation.escalated' THEN 'handed_over' ELSE 'taken_over' END,
       a.created_at, c.id, c.created_at, c.channel, a.actor_staff_id, 1
FROM audit_log a JOIN conversations c ON c.id = a.target_id
WHERE a.action = 'conversation.escalated' OR (a.action = 'conversation.taken_over' AND a.detail LIKE '%"from":"ai"%');

INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, backfilled)
SELECT 'bf-resolved-' || c.id, c.business_id, 'resolved', c.updated_at, c.id, c.created_at, c.channel, 1
FROM conversations c WHERE c.status = 'resolved';

INSERT INTO outcomes (id, business_id, kind, at, booking_id, staff_id, source, service_id, value_cents, starts_at, backfilled)
SELECT 'bf-made-' || b.id, b.business_id, 'booking_made', b.created_at, b.id, b.staff_id,
       CASE b.source WHEN 'assistant' THEN 'assistant_chat' WHEN 'voice' THEN 'assistant_voice' ELSE b.source END,
       b.service_id, COALESCE((SELECT s.price_cents FROM services s WHERE s.id = b.service_id), 0), b.start_at, 1
FROM bookings b;

INSERT INTO outcomes (id, business_id, kind, at, booking_id, staff_id, source, service_id, value_cents, starts_at, backfilled)
SELECT 'bf-moved-' || a.id, a.business_id, 'booking_moved', a.created_at, b.id, b.staff_id,
       CASE b.source WHEN 'assistant' THEN 'assistant_chat' WHEN 'voice' THEN 'assistant_voice' ELSE b.source END,
       b.service_id, COALESCE((SELECT s.price_cents FROM services s WHERE s.id = b.service_id), 0), b.start_at, 1
FROM audit_log a JOIN bookings b ON b.id = a.target_id
WHERE a.action = 'booking.moved';

INSERT INTO outcomes (id, business_id, kind, at, booking_id, staff_id, source, service_id, value_cents, starts_at, backfilled)
SELECT 'bf-status-' || b.id, b.business_id,
       CASE b.status WHEN 'cancelled' THEN 'booking_cancelled' WHEN 'completed' THEN 'booking_completed' ELSE 'booking_no_show' END,
       b.updated_at, b.id, b.staff_id,
       CASE b.source WHEN 'assistant' THEN 'assistant_chat' WHEN 'voice' THEN 'assistant_voice' ELSE b.source END,
       b.service_id, COALESCE((SELECT s.price_cents FROM services s WHERE s.id = b.service_id), 0), b.start_at, 1
FROM bookings b WHERE b.status IN ('cancelled', 'completed', 'no_show');
