-- Switchboard cloud: the foundation schema.
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Ids are UUIDv7 text; times are
-- BIGINT milliseconds since the Unix epoch, UTC; JSON is TEXT; flags are BIGINT 0/1 (portable through sqlx's Any driver).

CREATE TABLE businesses (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    timezone    TEXT NOT NULL,
    locale      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    -- Sequence of the business's change log; bumped by every write to its data.
    last_seq    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    business_id    TEXT NOT NULL REFERENCES businesses(id),
    name           TEXT NOT NULL,
    -- Lower-cased; one account per address across all businesses, so login needs only the email.
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    active         BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX staff_email ON staff(email);
CREATE INDEX staff_business ON staff(business_id);

-- A login on one device: the family of its rotating refresh tokens.
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses(id),
    staff_id        TEXT NOT NULL REFERENCES staff(id),
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX sessions_staff ON sessions(staff_id);

CREATE TABLE refresh_tokens (
    -- SHA-256 of the token; the token itself is never stored.
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- Set when the token is exchanged; presenting it again revokes the whole session.
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    invited_by   TEXT NOT NULL REFERENCES staff(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX invitations_token ON invitations(token_hash);
CREATE INDEX invitations_business ON invitations(business_id);

CREATE TABLE customers (
    id                  TEXT PRIMARY KEY,
    business_id         TEXT NOT NULL REFERENCES businesses(id),
    name                TEXT,
    phone               TEXT,
    whatsapp_id         TEXT,
    email               TEXT,
    tags                TEXT NOT NULL DEFAULT '[]',
    notes               TEXT NOT NULL DEFAULT '',
    opted_out_sms       BIGINT NOT NULL DEFAULT 0,
    opted_out_whatsapp  BIGINT NOT NULL DEFAULT 0,
    -- Lower-cased name and digits of the phone, for search.
    search_text         TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    deleted_at          BIGINT
);
CREATE UNIQUE INDEX customers_phone ON customers(business_id, phone) WHERE phone IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX customers_whatsapp ON customers(business_id, whatsapp_id) WHERE whatsapp_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX customers_recent ON customers(business_id, created_at, id);

CREATE TABLE services (
    id                     TEXT PRIMARY KEY,
    business_id            TEXT NOT NULL REFERENCES businesses(id),
    name                   TEXT NOT NULL,
    duration_minutes       BIGINT NOT NULL,
    price_cents            BIGINT NOT NULL DEFAULT 0,
    buffer_before_minutes  BIGINT NOT NULL DEFAULT 0,
    buffer_after_minutes   BIGINT NOT NULL DEFAULT 0,
    active                 BIGINT NOT NULL DEFAULT 1,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    deleted_at             BIGINT
);
CREATE INDEX services_business ON services(business_id);

CREATE TABLE conversations (
    id                    TEXT PRIMARY KEY,
    business_id           TEXT NOT NULL REFERENCES businesses(id),
    customer_id           TEXT NOT NULL REFERENCES customers(id),
    channel               TEXT NOT NULL,
    status                TEXT NOT NULL,
    mode                  TEXT NOT NULL,
    holder_staff_id       TEXT REFERENCES staff(id),
    last_activity_at      BIGINT NOT NULL,
    last_message_preview  TEXT NOT NULL DEFAULT '',
    unread_count          BIGINT NOT NULL DEFAULT 0,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
-- The inbox: newest activity first, keyset-paginated by (last_activity_at, id).
CREATE INDEX conversations_inbox ON conversations(business_id, last_activity_at DESC, id DESC);
CREATE INDEX conversations_customer ON conversations(customer_id, channel, status);

CREATE TABLE messages (
    id                   TEXT PRIMARY KEY,
    business_id          TEXT NOT NULL REFERENCES businesses(id),
    conversation_id      TEXT NOT NULL REFERENCES conversations(id),
    direction            TEXT NOT NULL,
    author_kind          TEXT NOT NULL,
    author_staff_id      TEXT REFERENCES staff(id),
    body                 TEXT NOT NULL,
    media                TEXT NOT NULL DEFAULT '[]',
    provider_message_id  TEXT,
    delivery_status      TEXT NOT NULL,
    error                TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX messages_timeline ON messages(conversation_id, created_at, id);

CREATE TABLE notes (
    id               TEXT PRIMARY KEY,
    business_id      TEXT NOT NULL REFERENCES businesses(id),
    conversation_id  TEXT NOT NULL REFERENCES conversations(id),
    author_staff_id  TEXT NOT NULL REFERENCES staff(id),
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX notes_conversation ON notes(conversation_id, created_at);

CREATE TABLE canned_responses (
    id           TEXT PRIMARY KEY,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    shortcut     TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX canned_responses_shortcut ON canned_responses(business_id, shortcut);

-- Who did what, for the owner. Not synced to consoles.
CREATE TABLE audit_log (
    id              TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL REFERENCES businesses(id),
    actor_staff_id  TEXT,
    action          TEXT NOT NULL,
    target_kind     TEXT,
    target_id       TEXT,
    detail          TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL
);
CREATE INDEX audit_log_business ON audit_log(business_id, created_at);

-- The per-business change log that consoles sync from. Self-compacting: one row per entity,
-- holding the seq of its latest change and its full current state (NULL data = tombstone).
CREATE TABLE changes (
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    data         TEXT,
    changed_at   BIGINT NOT NULL,
    PRIMARY KEY (business_id, entity, entity_id)
);
CREATE UNIQUE INDEX changes_seq ON changes(business_id, seq);
