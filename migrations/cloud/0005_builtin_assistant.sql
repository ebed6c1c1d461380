-- What the built-in assistant is waiting for in a conversation (a proposal to confirm).
CREATE TABLE assistant_state (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations(id),
    business_id      TEXT NOT NULL REFERENCES businesses(id),
    state            TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);
