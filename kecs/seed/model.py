"""What a project declares must exist before its apps start, validated, as plain data.

`x-kecs.seed` in the compose file lists S3 buckets (objects from local files or
directories), SQS queues (attributes, FIFO, dead-letter queue), SNS topics and their
subscriptions, DynamoDB tables (keys, global indexes, items), SSM parameters and Secrets
Manager secrets; services' `x-kecs.role` add IAM roles. `parse_seed` checks every value's
type and names the compose file and line of anything wrong; `to_document`/`from_document`
carry the result, as JSON, to the seeder that runs beside the apps. Reads no files (whether
a named file exists is asked through the `exists` callable).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any

from kecs.errors import KecsError

KINDS = ("s3", "sqs", "sns", "dynamodb", "ssm", "secrets", "iam")
KEY_TYPES = ("S", "N", "B")
PARAMETER_TYPES = ("String", "SecureString", "StringList")
# ECS tasks assume their role through this principal.
ECS_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_QUEUE = re.compile(r"^[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_ROLE = re.compile(r"^[\w+=,.@-]{1,64}$")

Where = Callable[..., str]  # where("s3", "0", "bucket") -> "compose.yaml:12"
Exists = Callable[[str, bool], bool]  # exists(path, directory)


@dataclass(frozen=True)
class S3Object:
    key: str  # the object key, or a key prefix for a directory
    path: str  # a local file or directory (absolute)
    directory: bool = False


@dataclass(frozen=True)
class Bucket:
    name: str
    objects: tuple[S3Object, ...] = ()


@dataclass(frozen=True)
class Queue:
    name: str
    attributes: tuple[tuple[str, str], ...] = ()
    dead_letter: str | None = None  # the queue's name
    max_receive_count: int = 0


@dataclass(frozen=True)
class Subscription:
    protocol: str
    endpoint: str  # for sqs: a queue name declared in the seed, or an ARN


@dataclass(frozen=True)
class Topic:
    name: str
    attributes: tuple[tuple[str, str], ...] = ()
    subscriptions: tuple[Subscription, ...] = ()


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[tuple[str, str], ...]  # (attribute, type): hash, then range


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[tuple[str, str], ...]
    indexes: tuple[Index, ...] = ()
    items: tuple[Any, ...] = ()  # plain JSON values (the seeder types them)
    items_file: str | None = None  # a JSON list, read by the seeder


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    type: str = "String"


@dataclass(frozen=True)
class Secret:
    name: str
    value: str  # a JSON value is stored as its text, as the console does


@dataclass(frozen=True)
class Role:
    name: str
    policies: tuple[tuple[str, str], ...] = ()  # inline: (name, JSON document)
    managed: tuple[str, ...] = ()  # policy ARNs
    declared_at: str = ""


@dataclass(frozen=True)
class Seed:
    buckets: tuple[Bucket, ...] = ()
    queues: tuple[Queue, ...] = ()
    topics: tuple[Topic, ...] = ()
    tables: tuple[Table, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    secrets: tuple[Secret, ...] = ()
    roles: tuple[Role, ...] = ()
    region: str = "us-east-1"
    # Cloud Map: a private DNS namespace and its services (name, compose service).
    namespace: str = ""
    discovered: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        kinds = (
            self.buckets,
            self.queues,
            self.topics,
            self.tables,
            self.parameters,
            self.secrets,
            self.roles,
        )
        return any(kinds) or bool(self.namespace)

    def files(self) -> list[str]:
        """Local files and directories the seeder needs."""
        out = [o.path for b in self.buckets for o in b.objects]
        return out + [t.items_file for t in self.tables if t.items_file]


def _fail(where: str, message: str) -> KecsError:
    return KecsError(f"{where}: {message}")


def _mapping(value: Any, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"{what} must be a mapping")
    return value


def _list(value: Any, where: str, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(where, f"{what} must be a list")
    return value


def _string(value: Any, where: str, what: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, f"{what} must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise _fail(where, f"{what} {value!r} is not a valid name")
    return value


def _keys(value: Mapping[str, Any], allowed: tuple[str, ...], where: Where) -> None:
    for key in value:
        if key not in allowed:
            raise _fail(where(str(key)), f"unknown key {key!r} (known: {', '.join(allowed)})")


def _attributes(value: Any, where: str, what: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    items = _mapping(value, where, what)
    out = []
    for key, item in items.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, (int, float, str)):
            item = str(item)
        else:
            raise _fail(where, f"{what}.{key} must be a string, number or boolean")
        out.append((str(key), item))
    return tuple(out)


def _key_schema(value: Any, where: str, what: str) -> tuple[tuple[str, str], ...]:
    keys = _mapping(value, where, what)
    if not 1 <= len(keys) <= 2:
        raise _fail(where, f"{what} names the hash key and, optionally, the range key ({{id: S, ts: N}})")
    for name, kind in keys.items():
        if kind not in KEY_TYPES:
            raise _fail(where, f"{what}.{name} must be one of {', '.join(KEY_TYPES)}")
    return tuple((str(k), str(v)) for k, v in keys.items())


def _entries(
    top: Mapping[str, Any], kind: str, allowed: tuple[str, ...], where: Where
) -> Iterator[tuple[str, Mapping[str, Any], Where]]:
    """Each entry of one kind: (its file:line, the entry, `where` below it), checked to be
    a mapping with only `allowed` keys."""
    for i, raw in enumerate(_list(top.get(kind), where(kind), f"x-kecs.seed.{kind}")):
        below = partial(where, kind, str(i))
        entry = _mapping(raw, below(), f"an entry of x-kecs.seed.{kind}")
        _keys(entry, allowed, below)
        yield below(), entry, below


def _local(base_dir: str, exists: Exists, raw: Any, at: str, what: str, directory: bool) -> str:
    path = _string(raw, at, what)
    base = os.path.normpath(base_dir)
    full = os.path.normpath(os.path.join(base, path))
    if full == base or os.path.commonpath([full, base]) != base:
        where = "the project directory itself" if full == base else "outside the project"
        raise _fail(
            at,
            f"{what}: {path!r} is {where}; seed files must be inside the project (relative to the compose file)",
        )
    if not exists(full, directory):
        kind = "directory" if directory else "file"
        raise _fail(at, f"{what}: no such {kind} {path!r} (paths are relative to the compose file)")
    return full


def _buckets(top: Mapping[str, Any], where: Where, local: Callable[..., str]) -> tuple[Bucket, ...]:
    buckets = []
    for at, item, below in _entries(top, "s3", ("bucket", "objects"), where):
        name = _string(item.get("bucket"), at, "s3 bucket", _BUCKET)
        objects = []
        for j, obj in enumerate(_list(item.get("objects"), at, "objects")):
            inner = partial(below, "objects", str(j))
            spec = _mapping(obj, inner(), "an object")
            _keys(spec, ("key", "file", "prefix", "directory"), inner)
            if ("file" in spec) == ("directory" in spec):
                raise _fail(
                    inner(), "an object takes either `key` and `file`, or `directory` (and a `prefix`)"
                )
            if "file" in spec:
                key = _string(spec.get("key"), inner(), "key")
                objects.append(S3Object(key, local(spec["file"], inner(), "file", False)))
            else:
                prefix = spec.get("prefix", "")
                if not isinstance(prefix, str):
                    raise _fail(inner(), "prefix must be a string")
                objects.append(S3Object(prefix, local(spec["directory"], inner(), "directory", True), True))
        buckets.append(Bucket(name, tuple(objects)))
    return tuple(buckets)


def _queues(top: Mapping[str, Any], where: Where) -> tuple[Queue, ...]:
    queues = []
    for at, item, below in _entries(top, "sqs", ("name", "attributes", "dead_letter"), where):
        name = _string(item.get("name"), at, "queue name", _QUEUE)
        attributes = dict(_attributes(item.get("attributes"), at, "attributes"))
        if name.endswith(".fifo"):
            attributes.setdefault("FifoQueue", "true")
        dead, count = None, 0
        if item.get("dead_letter") is not None:
            dat = below("dead_letter")
            spec = _mapping(item["dead_letter"], dat, "dead_letter")
            _keys(spec, ("queue", "max_receive_count"), partial(below, "dead_letter"))
            dead = _string(spec.get("queue"), dat, "dead_letter.queue", _QUEUE)
            count = spec.get("max_receive_count", 3)
            if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
                raise _fail(dat, "dead_letter.max_receive_count must be a number from 1 to 1000")
        queues.append(Queue(name, tuple(sorted(attributes.items())), dead, count))
    names = {q.name for q in queues}
    for index, queue in enumerate(queues):
        if queue.dead_letter and queue.dead_letter not in names:
            raise _fail(
                where("sqs", str(index), "dead_letter"),
                f"dead-letter queue {queue.dead_letter!r} is not declared in x-kecs.seed.sqs",
            )
    return tuple(queues)


def _topics(top: Mapping[str, Any], where: Where, queues: set[str]) -> tuple[Topic, ...]:
    topics = []
    for at, item, below in _entries(top, "sns", ("topic", "attributes", "subscriptions"), where):
        name = _string(item.get("topic"), at, "topic", _TOPIC)
        attributes = dict(_attributes(item.get("attributes"), at, "attributes"))
        if name.endswith(".fifo"):
            attributes.setdefault("FifoTopic", "true")
        subscriptions = []
        for j, sub in enumerate(_list(item.get("subscriptions"), at, "subscriptions")):
            inner = partial(below, "subscriptions", str(j))
            spec = _mapping(sub, inner(), "a subscription")
            _keys(spec, ("protocol", "endpoint"), inner)
            protocol = _string(spec.get("protocol"), inner(), "protocol")
            endpoint = _string(spec.get("endpoint"), inner(), "endpoint")
            if protocol == "sqs" and not endpoint.startswith("arn:") and endpoint not in queues:
                raise _fail(
                    inner(),
                    f"endpoint {endpoint!r}: an sqs subscription names a queue of x-kecs.seed.sqs or an ARN",
                )
            subscriptions.append(Subscription(protocol, endpoint))
        topics.append(Topic(name, tuple(sorted(attributes.items())), tuple(subscriptions)))
    return tuple(topics)


def _tables(top: Mapping[str, Any], where: Where, local: Callable[..., str]) -> tuple[Table, ...]:
    tables = []
    allowed = ("table", "keys", "indexes", "items", "items_file")
    for at, item, below in _entries(top, "dynamodb", allowed, where):
        name = _string(item.get("table"), at, "table", _TABLE)
        keys = _key_schema(item.get("keys"), below("keys"), "keys")
        indexes = []
        for j, idx in enumerate(_list(item.get("indexes"), at, "indexes")):
            inner = partial(below, "indexes", str(j))
            spec = _mapping(idx, inner(), "an index")
            _keys(spec, ("name", "keys"), inner)
            indexes.append(
                Index(
                    _string(spec.get("name"), inner(), "index name"),
                    _key_schema(spec.get("keys"), inner(), "keys"),
                )
            )
        types: dict[str, str] = {}
        for attr, kind in [*keys, *(k for index in indexes for k in index.keys)]:
            if types.setdefault(attr, kind) != kind:
                raise _fail(at, f"attribute {attr!r} is declared as both {types[attr]} and {kind}")
        items = _list(item.get("items"), at, "items")
        for j, entry in enumerate(items):
            if not isinstance(entry, Mapping) or any(k not in entry for k, _ in keys):
                raise _fail(
                    below("items", str(j)),
                    f"item {j} must be a mapping with the table's keys ({', '.join(k for k, _ in keys)})",
                )
        items_file = None
        if item.get("items_file") is not None:
            items_file = local(item["items_file"], below("items_file"), "items_file", False)
        tables.append(Table(name, keys, tuple(indexes), tuple(items), items_file))
    return tuple(tables)


def _parameters(top: Mapping[str, Any], where: Where) -> tuple[Parameter, ...]:
    parameters = []
    for at, item, _ in _entries(top, "ssm", ("name", "value", "type"), where):
        kind = item.get("type", "String")
        if kind not in PARAMETER_TYPES:
            raise _fail(at, f"type must be one of {', '.join(PARAMETER_TYPES)}")
        value = item.get("value")
        if isinstance(value, list) and kind == "StringList":
            value = ",".join(str(v) for v in value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        parameters.append(
            Parameter(_string(item.get("name"), at, "parameter name"), _string(value, at, "value"), kind)
        )
    return tuple(parameters)


def _secrets(top: Mapping[str, Any], where: Where) -> tuple[Secret, ...]:
    secrets = []
    for at, item, _ in _entries(top, "secrets", ("name", "value", "json"), where):
        name = _string(item.get("name"), at, "secret name")
        if ("value" in item) == ("json" in item):
            raise _fail(at, "a secret takes either `value` (a string) or `json` (a mapping)")
        if "json" in item:
            text = json.dumps(_mapping(item["json"], at, "json"), separators=(",", ":"))
        else:
            text = _string(item["value"], at, "value")
        secrets.append(Secret(name, text))
    return tuple(secrets)


def _roles(top: Mapping[str, Any], where: Where) -> tuple[Role, ...]:
    iam = top.get("iam")
    if iam is None:
        return ()
    spec = _mapping(iam, where("iam"), "x-kecs.seed.iam")
    _keys(spec, ("roles",), partial(where, "iam"))
    raw = _list(spec.get("roles"), where("iam", "roles"), "iam.roles")
    return tuple(parse_role(value, partial(where, "iam", "roles", str(i))) for i, value in enumerate(raw))


def parse_seed(value: Any, where: Where, base_dir: str, exists: Exists, region: str = "us-east-1") -> Seed:
    """The seed from `x-kecs.seed`; `where(*path)` gives file:line for a key path below it,
    `exists(path, directory)` whether a local file (or directory) is there."""
    top = _mapping(value, where(), "x-kecs.seed")
    _keys(top, KINDS, where)
    local = partial(_local, base_dir, exists)
    queues = _queues(top, where)
    return Seed(
        _buckets(top, where, local), queues, _topics(top, where, {q.name for q in queues}),
        _tables(top, where, local), _parameters(top, where), _secrets(top, where), _roles(top, where), region,
    )  # fmt: skip


def role_name(reference: str) -> str:
    """A role's name from its name or ARN (arn:aws:iam::123456789012:role/path/name)."""
    if reference.startswith("arn:"):
        parts = reference.split(":", 5)
        if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
            return parts[5].rsplit("/", 1)[-1]
        raise KecsError(f"{reference!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    return reference


def parse_role(value: Any, where: Where) -> Role:
    """`role: NAME` or `role: {name: NAME, policies: {NAME: DOCUMENT}, managed: [ARN]}`."""
    if isinstance(value, str):
        try:
            return Role(_string(role_name(value), where(), "role", _ROLE), declared_at=where())
        except KecsError as exc:
            raise _fail(where(), str(exc)) from None
    spec = _mapping(value, where(), "role")
    _keys(spec, ("name", "policies", "managed"), where)
    try:
        name = _string(
            role_name(_string(spec.get("name"), where(), "role name")), where(), "role name", _ROLE
        )
    except KecsError as exc:
        raise _fail(where("name"), str(exc).split(": ", 1)[-1]) from None
    policies = []
    for policy, document in (_mapping(spec.get("policies") or {}, where("policies"), "policies")).items():
        if not isinstance(document, Mapping) or "Statement" not in document:
            raise _fail(
                where("policies", str(policy)),
                f"policy {policy!r} must be a policy document (Version, Statement)",
            )
        policies.append((str(policy), json.dumps(document, separators=(",", ":"), sort_keys=True)))
    managed = []
    for arn in _list(spec.get("managed"), where("managed"), "managed"):
        if not isinstance(arn, str) or not arn.startswith("arn:aws:iam::") or ":policy/" not in arn:
            raise _fail(
                where("managed"), f"{arn!r} is not a managed policy ARN (arn:aws:iam::aws:policy/NAME)"
            )
        managed.append(arn)
    return Role(name, tuple(policies), tuple(managed), where())


def merge_roles(seed: Seed, roles: list[Role]) -> Seed:
    """The seed with the services' roles added; one role declared twice must agree."""
    by_name: dict[str, Role] = {r.name: r for r in seed.roles}
    for role in roles:
        known = by_name.get(role.name)
        if known is None or (not known.policies and not known.managed):
            by_name[role.name] = role
        elif (role.policies or role.managed) and (role.policies, role.managed) != (
            known.policies,
            known.managed,
        ):
            raise _fail(
                role.declared_at, f"role {role.name!r} is declared with other policies at {known.declared_at}"
            )
    return replace(seed, roles=tuple(sorted(by_name.values(), key=lambda r: r.name)))


def to_document(seed: Seed, paths: Mapping[str, str]) -> dict[str, Any]:
    """The seed as JSON for the seeder, local paths replaced by where it finds them."""
    doc = asdict(seed)
    for bucket in doc["buckets"]:
        for obj in bucket["objects"]:
            obj["path"] = paths[obj["path"]]
    for table in doc["tables"]:
        if table["items_file"]:
            table["items_file"] = paths[table["items_file"]]
    return doc


def from_document(doc: Mapping[str, Any]) -> Seed:
    def pairs(value: Any) -> tuple[tuple[str, str], ...]:
        return tuple((str(a), str(b)) for a, b in value)

    return Seed(
        buckets=tuple(Bucket(b["name"], tuple(S3Object(**o) for o in b["objects"])) for b in doc["buckets"]),
        queues=tuple(
            Queue(q["name"], pairs(q["attributes"]), q["dead_letter"], q["max_receive_count"])
            for q in doc["queues"]
        ),
        topics=tuple(
            Topic(t["name"], pairs(t["attributes"]), tuple(Subscription(**s) for s in t["subscriptions"]))
            for t in doc["topics"]
        ),
        tables=tuple(
            Table(
                t["name"],
                pairs(t["keys"]),
                tuple(Index(i["name"], pairs(i["keys"])) for i in t["indexes"]),
                tuple(t["items"]),
                t["items_file"],
            )
            for t in doc["tables"]
        ),
        parameters=tuple(Parameter(**p) for p in doc["parameters"]),
        secrets=tuple(Secret(**s) for s in doc["secrets"]),
        roles=tuple(
            Role(r["name"], pairs(r["policies"]), tuple(r["managed"]), r.get("declared_at", ""))
            for r in doc["roles"]
        ),
        region=doc.get("region", "us-east-1"),
        namespace=str(doc.get("namespace", "")),
        discovered=tuple((str(a), str(b)) for a, b in doc.get("discovered", ())),
    )
