-- Files the console has shown or is about to send, for viewing offline: customers' photos, voice
-- notes and documents, call recordings, and staff's own attachments. Keyed by the service's
-- address of the file (`/v1/media/{id}`, `/v1/calls/{id}/recording`). Kept within a size budget:
-- the least recently viewed go first. `pinned` marks an attachment not uploaded yet (never
-- evicted: it is the only copy until the service has it).
CREATE TABLE media_cache (
    key           TEXT PRIMARY KEY,
    content_type  TEXT NOT NULL,
    filename      TEXT,
    size          INTEGER NOT NULL,
    data          BLOB NOT NULL,
    pinned        INTEGER NOT NULL DEFAULT 0,
    used_at       INTEGER NOT NULL
);
CREATE INDEX media_cache_by_use ON media_cache (pinned, used_at);
