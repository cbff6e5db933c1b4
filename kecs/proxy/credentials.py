"""Instance metadata (IMDSv2) and ECS container credentials, as the SDKs' default chain reads them.

The captured app finds credentials where it would on EC2 or ECS: the proxy answers
169.254.169.254 and 169.254.170.2. With a role configured for the service the
credentials come from the emulator's STS (AssumeRole), else the emulator's test ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import secrets
import socket
import ssl
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from kecs.proxy import taskmeta
from kecs.proxy.taskmeta import TaskInfo

LOG = logging.getLogger("kecs.proxy")
RETRY_AFTER = datetime.timedelta(seconds=15)
MAX_TOKEN_TTL = 21600  # seconds, as EC2's IMDS allows
MAX_TOKENS = 10_000
READ_TIMEOUT = 30.0  # a metadata client that stalls mid-request is dropped
ACCOUNT = "000000000000"  # the emulators' default account


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    token: str
    expiration: datetime.datetime
    role_arn: str


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class CredentialSource:
    service: str
    region: str
    emulator_url: str
    role: str | None = None
    _cached: Credentials | None = field(default=None, repr=False)
    _retry_at: datetime.datetime | None = field(default=None, repr=False)  # after a failed AssumeRole

    @property
    def role_name(self) -> str:
        return self.role or f"kecs-{self.service}"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{self.role_name}"

    def current(self) -> Credentials:
        """The role's credentials, cached until 5 minutes before they expire. When the
        emulator's STS fails, test credentials are served and AssumeRole is tried again
        after RETRY_AFTER (not an hour later)."""
        cached = self._cached
        now = _now()
        fresh_enough = cached is not None and cached.expiration - now > datetime.timedelta(minutes=5)
        if cached is not None and fresh_enough and (self._retry_at is None or now < self._retry_at):
            return cached
        fresh = self._assume_role() if self.role else None
        self._retry_at = None
        if fresh is None:
            if self.role:
                self._retry_at = now + RETRY_AFTER
            fresh = Credentials(
                "test", "test", "kecs-test-token", now + datetime.timedelta(hours=1), self.role_arn
            )
        self._cached = fresh
        return fresh

    def _assume_role(self) -> Credentials | None:
        """AssumeRole against the emulator's STS; the emulator does not check signatures."""
        body = urllib.parse.urlencode(
            {
                "Action": "AssumeRole",
                "Version": "2011-06-15",
                "RoleArn": self.role_arn,
                "RoleSessionName": f"kecs-{self.service}"[:64],
            }
        ).encode()
        date = _now().strftime("%Y%m%d")
        request = urllib.request.Request(
            self.emulator_url.rstrip("/") + "/",
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=test/{date}/{self.region}/sts/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        try:
            # The emulator's own self-signed certificate on the compose network (see http.py).
            context = ssl._create_unverified_context() if self.emulator_url.startswith("https:") else None
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                root = ET.fromstring(response.read())
        except (OSError, ET.ParseError) as exc:
            LOG.error(
                "AssumeRole %s at %s failed: %s; serving test credentials",
                self.role_arn,
                self.emulator_url,
                exc,
            )
            return None
        found = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        try:
            expiration = datetime.datetime.fromisoformat(found["Expiration"].replace("Z", "+00:00"))
            if expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=datetime.timezone.utc)
            return Credentials(
                found["AccessKeyId"],
                found["SecretAccessKey"],
                found["SessionToken"],
                expiration,
                self.role_arn,
            )
        except (KeyError, ValueError):
            LOG.error(
                "AssumeRole %s: unexpected answer from the emulator; serving test credentials", self.role_arn
            )
            return None


