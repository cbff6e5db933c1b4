"""The proxy in a real network namespace, with a real emulator outside it.

The client runs unprivileged inside the namespace with Debian's boto3 1.26 (which
ignores AWS_ENDPOINT_URL), no endpoint, no credentials and no name resolution for
AWS: everything it reaches, it reaches through the capture.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from kecs.tls import ensure_ca
from tests.conftest import require

pytestmark = pytest.mark.integration
SYSTEM_PYTHON = "/usr/bin/python3"


def have_system_boto3() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import boto3"], capture_output=True).returncode == 0


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Namespace:
    name: str
    host_ip: str  # the emulator's side of the link (excluded from capture)
    other_ip: str  # another host outside the namespace
    work: Path

    @property
    def scratch(self) -> Path:
        """Writable by the unprivileged client."""
        path = self.work / "scratch"
        path.mkdir(exist_ok=True)
        path.chmod(0o1777)
        return path  # world-readable: the client runs as nobody

    def run(
        self, *args: str, user: bool = True, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        prefix = ["ip", "netns", "exec", self.name]
        if user:
            prefix += ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        environment = {"PATH": "/usr/bin:/bin", "HOME": str(self.work), **(env or {})}
        return subprocess.run(
            [*prefix, "env", "-i", *(f"{k}={v}" for k, v in environment.items()), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture
def netns() -> Iterator[Namespace]:
    require(os.geteuid() == 0, "root (network namespaces and iptables)")
    for tool in ("ip", "iptables", "setpriv"):
        require(shutil.which(tool) is not None, f"{tool} (Debian packages iproute2, iptables, util-linux)")
    require(have_system_boto3(), "Debian's python3-boto3 (apt-get install python3-boto3)")
    name = f"kecs{uuid.uuid4().hex[:6]}"
    octet = int(name[-2:], 16) % 200 + 20
    host_ip, ns_ip = f"10.232.{octet}.1", f"10.232.{octet}.2"
    host_if, ns_if = f"{name}h", f"{name}n"
    work = Path(tempfile.mkdtemp(prefix="kecs-netns-"))
    work.chmod(0o755)
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", name)
        sh("ip", "addr", "add", f"{host_ip}/24", "dev", host_if)
        sh("ip", "addr", "add", f"10.232.{octet}.3/24", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        for command in (
            ["ip", "addr", "add", f"{ns_ip}/24", "dev", ns_if],
            ["ip", "link", "set", ns_if, "up"],
            ["ip", "link", "set", "lo", "up"],
            ["ip", "route", "add", "default", "via", host_ip],
        ):
            sh("ip", "netns", "exec", name, *command)
        resolv = Path("/etc/netns") / name
        resolv.mkdir(parents=True, exist_ok=True)
        # As in a container: the resolver is Docker's 127.0.0.11, and nothing answers there.
        (resolv / "resolv.conf").write_text("nameserver 127.0.0.11\n")
        yield Namespace(name, host_ip, f"10.232.{octet}.3", work)
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


class Moto:
    def __init__(self, host: str) -> None:
        self.host = host
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


ROOT = Path(__file__).resolve().parent.parent.parent
LOCALSTACK_PYTHON = Path(
    os.environ.get("KECS_LOCALSTACK_PYTHON", ROOT / ".venv-localstack" / "bin" / "python")
)


class LocalStack:
    """LocalStack as a plain process (docs/facts.md): S3, SQS, STS and IAM work offline."""

    def __init__(self, host: str, work: Path) -> None:
        self.host = host
        self.port = free_port()
        self.work = work
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "GATEWAY_LISTEN": f"{self.host}:{self.port}",
            "DNS_ADDRESS": "0",
            "LOCALSTACK_VOLUME_DIR": str(self.work / "localstack"),
            "SQS_ENDPOINT_STRATEGY": "dynamic",
            "SERVICES": "s3,sqs,sts,iam",
        }
        self.log = self.work / "localstack.log"
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                [str(LOCALSTACK_PYTHON), "-m", "localstack.runtime.main"],
                env=env,
                stdout=output,
                stderr=output,
            )
        import urllib.request

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_localstack/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"LocalStack did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


@pytest.fixture
def localstack(netns: Namespace) -> Iterator[LocalStack]:
    require(
        LOCALSTACK_PYTHON.exists(),
        f"LocalStack in {LOCALSTACK_PYTHON.parent.parent} (pip install -r tests/requirements-localstack.txt)",
    )
    server = LocalStack(netns.host_ip, netns.work)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def moto(netns: Namespace) -> Iterator[Moto]:
    try:
        import moto.server  # noqa: F401
    except ImportError:
        require(False, "moto[server] (pip install -e '.[dev]')")
    server = Moto(netns.host_ip)
    server.start()
    yield server
    server.stop()


@dataclass
class RunningProxy:
    process: subprocess.Popen[str]
    log: Path
    kecs_dir: Path

    def decisions(self) -> list[str]:
        return [
            line
            for line in self.log.read_text().splitlines()
            if ": terminate" in line or "passthrough" in line
        ]


def start_proxy(netns: Namespace, moto: Moto | LocalStack, *extra: str) -> RunningProxy:
    kecs_dir = netns.work / ".kecs"
    ensure_ca(str(kecs_dir), "netns-test")
    log = netns.work / f"proxy-{uuid.uuid4().hex[:6]}.log"
    args = [sys.executable, "-m", "kecs", "proxy", "--emulator-url", moto.url, "--kecs-dir", str(kecs_dir),
            "--dns-upstream", "none", *extra]  # fmt: skip
    with open(log, "w") as output:
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns.name, *args], stdout=output, stderr=subprocess.STDOUT, text=True
        )
    deadline = time.monotonic() + 30
    while True:
        check = subprocess.run(
            ["ip", "netns", "exec", netns.name, *args, "--check"], capture_output=True, text=True
        )
        if check.returncode == 0:
            return RunningProxy(process, log, kecs_dir)
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"proxy not ready: {check.stdout}\n{log.read_text()}")
        time.sleep(0.2)


def stop_proxy(netns: Namespace, running: RunningProxy) -> None:
    running.process.terminate()
    running.process.wait(15)
    rules = subprocess.run(
        ["ip", "netns", "exec", netns.name, "iptables", "-t", "nat", "-S"], capture_output=True, text=True
    )
    assert "KECS_OUTPUT" not in rules.stdout, "the capture must be removed on stop"


@pytest.fixture
def proxy(netns: Namespace, moto: Moto) -> Iterator[RunningProxy]:
    running = start_proxy(netns, moto)
    yield running
    stop_proxy(netns, running)


def serving_pid(running: RunningProxy) -> int:
    """The unprivileged child that serves (the root parent only holds the capture)."""
    children = Path(f"/proc/{running.process.pid}/task/{running.process.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def client(
    netns: Namespace, proxy: RunningProxy, code: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    script = netns.work / f"client-{uuid.uuid4().hex[:6]}.py"
    script.write_text(textwrap.dedent(code))
    script.chmod(0o644)
    return netns.run(
        SYSTEM_PYTHON,
        str(script),
        env={"AWS_CA_BUNDLE": str(proxy.kecs_dir / "trust" / "bundle.pem")},
        timeout=timeout,
    )


def test_unmodified_boto3_reaches_the_emulator(netns: Namespace, moto: Moto, proxy: RunningProxy) -> None:
    result = client(
        netns,
        proxy,
        """
        import boto3
        from botocore.config import Config

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="kecs-bucket")
        s3.put_object(Bucket="kecs-bucket", Key="hello.txt", Body=b"hi there")
        print("get", s3.get_object(Bucket="kecs-bucket", Key="hello.txt")["Body"].read().decode())
        path = boto3.client("s3", region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
        print("list", [o["Key"] for o in path.list_objects_v2(Bucket="kecs-bucket")["Contents"]])
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="orders")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="order-1")
        print("recv", [m["Body"] for m in sqs.receive_message(QueueUrl=url).get("Messages", [])])
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        table = ddb.create_table(
            TableName="users",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table.put_item(Item={"id": "42", "name": "Ada"})
        print("item", table.get_item(Key={"id": "42"})["Item"]["name"])
        print("sts", boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"])
        """,
    )
    assert result.returncode == 0, result.stderr[-3000:] + proxy.log.read_text()[-2000:]
    assert result.stdout.splitlines() == [
        "get hi there",
        "list ['hello.txt']",
        "recv ['order-1']",
        "item Ada",
        "sts 123456789012",
    ]
    # The emulator's own state, read from outside the namespace.
    import boto3

    outside = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")  # fmt: skip
    assert outside.get_object(Bucket="kecs-bucket", Key="hello.txt")["Body"].read() == b"hi there"
    decisions = proxy.decisions()
    assert any("terminate TLS for kecs-bucket.s3.amazonaws.com" in d for d in decisions)
    assert any("terminate TLS for sqs.us-east-1.amazonaws.com" in d for d in decisions)
    assert not [d for d in decisions if "passthrough" in d], decisions  # nothing went to real AWS


def test_non_aws_tls_passes_through_untouched(netns: Namespace, proxy: RunningProxy) -> None:
    """A local HTTPS server sees the client's own handshake: its certificate, not a kecs one."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("local.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = netns.work / "local.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.chmod(0o644)
    keyfile = netns.work / "local.key"
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem, keyfile)
    seen: list[str] = []  # server names in the ClientHellos this server received
    context.sni_callback = lambda _tls, server_name, _ctx: seen.append(server_name)  # type: ignore[func-returns-value]
    server = socket.create_server((netns.other_ip, 443))

    def serve() -> None:
        conn, _ = server.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nlocal")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = client(
            netns,
            proxy,
            f"""
            import socket, ssl
            ctx = ssl.create_default_context(cafile="{pem}")
            with socket.create_connection(("{netns.other_ip}", 443), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="local.test") as tls:
                    tls.sendall(b"GET / HTTP/1.1\\r\\nHost: local.test\\r\\n\\r\\n")
                    answer = b""
                    while chunk := tls.recv(4096):
                        answer += chunk
                    print(answer.split(b"\\r\\n\\r\\n")[-1].decode())
            """,
        )
    finally:
        thread.join(10)
        server.close()
    assert result.returncode == 0, result.stderr + proxy.log.read_text()
    assert result.stdout.strip() == "local"  # verified against the server's own certificate
    assert seen == ["local.test"]
    assert any("passthrough TLS (sni=local.test)" in d for d in proxy.decisions()), proxy.log.read_text()


