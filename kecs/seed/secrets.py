"""ECS's `secrets` of a container definition: which value each `valueFrom` names.

ECS takes, for Secrets Manager, the secret's full ARN, optionally followed by
`:json-key:version-stage:version-id` (any of them empty), and, for SSM Parameter Store, the
parameter's ARN or, in the task's region, its name. Parsing is pure; `variable` names the
compose interpolation variable through which `kecs up` hands a resolved value to Compose
(values are never written to a file).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kecs.errors import KecsError

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SecretRef:
    """One `{name, valueFrom}` of a service."""

    env: str  # the variable the app reads
    value_from: str
    service: str  # secretsmanager | ssm
    name: str  # the secret's name or ARN, or the parameter's name
    json_key: str = ""
    version_stage: str = ""
    version_id: str = ""
    region: str = ""


def parse_value_from(env: str, value_from: str) -> SecretRef:
    if value_from.startswith("arn:"):
        parts = value_from.split(":")
        if len(parts) < 6 or parts[0] != "arn" or not parts[1].startswith("aws"):
            raise KecsError(f"valueFrom {value_from!r} is not an ARN (arn:aws:SERVICE:REGION:ACCOUNT:...)")
        service, region = parts[2], parts[3]
        if service == "secretsmanager":
            if parts[5] != "secret" or len(parts) < 7 or not parts[6]:
                raise KecsError(
                    f"valueFrom {value_from!r}: a Secrets Manager ARN ends in :secret:NAME"
                    "[:json-key:version-stage:version-id]"
                )
            extra = parts[7:]
            if len(extra) > 3:
                raise KecsError(
                    f"valueFrom {value_from!r}: after the secret's name come at most json-key, version-stage and version-id"
                )
            extra += [""] * (3 - len(extra))
            if extra[1] and extra[2]:
                raise KecsError(f"valueFrom {value_from!r}: give a version stage or a version id, not both")
            base = ":".join(parts[:7])
            return SecretRef(env, value_from, "secretsmanager", base, extra[0], extra[1], extra[2], region)
        if service == "ssm":
            resource = ":".join(parts[5:])
            if not resource.startswith("parameter/") or resource == "parameter/":
                raise KecsError(f"valueFrom {value_from!r}: an SSM ARN ends in :parameter/NAME")
            name = resource[len("parameter") :]
            # parameter/name is "name"; parameter/path/name is "/path/name".
            name = name[1:] if name.count("/") == 1 else name
            return SecretRef(env, value_from, "ssm", name, region=region)
        raise KecsError(
            f"valueFrom {value_from!r}: ECS reads secrets from secretsmanager or ssm, not {service}"
        )
    if not value_from or any(c.isspace() for c in value_from):
        raise KecsError(f"valueFrom {value_from!r} is neither an ARN nor a parameter name")
    return SecretRef(env, value_from, "ssm", value_from)


def parse_secrets(value: Any, where: str, service: str) -> tuple[SecretRef, ...]:
    """`x-kecs.secrets` of one service: a list of {name, valueFrom}, as in a task definition."""
    if not isinstance(value, list):
        raise KecsError(f"{where}: services.{service}.x-kecs.secrets must be a list of {{name, valueFrom}}")
    out: list[SecretRef] = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) != {"name", "valueFrom"}:
            raise KecsError(
                f"{where}: each of services.{service}.x-kecs.secrets takes `name` and `valueFrom`"
            )
        env, value_from = item["name"], item["valueFrom"]
        if not isinstance(env, str) or not _ENV_NAME.match(env):
            raise KecsError(f"{where}: secret name {env!r} is not an environment variable name")
        if not isinstance(value_from, str):
            raise KecsError(f"{where}: valueFrom of {env} must be a string")
        if any(ref.env == env for ref in out):
            raise KecsError(f"{where}: secret {env} is declared twice")
        try:
            out.append(parse_value_from(env, value_from))
        except KecsError as exc:
            raise KecsError(f"{where}: {exc}") from None
    return tuple(out)


def variable(service: str, env: str) -> str:
    """The interpolation variable carrying one secret into the generated file."""
    slug = re.sub(r"[^A-Za-z0-9]", "_", service).upper()[:40]
    digest = hashlib.sha256(f"{service}\0{env}".encode()).hexdigest()[:6].upper()
    return f"KECS_SECRET_{slug}_{env.upper()}_{digest}"


def reference(service: str, env: str) -> str:
    """`${VAR?message}`: plain `docker compose up` stops with this message, naming the
    secret, until `kecs up` resolves it."""
    return "${" + variable(service, env) + f"?secret {env} of service {service} is resolved by kecs up" + "}"


def ref_to_json(ref: SecretRef) -> dict[str, str]:
    return {
        "env": ref.env, "value_from": ref.value_from, "service": ref.service, "name": ref.name,
        "json_key": ref.json_key, "version_stage": ref.version_stage, "version_id": ref.version_id,
        "region": ref.region,
    }  # fmt: skip
