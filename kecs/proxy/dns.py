"""The namespace's DNS, captured: AWS names resolve (even offline), others go upstream.

AWS names get an address that is never loopback, so the TCP capture takes the
connection; AAAA queries for them get no answer, so nothing reaches AWS over IPv6.
Service discovery names (`orders.shop.local`, as Cloud Map would answer them on ECS) are
asked upstream as the compose service's own name and answered under the name asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, A, DNSLabel, DNSRecord  # type: ignore[import-untyped]

from kecs.proxy.aws import is_aws_host
from kecs.proxy.dnsmsg import parse_query
from kecs.proxy.zones import PrivateZones

LOG = logging.getLogger("kecs.proxy")
# RFC 2544's benchmark range: not loopback (captured), never a real destination.
AWS_ADDRESS = "198.18.0.1"
TTL = 30
DISCOVERY_TTL = 10  # Cloud Map's usual record TTL: a replaced container is found again soon


def answer_locally(query: bytes) -> bytes | None:
    """The reply for an AWS name, or None when the query belongs upstream. No I/O."""
    record = parse_query(query)
    if record is None:
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


@dataclass(frozen=True)
class Discovery:
    """A Cloud Map namespace's names: `<name>.<namespace>` is the compose service `names[name]`."""

    namespace: str
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> Discovery:
        data = json.loads(text)
        return cls(
            str(data["namespace"]).lower().rstrip("."),
            {str(k).lower(): str(v) for k, v in data["names"].items()},
        )

    def to_json(self) -> str:
        return json.dumps(
            {"namespace": self.namespace, "names": self.names}, sort_keys=True, separators=(",", ":")
        )

    def service_for(self, name: str) -> str | None:
        name = name.lower().rstrip(".")
        suffix = "." + self.namespace
        if not name.endswith(suffix):
            return None
        return self.names.get(name[: -len(suffix)])


def to_service(query: bytes, discovery: Discovery | None) -> tuple[bytes, str] | None:
    """The query asked for the compose service a discovery name stands for, and the name
    asked (to put back in the reply); None when it is not such a name. No I/O."""
    record = parse_query(query) if discovery is not None else None
    if record is None or discovery is None:
        return None
    asked = str(record.questions[0].qname)
    service = discovery.service_for(asked)
    if service is None:
        return None
    record.questions[0].qname = DNSLabel(service)
    return bytes(record.pack()), asked


def as_asked(reply: bytes, asked: str, ttl: int = DISCOVERY_TTL) -> bytes:
    """The upstream reply for the service, under the discovery name the client asked."""
    try:
        record = DNSRecord.parse(reply)
    except Exception:
        return reply
    label = DNSLabel(asked)
    for question in record.questions:
        question.qname = label
    for answer in record.rr:
        answer.rname = label
        answer.ttl = min(answer.ttl, ttl)
    return bytes(record.pack())


def servfail(query: bytes) -> bytes | None:
    try:
        reply = DNSRecord.parse(query).reply()
    except Exception:
        return None
    reply.header.rcode = RCODE.SERVFAIL
    return bytes(reply.pack())


class DnsProtocol(asyncio.DatagramProtocol):
    def __init__(
        self,
        upstream: tuple[str, int] | None,
        discovery: Discovery | None = None,
        zones: PrivateZones | None = None,
    ) -> None:
        self.upstream = upstream
        self.discovery = discovery
        self.zones = zones
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await resolve(data, self.upstream, self.discovery, self.zones)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


async def resolve(
    query: bytes,
    upstream: tuple[str, int] | None,
    discovery: Discovery | None = None,
    zones: PrivateZones | None = None,
) -> bytes | None:
    """The reply to one query: local for AWS names, from the emulator's private hosted
    zones, a discovery name as its service, else from upstream (SERVFAIL when it fails)."""
    local = answer_locally(query)
    if local is None and zones is not None:
        local = await asyncio.get_running_loop().run_in_executor(None, zones.answer_or_none, query)
    if local is not None or upstream is None:
        return local if local is not None else servfail(query)
    renamed = to_service(query, discovery)
    if renamed is not None:
        reply = await _upstream(renamed[0], upstream)
        return as_asked(reply, renamed[1]) if reply is not None else servfail(query)
    reply = await _upstream(query, upstream)
    return reply if reply is not None else servfail(query)


async def _upstream(query: bytes, upstream: tuple[str, int]) -> bytes | None:
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
        return None
    finally:
        transport.close()


async def serve_tcp(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    upstream: tuple[str, int] | None,
    discovery: Discovery | None = None,
    zones: PrivateZones | None = None,
) -> None:
    """DNS over TCP (RFC 7766 framing: a two-byte length before each message)."""
    try:
        while True:
            size = int.from_bytes(await reader.readexactly(2), "big")
            reply = await resolve(await reader.readexactly(size), upstream, discovery, zones)
            if reply is None:
                return
            writer.write(len(reply).to_bytes(2, "big") + reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()
