"""Decide, per service, whether it gets a proxy, and what the emulator must serve.

Pure functions: the project model and the scan evidence in, a Plan out. No I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from kecs import __version__, contract, emulators
from kecs.compose import adopt
from kecs.compose.guard import check_ca_reach
from kecs.compose.load import Project, compose_project_name
from kecs.errors import KecsError
from kecs.logs.target import LogTarget, from_service
from kecs.proxy.dns import Discovery
from kecs.scanner.model import KINDS, Finding
from kecs.scanner.services import ServiceCatalog
from kecs.seed.model import Role, Seed, merge_roles, parse_role, parse_seed
from kecs.seed.secrets import SecretRef, parse_secrets, variable

PROXY_IMAGE = f"kecs-proxy:{__version__}"  # without a content tag (see kecs.images)
DEFAULT_REGION = "us-east-1"
# Always served: credentials (STS) and roles (IAM) back every captured service.
BASE_SERVICES = ("iam", "sts")
EMULATORS = emulators.KINDS
SETTINGS = (
    "emulator", "emulator_url", "region", "images", "routes", "services_only", "seed", "role", "logs", "metrics",
    "discovery",
)  # fmt: skip
IMAGE_KEYS = (*emulators.REGISTRY, "proxy", "proxy_base")
SERVICE_SETTINGS = ("proxy", "role", "services", "keep_endpoint", "secrets", "logs")
# What the seeder calls (and the emulator must serve) besides the resources' own services.
SEED_SERVICES = {"buckets": "s3", "queues": "sqs", "topics": "sns", "tables": "dynamodb",
                 "parameters": "ssm", "secrets": "secretsmanager", "roles": "iam"}  # fmt: skip


@dataclass(frozen=True)
class Route:
    """AWS services one emulator serves instead of the default one (DynamoDB by moto while
    LocalStack serves the rest). Services signed alike travel together."""

    services: tuple[str, ...]  # client names: ("dynamodb", "dynamodbstreams")
    target: str  # an emulator kind (emulators.REGISTRY) or http://HOST:PORT
    request_names: tuple[str, ...]  # signing names and endpoint prefixes the proxy matches


@dataclass(frozen=True)
class ServiceEvidence:
    """What the scanner saw of one service: its build context or its image."""

    source: str  # "build context ./api", "image shop/api:1"
    scanned: bool
    findings: tuple[Finding, ...] = ()
    note: str = ""  # why it was not scanned
    # An emulator kind its Dockerfile builds (FROM localstack/localstack, pip install moto).
    emulator: str | None = None


@dataclass(frozen=True)
class Options:
    emulator: str = emulators.DEFAULT
    emulator_url: str | None = None
    region: str = DEFAULT_REGION
    # Emulator images by kind where not the registry's default (x-kecs.images, --KIND-image).
    images: Mapping[str, str] = field(default_factory=dict)
    proxy_image: str = PROXY_IMAGE
    proxy_base: str | None = None  # the proxy image's base (kecs.images picks a default)
    routes: tuple[Route, ...] = ()
    # Adopt the project's own emulator unless the user chose one (--emulator, x-kecs.emulator).
    adopt: bool = True
    # Narrow the emulator to the services the scan found (LocalStack's SERVICES); off by
    # default: a scanner miss must not become a runtime failure.
    services_only: bool = False
    # Where kecs keeps every project's CA keys (kecs.tls.keys_root): no service may mount it.
    keys_directory: str = ""
    # Compose's project name given on the command line (`-p`); else Compose's own choice.
    project_name: str | None = None
    # Where the region came from when the services' own environment named it.
    region_from: str = ""


@dataclass(frozen=True)
class ServicePlan:
    name: str
    captured: bool
    reason: str
    places: tuple[str, ...] = ()  # evidence, strongest first: "api/app.py:14"
    sdks: tuple[str, ...] = ()
    aws_services: tuple[str, ...] = ()
    role: str | None = None
    # A client whose service the code does not name (`boto3.client(service)`, JS v2's
    # `aws-sdk`): the emulator must then serve every service.
    services_unknown: bool = False
    # What was taken off the service because kecs captures its AWS calls instead
    # ("environment AWS_ENDPOINT_URL", "dns 10.0.0.10").
    removed: tuple[str, ...] = ()
    # ECS-style secrets: environment variables resolved from the emulator at start.
    secrets: tuple[SecretRef, ...] = ()
    # The role as declared here (x-kecs.role), created by the seed; `role` is its name.
    task_role: Role | None = None

    @property
    def proxy(self) -> str:
        return f"{self.name}{contract.PROXY_SUFFIX}"

    @property
    def netns(self) -> str:
        """The service that holds the network namespace the app and its proxy share."""
        return f"{self.name}{contract.NETNS_SUFFIX}"


@dataclass(frozen=True)
class EmulatorPlan:
    kind: str  # a registry kind, or url (one running elsewhere, or an adopted unknown one)
    name: str | None  # the compose service, None for an emulator at a URL
    image: str | None
    url: str
    aws_services: tuple[str, ...] | None  # None: all of them
    # Signing names and endpoint prefixes sent here rather than to the default emulator.
    request_names: tuple[str, ...] = ()
    # The project's own emulator service, kept as the user wrote it (kecs adds none).
    adopted: bool = False
    adopted_why: str = ""
    has_healthcheck: bool = True


@dataclass(frozen=True)
class Plan:
    project: Project
    services: tuple[ServicePlan, ...]
    emulator: EmulatorPlan | None  # the default: serves every service not routed elsewhere
    region: str
    proxy_image: str
    notes: tuple[str, ...] = field(default=())
    routed: tuple[EmulatorPlan, ...] = ()
    # Resources to create before the apps start (x-kecs.seed and the services' roles; None
    # without them and without secrets), and the captured service whose network namespace
    # the seeder and the log forwarder share (None without either).
    seed: Seed | None = None
    seed_host: ServicePlan | None = None
    # Services whose output goes to the emulator's CloudWatch Logs (awslogs or x-kecs.logs).
    logs: tuple[tuple[str, LogTarget], ...] = ()
    # Seconds between the captured services' metrics (x-kecs.metrics); None: none published.
    metrics_period: float | None = None
    # Cloud Map names the proxies' DNS answers (x-kecs.discovery).
    discovery: Discovery | None = None
    # Compose's project name: ECS's cluster in task metadata, log stream names, and every
    # Compose command kecs runs (`-p`, COMPOSE_PROJECT_NAME from the environment or .env,
    # the file's `name:`, else the directory's).
    project_name: str = "kecs"

    @property
    def telemetry(self) -> bool:
        """Whether the project gets kecs's log and metrics forwarder."""
        return bool(self.logs) or self.metrics_period is not None

    @property
    def secret_variables(self) -> list[str]:
        """The interpolation variables through which the services' secrets reach Compose."""
        return [variable(s.name, ref.env) for s in self.services for ref in s.secrets]

    @property
    def seeder(self) -> bool:
        """Whether the project gets the kecs-seed service (a seed, or secrets to resolve)."""
        return self.seed_host is not None and self.seed is not None

    @property
    def captured(self) -> tuple[ServicePlan, ...]:
        return tuple(s for s in self.services if s.captured)

    @property
    def emulators(self) -> tuple[EmulatorPlan, ...]:
        return (self.emulator, *self.routed) if self.emulator is not None else ()


