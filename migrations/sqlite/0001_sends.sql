-- The send journal: one row per message runner decided to send (see src/journal/mod.rs).
-- Times are microseconds since the Unix epoch (UTC). The text itself is not stored: only its
-- SHA-256 and length in characters.
CREATE TABLE sends (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id                  TEXT    NOT NULL,
    campaign                TEXT    NOT NULL,
    customer                TEXT    NOT NULL,
    conversation_id         TEXT    NOT NULL,
    state                   TEXT    NOT NULL
        CHECK (state IN ('reserved', 'sent', 'failed', 'uncertain', 'released')),
    text_sha256             TEXT    NOT NULL,
    text_chars              INTEGER NOT NULL,
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    genesys_conversation_id TEXT,
    genesys_message_id      TEXT,
    error                   TEXT
);

-- The once_every look-up: this campaign, this customer, recent rows first.
CREATE INDEX sends_campaign_customer ON sends (campaign, customer, created_at);

-- Backstops that hold even if the per-customer serialization failed: at most one in-flight
-- reservation per campaign and customer, and a campaign messages a conversation at most once.
CREATE UNIQUE INDEX sends_one_in_flight ON sends (campaign, customer) WHERE state = 'reserved';
CREATE UNIQUE INDEX sends_once_per_conversation ON sends (campaign, conversation_id)
    WHERE state IN ('reserved', 'sent', 'uncertain');
