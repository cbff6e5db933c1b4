"""Route 53 private hosted zones of the emulator, answered by the namespace's DNS.

Code that creates a private hosted zone and a record, then resolves the name, works on AWS
because the VPC's resolver answers from Route 53. The proxy's DNS does the same from the
emulator: it lists the private zones and their record sets (Route 53's REST API, read
with plain HTTP: the proxy carries no SDK), keeps them for REFRESH seconds, and answers a
name inside a zone from its records (NXDOMAIN when the zone has none), with the records'
TTLs. Parsing and answering are pure; `fetch` does the I/O.
"""

from __future__ import annotations

import datetime
import ssl
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, TXT, A  # type: ignore[import-untyped]

from kecs.proxy.dnsmsg import parse_query

REFRESH = 5.0  # seconds a listing is reused
API = "/2013-04-01"
_TYPES = {
    "A": (QTYPE.A, A),
    "AAAA": (QTYPE.AAAA, AAAA),
    "CNAME": (QTYPE.CNAME, CNAME),
    "TXT": (QTYPE.TXT, TXT),
}


@dataclass(frozen=True)
class RecordSet:
    name: str  # lower case, no trailing dot
    type: str
    ttl: int
    values: tuple[str, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element.iter() if _local(child.tag) == name]


def _text(element: ET.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def parse_zones(body: bytes) -> list[tuple[str, str]]:
    """(zone id, name) of each private zone in a ListHostedZones answer."""
    zones = []
    for zone in _children(ET.fromstring(body), "HostedZone"):
        private = any((c.text or "").strip().lower() == "true" for c in _children(zone, "PrivateZone"))
        if private:
            zone_id = _text(zone, "Id").rsplit("/", 1)[-1]
            zones.append((zone_id, _text(zone, "Name").lower().rstrip(".")))
    return zones


def parse_records(body: bytes) -> list[RecordSet]:
    out = []
    for record in _children(ET.fromstring(body), "ResourceRecordSet"):
        values = tuple(_text(v, "Value") for v in _children(record, "ResourceRecord"))
        ttl = int(_text(record, "TTL") or 300)
        out.append(RecordSet(_text(record, "Name").lower().rstrip("."), _text(record, "Type"), ttl, values))
    return out


@dataclass
class PrivateZones:
    fetch: Callable[[str], bytes]  # path under the Route 53 API -> body
    clock: Callable[[], float] = time.monotonic
    zones: dict[str, list[RecordSet]] = field(default_factory=dict)  # zone name -> records
    fetched_at: float = -1e9

    def _refresh(self) -> None:
        if self.clock() - self.fetched_at < REFRESH:
            return
        zones: dict[str, list[RecordSet]] = {}
        for zone_id, name in parse_zones(self.fetch(f"{API}/hostedzone")):
            zones[name] = parse_records(self.fetch(f"{API}/hostedzone/{zone_id}/rrset"))
        self.zones, self.fetched_at = zones, self.clock()

    def answer_or_none(self, query: bytes) -> bytes | None:
        """`answer`, or None while the emulator cannot be read (tried again REFRESH * 6
        later, meanwhile the last listing answers)."""
        try:
            return self.answer(query)
        except (OSError, ET.ParseError, ValueError):
            self.fetched_at = self.clock() + REFRESH * 5
            return None

    def answer(self, query: bytes) -> bytes | None:
        """The reply for a name inside a private zone, else None (it belongs upstream)."""
        record = parse_query(query)
        if record is None:
            return None
        question = record.questions[0]
        name = str(question.qname).lower().rstrip(".")
        self._refresh()
        zone = max((z for z in self.zones if name == z or name.endswith("." + z)), key=len, default=None)
        if zone is None:
            return None
        reply = record.reply()
        wanted = QTYPE.get(question.qtype)
        current, hops = name, 0
        while hops < 8:
            found = [r for r in self.zones[zone] if r.name == current]
            if not found:
                if current == name:
                    reply.header.rcode = RCODE.NXDOMAIN
                break
            cname = next((r for r in found if r.type == "CNAME"), None)
            matches = [r for r in found if r.type == wanted]
            for rset in matches or ([cname] if cname else []):
                qtype, rdata = _TYPES.get(rset.type, (None, None))
                if qtype is None:
                    continue
                for value in rset.values:
                    data = rdata(value.strip('"')) if rset.type == "TXT" else rdata(value)
                    reply.add_answer(RR(current + ".", qtype, rdata=data, ttl=rset.ttl))
            if matches or cname is None:
                break
            current, hops = cname.values[0].lower().rstrip("."), hops + 1
        return bytes(reply.pack())


def emulator_fetch(url: str, region: str, timeout: float = 3.0) -> Callable[[str], bytes]:
    """GET paths of the emulator's Route 53 API (the emulators do not check signatures)."""
    context = ssl._create_unverified_context() if url.startswith("https:") else None

    def fetch(path: str) -> bytes:
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
        request = urllib.request.Request(
            url.rstrip("/") + path,
            headers={"Authorization": f"AWS4-HMAC-SHA256 Credential=test/{date}/{region}/route53/aws4_request, "
                                      "SignedHeaders=host, Signature=0"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            body: bytes = response.read(8 * 1024 * 1024)
            return body

    return fetch
