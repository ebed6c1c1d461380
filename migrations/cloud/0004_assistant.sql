-- The assistant and human takeover.

-- When the current holder took the conversation, and when a person last acted in it
-- (for the automatic hand-back after a quiet spell).
ALTER TABLE conversations ADD COLUMN held_at BIGINT;
ALTER TABLE conversations ADD COLUMN last_human_activity_at BIGINT;
-- When the assistant escalated (one holding reply per escalation).
ALTER TABLE conversations ADD COLUMN escalated_at BIGINT;

-- Minutes of quiet after which a held conversation goes back to the assistant (0: never).
ALTER TABLE businesses ADD COLUMN handback_idle_minutes BIGINT NOT NULL DEFAULT 30;
-- Persona, instructions, facts/FAQ, language and model (JSON).
ALTER TABLE businesses ADD COLUMN assistant_settings TEXT NOT NULL DEFAULT '{}';

-- A turn the assistant owes a conversation: queued when a customer writes while the assistant
-- answers, worked outside any transaction, committed only if the assistant still answers.
CREATE TABLE assistant_jobs (
    id                  TEXT PRIMARY KEY,
    business_id         TEXT NOT NULL REFERENCES businesses(id),
    conversation_id     TEXT NOT NULL REFERENCES conversations(id),
    trigger_message_id  TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            BIGINT NOT NULL DEFAULT 0,
    next_attempt_at     BIGINT NOT NULL,
    lease_until         BIGINT,
    last_error          TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX assistant_jobs_trigger ON assistant_jobs(trigger_message_id);
CREATE INDEX assistant_jobs_due ON assistant_jobs(status, next_attempt_at);

-- Tokens the LLM used, per business and day (what the owner pays for).
CREATE TABLE llm_usage (
    business_id        TEXT NOT NULL REFERENCES businesses(id),
    day                TEXT NOT NULL,
    model              TEXT NOT NULL,
    requests           BIGINT NOT NULL DEFAULT 0,
    prompt_tokens      BIGINT NOT NULL DEFAULT 0,
    completion_tokens  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (business_id, day, model)
);
