"""AMTP from the command line: ``atp schema``, the account's schema registry, and
``atp workflow show``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support.cli_process import Cli

SCHEMA_ID = "agntcy:commerce.order.v1"
ORDER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["order_id", "total"],
    "properties": {"order_id": {"type": "string"}, "total": {"type": "number", "minimum": 0}},
    "additionalProperties": False,
}


async def test_a_schema_is_registered_shown_checked_and_deleted(
    local_cli: Cli, tmp_path: Path
) -> None:
    schema = tmp_path / "order.json"
    schema.write_text(json.dumps(ORDER))
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"order_id": "o-1", "total": 12.5}))
    bad.write_text(json.dumps({"order_id": "o-1", "total": -1, "note": "x"}))

    registered = await local_cli("schema", "register", SCHEMA_ID, str(schema))
    assert f"Schema registered: {SCHEMA_ID}" in registered.out
    # The same registration again answers as the first; another definition needs --force.
    assert "registered" in (await local_cli("schema", "register", SCHEMA_ID, str(schema))).out
    other = tmp_path / "order2.json"
    other.write_text(json.dumps({**ORDER, "required": ["order_id"]}))
    refused = await local_cli("schema", "register", SCHEMA_ID, str(other), code=1)
    assert "SCHEMA_ALREADY_EXISTS" in refused.err
    forced = await local_cli("schema", "register", SCHEMA_ID, str(schema), "--force")
    assert "registered" in forced.out
    listed = json.loads((await local_cli("schema", "list", "--json")).out)
    assert listed == {"schemas": [SCHEMA_ID]}
    assert "No schemas." in (await local_cli("schema", "list", "--pattern", "billing")).out
    shown = json.loads((await local_cli("schema", "show", SCHEMA_ID, "--json")).out)
    assert shown["schema"]["definition"] == ORDER

    assert (
        f"Valid against {SCHEMA_ID}."
        in (await local_cli("schema", "validate", SCHEMA_ID, str(good))).out
    )
    broken = await local_cli("schema", "validate", SCHEMA_ID, str(bad), code=1)
    assert "/total:" in broken.out and "additional" in broken.out.lower()
    missing = await local_cli("schema", "register", SCHEMA_ID, str(tmp_path / "no.json"), code=1)
    assert "cannot read" in missing.err

    assert "Schema deleted" in (await local_cli("schema", "delete", SCHEMA_ID)).out
    gone = await local_cli("schema", "show", SCHEMA_ID, code=1)
    assert "SCHEMA_NOT_FOUND" in gone.err


async def test_a_workflow_an_alias_started_is_shown(local_cli: Cli, base_url: str) -> None:
    config, credentials = local_cli.state("config"), local_cli.state("credentials")
    alpha, beta = (f"{config['aliases'][a]['agent_id']}@localhost" for a in ("alpha", "beta"))
    key = credentials["agents"]["alpha"]["agent_token"]
    block = {"type": "parallel", "timeout": 600, "required_responses": [beta]}
    async with httpx.AsyncClient(base_url=base_url) as client:
        sent = await client.post(
            "/v1/messages",
            json={"sender": alpha, "recipients": [beta], "payload": 1, "coordination": block},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert sent.status_code == 202, sent.text
    workflow_id = sent.json()["workflow_id"]
    shown = await local_cli("workflow", "show", workflow_id)
    assert f"Workflow: {workflow_id} (parallel)" in shown.out
    assert "Status: in_progress" in shown.out and f"{beta}: pending" in shown.out
    as_json = json.loads((await local_cli("workflow", "show", workflow_id, "--json")).out)
    assert as_json["workflow_id"] == workflow_id and as_json["participants"][0]["address"] == beta
    hidden = await local_cli("workflow", "show", workflow_id, "--as", "beta", code=1)
    assert "not_found" in hidden.err
