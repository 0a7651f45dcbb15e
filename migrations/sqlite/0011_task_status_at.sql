-- A2A ListTasks sorts by the last change of a task's status (as A2A's own server does):
-- when the message last changed its task state (an ACK, its end), else when it was
-- sent. Rows from before this migration take their end, else their send time (a
-- message ACKed accepted and still going on gets its ACK's time at its next change).
ALTER TABLE atp_messages ADD COLUMN status_at TEXT;
UPDATE atp_messages SET status_at = COALESCE(json_extract(document, '$.terminal_at'), created_at);
DROP INDEX atp_messages_sent_to;
CREATE INDEX atp_messages_sent_to_by_status
    ON atp_messages (sender_agent_id, recipient_agent_id, status_at, position);
