"""`kecs logs forward`: deliver containers' output to the emulator's CloudWatch Logs.

Runs in the `kecs-telemetry` container, in a captured service's network namespace (its
CloudWatch calls reach the emulator `logs` is routed to, like any app's). It reads the
project's containers' output through the Docker API: the daemon's socket is mounted into
this container alone, and only three read-only calls are made with it (list the
project's containers, inspect this container to learn the project, read logs). That
socket grants the whole API: it is kecs's own code that keeps to those calls.

Per service, a reader thread follows the container's log (`since` the last delivered
line, across container restarts and re-creations) into a bounded queue, and a shipper
thread turns it into PutLogEvents batches. Positions are saved after every delivered
batch in a volume, so a restarted forwarder resumes where it was; a batch the emulator
refuses because the group or stream is gone (an emulator restart) re-creates them and
delivers the stream again from its first line. A slow emulator fills the queue, which
stops the reader: Docker keeps the lines meanwhile.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import queue
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kecs import contract, internal
from kecs.logs.events import (
    Assembler,
    Event,
    Line,
    Position,
    batches,
    not_delivered,
    parse_line,
    records,
    run_of,
    tty_frames,
)
from kecs.logs.metrics import datapoints
from kecs.logs.target import LogTarget

DOCKER_SOCKET = "/var/run/docker.sock"


def _client_config() -> Any:
    """The forwarder's clients name themselves (the proxy then records them as kecs's)."""
    from botocore.config import Config

    return Config(user_agent_extra=f"{contract.USER_AGENT_MARK}/telemetry")


STATE_FILE = "positions.json"
RUNS_FILE = "runs.json"
MAX_RUNS = 200  # container runs remembered per stream (each its own CloudWatch stream)
FLUSH_EVERY = 1.0  # seconds a partial batch or multi-line event waits
CHECK_EVERY = 10.0  # seconds between checks that a quiet stream still exists
# What is buffered per service before its reader pauses (Docker keeps the rest): lines,
# and bytes (lines reach 256 KiB: 2,000 of them held 587 MB).
QUEUE_LINES = 2_000
QUEUE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    service: str
    target: LogTarget
    task_id: str

    @property
    def key(self) -> str:
        return f"{self.target.group}|{self.target.stream_name(self.service, self.task_id)}"


def sources_from_json(text: str) -> list[Source]:
    """KECS_LOGS: {service: {group, region, stream_prefix, stream, multiline, task_id}}."""
    out = []
    for service, spec in json.loads(text).items():
        target = LogTarget(
            spec["group"], spec["region"], spec.get("stream_prefix", ""), True, spec.get("stream", ""),
            spec.get("multiline", ""),
        )  # fmt: skip
        out.append(Source(service, target, spec["task_id"]))
    return out


def sources_to_json(sources: list[Source]) -> str:
    return json.dumps(
        {s.service: {"group": s.target.group, "region": s.target.region, "stream_prefix": s.target.stream_prefix,
                     "stream": s.target.stream, "multiline": s.target.multiline, "task_id": s.task_id}
         for s in sources},
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Docker:
    """The three read-only calls the forwarder makes."""

    def __init__(self, path: str = DOCKER_SOCKET) -> None:
        self.path = path

    def _get(self, target: str, timeout: float | None = 60) -> Any:
        connection = _UnixConnection(self.path, timeout)
        connection.request("GET", target)
        response = connection.getresponse()
        if response.status != 200:
            raise OSError(f"docker GET {target}: {response.status} {response.read()[:200]!r}")
        return response, connection

    def json(self, target: str) -> Any:
        response, connection = self._get(target)
        try:
            return json.loads(response.read())
        finally:
            connection.close()

    def project(self) -> str:
        me = self.json(f"/containers/{socket.gethostname()}/json")
        return str(me["Config"]["Labels"]["com.docker.compose.project"])

    def containers(self, project: str) -> list[dict[str, Any]]:
        filters = json.dumps({"label": [f"com.docker.compose.project={project}"]})
        found: list[dict[str, Any]] = self.json(
            f"/containers/json?all=1&filters={urllib.parse.quote(filters)}"
        )
        return found

    def follow(self, container: str, since_ns: int, tty: bool, follow: bool = True) -> Iterator[str]:
        """The container's lines with their timestamps, from `since_ns`: for as long as it
        runs (`follow`), or what there is now."""
        since = f"{since_ns // 1_000_000_000}.{since_ns % 1_000_000_000:09d}"
        query = f"follow={int(follow)}&stdout=1&stderr=1&timestamps=1&since={since}"
        response, connection = self._get(f"/containers/{container}/logs?{query}", timeout=None)
        try:
            frames = _frames(response, tty)
            yield from records(tty_frames(frames) if tty else frames)
        finally:
            connection.close()


def _frames(response: http.client.HTTPResponse, tty: bool) -> Iterator[bytes]:
    """Docker's multiplexed stream (8-byte headers: stream, 0, 0, 0, size), one log record
    per frame, or, for a TTY, the raw bytes."""
    if tty:
        while chunk := response.read1(65536):
            yield chunk
        return
    while True:
        header = response.read(8)
        if len(header) < 8:
            return
        (size,) = struct.unpack(">I", header[4:])
        data = response.read(size)
        if len(data) < size:
            return
        yield data


def _load_json(path: str) -> Any:
    """A state file's JSON, or None when it is missing or unreadable (start afresh)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _save_json(path: str, data: Any) -> None:
    """Replace a state file whole (a reader never sees half of it)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(temporary, path)


class Positions:
    """Delivered positions per stream, saved in a file (a volume) after each batch."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, STATE_FILE)
        self.lock = threading.Lock()
        try:
            raw = _load_json(self.path) or {}
            self.known = {k: Position(int(v[0]), int(v[1])) for k, v in raw.items()}
        except (AttributeError, ValueError, TypeError, IndexError):
            self.known = {}

    def get(self, key: str) -> Position:
        with self.lock:
            return self.known.get(key, Position())

    def set(self, key: str, position: Position) -> None:
        with self.lock:
            self.known[key] = position
            _save_json(self.path, {k: [p.timestamp_ns, p.count] for k, p in self.known.items()})


