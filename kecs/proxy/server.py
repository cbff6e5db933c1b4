"""The proxy process: listeners, per-connection decisions, privileges, readiness.

Connection handling lives here; protocol logic in clienthello, http, dns and
credentials, and the decision (kecs.proxy.decide) over the bytes a captured connection
is peeked at (never consumed): TLS to an AWS name -> terminate with a minted certificate
and forward to the emulator; plain HTTP to an AWS host -> forward; anything else ->
splice byte for byte to the original destination.
"""

from __future__ import annotations

import _strptime  # type: ignore[import-not-found]  # noqa: F401 - likewise, for date parsing
import asyncio
import asyncio.sslproto
import concurrent.futures.thread  # noqa: F401 - imported before privileges drop (run_in_executor)
import contextlib
import ctypes
import encodings.idna  # noqa: F401 - likewise: host name lookups import it lazily
import errno
import gc
import logging
import os
import resource
import select
import signal
import socket
import ssl
import struct
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives import serialization

from kecs import contract
from kecs.contract import (
    CAPTURE_NONE,
    CAPTURE_OWN,
    CAPTURE_SHARED,
    CREDENTIALS_PORT,
    DNS_PORT,
    PROXY_PORT,
    PROXY_UID,
)
from kecs.proxy.credentials import CredentialSource, MetadataService
from kecs.proxy.decide import CLOSE, FIRST, FORWARD, NEED, TERMINATE, decide
from kecs.proxy.dns import AWS_ADDRESS, Discovery, DnsProtocol, serve_tcp
from kecs.proxy.http import forward
from kecs.proxy.netfilter import Capture, detect_backend, install, installed, installed_quickly, remove
from kecs.proxy.observe import Exchange
from kecs.proxy.recorder import ObservedLog, Observer, PipeSink, drain
from kecs.proxy.routing import Routes, parse_routes
from kecs.proxy.taskmeta import TaskInfo
from kecs.proxy.zones import PrivateZones, emulator_fetch
from kecs.tls import CaPaths, ensure_ca, load_intermediate, mint_leaf, read_internal_token

LOG = logging.getLogger("kecs.proxy")
SO_ORIGINAL_DST = 80
PEEK_TIMEOUT = 10.0
PEEK_LIMIT = 64 * 1024
SPLICE_CHUNK = 256 * 1024
ACCEPT_BACKOFF = 0.05
# asyncio gives every TLS connection a 256 KiB read buffer up front (SSLProtocol.max_size):
# 2,000 idle connections held 590 MB. Four TLS records' worth costs a quarter of that.
TLS_READ_BUFFER = 64 * 1024
TRIM_AFTER = 64  # connections ended since the peak before freed memory is handed back
TRIM_EVERY = 5.0  # seconds, at most once per
HOLDER_WAIT = 60.0  # seconds a proxy in a shared namespace waits for the holder's capture
# The side listeners' own limits (see `bounded`): connections at once, seconds each in all.
DNS_TCP_LIMIT, DNS_TCP_DEADLINE = 64, 30.0
METADATA_LIMIT, METADATA_DEADLINE = 64, 60.0


@dataclass(frozen=True)
class Config:
    emulator_url: str
    service: str = "app"
    region: str = "us-east-1"
    role: str | None = None
    kecs_dir: str = "/etc/kecs"
    uid: int = PROXY_UID
    proxy_port: int = PROXY_PORT
    credentials_port: int = CREDENTIALS_PORT
    dns_port: int = DNS_PORT
    dns_upstream: tuple[str, int] | None = ("127.0.0.11", 53)
    capture: str = CAPTURE_OWN  # contract.CAPTURE_MODES
    state_dir: str | None = None  # where health and seen services are published
    observed_dir: str | None = None  # where each forwarded request is recorded (the project's)
    routes: tuple[str, ...] = ()  # SERVICE=http://HOST:PORT, served by another emulator
    task: TaskInfo | None = None  # what the task metadata endpoint (v4) tells the app
    discovery: Discovery | None = None  # service discovery names the DNS answers
    private_zones: bool = False  # answer names of the emulator's Route 53 private zones
    internal_token: str | None = None  # read from the CA directory at start (contract.INTERNAL_HEADER)

    @property
    def routing(self) -> Routes:
        return parse_routes(self.emulator_url, self.routes)

    def capture_rules(self, resolve: bool = True) -> Capture:
        """The rules; every emulator's address is left uncaptured. Resolve only while no
        capture is installed for root: once it is, root's DNS goes to the proxy's port."""
        hosts = {upstream.host for upstream in self.routing.upstreams} if resolve else set()
        addresses = tuple(sorted({info[4][0] for host in hosts for info in _resolve(host)}))
        return Capture(self.uid, self.proxy_port, self.credentials_port, self.dns_port, addresses)


