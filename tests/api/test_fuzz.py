"""Schemathesis against a live carrier on each store: every operation with generated
input (examples, coverage and fuzzing phases), then stateful runs along the document's
links (create agent → send → claim → ACK, open session → accept → turn → close).

Every answer must pass ``fuzzing.CHECKS``: no 5xx, a documented status and content type,
a body and headers that match the document, and every error in the contract's envelope.
Bounded for CI; ``ops/fuzz`` runs the same longer (``FUZZ_EXAMPLES``, ``FUZZ_STEPS``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyStrategyDefinition

from atp.api._openapi import openapi_document
from tests.conftest import STORES
from tests.support.fuzzing import CHECKS, FuzzServer, start_server

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "10"))
STEPS = int(os.environ.get("FUZZ_STEPS", "10"))
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


@pytest.fixture(scope="module", params=STORES)
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzServer]:
    store: str = request.param
    url = None
    if store == "postgres":
        url = os.environ.get("ATP_TEST_DATABASE_URL")
        if not url:
            if os.environ.get("ATP_REQUIRE_POSTGRES") == "1":
                pytest.fail("ATP_REQUIRE_POSTGRES=1 but ATP_TEST_DATABASE_URL is not set")
            pytest.skip("PostgreSQL tests need ATP_TEST_DATABASE_URL")
    server = start_server(store, tmp_path_factory.mktemp(f"fuzz-{store}"), url)
    yield server
    server.stop()
    print(f"\nfuzz[{store}]: {server.report()}")


# The document the server serves (test_openapi.py checks that they are the same); loaded
# here because schemathesis's lazy loader (``from_fixture``) fails on pytest 9.
schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@SETTINGS
def test_every_operation_answers_within_its_contract(case: Any, fuzz_server: FuzzServer) -> None:
    fuzz_server.prepare(case)
    response = case.call(base_url=fuzz_server.base_url)
    fuzz_server.record(case, response)
    case.validate_response(response, checks=CHECKS)


def test_linked_calls_answer_within_the_contract(fuzz_server: FuzzServer) -> None:
    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case: Any) -> None:
            fuzz_server.prepare(case, linked=True)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": fuzz_server.base_url}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            fuzz_server.record(case, response)
            case.validate_response(response, checks=CHECKS)

    # The server's state outlives each scenario, so a replay would not see what the
    # first run saw: generate only (no shrinking), and report the first failure as is.
    # For the same reason Hypothesis may find that the rules it can choose from differ
    # between scenarios with the same start (FlakyStrategyDefinition): that stops its
    # exploration and is no answer of the server's, so the run starts afresh (at most
    # three times). A failed check is raised as it is.
    stateful = settings(
        SETTINGS, max_examples=STATEFUL_EXAMPLES, stateful_step_count=STEPS,
        phases=[Phase.generate],
    )  # fmt: skip
    before = sum(fuzz_server.answers.values())
    for _ in range(3):
        try:
            Machine.run(settings=stateful)
        except FlakyStrategyDefinition:
            continue
        break
    # Whatever stopped it, linked calls were made and every answer was checked.
    assert sum(fuzz_server.answers.values()) > before
