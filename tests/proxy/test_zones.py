from __future__ import annotations

from dnslib import QTYPE, RCODE, DNSRecord

from kecs.proxy.zones import PrivateZones, parse_records, parse_zones

NS = 'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"'
ZONES = f"""<?xml version="1.0"?><ListHostedZonesResponse {NS}><HostedZones>
<HostedZone><Id>/hostedzone/Z1</Id><Name>internal.shop.</Name><Config><PrivateZone>true</PrivateZone></Config></HostedZone>
<HostedZone><Id>/hostedzone/Z2</Id><Name>public.example.</Name><Config><PrivateZone>false</PrivateZone></Config></HostedZone>
</HostedZones></ListHostedZonesResponse>""".encode()
RECORDS = f"""<?xml version="1.0"?><ListResourceRecordSetsResponse {NS}><ResourceRecordSets>
<ResourceRecordSet><Name>db.internal.shop.</Name><Type>A</Type><TTL>60</TTL><ResourceRecords>
<ResourceRecord><Value>10.0.0.5</Value></ResourceRecord><ResourceRecord><Value>10.0.0.6</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>
<ResourceRecordSet><Name>cache.internal.shop.</Name><Type>CNAME</Type><TTL>30</TTL><ResourceRecords>
<ResourceRecord><Value>db.internal.shop</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>
<ResourceRecordSet><Name>info.internal.shop.</Name><Type>TXT</Type><TTL>30</TTL><ResourceRecords>
<ResourceRecord><Value>"hello"</Value></ResourceRecord></ResourceRecords></ResourceRecordSet>
</ResourceRecordSets></ListResourceRecordSetsResponse>""".encode()


def test_zone_listings_parse() -> None:
    assert parse_zones(ZONES) == [("Z1", "internal.shop")]
    records = parse_records(RECORDS)
    assert (records[0].name, records[0].type, records[0].ttl, records[0].values) == (
        "db.internal.shop",
        "A",
        60,
        ("10.0.0.5", "10.0.0.6"),
    )


def test_names_in_a_private_zone_are_answered_from_its_records() -> None:
    calls: list[str] = []
    now = [0.0]

    def fetch(path: str) -> bytes:
        calls.append(path)
        return ZONES if path.endswith("/hostedzone") else RECORDS

    zones = PrivateZones(fetch, clock=lambda: now[0])
    reply = DNSRecord.parse(zones.answer(DNSRecord.question("DB.internal.shop").pack()))
    assert sorted(str(r.rdata) for r in reply.rr) == ["10.0.0.5", "10.0.0.6"] and reply.rr[0].ttl == 60
    chased = DNSRecord.parse(zones.answer(DNSRecord.question("cache.internal.shop").pack()))
    assert [QTYPE[r.rtype] for r in chased.rr] == ["CNAME", "A", "A"]
    txt = DNSRecord.parse(zones.answer(DNSRecord.question("info.internal.shop", "TXT").pack()))
    assert str(txt.rr[0].rdata) == '"hello"'
    missing = DNSRecord.parse(zones.answer(DNSRecord.question("nope.internal.shop").pack()))
    assert missing.header.rcode == RCODE.NXDOMAIN
    assert zones.answer(DNSRecord.question("www.public.example").pack()) is None
    assert zones.answer(DNSRecord.question("web").pack()) is None
    assert len(calls) == 2  # one listing serves for REFRESH seconds
    now[0] = 6.0
    zones.answer(DNSRecord.question("web").pack())
    assert len(calls) == 4


def test_an_unreadable_emulator_does_not_slow_every_query() -> None:
    calls = []
    now = [0.0]

    def down(path: str) -> bytes:
        calls.append(path)
        raise OSError("connection refused")

    zones = PrivateZones(down, clock=lambda: now[0])
    assert zones.answer_or_none(DNSRecord.question("web").pack()) is None
    now[0] = 10.0
    assert zones.answer_or_none(DNSRecord.question("web").pack()) is None
    assert len(calls) == 1  # backed off
