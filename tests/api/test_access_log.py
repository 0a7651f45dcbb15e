"""The access log and the request id, through a real Hypercorn: one line per request,
the id on every line logged while serving it, errors by class and place only."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio.testing
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve
from quart import Response
from quart_trio import QuartTrio

from atp.actors import Runtime
from atp.api import create_app
from atp.api._access_log import HttpStats, observe_requests
from atp.settings import Settings
from tests.support.helpers import Api, text
from tests.support.log_capture import CapturedLogs, captured_logs
from tests.support.receivers import Receiver

CALLER_ID = "caller-chosen-request-id-0001"


async def lines_of(
    logs: CapturedLogs, *request_ids: str, logger: str = "atp.access"
) -> list[dict[str, Any]]:
    """The lines of ``logger`` for these requests, in their order, once all are written
    (the access line is written just after the answer has left: a client may see the
    answer first, and the line of an earlier request may come late)."""
    with trio.fail_after(10):
        while True:
            found = {r.get("request_id"): r for r in logs.records() if r["logger"] == logger}
            if all(request_id in found for request_id in request_ids):
                return [found[request_id] for request_id in request_ids]
            await trio.testing.wait_all_tasks_blocked()


async def test_a_send_gets_one_access_line_with_its_fields(api: Api) -> None:
    alpha, beta = await api.pair()
    with captured_logs("info") as logs:
        r = await api.client.post(
            "/api/messages",
            json={"to": beta.address, "payload": text()},
            headers={**api.headers(alpha.token), "x-request-id": CALLER_ID},
        )
        assert r.status_code == 201
        [line] = await lines_of(logs, CALLER_ID)
    assert r.headers["x-request-id"] == CALLER_ID
    assert line["message"] == "POST /api/messages 201"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/api/messages", 201)
    assert line["request_id"] == CALLER_ID and line["principal"] == alpha.id
    assert line["bytes"] == len(r.content) and line["duration_ms"] >= 0
    assert line["level"] == "info"


async def test_route_templates_not_paths_and_a_line_for_every_refusal(api: Api) -> None:
    alpha, beta = await api.pair()
    sent = (await api.send(alpha, beta)).json()["message"]["id"]
    with captured_logs("info") as logs:
        ok = await api.status(alpha.token, sent)
        unknown = await api.client.get("/no/such/route")
        bad_key = await api.get(f"/api/messages/{sent}", "ak_not-a-real-key")
        not_json = await api.client.post(
            "/api/messages",
            content=b"{",
            headers={**api.headers(alpha.token), "content-type": "application/json"},
        )
        answers = [ok, unknown, bad_key, not_json]
        lines = await lines_of(logs, *(a.headers["x-request-id"] for a in answers))
    assert [line["status"] for line in lines] == [200, 404, 401, 400]
    assert [line["route"] for line in lines] == [
        "/api/messages/<message_id>", "<unmatched>", "/api/messages/<message_id>", "/api/messages",
    ]  # fmt: skip
    assert [line["principal"] for line in lines] == [alpha.id, None, None, None]
    assert sent not in str(lines)  # the path's ids are not logged, only the template
    assert len({line["request_id"] for line in lines}) == 4


async def test_an_unusable_caller_id_is_replaced_by_a_fresh_one(api: Api) -> None:
    with captured_logs("info") as logs:
        r = await api.client.get("/health", headers={"x-request-id": "too-short"})
        [line] = await lines_of(logs, r.headers["x-request-id"])
    assert r.headers["x-request-id"] != "too-short" and line["route"] == "/health"


@pytest.fixture
async def custom_app(runtime: Runtime, nursery: trio.Nursery) -> AsyncIterator[Callable[..., Any]]:
    """Serve ``create_app(runtime.carrier)``, with routes a test adds, on a real Hypercorn."""

    async def serve(app: QuartTrio) -> httpx.AsyncClient:
        config = Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.error")
        binds = await nursery.start(hypercorn_serve, app, config)
        return httpx.AsyncClient(base_url=binds[0], timeout=10)

    yield serve
    nursery.cancel_scope.cancel()


async def test_lines_logged_while_serving_carry_the_id_and_errors_only_class_and_place(
    runtime: Runtime, custom_app: Callable[..., Any]
) -> None:
    app = create_app(runtime.carrier)
    inner = logging.getLogger("atp.tests.handler")

    @app.get("/test/boom")
    async def boom() -> None:
        inner.info("handling")
        raise RuntimeError("secret text ak_0123456789abcdef")

    @app.after_request
    async def broken(response: Response) -> Response:
        if response.headers.get("x-test-break"):
            raise KeyError("secret text whsec_0123456789abcdef")
        return response

    @app.get("/test/after")
    async def after() -> Response:
        return Response("", headers={"x-test-break": "1"})

    with captured_logs("info") as logs:
        async with await custom_app(app) as client:
            r = await client.get("/test/boom", headers={"x-request-id": CALLER_ID})
            assert r.status_code == 500 and r.json()["error"]["code"] == "unexpected_error"
            broken_after = await client.get("/test/after")
            await lines_of(logs, CALLER_ID, broken_after.headers.get("x-request-id", ""))
    text_of_log = "\n".join(logs.lines())
    assert "secret text" not in text_of_log and "Traceback" not in text_of_log
    by_request: dict[str, list[dict[str, Any]]] = {}
    for record in logs.records():
        by_request.setdefault(record.get("request_id", ""), []).append(record)
    handling, error, access = by_request[CALLER_ID]
    assert handling["message"] == "handling"
    assert error["message"].startswith(f"unexpected error in request (RuntimeError at {__file__}:")
    assert (access["route"], access["status"]) == ("/test/boom", 500)
    # An error no handler took (in an after_request): Quart's own report, one line each.
    assert broken_after.json()["error"]["code"] == "unexpected_error"
    reported, answered = by_request[broken_after.headers["x-request-id"]]
    assert reported["message"].startswith(f"unhandled error in request (KeyError at {__file__}:")
    assert (answered["route"], answered["status"]) == ("/test/after", 500)


async def test_an_error_escaping_the_app_is_one_line_and_the_exchange_is_counted() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise ExceptionGroup("nursery", [trio.BusyResourceError("secret ak_0123456789abcdef")])

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None  # the client left before any answer

    stats = HttpStats()
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with captured_logs("info") as logs:
        await observe_requests(failing, stats)(scope, None, send)
        await observe_requests(silent, stats)({**scope, "method": "BREW"}, None, None)
    error, first, second = logs.records()
    assert error["message"].startswith(
        f"request failed (ExceptionGroup[BusyResourceError] at {__file__}:"
    )
    assert "secret" not in "\n".join(logs.lines())
    assert (first["status"], second["status"]) == (500, 499)
    assert second["method"] == "other"  # invented methods do not grow the metrics
    assert dict(stats.statistics().requests) == {
        ("POST", "<unmatched>", 500): 1, ("other", "<unmatched>", 499): 1,
    }  # fmt: skip
    assert error["request_id"] == first["request_id"] != second["request_id"]
    # The failed exchange was answered with the contract's 500 and its request id.
    start, body = sent
    assert start["status"] == 500
    assert (b"x-request-id", first["request_id"].encode()) in start["headers"]
    assert json.loads(body["body"]) == {
        "error": {"code": "unexpected_error", "message": "An unexpected error occurred."}
    }


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return attrs.evolve(settings, webhook_allow_private=True, webhook_timeout=2.0)


async def test_webhook_attempt_lines_carry_the_id_of_the_send_that_caused_them(
    api: Api, receiver: Receiver
) -> None:
    alpha, beta = await api.pair()
    await api.webhook_endpoint(beta, receiver.url())
    with captured_logs("info") as logs:
        r = await api.client.post(
            "/api/messages",
            json={"to": beta.address, "payload": text()},
            headers={**api.headers(alpha.token), "x-request-id": CALLER_ID},
        )
        assert r.status_code == 201
        [attempt] = await lines_of(logs, CALLER_ID, logger="atp.actors._dispatcher")
    message_id = r.json()["message"]["id"]
    assert attempt["message"] == "webhook attempt delivered"
    assert attempt["request_id"] == CALLER_ID
    assert (attempt["message_id"], attempt["agent"], attempt["status"]) == (
        message_id, beta.id, 200,
    )  # fmt: skip
    assert receiver.url() not in "\n".join(logs.lines())  # never the endpoint's URL


async def test_hypercorn_logs_through_the_root_handler_only(api: Api) -> None:
    """Its own stderr handler would print its lines a second time, in its own format."""
    assert (await api.client.get("/health")).status_code == 200
    assert logging.getLogger("hypercorn.error").handlers == []
    assert logging.getLogger("hypercorn.access").handlers == []
