-- Webhook dispatch and dead letters: when each pending webhook delivery falls due (the
-- sweep wakes idle mailboxes for it), and when a message was parked as a dead letter.
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
ALTER TABLE atp_deliveries ADD COLUMN due_at TEXT;
CREATE INDEX atp_deliveries_due ON atp_deliveries (due_at);
ALTER TABLE atp_messages ADD COLUMN dead_lettered_at TEXT;
CREATE INDEX atp_messages_dead_letters ON atp_messages (recipient_agent_id, dead_lettered_at);
