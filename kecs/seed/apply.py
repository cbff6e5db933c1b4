"""Make a seed true in the emulators, and resolve services' secrets, as an ordinary AWS client.

Runs in the `kecs-seed` container, which shares a captured service's network namespace: its
calls go to AWS names (no endpoint URL) and the capture takes each to the emulator its
service is routed to, exactly as the apps' calls go. boto3 is imported here only (the proxy
never imports this module).

`apply` is idempotent: a resource that exists as declared is left alone ("unchanged"); one
that differs is updated; one that is missing is created. `restore` only re-creates what is
missing (an emulator that restarted without its state) and never reverts what an app changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

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
                retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60
            )
            factory = lambda name: session.client(name, config=config)  # noqa: E731
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


def _missing(exc: Exception, *codes: str) -> bool:
    return (
        _code(exc) in codes
        or str(getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")) == "404"
    )


def apply(seed: Seed, clients: Clients, mode: str = FULL) -> Iterator[Result]:
    """Each resource's result, as it is reached. Roles first (apps assume them), queues
    before topics (subscriptions name them), dead-letter queues before their sources."""
    account = None

    def account_id() -> str:
        nonlocal account
        if account is None:
            account = str(clients.sts.get_caller_identity()["Account"])
        return account

    steps: list[tuple[str, str, Callable[[], Result]]] = []
    steps += [("iam role", r.name, partial(_role, clients, r, mode)) for r in seed.roles]
    steps += [("s3 bucket", b.name, partial(_bucket, clients, b, mode, seed.region)) for b in seed.buckets]
    ordered = sorted(seed.queues, key=lambda q: q.dead_letter is not None)
    steps += [("sqs queue", q.name, partial(_queue, clients, q, mode, seed, account_id)) for q in ordered]
    steps += [("sns topic", t.name, partial(_topic, clients, t, mode, seed, account_id)) for t in seed.topics]
    steps += [("dynamodb table", t.name, partial(_table, clients, t, mode)) for t in seed.tables]
    steps += [("ssm parameter", p.name, partial(_parameter, clients, p, mode)) for p in seed.parameters]
    steps += [("secret", s.name, partial(_secret, clients, s, mode)) for s in seed.secrets]
    for kind, name, step in steps:
        try:
            yield step()
        except Exception as exc:  # one resource's failure is reported; the others still go
            yield Result(kind, name, "failed", _message(exc))


def _role(clients: Clients, role: Role, mode: str) -> Result:
    iam = clients.iam
    try:
        iam.get_role(RoleName=role.name)
        created = False
    except Exception as exc:
        if not _missing(exc, "NoSuchEntity"):
            raise
        iam.create_role(RoleName=role.name, AssumeRolePolicyDocument=json.dumps(ECS_TRUST_POLICY),
                        Description="created by kecs for an ECS task role")  # fmt: skip
        created = True
    if mode == RESTORE and not created:
        return Result("iam role", role.name, "present")
    changed = 0
    for name, document in role.policies:
        try:
            current = iam.get_role_policy(RoleName=role.name, PolicyName=name)["PolicyDocument"]
            if isinstance(current, str):
                import urllib.parse

                current = json.loads(urllib.parse.unquote(current))
            same = json.dumps(current, sort_keys=True, separators=(",", ":")) == document
        except Exception as exc:
            if not _missing(exc, "NoSuchEntity"):
                raise
            same = False
        if not same:
            iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=document)
            changed += 1
    if role.managed:
        attached = {
            p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role.name)["AttachedPolicies"]
        }
        for arn in role.managed:
            if arn not in attached:
                iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)
                changed += 1
    detail = (
        f"{len(role.policies)} inline, {len(role.managed)} managed policies"
        if role.policies or role.managed
        else ""
    )
    return Result(
        "iam role", role.name, "created" if created else "updated" if changed else "unchanged", detail
    )


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
    try:
        s3.head_bucket(Bucket=bucket.name)
        created = False
    except Exception as exc:
        if not _missing(exc, "404", "NoSuchBucket", "NotFound"):
            raise
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket.name, **extra)
        created = True
    if mode == RESTORE and not created:
        return Result("s3 bucket", bucket.name, "present")
    uploaded = same = 0
    for obj in bucket.objects:
        for key, path in _files(obj.path, obj.key, obj.directory):
            if not created:
                try:
                    head = s3.head_object(Bucket=bucket.name, Key=key)
                    if head.get("ETag", "").strip('"') == _md5(path) and head.get(
                        "ContentLength"
                    ) == os.path.getsize(path):
                        same += 1
                        continue
                except Exception as exc:
                    if not _missing(exc, "404", "NoSuchKey", "NotFound"):
                        raise
            with open(path, "rb") as handle:
                s3.put_object(Bucket=bucket.name, Key=key, Body=handle)
            uploaded += 1
    detail = f"{uploaded + same} objects, {uploaded} uploaded" if uploaded + same else ""
    status = "created" if created else "updated" if uploaded else "unchanged"
    return Result("s3 bucket", bucket.name, status, detail)


def _queue_arn(clients: Clients, name: str, region: str, account_id: Callable[[], str]) -> str:
    return f"arn:aws:sqs:{region}:{account_id()}:{name}"


def _queue(clients: Clients, queue: Queue, mode: str, seed: Seed, account_id: Callable[[], str]) -> Result:
    sqs = clients.sqs
    wanted = dict(queue.attributes)
    if queue.dead_letter:
        wanted["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": _queue_arn(clients, queue.dead_letter, seed.region, account_id),
             "maxReceiveCount": queue.max_receive_count}, separators=(",", ":"))  # fmt: skip
    try:
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
    except Exception as exc:
        if not _missing(exc, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        sqs.create_queue(QueueName=queue.name, Attributes=wanted)
        return Result("sqs queue", queue.name, "created", ", ".join(sorted(wanted)) if wanted else "")
    if mode == RESTORE:
        return Result("sqs queue", queue.name, "present")
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
    differs = {}
    for key, value in wanted.items():
        have = current.get(key)
        if key == "RedrivePolicy" and have:
            same = json.loads(have) == json.loads(value) or (
                json.loads(have).get("deadLetterTargetArn") == json.loads(value)["deadLetterTargetArn"]
                and str(json.loads(have).get("maxReceiveCount")) == str(queue.max_receive_count)
            )
        else:
            same = str(have).lower() == value.lower() if have is not None else False
        if not same and key not in ("FifoQueue",):
            differs[key] = value
    if differs:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=differs)
        return Result("sqs queue", queue.name, "updated", ", ".join(sorted(differs)))
    return Result("sqs queue", queue.name, "unchanged")


def _topic(clients: Clients, topic: Topic, mode: str, seed: Seed, account_id: Callable[[], str]) -> Result:
    sns = clients.sns
    arn = f"arn:aws:sns:{seed.region}:{account_id()}:{topic.name}"
    try:
        sns.get_topic_attributes(TopicArn=arn)
        created = False
    except Exception as exc:
        if not _missing(exc, "NotFound", "NotFoundException"):
            raise
        arn = sns.create_topic(Name=topic.name, Attributes=dict(topic.attributes))["TopicArn"]
        created = True
    if mode == RESTORE and not created:
        return Result("sns topic", topic.name, "present")
    existing = set()
    if not created:
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
            existing |= {(s["Protocol"], s["Endpoint"]) for s in page.get("Subscriptions", [])}
    added = 0
    for sub in topic.subscriptions:
        endpoint = sub.endpoint
        if sub.protocol == "sqs" and not endpoint.startswith("arn:"):
            endpoint = _queue_arn(clients, endpoint, seed.region, account_id)
        if (sub.protocol, endpoint) not in existing:
            sns.subscribe(TopicArn=arn, Protocol=sub.protocol, Endpoint=endpoint)
            added += 1
    detail = f"{len(topic.subscriptions)} subscriptions" if topic.subscriptions else ""
    return Result(
        "sns topic", topic.name, "created" if created else "updated" if added else "unchanged", detail
    )


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


def _table(clients: Clients, table: Table, mode: str) -> Result:
    ddb = clients.dynamodb
    try:
        ddb.describe_table(TableName=table.name)
        created = False
    except Exception as exc:
        if not _missing(exc, "ResourceNotFoundException"):
            raise
        types = dict(table.keys)
        for index in table.indexes:
            types.update(dict(index.keys))

        def schema(keys: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
            return [
                {"AttributeName": k, "KeyType": "HASH" if i == 0 else "RANGE"}
                for i, (k, _) in enumerate(keys)
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
                raise TimeoutError(f"table {table.name} did not become ACTIVE in 120 s") from None
            time.sleep(0.5)
        created = True
    if mode == RESTORE and not created:
        return Result("dynamodb table", table.name, "present")
    written = same = 0
    key_names = [k for k, _ in table.keys]
    for item in _items(table):
        typed = _typed(dict(item))
        if not created:
            found = ddb.get_item(
                TableName=table.name, Key={k: typed[k] for k in key_names}, ConsistentRead=True
            )
            if found.get("Item") == typed:
                same += 1
                continue
        ddb.put_item(TableName=table.name, Item=typed)
        written += 1
    detail = f"{written + same} items, {written} written" if written + same else ""
    return Result(
        "dynamodb table", table.name, "created" if created else "updated" if written else "unchanged", detail
    )


def _parameter(clients: Clients, parameter: Parameter, mode: str) -> Result:
    ssm = clients.ssm
    try:
        current = ssm.get_parameter(Name=parameter.name, WithDecryption=True)["Parameter"]
    except Exception as exc:
        if not _missing(exc, "ParameterNotFound"):
            raise
        ssm.put_parameter(Name=parameter.name, Value=parameter.value, Type=parameter.type)
        return Result("ssm parameter", parameter.name, "created", parameter.type)
    if mode == RESTORE:
        return Result("ssm parameter", parameter.name, "present")
    if current.get("Value") == parameter.value and current.get("Type") == parameter.type:
        return Result("ssm parameter", parameter.name, "unchanged", parameter.type)
    ssm.put_parameter(Name=parameter.name, Value=parameter.value, Type=parameter.type, Overwrite=True)
    return Result("ssm parameter", parameter.name, "updated", parameter.type)


def _secret(clients: Clients, secret: Secret, mode: str) -> Result:
    sm = clients.secretsmanager
    try:
        current = sm.get_secret_value(SecretId=secret.name)
    except Exception as exc:
        if not _missing(exc, "ResourceNotFoundException"):
            raise
        sm.create_secret(Name=secret.name, SecretString=secret.value)
        return Result("secret", secret.name, "created")
    if mode == RESTORE:
        return Result("secret", secret.name, "present")
    if current.get("SecretString") == secret.value:
        return Result("secret", secret.name, "unchanged")
    sm.put_secret_value(SecretId=secret.name, SecretString=secret.value)
    return Result("secret", secret.name, "updated")


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
