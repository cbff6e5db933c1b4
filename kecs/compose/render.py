"""Turn a Plan into the compose file `docker compose` (v2) and docker-compose 1.29 both run."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

from kecs import __version__, contract, emulators
from kecs.compose.load import GENERATED_MARKER
from kecs.compose.plan import EmulatorPlan, Plan, ServicePlan
from kecs.errors import KecsError
from kecs.logs.forwarder import MetricsConfig, Source, sources_to_json
from kecs.proxy.taskmeta import TaskInfo, metadata_path
from kecs.seed import secrets as seed_secrets

# Keys the engine refuses on a service joined with network_mode "service:X": they
# belong to the namespace owner, the holder (the engine rejects them on joiners).
MOVED_TO_NETNS = (
    "ports", "expose", "networks", "hostname", "domainname", "dns", "dns_search", "dns_opt",
    "extra_hosts", "mac_address", "links", "network_mode",
)  # fmt: skip
TRUST_DIR = contract.CONTAINER_TRUST_DIR
HEALTH_TIMING = emulators.HEALTH_TIMING


def _literal(command: Sequence[str]) -> list[str]:
    """A command as Compose must see it: `$` doubled, so Compose does not interpolate it."""
    return [part.replace("$", "$$") for part in command]


def _remove_env(service: dict[str, Any], names: set[str]) -> None:
    environment = service.get("environment")
    if not names or not environment:
        return
    if isinstance(environment, dict):
        service["environment"] = {k: v for k, v in environment.items() if k not in names}
    else:
        service["environment"] = [e for e in environment if str(e).split("=", 1)[0] not in names]


def _env_names(environment: Any) -> set[str]:
    if isinstance(environment, dict):
        return set(environment)
    return {str(item).split("=", 1)[0] for item in environment or []}


def _add_env(service: dict[str, Any], values: dict[str, str], also_set: Iterable[str] = ()) -> None:
    """Add variables the user did not set (in `environment`, or in env_file: `also_set`),
    keeping the list or mapping form they used."""
    environment = service.get("environment")
    present = _env_names(environment) | set(also_set)
    missing = {k: v for k, v in values.items() if k not in present}
    if not missing:
        return
    if isinstance(environment, list):
        service["environment"] = environment + [f"{k}={v}" for k, v in missing.items()]
    else:
        service["environment"] = {**(environment or {}), **missing}


def trust_environment(item: ServicePlan, region: str) -> dict[str, str]:
    bundle = f"{TRUST_DIR}/bundle.pem"
    env = {
        # botocore and the AWS CLI: replaces certifi, so the bundle holds the usual roots too.
        "AWS_CA_BUNDLE": bundle,
        # OpenSSL-based stacks (Go, Ruby, Rust, PHP, curl) and Python's requests.
        "SSL_CERT_FILE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "CURL_CA_BUNDLE": bundle,
        "NODE_EXTRA_CA_CERTS": f"{TRUST_DIR}/root.crt",  # additive
        # As ECS sets them.
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    if any(sdk.startswith(("aws-sdk-java", "aws-sdk-kotlin")) for sdk in item.sdks):
        env["JAVA_TOOL_OPTIONS"] = (
            f"-Djavax.net.ssl.trustStore={TRUST_DIR}/truststore.p12 "
            "-Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit"
        )
    return env


def _credentials_environment(
    service: dict[str, Any], name: str, also_set: Iterable[str] = ()
) -> dict[str, str]:
    """The ECS container-credentials variable, unless the service brings its own credentials."""
    own = {"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"}
    present = _env_names(service.get("environment")) | set(also_set)
    if present & own or any(n.startswith("AWS_CONTAINER_CREDENTIALS") for n in present):
        return {}
    return {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": contract.credentials_path(name)}


def _networks_with_alias(networks: Any, alias: str) -> dict[str, Any]:
    if not networks:
        networks = ["default"]
    if isinstance(networks, list):
        networks = {str(n): None for n in networks}
    out: dict[str, Any] = {}
    for network, settings in networks.items():
        settings = dict(settings or {})
        aliases = list(settings.get("aliases") or [])
        if alias not in aliases:
            aliases.insert(0, alias)
        settings["aliases"] = aliases
        out[network] = settings
    return out


def _proxy_environment(item: ServicePlan, plan: Plan) -> dict[str, str]:
    environment = {contract.ENV_SERVICE: item.name, contract.ENV_REGION: plan.region}
    if plan.emulator is not None:
        environment[contract.ENV_EMULATOR_URL] = plan.emulator.url
    routes = {name: routed.url for routed in plan.routed for name in routed.request_names}
    if routes:
        environment[contract.ENV_ROUTES] = contract.encode_routes(routes)
    if item.role:
        environment[contract.ENV_ROLE] = item.role
    return environment


def _netns_service(item: ServicePlan, app: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """The namespace holder (a pod's sandbox): installs the capture once, then sleeps. It
    carries the app's network identity, so the app keeps its name, ports and DNS while
    the proxy beside it restarts."""
    holder: dict[str, Any] = {
        "image": plan.proxy_image,
        "command": ["kecs", "proxy", "--hold"],
        "init": True,  # sleep is not PID 1: a stop ends it at once
        "cap_add": ["NET_ADMIN", "NET_RAW"],
        "environment": _proxy_environment(item, plan),
        "tmpfs": [contract.STATE_DIR],
        "labels": {contract.LABEL_ROLE: "netns", contract.LABEL_APP: item.name},
    }
    for key in MOVED_TO_NETNS:
        if key in app and key != "networks":
            holder[key] = app[key]
    dropped = {r.split(" ", 1)[1] for r in item.removed if r.startswith("dns ")}
    if dropped and "dns" in holder:
        entries = holder["dns"] if isinstance(holder["dns"], list) else [holder["dns"]]
        kept = [entry for entry in entries if str(entry) not in dropped]
        if kept:
            holder["dns"] = kept
        else:
            del holder["dns"]
    if app.get("network_mode") in ("bridge", "default"):
        holder["network_mode"] = app["network_mode"]
    else:
        holder.pop("network_mode", None)
        holder["networks"] = _networks_with_alias(app.get("networks"), item.name)
    for key in ("restart", "profiles"):  # it lives and dies with its app
        if key in app:
            holder[key] = app[key]
    # Emulator addresses are left out of the capture: resolvable once they are started.
    emulators = [e.name for e in plan.emulators if e.name is not None]
    if emulators:
        holder["depends_on"] = {name: {"condition": "service_started"} for name in emulators}
    return holder


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
}


def _mebibytes(value: Any) -> int:
    """A Compose memory size (bytes as a number, or "512m", "1g", "1.5gb") in MiB; 0 if unreadable."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return int(value) >> 20
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-z]*)\s*", str(value).lower())
    if not match or match.group(2) not in _SIZE_UNITS:
        return 0
    try:
        return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)]) >> 20
    except ValueError:
        return 0


