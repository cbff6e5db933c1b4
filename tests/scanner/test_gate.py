"""Which source files are parsed: a line of code that imports the SDK, or a lint needle
(kecs.scanner.engine.worth_parsing, one rule for trees and images)."""

from __future__ import annotations

import pytest

from kecs.scanner.engine import worth_parsing
from kecs.scanner.languages import by_extension

USES = {
    ".py": ["import boto3\n", "from botocore.config import Config\n", "    import aioboto3 as ab\n",
            "from mypy_boto3_s3 import S3Client\n", 'm = importlib.import_module("boto3")\n',
            "import os, boto3\n"],
    ".js": ['const { S3Client } = require("@aws-sdk/client-s3");\n', "const AWS = require('aws-sdk');\n",
            'import {\n  SQSClient,\n} from "@aws-sdk/client-sqs";\n', 'const m = await import("@aws-sdk/client-s3");\n',
            "const S3 = require('aws-sdk/clients/s3');\n"],
    ".ts": ['import type { S3Client } from "@aws-sdk/client-s3";\n', 'export * from "@aws-sdk/lib-dynamodb";\n'],
    ".go": ['import "github.com/aws/aws-sdk-go-v2/service/s3"\n', 'import (\n\t"context"\n\t"github.com/aws/aws-sdk-go-v2/config"\n)\n',
            'import (\n\ts3v1 "github.com/aws/aws-sdk-go/service/s3"\n)\n'],
    ".java": ["import software.amazon.awssdk.services.s3.S3Client;\n", "import com.amazonaws.services.sqs.*;\n",
              "var c = software.amazon.awssdk.services.s3.S3Client.create();\n"],
    ".kt": ["import aws.sdk.kotlin.services.s3.S3Client\n"],
    ".rb": ["require 'aws-sdk-s3'\n", "C = Aws::S3::Client.new\n", "c = ::Aws::SQS::Client.new\n"],
    ".php": ["<?php\nuse Aws\\S3\\S3Client;\n", "<?php\n$sdk = new \\Aws\\Sdk([]);\n"],
    ".cs": ["using Amazon.S3;\n", "var c = new AmazonSQSClient();\n", "services.AddAWSService<IAmazonS3>();\n"],
    ".rs": ["use aws_sdk_s3::Client;\n", "let c = aws_config::load_from_env().await;\n"],
}  # fmt: skip
DECOYS = {
    ".py": ['# import boto3\n"""Call boto3.client("s3") elsewhere."""\nNOTE = "import boto3"\n'],
    ".js": ['// const AWS = require("aws-sdk");\nconst s = "@aws-sdk/client-s3";\n',
            '/* import { S3Client } from "@aws-sdk/client-s3" */\n', ' * require("aws-sdk")\n'],
    ".ts": ['/* import { S3Client } from "@aws-sdk/client-s3" */\nexport const s = "aws-sdk";\n'],
    ".go": ['package p\n\n// import "github.com/aws/aws-sdk-go/service/s3"\nvar S = "aws-sdk-go"\n'],
    ".java": ['// import com.amazonaws.services.s3.AmazonS3;\nclass D { String s = "software.amazon.awssdk"; }\n'],
    ".rb": ["# require 'aws-sdk-s3'\nS = \"Aws::S3::Client.new\"\n"],
    ".php": ['<?php\n// use Aws\\S3\\S3Client;\n$s = "Aws\\\\S3";\n'],
    ".cs": ['// using Amazon.S3;\nclass D { string s = "new AmazonS3Client()"; }\n'],
    ".rs": ['// use aws_sdk_s3::Client;\nconst S: &str = "aws_sdk_s3";\n'],
}  # fmt: skip
SPECS = by_extension()


@pytest.mark.parametrize("ext,source", [(e, s) for e, sources in USES.items() for s in sources])
def test_a_line_that_imports_or_names_the_sdk_is_parsed(ext: str, source: str) -> None:
    assert worth_parsing(SPECS[ext], source.encode())


@pytest.mark.parametrize("ext,source", [(e, s) for e, sources in DECOYS.items() for s in sources])
def test_comments_and_strings_that_mention_the_sdk_are_not(ext: str, source: str) -> None:
    assert not worth_parsing(SPECS[ext], source.encode())


def test_a_lint_rule_that_could_apply_is_reason_enough() -> None:
    # No SDK import, but an emulator endpoint a lint rule reports.
    assert worth_parsing(SPECS[".py"], b'ENDPOINT = "http://localhost:4566"  # localstack\n')
    assert worth_parsing(SPECS[".js"], b'export const config = { endpoint: "http://localstack:4566" };\n')
    assert not worth_parsing(SPECS[".py"], b"def f(x):\n    return x * 2\n")
