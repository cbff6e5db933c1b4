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


def warm_command(emulator: Emulator, signing_name: str, region: str) -> list[str] | None:
    """A request (run inside the emulator's container) that makes it load one service.

    The credential scope names the service, which is how LocalStack picks the provider;
    the request itself may be refused: loading is what counts."""
    if not emulator.warm_with_curl:
        return None
    scope = f"test/20260101/{region}/{signing_name}/aws4_request"
    return [
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "120", "-X", "POST",
        "-H", f"Authorization: AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0",
        "-H", "Content-Type: application/x-www-form-urlencoded",
        f"http://localhost:{emulator.port}/",
    ]  # fmt: skip
