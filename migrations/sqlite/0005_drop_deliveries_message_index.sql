-- No query finds deliveries by message (a message's deliveries are in its status
-- document), and every send wrote this index at a random key.
DROP INDEX IF EXISTS atp_deliveries_message;
