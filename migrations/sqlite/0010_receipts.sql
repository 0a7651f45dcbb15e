-- A2A push notifications (issue 23): the tasks that have push-notification configs,
-- and whether each config may still be owed a receipt (the sweep has the courier
-- follow those after a restart). No event these views fold existed before: empty.
CREATE TABLE atp_receipt_tasks (
    ledger_id TEXT PRIMARY KEY,  -- the TaskReceipts aggregate's id in the ledger
    task_id TEXT NOT NULL,       -- the message's id
    message_ledger_id TEXT NOT NULL,  -- the Message aggregate's id
    reopened_version BIGINT NOT NULL  -- the message's last redrive or release (0: none)
);
CREATE INDEX atp_receipt_tasks_message ON atp_receipt_tasks (message_ledger_id);

CREATE TABLE atp_push_configs (
    ledger_id TEXT NOT NULL,
    config_id TEXT NOT NULL,
    settled INTEGER NOT NULL,         -- told the task's end (or set after it), and it has not gone on since
    PRIMARY KEY (ledger_id, config_id)
);
CREATE INDEX atp_push_configs_owed ON atp_push_configs (settled);

-- Messages ACKed accepted and not yet ended: the sweep follows those an A2A recipient
-- answered as going on. Partial, so a message passing through costs no index entry
-- once it has moved on.
CREATE INDEX atp_messages_accepted ON atp_messages (id) WHERE ack_status = 'accepted';
