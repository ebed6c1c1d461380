-- The console's local store. Three kinds of table, with strict owners:
--   * synced tables (entities and the typed tables below) are written only by the sync engine,
--     from pulled pages: a mirror of the service, never edited locally;
--   * the outbox holds what staff did that the service has not confirmed yet; it survives a
--     resync (the mirror is wiped, the outbox never);
--   * settings hold the sync cursor, the device id and who is signed in (no secrets: the refresh
--     token lives in the OS keyring).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every synced entity's latest state as the service sent it.
CREATE TABLE entities (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (entity, id)
) WITHOUT ROWID;

-- Typed projections of the entities the UI lists and searches, with the columns it filters and
-- sorts on (times as UTC milliseconds, which sort; RFC 3339 text with optional fractions does not). Rebuilt from `entities` data by the sync engine; `data` is the full JSON.
CREATE TABLE conversations (
    id                TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL,
    channel           TEXT NOT NULL,
    status            TEXT NOT NULL,
    mode              TEXT NOT NULL,
    holder_staff_id   TEXT,
    assignee_staff_id TEXT,
    unread_count      INTEGER NOT NULL,
    last_activity_ms  INTEGER NOT NULL,
    data              TEXT NOT NULL
);
CREATE INDEX conversations_by_activity ON conversations (last_activity_ms DESC, id DESC);
CREATE INDEX conversations_by_mode ON conversations (mode, last_activity_ms DESC);

CREATE TABLE messages (
    rowid           INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    body            TEXT NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_ms, id);

CREATE VIRTUAL TABLE message_search USING fts5(body, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO message_search (rowid, body) VALUES (new.rowid, new.body);
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, body) VALUES ('delete', old.rowid, old.body);
END;
CREATE TRIGGER messages_au AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, body) VALUES ('delete', old.rowid, old.body);
    INSERT INTO message_search (rowid, body) VALUES (new.rowid, new.body);
END;

CREATE TABLE customers (
    rowid  INTEGER PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE,
    name   TEXT NOT NULL,
    phone  TEXT NOT NULL,
    email  TEXT NOT NULL,
    data   TEXT NOT NULL
);

CREATE VIRTUAL TABLE customer_search USING fts5(name, phone, email, content='customers', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER customers_ai AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search (rowid, name, phone, email) VALUES (new.rowid, new.name, new.phone, new.email);
END;
CREATE TRIGGER customers_ad AFTER DELETE ON customers BEGIN
    INSERT INTO customer_search (customer_search, rowid, name, phone, email) VALUES ('delete', old.rowid, old.name, old.phone, old.email);
END;
CREATE TRIGGER customers_au AFTER UPDATE ON customers BEGIN
    INSERT INTO customer_search (customer_search, rowid, name, phone, email) VALUES ('delete', old.rowid, old.name, old.phone, old.email);
    INSERT INTO customer_search (rowid, name, phone, email) VALUES (new.rowid, new.name, new.phone, new.email);
END;

CREATE TABLE bookings (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    staff_id    TEXT NOT NULL,
    start_ms    INTEGER NOT NULL,
    end_ms      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX bookings_by_start ON bookings (start_ms);
CREATE INDEX bookings_by_customer ON bookings (customer_id, start_ms);

CREATE TABLE notes (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX notes_by_conversation ON notes (conversation_id, created_ms);

-- What staff did, in order, until the service confirms it. `id` is the mutation id the service
-- sees (increasing per device). state: `pending` (not yet confirmed) or `failed` (refused, with
-- the service's code and message; kept so the person sees why, and can retry or discard it).
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    args       TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending',
    code       TEXT,
    message    TEXT,
    details    TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX outbox_by_state ON outbox (state, id);
