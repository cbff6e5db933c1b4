"""Calls six AWS services as code written for AWS does: no endpoint, no credentials."""

import json
import os
import time
import urllib.request

import boto3

report = {}
s3 = boto3.client("s3")
s3.create_bucket(Bucket="mix-app")
s3.put_object(Bucket="mix-app", Key="hello.txt", Body=b"hello")
report["s3"] = s3.get_object(Bucket="mix-app", Key="hello.txt")["Body"].read().decode()
report["s3_seeded"] = "mix-seeded" in {b["Name"] for b in s3.list_buckets()["Buckets"]}

ddb = boto3.client("dynamodb")
ddb.create_table(
    TableName="mix-app",
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)
ddb.get_waiter("table_exists").wait(TableName="mix-app")
ddb.put_item(TableName="mix-app", Item={"id": {"S": "a"}, "n": {"N": "7"}})
report["dynamodb"] = ddb.get_item(TableName="mix-app", Key={"id": {"S": "a"}})["Item"]["n"]["N"]
report["dynamodb_seeded"] = ddb.get_item(TableName="mix-seeded", Key={"id": {"S": "1"}})["Item"]["note"]["S"]

sqs = boto3.client("sqs")
url = sqs.create_queue(QueueName="mix-app")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="m-1")
messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
report["sqs_url"] = url
report["sqs"] = [m["Body"] for m in messages]
report["sqs_seeded"] = sqs.get_queue_url(QueueName="mix-seeded")["QueueUrl"]

kinesis = boto3.client("kinesis")
kinesis.create_stream(StreamName="mix-app", ShardCount=1)
kinesis.get_waiter("stream_exists").wait(StreamName="mix-app")
report["kinesis"] = kinesis.put_record(StreamName="mix-app", Data=b"r", PartitionKey="p")["SequenceNumber"] != ""

report["ssm"] = boto3.client("ssm").get_parameter(Name="/mix/mode")["Parameter"]["Value"]
# A call no scanner sees (the operation's name is computed): the proxy still records it.
operation = "list_" + "queues"
report["queues"] = len(getattr(sqs, operation)().get("QueueUrls", []))
identity = boto3.client("sts").get_caller_identity()
report["account"] = identity["Account"]
report["identity"] = identity["Arn"]
with urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"] + "/task", timeout=5) as answer:
    report["cluster"] = json.load(answer)["Cluster"]
print("mix report: " + json.dumps(report, sort_keys=True), flush=True)
while True:
    time.sleep(3600)
