"""kecs policy: documents from predicted and observed operations, the diff, and --check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kecs import policy
from kecs.cli import main
from kecs.scanner.model import Finding
from kecs.scanner.services import ServiceCatalog

CATALOG = ServiceCatalog.load()


def _call(line: int, service: str, operation: str, resource: str = "") -> Finding:
    return Finding(
        "app/app.py",
        line,
        1,
        "python",
        "boto3",
        (service,),
        "call",
        "x",
        operation=operation,
        resource=resource,
    )


def test_actions_resources_and_the_diff() -> None:
    static = policy.predicted(
        [_call(3, "s3", "PutObject", "Bucket=assets,Key=a.txt"), _call(4, "s3", "ListObjectsV2", "Bucket=assets"),
         _call(5, "sqs", "SendMessage"), _call(6, "sts", "GetCallerIdentity")],
        "us-east-1",
    )  # fmt: skip
    seen = [
        policy.Use("s3", "PutObject", "arn:aws:s3:::assets/b.txt", "PUT /assets/b.txt -> 200"),
        policy.Use("s3", "ListObjectsV2", "arn:aws:s3:::assets", "GET /assets -> 200"),
        policy.Use("dynamodb", "GetItem", "arn:aws:dynamodb:us-east-1:*:table/orders", "POST / -> 200"),
    ]
    result = policy.build(static, seen, CATALOG)
    statements = {tuple(s["Action"]): s["Resource"] for s in result.document["Statement"]}
    assert statements == {
        ("dynamodb:GetItem",): ["arn:aws:dynamodb:us-east-1:*:table/orders"],
        ("s3:ListBucket",): ["arn:aws:s3:::assets"],
        ("s3:PutObject",): ["arn:aws:s3:::assets/*"],  # object keys vary: the bucket's objects
        ("sqs:SendMessage",): ["*"],  # the queue is not named where it was called
    }
    assert "app/app.py:5" in result.reasons["sqs:SendMessage"]
    assert [(u.aws_service, u.operation, u.where) for u in result.missed] == [
        ("dynamodb", "GetItem", "POST / -> 200")
    ]
    assert [(u.operation, u.where) for u in result.unobserved] == [
        ("SendMessage", "app/app.py:5"), ("GetCallerIdentity", "app/app.py:6")
    ]  # fmt: skip
    only = policy.build(static, seen, CATALOG, observed_only=True)
    assert not any("sqs:SendMessage" in s["Action"] for s in only.document["Statement"])


def test_the_document_allows_what_was_observed_and_nothing_else() -> None:
    seen = [policy.Use("s3", "GetObject", "arn:aws:s3:::assets/a", "GET")]
    document = policy.build([], seen, CATALOG).document
    assert policy.violations(document, seen, CATALOG) == []
    other = [
        policy.Use("s3", "GetObject", "arn:aws:s3:::private/a", "GET"),
        policy.Use("s3", "DeleteObject", "arn:aws:s3:::assets/a", "DELETE"),
    ]
    assert [a for _, a in policy.violations(document, other, CATALOG)] == ["s3:GetObject", "s3:DeleteObject"]


ARNS = st.sampled_from(["arn:aws:s3:::assets/a", "arn:aws:s3:::assets", "arn:aws:s3:::other/x",
                        "arn:aws:sqs:us-east-1:*:jobs", "arn:aws:dynamodb:us-east-1:*:table/orders"])  # fmt: skip
ACTIONS = st.sampled_from(
    ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "sqs:SendMessage", "dynamodb:GetItem"]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.lists(ACTIONS, min_size=1, max_size=3), st.lists(st.one_of(ARNS, st.just("*"),
             st.just("arn:aws:s3:::assets/*")), min_size=1, max_size=2)), min_size=1, max_size=3),
    ACTIONS, ARNS,
)  # fmt: skip
def test_allows_agrees_with_motos_iam_evaluator(statements, action, resource) -> None:  # type: ignore[no-untyped-def]
    """The --check matcher against an IAM evaluator kecs did not write (moto's)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    document = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements]}  # fmt: skip
    expected = (
        IAMPolicy(json.dumps(document)).is_action_permitted(action, resource) == PermissionResult.PERMITTED
    )
    assert policy.allows(document, action, resource) == expected


def _project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "app.py").write_text(
        'import boto3\ns3 = boto3.client("s3")\ns3.put_object(Bucket="assets", Key="k", Body=b"")\n'
    )
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    build: ./app\n  db:\n    image: postgres\n"
    )
    observed = tmp_path / ".kecs" / "observed" / "app"
    observed.mkdir(parents=True)
    record = {"time": 1, "service": "app", "aws_service": "s3", "operation": "PutObject",
              "resource": "arn:aws:s3:::assets/k", "status": 200, "emulator": "x", "request": "PUT /assets/k"}  # fmt: skip
    seeder = {**record, "operation": "CreateBucket", "kecs": True}  # kecs's own seeder: not the app's
    (observed / "requests.jsonl").write_text(json.dumps(record) + "\n{cut line\n" + json.dumps(seeder) + "\n")
    return tmp_path


