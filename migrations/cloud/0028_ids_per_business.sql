-- Ids a client chooses are the client's business's alone (issue 13, defect 9): a console makes
-- note ids, media ids and its device id itself, and the same id used first by another business
-- answered 409/404/403 — an unused id's answer was different, which told that the id existed
-- elsewhere. These tables are keyed by (id, business_id) instead of id alone, so another business
-- can hold the same id without either seeing the other's row. The id comes first so a lookup by
-- id alone (the signed media address) still reads the key. Conversations and messages are keyed
-- so too, and the tables that reference them (`notes`, `outbox`, `automation_runs`,
-- `assistant_jobs`, `assistant_state`; `sync_mutations` → `sync_clients`) are rebuilt with them,
-- with foreign keys on (id, business_id). (Customers and bookings keep global keys for now; see
-- docs/ids.md.)
--
-- Rebuilt the portable way (new table, copy, drop, rename); the children are dropped before
-- their parents so foreign keys hold throughout. Columns keep their order.

CREATE TABLE conversations_by_business (
    id                      TEXT NOT NULL, -- not personal
    business_id             TEXT NOT NULL REFERENCES businesses(id), -- not personal
    customer_id             TEXT NOT NULL REFERENCES customers(id), -- not personal
    channel                 TEXT NOT NULL, -- personal data
    status                  TEXT NOT NULL, -- not personal
    mode                    TEXT NOT NULL, -- not personal
    holder_staff_id         TEXT REFERENCES staff(id), -- not personal
    last_activity_at        BIGINT NOT NULL, -- not personal
    last_message_preview    TEXT NOT NULL DEFAULT '', -- personal copy
    unread_count            BIGINT NOT NULL DEFAULT 0, -- not personal
    created_at              BIGINT NOT NULL, -- personal data
    updated_at              BIGINT NOT NULL, -- not personal
    last_inbound_at         BIGINT, -- not personal
    channel_address         TEXT, -- not personal  the business's own number
    held_at                 BIGINT, -- not personal
    last_human_activity_at  BIGINT, -- not personal
    escalated_at            BIGINT, -- not personal
    assignee_staff_id       TEXT REFERENCES staff(id), -- not personal
    labels                  TEXT NOT NULL DEFAULT '[]', -- personal data
    PRIMARY KEY (id, business_id)
);
INSERT INTO conversations_by_business (id, business_id, customer_id, channel, status, mode, holder_staff_id, last_activity_at, last_message_preview,
                                       unread_count, created_at, updated_at, last_inbound_at, channel_address, held_at, last_human_activity_at,
                                       escalated_at, assignee_staff_id, labels)
    SELECT id, business_id, customer_id, channel, status, mode, holder_staff_id, last_activity_at, last_message_preview,
           unread_count, created_at, updated_at, last_inbound_at, channel_address, held_at, last_human_activity_at,
           escalated_at, assignee_staff_id, labels FROM conversations;

CREATE TABLE notes_by_business (
    id               TEXT NOT NULL, -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id), -- not personal
    conversation_id  TEXT NOT NULL, -- not personal
    author_staff_id  TEXT NOT NULL REFERENCES staff(id), -- not personal
    body             TEXT NOT NULL, -- personal data
    created_at       BIGINT NOT NULL, -- personal data
    updated_at       BIGINT NOT NULL, -- not personal
    PRIMARY KEY (id, business_id),
    FOREIGN KEY (conversation_id, business_id) REFERENCES conversations_by_business(id, business_id)
);
INSERT INTO notes_by_business (id, business_id, conversation_id, author_staff_id, body, created_at, updated_at)
    SELECT id, business_id, conversation_id, author_staff_id, body, created_at, updated_at FROM notes;

CREATE TABLE media_by_business (
    id            TEXT NOT NULL, -- not personal
    business_id   TEXT NOT NULL REFERENCES businesses(id), -- not personal
    content_type  TEXT NOT NULL, -- personal data
    filename      TEXT, -- personal data
    size          BIGINT NOT NULL, -- not personal
    -- base64: portable between SQLite and PostgreSQL through one driver.
    data          TEXT NOT NULL, -- personal data
    created_at    BIGINT NOT NULL, -- not personal
    PRIMARY KEY (id, business_id)
);
INSERT INTO media_by_business (id, business_id, content_type, filename, size, data, created_at)
    SELECT id, business_id, content_type, filename, size, data, created_at FROM media;
DROP TABLE media;
ALTER TABLE media_by_business RENAME TO media;

