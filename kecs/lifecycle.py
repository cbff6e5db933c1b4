"""`kecs up`, `kecs down`, `kecs status` as functions: they return data and print nothing.

Compose itself (a subprocess: the `docker compose` plugin when the machine has it, else
`docker-compose` 1.29) runs the project's lifecycle, so users keep their own Compose
semantics; the docker SDK builds kecs's images and reads container state. Progress is
reported through a callback.

`up` is: generate the compose file, make sure kecs's images exist, start the emulators
and wait until they are healthy, warm the AWS services the apps use, start everything,
then wait until every service runs and every health check passes (or one fails, which
is then reported with its health output and last log lines).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from kecs import contract, emulators
from kecs.compose.generate import OUTPUT_NAME, Generated, generate
from kecs.compose.load import GENERATED_MARKER, compose_project_name
from kecs.errors import KecsError
from kecs.images import ImageStatus, ensure_image, ensure_proxy_image
from kecs.seed import secrets as seed_secrets
from kecs.seed import state as seed_state
from kecs.seed.model import to_document
from kecs.seed.secrets import ref_to_json

Progress = Callable[[str], None]
LOG_LINES = 20
DEFAULT_TIMEOUT = 600.0


def _quiet(_: str) -> None:
    pass


# -- Compose, as a subprocess ---------------------------------------------------------------


def find_compose(preferred: str | None = None) -> tuple[str, ...]:
    """The Compose command: `preferred` ('docker compose' or 'docker-compose'), else the
    v2 plugin when present, else docker-compose 1.29."""
    candidates = [preferred] if preferred else ["docker compose", "docker-compose"]
    for candidate in candidates:
        argv = tuple(candidate.split())
        if not shutil.which(argv[0]):
            continue
        probe = subprocess.run([*argv, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return argv
    wanted = preferred or "the `docker compose` plugin or docker-compose"
    raise KecsError(f"{wanted} is not installed; install Docker Compose and run again")


@dataclass(frozen=True)
class Compose:
    command: tuple[str, ...]
    directory: str
    file: str  # the generated file, relative to directory
    project_name: str | None = None
    environment: Mapping[str, str] | None = None
    # The secrets' interpolation variables: Compose reads the whole file for any command,
    # so they are set (empty) wherever `environment` does not give their values.
    secrets: Sequence[str] = ()

    def argv(self, *args: str) -> list[str]:
        name = ["-p", self.project_name] if self.project_name else []
        return [*self.command, "-f", self.file, *name, *args]

    def run(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        env = self.env()
        try:
            return subprocess.run(
                self.argv(*args), cwd=self.directory, env=env, capture_output=True, text=True,
                timeout=timeout, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise KecsError(f"`{' '.join(self.argv(*args))}` did not finish in {timeout:.0f} s") from None

    def env(self) -> dict[str, str]:
        env = dict(os.environ if self.environment is None else self.environment)
        env.setdefault("COMPOSE_INTERACTIVE_NO_CLI", "1")
        for name in self.secrets:
            env.setdefault(name, "")
        return env

    def shown(self, *args: str) -> str:
        return " ".join(self.argv(*args))

    def container_ids(self) -> list[str]:
        listed = self.run("ps", "-a", "-q", timeout=120)
        if listed.returncode != 0:
            raise KecsError(f"`{self.shown('ps')}` failed: {_last_line(listed.stderr)}")
        return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# -- State ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    name: str
    role: str  # app (captured), service, proxy, netns, emulator
    captured: bool
    state: str  # running, exited (0), restarting, created, missing
    health: str | None  # healthy, unhealthy, starting; None without a health check
    aws_services: tuple[str, ...] = ()  # what a captured app called so far (its proxy saw)
    container: str | None = None
    restarts: int = 0

    @property
    def ready(self) -> bool:
        if self.state == "exited (0)":
            return True  # a one-shot service that finished
        return self.state == "running" and self.health in (None, "healthy")

    @property
    def failed(self) -> str | None:
        if self.health == "unhealthy":
            return "unhealthy"
        if self.state.startswith("exited") and self.state != "exited (0)":
            return self.state
        if self.state == "dead":
            return "dead"
        return None


@dataclass(frozen=True)
class Failure:
    service: str
    why: str
    health_output: str
    log_tail: str
    command: str  # to see more


@dataclass
class UpResult:
    generated: Generated
    compose: tuple[str, ...]
    images: list[ImageStatus] = field(default_factory=list)
    warmed: dict[str, str] = field(default_factory=dict)  # signing name -> status code
    services: tuple[ServiceState, ...] = ()
    failure: Failure | None = None
    timings: dict[str, float] = field(default_factory=dict)
    seeded: list[str] = field(default_factory=list)  # one line per seeded resource

    @property
    def ok(self) -> bool:
        return self.failure is None


def _docker() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except Exception as exc:
        raise KecsError(f"no Docker daemon answered ({exc}); start Docker and run again") from None
    return client


def _container_state(container: Any) -> tuple[str, str | None, int]:
    attrs = container.attrs.get("State", {})
    status = str(attrs.get("Status", "unknown"))
    if status == "exited":
        status = f"exited ({attrs.get('ExitCode', '?')})"
    health = (attrs.get("Health") or {}).get("Status")
    return status, health, int(container.attrs.get("RestartCount", 0) or 0)


def _seen(container: Any) -> tuple[str, ...]:
    try:
        code, output = container.exec_run(["cat", contract.SEEN_FILE], demux=False)
    except Exception:
        return ()
    if code != 0 or not output:
        return ()
    return contract.seen_services(output.decode("utf-8", "replace"))


def _containers(client: Any, compose: Compose) -> list[Any]:
    """The project's containers, as Compose lists them (one that goes meanwhile is left out)."""
    containers = []
    for cid in compose.container_ids():
        with contextlib.suppress(Exception):
            containers.append(client.containers.get(cid))
    return containers


