"""The official A2A client (a2a-sdk), unmodified, against a real carrier on a real port.

It resolves the agent's card from the URL the agent API names, sends with the SDK's
own types over each binding, and sees the task go SUBMITTED, WORKING, COMPLETED as the
recipient claims and ACKs through ATP's API. The SDK's client is written for asyncio
but only needs httpx, which runs on Trio, so it runs here in the test's own loop.
Everything the carrier answers is parsed strictly with the SDK's protobuf types.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx
import pytest
import trio
from a2a.client import A2ACardResolver, ClientCallContext, ClientConfig, ClientFactory
from a2a.client.client import Client
from a2a.client.interceptors import AfterArgs, BeforeArgs, ClientCallInterceptor
from a2a.types import (
    AgentCard,
    AuthenticationInfo,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    ListTaskPushNotificationConfigsRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageConfiguration,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import TaskNotCancelableError, TaskNotFoundError
from a2a.utils.proto_utils import validate_proto_required_fields
from google.protobuf.json_format import MessageToDict, ParseDict

from atp.settings import Settings
from atp.webhooks import verify_standard
from tests.support.a2a import answer
from tests.support.helpers import Agent, Api
from tests.support.receivers import Receiver

BINDINGS = ["JSONRPC", "HTTP+JSON"]


class Bearer(ClientCallInterceptor):
    """The calling agent's ATP key on every call."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def before(self, args: BeforeArgs) -> None:
        args.context = args.context or ClientCallContext()
        args.context.service_parameters = args.context.service_parameters or {}
        args.context.service_parameters["Authorization"] = f"Bearer {self.token}"

    async def after(self, args: AfterArgs) -> None:
        pass


def user_message(text: str) -> Message:
    return Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER, parts=[Part(text=text)])


def strict(document: dict[str, Any], kind: type) -> Any:
    """``document`` parsed as A2A 1.0 ProtoJSON: no unknown field, every required one."""
    parsed = ParseDict(document, kind())
    validate_proto_required_fields(parsed)
    return parsed


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, webhook_allow_private=True)  # receipts go to loopback


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def sdk_client(
    api: Api, http: httpx.AsyncClient, caller: Agent, tenant: Agent, binding: str, streaming: bool
) -> Client:
    r = await api.get(f"/api/agents/{tenant.id}", tenant.account_token)
    card_url: str = r.json()["a2a_agent_card_url"]
    base = card_url.removesuffix("/.well-known/agent-card.json")
    card = await A2ACardResolver(http, base).get_agent_card()
    config = ClientConfig(
        httpx_client=http, streaming=streaming, supported_protocol_bindings=[binding]
    )
    return ClientFactory(config).create(card, interceptors=[Bearer(caller.token)])


async def complete(api: Api, tenant: Agent) -> None:
    """The recipient: claim (a long poll), ACK accepted, then completed."""
    r = await api.post("/api/inbox/claims", tenant.token, {"wait_seconds": 10})
    assert r.status_code == 201, r.text
    claim = r.json()
    context = claim["message"]["payload"]["contextId"]
    for status in ("accepted", "completed"):
        acked = await api.ack(tenant, claim["id"], status, answer(f"{status}: 42", context))
        assert acked.status_code == 201, acked.text


async def test_the_card_is_a_valid_agent_card_naming_the_carrier(api: Api) -> None:
    _, tenant = await api.pair()
    r = await api.get(f"/api/agents/{tenant.id}", tenant.account_token)
    card_url = r.json()["a2a_agent_card_url"]
    document = (await api.client.get(card_url)).json()  # public: no key
    card: AgentCard = strict(document, AgentCard)
    assert [i.tenant for i in card.supported_interfaces] == [tenant.id, tenant.id]
    assert {i.protocol_binding for i in card.supported_interfaces} == set(BINDINGS)
    assert card.capabilities.streaming
    assert card.capabilities.push_notifications
    assert "atpAgentKey" in card.security_schemes


@pytest.mark.parametrize("binding", BINDINGS)
async def test_a_non_blocking_send_goes_submitted_working_completed(
    api: Api, http: httpx.AsyncClient, binding: str
) -> None:
    caller, tenant = await api.pair()
    client = await sdk_client(api, http, caller, tenant, binding, streaming=False)
    request = SendMessageRequest(
        message=user_message("what is 6 x 7?"),
        configuration=SendMessageConfiguration(return_immediately=True),
    )
    [event] = [event async for event in client.send_message(request)]
    task = event.task
    assert task.status.state == TaskState.TASK_STATE_SUBMITTED
    seen = [task.status.state]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(complete, api, tenant)
        with trio.fail_after(10):
            while seen[-1] != TaskState.TASK_STATE_COMPLETED:
                current = await client.get_task(GetTaskRequest(id=task.id))
                if current.status.state != seen[-1]:
                    seen.append(current.status.state)
                await trio.sleep(0.005)
    assert seen[0] == TaskState.TASK_STATE_SUBMITTED
    assert seen[-1] == TaskState.TASK_STATE_COMPLETED
    assert set(seen) <= {
        TaskState.TASK_STATE_SUBMITTED,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_COMPLETED,
    }
    assert current.artifacts[0].parts[0].text == "completed: 42"
    listed = await client.list_tasks(ListTasksRequest(page_size=10))
    assert [t.id for t in listed.tasks] == [task.id]
    with pytest.raises(TaskNotCancelableError):
        await client.cancel_task(CancelTaskRequest(id=task.id))
    with pytest.raises(TaskNotFoundError):
        await client.get_task(GetTaskRequest(id="msg_not_there"))
    # What the carrier answered is A2A 1.0, strictly.
    raw = await api.client.post(
        "/a2a",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "GetTask",
            "params": {"tenant": tenant.id, "id": task.id},
        },
        headers={"A2A-Version": "1.0", "Authorization": f"Bearer {caller.token}"},
    )
    strict(raw.json()["result"], Task)


