package com.example;

import com.amazonaws.services.dynamodbv2.AmazonDynamoDB;
import com.amazonaws.services.dynamodbv2.AmazonDynamoDBClientBuilder;
import com.amazonaws.services.dynamodbv2.document.DynamoDB;
import com.amazonaws.services.dynamodbv2.document.Item;
import com.amazonaws.services.dynamodbv2.document.Table;

public class Legacy {
    private final AmazonDynamoDB client = AmazonDynamoDBClientBuilder.defaultClient();

    public void record(String id) {
        DynamoDB dynamoDB = new DynamoDB(client);
        Table table = dynamoDB.getTable("audit");
        table.putItem(new Item().withPrimaryKey("id", id));
        table.getItem("id", id);
    }
}
