"""Request bodies as types, parsed strictly with cattrs.

cattrs coerces by default (``int("60")``, ``str(5)``); the contract does not, so the
converter registers exact-type hooks. Unknown keys are ignored, as the contract
says, but they still count in the idempotency hash (that is computed from the raw
parameters, not from these types). Every failure becomes the route's own error: a
plain exception, because Quart-Trio unwraps exception groups (and cattrs'
``ClassValidationError`` is one) before it looks for an error handler.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

import attrs
import cattrs
from attrs import validators as v

from atp.errors import AtpError

__all__ = [
    "REPLAY_STATUSES",
    "AccountBody",
    "AckBody",
    "AgentBody",
    "LeaseBody",
    "ReplayBody",
    "ReplayFilter",
    "ReplaysBody",
    "SenderPolicyBody",
    "SigningKeyRotationBody",
    "TextRule",
    "WaitBody",
    "WebhookAuthentication",
    "parse_body",
]

T = TypeVar("T")


@attrs.frozen
class TextRule:
    """A string validator that can also say, as JSON Schema, what it accepts (the
    OpenAPI document is built from these classes: ``atp.wire.body_schema``)."""

    reason: str
    accepts: Callable[[str], bool]
    json_schema: dict[str, Any]

    def __call__(self, _: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not self.accepts(value):
            raise ValueError(f"{attribute.name} {self.reason}")


_non_blank = TextRule("is blank", lambda text: bool(text.strip()), {"pattern": r"\S"})
# PostgreSQL's text cannot hold NUL; SQLite's can. Refused on both, so that what one
# store accepts the other can store too (docs/api.md, "NUL characters").
_no_nul = TextRule(
    "holds a NUL character", lambda text: "\x00" not in text, {"pattern": "^[^\\u0000]*$"}
)


@attrs.frozen
class AccountBody:
    """``POST /api/accounts``: a non-blank name. Any ``plan`` is ignored (always free)."""

    name: str = attrs.field(validator=v.and_(_non_blank, v.max_len(255), _no_nul))


@attrs.frozen
class AgentBody:
    """``POST /api/agents``."""

    display_name: str | None = attrs.field(
        default=None, validator=v.optional(v.and_(v.max_len(120), _no_nul))
    )
    description: str | None = attrs.field(
        default=None, validator=v.optional(v.and_(v.max_len(2000), _no_nul))
    )
    # Beyond the reference: its name in the carrier (``name@ATP_DOMAIN``), checked by
    # ``atp.domain.check_name``.
    name: str | None = attrs.field(default=None, validator=v.optional(v.max_len(128)))


@attrs.frozen
class LeaseBody:
    """``POST /api/inbox/claims`` and ``POST /api/deliveries/:id/extend``: 0 is allowed."""

    # The contract sets no upper bound; a lease that would end past the year 9999 is
    # refused where its end is computed (``Message.lease`` and ``Message.extend``).
    lease_seconds: int = attrs.field(default=60, validator=v.ge(0))


@attrs.frozen
class WaitBody:
    """``POST /api/inbox/claims``: how long to hold the claim open for a message (beyond
    the reference; 0, the default, answers at once), and how many to claim."""

    wait_seconds: int = attrs.field(default=0, validator=[v.ge(0), v.le(60)])
    # Beyond the reference too: up to this many messages, answered as a list. The
    # upper bound is a setting (ATP_BATCH_MAX_MESSAGES), checked by the route.
    max: int | None = attrs.field(default=None, validator=v.optional(v.ge(1)))


@attrs.frozen
class SenderPolicyBody:
    """``PUT /api/agents/:id/sender_policies``: one effect, one target (agent xor account)."""

    effect: Literal["allow", "block"]
    sender_agent_id: str | None = attrs.field(default=None, validator=_no_nul)
    sender_account_id: str | None = attrs.field(default=None, validator=_no_nul)

    def __attrs_post_init__(self) -> None:
        targets = [t for t in (self.sender_agent_id, self.sender_account_id) if t and t.strip()]
        if len(targets) != 1:
            raise ValueError("exactly one of sender_agent_id and sender_account_id")


# RFC 9110 token (an auth scheme) and visible ASCII plus space (its credentials).
_SCHEME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CREDENTIALS = re.compile(r"[\x20-\x7e]+")


@attrs.frozen
class WebhookAuthentication:
    """A2A 1.0 ``AuthenticationInfo``: sent as ``Authorization: <scheme> <credentials>``."""

    scheme: str = attrs.field(validator=v.and_(v.max_len(64), v.matches_re(_SCHEME)))
    credentials: str = attrs.field(  # a secret: never in a repr
        repr=False, validator=v.and_(v.max_len(4096), v.matches_re(_CREDENTIALS))
    )

    @property
    def header(self) -> str:
        return f"{self.scheme} {self.credentials}"


@attrs.frozen
class SigningKeyRotationBody:
    """``POST /api/agents/:id/webhook_endpoint/signing_keys``: how long the old key signs on."""

    overlap_seconds: int = attrs.field(default=86400, validator=[v.ge(0), v.le(30 * 86400)])


@attrs.frozen
class AckBody:
    """``POST /api/deliveries/:id/acks``."""

    status: Literal["accepted", "completed", "failed", "rejected"]
    payload: Any = None


def _is_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


_time = TextRule("is not an RFC 3339 time with its offset", _is_time, {"format": "date-time"})
# What a replay's status filter may name: a carrier status or an ACK status.
REPLAY_STATUSES = (
    "queued",
    "delivered",
    "delivery_failed",
    "expired",
    "rejected",
    "accepted",
    "completed",
    "failed",
)
_wire_id = v.optional(v.and_(v.max_len(200), _no_nul, _non_blank))


_statuses: Any = v.deep_iterable(v.in_(REPLAY_STATUSES), v.and_(v.min_len(1), v.max_len(9)))


@attrs.frozen
class ReplayFilter:
    """Which of the recipient's messages a replay takes (all given must match)."""

    since: str | None = attrs.field(default=None, validator=v.optional(_time))
    until: str | None = attrs.field(default=None, validator=v.optional(_time))
    status: list[str] | None = attrs.field(
        default=None,
        validator=v.optional(_statuses),
    )
    sender: str | None = attrs.field(default=None, validator=_wire_id)  # address or agent id
    session: str | None = attrs.field(default=None, validator=_wire_id)


