import boto3
from boto3.dynamodb.conditions import Key

table_client = boto3.client("dynamodb")


def query(customer):
    return table_client.query(TableName="orders", KeyConditionExpression="c = :c")


def call(name):
    # The operation's name is computed: no scanner can see it (the proxy does).
    return getattr(table_client, name)()