def _resolve(host: str) -> list[tuple]:  # type: ignore[type-arg]
    try:
        return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror:
        return []


class LeafCertificates:
    """An SSL context per AWS host name, minted from the intermediate on first use."""

    def __init__(self, paths: CaPaths, directory: str, size: int = 1024) -> None:
        self.intermediate, self.key = load_intermediate(paths)
        self.directory = directory
        self.size = size
        self.contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()

    def context(self, host: str) -> ssl.SSLContext:
        found = self.contexts.get(host)
        if found is not None:
            self.contexts.move_to_end(host)
            return found
        cert, key = mint_leaf(host, self.intermediate, self.key)
        pem = serialization.Encoding.PEM
        chain = os.path.join(self.directory, f"{len(self.contexts)}-{time.monotonic_ns()}.pem")
        with open(os.open(chain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(cert.public_bytes(pem) + self.intermediate.public_bytes(pem))
            handle.write(
                key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain)
        os.unlink(chain)  # loaded; nothing stays on disk
        context.set_alpn_protocols(["http/1.1"])
        self.contexts[host] = context
        if len(self.contexts) > self.size:
            self.contexts.popitem(last=False)
        return context


def connection_limit() -> int:
    """Captured connections served at once: each holds two descriptors (client, emulator
    or destination); the listeners, DNS over TCP and metadata keep their own reserve."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    reserved = 64 + 2 * (DNS_TCP_LIMIT + METADATA_LIMIT)
    return max(16, min(20_000, (soft - reserved) // 2))


def original_destination(sock: socket.socket) -> tuple[str, int]:
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack_from("!H", raw, 2)[0]
    return socket.inet_ntoa(raw[4:8]), port


async def _readable(sock: socket.socket, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await asyncio.wait_for(ready, timeout)
    except asyncio.TimeoutError:
        pass
    finally:
        loop.remove_reader(sock.fileno())


def _peer_closed(sock: socket.socket) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP)
    return any(events & (select.POLLRDHUP | select.POLLHUP) for _, events in poller.poll(0))


async def peek(sock: socket.socket, enough: Callable[[bytes], bool], timeout: float = PEEK_TIMEOUT) -> bytes:
    """Bytes waiting on `sock`, left unread, once `enough(data)` holds; b"" when the peer closed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            data: bytes | None = sock.recv(PEEK_LIMIT, socket.MSG_PEEK)
        except BlockingIOError:
            data = None
        if data is not None and (not data or enough(data) or len(data) >= PEEK_LIMIT):
            return data
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError("the client stalled before saying where it goes")
        if data is None:
            await _readable(sock, remaining)
        elif _peer_closed(sock):
            return data  # a truncated ClientHello or head: nothing more will come
        else:
            await asyncio.sleep(0.002)  # the rest of a ClientHello is on its way


async def _streams(
    sock: socket.socket, context: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=PEEK_LIMIT)
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.connect_accepted_socket(
        lambda: protocol, sock, ssl=context, ssl_handshake_timeout=PEEK_TIMEOUT if context else None
    )
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(SPLICE_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def splice(sock: socket.socket, destination: tuple[str, int], label: str) -> None:
    """Connect to where the client meant to go and copy bytes both ways, untouched."""
    if destination[0] == AWS_ADDRESS or destination[0].startswith("127."):
        LOG.info("%s: no route for %s:%d (an AWS name without SNI?); closing", label, *destination)
        sock.close()
        return
    try:
        up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*destination), 10)
    except (OSError, asyncio.TimeoutError) as exc:
        LOG.info("%s: passthrough to %s:%d failed: %s", label, *destination, exc)
        sock.close()
        return
    reader, writer = await _streams(sock, None)
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    for w in (writer, up_writer):
        w.close()


class Proxy:
    def __init__(
        self, config: Config, leaves: LeafCertificates, observe: Callable[[Exchange], None] | None = None
    ) -> None:
        self.config = config
        self.leaves = leaves
        self.observe = observe
        self.active = 0  # captured connections being served
        self.peak = 0  # the most served at once since the memory was last returned
        self.trim = _malloc_trim()
        self.trimmed_at = 0.0
        self.limit = connection_limit()
        self.below_limit = asyncio.Event()
        self.routes = config.routing
        self.tasks: set[asyncio.Task[None]] = set()

    async def handle(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        # Heads and bodies go out as separate writes: without this, Nagle's algorithm and
        # delayed ACKs hold each small response for ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            destination = original_destination(sock)
        except OSError:
            destination = sock.getsockname()[:2]
        if destination == sock.getsockname()[:2]:
            sock.close()  # not redirected: a readiness probe connecting to the listener itself
            return
        label = f"{destination[0]}:{destination[1]}"
        try:
            decision = decide(await peek(sock, lambda d: len(d) >= FIRST))
            while decision.action == NEED:
                assert decision.enough is not None
                data = await peek(sock, decision.enough)
                # peek stops short only when nothing more will come (closed, or at its limit)
                decision = decide(data, final=not decision.enough(data))
            if decision.action == CLOSE:
                LOG.warning("%s: %s", label, decision.why)
                sock.close()
                return
            if decision.action in (TERMINATE, FORWARD):
                assert decision.host is not None
                LOG.info("%s: %s -> %s", label, decision.why, self._where(decision.host))
                context = self.leaves.context(decision.host) if decision.action == TERMINATE else None
                reader, writer = await _streams(sock, context)
                await forward(
                    reader, writer, self.routes, decision.host, self.observe, self.config.internal_token
                )
                return
            LOG.info("%s: %s", label, decision.why)
            await splice(sock, destination, label)
        except (TimeoutError, ssl.SSLError, ConnectionError, OSError) as exc:
            LOG.info("%s: connection dropped: %s", label, exc)
            sock.close()

    def _where(self, host: str) -> str:
        """Where this host's requests go, for the log (each request is routed on its own)."""
        return self.routes.pick((), b"/", host).url

    async def accept(self, listener: socket.socket) -> None:
        """Accept for ever: at the connection limit, wait for one to end; out of file
        descriptors (or memory), back off and try again rather than stop."""
        loop = asyncio.get_running_loop()
        delay = ACCEPT_BACKOFF
        while True:
            if self.active >= self.limit:
                self.below_limit.clear()
                await self.below_limit.wait()
            try:
                sock, _ = await loop.sock_accept(listener)
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                LOG.warning(
                    "cannot accept (%s, %d connections open); retrying in %.2f s", exc, self.active, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = ACCEPT_BACKOFF
            self.active += 1
            self.peak = max(self.peak, self.active)
            track(asyncio.ensure_future(self._serve(sock)), self.tasks)

    async def _serve(self, sock: socket.socket) -> None:
        # `handle` owns the socket (it may hand it to a transport, which closes it): closing
        # it here as well could close a descriptor number already reused by a new one.
        try:
            await self.handle(sock)
        finally:
            self.active -= 1
            self.below_limit.set()
            self._return_memory()

    def _return_memory(self) -> None:
        """After a burst has ended (many connections closed since the peak), hand the freed
        memory back: glibc would otherwise keep the peak's heap for ever."""
        if self.trim is None or self.peak - self.active < TRIM_AFTER:
            return
        now = time.monotonic()
        if now - self.trimmed_at >= TRIM_EVERY or self.active == 0:
            gc.collect()  # a closed TLS connection's objects form cycles: free them first
            self.trim()
            self.trimmed_at = now
            self.peak = self.active


StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def bounded(handler: StreamHandler, limit: int, deadline: float, what: str) -> StreamHandler:
    """A listener's handler with its own limits: at most `limit` connections at once
    (more are closed on arrival) and `deadline` seconds for each in all, so idle or
    trickling clients of one listener can neither hold it nor starve the others."""
    active = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if active[0] >= limit:
            LOG.warning("%s: %d connections open; refusing another", what, limit)
            writer.close()
            return
        active[0] += 1
        try:
            await asyncio.wait_for(handler(reader, writer), deadline)
        except asyncio.TimeoutError:
            LOG.info("%s: a connection reached its %.0f s deadline; closed", what, deadline)
        finally:
            active[0] -= 1
            writer.close()

    return serve


async def _keep_credentials(source: CredentialSource) -> None:
    """Fetch the role's credentials from the start and rotate them before they expire."""
    loop = asyncio.get_running_loop()
    while True:
        delay = await loop.run_in_executor(None, source.refresh)
        await asyncio.sleep(delay)


def track(task: asyncio.Task[None], tasks: set[asyncio.Task[None]]) -> None:
    """Hold a connection's task until it ends. The event loop reaches it only through its
    transport, which a half-closed client no longer keeps registered: unheld, the garbage
    collector can take the task, and close its sockets, in the middle of a request."""
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def tracked(handler: StreamHandler, tasks: set[asyncio.Task[None]]) -> Callable[..., None]:
    """A start_server callback whose connection tasks are held (see track)."""

    def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        track(asyncio.ensure_future(handler(reader, writer)), tasks)

    return start


def _listener(port: int, kind: int = socket.SOCK_STREAM) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    if kind == socket.SOCK_STREAM:
        sock.listen(1024)
    sock.setblocking(False)
    return sock


def _malloc_trim() -> Callable[[], None] | None:
    """glibc keeps freed heap for reuse: after a burst of connections the proxy would stay
    at its peak size for ever. malloc_trim hands it back (absent on other C libraries)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


async def serve(
    config: Config,
    leaves: LeafCertificates,
    sockets: dict[str, socket.socket],
    observe: Callable[[Exchange], None] | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    # This process serves the proxy alone: the stdlib's TLS read buffer is sized here.
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER
    proxy = Proxy(config, leaves, observe)
    sts = proxy.routes.for_service("sts")  # roles come from its STS
    metadata = MetadataService(
        CredentialSource(config.service, config.region, sts.url, config.role), task=config.task
    )
    metadata_server = bounded(metadata.serve, METADATA_LIMIT, METADATA_DEADLINE, "metadata")
    await asyncio.start_server(tracked(metadata_server, proxy.tasks), sock=sockets["credentials"])
    # The role's credentials are fetched from now on, in the background, not on the app's
    # first request: SDKs give the metadata endpoints a second or two, which an AssumeRole
    # on a busy machine can exceed.
    track(asyncio.ensure_future(_keep_credentials(metadata.source)), proxy.tasks)
    zones = None
    if config.private_zones:
        route53 = proxy.routes.for_service("route53")
        zones = PrivateZones(emulator_fetch(route53.url, config.region))
    await loop.create_datagram_endpoint(
        lambda: DnsProtocol(config.dns_upstream, config.discovery, zones), sock=sockets["dns"]
    )
    dns_tcp = bounded(
        lambda r, w: serve_tcp(r, w, config.dns_upstream, config.discovery, zones),
        DNS_TCP_LIMIT, DNS_TCP_DEADLINE, "DNS over TCP",
    )  # fmt: skip
    await asyncio.start_server(tracked(dns_tcp, proxy.tasks), sock=sockets["dns-tcp"])
    stop: asyncio.Future[None] = loop.create_future()

    def request_stop() -> None:
        if not stop.done():
            stop.set_result(None)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop)
    accept = asyncio.ensure_future(proxy.accept(sockets["proxy"]))
    LOG.info("ready: proxy 127.0.0.1:%d, credentials :%d, dns :%d -> %s%s", config.proxy_port,
             config.credentials_port, config.dns_port, config.emulator_url,
             "".join(f", {key} -> {up.url}" for key, up in proxy.routes.by_service.items()))  # fmt: skip
    await stop
    accept.cancel()


class StateFiles:
    """What the running proxy publishes for its health check and for `kecs status`
    (contract.READY_FILE, STATUS_FILE, SEEN_FILE under one directory; a tmpfs in the
    container, so a restarted proxy starts with none)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory or None

    def path(self, name: str) -> str | None:
        return os.path.join(self.directory, name) if self.directory else None

    def prepare(self, uid: int) -> None:
        """Start clean: no ready file until this process has checked itself."""
        if not self.directory:
            return
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        for name in (contract.READY, contract.STATUS, contract.SEEN):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.directory, name))
        seen = os.path.join(self.directory, contract.SEEN)
        os.close(os.open(seen, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
        if os.geteuid() == 0:
            os.chown(seen, uid, uid)  # the serving child appends to it

    def publish(self, ready: bool, why: str) -> None:
        if not self.directory:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _write_atomic(os.path.join(self.directory, contract.STATUS), f"{why} ({stamp})\n")
        ready_file = os.path.join(self.directory, contract.READY)
        if ready:
            _write_atomic(ready_file, f"kecs proxy: {why}\n")
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(ready_file)


def _write_atomic(path: str, text: str) -> None:
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644), "w") as f:
        f.write(text)
    os.replace(temporary, path)


class SeenServices:
    """AWS services the app called, appended once each to the state's `seen` file."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.names: set[str] = set()

    def __call__(self, name: str) -> None:
        if name in self.names:
            return
        self.names.add(name)
        LOG.info("first request for %s", name)
        if self.path:
            try:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(name + "\n")
            except OSError as exc:
                LOG.warning("cannot record %s in %s: %s", name, self.path, exc)


def hold(config: Config) -> int:
    """The namespace holder: install the capture once, mark it, then do nothing for ever.

    The app and the proxy both join this namespace; the rules stay while it lives, so a
    restarted proxy finds them in place and, while it is down, captured connections are
    refused (fail closed). `sleep` replaces this process: nothing of Python stays."""
    if os.geteuid() != 0:
        LOG.error("installing the capture needs root (NET_ADMIN)")
        return 2
    backend = detect_backend()
    remove(backend)  # nothing captured while the emulators' addresses are looked up
    backend = install(config.capture_rules(), backend)
    LOG.info("capture installed with %s; holding the network namespace", backend)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp("sleep", ["sleep", "infinity"])


def _capture_in_place(config: Config) -> tuple[str, Capture, bool]:
    """As root: the capture rules, installed when missing (own mode: always replaced).

    Returns the backend, the rules to watch, and whether their count is exact (the
    holder's emulator addresses are not resolved again here: with its capture in place,
    this root process's DNS would go to the proxy's own, not yet listening, port)."""
    backend = detect_backend()
    if config.capture == CAPTURE_SHARED:
        # The holder starts beside the proxy and installs the capture within a second or
        # so; wait for it rather than race it.
        shape = config.capture_rules(resolve=False)
        deadline = time.monotonic() + HOLDER_WAIT
        while True:
            if installed_quickly(shape, backend, exact=False):
                LOG.info("capture found in place (installed by the namespace holder) with %s", backend)
                return backend, shape, False
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        LOG.warning("the namespace holder's capture is missing after %.0f s; installing it", HOLDER_WAIT)
    remove(backend)  # nothing captured while the emulators' addresses are looked up
    capture = config.capture_rules()
    backend = install(capture, backend)
    LOG.info("capture installed with %s", backend)
    return backend, capture, True


def run(config: Config) -> int:
    """Install (or find) the capture as root, serve as `config.uid`, watch and publish health.

    The root parent stays to check, every second, that the rules are in place and every
    listener answers, and publishes the result for the health check; it removes the
    capture on stop only when it installed it for itself (own mode)."""
    paths = CaPaths(config.kecs_dir)
    state = StateFiles(config.state_dir)
    if not paths.has_intermediate() and config.capture == CAPTURE_SHARED:
        why = (
            f"no CA in {paths.ca_dir}: start the project with `kecs up`, which puts the project's CA "
            "into the kecs-ca volume"
        )
        LOG.error("%s", why)
        state.prepare(config.uid)
        state.publish(False, why)
        return 2
    if not paths.has_intermediate():
        paths, _ = ensure_ca(config.kecs_dir, "proxy")
        LOG.info("created a CA under %s (no kecs compose CA was mounted)", config.kecs_dir)
    scratch = tempfile.mkdtemp(prefix="kecs-proxy-")
    leaves = LeafCertificates(paths, scratch)  # reads the key while still root
    state.prepare(config.uid)
    sockets = {
        "proxy": _listener(config.proxy_port),
        "credentials": _listener(config.credentials_port),
        "dns": _listener(config.dns_port, socket.SOCK_DGRAM),
        "dns-tcp": _listener(config.dns_port),
    }
    seen = SeenServices(state.path(contract.SEEN))
    config = replace(config, internal_token=read_internal_token(paths.ca_dir))
    log = ObservedLog(config.observed_dir, token=config.internal_token) if config.observed_dir else None
    if config.capture == CAPTURE_NONE:
        asyncio.run(
            serve(
                config, leaves, sockets, Observer(config.service, seen, log.write if log else None).prepared()
            )
        )
        return 0
    if os.geteuid() != 0:
        LOG.error("installing the capture needs root (NET_ADMIN); run as root or pass --no-capture")
        return 2
    backend, capture, exact = _capture_in_place(config)
    os.chown(scratch, config.uid, config.uid)
    # The serving child describes each request; this root parent writes it to the project.
    records, feed = os.pipe() if log is not None else (-1, -1)
    child = os.fork()
    if child == 0:
        os.setgroups([])
        os.setgid(config.uid)
        os.setuid(config.uid)
        try:
            if log is not None:
                os.close(records)
            sink = PipeSink(feed) if log is not None else None
            asyncio.run(serve(config, leaves, sockets, Observer(config.service, seen, sink).prepared()))
        finally:
            os._exit(0)
    for sock in sockets.values():
        sock.close()
    if log is not None:
        os.close(feed)
        drain(records, log)
    stopping: list[int] = []

    def forward_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward_signal)
    signal.signal(signal.SIGINT, forward_signal)
    status = _watch(config, child, (backend, capture, exact), state)
    if config.capture == CAPTURE_OWN:
        remove(backend)
        LOG.info("capture removed")
    if status is None:
        return 0
    code = os.waitstatus_to_exitcode(status)
    if not stopping:
        LOG.error("the serving process ended (%s); exiting so the container restarts", code)
    return code if code else (0 if stopping else 1)


def _watch(config: Config, child: int, rules: tuple[str, Capture, bool], state: StateFiles) -> int | None:
    """Check every second until the serving child ends; its wait status."""
    last = ""
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            state.publish(False, "the serving process ended")
            return status
        ready, why = check(config, rules)
        state.publish(ready, why)
        if why != last:
            (LOG.info if ready else LOG.warning)("health: %s", why)
            last = why
        time.sleep(1)


def check(config: Config, rules: tuple[str, Capture, bool] | None = None) -> tuple[bool, str]:
    """Readiness: the capture rules are in place and every listener answers.

    With `rules` (backend, capture, exact: the watch loop's), the nat table is listed once
    instead of each rule checked."""
    if config.capture != CAPTURE_NONE:
        try:
            if rules is not None:
                ok = installed_quickly(rules[1], rules[0], exact=rules[2])
            else:
                ok = installed(config.capture_rules(), detect_backend())
            if not ok:
                return False, "capture rules are not installed"
        except Exception as exc:  # iptables missing or failing
            return False, f"cannot read the capture rules: {exc}"
    for name, port in (("proxy", config.proxy_port), ("credentials", config.credentials_port)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            return False, f"{name} listener on 127.0.0.1:{port} does not answer: {exc}"
    # The kernel completes a connection even when the proxy cannot accept it (out of file
    # descriptors, at its limit): only the proxy closing a probe shows that it accepts.
    try:
        with socket.create_connection(("127.0.0.1", config.proxy_port), timeout=2) as probe:
            probe.settimeout(2)
            if probe.recv(1) != b"":
                return False, "the proxy listener answered a probe with data"
    except TimeoutError:
        return False, "the proxy is not accepting connections (out of file descriptors or at its limit)"
    except OSError as exc:
        if exc.errno not in (errno.ECONNRESET,):
            return False, f"proxy listener on 127.0.0.1:{config.proxy_port}: {exc}"
    from dnslib import DNSRecord  # type: ignore[import-untyped]

    try:
        query = DNSRecord.question("sts.amazonaws.com")
        reply = DNSRecord.parse(query.send("127.0.0.1", config.dns_port, timeout=2))
        if str(reply.a.rdata) != AWS_ADDRESS:
            return False, "DNS listener answers AWS names wrongly"
    except Exception as exc:
        return False, f"DNS listener on 127.0.0.1:{config.dns_port} does not answer: {exc}"
    if config.role:  # the app starts once its role's credentials are there, never before
        import http.client

        try:
            asking = http.client.HTTPConnection("127.0.0.1", config.credentials_port, timeout=3)
            asking.request("GET", contract.credentials_path(config.service))
            answer = asking.getresponse()
            body = answer.read(2048).decode("utf-8", "replace")
            asking.close()
        except OSError as exc:
            return False, f"credentials listener on 127.0.0.1:{config.credentials_port}: {exc}"
        if answer.status != 200:
            return False, " ".join(body.split())[:300]
    return True, "ready"


def setup_logging() -> None:
    level = os.environ.get("KECS_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(stream=sys.stderr, level=level, format="kecs-proxy %(levelname)s %(message)s")
