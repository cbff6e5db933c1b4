"""Operations at call sites, per language, validated against botocore's operation lists."""

from __future__ import annotations

import pytest

from kecs.operations import OperationCatalog
from tests.conftest import ScanSource


def _calls(found: list) -> list[tuple[int, tuple[str, ...], str, str]]:  # type: ignore[type-arg]
    return [(f.line, f.services, f.operation, f.resource) for f in found if f.kind == "call"]


def test_python_client_methods_paginators_and_literal_resources(scan_source: ScanSource) -> None:
    found = scan_source(
        "app.py",
        """
        import boto3
        from boto3.dynamodb.conditions import Attr

        s3 = boto3.client("s3")
        s3.put_object(Bucket="assets", Key="a.txt", Body=b"x")
        pages = s3.get_paginator("list_objects_v2")
        s3.close()
        s3.not_an_operation()
        copy = s3
        copy.delete_object(Bucket=name, Key="k")
        ddb = boto3.client("dynamodb")
        ddb.put_item(TableName="orders", Item={})
        """,
        kinds=("client", "call", "import"),
    )
    assert _calls(found) == [
        (5, ("s3",), "PutObject", "Bucket=assets,Key=a.txt"),
        (6, ("s3",), "ListObjectsV2", ""),
        (10, ("s3",), "DeleteObject", "Key=k"),
        (12, ("dynamodb",), "PutItem", "TableName=orders"),
    ]
    # A service's helpers name the service even without a client.
    assert [f.services for f in found if f.kind == "import"] == [(), ("dynamodb",)]


def test_javascript_v3_commands_and_v2_methods(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.mjs",
        """
        import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";
        import { PutCommand } from "@aws-sdk/lib-dynamodb";
        import AWS from "aws-sdk";
        await s3.send(new PutObjectCommand({ Bucket: "b" }));
        await doc.send(new PutCommand({ TableName: "t" }));
        const sqs = new AWS.SQS();
        sqs.sendMessage({ QueueUrl: "u" }).promise();
        new NotACommand();
        """,
        kinds=("client", "call", "import"),
    )
    assert [(line, services, op) for line, services, op, _ in _calls(found)] == [
        (4, ("s3",), "PutObject"),
        (5, ("dynamodb",), "PutItem"),
        (7, ("sqs",), "SendMessage"),
    ]


def test_go_v2_client_methods(scan_source: ScanSource) -> None:
    found = scan_source(
        "main.go",
        """
        package main
        import "github.com/aws/aws-sdk-go-v2/service/s3"
        func main() {
            client := s3.NewFromConfig(cfg)
            client.PutObject(ctx, &s3.PutObjectInput{})
            client.Options()
        }
        """,
        kinds=("client", "call", "import"),
    )
    assert [(line, op) for line, _, op, _ in _calls(found)] == [(5, "PutObject")]


def test_java_v2_builders_and_create(scan_source: ScanSource) -> None:
    found = scan_source(
        "App.java",
        """
        import software.amazon.awssdk.services.s3.S3Client;
        class App { void f() {
          S3Client s3 = S3Client.builder().region(r).build();
          s3.putObject(req, body);
          var other = S3Client.create();
          other.listBuckets();
          other.serviceName();
        }}
        """,
        kinds=("client", "call", "import"),
    )
    assert [(line, op) for line, _, op, _ in _calls(found)] == [(4, "PutObject"), (6, "ListBuckets")]


@pytest.mark.parametrize(
    ("service", "spelled", "operation"),
    [
        ("s3", "put_object", "PutObject"), ("s3", "PutObjectCommand", "PutObject"), ("s3", "putObject", "PutObject"),
        ("dynamodb", "GetItemWithContext", "GetItem"), ("s3", "list_objects_v2", "ListObjectsV2"),
        ("sqs", "sendMessageAsync", "SendMessage"), ("s3", "nope", None), ("not-a-service", "x", None),
    ],
)  # fmt: skip
def test_spellings_resolve_to_the_models_names(service: str, spelled: str, operation: str | None) -> None:
    assert OperationCatalog.load().operation(service, spelled) == operation


def test_retired_services_are_reported_as_written(scan_source: ScanSource) -> None:
    """qldb is gone from botocore, but the code still calls it."""
    found = scan_source("q.py", 'import boto3\nq = boto3.client("qldb")\nx = boto3.client("not-a-service")\n')
    assert [f.services for f in found if f.kind == "client"] == [("qldb",), ()]


