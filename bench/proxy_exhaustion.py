"""Benchmark: the proxy's memory and descriptors under idle and aborted connections, before
and after the exhaustion fixes, in one run.

Run as root (a network namespace and iptables). The same client, inside the namespace and
unprivileged, drives two builds of `kecs proxy`: this checkout ("after") and the tree of a
git revision ("before", default: the commit before the proxy learnt limits and timeouts).
For each: the serving process's VmRSS and open descriptors at rest, with 2,000 idle TLS
connections open (nofile 4096), after they close; then, under nofile=1024 as in the report
that found it, 2,000 aborted uploads (TLS, `PUT` with `Content-Length: 1048576`, 1,000
bytes, close), the descriptors left and whether a normal request is still served.

    sudo .venv/bin/python bench/proxy_exhaustion.py [--before REV] [--connections 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from proxy import HOST_IP, NS, rss_mb, setup_namespace, teardown_namespace, wait_port  # noqa: E402

from kecs.tls import ensure_ca  # noqa: E402

UPSTREAM_PORT = 4599
CLIENT = r"""
import json, socket, ssl, sys, time
mode, cafile, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile)
def connect():
    raw = socket.create_connection(("198.18.0.1", 443), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="s3.amazonaws.com")
def request():
    s = connect()
    s.sendall(b"GET /ok HTTP/1.1\r\nHost: s3.amazonaws.com\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return data.split(b" ")[1].decode() if data else "no answer"
if mode == "idle":
    held, failed = [], 0
    for _ in range(count):
        try:
            held.append(connect())
        except OSError:
            failed += 1
    print(json.dumps({"open": len(held), "failed": failed}), flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()
    print("closed", flush=True)
else:
    failed = streak = 0
    head = b"PUT /b/k HTTP/1.1\r\nHost: s3.amazonaws.com\r\nContent-Length: 1048576\r\n\r\n"
    for done in range(count):
        try:
            s = connect()
            s.sendall(head + b"x" * 1000)
            s.close()
            streak = 0
        except OSError:
            failed += 1
            streak += 1
            if streak == 5:  # the proxy no longer accepts: the rest would fail alike
                failed += count - done - 1
                break
    time.sleep(1)
    try:
        status = request()
    except OSError as exc:
        status = f"failed: {exc}"
    print(json.dumps({"failed": failed, "after": status}), flush=True)
"""


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def client(work: Path, mode: str, cafile: str, count: int) -> subprocess.Popen[str]:
    script = work / "client.py"
    script.write_text(CLIENT)
    script.chmod(0o644)
    return subprocess.Popen(
        ["ip", "netns", "exec", NS, "prlimit", "--nofile=8192", "setpriv", "--reuid=65534", "--regid=65534",
         "--clear-groups", "/usr/bin/python3", str(script), mode, cafile, str(count)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def start_proxy(tree: Path, kecs_dir: Path, nofile: int, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    with open(log, "a") as handle:
        proxy = subprocess.Popen(
            ["ip", "netns", "exec", NS, "prlimit", f"--nofile={nofile}", sys.executable, "-m", "kecs", "proxy",
             "--emulator-url", f"http://{HOST_IP}:{UPSTREAM_PORT}", "--kecs-dir", str(kecs_dir), "--dns-upstream", "none"],
            cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=subprocess.DEVNULL, stderr=handle,
        )  # fmt: skip
    wait_port("127.0.0.1", 15001, namespace=True)
    time.sleep(1)
    serving = int(Path(f"/proc/{proxy.pid}/task/{proxy.pid}/children").read_text().split()[0])
    return proxy, serving


def stop(proxy: subprocess.Popen[bytes]) -> None:
    proxy.terminate()
    try:
        proxy.wait(20)
    except subprocess.TimeoutExpired:
        proxy.kill()
        proxy.wait()


def measure(tree: Path, work: Path, kecs_dir: Path, cafile: str, count: int) -> dict[str, object]:
    out: dict[str, object] = {}
    log = work / f"{tree.name}.log"
    proxy, serving = start_proxy(tree, kecs_dir, 4096, log)
    try:
        out["rest_mb"], out["rest_fds"] = rss_mb(serving), fds(serving)
        idle = client(work, "idle", cafile, count)
        assert idle.stdout is not None and idle.stdin is not None
        opened = json.loads(idle.stdout.readline() or "{}")
        time.sleep(1)
        out["idle_open"] = opened.get("open", 0)
        out["idle_mb"], out["idle_fds"] = rss_mb(serving), fds(serving)
        idle.stdin.write("\n")
        idle.stdin.flush()
        idle.stdout.readline()
        idle.wait(60)
        time.sleep(6)  # the proxy hands freed memory back at most every 5 s
        out["closed_mb"], out["closed_fds"] = rss_mb(serving), fds(serving)
    finally:
        stop(proxy)
    proxy, serving = start_proxy(tree, kecs_dir, 1024, log)
    try:
        aborted = client(work, "abort", cafile, count)
        started = time.monotonic()
        stdout, stderr = aborted.communicate(timeout=1800)
        result = json.loads(stdout or "{}") if stdout.strip() else {"failed": count, "after": stderr[-200:]}
        out["aborted_s"] = time.monotonic() - started
        out["aborted_failed"] = result["failed"]
        out["aborted_fds"], out["aborted_mb"] = fds(serving), rss_mb(serving)
        out["served_after"] = result["after"]
    finally:
        stop(proxy)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="a159419^", help="git revision of the 'before' proxy")
    parser.add_argument("--connections", type=int, default=2000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: it creates a network namespace and iptables rules")
    work = Path(tempfile.mkdtemp(prefix="kecs-exhaust-"))
    work.chmod(0o755)
    before = work / "before"
    before.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.before, "kecs"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
    setup_namespace(work)
    server = ThreadingHTTPServer((HOST_IP, UPSTREAM_PORT), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kecs_dir = work / ".kecs"
        paths, _ = ensure_ca(str(kecs_dir), "bench")
        os.chmod(paths.bundle, 0o644)
        results = {
            "before": measure(before, work, kecs_dir, paths.bundle, args.connections),
            "after": measure(ROOT, work, kecs_dir, paths.bundle, args.connections),
        }
    except BaseException:
        for log in work.glob("*.log"):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        server.shutdown()
        teardown_namespace()
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        ("at rest: RSS MB", "rest_mb"), ("at rest: fds", "rest_fds"),
        (f"{args.connections} idle TLS: open", "idle_open"), (f"{args.connections} idle TLS: RSS MB", "idle_mb"),
        (f"{args.connections} idle TLS: fds", "idle_fds"), ("after they close: RSS MB", "closed_mb"),
        ("after they close: fds", "closed_fds"), (f"{args.connections} aborted uploads: seconds", "aborted_s"),
        ("aborted uploads refused", "aborted_failed"), ("after aborted uploads: fds", "aborted_fds"),
        ("after aborted uploads: RSS MB", "aborted_mb"), ("a normal request afterwards", "served_after"),
    ]  # fmt: skip
    print(f"{'':<36} {'before (' + args.before + ')':>22} {'after':>12}")
    for label, key in rows:
        values = [results[side][key] for side in ("before", "after")]
        shown = [f"{v:.0f}" if isinstance(v, float) else str(v) for v in values]
        print(f"{label:<36} {shown[0]:>22} {shown[1]:>12}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
