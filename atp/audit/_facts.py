"""Facts an audit record may keep of what could carry a secret: a webhook URL's host and
hash (user info or a query token may be in it), an error's class only."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from atp.wire import SAFE_ERRORS

__all__ = ["safe_error", "url_facts"]


def url_facts(url: str) -> dict[str, Any]:
    """A webhook URL may carry credentials (user info, a query token): its host and hash."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return {"url_host": host, "url_sha256": hashlib.sha256(url.encode()).hexdigest()}


def safe_error(error: str | None) -> str | None:
    """An error as the status document shows it: a named class, else "internal_error"."""
    return error if error is None or error in SAFE_ERRORS else "internal_error"
