"""Make a seed true in the emulators, and resolve services' secrets, as an ordinary AWS client.

Runs in the `kecs-seed` container, which shares a captured service's network namespace: its
calls go to AWS names (no endpoint URL) and the capture takes each to the emulator its
service is routed to, exactly as the apps' calls go. boto3 is imported here only (the proxy
never imports this module).

`apply` in FULL mode is idempotent: a resource that exists as declared is left alone
("unchanged"); one that differs is updated; one that is missing is created. RESTORE only
creates what is missing and never reverts what an app changed ("present"). `kecs up` applies
RESTORE to every resource but those whose declaration changed since it was last applied
(kecs.seed.state), which get FULL: a deploy never resets the apps' data.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from kecs import contract, internal
from kecs.seed.model import ECS_TRUST_POLICY, Bucket, Parameter, Queue, Role, Secret, Seed, Table, Topic

FULL, RESTORE = "full", "restore"


@dataclass(frozen=True)
class Result:
    kind: str  # "s3 bucket", "sqs queue", ...
    name: str
    status: str  # created | updated | unchanged | present | failed
    detail: str = ""

    def line(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind:<16} {self.name:<40} {self.status}{detail}"


class Clients:
    """One boto3 client per AWS service, made on first use."""

    def __init__(self, region: str, factory: Callable[[str], Any] | None = None) -> None:
        if factory is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(region_name=region)
            config = Config(
                retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60,
                user_agent_extra=f"{contract.USER_AGENT_MARK}/seed",
            )  # fmt: skip
            factory = lambda name: internal.mark(session.client(name, config=config))  # noqa: E731
        self._factory = factory
        self._made: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._made:
            self._made[name] = self._factory(name)
        return self._made[name]


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    return f"{error.get('Code', type(exc).__name__)}: {error.get('Message', exc)}" if error else str(exc)


def _fetch(call: Callable[..., Any], *missing: str, **args: Any) -> Any | None:
    """`call(**args)`'s answer, or None when the service says the resource does not exist
    (one of the `missing` error codes, or a 404)."""
    try:
        return call(**args)
    except Exception as exc:
        response = getattr(exc, "response", None) or {}
        if _code(exc) in missing or response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise


def _status(created: bool, changed: int) -> str:
    return "created" if created else "updated" if changed else "unchanged"


def apply(
    seed: Seed, clients: Clients, mode: str = FULL, update: frozenset[str] | None = None
) -> Iterator[Result]:
    """Each resource's result, as it is reached. Roles first (apps assume them), queues
    before topics (subscriptions name them), dead-letter queues before their sources.
    In FULL mode with `update`, only the resources it names (`kind:name`) are brought to
    their declaration; the others are created if missing and otherwise left alone."""
    account = None

    def account_id() -> str:
        nonlocal account
        if account is None:
            account = str(clients.sts.get_caller_identity()["Account"])
        return account

    def m(kind: str, name: str) -> str:
        """This resource's mode."""
        return mode if update is None or f"{kind}:{name}" in update else RESTORE

    steps: list[tuple[str, str, Callable[[], Result]]] = []
    steps += [("iam role", r.name, partial(_role, clients, r, m("iam role", r.name))) for r in seed.roles]
    steps += [
        ("s3 bucket", b.name, partial(_bucket, clients, b, m("s3 bucket", b.name), seed.region))
        for b in seed.buckets
    ]
    ordered = sorted(seed.queues, key=lambda q: q.dead_letter is not None)
    steps += [
        ("sqs queue", q.name, partial(_queue, clients, q, m("sqs queue", q.name), seed, account_id))
        for q in ordered
    ]
    steps += [
        ("sns topic", t.name, partial(_topic, clients, t, m("sns topic", t.name), seed, account_id))
        for t in seed.topics
    ]
    steps += [
        ("dynamodb table", t.name, partial(_table, clients, t, m("dynamodb table", t.name)))
        for t in seed.tables
    ]
    steps += [
        ("ssm parameter", p.name, partial(_parameter, clients, p, m("ssm parameter", p.name)))
        for p in seed.parameters
    ]
    steps += [("secret", s.name, partial(_secret, clients, s, m("secret", s.name))) for s in seed.secrets]
    if seed.namespace:
        namespace_mode = m("cloud map", seed.namespace)
        steps.append(("cloud map", seed.namespace, partial(_namespace, clients, seed, namespace_mode)))
    for kind, name, step in steps:
        try:
            yield step()
        except Exception as exc:  # one resource's failure is reported; the others still go
            yield Result(kind, name, "failed", _message(exc))


