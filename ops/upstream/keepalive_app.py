"""A ten-line Quart-Trio app on Hypercorn's trio worker: the reproduction's server.

python keepalive_app.py            # serves http://127.0.0.1:8765
"""

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

app = QuartTrio(__name__)


@app.route("/", methods=["GET", "POST"])
async def refuse() -> tuple[str, int]:
    return "answered without reading the body\n", 422


if __name__ == "__main__":
    config = Config()
    config.bind = ["127.0.0.1:8765"]
    trio.run(serve, app, config)