def test_the_lambda_java_runtime_is_not_a_lambda_client(scan_source: ScanSource) -> None:
    """Its interfaces and events are a handler's types, not calls to the Lambda service."""
    found = scan_source(
        "src/Handler.java",
        """
        import com.amazonaws.services.lambda.runtime.Context;
        import com.amazonaws.services.lambda.runtime.events.SQSEvent;
        import software.amazon.awssdk.services.lambda.LambdaClient;
        """,
    )
    assert [(f.line, f.services) for f in found] == [(3, ("lambda",))]


def test_one_hop_client_factories_in_a_file(scan_source: ScanSource) -> None:
    found = scan_source(
        "fac.py",
        """
        import boto3

        def client_factory(service):
            return boto3.client(service)

        def client(service, **kw):
            return boto3.client(service, endpoint_url="http://x", **kw)

        ssm = client_factory("ssm")
        ssm.get_parameter(Name="/a")
        client("sqs")
        client_factory(name)
        """,
        kinds=("client", "call"),
    )
    assert [(f.line, f.kind, f.services, f.operation) for f in found if f.line >= 9] == [
        (9, "client", ("ssm",), ""),
        (10, "call", ("ssm",), "GetParameter"),
        (11, "client", ("sqs",), ""),
        (12, "client", (), ""),  # a service the code does not name: still a client
    ]


def test_factories_that_always_make_one_services_client(scan_source: ScanSource) -> None:
    """`func newStore(cfg) *s3.Client { return s3.NewFromConfig(cfg) }` and its kin: what
    the factory returns is that service's client, and its operations are found."""
    go = scan_source(
        "store.go",
        """
        package p
        import "github.com/aws/aws-sdk-go-v2/service/s3"
        func newStore(cfg aws.Config) *s3.Client { return s3.NewFromConfig(cfg) }
        func use() { store := newStore(cfg); store.GetObject(ctx, nil) }
        """,
        kinds=("call",),
    )
    assert [(f.line, f.services, f.operation) for f in go] == [(4, ("s3",), "GetObject")]
    java = scan_source(
        "Store.java",
        """
        import software.amazon.awssdk.services.dynamodb.DynamoDbClient;
        class Store {
          static DynamoDbClient client() { return DynamoDbClient.builder().build(); }
          void put() { DynamoDbClient c = client(); c.putItem(r); }
        }
        """,
        kinds=("call",),
    )
    assert [(f.line, f.operation) for f in java if f.path == "Store.java"] == [(4, "PutItem")]
    js = scan_source(
        "queue.js",
        """
        const { SQSClient } = require("@aws-sdk/client-sqs");
        const AWS = require("aws-sdk");
        function topics() { return new AWS.SNS(); }
        const t = topics();
        t.publish({ TopicArn: "a" });
        """,
        kinds=("call",),
    )
    assert [(f.line, f.services, f.operation) for f in js if f.path == "queue.js"] == [
        (5, ("sns",), "Publish")
    ]
    py = scan_source(
        "p.py",
        'import boto3\ndef sqs():\n    return boto3.client("sqs")\nq = sqs()\nq.send_message(QueueUrl="u", MessageBody="m")\n',
        kinds=("call",),
    )
    assert [(f.line, f.operation) for f in py if f.path == "p.py"] == [(5, "SendMessage")]


def test_boto3_resources_transfers_and_waiters(scan_source: ScanSource) -> None:
    found = scan_source(
        "res.py",
        """
        import boto3

        dynamodb = boto3.resource("dynamodb")
        table = dynamodb.Table("orders")
        table.put_item(Item={"id": "1"})
        dynamodb.get_waiter = None
        s3 = boto3.client("s3")
        s3.upload_file("a.txt", "assets", "a.txt")
        ddb = boto3.client("dynamodb")
        ddb.get_waiter("table_exists").wait(TableName="orders")
        """,
        kinds=("call",),
    )
    calls = [(f.line, f.services, f.operation, f.resource) for f in found]
    assert calls[0] == (5, ("dynamodb",), "PutItem", "TableName=orders")
    assert [op for line, _, op, _ in calls if line == 8] == [
        "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload"
    ]  # fmt: skip
    assert [(line, op) for line, _, op, _ in calls if line == 10] == [(10, "DescribeTable")]


