-- Channels (WhatsApp Cloud API, Twilio), durable webhook intake, stored media, the outbox and
-- WhatsApp templates.

CREATE TABLE channels (
    business_id        TEXT NOT NULL REFERENCES businesses(id),
    kind               TEXT NOT NULL,
    -- Non-secret settings (JSON): phone number id, account SID, numbers.
    settings           TEXT NOT NULL,
    -- Secret settings (JSON), encrypted with the service key (ChaCha20-Poly1305), base64.
    secrets            TEXT NOT NULL,
    -- SHA-256 of the WhatsApp verify token, to answer Meta's hub.challenge.
    verify_token_hash  TEXT,
    last_ok_at         BIGINT,
    last_error         TEXT,
    last_error_at      BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (business_id, kind)
);
CREATE INDEX channels_verify_token ON channels(verify_token_hash);

-- Which business a provider address belongs to: a WhatsApp phone_number_id, or a Twilio number.
CREATE TABLE channel_addresses (
    kind         TEXT NOT NULL,
    address      TEXT NOT NULL,
    business_id  TEXT NOT NULL REFERENCES businesses(id),
    PRIMARY KEY (kind, address)
);

-- Every verified webhook, committed before it is acknowledged, processed afterwards.
CREATE TABLE webhook_events (
    id               TEXT PRIMARY KEY,
    provider         TEXT NOT NULL,
    business_id      TEXT NOT NULL REFERENCES businesses(id),
    -- What makes a redelivery the same event (Twilio's MessageSid, a hash of Meta's body).
    event_key        TEXT NOT NULL,
    payload          TEXT NOT NULL,
    received_at      BIGINT NOT NULL,
    processed_at     BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT
);
CREATE UNIQUE INDEX webhook_events_key ON webhook_events(provider, business_id, event_key);
CREATE INDEX webhook_events_pending ON webhook_events(next_attempt_at) WHERE processed_at IS NULL;

ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
-- The provider's payload for messages we could not show (unsupported types), kept, not dropped.
ALTER TABLE messages ADD COLUMN raw TEXT;
CREATE UNIQUE INDEX messages_provider_id ON messages(business_id, provider_message_id) WHERE provider_message_id IS NOT NULL;

-- When the customer last wrote (the WhatsApp 24-hour window) and to which of our addresses.
ALTER TABLE conversations ADD COLUMN last_inbound_at BIGINT;
ALTER TABLE conversations ADD COLUMN channel_address TEXT;

-- Media fetched from providers, kept so it outlives the providers' short-lived URLs.
CREATE TABLE media (
    id            TEXT PRIMARY KEY,
    business_id   TEXT NOT NULL REFERENCES businesses(id),
    content_type  TEXT NOT NULL,
    filename      TEXT,
    size          BIGINT NOT NULL,
    -- base64: portable between SQLite and PostgreSQL through one driver.
    data          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    business_id      TEXT NOT NULL REFERENCES businesses(id),
    message_id       TEXT NOT NULL REFERENCES messages(id),
    channel          TEXT NOT NULL,
    -- What to send (JSON): text, or a template with variables.
    request          TEXT NOT NULL,
    -- queued → sending → sent | failed
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX outbox_message ON outbox(message_id);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);

CREATE TABLE whatsapp_templates (
    id                  TEXT PRIMARY KEY,
    business_id         TEXT NOT NULL REFERENCES businesses(id),
    name                TEXT NOT NULL,
    language            TEXT NOT NULL,
    -- The approved text with {{1}}, {{2}}… for variables (shown in the console and the timeline).
    body                TEXT NOT NULL,
    -- For sending through Twilio's WhatsApp: the approved Content SID.
    twilio_content_sid  TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX whatsapp_templates_name ON whatsapp_templates(business_id, name, language);
