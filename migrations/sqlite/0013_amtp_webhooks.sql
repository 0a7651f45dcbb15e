-- AMTP delivery-notification webhooks (issue 24): each agent's and account's, and the
-- AMTP messages that still owe their senders' webhooks a notice. No event these
-- tables fold existed before, and no message accepted before owes one: empty.
CREATE TABLE atp_amtp_webhooks (
    webhook_id TEXT PRIMARY KEY,
    ledger_id TEXT NOT NULL UNIQUE,  -- the AmtpWebhook aggregate's id in the ledger
    position BIGINT NOT NULL,        -- notification id of its Registered event
    account_id TEXT NOT NULL,
    agent_id TEXT,                   -- NULL: every agent of the account
    url TEXT NOT NULL,
    events TEXT NOT NULL,            -- a JSON list of AMTP event names
    created_at TEXT NOT NULL,
    removed_at TEXT
);
CREATE INDEX atp_amtp_webhooks_owner ON atp_amtp_webhooks (account_id, agent_id);

CREATE TABLE atp_amtp_notices_owed (
    ledger_id TEXT PRIMARY KEY,      -- the AmtpEnvelope aggregate's id in the ledger
    message_id TEXT NOT NULL
);
CREATE INDEX atp_amtp_notices_owed_message ON atp_amtp_notices_owed (message_id);