class Runs:
    """Each source's container runs, as ECS has tasks: (start in ns, task id), oldest
    first, saved in a file (a volume). A run is a start of the service's container; each
    gets its own log stream, as a task restarted by ECS does. The first run ever has the
    task id the task metadata endpoint gives; later ones a new id each."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, RUNS_FILE)
        self.lock = threading.Lock()
        try:
            raw = _load_json(self.path) or {}
            self.known = {str(k): [(int(a), str(b)) for a, b in v] for k, v in raw.items()}
        except (AttributeError, ValueError, TypeError):
            self.known = {}

    def get(self, key: str, first: str) -> list[tuple[int, str]]:
        with self.lock:
            return list(self.known.get(key) or [(0, first)])

    def add(self, key: str, started_ns: int, first: str) -> str:
        """The task id of the run that started at `started_ns` (noted if new)."""
        with self.lock:
            runs = self.known.setdefault(key, [])
            for started, task_id in runs:
                if started == started_ns:
                    return task_id
            task_id = first if not runs else task_id_for(first, started_ns)
            runs.append((started_ns, task_id))
            runs.sort()
            del runs[:-MAX_RUNS]
            _save_json(self.path, self.known)
            return task_id


def task_id_for(first: str, started_ns: int) -> str:
    """A later run's task id: 32 hex digits, as ECS's, from the first run's and the start."""
    import hashlib

    return hashlib.sha256(f"{first}/{started_ns}".encode()).hexdigest()[:32]


def started_ns(detail: dict[str, Any]) -> int:
    """A container's State.StartedAt (RFC 3339 with nanoseconds) in nanoseconds."""
    line = parse_line(f"{detail['State']['StartedAt']} x")
    return line.timestamp_ns if line is not None else 0


class LineQueue:
    """A queue of lines bounded by count and by bytes: `put` waits while either is full
    (one line is always let in, so no line can block its stream for ever)."""

    def __init__(self, lines: int, size: int) -> None:
        self.items: queue.Queue[Line] = queue.Queue(lines)
        self.bytes = 0
        self.size = size
        self.room = threading.Condition()

    def put(self, line: Line) -> None:
        cost = len(line.text)
        with self.room:
            self.room.wait_for(lambda: self.bytes == 0 or self.bytes + cost <= self.size)
            self.bytes += cost
        self.items.put(line)

    def get(self, timeout: float) -> Line:
        line = self.items.get(timeout=timeout)
        with self.room:
            self.bytes -= len(line.text)
            self.room.notify_all()
        return line