_KIND_ORDER = {kind: rank for rank, kind in enumerate(KINDS)}


def options_from_project(project: Project, overrides: Mapping[str, Any]) -> Options:
    """Project-level `x-kecs` settings, then command-line overrides (not None) on top."""
    settings = project.resolved.get("x-kecs") or {}
    where = project.where_key("x-kecs")
    if not isinstance(settings, dict):
        raise KecsError(f"{where}: x-kecs must be a mapping ({', '.join(SETTINGS)})")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        key = sorted(unknown)[0]
        raise KecsError(
            f"{project.where_key('x-kecs', key)}: unknown x-kecs key {key!r} (known: {', '.join(SETTINGS)})"
        )
    images = settings.get("images") or {}
    if not isinstance(images, dict) or set(images) - set(IMAGE_KEYS):
        raise KecsError(f"{where}: x-kecs.images takes {', '.join(IMAGE_KEYS)} image references")
    for key in ("emulator", "emulator_url", "region"):
        if key in settings and not isinstance(settings[key], str):
            raise KecsError(
                f"{project.where_key('x-kecs', key)}: x-kecs.{key} must be a string, not {settings[key]!r}"
            )
    if "services_only" in settings and not isinstance(settings["services_only"], bool):
        raise KecsError(
            f"{project.where_key('x-kecs', 'services_only')}: x-kecs.services_only must be true or false"
        )
    region, region_from = str(settings.get("region", DEFAULT_REGION)), ""
    if "region" not in settings:
        region, region_from = _services_region(project, region)
    options = Options(
        region_from=region_from,
        emulator=emulators.ALIASES.get(
            str(settings.get("emulator", emulators.DEFAULT)), str(settings.get("emulator", emulators.DEFAULT))
        ),
        adopt=not ({"emulator", "emulator_url"} & set(settings)),
        services_only=bool(settings.get("services_only", False)),
        emulator_url=settings.get("emulator_url"),
        region=region,
        images={kind: str(images[kind]) for kind in emulators.REGISTRY if images.get(kind)},
        proxy_image=str(images.get("proxy", PROXY_IMAGE)),
        proxy_base=str(images["proxy_base"]) if images.get("proxy_base") else None,
    )
    routes = settings.get("routes") or {}
    if not isinstance(routes, dict) or not all(isinstance(v, str) for v in routes.values()):
        raise KecsError(
            f"{project.where_key('x-kecs', 'routes')}: x-kecs.routes maps AWS services to an emulator (dynamodb: moto)"
        )
    wanted = {
        str(k): (v, f"{project.where_key('x-kecs', 'routes', str(k))}: x-kecs.routes.{k}")
        for k, v in routes.items()
    }
    for item in overrides.get("routes") or ():
        service, sep, target = str(item).partition("=")
        if not sep:
            raise KecsError(f"--route {item}: give SERVICE=EMULATOR (--route dynamodb=moto)")
        wanted[service.strip()] = (target.strip(), f"--route {item}")
    overrides = {k: v for k, v in overrides.items() if v is not None and k != "routes"}
    if "region" in overrides:
        overrides["region_from"] = ""
    if overrides.get("emulator") or overrides.get("emulator_url"):
        overrides["adopt"] = False
    if overrides.get("images"):
        overrides["images"] = {**options.images, **overrides["images"]}
    options = replace(options, **overrides)
    if options.emulator_url:
        options = replace(options, emulator=emulators.URL)
    if options.emulator not in EMULATORS:
        raise KecsError(
            f"unknown emulator {options.emulator!r}: choose {', '.join(emulators.REGISTRY)}, or give --emulator-url"
        )
    if (
        settings.get("discovery") is not None
        and "servicediscovery" not in wanted
        and options.emulator in emulators.REGISTRY
        and "servicediscovery" not in emulators.get(options.emulator).offline
    ):
        # Cloud Map where the default emulator has none (LocalStack's free edition).
        serving = emulators.serving("servicediscovery")
        if serving:
            wanted["servicediscovery"] = (
                serving[0].kind,
                f"{project.where_key('x-kecs', 'discovery')}: x-kecs.discovery",
            )
    if options.emulator == emulators.URL and not options.emulator_url:
        raise KecsError(
            "an emulator of kind url needs its URL: --emulator-url http://HOST:PORT (or x-kecs.emulator_url)"
        )
    if options.emulator_url:
        where = (
            "--emulator-url" if overrides.get("emulator_url") else project.where_key("x-kecs", "emulator_url")
        )
        problem = url_problem(options.emulator_url)
        if problem:
            raise KecsError(
                f"{where}: emulator URL {options.emulator_url!r}: {problem} (give http://HOST:PORT)"
            )
    return replace(options, routes=_routes(wanted))


