"""The proxy's protocol pieces, without namespaces: DNS answers, metadata, rules, HTTP forwarding."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import h11
import pytest
from dnslib import QTYPE, DNSRecord

from kecs.contract import credentials_path
from kecs.proxy.credentials import CredentialSource, MetadataService
from kecs.proxy.dns import AWS_ADDRESS, answer_locally, servfail
from kecs.proxy.http import forward
from kecs.proxy.netfilter import CHAIN, Capture
from kecs.proxy.routing import Routes, Upstream
from kecs.proxy.server import tracked


def test_dns_answers_aws_names_only() -> None:
    reply = DNSRecord.parse(answer_locally(bytes(DNSRecord.question("sqs.us-east-1.amazonaws.com").pack())))
    assert [str(rr.rdata) for rr in reply.rr] == [AWS_ADDRESS]
    aaaa = DNSRecord.parse(answer_locally(bytes(DNSRecord.question("s3.amazonaws.com", "AAAA").pack())))
    assert aaaa.rr == [] and aaaa.header.rcode == 0  # no IPv6 route to AWS
    assert answer_locally(bytes(DNSRecord.question("example.com").pack())) is None
    assert answer_locally(b"\x00garbage") is None
    failed = DNSRecord.parse(servfail(bytes(DNSRecord.question("example.com").pack())))
    assert failed.header.rcode == 2 and failed.q.qtype == QTYPE.A


def test_capture_rules_order() -> None:
    rules = Capture(proxy_uid=1337, proxy_port=15001, credentials_port=15002, dns_port=15053,
                    emulator_addresses=("172.18.0.5",)).rules()  # fmt: skip
    flat = [" ".join(r) for r in rules]
    assert flat[0] == f"-t nat -N {CHAIN}"
    assert "--uid-owner 1337 -j RETURN" in flat[1]  # the loop breaker comes first
    assert (
        "-d 127.0.0.11 --dport 53" in flat[2] and "-d 127.0.0.0/8 -j RETURN" in flat[4]
    )  # DNS before loopback
    assert "-d 172.18.0.5 -j RETURN" in flat[5]
    assert any("-d 169.254.169.254 --dport 80 -j REDIRECT --to-ports 15002" in f for f in flat)
    assert flat[-3].endswith("--dport 443 -j REDIRECT --to-ports 15001")
    assert flat[-1] == f"-t nat -I OUTPUT 1 -j {CHAIN}"


def test_imds_v2_flow_and_ecs() -> None:
    service = MetadataService(CredentialSource("api", "eu-west-1", "http://127.0.0.1:9"))
    status, _, token = service.answer(
        b"PUT", b"/latest/api/token", {b"x-aws-ec2-metadata-token-ttl-seconds": b"21600"}
    )
    assert status == 200 and len(token) > 20
    headers = {b"x-aws-ec2-metadata-token": token}
    status, _, role = service.answer(b"GET", b"/latest/meta-data/iam/security-credentials/", headers)
    assert (status, role) == (200, b"kecs-api")
    status, _, body = service.answer(b"GET", b"/latest/meta-data/iam/security-credentials/kecs-api", headers)
    document = json.loads(body)
    assert status == 200 and document["Code"] == "Success" and document["AccessKeyId"] == "test"
    assert service.answer(b"GET", b"/latest/meta-data/placement/region", headers)[2] == b"eu-west-1"
    assert (
        service.answer(
            b"GET", b"/latest/meta-data/iam/security-credentials/", {b"x-aws-ec2-metadata-token": b"forged"}
        )[0]
        == 401
    )
    assert service.answer(b"PUT", b"/latest/api/token", {})[0] == 400
    status, _, body = service.answer(b"GET", credentials_path("api").encode(), {})
    assert status == 200 and json.loads(body)["RoleArn"] == "arn:aws:iam::000000000000:role/kecs-api"


def test_imds_tokens_follow_ec2s_rules() -> None:
    now = [1000.0]
    service = MetadataService(
        CredentialSource("api", "eu-west-1", "http://127.0.0.1:9"), clock=lambda: now[0]
    )

    def put(ttl: bytes, **extra: bytes) -> tuple[int, bytes]:
        headers = {b"x-aws-ec2-metadata-token-ttl-seconds": ttl, **{k.encode(): v for k, v in extra.items()}}
        status, _, body = service.answer(b"PUT", b"/latest/api/token", headers)
        return status, body

    for bad in (b"0", b"21601", b"-5", b"abc", b""):
        assert put(bad)[0] == 400, bad
    assert put(b"60", **{"x-forwarded-for": b"10.0.0.1"})[0] == 403  # came through a proxy
    assert (
        service.answer(b"GET", b"/latest/api/token", {b"x-aws-ec2-metadata-token-ttl-seconds": b"60"})[0]
        == 405
    )
    status, token = put(b"60")
    assert status == 200
    path = b"/latest/meta-data/iam/security-credentials/"
    assert service.answer(b"GET", path, {b"x-aws-ec2-metadata-token": token})[0] == 200
    now[0] += 61  # expired
    assert service.answer(b"GET", path, {b"x-aws-ec2-metadata-token": token})[0] == 401
    put(b"1")
    assert token.decode() not in service.tokens  # pruned when the next one is made
    for _ in range(10_050):
        put(b"21600")
    assert len(service.tokens) <= 10_000  # bounded


class Emulator:
    """A tiny HTTP/1.1 server recording what reaches it (headers and bodies byte for byte)."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes, dict[bytes, bytes], bytes]] = []
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = h11.Connection(h11.SERVER)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request, body = event, b""
                headers = {k.lower(): v for k, v in event.headers}
                if headers.get(b"expect") == b"100-continue":
                    writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Data):
                        body += event.data
                    else:
                        break
                self.requests.append((request.method, request.target, headers, body))
                answer = b"got " + str(len(body)).encode()
                writer.write(
                    conn.send(
                        h11.Response(
                            status_code=200, headers=[(b"content-length", str(len(answer)).encode())]
                        )
                    )
                )
                writer.write(conn.send(h11.Data(data=answer)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                conn.start_next_cycle()
                continue
            writer.close()
            return


async def _through_forwarder(
    raw: bytes, emulator: Emulator | None, routed: dict[str, Emulator] | None = None
) -> bytes:
    servers = []

    async def upstream_for(target: Emulator | None) -> Upstream:
        if target is None:
            port = 9  # nothing listens on the discard port
        else:
            servers.append(await asyncio.start_server(target.handle, "127.0.0.1", 0))
            port = servers[-1].sockets[0].getsockname()[1]
        return Upstream("127.0.0.1", port, f"http://127.0.0.1:{port}")

    routes = Routes(
        await upstream_for(emulator),
        {key: await upstream_for(target) for key, target in (routed or {}).items()},
    )
    tasks: set[asyncio.Task[None]] = set()
    front = await asyncio.start_server(
        tracked(lambda r, w: forward(r, w, routes, "test"), tasks), "127.0.0.1", 0
    )
    reader, writer = await asyncio.open_connection(*front.sockets[0].getsockname()[:2])
    writer.write(raw)
    await writer.drain()
    writer.write_eof()
    answer = await asyncio.wait_for(reader.read(), 10)
    front.close()
    for server in servers:
        server.close()
    return answer


def test_forwarding_keeps_requests_intact_over_keep_alive() -> None:
    emulator = Emulator()
    raw = (
        b"PUT /bucket/key HTTP/1.1\r\nHost: bucket.s3-eu-west-1.amazonaws.com\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/s3/aws4_request, Signature=abc\r\n"
        b"X-Amz-Content-Sha256: UNSIGNED-PAYLOAD\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        b"POST / HTTP/1.1\r\nHost: sqs.us-east-1.amazonaws.com\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"
        b"GET /x HTTP/1.1\r\nHost: sqs.us-east-1.amazonaws.com\r\n\r\n"
    )
    answer = asyncio.run(_through_forwarder(raw, emulator))
    assert answer.count(b"HTTP/1.1 200") == 3 and b"HTTP/1.1 100" in answer
    assert emulator.connections == 1  # one upstream connection, kept alive
    (m1, t1, h1, b1), (m2, _, h2, b2), (m3, t3, _, b3) = emulator.requests
    assert (m1, t1, b1) == (b"PUT", b"/bucket/key", b"hello world")
    assert h1[b"host"] == b"bucket.s3.eu-west-1.amazonaws.com"  # the legacy dash form, rewritten
    assert h1[b"authorization"].endswith(b"Signature=abc")  # untouched
    assert (m2, b2, h2[b"host"]) == (b"POST", b"body", b"sqs.us-east-1.amazonaws.com")
    assert (m3, t3, b3) == (b"GET", b"/x", b"")


def test_each_request_goes_to_the_emulator_its_service_is_routed_to() -> None:
    localstack, moto = Emulator(), Emulator()
    scope = (
        b"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/%s/aws4_request, Signature=s\r\n"
    )
    raw = (
        b"POST / HTTP/1.1\r\nHost: dynamodb.us-east-1.amazonaws.com\r\n" + scope % b"dynamodb"
        + b"Content-Length: 2\r\n\r\n{}"
        + b"GET /b/k HTTP/1.1\r\nHost: s3.amazonaws.com\r\n" + scope % b"s3" + b"\r\n"
        # presigned: the scope is in the query, and it wins over the host
        + b"GET /b/k?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request HTTP/1.1\r\n"
        b"Host: b.s3.us-east-1.amazonaws.com\r\n\r\n"
        # unsigned: the endpoint prefix of the host decides
        + b"GET /streams HTTP/1.1\r\nHost: streams.dynamodb.eu-west-1.amazonaws.com\r\n\r\n"
        + b"GET /anon HTTP/1.1\r\nHost: dynamodb.s3.amazonaws.com\r\n\r\n"  # a bucket named dynamodb
    )  # fmt: skip
    answer = asyncio.run(_through_forwarder(raw, localstack, {"dynamodb": moto}))
    assert answer.count(b"HTTP/1.1 200") == 5
    assert [(m, t) for m, t, _, _ in moto.requests] == [(b"POST", b"/"), (b"GET", b"/streams")]
    assert [t for _, t, _, _ in localstack.requests] == [
        b"/b/k",
        b"/b/k?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
        b"/anon",
    ]
    # The upstream connection is swapped only when the route changes.
    assert (moto.connections, localstack.connections) == (2, 2)


@pytest.mark.parametrize(
    ("request_head", "content_type", "snippet"),
    [
        (
            b"GET / HTTP/1.1\r\nHost: s3.amazonaws.com\r\n\r\n",
            b"text/xml",
            b"<Code>ServiceUnavailable</Code>",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: dynamodb.us-east-1.amazonaws.com\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            b"application/x-amz-json-1.0",
            b'"__type": "ServiceUnavailable"',
        ),
    ],
)
def test_emulator_down_is_an_aws_error(request_head: bytes, content_type: bytes, snippet: bytes) -> None:
    answer = asyncio.run(_through_forwarder(request_head, None))
    assert answer.startswith(b"HTTP/1.1 503 ")
    assert b"content-type: " + content_type in answer.lower()
    assert snippet in answer and b"http://127.0.0.1:9 is not reachable" in answer


def test_malformed_http_gets_a_400_and_only_that_connection_closes() -> None:
    answer = asyncio.run(_through_forwarder(b"\x00\x01 not http at all\r\n\r\n", Emulator()))
    assert answer.startswith(b"HTTP/1.1 400 ") and b"malformed request" in answer


def test_content_length_with_transfer_encoding_is_refused_not_forwarded() -> None:
    emulator = Emulator()
    raw = (
        b"POST / HTTP/1.1\r\nHost: sqs.us-east-1.amazonaws.com\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    answer = asyncio.run(_through_forwarder(raw, emulator))
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Content-Length and Transfer-Encoding" in answer
    assert emulator.requests == []  # nothing reached the emulator


def test_http_1_0_gets_an_answer() -> None:
    emulator = Emulator()
    answer = asyncio.run(_through_forwarder(b"GET /b HTTP/1.0\r\n\r\n", emulator))
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"got 0")
    [(method, target, headers, _)] = emulator.requests
    assert (method, target, headers[b"host"]) == (b"GET", b"/b", b"test")  # Host added for HTTP/1.1


async def _forwarding_to(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[tuple[str, int], Callable[[], None], set[asyncio.Task[None]]]:
    """A forwarder in front of an upstream served by `handler`: its address, how to close
    both, and the forwarder's connection tasks."""
    upstream_server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = upstream_server.sockets[0].getsockname()[1]
    routes = Routes(Upstream("127.0.0.1", port, f"http://127.0.0.1:{port}"))
    tasks: set[asyncio.Task[None]] = set()
    front = await asyncio.start_server(
        tracked(lambda r, w: forward(r, w, routes, "t"), tasks), "127.0.0.1", 0
    )

    def close() -> None:
        front.close()
        upstream_server.close()

    return front.sockets[0].getsockname()[:2], close, tasks


def test_stalled_clients_and_aborted_uploads_release_their_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kecs.proxy.http as http

    monkeypatch.setattr(http, "REQUEST_TIMEOUT", 0.5)
    monkeypatch.setattr(http, "BODY_STALL_TIMEOUT", 0.5)

    async def scenario() -> tuple[float, float, bool]:
        address, close, tasks = await _forwarding_to(Emulator().handle)
        loop = asyncio.get_running_loop()
        # 1. Connected, never a whole request: dropped after REQUEST_TIMEOUT.
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"GET / HT")
        started = loop.time()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        idle = loop.time() - started
        # 2. An upload that stops sending: the exchange ends, upstream included.
        reader, writer = await asyncio.open_connection(*address)
        writer.write(
            b"PUT /b/k HTTP/1.1\r\nHost: s3.amazonaws.com\r\nContent-Length: 1048576\r\n\r\n" + b"x" * 1000
        )
        started = loop.time()
        await asyncio.wait_for(reader.read(), 5)
        stalled = loop.time() - started
        # 3. An aborted upload (the client closes mid-body): released at once.
        reader, writer = await asyncio.open_connection(*address)
        writer.write(
            b"PUT /b/k HTTP/1.1\r\nHost: s3.amazonaws.com\r\nContent-Length: 1048576\r\n\r\n" + b"x" * 1000
        )
        await writer.drain()
        writer.close()
        for _ in range(40):
            await asyncio.sleep(0.05)
            if not tasks:
                break
        released = not tasks
        close()
        return idle, stalled, released

    idle, stalled, released = asyncio.run(scenario())
    assert 0.4 < idle < 3 and 0.4 < stalled < 3 and released


def test_dns_over_tcp_framing() -> None:
    from kecs.proxy.dns import serve_tcp

    async def exchange() -> list[str]:
        server = await asyncio.start_server(lambda r, w: serve_tcp(r, w, None), "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        answers = []
        for name in ("sts.amazonaws.com", "example.com"):  # two queries on one connection
            query = bytes(DNSRecord.question(name).pack())
            writer.write(len(query).to_bytes(2, "big") + query)
            size = int.from_bytes(await reader.readexactly(2), "big")
            reply = DNSRecord.parse(await reader.readexactly(size))
            answers.append(str(reply.rr[0].rdata) if reply.rr else f"rcode {reply.header.rcode}")
        writer.close()
        server.close()
        return answers

    assert asyncio.run(exchange()) == [AWS_ADDRESS, "rcode 2"]  # no upstream: SERVFAIL


def test_listing_matches_needs_the_jump_and_the_whole_chain() -> None:
    from kecs.proxy.netfilter import listing_matches

    capture = Capture(proxy_uid=1337, proxy_port=15001, credentials_port=15002, dns_port=15053)
    count = sum(1 for args in capture.rules() if args[2] == "-A")
    chain = [f"-A KECS_OUTPUT -p tcp -m tcp --dport {n} -j REDIRECT" for n in range(count)]
    whole = "\n".join(["-P OUTPUT ACCEPT", "-N KECS_OUTPUT", "-A OUTPUT -j KECS_OUTPUT", *chain])
    assert listing_matches(capture, whole)
    assert not listing_matches(capture, whole.replace("-A OUTPUT -j KECS_OUTPUT", ""))  # no jump
    assert not listing_matches(capture, "\n".join(["-A OUTPUT -j KECS_OUTPUT", *chain[1:]]))  # a rule gone
    assert not listing_matches(capture, "")
    # The holder's chain also lets its emulators' addresses through: more rules than the shape.
    extra = whole + "\n-A KECS_OUTPUT -d 172.18.0.2/32 -j RETURN"
    assert not listing_matches(capture, extra) and listing_matches(capture, extra, exact=False)


def test_state_files_publish_ready_and_why(tmp_path: Path) -> None:
    from kecs.proxy.server import SeenServices, StateFiles

    state = StateFiles(str(tmp_path / "state"))
    state.prepare(uid=os.getuid())
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["seen"]
    state.publish(True, "ready")
    assert (tmp_path / "state" / "ready").read_text() == "kecs proxy: ready\n"
    state.publish(False, "proxy listener on 127.0.0.1:15001 does not answer")
    assert not (tmp_path / "state" / "ready").exists()
    assert "does not answer" in (tmp_path / "state" / "status").read_text()
    seen = SeenServices(state.path("seen"))
    for name in ("sqs", "s3", "sqs"):
        seen(name)
    assert (tmp_path / "state" / "seen").read_text() == "sqs\ns3\n"
    # A restarted proxy starts clean: not ready until it has checked itself.
    state.publish(True, "ready")
    state.prepare(uid=os.getuid())
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["seen"]
    assert StateFiles(None).path("seen") is None


def test_accept_survives_running_out_of_descriptors_and_holds_a_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno
    import socket

    from kecs.proxy.server import Config, Proxy, _listener

    async def scenario() -> tuple[int, int, int]:
        proxy = Proxy(Config(emulator_url="http://127.0.0.1:9", capture="none"), leaves=None)  # type: ignore[arg-type]
        proxy.limit = 2
        listener = _listener(0)
        loop = asyncio.get_running_loop()
        real_accept = loop.sock_accept
        failures = [2]

        async def flaky_accept(sock: socket.socket) -> tuple[socket.socket, object]:
            if failures[0]:
                failures[0] -= 1
                raise OSError(errno.EMFILE, "Too many open files")
            return await real_accept(sock)

        monkeypatch.setattr(loop, "sock_accept", flaky_accept)
        # As if redirected by the capture: the handler waits for the client to speak.
        monkeypatch.setattr("kecs.proxy.server.original_destination", lambda sock: ("10.9.9.9", 443))
        task = asyncio.ensure_future(proxy.accept(listener))
        address = listener.getsockname()
        clients = [socket.create_connection(address) for _ in range(3)]  # they say nothing: held
        await asyncio.sleep(0.6)
        held = proxy.active  # the limit, though three wait
        clients[0].close()
        await asyncio.sleep(0.3)
        after_one_closed = proxy.active
        for client in clients[1:]:
            client.close()
        await asyncio.sleep(0.3)
        task.cancel()
        listener.close()
        return held, after_one_closed, failures[0]

    held, after, failures_left = asyncio.run(scenario())
    assert failures_left == 0  # it went on accepting after EMFILE
    assert held == 2 and after == 2  # the third was served once the first ended


def test_a_role_is_only_ever_served_its_own_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """STS slow or the role not seeded yet: the endpoints answer an error the SDK retries,
    never test (root) credentials under the role's name; once AssumeRole works the role's
    credentials come, with a short served expiry, and are rotated before they expire."""
    import datetime

    import kecs.proxy.credentials as credentials

    source = CredentialSource("api", "us-east-1", "http://127.0.0.1:9", role="reader")
    service = MetadataService(source)
    calls: list[int] = []
    answers: list[object] = [None]

    def assume() -> tuple[object, str]:
        calls.append(1)
        return answers[0], "" if answers[0] else "timed out"

    monkeypatch.setattr(source, "_assume_role", assume)
    monkeypatch.setattr(source, "_caller_account", lambda: ("000000000000", ""))
    now = [datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)]
    monkeypatch.setattr(credentials, "_now", lambda: now[0])
    ecs = credentials_path("api").encode()
    status, _, body = service.answer(b"GET", ecs, {})
    assert status == 503 and b"not available yet" in body and b"AccessKeyId" not in body
    assert source.refresh() == credentials.RETRY_FIRST and len(calls) == 1  # failed: soon again
    assert source.refresh() == 2 * credentials.RETRY_FIRST  # backing off, bounded
    status, _, body = service.answer(b"GET", ecs, {})
    assert status == 503 and b"timed out" in body
    token = service.answer(b"PUT", b"/latest/api/token", {b"x-aws-ec2-metadata-token-ttl-seconds": b"60"})[2]
    imds = b"/latest/meta-data/iam/security-credentials/reader"
    assert service.answer(b"GET", imds, {b"x-aws-ec2-metadata-token": token})[0] == 503
    answers[0] = credentials.Credentials(
        "ASIA", "s", "t", now[0] + datetime.timedelta(hours=1), source.role_arn
    )
    source.refresh()
    status, _, body = service.answer(b"GET", ecs, {})
    document = json.loads(body)
    assert status == 200 and document["AccessKeyId"] == "ASIA" and document["RoleArn"].endswith("role/reader")
    assert document["Expiration"] == "2026-01-01T00:20:00Z"  # served short: SDKs come back
    assert len(calls) == 3 and source.refresh() > 0 and len(calls) == 3  # fresh: not fetched again
    now[0] += datetime.timedelta(minutes=36)  # within ROTATE_BEFORE of the real expiry
    answers[0] = credentials.Credentials(
        "ASIB", "s", "t", now[0] + datetime.timedelta(hours=1), source.role_arn
    )
    source.refresh()
    assert json.loads(service.answer(b"GET", ecs, {})[2])["AccessKeyId"] == "ASIB"
    now[0] += datetime.timedelta(hours=2)  # nothing rotated it and it expired: an error, not stale keys
    answers[0] = None
    assert service.answer(b"GET", ecs, {})[0] == 503


def test_metadata_answers_only_imdsv2_and_the_apps_own_credentials_path() -> None:
    service = MetadataService(CredentialSource("api", "eu-west-1", "http://127.0.0.1:9"))
    for path in (b"/latest/meta-data/iam/security-credentials/", b"/latest/meta-data/iam/security-credentials/kecs-api",
                 b"/latest/meta-data/placement/region"):  # fmt: skip
        status, _, body = service.answer(b"GET", path, {})
        assert status == 401 and b"IMDSv2" in body, path  # IMDSv1: no token, no answer
    for path in (b"/v1/credentials", b"/v2/credentials", b"/v2/credentials/other", b"/v2/credentialsX",
                 b"/v2/credentials/api/x", b"/v3/credentials/api"):  # fmt: skip
        assert service.answer(b"GET", path, {})[0] == 404, path
    assert service.answer(b"GET", credentials_path("api").encode(), {})[0] == 200


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: s3.amazonaws.com\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\nHost: s3.amazonaws.com\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n", b"431"),
        (b"GET / HTTP/1.1\r\nHost: s3.amazonaws.com\r\n" + b"X-a: b\r\n" * 20_000 + b"\r\n", b"431"),
    ],
)
def test_an_oversized_request_head_is_answered_not_reset(raw: bytes, status: bytes) -> None:
    emulator = Emulator()
    answer = asyncio.run(_through_forwarder(raw, emulator))
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer[:100]
    assert emulator.requests == []


