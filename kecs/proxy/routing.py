"""Which emulator serves a request, per AWS service, from the request alone. No I/O.

A project can send some AWS services to a second emulator (DynamoDB to moto while
LocalStack serves the rest). The service is read the way AWS itself reads it: the
SigV4 credential scope (Authorization header, or X-Amz-Credential in a presigned
URL) names the signing service; unsigned requests fall back to the endpoint prefix
in the Host name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from kecs.proxy.aws import REGION, aws_labels

_CREDENTIAL = re.compile(rb"Credential=([^,\s]+)")
_REGION = re.compile(rf"^{REGION}$")
# Host labels that are not the service: `s3.dualstack.<region>`, `<prefix>.fips...`.
_VARIANT_LABELS = {"dualstack", "fips"}


@dataclass(frozen=True)
class Upstream:
    host: str
    port: int
    url: str
    tls: bool = False  # https://: the emulator sees the scheme AWS clients use


def parse_upstream(url: str) -> Upstream:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"emulator URL must be http://HOST:PORT or https://HOST:PORT, not {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"emulator URL {url!r} has a bad port") from None
    tls = parts.scheme == "https"
    return Upstream(parts.hostname, port or (443 if tls else 80), url, tls)


def credential_scope(headers: Iterable[tuple[bytes, bytes]], target: bytes) -> list[str] | None:
    """The SigV4 credential scope's parts (Authorization header, else a presigned URL's
    X-Amz-Credential): AKID/20261126/us-east-1/dynamodb/aws4_request (SigV4a drops the
    region). None for an unsigned request."""
    for name, value in headers:
        if name.lower() == b"authorization":
            match = _CREDENTIAL.search(value)
            parts = match.group(1).decode("latin-1").split("/") if match else []
            return parts if len(parts) >= 4 and parts[-1] == "aws4_request" else None
    query = urlsplit(target.decode("latin-1")).query
    if "X-Amz-Credential" in query:
        values = parse_qs(query).get("X-Amz-Credential")
        parts = values[0].split("/") if values else []
        return parts if len(parts) >= 4 and parts[-1] == "aws4_request" else None
    return None


def signing_service(headers: Iterable[tuple[bytes, bytes]], target: bytes) -> str | None:
    """The signing service of a SigV4 request (header or presigned query), else None."""
    scope = credential_scope(headers, target)
    return scope[-2].lower() if scope and scope[-2] else None


def host_prefix(host: str) -> str | None:
    """The endpoint part of an AWS host: 'streams.dynamodb' for streams.dynamodb.us-east-1.amazonaws.com,
    'bucket.s3' for bucket.s3.dualstack.eu-west-1.amazonaws.com. None for other hosts."""
    labels = aws_labels(host)
    if labels is None:
        return None
    while labels and (_REGION.match(labels[-1]) or labels[-1] in _VARIANT_LABELS):
        labels.pop()
    if labels and labels[-1].endswith("-fips"):
        labels[-1] = labels[-1][: -len("-fips")]
    return ".".join(labels) or None


def request_service(headers: Iterable[tuple[bytes, bytes]], target: bytes, host: str) -> str | None:
    """The AWS service a request is for, as the proxy can tell: the signing name, else the
    host's endpoint prefix without a bucket ('s3' for bucket.s3.amazonaws.com)."""
    service = signing_service(headers, target)
    if service is not None:
        return service
    prefix = host_prefix(host)
    if prefix is None:
        return None
    labels = prefix.split(".")
    return "s3" if "s3" in labels else labels[-1]


@dataclass(frozen=True)
class Routes:
    """The default emulator, and the ones that serve named services (signing names and
    endpoint prefixes as keys)."""

    default: Upstream
    by_service: Mapping[str, Upstream] = field(default_factory=dict)

    @property
    def upstreams(self) -> tuple[Upstream, ...]:
        return tuple(dict.fromkeys((self.default, *self.by_service.values())))

    def for_service(self, name: str) -> Upstream:
        """The emulator for a signing name or endpoint prefix."""
        return self.by_service.get(name, self.default)

    def pick(self, headers: Iterable[tuple[bytes, bytes]], target: bytes, host: str) -> Upstream:
        if not self.by_service:
            return self.default
        service = signing_service(headers, target)
        if service is not None:
            return self.for_service(service)
        prefix = host_prefix(host)
        if prefix is not None:
            for key, upstream in self.by_service.items():
                # `bucket.s3` is s3; `streams.dynamodb` matches a route for either name.
                if prefix == key or prefix.endswith("." + key):
                    return upstream
        return self.default


def parse_routes(default_url: str, spec: Iterable[str]) -> Routes:
    """The default emulator's URL and `KEY=URL` items (`dynamodb=http://kecs-moto:5000`)."""
    by_service: dict[str, Upstream] = {}
    for item in (i.strip() for i in spec):
        if not item:
            continue
        key, sep, url = item.partition("=")
        if not sep or not key.strip() or not url.strip():
            raise ValueError(f"a route is SERVICE=http[s]://HOST:PORT, not {item!r}")
        by_service[key.strip().lower()] = parse_upstream(url.strip())
    return Routes(parse_upstream(default_url), by_service)