def url_problem(url: str) -> str | None:
    """Why `url` is not an emulator URL the proxy can use (http(s)://HOST[:PORT]), or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "a bad port"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not http(s)://HOST:PORT"
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return "a path, query or user part"
    if any(ch in url for ch in ",;= \t\n"):
        return "characters no host URL has"
    return None


def _routes(wanted: Mapping[str, tuple[str, str]]) -> tuple[Route, ...]:
    """Resolve `service -> emulator` wishes into routes; services signed alike go together."""
    if not wanted:
        return ()
    catalog = ServiceCatalog.load()
    resolved: dict[str, tuple[str, str]] = {}  # later wishes (the command line) win
    for spelling, (target, where) in wanted.items():
        name = catalog.lookup(spelling)
        if name is None:
            close = difflib.get_close_matches(spelling.lower(), sorted(catalog.names), n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (use botocore's client names: dynamodb, s3)"
            raise KecsError(f"{where}: unknown AWS service {spelling!r}{hint}")
        problem = None if target in emulators.REGISTRY else url_problem(target)
        if problem:
            raise KecsError(
                f"{where}: route {name} to {', '.join(emulators.REGISTRY)} or http://HOST:PORT, "
                f"not {target!r} ({problem})"
            )
        resolved[name] = (target, where)
    target_of: dict[str, tuple[str, str]] = {}
    for name, (target, where) in resolved.items():
        for alike in catalog.signed_alike(name):
            earlier = target_of.get(alike)
            if earlier and earlier[0] != target:
                raise KecsError(
                    f"{where}: {name} and {alike} are signed alike (a proxy cannot tell their requests "
                    f"apart), so they go to one emulator; {earlier[1]} sends them to {earlier[0]}"
                )
            target_of[alike] = (target, where)
    by_target: dict[str, list[str]] = {}
    for name, (target, _) in sorted(target_of.items()):
        by_target.setdefault(target, []).append(name)
    return tuple(
        Route(tuple(names), target, catalog.request_names(tuple(names)))
        for target, names in by_target.items()
    )


def _service_settings(project: Project, name: str, service: Mapping[str, Any]) -> dict[str, Any]:
    settings = service.get("x-kecs") or {}
    where = project.where(name)
    if not isinstance(settings, dict):
        raise KecsError(f"{where}: services.{name}.x-kecs must be a mapping (proxy, role, services)")
    unknown = set(settings) - set(SERVICE_SETTINGS)
    if unknown:
        raise KecsError(
            f"{where}: unknown key services.{name}.x-kecs.{sorted(unknown)[0]} (known: {', '.join(SERVICE_SETTINGS)})"
        )
    for flag in ("proxy", "keep_endpoint"):
        if flag in settings and not isinstance(settings[flag], bool):
            raise KecsError(f"{where}: services.{name}.x-kecs.{flag} must be true or false")
    extra = settings.get("services", [])
    if not isinstance(extra, list) or not all(isinstance(s, str) for s in extra):
        raise KecsError(f"{where}: services.{name}.x-kecs.services must be a list of AWS service names")
    return settings


def _services_region(project: Project, default: str) -> tuple[str, str]:
    """The region the services set themselves (AWS_REGION, AWS_DEFAULT_REGION, in
    `environment` or env_file), the most common one, and where it came from; else `default`."""
    counts: dict[str, list[str]] = {}
    for name, service in project.services.items():
        if emulators.kind_of_image(str((service or {}).get("image") or "")):
            continue  # an emulator's own default region is not the apps'
        for key, value in project.environment_of(name).items():
            if key in ("AWS_REGION", "AWS_DEFAULT_REGION") and value and "$" not in value:
                counts.setdefault(value, []).append(f"{name}'s {key}")
    if not counts:
        return default, ""
    region = max(counts, key=lambda r: (len(counts[r]), r == default))
    return region, f"from {', '.join(sorted(set(counts[region]))[:3])}"


def _plan_service(
    project: Project, name: str, service: Mapping[str, Any], evidence: ServiceEvidence | None
) -> ServicePlan:
    settings = _service_settings(project, name, service)
    extra = tuple(settings.get("services", []))
    task_role = None
    if settings.get("role") is not None:
        task_role = parse_role(
            settings["role"], partial(project.where_key, "services", name, "x-kecs", "role")
        )
    secrets: tuple[SecretRef, ...] = ()
    if "secrets" in settings:
        secrets = parse_secrets(
            settings["secrets"], project.where_key("services", name, "x-kecs", "secrets"), name
        )
    findings = sorted(
        (f for f in (evidence.findings if evidence else ()) if f.kind != "lint"),
        key=lambda f: (_KIND_ORDER.get(f.kind, 9), f.path, f.line),
    )
    # Installed packages (a lock file's transitive ones, an image's site-packages) name the
    # service only when nothing stronger does: an SDK's own client-sso is not the app's use.
    stronger = [f for f in findings if f.kind != "installed"]
    found_services = tuple(sorted({s for f in (stronger or findings) for s in f.services} | set(extra)))
    sdks = tuple(sorted({f.sdk for f in findings}))
    places = tuple(dict.fromkeys(f"{f.path}:{f.line}" for f in findings))
    network_mode = str(service.get("network_mode", ""))
    role = task_role.name if task_role else None
    base = ServicePlan(
        name, False, "", places, sdks, found_services, role, secrets=secrets, task_role=task_role
    )
    if settings.get("proxy") is False:
        return replace(base, reason="opted out (x-kecs.proxy: false)")
    if settings.get("proxy") is True and network_mode.startswith(("service:", "container:")):
        raise KecsError(
            f"{project.where_key('services', name, 'x-kecs', 'proxy')}: services.{name} has x-kecs.proxy: true "
            f"but network_mode {network_mode!r}: it lives in another's network namespace, which kecs cannot "
            f"capture apart; put x-kecs.proxy: true on {network_mode.split(':', 1)[1]} (its sidecars are "
            "captured with it) or drop network_mode"
        )
    if network_mode in ("host", "none") or network_mode.startswith(("service:", "container:")):
        return replace(
            base,
            reason=f"left as it is: network_mode {network_mode!r} (kecs cannot own its network namespace)",
        )
    unknown = not found_services or any(f.kind == "client" and not f.services for f in findings)
    if settings.get("proxy") is True:
        return replace(base, captured=True, reason="x-kecs.proxy: true", services_unknown=unknown)
    if findings:
        first = findings[0]
        what = f"{first.sdk} {first.kind}"
        if first.services:
            what += f" ({', '.join(first.services)})"
        return replace(
            base, captured=True, reason=f"{what} at {first.path}:{first.line}", services_unknown=unknown
        )
    declared = adopt.compose_evidence(str(service.get("image") or ""), project.environment_of(name))
    if declared:
        # The compose file itself says this service talks to AWS (an image-only AWS CLI job,
        # a vendor image): captured, every AWS service served.
        scanned = f"; the scan of {evidence.source} found no SDK" if evidence and evidence.scanned else ""
        return replace(base, captured=True, reason=f"compose: {declared}{scanned}", services_unknown=True)
    if evidence is None or not evidence.scanned:
        why = evidence.note if evidence else "nothing to scan"
        return replace(
            base, reason=f"not scanned: {why}; set services.{name}.x-kecs.proxy: true to capture it"
        )
    return replace(base, reason=f"no AWS SDK use found in {evidence.source}")


def _seed(
    project: Project,
    services: tuple[ServicePlan, ...],
    region: str,
    exists: Callable[[str, bool], bool],
    discovery: Discovery | None = None,
) -> tuple[Seed, tuple[ServicePlan, ...]]:
    """The seed with every declared role, and the services with the project's default role."""
    settings = project.resolved.get("x-kecs") or {}
    roles = [s.task_role for s in services if s.task_role is not None]
    default = None
    if settings.get("role") is not None:
        role = parse_role(settings["role"], partial(project.where_key, "x-kecs", "role"))
        roles.insert(0, role)
        default = role.name
    seed = Seed(region=region)
    if settings.get("seed") is not None:
        where = partial(project.where_key, "x-kecs", "seed")
        seed = parse_seed(settings["seed"], where, project.directory, exists, region)
    seed = merge_roles(seed, roles)
    if discovery is not None:
        seed = replace(seed, namespace=discovery.namespace, discovered=tuple(sorted(discovery.names.items())))
    if default is not None:
        services = tuple(replace(s, role=s.role or default) if s.captured else s for s in services)
    return seed, services


