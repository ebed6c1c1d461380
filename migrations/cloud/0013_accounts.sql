-- Data protection and account security: mail, password resets and email verification, two-factor
-- sign-in, recent re-authentication, customer erasure and retention.
-- Each column says whether it can hold a customer's personal data (the privacy test reads these;
-- see PERSONAL-DATA beside this file).

-- Mail waiting for the SMTP server, sent by the mail worker. Mail goes to staff (invitations,
-- resets, sign-in notices); the body is sealed with the service key because it may carry a
-- one-time link, and it is emptied once sent.
CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,                   -- not personal
    business_id      TEXT REFERENCES businesses(id),     -- not personal
    kind             TEXT NOT NULL,                      -- not personal
    recipient        TEXT NOT NULL,                      -- not personal (a staff member's or invitee's address)
    subject          TEXT NOT NULL,                      -- not personal
    body_sealed      TEXT NOT NULL,                      -- not personal (sealed; emptied once sent)
    -- queued → sent | failed
    status           TEXT NOT NULL,                      -- not personal
    attempts         BIGINT NOT NULL DEFAULT 0,          -- not personal
    next_attempt_at  BIGINT NOT NULL,                    -- not personal
    lease_until      BIGINT,                             -- not personal
    last_error       TEXT,                               -- not personal
    created_at       BIGINT NOT NULL,                    -- not personal
    sent_at          BIGINT                              -- not personal
);
CREATE INDEX mail_outbox_due ON mail_outbox(status, next_attempt_at);

-- One-time account tokens: password reset links, email verification links, and the short-lived
-- challenge between a password and a two-factor code (or two-factor enrolment). Only hashes.
CREATE TABLE account_tokens (
    token_hash   TEXT PRIMARY KEY,                       -- not personal
    -- password_reset | verify_email | two_factor | enrol
    purpose      TEXT NOT NULL,                          -- not personal
    staff_id     TEXT NOT NULL REFERENCES staff(id),     -- not personal
    business_id  TEXT NOT NULL REFERENCES businesses(id), -- not personal
    attempts     BIGINT NOT NULL DEFAULT 0,              -- not personal
    created_at   BIGINT NOT NULL,                        -- not personal
    expires_at   BIGINT NOT NULL,                        -- not personal
    used_at      BIGINT                                  -- not personal
);
CREATE INDEX account_tokens_staff ON account_tokens(staff_id, purpose);

ALTER TABLE staff ADD COLUMN email_verified_at BIGINT;           -- not personal
-- The TOTP secret, sealed with the service key; set at enrolment, live once confirmed.
ALTER TABLE staff ADD COLUMN totp_secret TEXT;                   -- not personal
ALTER TABLE staff ADD COLUMN totp_enabled_at BIGINT;             -- not personal
-- The last time step a code was accepted for: no step is accepted twice.
ALTER TABLE staff ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0; -- not personal
ALTER TABLE staff ADD COLUMN password_changed_at BIGINT;         -- not personal

-- Recovery codes, shown once at enrolment, each usable once. Only hashes.
CREATE TABLE recovery_codes (
    staff_id    TEXT NOT NULL REFERENCES staff(id),      -- not personal
    code_hash   TEXT NOT NULL,                           -- not personal
    created_at  BIGINT NOT NULL,                         -- not personal
    used_at     BIGINT,                                  -- not personal
    PRIMARY KEY (staff_id, code_hash)
);

-- When the session last proved its password or a code (sensitive actions need a recent one), and
-- a hash of the device it signed in from (a sign-in from a new device is mailed to the person).
ALTER TABLE sessions ADD COLUMN reauthenticated_at BIGINT;       -- not personal
ALTER TABLE sessions ADD COLUMN device_hash TEXT;                -- not personal

-- Everyone must use two-factor sign-in; and how long the business keeps things (NULL: for ever).
ALTER TABLE businesses ADD COLUMN require_two_factor BIGINT NOT NULL DEFAULT 0;      -- not personal
ALTER TABLE businesses ADD COLUMN retain_conversations_months BIGINT;                -- not personal
ALTER TABLE businesses ADD COLUMN retain_recordings_days BIGINT;                     -- not personal
ALTER TABLE businesses ADD COLUMN retention_last_run_at BIGINT;                      -- not personal

-- An erased customer keeps an anonymous row (bookings the business must keep point at it).
ALTER TABLE customers ADD COLUMN erased_at BIGINT;               -- not personal
-- A call whose recording and transcript retention removed.
ALTER TABLE messages ADD COLUMN recording_purged_at BIGINT;      -- not personal
