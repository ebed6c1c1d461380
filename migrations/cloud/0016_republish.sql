-- Synced rows to publish to consoles again, because what the service ships about their kind grew
-- (the `republish` worker writes them to the change log a batch at a time, resuming after
-- `after_id`, and deletes the line when done).
CREATE TABLE republish (
    business_id TEXT NOT NULL REFERENCES businesses(id), -- not personal
    entity      TEXT NOT NULL, -- not personal
    after_id    TEXT NOT NULL DEFAULT '', -- not personal
    PRIMARY KEY (business_id, entity)
);

-- Conversations now carry their reply window (what staff may send: free text until when, or a
-- WhatsApp template), computed by the service so that the console never decides it again.
INSERT INTO republish (business_id, entity) SELECT id, 'conversation' FROM businesses;