def _log_targets(project: Project, region: str, name: str) -> tuple[tuple[str, LogTarget], ...]:
    """Each service whose output goes to CloudWatch Logs, and where (`name`: the project's)."""
    default = (project.resolved.get("x-kecs") or {}).get("logs")
    found = []
    for service, spec in project.services.items():
        target = from_service(
            spec or {}, service, name, region, default, partial(project.where_key, "services", service)
        )
        if target is not None:
            found.append((service, target))
    return tuple(found)


_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)


def _discovery(project: Project) -> Discovery | None:
    """x-kecs.discovery: {namespace: shop.local, names: {orders: orders-service}}: every
    service is `<service>.<namespace>` unless `names` lists the ones discovered (name: service)."""
    value = (project.resolved.get("x-kecs") or {}).get("discovery")
    if value is None:
        return None
    where = project.where_key("x-kecs", "discovery")
    if not isinstance(value, dict) or set(value) - {"namespace", "names"}:
        raise KecsError(f"{where}: x-kecs.discovery is {{namespace: NAME, names: {{NAME: SERVICE}}}}")
    namespace = str(value.get("namespace") or "").lower().rstrip(".")
    if not _DNS_NAME.match(namespace):
        raise KecsError(f"{where}: namespace {value.get('namespace')!r} is not a DNS name (shop.local)")
    names = value.get("names")
    if names is None:
        names = {name: name for name in project.services}
    if not isinstance(names, dict):
        raise KecsError(f"{where}: x-kecs.discovery.names maps a name to a compose service")
    for name, service in names.items():
        if service not in project.services:
            raise KecsError(
                f"{project.where_key('x-kecs', 'discovery', 'names', str(name))}: no service {service!r}"
            )
        if not _DNS_NAME.match(str(name).lower()) or "." in str(name):
            raise KecsError(
                f"{project.where_key('x-kecs', 'discovery', 'names', str(name))}: {name!r} is not a DNS label"
            )
    return Discovery(namespace, {str(k).lower(): str(v) for k, v in names.items()})


