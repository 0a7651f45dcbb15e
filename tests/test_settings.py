"""Settings from the environment: defaults, parsing, and refusing what is unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from atp.settings import CliSettings, Settings, load_or_create_secret_key


def test_defaults_are_the_contracts() -> None:
    s = Settings.from_env({})
    assert (s.port, s.bind, s.data_dir, s.store) == (4000, "127.0.0.1", Path("var"), "sqlite")
    assert s.agents_per_account == {"free": 2, "basic": 10}
    assert s.webhook_max_attempts == {"free": 3, "basic": 8}
    assert s.unknown_sender_limit == 20


def test_environment_overrides_and_plan_tables() -> None:
    s = Settings.from_env(
        {
            "ATP_PORT": "4100",
            "ATP_DATABASE_URL": "postgresql://u:p@h/db",
            "ATP_AGENTS_PER_ACCOUNT": "free=5, basic=50",
            "ATP_UNKNOWN_SENDER_LIMIT": "3",
        }
    )
    assert (s.port, s.store, s.unknown_sender_limit) == (4100, "postgresql", 3)
    assert s.agents_per_account == {"free": 5, "basic": 50}


def test_unknown_and_malformed_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="ATP_PROT"):
        Settings.from_env({"ATP_PROT": "1"})
    with pytest.raises(ValueError):
        Settings.from_env({"ATP_AGENTS_PER_ACCOUNT": "free"})
    for name, value in [
        ("ATP_WEBHOOK_ALLOW_PRIVATE", "yes"), ("ATP_WEBHOOK_TIMEOUT", "0"),
        ("ATP_WEBHOOK_RETRY_DELAYS", "0,-30"), ("ATP_WEBHOOK_CONCURRENCY", "-1"),
        ("ATP_STORE_TIMEOUT", "0"),
    ]:  # fmt: skip
        with pytest.raises(ValueError):
            Settings.from_env({name: value})


def test_connection_settings() -> None:
    default = Settings()
    assert (default.body_timeout, default.keep_alive_timeout) == (10, 5)
    assert default.max_connections is None  # derived from the open-files limit
    s = Settings.from_env(
        {"ATP_BODY_TIMEOUT": "2.5", "ATP_KEEP_ALIVE_TIMEOUT": "75", "ATP_MAX_CONNECTIONS": "500"}
    )
    assert (s.body_timeout, s.keep_alive_timeout, s.max_connections) == (2.5, 75, 500)
    for name in ("ATP_BODY_TIMEOUT", "ATP_KEEP_ALIVE_TIMEOUT", "ATP_MAX_CONNECTIONS"):
        for bad in ("0", "-1", "soon"):
            with pytest.raises(ValueError):
                Settings.from_env({name: bad})


def test_webhook_settings() -> None:
    default = Settings()
    assert (default.webhook_timeout, default.webhook_attempt_deadline) == (10, 30)
    assert default.webhook_lease == 60  # the contract's webhook claim lease
    assert not default.webhook_allow_private
    s = Settings.from_env(
        {
            "ATP_WEBHOOK_ALLOW_PRIVATE": "1",
            "ATP_WEBHOOK_TIMEOUT": "2",
            "ATP_WEBHOOK_RETRY_DELAYS": "0,5,10",
            "ATP_WEBHOOK_CONCURRENCY": "16",
        }
    )
    assert s.webhook_allow_private and s.webhook_lease == 12
    assert (s.webhook_retry_delays, s.webhook_concurrency) == ((0, 5, 10), 16)


def test_the_store_timeout_bounds_waits_for_the_database() -> None:
    assert Settings().store_timeout == 3
    assert Settings.from_env({"ATP_STORE_TIMEOUT": "5"}).store_timeout == 5


def test_secrets_never_show_in_repr() -> None:
    s = Settings(
        database_url="postgresql://u:hunter2@h/db", secret_key="sekrit", metrics_token="scrape"
    )
    assert "hunter2" not in repr(s) and "sekrit" not in repr(s) and "scrape" not in repr(s)


def test_log_and_metrics_settings() -> None:
    default = Settings.from_env({})
    assert (default.log_level, default.log_format, default.metrics_token) == ("info", None, None)
    s = Settings.from_env(
        {"ATP_LOG_LEVEL": "Warning", "ATP_LOG_FORMAT": "JSON", "ATP_METRICS_TOKEN": "t0ken"}
    )
    assert (s.log_level, s.log_format, s.metrics_token) == ("warning", "json", "t0ken")
    with pytest.raises(ValueError, match=r"ATP_LOG_LEVEL must be one of debug, info, warning"):
        Settings.from_env({"ATP_LOG_LEVEL": "verbose"})
    with pytest.raises(ValueError, match=r"ATP_LOG_FORMAT must be one of text, json"):
        Settings.from_env({"ATP_LOG_FORMAT": "xml"})


def test_postgres_requires_a_secret_key() -> None:
    with pytest.raises(ValueError, match="ATP_SECRET_KEY"):
        Settings(database_url="postgresql://h/db").with_secret_key()


def test_embedded_secret_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = load_or_create_secret_key(tmp_path)
    assert load_or_create_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_cli_settings_read_home_colour_and_demo_delay(tmp_path: Path) -> None:
    default = CliSettings.from_env({})
    assert default.home == Path("~/.atp").expanduser() and default.color
    read = CliSettings.from_env(
        {"ATP_HOME": str(tmp_path), "NO_COLOR": "1", "ATP_DEMO_DELAY_MS": "250"}
    )
    assert (read.home, read.color, read.demo_delay) == (tmp_path, False, 0.25)
    assert not CliSettings.from_env({"ATP_DEMO_NO_COLOR": "1"}).color
    with pytest.raises(ValueError, match="must not be negative"):
        CliSettings.from_env({"ATP_DEMO_DELAY_MS": "-1"})
    with pytest.raises(ValueError, match="ATP_HOEM"):
        CliSettings.from_env({"ATP_HOEM": "/x"})


def test_a_mailbox_window_holds_at_least_one_message() -> None:
    # An empty window would never page a backlog in: messages beyond it would wait forever.
    with pytest.raises(ValueError, match="mailbox_window"):
        Settings(mailbox_window=0)
    assert Settings(mailbox_window=1).mailbox_window == 1


def test_the_audit_follower_runs_in_its_own_process_unless_told() -> None:
    assert Settings().audit_follower == "process"
    assert Settings.from_env({"ATP_AUDIT_FOLLOWER": "Inline"}).audit_follower == "inline"
    with pytest.raises(ValueError, match=r"ATP_AUDIT_FOLLOWER must be one of process, inline"):
        Settings.from_env({"ATP_AUDIT_FOLLOWER": "thread"})


def test_amtp_settings() -> None:
    default = Settings()
    assert (default.amtp_resolvers, default.amtp_unsigned_domains) == ((), ())
    assert (default.amtp_max_attempts, default.gateway_signing_key) == (12, None)
    s = Settings.from_env(
        {
            "ATP_AMTP_RESOLVERS": "10.0.0.53:5353, 10.0.0.54",
            "ATP_AMTP_UNSIGNED_DOMAINS": "Agentry.Test,other.test.",
            "ATP_AMTP_MAX_ATTEMPTS": "3",
            "ATP_GATEWAY_SIGNING_KEY": "A" * 43 + "=",
        }
    )
    assert s.amtp_resolvers == ("10.0.0.53:5353", "10.0.0.54")
    assert s.amtp_unsigned_domains == ("agentry.test", "other.test")
    assert s.amtp_max_attempts == 3 and "A" * 43 not in repr(s)
    for name, value in (("ATP_AMTP_MAX_ATTEMPTS", "0"), ("ATP_AMTP_UNSIGNED_DOMAINS", "a_b")):
        with pytest.raises(ValueError):
            Settings.from_env({name: value})
