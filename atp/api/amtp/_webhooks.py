"""Delivery-notification webhooks (``/v1/webhooks``, AMTP §12.1.4).

An agent registers one for the messages it sends (its own key), an account for every
agent's (its key, as ``X-Admin-Key`` or ``Authorization: Bearer``): ``{url, events,
secret?}``, where ``events`` are ``message.delivered`` and ``message.failed`` (both
when absent) and ``secret`` a Standard Webhooks ``whsec_`` secret, made when absent.
Notices are sent by ``atp.actors.AmtpNotifier``.

A registration is idempotent by its ``Idempotency-Key`` header, as the native API's
calls are. AMTP clients send none: then an owner has one live webhook per URL, and
registering it again answers that one (200, its secret included: only its owner
asks) if events and secret are the same, else ``WEBHOOK_EXISTS``.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from atp.actors import Principal, Ticket, webhook_answer
from atp.actors.webhook_commands import RegisterWebhook, RemoveWebhook
from atp.amtp import AmtpError
from atp.api._requests import answer_once, bearer_token, carrier
from atp.api.amtp._edge import AccessDenied, admin_caller, amtp_route, answer, read_json, reader
from atp.domain import NOTICE_EVENTS, AmtpWebhook, derived_id
from atp.errors import Conflict, InvalidWebhookUrl, NotFound
from atp.projections import WebhookRow
from atp.webhooks import check_hmac_secret, check_webhook_url, new_hmac_secret
from atp.wire import iso

__all__ = ["blueprint"]

blueprint = Blueprint("amtp_webhooks", __name__)

_MAX_WEBHOOKS = 20  # live ones per owner (an agent, or an account's own)


class _ValidationFailed(AmtpError):
    status, code, default = 400, "VALIDATION_FAILED", "the webhook registration is not valid"


class _WebhookNotFound(AmtpError):
    status, code, default = 404, "WEBHOOK_NOT_FOUND", "no webhook of that id"


class _TooManyWebhooks(AmtpError):
    status, code, default = 409, "WEBHOOK_LIMIT_REACHED", "too many webhooks"


class _LimitReached(Conflict):
    """The owner has its most webhooks (raised where a replay still wins)."""


class _WebhookExists(AmtpError):
    status, code, default = 409, "WEBHOOK_EXISTS", "a webhook for that URL exists"


async def _owner() -> Principal:
    """An account (``X-Admin-Key``, or its key as a bearer) or an agent (its key)."""
    if request.headers.get("X-Admin-Key") is not None or bearer_token() is None:
        return await admin_caller()
    principal = await reader()
    if principal.kind not in ("account", "agent"):
        raise AccessDenied("this route takes an agent's or an account's key")
    return principal


@blueprint.post("/v1/webhooks")
@amtp_route
async def register() -> Response:
    principal = await _owner()
    body = await read_json()
    if not isinstance(body, dict):
        raise _ValidationFailed("the body is not a JSON object")
    url, events, secret = _registration(body)
    params = {"url": url, "events": list(events), "secret": secret}
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key:
        views = await carrier().views()
        registered = await views.amtp.registrations(principal.account_id, principal.agent_id, url)
        live = [webhook_id for webhook_id, is_live in registered if is_live]
        if live:
            return await _registered_again(live[0], events, secret)
        key = f"{url} {len(registered)}"  # a URL registered again after a removal is new

    async def build(ticket: Ticket) -> RegisterWebhook:
        # Here, not before: a request retried with its key replays its answer first.
        owned = [row for row in await _rows(principal) if row.agent_id == principal.agent_id]
        if len(owned) >= _MAX_WEBHOOKS:
            raise _LimitReached()
        return RegisterWebhook(
            derived_id("whk", f"{principal.id} {key}"),
            principal.account_id,
            principal.agent_id,
            url,
            events,
            secret or new_hmac_secret(),
            ticket,
        )

    try:
        reply = await answer_once(principal, "POST /v1/webhooks", key, params, build)
    except _LimitReached:
        raise _TooManyWebhooks(f"at most {_MAX_WEBHOOKS} webhooks", limit=_MAX_WEBHOOKS) from None
    return answer(reply.body, reply.status)


async def _registered_again(
    webhook_id: str, events: tuple[str, ...], secret: str | None
) -> Response:
    """The owner's live webhook for the URL, if the registration asks for it as it is."""
    rt = carrier()
    webhook = await rt.aggregate(AmtpWebhook, AmtpWebhook.create_id(webhook_id))
    assert webhook is not None, "the view shows only committed webhooks"
    kept = rt.unseal(webhook.sealed_secret)
    if tuple(webhook.events) != events or secret not in (None, kept):
        raise _WebhookExists(webhook_id=webhook_id, hint="delete it first to change it")
    return answer({**webhook_answer(webhook), "secret": kept})


def _registration(body: dict[str, Any]) -> tuple[str, tuple[str, ...], str | None]:
    """The URL, events and secret of a registration, checked."""
    try:
        url = check_webhook_url(
            body.get("url"), allow_private=carrier().settings.webhook_allow_private
        )
    except InvalidWebhookUrl as error:
        raise _ValidationFailed(error.message, field="url") from None
    events = body.get("events", list(NOTICE_EVENTS))
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and e in NOTICE_EVENTS for e in events)
    ):
        raise _ValidationFailed(
            "events must be a non-empty list of " + ", ".join(NOTICE_EVENTS), field="events"
        )
    secret = body.get("secret")
    if secret is not None:
        try:
            if not isinstance(secret, str):
                raise ValueError
            check_hmac_secret(secret)
        except ValueError:
            raise _ValidationFailed(
                "secret must be whsec_ and the base64 of 24 to 64 bytes (or absent: one is made)",
                field="secret",
            ) from None
    return url, tuple(dict.fromkeys(events)), secret


@blueprint.get("/v1/webhooks")
@amtp_route
async def list_webhooks() -> Response:
    rows = await _rows(await _owner())
    webhooks = [row.document() for row in rows]
    return answer({"webhooks": webhooks, "count": len(webhooks), "timestamp": _now()})


@blueprint.get("/v1/webhooks/<webhook_id>")
@amtp_route
async def show(webhook_id: str) -> Response:
    rows = await _rows(await _owner(), webhook_id)
    if not rows:
        raise _WebhookNotFound(webhook_id=webhook_id)
    return answer(rows[0].document())


@blueprint.delete("/v1/webhooks/<webhook_id>")
@amtp_route
async def remove(webhook_id: str) -> Response:
    principal = await _owner()

    async def build(ticket: Ticket) -> RemoveWebhook:
        return RemoveWebhook(webhook_id, principal.account_id, principal.agent_id, ticket)

    try:
        reply = await answer_once(principal, "DELETE /v1/webhooks", webhook_id, {}, build)
    except NotFound:
        raise _WebhookNotFound(webhook_id=webhook_id) from None
    return answer(reply.body, reply.status)


async def _rows(principal: Principal, webhook_id: str | None = None) -> list[WebhookRow]:
    """The caller's live webhooks: an agent's own, or all of an account's."""
    views = await carrier().views()
    return await views.amtp.webhooks(
        principal.account_id, agent_id=principal.agent_id, webhook_id=webhook_id
    )


def _now() -> str:
    return iso(carrier().now()) or ""