def _addresses() -> list[str]:
    """The namespace's address on its default route (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return [probe.getsockname()[0]]
    return []


def _netdev() -> str:
    try:
        with open("/proc/net/dev", encoding="ascii") as handle:
            return handle.read()
    except OSError:
        return ""


@dataclass
class MetadataService:
    source: CredentialSource
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    clock: Callable[[], float] = time.monotonic
    task: TaskInfo | None = None  # ECS task metadata v4, when the generated file gives it
    started: str = field(default_factory=lambda: _iso(_now()))

    def answer(self, method: bytes, target: bytes, headers: dict[bytes, bytes]) -> tuple[int, bytes, bytes]:
        """(status, content type, body) for one request. No I/O but the STS call behind `current`."""
        path = urllib.parse.urlsplit(target.decode("latin-1")).path
        if path == "/latest/api/token":
            return self._token(method, headers)
        if path.startswith("/latest/"):
            presented = headers.get(b"x-aws-ec2-metadata-token")
            if presented is not None:
                expiry = self.tokens.get(presented.decode("latin-1"))
                if expiry is None or expiry <= self.clock():
                    return 401, b"text/plain", b"invalid or expired token"
            return self._imds(path)
        if path.startswith("/v4/") and self.task is not None:
            status, document = taskmeta.answer(
                self.task, path, _addresses(), _netdev(), datetime.datetime.now(datetime.timezone.utc),
                os.cpu_count() or 1, self.started,
            )  # fmt: skip
            if document is None:
                return status, b"text/plain", b"not found"
            return status, b"application/json", json.dumps(document).encode()
        if path.startswith("/v2/credentials") or path.startswith("/v1/credentials"):
            creds = self.source.current()
            document = {
                "AccessKeyId": creds.access_key_id,
                "SecretAccessKey": creds.secret_access_key,
                "Token": creds.token,
                "Expiration": _iso(creds.expiration),
                "RoleArn": creds.role_arn,
            }
            return 200, b"application/json", json.dumps(document).encode()
        return 404, b"text/plain", b"not found"

    def _token(self, method: bytes, headers: dict[bytes, bytes]) -> tuple[int, bytes, bytes]:
        """IMDSv2's session token, as EC2 gives it: PUT only, a TTL of 1 to 21600 seconds,
        never to a request that went through a proxy (X-Forwarded-For)."""
        if method != b"PUT":
            return 405, b"text/plain", b"the token is requested with PUT"
        if b"x-forwarded-for" in headers:
            return 403, b"text/plain", b"forbidden: the token request carries X-Forwarded-For"
        raw = headers.get(b"x-aws-ec2-metadata-token-ttl-seconds")
        if raw is None:
            return 400, b"text/plain", b"missing x-aws-ec2-metadata-token-ttl-seconds"
        try:
            ttl = int(raw.decode("latin-1").strip())
        except ValueError:
            ttl = 0
        if not 1 <= ttl <= MAX_TOKEN_TTL:
            return 400, b"text/plain", f"the token TTL must be 1 to {MAX_TOKEN_TTL} seconds".encode()
        now = self.clock()
        for old in [t for t, expiry in self.tokens.items() if expiry <= now]:
            del self.tokens[old]  # expired ones go
        while len(self.tokens) >= MAX_TOKENS:
            del self.tokens[next(iter(self.tokens))]  # the oldest
        token = secrets.token_urlsafe(32)
        self.tokens[token] = now + ttl
        return 200, b"text/plain", token.encode()

    def _imds(self, path: str) -> tuple[int, bytes, bytes]:
        base = "/latest/meta-data/iam/security-credentials/"
        if path in (base, base.rstrip("/")):
            return 200, b"text/plain", self.source.role_name.encode()
        if path == base + self.source.role_name:
            creds = self.source.current()
            document = {
                "Code": "Success",
                "LastUpdated": _iso(_now()),
                "Type": "AWS-HMAC",
                "AccessKeyId": creds.access_key_id,
                "SecretAccessKey": creds.secret_access_key,
                "Token": creds.token,
                "Expiration": _iso(creds.expiration),
            }
            return 200, b"application/json", json.dumps(document).encode()
        if path == "/latest/meta-data/placement/region":
            return 200, b"text/plain", self.source.region.encode()
        if path == "/latest/dynamic/instance-identity/document":
            document = {"region": self.source.region, "accountId": ACCOUNT, "instanceId": "i-kecs"}
            return 200, b"application/json", json.dumps(document).encode()
        return 404, b"text/plain", b"not found"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)

        async def next_event() -> object:
            while True:
                event = conn.next_event()
                if event is not h11.NEED_DATA:
                    return event
                conn.receive_data(await asyncio.wait_for(reader.read(65536), READ_TIMEOUT))

        try:
            while True:
                request = await next_event()
                if not isinstance(request, h11.Request):
                    return
                while not isinstance(event := await next_event(), h11.EndOfMessage):
                    if isinstance(event, h11.ConnectionClosed):
                        return
                headers = {name.lower(): value for name, value in request.headers}
                # The STS call may block: off the event loop.
                try:
                    status, content_type, body = await asyncio.get_running_loop().run_in_executor(
                        None, self.answer, request.method, request.target, headers
                    )
                except Exception as exc:  # a bug here must not look like "no credentials"
                    LOG.exception("metadata request %s failed", request.target)
                    status, content_type, body = 500, b"text/plain", f"kecs proxy: {exc}".encode()
                response = h11.Response(
                    status_code=status,
                    headers=[(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
                )
                writer.write(conn.send(response) or b"")
                writer.write(conn.send(h11.Data(data=body)) or b"")
                writer.write(conn.send(h11.EndOfMessage()) or b"")
                await writer.drain()
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (h11.RemoteProtocolError, h11.LocalProtocolError, ConnectionError, asyncio.TimeoutError):
            return
        finally:
            writer.close()
