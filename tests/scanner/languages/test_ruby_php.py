from __future__ import annotations

from tests.conftest import ScanSource, summary


def test_ruby_gems_and_clients(scan_source: ScanSource) -> None:
    found = scan_source(
        "app.rb",
        """
        require 'aws-sdk-s3'
        require "aws-sdk-dynamodb"
        require 'json'

        s3 = Aws::S3::Client.new(region: 'us-east-1')
        bucket = Aws::S3::Resource.new.bucket('b')
        db = ::Aws::DynamoDB::Client.new
        sfn = Aws::States::Client.new
        """,
    )
    assert summary(found) == [
        (1, "import", "aws-sdk-ruby", ("s3",)),
        (2, "import", "aws-sdk-ruby", ("dynamodb",)),
        (5, "client", "aws-sdk-ruby", ("s3",)),
        (6, "client", "aws-sdk-ruby", ("s3",)),
        (7, "client", "aws-sdk-ruby", ("dynamodb",)),
        (8, "client", "aws-sdk-ruby", ("stepfunctions",)),
    ]


def test_ruby_negatives(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.rb",
        """
        # require 'aws-sdk-s3'
        require 'aws-sdk-mocks-nonexistent-thing-xyz'
        puts "Aws::S3::Client.new"
        Fog::S3::Client.new
        """,
    )
    assert [f.services for f in found] == [()]  # the unknown aws-sdk-* gem is still the SDK


def test_php_use_and_new(scan_source: ScanSource) -> None:
    found = scan_source(
        "src/Storage.php",
        """
        <?php
        use Aws\\S3\\S3Client;
        use Aws\\DynamoDb\\DynamoDbClient as Db;
        use Aws\\Exception\\AwsException;

        $s3 = new S3Client(['region' => 'us-east-1', 'version' => 'latest']);
        $db = new Db([]);
        $sqs = new \\Aws\\Sqs\\SqsClient([]);
        $sdk = new Aws\\Sdk(['region' => 'eu-west-1']);
        $sns = $sdk->createSns();
        $ssm = $sdk->createClient('ssm');
        """,
    )
    assert summary(found) == [
        (2, "import", "aws-sdk-php", ("s3",)),
        (3, "import", "aws-sdk-php", ("dynamodb",)),
        (4, "import", "aws-sdk-php", ()),
        (6, "client", "aws-sdk-php", ("s3",)),
        (7, "client", "aws-sdk-php", ("dynamodb",)),
        (8, "client", "aws-sdk-php", ("sqs",)),
        (10, "client", "aws-sdk-php", ("sns",)),
        (11, "client", "aws-sdk-php", ("ssm",)),
    ]


def test_php_negatives(scan_source: ScanSource) -> None:
    found = scan_source(
        "a.php",
        """
        <?php
        // use Aws\\S3\\S3Client;
        use Awsome\\S3\\S3Client;
        $x = "new Aws\\\\S3\\\\S3Client";
        $c = new S3Client([]);
        """,
    )
    assert found == []
