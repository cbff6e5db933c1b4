from __future__ import annotations

import pytest

from kecs.errors import KecsError
from kecs.logs.events import (
    EVENT_OVERHEAD,
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    Assembler,
    Event,
    Line,
    Position,
    batches,
    not_delivered,
    parse_line,
)  # fmt: skip
from kecs.logs.target import LogTarget, datetime_pattern, from_service


def where(*path: str) -> str:
    return "compose.yaml:" + ".".join(path)


def target(service: dict, default: object = None) -> LogTarget | None:  # type: ignore[type-arg]
    return from_service(service, "api", "shop", "us-east-1", default, where)


def test_awslogs_options_map_as_ecs_reads_them() -> None:
    found = target({"logging": {"driver": "awslogs", "options": {
        "awslogs-group": "/ecs/api", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web",
        "awslogs-create-group": "true", "awslogs-datetime-format": "%Y-%m-%d %H:%M:%S"}}})  # fmt: skip
    assert found == LogTarget(
        "/ecs/api", "eu-west-1", "web", True, "", r"^\d{4}\-\d{2}\-\d{2}\ \d{2}:\d{2}:\d{2}"
    )
    assert found.stream_name("api", "0123abcd") == "web/api/0123abcd"
    assert LogTarget("/g", "r").stream_name("api", "0123abcd") == "0123abcd"
    assert target({"x-kecs": {"logs": True}}) == LogTarget("/kecs/shop/api", "us-east-1", "kecs")
    assert target({}, default={"group": "/all"}) == LogTarget("/all", "us-east-1", "kecs")
    assert target({}) is None and target({"logging": {"driver": "json-file"}}) is None
    assert target({"x-kecs": {"logs": False}}, default=True) is None


