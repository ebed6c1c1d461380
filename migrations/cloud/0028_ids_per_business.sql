-- Ids a client chooses are the client's business's alone (issue 13, defect 9): a console makes
-- note ids, media ids and its device id itself, and the same id used first by another business
-- answered 409/404/403 — an unused id's answer was different, which told that the id existed
-- elsewhere. These tables are keyed by (id, business_id) instead of id alone, so another business
-- can hold the same id without either seeing the other's row. The id comes first so a lookup by
-- id alone (the signed media address) still reads the key. Customers, conversations, messages
-- and bookings are keyed so too, and the tables that reference them (`notes`, `outbox`,
-- `automation_runs`, `assistant_jobs`, `assistant_state`, `calendar_booking_events`,
-- `calendar_writes`, `calendar_tasks`; `sync_mutations` → `sync_clients`) are rebuilt with them,
-- with foreign keys on (id, business_id). See docs/ids.md.
--
-- Rebuilt the portable way (new table, copy, drop, rename); the children are dropped before
-- their parents so foreign keys hold throughout. Columns keep their order.

CREATE TABLE customers_by_business (
    id                  TEXT NOT NULL, -- personal data  the customer's id in this service
    business_id         TEXT NOT NULL REFERENCES businesses(id), -- not personal
    name                TEXT, -- personal data
    phone               TEXT, -- personal data
    whatsapp_id         TEXT, -- personal data
    email               TEXT, -- personal data
    tags                TEXT NOT NULL DEFAULT '[]', -- personal data
    notes               TEXT NOT NULL DEFAULT '', -- personal data
    opted_out_sms       BIGINT NOT NULL DEFAULT 0, -- personal data  consent
    opted_out_whatsapp  BIGINT NOT NULL DEFAULT 0, -- personal data  consent
    -- Lower-cased name and digits of the phone, for search.
    search_text         TEXT NOT NULL DEFAULT '', -- personal copy
    created_at          BIGINT NOT NULL, -- personal data
    updated_at          BIGINT NOT NULL, -- not personal
    deleted_at          BIGINT, -- not personal
    erased_at           BIGINT, -- not personal
    PRIMARY KEY (id, business_id)
);
INSERT INTO customers_by_business (id, business_id, name, phone, whatsapp_id, email, tags, notes, opted_out_sms, opted_out_whatsapp, search_text,
                                   created_at, updated_at, deleted_at, erased_at)
    SELECT id, business_id, name, phone, whatsapp_id, email, tags, notes, opted_out_sms, opted_out_whatsapp, search_text,
           created_at, updated_at, deleted_at, erased_at FROM customers;

CREATE TABLE bookings_by_business (
    id                   TEXT NOT NULL, -- not personal
    business_id          TEXT NOT NULL REFERENCES businesses(id), -- not personal
    customer_id          TEXT NOT NULL, -- not personal
    service_id           TEXT NOT NULL REFERENCES services(id), -- not personal
    staff_id             TEXT NOT NULL REFERENCES staff(id), -- not personal
    start_at             BIGINT NOT NULL, -- personal data  kept, anonymised, when the customer is erased
    end_at               BIGINT NOT NULL, -- not personal
    -- The time the booking blocks: the appointment with the service's buffers around it.
    block_start          BIGINT NOT NULL, -- not personal
    block_end            BIGINT NOT NULL, -- not personal
    status               TEXT NOT NULL, -- personal data
    source               TEXT NOT NULL, -- not personal
    notes                TEXT NOT NULL DEFAULT '', -- personal data
    version              BIGINT NOT NULL DEFAULT 1, -- not personal
    created_by_staff_id  TEXT REFERENCES staff(id), -- not personal
    cancel_reason        TEXT, -- personal data
    created_at           BIGINT NOT NULL, -- not personal
    updated_at           BIGINT NOT NULL, -- not personal
    confirmation         TEXT NOT NULL DEFAULT 'unconfirmed', -- not personal
    confirmed_at         BIGINT, -- not personal
    PRIMARY KEY (id, business_id),
    FOREIGN KEY (customer_id, business_id) REFERENCES customers_by_business(id, business_id),
    CHECK (start_at < end_at AND block_start <= start_at AND end_at <= block_end)
);
INSERT INTO bookings_by_business (id, business_id, customer_id, service_id, staff_id, start_at, end_at, block_start, block_end, status, source, notes,
                                  version, created_by_staff_id, cancel_reason, created_at, updated_at, confirmation, confirmed_at)
    SELECT id, business_id, customer_id, service_id, staff_id, start_at, end_at, block_start, block_end, status, source, notes,
           version, created_by_staff_id, cancel_reason, created_at, updated_at, confirmation, confirmed_at FROM bookings;

