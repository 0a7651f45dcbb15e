"""The values of ``ATP_*`` variables: each read, checked, and refused with a message
that names what was expected (``atp.settings`` reads the environment)."""

from __future__ import annotations

import re

__all__ = ["choice", "domain", "flag", "names", "plan_table", "positive", "public_url"]


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"expected a positive number, got {text!r}")
    return value


def public_url(text: str) -> str:
    """An http(s) base URL without a trailing slash (agent cards append paths to it)."""
    value = text.strip().rstrip("/")
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or any(c in rest for c in "?#"):
        raise ValueError(f"ATP_PUBLIC_URL must be an http(s) URL without query; got {text!r}")
    return value


def names(text: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def domain(text: str) -> str:
    value = text.strip().lower().rstrip(".")
    label = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    if len(value) > 253 or not re.fullmatch(rf"{label}(?:\.{label})*", value):
        raise ValueError(f"ATP_DOMAIN must be a DNS name such as example.com; got {text!r}")
    return value


def choice(name: str, text: str, choices: tuple[str, ...]) -> str:
    value = text.strip().lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {text!r}")
    return value


def flag(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {text!r}")
    return text == "1"


def plan_table(text: str) -> dict[str, int]:
    """Parse ``free=2,basic=10`` into ``{"free": 2, "basic": 10}``."""
    table = {}
    for item in text.split(","):
        plan, sep, value = item.partition("=")
        if not sep or not plan.strip():
            raise ValueError(f"expected plan=number pairs, got {text!r}")
        table[plan.strip()] = int(value)
    return table