@pytest.mark.parametrize(
    ("service", "message"),
    [
        (
            {"logging": {"driver": "awslogs", "options": {}}},
            "compose.yaml:logging.options: awslogs needs awslogs-group",
        ),
        (
            {"logging": {"driver": "awslogs", "options": {"awslogs-group": "g", "awslogs-nope": 1}}},
            "unknown awslogs option 'awslogs-nope'",
        ),
        (
            {
                "logging": {
                    "driver": "awslogs",
                    "options": {"awslogs-group": "g", "awslogs-create-group": "yes"},
                }
            },
            "true or false",
        ),
        (
            {
                "logging": {
                    "driver": "awslogs",
                    "options": {"awslogs-group": "g", "awslogs-multiline-pattern": "("},
                }
            },
            "does not compile",
        ),
        ({"x-kecs": {"logs": "yes"}}, "x-kecs.logs is true, false"),
        ({"x-kecs": {"logs": {"group": "bad group"}}}, "not a log group name"),
    ],
)
def test_bad_logging_settings_are_one_line(service: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(KecsError, match=message):
        target(service)


def test_datetime_format_matches_the_first_line_only() -> None:
    import re

    pattern = re.compile(datetime_pattern("[%b %d, %Y %H:%M:%S]"))
    assert pattern.search("[May 01, 2017 19:00:01] A message was logged")
    assert not pattern.search("  with a second line")


def test_lines_parse_with_nanoseconds() -> None:
    line = parse_line("2026-11-26T10:00:00.123456789Z hello world\n")
    assert line == Line(1795687200_123456789, "hello world")
    assert parse_line("2026-11-26T10:00:00Z x") == Line(1795687200_000000000, "x")
    assert parse_line("garbage line") is None


def test_resume_skips_exactly_what_was_delivered() -> None:
    lines = [Line(1, "a"), Line(2, "b"), Line(2, "c"), Line(2, "d"), Line(3, "e")]
    assert [ln.text for ln in not_delivered(lines, Position(2, 2))] == ["d", "e"]
    assembler = Assembler()
    delivered = [e for line in lines[:3] for e in assembler.feed(line)]
    assert delivered[-1].position == Position(2, 2)
    assert [ln.text for ln in not_delivered(lines, delivered[-1].position)] == ["d", "e"]
    assert [ln.text for ln in not_delivered(lines, Position())] == ["a", "b", "c", "d", "e"]


def test_multiline_events_and_long_lines() -> None:
    assembler = Assembler(pattern=r"^\d{4}-")
    out = []
    for i, text in enumerate(["2026-01-01 first", "  at frame 1", "  at frame 2", "2026-01-01 second"]):
        out += assembler.feed(Line(i * 1_000_000, text))
    assert [e.message for e in out] == ["2026-01-01 first\n  at frame 1\n  at frame 2"]
    assert out[0].position == Position(2_000_000, 1)
    assert [e.message for e in assembler.flush()] == ["2026-01-01 second"]
    long = Assembler().feed(Line(5, "é" * MAX_EVENT_BYTES + "x"))
    assert len(long) == 3 and all(len(e.message.encode()) <= MAX_EVENT_BYTES for e in long)
    assert "".join(e.message for e in long) == "é" * MAX_EVENT_BYTES + "x"


def test_batches_respect_every_put_log_events_limit() -> None:
    many = [Event(i, "x", Position(i, 1)) for i in range(25_000)]
    assert [len(b) for b in batches(many)] == [10_000, 10_000, 5_000]
    big = [Event(i, "y" * 100_000, Position(i, 1)) for i in range(30)]
    sized = list(batches(big))
    assert all(sum(len(e.message) + EVENT_OVERHEAD for e in b) <= MAX_BATCH_BYTES for b in sized)
    assert sum(len(b) for b in sized) == 30 and len(sized) == 3
    day = 24 * 3600 * 1000
    spread = [Event(0, "a", Position()), Event(day, "b", Position()), Event(day + 1, "c", Position())]
    assert [[e.message for e in b] for b in batches(spread)] == [["a", "b"], ["c"]]
    ordered = [e for b in batches(many) for e in b]
    assert ordered == many


class _Gone(Exception):
    def __init__(self) -> None:
        super().__init__("gone")
        self.response = {"Error": {"Code": "ResourceNotFoundException"}}


class _Exists(Exception):
    def __init__(self) -> None:
        super().__init__("exists")
        self.response = {"Error": {"Code": "ResourceAlreadyExistsException"}}


class _FakeLogs:
    """CloudWatch Logs as the forwarder sees it: it can lose everything (a restart)."""

    def __init__(self) -> None:
        self.streams: dict[tuple[str, str], list[str]] = {}
        self.groups: set[str] = set()

    def create_log_group(self, logGroupName: str) -> None:
        if logGroupName in self.groups:
            raise _Exists()
        self.groups.add(logGroupName)

    def create_log_stream(self, logGroupName: str, logStreamName: str) -> None:
        if (logGroupName, logStreamName) in self.streams:
            raise _Exists()
        self.streams[logGroupName, logStreamName] = []

    def describe_log_streams(self, logGroupName: str, logStreamNamePrefix: str) -> dict:  # type: ignore[type-arg]
        if logGroupName not in self.groups:
            raise _Gone()
        names = [s for g, s in self.streams if g == logGroupName and s.startswith(logStreamNamePrefix)]
        return {"logStreams": [{"logStreamName": n} for n in names]}

    def put_log_events(self, logGroupName: str, logStreamName: str, logEvents: list[dict]) -> None:  # type: ignore[type-arg]
        if logGroupName not in self.groups or (logGroupName, logStreamName) not in self.streams:
            raise _Gone()
        stamps = [e["timestamp"] for e in logEvents]
        assert stamps == sorted(stamps) and len(logEvents) <= 10_000
        self.streams[logGroupName, logStreamName] += [e["message"] for e in logEvents]


class _FakeDocker:
    def __init__(self, raw: list[str]) -> None:
        self.raw = raw

    def follow(self, container: str, since_ns: int, tty: bool, follow: bool = True):  # type: ignore[no-untyped-def]
        for line in self.raw:
            parsed = parse_line(line)
            if parsed is not None and parsed.timestamp_ns >= since_ns:
                yield line


def _stream(tmp_path, docker, client):  # type: ignore[no-untyped-def]
    from kecs.logs.forwarder import Positions, Source, Stream

    source = Source("api", LogTarget("/g", "us-east-1", "p"), "t1")
    stream = Stream(source, docker, Positions(str(tmp_path)), client)
    stream.last = ("c1", False)
    return stream


def _raw(n: int, start: int = 0) -> list[str]:
    return [
        f"2026-11-26T10:00:{(start + i) // 1000:02d}.{(start + i) % 1000:03d}000000Z line {start + i}"
        for i in range(n)
    ]


def test_shipping_resumes_and_redelivers_what_a_restarted_emulator_lost(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kecs.logs.forwarder import Positions

    client, docker = _FakeLogs(), _FakeDocker(_raw(30))
    stream = _stream(tmp_path, docker, client)
    assembler = Assembler()
    events = [e for line in docker.follow("c1", 0, False) for e in assembler.feed(parse_line(line))]  # type: ignore[arg-type]
    stream._ship(events[:20])
    assert client.streams["/g", "p/api/t1"] == [f"line {i}" for i in range(20)]
    saved = Positions(str(tmp_path)).get(stream.source.key)
    assert saved == events[19].position
    # A restarted forwarder reads only what was not delivered.
    assert [ln.text for ln in not_delivered([parse_line(r) for r in docker.raw], saved)] == [
        f"line {i}" for i in range(20, 30)
    ]  # type: ignore[misc]
    client.groups.clear()
    client.streams.clear()  # the emulator restarted with nothing
    stream._check_present()  # a quiet stream is noticed too
    assert client.streams["/g", "p/api/t1"] == [f"line {i}" for i in range(20)]
    stream._check_present()
    assert len(client.streams["/g", "p/api/t1"]) == 20  # present: nothing sent twice
    client.groups.clear()
    client.streams.clear()
    stream._ship(events[20:])
    assert client.streams["/g", "p/api/t1"] == [f"line {i}" for i in range(30)]


def test_a_slow_emulator_is_retried_without_losing_order(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import kecs.logs.forwarder as forwarder

    monkeypatch.setattr(forwarder.time, "sleep", lambda _: None)
    client = _FakeLogs()
    client.create_log_group("/g")
    client.create_log_stream("/g", "p/api/t1")
    failures = iter([True, True, False, False])
    real = client.put_log_events

    def flaky(**kwargs):  # type: ignore[no-untyped-def]
        if next(failures):
            raise OSError("emulator busy")
        return real(**kwargs)

    client.put_log_events = flaky  # type: ignore[method-assign]
    assembler = Assembler()
    events = [e for raw in _raw(5) for e in assembler.feed(parse_line(raw))]  # type: ignore[arg-type]
    _stream(tmp_path, _FakeDocker([]), client)._ship(events)
    assert client.streams["/g", "p/api/t1"] == [f"line {i}" for i in range(5)]


def test_metrics_have_ecs_names_dimensions_and_values() -> None:
    import datetime

    from kecs.logs.metrics import ECS, INSIGHTS, datapoints

    before = {"read": "2026-11-26T10:00:00.000000000Z", "cpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000, "online_cpus": 2},
              "networks": {"eth0": {"rx_bytes": 1000, "tx_bytes": 500}}}  # fmt: skip
    after = {"read": "2026-11-26T10:00:10.000000000Z", "cpu_stats": {"cpu_usage": {"total_usage": 3_000}, "system_cpu_usage": 20_000, "online_cpus": 2},
             "memory_stats": {"usage": 300 << 20, "limit": 1 << 30, "stats": {"inactive_file": 44 << 20}},
             "networks": {"eth0": {"rx_bytes": 11_000, "tx_bytes": 2_500}}}  # fmt: skip
    now = datetime.datetime(2026, 11, 26, tzinfo=datetime.timezone.utc)
    points = {(ns, e["MetricName"]): e for ns, e in datapoints("shop", "api", before, after, 2, now)}
    assert points[ECS, "CPUUtilization"]["Value"] == 40.0  # 20% of 2 CPUs: 0.4 of one vCPU
    assert points[ECS, "MemoryUtilization"]["Value"] == 25.0
    assert (
        points[INSIGHTS, "CpuUtilized"]["Value"] == 409.6
        and points[INSIGHTS, "MemoryUtilized"]["Value"] == 256.0
    )
    assert (
        points[INSIGHTS, "NetworkRxBytes"]["Value"] == 1000.0
        and points[INSIGHTS, "NetworkTxBytes"]["Value"] == 200.0
    )
    assert points[INSIGHTS, "RestartCount"]["Value"] == 2.0
    assert points[ECS, "CPUUtilization"]["Dimensions"] == [
        {"Name": "ClusterName", "Value": "shop"},
        {"Name": "ServiceName", "Value": "api"},
    ]


def test_a_steady_trickle_is_shipped_within_a_second(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    import kecs.logs.forwarder as forwarder

    monkeypatch.setattr(forwarder, "FLUSH_EVERY", 0.2)
    client = _FakeLogs()
    client.create_log_group("/g")
    client.create_log_stream("/g", "p/api/t1")
    stream = _stream(tmp_path, _FakeDocker([]), client)
    threading.Thread(target=stream._ship_forever, daemon=True).start()
    for raw in _raw(12):  # a line every 0.05 s: the queue never stays empty for FLUSH_EVERY
        stream.lines.put(parse_line(raw))  # type: ignore[arg-type]
        time.sleep(0.05)
    shipped = client.streams["/g", "p/api/t1"]
    assert len(shipped) >= 4, shipped  # shipped while lines kept coming, not only after


def _docker_frames(records: list[bytes]) -> bytes:
    """Docker's multiplexed log stream: one frame per record (stdout)."""
    return b"".join(b"\x01\x00\x00\x00" + len(r).to_bytes(4, "big") + r for r in records)


class _Response:
    def __init__(self, data: bytes) -> None:
        import io

        self.stream = io.BytesIO(data)

    def read(self, size: int) -> bytes:
        return self.stream.read(size)

    def read1(self, size: int) -> bytes:
        return self.stream.read1(size)


def test_partial_messages_over_16_kib_are_joined_not_spliced_with_timestamps() -> None:
    from kecs.logs.events import DOCKER_PARTIAL, records, tty_frames
    from kecs.logs.forwarder import _frames

    parts = [b"a" * DOCKER_PARTIAL, "é".encode() * (DOCKER_PARTIAL // 2), b"tail"]
    stamps = [b"2026-11-26T10:00:00.000000001Z ", b"2026-11-26T10:00:00.000000002Z ",
              b"2026-11-26T10:00:00.000000003Z "]  # fmt: skip
    stream = [stamps[0] + parts[0], stamps[1] + parts[1], stamps[2] + parts[2] + b"\n",
              b"2026-11-26T10:00:01Z short\n"]  # fmt: skip
    expected = [
        "2026-11-26T10:00:00.000000001Z " + b"".join(parts).decode(),
        "2026-11-26T10:00:01Z short",
    ]
    assert list(records(_frames(_Response(_docker_frames(stream)), tty=False))) == expected  # type: ignore[arg-type]
    raw = b"".join(stream)  # a TTY: the same records, unframed, read in odd pieces
    pieces = [raw[i : i + 1000] for i in range(0, len(raw), 1000)]
    assert list(records(tty_frames(pieces))) == expected
    [line] = [parse_line(r) for r in records(tty_frames(pieces))][:1]
    assert line is not None and "Z" not in line.text.strip("aé") and line.text.endswith("tail")


def test_a_64_mib_line_becomes_events_at_cloudwatchs_limit_quickly_in_bounded_memory() -> None:
    import time
    import tracemalloc

    from kecs.logs.events import DOCKER_PARTIAL, MAX_EVENT_BYTES, records

    total = 64 * 1024 * 1024
    stamp = b"2026-11-26T10:00:00.5Z "

    def frames():  # type: ignore[no-untyped-def]
        for offset in range(0, total, DOCKER_PARTIAL):
            chunk = bytes([97 + (offset // DOCKER_PARTIAL) % 26]) * DOCKER_PARTIAL
            yield stamp + chunk + (b"\n" if offset + DOCKER_PARTIAL >= total else b"")
        yield stamp + b"next\n"

    tracemalloc.start()
    started = time.perf_counter()
    sizes, last = [], ""
    for raw in records(frames()):
        line = parse_line(raw)
        assert line is not None and line.timestamp_ns % 1_000_000_000 == 500_000_000
        sizes.append(len(line.text.encode()))
        last = line.text
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(sizes[:-1]) == total and max(sizes) <= MAX_EVENT_BYTES and last == "next"
    assert len(sizes) == -(-total // MAX_EVENT_BYTES) + 1
    assert peak < 8 * MAX_EVENT_BYTES, peak  # a few events' worth, not the 64 MiB line
    assert elapsed < 20, elapsed  # was a 240 s stall


def test_the_line_queue_is_bounded_by_bytes_and_always_lets_one_line_in() -> None:
    import threading

    from kecs.logs.events import Line
    from kecs.logs.forwarder import LineQueue

    lines = LineQueue(2_000, 1024 * 1024)
    big = Line(1, "x" * (256 * 1024))
    done = threading.Event()

    def fill() -> None:
        for _ in range(8):
            lines.put(big)
        done.set()

    threading.Thread(target=fill, daemon=True).start()
    assert not done.wait(0.5)  # 4 fit; the 5th waits
    assert lines.bytes == 4 * 256 * 1024
    for _ in range(8):
        assert lines.get(timeout=5) == big
    assert done.wait(5) and lines.bytes == 0
    huge = Line(2, "y" * (5 * 1024 * 1024))  # over the bound alone: let in when the queue is empty
    lines.put(huge)
    assert lines.get(timeout=1) == huge


def test_each_container_run_gets_its_own_stream_as_ecs_tasks_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A restarted container is a new ECS task: its lines go to a new stream (the first run
    keeps the task id the metadata endpoint gives); a lost group brings every run's stream
    back with its own lines, in order."""
    from kecs.logs.forwarder import Runs, task_id_for

    client, docker = _FakeLogs(), _FakeDocker(_raw(10) + _raw(10, start=1000))
    stream = _stream(tmp_path, docker, client)
    runs = Runs(str(tmp_path))
    stream.runs = runs
    key = stream.source.key
    first = parse_line(_raw(1)[0])
    second = parse_line(_raw(1, start=1000)[0])
    assert first is not None and second is not None
    assert runs.add(key, first.timestamp_ns - 1, "t1") == "t1"  # the first run: the metadata's id
    later = runs.add(key, second.timestamp_ns - 1, "t1")
    assert later == task_id_for("t1", second.timestamp_ns - 1) and len(later) == 32
    assert runs.add(key, second.timestamp_ns - 1, "t1") == later  # the same start: the same run
    assert Runs(str(tmp_path)).get(key, "t1") == runs.get(key, "t1")  # kept across restarts
    assembler = Assembler()
    events = [e for raw in docker.raw for e in assembler.feed(parse_line(raw))]  # type: ignore[arg-type]
    stream._ship(events)
    assert client.streams["/g", "p/api/t1"] == [f"line {i}" for i in range(10)]
    assert client.streams["/g", f"p/api/{later}"] == [f"line {i}" for i in range(1000, 1010)]
    client.groups.clear()
    client.streams.clear()  # the emulator restarted with nothing
    stream._check_present()
    assert client.streams["/g", "p/api/t1"] == [f"line {i}" for i in range(10)]
    assert client.streams["/g", f"p/api/{later}"] == [f"line {i}" for i in range(1000, 1010)]
