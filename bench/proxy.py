"""Benchmark: the kecs proxy against the emulator directly and against mitmproxy 11.

Run as root (network namespaces, iptables). In one run, inside a namespace whose client
runs unprivileged, against LocalStack (a plain process) outside it:
  - small requests (S3 ListBuckets): latency p50/p99 on one keep-alive connection and
    throughput with wrk (32 connections), direct to the emulator, through kecs, through
    mitmproxy in transparent mode (same iptables capture, an addon sends the requests to
    the emulator keeping their Host header);
  - large objects: a 256 MiB PUT and GET, direct and through kecs;
  - kecs proxy memory (VmRSS of the serving process): at rest, under 200 connections,
    and at the peak of a 1 GiB streamed upload.

    sudo .venv/bin/python bench/proxy.py [--mitmdump /path/to/mitmdump]

Needs wrk (Debian package wrk), Debian's python3 for the client, LocalStack in
.venv-localstack (tests/requirements-localstack.txt), and mitmproxy 11
(pip install "mitmproxy>=11,<12", e.g. in its own environment).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kecs.proxy.netfilter import Capture  # noqa: E402
from kecs.tls import ensure_ca  # noqa: E402

NS = "kecsbench"
HOST_IP, NS_IP = "10.233.7.1", "10.233.7.2"
CAPTURED = "198.18.0.1"  # where AWS names resolve inside the namespace
AUTH = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"

CLIENT = (
    r'''
import socket, ssl, sys, time, json
mode, host, port, sni, cafile, count, size = sys.argv[1:8]
port, count, size = int(port), int(count), int(size)
auth = "'''
    + AUTH
    + r""""
def connect():
    raw = socket.create_connection((host, port), timeout=60)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "tls":
        ctx = ssl.create_default_context(cafile=cafile)
        return ctx.wrap_socket(raw, server_hostname=sni)
    return raw
def read_response(sock, buffer):
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
    while len(rest) < length:
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("closed")
        rest += data
    return head.split(b" ")[1], rest[length:]