CREATE TABLE sync_clients_by_business (
    client_id     TEXT NOT NULL, -- not personal
    business_id   TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id      TEXT NOT NULL REFERENCES staff(id), -- not personal
    created_at    BIGINT NOT NULL, -- not personal
    last_seen_at  BIGINT NOT NULL, -- not personal
    PRIMARY KEY (client_id, business_id)
);
CREATE TABLE sync_mutations_by_business (
    client_id    TEXT NOT NULL, -- not personal
    mutation_id  BIGINT NOT NULL, -- not personal
    business_id  TEXT NOT NULL REFERENCES businesses(id), -- not personal
    name         TEXT NOT NULL, -- not personal
    outcome      TEXT NOT NULL, -- personal copy  a refusal's details may carry a booking
    applied_at   BIGINT NOT NULL, -- not personal
    PRIMARY KEY (client_id, business_id, mutation_id),
    FOREIGN KEY (client_id, business_id) REFERENCES sync_clients_by_business(client_id, business_id)
);
INSERT INTO sync_clients_by_business (client_id, business_id, staff_id, created_at, last_seen_at)
    SELECT client_id, business_id, staff_id, created_at, last_seen_at FROM sync_clients;
INSERT INTO sync_mutations_by_business (client_id, mutation_id, business_id, name, outcome, applied_at)
    SELECT client_id, mutation_id, business_id, name, outcome, applied_at FROM sync_mutations;
DROP TABLE sync_mutations;
DROP TABLE sync_clients;
ALTER TABLE sync_clients_by_business RENAME TO sync_clients;
ALTER TABLE sync_mutations_by_business RENAME TO sync_mutations;

CREATE TABLE messages_by_business (
    id                   TEXT NOT NULL, -- not personal
    business_id          TEXT NOT NULL REFERENCES businesses(id), -- not personal
    conversation_id      TEXT NOT NULL, -- not personal
    direction            TEXT NOT NULL, -- personal data
    author_kind          TEXT NOT NULL, -- not personal
    author_staff_id      TEXT REFERENCES staff(id), -- not personal
    body                 TEXT NOT NULL, -- personal data
    media                TEXT NOT NULL DEFAULT '[]', -- personal data  references to the media files
    provider_message_id  TEXT, -- not personal
    delivery_status      TEXT NOT NULL, -- not personal
    error                TEXT, -- personal copy  a provider's error may quote the number
    created_at           BIGINT NOT NULL, -- personal data
    updated_at           BIGINT NOT NULL, -- not personal
    kind                 TEXT NOT NULL DEFAULT 'text', -- not personal
    raw                  TEXT, -- personal data  the provider's payload; a call's transcript, summary and recording
    automation           TEXT, -- not personal
    recording_purged_at  BIGINT, -- not personal
    PRIMARY KEY (id, business_id),
    FOREIGN KEY (conversation_id, business_id) REFERENCES conversations_by_business(id, business_id)
);
INSERT INTO messages_by_business (id, business_id, conversation_id, direction, author_kind, author_staff_id, body, media, provider_message_id,
                                  delivery_status, error, created_at, updated_at, kind, raw, automation, recording_purged_at)
    SELECT id, business_id, conversation_id, direction, author_kind, author_staff_id, body, media, provider_message_id,
           delivery_status, error, created_at, updated_at, kind, raw, automation, recording_purged_at FROM messages;

CREATE TABLE outbox_by_business (
    id               TEXT PRIMARY KEY, -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id), -- not personal
    message_id       TEXT NOT NULL, -- not personal
    channel          TEXT NOT NULL, -- not personal
    -- What to send (JSON): text, or a template with variables.
    request          TEXT NOT NULL, -- personal copy  the text and the address it goes to
    -- queued → sending → sent | failed
    status           TEXT NOT NULL, -- not personal
    attempts         BIGINT NOT NULL DEFAULT 0, -- not personal
    next_attempt_at  BIGINT NOT NULL, -- not personal
    lease_until      BIGINT, -- not personal
    last_error       TEXT, -- personal copy
    created_at       BIGINT NOT NULL, -- not personal
    updated_at       BIGINT NOT NULL, -- not personal
    FOREIGN KEY (message_id, business_id) REFERENCES messages_by_business(id, business_id)
);
INSERT INTO outbox_by_business (id, business_id, message_id, channel, request, status, attempts, next_attempt_at, lease_until, last_error, created_at, updated_at)
    SELECT id, business_id, message_id, channel, request, status, attempts, next_attempt_at, lease_until, last_error, created_at, updated_at FROM outbox;

