"""Read the server name (SNI) and ALPN out of a TLS ClientHello. No I/O.

The proxy peeks at the first bytes of a captured connection: an AWS name is
terminated, anything else is spliced untouched, so this must never consume bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HANDSHAKE = 0x16
CLIENT_HELLO = 0x01
EXT_SERVER_NAME = 0x0000
EXT_ALPN = 0x0010
MAX_RECORD = 16384 + 2048
MAX_HELLO = 48 * 1024  # within what the proxy peeks (64 KiB with the record headers)


@dataclass(frozen=True)
class ClientHello:
    server_name: str | None
    alpn: tuple[str, ...]


class NeedMore(Exception):
    """The bytes so far are a ClientHello's beginning; peek again with at least `size` bytes."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class NotClientHello(ValueError):
    """Not TLS, or a malformed ClientHello."""


def looks_like_tls(data: bytes) -> bool:
    return len(data) >= 3 and data[0] == HANDSHAKE and data[1] == 3


def parse(data: bytes) -> ClientHello:
    """Parse the ClientHello, reassembled from as many handshake records as it spans
    (large post-quantum key shares can split it). Raises NeedMore or NotClientHello."""
    if len(data) < 5:
        raise NeedMore(5)
    if not looks_like_tls(data):
        raise NotClientHello("not a TLS handshake record")
    handshake = b""
    at = 0
    while True:
        if len(data) < at + 5:
            raise NeedMore(at + 5)
        if data[at] != HANDSHAKE:
            raise NotClientHello("ClientHello interrupted by another record type")
        length = struct.unpack_from("!H", data, at + 3)[0]
        if length > MAX_RECORD or length == 0:
            raise NotClientHello("bad record length")
        if len(data) < at + 5 + length:
            raise NeedMore(at + 5 + length)
        handshake += data[at + 5 : at + 5 + length]
        at += 5 + length
        if len(handshake) >= 4:
            if handshake[0] != CLIENT_HELLO:
                raise NotClientHello("first handshake message is not a ClientHello")
            wanted = 4 + int.from_bytes(handshake[1:4], "big")
            if wanted > MAX_HELLO:
                raise NotClientHello("ClientHello too long")
            if len(handshake) >= wanted:
                break
    try:
        return _client_hello(handshake)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise NotClientHello(f"malformed ClientHello: {exc}") from None


def _client_hello(body: bytes) -> ClientHello:
    if body[0] != CLIENT_HELLO:
        raise NotClientHello("first handshake message is not a ClientHello")
    hello_length = int.from_bytes(body[1:4], "big")
    at = 4 + 2 + 32  # version, random
    session_id_length = body[at]
    at += 1 + session_id_length
    suites_length = struct.unpack_from("!H", body, at)[0]
    at += 2 + suites_length
    compression_length = body[at]
    at += 1 + compression_length
    if at >= 4 + hello_length:
        return ClientHello(None, ())
    extensions_length = struct.unpack_from("!H", body, at)[0]
    at += 2
    end = min(at + extensions_length, 4 + hello_length)
    server_name: str | None = None
    alpn: tuple[str, ...] = ()
    while at + 4 <= end:
        kind, size = struct.unpack_from("!HH", body, at)
        at += 4
        value = body[at : at + size]
        at += size
        if kind == EXT_SERVER_NAME and len(value) >= 5:
            list_length = struct.unpack_from("!H", value, 0)[0]
            pos = 2
            while pos + 3 <= min(2 + list_length, len(value)):
                name_type, name_length = value[pos], struct.unpack_from("!H", value, pos + 1)[0]
                if name_type == 0:
                    server_name = value[pos + 3 : pos + 3 + name_length].decode("ascii").lower().rstrip(".")
                    break
                pos += 3 + name_length
        elif kind == EXT_ALPN and len(value) >= 2:
            pos, names = 2, []
            while pos < len(value):
                size_ = value[pos]
                names.append(value[pos + 1 : pos + 1 + size_].decode("ascii", "replace"))
                pos += 1 + size_
            alpn = tuple(names)
    return ClientHello(server_name, alpn)
