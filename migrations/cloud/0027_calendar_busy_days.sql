-- Free slots read a person's Google busy times one day at a time: a busy month of ten calendars
-- was ~1,760 rows of `calendar_events`, read one by one from the table. This holds, per person
-- and UTC day, the events of up to two days that start that day, busy and not ours, as one text
-- `start end start end …` (milliseconds), so a month is ~340 rows. Longer events are still read
-- from `calendar_events` by 0025's index of them. Kept by the sync in the same transaction as
-- the events (the days it touched; all of a person's on a full read, a calendar deselected or a
-- disconnect), and built here from the events already held.
CREATE TABLE calendar_busy_days (
    staff_id     TEXT NOT NULL REFERENCES staff(id), -- not personal
    business_id  TEXT NOT NULL REFERENCES businesses(id), -- not personal
    -- Days since 1970-01-01 UTC (start_at / 86,400,000).
    day          BIGINT NOT NULL, -- not personal
    busy         TEXT NOT NULL, -- not personal
    PRIMARY KEY (staff_id, day)
);
CREATE INDEX calendar_busy_days_business ON calendar_busy_days(business_id, day);
INSERT INTO calendar_busy_days (staff_id, business_id, day, busy)
    SELECT staff_id, business_id, start_at / 86400000, string_agg(start_at || ' ' || end_at, ' ')
    FROM calendar_events WHERE busy = 1 AND booking_id IS NULL AND end_at - start_at <= 172800000
    GROUP BY staff_id, business_id, start_at / 86400000;
