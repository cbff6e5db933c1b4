from __future__ import annotations

from tests.conftest import ScanSource, summary


def test_java_v1_and_v2(scan_source: ScanSource) -> None:
    found = scan_source(
        "src/main/java/App.java",
        """
        package demo;

        import com.amazonaws.services.s3.AmazonS3;
        import com.amazonaws.services.s3.AmazonS3ClientBuilder;
        import com.amazonaws.services.dynamodbv2.AmazonDynamoDBClientBuilder;
        import software.amazon.awssdk.services.sqs.SqsClient;
        import software.amazon.awssdk.services.sfn.*;

        public class App {
            public static void main(String[] args) {
                AmazonS3 s3 = AmazonS3ClientBuilder.standard().withRegion("us-east-1").build();
                var ddb = AmazonDynamoDBClientBuilder.defaultClient();
                SqsClient sqs = SqsClient.builder().build();
                var sfn = SfnClient.create();
                var sns = software.amazon.awssdk.services.sns.SnsClient.create();
            }
        }
        """,
    )
    assert summary(found) == [
        (3, "import", "aws-sdk-java", ("s3",)),
        (4, "import", "aws-sdk-java", ("s3",)),
        (5, "import", "aws-sdk-java", ("dynamodb",)),
        (6, "import", "aws-sdk-java-v2", ("sqs",)),
        (7, "import", "aws-sdk-java-v2", ("stepfunctions",)),
        (11, "client", "aws-sdk-java", ("s3",)),
        (12, "client", "aws-sdk-java", ("dynamodb",)),
        (13, "client", "aws-sdk-java-v2", ("sqs",)),
        (14, "client", "aws-sdk-java-v2", ("stepfunctions",)),
        (15, "client", "aws-sdk-java-v2", ("sns",)),
    ]


def test_java_irregular_v1_packages(scan_source: ScanSource) -> None:
    found = scan_source(
        "A.java",
        """
        import com.amazonaws.services.simpleemail.AmazonSimpleEmailService;
        import com.amazonaws.services.simplesystemsmanagement.AWSSimpleSystemsManagement;
        import com.amazonaws.services.securitytoken.AWSSecurityTokenService;
        import com.amazonaws.services.logs.AWSLogs;
        import com.amazonaws.auth.AWSStaticCredentialsProvider;
        class A {}
        """,
    )
    assert [f.services for f in found] == [("ses",), ("ssm",), ("sts",), ("logs",), ()]


def test_kotlin_sdk(scan_source: ScanSource) -> None:
    found = scan_source(
        "src/main/kotlin/Main.kt",
        """
        import aws.sdk.kotlin.services.s3.S3Client
        import aws.sdk.kotlin.services.dynamodb.*
        import software.amazon.awssdk.services.sqs.SqsClient as Queue

        suspend fun main() {
            S3Client { region = "us-east-1" }.use { s3 -> println(s3) }
            val db = DynamoDbClient.fromEnvironment { }
            val q = Queue.create()
        }
        """,
    )
    assert summary(found) == [
        (1, "import", "aws-sdk-kotlin", ("s3",)),
        (2, "import", "aws-sdk-kotlin", ("dynamodb",)),
        (3, "import", "aws-sdk-java-v2", ("sqs",)),
        (6, "client", "aws-sdk-kotlin", ("s3",)),
        (7, "client", "aws-sdk-kotlin", ("dynamodb",)),
        (8, "client", "aws-sdk-java-v2", ("sqs",)),
    ]
    assert {f.language for f in found} == {"kotlin"}


def test_java_negatives(scan_source: ScanSource) -> None:
    found = scan_source(
        "A.java",
        """
        // import com.amazonaws.services.s3.AmazonS3;
        import com.amazonawsx.Fake;
        class A {
            String s = "software.amazon.awssdk.services.s3.S3Client";
            S3Client c = S3Client.create();  /* S3Client from another library */
        }
        """,
    )
    assert found == []