def test_emulator_down_then_back(netns: Namespace, moto: Moto, proxy: RunningProxy) -> None:
    moto.stop()
    code = """
        import boto3, botocore.exceptions
        s3 = boto3.client("s3", region_name="us-east-1",
                          config=boto3.session.Config(retries={"max_attempts": 1}))
        try:
            s3.list_buckets()
            print("unexpected success")
        except botocore.exceptions.ClientError as exc:
            print(exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"])
            print(exc.response["Error"]["Message"])
        """
    down = client(netns, proxy, code)
    assert down.returncode == 0, down.stderr
    lines = down.stdout.splitlines()
    assert lines[0] == "ServiceUnavailable 503"
    assert f"the AWS emulator at {moto.url} is not reachable" in lines[1]
    moto.start()
    back = client(
        netns,
        proxy,
        'import boto3\nprint(boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"])\n',
    )
    assert back.returncode == 0 and back.stdout.strip() == "[]", back.stderr


@pytest.mark.parametrize("sts_routed", [False, True])
def test_credentials_for_a_role_come_from_the_emulators_sts(
    netns: Namespace, moto: Moto, sts_routed: bool
) -> None:
    if sts_routed:  # the default emulator is down; STS (and so the role) is routed to moto
        dead = SimpleNamespace(url="http://127.0.0.1:9")
        running = start_proxy(
            netns, dead, "--role", "reader", "--service", "api", "--route", f"sts={moto.url}"
        )  # type: ignore[arg-type]
    else:
        running = start_proxy(netns, moto, "--role", "reader", "--service", "api")
    try:
        result = client(
            netns,
            running,
            'import boto3\nprint(boto3.client("sts", region_name="us-east-1").get_caller_identity()["Arn"])\n',
        )
    finally:
        stop_proxy(netns, running)
    assert result.returncode == 0, result.stderr[-2000:] + running.log.read_text()[-3000:]
    assert result.stdout.strip().endswith(":assumed-role/reader/kecs-api")