def test_a_trickled_body_is_cut_at_its_pace_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    import kecs.proxy.http as http

    monkeypatch.setattr(http, "BODY_GRACE", 0.6)
    monkeypatch.setattr(http, "BODY_MIN_RATE", 1000)

    async def scenario() -> float:
        address, close, _ = await _forwarding_to(Emulator().handle)
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"PUT /b/k HTTP/1.1\r\nHost: s3.amazonaws.com\r\nContent-Length: 100\r\n\r\n")
        loop = asyncio.get_running_loop()
        started = loop.time()
        closed = asyncio.ensure_future(reader.read())
        while not closed.done() and loop.time() - started < 10:
            writer.write(b"x")  # a byte every 0.1 s: never stalls, never keeps pace
            await asyncio.sleep(0.1)
        await asyncio.wait_for(closed, 5)
        close()
        return loop.time() - started

    elapsed = asyncio.run(scenario())
    assert 0.5 < elapsed < 3, elapsed


def test_a_silent_emulator_gets_the_client_a_504(monkeypatch: pytest.MonkeyPatch) -> None:
    import kecs.proxy.http as http

    monkeypatch.setattr(http, "UPSTREAM_TIMEOUT", 0.5)

    async def scenario() -> bytes:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            await asyncio.sleep(5)

        address, close, _ = await _forwarding_to(silent)
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"GET /b HTTP/1.1\r\nHost: s3.amazonaws.com\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 504 ") and b"<Code>GatewayTimeout</Code>" in answer