def collect(
    client: Any, compose: Compose, services: Sequence[str] = (), with_calls: bool = False
) -> tuple[ServiceState, ...]:
    """The state of every service of the project (those of `services` first, in order).

    `with_calls` also reads what each captured app called (one exec into its proxy): for
    the tables, not for the polling while kecs waits."""
    by_service: dict[str, Any] = {}
    for container in _containers(client, compose):
        name = container.labels.get("com.docker.compose.service", container.name)
        if container.labels.get("com.docker.compose.oneoff") == "True":
            continue
        by_service.setdefault(name, container)
    roles = {n: c.labels.get(contract.LABEL_ROLE) for n, c in by_service.items()}
    captured_apps = {c.labels.get(contract.LABEL_APP) for n, c in by_service.items() if roles[n] == "proxy"}
    order = list(dict.fromkeys([*services, *sorted(by_service)]))
    out: list[ServiceState] = []
    for name in order:
        container = by_service.get(name)
        role = roles.get(name) or ("app" if name in captured_apps else "service")
        if container is None:
            out.append(ServiceState(name, role, name in captured_apps, "missing", None))
            continue
        state, health, restarts = _container_state(container)
        seen: tuple[str, ...] = ()
        if with_calls and name in captured_apps:
            proxy = by_service.get(f"{name}{contract.PROXY_SUFFIX}")
            if proxy is not None and _container_state(proxy)[0] == "running":
                seen = _seen(proxy)
        out.append(
            ServiceState(name, role, name in captured_apps, state, health, seen, container.id[:12], restarts)
        )
    return tuple(out)


def _failure(client: Any, compose: Compose, state: ServiceState, why: str) -> Failure:
    health_output = ""
    log_tail = ""
    if state.container:
        try:
            container = client.containers.get(state.container)
            log = (container.attrs.get("State", {}).get("Health") or {}).get("Log") or []
            if log:
                last = log[-1]
                health_output = f"exit {last.get('ExitCode')}: {str(last.get('Output', '')).strip()}"
            log_tail = container.logs(tail=LOG_LINES).decode("utf-8", "replace")
        except Exception as exc:
            log_tail = f"(cannot read its log: {exc})"
    return Failure(state.name, why, health_output, log_tail, compose.shown("logs", state.name))