def _role(clients: Clients, role: Role, mode: str) -> Result:
    iam = clients.iam
    created = _fetch(iam.get_role, "NoSuchEntity", RoleName=role.name) is None
    if created:
        iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=json.dumps(ECS_TRUST_POLICY),
                        Description="created by kecs for an ECS task role")  # fmt: skip
    elif mode == RESTORE:
        return Result("iam role", role.name, "present")
    changed = 0
    for name, document in role.policies:
        found = (
            None
            if created
            else _fetch(iam.get_role_policy, "NoSuchEntity", RoleName=role.name, PolicyName=name)
        )
        current = (found or {}).get("PolicyDocument")
        if isinstance(current, str):  # URL-encoded JSON in IAM's query protocol
            current = json.loads(urllib.parse.unquote(current))
        if current is None or json.dumps(current, sort_keys=True, separators=(",", ":")) != document:
            iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=document)
            changed += 1
    if role.managed:
        listed = iam.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]
        attached = {p["PolicyArn"] for p in listed}
        for arn in (a for a in role.managed if a not in attached):
            iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)
            changed += 1
    policies = len(role.policies) + len(role.managed)
    detail = f"{len(role.policies)} inline, {len(role.managed)} managed policies" if policies else ""
    return Result("iam role", role.name, _status(created, changed), detail)


def _files(obj_path: str, key: str, directory: bool) -> Iterator[tuple[str, str]]:
    if not directory:
        yield key, obj_path
        return
    for root, dirs, files in os.walk(obj_path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, obj_path).replace(os.sep, "/")
            yield key + rel, full


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _bucket(clients: Clients, bucket: Bucket, mode: str, region: str) -> Result:
    s3 = clients.s3
    created = _fetch(s3.head_bucket, "NoSuchBucket", "NotFound", Bucket=bucket.name) is None
    if created:
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket.name, **extra)
    elif mode == RESTORE:
        return Result("s3 bucket", bucket.name, "present")
    uploaded = same = 0
    for obj in bucket.objects:
        for key, path in _files(obj.path, obj.key, obj.directory):
            head = (
                None
                if created
                else _fetch(s3.head_object, "NoSuchKey", "NotFound", Bucket=bucket.name, Key=key)
            )
            if (
                head is not None
                and head.get("ContentLength") == os.path.getsize(path)
                and head.get("ETag", "").strip('"') == _md5(path)
            ):
                same += 1
                continue
            with open(path, "rb") as handle:
                s3.put_object(Bucket=bucket.name, Key=key, Body=handle)
            uploaded += 1
    detail = f"{uploaded + same} objects, {uploaded} uploaded" if uploaded + same else ""
    return Result("s3 bucket", bucket.name, _status(created, uploaded), detail)


def _queue_arn(name: str, region: str, account_id: Callable[[], str]) -> str:
    return f"arn:aws:sqs:{region}:{account_id()}:{name}"


