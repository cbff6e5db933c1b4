"""Benchmark: log delivery by kecs-telemetry against the emulator's own ingest (the floor).

Starts, with `kecs up`, a project of 20 services that each write LINES lines at once and a
probe that writes a timestamped line every half second, all with `x-kecs.logs: true`, on
LocalStack. Measures, in the same run:
  - throughput: lines per second from the first line written to the last one visible in
    CloudWatch Logs, against the same lines put straight into the emulator with
    PutLogEvents from a script inside its container (what the emulator can take at best);
  - latency: from the probe writing a line to it being visible (median, 90th percentile);
  - the forwarder's memory (VmRSS) with 20 services.

    .venv/bin/python bench/logs.py [--services 20] [--lines 5000]

Needs Docker and the test images (tools/local_images.py prints them; the e2e tests build them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e import images  # noqa: E402

COUNT = """
import json, sys, boto3
logs = boto3.client('logs', endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t')
total = 0
for group in sys.argv[1:]:
    try:
        streams = logs.describe_log_streams(logGroupName=group)['logStreams']
    except logs.exceptions.ResourceNotFoundException:
        continue
    for stream in streams:
        token = None
        while True:
            args = dict(logGroupName=group, logStreamName=stream['logStreamName'], startFromHead=True)
            if token:
                args['nextToken'] = token
            page = logs.get_log_events(**args)
            total += len(page['events'])
            if page['nextForwardToken'] == token:
                break
            token = page['nextForwardToken']
print(total)
"""
PROBE = """
import json, sys, boto3
logs = boto3.client('logs', endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t')
stream = logs.describe_log_streams(logGroupName=sys.argv[1])['logStreams'][0]['logStreamName']
events = logs.get_log_events(logGroupName=sys.argv[1], logStreamName=stream, startFromHead=True)['events']
print(json.dumps([[e['message'], e['ingestionTime']] for e in events[-50:]]))
"""
FLOOR = """
import sys, time, boto3
logs = boto3.client('logs', endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='t', aws_secret_access_key='t')
services, lines = int(sys.argv[1]), int(sys.argv[2])
logs.create_log_group(logGroupName='/floor')
start = time.time()
for s in range(services):
    logs.create_log_stream(logGroupName='/floor', logStreamName=f's{s}')
    now = int(time.time() * 1000)
    for b in range(0, lines, 10000):
        logs.put_log_events(logGroupName='/floor', logStreamName=f's{s}', logEvents=[
            {'timestamp': now, 'message': f'gen {s} line {i} ' + 'x' * 40} for i in range(b, min(b + 10000, lines))])
print(time.time() - start)
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--lines", type=int, default=5000)
    args = parser.parse_args()
    base, proxybase, localstack = (
        images.base_image(),
        images.proxy_base_image(),
        images.localstack_image(images.base_image()),
    )
    work = Path(tempfile.mkdtemp(prefix="kecs-bench-logs-"))
    name = work.name.replace("_", "").replace("-", "").lower()
    project = work / name
    project.mkdir()
    services = {
        "app": {"image": base, "command": ["sleep", "infinity"], "x-kecs": {"proxy": True}},
        "probe": {"image": base, "x-kecs": {"proxy": False, "logs": True},
                  "command": ["python3", "-c", "import time\nwhile True:\n    print(f'probe {time.time()}', flush=True)\n    time.sleep(0.5)"]},
    }  # fmt: skip
    for i in range(args.services):
        script = f"for i in $$(seq 1 {args.lines}); do echo gen {i} line $$i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done; exec sleep infinity"
        services[f"gen{i}"] = {
            "image": base,
            "command": ["sh", "-c", script],
            "x-kecs": {"proxy": False, "logs": True},
        }
    import yaml

    (project / "compose.yaml").write_text(yaml.safe_dump({"services": services}))
    env = {**os.environ, "KECS_PROXY_BASE": proxybase, "KECS_LOCALSTACK_IMAGE": localstack}
    kecs = [sys.executable, "-m", "kecs"]
    compose = ["docker-compose", "-f", "compose.kecs.yaml", "-p", name]
    total = args.services * args.lines
    groups = [f"/kecs/{name}/gen{i}" for i in range(args.services)]
    try:
        up_started = time.time()
        done = subprocess.run([*kecs, "up", str(project), "--detach", "-q", "--compose", "docker-compose", "-p", name],
                              env=env, capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
            return 1
        # The generators wrote their lines while the project started: take the first one's time.
        first = min(
            json.loads(
                subprocess.run(
                    ["docker", "inspect", "-f", "{{json .State.StartedAt}}", f"{name}_gen{i}_1"],
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for i in range(args.services)
        )
        from datetime import datetime

        started = datetime.fromisoformat(first[:26].rstrip("Z") + "+00:00").timestamp()
        delivered, visible_at = 0, time.time()
        deadline = time.time() + 900
        while time.time() < deadline:
            out = subprocess.run([*compose, "exec", "-T", "kecs-localstack", "python3", "-c", COUNT, *groups],
                                 cwd=project, capture_output=True, text=True)  # fmt: skip
            delivered = int(out.stdout.strip() or 0)
            visible_at = time.time()
            if delivered >= total:
                break
            time.sleep(1)
        seconds = visible_at - started
        rss = subprocess.run([*compose, "exec", "-T", "kecs-telemetry", "sh", "-c", "grep VmRSS /proc/1/status"],
                             cwd=project, capture_output=True, text=True).stdout.split()  # fmt: skip
        memory_mb = int(rss[1]) / 1024 if len(rss) > 1 else float("nan")
        time.sleep(10)
        out = subprocess.run([*compose, "exec", "-T", "kecs-localstack", "python3", "-c", PROBE, f"/kecs/{name}/probe"],
                             cwd=project, capture_output=True, text=True)  # fmt: skip
        latencies = [
            ingested / 1000 - float(message.split()[1])
            for message, ingested in json.loads(out.stdout or "[]")
        ]
        if not latencies:
            print(f"probe: {out.stdout[-500:]} {out.stderr[-1500:]}", file=sys.stderr)
        floor = subprocess.run([*compose, "exec", "-T", "kecs-localstack", "python3", "-c", FLOOR, str(args.services), str(args.lines)],
                               cwd=project, capture_output=True, text=True)  # fmt: skip
        floor_seconds = float(floor.stdout.strip() or "nan")
    finally:
        subprocess.run([*kecs, "down", str(project), "-v", "--compose", "docker-compose", "-p", name],
                       env=env, capture_output=True)  # fmt: skip
    rate, floor_rate = delivered / seconds, total / floor_seconds
    print(f"project up in {visible_at - up_started:.0f} s of the measured window")
    print(
        f"delivered {delivered:,} of {total:,} lines from {args.services} services in {seconds:.1f} s: {rate:,.0f} lines/s"
    )
    print(
        f"floor (PutLogEvents straight into the emulator): {floor_rate:,.0f} lines/s; kecs/floor = {rate / floor_rate:.2f}"
    )
    if latencies:
        latencies.sort()
        p90 = latencies[int(len(latencies) * 0.9) - 1]
        print(
            f"latency write -> visible: median {statistics.median(latencies):.2f} s, p90 {p90:.2f} s ({len(latencies)} lines)"
        )
    print(f"forwarder memory with {args.services + 1} services: {memory_mb:.0f} MB")
    return 0 if delivered >= total else 1


if __name__ == "__main__":
    sys.exit(main())
