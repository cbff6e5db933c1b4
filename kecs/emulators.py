"""The emulators kecs can add to a project, each described once.

Plan, render and `kecs up` read these records: the image and port, the compose service
name, how the proxy talks to it, its health check (no interpreter started per check),
how to narrow the services it loads, the environment it needs, what it cannot serve
offline, and how to warm it before the apps start. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kecs import coverage

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
    # Image names that are this emulator (a project's own service kecs adopts).
    image_pattern: str
    # How the proxy reaches it: over TLS on its one port where the emulator builds URLs
    # from the request's scheme (SQS queue URLs), so they are https:// as AWS returns them.
    proxy_scheme: str = "http"
    # The variable that turns that TLS on, for an emulator that serves either TLS or plain
    # HTTP: a project's own instance is reached over TLS only where the user turned it on.
    tls_variable: str | None = None
    narrow_variable: str | None = None  # the variable that lists the services to load
    environment: Mapping[str, str] = field(default_factory=dict)
    # What kecs adds to a project's own instance where unset (nothing that changes how
    # the project's other clients reach it).
    adopted_environment: Mapping[str, str] = field(default_factory=dict)
    # Host variables handed through to its container when set (an account token).
    passthrough: tuple[str, ...] = ()
    # Services it serves only by downloading a backend at first use (needs the internet).
    downloads: Mapping[str, str] = field(default_factory=dict)
    # Loads services lazily: `kecs up` sends one request per service (with curl in its
    # image) before the apps start, so their first calls do not stall.
    warm_with_curl: bool = False

    def url(self, host: str) -> str:
        return f"{self.proxy_scheme}://{host}:{self.port}"

    @property
    def image_option(self) -> str:
        """The command-line flag that picks its image."""
        return f"--{self.kind}-image"

    @property
    def image_variable(self) -> str:
        """The environment variable that picks its image (as the flag does)."""
        return f"KECS_{self.kind.upper()}_IMAGE"

    @property
    def offline(self) -> frozenset[str]:
        """The AWS services it served offline in the measured end-to-end run."""
        return frozenset(coverage.MEASURED.get(self.kind, ()))

    def scheme_for(self, environment: Mapping[str, str]) -> str:
        """The scheme of a project's own instance, given the variables the user set on it."""
        if self.tls_variable is None:
            return self.proxy_scheme
        on = environment.get(self.tls_variable, "").strip().lower() in ("1", "true", "yes")
        return "https" if on else "http"


def _http_probe(port: int, path: str) -> tuple[str, ...]:
    """GET with bash's /dev/tcp: for images without curl (moto's)."""
    script = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 "
        '&& read -r status <&3 && case "$status" in *" 200 "*) echo "$status";; '
        '*) echo "$status"; exit 1;; esac'
    )
    return ("CMD", "bash", "-c", script)


def _https_probe(port: int, path: str) -> tuple[str, ...]:
    """GET over TLS with the openssl command (MiniStack's image has openssl and bash, no
    curl); the certificate is the emulator's own self-signed one."""
    script = (
        f"status=$(printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' | "
        f"openssl s_client -quiet -connect 127.0.0.1:{port} 2>/dev/null | head -n 1); "
        'case "$status" in *" 200 "*) echo "$status";; *) echo "no answer: $status"; exit 1;; esac'
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
    image_pattern=r"(^|/)localstack(-pro|-full)?(:|@|$)",
    proxy_scheme="https",  # it serves TLS and plain HTTP on one port
    narrow_variable="SERVICES",
    # Queue URLs with AWS host names, which the proxies capture.
    environment={"SQS_ENDPOINT_STRATEGY": "dynamic"},
    adopted_environment={"SQS_ENDPOINT_STRATEGY": "dynamic"},
    passthrough=(LOCALSTACK_AUTH_TOKEN,),
    downloads={"dynamodb": "DynamoDB Local", "kinesis": "kinesis-mock"},
    warm_with_curl=True,
)

