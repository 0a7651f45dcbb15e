"""AMTP coordination (§7): what a ``coordination`` block asks for, and its conditions.

``parallel`` sends the message to its required and optional participants at once and
completes when every required one answered; ``sequential`` sends it to each of its
``sequence`` in turn, the next step carrying the previous step's response;
``conditional`` sends it to its recipients and, on the first answer, to the ``then``
or ``else`` participants of each condition. A condition is ``<field> <op> <value>``
over the answer's payload (``status == "approved"``, ``amount > 100``, a dotted path
for nested fields), or AMTP's own example form ``<address> responds with
<field>=<value>``; a value is JSON (``"x"``, ``3``, ``true``) or a bare word (a
string). Nothing else is a condition: the spec leaves the language open, and a
condition that cannot be read is refused when the message is sent, not guessed at.

Pure: parsing and evaluating only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from atp.amtp._errors import AmtpError
from atp.amtp._message import canonical_address, parse_address

__all__ = ["Condition", "Coordination", "InvalidCoordination", "parse_coordination"]

_Kind = Literal["parallel", "sequential", "conditional"]
_KINDS = ("parallel", "sequential", "conditional")
_MAX_TIMEOUT = 30 * 24 * 3600  # a month
_COMPARISON = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*")
_RESPONDS = re.compile(r"\s*(\S+@\S+)\s+responds\s+with\s+([A-Za-z_][\w.]*)\s*=\s*(.+?)\s*")


class InvalidCoordination(AmtpError):
    status, code, default = 400, "COORDINATION_FAILED", "the coordination block is not valid"


@attrs.frozen
class Condition:
    """One ``if`` of a conditional workflow, and who follows it either way."""

    field: str
    op: str
    value: Any
    then: tuple[str, ...]
    otherwise: tuple[str, ...]
    responder: str | None = None  # "<address> responds with …": only that one's answer

    def holds(self, responder: str, payload: Any) -> bool:
        """Whether the answer ``payload`` from ``responder`` meets the condition."""
        if self.responder is not None and self.responder != canonical_address(responder):
            return False
        found = _field(payload, self.field)
        if found is _MISSING:
            return self.op == "!="
        try:
            return bool(_OPS[self.op](found, self.value))
        except TypeError:  # comparing a number with a string: not met
            return False


@attrs.frozen
class Coordination:
    kind: _Kind
    timeout: int  # seconds
    participants: tuple[str, ...]  # everyone the workflow may send the message to
    first: tuple[str, ...]  # those it goes to at once
    required: tuple[str, ...]  # parallel: whose answers complete it
    stop_on_failure: bool
    conditions: tuple[Condition, ...]


def parse_coordination(block: object, recipients: tuple[str, ...]) -> Coordination:
    """A ``coordination`` block of a message to ``recipients`` (canonical addresses).

    Raises:
        InvalidCoordination: with the reason.
    """
    if not isinstance(block, Mapping):
        raise InvalidCoordination("coordination must be an object")
    kind = block.get("type")
    if kind not in _KINDS:
        raise InvalidCoordination("coordination.type must be parallel, sequential or conditional")
    timeout = block.get("timeout")
    if type(timeout) is not int or not 0 < timeout <= _MAX_TIMEOUT:
        raise InvalidCoordination(f"coordination.timeout: seconds, 1 to {_MAX_TIMEOUT}")
    stop = block.get("stop_on_failure", False)
    if not isinstance(stop, bool):
        raise InvalidCoordination("coordination.stop_on_failure must be true or false")
    if kind == "parallel":
        required = _addresses(block.get("required_responses", []), "required_responses")
        optional = _addresses(block.get("optional_responses", []), "optional_responses")
        everyone = _unique((*required, *optional)) or recipients
        return Coordination(kind, timeout, everyone, everyone, required or everyone, stop, ())
    if kind == "sequential":
        sequence = _addresses(block.get("sequence"), "sequence")
        if not sequence:
            raise InvalidCoordination("coordination.sequence must name the participants")
        return Coordination(kind, timeout, sequence, sequence[:1], sequence, stop, ())
    conditions = _conditions(block.get("conditions"))
    branches = [a for c in conditions for a in (*c.then, *c.otherwise)]
    everyone = _unique((*recipients, *branches))
    return Coordination(kind, timeout, everyone, recipients, (), stop, conditions)


def _conditions(value: object) -> tuple[Condition, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidCoordination("coordination.conditions must be a non-empty list")
    found = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("if"), str):
            raise InvalidCoordination("each condition needs an if and a then")
        then = _addresses(item.get("then"), "then")
        if not then:
            raise InvalidCoordination("each condition needs an if and a then")
        otherwise = _addresses(item.get("else", []), "else")
        text = item["if"]
        responds = _RESPONDS.fullmatch(text)
        if responds is not None:
            responder = parse_address(responds[1])
            if responder is None:
                raise InvalidCoordination(f"not an address in condition: {text!r}")
            value_ = _literal(responds[3])
            found.append(Condition(responds[2], "==", value_, then, otherwise, responder.canonical))
            continue
        comparison = _COMPARISON.fullmatch(text)
        if comparison is None:
            raise InvalidCoordination(
                f"a condition is '<field> <op> <value>' or '<address> responds with"
                f" <field>=<value>', not {text!r}"
            )
        found.append(
            Condition(comparison[1], comparison[2], _literal(comparison[3]), then, otherwise)
        )
    return tuple(found)


def _addresses(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidCoordination(f"coordination.{name} must be a list of addresses")
    found = []
    for item in value:
        address = parse_address(item)
        if address is None:
            raise InvalidCoordination(f"coordination.{name}: not an address: {str(item)[:100]!r}")
        found.append(address.canonical)
    return _unique(found)


def _unique(addresses: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addresses))


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip("'")


_MISSING = object()


def _field(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}
