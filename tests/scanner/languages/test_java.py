"""Java: clients declared by type."""

from __future__ import annotations

from tests.conftest import ScanSource


def test_injected_fields_typed_parameters_and_the_enhanced_client(scan_source: ScanSource) -> None:
    """`@Autowired private SqsClient sqs;`, a parameter `S3Client s3`, and the DynamoDB
    enhanced client's table: found by type, with the table's name."""
    found = scan_source(
        "Worker.java",
        """
        package com.example;

        import org.springframework.beans.factory.annotation.Autowired;
        import software.amazon.awssdk.services.sqs.SqsClient;
        import software.amazon.awssdk.services.s3.S3Client;
        import software.amazon.awssdk.enhanced.dynamodb.DynamoDbEnhancedClient;
        import software.amazon.awssdk.enhanced.dynamodb.DynamoDbTable;

        public class Worker {
            @Autowired
            private SqsClient queue;
            private final DynamoDbEnhancedClient enhanced = DynamoDbEnhancedClient.create();

            public void run(String url, S3Client storage) {
                this.queue.receiveMessage(r -> r.queueUrl(url));
                storage.listObjectsV2(r -> r.bucket("work"));
                DynamoDbTable<Order> table = enhanced.table("orders", null);
                table.putItem(new Order());
            }
        }
        """,
        kinds=("call",),
    )
    calls = {(f.services, f.operation, f.resource) for f in found if f.kind == "call"}
    assert {
        (("sqs",), "ReceiveMessage", ""),
        (("s3",), "ListObjectsV2", "Bucket=work"),
        (("dynamodb",), "PutItem", "TableName=orders"),
    } <= calls, calls
