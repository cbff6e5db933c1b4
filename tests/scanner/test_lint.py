from __future__ import annotations

import pytest

from kecs.scanner import lint
from tests.conftest import ScanSource

LINT = ("lint",)


def rules(found: list) -> list[tuple[int, str]]:  # type: ignore[type-arg]
    return [(f.line, f.rule) for f in found]


def test_python_endpoint_credentials_and_env(scan_source: ScanSource) -> None:
    found = scan_source(
        "app.py",
        """
        import os
        import boto3

        os.environ["AWS_ENDPOINT_URL"] = "http://localstack:4566"
        os.environ.setdefault("AWS_ENDPOINT_URL_S3", "x")
        s3 = boto3.client("s3", endpoint_url="http://localhost:4566",
                          aws_access_key_id="test", aws_secret_access_key="test")
        moto = boto3.client("sqs", endpoint_url="http://motoserver:5000")
        real = boto3.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        other = requests.get("https://api.example.com/v1", timeout=3)
        """,
        kinds=LINT,
    )
    assert rules(found) == [
        (4, "KECS003"),
        (4, "KECS001"),
        (5, "KECS003"),
        (6, "KECS001"),
        (7, "KECS002"),
        (7, "KECS002"),
        (8, "KECS001"),
    ]
    messages = [f.message for f in found]
    assert "hard-coded test credentials in aws_access_key_id" in messages[4]
    assert "'http://motoserver:5000'" in messages[6]


@pytest.mark.parametrize(
    ("filename", "code", "expected"),
    [
        ("a.js", 'const c = new S3Client({ endpoint: "http://localhost:4566" });\n', ["KECS001"]),
        ("a.js", "process.env.AWS_ENDPOINT_URL = url;\n", ["KECS003"]),
        ("a.js", "new AWS.S3({ accessKeyId: 'test', secretAccessKey: 'test' });\n", ["KECS002", "KECS002"]),
        (
            "a.go",
            'package m\nfunc f() { o.BaseEndpoint = aws.String("http://localhost:4566") }\n',
            ["KECS001"],
        ),
        ("a.go", 'package m\nfunc f() { os.Setenv("AWS_ENDPOINT_URL", "x") }\n', ["KECS003"]),
        (
            "a.go",
            'package m\nimport "github.com/aws/aws-sdk-go-v2/credentials"\n'
            'var p = credentials.NewStaticCredentialsProvider("test", "test", "")\n',
            ["KECS002"],
        ),
        (
            "A.java",
            'class A { S3Client c = S3Client.builder().endpointOverride(URI.create("http://localstack:4566")).build(); }\n',
            ["KECS001"],
        ),
        ("A.java", 'class A { Object c = new BasicAWSCredentials("test", "test"); }\n', ["KECS002"]),
        (
            "a.rb",
            "Aws::S3::Client.new(endpoint: 'http://localhost:4566', access_key_id: 'test')\n",
            ["KECS001", "KECS002"],
        ),
        ("a.rb", 'ENV["AWS_ENDPOINT_URL"] = "x"\n', ["KECS003"]),
        ("a.php", "<?php\nputenv('AWS_ENDPOINT_URL=http://localstack:4566');\n", ["KECS003", "KECS001"]),
        ("a.php", "<?php\n$c = new S3Client(['endpoint' => 'http://localhost:4566']);\n", ["KECS001"]),
        ("A.cs", 'var c = new AmazonS3Config { ServiceURL = "http://localhost:4566" };\n', ["KECS001"]),
        ("A.cs", 'Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL", "x");\n', ["KECS003"]),
        ("a.rs", 'fn f() { std::env::set_var("AWS_ENDPOINT_URL", "x"); }\n', ["KECS003"]),
        (
            "a.kt",
            'fun f() { System.setProperty("aws.endpointUrl", "http://x:4566") }\n',
            ["KECS003", "KECS001"],
        ),
    ],
)
def test_rules_per_language(scan_source: ScanSource, filename: str, code: str, expected: list[str]) -> None:
    assert sorted(f.rule for f in scan_source(filename, code, kinds=LINT)) == sorted(expected)


def test_no_lint_for_comments_reads_and_real_endpoints(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.py",
        """
        # endpoint_url="http://localhost:4566"
        import os, boto3
        url = os.environ.get("AWS_ENDPOINT_URL")
        os.getenv("AWS_ENDPOINT_URL")
        c = boto3.client("s3", endpoint_url="https://s3.eu-west-1.amazonaws.com")
        key = os.environ["AWS_ACCESS_KEY_ID"]
        """,
        kinds=LINT,
    )
    assert found == []


def test_pure_rule_functions() -> None:
    assert lint.check_string("see http://localhost:4566/_localstack/health") is not None
    assert lint.check_string("http://localhost:8080") is None
    assert lint.check_pair("endpoint_url", "http://127.0.0.1:5000") is not None
    assert lint.check_pair("endpoint_url", "https://vpce-1.s3.eu-west-1.vpce.amazonaws.com") is None
    hit = lint.check_pair("aws_access_key_id", "AKIAREALLOOKINGKEY1")
    assert hit is not None and "hard-coded credentials" in hit[1]
    assert lint.check_call("os.putenv", lambda: ["AWS_ENDPOINT_URL", "x"]) is not None
    assert lint.check_call("os.putenv", lambda: ["AWS_REGION", "x"]) is None
    assert lint.check_call("print", lambda: pytest.fail("arguments read for an unrelated call")) is None
    assert lint.check_env_target('os.environ["AWS_DEFAULT_REGION"]') is None