MOTO = Emulator(
    kind="moto",
    title="moto",
    image="motoserver/moto:5.1.4",
    port=5000,
    service_name="kecs-moto",
    health=_http_probe(5000, "/moto-api/"),
    image_pattern=r"(^|/)(moto|motoserver|moto-server)(:|@|$)",
    environment={"MOTO_PORT": "5000"},
)

MINISTACK = Emulator(
    kind="ministack",
    title="MiniStack",
    image="ministackorg/ministack:1.5.33",
    port=4566,
    service_name="kecs-ministack",
    health=_https_probe(4566, "/_ministack/health"),
    image_pattern=r"(^|/)ministack(:|@|$)",
    # TLS: its queue URLs then say https and keep the host the request named.
    proxy_scheme="https",
    tls_variable="USE_SSL",
    narrow_variable="SERVICES",
    environment={"USE_SSL": "1", "GATEWAY_PORT": "4566"},
)

REGISTRY: dict[str, Emulator] = {e.kind: e for e in (LOCALSTACK, MOTO, MINISTACK)}
URL = "url"  # an emulator already running at a URL: nothing added
KINDS = (*REGISTRY, URL)
PORTS = frozenset(e.port for e in REGISTRY.values())  # what emulators listen on
DEFAULT = LOCALSTACK.kind  # the project's emulator unless it says otherwise
DEFAULT_PORT = LOCALSTACK.port  # the edge port an unknown emulator is taken to listen on
# Earlier spellings still accepted in x-kecs.emulator.
ALIASES = {"external": URL}


def coverage_rows() -> list[tuple[str, ...]]:
    """The measured coverage as a table: a header, then one row per probed service
    ('yes' where the emulator served it offline, 'no' where it did not)."""
    kinds = [k for k in REGISTRY if k in coverage.MEASURED]
    rows: list[tuple[str, ...]] = [("AWS service", *(REGISTRY[k].title for k in kinds))]
    for service in coverage.SERVICES:
        rows.append((service, *("yes" if service in REGISTRY[k].offline else "no" for k in kinds)))
    return rows


def coverage_markdown() -> str:
    """The README's coverage table (generated: a test checks the README carries it)."""
    rows = coverage_rows()
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    measured = "; ".join(f"{REGISTRY[k].title} {v}" for k, v in coverage.MEASURED_WITH.items())
    return "\n".join(lines) + f"\n\nMeasured offline with {measured}.\n"


def get(kind: str) -> Emulator:
    return REGISTRY[kind]


# Names apps use to reach an emulator directly (LocalStack's own DNS names among them): an
# endpoint variable naming one sends an app's calls around the capture.
DIRECT_HOSTS = ("localhost.localstack.cloud", "localstack", "moto", "motoserver", "ministack")
DIRECT_DOMAINS = (".localhost.localstack.cloud", ".localstack.cloud")


def kind_of_image(image: str) -> str | None:
    """The emulator an image reference names, or None."""
    for record in REGISTRY.values():
        if re.search(record.image_pattern, image.lower()):
            return record.kind
    return None


def serving(service: str) -> list[Emulator]:
    """The emulators that served `service` offline in the measured run."""
    return [record for record in REGISTRY.values() if service in record.offline]


def route_hint(kind: str, services: list[str]) -> str | None:
    """A route suggestion for the services `kind` does not serve offline, or None when it
    serves them all (or nothing was measured for them)."""
    record = REGISTRY.get(kind)
    if record is None:
        return None
    missing = [s for s in services if s in coverage.SERVICES and s not in record.offline]
    if not missing:
        return None
    parts = []
    for service in missing:
        others = [r.kind for r in serving(service)]
        why = (
            f" (it downloads {record.downloads[service]} on first use)" if service in record.downloads else ""
        )
        if others:
            parts.append(
                f"{service} is not served offline by {kind}{why}; {' and '.join(others)} "
                f"{'serves' if len(others) == 1 else 'serve'} it: --route {service}={others[0]}"
            )
        else:
            parts.append(f"{service} is served offline by none of {', '.join(REGISTRY)}{why}")
    return "; ".join(parts)


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
