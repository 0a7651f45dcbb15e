"""``GET /metrics``: the Prometheus text format (OpenMetrics if the scraper asks).

Protection, as operators expect it: with ``ATP_METRICS_TOKEN`` set, a scrape must send
``Authorization: Bearer <token>`` (compared in constant time; anything else is the
contract's 401). Without it, ``/metrics`` is open only while the carrier listens on
loopback (the default, ``127.0.0.1``), where only the machine's own users reach it;
listening on any other address without a token, ``/metrics`` answers 404 and the
carrier says so at start. Each app has its own registry (tests run many carriers in
one process), holding the carrier's collector and the process collector (CPU,
memory, open descriptors), all read at scrape time.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from quart import Blueprint, Response, current_app, request

from atp.actors import Carrier
from atp.api._access_log import HttpStats
from atp.api._collector import CarrierCollector
from atp.api._requests import bearer_token, carrier
from atp.errors import NotFound, Unauthorized
from atp.settings import Settings

__all__ = ["blueprint", "metrics_open", "registry"]

blueprint = Blueprint("metrics", __name__)
log = logging.getLogger(__name__)


def metrics_open(settings: Settings) -> bool:
    """Whether ``/metrics`` is served without a token: only on a loopback address."""
    host = settings.bind.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def registry(rt: Carrier, http: HttpStats) -> CollectorRegistry:
    """A registry of this carrier's metrics (read at each scrape)."""
    settings = rt.settings
    if settings.metrics_token is None and not metrics_open(settings):
        log.warning(
            "GET /metrics is off: ATP_BIND is not a loopback address and"
            " ATP_METRICS_TOKEN is not set"
        )
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(CarrierCollector(rt, http))
    ProcessCollector(registry=collectors)
    return collectors


@blueprint.get("/metrics")
async def metrics() -> Response:
    """Every metric, as text (see docs/operations.md for the list).

    Raises:
        Unauthorized: a token is configured and the request does not carry it.
        NotFound: no token is configured and the carrier listens beyond loopback.
    """
    settings = carrier().settings
    token = settings.metrics_token
    if token is None:
        if not metrics_open(settings):
            raise NotFound()
    else:
        given = bearer_token() or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(current_app.config["ATP_METRICS"])
    return Response(body, 200, content_type=content_type)
