"""What the proxy saw: each forwarded request described as one JSON line. No I/O.

The connection code (kecs.proxy.http) hands over an `Exchange` once the response has
started: the request line, its headers, at most the first bytes of its body and the
response status. `describe` turns it into the record kecs writes to the project
(`.kecs/observed/<service>/requests.jsonl`): time, compose service, AWS service,
operation, the resource's ARN where the request names it, status and emulator.

Never recorded: bodies, header values, query strings (a presigned URL carries its
signature and credential there) and credentials. The body's first bytes are read here
only for what names the operation or the resource (`Action=SendMessage`, `"TableName"`)
and are dropped with the exchange.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

from kecs.operations import OperationCatalog, resource_arn
from kecs.proxy.routing import credential_scope, host_prefix, request_service, signing_service
from kecs.scanner.services import ServiceCatalog

BODY_HEAD = 16 * 1024  # what of a body may be read for names (JSON and form bodies only)


@dataclass(frozen=True)
class Exchange:
    method: str
    target: str  # path and query as sent
    host: str
    headers: tuple[tuple[bytes, bytes], ...]
    body_head: bytes
    status: int | None
    emulator: str
    time: float
    internal: bool = False  # sent by kecs's own clients, proven by the internal token


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _region(headers: Iterable[tuple[bytes, bytes]], target: bytes) -> str:
    """The region the request is signed for; `*` when unsigned or SigV4a (regionless)."""
    scope = credential_scope(headers, target)
    return scope[2] if scope and len(scope) >= 5 else "*"


def _body_fields(content_type: str, head: bytes) -> dict[str, str]:
    """Top-level string fields of a JSON or form body's first bytes (a cut body gives none)."""
    if not head:
        return {}
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(head.decode("utf-8", "replace"), keep_blank_values=True))
    if "json" in content_type:
        try:
            document = json.loads(head)
        except ValueError:
            return {}
        if isinstance(document, dict):
            return {k: v for k, v in document.items() if isinstance(v, str)}
    return {}


def _client_name(
    signing: str, host: str, amz_target: str | None, services: ServiceCatalog, ops: OperationCatalog
) -> str:
    """The botocore client name among those signed alike (dynamodb, dynamodbstreams)."""
    candidates = list(services.signed_by(signing)) or [signing]
    if len(candidates) == 1:
        return candidates[0]
    if amz_target:
        named = ops.service_of_target(amz_target)
        if named in candidates:
            return named
    prefix = host_prefix(host) or ""
    # The host's endpoint prefix: whole (streams.dynamodb), then without a bucket (b.s3).
    for wanted in (prefix, prefix.split(".", 1)[-1]):
        for name in candidates:
            if services.endpoints[name][0] == wanted:
                return name
    return signing if signing in candidates else candidates[0]


def describe(
    exchange: Exchange, compose_service: str, services: ServiceCatalog, ops: OperationCatalog
) -> dict[str, object] | None:
    """The record of one forwarded request, or None when it is not an AWS request."""
    headers = exchange.headers
    target = exchange.target.encode("latin-1")
    signing = request_service(headers, target, exchange.host)
    if signing is None:
        return None
    amz_target = _header(headers, b"x-amz-target")
    service = _client_name(signing, exchange.host, amz_target, services, ops)
    path = urlsplit(exchange.target).path
    # A bucket in the host name (bucket.s3.amazonaws.com) is the path's first segment.
    prefix = host_prefix(exchange.host) or ""
    if service == "s3" and signing_service(headers, target) in (None, "s3") and prefix.endswith(".s3"):
        bucket = prefix[: -len(".s3")]
        path_for_match = f"/{bucket}{path}" if path != "/" else f"/{bucket}"
        query = urlsplit(exchange.target).query
        target_for_match = path_for_match + (f"?{query}" if query else "")
    else:
        target_for_match = exchange.target
    fields = _body_fields(_header(headers, b"content-type") or "", exchange.body_head)
    names = frozenset(k.decode("latin-1").lower() for k, _ in headers)
    operation, bound = ops.from_request(service, exchange.method, target_for_match, amz_target, fields, names)
    region = _region(headers, target)
    return {
        # kecs's own seeder and forwarder: not the service's calls (kecs policy skips them).
        **({"kecs": True} if exchange.internal else {}),
        "time": round(exchange.time, 3),
        "service": compose_service,
        "aws_service": service,
        "operation": operation,
        "resource": resource_arn(service, region, bound, fields, unquote(path)),
        "status": exchange.status,
        "emulator": exchange.emulator,
        "request": f"{exchange.method} {path}",
    }
