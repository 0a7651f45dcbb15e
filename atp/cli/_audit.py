"""``atp audit verify|export`` and ``atp ledger export|import``.

``audit verify`` checks the configured store's ledger against its audit log.

Read-only, so it takes no writer lock and may run beside a serving carrier (the log's
newest records may then lag the ledger: events not recorded yet are checked against
the checkpoints only). Trusted keys: the configured signing key's verifier key, and
any given with ``--key`` (an older key after a rotation, or the key an auditor was
handed). Exit status 0: intact; 1: the first index that is wrong is named. With
``--file`` it checks an export instead, with nothing but the file and the key.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from atp.cli._args import Invocation
from atp.cli._operate import _one_line, _settings
from atp.cli._output import CliError
from atp.settings import Settings

if TYPE_CHECKING:
    from atp.audit import NoteVerifier

__all__ = ["export", "ledger_export", "ledger_import", "verify"]

_PLAIN_EVERY = 100_000  # events between progress lines when not on a terminal


def verify(invocation: Invocation) -> None:
    """Check the configured store, or with ``--file`` an export, offline."""
    from atp.audit import NoteError, NoteVerifier

    keys = []
    for key in filter(None, invocation.options.get("--key", "").split(",")):
        try:
            keys.append(NoteVerifier(key.strip()))
        except NoteError as exc:
            raise CliError(f"--key: {exc}") from None
    if path := invocation.options.get("--file"):  # the base install suffices here
        _verify_file(Path(path), keys)
        return
    settings = _settings()
    from atp.audit import ledger_events, stored_records
    from atp.audit import verify as check

    saved = []
    if path := invocation.options.get("--checkpoint"):
        try:
            saved.append(Path(path).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the checkpoint {path}: {exc}") from None
    with _stores(settings) as (ledger, store, signer):
        checkpoints = store.checkpoints()
        verifiers = [signer(checkpoints).verifier(), *keys]
        with _Progress(ledger.count(), "event") as progress:
            report = check(
                ledger_events(ledger.app),
                stored_records(store),
                checkpoints,
                verifiers,
                saved=saved,
                progress=progress.update,
            )
    if report.failure is not None:
        raise CliError(f"the audit log does not verify: {report.failure}")
    root = base64.b64encode(report.root).decode()
    print(
        f"ok: {report.events} events recorded and hashed as the ledger holds them;"
        f" {report.checkpoints} stored checkpoint(s) and {len(saved)} saved one(s) signed"
        f" and matching; tree size {report.events}, root {root}"
    )


def _verify_file(path: Path, keys: list[NoteVerifier]) -> None:
    from atp.audit import FileError, verify_export

    try:
        with path.open("rb") as source, _Progress(0, "record") as progress:
            report = verify_export(source, keys, progress.update)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except FileError as exc:
        raise CliError(f"{path}: {exc}") from None
    if report.failure is not None:
        raise CliError(f"the export does not verify: {report.failure}")
    trust = "" if keys else " (the key the file names: pass --key to pin the key you trust)"
    print(
        f"ok: {report.records} record(s) hash to their leaves and are proven in checkpoints"
        f" signed by {report.signed_by}{trust}; {report.checkpoints} checkpoint(s) checked"
    )


def export(invocation: Invocation) -> None:
    """``atp audit export --out FILE``: the records (filtered), proofs and checkpoints."""
    settings = _settings()
    from atp.audit import ExportFilter, export_audit

    options = invocation.options
    out = options.get("--out")
    if not out:
        raise CliError("usage: atp audit export --out FILE [--since T] [--until T] [--account ID]")
    selection = ExportFilter(
        invocation.time("--since"), invocation.time("--until"), options.get("--account")
    )
    with _stores(settings) as (ledger, store, signer), _new_file(Path(out)) as target:
        key = signer(store.checkpoints()).verifier_key
        payloads = _payload_reader(ledger.app) if "--payloads" in invocation.flags else None
        with _Progress(0, "record") as progress:
            try:
                counts = export_audit(store, key, target, selection, payloads, progress.update)
            except LookupError as exc:
                raise CliError(str(exc)) from None
    print(
        f"exported {counts.get('record', 0)} record(s) and {counts.get('checkpoint', 0)}"
        f" checkpoint(s) to {out}; check it with `atp audit verify --file {out}`"
    )


def ledger_export(invocation: Invocation, path: str) -> None:
    """Every stored event and checkpoint, to a new file (read-only: no lock)."""
    settings = _settings()
    from atp.audit import export_ledger

    with (
        _stores(settings) as (ledger, store, _),
        _new_file(Path(path)) as target,
        _Progress(ledger.count(), "event") as progress,
    ):
        counts = export_ledger(ledger.app, store, target, progress.update)
    print(
        f"exported {counts.get('e', 0)} event(s) and {counts.get('c', 0)} checkpoint(s) to {path}"
    )


def ledger_import(invocation: Invocation, path: str) -> None:
    """A ledger file into this empty store, holding the writer lock."""
    settings = _settings()
    from atp.audit import FileError, LedgerNotEmpty, check_ledger_file, import_ledger
    from atp.ledger import Role, writer_lock

    source = Path(path)
    try:
        with _Progress(0, "event") as progress:
            check_ledger_file(source, progress.update)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except FileError as exc:
        raise CliError(f"{path}: {exc}; nothing was imported") from None
    with (
        _stores(settings, migrate=True) as (ledger, store, _),
        _one_line(),
        writer_lock(settings, Role.IMPORT),
        _Progress(0, "event") as progress,
    ):
        try:
            counts = import_ledger(ledger.app, store, source, progress.update)
        except (FileError, LedgerNotEmpty) as exc:
            raise CliError(f"{exc}; nothing was imported") from None
    print(
        f"imported {counts.get('e', 0)} event(s) and {counts.get('c', 0)} checkpoint(s);"
        " the views and the audit log are rebuilt from them at the next `atp serve`"
    )


@contextmanager
def _stores(settings: Settings, migrate: bool = False) -> Iterator[tuple[Any, Any, Any]]:
    """The ledger (to read), the audit store, and the signer for the stored origin."""
    from atp.audit import AuditStore, LedgerReader, log_signer
    from atp.ledger import check_store
    from atp.projections import apply_migrations, open_view_store

    with _one_line():
        check_store(settings)
        settings = settings.with_secret_key().with_audit_signing_key()
        views = open_view_store(settings)
        try:
            if migrate and settings.store == "sqlite":
                apply_migrations(views)
            ledger = LedgerReader(settings)
        except BaseException:
            views.close()
            raise

        def signer(checkpoints: list[Any]) -> Any:
            newest = checkpoints[-1].note if checkpoints else None
            return log_signer(settings.audit_signing_key or "", settings.audit_origin, newest)

        try:
            yield ledger, AuditStore(views), signer
        finally:
            ledger.close()
            views.close()


@contextmanager
def _new_file(path: Path) -> Iterator[IO[bytes]]:
    """A new file (never over another), removed again if writing it fails. Readable by
    its owner only: a ledger holds every payload and the sealed secrets, an export may
    hold payloads."""
    try:
        target = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    except FileExistsError:
        raise CliError(f"{path} exists: give a new file") from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with target:
            yield target
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _payload_reader(app: Any) -> Any:
    """A message's payload, read from the ledger."""
    from atp.domain import Message, aggregate_id

    def payload(message_id: str) -> Any:
        message = app.repository.get(aggregate_id(message_id))
        assert isinstance(message, Message)
        return message.payload

    return payload


class _Progress:
    """A progress bar on a terminal (tqdm), else a plain line now and then (stderr)."""

    def __init__(self, total: int, unit: str) -> None:
        self.total = total
        self.unit = unit
        self._bar = None
        self._said = 0
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total or None, unit=unit, unit_scale=True, file=sys.stderr)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
        elif done - self._said >= _PLAIN_EVERY or (done == self.total and done != self._said):
            self._said = done
            of = f" of {self.total}" if self.total else ""
            print(f"{done}{of} {self.unit}s", file=sys.stderr)
