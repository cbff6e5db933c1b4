"""Least-privilege IAM policies per compose service: the scan predicts, the proxy confirms.

Two sources of the operations a service performs:
- predicted: the scanner's call sites (`s3.put_object(Bucket="assets")` is s3 PutObject on
  bucket assets), from the service's build context or image;
- observed: what its proxy forwarded (`.kecs/observed/<service>/requests*.jsonl`), with the
  resource each request named.

From them: an IAM policy document (actions from the operations, resources narrowed to the
ARNs seen or written literally, else `*` with the reason), and the difference: operations
predicted and never observed, and operations observed and not predicted (a scanner miss,
listed with the request that showed it). `allows` checks a request against a policy
document kecs wrote (Allow statements with `*`/`?` wildcards: what kecs generates), for
`kecs policy --check`. Pure, except `read_observed`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kecs import contract
from kecs.operations import OperationCatalog, resource_arn
from kecs.scanner.model import Finding
from kecs.scanner.services import ServiceCatalog
from kecs.tls import verify_record

# IAM's service prefix where it is not the signing name.
IAM_PREFIX = {"cloudwatch": "cloudwatch", "stepfunctions": "states", "elbv2": "elasticloadbalancing",
              "elb": "elasticloadbalancing", "sesv2": "ses", "dynamodbstreams": "dynamodb",
              "s3control": "s3", "kinesisvideo": "kinesisvideo", "iot-data": "iot"}  # fmt: skip
# Operations whose IAM action is not `prefix:Operation` (the AWS service authorization
# reference); an empty tuple: the operation needs no permission.
ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjectVersions"): ("s3:ListBucketVersions",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPartCopy"): ("s3:PutObject", "s3:GetObject"),
    ("s3", "CopyObject"): ("s3:PutObject", "s3:GetObject"),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "ListParts"): ("s3:ListMultipartUploadParts",),
    ("s3", "ListBuckets"): ("s3:ListAllMyBuckets",),
    ("s3", "GetBucketLocation"): ("s3:GetBucketLocation",),
    ("sts", "GetCallerIdentity"): (),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
    ("lambda", "InvokeAsync"): ("lambda:InvokeFunction",),
    ("dynamodb", "TransactWriteItems"): ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                         "dynamodb:ConditionCheckItem"),
    ("dynamodb", "TransactGetItems"): ("dynamodb:GetItem",),
    ("sqs", "SendMessageBatch"): ("sqs:SendMessage",),
    ("sqs", "DeleteMessageBatch"): ("sqs:DeleteMessage",),
    ("sqs", "ChangeMessageVisibilityBatch"): ("sqs:ChangeMessageVisibility",),
    ("secretsmanager", "BatchGetSecretValue"): ("secretsmanager:GetSecretValue",),
    ("logs", "StartLiveTail"): ("logs:StartLiveTail",),
}  # fmt: skip
# Actions that act on the account, not on one resource: always `*`.
ACCOUNT_WIDE = {"s3:ListAllMyBuckets", "sqs:ListQueues", "sns:ListTopics", "dynamodb:ListTables",
                "secretsmanager:ListSecrets", "ssm:DescribeParameters", "logs:DescribeLogGroups",
                "kinesis:ListStreams", "cloudwatch:PutMetricData", "cloudwatch:ListMetrics",
                "lambda:ListFunctions", "iam:ListRoles"}  # fmt: skip


@dataclass(frozen=True)
class Use:
    """One operation a service performs (predicted or observed) and where it showed."""

    aws_service: str
    operation: str
    resource: str | None  # an ARN
    where: str  # "app/app.py:12", or "PUT /bkt/k -> 200"


# Services whose IAM actions are the HTTP method of the request (API Gateway's management
# APIs, v1 and v2: `apigateway:GET` on the resource path), not the operation's name.
HTTP_METHOD_ACTIONS = {"apigateway": "apigateway", "apigatewayv2": "apigateway"}


def iam_actions(service: str, operation: str, catalog: ServiceCatalog) -> tuple[str, ...]:
    if (service, operation) in ACTIONS:
        return ACTIONS[(service, operation)]
    if service in HTTP_METHOD_ACTIONS:
        ops = OperationCatalog.load().service(service)
        method = next((r.method for r in ops.rest if r.operation == operation), None) if ops else None
        if method:
            return (f"{HTTP_METHOD_ACTIONS[service]}:{method}",)
    prefix = IAM_PREFIX.get(service) or catalog.endpoints.get(service, ("", service))[1] or service
    return (f"{prefix}:{operation}",)


_QUEUE_URL = re.compile(
    r"^https?://(?:sqs\.)?([a-z0-9-]+)\.(?:queue\.)?amazonaws\.com(?:\.cn)?/(\d{12})/([^/?#]+)$"
)
# S3 operations that act on a bucket, not on its objects (ListObjectsV2 is s3:ListBucket on
# the bucket); the rest of S3's with a Bucket act on objects in it.
_S3_BUCKET_LEVEL = re.compile(r"^(List|CreateBucket|DeleteBucket|HeadBucket|GetBucket|PutBucket)")


def _literal_arn(service: str, region: str, resource: str, operation: str = "") -> str | None:
    """The ARN a call site's literal parameters name (`Bucket=assets,Key=a.txt`): an object
    operation on a bucket whose key the code computes acts on `bucket/*`; a literal queue
    URL names its own region and account."""
    fields = dict(part.split("=", 1) for part in resource.split(",") if "=" in part)
    bound: dict[str, str] = {k: fields[k] for k in ("Bucket", "Key", "FunctionName") if k in fields}
    if service == "s3" and "Key" not in fields and "Prefix" in fields:
        bound["Key"] = fields["Prefix"] + "*"
    elif (
        service == "s3"
        and "Bucket" in fields
        and "Key" not in fields
        and not _S3_BUCKET_LEVEL.match(operation)
    ):
        bound["Key"] = "*"
    queue = _QUEUE_URL.match(fields.get("QueueUrl", "")) if service == "sqs" else None
    if queue:
        return f"arn:aws:sqs:{queue.group(1)}:{queue.group(2)}:{queue.group(3)}"
    return resource_arn(service, region, bound, fields, "")


def predicted(findings: Iterable[Finding], region: str = "*") -> list[Use]:
    """The operations the scanner found at call sites."""
    out = []
    for f in findings:
        if f.kind != "call" or not f.operation:
            continue
        for service in f.services:
            arn = _literal_arn(service, region, f.resource, f.operation) if f.resource else None
            out.append(Use(service, f.operation, arn, f"{f.path}:{f.line}"))
    return out


@dataclass
class Observed:
    """What a service's proxy recorded that may become a grant, and how many records were
    left out, by why."""

    uses: list[Use] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)

    def leave_out(self, why: str) -> None:
        self.left_out[why] = self.left_out.get(why, 0) + 1


def observed_use(record: object, operations: OperationCatalog) -> Use | str:
    """The operation a record shows the service performed, or why it grants nothing:
    kecs's own calls, failed requests (an app cannot earn a grant by asking), operations
    the AWS service does not have."""
    if not isinstance(record, dict):
        return "not a record"
    if record.get("kecs"):
        return "kecs's own calls"
    service, operation, status = record.get("aws_service"), record.get("operation"), record.get("status")
    resource = record.get("resource")
    if not isinstance(service, str) or not isinstance(operation, str) or not service or not operation:
        return "no AWS operation"
    if not isinstance(status, int) or not 200 <= status < 400:
        return "failed requests"
    known = operations.service(service)
    if known is None or operation not in known.names:
        return "unknown operations"
    if resource is not None and not (isinstance(resource, str) and resource.startswith("arn:")):
        return "malformed records"
    where = f"{str(record.get('request', '?'))[:200]} -> {status}"
    return Use(service, operation, resource, where)


def read_observed(
    project_dir: str, service: str, token: str | None, operations: OperationCatalog | None = None
) -> Observed:
    """What the service's proxy recorded (older rotated files first). With the project's
    internal token, a record whose MAC does not verify (written by anything but kecs's
    proxy, e.g. an app that mounts the project) is left out."""
    operations = operations or OperationCatalog.load()
    directory = os.path.join(project_dir, contract.PROJECT_OBSERVED_DIR, service)
    files = [
        os.path.join(directory, contract.observed_file(i)) for i in range(contract.OBSERVED_KEEP, -1, -1)
    ]
    out = Observed()
    for path in files:
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if token is not None and not verify_record(token, line):
                    out.leave_out("records not signed by kecs's proxy")
                    continue
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):
                    out.leave_out("unreadable lines")  # e.g. a line cut by a crash: the rest stands
                    continue
                use = observed_use(record, operations)
                if isinstance(use, str):
                    out.leave_out(use)
                else:
                    out.uses.append(use)
    return out


def _generalize(arn: str) -> str:
    """Objects in a bucket vary by key: grant the bucket's objects (`arn:aws:s3:::b/*`)."""
    if arn.startswith("arn:aws:s3:::") and "/" in arn:
        return arn.split("/", 1)[0] + "/*"
    return arn


