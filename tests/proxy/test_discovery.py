from __future__ import annotations

import asyncio

from dnslib import QTYPE, RR, A, DNSRecord

from kecs.proxy.dns import Discovery, as_asked, resolve, to_service

SHOP = Discovery("shop.local", {"orders": "orders", "pay": "billing"})


def test_discovery_names_are_asked_as_their_service_and_answered_as_asked() -> None:
    query = DNSRecord.question("Orders.Shop.Local", "A").pack()
    renamed, asked = to_service(query, SHOP)  # type: ignore[misc]
    assert str(DNSRecord.parse(renamed).q.qname) == "orders." and asked == "Orders.Shop.Local."
    pay = to_service(DNSRecord.question("pay.shop.local").pack(), SHOP)
    assert pay is not None and str(DNSRecord.parse(pay[0]).q.qname) == "billing."
    upstream = DNSRecord.parse(renamed).reply()
    upstream.add_answer(RR("orders.", QTYPE.A, rdata=A("172.20.0.7"), ttl=600))
    reply = DNSRecord.parse(as_asked(upstream.pack(), asked))
    assert str(reply.q.qname) == "Orders.Shop.Local." and str(reply.rr[0].rname) == "Orders.Shop.Local."
    assert str(reply.rr[0].rdata) == "172.20.0.7" and reply.rr[0].ttl == 10
    for other in ("orders.other.local", "nobody.shop.local", "shop.local", "orders"):
        assert to_service(DNSRecord.question(other).pack(), SHOP) is None, other
    assert to_service(b"garbage", SHOP) is None and to_service(query, None) is None


def test_resolve_asks_upstream_for_the_service() -> None:
    async def run() -> DNSRecord:
        loop = asyncio.get_running_loop()
        seen: list[str] = []

        class Upstream(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                record = DNSRecord.parse(data)
                seen.append(str(record.q.qname))
                reply = record.reply()
                reply.add_answer(RR(record.q.qname, QTYPE.A, rdata=A("10.1.2.3"), ttl=60))
                self.transport.sendto(reply.pack(), addr)  # type: ignore[attr-defined]

        transport, _ = await loop.create_datagram_endpoint(Upstream, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            answer = await resolve(DNSRecord.question("pay.shop.local").pack(), ("127.0.0.1", port), SHOP)
        finally:
            transport.close()
        assert seen == ["billing."]
        return DNSRecord.parse(answer)

    reply = asyncio.run(run())
    assert str(reply.rr[0].rname) == "pay.shop.local." and str(reply.rr[0].rdata) == "10.1.2.3"
