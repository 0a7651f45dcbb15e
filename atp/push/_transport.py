"""Delivery-time HTTP for webhook pushes: one POST, pinned to an address that was checked.

Registration only checks a URL's spelling (``_urls.py``); a DNS name that passed can
later resolve to 127.0.0.1 or a cloud metadata address (DNS rebinding). So every new TCP
connection re-runs the literal check, resolves the host itself (A and AAAA), refuses
unless *every* address is public, and connects to the first one (contract §5.2). The
address that was judged is the address that is used: there is no second lookup for an
attacker's DNS server to answer differently. The request keeps its original URL, so the
``Host`` header, the TLS SNI and the certificate check all name the original host.

httpx's ``AsyncClient`` is deliberately not used: it would follow redirects on request,
keep cookies across receivers, read ``.netrc`` and proxy variables, and log every
request's full URL (query string included) at INFO. ``WebhookClient`` hands an
``httpx.Request`` straight to its own transport, which does none of that. Exceptions
never leave ``post``: an attempt ends in a ``PostOutcome`` whose ``error`` is a short
class name, so no URL, header, secret or body can reach a log line through it.
"""

from __future__ import annotations

import math
import socket
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterable, Iterable, Mapping
from ipaddress import ip_address

import httpcore
import httpx
import trio

from atp.errors import InvalidWebhookUrl
from atp.push._outcome import PostOutcome, classify, failed, parse_retry_after
from atp.webhooks import check_webhook_url, is_public_address

__all__ = ["MAX_RESPONSE_BYTES", "WebhookClient"]

# A receiver's body is read (so the connection can be reused, and an A2A recipient's
# answer recorded) up to this much; the rest is dropped.
MAX_RESPONSE_BYTES = 64 * 1024
_MAX_POOLS = 100  # origins whose connections are kept; idle ones beyond are closed
_PER_ORIGIN = 10  # concurrent requests, so connections, per origin (limiter and pool)
# Below the 5 s idle timeout of common servers (Node.js), so a pooled connection is
# rarely one the receiver is closing just as a request goes out on it.
_KEEPALIVE_EXPIRY = 4.0
_NO_SUCH_HOST = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})
# Every exception httpcore raises for a failed exchange; anything else is a bug.
_EXCHANGE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
    httpcore.ProxyError,
)


class WebhookClient:
    """Posts webhook bodies, one attempt per call, over one small pool per origin.

    Connections are kept alive and reused per origin (scheme, host, port). Redirects are
    never followed: a 302 is an outcome with status 302. Each attempt has a connect and
    a read timeout and, above them, an overall deadline, because a receiver that sends
    one byte every few seconds never trips a read timeout.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        connect_timeout: float = 10.0,
        receive_timeout: float = 10.0,
        attempt_timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Create the client; it opens no connection until the first ``post``.

        Args:
            allow_private: Let requests reach loopback, private and other non-public
                addresses. Only for development and tests (``ATP_WEBHOOK_ALLOW_PRIVATE``).
            connect_timeout: Seconds for resolving, connecting and the TLS handshake.
            receive_timeout: Seconds any single read or write may wait.
            attempt_timeout: Seconds the whole attempt may take, response body included.
            ssl_context: Trust settings for https endpoints; certifi's CAs by default.
        """
        self._allow_private = allow_private
        self._attempt_timeout = attempt_timeout
        timeouts = httpx.Timeout(
            connect=connect_timeout, read=receive_timeout, write=receive_timeout, pool=None
        )
        self._extensions = {"timeout": timeouts.as_dict()}
        self._transport = _PinnedTransport(
            allow_private=allow_private,
            ssl_context=httpx.create_ssl_context() if ssl_context is None else ssl_context,
        )
        self._per_origin: dict[tuple[str, str, int | None], trio.CapacityLimiter] = {}

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostOutcome:
        """POST ``body`` to ``url`` once and report what happened; never raises for HTTP.

        Args:
            url: The endpoint as registered. It is checked again here, and its host's
                addresses are checked on every new connection.
            body: The exact bytes to send (they were signed as they are).
            headers: Request headers. ``host`` and ``content-length`` are added from the
                URL and the body; do not pass them.

        Returns:
            The status and ``Retry-After`` of the response, or the class of error that
            kept one from arriving.
        """
        try:
            checked = check_webhook_url(url, allow_private=self._allow_private)
            request = httpx.Request(
                "POST", checked, content=body, headers=headers, extensions=self._extensions
            )
        except (InvalidWebhookUrl, httpx.InvalidURL):
            # Also a URL httpx cannot parse: it can never be connected to, so retrying
            # is pointless, which is what this error class means to the dispatcher.
            return failed("unsafe_webhook_url")
        except UnicodeEncodeError:
            return failed("transport_error")  # a header value that is not ASCII
        origin = (request.url.scheme, request.url.host, request.url.port)
        limiter = self._per_origin.setdefault(origin, trio.CapacityLimiter(_PER_ORIGIN))
        try:
            with trio.move_on_after(self._attempt_timeout):
                async with limiter:
                    return await self._exchange(request)
            return failed("timeout")
        finally:
            # Forget an origin nobody is using, so the map does not grow with every URL.
            unused = limiter.borrowed_tokens == 0 and limiter.statistics().tasks_waiting == 0
            if unused and self._per_origin.get(origin) is limiter:
                del self._per_origin[origin]

    async def aclose(self) -> None:
        """Close every pooled connection; the client must not be used afterwards."""
        await self._transport.aclose()

    async def _exchange(self, request: httpx.Request) -> PostOutcome:
        try:
            response = await self._transport.handle_async_request(request)
        except _Unconnectable as exc:
            return failed(exc.error)
        except _EXCHANGE_ERRORS as exc:
            return failed(classify(exc))
        return PostOutcome(
            status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            error=None,
            body=response.content,
        )