class Stream:
    """One service's log stream: a reader thread queues the container's lines (a bounded
    queue: a slow emulator pauses the reader), a shipper thread makes events of them
    (a multi-line event is sent after FLUSH_EVERY of silence) and delivers them."""

    def __init__(
        self, source: Source, docker: Docker, positions: Positions, client: Any, runs: Runs | None = None
    ) -> None:
        self.source, self.docker, self.positions, self.client = source, docker, positions, client
        self.runs = runs or Runs(os.path.dirname(positions.path))
        self.lines = LineQueue(QUEUE_LINES, QUEUE_BYTES)
        self.container: tuple[str, bool] | None = None  # the running container: id, tty
        self.last: tuple[str, bool] | None = None  # the latest container, running or not
        self.delivered = 0

    def start(self) -> None:
        threading.Thread(target=self._read_forever, daemon=True).start()
        threading.Thread(target=self._ship_forever, daemon=True).start()

    def _read_forever(self) -> None:
        read = self.positions.get(self.source.key)  # the last line queued
        while True:
            current = self.container
            if current is None:
                time.sleep(0.5)
                continue
            try:
                detail = self.docker.json(f"/containers/{current[0]}/json")
                task_id = self.runs.add(self.source.key, started_ns(detail), self.source.task_id)
                print(
                    f"{self.source.service}: following container {current[0][:12]} (task {task_id})",
                    flush=True,
                )
                for line in not_delivered(self._lines(current, read.timestamp_ns, follow=True), read):
                    self.lines.put(line)
                    read = read.advance(line.timestamp_ns)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                print(f"{self.source.service}: reading the log failed: {exc}", file=sys.stderr, flush=True)
            time.sleep(0.5)  # it stopped or was replaced: follow whichever runs next

    def _lines(self, container: tuple[str, bool], since_ns: int, follow: bool) -> Iterator[Line]:
        for raw in self.docker.follow(container[0], since_ns, container[1], follow):
            line = parse_line(raw)
            if line is not None:
                yield line

    def _ship_forever(self) -> None:
        assembler = Assembler(self.source.target.multiline, self.positions.get(self.source.key))
        pending: list[Event] = []
        since = 0.0  # when the oldest pending event came
        checked = time.monotonic()
        while True:
            wait = FLUSH_EVERY if not pending else max(since + FLUSH_EVERY - time.monotonic(), 0.0)
            try:
                events = assembler.feed(self.lines.get(timeout=wait))
                if events and not pending:
                    since = time.monotonic()
                pending += events
                # A steady trickle still goes out within FLUSH_EVERY, a burst in batches.
                if len(pending) < 1000 and (not pending or time.monotonic() - since < FLUSH_EVERY):
                    continue
            except queue.Empty:
                pending += assembler.flush()
            if pending:
                self._ship(pending)
                pending = []
            elif time.monotonic() - checked > CHECK_EVERY:
                checked = time.monotonic()
                try:
                    self._check_present()
                except Exception as exc:  # an emulator still starting: next round
                    print(
                        f"{self.source.service}: checking the log stream failed: {exc}",
                        file=sys.stderr,
                        flush=True,
                    )

    def _stream_of(self, timestamp_ns: int) -> str:
        """The log stream of the container run a line with this timestamp belongs to."""
        runs = self.runs.get(self.source.key, self.source.task_id)
        return self.source.target.stream_name(self.source.service, run_of(runs, timestamp_ns))

    def _check_present(self) -> None:
        """A quiet service's stream is checked too: an emulator that restarted lost it, and
        nothing new would bring it back."""
        delivered = self.positions.get(self.source.key)
        if delivered == Position():
            return
        target = self.source.target
        stream = self._stream_of(delivered.timestamp_ns)
        try:
            found = self.client.describe_log_streams(logGroupName=target.group, logStreamNamePrefix=stream)
            if any(s.get("logStreamName") == stream for s in found.get("logStreams", [])):
                return
        except Exception as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
        self._create(target.group, stream)
        self._redeliver(delivered)

    def _by_stream(self, events: list[Event]) -> list[tuple[str, list[Event]]]:
        """Events in order, cut where the container run they belong to (their stream)
        changes; the runs are read once for all of them."""
        runs = self.runs.get(self.source.key, self.source.task_id)
        target, service = self.source.target, self.source.service
        out: list[tuple[str, list[Event]]] = []
        for event in events:
            stream = target.stream_name(service, run_of(runs, event.position.timestamp_ns))
            if out and out[-1][0] == stream:
                out[-1][1].append(event)
            else:
                out.append((stream, [event]))
        return out

    def _ship(self, events: list[Event]) -> None:
        """Deliver events in order, each run's to its own stream."""
        for stream, run in self._by_stream(events):
            self._ship_to(stream, run)

    def _ship_to(self, stream: str, events: list[Event]) -> None:
        target = self.source.target
        for batch in batches(events):
            delay = 0.5
            while True:
                try:
                    self.client.put_log_events(
                        logGroupName=target.group, logStreamName=stream,
                        logEvents=[{"timestamp": e.timestamp_ms, "message": e.message} for e in batch],
                    )  # fmt: skip
                    break
                except Exception as exc:
                    if _code(exc) != "ResourceNotFoundException":
                        print(
                            f"{self.source.service}: PutLogEvents failed ({exc}); retrying",
                            file=sys.stderr,
                            flush=True,
                        )
                        time.sleep(delay)
                        delay = min(delay * 2, 10.0)
                        continue
                    if self._create(target.group, stream):
                        # The emulator lost the group (it restarted): what it had goes again first.
                        self._redeliver(self.positions.get(self.source.key))
            self.positions.set(self.source.key, batch[-1].position)
            self.delivered += len(batch)
            print(
                f"{self.source.service}: {self.delivered} events delivered to {target.group} {stream}",
                flush=True,
            )

    def _redeliver(self, upto: Position) -> None:
        """Everything delivered before (up to `upto`), again, each run's to its stream."""
        if upto == Position() or self.last is None:
            return
        assembler = Assembler(self.source.target.multiline)
        earlier: list[Event] = []
        position = Position()
        for line in self._lines(self.last, 0, follow=False):
            position = position.advance(line.timestamp_ns)
            if position > upto:
                break
            earlier += assembler.feed(line)
        earlier += assembler.flush()
        print(
            f"{self.source.service}: the log group was gone; delivering {len(earlier)} events again",
            flush=True,
        )
        target = self.source.target
        made: set[str] = set()
        for stream, run in self._by_stream(earlier):
            if stream not in made:
                self._create(target.group, stream)
                made.add(stream)
            for batch in batches(run):
                self.client.put_log_events(
                    logGroupName=target.group, logStreamName=stream,
                    logEvents=[{"timestamp": e.timestamp_ms, "message": e.message} for e in batch],
                )  # fmt: skip

    def _create(self, group: str, stream: str) -> bool:
        """Create the group (if missing) and the stream; whether the group was missing."""
        made_group = False
        for call, args in ((self.client.create_log_group, {"logGroupName": group}),
                           (self.client.create_log_stream, {"logGroupName": group, "logStreamName": stream})):  # fmt: skip
            try:
                call(**args)
                made_group = made_group or call == self.client.create_log_group
            except Exception as exc:
                if "AlreadyExists" not in _code(exc):
                    raise
        return made_group


