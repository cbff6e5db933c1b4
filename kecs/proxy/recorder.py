"""Where the proxy's observations go: the `seen` state file and the project's observed log.

The serving process (uid 1337, the one that parses what apps send) never writes to the
project: it describes each exchange (kecs.proxy.observe) and passes the JSON line
through a pipe to the root parent, which appends it to `requests.jsonl` in the mounted
`.kecs/observed/<service>/` directory. The log is append-only and bounded: past
MAX_BYTES it is renamed `requests.1.jsonl` (the older ones shift up to KEEP files) and
a new one starts. A full pipe drops the record (and counts it) rather than slow the
app's request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable

from kecs import contract
from kecs.operations import OperationCatalog
from kecs.proxy.observe import Exchange, describe
from kecs.proxy.routing import request_service
from kecs.scanner.services import ServiceCatalog
from kecs.tls import sign_record

LOG = logging.getLogger("kecs.proxy")
MAX_BYTES = 4 * 1024 * 1024
KEEP = contract.OBSERVED_KEEP
MAX_LINE = 3500  # below PIPE_BUF (4096): each write to the pipe is atomic


class ObservedLog:
    """Append JSON lines to `directory/requests.jsonl`, rotating past `max_bytes`."""

    def __init__(
        self, directory: str, max_bytes: int = MAX_BYTES, keep: int = KEEP, token: str | None = None
    ) -> None:
        self.directory = directory
        self.token = token  # signs each record (kecs.tls.sign_record) when given
        self.max_bytes = max_bytes
        self.keep = keep
        self.path = os.path.join(directory, contract.observed_file())
        self._fd: int | None = None
        self._size = 0

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def write(self, line: str) -> None:
        line = line.rstrip("\n")
        if self.token is not None and line.endswith("}"):
            line = sign_record(self.token, line)
        data = line.encode("utf-8") + b"\n"
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        fd = self._open()
        os.write(fd, data)
        self._size += len(data)

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

        def rotated(index: int) -> str:
            return os.path.join(self.directory, contract.observed_file(index))

        for index in range(self.keep - 1, 0, -1):
            if os.path.lexists(rotated(index)):
                os.replace(rotated(index), rotated(index + 1))
        os.replace(self.path, rotated(1))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(rotated(self.keep + 1))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Observer:
    """Called by the connection code for each exchange: notes the AWS service in `seen`
    (kecs status) and hands the exchange's record to `sink` (a pipe or a log)."""

    def __init__(
        self, service: str, seen: Callable[[str], None] | None, sink: Callable[[str], None] | None
    ) -> None:
        self.service = service
        self.seen = seen
        self.sink = sink
        self._catalogs: tuple[ServiceCatalog, OperationCatalog] | None = None

    def prepared(self) -> Observer:
        """Load the service and operation tables now, before serving: the first captured
        request must not pay for them."""
        if self.sink is not None and self._catalogs is None:
            self._catalogs = (ServiceCatalog.load(), OperationCatalog.load())
        return self

    def __call__(self, exchange: Exchange) -> None:
        if self.seen is not None:
            name = request_service(exchange.headers, exchange.target.encode("latin-1"), exchange.host)
            if name:
                self.seen(name)
        if self.sink is None:
            return
        try:
            if self._catalogs is None:
                self._catalogs = (ServiceCatalog.load(), OperationCatalog.load())
            record = describe(exchange, self.service, *self._catalogs)
        except Exception as exc:  # an observation must never cost the app its request
            LOG.warning("could not describe %s %s: %s", exchange.method, exchange.target[:100], exc)
            return
        if record is not None:
            line = json.dumps(record, separators=(",", ":"))
            if len(line) > MAX_LINE:
                record["request"] = str(record["request"])[:200]
                record["resource"] = None
                line = json.dumps(record, separators=(",", ":"))
            self.sink(line)


class PipeSink:
    """The serving child's end: one write per line, dropped when the pipe is full."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.dropped = 0

    def __call__(self, line: str) -> None:
        try:
            os.write(self.fd, line.encode("utf-8") + b"\n")
        except (BlockingIOError, BrokenPipeError):
            self.dropped += 1
            if self.dropped in (1, 100, 10_000):
                LOG.warning("observed log: %d records dropped (the writer is behind)", self.dropped)


def drain(fd: int, log: ObservedLog) -> threading.Thread:
    """The root parent's end: a thread appending each line from the pipe to the log."""

    def run() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    log.write(line.decode("utf-8", "replace"))
                except OSError as exc:
                    LOG.warning("cannot write the observed log %s: %s", log.path, exc)
        log.close()

    thread = threading.Thread(target=run, name="observed-log", daemon=True)
    thread.start()
    return thread
