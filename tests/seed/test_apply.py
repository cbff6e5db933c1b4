from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from kecs.seed.apply import RESTORE, Clients, apply, resolve
from kecs.seed.model import parse_seed
from kecs.seed.secrets import parse_value_from, ref_to_json

DECLARED = {
    "s3": [{"bucket": "assets", "objects": [{"key": "config/app.json", "file": "app.json"}, {"prefix": "static/", "directory": "static"}]}],
    "sqs": [
        {"name": "jobs", "attributes": {"VisibilityTimeout": 45}, "dead_letter": {"queue": "jobs-dlq", "max_receive_count": 4}},
        {"name": "jobs-dlq"},
        {"name": "events.fifo"},
    ],
    "sns": [{"topic": "alerts", "subscriptions": [{"protocol": "sqs", "endpoint": "jobs"}]}],
    "dynamodb": [{"table": "users", "keys": {"id": "S"}, "indexes": [{"name": "by-email", "keys": {"email": "S"}}],
                  "items": [{"id": "u1", "email": "a@example.com", "age": 41, "score": 1.5, "tags": ["x"]}]}],
    "ssm": [{"name": "/app/mode", "value": "local"}, {"name": "/app/db/password", "value": "pw", "type": "SecureString"}],
    "secrets": [{"name": "db-pass", "value": "s3cret"}, {"name": "api", "json": {"user": "svc", "key": "k-1"}}],
    "iam": {"roles": [{"name": "orders-task", "policies": {"read": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}}]},
}  # fmt: skip


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clients]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        yield Clients("us-east-1", factory=session.client)


def seed_in(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "app.json").write_text('{"a": 1}')
    (tmp_path / "static" / "css").mkdir(parents=True)
    (tmp_path / "static" / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "static" / "css" / "site.css").write_text("h1{}")
    return parse_seed(DECLARED, lambda *p: "compose.yaml:1", str(tmp_path), lambda p, d: Path(p).exists())


def test_apply_creates_then_changes_nothing(tmp_path: Path, clients: Clients) -> None:
    seed = seed_in(tmp_path)
    first = {(r.kind, r.name): r for r in apply(seed, clients)}
    assert {r.status for r in first.values()} == {"created"}, [r.line() for r in first.values()]
    assert first["s3 bucket", "assets"].detail == "3 objects, 3 uploaded"
    s3 = clients.s3
    assert s3.get_object(Bucket="assets", Key="static/css/site.css")["Body"].read() == b"h1{}"
    sqs = clients.sqs
    url = sqs.get_queue_url(QueueName="jobs")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(":jobs-dlq")
    fifo = sqs.get_queue_url(QueueName="events.fifo")["QueueUrl"]
    assert (
        sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["FifoQueue"])["Attributes"]["FifoQueue"]
        == "true"
    )
    item = clients.dynamodb.get_item(TableName="users", Key={"id": {"S": "u1"}})["Item"]
    assert item["age"] == {"N": "41"} and item["score"] == {"N": "1.5"}
    assert clients.iam.get_role(RoleName="orders-task")["Role"]["AssumeRolePolicyDocument"]
    second = [r for r in apply(seed, clients)]
    assert {r.status for r in second} == {"unchanged"}, [r.line() for r in second]


def test_a_changed_declaration_updates_what_changed(tmp_path: Path, clients: Clients) -> None:
    list(apply(seed_in(tmp_path), clients))
    (tmp_path / "static" / "index.html").write_text("<h1>changed</h1>")
    changed = json.loads(json.dumps(DECLARED))
    changed["ssm"][0]["value"] = "cloud"
    changed["sqs"][0]["attributes"]["VisibilityTimeout"] = 60
    seed = parse_seed(changed, lambda *p: "compose.yaml:1", str(tmp_path), lambda p, d: Path(p).exists())
    results = {(r.kind, r.name): r for r in apply(seed, clients)}
    assert results["ssm parameter", "/app/mode"].status == "updated"
    assert results["ssm parameter", "/app/db/password"].status == "unchanged"
    assert results["sqs queue", "jobs"].status == "updated"
    assert results["s3 bucket", "assets"].detail == "3 objects, 1 uploaded"
    assert clients.ssm.get_parameter(Name="/app/mode")["Parameter"]["Value"] == "cloud"


