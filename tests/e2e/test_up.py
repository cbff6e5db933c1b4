"""End to end: `kecs up` on the seed example, on a loaded machine, offline, then `kecs down -v`.

One running project serves every scenario here (one xdist group, module scope): the
unmodified SDK calls land in the emulators, queue URLs say https, `kecs status` shows
what each app called, a SIGKILLed proxy comes back without the app, and an emulator
restart is survived. Every image is built here (no registry), the proxy image by
`kecs up` itself from the installed package.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from kecs import contract
from kecs.compose.load import compose_schema
from tests.e2e import images
from tests.e2e.harness import ROOT, Project, cpu_hog

pytestmark = pytest.mark.integration  # one module, one worker (--dist loadfile): one shared project
CAPTURED = {"app", "worker", "rubyapp", "cli", "orders", "billing", "reports"}
# The seeded secrets' values (examples/seed/compose.yaml): never in a generated file or a log.
SECRET_VALUES = ("orders-db-pw", "k-123", "billing-db-pw")


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    images.docker_available()
    base = images.base_image()
    return {
        "base": base,
        "go": images.go_build_image(),
        "proxybase": images.proxy_base_image(),
        **images.emulator_images(base),
    }


@pytest.fixture(scope="module")
def seed(built: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project(
        ROOT / "examples" / "seed",
        tmp_path_factory.mktemp("seed"),
        "docker-compose",  # Debian's 1.29; the many-services test drives the v2 plugin
        {"BASE_IMAGE": built["base"], "GO_BASE_IMAGE": built["go"]},
    )
    # A service from an ECS task definition (a task definition names literal images and
    # absolute host paths: both are filled in for this machine's copy).
    taskdef = json.loads((project.directory / "ecs" / "reports-taskdef.json").read_text())
    taskdef["containerDefinitions"][0]["image"] = built["base"]
    taskdef["volumes"][0]["host"]["sourcePath"] = str(project.directory / "ecs")
    (project.directory / "ecs" / "reports-taskdef.json").write_text(json.dumps(taskdef))
    project.up_options = (
        "--proxy-base", built["proxybase"], "--localstack-image", built["localstack"],
        "--moto-image", built["moto"], "--task-definition", "ecs/reports-taskdef.json",
    )  # fmt: skip
    try:
        # Both cores busy throughout.
        images.TIMINGS["kecs up, loaded machine"] = project.up_loaded(*project.up_options)
        yield project
    finally:
        project.down()


def test_up_reports_every_service_ready(seed: Project) -> None:
    report = seed.up_report
    states = {s["name"]: s for s in report["services"]}
    assert set(states) == {
        "app",
        "worker",
        "rubyapp",
        "cli",
        "tlsweb",
        "web",
        "prober",
        "orders",
        "billing",
        "reports",
        "ticker",
        "kecs-localstack",
        "kecs-moto",
        "kecs-seed",
        "kecs-telemetry",
    }
    assert {n for n, s in states.items() if s["captured"]} == CAPTURED
    assert all(s["state"] == "running" for s in states.values()), states
    assert states["kecs-localstack"]["health"] == states["kecs-moto"]["health"] == "healthy"
    assert report["failure"] is None
    proxy = [i for i in report["images"] if i["what"] == "proxy"]
    assert proxy and proxy[0]["reference"].startswith("kecs-proxy:0.1.0-")
    # LocalStack loaded the services the apps use before they started.
    assert {"s3", "sqs", "kms"} <= set(report["warmed"]), report["warmed"]
    assert {report["warmed"][s] for s in ("s3", "sqs")} == {"200"}, report["warmed"]
    generated = yaml.safe_load((seed.directory / "compose.kecs.yaml").read_text())
    jsonschema.Draft7Validator(compose_schema()).validate(generated)
    size = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", proxy[0]["reference"]],
        capture_output=True,
        text=True,
    )
    images.TIMINGS["proxy image MB"] = int(size.stdout.strip() or 0) / 1e6
    # From the proxy container's start to its own check passing (the health check reads it).
    proxy_state = seed.inspect("app-kecs-proxy")
    logs = subprocess.run(
        ["docker", "logs", "-t", proxy_state["Id"]], capture_output=True, text=True
    ).stderr.splitlines()
    ready = next(line.split()[0] for line in logs if "health: ready" in line)
    images.TIMINGS["proxy start to ready (s)"] = _seconds(ready) - _seconds(proxy_state["State"]["StartedAt"])
    for key, value in report["timings"].items():
        images.TIMINGS[f"up: {key}"] = value


def _seconds(stamp: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds) as epoch seconds."""
    from datetime import datetime

    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")


