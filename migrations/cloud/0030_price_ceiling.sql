-- Service prices are at most 10,000,000.00 (1,000,000,000 cents); a larger one was accepted
-- before, and the reports' sums over a business's bookings then overflowed (every report a
-- 500). Prices above the ceiling are brought down to it wherever a price is kept: the service,
-- its bookings' outcomes and their report rows.
UPDATE services SET price_cents = 1000000000 WHERE price_cents > 1000000000;
UPDATE outcomes SET value_cents = 1000000000 WHERE value_cents > 1000000000;
UPDATE report_bookings SET value_cents = 1000000000 WHERE value_cents > 1000000000;
