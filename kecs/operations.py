"""AWS operations: every service's operation names and how a request or a call names one. No I/O
beyond reading the packaged table.

The table (kecs/scanner/data/operations.json.gz, generated from botocore's service models by
tools/gen_services.py) gives each service's protocol, JSON target prefix and operations:
name, the snake_case method boto3 gives it, and for REST protocols the HTTP method and
request URI. The scanner validates call sites against it (`s3.put_object` -> PutObject);
the proxy names the operation of each request it forwards from the request line and
headers alone: `X-Amz-Target` (JSON protocols), the `Action` parameter (query protocols,
from the URL or a form body's first bytes), or the method and path matched against the
REST request URIs (`GET /{Bucket}/{Key+}?tagging` -> GetObjectTagging).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import parse_qsl, unquote, urlsplit

ACCOUNT = "*"  # resources' account: the emulator's is not the one a policy is for


@dataclass(frozen=True)
class RestRoute:
    """One REST operation's request line: `GET /{Bucket}/{Key+}?tagging`."""

    operation: str
    method: str
    segments: tuple[str, ...]  # literal text, "{Name}" or "{Name+}" (the rest of the path)
    query: tuple[tuple[str, str | None], ...]  # required query keys, with a value where fixed
    headers: tuple[str, ...] = ()  # required headers, lower case (x-amz-copy-source)

    @classmethod
    def parse(cls, operation: str, method: str, uri: str) -> RestRoute:
        path, _, query = uri.partition("?")
        segments = tuple(s for s in path.split("/") if s)
        required, headers = [], []
        for item in query.split("&") if query else ():
            key, sep, value = item.partition("=")
            if key.startswith("!"):
                headers.append(key[1:])
            elif key:
                required.append((key, value if sep else None))
        return cls(operation, method.upper(), segments, tuple(required), tuple(headers))

    def match(
        self, method: str, parts: list[str], query: Mapping[str, str], headers: frozenset[str] = frozenset()
    ) -> dict[str, str] | None:
        """The URI's labels bound to the path's segments, or None when it does not match."""
        if method != self.method or not all(h in headers for h in self.headers):
            return None
        for key, value in self.query:
            if key == "x-id" and key not in query:
                continue  # newer models name the operation in x-id; older SDKs never send it
            if key not in query or (value is not None and query[key] != value):
                return None
        bound: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = parts[index:]
                if not rest:
                    return None
                bound[segment[1:-2]] = "/".join(rest)
                return bound
            if index >= len(parts):
                return None
            label = _LABEL.fullmatch(segment)
            if label:
                bound[label.group(1)] = parts[index]
            elif "{" in segment:
                found = _segment_pattern(segment).fullmatch(parts[index])
                if not found:
                    return None
                bound.update(found.groupdict())
            elif segment != parts[index]:
                return None
        return bound if len(parts) == len(self.segments) else None

    @property
    def weight(self) -> tuple[int, int]:
        """More literal path text, then more required query keys: the more specific route."""
        literal = sum(1 for s in self.segments if "{" not in s)
        return literal, sum(1 for k, _ in self.query if k != "x-id") + len(self.headers)


_LABEL = re.compile(r"\{(\w+)\}")


@functools.cache
def _segment_pattern(segment: str) -> re.Pattern[str]:
    """A segment mixing text and labels: `{Name}.json` -> `(?P<Name>[^/]+)\\.json`."""
    out, last = [], 0
    for label in _LABEL.finditer(segment):
        out.append(re.escape(segment[last : label.start()]))
        out.append(f"(?P<{label.group(1)}>[^/]+)")
        last = label.end()
    out.append(re.escape(segment[last:]))
    return re.compile("".join(out))


@dataclass(frozen=True)
class ServiceOperations:
    name: str
    protocol: str
    target_prefix: str
    names: frozenset[str]
    by_method: Mapping[str, str]  # put_object -> PutObject
    by_lower: Mapping[str, str]  # putobject -> PutObject
    rest: tuple[RestRoute, ...] = field(default=())
    waiters: Mapping[str, str] = field(default_factory=dict)  # table_exists -> DescribeTable

    @functools.cached_property
    def rest_by_method(self) -> dict[str, tuple[RestRoute, ...]]:
        """The REST routes per HTTP method, most specific first."""
        out: dict[str, list[RestRoute]] = {}
        for route in self.rest:
            out.setdefault(route.method, []).append(route)
        return {method: tuple(routes) for method, routes in out.items()}


