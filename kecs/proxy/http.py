"""Forward HTTP/1.1 from a captured client to the emulator, one h11 connection per side.

Requests and responses stream through event by event (bodies are never buffered
whole); Host and Authorization pass as sent, but for the legacy S3 host forms the
emulator misroutes; `Expect: 100-continue` works because the emulator's 100 response
is relayed as it comes. When the emulator cannot be reached the client gets an
AWS-style 503 naming it, and the next request tries again. Each exchange is handed to
an observer (kecs.proxy.observe describes it) once its response has gone through.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable
from xml.sax.saxutils import escape

import h11

from kecs import contract
from kecs.proxy.aws import rewrite_legacy_s3
from kecs.proxy.observe import BODY_HEAD, Exchange
from kecs.proxy.routing import Routes, Upstream

LOG = logging.getLogger("kecs.proxy")
READ_SIZE = 256 * 1024
CONNECT_TIMEOUT = 5.0
MAX_HEAD = 64 * 1024
# Where a peer can stall, it is given up on (each a bound on what an idle or hostile
# client holds: a connection, its buffers and, for TLS, ~280 KB of state).
REQUEST_TIMEOUT = 120.0  # from the end of one exchange (or the handshake) to a whole request head
BODY_STALL_TIMEOUT = 60.0  # no byte of a request body for this long
# A body must also keep an average pace: after BODY_GRACE seconds, at least BODY_MIN_RATE
# bytes a second (one byte every few seconds never trips the stall timeout alone).
BODY_GRACE = 30.0
BODY_MIN_RATE = 1024
UPSTREAM_TIMEOUT = 300.0  # the emulator sends nothing for this long: a 504 if nothing was answered
LINGER_BYTES = 4 * 1024 * 1024  # after a refusal, what is read and dropped so the answer is seen
LINGER_TIMEOUT = 5.0


class _Side:
    """One end: its h11 state machine over a pair of asyncio streams."""

    def __init__(
        self,
        role: type[h11.CLIENT] | type[h11.SERVER],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:  # type: ignore[valid-type]
        self.conn = h11.Connection(role, max_incomplete_event_size=MAX_HEAD)
        self.reader = reader
        self.writer = writer

    async def next_event(self, stall: float | None = None, deadline: float | None = None) -> object:
        """The next h11 event; TimeoutError when no byte comes for `stall` seconds or the
        event is not whole by `deadline` (the loop's clock)."""
        loop = asyncio.get_running_loop()
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            wait = stall
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError("the peer stalled")
                wait = left if wait is None else min(wait, left)
            try:
                data = await asyncio.wait_for(self.reader.read(READ_SIZE), wait)
            except asyncio.TimeoutError:
                raise TimeoutError("the peer stalled") from None
            self.conn.receive_data(data)

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


def error_response(
    request: h11.Request, message: str, status: int = 503, code: str = "ServiceUnavailable"
) -> tuple[h11.Response, bytes]:
    """An error (503 unless told) shaped as the calling SDK parses errors: JSON for
    X-Amz-Target APIs, else XML. SDKs retry 503 and 504."""
    headers = {name.lower(): value for name, value in request.headers}
    if b"x-amz-target" in headers or b"json" in headers.get(b"content-type", b""):
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = b"application/x-amz-json-1.0"
    else:
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>kecs-proxy</RequestId></ErrorResponse>"
        ).encode()
        content_type = b"text/xml"
    response = h11.Response(
        status_code=status,
        headers=[
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"x-amzn-requestid", b"kecs-proxy"),
            (b"connection", b"close"),
        ],
    )
    return response, body