def _code(exc: Exception) -> str:
    return str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class MetricsConfig:
    """KECS_METRICS: which services' metrics go to CloudWatch, every how many seconds."""

    services: tuple[str, ...]
    region: str = "us-east-1"
    period: float = 60.0

    @classmethod
    def from_json(cls, text: str) -> MetricsConfig:
        data = json.loads(text)
        return cls(
            tuple(data["services"]), str(data.get("region", "us-east-1")), float(data.get("period", 60))
        )

    def to_json(self) -> str:
        return json.dumps({"services": list(self.services), "region": self.region, "period": self.period},
                          sort_keys=True, separators=(",", ":"))  # fmt: skip


def publish_metrics(config: MetricsConfig, docker: Docker, project: str, client: Any) -> None:
    """Every period, each running service's CPU, memory, network and restarts (ECS's names,
    ClusterName = the Compose project) to the emulator's CloudWatch."""
    previous: dict[str, dict[str, Any]] = {}
    while True:
        started = time.monotonic()
        try:
            by_namespace: dict[str, list[dict[str, Any]]] = {}
            for container in docker.containers(project):
                service = container.get("Labels", {}).get("com.docker.compose.service")
                if service not in config.services or container.get("State") != "running":
                    continue
                stats = docker.json(f"/containers/{container['Id']}/stats?stream=false")
                before = previous.get(container["Id"]) or {
                    "read": stats.get("preread"), "cpu_stats": stats.get("precpu_stats") or {},
                    "networks": stats.get("networks") or {},
                }  # fmt: skip
                previous[container["Id"]] = stats
                restarts = int(docker.json(f"/containers/{container['Id']}/json").get("RestartCount") or 0)
                now = datetime.datetime.now(datetime.timezone.utc)
                for namespace, entry in datapoints(project, service, before, stats, restarts, now):
                    by_namespace.setdefault(namespace, []).append(entry)
            for namespace, entries in by_namespace.items():
                for start in range(0, len(entries), 1000):
                    client.put_metric_data(Namespace=namespace, MetricData=entries[start : start + 1000])
        except Exception as exc:  # the emulator restarting, a container going away: next period
            print(f"publishing metrics failed: {exc}", file=sys.stderr, flush=True)
        time.sleep(max(config.period - (time.monotonic() - started), 1.0))


