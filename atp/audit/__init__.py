"""The audit log: the ledger made verifiable by anyone holding the verifier key.

Every stored event has an audit record (``_records``); the records are the leaves of
an RFC 9162 Merkle tree (``_merkle``) that a follower appends after each commit
(``_follower``, ``_store``); signed C2SP checkpoints commit to the tree (``_note``);
``AuditLog`` serves checkpoints and proofs; ``verify`` checks a ledger against its log.
"""

from atp.audit._canonical import canonical
from atp.audit._export import ExportFilter, FileReport, export_audit, verify_export
from atp.audit._files import FileError
from atp.audit._follower import AuditView, TreeHead
from atp.audit._history import history
from atp.audit._ledger_file import (
    LedgerNotEmpty,
    check_ledger_file,
    export_ledger,
    import_ledger,
)
from atp.audit._log import AuditLog, AuditStatistics, Proof
from atp.audit._merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_for_consistency,
    nodes_for_inclusion,
)
from atp.audit._note import Checkpoint, NoteError, NoteSigner, NoteVerifier, parse_checkpoint
from atp.audit._records import FORMAT_VERSION, TYPES, Directory, make_record
from atp.audit._signing import default_origin, make_signer
from atp.audit._store import AuditStore, EventFilter, StoredCheckpoint, StoredRecord, Viewer
from atp.audit._verify import (
    Failure,
    LedgerReader,
    Report,
    ledger_events,
    stored_records,
    verify,
)

__all__ = [
    "EMPTY_ROOT",
    "FORMAT_VERSION",
    "TYPES",
    "AuditLog",
    "AuditStatistics",
    "AuditStore",
    "AuditView",
    "Checkpoint",
    "CompactRange",
    "Directory",
    "EventFilter",
    "ExportFilter",
    "Failure",
    "FileError",
    "FileReport",
    "LedgerNotEmpty",
    "LedgerReader",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "Proof",
    "Report",
    "StoredCheckpoint",
    "StoredRecord",
    "TreeHead",
    "Viewer",
    "canonical",
    "check_ledger_file",
    "consistency_proof",
    "default_origin",
    "export_audit",
    "export_ledger",
    "history",
    "import_ledger",
    "inclusion_proof",
    "leaf_hash",
    "ledger_events",
    "make_record",
    "make_signer",
    "node_hash",
    "nodes_for_consistency",
    "nodes_for_inclusion",
    "parse_checkpoint",
    "stored_records",
    "verify",
    "verify_export",
]
