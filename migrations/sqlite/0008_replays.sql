-- Replays (issue 20): runs still going (the sweep resumes them after a restart), and
-- the inbox replays waiting for a claim (a mailbox rebuilds its list from them).
-- No event these views fold existed before this migration: they start empty.
CREATE TABLE atp_replays (
    id TEXT PRIMARY KEY,
    ledger_id TEXT NOT NULL UNIQUE,  -- the Replay aggregate's id in the ledger
    agent_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX atp_replays_state ON atp_replays (state);

CREATE TABLE atp_inbox_replays (
    replay_id TEXT NOT NULL,
    message_ledger_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    position BIGINT NOT NULL,        -- notification id of the message's replay start
    PRIMARY KEY (replay_id, message_ledger_id)
);
CREATE INDEX atp_inbox_replays_agent ON atp_inbox_replays (agent_id, position);
