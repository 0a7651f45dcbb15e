"""``keepalive_app.py`` with one change: the app's last ``send`` of each answer runs
shielded from cancellation. With it, all four symptoms go (the diagnosis).

    python keepalive_app_shielded.py   # serves http://127.0.0.1:8765
"""

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from keepalive_app import app

inner = app.asgi_app


async def shield_last_send(scope, receive, send):
    async def send_shielded(message):
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            with trio.CancelScope(shield=True):
                await send(message)
        else:
            await send(message)

    await inner(scope, receive, send_shielded)


app.asgi_app = shield_last_send

if __name__ == "__main__":
    config = Config()
    config.bind = ["127.0.0.1:8765"]
    trio.run(serve, app, config)
