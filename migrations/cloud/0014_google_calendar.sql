-- Google Calendar, both ways: a staff member's Google account (tokens sealed like channel
-- secrets), the calendars whose busy times block their availability, the events we hold of them,
-- the queue that writes our bookings into their calendar, and the tasks an outside change of one
-- of our events becomes. A staff member's own calendar is the business's data, not a customer's;
-- what copies a booking's time or a customer's name is a personal copy.

-- One Google account per staff member.
CREATE TABLE calendar_connections (
    staff_id        TEXT PRIMARY KEY REFERENCES staff(id), -- not personal
    business_id     TEXT NOT NULL REFERENCES businesses(id), -- not personal
    -- `connected` or `reconnect_needed` (a refresh was refused: the person must sign in again).
    status          TEXT NOT NULL, -- not personal
    -- The Google account's address, for display.
    account_email   TEXT, -- not personal
    -- {access_token, refresh_token, expires_at} sealed with the service key (ChaCha20-Poly1305).
    tokens          TEXT, -- not personal
    -- Where our bookings are written (the primary calendar).
    write_calendar  TEXT NOT NULL, -- not personal
    last_error      TEXT, -- not personal
    last_error_at   BIGINT, -- not personal
    created_at      BIGINT NOT NULL, -- not personal
    updated_at      BIGINT NOT NULL -- not personal
);
CREATE INDEX calendar_connections_business ON calendar_connections(business_id);

-- A sign-in begun in the system browser and not finished yet (PKCE: we keep the challenge's
-- state; the console keeps the verifier).
CREATE TABLE calendar_oauth_starts (
    state           TEXT PRIMARY KEY, -- not personal
    business_id     TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id        TEXT NOT NULL REFERENCES staff(id), -- not personal
    redirect_uri    TEXT NOT NULL, -- not personal
    code_challenge  TEXT NOT NULL, -- not personal
    created_at      BIGINT NOT NULL -- not personal
);

-- A calendar of the person's Google account, chosen (`selected`) or not, with its sync state and
-- its push channel.
CREATE TABLE calendar_sources (
    id                  TEXT PRIMARY KEY, -- not personal
    business_id         TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id            TEXT NOT NULL REFERENCES staff(id), -- not personal
    calendar_id         TEXT NOT NULL, -- not personal
    summary             TEXT NOT NULL, -- not personal
    is_primary          BIGINT NOT NULL, -- not personal
    selected            BIGINT NOT NULL, -- not personal
    sync_token          TEXT, -- not personal
    next_sync_at        BIGINT, -- not personal
    last_sync_at        BIGINT, -- not personal
    last_error          TEXT, -- not personal
    channel_id          TEXT, -- not personal
    channel_resource_id TEXT, -- not personal
    -- SHA-256 of the channel's token: notifications must carry the token itself.
    channel_token_hash  TEXT, -- not personal
    channel_expires_at  BIGINT, -- not personal
    created_at          BIGINT NOT NULL, -- not personal
    UNIQUE (staff_id, calendar_id)
);
CREATE INDEX calendar_sources_due ON calendar_sources(next_sync_at) WHERE selected = 1;
CREATE UNIQUE INDEX calendar_sources_channel ON calendar_sources(channel_id) WHERE channel_id IS NOT NULL;

-- The events of the chosen calendars as Google last told us. `busy = 0`: free/transparent or
-- declined. `booking_id`: one of ours (its private extended property).
CREATE TABLE calendar_events (
    source_id    TEXT NOT NULL REFERENCES calendar_sources(id), -- not personal
    event_id     TEXT NOT NULL, -- not personal
    business_id  TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id     TEXT NOT NULL REFERENCES staff(id), -- not personal
    start_at     BIGINT NOT NULL, -- not personal
    end_at       BIGINT NOT NULL, -- not personal
    busy         BIGINT NOT NULL, -- not personal
    booking_id   TEXT, -- not personal
    PRIMARY KEY (source_id, event_id)
);
CREATE INDEX calendar_events_busy ON calendar_events(business_id, end_at) WHERE busy = 1 AND booking_id IS NULL;

-- Our bookings in Google: which event holds each, and the time we last wrote to it (what an
-- outside change is told apart by).
CREATE TABLE calendar_booking_events (
    booking_id     TEXT PRIMARY KEY REFERENCES bookings(id), -- not personal
    business_id    TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id       TEXT NOT NULL REFERENCES staff(id), -- not personal
    calendar_id    TEXT NOT NULL, -- not personal
    event_id       TEXT NOT NULL, -- not personal
    written_start  BIGINT NOT NULL, -- personal copy
    written_end    BIGINT NOT NULL -- personal copy
);

-- The durable queue of bookings to bring into line in Google (create, move or delete the event).
CREATE TABLE calendar_writes (
    id               TEXT PRIMARY KEY, -- not personal
    business_id      TEXT NOT NULL REFERENCES businesses(id), -- not personal
    booking_id       TEXT NOT NULL REFERENCES bookings(id), -- not personal
    attempts         BIGINT NOT NULL DEFAULT 0, -- not personal
    next_attempt_at  BIGINT NOT NULL, -- not personal
    lease_until      BIGINT, -- not personal
    done_at          BIGINT, -- not personal
    last_error       TEXT, -- not personal
    created_at       BIGINT NOT NULL -- not personal
);
CREATE INDEX calendar_writes_due ON calendar_writes(next_attempt_at) WHERE done_at IS NULL;

-- An outside move or delete of one of our events, waiting for the front desk to decide.
CREATE TABLE calendar_tasks (
    id           TEXT PRIMARY KEY, -- not personal
    business_id  TEXT NOT NULL REFERENCES businesses(id), -- not personal
    staff_id     TEXT NOT NULL REFERENCES staff(id), -- not personal
    booking_id   TEXT NOT NULL REFERENCES bookings(id), -- not personal
    -- `moved` or `deleted`.
    kind         TEXT NOT NULL, -- not personal
    new_start    BIGINT, -- personal copy
    new_end      BIGINT, -- personal copy
    message      TEXT NOT NULL, -- personal copy
    -- `open`, `applied` or `dismissed`.
    status       TEXT NOT NULL, -- not personal
    created_at   BIGINT NOT NULL, -- not personal
    resolved_at  BIGINT -- not personal
);
CREATE UNIQUE INDEX calendar_tasks_one_open ON calendar_tasks(booking_id) WHERE status = 'open';