class OperationCatalog:
    """Every service's operations, read from the packaged table; a service's entry is
    parsed the first time it is asked for (a proxy meets a handful of services)."""

    def __init__(self, raw: Mapping[str, str], target_prefixes: Mapping[str, str], source: str) -> None:
        self._raw = raw
        self._by_prefix = dict(target_prefixes)
        self._parsed: dict[str, ServiceOperations] = {}
        self.source = source

    @classmethod
    @functools.cache
    def load(cls) -> OperationCatalog:
        raw = resources.files("kecs.scanner").joinpath("data/operations.json.gz").read_bytes()
        document = json.loads(gzip.decompress(raw))
        return cls(document["services"], document["targetPrefixes"], document["source"])

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._raw)

    def service(self, name: str) -> ServiceOperations | None:
        parsed = self._parsed.get(name)
        if parsed is None and name in self._raw:
            entry = json.loads(self._raw[name])
            rows = entry["operations"]
            rest = tuple(
                sorted(
                    (RestRoute.parse(row[0], row[2], row[3]) for row in rows if len(row) == 4),
                    key=lambda r: r.weight,
                    reverse=True,
                )
            )
            parsed = ServiceOperations(
                name, entry["protocol"], entry["targetPrefix"], frozenset(row[0] for row in rows),
                {row[1]: row[0] for row in rows}, {row[0].lower(): row[0] for row in rows}, rest,
                entry.get("waiters") or {},
            )  # fmt: skip
            self._parsed[name] = parsed
        return parsed

    def operation(self, service: str, spelled: str) -> str | None:
        """The operation a call site names, in any SDK's spelling (`put_object`,
        `PutObject`, `putObject`, `PutObjectCommand`), or None when the service has none."""
        ops = self.service(service)
        if ops is None:
            return None
        if spelled in ops.by_method:
            return ops.by_method[spelled]
        bare = spelled.removesuffix("Command").removesuffix("Async").removesuffix("WithContext")
        bare = bare.removesuffix("Request")
        return ops.by_lower.get(bare.lower())

    def waiter(self, service: str, name: str) -> str | None:
        """The operation a waiter polls (`table_exists` -> DescribeTable)."""
        ops = self.service(service)
        return ops.waiters.get(name) if ops is not None else None

    def service_of_target(self, target: str) -> str | None:
        """The service an `X-Amz-Target` names (`DynamoDB_20120810.PutItem` -> dynamodb)."""
        prefix, _, _ = target.rpartition(".")
        return self._by_prefix.get(prefix)

    def from_request(
        self,
        service: str,
        method: str,
        target: str,
        amz_target: str | None,
        form: Mapping[str, str] | None = None,
        headers: frozenset[str] = frozenset(),
    ) -> tuple[str | None, dict[str, str]]:
        """(operation, the REST URI's bound labels) for a request to `service`; `headers`
        are the request's header names in lower case."""
        ops = self.service(service)
        if ops is None:
            return None, {}
        if amz_target:
            name = amz_target.rpartition(".")[2]
            return (name if name in ops.names else None), {}
        path, _, raw_query = target.partition("?")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        action = query.get("Action") or (form or {}).get("Action")
        if action:
            return (action if action in ops.names else None), {}
        if query.get("x-id") in ops.names:
            operation = query["x-id"]
            for route in ops.rest:
                if route.operation == operation:
                    bound = route.match(method, [unquote(p) for p in path.split("/") if p], query, headers)
                    return operation, bound or {}
            return operation, {}
        parts = [unquote(p) for p in path.split("/") if p]
        for route in ops.rest_by_method.get(method, ()):
            bound = route.match(method, parts, query, headers)
            if bound is not None:
                return route.operation, bound
        return None, {}


def _queue_arn(url_or_path: str, region: str) -> str | None:
    parts = [p for p in urlsplit(url_or_path).path.split("/") if p]
    if len(parts) == 2:
        return f"arn:aws:sqs:{region}:{ACCOUNT}:{parts[1]}"
    return None


def resource_arn(
    service: str, region: str, bound: Mapping[str, str], fields: Mapping[str, str], path: str
) -> str | None:
    """The ARN of what a request acts on, where the request line or body names it."""
    if service == "s3":
        bucket, key = bound.get("Bucket"), bound.get("Key")
        if bucket:
            return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
        return None
    if service == "sqs":
        url = fields.get("QueueUrl")
        if url:
            return _queue_arn(url, region)
        if fields.get("QueueName"):
            return f"arn:aws:sqs:{region}:{ACCOUNT}:{fields['QueueName']}"
        return _queue_arn(path, region)
    if service == "sns":
        return fields.get("TopicArn") or (
            f"arn:aws:sns:{region}:{ACCOUNT}:{fields['Name']}" if fields.get("Name") else None
        )
    if service == "dynamodb" and fields.get("TableName"):
        return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{fields['TableName']}"
    if service == "kinesis" and fields.get("StreamName"):
        return f"arn:aws:kinesis:{region}:{ACCOUNT}:stream/{fields['StreamName']}"
    if service == "ssm" and fields.get("Name"):
        name = fields["Name"].lstrip("/")
        return f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/{name}"
    if service == "secretsmanager":
        secret = fields.get("SecretId") or fields.get("Name")
        if secret:
            return (
                secret
                if secret.startswith("arn:")
                else f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret}-*"
            )
    if service == "logs" and fields.get("logGroupName"):
        return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{fields['logGroupName']}:*"
    if service == "lambda" and bound.get("FunctionName"):
        name = bound["FunctionName"]
        return name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return None
