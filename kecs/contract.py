"""The contract between the generated compose file and the proxy image: one home.

Names of the `KECS_*` variables, the proxy's ports and uid, where the CA and trust
material are mounted, the state files the health checks read, the labels kecs puts on
what it adds, and how routes travel in one variable. Both sides import it; nothing here
does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

# Variables the generated file sets on the proxy (each also a `kecs proxy` flag).
ENV_SERVICE = "KECS_SERVICE"
ENV_REGION = "KECS_REGION"
ENV_EMULATOR_URL = "KECS_EMULATOR_URL"
ENV_ROUTES = "KECS_ROUTES"
ENV_ROLE = "KECS_ROLE"
ENV_DIR = "KECS_DIR"
ENV_UID = "KECS_PROXY_UID"
ENV_DNS_UPSTREAM = "KECS_DNS_UPSTREAM"
ENV_CAPTURE = "KECS_CAPTURE"
ENV_LOG_LEVEL = "KECS_LOG_LEVEL"
ENV_STATE_DIR = "KECS_STATE_DIR"  # set by the proxy image
ENV_TASK_METADATA = "KECS_TASK_METADATA"  # JSON: kecs.proxy.taskmeta.TaskInfo
ENV_DISCOVERY = "KECS_DISCOVERY"  # JSON: kecs.proxy.dns.Discovery
ENV_PRIVATE_ZONES = "KECS_PRIVATE_ZONES"  # "1": the DNS answers Route 53 private zones
ENV_OBSERVED_DIR = "KECS_OBSERVED_DIR"  # where the proxy records each request it forwards

# The proxy's listeners (loopback of the shared namespace) and its uid, the loop breaker.
PROXY_UID = 1337
PROXY_PORT = 15001
CREDENTIALS_PORT = 15002
DNS_PORT = 15053

# Mounts: `ca/` (the intermediate and its key) only into the proxy, `trust/` into apps.
CONTAINER_KECS_DIR = "/etc/kecs"
CONTAINER_CA_DIR = f"{CONTAINER_KECS_DIR}/ca"
CONTAINER_TRUST_DIR = f"{CONTAINER_KECS_DIR}/trust"
PROJECT_KECS_DIR = ".kecs"
# What the proxies observed, per compose service: <project>/.kecs/observed/<service>/requests.jsonl
PROJECT_OBSERVED_DIR = f"{PROJECT_KECS_DIR}/observed"
CONTAINER_OBSERVED_DIR = "/var/lib/kecs/observed"
OBSERVED_FILE = "requests.jsonl"
OBSERVED_KEEP = 3  # rotated files kept beside it: requests.1.jsonl (newest) .. requests.3.jsonl


def observed_file(index: int = 0) -> str:
    """The observed log's file name: the current one (0), or the index-th rotated one."""
    return OBSERVED_FILE if index == 0 else OBSERVED_FILE.replace(".jsonl", f".{index}.jsonl")


# kecs's own AWS clients (the seeder, the log forwarder) share the first captured service's
# namespace. They name themselves in the User-Agent (for people reading logs), and prove
# it with INTERNAL_HEADER carrying the project's internal token, a secret kept beside the
# CA key (kecs.tls) and found in the CA volume, which no app may mount. The proxy strips
# the header, records such requests as kecs's, and signs every observed record with the
# token (OBSERVED_MAC), so an app can neither hide its calls nor forge the log it can see.
USER_AGENT_MARK = "kecs-internal"
INTERNAL_HEADER = "x-kecs-internal"
INTERNAL_TOKEN = "internal-token"  # in the CA directory and volume
OBSERVED_MAC = "mac"  # the record's field: HMAC-SHA256 of the rest of the line
# ECS's container endpoints (credentials, task metadata), served by the proxy.
ECS_ENDPOINT = "http://169.254.170.2"
CREDENTIALS_PREFIX = "/v2/credentials/"


def credentials_path(service: str) -> str:
    """The app's AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: the only credentials path served."""
    return f"{CREDENTIALS_PREFIX}{service}"


# beside the compose files: public trust material only
# The intermediate's key lives outside the project (kecs.tls.key_directory); `kecs up`
# copies it into this named volume, which only the proxies mount.
CA_VOLUME = "kecs-ca"

# State the health checks read (a tmpfs, fresh on every container start).
STATE_DIR = "/run/kecs"
READY = "ready"  # written while the proxy is ready, rewritten every second
STATUS = "status"  # one line: why it is (not) ready
SEEN = "seen"  # AWS services the app called, one per line
READY_FILE = f"{STATE_DIR}/{READY}"
STATUS_FILE = f"{STATE_DIR}/{STATUS}"
SEEN_FILE = f"{STATE_DIR}/{SEEN}"
SEEDED = "seeded"  # the seeder applied the seed (its health check)
SEED_DIR = "/var/lib/kecs/seed"  # where `kecs up` puts the seed and its files
SEED_SERVICE = "kecs-seed"  # the seeder's compose service
LOGS_SERVICE = "kecs-telemetry"  # the log and metrics forwarder's compose service
ENV_LOGS = "KECS_LOGS"  # JSON: the services whose output it delivers, and where
ENV_METRICS = "KECS_METRICS"  # JSON: the services whose metrics it publishes, how often
LOGS_VOLUME = "kecs-logs"  # its delivered positions
LOGS_STATE_DIR = "/var/lib/kecs/logs"
DOCKER_SOCKET = "/var/run/docker.sock"
READY_MAX_AGE = 15  # seconds: an older ready file means the proxy stopped checking itself

# How the proxy treats the capture rules.
CAPTURE_OWN = "own"  # install at start, remove at stop (a proxy on its own)
CAPTURE_SHARED = "shared"  # the namespace holder installed them: check, never remove
CAPTURE_NONE = "none"
CAPTURE_MODES = (CAPTURE_OWN, CAPTURE_SHARED, CAPTURE_NONE)

# Labels on what kecs adds to a project.
LABEL_ROLE = "dev.kecs.role"  # proxy | netns | emulator
LABEL_APP = "dev.kecs.app"  # the captured service a proxy or holder belongs to

# Compose service names kecs derives from an application's name.
PROXY_SUFFIX = "-kecs-proxy"
NETNS_SUFFIX = "-kecs-net"


def encode_routes(routes: Mapping[str, str]) -> str:
    """`KECS_ROUTES`: JSON, so no URL or name can smuggle in a second route."""
    return json.dumps(dict(sorted(routes.items())), separators=(",", ":"))


def decode_routes(value: str) -> list[str]:
    """`KEY=URL` items from `KECS_ROUTES` (JSON; the older comma form is still read)."""
    value = value.strip()
    if not value:
        return []
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"{ENV_ROUTES} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ValueError(f"{ENV_ROUTES} maps AWS service names to emulator URLs")
        return [f"{k}={v}" for k, v in data.items()]
    return [item for item in value.split(",") if item.strip()]


def ready_check() -> list[str]:
    """The proxy's health check: no interpreter, only sh and coreutils already in the image.
    Healthy while the running proxy keeps its ready file fresh; otherwise it prints why."""
    script = (
        f"f={READY_FILE}; "
        f"if [ -f $f ] && [ $(( $(date +%s) - $(stat -c %Y $f) )) -lt {READY_MAX_AGE} ]; then cat $f; "
        f"else cat {STATUS_FILE} 2>/dev/null || echo 'not ready yet'; exit 1; fi"
    )
    return ["CMD", "sh", "-c", script]


def seen_services(text: str) -> tuple[str, ...]:
    return tuple(sorted({line.strip() for line in text.splitlines() if line.strip()}))
