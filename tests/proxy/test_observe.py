"""The proxy's record of each request: operation, resource and nothing secret."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h11
import pytest

from kecs.operations import OperationCatalog
from kecs.proxy.observe import Exchange, describe
from kecs.proxy.recorder import ObservedLog, Observer
from kecs.scanner.services import ServiceCatalog

SERVICES, OPS = ServiceCatalog.load(), OperationCatalog.load()
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _auth(service: str, region: str = "eu-west-1") -> tuple[bytes, bytes]:
    return (b"Authorization", f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261126/{region}/{service}/aws4_request, "
            f"SignedHeaders=host, Signature={'0' * 64}".encode())  # fmt: skip


def _record(
    method: str, target: str, host: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> dict:
    exchange = Exchange(method, target, host, tuple(headers), body, 200, "https://kecs-localstack:4566", 1.5)
    record = describe(exchange, "orders", SERVICES, OPS)
    assert record is not None
    return record


@pytest.mark.parametrize(
    ("method", "target", "host", "headers", "body", "expected"),
    [
        # REST (S3): path style, virtual-host style, sub-resources, required headers.
        ("PUT", "/bkt/a/b.txt", "s3.eu-west-1.amazonaws.com", [_auth("s3")], b"",
         ("s3", "PutObject", "arn:aws:s3:::bkt/a/b.txt")),
        ("GET", "/a.txt?tagging", "bkt.s3.eu-west-1.amazonaws.com", [_auth("s3")], b"",
         ("s3", "GetObjectTagging", "arn:aws:s3:::bkt/a.txt")),
        ("GET", "/?list-type=2&prefix=x", "bkt.s3.amazonaws.com", [_auth("s3")], b"",
         ("s3", "ListObjectsV2", "arn:aws:s3:::bkt")),
        ("PUT", "/bkt/k", "s3.amazonaws.com", [_auth("s3"), (b"x-amz-copy-source", b"/o/k")], b"",
         ("s3", "CopyObject", "arn:aws:s3:::bkt/k")),
        ("GET", "/", "s3.amazonaws.com", [_auth("s3")], b"", ("s3", "ListBuckets", None)),
        # JSON protocols: X-Amz-Target names the operation, the body the resource.
        ("POST", "/", "dynamodb.eu-west-1.amazonaws.com",
         [_auth("dynamodb"), (b"X-Amz-Target", b"DynamoDB_20120810.PutItem"),
          (b"Content-Type", b"application/x-amz-json-1.0")],
         b'{"TableName": "orders", "Item": {"secret": {"S": "x"}}}',
         ("dynamodb", "PutItem", "arn:aws:dynamodb:eu-west-1:*:table/orders")),
        ("POST", "/", "streams.dynamodb.eu-west-1.amazonaws.com",
         [_auth("dynamodb"), (b"X-Amz-Target", b"DynamoDBStreams_20120810.ListStreams"),
          (b"Content-Type", b"application/x-amz-json-1.0")], b"{}",
         ("dynamodbstreams", "ListStreams", None)),
        ("POST", "/", "secretsmanager.eu-west-1.amazonaws.com",
         [_auth("secretsmanager"), (b"X-Amz-Target", b"secretsmanager.GetSecretValue"),
          (b"Content-Type", b"application/x-amz-json-1.1")], b'{"SecretId": "db-pass"}',
         ("secretsmanager", "GetSecretValue", "arn:aws:secretsmanager:eu-west-1:*:secret:db-pass-*")),
        # Query protocols: Action in a form body, the queue from its URL.
        ("POST", "/000000000000/jobs", "sqs.eu-west-1.amazonaws.com",
         [_auth("sqs"), (b"Content-Type", b"application/x-www-form-urlencoded")],
         b"Action=SendMessage&MessageBody=hello&Version=2012-11-05",
         ("sqs", "SendMessage", "arn:aws:sqs:eu-west-1:*:jobs")),
        ("POST", "/", "sts.amazonaws.com", [_auth("sts", "us-east-1"), (b"Content-Type", b"application/x-www-form-urlencoded")],
         b"Action=GetCallerIdentity&Version=2011-06-15", ("sts", "GetCallerIdentity", None)),
        # A body cut at the head's limit names nothing, and is no error.
        ("POST", "/", "dynamodb.eu-west-1.amazonaws.com",
         [_auth("dynamodb"), (b"X-Amz-Target", b"DynamoDB_20120810.BatchWriteItem"),
          (b"Content-Type", b"application/x-amz-json-1.0")], b'{"RequestItems": {"orders": [',
         ("dynamodb", "BatchWriteItem", None)),
    ],
)  # fmt: skip
def test_operations_and_resources_from_the_request(method, target, host, headers, body, expected) -> None:  # type: ignore[no-untyped-def]
    record = _record(method, target, host, headers, body)
    assert (record["aws_service"], record["operation"], record["resource"]) == expected
    assert record["service"] == "orders" and record["status"] == 200


def test_no_secret_reaches_the_record() -> None:
    """A presigned URL carries its credential and signature in the query; bodies and header
    values carry secrets: none of them is written."""
    query = f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261126%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={SECRET}&X-Amz-Security-Token=tok"
    record = _record("GET", f"/bkt/k?{query}", "s3.amazonaws.com", [])
    assert (record["aws_service"], record["operation"]) == ("s3", "GetObject")
    assert record["request"] == "GET /bkt/k"
    body = f'{{"Name": "/db/pw", "Value": "{SECRET}", "Type": "SecureString"}}'.encode()
    headers = [_auth("ssm"), (b"X-Amz-Target", b"AmazonSSM.PutParameter"), (b"Content-Type", b"application/x-amz-json-1.1"),
               (b"X-Amz-Security-Token", SECRET.encode())]  # fmt: skip
    record = _record("POST", "/", "ssm.us-east-1.amazonaws.com", headers, body)
    assert (
        record["operation"] == "PutParameter"
        and record["resource"] == "arn:aws:ssm:eu-west-1:*:parameter/db/pw"
    )
    assert SECRET not in json.dumps(record) and "AKIDEXAMPLE" not in json.dumps(record)


def test_not_an_aws_request_is_not_recorded() -> None:
    exchange = Exchange("GET", "/", "example.com", (), b"", 200, "http://x", 0.0)
    assert describe(exchange, "a", SERVICES, OPS) is None


def test_the_log_is_bounded_and_rotates(tmp_path: Path) -> None:
    log = ObservedLog(str(tmp_path), max_bytes=1000, keep=2)
    for n in range(100):
        log.write(json.dumps({"n": n, "pad": "x" * 40}))
    log.close()
    files = sorted(os.listdir(tmp_path))
    assert files == ["requests.1.jsonl", "requests.2.jsonl", "requests.jsonl"]
    assert all(os.path.getsize(tmp_path / f) <= 1000 for f in files)
    lines = [json.loads(line) for f in ("requests.2.jsonl", "requests.1.jsonl", "requests.jsonl")
             for line in (tmp_path / f).read_text().splitlines()]  # fmt: skip
    numbers = [line["n"] for line in lines]
    assert numbers == sorted(numbers) and numbers[-1] == 99  # newest kept, in order, none twice


def test_the_log_is_never_written_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "requests.jsonl").symlink_to(target)
    with pytest.raises(OSError):
        ObservedLog(str(tmp_path)).write("{}")
    assert target.read_text() == ""


def test_the_observer_feeds_seen_and_the_sink() -> None:
    seen: list[str] = []
    lines: list[str] = []
    observer = Observer("orders", seen.append, lines.append)
    observer(Exchange("GET", "/", "s3.amazonaws.com", (_auth("s3"),), b"", 200, "http://e", 2.0))
    assert seen == ["s3"] and json.loads(lines[0])["operation"] == "ListBuckets"


def test_kecs_own_clients_are_marked_by_the_token_alone() -> None:
    """The seeder and the forwarder share the first captured service's namespace: their
    requests carry the project's internal token, which the proxy checks and strips; a
    User-Agent mark or a wrong token proves nothing (an app could send either)."""
    from kecs.proxy.http import take_internal

    def request(*extra: tuple[bytes, bytes]) -> h11.Request:
        return h11.Request(method="PUT", target="/bkt", headers=[(b"Host", b"s3.amazonaws.com"), *extra])

    stripped, proven = take_internal(request((b"X-Kecs-Internal", b"s3cret")), "s3cret")
    assert proven and all(k.lower() != b"x-kecs-internal" for k, _ in stripped.headers.raw_items())
    for forged in (request((b"x-kecs-internal", b"guess")), request((b"x-kecs-internal", b"s3cret"), (b"x-kecs-internal", b"s3cret"))):  # fmt: skip
        stripped, proven = take_internal(forged, "s3cret")
        assert not proven and len(stripped.headers) == 1  # stripped all the same
    assert (
        take_internal(request((b"x-kecs-internal", b"s3cret")), None)[1] is False
    )  # no token: nobody is kecs
    assert take_internal(request((b"User-Agent", b"Boto3 kecs-internal/seed")), "s3cret")[1] is False
    exchange = Exchange("PUT", "/bkt", "s3.amazonaws.com", (_auth("s3"),), b"", 200, "x", 1.0, internal=True)
    assert describe(exchange, "orders", SERVICES, OPS)["kecs"] is True  # type: ignore[index]
    assert "kecs" not in _record(
        "PUT", "/bkt", "s3.amazonaws.com", [_auth("s3"), (b"User-Agent", b"kecs-internal/seed")]
    )


def test_records_are_signed_and_a_changed_or_forged_line_does_not_verify(tmp_path: Path) -> None:
    from kecs.tls import verify_record

    log = ObservedLog(str(tmp_path), token="t0k3n")
    log.write(json.dumps({"service": "a", "operation": "GetObject", "status": 200}))
    log.close()
    [line] = (tmp_path / "requests.jsonl").read_text().splitlines()
    assert verify_record("t0k3n", line) and json.loads(line)["mac"]
    assert not verify_record("other", line)
    assert not verify_record("t0k3n", line.replace("GetObject", "PutObject"))
    assert not verify_record("t0k3n", json.dumps({"service": "a", "operation": "GetObject", "status": 200}))


def test_the_host_tells_services_signed_alike_apart() -> None:
    """dynamodb and dynamodbstreams share a signing name: without a target the host's
    endpoint prefix names the client."""
    headers = [_auth("dynamodb"), (b"Content-Type", b"application/x-amz-json-1.0")]
    assert (
        _record("POST", "/", "streams.dynamodb.eu-west-1.amazonaws.com", headers)["aws_service"]
        == "dynamodbstreams"
    )
    assert _record("POST", "/", "dynamodb.eu-west-1.amazonaws.com", headers)["aws_service"] == "dynamodb"
