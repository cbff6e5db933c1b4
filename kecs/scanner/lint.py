"""Lint rules: code that hard-codes what kecs makes unnecessary.

With kecs the SDK's default endpoint and default credential chain reach the emulator,
so an emulator URL, test credentials or AWS_ENDPOINT_URL written into the code are
leftovers that make the code differ between local runs and AWS. Pure functions over
literal values; the source engine decides which nodes to show them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    summary: str
    help: str


ENDPOINT = Rule(
    "KECS001",
    "hardcoded-emulator-endpoint",
    "Hard-coded emulator endpoint",
    "Remove the endpoint: under kecs the SDK's default AWS endpoint is captured and sent to "
    "the emulator, so the same code runs locally and in AWS.",
)
CREDENTIALS = Rule(
    "KECS002",
    "hardcoded-credentials",
    "Hard-coded AWS credentials",
    "Remove the credentials: under kecs the proxy serves credentials through the instance "
    "metadata and container credential endpoints, which the SDK's default chain reads.",
)
ENDPOINT_ENV = Rule(
    "KECS003",
    "endpoint-variable-set-in-code",
    "AWS_ENDPOINT_URL set in code",
    "Do not set AWS_ENDPOINT_URL in code: under kecs AWS traffic reaches the emulator "
    "without it, and many SDKs ignore the variable anyway.",
)
RULES = (ENDPOINT, CREDENTIALS, ENDPOINT_ENV)

Hit = tuple[str, str]  # (rule id, message)

_EMULATOR_URL = re.compile(
    r"""(?ix)
    (?:https?://[^/\s'"]*localstack[^/\s'"]*)          # any URL on a localstack host
    | (?:\b(?:https?://)?[\w.-]+:4566\b)               # LocalStack's edge port
    """
)
_ENDPOINT_KEYS = {
    "endpointurl",
    "endpoint",
    "baseendpoint",
    "serviceurl",
    "endpointoverride",
    "awsendpointurl",
}
_CREDENTIAL_KEYS = {
    "awsaccesskeyid",
    "awssecretaccesskey",
    "awssessiontoken",
    "accesskeyid",
    "secretaccesskey",
    "sessiontoken",
}
# Values emulators accept and tutorials use.
_TEST_VALUES = {
    "test",
    "testing",
    "fake",
    "dummy",
    "foo",
    "bar",
    "foobar",
    "localstack",
    "x",
    "xxx",
    "key",
    "secret",
    "mock",
    "moto",
    "akiaiosfodnn7example",
}
_STATIC_CREDENTIALS = re.compile(
    r"(?:^|[.:\\>])(?:BasicAWSCredentials|BasicSessionCredentials|AwsBasicCredentials\.create"
    r"|AwsSessionCredentials\.create|NewStaticCredentials|NewStaticCredentialsProvider"
    r"|StaticCredentialsProvider|Credentials\.new|Credentials::new|Credentials::from_keys"
    r"|SessionAWSCredentials|StaticCredentials)$"
)
_ENV_SETTERS = {
    "setenv",
    "Setenv",
    "putenv",
    "set_var",
    "SetEnvironmentVariable",
    "setdefault",
    "setProperty",
}
_ENV_NAME = re.compile(r"^(?:AWS_ENDPOINT_URL\w*|aws\.endpointUrl\w*)(?:=.*)?$", re.S)
_ENV_TARGET = re.compile(r"(?:environ|process\.env|\bENV|\$_ENV|\$_SERVER)\W*(AWS_ENDPOINT_URL\w*)")


# Every rule needs one of these in the (lower-cased) file; files without them skip
# the lint query. Kept broad: a false "maybe" only costs a query.
_NEEDLES = (b"4566", b"localstack", b"endpoint", b"serviceurl", b"access_key", b"accesskey",
            b"secret", b"credentials", b"session_token", b"sessiontoken")  # fmt: skip


def might_apply(source: bytes) -> bool:
    lowered = source.lower()
    return any(needle in lowered for needle in _NEEDLES)


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _local_host(url: str) -> bool:
    """A host only a local set-up has: loopback, a compose service name, *.localstack.cloud."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return (
        host in {"localhost", "0.0.0.0", "host.docker.internal", "::1"}
        or host.startswith("127.")
        or host.endswith(".localhost")
        or host.endswith("localstack.cloud")
        or (host != "" and "." not in host and ":" not in host)
    )


def check_string(value: str) -> Hit | None:
    match = _EMULATOR_URL.search(value)
    if match:
        return ENDPOINT.id, f"hard-coded emulator endpoint {match.group(0)!r}; {ENDPOINT.help}"
    return None


def check_pair(key: str, value: str) -> Hit | None:
    norm = _norm(key)
    if norm in _ENDPOINT_KEYS and re.match(r"https?://", value) and _local_host(value):
        return ENDPOINT.id, f"hard-coded emulator endpoint {value!r} ({key}); {ENDPOINT.help}"
    if norm in _CREDENTIAL_KEYS and value:
        what = "test credentials" if value.lower() in _TEST_VALUES else "credentials"
        return CREDENTIALS.id, f"hard-coded {what} in {key}; {CREDENTIALS.help}"
    return check_string(value)


def check_call(callee: str, args: Callable[[], list[str | None]]) -> Hit | None:
    """`args` is called only for the few callees a rule is about."""
    if _STATIC_CREDENTIALS.search(callee):
        values = args()
        if values and values[0]:
            what = "test credentials" if values[0].lower() in _TEST_VALUES else "credentials"
            return CREDENTIALS.id, f"hard-coded {what} passed to {callee}; {CREDENTIALS.help}"
    if re.split(r"[.:>\\]", callee)[-1] in _ENV_SETTERS:
        values = args()
        if values and values[0] and _ENV_NAME.match(values[0]):
            name = values[0].split("=", 1)[0]
            return ENDPOINT_ENV.id, f"{name} set in code ({callee}); {ENDPOINT_ENV.help}"
    return None


def check_env_target(target: str) -> Hit | None:
    match = _ENV_TARGET.search(target)
    if match:
        return ENDPOINT_ENV.id, f"{match.group(1)} set in code; {ENDPOINT_ENV.help}"
    return None
