-- Sessions (issue 4): the session rows, and each message's place in its session.
-- Views are derived data: this empties them and resets tracking, and the
-- projection runner replays the ledger into them on the next start.
DELETE FROM atp_accounts;
DELETE FROM atp_api_keys;
DELETE FROM atp_agents;
DELETE FROM atp_sender_policies;
DELETE FROM atp_messages;
DELETE FROM atp_deliveries;
DELETE FROM atp_inbox;
DELETE FROM atp_tracking;
ALTER TABLE atp_messages ADD COLUMN session_id TEXT;
ALTER TABLE atp_messages ADD COLUMN session_sequence BIGINT;
CREATE INDEX atp_messages_session ON atp_messages (session_id, session_sequence);

CREATE TABLE atp_sessions (
    id TEXT PRIMARY KEY,
    ledger_id TEXT NOT NULL UNIQUE,  -- the Session aggregate's id in the ledger
    position BIGINT NOT NULL,        -- notification id of the session's first event
    initiator_agent_id TEXT NOT NULL,
    recipient_agent_id TEXT NOT NULL,
    opening_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    last_sequence BIGINT NOT NULL,
    opened_at TEXT,
    terminal_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX atp_sessions_initiator ON atp_sessions (initiator_agent_id, position);
CREATE INDEX atp_sessions_recipient ON atp_sessions (recipient_agent_id, position);
CREATE INDEX atp_sessions_pending ON atp_sessions (status, created_at);
