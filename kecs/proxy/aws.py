"""Which host names are AWS's, and the S3 host forms an emulator misroutes. No I/O."""

from __future__ import annotations

import re

AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".on.aws")
# <bucket>.s3-<region>.amazonaws.com and s3-external-1: LocalStack reads the dash forms as
# part of the bucket name (FACTS.md); the dot forms route correctly.
_LEGACY_S3 = re.compile(
    r"^(?P<bucket>.+\.)?s3-(?P<region>external-1|[a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com(?P<cn>\.cn)?$"
)


def is_aws_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host.endswith(suffix) or host == suffix[1:] for suffix in AWS_SUFFIXES)


def rewrite_legacy_s3(host: str) -> str | None:
    """The dot form of a legacy dash-form S3 host, or None when the host is fine as it is."""
    match = _LEGACY_S3.match(host.lower().rstrip("."))
    if not match:
        return None
    region = "us-east-1" if match.group("region") == "external-1" else match.group("region")
    return f"{match.group('bucket') or ''}s3.{region}.amazonaws.com{match.group('cn') or ''}"