def wait_ready(
    client: Any,
    compose: Compose,
    services: Sequence[str],
    timeout: float,
    progress: Progress,
    what: str = "services",
) -> tuple[tuple[ServiceState, ...], Failure | None]:
    """Poll until every one of `services` is ready, one fails, or the time is up."""
    started = time.monotonic()
    last = ""
    while True:
        states = collect(client, compose, services)
        wanted = [s for s in states if s.name in services]
        for state in wanted:
            why = state.failed
            if why:
                return states, _failure(client, compose, state, why)
        waiting = [s for s in wanted if not s.ready]
        elapsed = time.monotonic() - started
        if not waiting:
            return states, None
        if elapsed > timeout:
            first = waiting[0]
            why = f"not ready after {timeout:.0f} s ({first.state}, health {first.health or '-'})"
            return states, _failure(client, compose, first, why)
        message = (
            f"waiting for {what} ({elapsed:.0f} s): "
            + ", ".join(f"{s.name} ({s.health or s.state})" for s in waiting[:6])
            + (f" and {len(waiting) - 6} more" if len(waiting) > 6 else "")
        )
        if message != last:
            progress(message)
            last = message
        time.sleep(1)


# -- up, down, status -------------------------------------------------------------------------


def _ensure_images(client: Any, generated: Generated, progress: Progress) -> list[ImageStatus]:
    options, result = generated.options, generated.plan
    statuses: list[ImageStatus] = []
    if result.captured:
        statuses.append(ensure_proxy_image(client, result.proxy_image, options.proxy_base, progress))
    for emulator in result.emulators:
        if emulator.image is None:
            continue
        record = emulators.get(emulator.kind)
        hint = (
            f"load it (docker load -i FILE) or pick another with {record.image_option} IMAGE "
            f"(x-kecs.images.{record.kind})"
        )
        statuses.append(ensure_image(client, emulator.image, f"emulator {record.kind}", hint, progress))
    return statuses


def _warm(client: Any, compose: Compose, generated: Generated, progress: Progress) -> dict[str, str]:
    """One request per AWS service the apps use, sent inside each emulator that loads
    services lazily, so the apps' first calls do not wait for the loading."""
    from kecs.scanner.services import ServiceCatalog

    result = generated.plan
    used = sorted({s for item in result.captured for s in item.aws_services})
    catalog = ServiceCatalog.load()
    jobs: list[tuple[Any, list[str], str]] = []
    states = {s.name: s for s in collect(client, compose)}
    for emulator in result.emulators:
        if emulator.name is None or emulator.kind not in emulators.REGISTRY:
            continue
        record = emulators.get(emulator.kind)
        state = states.get(emulator.name)
        if state is None or state.container is None:
            continue
        container = client.containers.get(state.container)
        served = [s for s in used if emulator.aws_services is None or s in emulator.aws_services]
        if emulator is not result.emulator:
            served = [s for s in served if s in (emulator.aws_services or ())]
        for name in served:
            if name not in catalog.endpoints:
                continue
            command = emulators.warm_command(record, name, catalog.endpoints[name][1], result.region)
            if command:
                jobs.append((container, command, name))
    if not jobs:
        return {}
    progress(f"warming {', '.join(name for _, _, name in jobs)}")
    lock = threading.Lock()
    out: dict[str, str] = {}

    def warm(job: tuple[Any, list[str], str]) -> None:
        container, command, name = job
        try:
            code, output = container.exec_run(command)
            status = output.decode("utf-8", "replace").strip() if code == 0 else f"curl exit {code}"
        except Exception as exc:
            status = f"failed: {exc}"
        with lock:
            out[name] = status

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(warm, jobs))
    return dict(sorted(out.items()))


