-- Free slots read a person's Google busy times overlapping the asked window. The index of 0014 is
-- on the end only, so `end_at > from` read every event still to come — a year of a busy
-- calendar for a month's slots. Events of two days or less are now found by their start
-- (`start_at` within two days before the window, up to its end); longer ones (holidays, courses)
-- by their end in an index of their own, which holds only those few.
CREATE INDEX calendar_events_starts ON calendar_events(business_id, start_at) WHERE busy = 1 AND booking_id IS NULL;
CREATE INDEX calendar_events_long ON calendar_events(business_id, end_at) WHERE busy = 1 AND booking_id IS NULL AND end_at - start_at > 172800000;