def forward(
    sources: list[Source],
    state_dir: str,
    docker: Docker | None = None,
    client: Any = None,
    metrics: MetricsConfig | None = None,
) -> None:
    """Follow every source's container for ever (and publish metrics, when asked)."""
    import boto3

    docker = docker or Docker()
    project = docker.project()
    os.makedirs(state_dir, exist_ok=True)
    positions = Positions(state_dir)
    runs = Runs(state_dir)
    streams = {}
    clients: dict[str, Any] = {}  # one per region: a client is thread-safe, and costs megabytes
    for source in sources:
        region = source.target.region
        if region not in clients:
            clients[region] = client or internal.mark(
                boto3.session.Session(region_name=region).client("logs", config=_client_config())
            )
        streams[source.service] = Stream(source, docker, positions, clients[region], runs)
        streams[source.service].start()
    if metrics is not None and metrics.services:
        cloudwatch = internal.mark(
            boto3.session.Session(region_name=metrics.region).client("cloudwatch", config=_client_config())
        )
        threading.Thread(
            target=publish_metrics, args=(metrics, docker, project, cloudwatch), daemon=True
        ).start()
        print(
            f"publishing the metrics of {', '.join(metrics.services)} every {metrics.period:.0f} s",
            flush=True,
        )
    print(
        f"forwarding the logs of {', '.join(sorted(streams)) or 'no service'} (project {project})", flush=True
    )
    while True:
        running: set[str] = set()
        try:
            for container in docker.containers(project):
                service = container.get("Labels", {}).get("com.docker.compose.service")
                stream = streams.get(service)
                if stream is None:
                    continue
                if container.get("State") != "running":
                    continue
                running.add(service)
                current = stream.container
                if current is None or current[0] != container["Id"]:
                    detail = docker.json(f"/containers/{container['Id']}/json")
                    stream.container = stream.last = (container["Id"], bool(detail["Config"].get("Tty")))
            for service, stream in streams.items():
                if service not in running:
                    stream.container = None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            print(f"listing the project's containers failed: {exc}", file=sys.stderr, flush=True)
        time.sleep(1.0)


def run() -> int:
    """`kecs logs forward`: the sources from KECS_LOGS, positions in the state volume."""
    from kecs import contract

    logs, metrics = os.environ.get(contract.ENV_LOGS), os.environ.get(contract.ENV_METRICS)
    if not logs and not metrics:
        print(f"kecs logs: neither {contract.ENV_LOGS} nor {contract.ENV_METRICS} is set (the generated file sets them)",
              file=sys.stderr)  # fmt: skip
        return 2
    forward(
        sources_from_json(logs or "{}"), contract.LOGS_STATE_DIR, Docker(contract.DOCKER_SOCKET),
        metrics=MetricsConfig.from_json(metrics) if metrics else None,
    )  # fmt: skip
    return 0
