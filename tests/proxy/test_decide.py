"""The terminate / forward / splice decision, from a connection's first bytes alone."""

from __future__ import annotations

import pytest

from kecs.proxy.decide import CLOSE, FORWARD, NEED, SPLICE, TERMINATE, decide
from tests.proxy.test_pure import real_client_hello


@pytest.mark.parametrize(
    ("data", "action", "host"),
    [
        (real_client_hello("sqs.us-east-1.amazonaws.com"), TERMINATE, "sqs.us-east-1.amazonaws.com"),
        (real_client_hello("bucket.s3.amazonaws.com.cn"), TERMINATE, "bucket.s3.amazonaws.com.cn"),
        (real_client_hello("example.com"), SPLICE, "example.com"),
        (b"GET / HTTP/1.1\r\nHost: dynamodb.eu-west-1.amazonaws.com:80\r\n\r\n", FORWARD,
         "dynamodb.eu-west-1.amazonaws.com"),
        (b"GET / HTTP/1.1\r\nHost: db.local\r\n\r\n", SPLICE, "db.local"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", SPLICE, None),
    ],
)  # fmt: skip
def test_whole_first_bytes(data: bytes, action: str, host: str | None) -> None:
    decision = decide(data)
    assert (decision.action, decision.host) == (action, host)


def test_it_asks_for_more_until_it_can_tell_then_decides_on_what_there_is() -> None:
    hello = real_client_hello("sts.amazonaws.com")
    first = decide(hello[:5])
    assert first.action == NEED and first.enough is not None and first.enough(hello[:8])
    partial = decide(hello[:40])
    assert partial.action == NEED and partial.enough is not None
    assert not partial.enough(hello[:40]) and partial.enough(hello)
    # The peer sent no more: a truncated ClientHello is closed (it may name AWS), never waited on.
    cut = decide(hello[:40], final=True)
    assert cut.action == CLOSE and "incomplete" in cut.why
    head = b"PUT /b/k HTTP/1.1\r\nHost: s3.amazonaws.com\r\n"
    assert decide(head).action == NEED
    assert (decide(head + b"\r\n").action, decide(head, final=True).action) == (FORWARD, FORWARD)
    assert decide(b"", final=True).action == SPLICE


def _padded_hello(server_name: str, padding: int) -> bytes:
    """A real ClientHello for `server_name` grown by a padding extension (RFC 7685) of
    `padding` bytes, reframed into TLS records of at most 16 KiB."""
    hello = real_client_hello(server_name)
    handshake = b""
    at = 0
    while at < len(hello):
        size = int.from_bytes(hello[at + 3 : at + 5], "big")
        handshake += hello[at + 5 : at + 5 + size]
        at += 5 + size
    body = bytearray(handshake[4:])
    # legacy_version 2, random 32, session id, cipher suites, compression, then extensions
    at = 34
    at += 1 + body[at]
    at += 2 + int.from_bytes(body[at : at + 2], "big")
    at += 1 + body[at]
    extensions = int.from_bytes(body[at : at + 2], "big")
    body[at : at + 2] = (extensions + 4 + padding).to_bytes(2, "big")
    body += b"\x00\x15" + padding.to_bytes(2, "big") + bytes(padding)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + bytes(body)
    records = b""
    for start in range(0, len(handshake), 16384):
        chunk = handshake[start : start + 16384]
        records += b"\x16\x03\x01" + len(chunk).to_bytes(2, "big") + chunk
    return records


def test_a_client_hello_too_large_to_read_is_closed_never_passed_through() -> None:
    small = _padded_hello("s3.amazonaws.com", 1000)
    assert decide(small).action == TERMINATE  # the padding itself is read fine
    big = _padded_hello("s3.amazonaws.com", 50 * 1024)
    decision = decide(big[: 64 * 1024], final=True)  # what the peek limit lets through
    assert decision.action == CLOSE, decision
    assert decide(big, final=True).action == CLOSE  # whole, but over the parser's bound
    assert decide(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", final=True).action == CLOSE  # not a hello