def test_side_listeners_have_their_own_limits_and_deadlines() -> None:
    """1,100 idle DNS-over-TCP clients: the 65th and later are closed on arrival, each
    idle one at its deadline; the proxy's own budget is untouched by them."""
    from kecs.proxy.dns import serve_tcp
    from kecs.proxy.server import bounded

    async def scenario() -> tuple[int, float, bytes]:
        handler = bounded(lambda r, w: serve_tcp(r, w, None), 64, 3.0, "DNS over TCP")
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        address = server.sockets[0].getsockname()[:2]
        idle = [await asyncio.open_connection(*address) for _ in range(100)]

        async def closed(reader: asyncio.StreamReader) -> bool:
            try:
                return await asyncio.wait_for(reader.read(), 0.5) == b""
            except asyncio.TimeoutError:
                return False

        refused = sum(await asyncio.gather(*(closed(r) for r, _ in idle)))
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(idle[0][0].read(), 5)  # an idle one, closed at its deadline
        waited = loop.time() - started
        reader, writer = await asyncio.open_connection(*address)  # room again: served
        query = bytes(DNSRecord.question("sts.amazonaws.com").pack())
        writer.write(len(query).to_bytes(2, "big") + query)
        size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 5), "big")
        reply = await reader.readexactly(size)
        for _, w in [*idle, (reader, writer)]:
            w.close()
        server.close()
        return refused, waited, reply

    refused, waited, reply = asyncio.run(scenario())
    assert refused == 36 and waited < 4
    assert str(DNSRecord.parse(reply).rr[0].rdata) == AWS_ADDRESS


def test_with_moto_the_app_and_the_seeder_land_in_one_account() -> None:
    """moto's default account is not LocalStack's 000000000000: the role is assumed in the
    account the emulator's STS names, so what the seeder made (with its test keys) is what
    the app sees with the role's credentials."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        seeder = boto3.client("ssm", region_name="us-east-1", endpoint_url=url,
                              aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
        seeder.put_parameter(Name="/app/secret", Value="seeded", Type="String")
        account = boto3.client("sts", region_name="us-east-1", endpoint_url=url, aws_access_key_id="test",
                               aws_secret_access_key="test").get_caller_identity()["Account"]  # fmt: skip
        source = CredentialSource("api", "us-east-1", url, role="api-task")
        source.refresh()
        creds = source.current()
        assert creds.role_arn == f"arn:aws:iam::{account}:role/api-task"
        app = boto3.client("ssm", region_name="us-east-1", endpoint_url=url, aws_access_key_id=creds.access_key_id,
                           aws_secret_access_key=creds.secret_access_key, aws_session_token=creds.token)  # fmt: skip
        assert app.get_parameter(Name="/app/secret")["Parameter"]["Value"] == "seeded"
    finally:
        server.stop()
