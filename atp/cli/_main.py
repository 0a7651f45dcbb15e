"""``main``: the command table, dispatch by words, and the errors' one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

import attrs
import httpx

from atp import __version__
from atp.cli import (
    _agents,
    _amtp,
    _audit,
    _audit_trail,
    _dead_letters,
    _demo,
    _health,
    _identity,
    _mcp,
    _messaging,
    _operate,
    _policy,
    _replays,
    _sessions,
    _watch,
    _webhook,
)
from atp.cli._args import parse
from atp.cli._batch_files import ack_file, send_file
from atp.cli._context import Context
from atp.cli._output import CliError, Output
from atp.errors import AtpError
from atp.settings import CliSettings

__all__ = ["main"]


@attrs.frozen
class _Command:
    words: tuple[str, ...]
    params: tuple[str, ...]
    usage: str
    summary: str
    run: Callable[..., None]
    listed: bool = True  # False: an alias of a listed command

    def usage_line(self) -> str:
        return " ".join(["atp", *self.words, *self.params, self.usage]).rstrip()


def _command(
    spec: str, summary: str, run: Callable[..., None], usage: str = "", listed: bool = True
) -> _Command:
    words = tuple(w for w in spec.split() if not w.startswith(("<", '"')))
    params = tuple(w for w in spec.split() if w.startswith(("<", '"')))
    return _Command(words, params, usage, summary, run, listed)


_AS = "[--as <alias>]"
_PAGE = f"[--after ID] [--limit N] {_AS}"
_COMMANDS = [
    _command(
        "init",
        "sign up an account; keep its key in ATP_HOME",
        _identity.init,
        "[--server URL] [--force]",
    ),
    _command(
        "agent create <alias>",
        "register an agent under a local alias (--name: also reachable as name@domain)",
        _identity.agent_create,
        "[--name NAME]",
    ),
    _command("agent list", "the local aliases", _identity.agent_list),
    _command("agent show <alias>", "the alias's agent on the carrier", _agents.agent_show),
    _command(
        "agent rotate-key <alias>",
        "a new key for the alias (stored, not printed)",
        _agents.agent_rotate_key,
    ),
    _command("use <alias>", "act as this alias from now on", _identity.use),
    _command("whoami", "the alias commands act as", _identity.whoami, _AS),
    _command(
        "mcp",
        "serve the alias's ATP to an MCP client (stdio, or streamable HTTP on a loopback"
        " port; the mcp extra)",
        _mcp.mcp,
        f"[--http PORT] {_AS}",
    ),
    _command('send <alias-or-address> "<text>"', "send a message", _messaging.send, _AS),
    _command(
        "send", "send each message of a JSON Lines file", send_file, f"--from-file FILE {_AS}"
    ),
    _command(
        "message status <message-id>",
        "a message's deliveries and ACK",
        _messaging.message_status,
        _AS,
    ),
    _command(
        "message history <message-id>",
        "every recorded event of a message, in order",
        _audit_trail.message_history,
        _AS,
    ),
    _command(
        "message replay <message-id>",
        "hand a message you received out once more",
        _replays.message_replay,
        f"[--target webhook|inbox] {_AS}",
    ),
    _command(
        "auditor-key create <file>",
        "a read-only auditor key, written to a new file",
        _audit_trail.auditor_key_create,
    ),
    _command(
        "events",
        "the audit records you may see (--follow: as they come)",
        _audit_trail.events,
        f"[--follow] [--type T] [--message ID] [--session ID] [--agent ID] {_PAGE}",
    ),
    _command(
        "inbox",
        "claim the next message (--wait: up to N s for one; --max: up to N at once; "
        "--follow: each as it arrives)",
        _messaging.inbox,
        f"[--wait N] [--lease N] [--max N] [--follow [--credit N]] {_AS}",
    ),
    _command(
        "lease extend <delivery-id>",
        "add N s (default 60) to a claimed message's lease",
        _messaging.extend,
        f"[--lease N] {_AS}",
    ),
    _command(
        "ack <delivery-id>",
        "acknowledge a claimed message",
        _messaging.ack,
        f'--accepted|--completed|--failed|--rejected ["<text>"] {_AS}',
    ),
    _command("ack", "record the ACKs of a JSON Lines file", ack_file, f"--from-file FILE {_AS}"),
    _command(
        'session open <alias-or-address> "<text>"',
        "ask for an ordered session",
        _sessions.open_session,
        _AS,
    ),
    _command(
        "session accept <session-id>", "accept a session you were asked for", _sessions.accept, _AS
    ),
    _command('session reject <session-id> "<reason>"', "decline it", _sessions.reject, _AS),
    _command('session send <session-id> "<text>"', "send the next turn", _sessions.send, _AS),
    _command("session close <session-id>", "end an open session", _sessions.close, _AS),
    _command("session show <session-id>", "the transcript", _sessions.show, _AS),
    _command(
        "session watch <session-id>", "follow the transcript live until it ends", _watch.watch, _AS
    ),
    _command(
        "session list",
        "your sessions, oldest first",
        _sessions.list_sessions,
        f"[--status S] {_PAGE}",
    ),
    _command(
        "webhook set <url>",
        "push messages to this URL (secret stored, not printed)",
        _webhook.webhook_set,
        f"[--auth-scheme SCHEME] {_AS}",
    ),
    _command(
        "webhook show",
        "the endpoint set from here and its signing keys",
        _webhook.webhook_show,
        _AS,
    ),
    _command(
        "webhook rotate-signing-key",
        "a new signing key; the old one signs N s more",
        _webhook.webhook_rotate_signing_key,
        f"[--overlap N] {_AS}",
    ),
    _command(
        "policy allow",
        "trust messages from a sender",
        _policy.allow,
        f"--agent <alias-or-id>|--account <account-id> {_AS}",
    ),
    _command(
        "policy block",
        "refuse messages from a sender",
        _policy.block,
        f"--agent <alias-or-id>|--account <account-id> {_AS}",
    ),
    _command(
        "replay start",
        "hand out again the messages you received that match",
        _replays.start,
        "[--target webhook|inbox] [--since T] [--until T] [--status S]..."
        f" [--sender <alias-or-id>] [--session ID] [--rate N] [--name NAME] {_AS}",
    ),
    _command(
        "replay show <replay-id>",
        "a replay's progress (--follow: until it ends)",
        _replays.show,
        f"[--follow] {_AS}",
    ),
    _command(
        "replay cancel <replay-id>", "stop a replay before its next message", _replays.cancel, _AS
    ),
    _command(
        "dead-letters",
        "messages whose webhook delivery failed for good",
        _dead_letters.list_dead_letters,
        f"[list] {_PAGE}",
    ),
    _command("dead-letters list", "", _dead_letters.list_dead_letters, _PAGE, listed=False),
    _command(
        "dead-letters redrive <message-id>", "push a dead letter again", _dead_letters.redrive, _AS
    ),
    _command(
        "dead-letters release <message-id>",
        "move a dead letter to the inbox",
        _dead_letters.release,
        _AS,
    ),
    _command(
        "schema register <schema-id> <file>",
        "register a JSON Schema under an AMTP schema id (the account's key)",
        _amtp.schema_register,
        "[--force]",
    ),
    _command("schema list", "the account's AMTP schemas", _amtp.schema_list, "[--pattern P]"),
    _command("schema show <schema-id>", "a schema's definition", _amtp.schema_show),
    _command("schema delete <schema-id>", "remove a schema", _amtp.schema_delete),
    _command(
        "schema validate <schema-id> <file>",
        "check a JSON payload against a schema (exit 1 if it breaks it)",
        _amtp.schema_validate,
    ),
    _command(
        "workflow show <workflow-id>",
        "an AMTP workflow you started: its status and participants",
        _amtp.workflow_show,
        _AS,
    ),
    _command("health", "whether the carrier answers", _health.health, "[--server URL]"),
    _command("ready", "whether it can serve (exit 1 if not)", _health.ready, "[--server URL]"),
    _command(
        "demo",
        "run the demo flow against a server (nothing is saved)",
        _demo.demo,
        "[--server URL] [--delay SECONDS]",
    ),
    _command("serve", "run the carrier (configured by ATP_* variables)", _operate.serve),
    _command("migrate", "apply the read models' migrations to the store", _operate.migrate),
    _command(
        "projections rebuild",
        "rebuild the read models from the ledger",
        _operate.rebuild_projections,
    ),
    _command(
        "audit verify",
        "check the ledger against its audit log and checkpoints",
        _audit.verify,
        "[--checkpoint FILE] [--file EXPORT] [--key VERIFIER_KEY[,...]]",
    ),
    _command(
        "audit export",
        "records with proofs, for checking offline",
        _audit.export,
        "--out FILE [--since T] [--until T] [--account ID] [--payloads]",
    ),
    _command(
        "ledger export <file>",
        "the whole ledger to a new file (backup, migration)",
        _audit.ledger_export,
    ),
    _command("ledger import <file>", "a ledger file into an empty store", _audit.ledger_import),
    _command("help", "this text", lambda: None),  # listed only: main answers it first
]
_HELP_COLUMN = 50
_SERVER_COMMANDS = {("serve",), ("migrate",), ("projections", "rebuild")}
# On the configured store (or a file), with options.
_OFFLINE_COMMANDS = {
    ("audit", "verify"),
    ("audit", "export"),
    ("ledger", "export"),
    ("ledger", "import"),
}


def _help() -> str:
    lines = [
        "usage: atp <command> [options]   (--json on any client command: JSON output)",
        "       atp --version",
        "",
    ]
    for command in (c for c in _COMMANDS if c.listed):
        usage = command.usage_line()
        if len(usage) > _HELP_COLUMN:
            lines += [f"  {usage}", f"  {'':{_HELP_COLUMN}}  {command.summary}"]
        else:
            lines.append(f"  {usage:{_HELP_COLUMN}}  {command.summary}")
    lines += ["", "State lives in ATP_HOME (default ~/.atp). Docs: README.md, docs/cli.md."]
    return "\n".join(lines)


def _find(words: Sequence[str]) -> tuple[_Command, tuple[str, ...]]:
    """The command these words name, and its positionals. Commands may share words and
    differ in how many positionals they take (``send <to> <text>``, ``send --from-file``)."""
    usage = None
    for command in sorted(_COMMANDS, key=lambda c: -len(c.words)):
        if tuple(words[: len(command.words)]) == command.words:
            given = tuple(words[len(command.words) :])
            if len(given) == len(command.params):
                return command, given
            usage = usage or f"usage: {command.usage_line()}"
    raise CliError(usage or "unknown command. Run `atp help`.")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``atp`` console script; returns the exit status."""
    try:
        invocation = parse(sys.argv[1:] if argv is None else argv)
        if "--version" in invocation.flags:
            print(f"atp {__version__}")
            return 0
        if invocation.wants_help or not invocation.words:
            print(_help())
            return 0
        command, params = _find(invocation.words)
        if command.words in _SERVER_COMMANDS:
            command.run()
            return 0
        if command.words in _OFFLINE_COMMANDS:
            command.run(invocation, *params)
            return 0
        ctx = Context(invocation, CliSettings.from_env(), Output(invocation.json))
        command.run(ctx, *params)
    except CliError as exc:
        return _fail(str(exc))
    except AtpError as exc:  # the server's answer, as "server returned <status> <code>: ..."
        return _fail(str(exc))
    except httpx.TransportError as exc:
        return _fail(f"could not reach the server ({type(exc).__name__}: {exc})")
    except BrokenPipeError:  # the reader left (atp ... | head): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    return 0


def _fail(reason: str) -> int:
    print(f"error: {reason}", file=sys.stderr)
    return 1
