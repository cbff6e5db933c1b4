package com.example.aws;

import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.sns.SnsClient;

public final class Clients {
    private Clients() {}

    public static SnsClient notifications() {
        return SnsClient.builder().region(Region.EU_WEST_1).build();
    }
}
