"""Helpers that receive a client from their caller (another module builds it)."""


def archive(s3_client, bucket, key):
    s3_client.copy_object(Bucket=bucket, Key=f"archive/{key}", CopySource={"Bucket": bucket, "Key": key})
    s3_client.delete_object(Bucket=bucket, Key=key)