@dataclass(frozen=True)
class ServicePolicy:
    document: dict[str, Any]
    reasons: dict[str, str]  # action -> why its resource is `*`
    unobserved: list[Use]  # predicted, never observed
    missed: list[Use]  # observed, not predicted: a scanner miss


def build(static: list[Use], seen: list[Use], catalog: ServiceCatalog, observed_only: bool = False,
          static_only: bool = False) -> ServicePolicy:  # fmt: skip
    uses = ([] if observed_only else static) + ([] if static_only else seen)
    resources: dict[str, set[str]] = {}
    reasons: dict[str, str] = {}
    for use in uses:
        for action in iam_actions(use.aws_service, use.operation, catalog):
            targets = resources.setdefault(action, set())
            if action in ACCOUNT_WIDE:
                reasons[action] = "acts on the account, not on one resource"
                targets.add("*")
            elif use.resource:
                targets.add(_generalize(use.resource))
            else:
                reasons.setdefault(action, f"no resource named where it showed ({use.where})")
                targets.add("*")
    grouped: dict[tuple[str, ...], list[str]] = {}
    for action, targets in sorted(resources.items()):
        key = ("*",) if "*" in targets else tuple(sorted(targets))
        grouped.setdefault(key, []).append(action)
    statements = [
        {"Sid": f"Kecs{n}", "Effect": "Allow", "Action": actions, "Resource": list(targets)}
        for n, (targets, actions) in enumerate(sorted(grouped.items(), key=lambda g: g[1]), start=1)
    ]
    document = {"Version": "2012-10-17", "Statement": statements}
    observed_ops = {(u.aws_service, u.operation) for u in seen}
    predicted_ops = {(u.aws_service, u.operation) for u in static}
    unobserved = _first_each(u for u in static if (u.aws_service, u.operation) not in observed_ops)
    missed = _first_each(u for u in seen if (u.aws_service, u.operation) not in predicted_ops)
    return ServicePolicy(document, {a: r for a, r in reasons.items() if a in resources}, unobserved, missed)