CREATE TABLE automation_runs_by_business (
    id               TEXT PRIMARY KEY,                              -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id),       -- not personal
    kind             TEXT NOT NULL,                                 -- not personal
    rule             TEXT NOT NULL,                                 -- not personal
    dedupe_key       TEXT NOT NULL,                                 -- not personal
    booking_id       TEXT REFERENCES bookings(id),                  -- not personal
    customer_id      TEXT NOT NULL REFERENCES customers(id),        -- not personal
    conversation_id  TEXT,                                          -- not personal
    due_at           BIGINT NOT NULL,                               -- not personal
    -- planned, sent, skipped (not sent, `reason` says why), stopped (a follow-up something ended), dropped (its booking was cancelled)
    status           TEXT NOT NULL,                                 -- not personal
    reason           TEXT,                                          -- not personal
    message_id       TEXT,                                          -- not personal
    detail           TEXT NOT NULL DEFAULT '{}',                    -- personal copy
    created_at       BIGINT NOT NULL,                               -- not personal
    updated_at       BIGINT NOT NULL,                               -- not personal
    UNIQUE (business_id, dedupe_key),
    FOREIGN KEY (conversation_id, business_id) REFERENCES conversations_by_business(id, business_id),
    FOREIGN KEY (message_id, business_id) REFERENCES messages_by_business(id, business_id)
);
INSERT INTO automation_runs_by_business (id, business_id, kind, rule, dedupe_key, booking_id, customer_id, conversation_id, due_at, status, reason,
                                         message_id, detail, created_at, updated_at)
    SELECT id, business_id, kind, rule, dedupe_key, booking_id, customer_id, conversation_id, due_at, status, reason,
           message_id, detail, created_at, updated_at FROM automation_runs;

CREATE TABLE assistant_jobs_by_business (
    id                  TEXT PRIMARY KEY, -- not personal
    business_id         TEXT NOT NULL REFERENCES businesses(id), -- not personal
    conversation_id     TEXT NOT NULL, -- not personal
    trigger_message_id  TEXT NOT NULL, -- not personal
    status              TEXT NOT NULL, -- not personal
    attempts            BIGINT NOT NULL DEFAULT 0, -- not personal
    next_attempt_at     BIGINT NOT NULL, -- not personal
    lease_until         BIGINT, -- not personal
    last_error          TEXT, -- personal copy  a model's error may quote the conversation
    created_at          BIGINT NOT NULL, -- not personal
    updated_at          BIGINT NOT NULL, -- not personal
    FOREIGN KEY (conversation_id, business_id) REFERENCES conversations_by_business(id, business_id)
);
INSERT INTO assistant_jobs_by_business (id, business_id, conversation_id, trigger_message_id, status, attempts, next_attempt_at, lease_until, last_error, created_at, updated_at)
    SELECT id, business_id, conversation_id, trigger_message_id, status, attempts, next_attempt_at, lease_until, last_error, created_at, updated_at FROM assistant_jobs;

CREATE TABLE assistant_state_by_business (
    conversation_id  TEXT NOT NULL, -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id), -- not personal
    state            TEXT NOT NULL, -- personal copy  what the assistant proposed to the customer
    updated_at       BIGINT NOT NULL, -- not personal
    PRIMARY KEY (conversation_id, business_id),
    FOREIGN KEY (conversation_id, business_id) REFERENCES conversations_by_business(id, business_id)
);
INSERT INTO assistant_state_by_business (conversation_id, business_id, state, updated_at)
    SELECT conversation_id, business_id, state, updated_at FROM assistant_state;

-- Children before parents.
DROP TABLE automation_runs;
DROP TABLE outbox;
DROP TABLE assistant_jobs;
DROP TABLE assistant_state;
DROP TABLE notes;
DROP TABLE messages;
DROP TABLE conversations;
ALTER TABLE conversations_by_business RENAME TO conversations;
ALTER TABLE messages_by_business RENAME TO messages;
ALTER TABLE notes_by_business RENAME TO notes;
ALTER TABLE outbox_by_business RENAME TO outbox;
ALTER TABLE automation_runs_by_business RENAME TO automation_runs;
ALTER TABLE assistant_jobs_by_business RENAME TO assistant_jobs;
ALTER TABLE assistant_state_by_business RENAME TO assistant_state;
CREATE INDEX conversations_inbox ON conversations(business_id, last_activity_at DESC, id DESC);
CREATE INDEX conversations_customer ON conversations(customer_id, channel, status);
CREATE INDEX notes_conversation ON notes(conversation_id, created_at);
CREATE INDEX messages_timeline ON messages(conversation_id, created_at, id);
CREATE UNIQUE INDEX messages_provider_id ON messages(business_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE UNIQUE INDEX outbox_message ON outbox(message_id, business_id);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX automation_runs_due ON automation_runs(due_at) WHERE status = 'planned';
CREATE INDEX automation_runs_booking ON automation_runs(booking_id);
CREATE INDEX automation_runs_customer ON automation_runs(customer_id, kind, created_at);
CREATE INDEX automation_runs_conversation ON automation_runs(conversation_id);
CREATE UNIQUE INDEX assistant_jobs_trigger ON assistant_jobs(trigger_message_id, business_id);
CREATE INDEX assistant_jobs_due ON assistant_jobs(status, next_attempt_at);
CREATE UNIQUE INDEX assistant_jobs_one_running ON assistant_jobs(conversation_id, business_id) WHERE status = 'running';