def _metrics_period(project: Project) -> float | None:
    """x-kecs.metrics: true (every 60 s, as ECS's per-minute metrics) or {period: SECONDS}."""
    value = (project.resolved.get("x-kecs") or {}).get("metrics")
    if value in (None, False):
        return None
    if value is True:
        return 60.0
    period = value.get("period") if isinstance(value, dict) and set(value) <= {"period"} else None
    if isinstance(period, bool) or not isinstance(period, (int, float)) or not 1 <= period <= 3600:
        raise KecsError(
            f"{project.where_key('x-kecs', 'metrics')}: x-kecs.metrics is true or {{period: SECONDS}} (1 to 3600)"
        )
    return float(period)


def _always(path: str, directory: bool) -> bool:
    return True


def plan(
    project: Project,
    evidence: Mapping[str, ServiceEvidence],
    options: Options = Options(),
    exists: Callable[[str, bool], bool] = _always,
) -> Plan:
    """Which services get a proxy, the emulator that serves them and what to seed. Pure:
    whether a file the seed names exists is asked through `exists`."""
    services = tuple(
        _plan_service(project, name, service or {}, evidence.get(name))
        for name, service in project.services.items()
    )
    names = set(project.services)
    effective = {
        n: {**(s or {}), "environment": project.environment_of(n)} for n, s in project.services.items()
    }
    built = {n: e.emulator for n, e in evidence.items() if e.emulator}
    own_emulators = {e.service: e for e in adopt.find_emulators(effective, built)}
    services = tuple(
        replace(
            item, captured=False, reason=f"an AWS emulator ({own_emulators[item.name].why}): left as it is"
        )
        if item.name in own_emulators and item.reason != "x-kecs.proxy: true"
        else item
        for item in services
    )
    for item in services:
        for derived, what in ((item.proxy, "proxy"), (item.netns, "network namespace holder")):
            if item.captured and derived in names:
                raise KecsError(
                    f"{project.where(derived)}: a service is already named {derived!r}, the name kecs gives "
                    f"to {item.name}'s {what}; rename it"
                )
    captured = [s for s in services if s.captured]
    for item in captured:  # the holder takes the app's networks by name, with an alias on each
        networks = (project.services.get(item.name) or {}).get("networks")
        for network in networks if isinstance(networks, list) else []:
            if not re.fullmatch(r"[a-zA-Z0-9._-]+", str(network)):
                raise KecsError(
                    f"{project.where_key('services', item.name, 'networks')}: services.{item.name}.networks: "
                    f"{network!r} is not a network name (letters, digits, '.', '_', '-')"
                )
    check_ca_reach(project, options.keys_directory)
    if captured and contract.CA_VOLUME in (project.raw.get("volumes") or {}):
        raise KecsError(
            f"{project.where_key('volumes', contract.CA_VOLUME)}: a volume is already named "
            f"{contract.CA_VOLUME!r}, the name kecs gives to the proxies' CA volume; rename it"
        )
    discovery = _discovery(project)
    seed, services = _seed(project, services, options.region, exists, discovery)
    captured = [s for s in services if s.captured]
    seed_services = {SEED_SERVICES[k] for k in SEED_SERVICES if getattr(seed, k)}
    seed_services |= {ref.service for s in services for ref in s.secrets}
    if seed.namespace:
        seed_services.add("servicediscovery")
    project_name = compose_project_name(
        project.directory, options.project_name, project.resolved, project.env
    )
    logs = _log_targets(project, options.region, project_name)
    metrics_period = _metrics_period(project)
    seed_host = None
    if seed or seed_services or logs or metrics_period:
        if not captured:
            raise KecsError(
                f"{project.where_key('x-kecs', 'seed')}: seeding, roles, secrets and logs need at least one "
                "captured service (kecs's seeder and log forwarder share its network namespace)"
            )
        seed_host = captured[0]
    if logs:
        seed_services.add("logs")
    if metrics_period:
        seed_services.add("cloudwatch")
    notes: list[str] = []
    emulator: EmulatorPlan | None = None
    routed: list[EmulatorPlan] = []
    if captured:
        found = tuple(
            sorted({a for s in captured for a in s.aws_services} | set(BASE_SERVICES) | seed_services)
        )
        unknown_apps = [s.name for s in captured if s.services_unknown]
        if unknown_apps:
            notes.append(
                f"{', '.join(unknown_apps)}: service unknown (a client whose AWS service the code does not "
                "name, e.g. boto3.client(service)); the emulator serves every service"
            )
        aws: tuple[str, ...] | None = None
        if options.services_only and not unknown_apps:
            aws = found
            notes.append(
                f"x-kecs.services_only: the emulator loads only {', '.join(found)} (what the scan found)"
            )
        elif options.services_only:
            notes.append("x-kecs.services_only is ignored: a service's AWS services are unknown")
        users = list(own_emulators.values())  # found once, above, in the apps' order of preference
        adopted = users[0] if users and options.adopt else None
        if users and not options.adopt:
            notes.append(
                f"the project's own {', '.join(u.service for u in users)} keeps running beside kecs's emulator "
                "(you chose kecs's with --emulator or x-kecs.emulator)"
            )
        if adopted is not None:
            kind = adopted.kind if adopted.kind in emulators.REGISTRY else emulators.URL
            emulator = EmulatorPlan(
                kind, adopted.service, None, adopt.url_of(adopted), None, (), True, adopted.why,
                adopted.has_healthcheck,
            )  # fmt: skip
            default_target = adopted.kind
            notes.append(
                f"adopted the project's {adopted.service} ({adopted.why}) as the emulator: kecs adds none "
                "(--emulator localstack runs kecs's own beside it)"
            )
        else:
            default_target = (
                options.emulator_url if options.emulator == emulators.URL else options.emulator
            ) or ""
        for route in options.routes:
            if route.target == default_target:
                continue  # the default emulator serves them anyway
            serves = route.services if unknown_apps else tuple(s for s in route.services if s in found)
            if not serves:
                notes.append(
                    f"route {', '.join(route.services)} -> {route.target}: no captured service uses "
                    f"{'it' if len(route.services) == 1 else 'them'}; no emulator added for it"
                )
                continue
            routed.append(_emulator(route.target, options, names, serves, route.request_names))
        moved = {s for r in routed for s in r.aws_services or ()}
        if emulator is None:
            served = None if aws is None else tuple(s for s in aws if s not in moved or s in BASE_SERVICES)
            emulator = _emulator(default_target, options, names, served, ())
        hint = emulators.route_hint(emulator.kind, [s for s in found if s not in moved])
        if hint:
            notes.append(hint)
        for other in routed:
            hint = emulators.route_hint(other.kind, list(other.aws_services or ()))
            if hint:
                notes.append(hint)
        services = tuple(_with_removals(project, item, adopted) for item in services)
        notes += _bypass_notes(project, services, own_emulators)
    else:
        notes.append("no service uses an AWS SDK: nothing to capture, no emulator added")
    notes += list(project.missing_env_files)
    notes += _uncapturable_notes(project, services, own_emulators)
    if options.region_from:
        notes.append(
            f"region {options.region}: {options.region_from} (kecs never overrides the services' own)"
        )
    if "version" in project.raw:
        notes.append(
            "the obsolete top-level `version` is dropped: depends_on conditions need the Compose spec"
        )
    return Plan(
        project, services, emulator, options.region, options.proxy_image, tuple(notes), tuple(routed),
        seed if seed or any(s.secrets for s in services) else None, seed_host, logs, metrics_period,
        discovery, project_name,
    )  # fmt: skip


