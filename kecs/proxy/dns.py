"""The namespace's DNS, captured: AWS names resolve (even offline), others go upstream.

AWS names get an address that is never loopback, so the TCP capture takes the
connection; AAAA queries for them get no answer, so nothing reaches AWS over IPv6.
"""

from __future__ import annotations

import asyncio
import logging

from dnslib import QTYPE, RCODE, RR, A, DNSRecord  # type: ignore[import-untyped]

from kecs.proxy.aws import is_aws_host

LOG = logging.getLogger("kecs.proxy")
# RFC 2544's benchmark range: not loopback (captured), never a real destination.
AWS_ADDRESS = "198.18.0.1"
TTL = 30


def answer_locally(query: bytes) -> bytes | None:
    """The reply for an AWS name, or None when the query belongs upstream. No I/O."""
    try:
        record = DNSRecord.parse(query)
    except Exception:  # dnslib raises several types on garbage
        return None
    if not record.questions:
        return None
    question = record.questions[0]
    name = str(question.qname).rstrip(".")
    if not is_aws_host(name):
        return None
    reply = record.reply()
    if question.qtype == QTYPE.A or question.qtype in (QTYPE.ANY, QTYPE.CNAME):
        reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(AWS_ADDRESS), ttl=TTL))
    # AAAA and the rest: NOERROR with no answer, so clients fall back to IPv4.
    return bytes(reply.pack())


def servfail(query: bytes) -> bytes | None:
    try:
        reply = DNSRecord.parse(query).reply()
    except Exception:
        return None
    reply.header.rcode = RCODE.SERVFAIL
    return bytes(reply.pack())


class DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, upstream: tuple[str, int] | None) -> None:
        self.upstream = upstream
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await resolve(data, self.upstream)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def resolve(query: bytes, upstream: tuple[str, int] | None) -> bytes | None:
    """The reply to one query: local for AWS names, else from upstream (SERVFAIL when it fails)."""
    local = answer_locally(query)
    if local is not None or upstream is None:
        return local if local is not None else servfail(query)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()

    class Once(asyncio.DatagramProtocol):
        def datagram_received(self, reply: bytes, _: tuple[str, int]) -> None:
            if not done.done():
                done.set_result(reply)

    transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=upstream)
    try:
        transport.sendto(query)
        return await asyncio.wait_for(done, 5)
    except (asyncio.TimeoutError, OSError) as exc:
        LOG.info("DNS upstream %s: %s", upstream, exc)
        return servfail(query)
    finally:
        transport.close()


async def serve_tcp(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upstream: tuple[str, int] | None
) -> None:
    """DNS over TCP (RFC 7766 framing: a two-byte length before each message)."""
    try:
        while True:
            size = int.from_bytes(await reader.readexactly(2), "big")
            reply = await resolve(await reader.readexactly(size), upstream)
            if reply is None:
                return
            writer.write(len(reply).to_bytes(2, "big") + reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()