def bad_request(message: str, status: int = 400) -> tuple[h11.Response, bytes]:
    body = f"kecs proxy: {message}\n".encode()
    response = h11.Response(
        status_code=status,
        headers=[
            (b"content-type", b"text/plain"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    )
    return response, body


def framing_problem(request: h11.Request) -> str | None:
    """Why a request must not be forwarded as it is (RFC 9112 6.1: Content-Length with
    Transfer-Encoding is a smuggling vector a proxy must not pass on), else None."""
    names = [name.lower() for name, _ in request.headers]
    if b"transfer-encoding" in names and b"content-length" in names:
        return "Content-Length and Transfer-Encoding together"
    if names.count(b"content-length") > 1:
        return "more than one Content-Length"
    return None


def take_internal(request: h11.Request, token: str | None) -> tuple[h11.Request, bool]:
    """The request without kecs's internal header, and whether that header carried the
    project's internal token (kecs's own clients: kecs.contract.INTERNAL_HEADER)."""
    name = contract.INTERNAL_HEADER.encode()
    headers = list(request.headers.raw_items())
    kept = [(k, v) for k, v in headers if k.lower() != name]
    if len(kept) == len(headers):
        return request, False
    presented = [v for k, v in headers if k.lower() == name]
    proven = token is not None and len(presented) == 1 and hmac.compare_digest(presented[0], token.encode())
    stripped = h11.Request(
        method=request.method, target=request.target, headers=kept, http_version=request.http_version
    )
    return stripped, proven


def for_upstream(request: h11.Request, host: str) -> h11.Request:
    """The request as HTTP/1.1 to the emulator: an HTTP/1.0 client's request gets the
    Host header HTTP/1.1 requires (its SNI or captured host), nothing else changes."""
    if request.http_version == b"1.1":
        return request
    headers = list(request.headers.raw_items())
    if not any(name.lower() == b"host" for name, _ in headers):
        headers.insert(0, (b"Host", host.encode("latin-1")))
    return h11.Request(method=request.method, target=request.target, headers=headers, http_version=b"1.1")


def head_problem(exc: h11.RemoteProtocolError, unread: bytes) -> tuple[int, str]:
    """The status and words for a request head h11 refused: 414 when the request line
    alone is over the limit, 431 when the header fields are, else 400."""
    if exc.error_status_hint == 431 or len(unread) >= MAX_HEAD:
        if b"\n" not in unread[:MAX_HEAD]:
            return 414, f"the request line is longer than {MAX_HEAD} bytes"
        return 431, f"the request head is larger than {MAX_HEAD} bytes"
    return 400, f"malformed request: {exc}"


async def _refuse(client: _Side, response: h11.Response, body: bytes) -> None:
    """Answer an error if the connection still allows a response, then give up on it.
    What the client is still sending is read and dropped for a moment (a lingering
    close): closing on unread data would reset the connection before it reads the answer."""
    if client.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    try:
        await client.send(response)
        await client.send(h11.Data(data=body))
        await client.send(h11.EndOfMessage())
        if client.writer.can_write_eof():
            client.writer.write_eof()
        loop = asyncio.get_running_loop()
        deadline, dropped = loop.time() + LINGER_TIMEOUT, 0
        while dropped < LINGER_BYTES and (left := deadline - loop.time()) > 0:
            chunk = await asyncio.wait_for(client.reader.read(READ_SIZE), left)
            if not chunk:
                break
            dropped += len(chunk)
    except (ConnectionError, h11.LocalProtocolError, asyncio.TimeoutError, OSError):
        pass


def _rewrite_host(request: h11.Request) -> tuple[h11.Request, str | None]:
    """The request, its legacy dash-form S3 Host rewritten to the dot form, and its Host."""
    headers = list(request.headers.raw_items())
    for index, (name, value) in enumerate(headers):
        if name.lower() != b"host":
            continue
        host, sep, port = value.decode("latin-1").partition(":")
        better = rewrite_legacy_s3(host)
        if not better:
            return request, host + sep + port
        headers[index] = (name, (better + sep + port).encode())
        rewritten = h11.Request(
            method=request.method, target=request.target, headers=headers, http_version=request.http_version
        )
        return rewritten, better + sep + port
    return request, None


@functools.cache
def _emulator_tls() -> ssl.SSLContext:
    """TLS to the emulator inside the compose network: it is there so the emulator sees
    https (LocalStack builds SQS queue URLs with the scheme of the request it got), not
    for secrecy. Its certificate is its own self-signed one: not verified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


async def _connect(upstream: Upstream) -> _Side:
    context = _emulator_tls() if upstream.tls else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            upstream.host, upstream.port, limit=READ_SIZE, ssl=context,
            server_hostname=upstream.host if context else None,
        ),
        CONNECT_TIMEOUT,
    )  # fmt: skip
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return _Side(h11.CLIENT, reader, writer)


async def forward(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    routes: Routes,
    label: str,
    observe: Callable[[Exchange], None] | None = None,
    internal_token: str | None = None,
) -> None:
    """Serve one captured client connection until either side closes.

    Each request goes to the emulator its AWS service is routed to; the upstream
    connection is kept while consecutive requests go to the same one.
    """
    client = _Side(h11.SERVER, reader, writer)
    emulator: _Side | None = None
    current: Upstream | None = None
    loop = asyncio.get_running_loop()
    try:
        while True:
            try:
                event = await client.next_event(deadline=loop.time() + REQUEST_TIMEOUT)
            except h11.RemoteProtocolError as exc:
                code, why = head_problem(exc, client.conn.trailing_data[0])
                LOG.info("%s: refused the request head (%d): %s", label, code, why)
                await _refuse(client, *bad_request(why, code))
                return
            except TimeoutError:
                LOG.info("%s: no whole request within %.0f s; closing", label, REQUEST_TIMEOUT)
                return
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return
            if not isinstance(event, h11.Request):
                return
            problem = framing_problem(event)
            if problem:
                LOG.info("%s: refused: %s", label, problem)
                await _refuse(client, *bad_request(problem))
                return
            event, internal = take_internal(event, internal_token)
            request, host = _rewrite_host(event)
            request = for_upstream(request, host or label)
            upstream = routes.pick(request.headers.raw_items(), request.target, host or label)
            started = time.time()
            head = _BodyHead(_wants_body_head(request))
            if emulator is not None and upstream != current:
                emulator.close()
                emulator = None
            if emulator is None:
                try:
                    emulator = await _connect(upstream)
                except (OSError, asyncio.TimeoutError) as exc:
                    message = (
                        f"kecs: the AWS emulator at {upstream.url} is not reachable ({exc or 'timeout'})"
                    )
                    LOG.error("%s: %s", label, message)
                    response, body = error_response(request, message)
                    await client.send(response)
                    await client.send(h11.Data(data=body))
                    await client.send(h11.EndOfMessage())
                    return
                current = upstream
            LOG.debug(
                "%s: %s %s -> %s",
                label, request.method.decode(), request.target.decode("latin-1")[:200], upstream.url,
            )  # fmt: skip
            await emulator.send(request)
            # What of the body has already arrived goes now; a task streams the rest while the
            # response is read (100-continue, early errors).
            status: list[int] = []
            try:
                if await _relay_buffered_body(client, emulator, head):
                    await _pump_response(emulator, client, status)
                else:
                    await _exchange(client, emulator, head, status)
            except UpstreamSilent:
                message = (
                    f"kecs: the AWS emulator at {upstream.url} sent nothing for {UPSTREAM_TIMEOUT:.0f} s"
                )
                LOG.error("%s: %s", label, message)
                status.append(504)
                await _refuse(client, *error_response(request, message, 504, "GatewayTimeout"))
                return
            finally:
                if observe is not None:
                    observe(
                        Exchange(
                            request.method.decode("latin-1"), request.target.decode("latin-1"), host or label,
                            tuple(request.headers.raw_items()), bytes(head.data), status[0] if status else None,
                            upstream.url, started, internal,
                        )
                    )  # fmt: skip
            if client.conn.our_state is h11.DONE and client.conn.their_state is h11.DONE:
                client.conn.start_next_cycle()
            else:
                return
            if emulator.conn.our_state is h11.DONE and emulator.conn.their_state is h11.DONE:
                emulator.conn.start_next_cycle()
            else:
                emulator.close()
                emulator = None
    except (
        ConnectionError,
        TimeoutError,
        asyncio.IncompleteReadError,
        h11.LocalProtocolError,
        h11.RemoteProtocolError,
    ) as exc:
        LOG.info("%s: connection ended: %s", label, exc)
    finally:
        if emulator is not None:
            emulator.close()
        client.close()


class _BodyHead:
    """The first bytes of a request body, kept only where they may name the operation or
    the resource (JSON and form bodies), for kecs.proxy.observe."""

    def __init__(self, wanted: bool) -> None:
        self.data = bytearray()
        self.wanted = wanted

    def add(self, event: h11.Event) -> None:
        if self.wanted and isinstance(event, h11.Data) and len(self.data) < BODY_HEAD:
            self.data += bytes(event.data)[: BODY_HEAD - len(self.data)]


def _wants_body_head(request: h11.Request) -> bool:
    for name, value in request.headers.raw_items():
        if name.lower() == b"content-type":
            return b"json" in value or b"x-www-form-urlencoded" in value
    return False


async def _relay_buffered_body(client: _Side, emulator: _Side, head: _BodyHead) -> bool:
    """Send the body events h11 already holds, without reading; True when the request is whole.

    Done before the response is awaited, so a response that is already buffered cannot
    overtake the end of a request that had fully arrived (which would drop keep-alive)."""
    while True:
        event = client.conn.next_event()
        if event is h11.NEED_DATA:
            return False
        if isinstance(event, (h11.Data, h11.EndOfMessage)):
            head.add(event)
            await emulator.send(event)
        if not isinstance(event, h11.Data):
            return True


async def _exchange(client: _Side, emulator: _Side, head: _BodyHead, status: list[int]) -> None:
    """Stream the rest of the body while the response is read. A client that goes away
    (or stalls) mid-body ends the exchange at once: the emulator, still waiting for the
    body, would otherwise hold both connections until its own timeout."""
    body = asyncio.ensure_future(_pump_body(client, emulator, head))
    response = asyncio.ensure_future(_pump_response(emulator, client, status))
    try:
        await asyncio.wait({body, response}, return_when=asyncio.FIRST_COMPLETED)
        if body.done() and body.exception() is not None:
            raise ConnectionError(f"the client's body ended early: {body.exception()}")
        await response
    finally:
        for task in (body, response):
            if not task.done():
                task.cancel()  # an early answer (an error before the body came), or a failure
        await asyncio.gather(body, response, return_exceptions=True)


def body_deadline(started: float, received: int) -> float:
    """When a request body that began at `started` and has brought `received` bytes must
    have brought more: a grace period, then time in proportion to what came."""
    return started + BODY_GRACE + received / BODY_MIN_RATE


async def _pump_body(client: _Side, emulator: _Side, head: _BodyHead) -> None:
    started, received = asyncio.get_running_loop().time(), 0
    while True:
        event = await client.next_event(stall=BODY_STALL_TIMEOUT, deadline=body_deadline(started, received))
        if isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("the client closed the connection mid-body")
        if isinstance(event, (h11.Data, h11.EndOfMessage)):
            if isinstance(event, h11.Data):
                received += len(event.data)
            head.add(event)
            await emulator.send(event)
        if not isinstance(event, h11.Data):
            return


class UpstreamSilent(Exception):
    """The emulator sent no response at all within UPSTREAM_TIMEOUT."""


async def _pump_response(emulator: _Side, client: _Side, status: list[int]) -> None:
    while True:
        try:
            event = await emulator.next_event(stall=UPSTREAM_TIMEOUT)
        except TimeoutError:
            if status or client.conn.our_state is not h11.SEND_RESPONSE:
                raise
            raise UpstreamSilent() from None
        if isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("the emulator closed the connection mid-response")
        if isinstance(event, h11.Response) and not status:
            status.append(event.status_code)
        await client.send(event)  # type: ignore[arg-type]
        if isinstance(event, h11.EndOfMessage):
            return
