-- Sync: tombstones older than a while are compacted away; a console whose cursor is older than
-- the last compacted seq may have missed a deletion and must resync from 0.
ALTER TABLE businesses ADD COLUMN compacted_through BIGINT NOT NULL DEFAULT 0;
