"""Instance metadata (IMDSv2) and ECS container credentials, as the SDKs' default chain reads them.

The captured app finds credentials where it would on EC2 or ECS: the proxy answers
169.254.169.254 and 169.254.170.2. With a role configured for the service the
credentials come from the emulator's STS (AssumeRole), else the emulator's test ones.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import secrets
import ssl
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import h11

LOG = logging.getLogger("kecs.proxy")
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

    @property
    def role_name(self) -> str:
        return self.role or f"kecs-{self.service}"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{self.role_name}"

    def current(self) -> Credentials:
        cached = self._cached
        if cached is not None and cached.expiration - _now() > datetime.timedelta(minutes=5):
            return cached
        fresh = self._assume_role() if self.role else None
        if fresh is None:
            fresh = Credentials(
                "test", "test", "kecs-test-token", _now() + datetime.timedelta(hours=1), self.role_arn
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


@dataclass
class MetadataService:
    source: CredentialSource
    tokens: set[str] = field(default_factory=set)

    def answer(self, method: bytes, target: bytes, headers: dict[bytes, bytes]) -> tuple[int, bytes, bytes]:
        """(status, content type, body) for one request. No I/O but the STS call behind `current`."""
        path = urllib.parse.urlsplit(target.decode("latin-1")).path
        if path == "/latest/api/token":
            if method != b"PUT" or b"x-aws-ec2-metadata-token-ttl-seconds" not in headers:
                return 400, b"text/plain", b"missing x-aws-ec2-metadata-token-ttl-seconds"
            token = secrets.token_urlsafe(32)
            self.tokens.add(token)
            return 200, b"text/plain", token.encode()
        if path.startswith("/latest/"):
            presented = headers.get(b"x-aws-ec2-metadata-token")
            if presented is not None and presented.decode("latin-1") not in self.tokens:
                return 401, b"text/plain", b"invalid token"
            return self._imds(path)
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
                conn.receive_data(await reader.read(65536))

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
        except (h11.RemoteProtocolError, h11.LocalProtocolError, ConnectionError):
            return
        finally:
            writer.close()
