"""The command line's grammar: words and positionals, and options anywhere among them.

The reference CLI's positional grammar (``atp send <to> "<text>" --as <alias>``, also
``atp --as <alias> inbox``) does not fit argparse's sub-commands, whose options must
follow their own command, so it is read here: every ``--option`` is taken out
wherever it stands and what remains are the words. ``--`` ends the options, for a
text that starts with ``--``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from atp.cli._output import CliError, when

__all__ = ["ACK_STATUSES", "Invocation", "parse"]

ACK_STATUSES = ("accepted", "completed", "failed", "rejected")
_VALUED = {
    "--as",
    "--server",
    "--wait",
    "--delay",
    "--lease",
    "--max",
    "--credit",
    "--http",
    "--name",
    "--overlap",
    "--agent",
    "--account",
    "--status",
    "--after",
    "--limit",
    "--auth-scheme",
    "--checkpoint",
    "--key",
    "--type",
    "--message",
    "--session",
    "--out",
    "--since",
    "--until",
    "--file",
    "--from-file",
    "--target",
    "--rate",
    "--sender",
    "--pattern",
}
_FLAGS = {"--json", "--force", "--help", "-h", "--version", "--follow", "--payloads"}


@attrs.frozen
class Invocation:
    """One command line, read."""

    words: tuple[str, ...]  # the command's words, then its positional arguments
    options: dict[str, str] = attrs.field(factory=dict)  # "--as" -> "alpha" (the last given)
    flags: frozenset[str] = frozenset()  # "--json", ...
    ack: tuple[str, str | None] | None = None  # ("completed", "done") for --completed done
    values: dict[str, tuple[str, ...]] = attrs.field(factory=dict)  # every value, in order

    @property
    def json(self) -> bool:
        return "--json" in self.flags

    @property
    def wants_help(self) -> bool:
        return bool({"--help", "-h"} & self.flags) or self.words[:1] == ("help",)

    def every(self, option: str) -> tuple[str, ...]:
        """Each value a repeatable option was given (``--status a --status b``), in order."""
        if option in self.values:
            return self.values[option]
        return (self.options[option],) if option in self.options else ()

    def number(self, option: str, low: float, high: float) -> float | None:
        """The option's value as a number in ``[low, high]``, or None when not given."""
        text = self.options.get(option)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise CliError(f"{option} must be a number from {low:g} to {high:g}")
        return value

    def time(self, option: str) -> str | None:
        """The option's RFC 3339 time (with its offset) in UTC, as the carrier writes
        times, or None when not given."""
        text = self.options.get(option)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise CliError(f"{option} is not an RFC 3339 time: {text!r}") from None
        if moment.tzinfo is None:
            raise CliError(f"{option} needs its offset (Z or +hh:mm): {text!r}")
        return when(moment)

    def whole(self, option: str, low: int, high: int) -> int | None:
        """The option's value as a whole number in ``[low, high]``, or None when not given."""
        text = self.options.get(option)
        if text is None:
            return None
        if not (text.isascii() and text.isdigit() and low <= int(text) <= high):
            raise CliError(f"{option} must be a whole number from {low} to {high}")
        return int(text)


def parse(argv: Sequence[str]) -> Invocation:
    """Read ``argv`` (without the program name)."""
    words: list[str] = []
    options: dict[str, str] = {}
    values: dict[str, tuple[str, ...]] = {}
    flags: set[str] = set()
    ack: tuple[str, str | None] | None = None
    rest = list(argv)
    while rest:
        token = rest.pop(0)
        name, has_value, value = token.partition("=")
        if token == "--":
            words.extend(rest)
            break
        if name in _VALUED:
            if not has_value:
                if not rest:
                    raise CliError(f"{name} needs a value")
                value = rest.pop(0)
            options[name] = value
            values[name] = (*values.get(name, ()), value)
        elif token in _FLAGS:
            flags.add(token)
        elif name.startswith("--") and name[2:] in ACK_STATUSES:
            if ack is not None:
                raise CliError(
                    "give one ACK status: --accepted, --completed, --failed or --rejected"
                )
            if not has_value:  # the text is optional: the next word, unless it is an option
                value = rest.pop(0) if rest and not rest[0].startswith("--") else ""
            ack = (name[2:], value or None)
        elif token.startswith("--"):
            raise CliError(f"unknown option {name}. Run `atp help`.")
        else:
            words.append(token)
    return Invocation(tuple(words), options, frozenset(flags), ack, values)
