-- The inbox view learns each message's expiry (for the expiry sweep).
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
ALTER TABLE atp_inbox ADD COLUMN expires_at TEXT;
CREATE INDEX atp_inbox_expiry ON atp_inbox (expires_at);
