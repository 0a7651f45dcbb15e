-- Indexes that only some rows need now hold only those rows. A polled send no longer
-- writes index entries for a webhook due time, a dead-letter time or a session it does
-- not have, nor a trusted send one for the unknown-sender limit. The mailbox finds
-- a recipient's pending webhook work by recipient instead of walking every due time.
DROP INDEX atp_deliveries_due;
CREATE INDEX atp_deliveries_due ON atp_deliveries (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX atp_deliveries_webhook_pending
    ON atp_deliveries (recipient_agent_id, due_at) WHERE due_at IS NOT NULL;
DROP INDEX atp_messages_dead_letters;
CREATE INDEX atp_messages_dead_letters
    ON atp_messages (recipient_agent_id, dead_lettered_at) WHERE dead_lettered_at IS NOT NULL;
DROP INDEX atp_messages_session;
CREATE INDEX atp_messages_session
    ON atp_messages (session_id, session_sequence) WHERE session_id IS NOT NULL;
DROP INDEX atp_messages_unknown_senders;
CREATE INDEX atp_messages_unknown_senders
    ON atp_messages (recipient_agent_id, created_at) WHERE trust = 'untrusted';