def test_seed_scenario_offline(seed: Project, record_property: Callable[[str, object], None]) -> None:
    logs = seed.wait_for("app", "done")
    assert "buckets: [" in logs
    assert "user: Ada" in logs
    assert "received: ['{\"order\": 1}']" in logs
    assert "web: web ok" in logs  # a plain service, by name, through the proxy untouched
    assert "tlsweb: tlsweb ok" in logs  # HTTPS to it passes through: its own certificate verified
    assert "reached app" in seed.wait_for("prober", "reached app")  # the captured app, by name
    assert "ruby read: hello from ruby" in seed.wait_for("rubyapp", "ruby done")
    seed.wait_for("cli", "cli done")
    assert "go received: from-go" in seed.wait_for("worker", "go done")

    # The emulators' state, read from outside the apps.
    table = seed.compose(
        "exec", "-T", "kecs-moto", "python3", "-c",
        "import boto3\n"
        "kw = dict(endpoint_url='http://localhost:5000', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')\n"
        "print(boto3.resource('dynamodb', **kw).Table('users').get_item(Key={'id': '42'})['Item']['name'])\n",
    )  # fmt: skip
    assert (table.returncode, table.stdout.strip()) == (0, "Ada"), table.stderr
    state = seed.compose(
        "exec", "-T", "kecs-localstack", "python3", "-c",
        "import boto3\n"
        "kw = dict(endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n"
        "s3 = boto3.client('s3', **kw)\n"
        "print(s3.get_object(Bucket='shop-uploads', Key='greeting.txt')['Body'].read().decode().strip())\n"
        "print(s3.get_object(Bucket='ruby-bucket', Key='hello.txt')['Body'].read().decode().replace(' ', '-'))\n"
        "print(s3.get_object(Bucket='cli-bucket', Key='f')['Body'].read().decode().strip())\n"
        "sqs = boto3.client('sqs', **kw)\n"
        "url = sqs.get_queue_url(QueueName='cli-queue')['QueueUrl']\n"
        "print([m['Body'] for m in sqs.receive_message(QueueUrl=url).get('Messages', [])])\n"
        "print(s3.get_object(Bucket='go-bucket', Key='order.json')['Body'].read().decode().replace(' ', ''))\n",
    )  # fmt: skip
    assert state.returncode == 0, state.stderr
    assert state.stdout.split() == [
        "hello", "from", "the", "app", "hello-from-ruby", "from-the-cli", "['from-cli']", '{"order":2}',
    ]  # fmt: skip

    # Restart the app: the holder owns the namespace, so the capture is still there.
    assert seed.compose("restart", "-t", "2", "app").returncode == 0
    seed.wait_for("app", "done", count=2)

    decisions = [
        line
        for proxy in CAPTURED
        for line in seed.logs(f"{proxy}-kecs-proxy").splitlines()
        if "terminate" in line or "passthrough" in line
    ]
    assert any(
        "terminate TLS for sqs.us-east-1.amazonaws.com -> https://kecs-localstack:4566" in d
        for d in decisions
    )
    assert any(
        "terminate TLS for dynamodb.us-east-1.amazonaws.com -> http://kecs-moto:5000" in d for d in decisions
    )
    assert any("passthrough TLS (sni=tlsweb)" in line for line in decisions)
    # No request went to a real AWS address: every AWS name was terminated, none spliced.
    assert not [line for line in decisions if "passthrough" in line and "amazonaws" in line], decisions
    record_property("timings", {k: round(v, 1) for k, v in images.TIMINGS.items()})


