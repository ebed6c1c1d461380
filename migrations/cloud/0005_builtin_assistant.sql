-- What the built-in assistant is waiting for in a conversation (a proposal to confirm).
CREATE TABLE assistant_state (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations(id),
    business_id      TEXT NOT NULL REFERENCES businesses(id),
    state            TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- One assistant turn at a time per conversation: two turns reading the same moment could both act.
CREATE UNIQUE INDEX assistant_jobs_one_running ON assistant_jobs(conversation_id) WHERE status = 'running';
