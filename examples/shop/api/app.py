"""The seed's scenario: list buckets, upload a file, put and get a user, send and
receive a message. No endpoint_url and no credentials anywhere: under kecs the
default AWS endpoints reach the local emulator; in AWS they reach AWS."""

import json
import os
import tempfile

import boto3

BUCKET = os.environ.get("BUCKET", "shop-uploads")
QUEUE = os.environ.get("QUEUE", "orders")

s3 = boto3.client("s3")
dynamodb = boto3.resource("dynamodb")
sqs = boto3.client("sqs")


def main() -> None:
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    print("buckets:", buckets)
    if BUCKET not in buckets:
        s3.create_bucket(Bucket=BUCKET)

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("hello from the shop api\n")
    s3.upload_file(handle.name, BUCKET, "greeting.txt")
    print("uploaded:", f"s3://{BUCKET}/greeting.txt")

    users = dynamodb.Table("users")
    users.put_item(Item={"id": "42", "name": "Ada"})
    print("user:", users.get_item(Key={"id": "42"})["Item"])

    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"order": 1}))
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", [])
    print("received:", [m["Body"] for m in messages])


if __name__ == "__main__":
    main()
