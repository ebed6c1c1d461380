-- Ids a client chooses are the client's business's alone (issue 13, defect 9): a console makes
-- note ids, media ids and its device id itself, and the same id used first by another business
-- answered 409/404/403 — an unused id's answer was different, which told that the id existed
-- elsewhere. These tables are keyed by (id, business_id) instead of id alone, so another business
-- can hold the same id without either seeing the other's row. The id comes first so a lookup by
-- id alone (the signed media address) still reads the key. The tables that reference messages
-- (`outbox`, `automation_runs`) and `sync_mutations` → `sync_clients` are rebuilt with them, with
-- foreign keys on (id, business_id). (Customers, conversations and bookings keep global keys for
-- now; see docs/ids.md.)
--
-- Rebuilt the portable way (new table, copy, drop, rename); the children are dropped before
-- their parents so foreign keys hold throughout. Columns keep their order.

CREATE TABLE notes_by_business (
    id               TEXT NOT NULL, -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id), -- not personal
    conversation_id  TEXT NOT NULL REFERENCES conversations(id), -- not personal
    author_staff_id  TEXT NOT NULL REFERENCES staff(id), -- not personal
    body             TEXT NOT NULL, -- personal data
    created_at       BIGINT NOT NULL, -- personal data
    updated_at       BIGINT NOT NULL, -- not personal
    PRIMARY KEY (id, business_id)
);
INSERT INTO notes_by_business (id, business_id, conversation_id, author_staff_id, body, created_at, updated_at)
    SELECT id, business_id, conversation_id, author_staff_id, body, created_at, updated_at FROM notes;
DROP TABLE notes;
ALTER TABLE notes_by_business RENAME TO notes;
CREATE INDEX notes_conversation ON notes(conversation_id, created_at);

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
    conversation_id      TEXT NOT NULL REFERENCES conversations(id), -- not personal
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
    PRIMARY KEY (id, business_id)
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
    conversation_id  TEXT REFERENCES conversations(id),             -- not personal
    due_at           BIGINT NOT NULL,                               -- not personal
    -- planned, sent, skipped (not sent, `reason` says why), stopped (a follow-up something ended), dropped (its booking was cancelled)
    status           TEXT NOT NULL,                                 -- not personal
    reason           TEXT,                                          -- not personal
    message_id       TEXT,                                          -- not personal
    detail           TEXT NOT NULL DEFAULT '{}',                    -- personal copy
    created_at       BIGINT NOT NULL,                               -- not personal
    updated_at       BIGINT NOT NULL,                               -- not personal
    UNIQUE (business_id, dedupe_key),
    FOREIGN KEY (message_id, business_id) REFERENCES messages_by_business(id, business_id)
);
INSERT INTO automation_runs_by_business (id, business_id, kind, rule, dedupe_key, booking_id, customer_id, conversation_id, due_at, status, reason,
                                         message_id, detail, created_at, updated_at)
    SELECT id, business_id, kind, rule, dedupe_key, booking_id, customer_id, conversation_id, due_at, status, reason,
           message_id, detail, created_at, updated_at FROM automation_runs;

DROP TABLE automation_runs;
DROP TABLE outbox;
DROP TABLE messages;
ALTER TABLE messages_by_business RENAME TO messages;
ALTER TABLE outbox_by_business RENAME TO outbox;
ALTER TABLE automation_runs_by_business RENAME TO automation_runs;
CREATE INDEX messages_timeline ON messages(conversation_id, created_at, id);
CREATE UNIQUE INDEX messages_provider_id ON messages(business_id, provider_message_id) WHERE provider_message_id IS NOT NULL;
CREATE UNIQUE INDEX outbox_message ON outbox(message_id, business_id);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX automation_runs_due ON automation_runs(due_at) WHERE status = 'planned';
CREATE INDEX automation_runs_booking ON automation_runs(booking_id);
CREATE INDEX automation_runs_customer ON automation_runs(customer_id, kind, created_at);
CREATE INDEX automation_runs_conversation ON automation_runs(conversation_id);
