package com.example;

import org.springframework.beans.factory.annotation.Autowired;
import software.amazon.awssdk.services.sqs.SqsClient;
import software.amazon.awssdk.services.s3.S3Client;

public class Worker {
    @Autowired
    private SqsClient sqs;

    private final S3Client s3 = S3Client.create();

    public void run(String url) {
        sqs.receiveMessage(r -> r.queueUrl(url));
        s3.listObjectsV2(r -> r.bucket("work"));
    }
}
