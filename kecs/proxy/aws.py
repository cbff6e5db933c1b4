"""Which host names are AWS's, and the S3 host forms an emulator misroutes. No I/O."""

from __future__ import annotations

import re

AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".on.aws")
REGION = r"[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d"  # us-east-1, us-gov-west-1, us-isob-east-1
# <bucket>.s3-<region>.amazonaws.com and s3-external-1: LocalStack reads the dash forms as
# part of the bucket name (docs/facts.md); the dot forms route correctly.
_LEGACY_S3 = re.compile(
    rf"^(?P<bucket>.+\.)?s3-(?P<region>external-1|{REGION})\.amazonaws\.com(?P<cn>\.cn)?$"
)


def aws_labels(host: str) -> list[str] | None:
    """The labels of an AWS host before its AWS suffix (`['bucket', 's3', 'us-east-1']`), or
    None when the host is not AWS's. A port and a trailing dot are ignored."""
    host = host.lower().partition(":")[0].rstrip(".")
    for suffix in AWS_SUFFIXES:
        if host == suffix[1:]:
            return []
        if host.endswith(suffix):
            return host[: -len(suffix)].split(".")
    return None


def is_aws_host(host: str) -> bool:
    return aws_labels(host) is not None


def rewrite_legacy_s3(host: str) -> str | None:
    """The dot form of a legacy dash-form S3 host, or None when the host is fine as it is."""
    match = _LEGACY_S3.match(host.lower().rstrip("."))
    if not match:
        return None
    region = "us-east-1" if match.group("region") == "external-1" else match.group("region")
    return f"{match.group('bucket') or ''}s3.{region}.amazonaws.com{match.group('cn') or ''}"