def _first_each(uses: Iterable[Use]) -> list[Use]:
    out: dict[tuple[str, str], Use] = {}
    for use in uses:
        out.setdefault((use.aws_service, use.operation), use)
    return sorted(out.values(), key=lambda u: (u.aws_service, u.operation))


def allows(document: Mapping[str, Any], action: str, resource: str | None) -> bool:
    """Whether an Allow statement of `document` grants `action` on `resource` (IAM's
    wildcards, case-insensitive actions; no Deny, conditions or NotAction: kecs writes none)."""
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        targets = statement.get("Resource") or []
        actions = [actions] if isinstance(actions, str) else actions
        targets = [targets] if isinstance(targets, str) else targets
        if not any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in actions):
            continue
        if any(t == "*" or (resource is not None and fnmatch.fnmatchcase(resource, str(t))) for t in targets):
            return True
    return False


def violations(
    document: Mapping[str, Any], seen: Iterable[Use], catalog: ServiceCatalog
) -> list[tuple[Use, str]]:
    """Uses (observed requests, or call sites the scan predicts) the document does not
    allow: (the use, the action denied)."""
    out = []
    for use in seen:
        for action in iam_actions(use.aws_service, use.operation, catalog):
            if not allows(document, action, use.resource):
                out.append((use, action))
    return out
