from __future__ import annotations

from tests.conftest import ScanSource, summary


def test_v3_imports_and_clients(scan_source: ScanSource) -> None:
    found = scan_source(
        "src/index.mjs",
        """
        import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";
        import { DynamoDBClient as Ddb } from "@aws-sdk/client-dynamodb";
        import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
        import { fromEnv } from "@aws-sdk/credential-providers";

        const s3 = new S3Client({ region: "us-east-1" });
        await s3.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x" }));
        const doc = DynamoDBDocumentClient.from(new Ddb({}));
        """,
    )
    assert summary(found) == [
        (1, "import", "aws-sdk-js-v3", ("s3",)),
        (2, "import", "aws-sdk-js-v3", ("dynamodb",)),
        (3, "import", "aws-sdk-js-v3", ("dynamodb",)),
        (4, "import", "aws-sdk-js-v3", ()),
        (6, "client", "aws-sdk-js-v3", ("s3",)),
        (8, "client", "aws-sdk-js-v3", ("dynamodb",)),
        (8, "client", "aws-sdk-js-v3", ("dynamodb",)),
    ]


def test_v2_require_and_clients(scan_source: ScanSource) -> None:
    found = scan_source(
        "handler.js",
        """
        const AWS = require('aws-sdk');
        const SQS = require("aws-sdk/clients/sqs");
        const { CloudWatchLogsClient } = require("@aws-sdk/client-cloudwatch-logs");

        const s3 = new AWS.S3({ apiVersion: "2006-03-01" });
        const docs = new AWS.DynamoDB.DocumentClient();
        const queue = new SQS();
        const logs = new CloudWatchLogsClient({});
        const sfn = new AWS.StepFunctions();
        """,
    )
    assert summary(found) == [
        (1, "import", "aws-sdk-js", ()),
        (2, "import", "aws-sdk-js", ("sqs",)),
        (3, "import", "aws-sdk-js-v3", ("logs",)),
        (5, "client", "aws-sdk-js", ("s3",)),
        (6, "client", "aws-sdk-js", ("dynamodb",)),
        (7, "client", "aws-sdk-js", ("sqs",)),
        (8, "client", "aws-sdk-js-v3", ("logs",)),
        (9, "client", "aws-sdk-js", ("stepfunctions",)),
    ]


def test_typescript_dynamic_import_and_namespace(scan_source: ScanSource) -> None:
    found = scan_source(
        "src/app.ts",
        """
        import * as sns from "@aws-sdk/client-sns";
        import type { Readable } from "stream";

        export async function publish(msg: string): Promise<void> {
          const client: sns.SNSClient = new sns.SNSClient({});
          const { SQSClient } = await import("@aws-sdk/client-sqs");
          const q = new SQSClient({});
        }
        """,
    )
    assert summary(found) == [
        (1, "import", "aws-sdk-js-v3", ("sns",)),
        (5, "client", "aws-sdk-js-v3", ("sns",)),
        (6, "import", "aws-sdk-js-v3", ("sqs",)),
        (7, "client", "aws-sdk-js-v3", ("sqs",)),
    ]


def test_tsx_is_parsed(scan_source: ScanSource) -> None:
    found = scan_source(
        "ui/Upload.tsx",
        """
        import { S3Client } from "@aws-sdk/client-s3";
        export const Upload = () => <button onClick={() => new S3Client({})}>up</button>;
        """,
    )
    assert [(f.kind, f.services, f.language) for f in found] == [
        ("import", ("s3",), "typescript"),
        ("client", ("s3",), "typescript"),
    ]


def test_negatives(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.js",
        """
        // const AWS = require('aws-sdk');
        /* import { S3Client } from "@aws-sdk/client-s3" */
        const text = "require('aws-sdk')";
        const awsSdkish = require("aws-sdk-mock-thing");
        const s3 = new Storage.S3();
        import("@aws-sdkx/client-s3");
        """,
    )
    assert found == []