CREATE TABLE calendar_booking_events_by_business (
    booking_id     TEXT NOT NULL, -- not personal
    business_id    TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id       TEXT NOT NULL REFERENCES staff(id), -- not personal
    calendar_id    TEXT NOT NULL, -- not personal
    event_id       TEXT NOT NULL, -- not personal
    written_start  BIGINT NOT NULL, -- personal copy
    written_end    BIGINT NOT NULL, -- personal copy
    PRIMARY KEY (booking_id, business_id),
    FOREIGN KEY (booking_id, business_id) REFERENCES bookings_by_business(id, business_id)
);
INSERT INTO calendar_booking_events_by_business (booking_id, business_id, staff_id, calendar_id, event_id, written_start, written_end)
    SELECT booking_id, business_id, staff_id, calendar_id, event_id, written_start, written_end FROM calendar_booking_events;

CREATE TABLE calendar_writes_by_business (
    id               TEXT PRIMARY KEY, -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id), -- not personal
    booking_id       TEXT NOT NULL, -- not personal
    attempts         BIGINT NOT NULL DEFAULT 0, -- not personal
    next_attempt_at  BIGINT NOT NULL, -- not personal
    lease_until      BIGINT, -- not personal
    done_at          BIGINT, -- not personal
    last_error       TEXT, -- not personal
    created_at       BIGINT NOT NULL, -- not personal
    FOREIGN KEY (booking_id, business_id) REFERENCES bookings_by_business(id, business_id)
);
INSERT INTO calendar_writes_by_business (id, business_id, booking_id, attempts, next_attempt_at, lease_until, done_at, last_error, created_at)
    SELECT id, business_id, booking_id, attempts, next_attempt_at, lease_until, done_at, last_error, created_at FROM calendar_writes;

CREATE TABLE calendar_tasks_by_business (
    id           TEXT PRIMARY KEY, -- not personal
    business_id  TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id     TEXT NOT NULL REFERENCES staff(id), -- not personal
    booking_id   TEXT NOT NULL, -- not personal
    -- `moved` or `deleted`.
    kind         TEXT NOT NULL, -- not personal
    new_start    BIGINT, -- personal copy
    new_end      BIGINT, -- personal copy
    message      TEXT NOT NULL, -- personal copy
    -- `open`, `applied` or `dismissed`.
    status       TEXT NOT NULL, -- not personal
    created_at   BIGINT NOT NULL, -- not personal
    resolved_at  BIGINT, -- not personal
    FOREIGN KEY (booking_id, business_id) REFERENCES bookings_by_business(id, business_id)
);
INSERT INTO calendar_tasks_by_business (id, business_id, staff_id, booking_id, kind, new_start, new_end, message, status, created_at, resolved_at)
    SELECT id, business_id, staff_id, booking_id, kind, new_start, new_end, message, status, created_at, resolved_at FROM calendar_tasks;

CREATE TABLE conversations_by_business (
    id                      TEXT NOT NULL, -- not personal
    business_id             TEXT NOT NULL REFERENCES businesses(id), -- not personal
    customer_id             TEXT NOT NULL, -- not personal
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
    PRIMARY KEY (id, business_id),
    FOREIGN KEY (customer_id, business_id) REFERENCES customers_by_business(id, business_id)
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
    booking_id       TEXT,                                          -- not personal
    customer_id      TEXT NOT NULL,                                 -- not personal
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
    FOREIGN KEY (booking_id, business_id) REFERENCES bookings_by_business(id, business_id),
    FOREIGN KEY (customer_id, business_id) REFERENCES customers_by_business(id, business_id),
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
DROP TABLE calendar_booking_events;
DROP TABLE calendar_writes;
DROP TABLE calendar_tasks;
DROP TABLE bookings;
DROP TABLE customers;
ALTER TABLE customers_by_business RENAME TO customers;
ALTER TABLE bookings_by_business RENAME TO bookings;
ALTER TABLE calendar_booking_events_by_business RENAME TO calendar_booking_events;
ALTER TABLE calendar_writes_by_business RENAME TO calendar_writes;
ALTER TABLE calendar_tasks_by_business RENAME TO calendar_tasks;
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
CREATE UNIQUE INDEX customers_phone ON customers(business_id, phone) WHERE phone IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX customers_whatsapp ON customers(business_id, whatsapp_id) WHERE whatsapp_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX customers_recent ON customers(business_id, created_at, id);
CREATE INDEX bookings_staff_time ON bookings(staff_id, block_start);
CREATE INDEX bookings_business_time ON bookings(business_id, start_at);
CREATE INDEX bookings_customer ON bookings(customer_id, start_at);
CREATE INDEX bookings_unconfirmed ON bookings(business_id, confirmation, start_at);
CREATE INDEX calendar_writes_due ON calendar_writes(next_attempt_at) WHERE done_at IS NULL;
CREATE UNIQUE INDEX calendar_tasks_one_open ON calendar_tasks(booking_id, business_id) WHERE status = 'open';
-- (On PostgreSQL the service adds `bookings_no_overlap` to the rebuilt bookings at start; see store.rs.)
