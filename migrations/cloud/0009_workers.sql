-- One assistant turn at a time per conversation. (This index was once edited into 0005 after 0005
-- had landed; 0005 is back to what it was, and databases that ran the edited 0005 already have it.)
CREATE UNIQUE INDEX IF NOT EXISTS assistant_jobs_one_running ON assistant_jobs(conversation_id) WHERE status = 'running';

-- Background jobs that one instance at a time runs (tombstone compaction, ...): whichever instance
-- holds the job's lease.
CREATE TABLE worker_leases (
    job     TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    until   BIGINT NOT NULL
);

-- Webhook events are claimed with a lease, so several instances share the work. An event that
-- cannot be processed is kept as failed, with its reason, until someone retries it.
ALTER TABLE webhook_events ADD COLUMN lease_until BIGINT;
ALTER TABLE webhook_events ADD COLUMN failed_at BIGINT;
UPDATE webhook_events SET failed_at = processed_at, processed_at = NULL
    WHERE processed_at IS NOT NULL AND attempts >= 12 AND last_error IS NOT NULL;
CREATE INDEX webhook_events_failed ON webhook_events(business_id, failed_at) WHERE failed_at IS NOT NULL;
