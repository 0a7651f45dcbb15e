"""The A2A requests' parameters, read alike from a JSON-RPC ``params`` object and from
an HTTP+JSON body or query string (where every value arrives as text)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from atp.api.a2a._errors import InvalidParams

__all__ = [
    "ListRequest",
    "SendRequest",
    "history_length",
    "list_request",
    "send_request",
    "task_id",
]

_STATE_NAMES = "SUBMITTED WORKING COMPLETED FAILED CANCELED REJECTED INPUT_REQUIRED AUTH_REQUIRED"
_TASK_STATES = frozenset(f"TASK_STATE_{name}" for name in _STATE_NAMES.split())
_MAX_PAGE = 100
_MAX_INT = 2**31 - 1


@attrs.frozen
class SendRequest:
    message: dict[str, Any]
    return_immediately: bool
    history_length: int | None
    push_config: dict[str, Any] | None  # configuration.taskPushNotificationConfig


@attrs.frozen
class ListRequest:
    context_id: str | None
    task_state: str | None
    page_size: int
    before: tuple[str, int] | None  # the page token: where the last page ended
    history_length: int | None
    status_after: datetime | None
    include_artifacts: bool


def send_request(params: Mapping[str, Any]) -> SendRequest:
    message = params.get("message")
    if not isinstance(message, dict):
        raise InvalidParams("message is required: an A2A Message object")
    configuration = params.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise InvalidParams("configuration must be an object")
    push_config = configuration.get("taskPushNotificationConfig") or None
    if push_config is not None and not isinstance(push_config, dict):
        raise InvalidParams("configuration.taskPushNotificationConfig must be an object")
    return SendRequest(
        message,
        _flag(configuration.get("returnImmediately"), "configuration.returnImmediately"),
        history_length(configuration.get("historyLength")),
        push_config,
    )


def task_id(params: Mapping[str, Any], name: str = "id") -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidParams(f"{name} is required: a task id")
    return value


def history_length(value: object) -> int | None:
    """None (all of the history) or a count of the latest messages (0: none)."""
    if value is None:
        return None
    return _whole(value, "historyLength", 0, _MAX_INT)


def list_request(params: Mapping[str, Any]) -> ListRequest:
    context = params.get("contextId") or None
    if context is not None and not isinstance(context, str):
        raise InvalidParams("contextId must be a string")
    state = params.get("status") or None
    if state is not None and state not in _TASK_STATES:
        raise InvalidParams("status must be a TASK_STATE_* name")
    size = params.get("pageSize")
    token = params.get("pageToken") or None
    return ListRequest(
        context,
        state,
        50 if size is None else _whole(size, "pageSize", 1, _MAX_PAGE),
        None if token is None else _page_token(token),
        history_length(params.get("historyLength")),
        _timestamp(params.get("statusTimestampAfter")),
        _flag(params.get("includeArtifacts"), "includeArtifacts"),
    )


def _page_token(value: object) -> tuple[str, int]:
    """A ``nextPageToken``: ``<position>@<status time>`` of the last task of a page."""
    position, _, moment = value.partition("@") if isinstance(value, str) else ("", "", "")
    try:
        datetime.fromisoformat(moment.replace("Z", "+00:00"))
        return moment, _whole(position, "pageToken", 1, 2**63 - 1)
    except (InvalidParams, ValueError):
        raise InvalidParams("pageToken must be a nextPageToken of this list") from None


def _whole(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if type(value) is not int or not low <= value <= high:
        raise InvalidParams(f"{name} must be a whole number from {low} to {high}")
    return value


def _flag(value: object, name: str) -> bool:
    if value is None or value in (False, "false"):
        return False
    if value in (True, "true"):
        return True
    raise InvalidParams(f"{name} must be true or false")


def _timestamp(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        assert isinstance(value, str)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AssertionError, ValueError):
        raise InvalidParams("statusTimestampAfter must be an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise InvalidParams("statusTimestampAfter must name its time zone")
    return moment
