"""An ECS task definition as compose services: what `kecs compose --task-definition` adds.

Takes the JSON `aws ecs describe-task-definition` prints (`{"taskDefinition": {...}}`) or
the input of `register-task-definition`. Each container definition becomes a service
named after the container, captured (`x-kecs.proxy: true`), with its image, entry point,
command, environment, secrets (`x-kecs.secrets`, the same shape), port mappings,
dependencies (with their conditions), health check, limits and the task role
(`x-kecs.role`). In `awsvpc` mode (Fargate's) the task's containers share one network
namespace, as in ECS: the first container owns it (and the task's ports) and the others
join it. Fields with no local meaning are listed in `notes`, never dropped silently.
Pure: text in, a compose document (values with `$` escaped for Compose) out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kecs.errors import KecsError

_CONDITIONS = {
    "START": "service_started",
    "HEALTHY": "service_healthy",
    "SUCCESS": "service_completed_successfully",
    "COMPLETE": "service_completed_successfully",  # Compose has no "exited, whatever the code"
}
# Container-definition fields and the compose key each becomes (simple copies).
_SIMPLE = {
    "image": "image",
    "entryPoint": "entrypoint",
    "command": "command",
    "workingDirectory": "working_dir",
    "user": "user",
    "hostname": "hostname",
    "privileged": "privileged",
    "readonlyRootFilesystem": "read_only",
    "interactive": "stdin_open",
    "pseudoTerminal": "tty",
    "dnsServers": "dns",
    "dockerLabels": "labels",
}
# Handled below, each in its own way.
_HANDLED = {
    "name", "environment", "secrets", "portMappings", "dependsOn", "healthCheck", "cpu", "memory",
    "memoryReservation", "essential", "extraHosts", "ulimits", "stopTimeout", "mountPoints",
}  # fmt: skip
# Task-level fields kecs reads; the rest are listed.
_TASK_HANDLED = {
    "family", "containerDefinitions", "networkMode", "taskRoleArn", "executionRoleArn", "volumes",
    "cpu", "memory", "requiresCompatibilities", "revision", "taskDefinitionArn", "status",
    "registeredAt", "registeredBy", "compatibilities", "requiresAttributes",
}  # fmt: skip


# The types ECS gives the fields kecs reads (JSON Schema); anything else is one line
# naming the file and the field.
_STRINGS = {"type": "array", "items": {"type": "string"}}
_INT = {"type": "integer"}
_NAMED = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
CONTAINER_SHAPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"}, "image": {"type": "string"},
        "entryPoint": _STRINGS, "command": _STRINGS, "dnsServers": _STRINGS,
        "workingDirectory": {"type": "string"}, "user": {"type": "string"}, "hostname": {"type": "string"},
        "dockerLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "environment": {"type": "array", "items": {**_NAMED, "properties": {"name": {"type": "string"},
                        "value": {"type": "string"}}}},
        "secrets": {"type": "array", "items": {"type": "object", "required": ["name", "valueFrom"],
                    "properties": {"name": {"type": "string"}, "valueFrom": {"type": "string"}}}},
        "portMappings": {"type": "array", "items": {"type": "object", "required": ["containerPort"],
                         "properties": {"containerPort": _INT, "hostPort": _INT, "protocol": {"type": "string"}}}},
        "dependsOn": {"type": "array", "items": {"type": "object", "required": ["containerName"],
                      "properties": {"containerName": {"type": "string"}, "condition": {"type": "string"}}}},
        "healthCheck": {"type": "object", "required": ["command"], "properties": {"command": _STRINGS,
                        "interval": _INT, "timeout": _INT, "startPeriod": _INT, "retries": _INT}},
        "cpu": _INT, "memory": _INT, "memoryReservation": _INT, "stopTimeout": _INT,
        "essential": {"type": "boolean"},
        "extraHosts": {"type": "array", "items": {"type": "object", "required": ["hostname", "ipAddress"],
                       "properties": {"hostname": {"type": "string"}, "ipAddress": {"type": "string"}}}},
        "ulimits": {"type": "array", "items": {"type": "object", "required": ["name", "softLimit", "hardLimit"],
                    "properties": {"name": {"type": "string"}, "softLimit": _INT, "hardLimit": _INT}}},
        "mountPoints": {"type": "array", "items": {"type": "object", "required": ["sourceVolume", "containerPath"],
                        "properties": {"sourceVolume": {"type": "string"}, "containerPath": {"type": "string"},
                                       "readOnly": {"type": "boolean"}}}},
        "logConfiguration": {"type": "object", "required": ["logDriver"], "properties": {
            "logDriver": {"type": "string"},
            "options": {"type": "object", "additionalProperties": {"type": "string"}}}},
        "environmentFiles": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["name", "image"],
}  # fmt: skip
TASK_SHAPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "family": {"type": "string"}, "networkMode": {"type": "string"},
        "taskRoleArn": {"type": "string"}, "executionRoleArn": {"type": "string"},
        "volumes": {"type": "array", "items": _NAMED},
        "containerDefinitions": {"type": "array", "items": CONTAINER_SHAPE, "minItems": 1},
    },
    "required": ["containerDefinitions"],
}  # fmt: skip


def _check_shape(data: Any, where: str) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(TASK_SHAPE).iter_errors(data))
    if error is None:
        return
    at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    raise _fail(
        f"{where}: {at}" if at else where, f"{error.message[:200]} (see ECS's task definition parameters)"
    )


@dataclass
class Converted:
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"services": _escape(self.services)}
        if self.volumes:
            out["volumes"] = self.volumes
        return out


def _escape(value: Any) -> Any:
    """`$` is Compose's interpolation: a task definition's values are literal."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def _fail(where: str, message: str) -> KecsError:
    return KecsError(f"{where}: {message}")


