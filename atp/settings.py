"""Settings: every knob of the carrier, typed, with units, read from the environment once.

``os.environ`` is read here and nowhere else. Unknown ``ATP_*`` variables are rejected
so that a typo (``ATP_PROT=5000``) fails at start instead of being silently ignored.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from atp import _env_values as _env

__all__ = [
    "AUDIT_FOLLOWERS",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "SECONDS",
    "CliSettings",
    "Settings",
    "load_or_create_secret_key",
]

SECONDS = 1.0
_MINUTES = 60 * SECONDS
_HOURS = 60 * _MINUTES
_DAYS = 24 * _HOURS
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
AUDIT_FOLLOWERS = ("process", "inline")


@attrs.frozen
class Settings:
    """The carrier's configuration. Build it with :meth:`from_env` or directly in tests."""

    port: int = 4000
    bind: str = "127.0.0.1"
    data_dir: Path = Path("var")
    # Both can hold credentials: never in a repr, a log line or an error.
    database_url: str | None = attrs.field(default=None, repr=False)
    secret_key: str | None = attrs.field(default=None, repr=False)

    # Contract defaults (wire-contract §1.5, §1.9, §1.16, §5.4, §7); configurable for operators.
    message_ttl: float = 7 * _DAYS
    agents_per_account: Mapping[str, int] = attrs.field(factory=lambda: {"free": 2, "basic": 10})
    webhook_max_attempts: Mapping[str, int] = attrs.field(factory=lambda: {"free": 3, "basic": 8})
    unknown_sender_limit: int = 20
    unknown_sender_window: float = 1 * _HOURS
    max_body_bytes: int = 128_000
    # Items in one batch (sends, ACKs, claims with "max"), and the body of a batch route.
    batch_max_messages: int = attrs.field(default=500, validator=attrs.validators.ge(1))
    batch_max_bytes: int = attrs.field(default=2_000_000, validator=attrs.validators.ge(1))

    # Webhook push (contract §5.4). The attempt lease outlives the longest attempt, so
    # an attempt always finishes (or dies with the process) before anyone may retake it.
    webhook_timeout: float = 10 * SECONDS  # connect, and each read of the response
    webhook_retry_delays: tuple[float, ...] = (0, 30, 120, 300, 900, 3600, 21600, 86400)
    webhook_concurrency: int = 128  # attempts in flight, whole process
    webhook_concurrency_per_agent: int = 8  # so one slow receiver cannot take every slot
    # Development only: lets webhooks reach loopback and private addresses (SSRF!).
    webhook_allow_private: bool = False

    # HTTP connections (atp/http). A body must arrive within ``body_timeout`` of the
    # moment the server waits for it; an idle keep-alive connection closes after
    # ``keep_alive_timeout`` (so do request headers that take that long). None derives
    # the connection cap from the open-files limit (atp/http/_limits.py).
    body_timeout: float = attrs.field(default=10 * SECONDS, validator=attrs.validators.gt(0))
    keep_alive_timeout: float = attrs.field(default=5 * SECONDS, validator=attrs.validators.gt(0))
    max_connections: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )

    # The carrier's domain: an agent with a name is ``name@domain`` (AMTP's addresses).
    domain: str = "localhost"
    # A2A (atp/api/a2a). Agent cards name the carrier by ``public_url`` (None: the
    # scheme and host each request came in on); a blocking SendMessage waits at most
    # ``a2a_blocking_wait`` for the task to end, then answers it as it stands.
    public_url: str | None = None
    # An agent seen within this window (a claim, a stream, an ACK, a push it answered)
    # is reachable (atp.actors, Liveness).
    reachable_window: float = attrs.field(default=300 * SECONDS, validator=attrs.validators.gt(0))
    a2a_blocking_wait: float = attrs.field(default=30 * SECONDS, validator=attrs.validators.ge(0))
    # AMTP federation (atp.federation). Other domains' gateways are found in DNS
    # (``amtp_resolvers``: "host[:port]" nameservers; none: the system's); requests to
    # them are signed with the gateway key (base64 of an Ed25519 seed; None: derived
    # from the secret key) and a relay is tried ``amtp_max_attempts`` times. Unsigned
    # requests are taken only from the senders' domains in ``amtp_unsigned_domains``.
    amtp_resolvers: tuple[str, ...] = ()
    gateway_signing_key: str | None = attrs.field(default=None, repr=False)
    amtp_max_attempts: int = attrs.field(default=12, validator=attrs.validators.ge(1))
    amtp_unsigned_domains: tuple[str, ...] = ()

    # Runtime.
    actor_idle_timeout: float = 30 * SECONDS
    sweep_interval: float = 1 * _MINUTES
    shutdown_grace: float = 3 * SECONDS
    # The longest a store call waits for a database connection (and a connection
    # attempt takes) before it fails and the request is answered 503: an outage must
    # not hold requests, or a start, for long.
    store_timeout: float = 3 * SECONDS
    db_threads: int = 8
    # Open messages a mailbox keeps in memory, oldest first; the rest page in from the
    # inbox view as these are handed out, so a backlog costs disk, not memory.
    mailbox_window: int = attrs.field(default=512, validator=attrs.validators.ge(1))

    # Observability. The log format None is text on a terminal, JSON otherwise.
    log_level: str = attrs.field(default="info", validator=attrs.validators.in_(LOG_LEVELS))
    log_format: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(LOG_FORMATS))
    )
    # When set, GET /metrics needs it as a bearer token (a credential: never shown).
    metrics_token: str | None = attrs.field(default=None, repr=False)

    # The audit log (atp.audit). The origin names the log in its checkpoints (None: the
    # stored checkpoints' origin, else "<host name>/atp"); the signing key is the
    # base64 of an Ed25519 seed (32 bytes), required with PostgreSQL, else made in the
    # data dir. A checkpoint is signed at least every ``audit_checkpoint_interval``
    # while events arrive, and at least every ``audit_checkpoint_leaves`` leaves.
    audit_origin: str | None = None
    audit_signing_key: str | None = attrs.field(default=None, repr=False)
    audit_checkpoint_interval: float = attrs.field(
        default=10 * SECONDS, validator=attrs.validators.gt(0)
    )
    audit_checkpoint_leaves: int = attrs.field(default=1000, validator=attrs.validators.ge(1))
    # Where the audit follower runs: "process", its own (python -m atp.audit), on a
    # core the server leaves idle; "inline", in the server's process (one core, tests).
    audit_follower: str = attrs.field(
        default="process", validator=attrs.validators.in_(AUDIT_FOLLOWERS)
    )

    @property
    def webhook_attempt_deadline(self) -> float:
        """The most one attempt may take, however slowly a receiver trickles bytes."""
        return 3 * self.webhook_timeout

    @property
    def webhook_lease(self) -> float:
        """How long a webhook attempt holds its delivery (60 s by default, as the contract)."""
        return 2 * self.webhook_attempt_deadline

    @property
    def sweep_horizon(self) -> float:
        """How far ahead a sweep wakes stopped actors (two sweeps): so an idle actor whose
        next deadline is nearer than this must keep running, or nobody would wake it."""
        return 2 * self.sweep_interval

    @property
    def store(self) -> str:
        """``"postgresql"`` when a database URL is set, else the embedded ``"sqlite"``."""
        return "postgresql" if self.database_url else "sqlite"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``ATP_*`` variables; reject unknown ones.

        Raises:
            ValueError: an unknown ``ATP_*`` variable, or a value that does not parse.
        """
        env = _checked(os.environ if environ is None else environ)
        kwargs: dict[str, object] = {}
        if "ATP_PORT" in env:
            kwargs["port"] = int(env["ATP_PORT"])
        if "ATP_BIND" in env:
            kwargs["bind"] = env["ATP_BIND"]
        if "ATP_DATA_DIR" in env:
            kwargs["data_dir"] = Path(env["ATP_DATA_DIR"])
        if env.get("ATP_DATABASE_URL"):
            kwargs["database_url"] = env["ATP_DATABASE_URL"]
        if env.get("ATP_SECRET_KEY"):
            kwargs["secret_key"] = env["ATP_SECRET_KEY"]
        if "ATP_AGENTS_PER_ACCOUNT" in env:
            kwargs["agents_per_account"] = _env.plan_table(env["ATP_AGENTS_PER_ACCOUNT"])
        if "ATP_WEBHOOK_MAX_ATTEMPTS" in env:
            kwargs["webhook_max_attempts"] = _env.plan_table(env["ATP_WEBHOOK_MAX_ATTEMPTS"])
        if "ATP_UNKNOWN_SENDER_LIMIT" in env:
            kwargs["unknown_sender_limit"] = int(env["ATP_UNKNOWN_SENDER_LIMIT"])
        if "ATP_BATCH_MAX_MESSAGES" in env:
            kwargs["batch_max_messages"] = int(_env.positive(env["ATP_BATCH_MAX_MESSAGES"]))
        if "ATP_BATCH_MAX_BYTES" in env:
            kwargs["batch_max_bytes"] = int(_env.positive(env["ATP_BATCH_MAX_BYTES"]))
        if env.get("ATP_DOMAIN"):
            kwargs["domain"] = _env.domain(env["ATP_DOMAIN"])
        if env.get("ATP_PUBLIC_URL"):
            kwargs["public_url"] = _env.public_url(env["ATP_PUBLIC_URL"])
        if env.get("ATP_AMTP_RESOLVERS"):
            kwargs["amtp_resolvers"] = _env.names(env["ATP_AMTP_RESOLVERS"])
        if env.get("ATP_GATEWAY_SIGNING_KEY"):
            kwargs["gateway_signing_key"] = env["ATP_GATEWAY_SIGNING_KEY"]
        if "ATP_AMTP_MAX_ATTEMPTS" in env:
            kwargs["amtp_max_attempts"] = int(_env.positive(env["ATP_AMTP_MAX_ATTEMPTS"]))
        if env.get("ATP_AMTP_UNSIGNED_DOMAINS"):
            domains = _env.names(env["ATP_AMTP_UNSIGNED_DOMAINS"])
            kwargs["amtp_unsigned_domains"] = tuple(_env.domain(d) for d in domains)
        if "ATP_REACHABLE_WINDOW" in env:
            kwargs["reachable_window"] = _env.positive(env["ATP_REACHABLE_WINDOW"])
        if "ATP_A2A_BLOCKING_WAIT" in env:
            kwargs["a2a_blocking_wait"] = float(env["ATP_A2A_BLOCKING_WAIT"])
        if "ATP_WEBHOOK_TIMEOUT" in env:
            kwargs["webhook_timeout"] = _env.positive(env["ATP_WEBHOOK_TIMEOUT"])
        if "ATP_WEBHOOK_RETRY_DELAYS" in env:
            delays = tuple(float(d) for d in env["ATP_WEBHOOK_RETRY_DELAYS"].split(","))
            if any(d < 0 for d in delays):
                raise ValueError("ATP_WEBHOOK_RETRY_DELAYS must not be negative")
            kwargs["webhook_retry_delays"] = delays
        if "ATP_WEBHOOK_CONCURRENCY" in env:
            kwargs["webhook_concurrency"] = int(_env.positive(env["ATP_WEBHOOK_CONCURRENCY"]))
        if "ATP_STORE_TIMEOUT" in env:
            kwargs["store_timeout"] = _env.positive(env["ATP_STORE_TIMEOUT"])
        if "ATP_WEBHOOK_ALLOW_PRIVATE" in env:
            kwargs["webhook_allow_private"] = _env.flag(env["ATP_WEBHOOK_ALLOW_PRIVATE"])
        if "ATP_LOG_LEVEL" in env:
            kwargs["log_level"] = _env.choice("ATP_LOG_LEVEL", env["ATP_LOG_LEVEL"], LOG_LEVELS)
        if "ATP_LOG_FORMAT" in env:
            kwargs["log_format"] = _env.choice("ATP_LOG_FORMAT", env["ATP_LOG_FORMAT"], LOG_FORMATS)
        if env.get("ATP_METRICS_TOKEN"):
            kwargs["metrics_token"] = env["ATP_METRICS_TOKEN"]
        if "ATP_BODY_TIMEOUT" in env:
            kwargs["body_timeout"] = _env.positive(env["ATP_BODY_TIMEOUT"])
        if "ATP_KEEP_ALIVE_TIMEOUT" in env:
            kwargs["keep_alive_timeout"] = _env.positive(env["ATP_KEEP_ALIVE_TIMEOUT"])
        if "ATP_MAX_CONNECTIONS" in env:
            kwargs["max_connections"] = int(_env.positive(env["ATP_MAX_CONNECTIONS"]))
        if env.get("ATP_AUDIT_ORIGIN"):
            kwargs["audit_origin"] = env["ATP_AUDIT_ORIGIN"]
        if env.get("ATP_AUDIT_SIGNING_KEY"):
            kwargs["audit_signing_key"] = env["ATP_AUDIT_SIGNING_KEY"]
        if "ATP_AUDIT_CHECKPOINT_INTERVAL" in env:
            kwargs["audit_checkpoint_interval"] = _env.positive(
                env["ATP_AUDIT_CHECKPOINT_INTERVAL"]
            )
        if "ATP_AUDIT_FOLLOWER" in env:
            kwargs["audit_follower"] = _env.choice(
                "ATP_AUDIT_FOLLOWER", env["ATP_AUDIT_FOLLOWER"], AUDIT_FOLLOWERS
            )
        return cls(**kwargs)  # type: ignore[arg-type]

    def with_secret_key(self) -> Settings:
        """Return settings whose secret key is set, creating one for the embedded store.

        PostgreSQL deployments must set ``ATP_SECRET_KEY`` (several hosts share one
        ledger, so a key generated on one disk would not be shared).

        Raises:
            ValueError: PostgreSQL without ``ATP_SECRET_KEY``.
        """
        return self._with_key("secret_key", "a long random string")

    def with_audit_signing_key(self) -> Settings:
        """Return settings whose audit signing key is set (as :meth:`with_secret_key`).

        Raises:
            ValueError: PostgreSQL without ``ATP_AUDIT_SIGNING_KEY``.
        """
        return self._with_key("audit_signing_key", "the base64 of 32 random bytes")

    def _with_key(self, field: Literal["secret_key", "audit_signing_key"], what: str) -> Settings:
        if getattr(self, field):
            return self
        if self.store == "postgresql":
            raise ValueError(
                f"ATP_{field.upper()} is required with ATP_DATABASE_URL: set it to {what}"
                " (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'),"
                " the same on every start and host"
            )
        made: dict[str, Any] = {field: load_or_create_secret_key(self.data_dir, field)}
        return attrs.evolve(self, **made)


@attrs.frozen
class CliSettings:
    """The ``atp`` client commands' few knobs (the server's are in :class:`Settings`)."""

    home: Path = attrs.field(factory=lambda: Path("~/.atp").expanduser())  # ATP_HOME
    color: bool = True  # off with NO_COLOR (https://no-color.org) or ATP_DEMO_NO_COLOR
    demo_delay: float = 0.65 * SECONDS  # ATP_DEMO_DELAY_MS: the demo's pause between steps

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CliSettings:
        """Read ``ATP_HOME``, ``ATP_DEMO_DELAY_MS``, ``NO_COLOR`` and ``ATP_DEMO_NO_COLOR``.

        Raises:
            ValueError: an unknown ``ATP_*`` variable, or a value that does not parse.
        """
        env = _checked(os.environ if environ is None else environ)
        kwargs: dict[str, object] = {}
        if env.get("ATP_HOME"):
            kwargs["home"] = Path(env["ATP_HOME"]).expanduser()
        if env.get("NO_COLOR") or env.get("ATP_DEMO_NO_COLOR"):
            kwargs["color"] = False
        if "ATP_DEMO_DELAY_MS" in env:
            delay = float(env["ATP_DEMO_DELAY_MS"])
            if delay < 0:
                raise ValueError("ATP_DEMO_DELAY_MS must not be negative")
            kwargs["demo_delay"] = delay / 1000
        return cls(**kwargs)  # type: ignore[arg-type]


_KNOWN = frozenset(
    {
        "ATP_PORT",
        "ATP_BIND",
        "ATP_DATA_DIR",
        "ATP_DATABASE_URL",
        "ATP_SECRET_KEY",
        "ATP_WEBHOOK_ALLOW_PRIVATE",
        "ATP_HOME",
        "ATP_TEST_DATABASE_URL",
        "ATP_REQUIRE_POSTGRES",
        "ATP_BASE_URL",
        "ATP_PUBLIC_URL",
        "ATP_DOMAIN",
        "ATP_AMTP_RESOLVERS",
        "ATP_GATEWAY_SIGNING_KEY",
        "ATP_AMTP_MAX_ATTEMPTS",
        "ATP_AMTP_UNSIGNED_DOMAINS",
        "ATP_A2A_BLOCKING_WAIT",
        "ATP_REACHABLE_WINDOW",
        "ATP_AGENTS_PER_ACCOUNT",
        "ATP_WEBHOOK_MAX_ATTEMPTS",
        "ATP_UNKNOWN_SENDER_LIMIT",
        "ATP_WEBHOOK_TIMEOUT",
        "ATP_WEBHOOK_RETRY_DELAYS",
        "ATP_WEBHOOK_CONCURRENCY",
        "ATP_DEMO_DELAY_MS",
        "ATP_DEMO_NO_COLOR",
        "ATP_LOG_LEVEL",
        "ATP_LOG_FORMAT",
        "ATP_METRICS_TOKEN",
        "ATP_STORE_TIMEOUT",
        "ATP_BODY_TIMEOUT",
        "ATP_KEEP_ALIVE_TIMEOUT",
        "ATP_MAX_CONNECTIONS",
        "ATP_AUDIT_ORIGIN",
        "ATP_AUDIT_SIGNING_KEY",
        "ATP_AUDIT_CHECKPOINT_INTERVAL",
        "ATP_AUDIT_FOLLOWER",
    }
)


def _checked(env: Mapping[str, str]) -> Mapping[str, str]:
    """``env``, if it names no unknown ``ATP_*`` variable (a typo must not pass silently)."""
    unknown = sorted(k for k in env if k.startswith("ATP_") and k not in _KNOWN)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
    return env


def load_or_create_secret_key(data_dir: Path, name: str = "secret_key") -> str:
    """A key of the embedded default (the secret key, the audit signing key): created
    once (0600) under ``data_dir`` as ``name``."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    # O_EXCL: two processes starting at once must not end up with two keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
