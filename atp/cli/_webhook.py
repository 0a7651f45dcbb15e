"""An alias's webhook endpoint: ``webhook set``, ``webhook show``, ``webhook rotate-signing-key``.

Secrets never reach the output. The endpoint's ``whsec_`` secret, new with every
``set``, is stored under the alias in ``credentials.toml`` (mode 0600), where a
receiver on this machine reads it to verify pushes; the CLI shows only its
fingerprint. Signing keys are listed by id and dates, without their ``whpk_`` keys
(receivers fetch those from the API). Credentials for the push's ``Authorization``
header (``--auth-scheme``) are read from standard input, never from the command line.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence

import attrs

from atp.cli._context import Context
from atp.cli._output import CliError, as_json, fingerprint, table, when
from atp.client import SigningKey

__all__ = ["OVERLAP_LIMIT", "webhook_rotate_signing_key", "webhook_set", "webhook_show"]

OVERLAP_LIMIT = 30 * 86400  # seconds, as the carrier allows


def _authentication(ctx: Context) -> tuple[str, str] | None:
    scheme = ctx.invocation.options.get("--auth-scheme")
    if scheme is None:
        return None
    if sys.stdin.isatty():
        credentials = getpass.getpass(f"Credentials for the {scheme} scheme (not echoed): ")
    else:
        credentials = sys.stdin.readline().rstrip("\r\n")
    if not credentials:
        raise CliError("--auth-scheme needs the credentials on standard input")
    return scheme, credentials


def _key_lines(ctx: Context, keys: Sequence[SigningKey]) -> list[str]:
    """The signing keys as a table: id, since when, until when (``-``: no end set)."""
    if not keys:
        return ["Signing keys: none (set an endpoint first)"]
    rows = [(key.id, when(key.created_at), when(key.retires_at)) for key in keys]
    return ["Signing keys:", *table(("Key", "Created", "Retires"), rows, ctx.out.is_terminal)]


def webhook_set(ctx: Context, url: str) -> None:
    """Point pushes for this alias at ``url``; a new endpoint secret is stored."""
    me = ctx.identity()
    authentication = _authentication(ctx)
    with ctx.client() as client:
        endpoint = client.set_webhook_endpoint(
            me.agent_id, url, authentication=authentication, token=me.token
        )
    credentials = ctx.home.credentials()
    key = credentials.agents[me.alias]  # there: `identity()` found it
    entry = attrs.evolve(ctx.alias(me.alias), webhook_url=endpoint.url)
    ctx.home.save(
        attrs.evolve(ctx.config, aliases={**ctx.config.aliases, me.alias: entry}),
        attrs.evolve(
            credentials,
            agents={
                **credentials.agents,
                me.alias: attrs.evolve(key, webhook_secret=endpoint.endpoint_secret),
            },
        ),
    )
    path, secret = ctx.home.credentials_path, fingerprint(endpoint.endpoint_secret)
    lines = [
        "Webhook endpoint set.",
        f"Alias: {me.alias}",
        f"URL: {endpoint.url}",
        f"Active: {'yes' if endpoint.active else 'no'}",
        f"Endpoint secret: stored in {path} (not printed; {secret})",
    ]
    if authentication is not None:
        lines.append("Push credentials: sent with every push (not printed)")
    ctx.out.report(
        [*lines, "", *_key_lines(ctx, endpoint.signing_keys)],
        {
            **as_json(endpoint),
            "alias": me.alias,
            "credentials": str(path),
            "secret_fingerprint": secret,
        },
    )


def webhook_show(ctx: Context) -> None:
    """The endpoint as set from here, and the keys that sign its pushes now."""
    me = ctx.identity()
    with ctx.client() as client:
        keys = client.signing_keys(me.agent_id, token=me.token)
    url = ctx.alias(me.alias).webhook_url
    stored = ctx.home.credentials().agents[me.alias].webhook_secret
    secret = None if stored is None else fingerprint(stored)
    path = ctx.home.credentials_path
    ctx.out.report(
        [
            f"Alias: {me.alias}",
            f"URL: {url or 'none set from here'}",
            f"Endpoint secret: stored in {path} ({secret})"
            if secret
            else "Endpoint secret: none stored",
            "",
            *_key_lines(ctx, keys.signing_keys),
        ],
        {**as_json(keys), "alias": me.alias, "url": url, "secret_fingerprint": secret},
    )


def webhook_rotate_signing_key(ctx: Context) -> None:
    """Add a signing key; the old one signs on for ``--overlap`` seconds (default 1 day)."""
    me = ctx.identity()
    overlap = ctx.invocation.whole("--overlap", 0, OVERLAP_LIMIT)
    with ctx.client() as client:
        keys = client.rotate_signing_key(me.agent_id, overlap, token=me.token)
    ctx.out.report(
        ["Signing key rotated.", f"Alias: {me.alias}", "", *_key_lines(ctx, keys.signing_keys)],
        {**as_json(keys), "alias": me.alias},
    )
