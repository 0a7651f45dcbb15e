"""The client and the CLI work as the base install has them: without the server stack.

``pip install atp-carrier`` brings the client and the CLI but not Trio, Quart,
Hypercorn, eventsourcing or psycopg. A subprocess marks those packages absent
(``sys.modules[name] = None``: imports of them fail, and ``importlib.util.find_spec``
reports them missing, exactly as where they are not installed), imports every module
of ``atp.client`` and ``atp.cli``, runs ``atp --version``, ``atp help`` and ``atp
serve``, and talks to a real carrier with ``Client``, ``AsyncClient`` under asyncio
and the CLI.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import trio

SERVER_STACK = ("trio", "quart", "quart_trio", "hypercorn", "eventsourcing", "psycopg",
                "psycopg_pool")  # fmt: skip

SCRIPT = textwrap.dedent(
    """
    import sys

    SERVER_STACK = {server_stack!r}
    for name in SERVER_STACK:
        sys.modules[name] = None  # absent, as in a base install

    import contextlib, importlib, io, pkgutil

    import anyio

    import atp.cli, atp.client
    from atp.cli import main
    from atp.client import AsyncClient, Client

    for package in (atp.client, atp.cli):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        return code, out.getvalue(), err.getvalue()

    assert run("--version")[:2] == (0, "atp " + atp.__version__ + "\\n")
    code, out, _ = run("help")
    assert code == 0 and out.startswith("usage: atp") and "atp dead-letters" in out
    code, _, err = run("serve")
    assert code == 1 and "pip install 'atp-carrier[server]'" in err, err

    url = sys.argv[1]
    assert run("health", "--server", url)[:2] == (0, "Server: " + url + "\\nHealth: ok\\n")
    with Client(url) as atp_:
        account = atp_.signup("Base install")
        alpha = atp_.create_agent("alpha", token=account.api_key)

    async def talk():
        async with AsyncClient(url, token=account.api_key) as client:
            beta = await client.create_agent("beta")
            text = {{"messageId": "m1", "role": "ROLE_USER", "parts": [{{"text": "hi"}}]}}
            await client.send(beta.address, text, token=alpha.api_key)
            claim = await client.claim(token=beta.api_key)
            return claim.message.payload["parts"][0]["text"]

    assert anyio.run(talk, backend="asyncio") == "hi"
    loaded = [m for m in sys.modules if m.partition(".")[0] in SERVER_STACK and sys.modules[m]]
    assert loaded == [], loaded
    print("ok")
    """
).format(server_stack=SERVER_STACK)


@pytest.mark.parametrize("store", ["sqlite"])
async def test_the_client_and_cli_need_nothing_of_the_server_stack(base_url: str) -> None:
    done = await trio.run_process(
        [sys.executable, "-c", SCRIPT, base_url],
        capture_stdout=True, stderr=subprocess.STDOUT, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout.decode()) == (0, "ok\n")