def _queue(clients: Clients, queue: Queue, mode: str, seed: Seed, account_id: Callable[[], str]) -> Result:
    sqs = clients.sqs
    wanted = dict(queue.attributes)
    redrive = {}
    if queue.dead_letter:
        redrive = {"deadLetterTargetArn": _queue_arn(queue.dead_letter, seed.region, account_id),
                   "maxReceiveCount": str(queue.max_receive_count)}  # fmt: skip
        wanted["RedrivePolicy"] = json.dumps(redrive, separators=(",", ":"))
    found = _fetch(
        sqs.get_queue_url,
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        QueueName=queue.name,
    )
    if found is None:
        sqs.create_queue(QueueName=queue.name, Attributes=wanted)
        return Result("sqs queue", queue.name, "created", ", ".join(sorted(wanted)))
    if mode == RESTORE:
        return Result("sqs queue", queue.name, "present")
    current = sqs.get_queue_attributes(QueueUrl=found["QueueUrl"], AttributeNames=["All"]).get(
        "Attributes", {}
    )

    def same(key: str, value: str) -> bool:
        have = current.get(key)
        if key == "RedrivePolicy" and have:  # emulators write maxReceiveCount as a number or a string
            return {k: str(v) for k, v in json.loads(have).items()} == redrive
        return have is not None and str(have).lower() == value.lower()

    # FifoQueue cannot change after creation (and a mismatch is the queue's name's business).
    differs = {k: v for k, v in wanted.items() if k != "FifoQueue" and not same(k, v)}
    if differs:
        sqs.set_queue_attributes(QueueUrl=found["QueueUrl"], Attributes=differs)
    return Result("sqs queue", queue.name, _status(False, len(differs)), ", ".join(sorted(differs)))


def _topic(clients: Clients, topic: Topic, mode: str, seed: Seed, account_id: Callable[[], str]) -> Result:
    sns = clients.sns
    arn = f"arn:aws:sns:{seed.region}:{account_id()}:{topic.name}"
    created = _fetch(sns.get_topic_attributes, "NotFound", "NotFoundException", TopicArn=arn) is None
    if created:
        arn = sns.create_topic(Name=topic.name, Attributes=dict(topic.attributes))["TopicArn"]
    elif mode == RESTORE:
        return Result("sns topic", topic.name, "present")
    existing = set()
    if not created:
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
            existing |= {(s["Protocol"], s["Endpoint"]) for s in page.get("Subscriptions", [])}
    added = 0
    for sub in topic.subscriptions:
        endpoint = sub.endpoint
        if sub.protocol == "sqs" and not endpoint.startswith("arn:"):
            endpoint = _queue_arn(endpoint, seed.region, account_id)
        if (sub.protocol, endpoint) not in existing:
            sns.subscribe(TopicArn=arn, Protocol=sub.protocol, Endpoint=endpoint)
            added += 1
    detail = f"{len(topic.subscriptions)} subscriptions" if topic.subscriptions else ""
    return Result("sns topic", topic.name, _status(created, added), detail)


def _typed(value: Any) -> Any:
    from boto3.dynamodb.types import TypeSerializer

    def decimals(v: Any) -> Any:
        if isinstance(v, float):
            return Decimal(str(v))
        if isinstance(v, list):
            return [decimals(x) for x in v]
        if isinstance(v, dict):
            return {k: decimals(x) for k, x in v.items()}
        return v

    serializer = TypeSerializer()
    return {k: serializer.serialize(decimals(v)) for k, v in value.items()}


def _items(table: Table) -> list[Mapping[str, Any]]:
    items = list(table.items)
    if table.items_file:
        with open(table.items_file, encoding="utf-8") as handle:
            loaded = json.load(handle, parse_float=Decimal)
        if not isinstance(loaded, list):
            raise ValueError(
                f"{os.path.basename(table.items_file)}: items_file must hold a JSON list of items"
            )
        items += loaded
    return items


