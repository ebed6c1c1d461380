-- Ids a client chooses are the client's business's alone (issue 13, defect 9): a console makes
-- note ids, media ids and its device id itself, and the same id used first by another business
-- answered 409/404/403 — an unused id's answer was different, which told that the id existed
-- elsewhere. These tables are keyed by (id, business_id) instead of id alone, so another business
-- can hold the same id without either seeing the other's row. The id comes first so a lookup by
-- id alone (the signed media address) still reads the key. Nothing references these tables but
-- `sync_mutations` → `sync_clients`, rebuilt together. (Customers, conversations, messages and
-- bookings keep global keys for now: other tables reference them by id alone; see DESIGN.md.)
--
-- Rebuilt the portable way (new table, copy, drop, rename); the children are dropped before
-- their parents so foreign keys hold throughout.

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
