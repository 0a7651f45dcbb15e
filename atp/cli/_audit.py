"""``atp audit verify``: check the configured store's ledger against its audit log.

Read-only, so it takes no writer lock and may run beside a serving carrier (the log's
newest records may then lag the ledger: events not recorded yet are checked against
the checkpoints only). Trusted keys: the configured signing key's verifier key, and
any given with ``--key`` (an older key after a rotation, or the key an auditor was
handed). Exit status 0: intact; 1: the first index that is wrong is named.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from atp.cli._args import Invocation
from atp.cli._operate import _one_line, _settings
from atp.cli._output import CliError

__all__ = ["verify"]

_PLAIN_EVERY = 100_000  # events between progress lines when not on a terminal


def verify(invocation: Invocation) -> None:
    settings = _settings()
    from atp.audit import (
        AuditStore,
        LedgerReader,
        NoteError,
        NoteVerifier,
        default_origin,
        ledger_events,
        make_signer,
        parse_checkpoint,
        stored_records,
    )
    from atp.audit import verify as check
    from atp.ledger import check_store
    from atp.projections import open_view_store

    saved = []
    if path := invocation.options.get("--checkpoint"):
        try:
            saved.append(Path(path).read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the checkpoint {path}: {exc}") from None
    with _one_line():
        check_store(settings)
        settings = settings.with_secret_key().with_audit_signing_key()
        views = open_view_store(settings)
        ledger = LedgerReader(settings)
        try:
            store = AuditStore(views)
            checkpoints = store.checkpoints()
            origin = settings.audit_origin or (
                parse_checkpoint(checkpoints[-1].note.partition("\n\n")[0] + "\n").origin
                if checkpoints
                else default_origin()
            )
            verifiers = [make_signer(settings.audit_signing_key or "", origin).verifier()]
            for key in filter(None, invocation.options.get("--key", "").split(",")):
                try:
                    verifiers.append(NoteVerifier(key.strip()))
                except NoteError as exc:
                    raise CliError(f"--key: {exc}") from None
            with _Progress(ledger.count()) as progress:
                report = check(
                    ledger_events(ledger.app),
                    stored_records(store),
                    checkpoints,
                    verifiers,
                    saved=saved,
                    progress=progress.update,
                )
        finally:
            ledger.close()
            views.close()
    if report.failure is not None:
        raise CliError(f"the audit log does not verify: {report.failure}")
    root = base64.b64encode(report.root).decode()
    print(
        f"ok: {report.events} events recorded and hashed as the ledger holds them;"
        f" {report.checkpoints} stored checkpoint(s) and {len(saved)} saved one(s) signed"
        f" and matching; tree size {report.events}, root {root}"
    )


class _Progress:
    """A progress bar on a terminal (tqdm), else a plain line now and then (stderr)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._bar = None
        self._said = 0
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="event", unit_scale=True, file=sys.stderr)

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
            print(f"checked {done} of {self.total} events", file=sys.stderr)
