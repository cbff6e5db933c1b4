"""An order service: a client per service, literal resources, a paginator."""
import boto3

s3 = boto3.client("s3")
sqs = boto3.client("sqs")


def save(order):
    s3.put_object(Bucket="orders", Key=f"{order['id']}.json", Body=b"{}")
    sqs.send_message(QueueUrl=QUEUE, MessageBody=order["id"])


def archive():
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="orders"):
        for item in page.get("Contents", []):
            s3.copy_object(Bucket="archive", Key=item["Key"], CopySource={"Bucket": "orders", "Key": item["Key"]})
            s3.delete_object(Bucket="orders", Key=item["Key"])
