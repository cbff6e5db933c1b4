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
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from kecs.contract import credentials_path
from kecs.proxy import taskmeta
from kecs.proxy.taskmeta import TaskInfo

LOG = logging.getLogger("kecs.proxy")
MAX_TOKEN_TTL = 21600  # seconds, as EC2's IMDS allows
MAX_TOKENS = 10_000
READ_TIMEOUT = 30.0  # a metadata client that stalls mid-request is dropped
ACCOUNT = "000000000000"  # the emulators' default account
# A role's credentials: fetched again this long before they expire (ECS rotates early too);
# each answer says they expire at most SERVED_LIFETIME from now, so SDKs come back often
# and never hold a credential past its real expiry.
ROTATE_BEFORE = datetime.timedelta(minutes=25)
SERVED_LIFETIME = datetime.timedelta(minutes=20)
STILL_USABLE = datetime.timedelta(minutes=1)  # older cached credentials are not served
# While no role credentials are held: how soon AssumeRole is tried again (doubling).
RETRY_FIRST, RETRY_MAX = 0.5, 5.0
WAIT_FOR_ROLE = 1.0  # seconds a request waits for them (SDKs give the endpoints ~2 s)


class CredentialsUnavailable(Exception):
    """A role is configured and its credentials are not (yet) to be had."""


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
    """The service's credentials. With a role they are only ever the role's: fetched by
    `refresh` (the proxy runs it in the background from its start), never replaced by
    test credentials when STS is slow or the role does not exist yet. Without one, the
    emulators' test credentials."""

    service: str
    region: str
    emulator_url: str
    role: str | None = None
    # The emulator's account, learnt from its STS (GetCallerIdentity with the test keys the
    # seeder uses): the role is assumed in the account the seeder created it in (moto's
    # default is not LocalStack's), so the app and the seeder see the same resources.
    account: str = ACCOUNT
    _account_known: bool = field(default=False, repr=False)
    _cached: Credentials | None = field(default=None, repr=False)
    _failure: str = field(default="not fetched yet", repr=False)
    _retry: float = field(default=RETRY_FIRST, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def role_name(self) -> str:
        return self.role or f"kecs-{self.service}"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name}"

    def refresh(self) -> float:
        """One step of the background fetch: AssumeRole when nothing usable is held or the
        held credentials are due for rotation. Returns the seconds until the next step."""
        if not self.role:
            return 3600.0
        now = _now()
        cached = self._cached
        if cached is not None and cached.expiration - now > ROTATE_BEFORE:
            return min(60.0, (cached.expiration - now - ROTATE_BEFORE).total_seconds())
        fresh: Credentials | None = None
        if not self._account_known:
            account, why = self._caller_account()
            if account is not None:
                self.account, self._account_known = account, True
        if self._account_known:
            fresh, why = self._assume_role()
        with self._changed:
            if fresh is not None:
                self._cached, self._failure, self._retry = fresh, "", RETRY_FIRST
                self._changed.notify_all()
                return 1.0
            self._failure = why
            delay, self._retry = self._retry, min(self._retry * 2, RETRY_MAX)
            return delay

    def current(self, wait: float = WAIT_FOR_ROLE) -> Credentials:
        """The credentials to hand out now, with their expiry as served. With a role and
        none held, waits up to `wait` seconds for `refresh`, then raises
        CredentialsUnavailable (the endpoints answer an error the SDK retries)."""
        now = _now()
        if not self.role:
            return Credentials("test", "test", "kecs-test-token", now + SERVED_LIFETIME, self.role_arn)
        deadline = time.monotonic() + wait
        with self._changed:
            while True:
                cached = self._cached
                if cached is not None and cached.expiration - _now() > STILL_USABLE:
                    served = min(cached.expiration, _now() + SERVED_LIFETIME)
                    return Credentials(
                        cached.access_key_id, cached.secret_access_key, cached.token, served, cached.role_arn
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CredentialsUnavailable(
                        f"the credentials of {self.role_arn} are not available yet ({self._failure})"
                    )
                self._changed.wait(left)

    def _sts(self, form: dict[str, str]) -> ET.Element:
        """One STS query-protocol call to the emulator, signed with its test keys (emulators
        do not check signatures); its XML answer."""
        body = urllib.parse.urlencode({**form, "Version": "2011-06-15"}).encode()
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
        # The emulator's own self-signed certificate on the compose network (see http.py).
        context = ssl._create_unverified_context() if self.emulator_url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return ET.fromstring(response.read())

    def _caller_account(self) -> tuple[str | None, str]:
        try:
            root = self._sts({"Action": "GetCallerIdentity"})
        except (OSError, ET.ParseError) as exc:
            why = f"GetCallerIdentity at {self.emulator_url} failed: {exc}"
            LOG.warning("%s; trying again", why)
            return None, why
        found = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        account = found.get("Account", "")
        if not (account.isdigit() and len(account) == 12):
            return None, "GetCallerIdentity: the emulator's answer names no account"
        return account, ""

    def _assume_role(self) -> tuple[Credentials | None, str]:
        """AssumeRole against the emulator's STS: the credentials, or None and why not."""
        try:
            root = self._sts(
                {
                    "Action": "AssumeRole",
                    "RoleArn": self.role_arn,
                    "RoleSessionName": f"kecs-{self.service}"[:64],
                }
            )
        except (OSError, ET.ParseError) as exc:
            why = f"AssumeRole at {self.emulator_url} failed: {exc}"
            LOG.warning("%s: %s; trying again", self.role_arn, why)
            return None, why
        found = {el.tag.rsplit("}", 1)[-1]: (el.text or "") for el in root.iter()}
        try:
            expiration = datetime.datetime.fromisoformat(found["Expiration"].replace("Z", "+00:00"))
            if expiration.tzinfo is None:
                expiration = expiration.replace(tzinfo=datetime.timezone.utc)
            credentials = Credentials(
                found["AccessKeyId"],
                found["SecretAccessKey"],
                found["SessionToken"],
                expiration,
                self.role_arn,
            )
        except (KeyError, ValueError):
            why = "AssumeRole: the emulator's answer has no credentials"
            LOG.warning("%s: %s; trying again", self.role_arn, why)
            return None, why
        LOG.info("%s: credentials until %s", self.role_arn, _iso(expiration))
        return credentials, ""


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
        """(status, content type, body) for one request. No I/O: credentials come from the
        source's cache (filled in the background). IMDS answers only with a session token
        (IMDSv2 alone, as hardened EC2 and ECS hosts are set); the ECS endpoint only at
        the relative URI the generated file gives the app."""
        path = urllib.parse.urlsplit(target.decode("latin-1")).path
        if path == "/latest/api/token":
            return self._token(method, headers)
        if path.startswith("/latest/"):
            presented = headers.get(b"x-aws-ec2-metadata-token")
            if presented is None:
                return 401, b"text/plain", b"IMDSv2 only: PUT /latest/api/token first"
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
        if path == credentials_path(self.source.service):
            try:
                creds = self.source.current()
            except CredentialsUnavailable as exc:
                body = json.dumps({"Code": "CredentialsUnavailable", "Message": str(exc)}).encode()
                return 503, b"application/json", body
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
            try:
                creds = self.source.current()
            except CredentialsUnavailable as exc:
                return 503, b"text/plain", str(exc).encode()
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
            document = {
                "region": self.source.region,
                "accountId": self.source.account,
                "instanceId": "i-kecs",
            }
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
