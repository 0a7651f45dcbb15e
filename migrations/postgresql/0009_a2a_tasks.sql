-- A2A tasks (issue 23): ListTasks pages through the messages one agent sent another,
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