@pytest.mark.parametrize("binding", BINDINGS)
async def test_a_blocking_send_answers_the_completed_task(
    api: Api, http: httpx.AsyncClient, binding: str
) -> None:
    caller, tenant = await api.pair()
    client = await sdk_client(api, http, caller, tenant, binding, streaming=False)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(complete, api, tenant)
        with trio.fail_after(10):
            events = [
                e async for e in client.send_message(SendMessageRequest(message=user_message("q")))
            ]
    task = events[-1].task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert task.status.message.parts[0].text == "completed: 42"
    assert task.history[0].parts[0].text == "q"


@pytest.mark.parametrize("binding", BINDINGS)
async def test_a_streamed_send_sees_every_state(
    api: Api, http: httpx.AsyncClient, binding: str
) -> None:
    caller, tenant = await api.pair()
    client = await sdk_client(api, http, caller, tenant, binding, streaming=True)
    kinds: list[str] = []
    states: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(complete, api, tenant)
        with trio.fail_after(10):
            async for event in client.send_message(SendMessageRequest(message=user_message("s"))):
                kind = event.WhichOneof("payload")
                kinds.append(kind)
                if kind == "task":
                    states.append(event.task.status.state)
                elif kind == "status_update":
                    states.append(event.status_update.status.state)
                else:
                    assert MessageToDict(event.artifact_update.artifact)["parts"] == [
                        {"text": "completed: 42"}
                    ]
    assert kinds[0] == "task" and "artifact_update" in kinds
    assert states == [
        TaskState.TASK_STATE_SUBMITTED,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_COMPLETED,
    ]


async def test_the_sdk_cancels_a_task_nobody_took(api: Api, http: httpx.AsyncClient) -> None:
    caller, tenant = await api.pair()
    client = await sdk_client(api, http, caller, tenant, "JSONRPC", streaming=False)
    request = SendMessageRequest(
        message=user_message("cancel me"),
        configuration=SendMessageConfiguration(return_immediately=True),
    )
    [event] = [event async for event in client.send_message(request)]
    canceled = await client.cancel_task(CancelTaskRequest(id=event.task.id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED


@pytest.mark.parametrize("binding", BINDINGS)
async def test_the_sdk_sets_a_push_config_and_gets_verified_receipts(
    api: Api, http: httpx.AsyncClient, receiver: Receiver, binding: str
) -> None:
    caller, tenant = await api.pair()
    client = await sdk_client(api, http, caller, tenant, binding, streaming=False)
    request = SendMessageRequest(
        message=user_message("tell me when"),
        configuration=SendMessageConfiguration(return_immediately=True),
    )
    [event] = [event async for event in client.send_message(request)]
    task_id = event.task.id
    made = await client.create_task_push_notification_config(
        TaskPushNotificationConfig(
            task_id=task_id,
            id="receipts",
            url=receiver.url("/a2a-push"),
            token="per-task-token",
            authentication=AuthenticationInfo(scheme="Bearer", credentials="s3cret"),
        )
    )
    assert (made.id, made.task_id, made.token) == ("receipts", task_id, "per-task-token")
    asked = GetTaskPushNotificationConfigRequest(task_id=task_id, id="receipts")
    assert (await client.get_task_push_notification_config(asked)).url == made.url
    listed = await client.list_task_push_notification_configs(
        ListTaskPushNotificationConfigsRequest(task_id=task_id)
    )
    assert [c.id for c in listed.configs] == ["receipts"]
    await complete(api, tenant)
    keys = await api.get(f"/api/agents/{caller.id}/webhook_endpoint/signing_keys", caller.token)
    [public_key] = [k["public_key"] for k in keys.json()["signing_keys"]]
    states = []
    for push in await receiver.wait_for(2):
        verify_standard(push.headers, push.body, whpk=public_key)
        assert push.headers["authorization"] == "Bearer s3cret"
        assert push.headers["x-a2a-notification-token"] == "per-task-token"
        response: StreamResponse = strict(json.loads(push.body), StreamResponse)
        kind = response.WhichOneof("payload")
        states.append(getattr(response, kind).status.state)
    assert states == [TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_COMPLETED]
    await client.delete_task_push_notification_config(
        DeleteTaskPushNotificationConfigRequest(task_id=task_id, id="receipts")
    )
    listed = await client.list_task_push_notification_configs(
        ListTaskPushNotificationConfigsRequest(task_id=task_id)
    )
    assert list(listed.configs) == []
