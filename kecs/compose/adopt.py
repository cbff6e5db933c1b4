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

# Endpoint variables that send an SDK around the capture (every SDK reads these).
SDK_ENDPOINT = re.compile(r"^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$")
# Variables apps commonly use to point their own code at an emulator (an AWS word in the
# name: DATABASE_URL is not one).
APP_ENDPOINT = re.compile(
    r"^(?=[A-Z0-9_]*(AWS|LOCALSTACK|MOTO|S3|SQS|SNS|DYNAMO|KINESIS|SSM|SECRETS|STS|LAMBDA|EVENTS|LOGS))"
    r"[A-Z0-9_]*(ENDPOINT|ENDPOINT_URL|_URL|_HOST)$"
)


@dataclass(frozen=True)
class UserEmulator:
    service: str
    kind: str  # a registry kind (emulators.REGISTRY) or unknown
    port: int | None  # the port the apps' endpoints name
    why: str  # "image localstack/localstack:3.8", "the target of api's AWS_ENDPOINT_URL"
    addresses: tuple[str, ...] = ()  # fixed ipv4_address values (what `dns:` entries name)
    has_healthcheck: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)  # as the user set it


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    value = service.get("environment") or {}
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    if isinstance(value, list):
        for item in value:
            key, _, val = str(item).partition("=")
            out[key] = val
    return out


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


def find_emulators(services: Mapping[str, Any]) -> list[UserEmulator]:
    """The project's own emulators: by image, or as the target of the apps' endpoints."""
    targets = endpoint_targets(services)
    found = []
    for name, service in services.items():
        service = service if isinstance(service, dict) else {}
        image = str(service.get("image", ""))
        kind = _kind_of_image(image)
        target = targets.get(name)
        if kind is None and target is None:
            continue
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


def removals(service: Mapping[str, Any], emulator: UserEmulator | None) -> tuple[str, ...]:
    """What a captured service no longer needs and what would bypass its capture: SDK endpoint
    variables, and `dns:` entries naming the adopted emulator's fixed address."""
    out = [f"environment {name}" for name in environment(service) if SDK_ENDPOINT.match(name)]
    dns = service.get("dns")
    entries = dns if isinstance(dns, list) else [dns] if dns else []
    if emulator is not None:
        out += [f"dns {entry}" for entry in entries if str(entry) in emulator.addresses]
    return tuple(out)