def test_restore_recreates_only_what_is_missing(tmp_path: Path, clients: Clients) -> None:
    seed = seed_in(tmp_path)
    list(apply(seed, clients))
    clients.ssm.put_parameter(Name="/app/mode", Value="changed-by-the-app", Type="String", Overwrite=True)
    for key in ("config/app.json", "static/index.html", "static/css/site.css"):
        clients.s3.delete_object(Bucket="assets", Key=key)
    clients.s3.delete_bucket(Bucket="assets")
    clients.secretsmanager.delete_secret(SecretId="db-pass", ForceDeleteWithoutRecovery=True)
    results = {(r.kind, r.name): r.status for r in apply(seed, clients, RESTORE)}
    assert results["s3 bucket", "assets"] == "created" and results["secret", "db-pass"] == "created"
    assert results["ssm parameter", "/app/mode"] == "present"
    assert clients.ssm.get_parameter(Name="/app/mode")["Parameter"]["Value"] == "changed-by-the-app"
    assert len(clients.s3.list_objects_v2(Bucket="assets")["Contents"]) == 3


def test_secrets_resolve_as_ecs_injects_them(tmp_path: Path, clients: Clients) -> None:
    list(apply(seed_in(tmp_path), clients))
    arn = clients.secretsmanager.describe_secret(SecretId="api")["ARN"]
    refs = [
        parse_value_from("DB_PASSWORD", "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-pass"),
        parse_value_from("API_USER", f"{arn}:user::"),
        parse_value_from("API_KEY", f"{arn}:key:AWSCURRENT:"),
        parse_value_from("MODE", "/app/mode"),
        parse_value_from("DB_PW_PARAM", "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/password"),
        parse_value_from("GONE", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"),
        parse_value_from("NOKEY", f"{arn}:nope::"),
    ]
    values, unresolved = resolve({"orders": [ref_to_json(r) for r in refs]}, clients)
    assert values["orders"] == {
        "DB_PASSWORD": "s3cret",
        "API_USER": "svc",
        "API_KEY": "k-1",
        "MODE": "local",
        "DB_PW_PARAM": "pw",
    }
    assert [(u.env, u.why.split(":")[0]) for u in unresolved] == [
        ("GONE", "ResourceNotFoundException"),
        ("NOKEY", "json-key 'nope' is not in the secret"),
    ]


def test_cloud_map_namespace_services_and_instances(clients: Clients) -> None:
    from dataclasses import replace

    from kecs.seed.apply import register_instances
    from kecs.seed.model import Seed

    seed = replace(Seed(), namespace="shop.local", discovered=(("orders", "orders"), ("pay", "billing")))
    first = list(apply(seed, clients))
    assert [(r.kind, r.status) for r in first] == [("cloud map", "created")], [r.line() for r in first]
    sd = clients.servicediscovery
    addresses = {"orders": ["172.20.0.5"], "billing": []}
    assert register_instances(seed, clients, addresses.__getitem__) == 1
    found = sd.discover_instances(NamespaceName="shop.local", ServiceName="orders")["Instances"]
    assert [i["Attributes"]["AWS_INSTANCE_IPV4"] for i in found] == ["172.20.0.5"]
    assert register_instances(seed, clients, addresses.__getitem__) == 0  # unchanged: nothing sent
    addresses["billing"] = ["172.20.0.9"]
    addresses["orders"] = ["172.20.0.6"]  # re-created with another address
    assert register_instances(seed, clients, addresses.__getitem__) == 2
    found = sd.discover_instances(NamespaceName="shop.local", ServiceName="pay")["Instances"]
    assert [i["Attributes"]["AWS_INSTANCE_IPV4"] for i in found] == ["172.20.0.9"]
    assert [r.status for r in apply(seed, clients)] == ["unchanged"]  # its own DNS knows no "orders" here


def test_a_second_up_leaves_what_the_apps_changed_and_applies_only_changed_declarations(
    tmp_path: Path, clients: Clients
) -> None:
    """ECS never resets data on deploy: what exists stays as the apps made it; a resource
    whose declaration changed since it was last applied is brought to it; a reset does all."""
    from kecs.seed import state

    project = tmp_path / "p"
    (project / ".kecs").mkdir(parents=True)
    seed = seed_in(project)
    list(apply(seed, clients))  # the first `kecs up`
    state.write_applied(str(project), state.declarations(seed))
    # The apps change a seeded item, a seeded object and a parameter.
    ddb, s3, ssm = clients.dynamodb, clients.s3, clients.ssm
    ddb.put_item(TableName="users", Item={"id": {"S": "u1"}, "email": {"S": "changed@example.com"}})
    s3.put_object(Bucket="assets", Key="config/app.json", Body=b'{"a": 2}')
    ssm.put_parameter(Name="/app/mode", Value="changed-by-app", Type="String", Overwrite=True)
    # A second `kecs up` with the same declarations: nothing is reverted.
    update = state.changed_since(state.declarations(seed), state.read_applied(str(project)))
    assert update == []
    second = {(r.kind, r.name): r.status for r in apply(seed, clients, update=frozenset(update))}
    assert set(second.values()) == {"present"}, second
    assert ddb.get_item(TableName="users", Key={"id": {"S": "u1"}})["Item"]["email"] == {
        "S": "changed@example.com"
    }
    assert s3.get_object(Bucket="assets", Key="config/app.json")["Body"].read() == b'{"a": 2}'
    assert ssm.get_parameter(Name="/app/mode")["Parameter"]["Value"] == "changed-by-app"
    # The declaration of one parameter and one file changes: those two, and only those, are applied.
    changed = dict(DECLARED, ssm=[{"name": "/app/mode", "value": "staging"}, DECLARED["ssm"][1]])
    (project / "app.json").write_text('{"a": 3}')
    seed = parse_seed(changed, lambda *p: "compose.yaml:1", str(project), lambda p, d: Path(p).exists())
    update = state.changed_since(state.declarations(seed), state.read_applied(str(project)))
    assert update == ["s3 bucket:assets", "ssm parameter:/app/mode"]
    third = {(r.kind, r.name): r.status for r in apply(seed, clients, update=frozenset(update))}
    assert third["ssm parameter", "/app/mode"] == "updated" and third["s3 bucket", "assets"] == "updated"
    assert third["dynamodb table", "users"] == "present"
    assert ssm.get_parameter(Name="/app/mode")["Parameter"]["Value"] == "staging"
    assert s3.get_object(Bucket="assets", Key="config/app.json")["Body"].read() == b'{"a": 3}'
    assert ddb.get_item(TableName="users", Key={"id": {"S": "u1"}})["Item"]["email"] == {
        "S": "changed@example.com"
    }
    # Something the apps deleted is missing: it is created again, with its declared content.
    ddb.delete_table(TableName="users")
    fourth = {(r.kind, r.name): r.status for r in apply(seed, clients, update=frozenset())}
    assert fourth["dynamodb table", "users"] == "created"
    # `kecs seed --reset`: everything back to the declaration.
    ddb.put_item(TableName="users", Item={"id": {"S": "u1"}, "email": {"S": "again@example.com"}})
    reset = {(r.kind, r.name): r.status for r in apply(seed, clients, update=None)}
    assert reset["dynamodb table", "users"] == "updated"
    assert ddb.get_item(TableName="users", Key={"id": {"S": "u1"}})["Item"]["email"] == {"S": "a@example.com"}


def test_declaration_digests_follow_content_not_paths(tmp_path: Path) -> None:
    from kecs.seed import state

    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        root.mkdir()
    first = state.declarations(seed_in(one))
    assert first == state.declarations(seed_in(two))  # same content elsewhere: same digests
    (two / "static" / "css" / "site.css").write_text("h2{}")
    second = state.declarations(
        parse_seed(DECLARED, lambda *p: "compose.yaml:1", str(two), lambda p, d: Path(p).exists())
    )
    assert [k for k in first if first[k] != second[k]] == ["s3 bucket:assets"]
    assert state.changed_since(second, {}) == []  # never applied: nothing to bring back
