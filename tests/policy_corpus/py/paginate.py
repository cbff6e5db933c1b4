import boto3

logs = boto3.client("logs")
ssm = boto3.client("ssm")
PREFIX = "/app/"


def settings():
    out = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PREFIX, Recursive=True):
        out.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    logs.put_log_events(logGroupName="/app/settings", logStreamName="main", logEvents=[])
    return out
