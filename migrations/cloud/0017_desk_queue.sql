-- The front desk's queue (issue 16, point 4).

-- Labels staff put on a conversation ("complaint", "wedding party"): a JSON array of strings,
-- shipped to consoles with the conversation and filterable in the inbox. They describe what the
-- customer wrote about, so they go with the customer.
ALTER TABLE conversations ADD COLUMN labels TEXT NOT NULL DEFAULT '[]'; -- personal data

-- How long a customer waiting for a person may wait before the console shows it as late.
ALTER TABLE businesses ADD COLUMN wait_target_minutes BIGINT NOT NULL DEFAULT 5; -- not personal

-- Conversations now carry their labels and when they were handed over to a person, businesses
-- their waiting target: publish them to consoles again (restarting a republish still under way).
-- (`WHERE true`: SQLite reads `ON CONFLICT` after a bare `FROM t` as a join constraint.)
INSERT INTO republish (business_id, entity) SELECT id, 'conversation' FROM businesses WHERE true
    ON CONFLICT (business_id, entity) DO UPDATE SET after_id = '';
INSERT INTO republish (business_id, entity) SELECT id, 'business' FROM businesses WHERE true
    ON CONFLICT (business_id, entity) DO UPDATE SET after_id = '';
