"""End to end: `kecs compose`, then docker-compose up, and unmodified SDK calls land in the emulator.

Runs on the machine's real engine with no registry and no internet: every image is built
here, and AWS names resolve only through the proxy's DNS capture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.e2e import images

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent.parent


class Project:
    def __init__(self, directory: Path, name: str, base: str, go_base: str) -> None:
        self.directory = directory
        self.name = name
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "BASE_IMAGE": base,
            "GO_BASE_IMAGE": go_base,
            "HOME": str(directory),
        }

    def compose(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "-f", "compose.kecs.yaml", "-p", self.name, *args],
            cwd=self.directory, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service).stdout

    def wait_for(self, service: str, text: str, count: int = 1, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while True:
            logs = self.logs(service)
            if logs.count(text) >= count:
                return logs
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{service} did not print {text!r} x{count}:\n{logs[-3000:]}\n{self.logs('app-kecs-proxy')[-3000:]}"
                )
            time.sleep(1)


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    images.docker_available()
    base = images.base_image()
    return {
        "base": base,
        "go": images.go_build_image(),
        "proxy": images.proxy_image(base),
        "moto": images.moto_image(base),
        "localstack": images.localstack_image(base),
    }


@pytest.fixture
def seed(built: dict[str, str], tmp_path: Path) -> Iterator[Project]:
    directory = Path(shutil.copytree(ROOT / "examples" / "seed", tmp_path / "seed"))
    project = Project(directory, f"kecse2e{uuid.uuid4().hex[:6]}", built["base"], built["go"])
    generate = subprocess.run(
        # LocalStack by default, DynamoDB routed to moto by the example's x-kecs.routes; the
        # images are the locally built ones, given the way a user gives theirs.
        [sys.executable, "-m", "kecs", "compose", str(directory), "--format", "json",
         "--localstack-image", built["localstack"], "--moto-image", built["moto"],
         "--proxy-image", built["proxy"]],
        capture_output=True, text=True, env={**project.env, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        timeout=300,
    )  # fmt: skip
    assert generate.returncode == 0, generate.stderr
    report = json.loads(generate.stdout)
    # Valid for Compose v2 too, not only for the docker-compose 1.29 that runs it here.
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((directory / "compose.kecs.yaml").read_text()))
    assert report["emulator"]["service"] == "kecs-localstack"
    served = set(report["emulator"]["aws_services"])  # the cli image's gems add kms, say
    assert {"iam", "s3", "sqs", "sts"} <= served and "dynamodb" not in served
    assert [(e["service"], e["aws_services"]) for e in report["routed"]] == [("kecs-moto", ["dynamodb"])]
    plan = {s["name"]: s["captured"] for s in report["services"]}
    assert plan == {
        "app": True, "worker": True, "rubyapp": True, "cli": True, "tlsweb": False, "web": False, "prober": False,
    }  # fmt: skip
    try:
        yield project
    finally:
        down = project.compose("down", "-v", "--rmi", "local", "--timeout", "5")
        assert down.returncode == 0, down.stderr
        left = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project.name}"],
            capture_output=True,
            text=True,
        )
        networks = subprocess.run(
            ["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={project.name}"],
            capture_output=True,
            text=True,
        )
        volumes = subprocess.run(
            ["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project.name}"],
            capture_output=True,
            text=True,
        )
        assert left.stdout.strip() == networks.stdout.strip() == volumes.stdout.strip() == "", (
            "docker-compose down left things behind"
        )


def test_seed_scenario_offline(
    seed: Project, built: dict[str, str], record_property: Callable[[str, object], None]
) -> None:
    started = time.monotonic()
    up = seed.compose("up", "-d", "--build")
    assert up.returncode == 0, up.stderr[-3000:]
    logs = seed.wait_for("app", "done")
    images.TIMINGS["compose up to app done"] = time.monotonic() - started
    assert "buckets: [" in logs  # listed (the other apps may have made theirs by now)
    assert "user: Ada" in logs
    assert "received: ['{\"order\": 1}']" in logs
    assert "web: web ok" in logs  # a plain service, by name, through the proxy untouched
    assert "tlsweb: tlsweb ok" in logs  # HTTPS to it passes through: its own certificate verified
    assert "reached app" in seed.wait_for("prober", "reached app")  # the captured app, by name
    assert "ruby read: hello from ruby" in seed.wait_for("rubyapp", "ruby done")
    seed.wait_for("cli", "cli done")
    assert "go received: from-go" in seed.wait_for("worker", "go done")
    images.TIMINGS["compose up to all apps done"] = time.monotonic() - started

    # The emulators' state, read from outside the apps: S3 and SQS in LocalStack, the
    # DynamoDB table in moto.
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
        "print(boto3.client('s3', **kw).get_object(Bucket='shop-uploads', Key='greeting.txt')['Body'].read().decode().strip())\n"
        "s3 = boto3.client('s3', **kw)\n"
        "print(s3.get_object(Bucket='ruby-bucket', Key='hello.txt')['Body'].read().decode().replace(' ', '-'))\n"
        "print(s3.get_object(Bucket='cli-bucket', Key='f')['Body'].read().decode().strip())\n"
        "sqs = boto3.client('sqs', **kw)\n"
        "url = sqs.get_queue_url(QueueName='cli-queue')['QueueUrl']\n"
        "print([m['Body'] for m in sqs.receive_message(QueueUrl=url).get('Messages', [])])\n"
        "print(s3.get_object(Bucket='go-bucket', Key='order.json')['Body'].read().decode().replace(' ', ''))\n",
    )  # fmt: skip
    assert state.returncode == 0, state.stderr
    assert state.stdout.split() == [
        "hello",
        "from",
        "the",
        "app",
        "hello-from-ruby",
        "from-the-cli",
        "['from-cli']",
        '{"order":2}',
    ]

    # Restart the app: the proxy owns the namespace, so the capture is still there.
    assert seed.compose("restart", "-t", "2", "app").returncode == 0
    seed.wait_for("app", "done", count=2)

    decisions = [
        line
        for proxy in ("app", "worker", "rubyapp", "cli")
        for line in seed.logs(f"{proxy}-kecs-proxy").splitlines()
        if "terminate" in line or "passthrough" in line
    ]
    assert any(
        "terminate TLS for sqs.us-east-1.amazonaws.com -> http://kecs-localstack:4566" in line
        for line in decisions
    )
    assert any(
        "terminate TLS for dynamodb.us-east-1.amazonaws.com -> http://kecs-moto:5000" in line
        for line in decisions
    )
    assert any("passthrough TLS (sni=tlsweb)" in line for line in decisions)
    # No request went to a real AWS address: every AWS name was terminated, none spliced.
    assert not [line for line in decisions if "passthrough" in line and "amazonaws" in line], decisions
    # Shown in the run's summary (tests/conftest.py), with xdist too.
    record_property("timings", {k: round(v, 1) for k, v in images.TIMINGS.items()})
