"""The terminate / forward / splice decision, from a connection's first bytes alone."""

from __future__ import annotations

import pytest

from kecs.proxy.decide import FORWARD, NEED, SPLICE, TERMINATE, decide
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
    # The peer sent no more: a truncated ClientHello is passed through, never waited on.
    cut = decide(hello[:40], final=True)
    assert cut.action == SPLICE and "unreadable ClientHello" in cut.why
    head = b"PUT /b/k HTTP/1.1\r\nHost: s3.amazonaws.com\r\n"
    assert decide(head).action == NEED
    assert (decide(head + b"\r\n").action, decide(head, final=True).action) == (FORWARD, FORWARD)
    assert decide(b"", final=True).action == SPLICE
