-- Consoles pushing mutations: each client id is bound to one staff member's device, and every
-- mutation's outcome is kept so a replay gets the same answer.
CREATE TABLE sync_clients (
    client_id     TEXT PRIMARY KEY,
    business_id   TEXT NOT NULL REFERENCES businesses(id),
    staff_id      TEXT NOT NULL REFERENCES staff(id),
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);

CREATE TABLE sync_mutations (
    client_id    TEXT NOT NULL REFERENCES sync_clients(client_id),
    mutation_id  BIGINT NOT NULL,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    name         TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    applied_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, mutation_id)
);
