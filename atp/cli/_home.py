"""The CLI's local state under ``ATP_HOME`` (default ``~/.atp``, mode 0700).

``config.toml`` holds the server, the aliases (and the webhook URL each set from here)
and which one is active; ``credentials.toml`` holds the account's and every alias's API
key, and the ``whsec_`` secret of the webhook endpoint an alias set, mode 0600.
Both are replaced atomically: a new file is made beside the old, narrowed to its
mode *before* anything is written to it, synced, and renamed over the old one. If
the mode cannot be set, nothing is written and the old file stays: the keys never
sit in a file others could read, not even for a moment ("failing closed"). For the
same reason a credentials file that others can read is refused.
"""

from __future__ import annotations

import os
import re
import stat
import time
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs
import tomli_w
from cattrs.gen import make_dict_unstructure_fn, override

from atp.cli._output import CliError

__all__ = ["Alias", "AliasKey", "Config", "Credentials", "Home", "check_alias"]

_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
T = TypeVar("T")


def check_alias(alias: str) -> str:
    """``alias`` if it is a valid alias name."""
    if not _ALIAS.fullmatch(alias):
        raise CliError("alias must contain only letters, digits, dots, underscores, and hyphens")
    return alias


@attrs.frozen
class Alias:
    agent_id: str
    address: str
    webhook_url: str | None = None  # as last set from this CLI (the API has no read for it)


@attrs.frozen
class Config:
    server_url: str
    active_alias: str | None = None
    aliases: dict[str, Alias] = attrs.field(factory=dict)


@attrs.frozen
class AliasKey:
    agent_key_id: str
    agent_token: str = attrs.field(repr=False)
    # The endpoint's secret, for a receiver on this machine to verify pushes with.
    webhook_secret: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Credentials:
    account_id: str
    account_key_id: str
    account_token: str = attrs.field(repr=False)
    agents: dict[str, AliasKey] = attrs.field(factory=dict)


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


_toml = cattrs.Converter()
_toml.register_structure_hook(str, _strict_str)
# TOML has no null: what is not set is written as no key.
_toml.register_unstructure_hook(
    Alias, make_dict_unstructure_fn(Alias, _toml, webhook_url=override(omit_if_default=True))
)
_toml.register_unstructure_hook(
    AliasKey,
    make_dict_unstructure_fn(AliasKey, _toml, webhook_secret=override(omit_if_default=True)),
)
# After Alias's hook: Config's function is made with the hooks known now.
_toml.register_unstructure_hook(
    Config, make_dict_unstructure_fn(Config, _toml, active_alias=override(omit_if_default=True))
)


class Home:
    """``ATP_HOME``: reads and replaces the two state files."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.config_path = path / "config.toml"
        self.credentials_path = path / "credentials.toml"

    def exists(self) -> bool:
        return self.config_path.exists() or self.credentials_path.exists()

    def config(self) -> Config:
        return self._read(self.config_path, Config)

    def credentials(self) -> Credentials:
        mode = self._mode(self.credentials_path)
        if mode & 0o077:
            raise CliError(
                f"{self.credentials_path} can be read by others (mode {mode:04o}); "
                f"run `chmod 600 {self.credentials_path}` first"
            )
        return self._read(self.credentials_path, Credentials)

    def save(self, config: Config, credentials: Credentials | None = None) -> None:
        """Replace the config and, if given, the credentials (credentials first)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        if credentials is not None:
            _replace(self.credentials_path, tomli_w.dumps(_toml.unstructure(credentials)))
        _replace(self.config_path, tomli_w.dumps(_toml.unstructure(config)))

    def _mode(self, path: Path) -> int:
        try:
            return stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            raise CliError(f"{path} not found. Run `atp init` first.") from None

    def _read(self, path: Path, kind: type[T]) -> T:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CliError(f"{path} not found. Run `atp init` first.") from None
        try:
            return _toml.structure(tomllib.loads(text), kind)
        except tomllib.TOMLDecodeError as exc:
            raise CliError(f"could not parse {path}: {exc}") from None
        except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
            reasons = (
                "; ".join(cattrs.transform_error(exc))
                if isinstance(exc, cattrs.BaseValidationError)
                else str(exc)
            )
            raise CliError(f"could not parse {path}: {reasons}") from None


def _replace(path: Path, text: str) -> None:
    """Atomically replace ``path`` by a 0600 file holding ``text``; on failure, change nothing."""
    temporary = path.with_name(f"{path.name}.tmp-{time.time_ns()}-{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)  # before a byte is written; raises to abort
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
