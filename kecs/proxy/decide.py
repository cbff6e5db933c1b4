"""What the proxy does with a captured connection, from its first bytes alone. No I/O.

TLS whose ClientHello names an AWS host is terminated (and its requests forwarded to the
emulator); plain HTTP whose Host is an AWS host is forwarded; everything else (other TLS,
other HTTP, anything that is not TLS or HTTP) is spliced to where it was going, untouched.
A TLS handshake that cannot be read (a ClientHello larger than the peek limit, one the
client stops sending halfway, a malformed one) is closed: it may name an AWS host, and
an AWS request must never leave for the network (fail closed).
`decide` is asked with the bytes peeked so far; while it needs more it says so, with the
test the connection code peeks until; with `final` (no more will come) it decides on
what there is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kecs.proxy import clienthello
from kecs.proxy.aws import is_aws_host

TERMINATE, FORWARD, SPLICE, NEED, CLOSE = "terminate", "forward", "splice", "need", "close"
FIRST = 8  # bytes enough to tell TLS from HTTP from anything else
_HTTP_METHOD = re.compile(rb"^[A-Z]{3,7} ")


@dataclass(frozen=True)
class Decision:
    action: str  # TERMINATE | FORWARD | SPLICE | NEED | CLOSE
    host: str | None = None  # the AWS host (TERMINATE, FORWARD), or what was seen (SPLICE)
    why: str = ""  # for the log
    enough: Callable[[bytes], bool] | None = None  # NEED: peek until this holds


def client_hello_complete(data: bytes) -> bool:
    try:
        clienthello.parse(data)
        return True
    except clienthello.NeedMore:
        return False
    except clienthello.NotClientHello:
        return True


def http_head_complete(data: bytes) -> bool:
    return b"\r\n\r\n" in data


def host_header(head: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"host":
            return value.strip().decode("latin-1").rsplit(":", 1)[0].lower()
    return None


def decide(data: bytes, final: bool = False) -> Decision:
    """The decision for a connection whose first bytes are `data` (`final`: the peer sends
    no more before it hears back, or the peek limit was reached)."""
    if len(data) < FIRST and not final:
        return Decision(NEED, enough=lambda d: len(d) >= FIRST)
    if clienthello.looks_like_tls(data):
        if not final and not client_hello_complete(data):
            return Decision(NEED, enough=client_hello_complete)
        try:
            hello = clienthello.parse(data)
        except clienthello.NeedMore:
            return Decision(CLOSE, None, f"a ClientHello still incomplete after {len(data)} bytes; closed")
        except clienthello.NotClientHello as exc:
            return Decision(CLOSE, None, f"unreadable ClientHello ({exc}); closed")
        name = hello.server_name
        if name and is_aws_host(name):
            return Decision(TERMINATE, name, f"terminate TLS for {name}")
        return Decision(SPLICE, name, f"passthrough TLS (sni={name})")
    if _HTTP_METHOD.match(data):
        if not final and not http_head_complete(data):
            return Decision(NEED, enough=http_head_complete)
        host = host_header(data)
        if host and is_aws_host(host):
            return Decision(FORWARD, host, f"forward HTTP for {host}")
        return Decision(SPLICE, host, f"passthrough (host={host})")
    return Decision(SPLICE, None, "passthrough (host=None)")
