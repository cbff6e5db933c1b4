"""A ledger kept in QLDB (a service botocore has since retired; code still calls it)."""

import boto3

qldb = boto3.client("qldb")


def setup(name):
    qldb.create_ledger(Name=name, PermissionsMode="STANDARD")
    return qldb.describe_ledger(Name=name)["State"]
