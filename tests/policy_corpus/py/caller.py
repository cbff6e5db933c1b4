"""Builds the client and hands it to the helpers module (passed_in.py)."""

import boto3
from passed_in import archive

s3 = boto3.client("s3")


def nightly(bucket, keys):
    for key in keys:
        archive(s3, bucket, key)