def test_kecs_policy_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path)
    assert main(["policy", str(root), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"app"}  # db neither calls nor was observed
    assert report["app"]["policy"]["Statement"] == [
        {"Sid": "Kecs1", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::assets/*"]}
    ]
    assert report["app"]["observed_not_predicted"] == [] and report["app"]["predicted_not_observed"] == []
    assert main(["policy", str(root), "--check"]) == 1  # nothing saved yet
    assert "no saved policy" in capsys.readouterr().err
    assert main(["policy", str(root), "--write"]) == 0
    assert json.loads((root / "kecs-policies" / "app.json").read_text())["Version"] == "2012-10-17"
    assert main(["policy", str(root), "--check"]) == 0
    capsys.readouterr()
    extra = {"time": 2, "service": "app", "aws_service": "s3", "operation": "DeleteObject",
             "resource": "arn:aws:s3:::assets/k", "status": 204, "emulator": "x", "request": "DELETE /assets/k"}  # fmt: skip
    with (root / ".kecs" / "observed" / "app" / "requests.jsonl").open("a") as handle:
        handle.write(json.dumps(extra) + "\n")
    assert main(["policy", str(root), "--check"]) == 1
    err = capsys.readouterr().err
    assert "app: s3:DeleteObject on arn:aws:s3:::assets/k is not allowed (DELETE /assets/k -> 204)" in err


def test_an_unknown_service_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _project(tmp_path)
    assert main(["policy", str(root), "--service", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no service 'nope'" in err and err.count("\n") == 1


def test_only_known_operations_that_succeeded_and_were_signed_become_grants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an app can put in the observed log (it may mount the project) or make its proxy
    record (failed or invented calls) grants nothing."""
    from kecs.tls import CaPaths, ensure_internal_token, key_directory, sign_record

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = tmp_path / "p"
    root.mkdir()
    _project(root)
    (keys := Path(key_directory(str(root)))).mkdir(parents=True, mode=0o700)
    token = ensure_internal_token(CaPaths(str(root / ".kecs"), str(keys)))
    base = {"time": 1, "service": "app", "emulator": "x", "request": "POST /"}
    records = [
        {
            **base,
            "aws_service": "s3",
            "operation": "PutObject",
            "resource": "arn:aws:s3:::assets/k",
            "status": 200,
        },
        {**base, "aws_service": "iam", "operation": "*", "status": 200},  # not an operation
        {**base, "aws_service": "*", "operation": "*", "status": 200},
        {**base, "aws_service": "s3", "operation": "DeleteEverything", "status": 200},  # invented
        {**base, "aws_service": "iam", "operation": "CreateUser", "status": 403},  # refused
        {**base, "aws_service": "sqs", "operation": "DeleteQueue", "status": 500},  # failed
        {**base, "aws_service": "sqs", "operation": "SendMessage", "status": 200, "resource": 5},
    ]
    signed = [sign_record(token, json.dumps(r, separators=(",", ":"))) for r in records]
    forged = json.dumps({**base, "aws_service": "iam", "operation": "CreateUser", "status": 200})
    hidden = sign_record(token, json.dumps({**base, "aws_service": "sqs", "operation": "SendMessage", "status": 200, "kecs": True}))  # fmt: skip
    log = root / ".kecs" / "observed" / "app" / "requests.jsonl"
    log.write_text("\n".join([*signed, forged, hidden]) + "\n")
    assert main(["policy", str(root), "--format", "json", "--observed-only"]) == 0
    captured = capsys.readouterr()
    statements = json.loads(captured.out)["app"]["policy"]["Statement"]
    assert [s["Action"] for s in statements] == [["s3:PutObject"]]
    err = captured.err
    assert "1 observed record(s) grant nothing: records not signed by kecs's proxy" in err
    assert "3 observed record(s) grant nothing: unknown operations" in err  # iam:*, *:*, DeleteEverything
    assert "2 observed record(s) grant nothing: failed requests" in err
    assert "1 observed record(s) grant nothing: malformed records" in err
    assert "kecs's own" not in err


def test_observed_use_reads_any_json_without_failing() -> None:
    from kecs.operations import OperationCatalog

    operations = OperationCatalog.load()
    for record in (None, 5, "x", [1], {"aws_service": ["s3"]}, {"aws_service": "s3", "operation": {"a": 1}},
                   {"aws_service": "s3", "operation": "GetObject", "status": "200"}, {"status": True}):  # fmt: skip
        assert isinstance(policy.observed_use(record, operations), str)


def test_api_gateway_actions_are_http_methods() -> None:
    """API Gateway's management APIs are authorised by method (`apigateway:GET` on the
    path), not by the operation's name: `apigateway:GetApis` is not an IAM action."""
    assert policy.iam_actions("apigatewayv2", "GetApis", CATALOG) == ("apigateway:GET",)
    assert policy.iam_actions("apigateway", "CreateRestApi", CATALOG) == ("apigateway:POST",)
    assert policy.iam_actions("apigateway", "DeleteRestApi", CATALOG) == ("apigateway:DELETE",)
    assert policy.iam_actions("apigateway", "UpdateStage", CATALOG) == ("apigateway:PATCH",)


def test_a_call_site_narrows_to_any_region() -> None:
    """The code names a queue, not a region (the SDK's configuration does)."""
    [use] = policy.predicted([_call(3, "sqs", "CreateQueue", "QueueName=jobs")])
    assert use.resource == "arn:aws:sqs:*:*:jobs"
    [table] = policy.predicted([_call(4, "dynamodb", "GetItem", "TableName=users")])
    assert table.resource == "arn:aws:dynamodb:*:*:table/users"


def test_check_fails_when_the_code_needs_what_the_saved_policy_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path)
    assert main(["policy", str(root), "--write"]) == 0
    assert main(["policy", str(root), "--check"]) == 0
    capsys.readouterr()
    app = root / "app" / "app.py"
    app.write_text(app.read_text() + 's3.delete_object(Bucket="assets", Key="old")\n')
    assert main(["policy", str(root), "--check"]) == 1
    err = capsys.readouterr().err
    assert "app: s3:DeleteObject on arn:aws:s3:::assets/old is not allowed (predicted at app/app.py:4)" in err