def test_queue_urls_are_https_and_usable_as_given(seed: Project) -> None:
    """AWS returns https:// queue URLs; a client that posts to the URL itself must get there."""
    logs = seed.wait_for("app", "queue url:")
    line = next(x for x in logs.splitlines() if "queue url:" in x)
    url = line.split("queue url:", 1)[1].strip()
    assert url.startswith("https://sqs.us-east-1.amazonaws.com/"), line
    # Python's own HTTP client, no SDK: it posts where the URL says (verification on,
    # through the app's trust bundle), as SDKs that route by queue URL do.
    post = seed.compose(
        "exec", "-T", "app", "python3", "-c",
        "import sys, urllib.request, urllib.parse\n"
        "body = urllib.parse.urlencode({'Action': 'SendMessage', 'MessageBody': 'by-url', 'Version': '2012-11-05'}).encode()\n"
        "req = urllib.request.Request(sys.argv[1], data=body, headers={'Content-Type': 'application/x-www-form-urlencoded',\n"
        "    'Authorization': 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0'})\n"
        "print(urllib.request.urlopen(req, timeout=30).status)\n",
        url,
    )  # fmt: skip
    assert (post.returncode, post.stdout.strip()) == (0, "200"), post.stderr + seed.diagnose("app")


def test_status_shows_what_each_app_called(seed: Project) -> None:
    seed.wait_for("app", "done")
    seed.wait_for("worker", "go done")
    status = seed.kecs("status", str(seed.directory), "--format", "json", *seed.lifecycle_args(), timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    states = {s["name"]: s for s in json.loads(status.stdout)}
    assert {"s3", "sqs", "dynamodb"} <= set(states["app"]["aws_services"]), states["app"]
    assert {"s3", "sqs"} <= set(states["worker"]["aws_services"]), states["worker"]
    assert states["web"]["aws_services"] == [] and not states["web"]["captured"]
    table = seed.kecs("status", str(seed.directory), *seed.lifecycle_args(), timeout=120)
    assert "AWS calls so far" in table.stdout and "kecs-localstack" in table.stdout


STREAM = """
import json, sys, time
import boto3, botocore.config
call = sys.argv[1]
config = botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=10)
s3 = boto3.client("s3", config=config)
if call == "put":
    s3.create_bucket(Bucket="stream")
# Calls for argv[2] seconds from the first that succeeds (at most 3 minutes in all).
end, cap = None, time.time() + 180
while time.time() < (end or cap):
    started = time.time()
    try:
        if call == "put":
            s3.put_object(Bucket="stream", Key="k", Body=b"x")
        else:
            s3.list_buckets()
        result = "ok"
        end = end or time.time() + float(sys.argv[2])
    except Exception as exc:
        result = f"{type(exc).__name__}: {exc}"[:300]
    print(json.dumps([started, time.time(), result]), flush=True)
    time.sleep(0.2)
"""


class _Stream:
    """The app making one AWS call after another (STREAM) through `compose exec`, its
    lines read as they come: a disruption waits until calls succeed (on a loaded machine
    `exec`, Python and boto3 can take many seconds to get there)."""

    def __init__(self, seed: Project, call: str, seconds: float) -> None:
        self.process = subprocess.Popen(
            [*seed.compose_command.split(), "-f", "compose.kecs.yaml", "-p", seed.name, "exec", "-T", "app",
             "python3", "-c", STREAM, call, str(seconds)],
            cwd=seed.directory, env=seed.compose_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.rows: list[tuple[float, float, str]] = []
        self.first_ok = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("["):
                started, ended, result = json.loads(line)
                self.rows.append((float(started), float(ended), str(result)))
                if result == "ok":
                    self.first_ok.set()

    def wait_ok(self, then: float, timeout: float = 120) -> None:
        """Until a call has succeeded, then `then` seconds more."""
        if not self.first_ok.wait(timeout):
            self.process.kill()
            _, err = self.process.communicate()
            raise AssertionError(f"no call succeeded in {timeout:.0f} s: {self.rows[-5:]}\n{err[-2000:]}")
        time.sleep(then)

    def calls(self) -> list[tuple[float, float, str]]:
        """Each call the stream made: when it started, when it returned, and what it returned."""
        _, err = self.process.communicate(timeout=300)
        self.reader.join(10)
        assert self.rows, f"the stream printed nothing: {err[-2000:]}"
        return self.rows

    def results(self) -> list[tuple[float, str]]:
        return [(started, result) for started, _, result in self.calls()]


def test_a_killed_proxy_comes_back_and_the_app_recovers_alone(seed: Project) -> None:
    seed.wait_for("app", "done")
    app_before = seed.inspect("app")["State"]
    holder_pid = seed.inspect("app-kecs-net")["State"]["Pid"]
    with cpu_hog():  # a crash on a busy machine: both cores taken the whole time
        stream = _Stream(seed, "put", 30)
        stream.wait_ok(then=3)  # calls succeed before the crash
        proxy = seed.inspect("app-kecs-proxy")
        killed_at = time.time()
        os.kill(proxy["State"]["Pid"], signal.SIGKILL)
        # While the proxy is down the capture stays in the namespace: calls fail closed.
        rules = subprocess.run(
            ["nsenter", "-t", str(holder_pid), "-n", "iptables", "-t", "nat", "-S"],
            capture_output=True,
            text=True,
        )
        assert "-A OUTPUT -j KECS_OUTPUT" in rules.stdout, rules.stdout + rules.stderr
        calls = stream.calls()
    # A call in flight when the proxy died may be cut: it belongs to neither side.
    before = [r for _, ended, r in calls if ended < killed_at]
    after = [(t, r) for t, _, r in calls if t >= killed_at]
    assert before and all(r == "ok" for r in before[-5:]), before[-5:]
    recovered = [t for t, r in after if r == "ok"]
    assert recovered, f"no call succeeded after the kill:\n{after}\n{seed.diagnose('app')}"
    again = seed.inspect("app-kecs-proxy")
    restarted = _docker_time(again["State"]["StartedAt"]) - killed_at
    timeline = (
        f"Docker restarted the proxy {restarted:.1f} s after the kill; the first call succeeded after "
        f"{recovered[0] - killed_at:.1f} s\n{seed.diagnose('app')}"
    )
    # Restarting the container is Docker's (seconds when its daemon is busy building images);
    # from the restart on, serving again is kecs's.
    assert restarted < 60 and recovered[0] - killed_at - restarted < 10, timeline
    # What failed meanwhile failed at the proxy's door (refused or cut), never by going
    # out unproxied (a timeout, or a certificate the app does not trust).
    failed = [r for t, r in after if r != "ok"]
    for result in failed:
        assert "EndpointConnectionError" in result or "ConnectionClosedError" in result, failed
    app_after = seed.inspect("app")["State"]
    assert app_after["StartedAt"] == app_before["StartedAt"], "the app was restarted"
    assert again["RestartCount"] >= 1 and again["State"]["Running"]
    images.TIMINGS["proxy kill: first ok after (s)"] = recovered[0] - killed_at
    images.TIMINGS["proxy kill: Docker restarted it after (s)"] = restarted
    print(f"proxy kill, both cores busy: {timeline.splitlines()[0]}", file=sys.stderr)


def _docker_time(stamp: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as a Unix time."""
    import datetime

    whole, _, fraction = stamp.rstrip("Z").partition(".")
    moment = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() + float(f"0.{fraction or 0}")


def test_an_emulator_restart_gives_aws_errors_then_recovers(seed: Project) -> None:
    seed.wait_for("app", "done")
    app_before = seed.inspect("app")["State"]
    stream = _Stream(seed, "list", 60)
    stream.wait_ok(then=2)
    restarted_at = time.time()
    restart = seed.compose("restart", "-t", "2", "kecs-localstack", timeout=300)
    assert restart.returncode == 0, restart.stderr
    results = stream.results()
    after = [(t, r) for t, r in results if t >= restarted_at]
    unavailable = [r for t, r in after if "ServiceUnavailable" in r]
    assert unavailable, f"no AWS-shaped 503 while the emulator restarted:\n{after}"
    assert "kecs: the AWS emulator at https://kecs-localstack:4566 is not reachable" in unavailable[0]
    last_failure = max((t for t, r in after if r != "ok"), default=restarted_at)
    assert any(r == "ok" for t, r in after if t > last_failure), f"never recovered:\n{after[-10:]}"
    assert seed.inspect("app")["State"]["StartedAt"] == app_before["StartedAt"], "the app was restarted"
    print(f"emulator restart: {len(unavailable)} calls got 503", file=sys.stderr)


def _digest(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _ecs_report(seed: Project, service: str) -> dict[str, Any]:
    logs = seed.wait_for(service, "ecs report: ")
    line = next(line for line in logs.splitlines() if "ecs report: " in line)
    return json.loads(line.split("ecs report: ", 1)[1])  # type: ignore[no-any-return]


def test_ecs_services_start_with_seed_roles_and_secrets(seed: Project) -> None:
    seeded = seed.up_report["seeded"]
    assert any("ecs-assets" in line and "created" in line for line in seeded), seeded
    assert any("orders-task" in line and "created" in line for line in seeded), seeded
    orders, billing = _ecs_report(seed, "orders"), _ecs_report(seed, "billing")
    reports = _ecs_report(seed, "reports")  # started from ecs/reports-taskdef.json
    assert reports["secrets"] == {"DB_PASSWORD": _digest("orders-db-pw"), "MODE": _digest("local")}
    assert ":assumed-role/reports-task/" in reports["identity"], reports["identity"]
    assert reports["metadata"]["name"] == "reports" and reports["metadata"]["memory"] == 256
    assert reports["order"] == {"id": "o-1", "total": 42}
    assert orders["secrets"] == {
        "DB_PASSWORD": _digest("orders-db-pw"),
        "API_KEY": _digest("k-123"),
        "MODE": _digest("local"),
    }
    assert billing["secrets"] == {"DB_PASSWORD": _digest("billing-db-pw")}
    assert ":assumed-role/orders-task/" in orders["identity"], orders["identity"]
    assert ":assumed-role/billing-task/" in billing["identity"], billing["identity"]
    # ECS task metadata v4 from the proxy: the container, its task, real network counters.
    assert orders["metadata"]["name"] == "orders" and orders["metadata"]["family"] == "orders"
    assert orders["metadata"]["cluster"] == seed.name and orders["metadata"]["memory"] == 256
    assert billing["metadata"]["name"] == "billing" and billing["metadata"]["memory"] is None
    # Service discovery: orders.shop.local is orders' own address, Cloud Map lists it, and a
    # record billing created in a private hosted zone resolves.
    orders_address = seed.inspect("orders-kecs-net")["NetworkSettings"]["Networks"]
    addresses = {n["IPAddress"] for n in orders_address.values()}
    assert billing["orders_address"] in addresses, (billing, addresses)
    assert billing["discovered"] and set(billing["discovered"]) <= addresses, (
        f"{billing['discovered']} not in {addresses}\n{seed.diagnose(contract.SEED_SERVICE)}"
    )
    assert billing["zone_address"] == "10.9.8.7"
    for report in (orders, billing):
        assert report["metadata"]["addresses"] and report["metadata"]["received_bytes"] > 0
        assert report["objects"] == ["config/app.json", "static/index.html", "static/site.css"]
        assert report["config"] == {"feature": "on"}
        assert (report["dead_letter"], report["max_receive_count"]) == ("ecs-jobs-dlq", 4)
        assert report["order"] == {"id": "o-1", "total": 42}
    # Checked from outside: the roles exist in the emulator with their policies (an earlier
    # scenario may have restarted LocalStack: the seeder restores them within seconds).
    deadline = time.monotonic() + 90
    while True:
        roles = seed.compose(
            "exec", "-T", "kecs-localstack", "python3", "-c",
            "import boto3\n"
            "kw = dict(endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n"
            "iam = boto3.client('iam', **kw)\n"
            "print(iam.get_role(RoleName='orders-task')['Role']['AssumeRolePolicyDocument'])\n"
            "print(iam.list_role_policies(RoleName='orders-task')['PolicyNames'])\n",
        )  # fmt: skip
        if (roles.returncode == 0 and "read-assets" in roles.stdout) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert roles.returncode == 0, f"{roles.stderr}\n{seed.logs('kecs-seed')[-2000:]}"
    assert "ecs-tasks.amazonaws.com" in roles.stdout and "read-assets" in roles.stdout
    # No secret value in any file of the project, in kecs up's output or in kecs's containers' logs.
    for path in seed.directory.rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            text = path.read_bytes()
            assert not any(v.encode() in text for v in SECRET_VALUES if path.name != "compose.yaml"), path
    assert not any(v in json.dumps(seed.up_report) for v in SECRET_VALUES)
    for service in ("kecs-seed", "orders", "billing", "orders-kecs-proxy"):
        logs = seed.logs(service)
        assert not any(v in logs for v in SECRET_VALUES), service
    # Plain Compose without kecs up names the secret it cannot resolve.
    plain = subprocess.run(
        [*seed.compose_command.split(), "-f", "compose.kecs.yaml", "-p", seed.name, "config", "-q"],
        cwd=seed.directory, env=seed.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (
        plain.returncode != 0
        and "secret DB_PASSWORD of service orders is resolved by kecs up" in plain.stderr
    )


def test_the_seed_comes_back_after_an_emulator_restart(seed: Project) -> None:
    """LocalStack's free edition keeps no state across a restart: the seeder re-creates
    what went missing within seconds."""
    seed.wait_for("orders", "ecs report: ")
    check = (
        "import boto3\n"
        "kw = dict(endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n"
        "print(sorted(b['Name'] for b in boto3.client('s3', **kw).list_buckets()['Buckets']))\n"
        "print(boto3.client('ssm', **kw).get_parameter(Name='/ecs/mode')['Parameter']['Value'])\n"
    )
    restart = seed.compose("restart", "-t", "2", "kecs-localstack", timeout=300)
    assert restart.returncode == 0, restart.stderr
    deadline = time.monotonic() + 180
    while True:
        found = seed.compose("exec", "-T", "kecs-localstack", "python3", "-c", check, timeout=120)
        if found.returncode == 0 and "ecs-assets" in found.stdout and "local" in found.stdout:
            break
        if time.monotonic() > deadline:
            pytest.fail(
                f"the seed did not come back:\n{found.stdout}{found.stderr}\n{seed.logs('kecs-seed')[-3000:]}"
            )
        time.sleep(2)
    assert "restored" in seed.logs("kecs-seed") or "created" in seed.logs("kecs-seed")


LOG_EVENTS = """
import json, sys
import boto3
kw = dict(endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
logs = boto3.client('logs', **kw)
group = sys.argv[1]
out = []
try:
    for stream in logs.describe_log_streams(logGroupName=group)['logStreams']:
        token = None
        while True:
            args = dict(logGroupName=group, logStreamName=stream['logStreamName'], startFromHead=True)
            if token:
                args['nextToken'] = token
            page = logs.get_log_events(**args)
            out += [(stream['logStreamName'], e['message']) for e in page['events']]
            if page['nextForwardToken'] == token:
                break
            token = page['nextForwardToken']
except logs.exceptions.ResourceNotFoundException:
    pass
print(json.dumps(out))
"""


def _log_events(seed: Project, group: str, timeout: float = 180) -> list[tuple[str, str]]:
    """The group's events as the emulator has them; while a restarted emulator is not yet
    listening, asked again (a restart returns before LocalStack serves)."""
    deadline = time.monotonic() + timeout
    while True:
        done = seed.compose("exec", "-T", "kecs-localstack", "python3", "-c", LOG_EVENTS, group, timeout=120)
        if done.returncode == 0:
            return [tuple(e) for e in json.loads(done.stdout)]  # type: ignore[misc]
        starting = "Connection refused" in done.stderr or "is not running" in done.stderr
        assert starting and time.monotonic() < deadline, done.stderr[-3000:]
        time.sleep(2)


def _ticks(seed: Project, runs: int, timeout: float = 180) -> list[tuple[str, str]]:
    """Wait until the ticker's `runs` runs of 100 lines are all in the emulator; check
    each line once, in order, each run in its own stream."""
    group = f"/kecs/{seed.name}/ticker"
    deadline = time.monotonic() + timeout
    while True:
        events = _log_events(seed, group)
        if len(events) >= runs * 100 or time.monotonic() > deadline:
            break
        time.sleep(2)
    ticks = [message.split() for _, message in events]
    started = list(dict.fromkeys(t[1] for t in ticks))
    expected = [["tick", run, str(i)] for run in started for i in range(1, 101)]
    assert len(started) == runs and ticks == expected, (
        f"{len(events)} events for {runs} runs\n{seed.logs('kecs-telemetry')[-3000:]}"
    )
    # Each start of the container is a new ECS task: its own stream, holding its run alone.
    by_stream: dict[str, set[str]] = {}
    for stream, message in events:
        by_stream.setdefault(stream, set()).add(message.split()[1])
    assert len(by_stream) == runs and all(len(r) == 1 for r in by_stream.values()), by_stream
    assert all(stream.startswith("kecs/ticker/") for stream in by_stream)
    return events


def test_logs_reach_cloudwatch_once_and_in_order_across_restarts(seed: Project) -> None:
    """awslogs (orders) and x-kecs.logs (ticker) land in the emulator's CloudWatch Logs;
    every line once, in order, across a restart of the service, of the forwarder and of
    the emulator (which keeps nothing: the forwarder delivers the lost stream again)."""
    _ticks(seed, 1)
    deadline = time.monotonic() + 120
    while not any("ecs report:" in m for _, m in _log_events(seed, "/ecs/orders")):
        assert time.monotonic() < deadline, seed.logs("kecs-telemetry")[-3000:]
        time.sleep(2)
    assert all(s.startswith("ecs/orders/") for s, _ in _log_events(seed, "/ecs/orders"))
    assert seed.compose("restart", "-t", "1", "ticker").returncode == 0
    _ticks(seed, 2)
    assert seed.compose("restart", "-t", "1", "kecs-telemetry").returncode == 0
    assert seed.compose("restart", "-t", "1", "ticker").returncode == 0
    _ticks(seed, 3)
    assert seed.compose("restart", "-t", "2", "kecs-localstack").returncode == 0
    assert seed.compose("restart", "-t", "1", "ticker").returncode == 0
    _ticks(seed, 4, timeout=300)


METRICS = """
import datetime, json, sys
import boto3
kw = dict(endpoint_url='http://localhost:4566', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
cloudwatch = boto3.client('cloudwatch', **kw)
now = datetime.datetime.now(datetime.timezone.utc)
out = {}
for namespace, name in (('AWS/ECS', 'CPUUtilization'), ('AWS/ECS', 'MemoryUtilization'), ('ECS/ContainerInsights', 'NetworkRxBytes'), ('ECS/ContainerInsights', 'RestartCount')):
    for service in sys.argv[2:]:
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace, MetricName=name, StartTime=now - datetime.timedelta(minutes=30), EndTime=now,
            Period=60, Statistics=['SampleCount', 'Maximum'],
            Dimensions=[{'Name': 'ClusterName', 'Value': sys.argv[1]}, {'Name': 'ServiceName', 'Value': service}],
        )['Datapoints']
        # A datapoint counts its samples; one without SampleCount still shows the metric.
        out[f'{name}/{service}'] = sum(p.get('SampleCount') or ('Maximum' in p) for p in points)
print(json.dumps(out))
"""


def test_metrics_reach_cloudwatch_with_ecs_names(seed: Project) -> None:
    """x-kecs.metrics: every 10 s, each service's metrics under ECS's names and dimensions,
    as `aws cloudwatch get-metric-statistics` reads them."""
    deadline = time.monotonic() + 120
    while True:
        done = seed.compose(
            "exec", "-T", "kecs-localstack", "python3", "-c", METRICS, seed.name, "orders", "ticker", "app"
        )
        assert done.returncode == 0, done.stderr
        counts = json.loads(done.stdout)
        if all(counts.values()):
            break
        assert time.monotonic() < deadline, f"{counts}\n{seed.logs('kecs-telemetry')[-3000:]}"
        time.sleep(5)


def test_a_task_definitions_awslogs_configuration_is_used(seed: Project) -> None:
    """reports comes from ecs/reports-taskdef.json: its awslogs logConfiguration (group
    /ecs/reports, prefix ecs) is where its output lands, as on ECS."""
    deadline = time.monotonic() + 180
    while True:
        events = _log_events(seed, "/ecs/reports")
        if any("ecs report:" in message for _, message in events):
            break
        assert time.monotonic() < deadline, f"{events[-5:]}\n{seed.logs('kecs-telemetry')[-3000:]}"
        time.sleep(2)
    assert all(stream.startswith("ecs/reports/") for stream, _ in events), events[:3]


CREDENTIALS = """
import json, sys, time, urllib.request, urllib.error
def get(url, headers=None, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}, method=method), timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except Exception as e:
        return 0, type(e).__name__
imds = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
print(json.dumps({"v1": get(imds)[0], "other_path": get("http://169.254.170.2/v1/credentials")[0]}), flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    status, body = get("http://169.254.170.2/v2/credentials/orders")
    document = json.loads(body) if status == 200 else {}
    print(json.dumps([time.time(), status, document.get("RoleArn"), document.get("AccessKeyId")]), flush=True)
    time.sleep(0.1)
"""


def test_a_restarting_proxy_hands_out_the_roles_credentials_or_an_error_never_others(seed: Project) -> None:
    """While orders' proxy restarts on a busy machine (STS slow, the role not yet fetched),
    every credentials answer is the role's or an error the SDK retries: never the emulator's
    test (root) keys under the role's name. IMDSv1 and other paths get nothing."""
    seed.wait_for("orders", "ecs report: ")
    with cpu_hog():
        asking = subprocess.Popen(
            [*seed.compose_command.split(), "-f", "compose.kecs.yaml", "-p", seed.name, "exec", "-T", "orders",
             "python3", "-c", CREDENTIALS, "45"],
            cwd=seed.directory, env=seed.compose_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(8)
        restarted_at = time.time()
        restart = subprocess.run(["docker", "restart", "-t", "1", seed.inspect("orders-kecs-proxy")["Id"]],
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
        assert restart.returncode == 0, restart.stderr
        out, err = asking.communicate(timeout=300)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert lines, err[-2000:]
    first, answers = lines[0], lines[1:]
    assert first == {"v1": 401, "other_path": 404}, first
    served = [a for a in answers if a[1] == 200]
    assert served and all(
        arn.endswith(":role/orders-task") and key not in ("test", None) for _, _, arn, key in served
    ), served[:5]
    assert all(status in (200, 503, 0) for _, status, _, _ in answers), {a[1] for a in answers}
    after = [a for a in served if a[0] > restarted_at + 1]
    assert after, f"no credentials after the restart:\n{answers[-10:]}\n{seed.diagnose('orders')}"


SEEDED = """
import json, sys
import boto3
kw = dict(region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')
local = dict(kw, endpoint_url='http://localhost:4566')
s3, ssm = boto3.client('s3', **local), boto3.client('ssm', **local)
ddb = boto3.client('dynamodb', **dict(kw, endpoint_url='http://kecs-moto:5000'))
if sys.argv[1] == 'change':
    s3.put_object(Bucket='ecs-assets', Key='config/app.json', Body=b'{"feature": "changed by the app"}')
    ssm.put_parameter(Name='/ecs/mode', Value='changed-by-app', Type='String', Overwrite=True)
    ddb.put_item(TableName='ecs-orders', Item={'id': {'S': 'o-1'}, 'total': {'N': '99'}})
print(json.dumps({
    'object': s3.get_object(Bucket='ecs-assets', Key='config/app.json')['Body'].read().decode(),
    'parameter': ssm.get_parameter(Name='/ecs/mode')['Parameter']['Value'],
    'item': ddb.get_item(TableName='ecs-orders', Key={'id': {'S': 'o-1'}})['Item']['total']['N'],
}))
"""


def _seeded(seed: Project, action: str) -> dict[str, str]:
    done = seed.compose("exec", "-T", "kecs-localstack", "python3", "-c", SEEDED, action, timeout=300)
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n{seed.logs('kecs-seed')[-2000:]}"
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_second_up_leaves_what_the_apps_changed_and_reset_restores_it(seed: Project) -> None:
    """As an ECS deploy: a second `kecs up` (both cores busy) creates what is missing and
    leaves a table item, a seeded object and a parameter the apps changed; `kecs seed
    --reset` brings them back to the declaration."""
    seed.wait_for("orders", "ecs report: ")
    changed = {"object": '{"feature": "changed by the app"}', "parameter": "changed-by-app", "item": "99"}
    deadline = time.monotonic() + 120
    while True:  # an earlier scenario may have restarted LocalStack: the seeder restores first
        try:
            assert _seeded(seed, "change") == changed
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)
    seed.up_loaded(*seed.up_options)
    seeded = seed.up_report["seeded"]
    for name in ("ecs-assets", "/ecs/mode", "ecs-orders"):
        line = next(line for line in seeded if f" {name} " in f" {line} ")
        assert line.split()[-1] == "present" or " present" in line, seeded
    assert _seeded(seed, "read") == changed
    reset = seed.kecs("seed", "--reset", str(seed.directory), *seed.lifecycle_args(), timeout=600)
    assert reset.returncode == 0, reset.stderr + reset.stdout
    assert "updated" in reset.stdout, reset.stdout
    assert _seeded(seed, "read") == {"object": (seed.directory / "ecs" / "assets" / "app.json").read_text(),
                                     "parameter": "local", "item": "42"}  # fmt: skip
