"""``Call``: one API request as data (method, path, body, key, token) and how to read its
answer; the helpers that make the two kinds, a mutation with its idempotency key and a
read with its query."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs

__all__ = ["Call", "given", "mutation", "read"]

T = TypeVar("T")


@attrs.frozen
class Call(Generic[T]):
    """One request and how to read its answer.

    ``answers`` are error statuses that are an answer here, not an error (``/ready``'s
    503). The body stays out of ``repr``: it may hold a webhook's credentials.
    """

    method: str
    path: str
    read: Callable[[Any], T]
    json: Any = attrs.field(default=None, repr=False)
    params: dict[str, Any] | None = None
    idempotency_key: str | None = None  # set for every mutating call but signup
    token: str | None = attrs.field(default=None, repr=False)
    answers: frozenset[int] = frozenset()


def _key() -> str:
    return str(uuid.uuid4())


def mutation(
    method: str,
    path: str,
    token: str,
    body: Any,
    read: Callable[[Any], T],
    idempotency_key: str | None = None,
) -> Call[T]:
    """A mutating call, with the caller's idempotency key or a new one."""
    key = idempotency_key or _key()
    return Call(method, path, read, json=body, idempotency_key=key, token=token)


def read(path: str, token: str, read: Callable[[Any], T], **params: Any) -> Call[T]:
    given = {name: value for name, value in params.items() if value is not None}
    return Call("GET", path, read, params=given or None, token=token)


def given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}