def _seconds(value: Any) -> str:
    return f"{int(value)}s"


def convert(text: str, where: str) -> Converted:
    """The services of one task definition; `where` names its file in messages."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _fail(where, f"not a task definition's JSON: {exc}") from None
    if isinstance(data, Mapping) and isinstance(data.get("taskDefinition"), Mapping):
        data = data["taskDefinition"]
    if not isinstance(data, Mapping) or not isinstance(data.get("containerDefinitions"), list):
        raise _fail(where, "not a task definition: no containerDefinitions list")
    family = str(data.get("family") or "task")
    out = Converted()
    for key in sorted(set(data) - _TASK_HANDLED):
        out.notes.append(f"{where}: task field {key} is not used locally")
    mode = str(data.get("networkMode") or "awsvpc")
    role = data.get("taskRoleArn")
    if data.get("executionRoleArn"):
        out.notes.append(
            f"{where}: executionRoleArn: kecs's seeder reads the secrets; no execution role is needed"
        )
    volumes = {str(v.get("name")): v for v in data.get("volumes") or [] if isinstance(v, Mapping)}
    containers = data["containerDefinitions"]
    names = []
    for index, container in enumerate(containers):
        at = f"{where}: containerDefinitions[{index}]"
        if not isinstance(container, Mapping) or not isinstance(container.get("name"), str):
            raise _fail(at, "a container definition needs a name")
        if not isinstance(container.get("image"), str):
            raise _fail(at, f"container {container['name']} needs an image")
        names.append(container["name"])
    if len(set(names)) != len(names):
        raise _fail(where, "two container definitions have the same name")
    _check_shape(data, where)
    owner = names[0]
    for index, container in enumerate(containers):
        at = f"{where}: containerDefinitions[{index}] ({container['name']})"
        service = _service(container, at, out.notes, volumes, out.volumes, family)
        joins = mode == "awsvpc" and container["name"] != owner
        # The task's other containers share the first's namespace: captured with it.
        settings: dict[str, Any] = {} if joins else {"proxy": True}
        if role:
            settings["role"] = role
        if container.get("secrets"):
            settings["secrets"] = [
                {"name": s.get("name"), "valueFrom": s.get("valueFrom")}
                for s in container["secrets"]
                if isinstance(s, Mapping)
            ]
        if settings:
            service["x-kecs"] = settings
        if joins:
            # One network namespace per task: the first container owns it, as ECS's pause container does.
            service["network_mode"] = f"service:{owner}"
            ports = service.pop("ports", [])
            if ports:
                out.services[owner].setdefault("ports", []).extend(ports)
            service.pop("dns", None)
            service.pop("hostname", None)
            service.pop("extra_hosts", None)
            service.setdefault("depends_on", {}).setdefault(owner, {"condition": "service_started"})
        out.services[container["name"]] = service
    if mode not in ("awsvpc", "bridge", "host", "none"):
        out.notes.append(f"{where}: networkMode {mode}: treated as bridge")
    elif mode in ("host", "none"):
        for service in out.services.values():
            service["network_mode"] = mode
    return out


def _service(
    container: Mapping[str, Any], at: str, notes: list[str], task_volumes: Mapping[str, Any],
    volumes: dict[str, Any], family: str,
) -> dict[str, Any]:  # fmt: skip
    service: dict[str, Any] = {}
    for source, target in _SIMPLE.items():
        if container.get(source) not in (None, [], {}):
            service[target] = container[source]
    service["labels"] = {**(service.get("labels") or {}), "com.amazonaws.ecs.task-definition-family": family}
    environment = {}
    for item in container.get("environment") or []:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            environment[item["name"]] = str(item.get("value", ""))
    if environment:
        service["environment"] = environment
    for item in container.get("environmentFiles") or []:
        notes.append(f"{at}: environmentFiles {item.get('value') if isinstance(item, Mapping) else item}: "
                     "S3 environment files are not read; put the variables in `environment`")  # fmt: skip
    ports = []
    for mapping in container.get("portMappings") or []:
        if not isinstance(mapping, Mapping) or "containerPort" not in mapping:
            raise _fail(at, "each portMappings entry needs a containerPort")
        protocol = str(mapping.get("protocol") or "tcp")
        host = mapping.get("hostPort") or mapping["containerPort"]
        ports.append(
            f"{int(host)}:{int(mapping['containerPort'])}" + ("" if protocol == "tcp" else f"/{protocol}")
        )
    if ports:
        service["ports"] = ports
    depends = {}
    for item in container.get("dependsOn") or []:
        condition = (
            _CONDITIONS.get(str(item.get("condition", "START")).upper())
            if isinstance(item, Mapping)
            else None
        )
        if condition is None:
            raise _fail(at, f"dependsOn {item!r}: condition must be START, COMPLETE, SUCCESS or HEALTHY")
        if str(item.get("condition")).upper() == "COMPLETE":
            notes.append(f"{at}: dependsOn {item['containerName']} COMPLETE waits for a successful exit here")
        depends[str(item["containerName"])] = {"condition": condition}
    if depends:
        service["depends_on"] = depends
    check = container.get("healthCheck")
    if isinstance(check, Mapping) and check.get("command"):
        health: dict[str, Any] = {"test": list(check["command"])}
        for source, target in (
            ("interval", "interval"),
            ("timeout", "timeout"),
            ("startPeriod", "start_period"),
        ):
            if check.get(source) is not None:
                health[target] = _seconds(check[source])
        if check.get("retries") is not None:
            health["retries"] = int(check["retries"])
        service["healthcheck"] = health
    if container.get("cpu"):
        service["cpus"] = round(float(container["cpu"]) / 1024, 3)
    if container.get("memory"):
        service["mem_limit"] = f"{int(container['memory'])}m"
    if container.get("memoryReservation"):
        service["mem_reservation"] = f"{int(container['memoryReservation'])}m"
    if container.get("essential") is False:
        service["restart"] = "no"
    if container.get("stopTimeout"):
        service["stop_grace_period"] = _seconds(container["stopTimeout"])
    hosts = [
        f"{h['hostname']}:{h['ipAddress']}"
        for h in container.get("extraHosts") or []
        if isinstance(h, Mapping)
    ]
    if hosts:
        service["extra_hosts"] = hosts
    limits = {}
    for item in container.get("ulimits") or []:
        if isinstance(item, Mapping) and item.get("name"):
            limits[str(item["name"])] = {"soft": int(item["softLimit"]), "hard": int(item["hardLimit"])}
    if limits:
        service["ulimits"] = limits
    mounts = []
    for mount in container.get("mountPoints") or []:
        if not isinstance(mount, Mapping):
            continue
        name = str(mount.get("sourceVolume"))
        declared = task_volumes.get(name) or {}
        host_path = (declared.get("host") or {}).get("sourcePath")
        if not host_path:
            volumes.setdefault(name, {})
            host_path = name
        mode = ":ro" if mount.get("readOnly") else ""
        mounts.append(f"{host_path}:{mount.get('containerPath')}{mode}")
    if mounts:
        service["volumes"] = mounts
    log = container.get("logConfiguration")
    if log and log["logDriver"] == "awslogs":
        # What ECS's awslogs driver does, kecs's forwarder does (kecs.logs.target reads it).
        service["logging"] = {"driver": "awslogs", "options": dict(log.get("options") or {})}
    elif log:
        notes.append(
            f"{at}: logConfiguration ({log['logDriver']}) is not used: the container logs to Docker's default driver"
        )
    for key in sorted(set(container) - set(_SIMPLE) - _HANDLED - {"environmentFiles", "logConfiguration"}):
        if container.get(key) not in (None, [], {}):
            notes.append(f"{at}: {key} is not used locally")
    return service
