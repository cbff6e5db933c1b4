"""The emulators kecs can add to a project, each described once.

Plan, render and `kecs up` read these records: the image and port, the compose service
name, how the proxy talks to it, its health check (no interpreter started per check),
how to narrow the services it loads, the environment it needs, what it cannot serve
offline, and how to warm it before the apps start. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LOCALSTACK_AUTH_TOKEN = "LOCALSTACK_AUTH_TOKEN"

# Health checks hold on a loaded machine: a generous timeout, a long start period, and
# many retries; each check is one small process (curl, or bash's /dev/tcp).
HEALTH_TIMING = {"interval": "2s", "timeout": "10s", "retries": 90, "start_period": "20s"}


@dataclass(frozen=True)
class Emulator:
    kind: str
    title: str  # as people write it
    image: str  # the default image reference
    port: int
    service_name: str  # the compose service kecs adds
    health: tuple[str, ...]  # the healthcheck test
    # How the proxy reaches it: LocalStack over TLS on its one port, so the URLs it
    # builds from the request's scheme (SQS queue URLs) are https:// as AWS returns them.
    proxy_scheme: str = "http"
    narrow_variable: str | None = None  # the variable that lists the services to load
    environment: Mapping[str, str] = field(default_factory=dict)
    # Services it serves only by downloading a backend at first use (needs the internet).
    downloads: Mapping[str, str] = field(default_factory=dict)
    # Loads services lazily: `kecs up` sends one request per service (with curl in its
    # image) before the apps start, so their first calls do not stall.
    warm_with_curl: bool = False
    image_option: str = ""  # the `kecs compose` flag that picks the image

    def url(self, host: str) -> str:
        return f"{self.proxy_scheme}://{host}:{self.port}"


def _http_probe(port: int, path: str) -> tuple[str, ...]:
    """GET with bash's /dev/tcp: for images without curl (moto's)."""
    script = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 "
        '&& read -r status <&3 && case "$status" in *" 200 "*) echo "$status";; '
        '*) echo "$status"; exit 1;; esac'
    )
    return ("CMD", "bash", "-c", script)


LOCALSTACK = Emulator(
    kind="localstack",
    title="LocalStack",
    # The last free image: later tags (and latest) need LOCALSTACK_AUTH_TOKEN.
    image="localstack/localstack:4.14.0",
    port=4566,
    service_name="kecs-localstack",
    health=("CMD", "curl", "-fsS", "http://localhost:4566/_localstack/health"),
    proxy_scheme="https",
    narrow_variable="SERVICES",
    # Queue URLs with AWS host names, which the proxies capture.
    environment={"SQS_ENDPOINT_STRATEGY": "dynamic"},
    downloads={"dynamodb": "DynamoDB Local", "kinesis": "kinesis-mock"},
    warm_with_curl=True,
    image_option="--localstack-image",
)

MOTO = Emulator(
    kind="moto",
    title="moto",
    image="motoserver/moto:5.1.4",
    port=5000,
    service_name="kecs-moto",
    health=_http_probe(5000, "/moto-api/"),
    environment={"MOTO_PORT": "5000"},
    image_option="--moto-image",
)

REGISTRY: dict[str, Emulator] = {e.kind: e for e in (LOCALSTACK, MOTO)}
EXTERNAL = "external"  # an emulator already running at a URL: nothing added
KINDS = (*REGISTRY, EXTERNAL)


def get(kind: str) -> Emulator:
    return REGISTRY[kind]


# One cheap, read-only request per service, as its protocol wants it: LocalStack loads a
# service only for a request whose operation it can parse. (method, path, content type,
# target or None, body)
_QUERY = "application/x-www-form-urlencoded"
_JSON = "application/x-amz-json-1.0"
_JSON11 = "application/x-amz-json-1.1"
WARM_REQUESTS: dict[str, tuple[str, str, str, str | None, str]] = {
    "s3": ("GET", "/", "", None, ""),
    "sqs": ("POST", "/", _QUERY, None, "Action=ListQueues&Version=2012-11-05"),
    "sns": ("POST", "/", _QUERY, None, "Action=ListTopics&Version=2010-03-31"),
    "sts": ("POST", "/", _QUERY, None, "Action=GetCallerIdentity&Version=2011-06-15"),
    "iam": ("POST", "/", _QUERY, None, "Action=ListRoles&Version=2010-05-08"),
    "cloudwatch": ("POST", "/", _QUERY, None, "Action=ListMetrics&Version=2010-08-01"),
    "ses": ("POST", "/", _QUERY, None, "Action=ListIdentities&Version=2010-12-01"),
    "dynamodb": ("POST", "/", _JSON, "DynamoDB_20120810.ListTables", "{}"),
    "kinesis": ("POST", "/", _JSON11, "Kinesis_20131202.ListStreams", "{}"),
    "ssm": ("POST", "/", _JSON11, "AmazonSSM.DescribeParameters", "{}"),
    "secretsmanager": ("POST", "/", _JSON11, "secretsmanager.ListSecrets", "{}"),
    "logs": ("POST", "/", _JSON11, "Logs_20140328.DescribeLogGroups", "{}"),
    "kms": ("POST", "/", _JSON11, "TrentService.ListKeys", "{}"),
    "events": ("POST", "/", _JSON11, "AWSEvents.ListEventBuses", "{}"),
    "stepfunctions": ("POST", "/", _JSON, "AWSStepFunctions.ListStateMachines", "{}"),
    "lambda": ("GET", "/2015-03-31/functions/", "", None, ""),
}


def warm_command(emulator: Emulator, service: str, signing_name: str, region: str) -> list[str] | None:
    """A request (run inside the emulator's container) that makes it load one service, or
    None when the emulator loads nothing lazily or no request is known for the service.

    The credential scope names the service, which is how LocalStack picks the provider."""
    request = WARM_REQUESTS.get(service)
    if not emulator.warm_with_curl or request is None:
        return None
    method, path, content_type, target, body = request
    scope = f"test/20260101/{region}/{signing_name}/aws4_request"
    command = [
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "120", "-X", method,
        "-H", f"Authorization: AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
    ]  # fmt: skip
    if content_type:
        command += ["-H", f"Content-Type: {content_type}"]
    if target:
        command += ["-H", f"X-Amz-Target: {target}"]
    if body:
        command += ["--data", body]
    return [*command, f"http://localhost:{emulator.port}{path}"]
