-- After the booking: confirmations, reminders, replies to them, missed-call text-backs and
-- follow-ups. Each planned or sent automated message is one row of `automation_runs`.

-- A business's automation settings (rules, quiet hours, texts, WhatsApp templates), as JSON;
-- '{}' means the defaults.
ALTER TABLE businesses ADD COLUMN automation_settings TEXT NOT NULL DEFAULT '{}'; -- not personal

-- Whether the customer said they will come (by replying to a reminder, or staff for them).
ALTER TABLE bookings ADD COLUMN confirmation TEXT NOT NULL DEFAULT 'unconfirmed'; -- not personal
ALTER TABLE bookings ADD COLUMN confirmed_at BIGINT; -- not personal

-- The rule that sent an automated message (`reminder:24h`, `confirmation:created`, ...).
ALTER TABLE messages ADD COLUMN automation TEXT; -- not personal

-- One row per automated message planned, sent or not sent. `dedupe_key` is unique per business:
-- `reminder:{booking}:{rule}` (one per rule per booking, whatever instance plans or sends it),
-- `confirmation:{booking}:{version}` (one per change), `text_back:{call}`, `follow_up:{conversation}:{n}:{planned_at}`.
CREATE TABLE automation_runs (
    id               TEXT PRIMARY KEY,                              -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id),       -- not personal
    kind             TEXT NOT NULL,                                 -- not personal
    rule             TEXT NOT NULL,                                 -- not personal
    dedupe_key       TEXT NOT NULL,                                 -- not personal
    booking_id       TEXT REFERENCES bookings(id),                  -- not personal
    customer_id      TEXT NOT NULL REFERENCES customers(id),        -- not personal
    conversation_id  TEXT REFERENCES conversations(id),             -- not personal
    due_at           BIGINT NOT NULL,                               -- not personal
    -- planned, sent, skipped (not sent, `reason` says why), stopped (a follow-up something ended), dropped (its booking was cancelled)
    status           TEXT NOT NULL,                                 -- not personal
    reason           TEXT,                                          -- not personal
    message_id       TEXT REFERENCES messages(id),                  -- not personal
    detail           TEXT NOT NULL DEFAULT '{}',                    -- personal copy
    created_at       BIGINT NOT NULL,                               -- not personal
    updated_at       BIGINT NOT NULL,                               -- not personal
    UNIQUE (business_id, dedupe_key)
);
CREATE INDEX automation_runs_due ON automation_runs(due_at) WHERE status = 'planned';
CREATE INDEX automation_runs_booking ON automation_runs(booking_id);
CREATE INDEX automation_runs_customer ON automation_runs(customer_id, kind, created_at);
CREATE INDEX automation_runs_conversation ON automation_runs(conversation_id);
CREATE INDEX bookings_unconfirmed ON bookings(business_id, confirmation, start_at);
