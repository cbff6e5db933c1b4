package com.example.jobs;

import com.example.aws.Clients;
import software.amazon.awssdk.services.sns.SnsClient;

public class Notifier {
    private final SnsClient sns = Clients.notifications();

    public void shipped(String topicArn, String orderId) {
        sns.publish(r -> r.topicArn(topicArn).message("shipped " + orderId));
    }
}