class _Unconnectable(Exception):
    """The target may not or cannot be connected to; ``error`` is the outcome's class.

    Raised from inside the connection pool and caught by ``WebhookClient.post``. It
    carries only the class name, never the host, so it cannot leak into a log.
    """

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


_Origin = tuple[bytes, bytes, int | None]  # scheme, host, port


class _PinnedTransport(httpx.AsyncBaseTransport):
    """httpx's transport contract over an httpcore pool whose connections are pinned.

    It also reads the response body itself, up to ``MAX_RESPONSE_BYTES``, so that the
    caller holds no open stream and the attempt's deadline covers the whole exchange.
    """

    def __init__(self, *, allow_private: bool, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        self._backend = _PinningBackend(allow_private=allow_private)
        # One small pool per origin: httpcore scans every connection of a pool for each
        # request, so one shared pool made every push pay for every endpoint's sockets.
        self._pools: OrderedDict[_Origin, httpcore.AsyncConnectionPool] = OrderedDict()

    async def _pool_for(self, url: httpx.URL) -> httpcore.AsyncConnectionPool:
        origin = (url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(origin)
        if pool is None:
            pool = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl_context,
                max_connections=_PER_ORIGIN,
                max_keepalive_connections=_PER_ORIGIN,
                keepalive_expiry=_KEEPALIVE_EXPIRY,
                http1=True,
                http2=False,
                retries=0,
                network_backend=self._backend,
            )
            self._pools[origin] = pool
            await self._close_idle_pools()
        self._pools.move_to_end(origin)
        return pool

    async def _close_idle_pools(self) -> None:
        """Past ``_MAX_POOLS`` origins, close the least recently used idle ones."""
        for origin in list(self._pools)[: max(0, len(self._pools) - _MAX_POOLS)]:
            pool = self._pools[origin]
            if all(connection.is_idle() for connection in pool.connections):
                del self._pools[origin]
                await pool.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("webhook requests carry an async byte stream")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        pool = await self._pool_for(request.url)
        response = await pool.handle_async_request(core_request)
        try:
            body = await _read_capped(response)
        finally:
            # Unread bytes make httpcore close the connection instead of pooling it.
            await response.aclose()
        return httpx.Response(status_code=response.status, headers=response.headers, content=body)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.aclose()


async def _read_capped(response: httpcore.Response) -> bytes:
    """Read at most ``MAX_RESPONSE_BYTES`` of a response body.

    At the limit the response is closed *under* the running iteration, so the next read
    fails and httpcore's chain of body generators ends with a ``ReadError``. Leaving the
    loop instead would abandon the inner generators half-way, for trio to finalize
    later with a ResourceWarning.
    """
    if not isinstance(response.stream, AsyncIterable):
        raise TypeError("an async pool answers with an async stream")
    body = bytearray()
    try:
        async for chunk in response.stream:
            if len(body) < MAX_RESPONSE_BYTES:
                body += chunk[: MAX_RESPONSE_BYTES - len(body)]
                if len(body) == MAX_RESPONSE_BYTES:
                    await response.aclose()
    except httpcore.ReadError:
        if len(body) < MAX_RESPONSE_BYTES:
            raise
    return bytes(body)


class _PinningBackend(httpcore.AsyncNetworkBackend):
    """Trio sockets, but every TCP connection goes to a resolved address that was judged.

    httpcore calls ``connect_tcp`` with the URL's host for each new connection (never
    for a reused one) and afterwards starts TLS with that same host as the server name,
    so swapping the host for its checked address here is all pinning needs.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._trio = httpcore.TrioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self._check_literal(host, port)
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                address = await self._resolve(host, port)
                return await self._trio.connect_tcp(
                    address, port, local_address=local_address, socket_options=socket_options
                )
        except trio.TooSlowError:
            raise httpcore.ConnectTimeout("connect timed out") from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise _Unconnectable("unsafe_webhook_url")  # webhooks go over TCP only

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    def _check_literal(self, host: str, port: int) -> None:
        authority = f"[{host}]" if ":" in host else host
        try:
            check_webhook_url(f"http://{authority}:{port}/", allow_private=self._allow_private)
        except InvalidWebhookUrl:
            raise _Unconnectable("unsafe_webhook_url") from None

    async def _resolve(self, host: str, port: int) -> str:
        """The first address ``host`` resolves to, if every one of them may be used."""
        try:
            infos = await trio.socket.getaddrinfo(host, port, family=0, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            if exc.errno in _NO_SUCH_HOST:
                raise _Unconnectable("nxdomain") from None
            raise httpcore.ConnectError("name resolution failed") from None
        addresses: list[str] = []
        for info in infos:
            address = info[4][0]
            if not isinstance(address, str) or not self._may_connect(address):
                raise _Unconnectable("unsafe_webhook_url")  # one bad address spoils all
            addresses.append(address)
        if not addresses:
            raise _Unconnectable("nxdomain")
        return addresses[0]

    def _may_connect(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return self._allow_private or is_public_address(parsed)
