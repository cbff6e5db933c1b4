package com.example;

import software.amazon.awssdk.enhanced.dynamodb.DynamoDbEnhancedClient;
import software.amazon.awssdk.enhanced.dynamodb.DynamoDbTable;
import software.amazon.awssdk.enhanced.dynamodb.TableSchema;

public class Tables {
    private final DynamoDbEnhancedClient enhanced = DynamoDbEnhancedClient.create();

    public void save(Order order) {
        DynamoDbTable<Order> table = enhanced.table("orders", TableSchema.fromBean(Order.class));
        table.putItem(order);
    }
}