def test_large_objects_stream_both_ways(netns: Namespace, moto: Moto, proxy: RunningProxy) -> None:
    result = client(
        netns,
        proxy,
        f"""
        import hashlib, os, boto3
        path = "{netns.scratch}/big-" + str(os.getpid())
        with open(path, "wb") as handle:
            for _ in range(100):
                handle.write(os.urandom(1 << 20))
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="big")
        s3.upload_file(path, "big", "blob")  # multipart: 8 MiB parts
        s3.download_file("big", "blob", path + ".back")
        same = hashlib.sha256(open(path, "rb").read()).digest() == hashlib.sha256(open(path + ".back", "rb").read()).digest()
        print(s3.head_object(Bucket="big", Key="blob")["ContentLength"], same)
        os.remove(path); os.remove(path + ".back")
        """,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"{100 << 20} True"
    rss_kb = int(next(line for line in Path(f"/proc/{serving_pid(proxy)}/status").read_text().splitlines()
                      if line.startswith("VmHWM")).split()[1])  # fmt: skip
    assert rss_kb < 200 * 1024, f"proxy peak memory {rss_kb} kB"


def test_faults_concurrency_and_no_leaks(netns: Namespace, proxy: RunningProxy) -> None:
    pid = serving_pid(proxy)
    fds_before = len(os.listdir(f"/proc/{pid}/fd"))
    result = client(
        netns,
        proxy,
        """
        import os, socket, ssl, time
        from concurrent.futures import ThreadPoolExecutor

        # A stalled client, garbage bytes and a truncated ClientHello first: the proxy must live on.
        stalled = socket.create_connection(("s3.amazonaws.com", 443))
        garbage = socket.create_connection(("s3.amazonaws.com", 443))
        garbage.sendall(b"\\x00\\xffgarbage" * 100)
        truncated = socket.create_connection(("s3.amazonaws.com", 443))
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="s3.amazonaws.com")
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        truncated.sendall(outgoing.read()[:40])
        truncated.close()
        garbage.close()

        ctx = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])
        def one(i):
            with socket.create_connection(("s3.amazonaws.com", 443), timeout=60) as raw:
                with ctx.wrap_socket(raw, server_hostname="s3.amazonaws.com") as c:
                    c.sendall(b"GET / HTTP/1.1\\r\\nHost: s3.amazonaws.com\\r\\n"
                              b"Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                              b"SignedHeaders=host, Signature=0\\r\\nConnection: close\\r\\n\\r\\n")
                    data = b""
                    while chunk := c.recv(65536):
                        data += chunk
                    return data.split(b" ", 2)[1]
        with ThreadPoolExecutor(200) as pool:
            codes = list(pool.map(one, range(200)))
        print(codes.count(b"200"), len(codes))
        stalled.close()
        """,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:] + proxy.log.read_text()[-3000:]
    assert result.stdout.strip() == "200 200"
    deadline = time.monotonic() + 15
    while len(os.listdir(f"/proc/{pid}/fd")) > fds_before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(os.listdir(f"/proc/{pid}/fd")) <= fds_before + 2, "file descriptors leaked"
    assert proxy.process.poll() is None


def test_curl_with_the_trust_bundle(netns: Namespace, proxy: RunningProxy) -> None:
    require(shutil.which("curl") is not None, "curl (Debian package curl)")
    result = netns.run(
        "curl", "-sS", "--cacert", str(proxy.kecs_dir / "trust" / "bundle.pem"),
        "-H", "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "https://s3.amazonaws.com/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ListAllMyBucketsResult" in result.stdout


def test_localstack_boto3_and_the_aws_cli(netns: Namespace, localstack: LocalStack, moto: Moto) -> None:
    # LocalStack serves S3 and SQS; DynamoDB, which it cannot serve offline, is routed to moto.
    running = start_proxy(netns, localstack, "--route", f"dynamodb={moto.url}")
    try:
        sdk = client(
            netns,
            running,
            """
            import boto3
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket="ls-bucket")
            s3.put_object(Bucket="ls-bucket", Key="a.txt", Body=b"from boto3")
            print(s3.get_object(Bucket="ls-bucket", Key="a.txt")["Body"].read().decode())
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="ls-orders")["QueueUrl"]
            print(url)
            sqs.send_message(QueueUrl=url, MessageBody="order-7")
            print([m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])])
            ddb = boto3.client("dynamodb", region_name="us-east-1")
            ddb.create_table(
                TableName="routed", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
            )
            ddb.put_item(TableName="routed", Item={"id": {"S": "1"}, "by": {"S": "boto3"}})
            """,
        )
        assert sdk.returncode == 0, sdk.stderr[-3000:] + running.log.read_text()[-2000:]
        body, queue_url, received = sdk.stdout.splitlines()
        assert body == "from boto3" and received == "['order-7']"
        assert "://sqs.us-east-1.amazonaws.com/000000000000/ls-orders" in queue_url  # AWS-shaped, usable

        upload = netns.scratch / "cli.txt"
        upload.write_text("from the aws cli\n")
        upload.chmod(0o644)
        env = {
            "AWS_CA_BUNDLE": str(running.kecs_dir / "trust" / "bundle.pem"),
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        copied = netns.run("/usr/bin/aws", "s3", "cp", str(upload), "s3://ls-bucket/cli.txt", env=env)
        assert copied.returncode == 0, copied.stderr + running.log.read_text()[-2000:]
        sent = netns.run(
            "/usr/bin/aws",
            "sqs",
            "send-message",
            "--queue-url",
            queue_url,
            "--message-body",
            "from-cli",
            env=env,
        )
        assert sent.returncode == 0, sent.stderr
    finally:
        stop_proxy(netns, running)
    import boto3

    keys = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    outside = boto3.client("s3", endpoint_url=localstack.url, **keys)
    assert outside.get_object(Bucket="ls-bucket", Key="cli.txt")["Body"].read() == b"from the aws cli\n"
    queue = boto3.client("sqs", endpoint_url=localstack.url, **keys)
    url = queue.get_queue_url(QueueName="ls-orders")["QueueUrl"]
    bodies = [m["Body"] for m in queue.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])]
    assert bodies == ["from-cli"]
    table = boto3.client("dynamodb", endpoint_url=moto.url, **keys)
    assert table.get_item(TableName="routed", Key={"id": {"S": "1"}})["Item"]["by"] == {"S": "boto3"}
    assert "terminate TLS for dynamodb.us-east-1.amazonaws.com -> " + moto.url in "\n".join(
        running.decisions()
    )


def test_dns_over_udp_and_tcp_is_captured(netns: Namespace, proxy: RunningProxy) -> None:
    from dnslib import DNSRecord

    query = bytes(DNSRecord.question("dynamodb.eu-west-1.amazonaws.com").pack()).hex()
    result = client(
        netns,
        proxy,
        f"""
        import socket
        query = bytes.fromhex("{query}")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.settimeout(5)
        udp.sendto(query, ("127.0.0.11", 53))
        print(udp.recv(4096).hex())
        tcp = socket.create_connection(("127.0.0.11", 53), timeout=5)
        tcp.sendall(len(query).to_bytes(2, "big") + query)
        size = int.from_bytes(tcp.recv(2), "big")
        print(tcp.recv(size).hex())
        print(socket.gethostbyname("sts.amazonaws.com"))
        """,
    )
    assert result.returncode == 0, result.stderr
    udp, tcp, resolved = result.stdout.split()
    for reply in (udp, tcp):
        assert [str(rr.rdata) for rr in DNSRecord.parse(bytes.fromhex(reply)).rr] == ["198.18.0.1"]
    assert resolved == "198.18.0.1"  # the system resolver, through the capture