def task_info_for(plan: Plan, name: str) -> TaskInfo:
    """What ECS would know of a service from its task definition: name, image, labels,
    limits (`cpus`/`mem_limit` or `deploy.resources.limits`); the Compose project is the cluster."""
    project = plan.project
    cluster = plan.project_name
    resolved = project.services.get(name) or {}
    limits = ((resolved.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    try:
        cpu = float(resolved.get("cpus") or limits.get("cpus") or 0)
    except (TypeError, ValueError):
        cpu = 0.0
    labels = resolved.get("labels") or {}
    if isinstance(labels, list):
        labels = dict(str(entry).partition("=")[::2] for entry in labels)
    return TaskInfo(
        cluster, name, str(resolved.get("image") or f"{cluster}-{name}"), plan.region,
        {str(k): str(v) for k, v in labels.items()}, cpu, _mebibytes(resolved.get("mem_limit") or limits.get("memory")),
    )  # fmt: skip


def observed_directory(service: str) -> str:
    """Where a captured service's requests are recorded, relative to the project."""
    return f"{contract.PROJECT_OBSERVED_DIR}/{service}"


def _proxy_service(item: ServicePlan, app: dict[str, Any], plan: Plan) -> dict[str, Any]:
    environment = {
        **_proxy_environment(item, plan),
        contract.ENV_CAPTURE: contract.CAPTURE_SHARED,
        # `$` in a label would be taken for a variable by Compose.
        contract.ENV_TASK_METADATA: task_info_for(plan, item.name).to_json().replace("$", "$$"),
        contract.ENV_OBSERVED_DIR: contract.CONTAINER_OBSERVED_DIR,
    }
    if plan.discovery is not None:
        environment[contract.ENV_DISCOVERY] = plan.discovery.to_json()
    if plan.discovery is not None or item.services_unknown or "route53" in item.aws_services:
        environment[contract.ENV_PRIVATE_ZONES] = "1"
    restart = app.get("restart")
    proxy: dict[str, Any] = {
        "image": plan.proxy_image,
        "command": ["kecs", "proxy"],
        "network_mode": f"service:{item.netns}",
        "cap_add": ["NET_ADMIN", "NET_RAW"],
        "environment": environment,
        # A volume `kecs up` fills from outside the project: no build context or app
        # mount reaches the key.
        # The project's record of what this service called (kecs policy reads it); kecs
        # creates the directory (never through a link) before Compose mounts it.
        "volumes": [
            f"{contract.CA_VOLUME}:{contract.CONTAINER_CA_DIR}:ro",
            f"./{observed_directory(item.name)}:{contract.CONTAINER_OBSERVED_DIR}",
        ],
        "tmpfs": [contract.STATE_DIR],
        "labels": {contract.LABEL_ROLE: "proxy", contract.LABEL_APP: item.name},
        # A crashed proxy comes back into the same namespace; the app never notices more
        # than refused AWS calls meanwhile.
        "restart": "always" if restart == "always" else "unless-stopped",
        # Healthy once the capture rules are in place and every listener answers, as the
        # running proxy checks every second; the check itself starts no interpreter.
        "healthcheck": {"test": _literal(contract.ready_check()), **HEALTH_TIMING},
    }
    if "profiles" in app:
        proxy["profiles"] = app["profiles"]
    # The holder gates nothing: the proxy waits for its capture, then reports ready.
    depends_on: dict[str, Any] = {item.netns: {"condition": "service_started"}}
    for emulator in plan.emulators:
        if emulator.name is not None:
            ready = "service_healthy" if emulator.has_healthcheck else "service_started"
            depends_on[emulator.name] = {"condition": ready}
    proxy["depends_on"] = depends_on
    return proxy


def _join_app(item: ServicePlan, app: dict[str, Any], plan: Plan) -> dict[str, Any]:
    app = dict(app)
    for key in MOVED_TO_NETNS:
        app.pop(key, None)
    app.pop("x-kecs", None)
    app["network_mode"] = f"service:{item.netns}"
    _remove_env(app, {r.split(" ", 1)[1] for r in item.removed if r.startswith("environment ")})
    depends_on = app.get("depends_on") or {}
    if isinstance(depends_on, list):
        depends_on = {str(name): {"condition": "service_started"} for name in depends_on}
    app["depends_on"] = {item.proxy: {"condition": "service_healthy"}, **depends_on}
    trust = f"./{contract.PROJECT_KECS_DIR}/trust:{contract.CONTAINER_TRUST_DIR}:ro"
    app["volumes"] = [*(app.get("volumes") or []), trust]
    from_files = set(plan.project.env_files.get(item.name, {}))  # the user's own, never overridden
    _add_env(app, trust_environment(item, plan.region), from_files)
    _add_env(app, _credentials_environment(app, item.name, from_files), from_files)
    metadata = contract.ECS_ENDPOINT + metadata_path(task_info_for(plan, item.name))
    _add_env(app, {"ECS_CONTAINER_METADATA_URI_V4": metadata})
    return app


def _helper_service(plan: Plan, role: str, command: list[str]) -> dict[str, Any]:
    """One of kecs's own AWS clients (the seeder, the log forwarder): the proxy image, in the
    first captured service's network namespace, so its calls are captured and routed like
    the apps' (no endpoint URLs); the emulators take any key, so it needs no role."""
    host = plan.seed_host
    assert host is not None
    trust = f"./{contract.PROJECT_KECS_DIR}/trust:{contract.CONTAINER_TRUST_DIR}:ro"
    # The CA volume, for the internal token that marks its requests as kecs's (kecs.internal).
    ca = f"{contract.CA_VOLUME}:{contract.CONTAINER_CA_DIR}:ro"
    return {
        "image": plan.proxy_image,
        "command": command,
        "network_mode": f"service:{host.netns}",
        "environment": {
            **trust_environment(host, plan.region),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        },
        "volumes": [trust, ca],
        "labels": {contract.LABEL_ROLE: role, contract.LABEL_APP: host.name},
        "restart": "unless-stopped",
        "depends_on": {
            host.netns: {"condition": "service_started"},
            host.proxy: {"condition": "service_healthy"},
        },
    }


def _seed_service(plan: Plan) -> dict[str, Any]:
    """The seeder: `kecs up` hands it the seed, applies it and reads the services' secrets
    through it; it then keeps the seed present across emulator restarts. Healthy once the
    seed is applied: the apps wait for that."""
    service = _helper_service(plan, "seed", ["kecs", "seed", "watch", contract.SEED_DIR])
    service["tmpfs"] = [contract.STATE_DIR]
    service["healthcheck"] = {
        "test": ["CMD", "test", "-f", f"{contract.STATE_DIR}/{contract.SEEDED}"],
        **HEALTH_TIMING,
    }
    return service


def _logs_service(plan: Plan) -> dict[str, Any]:
    """The log and metrics forwarder: the Docker socket (to read the project's containers'
    output and stats) and a volume for how far each stream was delivered; see
    kecs.logs.forwarder for the access."""
    service = _helper_service(plan, "telemetry", ["kecs", "logs", "forward"])
    sources = [Source(name, target, task_info_for(plan, name).task_id) for name, target in plan.logs]
    if sources:
        service["environment"][contract.ENV_LOGS] = sources_to_json(sources).replace("$", "$$")
    if plan.metrics_period is not None:
        measured = dict.fromkeys([*(s.name for s in plan.captured), *(name for name, _ in plan.logs)])
        metrics = MetricsConfig(tuple(measured), plan.region, plan.metrics_period)
        service["environment"][contract.ENV_METRICS] = metrics.to_json().replace("$", "$$")
    service["volumes"] += [
        f"{contract.DOCKER_SOCKET}:{contract.DOCKER_SOCKET}:ro",
        f"{contract.LOGS_VOLUME}:{contract.LOGS_STATE_DIR}",
    ]
    return service


def _with_secrets(item: ServicePlan, service: dict[str, Any]) -> dict[str, Any]:
    """ECS-style secrets as environment variables whose values Compose takes from kecs up."""
    if not item.secrets:
        return service
    names = {ref.env for ref in item.secrets}
    _remove_env(service, names)
    _add_env(service, {ref.env: seed_secrets.reference(item.name, ref.env) for ref in item.secrets})
    return service


def _emulator_service(emulator: EmulatorPlan, plan: Plan, networks: list[str]) -> dict[str, Any]:
    assert emulator.image is not None
    record = emulators.get(emulator.kind)
    service: dict[str, Any] = {"image": emulator.image}
    environment: dict[str, str] = dict(record.environment)
    if record.narrow_variable and emulator.aws_services is not None:
        environment[record.narrow_variable] = ",".join(emulator.aws_services)
    environment["AWS_DEFAULT_REGION"] = plan.region
    for name in record.passthrough:  # an account token: named, never written out
        if plan.project.env.get(name):
            environment[name] = "${" + name + "}"
    service["environment"] = environment
    service["labels"] = {contract.LABEL_ROLE: "emulator"}
    service["healthcheck"] = {"test": _literal(record.health), **emulators.HEALTH_TIMING}
    if networks != ["default"]:
        service["networks"] = networks
    # Started with the apps it serves: when every one of them sits in a profile, so does it.
    apps = [plan.project.raw["services"][s.name] or {} for s in plan.captured]
    if apps and all(app.get("profiles") for app in apps):
        service["profiles"] = sorted({str(p) for app in apps for p in app["profiles"]})
    return service


def _adopted_service(emulator: EmulatorPlan, service: dict[str, Any]) -> dict[str, Any]:
    """The project's own emulator as written, plus what kecs's capture needs of it (the
    variables its record sets, such as LocalStack's SQS_ENDPOINT_STRATEGY) where unset."""
    record = emulators.REGISTRY.get(emulator.kind)
    service = dict(service)
    if record is not None:
        _add_env(service, dict(record.adopted_environment))
    return service


def render(plan: Plan) -> dict[str, Any]:
    """The generated compose document as a mapping (variables kept as the user wrote them)."""
    raw = copy.deepcopy(plan.project.raw)
    raw.pop("version", None)
    raw.pop("x-kecs", None)
    services: dict[str, Any] = {}
    networks_used: list[str] = []
    for name, service in (raw.get("services") or {}).items():
        item = next(s for s in plan.services if s.name == name)
        service = dict(service or {})
        if any(logged == name for logged, _ in plan.logs):
            # Docker's awslogs driver would send to AWS itself (or fail offline): the default
            # driver keeps the output for kecs-telemetry, which delivers it to the emulator.
            service.pop("logging", None)
        if not item.captured:
            service.pop("x-kecs", None)
            services[name] = _with_secrets(item, service)
            continue
        holder = _netns_service(item, service, plan)
        for network in holder.get("networks", {}):
            if network not in networks_used:
                networks_used.append(network)
        services[item.netns] = holder
        services[item.proxy] = _proxy_service(item, service, plan)
        services[name] = _with_secrets(item, _join_app(item, service, plan))
        if plan.seeder:
            services[name]["depends_on"][contract.SEED_SERVICE] = {"condition": "service_healthy"}
    if plan.seeder:
        if contract.SEED_SERVICE in services:
            raise KecsError(
                f"a service is already named {contract.SEED_SERVICE!r}, the name of kecs's seeder; rename it"
            )
        services[contract.SEED_SERVICE] = _seed_service(plan)
    if plan.telemetry:
        if contract.LOGS_SERVICE in services:
            raise KecsError(
                f"a service is already named {contract.LOGS_SERVICE!r}, the name of kecs's log forwarder; rename it"
            )
        services[contract.LOGS_SERVICE] = _logs_service(plan)
    for emulator in plan.emulators:
        if emulator.name is None:
            continue
        if emulator.adopted:
            services[emulator.name] = _adopted_service(emulator, services[emulator.name])
        else:
            services[emulator.name] = _emulator_service(emulator, plan, networks_used or ["default"])
    out: dict[str, Any] = {}
    out[GENERATED_MARKER] = {
        "version": __version__,
        "from": [os.path.relpath(f, plan.project.directory) for f in plan.project.files],
    }
    out[GENERATED_MARKER]["project"] = plan.project_name  # what `kecs status`/`down` pass as -p
    if plan.secret_variables:
        out[GENERATED_MARKER]["secrets"] = plan.secret_variables
    if plan.captured:
        volumes: dict[str, Any] = raw["volumes"] if isinstance(raw.get("volumes"), dict) else {}
        raw["volumes"] = {**volumes, contract.CA_VOLUME: {"labels": {contract.LABEL_ROLE: "ca"}}}
        if plan.telemetry:
            raw["volumes"][contract.LOGS_VOLUME] = {"labels": {contract.LABEL_ROLE: "logs"}}
    for key, value in raw.items():
        if value is not None:  # `key:` with nothing under it: Compose takes it as absent
            out[key] = services if key == "services" else value
    for name, service in services.items():
        services[name] = {k: v for k, v in service.items() if v is not None}
    return out


HEADER_PREFIX = "# Generated by kecs "


class _Dumper(yaml.SafeDumper):
    """Plain YAML people can read: no anchors or aliases for repeated values."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(document: dict[str, Any], sources: list[str]) -> str:
    header = (
        f"{HEADER_PREFIX}{__version__} from {', '.join(sources)}. Do not edit:\n"
        "# run `kecs compose` (or `kecs up`) again after changing them.\n"
        "# Start it with `kecs up`, which also builds the proxy image when it is missing, or with\n"
        "#   docker compose -f <this file> up     (Compose v2)\n"
        "#   docker-compose -f <this file> up     (docker-compose 1.29)\n"
        "# once every image exists; for a missing kecs-proxy image run `kecs up` once, for a missing\n"
        "# emulator image load it (docker load -i FILE) or pick another with --localstack-image.\n"
    )
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000, allow_unicode=True
    )
    return header + body
