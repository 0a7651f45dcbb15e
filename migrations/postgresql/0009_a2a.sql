-- A2A (issue 23). ListTasks pages through the messages one agent sent another,
-- newest first, optionally in one conversation (the A2A contextId: the payload's own,
-- else the message's session, else one of the message's own).
ALTER TABLE atp_messages ADD COLUMN context_id TEXT;
UPDATE atp_messages SET context_id = COALESCE(
    NULLIF(document::jsonb #>> '{message,payload,contextId}', ''),
    session_id,
    'ctx_' || id
);
CREATE INDEX atp_messages_sent_to
    ON atp_messages (sender_agent_id, recipient_agent_id, position);

-- When each agent was last seen (a claim, a long poll, a stream, an ACK, a push it
-- answered): operational state beside the views, not a view of the ledger (it is not
-- rebuilt from it). The carrier writes it every few seconds (atp.actors, Liveness).
CREATE TABLE atp_agent_liveness (
    agent_id TEXT PRIMARY KEY,
    last_seen_at TEXT NOT NULL
);