def _bypass_notes(
    project: Project, services: tuple[ServicePlan, ...], own: Mapping[str, adopt.UserEmulator]
) -> list[str]:
    """Endpoint variables from env_file that point a captured app at an emulator: kecs
    does not edit the user's files, so it says plainly what they do."""
    out = []
    for item in services:
        if not item.captured:
            continue
        for key, (value, file) in sorted(project.env_files.get(item.name, {}).items()):
            if key in project.service_environment_names(item.name):
                continue  # `environment` sets it: that is what the container gets
            if adopt.points_at_emulator(key, value, own):
                out.append(
                    f"{item.name}: {key}={value} from {file} sends its calls straight to the emulator, "
                    f"around the capture (not recorded, no task role, no TLS as in AWS): {item.name} is not "
                    f"really captured until you remove it from {file}"
                )
    return out


def _uncapturable_notes(
    project: Project, services: tuple[ServicePlan, ...], own: Mapping[str, adopt.UserEmulator]
) -> list[str]:
    """What kecs cannot capture, named: containers an app starts through the Docker socket,
    Lambda functions the emulator runs, services sharing another's network namespace."""
    out = []
    captured = {s.name for s in services if s.captured}
    for name, service in project.services.items():
        service = service or {}
        volumes = [str(v.get("source") if isinstance(v, dict) else v) for v in service.get("volumes") or []]
        if any("docker.sock" in v.split(":", 1)[0] for v in volumes) and name not in own:
            out.append(
                f"{name} mounts the Docker socket: containers it starts are not in the project, and their "
                "AWS calls are not captured"
            )
        mode = str(service.get("network_mode") or "")
        if mode.startswith("service:"):
            owner = mode.split(":", 1)[1]
            how = (
                f"captured with {owner}, but without the trust settings its SDK needs (add them or give "
                f"{name} its own network)"
                if owner in captured
                else "not captured"
            )
            out.append(f"{name} shares {owner}'s network namespace (network_mode: {mode}): {how}")
    for emulator in own.values():
        env = project.environment_of(emulator.service)
        if any(k.startswith("LAMBDA_") for k in env) or "lambda" in env.get("SERVICES", ""):
            out.append(
                f"Lambda functions {emulator.service} runs execute inside the emulator: their AWS calls are "
                "not captured (they reach the emulator directly)"
            )
    return out


def _with_removals(project: Project, item: ServicePlan, adopted: adopt.UserEmulator | None) -> ServicePlan:
    """A captured service without what would bypass its capture (x-kecs.keep_endpoint keeps it)."""
    if not item.captured:
        return item
    raw = (project.raw.get("services") or {}).get(item.name) or {}
    settings = raw.get("x-kecs") or {}
    if isinstance(settings, dict) and settings.get("keep_endpoint") is True:
        return item
    return replace(
        item, removed=adopt.removals(raw, adopted, set(adopt.emulator_hosts(project.services, adopted)))
    )


def _emulator(
    target: str,
    options: Options,
    taken: set[str],
    aws: tuple[str, ...] | None,
    request_names: tuple[str, ...],
) -> EmulatorPlan:
    record = emulators.REGISTRY.get(target)
    if record is None:
        return EmulatorPlan(emulators.URL, None, None, target, aws, request_names)
    name = _free_name(record.service_name, taken)
    image = options.images.get(target, record.image)
    return EmulatorPlan(record.kind, name, image, record.url(name), aws, request_names)


def _free_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    raise KecsError(f"a service is already named {name!r}, the name kecs gives to the emulator; rename it")
