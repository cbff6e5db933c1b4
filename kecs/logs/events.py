"""From a container's log lines to PutLogEvents batches, as the awslogs driver makes them.

Docker gives each line with its RFC 3339 nanosecond timestamp (`docker logs --timestamps`).
A line longer than 16 KiB reaches Docker's log as partial messages, each with its own
timestamp and only the last ending in a newline: `records` puts them back together (one
line, the first part's timestamp) and cuts any line at CloudWatch's event limit, holding
at most one event's worth of a line however long it is. A line becomes an event, or, with a multiline pattern, lines up to the next line matching
it become one event; a message longer than CloudWatch's limit is split, as awslogs does.
Batches respect PutLogEvents' limits: 10,000 events, 1,048,576 bytes (each event counts
its UTF-8 size plus 26 bytes) and a 24-hour span, events in order. A Position (the last
delivered line's timestamp and how many lines carried exactly it) lets delivery resume
after a restart of anything without losing or repeating a line. No I/O.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD
MAX_SPAN_MS = 24 * 3600 * 1000
DOCKER_PARTIAL = 16 * 1024  # Docker's log copier cuts a line without a newline at this size
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z ")


def _utf8_cut(data: bytes | bytearray, limit: int) -> int:
    """Where to cut `data` at most `limit` bytes in, not inside a UTF-8 character."""
    end = min(limit, len(data))
    while 0 < end < len(data) and (data[end] & 0xC0) == 0x80:
        end -= 1
    return end or min(limit, len(data))


def tty_frames(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A TTY container's log stream (no frames) cut into Docker's records: each runs from
    its timestamp to a newline, or is a partial message of DOCKER_PARTIAL bytes that the
    next record's timestamp follows directly."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while True:
            stamp = _STAMP.match(buffer)
            start = stamp.end() if stamp else 0
            newline = buffer.find(b"\n", start, start + DOCKER_PARTIAL + 1)
            if newline >= 0:
                yield bytes(buffer[: newline + 1])
                del buffer[: newline + 1]
            elif len(buffer) - start > DOCKER_PARTIAL:
                yield bytes(buffer[: start + DOCKER_PARTIAL])
                del buffer[: start + DOCKER_PARTIAL]
            else:
                break
    if buffer:
        yield bytes(buffer)


def records(frames: Iterable[bytes], limit: int = MAX_EVENT_BYTES) -> Iterator[str]:
    """Whole lines (`TIMESTAMP text`) from Docker's log records, partial messages joined
    under the first part's timestamp; a line longer than `limit` bytes comes as several
    lines of at most `limit` bytes with that timestamp. Memory: at most `limit` plus one
    record."""
    stamp = b""
    text = bytearray()
    for frame in frames:
        head, sep, body = frame.partition(b" ")
        if not sep or not _STAMP.match(head + b" "):
            head, body = b"", frame  # not Docker's form: taken as it is
        if not text:
            stamp = head
        whole = body.endswith(b"\n")
        text += body[:-1] if whole else body
        while len(text) > limit:
            cut = _utf8_cut(text, limit)
            yield (stamp + b" " + bytes(text[:cut])).decode("utf-8", "replace")
            del text[:cut]
        if whole:
            yield (stamp + b" " + bytes(text)).decode("utf-8", "replace")
            text.clear()
    if text:
        yield (stamp + b" " + bytes(text)).decode("utf-8", "replace")


@dataclass(frozen=True, order=True)
class Position:
    """How far a stream was delivered: lines up to `timestamp_ns`, of which `count` carried
    exactly that timestamp."""

    timestamp_ns: int = 0
    count: int = 0

    def advance(self, timestamp_ns: int) -> Position:
        if timestamp_ns == self.timestamp_ns:
            return Position(timestamp_ns, self.count + 1)
        return Position(timestamp_ns, 1)


@dataclass(frozen=True)
class Line:
    timestamp_ns: int
    text: str


@dataclass(frozen=True)
class Event:
    timestamp_ms: int
    message: str
    position: Position  # delivered once this event is: the position after its last line

    @property
    def size(self) -> int:
        return len(self.message.encode("utf-8")) + EVENT_OVERHEAD


def parse_line(raw: str) -> Line | None:
    """`2026-11-26T10:00:00.123456789Z text` (Docker's --timestamps form)."""
    stamp, sep, text = raw.partition(" ")
    if not sep and not stamp:
        return None
    try:
        whole, _, fraction = stamp.rstrip("Z").partition(".")
        seconds = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc).timestamp()
        nanos = int((fraction + "000000000")[:9]) if fraction else 0
    except ValueError:
        return None
    return Line(int(seconds) * 1_000_000_000 + nanos, text.rstrip("\n"))


def run_of(runs: list[tuple[int, str]], timestamp_ns: int) -> str:
    """The task id of the container run a line belongs to: the latest run that started at
    or before it (`runs`: (start in ns, task id), oldest first; before any: the first)."""
    found = runs[0][1]
    for started, task_id in runs:
        if started > timestamp_ns:
            break
        found = task_id
    return found


def not_delivered(lines: Iterable[Line], position: Position) -> Iterator[Line]:
    """The lines after `position`: older ones are skipped, and of those carrying exactly its
    timestamp the first `count` (delivered before)."""
    same = 0
    for line in lines:
        if line.timestamp_ns < position.timestamp_ns:
            continue
        if line.timestamp_ns == position.timestamp_ns:
            same += 1
            if same <= position.count:
                continue
        yield line


def _split(message: str) -> list[str]:
    data = message.encode("utf-8")
    if len(data) <= MAX_EVENT_BYTES:
        return [message]
    parts, start = [], 0
    while start < len(data):
        end = min(start + MAX_EVENT_BYTES, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # not inside a UTF-8 character
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start = end
    return parts


@dataclass
class Assembler:
    """Lines in, events out. With a pattern, an event runs until the next line matching it
    (or `flush`, when no line came for a while)."""

    pattern: str = ""
    position: Position = field(default_factory=Position)
    _pending: list[Line] = field(default_factory=list)
    _compiled: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        self._compiled = re.compile(self.pattern) if self.pattern else None

    def feed(self, line: Line) -> list[Event]:
        if self._compiled is None:
            self.position = self.position.advance(line.timestamp_ns)
            return self._events([line], self.position)
        out: list[Event] = []
        if self._pending and self._compiled.search(line.text):
            out = self.flush()
        self._pending.append(line)
        return out

    def flush(self) -> list[Event]:
        if not self._pending:
            return []
        lines, self._pending = self._pending, []
        for line in lines:
            self.position = self.position.advance(line.timestamp_ns)
        return self._events(lines, self.position)

    @staticmethod
    def _events(lines: list[Line], position: Position) -> list[Event]:
        stamp = lines[0].timestamp_ns // 1_000_000
        return [Event(stamp, part, position) for part in _split("\n".join(line.text for line in lines))]


def batches(events: Iterable[Event]) -> Iterator[list[Event]]:
    """PutLogEvents batches in order, each within every limit."""
    batch: list[Event] = []
    size = 0
    for event in events:
        if batch and (
            len(batch) >= MAX_EVENTS
            or size + event.size > MAX_BATCH_BYTES
            or event.timestamp_ms - batch[0].timestamp_ms > MAX_SPAN_MS
        ):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event.size
    if batch:
        yield batch
