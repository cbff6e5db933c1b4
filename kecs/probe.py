"""Which AWS services an emulator serves: one small write-and-read per service, with boto3.

`python -m kecs.probe URL [URL...]` prints, per URL, each service's verdict as JSON
(`{"url": {"s3": "ok", "dynamodb": "error: ..."}}`). The end-to-end run calls it inside
the compose network against every emulator there (`tools/emulator_coverage.py` turns the
verdicts into kecs/coverage.py and the README's table). Imports only the standard
library and boto3 (the proxy image's), so it runs in the proxy image as it is. Each
probe names its resources `kecs-probe-*` and leaves them there; an emulator is probed
with its own self-signed certificate unverified, as the proxy reaches it.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

REGION = "us-east-1"


def _s3(client: Any, name: str) -> None:
    client.create_bucket(Bucket=name)
    client.put_object(Bucket=name, Key="k", Body=b"v")
    assert client.get_object(Bucket=name, Key="k")["Body"].read() == b"v"


def _sqs(client: Any, name: str) -> None:
    url = client.create_queue(QueueName=name)["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="m")
    messages = client.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in messages] == ["m"], messages


def _sns(client: Any, name: str) -> None:
    arn = client.create_topic(Name=name)["TopicArn"]
    client.publish(TopicArn=arn, Message="m")
    assert arn in {t["TopicArn"] for t in client.list_topics()["Topics"]}


def _dynamodb(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.put_item(TableName=name, Item={"id": {"S": "1"}, "v": {"N": "2"}})
    assert client.get_item(TableName=name, Key={"id": {"S": "1"}})["Item"]["v"] == {"N": "2"}


def _kinesis(client: Any, name: str) -> None:
    client.create_stream(StreamName=name, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.put_record(StreamName=name, Data=b"r", PartitionKey="p")
    shard = client.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["Data"] for r in records] == [b"r"], records


def _sts(client: Any, name: str) -> None:
    assert client.get_caller_identity()["Account"]


def _iam(client: Any, name: str) -> None:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}  # fmt: skip
    client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    assert client.get_role(RoleName=name)["Role"]["RoleName"] == name


def _ssm(client: Any, name: str) -> None:
    client.put_parameter(Name=f"/{name}", Value="v", Type="SecureString")
    assert client.get_parameter(Name=f"/{name}", WithDecryption=True)["Parameter"]["Value"] == "v"


def _secretsmanager(client: Any, name: str) -> None:
    client.create_secret(Name=name, SecretString="s")
    assert client.get_secret_value(SecretId=name)["SecretString"] == "s"


def _logs(client: Any, name: str) -> None:
    client.create_log_group(logGroupName=name)
    client.create_log_stream(logGroupName=name, logStreamName="s")
    event = {"timestamp": int(time.time() * 1000), "message": "line"}
    client.put_log_events(logGroupName=name, logStreamName="s", logEvents=[event])
    got = client.get_log_events(logGroupName=name, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["line"], got


def _cloudwatch(client: Any, name: str) -> None:
    client.put_metric_data(Namespace=name, MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert client.list_metrics(Namespace=name)["Metrics"], "the metric is not listed"


def _servicediscovery(client: Any, name: str) -> None:
    operation = client.create_http_namespace(Name=name)["OperationId"]
    assert client.get_operation(OperationId=operation)["Operation"]["Status"] in (
        "SUBMITTED",
        "PENDING",
        "SUCCESS",
    )
    assert name in {n["Name"] for n in client.list_namespaces()["Namespaces"]}


def _route53(client: Any, name: str) -> None:
    zone = client.create_hosted_zone(Name=f"{name}.example", CallerReference=name)["HostedZone"]["Id"]
    record = {"Name": f"a.{name}.example", "Type": "A", "TTL": 30, "ResourceRecords": [{"Value": "10.1.2.3"}]}
    client.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    names = {r["Name"] for r in client.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]}
    assert f"a.{name}.example." in names, names


def _kms(client: Any, name: str) -> None:
    key = client.create_key(Description=name)["KeyMetadata"]["KeyId"]
    blob = client.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"


def _events(client: Any, name: str) -> None:
    client.create_event_bus(Name=name)
    failed = client.put_events(
        Entries=[{"Source": "kecs.probe", "DetailType": "d", "Detail": "{}", "EventBusName": name}]
    )
    assert failed["FailedEntryCount"] == 0, failed


PROBES: dict[str, Callable[[Any, str], None]] = {
    "s3": _s3, "sqs": _sqs, "sns": _sns, "dynamodb": _dynamodb, "kinesis": _kinesis, "sts": _sts, "iam": _iam,
    "ssm": _ssm, "secretsmanager": _secretsmanager, "logs": _logs, "cloudwatch": _cloudwatch,
    "servicediscovery": _servicediscovery, "route53": _route53, "kms": _kms, "events": _events,
}  # fmt: skip


def probe(url: str, service: str, timeout: float = 90) -> str:
    """'ok', or 'error: ...' with the first line of what went wrong."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=timeout, retries={"max_attempts": 1}, region_name=REGION)
    # A session per probe: boto3's default session is not safe to share between threads.
    client = boto3.session.Session().client(
        service, endpoint_url=url, verify=False, config=config,
        aws_access_key_id="000000000000", aws_secret_access_key="test",
    )  # fmt: skip
    try:
        PROBES[service](client, f"kecs-probe-{uuid.uuid4().hex[:8]}")
    except Exception as exc:  # the verdict is the point: any failure is one
        first = (str(exc) or type(exc).__name__).splitlines()[0]
        return f"error: {type(exc).__name__}: {first[:200]}"
    return "ok"


def probe_all(url: str) -> dict[str, str]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = pool.map(lambda s: (s, probe(url, s)), PROBES)
        return dict(verdicts)


def main(argv: list[str] | None = None) -> int:
    import urllib3

    urllib3.disable_warnings()
    urls = sys.argv[1:] if argv is None else argv
    if not urls:
        print("usage: python -m kecs.probe URL [URL...]", file=sys.stderr)
        return 2
    json.dump({url: probe_all(url) for url in urls}, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