def _create_table(ddb: Any, table: Table) -> None:
    types = dict(table.keys)
    for index in table.indexes:
        types.update(dict(index.keys))

    def schema(keys: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
        return [
            {"AttributeName": k, "KeyType": "HASH" if i == 0 else "RANGE"} for i, (k, _) in enumerate(keys)
        ]

    extra: dict[str, Any] = {}
    if table.indexes:
        extra["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": schema(i.keys), "Projection": {"ProjectionType": "ALL"}}
            for i in table.indexes
        ]
    ddb.create_table(
        TableName=table.name, KeySchema=schema(table.keys), BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in types.items()], **extra,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while ddb.describe_table(TableName=table.name)["Table"].get("TableStatus") != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table.name} did not become ACTIVE in 120 s")
        time.sleep(0.5)


def _table(clients: Clients, table: Table, mode: str) -> Result:
    ddb = clients.dynamodb
    created = _fetch(ddb.describe_table, "ResourceNotFoundException", TableName=table.name) is None
    if created:
        _create_table(ddb, table)
    elif mode == RESTORE:
        return Result("dynamodb table", table.name, "present")
    written = same = 0
    key_names = [k for k, _ in table.keys]
    for item in _items(table):
        typed = _typed(dict(item))
        if not created:
            key = {k: typed[k] for k in key_names}
            if ddb.get_item(TableName=table.name, Key=key, ConsistentRead=True).get("Item") == typed:
                same += 1
                continue
        ddb.put_item(TableName=table.name, Item=typed)
        written += 1
    detail = f"{written + same} items, {written} written" if written + same else ""
    return Result("dynamodb table", table.name, _status(created, written), detail)


def _parameter(clients: Clients, parameter: Parameter, mode: str) -> Result:
    ssm = clients.ssm
    found = _fetch(ssm.get_parameter, "ParameterNotFound", Name=parameter.name, WithDecryption=True)
    if found is not None and mode == RESTORE:
        return Result("ssm parameter", parameter.name, "present")
    current = (found or {}).get("Parameter", {})
    changed = (current.get("Value"), current.get("Type")) != (parameter.value, parameter.type)
    if changed:
        ssm.put_parameter(
            Name=parameter.name, Value=parameter.value, Type=parameter.type, Overwrite=found is not None
        )
    return Result("ssm parameter", parameter.name, _status(found is None, changed), parameter.type)


def _secret(clients: Clients, secret: Secret, mode: str) -> Result:
    sm = clients.secretsmanager
    found = _fetch(sm.get_secret_value, "ResourceNotFoundException", SecretId=secret.name)
    if found is None:
        sm.create_secret(Name=secret.name, SecretString=secret.value)
        return Result("secret", secret.name, "created")
    if mode == RESTORE:
        return Result("secret", secret.name, "present")
    changed = found.get("SecretString") != secret.value
    if changed:
        sm.put_secret_value(SecretId=secret.name, SecretString=secret.value)
    return Result("secret", secret.name, _status(False, changed))


def _namespace_id(sd: Any, name: str) -> str | None:
    for page in sd.get_paginator("list_namespaces").paginate():
        for namespace in page.get("Namespaces", []):
            if namespace.get("Name") == name:
                return str(namespace["Id"])
    return None


def _services(sd: Any, namespace_id: str) -> dict[str, str]:
    found = {}
    filters = [{"Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ"}]
    for page in sd.get_paginator("list_services").paginate(Filters=filters):
        found.update({s["Name"]: s["Id"] for s in page.get("Services", [])})
    return found


