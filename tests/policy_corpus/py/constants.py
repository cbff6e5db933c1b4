import os

import boto3

BUCKET = "invoices"
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/invoices"
TABLE = os.environ.get("TABLE", "invoices")

s3 = boto3.client("s3")
sqs = boto3.client("sqs")
ddb = boto3.client("dynamodb")


def handle(event, context):
    body = s3.get_object(Bucket=BUCKET, Key=event["key"])["Body"].read()
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=body.decode())
    params = {"TableName": "invoice-index", "Item": {"id": {"S": event["key"]}}}
    ddb.put_item(**params)
    ddb.update_item(
        TableName=TABLE,
        Key={"id": {"S": event["key"]}},
        UpdateExpression="SET seen = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