@attrs.frozen
class ReplayBody:
    """``POST /api/messages/:id/replay``."""

    target: Literal["webhook", "inbox"] = "webhook"


@attrs.frozen
class ReplaysBody:
    """``POST /api/replays``."""

    filter: ReplayFilter = attrs.field(factory=ReplayFilter)
    target: Literal["webhook", "inbox"] = "webhook"
    rate_per_second: float = attrs.field(default=10.0, validator=[v.gt(0), v.le(1000)])
    name: str | None = attrs.field(
        default=None, validator=v.optional(v.and_(v.max_len(200), _no_nul))
    )


def _exact(kind: type) -> Any:
    def hook(value: object, _: object) -> object:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


_converter = cattrs.Converter(forbid_extra_keys=False)
for _kind in (str, int, bool):
    _converter.register_structure_hook(_kind, _exact(_kind))
_converter.register_structure_hook(Any, lambda value, _: value)


def _number(value: object, _: object) -> float:
    if type(value) not in (int, float):  # not a bool, not a numeric string
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(cast(float, value))


_converter.register_structure_hook(float, _number)


def parse_body(cls: type[T], params: Mapping[str, Any], error: type[AtpError]) -> T:
    """Structure ``params`` into ``cls`` or raise ``error`` (a plain exception).

    Raises:
        AtpError: ``error``, with cattrs' own description kept as the (log-only) detail.
    """
    fields = {a.name for a in attrs.fields(cast(Any, cls))}
    try:
        return _converter.structure({k: params[k] for k in fields if k in params}, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = (
            "; ".join(cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise error(detail) from None
