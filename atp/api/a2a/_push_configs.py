"""A2A push-notification configs: delivery receipts for the sender of a task.

The sender of a task (and only it, through the tenant it sent to) creates, reads,
lists and deletes the configs of its task; each config is then sent a receipt on
every change of the task's state (``atp.actors.ReceiptCourier``). A config without an
id takes the task's id, as A2A's own server does, so creating it again replaces it.

What a config shows is what was set, but its ``authentication.credentials``: a
secret the carrier sends and never shows again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from atp.actors.commands import EnsureSigningKey
from atp.actors.receipt_commands import DeletePushConfig, SetPushConfig
from atp.api._requests import carrier
from atp.api.a2a._errors import InvalidParams, TaskNotFound
from atp.api.a2a._tasks import Caller, visible_task
from atp.domain import Message, PushConfig, TaskReceipts
from atp.errors import InvalidWebhookAuthentication, InvalidWebhookUrl
from atp.webhooks import check_webhook_url
from atp.wire import TERMINAL_TASK_STATES, WebhookAuthentication, parse_body, task_state

__all__ = [
    "ConfigRequest",
    "config_request",
    "configure",
    "create_config",
    "delete_config",
    "get_config",
    "list_configs",
]

_MAX_ID = 256
_MAX_TOKEN = 4096


@attrs.frozen
class ConfigRequest:
    """A TaskPushNotificationConfig as asked, checked (its id: None for the task's)."""

    config_id: str | None
    url: str
    token: str | None = attrs.field(repr=False)
    scheme: str | None
    credentials: str | None = attrs.field(repr=False)


def config_request(config: Mapping[str, Any]) -> ConfigRequest:
    """Check a TaskPushNotificationConfig before anything is recorded.

    Raises:
        InvalidParams: not a config the carrier takes (URL, id, token, authentication).
    """
    try:
        allow_private = carrier().settings.webhook_allow_private
        url = check_webhook_url(config.get("url"), allow_private=allow_private)
    except InvalidWebhookUrl as error:
        raise InvalidParams(f"url: {error}") from None
    scheme = credentials = None
    if (authentication := config.get("authentication")) is not None:
        if not isinstance(authentication, dict):
            raise InvalidParams("authentication must be an object")
        try:
            parsed = parse_body(WebhookAuthentication, authentication, InvalidWebhookAuthentication)
        except InvalidWebhookAuthentication:
            raise InvalidParams("authentication needs a scheme and its credentials") from None
        scheme, credentials = parsed.scheme, parsed.credentials
    config_id = _text(config.get("id"), "id", _MAX_ID)
    return ConfigRequest(
        config_id, url, _text(config.get("token"), "token", _MAX_TOKEN), scheme, credentials
    )


async def create_config(who: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    """``CreateTaskPushNotificationConfig``: the config as stored."""
    message = await visible_task(who, params.get("taskId"))
    # From the message as read before the set: no change after it is missed.
    ended = task_state(message) in TERMINAL_TASK_STATES
    return await configure(who, message.message_id, config_request(params), message.version, ended)


async def configure(
    who: Caller,
    task_id: str,
    config: ConfigRequest,
    after_version: int,
    task_ended: bool = False,
) -> dict[str, Any]:
    """Set ``config`` on the caller's task: receipts for its state changes after the
    message's ``after_version`` (1: from the send on, as ``SendMessage`` sets its
    ``configuration.taskPushNotificationConfig``); ``task_ended``: it had ended at that
    version, so nothing is owed."""
    rt = carrier()
    config_id = config.config_id or task_id
    # Receipts are signed with the sender's keys: it has one from now on.
    sender = await rt.identities.agent(who.agent_id)
    if sender is None or not sender.live_signing_keys(rt.now()):
        await rt.ask(EnsureSigningKey(who.principal.account_id, who.agent_id))
    await rt.ask(
        SetPushConfig(
            task_id,
            who.agent_id,
            who.principal.account_id,
            who.tenant,
            config_id,
            config.url,
            config.token,
            config.scheme,
            config.credentials,
            after_version,
            task_ended,
        )
    )
    return _document(who, task_id, config_id, config.url, config.token, config.scheme)


async def get_config(who: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    """``GetTaskPushNotificationConfig``.

    Raises:
        TaskNotFound: no such task of the caller's, or no such config of it.
    """
    message = await visible_task(who, params.get("taskId"))
    config_id = params.get("id")
    configs = await _configs(message)
    if not isinstance(config_id, str) or config_id not in configs:
        raise TaskNotFound("no push notification config by that id on this task")
    return _stored(who, message.message_id, config_id, configs[config_id])


async def list_configs(who: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    """``ListTaskPushNotificationConfigs``: all of them (a task has a few), one page."""
    message = await visible_task(who, params.get("taskId"))
    configs = await _configs(message)
    return {
        "configs": [_stored(who, message.message_id, i, c) for i, c in sorted(configs.items())],
        "nextPageToken": "",
    }


async def delete_config(who: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    """``DeleteTaskPushNotificationConfig``: none is sent another receipt (deleting
    one that is not there is no error, as in A2A's own server)."""
    message = await visible_task(who, params.get("taskId"))
    config_id = params.get("id")
    if not isinstance(config_id, str) or not config_id:
        raise InvalidParams("id is required: the config's id")
    await carrier().ask(DeletePushConfig(message.message_id, config_id))
    return {}


async def _configs(message: Message) -> dict[str, PushConfig]:
    receipts = await carrier().aggregate(TaskReceipts, TaskReceipts.create_id(message.message_id))
    return {} if receipts is None else receipts.configs


def _stored(who: Caller, task_id: str, config_id: str, config: PushConfig) -> dict[str, Any]:
    sealed = config["sealed_token"]
    token = None if sealed is None else carrier().unseal(sealed)
    return _document(who, task_id, config_id, config["url"], token, config["scheme"])


def _document(
    who: Caller, task_id: str, config_id: str, url: str, token: str | None, scheme: str | None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "tenant": who.tenant,
        "id": config_id,
        "taskId": task_id,
        "url": url,
    }
    if token is not None:
        document["token"] = token
    if scheme is not None:
        document["authentication"] = {"scheme": scheme}
    return document


def _text(value: object, name: str, most: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > most:
        raise InvalidParams(f"{name} must be a string of at most {most} characters")
    return value
