"""A DNS query as the proxy's resolvers read it: parsed, with a question, or nothing. No I/O."""

from __future__ import annotations

from dnslib import DNSRecord  # type: ignore[import-untyped]


def parse_query(query: bytes) -> DNSRecord | None:
    """The query, or None for bytes that are not a DNS message with a question."""
    try:
        record = DNSRecord.parse(query)
    except Exception:  # dnslib raises several types on garbage
        return None
    return record if record.questions else None
