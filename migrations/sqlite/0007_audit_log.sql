-- The audit log (docs/audit.md): one record per stored event of the ledger, in
-- notification order, and the Merkle tree over them (RFC 9162). Records, nodes and the
-- directory are derived from the ledger and rebuildable: the signed checkpoints are
-- not derived data (each is what the carrier once attested) and a rebuild keeps them.
CREATE TABLE atp_audit_records (
    idx BIGINT PRIMARY KEY,          -- 0-based, dense: the leaf's index
    position BIGINT NOT NULL,        -- the event's notification id in the ledger
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    message_id TEXT,
    session_id TEXT,
    agent_a TEXT,                    -- the agents whose business it is
    agent_b TEXT,
    account_a TEXT,                  -- and their accounts
    account_b TEXT,
    record TEXT NOT NULL,            -- the record's canonical JSON, exactly as hashed
    leaf_hash BLOB NOT NULL
);
-- GET /api/events: what an agent, an account or a filter may see, in index order.
CREATE INDEX atp_audit_records_agent_a ON atp_audit_records (agent_a, idx);
CREATE INDEX atp_audit_records_agent_b ON atp_audit_records (agent_b, idx)
    WHERE agent_b IS NOT NULL;
CREATE INDEX atp_audit_records_account_a ON atp_audit_records (account_a, idx);
CREATE INDEX atp_audit_records_account_b ON atp_audit_records (account_b, idx)
    WHERE account_b IS NOT NULL;
CREATE INDEX atp_audit_records_message ON atp_audit_records (message_id, idx)
    WHERE message_id IS NOT NULL;
CREATE INDEX atp_audit_records_session ON atp_audit_records (session_id, idx)
    WHERE session_id IS NOT NULL;

-- Every complete subtree above the leaves: (level, index) covers leaves
-- [index * 2^level, (index + 1) * 2^level). A proof reads O(log n) of them.
CREATE TABLE atp_audit_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);

-- What the records need and no first event says: the session openings their recipient
-- ACKed (an answer to the session is then the recipient's, not the carrier's).
CREATE TABLE atp_audit_directory (
    aggregate TEXT PRIMARY KEY,
    entry TEXT NOT NULL
);

CREATE TABLE atp_audit_checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL,              -- the signed note, byte for byte
    signed_at TEXT NOT NULL
);