def _namespace(clients: Clients, seed: Seed, mode: str) -> Result:
    """A Cloud Map private DNS namespace and a service per discovered name (A records)."""
    sd = clients.servicediscovery
    namespace_id = _namespace_id(sd, seed.namespace)
    created = namespace_id is None
    if created:
        operation = sd.create_private_dns_namespace(Name=seed.namespace, Vpc="vpc-kecs")["OperationId"]
        deadline = time.monotonic() + 60
        while sd.get_operation(OperationId=operation)["Operation"]["Status"] not in ("SUCCESS", "FAIL"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"namespace {seed.namespace} was not created in 60 s")
            time.sleep(0.5)
        namespace_id = _namespace_id(sd, seed.namespace)
        if namespace_id is None:
            raise RuntimeError(f"namespace {seed.namespace} was not created")
    assert namespace_id is not None
    existing = _services(sd, namespace_id)
    added = 0
    for name, _ in seed.discovered:
        if name not in existing:
            sd.create_service(
                Name=name, NamespaceId=namespace_id,
                DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]},
            )  # fmt: skip
            added += 1
    registered = register_instances(seed, clients)
    if mode == RESTORE and not created and not added and not registered:
        return Result("cloud map", seed.namespace, "present")
    detail = f"{len(seed.discovered)} services, {registered} instances registered"
    return Result("cloud map", seed.namespace, _status(created, added + registered), detail)


def register_instances(
    seed: Seed, clients: Clients, resolve: Callable[[str], list[str]] | None = None
) -> int:
    """Each discovered service's containers as instances (their addresses, found by the
    compose service's name); an address that changed is registered again. How many changed."""
    resolve = resolve or _addresses
    sd = clients.servicediscovery
    namespace_id = _namespace_id(sd, seed.namespace)
    if namespace_id is None:
        return 0
    services = _services(sd, namespace_id)
    changed = 0
    for name, service in seed.discovered:
        addresses = resolve(service)
        if not addresses or name not in services:
            continue  # not started yet: a later round registers it
        listed = sd.list_instances(ServiceId=services[name]).get("Instances", [])
        current = {i["Id"]: i.get("Attributes", {}).get("AWS_INSTANCE_IPV4") for i in listed}
        for index, address in enumerate(sorted(addresses)):
            instance = f"{service}-{index + 1}"
            if current.get(instance) != address:
                sd.register_instance(
                    ServiceId=services[name], InstanceId=instance, Attributes={"AWS_INSTANCE_IPV4": address}
                )
                changed += 1
    return changed


def _addresses(host: str) -> list[str]:
    try:
        return sorted(set(socket.gethostbyname_ex(host)[2]))
    except OSError:
        return []


@dataclass(frozen=True)
class Unresolved:
    service: str
    env: str
    value_from: str
    why: str


def resolve(
    refs: Mapping[str, list[Mapping[str, str]]], clients: Clients
) -> tuple[dict[str, dict[str, str]], list[Unresolved]]:
    """Each service's secrets as ECS resolves them at task start: {service: {ENV: value}},
    and what could not be resolved (the service must then not start)."""
    values: dict[str, dict[str, str]] = {}
    failed: list[Unresolved] = []
    for service, items in refs.items():
        values[service] = {}
        for ref in items:
            try:
                values[service][ref["env"]] = _resolve_one(ref, clients)
            except Exception as exc:
                failed.append(Unresolved(service, ref["env"], ref["value_from"], _message(exc)))
    return values, failed


def _resolve_one(ref: Mapping[str, str], clients: Clients) -> str:
    if ref["service"] == "ssm":
        return str(clients.ssm.get_parameter(Name=ref["name"], WithDecryption=True)["Parameter"]["Value"])
    args: dict[str, str] = {"SecretId": ref["name"]}
    if ref.get("version_stage"):
        args["VersionStage"] = ref["version_stage"]
    if ref.get("version_id"):
        args["VersionId"] = ref["version_id"]
    answer = clients.secretsmanager.get_secret_value(**args)
    text = answer.get("SecretString")
    if text is None:
        raise ValueError("the secret holds binary data; ECS injects only string secrets")
    key = ref.get("json_key")
    if not key:
        return str(text)
    try:
        document = json.loads(text)
    except ValueError:
        raise ValueError(f"json-key {key!r}: the secret's value is not JSON") from None
    if not isinstance(document, dict) or key not in document:
        raise ValueError(f"json-key {key!r} is not in the secret")
    value = document[key]
    return value if isinstance(value, str) else json.dumps(value)