def test_resources_written_as_record_literals(scan_source: ScanSource) -> None:
    found = scan_source(
        "main.go",
        """
        package main
        import "github.com/aws/aws-sdk-go-v2/service/s3"
        func main() {
            client := s3.NewFromConfig(cfg)
            client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("assets"), Key: aws.String("a.txt")})
            client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket})
        }
        """,
        kinds=("call",),
    )
    assert [(f.operation, f.resource) for f in found] == [
        ("PutObject", "Bucket=assets,Key=a.txt"),
        ("GetObject", ""),
    ]
    found = scan_source(
        "a.mjs",
        """
        import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
        await sqs.send(new SendMessageCommand({ QueueUrl: "https://q/jobs", MessageBody: `x` }));
        await sqs.send(new SendMessageCommand({ QueueUrl: `${base}/jobs` }));
        """,
        kinds=("call",),
    )
    assert [(f.operation, f.resource) for f in found if f.path == "a.mjs"] == [
        ("SendMessage", "QueueUrl=https://q/jobs"), ("SendMessage", "")
    ]  # fmt: skip


def test_factories_imported_from_another_module(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`from ..clients import client_for` in a file with no SDK word in it: the second pass
    reads the files that name a factory another module defines."""
    from kecs.scanner.engine import ScanOptions, scan_path

    (tmp_path / "app" / "handlers").mkdir(parents=True)
    (tmp_path / "app" / "clients.py").write_text(
        "import boto3\n\ndef client_for(service):\n    return boto3.client(service)\n"
    )
    (tmp_path / "app" / "handlers" / "config.py").write_text(
        'from ..clients import client_for\n\nssm = client_for("ssm")\nssm.get_parameter(Name="/x")\n'
    )
    (tmp_path / "app" / "jobs.py").write_text(
        'from app.clients import (\n    client_for as make,\n)\nq = make("sqs")\n'
    )
    (tmp_path / "app" / "other.py").write_text(
        'from app.unrelated import client_for\nx = client_for("sns")\n'
    )
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    found = [
        (f.path, f.line, f.kind, f.sdk, f.services, f.operation)
        for f in report.findings
        if f.kind != "import"
    ]
    assert found == [
        ("app/clients.py", 4, "client", "boto3", (), ""),
        ("app/handlers/config.py", 3, "client", "boto3", ("ssm",), ""),
        ("app/handlers/config.py", 4, "call", "boto3", ("ssm",), "GetParameter"),
        ("app/jobs.py", 4, "client", "boto3", ("sqs",), ""),
    ]


def _cross_module(tmp_path, files: dict[str, str]) -> list[tuple[str, int, str, str, tuple[str, ...], str]]:  # type: ignore[no-untyped-def]
    from kecs.scanner.engine import ScanOptions, scan_path

    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    return [
        (f.path, f.line, f.kind, f.sdk, f.services, f.operation)
        for f in report.findings
        if f.kind in ("client", "call")
    ]


def test_javascript_factories_imported_from_another_module(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """ES modules and CommonJS, relative specifiers with and without an extension, a
    directory's index; a factory of the same name from a package is not the project's."""
    found = _cross_module(tmp_path, {
        "src/lib/aws.js": 'import { S3Client } from "@aws-sdk/client-s3";\n'
                          "export const makeS3 = () => new S3Client({});\n",
        "src/lib/queues/index.ts": 'import { SQSClient } from "@aws-sdk/client-sqs";\n'
                                   "export function makeQueue() { return new SQSClient({ region: 'eu-west-1' }); }\n",
        "src/app/upload.mjs": 'import { makeS3 } from "../lib/aws.js";\nimport { PutObjectCommand } from "@aws-sdk/client-s3";\n'
                              'const s3 = makeS3();\nawait s3.send(new PutObjectCommand({ Bucket: "b" }));\n',
        "src/app/jobs.ts": 'import { makeQueue } from "../lib/queues";\nconst q = makeQueue();\n',
        "src/app/old.js": 'const { makeS3 } = require("../lib/aws");\nconst c = makeS3();\n',
        "src/app/other.js": 'const { makeS3 } = require("some-package");\nconst c = makeS3();\n',
    })  # fmt: skip
    assert [row for row in found if row[0].startswith("src/app/")] == [
        ("src/app/jobs.ts", 2, "client", "aws-sdk-js-v3", ("sqs",), ""),
        ("src/app/old.js", 2, "client", "aws-sdk-js-v3", ("s3",), ""),
        ("src/app/upload.mjs", 3, "client", "aws-sdk-js-v3", ("s3",), ""),
        ("src/app/upload.mjs", 4, "call", "aws-sdk-js-v3", ("s3",), "PutObject"),
    ]


def test_go_factories_imported_from_another_package(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The package's import path from the nearest go.mod; a package of the same name
    elsewhere is not it."""
    found = _cross_module(tmp_path, {
        "svc/go.mod": "module example.com/shop\n\ngo 1.22\n",
        "svc/internal/awsclients/clients.go": 'package awsclients\n\nimport (\n\t"github.com/aws/aws-sdk-go-v2/aws"\n'
                                              '\t"github.com/aws/aws-sdk-go-v2/service/dynamodb"\n)\n\n'
                                              "func NewTable(cfg aws.Config) *dynamodb.Client {\n\treturn dynamodb.NewFromConfig(cfg)\n}\n",
        "svc/cmd/api/main.go": 'package main\n\nimport (\n\t"context"\n\n\t"example.com/shop/internal/awsclients"\n)\n\n'
                               "func run(ctx context.Context) {\n\tdb := awsclients.NewTable(cfg)\n\tdb.GetItem(ctx, nil)\n}\n",
        "svc/cmd/tool/main.go": 'package main\n\nimport "example.com/other/awsclients"\n\nvar db = awsclients.NewTable(cfg)\n',
    })  # fmt: skip
    assert [row for row in found if row[0].startswith("svc/cmd/")] == [
        ("svc/cmd/api/main.go", 10, "client", "aws-sdk-go-v2", ("dynamodb",), ""),
        ("svc/cmd/api/main.go", 11, "call", "aws-sdk-go-v2", ("dynamodb",), "GetItem"),
    ]


def test_java_factories_of_another_class(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Imported, statically imported, or in the same package without an import."""
    found = _cross_module(tmp_path, {
        "src/main/java/com/example/aws/AwsClients.java":
            "package com.example.aws;\n\nimport software.amazon.awssdk.services.sqs.SqsClient;\n\n"
            "public final class AwsClients {\n  public static SqsClient queues() { return SqsClient.create(); }\n}\n",
        "src/main/java/com/example/aws/Poller.java":
            "package com.example.aws;\n\nclass Poller {\n  void poll() {\n    var q = AwsClients.queues();\n"
            "    q.receiveMessage(r -> r.queueUrl(\"u\"));\n  }\n}\n",
        "src/main/java/com/example/app/Jobs.java":
            "package com.example.app;\n\nimport com.example.aws.AwsClients;\n\nclass Jobs {\n"
            "  Object q = AwsClients.queues();\n}\n",
        "src/main/java/com/example/app/Static.java":
            "package com.example.app;\n\nimport static com.example.aws.AwsClients.queues;\n\nclass Static {\n"
            "  Object q = queues();\n}\n",
        "src/main/java/com/example/other/Elsewhere.java":
            "package com.example.other;\n\nclass Elsewhere {\n  Object q = AwsClients.queues();\n}\n",
    })  # fmt: skip
    assert [row for row in found if not row[0].endswith("AwsClients.java")] == [
        ("src/main/java/com/example/app/Jobs.java", 6, "client", "aws-sdk-java-v2", ("sqs",), ""),
        ("src/main/java/com/example/app/Static.java", 6, "client", "aws-sdk-java-v2", ("sqs",), ""),
        ("src/main/java/com/example/aws/Poller.java", 5, "client", "aws-sdk-java-v2", ("sqs",), ""),
        (
            "src/main/java/com/example/aws/Poller.java",
            6,
            "call",
            "aws-sdk-java-v2",
            ("sqs",),
            "ReceiveMessage",
        ),
    ]


@pytest.mark.parametrize(
    "filename,code,expected",
    [
        ("w.rb", "require 'aws-sdk-sqs'\nclass W\n  def initialize\n    @q = Aws::SQS::Client.new(region: 'x')\n  end\n"
                 "  def go\n    @q.send_message(queue_url: 'jobs', message_body: 'm')\n    @q.bogus_call\n  end\nend\n",
         [(7, ("sqs",), "SendMessage", "QueueUrl=jobs")]),
        ("u.php", "<?php\nuse Aws\\S3\\S3Client;\n$s3 = new S3Client([]);\n$s3->putObject(['Bucket' => 'b', 'Key' => $k]);\n",
         [(4, ("s3",), "PutObject", "Bucket=b")]),
        ("U.cs", "using Amazon.DynamoDBv2;\nclass U {\n  AmazonDynamoDBClient db = new AmazonDynamoDBClient();\n"
                 "  async Task P() { await db.PutItemAsync(req); var q = new Amazon.SQS.AmazonSQSClient(); q.SendMessage(r); }\n}\n",
         [(4, ("dynamodb",), "PutItem", ""), (4, ("sqs",), "SendMessage", "")]),
        ("m.rs", "use aws_sdk_s3::Client;\nasync fn f(cfg: &aws_config::SdkConfig) {\n    let client = Client::new(cfg);\n"
                 "    client.list_buckets().send().await;\n}\n",
         [(4, ("s3",), "ListBuckets", "")]),
        ("A.kt", "import aws.sdk.kotlin.services.sqs.SqsClient\nval sqs = SqsClient { region = \"x\" }\n"
                 "suspend fun f() { sqs.receiveMessage(req) }\n",
         [(3, ("sqs",), "ReceiveMessage", "")]),
    ],
)  # fmt: skip
def test_operations_in_the_other_languages(
    scan_source: ScanSource, filename: str, code: str, expected: list[tuple[int, tuple[str, ...], str, str]]
) -> None:
    """Ruby, PHP, C#, Rust and Kotlin clients held in a variable (also Ruby's @ivar, PHP's
    ->), their operations however spelled (send_message, putObject, PutItemAsync), and the
    resource from a Ruby hash or a PHP array."""
    found = scan_source(filename, code, kinds=("call",))
    assert [(f.line, f.services, f.operation, f.resource) for f in found] == expected


def test_resources_from_builders(scan_source: ScanSource) -> None:
    """Java v2 requests are built, as a lambda or a builder among the arguments; Rust's are
    fluent setters after the call. A setter that is not a literal names nothing."""
    java = scan_source(
        "J.java",
        """
        import software.amazon.awssdk.services.sqs.SqsClient;
        import software.amazon.awssdk.services.s3.S3Client;
        import software.amazon.awssdk.services.s3.model.PutObjectRequest;
        class J {
          SqsClient sqs = SqsClient.create();
          S3Client s3 = S3Client.create();
          void f(String url, String h) {
            sqs.receiveMessage(r -> r.queueUrl("jobs").waitTimeSeconds(20));
            sqs.deleteMessage(r -> r.queueUrl(url).receiptHandle(h));
            s3.putObject(PutObjectRequest.builder().bucket("assets").key("a/b").build(), body);
          }
        }
        """,
        kinds=("call",),
    )
    assert [(f.line, f.operation, f.resource) for f in java] == [
        (8, "ReceiveMessage", "QueueUrl=jobs"), (9, "DeleteMessage", ""), (10, "PutObject", "Bucket=assets,Key=a/b")
    ]  # fmt: skip
    rust = scan_source(
        "m.rs",
        """
        use aws_sdk_s3::Client;
        async fn f(cfg: &aws_config::SdkConfig, key: &str) {
            let client = Client::new(cfg);
            client.put_object().bucket("assets").key(key).send().await;
        }
        """,
        kinds=("call",),
    )
    assert [(f.line, f.operation, f.resource) for f in rust if f.path == "m.rs"] == [
        (4, "PutObject", "Bucket=assets")
    ]


def test_kotlin_factories_in_the_file_and_its_package_importers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A top-level function returning a client belongs to its file's package."""
    found = _cross_module(tmp_path, {
        "aws/Clients.kt": 'package com.example.aws\n\nimport aws.sdk.kotlin.services.sqs.SqsClient\n\n'
                          'fun queues(): SqsClient = SqsClient { region = "x" }\n\nfun local() {\n    val q = queues()\n'
                          "    q.sendMessage(req)\n}\n",
        "jobs/Poll.kt": "package com.example.jobs\n\nimport com.example.aws.queues\n\nsuspend fun poll() {\n"
                        "    val q = queues()\n    q.receiveMessage(req)\n}\n",
        "other/Else.kt": "package com.example.other\n\nimport com.example.elsewhere.queues\n\nval q = queues()\n",
    })  # fmt: skip
    assert [row for row in found if row[1] > 5] == [
        ("aws/Clients.kt", 8, "client", "aws-sdk-kotlin", ("sqs",), ""),
        ("aws/Clients.kt", 9, "call", "aws-sdk-kotlin", ("sqs",), "SendMessage"),
        ("jobs/Poll.kt", 6, "client", "aws-sdk-kotlin", ("sqs",), ""),
        ("jobs/Poll.kt", 7, "call", "aws-sdk-kotlin", ("sqs",), "ReceiveMessage"),
    ]
