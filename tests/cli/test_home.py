"""ATP_HOME (wire contract §8.2): round trips, file modes, failing closed, bad files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from atp.cli._home import Alias, AliasKey, Config, Credentials, Home, check_alias
from atp.cli._output import CliError

CONFIG = Config(
    server_url="http://localhost:4000",
    active_alias="codex-atp",
    aliases={
        "codex-atp": Alias("agt_1", "atp://agent/agt_1"),
        "claude-123": Alias("agt_2", "atp://agent/agt_2"),
    },
)
CREDENTIALS = Credentials(
    account_id="acct_1",
    account_key_id="acctkey_1",
    account_token="ak_secret",
    agents={
        "codex-atp": AliasKey("agtkey_1", "agk_one"),
        "claude-123": AliasKey("agtkey_2", "agk_two"),
    },
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(home: Home) -> list[str]:
    return sorted(p.name for p in home.path.glob("*.tmp-*"))


def test_save_then_read_round_trips(tmp_path: Path) -> None:
    home = Home(tmp_path / "atp")
    home.save(CONFIG, CREDENTIALS)
    assert home.config() == CONFIG
    assert home.credentials() == CREDENTIALS
    assert home.credentials().agents["claude-123"].agent_token == "agk_two"


def test_no_active_alias_round_trips_as_none(tmp_path: Path) -> None:
    home = Home(tmp_path)
    config = Config(server_url="http://h:1")
    home.save(config)
    assert "active_alias" not in home.config_path.read_text()
    assert home.config() == config
    assert home.config().active_alias is None


def test_save_sets_modes_and_leaves_no_temp_file(tmp_path: Path) -> None:
    home = Home(tmp_path / "atp")
    home.save(CONFIG, CREDENTIALS)
    assert _mode(home.path) == 0o700
    assert _mode(home.credentials_path) == 0o600
    assert _mode(home.config_path) == 0o600
    assert _leftovers(home) == []
    assert sorted(p.name for p in home.path.iterdir()) == ["config.toml", "credentials.toml"]


def test_save_narrows_an_existing_open_directory(tmp_path: Path) -> None:
    home = Home(tmp_path / "atp")
    home.path.mkdir(mode=0o755)
    os.chmod(home.path, 0o755)
    home.save(CONFIG)
    assert _mode(home.path) == 0o700


def test_save_without_credentials_keeps_the_old_ones(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.save(CONFIG, CREDENTIALS)
    before = home.credentials_path.read_bytes()
    home.save(Config(server_url="http://other:1"))
    assert home.credentials_path.read_bytes() == before
    assert home.config().server_url == "http://other:1"


def _deny_fchmod(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Make ``os.fchmod`` fail; record (mode asked, bytes already in the file)."""
    calls: list[tuple[int, int]] = []

    def fchmod(fd: int, mode: int) -> None:
        calls.append((mode, os.fstat(fd).st_size))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", fchmod)
    return calls


def test_a_failed_chmod_keeps_the_previous_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path)
    home.save(CONFIG, CREDENTIALS)
    before_credentials = home.credentials_path.read_bytes()
    before_config = home.config_path.read_bytes()
    calls = _deny_fchmod(monkeypatch)
    new = Credentials("acct_9", "acctkey_9", "ak_new_token")
    with pytest.raises(PermissionError):
        home.save(Config(server_url="http://new:1"), new)
    assert calls == [(0o600, 0)]  # narrowed before a byte was written
    assert home.credentials_path.read_bytes() == before_credentials
    assert home.config_path.read_bytes() == before_config  # credentials go first: nothing else
    assert _leftovers(home) == []


def test_a_failed_chmod_writes_no_credentials_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Home(tmp_path / "atp")
    _deny_fchmod(monkeypatch)
    with pytest.raises(PermissionError):
        home.save(CONFIG, CREDENTIALS)
    assert not home.credentials_path.exists()
    assert not home.config_path.exists()
    assert _leftovers(home) == []
    assert not any(b"ak_secret" in p.read_bytes() for p in home.path.iterdir() if p.is_file())


def test_credentials_readable_by_others_are_refused(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.save(CONFIG, CREDENTIALS)
    os.chmod(home.credentials_path, 0o644)
    with pytest.raises(CliError) as caught:
        home.credentials()
    message = str(caught.value)
    assert f"chmod 600 {home.credentials_path}" in message
    assert "0644" in message
    assert "ak_secret" not in message


@pytest.mark.parametrize(
    "text",
    ['server_url = "unterminated\n', "server_url = 3\n", 'active_alias = "x"\n'],
    ids=["bad TOML", "wrong type", "missing field"],
)
def test_a_config_that_cannot_be_parsed_names_its_file(tmp_path: Path, text: str) -> None:
    home = Home(tmp_path)
    home.save(CONFIG, CREDENTIALS)
    home.config_path.write_text(text)
    with pytest.raises(CliError) as caught:
        home.config()
    assert str(caught.value).startswith(f"could not parse {home.config_path}")


def test_bad_credentials_name_the_credentials_file(tmp_path: Path) -> None:
    home = Home(tmp_path)
    home.save(CONFIG, CREDENTIALS)
    home.credentials_path.write_text('account_id = "acct_1"\naccount_key_id = 7\n')
    os.chmod(home.credentials_path, 0o600)
    with pytest.raises(CliError) as caught:
        home.credentials()
    assert str(caught.value).startswith(f"could not parse {home.credentials_path}")


@pytest.mark.parametrize("which", ["config", "credentials"])
def test_a_missing_file_says_run_init(tmp_path: Path, which: str) -> None:
    home = Home(tmp_path / "nowhere")
    assert not home.exists()
    with pytest.raises(CliError) as caught:
        getattr(home, which)()
    assert (
        str(caught.value)
        == f"{tmp_path / 'nowhere' / f'{which}.toml'} not found. Run `atp init` first."
    )


@pytest.mark.parametrize("alias", ["codex-atp", "a.b_c-1", "A", "9lives"])
def test_valid_aliases_are_accepted(alias: str) -> None:
    assert check_alias(alias) == alias


@pytest.mark.parametrize("alias", ["-x", "a b", "ä", "", ".hidden", "_x", "a/b", "a\n"])
def test_invalid_aliases_are_rejected(alias: str) -> None:
    with pytest.raises(
        CliError,
        match="alias must contain only letters, digits, dots, underscores, and hyphens",
    ):
        check_alias(alias)
