"""AccountActor: the only writer of one account and its agents.

Registering an agent, rotating its key, setting its webhook endpoint and its sender
policies all change an Account or Agent aggregate; serialising them per account is
what makes the plan limit and "one active key per agent" hold without locks.
"""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from atp.actors._actor import Actor
from atp.actors._context import ActorContext
from atp.actors.commands import (
    AccountCommand,
    DeactivateAgent,
    DisableWebhookEndpoint,
    EnsureSigningKey,
    IssueAuditorKey,
    OpenAccount,
    RecordPayloadRead,
    RegisterAgent,
    Reply,
    RotateAgentKey,
    RotateSigningKey,
    SetSenderPolicy,
    SetWebhookEndpoint,
)
from atp.domain import Account, Agent, aggregate_id, new_id, new_token, token_hash
from atp.errors import NotFound
from atp.webhooks import new_hmac_secret, new_signing_key
from atp.wire import agent_document, sender_policy_document, signing_key_document

__all__ = ["AccountActor"]


class AccountActor(Actor[AccountCommand]):
    """One account: its plan limit, its agents' keys, endpoints and policies."""

    # Accounts change rarely (signup, registration, rotation, configuration) and
    # rehydrate with one ledger read, so they do not wait around: 10,000 freshly
    # registered agents must not keep 5,000 account actors in memory.
    max_idle = 2.0

    kind = "account"

    def __init__(self, account_id: str, context: ActorContext) -> None:
        super().__init__(account_id, context)
        self.account_id = account_id
        self.account: Account | None = None
        self.agents: dict[str, Agent] = {}

    async def rehydrate(self) -> None:
        self.account = await self.context.ledger.get(Account, aggregate_id(self.account_id))
        self.agents = {}

    async def handle(self, command: AccountCommand) -> Reply:
        now = self.context.now()
        match command:
            case OpenAccount():
                return self._open(command, now)
            case IssueAuditorKey():
                account = self._account()
                key_id, token = new_id("audkey"), new_token("aud")
                account.issue_auditor_key(key_id, token_hash(token), now)
                self.stage(account)
                body = {"id": key_id, "token": token, "role": "auditor"}
                return self.answer(command.ticket, 201, body, now)
            case RecordPayloadRead():
                self._account().record_payload_read(command.key_id, command.message_id, now)
                self.stage(self._account())
                return Reply(200, {})
            case RegisterAgent():
                return self._register(command, now)
            case RotateAgentKey():
                agent = await self._agent(command.agent_id)
                key_id, token = new_id("agtkey"), new_token("agk")
                agent.rotate_key(key_id, token_hash(token), now)
                self.stage(agent)
                return self.answer(command.ticket, 201, {"id": key_id, "token": token}, now)
            case SetWebhookEndpoint():
                return await self._set_webhook_endpoint(command, now)
            case RotateSigningKey():
                agent = await self._agent(command.agent_id)
                self._add_signing_key(agent, command.overlap_seconds, now)
                self.stage(agent)
                keys = [signing_key_document(k) for k in agent.live_signing_keys(now)]
                return self.answer(command.ticket, 201, {"signing_keys": keys}, now)
            case EnsureSigningKey():
                agent = await self._agent(command.agent_id)
                if not agent.live_signing_keys(now):
                    self._add_signing_key(agent, 0, now)
                    self.stage(agent)
                return Reply(200, {})
            case DisableWebhookEndpoint():
                agent = await self._agent(command.agent_id)
                if agent.disable_webhook_endpoint(command.url, now):
                    self.stage(agent)
                return Reply(200, {})
            case SetSenderPolicy():
                return await self._set_policy(command, now)
            case DeactivateAgent():
                agent = await self._agent(command.agent_id)
                if agent.status == "active":
                    agent.deactivate(now)
                    self.stage(agent)
                gone = {"message": "Agent unregistered successfully", "name": agent.name or ""}
                return self.answer(command.ticket, 200, gone, now)
            case _:
                assert_never(command)

    def committed(self) -> None:
        identities = self.context.identities
        if self.account is not None:
            identities.publish_account(self.account)
        for agent in self.agents.values():
            identities.publish_agent(agent)

    # -- commands -----------------------------------------------------------------------

    def _open(self, command: OpenAccount, now: datetime) -> Reply:
        assert self.account is None, "account ids are fresh"
        key_id, token = new_id("acctkey"), new_token("ak")
        self.account = Account(
            account_id=command.account_id,
            name=command.name,
            plan="free",
            key_id=key_id,
            key_hash=token_hash(token),
            at=now,
        )
        self.stage(self.account)
        body = {
            "id": command.account_id,
            "name": command.name,
            "plan": "free",
            "account_api_key": {"id": key_id, "token": token},
        }
        return Reply(201, body)

    def _register(self, command: RegisterAgent, now: datetime) -> Reply:
        account = self._account()
        agent_id = command.agent_id or new_id("agt")
        key_id, token = new_id("agtkey"), new_token("agk")
        limit = self.context.settings.agents_per_account.get(account.plan, 2)
        account.admit_agent(agent_id, limit)
        agent = Agent(
            agent_id=agent_id,
            account_id=self.account_id,
            display_name=command.display_name,
            description=command.description,
            key_id=key_id,
            key_hash=token_hash(token),
            at=now,
            name=command.name,
            supported_schemas=list(command.supported_schemas) or None,
        )
        self.agents[agent_id] = agent
        self.stage(account, agent)
        body = {**agent_document(agent), "agent_api_key": {"id": key_id, "token": token}}
        return self.answer(command.ticket, 201, body, now)

    async def _set_webhook_endpoint(self, command: SetWebhookEndpoint, now: datetime) -> Reply:
        agent = await self._agent(command.agent_id)
        seal = self.context.sealer.seal
        # Valid in both base64 alphabets, so Standard Webhooks libraries accept it too.
        secret = new_hmac_secret()
        authorization = (
            None if command.authorization is None else seal(command.authorization.encode())
        )
        sealed = seal(secret.encode())
        agent.set_webhook_endpoint(command.url, sealed, authorization, now, command.kind)
        if not agent.live_signing_keys(now):
            self._add_signing_key(agent, 0, now)
        self.stage(agent)
        endpoint = {
            "url": command.url,
            "kind": command.kind,
            "active": True,
            "endpoint_secret": secret,
            # Beside the contract's keys: what a receiver needs to verify v1a signatures.
            "signing_keys": [signing_key_document(k) for k in agent.live_signing_keys(now)],
        }
        return self.answer(command.ticket, 200, {"webhook_endpoint": endpoint}, now)

    def _add_signing_key(self, agent: Agent, overlap_seconds: float, now: datetime) -> None:
        private_key, public_key = new_signing_key()
        sealed = self.context.sealer.seal(private_key.encode())
        agent.rotate_signing_key(new_id("whk"), public_key, sealed, overlap_seconds, now)

    async def _set_policy(self, command: SetSenderPolicy, now: datetime) -> Reply:
        agent = await self._agent(command.agent_id)
        identities = self.context.identities
        if command.sender_agent_id is not None:
            sender = await identities.agent(command.sender_agent_id)
            if sender is None or sender.status != "active":
                raise NotFound("sender agent")
        elif command.sender_account_id is not None and (
            await identities.account(command.sender_account_id) is None
        ):
            raise NotFound("sender account")
        policy = agent.set_sender_policy(
            new_id("spol"), command.effect, command.sender_agent_id, command.sender_account_id, now
        )
        self.stage(agent)
        body = {"sender_policy": sender_policy_document(agent.agent_id, policy)}
        return self.answer(command.ticket, 200, body, now)

    # -- helpers ------------------------------------------------------------------------

    def _account(self) -> Account:
        if self.account is None:
            raise NotFound("account")
        return self.account

    async def _agent(self, agent_id: str) -> Agent:
        """One of this account's agents (any status).

        Raises:
            NotFound: no such agent in this account.
        """
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = await self.context.ledger.get(Agent, aggregate_id(agent_id))
            if agent is None or agent.account_id != self.account_id:
                raise NotFound("agent")
            self.agents[agent_id] = agent
        return agent