sock = connect()
if size == 0:
    latencies, buffer = [], b""
    request = f"GET / HTTP/1.1\r\nHost: {sni}\r\nAuthorization: {auth}\r\n\r\n".encode()
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(request)
        status, buffer = read_response(sock, buffer)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    print(json.dumps({"p50": latencies[len(latencies) // 2] * 1e3, "p99": latencies[int(len(latencies) * 0.99)] * 1e3}))
else:
    chunk = b"\0" * (1 << 20)
    head = (f"PUT /bench-bucket/big HTTP/1.1\r\nHost: {sni}\r\nAuthorization: {auth}\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    start = time.perf_counter()
    sock.sendall(head)
    for _ in range(size >> 20):
        sock.sendall(chunk)
    status, _ = read_response(sock, b"")
    put = time.perf_counter() - start
    start = time.perf_counter()
    sock.sendall(f"GET /bench-bucket/big HTTP/1.1\r\nHost: {sni}\r\nAuthorization: {auth}\r\n\r\n".encode())
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(1 << 20)
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
    got = len(rest)
    while got < length:
        got += len(sock.recv(1 << 20))
    get = time.perf_counter() - start
    print(json.dumps({"put_mbs": size / put / 2**20, "get_mbs": size / get / 2**20, "status": status.decode()}))
"""
)

ADDON = """
EMULATOR = ({host!r}, {port})
def request(flow):
    host_header = flow.request.host_header
    flow.request.scheme = "http"
    flow.request.host, flow.request.port = EMULATOR
    flow.request.host_header = host_header
"""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def setup_namespace(work: Path) -> None:
    teardown_namespace()
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", f"{NS}h", "type", "veth", "peer", "name", f"{NS}n")
    sh("ip", "link", "set", f"{NS}n", "netns", NS)
    sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", f"{NS}h")
    sh("ip", "link", "set", f"{NS}h", "up")
    for command in (["ip", "addr", "add", f"{NS_IP}/24", "dev", f"{NS}n"], ["ip", "link", "set", f"{NS}n", "up"],
                    ["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "via", HOST_IP]):  # fmt: skip
        sh("ip", "netns", "exec", NS, *command)
    etc = Path("/etc/netns") / NS
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "hosts").write_text(f"127.0.0.1 localhost\n{CAPTURED} s3.amazonaws.com\n")


def teardown_namespace() -> None:
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "link", "del", f"{NS}h", check=False)
    shutil.rmtree(Path("/etc/netns") / NS, ignore_errors=True)


def in_namespace(*args: str, user: bool = True, timeout: float = 900) -> str:
    prefix = ["ip", "netns", "exec", NS] + (
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if user else []
    )
    result = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args[:3])} failed: {result.stderr[-2000:]}")
    return result.stdout


def python_client(
    work: Path, mode: str, host: str, port: int, cafile: str, count: int = 0, size: int = 0
) -> dict[str, float]:
    script = work / "client.py"
    script.write_text(CLIENT)
    script.chmod(0o644)
    out = in_namespace(
        "/usr/bin/python3",
        str(script),
        mode,
        host,
        str(port),
        "s3.amazonaws.com",
        cafile,
        str(count),
        str(size),
    )
    return json.loads(out)


def wrk(url: str, connections: int, seconds: int = 10) -> float:
    out = in_namespace("wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", f"Authorization: {AUTH}", url)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_port(host: str, port: int, namespace: bool = False) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        probe = ["ip", "netns", "exec", NS] if namespace else []
        code = subprocess.run([*probe, sys.executable, "-c", f"import socket; socket.create_connection(('{host}', {port}), 1)"],
                              capture_output=True).returncode  # fmt: skip
        if code == 0:
            return
        time.sleep(0.2)
    sys.exit(f"{host}:{port} did not open")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mitmdump", default=shutil.which("mitmdump"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--localstack-python", type=Path, default=ROOT / ".venv-localstack" / "bin" / "python"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: it creates a network namespace and iptables rules")
    for tool in ("wrk", "setpriv"):
        if not shutil.which(tool):
            sys.exit(f"needs {tool}")
    work = Path(tempfile.mkdtemp(prefix="kecs-bench-"))
    work.chmod(0o755)
    setup_namespace(work)
    # LocalStack (keep-alive HTTP/1.1; moto's server closes every connection).
    moto_port = 4566
    moto = subprocess.Popen(
        [str(args.localstack_python), "-m", "localstack.runtime.main"],
        env={**os.environ, "GATEWAY_LISTEN": f"{HOST_IP}:{moto_port}", "DNS_ADDRESS": "0", "SERVICES": "s3",
             "LOCALSTACK_VOLUME_DIR": str(work / "localstack")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    processes = [moto]
    results: dict[str, dict[str, float]] = {}
    try:
        wait_port(HOST_IP, moto_port)
        time.sleep(5)  # LocalStack answers its port before its services are up
        emulator = f"http://{HOST_IP}:{moto_port}"
        in_namespace(
            "/usr/bin/curl", "-sS", "-X", "PUT", "-H", f"Authorization: {AUTH}", f"{emulator}/bench-bucket"
        )

        # 1. Direct to the emulator (plain HTTP, as the proxy talks to it).
        results["direct"] = python_client(work, "plain", HOST_IP, moto_port, "-", count=args.requests)
        results["direct"]["rps"] = wrk(f"{emulator}/", 32)
        results["direct"].update(python_client(work, "plain", HOST_IP, moto_port, "-", size=256 << 20))

        # 2. Through kecs.
        kecs_dir = work / ".kecs"
        paths, _ = ensure_ca(str(kecs_dir), "bench")
        level = os.environ.get("KECS_LOG_LEVEL", "WARNING")
        with open(work / "kecs.log", "w") as kecs_log:
            kecs = subprocess.Popen(
                ["ip", "netns", "exec", NS, sys.executable, "-m", "kecs", "proxy", "--emulator-url", emulator,
                 "--kecs-dir", str(kecs_dir), "--dns-upstream", "none"],
                stdout=subprocess.DEVNULL, stderr=kecs_log, env={**os.environ, "KECS_LOG_LEVEL": level},
            )  # fmt: skip
        processes.append(kecs)
        wait_port("127.0.0.1", 15001, namespace=True)
        time.sleep(1)
        serving = int(Path(f"/proc/{kecs.pid}/task/{kecs.pid}/children").read_text().split()[0])
        memory = {"rest_mb": rss_mb(serving)}
        results["kecs"] = python_client(work, "tls", CAPTURED, 443, paths.bundle, count=args.requests)
        sampler_stop = threading.Event()
        peak = [0.0]

        def sample() -> None:
            while not sampler_stop.is_set():
                peak[0] = max(peak[0], rss_mb(serving))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        results["kecs"]["rps"] = wrk("https://s3.amazonaws.com/", 32)
        wrk("https://s3.amazonaws.com/", 200, seconds=5)
        memory["200_connections_mb"] = peak[0]
        peak[0] = 0.0
        results["kecs"].update(python_client(work, "tls", CAPTURED, 443, paths.bundle, size=256 << 20))
        python_client(work, "tls", CAPTURED, 443, paths.bundle, size=1 << 30)
        memory["1gib_upload_peak_mb"] = peak[0]
        sampler_stop.set()
        kecs.terminate()
        kecs.wait(20)
        processes.remove(kecs)

        # 3. Through mitmproxy in transparent mode, captured by the same rules.
        if args.mitmdump:
            confdir = work / "mitm"
            confdir.mkdir()
            addon = work / "to_emulator.py"
            addon.write_text(textwrap.dedent(ADDON.format(host=HOST_IP, port=moto_port)))
            mitm = subprocess.Popen(["ip", "netns", "exec", NS, args.mitmdump, "--mode", "transparent", "--listen-host", "127.0.0.1",
                                     "--listen-port", "15101", "--set", f"confdir={confdir}", "--set", "connection_strategy=lazy", "-s", str(addon), "-q"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            processes.append(mitm)
            wait_port("127.0.0.1", 15101, namespace=True)
            # mitmdump runs as root here (its interpreter is not readable by others): exempt uid 0.
            capture = Capture(proxy_uid=0, proxy_port=15101, credentials_port=15102, dns_port=15103,
                              emulator_addresses=(HOST_IP,))  # fmt: skip
            subprocess.run(["ip", "netns", "exec", NS, sys.executable, "-c",
                            f"import sys; sys.path.insert(0, {str(ROOT)!r});"
                            "from kecs.proxy.netfilter import Capture, install;"
                            f"install(Capture({capture.proxy_uid}, {capture.proxy_port}, {capture.credentials_port}, "
                            f"{capture.dns_port}, {capture.emulator_addresses!r}))"], check=True)  # fmt: skip
            ca = confdir / "mitmproxy-ca-cert.pem"
            ca.chmod(0o644)
            confdir.chmod(0o755)
            results["mitmproxy"] = python_client(work, "tls", CAPTURED, 443, str(ca), count=args.requests)
            results["mitmproxy"]["rps"] = wrk("https://s3.amazonaws.com/", 32)
            subprocess.run(["ip", "netns", "exec", NS, sys.executable, "-c",
                            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from kecs.proxy.netfilter import remove; remove()"])  # fmt: skip
    except BaseException:
        if (work / "kecs.log").exists():
            print((work / "kecs.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        teardown_namespace()
        shutil.rmtree(work, ignore_errors=True)

    print(json.dumps({"results": results, "kecs_memory": memory}, indent=2))
    direct, kecs = results["direct"], results["kecs"]
    print(f"small requests p50: direct {direct['p50']:.2f} ms, kecs {kecs['p50']:.2f} ms "
          f"(added {kecs['p50'] - direct['p50']:.2f} ms)")  # fmt: skip
    print(f"throughput (wrk, 32 connections): direct {direct['rps']:.0f}/s, kecs {kecs['rps']:.0f}/s "
          f"({kecs['rps'] / direct['rps']:.2f} of direct)")  # fmt: skip
    if "mitmproxy" in results:
        mitm = results["mitmproxy"]
        print(
            f"mitmproxy: p50 {mitm['p50']:.2f} ms, {mitm['rps']:.0f}/s; kecs/mitmproxy request rate {kecs['rps'] / mitm['rps']:.2f}x"
        )
    print(f"256 MiB: PUT direct {direct['put_mbs']:.0f} MiB/s, kecs {kecs['put_mbs']:.0f} MiB/s ({kecs['put_mbs'] / direct['put_mbs']:.2f}); "
          f"GET direct {direct['get_mbs']:.0f} MiB/s, kecs {kecs['get_mbs']:.0f} MiB/s ({kecs['get_mbs'] / direct['get_mbs']:.2f})")  # fmt: skip
    print(f"kecs memory: rest {memory['rest_mb']:.0f} MB, 200 connections {memory['200_connections_mb']:.0f} MB, "
          f"1 GiB upload peak {memory['1gib_upload_peak_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