def up(
    project_dir: str | None = None,
    files: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    *,
    build: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    compose_command: str | None = None,
    project_name: str | None = None,
    output: str | None = None,
    force: bool = False,
    progress: Progress = _quiet,
) -> UpResult:
    """Generate, build what kecs needs, start emulators, warm, start everything, wait."""
    started = time.monotonic()
    progress("planning: scanning the services")
    wanted = {**(overrides or {}), "project_name": project_name}
    generated = generate(project_dir, files, wanted, output=output, force=force)
    result = UpResult(generated, find_compose(compose_command))
    result.timings["generate"] = time.monotonic() - started
    client = _docker()
    try:
        mark = time.monotonic()
        result.images = _ensure_images(client, generated, progress)
        result.timings["images"] = time.monotonic() - mark
        name = generated.plan.project_name  # one name: Compose's, the cluster's, the logs'
        compose = Compose(
            result.compose, generated.project.directory, os.path.basename(generated.path), name,
            secrets=generated.plan.secret_variables,
        )  # fmt: skip
        emulator_names = [e.name for e in generated.plan.emulators if e.name is not None]
        kecs_services = [
            *emulator_names,
            *(n for item in generated.plan.captured for n in (item.netns, item.proxy)),
            *([contract.SEED_SERVICE] if generated.plan.seeder else []),
        ]
        if generated.plan.captured:
            _fill_ca_volume(client, compose, generated, progress)
        if kecs_services:
            # kecs's part first (Compose starts the proxies once the emulators are healthy);
            # meanwhile the emulators are warmed as soon as they are healthy. The apps start
            # after both.
            mark = time.monotonic()
            warmer = _Warmer(generated, compose, timeout, progress)
            if emulator_names:
                warmer.start()
            failure = _start_all(client, compose, False, timeout, progress, kecs_services, "kecs's services")
            warmer.join()
            result.warmed = warmer.warmed
            result.timings.update(warmer.timings)
            result.timings["proxies up"] = time.monotonic() - mark
            if failure is None and generated.plan.seeder:
                mark = time.monotonic()
                failure, values = _seed(client, compose, generated, progress, result.seeded)
                result.timings["seed"] = time.monotonic() - mark
                compose = replace(compose, environment={**os.environ, **values})
            if failure is not None:
                result.services = _ordered(collect(client, compose, kecs_services), [])
                result.failure = failure
                return result
        mark = time.monotonic()
        services = list(generated.project.raw.get("services") or {})
        everything = _rendered_services(generated)
        failure = _start_all(client, compose, build, timeout, progress, everything)
        if failure is None:
            _, failure = wait_ready(client, compose, everything, timeout, progress)
        result.timings["services ready"] = time.monotonic() - mark
        result.services = _ordered(collect(client, compose, everything, with_calls=True), services)
        result.failure = failure
        result.timings["total"] = time.monotonic() - started
        return result
    finally:
        client.close()


