"""Mentions only: no AWS call here.

Call boto3.client("s3") elsewhere; see the aws-sdk docs.
"""
# import boto3
EXAMPLE = 'boto3.client("sqs").send_message(QueueUrl=u, MessageBody="m")'
