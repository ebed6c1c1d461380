-- Scheduling: opening and working hours, date exceptions, booking rules, bookings, calendar feeds.
-- Hours are JSON: seven arrays (Monday first) of [start, end] minutes since local midnight.

ALTER TABLE businesses ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '[[[540,1020]],[[540,1020]],[[540,1020]],[[540,1020]],[[540,1020]],[],[]]';
ALTER TABLE businesses ADD COLUMN min_notice_minutes BIGINT NOT NULL DEFAULT 60;
ALTER TABLE businesses ADD COLUMN max_advance_days BIGINT NOT NULL DEFAULT 90;
ALTER TABLE businesses ADD COLUMN slot_interval_minutes BIGINT NOT NULL DEFAULT 15;

-- NULL: works whenever the business is open.
ALTER TABLE staff ADD COLUMN working_hours TEXT;
ALTER TABLE staff ADD COLUMN bookable BIGINT NOT NULL DEFAULT 1;
-- For fair rotation when a booking does not ask for anyone in particular.
ALTER TABLE staff ADD COLUMN last_assigned_at BIGINT NOT NULL DEFAULT 0;

-- Per-service overrides of the business's booking rules (NULL: the business's).
ALTER TABLE services ADD COLUMN min_notice_minutes BIGINT;
ALTER TABLE services ADD COLUMN max_advance_days BIGINT;
ALTER TABLE services ADD COLUMN slot_interval_minutes BIGINT;

-- Who can perform a service. None listed: every bookable staff member.
CREATE TABLE service_staff (
    service_id   TEXT NOT NULL REFERENCES services(id),
    staff_id     TEXT NOT NULL REFERENCES staff(id),
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    PRIMARY KEY (service_id, staff_id)
);

CREATE TABLE schedule_exceptions (
    id           TEXT PRIMARY KEY,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    staff_id     TEXT REFERENCES staff(id),
    date         TEXT NOT NULL,
    closed       BIGINT NOT NULL,
    hours        TEXT NOT NULL DEFAULT '[]',
    note         TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX schedule_exceptions_day ON schedule_exceptions(business_id, COALESCE(staff_id, ''), date);

CREATE TABLE bookings (
    id                   TEXT PRIMARY KEY,
    business_id          TEXT NOT NULL REFERENCES businesses(id),
    customer_id          TEXT NOT NULL REFERENCES customers(id),
    service_id           TEXT NOT NULL REFERENCES services(id),
    staff_id             TEXT NOT NULL REFERENCES staff(id),
    start_at             BIGINT NOT NULL,
    end_at               BIGINT NOT NULL,
    -- The time the booking blocks: the appointment with the service's buffers around it.
    block_start          BIGINT NOT NULL,
    block_end            BIGINT NOT NULL,
    status               TEXT NOT NULL,
    source               TEXT NOT NULL,
    notes                TEXT NOT NULL DEFAULT '',
    version              BIGINT NOT NULL DEFAULT 1,
    created_by_staff_id  TEXT REFERENCES staff(id),
    cancel_reason        TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CHECK (start_at < end_at AND block_start <= start_at AND end_at <= block_end)
);
CREATE INDEX bookings_staff_time ON bookings(staff_id, block_start);
CREATE INDEX bookings_business_time ON bookings(business_id, start_at);
CREATE INDEX bookings_customer ON bookings(customer_id, start_at);
-- On PostgreSQL the service also adds an exclusion constraint (btree_gist) so that two active
-- bookings of one staff member can never overlap, whatever writes them; see store.rs.

CREATE TABLE calendar_feeds (
    id           TEXT PRIMARY KEY,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    staff_id     TEXT REFERENCES staff(id),
    token_hash   TEXT NOT NULL,
    created_by   TEXT NOT NULL REFERENCES staff(id),
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX calendar_feeds_token ON calendar_feeds(token_hash);
