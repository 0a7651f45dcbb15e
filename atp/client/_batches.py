"""What the batch routes answer: one result per item, in the order sent."""

from __future__ import annotations

from typing import Any

import attrs

from atp.client._results import Answer, MessageStatus
from atp.errors import AtpError, error_for_code

__all__ = ["BatchResult"]


@attrs.frozen
class BatchResult(Answer):
    """One item of a batch: its message's status (a send's, or the one in an ACK's
    answer, with the ACK), or the contract's error for that item, which is not raised
    (the other items went on)."""

    status: int
    message_status: MessageStatus | None
    error: AtpError | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> BatchResult:
        body = data["body"]
        if "ack" in body:
            return cls(data["status"], MessageStatus.of_ack(body), None, document=data)
        if "error" not in body:
            return cls(data["status"], MessageStatus.of(body), None, document=data)
        error = body["error"]
        text = f"server returned {data['status']} {error['code']}: {error['message']}"
        return cls(data["status"], None, error_for_code(error["code"])(text), document=data)

    @classmethod
    def all_of(cls, data: dict[str, Any]) -> tuple[BatchResult, ...]:
        return tuple(cls.of(result) for result in data["results"])