def _seed_archive(generated: Generated, update: list[str] | None) -> bytes:
    """seed.json (the seed, the secrets to resolve, what to bring back to its declaration:
    `update`, None for everything) and the local files it names, as a tar for the seeder's
    directory. seed.json may hold secret values: mode 0600."""
    plan = generated.plan
    assert plan.seed is not None
    paths = {path: f"{contract.SEED_DIR}/files/{i}" for i, path in enumerate(plan.seed.files())}
    document = {
        "seed": to_document(plan.seed, paths),
        "secrets": {s.name: [ref_to_json(r) for r in s.secrets] for s in plan.services if s.secrets},
        "update": update,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = json.dumps(document).encode()
        info = tarfile.TarInfo(f"{contract.SEED_DIR.lstrip('/')}/seed.json")
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
        for local, inside in paths.items():
            tar.add(local, arcname=inside.lstrip("/"), recursive=True, filter=_plain_member)
    return buffer.getvalue()


def _plain_member(member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """Only regular files and directories go to the seeder: a link in a seed directory
    (possibly to a file outside the project) or a device is left out."""
    return member if member.isfile() or member.isdir() else None


def _seeder(client: Any, compose: Compose) -> Any:
    for container in _containers(client, compose):
        if container.labels.get("com.docker.compose.service") == contract.SEED_SERVICE:
            return container
    raise KecsError(
        f"the {contract.SEED_SERVICE} container is not running; see `{compose.shown('logs', contract.SEED_SERVICE)}`"
    )


def _exec(
    client: Any, container: Any, command: list[str], on_line: Callable[[str], None] | None = None
) -> tuple[int, str, str]:
    """Run `command` in the container: (exit code, stdout, stderr); stdout lines go to
    `on_line` as they come."""
    exec_id = client.api.exec_create(container.id, command, stdout=True, stderr=True)["Id"]
    out, err, pending = [], [], ""
    for stdout, stderr in client.api.exec_start(exec_id, stream=True, demux=True):
        if stdout:
            text = stdout.decode("utf-8", "replace")
            out.append(text)
            if on_line is not None:
                pending += text
                *lines, pending = pending.split("\n")
                for line in lines:
                    on_line(line)
        if stderr:
            err.append(stderr.decode("utf-8", "replace"))
    if pending and on_line is not None:
        on_line(pending)
    return int(client.api.exec_inspect(exec_id).get("ExitCode") or 0), "".join(out), "".join(err)


def _seed(
    client: Any,
    compose: Compose,
    generated: Generated,
    progress: Progress,
    lines: list[str],
    reset: bool = False,
) -> tuple[Failure | None, dict[str, str]]:
    """Hand the seed to the seeder, apply it (a line per resource), then resolve the
    services' secrets: (a failure, the secrets' interpolation variables). What exists is
    left as the apps made it unless its declaration changed since it was last applied
    (kecs.seed.state) or `reset`."""
    plan = generated.plan
    assert plan.seed is not None
    directory = generated.project.directory
    current = seed_state.declarations(plan.seed)
    update = None if reset else seed_state.changed_since(current, seed_state.read_applied(directory))
    container = _seeder(client, compose)
    progress("seeding: handing the seed to kecs-seed")
    container.put_archive("/", _seed_archive(generated, update))
    shown = compose.shown("logs", contract.SEED_SERVICE)

    def line(text: str) -> None:
        if text.strip():
            lines.append(text.rstrip())
            progress(f"seed: {text.strip()}")

    code, _, err = _exec(client, container, ["kecs", "seed", "apply", contract.SEED_DIR], line)
    if code != 0:
        failed = [entry for entry in lines if entry.split()[-1:] == ["failed"] or " failed (" in entry]
        why = f"seeding failed: {failed[0].split(None, 2)[-1] if failed else _last_line(err)}"
        return Failure(contract.SEED_SERVICE, why, "", "\n".join([*lines, err])[-3000:], shown), {}
    seed_state.write_applied(directory, current)
    if not any(s.secrets for s in plan.services):
        return None, {}
    progress("resolving the services' secrets")
    code, out, err = _exec(client, container, ["kecs", "seed", "secrets", contract.SEED_DIR])
    try:
        answer = json.loads(out)
    except ValueError:
        return Failure(contract.SEED_SERVICE, "resolving secrets failed", "", err[-3000:], shown), {}
    unresolved = answer.get("unresolved") or []
    if unresolved:
        first = unresolved[0]
        why = (
            f"service {first['service']} does not start: secret {first['env']} (valueFrom {first['value_from']}): "
            f"{first['why']}"
        )
        rest = "\n".join(f"{u['service']}: {u['env']} ({u['value_from']}): {u['why']}" for u in unresolved)
        return Failure(first["service"], why, "", rest, shown), {}
    values = answer.get("values") or {}
    return None, {
        seed_secrets.variable(service, env): value
        for service, found in values.items()
        for env, value in found.items()
    }


def _rendered_services(generated: Generated) -> list[str]:
    """Every service of the generated file that `up` starts (profiles as Compose decides:
    services in a profile are left out unless COMPOSE_PROFILES names it)."""
    import yaml

    document = yaml.safe_load(generated.text) or {}
    active = {p for p in os.environ.get("COMPOSE_PROFILES", "").split(",") if p}
    names = []
    for name, service in (document.get("services") or {}).items():
        profiles = set((service or {}).get("profiles") or [])
        if not profiles or profiles & active:
            names.append(str(name))
    return names


def _ordered(states: Sequence[ServiceState], services: Sequence[str]) -> tuple[ServiceState, ...]:
    """The user's services in their order, then kecs's emulators and seeder; proxies and
    holders are shown through their app."""
    by_name = {s.name: s for s in states}
    out = [by_name[name] for name in services if name in by_name]
    out += [s for s in states if s.role in ("emulator", "seed", "telemetry") and s.name not in services]
    return tuple(out)


def _fill_ca_volume(client: Any, compose: Compose, generated: Generated, progress: Progress) -> None:
    """Copy the project's CA (intermediate and key, kept outside the project) into the
    volume only the proxies mount, created here as Compose would name and label it, before
    any proxy starts; a short-lived container of the proxy image writes into it."""
    import io
    import tarfile

    import docker.errors

    from kecs.tls import CaPaths, ensure_internal_token, key_directory

    assert compose.project_name is not None
    volume = f"{compose.project_name}_{contract.CA_VOLUME}"
    try:
        client.volumes.get(volume)
    except docker.errors.NotFound:
        labels = {
            "com.docker.compose.project": compose.project_name,
            "com.docker.compose.volume": contract.CA_VOLUME,
            contract.LABEL_ROLE: "ca",
        }
        client.volumes.create(name=volume, labels=labels)
    paths = CaPaths(
        os.path.join(generated.project.directory, ".kecs"), key_directory(generated.project.directory)
    )
    ensure_internal_token(paths)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for path, mode in (
            (paths.intermediate_cert, 0o644),
            (paths.intermediate_key, 0o600),
            (paths.issuing_root, 0o644),
            (paths.internal_token, 0o600),
        ):
            with open(path, "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo(os.path.basename(path))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    progress(f"putting the project's CA into the {volume} volume")
    # Running (a stopped container's volumes are not mounted for a copy into them).
    helper = client.containers.run(
        generated.plan.proxy_image, command=["sleep", "120"], volumes={volume: {"bind": "/ca", "mode": "rw"}},
        labels={contract.LABEL_ROLE: "ca-filler"}, network_disabled=True, detach=True, entrypoint=[],
    )  # fmt: skip
    try:
        if not helper.put_archive("/ca", archive.getvalue()):
            raise KecsError(f"could not copy the CA into the {volume} volume")
    finally:
        helper.remove(force=True)


class _Warmer(threading.Thread):
    """Waits for the emulators to be healthy, then warms them (its own docker client)."""

    def __init__(self, generated: Generated, compose: Compose, timeout: float, progress: Progress) -> None:
        super().__init__(daemon=True)
        self.generated, self.compose, self.timeout, self.progress = generated, compose, timeout, progress
        self.warmed: dict[str, str] = {}
        self.timings: dict[str, float] = {}

    def run(self) -> None:
        started = time.monotonic()
        names = [e.name for e in self.generated.plan.emulators if e.name is not None]
        client = _docker()
        try:
            try:
                _, failure = wait_ready(client, self.compose, names, self.timeout, _quiet)
            except KecsError:
                return
            if failure is not None:
                return  # the start itself reports it
            self.timings["emulators healthy"] = time.monotonic() - started
            mark = time.monotonic()
            self.warmed = _warm(client, self.compose, self.generated, self.progress)
            self.timings["warm"] = time.monotonic() - mark
        finally:
            client.close()


def _start_all(
    client: Any,
    compose: Compose,
    build: bool,
    timeout: float,
    progress: Progress,
    services: Sequence[str],
    what: str = "",
) -> Failure | None:
    """`compose up -d` (of `what` alone when given), with live progress from the
    containers' state while it runs."""
    outcome: dict[str, subprocess.CompletedProcess[str]] = {}
    args = ["up", "-d", *(["--build"] if build else []), *(services if what else [])]

    def run() -> None:
        outcome["up"] = compose.run(*args, timeout=timeout)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    started = time.monotonic()
    last = ""
    while worker.is_alive():
        worker.join(1.0)
        try:
            states = [s for s in collect(client, compose, services) if s.name in services]
        except KecsError:
            continue
        waiting = [s for s in states if not s.ready]
        message = (
            f"starting {what or 'everything'} ({time.monotonic() - started:.0f} s): "
            f"{len(states) - len(waiting)}/{len(services)} ready"
        )
        if waiting:
            message += "; waiting for " + ", ".join(f"{s.name} ({s.health or s.state})" for s in waiting[:5])
        if message != last:
            progress(message)
            last = message
    done = outcome.get("up")
    if done is None or done.returncode == 0:
        return _rejoin(client, compose, timeout, progress)
    for state in collect(client, compose, services):
        if state.name in services and state.failed:
            return _failure(client, compose, state, state.failed)
    return Failure(
        "compose", f"`{compose.shown(*args)}` failed", "", done.stderr[-3000:], compose.shown("logs")
    )


def stale_joiners(client: Any, compose: Compose) -> list[str]:
    """Services whose container joined a namespace holder (`network_mode: service:X`) that
    has since been replaced: Compose 1.29 recreates the holder on a change but can leave
    its joiners in the old, now interface-less namespace."""
    containers = _containers(client, compose)
    current = {c.id for c in containers if c.status == "running"}
    stale = []
    for container in containers:
        mode = str(container.attrs.get("HostConfig", {}).get("NetworkMode", ""))
        if mode.startswith("container:") and mode.split(":", 1)[1] not in current:
            stale.append(container.labels.get("com.docker.compose.service", container.name))
    return sorted(set(stale))


def _rejoin(client: Any, compose: Compose, timeout: float, progress: Progress) -> Failure | None:
    stale = stale_joiners(client, compose)
    if not stale:
        return None
    progress(f"recreating {', '.join(stale)}: their network namespace holder was replaced")
    done = compose.run("up", "-d", "--no-deps", "--force-recreate", *stale, timeout=timeout)
    if done.returncode != 0:
        return Failure(
            stale[0], "recreating it in its new network namespace failed", "", done.stderr[-3000:],
            compose.shown("logs", stale[0]),
        )  # fmt: skip
    return None


def _generated_compose(
    project_dir: str | None, output: str | None, compose_command: str | None, project_name: str | None
) -> tuple[Compose, dict[str, Any]]:
    """Compose for a generated file, and that file's document (read once)."""
    directory = os.path.abspath(project_dir or ".")
    path = os.path.abspath(output) if output else os.path.join(directory, OUTPUT_NAME)
    if not os.path.isfile(path):
        raise KecsError(f"{path}: no generated compose file here; run `kecs up` first")
    import yaml

    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    marker = document.get(GENERATED_MARKER) or {}
    recorded = marker.get("project") if isinstance(marker.get("project"), str) else None
    name = project_name or recorded or compose_project_name(os.path.dirname(path), None, document)
    secrets = [str(v) for v in marker.get("secrets") or []]
    compose = Compose(
        find_compose(compose_command), os.path.dirname(path), os.path.basename(path), name, secrets=secrets
    )
    return compose, document


def reset_seed(
    project_dir: str | None = None,
    *,
    output: str | None = None,
    compose_command: str | None = None,
    project_name: str | None = None,
    on_line: Callable[[str], None] = _quiet,
) -> int:
    """`kecs seed --reset`: the running project's seeder applies its seed to every resource
    (what the apps changed is undone); the number of resources that failed."""
    compose, _ = _generated_compose(project_dir, output, compose_command, project_name)
    client = _docker()
    try:
        container = _seeder(client, compose)
        lines: list[str] = []

        def line(text: str) -> None:
            if text.strip():
                lines.append(text)
                on_line(text.rstrip())

        code, _, err = _exec(client, container, ["kecs", "seed", "apply", contract.SEED_DIR, "--all"], line)
        if code != 0 and not lines:
            raise KecsError(f"the seeder could not apply the seed: {_last_line(err)}")
        return sum(1 for entry in lines if " failed" in entry)
    finally:
        client.close()


def status(
    project_dir: str | None = None,
    *,
    output: str | None = None,
    compose_command: str | None = None,
    project_name: str | None = None,
) -> tuple[ServiceState, ...]:
    """The table `kecs up` ends with, for a running project."""
    compose, document = _generated_compose(project_dir, output, compose_command, project_name)
    client = _docker()
    try:
        generated_from = document.get("services") or {}
        states = collect(client, compose, list(generated_from), with_calls=True)
        users = [
            name
            for name, service in generated_from.items()
            if not ((service or {}).get("labels") or {}).get(contract.LABEL_ROLE)
        ]
        return _ordered(states, users)
    finally:
        client.close()


def down(
    project_dir: str | None = None,
    *,
    volumes: bool = False,
    output: str | None = None,
    compose_command: str | None = None,
    project_name: str | None = None,
    timeout: float = 300,
) -> str:
    """Stop and remove what `up` started: containers and networks (volumes with `volumes`)."""
    compose, _ = _generated_compose(project_dir, output, compose_command, project_name)
    args = ["down", *(["-v"] if volumes else [])]
    done = compose.run(*args, timeout=timeout)
    if done.returncode != 0:
        raise KecsError(f"`{compose.shown(*args)}` failed: {_last_line(done.stderr)}")
    return compose.shown(*args)
