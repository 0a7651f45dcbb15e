"""The audit log: the ledger made verifiable by anyone holding the verifier key.

Every stored event has an audit record (``_records``); the records are the leaves of
an RFC 9162 Merkle tree (``_merkle``) that a follower appends after each commit
(``_follower``, ``_store``, ``_following``), in a child process of the server
(``_process``, ``python -m atp.audit``) or in the server's own; signed C2SP checkpoints
commit to the tree (``_note``); ``AuditLog`` serves checkpoints and proofs; ``verify``
checks a ledger against its log.

Loaded lazily (PEP 562): ``atp audit verify --file`` and a third party's script need
only the checking half (``_export``, ``_files``, ``_note``, ``_merkle``,
``_canonical``), which imports nothing of the server: it runs on the base install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atp.audit._canonical import (
        canonical,
    )
    from atp.audit._export import (
        ExportFilter,
        FileReport,
        export_audit,
        verify_export,
    )
    from atp.audit._failure import Failure
    from atp.audit._files import (
        FileError,
    )
    from atp.audit._follower import (
        AuditView,
        TreeHead,
    )
    from atp.audit._following import (
        AuditFollower,
    )
    from atp.audit._history import (
        history,
    )
    from atp.audit._ledger_file import (
        LedgerNotEmpty,
        check_ledger_file,
        export_ledger,
        import_ledger,
    )
    from atp.audit._log import (
        AuditLog,
        AuditStatistics,
        Proof,
        open_audit_log,
    )
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
    from atp.audit._note import (
        Checkpoint,
        NoteError,
        NoteSigner,
        NoteVerifier,
        checkpoint_of,
        parse_checkpoint,
    )
    from atp.audit._records import (
        FORMAT_VERSION,
        TYPES,
        Directory,
        make_record,
    )
    from atp.audit._signing import (
        default_origin,
        log_signer,
        make_signer,
    )
    from atp.audit._store import (
        AuditStore,
        EventFilter,
        StoredCheckpoint,
        StoredRecord,
        Viewer,
    )
    from atp.audit._verify import (
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
    "AuditFollower",
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
    "checkpoint_of",
    "consistency_proof",
    "default_origin",
    "export_audit",
    "export_ledger",
    "history",
    "import_ledger",
    "inclusion_proof",
    "leaf_hash",
    "ledger_events",
    "log_signer",
    "make_record",
    "make_signer",
    "node_hash",
    "nodes_for_consistency",
    "nodes_for_inclusion",
    "open_audit_log",
    "parse_checkpoint",
    "stored_records",
    "verify",
    "verify_export",
]

_HOMES = {
    "EMPTY_ROOT": "atp.audit._merkle",
    "FORMAT_VERSION": "atp.audit._records",
    "TYPES": "atp.audit._records",
    "AuditFollower": "atp.audit._following",
    "AuditLog": "atp.audit._log",
    "AuditStatistics": "atp.audit._log",
    "AuditStore": "atp.audit._store",
    "AuditView": "atp.audit._follower",
    "Checkpoint": "atp.audit._note",
    "CompactRange": "atp.audit._merkle",
    "Directory": "atp.audit._records",
    "EventFilter": "atp.audit._store",
    "ExportFilter": "atp.audit._export",
    "Failure": "atp.audit._failure",
    "FileError": "atp.audit._files",
    "FileReport": "atp.audit._export",
    "LedgerNotEmpty": "atp.audit._ledger_file",
    "LedgerReader": "atp.audit._verify",
    "NoteError": "atp.audit._note",
    "NoteSigner": "atp.audit._note",
    "NoteVerifier": "atp.audit._note",
    "Proof": "atp.audit._log",
    "Report": "atp.audit._verify",
    "StoredCheckpoint": "atp.audit._store",
    "StoredRecord": "atp.audit._store",
    "TreeHead": "atp.audit._follower",
    "Viewer": "atp.audit._store",
    "canonical": "atp.audit._canonical",
    "check_ledger_file": "atp.audit._ledger_file",
    "consistency_proof": "atp.audit._merkle",
    "checkpoint_of": "atp.audit._note",
    "default_origin": "atp.audit._signing",
    "log_signer": "atp.audit._signing",
    "export_audit": "atp.audit._export",
    "export_ledger": "atp.audit._ledger_file",
    "history": "atp.audit._history",
    "import_ledger": "atp.audit._ledger_file",
    "inclusion_proof": "atp.audit._merkle",
    "leaf_hash": "atp.audit._merkle",
    "ledger_events": "atp.audit._verify",
    "make_record": "atp.audit._records",
    "make_signer": "atp.audit._signing",
    "node_hash": "atp.audit._merkle",
    "nodes_for_consistency": "atp.audit._merkle",
    "nodes_for_inclusion": "atp.audit._merkle",
    "open_audit_log": "atp.audit._log",
    "parse_checkpoint": "atp.audit._note",
    "stored_records": "atp.audit._verify",
    "verify": "atp.audit._verify",
    "verify_export": "atp.audit._export",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
