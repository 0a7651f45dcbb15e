-- AMTP messages (issue 24): each AMTP message the gateway accepted, and its recipients
-- with the local message, or the relay to another domain, that carries it to each.
-- No event these views fold existed before: empty.
--
-- And each agent's name, for the AMTP directory (GET /v1/discovery/agents): the views
-- are emptied and the projection runner replays the ledger into them on the next
-- start, so agents named before this migration show theirs.
DELETE FROM atp_accounts;
DELETE FROM atp_api_keys;
DELETE FROM atp_agents;
DELETE FROM atp_sender_policies;
DELETE FROM atp_messages;
DELETE FROM atp_deliveries;
DELETE FROM atp_inbox;
DELETE FROM atp_sessions;
DELETE FROM atp_replays;
DELETE FROM atp_inbox_replays;
DELETE FROM atp_receipt_tasks;
DELETE FROM atp_push_configs;
DELETE FROM atp_tracking;
ALTER TABLE atp_agents ADD COLUMN name TEXT;
CREATE INDEX atp_agents_name ON atp_agents (name);

CREATE TABLE atp_amtp_messages (
    message_id TEXT PRIMARY KEY,     -- the AMTP message id (a UUID)
    position BIGINT NOT NULL,        -- notification id of its Accepted event
    sender TEXT NOT NULL,            -- the AMTP address
    sender_agent_id TEXT NOT NULL,
    sender_account_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX atp_amtp_messages_sender ON atp_amtp_messages (sender_agent_id, position);
CREATE INDEX atp_amtp_messages_sender_account ON atp_amtp_messages (sender_account_id, position);

CREATE TABLE atp_amtp_recipients (
    message_id TEXT NOT NULL,
    address TEXT NOT NULL,
    local_message_id TEXT,           -- the Message that carries it, if one was queued
    agent_id TEXT,
    account_id TEXT,
    relay_id TEXT,                   -- or the relay to its domain's gateway
    relay_ledger_id TEXT,            -- the AmtpRelay aggregate's id in the ledger
    relay_status TEXT,               -- pending, delivered or failed
    PRIMARY KEY (message_id, address)
);
CREATE INDEX atp_amtp_recipients_agent ON atp_amtp_recipients (agent_id, message_id);
CREATE INDEX atp_amtp_recipients_account ON atp_amtp_recipients (account_id, message_id);
CREATE INDEX atp_amtp_recipients_local ON atp_amtp_recipients (local_message_id);
CREATE INDEX atp_amtp_recipients_relay ON atp_amtp_recipients (relay_ledger_id);
CREATE INDEX atp_amtp_recipients_pending ON atp_amtp_recipients (relay_status);

-- AMTP schemas (issue 24): each account's registry, and the schemas each agent accepts.
CREATE TABLE atp_amtp_schemas (
    ledger_id TEXT PRIMARY KEY,      -- the AmtpSchema aggregate's id in the ledger
    account_id TEXT NOT NULL,
    schema_id TEXT NOT NULL,         -- agntcy:<domain>.<entity>.v<N>
    domain TEXT NOT NULL,
    entity TEXT NOT NULL,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,        -- the JSON Schema
    published_at TEXT NOT NULL,
    deleted INTEGER NOT NULL         -- 1: deleted (it may be registered again)
);
CREATE UNIQUE INDEX atp_amtp_schemas_id ON atp_amtp_schemas (account_id, schema_id);
ALTER TABLE atp_agents ADD COLUMN supported_schemas TEXT;  -- a JSON list, or NULL: any

-- AMTP workflows (issue 24) still running: the sweep wakes their actors after a restart.
CREATE TABLE atp_amtp_workflows (
    workflow_id TEXT PRIMARY KEY,
    ledger_id TEXT NOT NULL UNIQUE,  -- the Workflow aggregate's id in the ledger
    status TEXT NOT NULL
);
CREATE INDEX atp_amtp_workflows_status ON atp_amtp_workflows (status);
