-- Outcomes of the automations (reports, definitions version 2, docs/metrics.md): reminders sent,
-- confirmed or cancelled by a reply, missed calls, text-backs sent, and missed calls recovered by a
-- booking within 7 days. They are written in the same business transaction as the change
-- (automations/mod.rs, automations/replies.rs, reports/outcomes.rs); the reports read them by
-- kind and time, so they need no summary table.
--
-- The customer a missed call (and its recovery) is about, and the outcome a `recovered` row
-- answers (its `missed_call`).
ALTER TABLE outcomes ADD COLUMN customer_id TEXT; -- not personal
ALTER TABLE outcomes ADD COLUMN ref_id TEXT; -- not personal
CREATE INDEX outcomes_kind_time ON outcomes(business_id, kind, at);
CREATE INDEX outcomes_customer ON outcomes(customer_id, kind, at);

-- Backfill from the automation runs (0011) and the audit log. A run's id is its outcome's id, as
-- the live path writes it, so a row is never written twice.

-- Reminders and text-backs sent, when their run was marked sent (a sent run is never changed
-- again), on the channel of the conversation they went into; reminders with the booking's person.
INSERT INTO outcomes (id, business_id, kind, at, booking_id, customer_id, channel, staff_id, backfilled)
SELECT r.id, r.business_id, CASE r.kind WHEN 'reminder' THEN 'reminder_sent' ELSE 'text_back' END, r.updated_at, r.booking_id,
       r.customer_id, (SELECT c.channel FROM conversations c WHERE c.id = r.conversation_id),
       (SELECT b.staff_id FROM bookings b WHERE b.id = r.booking_id), 1
FROM automation_runs r
WHERE r.kind IN ('reminder', 'text_back') AND r.status = 'sent';

-- Missed calls: every call that planned a text-back run (`text_back:{call}`, whatever became of
-- the run). Calls missed while text-backs were switched off planned nothing and are not known.
INSERT INTO outcomes (id, business_id, kind, at, customer_id, channel, backfilled)
SELECT 'mc:' || r.business_id || ':' || substr(r.dedupe_key, 11), r.business_id, 'missed_call', r.created_at, r.customer_id, 'voice', 1
FROM automation_runs r
WHERE r.kind = 'text_back' AND r.dedupe_key LIKE 'text_back:%';

-- Recovered: each of those missed calls followed by a booking of the same customer within 7 days,
-- recorded at the first such booking.
INSERT INTO outcomes (id, business_id, kind, at, booking_id, customer_id, since_at, ref_id, backfilled)
SELECT 'rec:' || m.id, m.business_id, 'recovered', b.created_at, b.id, m.customer_id, m.at, m.id, 1
FROM outcomes m JOIN bookings b ON b.business_id = m.business_id AND b.customer_id = m.customer_id
WHERE m.kind = 'missed_call' AND b.created_at > m.at AND b.created_at <= m.at + 604800000
  AND NOT EXISTS (SELECT 1 FROM bookings e WHERE e.business_id = m.business_id AND e.customer_id = m.customer_id
                  AND e.created_at > m.at AND (e.created_at < b.created_at OR (e.created_at = b.created_at AND e.id < b.id)));

-- Replies to a reminder that confirmed or cancelled the booking: the audit log's
-- `automation.reply` names the booking and what the reply asked for (its other intents changed
-- nothing). A booking's confirmation state alone would not tell a reply from a person's click.
INSERT INTO outcomes (id, business_id, kind, at, booking_id, customer_id, staff_id, backfilled)
SELECT 'bf-rr-' || a.id, a.business_id,
       CASE WHEN a.detail LIKE '%"intent":"confirm"%' THEN 'reminder_confirmed' ELSE 'reminder_cancelled' END,
       a.created_at, a.target_id, b.customer_id, b.staff_id, 1
FROM audit_log a JOIN bookings b ON b.id = a.target_id
WHERE a.action = 'automation.reply' AND (a.detail LIKE '%"intent":"confirm"%' OR a.detail LIKE '%"intent":"cancel"%');
