"""An ECS-style service: its secrets come in the environment, its credentials from its task
role, its resources were seeded before it started. Prints what it found (secret values only
as digests: a log must not hold them), then stays up."""

import hashlib
import json
import os
import time
import urllib.request

import boto3

SECRETS = ("DB_PASSWORD", "API_KEY", "MODE")
found = {name: hashlib.sha256(os.environ[name].encode()).hexdigest()[:16] for name in SECRETS if name in os.environ}
identity = boto3.client("sts").get_caller_identity()["Arn"]
s3 = boto3.client("s3")
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="ecs-assets").get("Contents", []))
config = json.loads(s3.get_object(Bucket="ecs-assets", Key="config/app.json")["Body"].read())
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="ecs-jobs")["QueueUrl"]
redrive = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
item = boto3.resource("dynamodb").Table("ecs-orders").get_item(Key={"id": "o-1"})["Item"]
# ECS task metadata v4, as logging and tracing libraries read it.
metadata_uri = os.environ["ECS_CONTAINER_METADATA_URI_V4"]
container = json.load(urllib.request.urlopen(metadata_uri, timeout=5))
task = json.load(urllib.request.urlopen(metadata_uri + "/task", timeout=5))
stats = json.load(urllib.request.urlopen(metadata_uri + "/task/stats", timeout=5))
report = {
    "metadata": {
        "name": container["Name"],
        "cluster": task["Cluster"],
        "family": task["Family"],
        "memory": task["Limits"].get("Memory"),
        "addresses": container["Networks"][0]["IPv4Addresses"],
        "received_bytes": sum(n["rx_bytes"] for s in stats.values() for n in s["networks"].values()),
    },
    "service": os.environ.get("SERVICE_NAME"),
    "secrets": found,
    "identity": identity,
    "objects": keys,
    "config": config,
    "dead_letter": redrive["deadLetterTargetArn"].rsplit(":", 1)[-1],
    "max_receive_count": int(redrive["maxReceiveCount"]),
    "order": {"id": item["id"], "total": int(item["total"])},
}
if os.environ.get("DISCOVERY_CHECK"):
    # Service discovery as on ECS: a Cloud Map name, DiscoverInstances, and a record in a
    # private hosted zone this service creates itself.
    import socket

    report["orders_address"] = socket.gethostbyname("orders.shop.local")
    sd = boto3.client("servicediscovery")
    for _ in range(60):
        found = sd.discover_instances(NamespaceName="shop.local", ServiceName="orders")["Instances"]
        if found:
            break
        time.sleep(2)
    report["discovered"] = sorted(i["Attributes"]["AWS_INSTANCE_IPV4"] for i in found)
    route53 = boto3.client("route53")
    vpc = boto3.client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]  # the account's default VPC
    zone = route53.create_hosted_zone(
        Name="internal.shop", CallerReference=str(time.time()),
        HostedZoneConfig={"Comment": "made by billing", "PrivateZone": True}, VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
    )["HostedZone"]["Id"]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "db.internal.shop", "Type": "A", "TTL": 30, "ResourceRecords": [{"Value": "10.9.8.7"}]}}]})
    time.sleep(6)  # the DNS's listing of the zones is at most 5 s old
    report["zone_address"] = socket.gethostbyname("db.internal.shop")
print("ecs report: " + json.dumps(report, sort_keys=True), flush=True)
while True:
    time.sleep(3600)
