-- Read models (projections). Rebuildable from the ledger at any time.
CREATE TABLE atp_tracking (
    view TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

CREATE TABLE atp_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE atp_api_keys (
    token_hash TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL,             -- 'account' | 'agent'
    account_id TEXT NOT NULL,
    agent_id TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE atp_agents (
    id TEXT PRIMARY KEY,
    ledger_id TEXT NOT NULL UNIQUE,  -- the Agent aggregate's id in the ledger
    account_id TEXT NOT NULL,
    address TEXT NOT NULL UNIQUE,
    display_name TEXT,
    description TEXT,
    status TEXT NOT NULL,
    active_key_id TEXT,
    webhook_url TEXT,
    webhook_active INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX atp_agents_account ON atp_agents (account_id, created_at);

CREATE TABLE atp_sender_policies (
    id TEXT PRIMARY KEY,
    recipient_agent_id TEXT NOT NULL,
    sender_agent_id TEXT,
    sender_account_id TEXT,
    effect TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX atp_sender_policies_recipient ON atp_sender_policies (recipient_agent_id);

CREATE TABLE atp_messages (
    id TEXT PRIMARY KEY,
    position BIGINT NOT NULL,       -- notification id of the message's first event
    sender_agent_id TEXT NOT NULL,
    sender_account_id TEXT NOT NULL,
    recipient_agent_id TEXT NOT NULL,
    recipient_account_id TEXT NOT NULL,
    trust TEXT NOT NULL,
    carrier_status TEXT NOT NULL,
    ack_status TEXT,
    created_at TEXT NOT NULL,
    document TEXT NOT NULL          -- the message-status object as the recipient side sees it
);
CREATE INDEX atp_messages_unknown_senders
    ON atp_messages (recipient_agent_id, sender_account_id, created_at);

CREATE TABLE atp_deliveries (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    recipient_agent_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX atp_deliveries_message ON atp_deliveries (message_id);

-- Open messages per recipient, oldest first: what a mailbox actor rehydrates from.
CREATE TABLE atp_inbox (
    message_id TEXT PRIMARY KEY,
    recipient_agent_id TEXT NOT NULL,
    position BIGINT NOT NULL
);
CREATE INDEX atp_inbox_recipient ON atp_inbox (recipient_agent_id, position);
