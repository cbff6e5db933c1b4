"""Forward HTTP/1.1 from a captured client to the emulator, one h11 connection per side.

Requests and responses stream through event by event (bodies are never buffered
whole); Host and Authorization pass as sent, but for the legacy S3 host forms the
emulator misroutes; `Expect: 100-continue` works because the emulator's 100 response
is relayed as it comes. When the emulator cannot be reached the client gets an
AWS-style 503 naming it, and the next request tries again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import ssl
from collections.abc import Callable
from xml.sax.saxutils import escape

import h11

from kecs.proxy.aws import rewrite_legacy_s3
from kecs.proxy.routing import Routes, Upstream, request_service

LOG = logging.getLogger("kecs.proxy")
READ_SIZE = 256 * 1024
CONNECT_TIMEOUT = 5.0
MAX_HEAD = 64 * 1024


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

    async def next_event(self) -> object:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(READ_SIZE)
            self.conn.receive_data(data)

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


def error_response(request: h11.Request, message: str) -> tuple[h11.Response, bytes]:
    """A 503 shaped as the calling SDK parses errors: JSON for X-Amz-Target APIs, else XML."""
    headers = {name.lower(): value for name, value in request.headers}
    if b"x-amz-target" in headers or b"json" in headers.get(b"content-type", b""):
        body = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
        content_type = b"application/x-amz-json-1.0"
    else:
        body = (
            "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>kecs-proxy</RequestId></ErrorResponse>"
        ).encode()
        content_type = b"text/xml"
    response = h11.Response(
        status_code=503,
        headers=[
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"x-amzn-requestid", b"kecs-proxy"),
            (b"connection", b"close"),
        ],
    )
    return response, body


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
    seen: Callable[[str], None] | None = None,
) -> None:
    """Serve one captured client connection until either side closes.

    Each request goes to the emulator its AWS service is routed to; the upstream
    connection is kept while consecutive requests go to the same one.
    """
    client = _Side(h11.SERVER, reader, writer)
    emulator: _Side | None = None
    current: Upstream | None = None
    try:
        while True:
            try:
                event = await client.next_event()
            except h11.RemoteProtocolError as exc:
                LOG.info("%s: malformed HTTP from the client: %s", label, exc)
                return
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return
            if not isinstance(event, h11.Request):
                return
            request, host = _rewrite_host(event)
            upstream = routes.pick(request.headers.raw_items(), request.target, host or label)
            if seen is not None:
                service = request_service(request.headers.raw_items(), request.target, host or label)
                if service:
                    seen(service)
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
            body_task = None
            if not await _relay_buffered_body(client, emulator):
                body_task = asyncio.ensure_future(_pump_body(client, emulator))
            try:
                await _pump_response(emulator, client)
            finally:
                if body_task is not None and not body_task.done():
                    body_task.cancel()  # the emulator answered before the body came (an early error)
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
        asyncio.IncompleteReadError,
        h11.LocalProtocolError,
        h11.RemoteProtocolError,
    ) as exc:
        LOG.info("%s: connection ended: %s", label, exc)
    finally:
        if emulator is not None:
            emulator.close()
        client.close()


async def _relay_buffered_body(client: _Side, emulator: _Side) -> bool:
    """Send the body events h11 already holds, without reading; True when the request is whole.

    Done before the response is awaited, so a response that is already buffered cannot
    overtake the end of a request that had fully arrived (which would drop keep-alive)."""
    while True:
        event = client.conn.next_event()
        if event is h11.NEED_DATA:
            return False
        if isinstance(event, (h11.Data, h11.EndOfMessage)):
            await emulator.send(event)
        if not isinstance(event, h11.Data):
            return True


async def _pump_body(client: _Side, emulator: _Side) -> None:
    while True:
        event = await client.next_event()
        if isinstance(event, (h11.Data, h11.EndOfMessage)):
            await emulator.send(event)
        if not isinstance(event, h11.Data):
            return


async def _pump_response(emulator: _Side, client: _Side) -> None:
    while True:
        event = await emulator.next_event()
        if isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("the emulator closed the connection mid-response")
        await client.send(event)  # type: ignore[arg-type]
        if isinstance(event, h11.EndOfMessage):
            return
