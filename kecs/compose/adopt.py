"""A project that already runs an emulator: find it, and what points the apps at it. Pure.

Real projects written for LocalStack carry a `localstack` service and, on the apps,
`AWS_ENDPOINT_URL=http://localstack:PORT` (or `http://localhost.localstack.cloud:PORT`
with `dns:` pointing at LocalStack). kecs adopts such a service as its emulator (no second
one beside it) and, for captured apps, removes what would bypass the capture.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from kecs import emulators
from kecs.compose.load import service_environment

# Endpoint variables that send an SDK around the capture (every SDK reads these).
SDK_ENDPOINT = re.compile(r"^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$")
# Variables apps commonly use to point their own code at an emulator (an AWS word in the
# name: DATABASE_URL is not one).
APP_ENDPOINT = re.compile(
    r"^(?=[A-Z0-9_]*(AWS|LOCALSTACK|MOTO|S3|SQS|SNS|DYNAMO|KINESIS|SSM|SECRETS|STS|LAMBDA|EVENTS|LOGS))"
    r"[A-Z0-9_]*(ENDPOINT|ENDPOINT_URL|_URL|_HOST)$"
)


# Images that are AWS clients themselves (a job running the AWS CLI has no SDK to scan).
AWS_CLIENT_IMAGE = re.compile(
    r"(^|/)(amazon/aws-cli|aws-cli/aws-cli|amazon/aws-sam-cli[^/]*|localstack/awscli-local)(:|@|$)"
)
# Variables that say a service talks to AWS (an SDK or the CLI reads them).
AWS_VARIABLES = re.compile(
    r"^AWS_(ENDPOINT_URL(_[A-Z0-9_]+)?|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|REGION|DEFAULT_REGION|PROFILE|ROLE_ARN)$"
)
# Variables LocalStack's tooling and apps written for it use to name it.
LOCALSTACK_VARIABLES = {"LOCALSTACK_HOST", "LOCALSTACK_HOSTNAME", "LOCALSTACK_ENDPOINT", "AWS_ENDPOINT"}


def compose_evidence(image: str, env: Mapping[str, str]) -> str | None:
    """Why the compose file itself says a service talks to AWS, or None."""
    if AWS_CLIENT_IMAGE.search(image.lower()):
        return f"image {image} is an AWS client"
    named = sorted(k for k in env if AWS_VARIABLES.match(k))
    if named:
        return f"environment {', '.join(named[:3])}{' ...' if len(named) > 3 else ''}"
    return None


@dataclass(frozen=True)
class UserEmulator:
    service: str
    kind: str  # a registry kind (emulators.REGISTRY) or unknown
    port: int | None  # the port the apps' endpoints name
    why: str  # "image localstack/localstack:3.8", "the target of api's AWS_ENDPOINT_URL"
    addresses: tuple[str, ...] = ()  # fixed ipv4_address values (what `dns:` entries name)
    has_healthcheck: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)  # as the user set it


environment = service_environment  # a service's `environment`, either form, as a mapping


def _kind_of_image(image: str) -> str | None:
    return emulators.kind_of_image(image)


def _addresses(service: Mapping[str, Any]) -> tuple[str, ...]:
    networks = service.get("networks")
    if not isinstance(networks, dict):
        return ()
    found = []
    for settings in networks.values():
        if isinstance(settings, dict) and settings.get("ipv4_address"):
            found.append(str(settings["ipv4_address"]))
    return tuple(found)


def _names(name: str, service: Mapping[str, Any]) -> set[str]:
    """Every name other services reach this one by."""
    names = {name}
    if service.get("container_name"):
        names.add(str(service["container_name"]))
    if service.get("hostname"):
        names.add(str(service["hostname"]))
    networks = service.get("networks")
    if isinstance(networks, dict):
        for settings in networks.values():
            if isinstance(settings, dict):
                names.update(str(a) for a in settings.get("aliases") or [])
    return names


def endpoint_targets(services: Mapping[str, Any]) -> dict[str, tuple[str, str, int | None]]:
    """Services the apps' endpoint variables name: service -> (app, variable, port)."""
    by_name: dict[str, str] = {}
    localstack_like = []
    for name, service in services.items():
        service = service if isinstance(service, dict) else {}
        for alias in _names(name, service):
            by_name.setdefault(alias, name)
        if _kind_of_image(str(service.get("image", ""))) == emulators.LOCALSTACK.kind:
            localstack_like.append(name)
    out: dict[str, tuple[str, str, int | None]] = {}
    for app, service in services.items():
        service = service if isinstance(service, dict) else {}
        for variable, value in environment(service).items():
            if not (SDK_ENDPOINT.match(variable) or APP_ENDPOINT.match(variable)) or "://" not in value:
                continue
            try:
                parts = urlsplit(value)
                host, port = parts.hostname or "", parts.port
            except ValueError:
                continue
            target = by_name.get(host)
            if target is None and host.endswith("localstack.cloud") and localstack_like:
                target = localstack_like[0]
            if target is not None and target != app:
                out.setdefault(target, (app, variable, port))
    return out


