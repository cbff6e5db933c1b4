"""From a container's log lines to PutLogEvents batches, as the awslogs driver makes them.

Docker gives each line with its RFC 3339 nanosecond timestamp (`docker logs --timestamps`).
A line becomes an event, or, with a multiline pattern, lines up to the next line matching
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
