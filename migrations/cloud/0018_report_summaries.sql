-- The reports' summaries: one row per conversation episode and one per booking, derived from the
-- outcomes record (0012) and kept current in the same transaction as each outcome is appended
-- (reports/summaries.rs recomputes the episode or booking from its outcome rows with the same
-- code the figures are defined by). A 90-day report then reads a few thousand rows and counts
-- the rest in SQL, instead of every outcome row of the period. Derived data only: it can be
-- rebuilt from the outcomes at any time, and like them it keeps no personal data.
CREATE TABLE report_episodes (
    business_id           TEXT NOT NULL,              -- not personal
    conversation_id       TEXT NOT NULL,              -- not personal
    -- When the episode began (its opening or reopening).
    episode_at            BIGINT NOT NULL,            -- not personal
    channel               TEXT NOT NULL,              -- not personal
    reopened              BIGINT NOT NULL,            -- not personal
    -- assistant, handed_over or taken_over.
    handling              TEXT NOT NULL,              -- not personal
    ai_replies            BIGINT NOT NULL,            -- not personal
    human_replies         BIGINT NOT NULL,            -- not personal
    -- The first human response: when its clock started and when the reply came.
    first_response_since  BIGINT,                     -- not personal
    first_response_at     BIGINT,                     -- not personal
    wait_ms               BIGINT,                     -- not personal
    -- JSON: the staff ids who replied or took over, in order.
    staff                 TEXT NOT NULL,              -- not personal
    -- JSON: [staff id, reply time in ms or null] for each reply by a person.
    reply_times           TEXT NOT NULL,              -- not personal
    resolved              BIGINT NOT NULL,            -- not personal
    PRIMARY KEY (business_id, conversation_id, episode_at)
);
-- The summary counts the assistant's episodes per local day from this index alone, and reads
-- the others' rows through it.
CREATE INDEX report_episodes_handling ON report_episodes(business_id, handling, episode_at, channel, reopened, ai_replies);
CREATE INDEX report_episodes_time ON report_episodes(business_id, episode_at);

CREATE TABLE report_bookings (
    business_id   TEXT NOT NULL,                      -- not personal
    booking_id    TEXT NOT NULL,                      -- not personal
    -- When it was made (null when the record holds no making of it).
    made_at       BIGINT,                             -- not personal
    source        TEXT NOT NULL,                      -- not personal
    channel       TEXT,                               -- not personal
    service_id    TEXT NOT NULL,                      -- not personal
    staff_id      TEXT NOT NULL,                      -- not personal
    value_cents   BIGINT NOT NULL,                    -- not personal
    -- The appointment's start as it stands now.
    starts_at     BIGINT NOT NULL,                    -- not personal
    -- booked, cancelled, completed or no_show.
    outcome       TEXT NOT NULL,                      -- not personal
    moves         BIGINT NOT NULL,                    -- not personal
    PRIMARY KEY (business_id, booking_id)
);
CREATE INDEX report_bookings_made ON report_bookings(business_id, made_at);
CREATE INDEX report_bookings_starts ON report_bookings(business_id, starts_at);

-- Businesses whose summaries are still to be built from their outcomes: every one that has
-- outcomes now. The service builds them when it starts after migrating (Db::migrate) and
-- removes each line in the same transaction; businesses created later never need it.
CREATE TABLE report_rebuild (
    business_id   TEXT PRIMARY KEY                    -- not personal
);
INSERT INTO report_rebuild (business_id) SELECT DISTINCT business_id FROM outcomes;