def find_emulators(services: Mapping[str, Any], built: Mapping[str, str] | None = None) -> list[UserEmulator]:
    """The project's own emulators: by image, by what their Dockerfile builds (`built`:
    service -> kind), or as the target of the apps' endpoints."""
    targets = endpoint_targets(services)
    built = built or {}
    found = []
    for name, service in services.items():
        service = service if isinstance(service, dict) else {}
        image = str(service.get("image", ""))
        kind = _kind_of_image(image) or built.get(name)
        target = targets.get(name)
        if kind is None and target is None:
            continue
        if name in built and not _kind_of_image(image):
            why = f"its Dockerfile builds {emulators.REGISTRY[built[name]].title}"
        else:
            why = f"image {image}" if kind else f"the target of {target[0]}'s {target[1]}" if target else ""
        port = target[2] if target else None
        found.append(
            UserEmulator(
                name,
                kind or "unknown",
                port,
                why,
                _addresses(service),
                bool(service.get("healthcheck")),
                environment(service),
            )
        )
    # Those the apps point at first.
    return sorted(found, key=lambda e: (e.service not in targets, e.kind == "unknown"))


def url_of(emulator: UserEmulator) -> str:
    """How the proxy reaches an adopted emulator: the registry's scheme and port for a kind
    kecs knows (LocalStack over TLS on its one port), else plain HTTP on the apps' port."""
    record = emulators.REGISTRY.get(emulator.kind)
    if record is not None:
        scheme = record.scheme_for(emulator.environment)
        return f"{scheme}://{emulator.service}:{emulator.port or record.port}"
    return f"http://{emulator.service}:{emulator.port or emulators.DEFAULT_PORT}"


def emulator_hosts(services: Mapping[str, Any], adopted: UserEmulator | None) -> list[str]:
    """The names an app can reach the adopted emulator by (the emulators' own names are
    points_at_emulator's)."""
    hosts: list[str] = []
    if adopted is not None:
        service = services.get(adopted.service)
        hosts += sorted(_names(adopted.service, service if isinstance(service, dict) else {}))
        hosts += list(adopted.addresses)
    return hosts


def points_at_emulator(variable: str, value: str, own: Mapping[str, UserEmulator], hosts: Any = ()) -> bool:
    """Whether a variable sends an app's AWS calls to an emulator directly: an SDK endpoint
    variable, or an endpoint-like one (S3_ENDPOINT, LOCALSTACK_HOST) naming an emulator."""
    if SDK_ENDPOINT.match(variable) and value:
        return True
    if not (APP_ENDPOINT.match(variable) or variable in LOCALSTACK_VARIABLES) or not value:
        return False
    host, port = value, None
    try:
        parts = urlsplit(value if "://" in value else f"http://{value}")
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return False
    host = host.lower()
    names = {*(h.lower() for h in hosts), *(e.service.lower() for e in own.values()), *emulators.DIRECT_HOSTS}
    # `http://localhost:<an emulator's port>`: written for an emulator on the host (or in
    # the same namespace); in a captured app it reaches nothing, or goes around the capture.
    local = host in ("localhost", "127.0.0.1", "host.docker.internal") and port in emulators.PORTS
    return local or host in names or host.endswith(emulators.DIRECT_DOMAINS)


def removals(
    service: Mapping[str, Any], emulator: UserEmulator | None, hosts: set[str] | None = None
) -> tuple[str, ...]:
    """What a captured service no longer needs and what would bypass its capture: SDK endpoint
    variables, endpoint-like variables naming an emulator (`S3_ENDPOINT=http://localstack:PORT`,
    `LOCALSTACK_HOST`), and `dns:` entries naming the adopted emulator's fixed address."""
    own = {emulator.service: emulator} if emulator is not None else {}
    out = [
        f"environment {name}"
        for name, value in environment(service).items()
        if SDK_ENDPOINT.match(name) or points_at_emulator(name, value, own, hosts or ())
    ]
    dns = service.get("dns")
    entries = dns if isinstance(dns, list) else [dns] if dns else []
    if emulator is not None:
        out += [f"dns {entry}" for entry in entries if str(entry) in emulator.addresses]
    return tuple(out)
