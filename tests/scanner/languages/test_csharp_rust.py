from __future__ import annotations

from tests.conftest import ScanSource, summary


def test_csharp_usings_clients_and_di(scan_source: ScanSource) -> None:
    found = scan_source(
        "Api/Program.cs",
        """
        using Amazon.S3;
        using Amazon.DynamoDBv2;
        using Amazon.Runtime;
        using Amazon.Lambda.Core;
        using Queue = Amazon.SQS.AmazonSQSClient;

        var s3 = new AmazonS3Client();
        var db = new Amazon.DynamoDBv2.AmazonDynamoDBClient(new AmazonDynamoDBConfig());
        var q = new Queue();
        builder.Services.AddAWSService<IAmazonSimpleNotificationService>();
        """,
    )
    assert summary(found) == [
        (1, "import", "aws-sdk-net", ("s3",)),
        (2, "import", "aws-sdk-net", ("dynamodb",)),
        (3, "import", "aws-sdk-net", ()),
        (5, "import", "aws-sdk-net", ("sqs",)),
        (7, "client", "aws-sdk-net", ("s3",)),
        (8, "client", "aws-sdk-net", ("dynamodb",)),
        (9, "client", "aws-sdk-net", ("sqs",)),
        (10, "client", "aws-sdk-net", ("sns",)),
    ]


def test_csharp_negatives(scan_source: ScanSource) -> None:
    found = scan_source(
        "A.cs",
        """
        // using Amazon.S3;
        using Amazon.CDK.AWS.S3;
        using Amazon.Lambda.APIGatewayEvents;
        var s = "new AmazonS3Client()";
        var bucket = new Bucket(this, "b");
        """,
    )
    assert found == []


def test_rust_use_trees_and_clients(scan_source: ScanSource) -> None:
    found = scan_source(
        "src/main.rs",
        """
        use aws_config::BehaviorVersion;
        use aws_sdk_s3::Client;
        use aws_sdk_dynamodb as ddb;
        use aws_sdk_sqs::{Client as SqsClient, types::Message};

        #[tokio::main]
        async fn main() {
            let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
            let s3 = Client::new(&config);
            let db = ddb::Client::new(&config);
            let q = SqsClient::new(&config);
            let sns = aws_sdk_sns::Client::new(&config);
        }
        """,
    )
    assert summary(found) == [
        (1, "import", "aws-sdk-rust", ()),
        (2, "import", "aws-sdk-rust", ("s3",)),
        (3, "import", "aws-sdk-rust", ("dynamodb",)),
        (4, "import", "aws-sdk-rust", ("sqs",)),
        (9, "client", "aws-sdk-rust", ("s3",)),
        (10, "client", "aws-sdk-rust", ("dynamodb",)),
        (11, "client", "aws-sdk-rust", ("sqs",)),
        (12, "client", "aws-sdk-rust", ("sns",)),
    ]


def test_rust_negatives(scan_source: ScanSource) -> None:
    found = scan_source(
        "src/lib.rs",
        """
        // use aws_sdk_s3::Client;
        use reqwest::Client;
        fn f() { let c = Client::new(); let s = "aws_sdk_s3::Client::new"; }
        """,
    )
    assert found == []
