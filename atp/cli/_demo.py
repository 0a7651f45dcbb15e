"""``atp demo``: the whole carrier in a minute, against a running server.

Two agents of a new account exchange a message (send, claim, ACK) and then hold an
ordered session (open, accept, a turn each way). Each step pauses (``--delay``
seconds, or ``ATP_DEMO_DELAY_MS``) so a person can follow; nothing is saved under
``ATP_HOME`` and no key is printed.
"""

from __future__ import annotations

import time
from typing import Any

from atp.cli._context import Context, text_payload
from atp.cli._identity import DEFAULT_SERVER
from atp.cli._output import first_text, when
from atp.cli._transcript import Transcript, sort_key
from atp.client import AgentCreated, Client, MessageStatus

__all__ = ["demo"]

_BOLD, _DIM, _GREEN, _RESET = "\033[1m", "\033[2m", "\033[32m", "\033[0m"


class _Narrator:
    def __init__(self, ctx: Context, delay: float, color: bool) -> None:
        self._ctx = ctx
        self._delay = delay
        self._color = color and ctx.out.is_terminal
        self._step = 0

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self._color else text

    def step(self, title: str, details: list[str], data: dict[str, Any]) -> None:
        self._step += 1
        lines = [self._paint(_BOLD, f"{self._step}. {title}")]
        lines += [f"   {line}" for line in details]
        self._ctx.out.report([*lines, ""], {"step": self._step, "title": title, **data})
        time.sleep(self._delay)

    def state(self, text: str) -> str:
        return self._paint(_GREEN, text)

    def id(self, text: str) -> str:
        return self._paint(_DIM, text)


def demo(ctx: Context) -> None:
    """Run the reference demo flow against ``--server`` (or the configured server)."""
    server = ctx.invocation.options.get("--server")
    if server is None:
        server = ctx.config.server_url if ctx.home.config_path.exists() else DEFAULT_SERVER
    delay = ctx.invocation.number("--delay", 0, 60)
    say = _Narrator(ctx, ctx.settings.demo_delay if delay is None else delay, ctx.settings.color)
    ctx.out.report([f"ATP demo against {server}", ""], {"server_url": server})
    with Client(server.rstrip("/")) as atp:
        account = atp.signup("ATP demo")
        say.step(
            "An account signs up", [f"account {say.id(account.id)}"], {"account_id": account.id}
        )
        planner = atp.create_agent("planner", token=account.api_key)
        researcher = atp.create_agent("researcher", token=account.api_key)
        names = {planner.address: "planner", researcher.address: "researcher"}
        say.step(
            "It registers two agents, each with its own address and key",
            [f"planner     {planner.address}", f"researcher  {researcher.address}"],
            {"agents": names},
        )
        _direct_message(atp, say, planner, researcher)
        _session(atp, say, planner, researcher, names)


def _direct_message(
    atp: Client, say: _Narrator, planner: AgentCreated, researcher: AgentCreated
) -> None:
    ask = text_payload("Could you summarise the latest delivery incidents?")
    sent = atp.send(researcher.address, ask, token=planner.api_key)
    assert isinstance(sent, MessageStatus)  # an address of this carrier
    say.step(
        "planner sends researcher a message",
        [f"message {say.id(sent.message.id)}, carrier status {say.state(sent.carrier_status)}"],
        {"message_id": sent.message.id, "carrier_status": sent.carrier_status},
    )
    claim = atp.claim(60, token=researcher.api_key)
    assert claim is not None
    say.step(
        "researcher polls its inbox and claims it under a 60 s lease",
        [
            f"delivery {say.id(claim.delivery_id)}, leased until {when(claim.leased_until)}",
            f"text: {first_text(claim.message.payload)}",
        ],
        {"delivery_id": claim.delivery_id},
    )
    answer = text_payload("Done: two incidents, both resolved.", agent=True)
    acked = atp.ack(claim.delivery_id, "completed", answer, token=researcher.api_key)
    say.step(
        "researcher ACKs it completed, with its answer",
        [
            f"carrier status {say.state(acked.carrier_status)}, "
            f"ACK status {say.state(acked.ack_status or '-')}"
        ],
        {"carrier_status": acked.carrier_status, "ack_status": acked.ack_status},
    )


def _session(
    atp: Client,
    say: _Narrator,
    planner: AgentCreated,
    researcher: AgentCreated,
    names: dict[str, str],
) -> None:
    opened = atp.open_session(
        researcher.address, text_payload("Shall we plan the fix together?"), token=planner.api_key
    )
    session_id = opened.session.id
    say.step(
        "planner opens an ordered session with researcher",
        [f"session {say.id(session_id)}, status {say.state(opened.session.status)}"],
        {"session_id": session_id, "status": opened.session.status},
    )
    claim = atp.claim(60, token=researcher.api_key)
    assert claim is not None
    atp.ack(claim.delivery_id, "accepted", token=researcher.api_key)
    view = atp.session(session_id, token=researcher.api_key)
    say.step(
        "researcher claims the opening and ACKs it accepted",
        [f"session status {say.state(view.session.status)}"],
        {"status": view.session.status},
    )
    atp.send_turn(session_id, text_payload("First, the retry schedule."), token=planner.api_key)
    atp.send_turn(session_id, text_payload("Agreed; I will draft it."), token=researcher.api_key)
    view = atp.session(session_id, token=planner.api_key)
    rows = sorted(view.messages, key=sort_key)
    table = Transcript(lambda address: names.get(address, address), rows, names.values())
    say.step(
        "They take turns; the carrier numbers them and hands them out in order",
        [table.header(), *(line for row in rows for line in table.row(row))],
        {"sequences": [row.message.session_sequence for row in rows]},
    )
