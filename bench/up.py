"""Benchmark: `kecs up` against plain `docker compose up` of the same project with AWS_ENDPOINT_URL.

The project: N boto3 apps (each lists buckets once it starts, then sleeps) and LocalStack.
The peer is what a user writes without kecs: the apps get AWS_ENDPOINT_URL and wait for
LocalStack's health check. kecs: the apps as they would run in AWS (no endpoint), and
`kecs up --detach` (scan, plan, proxy image present, emulator, warm-up, holders, proxies,
apps, health). Both are timed from the command's start until every app has printed its
first successful AWS answer; the images are built beforehand (not timed). Prints both
times, the difference (the goal: within +10 s) and the ratio.

    .venv/bin/python bench/up.py [--apps 3] [--compose docker-compose] [--load]

Needs root, Docker, docker-compose (or the v2 plugin) and debootstrap for the test images
(built once, cached by tag, as the end-to-end tests build them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e import images  # noqa: E402
from tests.e2e.harness import cpu_hog  # noqa: E402

# The endpoint is read by the code, as apps written for an emulator do (older SDKs, Debian's
# boto3 1.26 among them, ignore AWS_ENDPOINT_URL); unset under kecs.
APP = (
    "import boto3, os, time\n"
    "while True:\n"
    "    try:\n"
    "        boto3.client('s3', endpoint_url=os.environ.get('AWS_ENDPOINT_URL')).list_buckets()\n"
    "        print('aws ok', flush=True); break\n"
    "    except Exception as exc:\n"
    "        print('retry', type(exc).__name__, flush=True); time.sleep(0.2)\n"
    "time.sleep(10**6)\n"
)


def _project(directory: Path, apps: int, base: str, localstack: str, plain: bool) -> list[str]:
    services: dict[str, object] = {}
    names = [f"app{n}" for n in range(1, apps + 1)]
    for name in names:
        service: dict[str, object] = {"image": base, "command": ["python3", "-c", APP]}
        if plain:
            service["environment"] = {
                "AWS_ENDPOINT_URL": "http://localstack:4566", "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            }  # fmt: skip
            service["depends_on"] = {"localstack": {"condition": "service_healthy"}}
        else:
            service["x-kecs"] = {"proxy": True, "services": ["s3"]}
        services[name] = service
    if plain:
        services["localstack"] = {
            "image": localstack,
            "healthcheck": {
                "test": ["CMD", "curl", "-fsS", "http://localhost:4566/_localstack/health"],
                "interval": "2s", "timeout": "10s", "retries": 90,
            },
        }  # fmt: skip
    directory.mkdir(parents=True)
    (directory / "compose.yaml").write_text(json.dumps({"services": services}, indent=1))
    return names


def _plain(text: str) -> list[str]:
    """Log lines without the terminal escapes Compose v2 writes even with --no-color."""
    return [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line) for line in text.splitlines()]


def _all_printed(compose: list[str], directory: Path, names: list[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        logs = subprocess.run(
            [*compose, "logs", "--no-color", *names], cwd=directory, capture_output=True, text=True
        )
        if all(
            any(line.startswith(name) and "aws ok" in line for line in _plain(logs.stdout)) for name in names
        ):
            return
        time.sleep(0.25)
    raise SystemExit(f"not every app reached AWS in time:\n{logs.stdout[-3000:]}")


@contextlib.contextmanager
def _maybe(load: bool) -> Iterator[None]:
    if load:
        with cpu_hog():
            yield
    else:
        yield


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=3)
    parser.add_argument("--compose", default="docker-compose", help="'docker compose' or 'docker-compose'")
    parser.add_argument("--load", action="store_true", help="keep every core busy during both runs")
    args = parser.parse_args()
    base = images.base_image()
    localstack = images.localstack_image(base)
    proxybase = images.proxy_base_image()
    work = Path(tempfile.mkdtemp(prefix="kecs-bench-up-"))
    compose_cmd = args.compose.split()
    results: dict[str, float] = {}
    phases: dict[str, float] = {}
    try:
        # The proxy image exists before timing, as after a user's first `kecs up`.
        warm = work / "warm"
        names = _project(warm, 1, base, localstack, plain=False)
        subprocess.run(
            [sys.executable, "-m", "kecs", "compose", str(warm), "-q", "--proxy-base", proxybase], check=True
        )
        from kecs.images import proxy_tag

        if subprocess.run(
            ["docker", "image", "inspect", proxy_tag(proxybase)], capture_output=True
        ).returncode:
            subprocess.run(
                [sys.executable, "-m", "kecs", "up", str(warm), "--detach", "-q", "--proxy-base", proxybase,
                 "--localstack-image", localstack, "--compose", args.compose], check=True, capture_output=True,
            )  # fmt: skip
            subprocess.run(
                [sys.executable, "-m", "kecs", "down", str(warm), "-v", "--compose", args.compose], check=True
            )
        for kind in ("plain", "kecs"):
            directory = work / kind
            names = _project(directory, args.apps, base, localstack, plain=kind == "plain")
            project = ["-p", f"bench{kind}"]
            with _maybe(args.load):
                started = time.monotonic()
                if kind == "plain":
                    compose = [*compose_cmd, "-f", "compose.yaml", *project]
                    subprocess.run([*compose, "up", "-d"], cwd=directory, check=True, capture_output=True)
                else:
                    compose = [*compose_cmd, "-f", "compose.kecs.yaml", *project]
                    done = subprocess.run(
                        [sys.executable, "-m", "kecs", "up", str(directory), "--detach", "-q", "--format", "json",
                         "--proxy-base", proxybase, "--localstack-image", localstack, "--compose", args.compose,
                         *project],
                        check=True, capture_output=True, text=True,
                    )  # fmt: skip
                    phases = json.loads(done.stdout)["timings"]
                _all_printed(compose, directory, names, started + 900)
                results[kind] = time.monotonic() - started
            subprocess.run([*compose, "down", "-v", "-t", "2"], cwd=directory, capture_output=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plain, kecs = results["plain"], results["kecs"]
    print(f"{args.apps} apps + LocalStack{' (both cores busy)' if args.load else ''}, {args.compose}:")
    print(f"  plain compose up with AWS_ENDPOINT_URL: {plain:6.1f} s to every app's first AWS answer")
    print(f"  kecs up (no endpoint, captured):        {kecs:6.1f} s")
    print(f"  kecs - plain: {kecs - plain:+.1f} s (goal: within +10 s); ratio {kecs / plain:.2f}x")
    print("  kecs up's phases (s): " + ", ".join(f"{k} {v}" for k, v in phases.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
