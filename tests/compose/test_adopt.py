"""Projects that already run an emulator, shaped like the common public samples."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from kecs.cli import main
from kecs.compose import adopt
from kecs.compose.load import compose_schema
from tests.compose.conftest import MakeProject
from tests.conftest import require

SCHEMA = compose_schema()

FACTORY_APP = """
import boto3

def client_factory(service):
    return boto3.client(service)

ssm = client_factory("ssm")
sqs = client_factory("sqs")
s3 = boto3.client("s3")
"""

# A LocalStack sample: the emulator with a health check and the docker socket, an app
# pointed at it, a one-shot deploy step, a worker that waits for the deploy.
SAMPLE = """
services:
  localstack:
    container_name: "${LOCALSTACK_DOCKER_NAME:-localstack-main}"
    image: localstack/localstack:3.8
    ports: ["127.0.0.1:4566:4566", "127.0.0.1:4510-4559:4510-4559"]
    environment:
      - DEBUG=${DEBUG:-0}
    volumes:
      - "/var/run/docker.sock:/var/run/docker.sock"
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:4566/_localstack/health"]
      interval: 5s
  app:
    build: ./app
    ports: ["8080:8080"]
    environment:
      AWS_ENDPOINT_URL: http://localstack:4566
      AWS_ENDPOINT_URL_S3: http://localstack:4566
      AWS_ACCESS_KEY_ID: test
      QUEUE_NAME: orders
    depends_on:
      localstack: {condition: service_healthy}
      deploy: {condition: service_completed_successfully}
  deploy:
    build: ./deploy
    environment: [AWS_ENDPOINT_URL=http://localstack:4566]
    depends_on:
      localstack: {condition: service_healthy}
"""

# A fixed subnet, LocalStack's DNS as the app's resolver, localhost.localstack.cloud names.
FIXED_SUBNET = """
services:
  localstack:
    image: localstack/localstack
    networks:
      ls: {ipv4_address: 10.0.2.20}
  app:
    build: ./app
    dns: [10.0.2.20, 1.1.1.1]
    environment:
      - AWS_ENDPOINT_URL=http://localhost.localstack.cloud:4566
    networks:
      ls: {ipv4_address: 10.0.2.30}
networks:
  ls:
    ipam:
      config: [{subnet: 10.0.2.0/24}]
"""

# moto under another name, found as the target of the app's own endpoint variable.
MOTO = """
services:
  aws:
    image: motoserver/moto:5.0.0
    command: ["-H", "0.0.0.0", "-p", "3000"]
  app:
    build: ./app
    environment:
      S3_ENDPOINT_URL: http://aws:3000
      DATABASE_URL: postgres://db:5432/app
  db:
    image: postgres:16
"""


def _files(compose: str) -> dict[str, str]:
    return {
        "compose.yaml": compose,
        "app/app.py": FACTORY_APP,
        "app/Dockerfile": "FROM python:3.12-slim\nRUN pip install boto3\nCOPY . /app\n",
        "deploy/deploy.sh": "aws s3 mb s3://orders\n",
        "deploy/Dockerfile": "FROM amazon/aws-cli\nCOPY deploy.sh /\n",
    }


def _plan(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    assert main(["compose", str(root), "--format", "json", *extra]) == 0
    report = json.loads(capsys.readouterr().out)
    document = yaml.safe_load((root / "compose.kecs.yaml").read_text())
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    return report, document


def test_a_localstack_sample_is_adopted_not_doubled(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(_files(SAMPLE))
    report, document = _plan(root, capsys)
    services = document["services"]
    assert not any(name.startswith("kecs-") for name in services)  # no second emulator, no second :4566
    assert report["emulator"]["service"] == "localstack" and report["emulator"]["adopted"]
    assert report["emulator"]["url"] == "https://localstack:4566"
    assert "image localstack/localstack:3.8" in report["emulator"]["adopted_why"]
    plans = {s["name"]: s for s in report["services"]}
    assert not plans["localstack"]["captured"] and "AWS emulator" in plans["localstack"]["reason"]
    # The app's calls go through kecs: its endpoint overrides are gone and listed.
    assert plans["app"]["captured"]
    assert plans["app"]["removed"] == ["environment AWS_ENDPOINT_URL", "environment AWS_ENDPOINT_URL_S3"]
    env = services["app"]["environment"]
    assert "AWS_ENDPOINT_URL" not in env and "AWS_ENDPOINT_URL_S3" not in env
    assert env["QUEUE_NAME"] == "orders" and env["AWS_ACCESS_KEY_ID"] == "test"  # the rest as written
    # Its service_completed_successfully dependency stays; the proxy waits for LocalStack's check.
    assert services["app"]["depends_on"]["deploy"] == {"condition": "service_completed_successfully"}
    assert services["app-kecs-proxy"]["depends_on"]["localstack"] == {"condition": "service_healthy"}
    assert services["app-kecs-net"]["ports"] == ["8080:8080"]
    # The user's LocalStack gets what the capture needs, nothing else changes.
    localstack = services["localstack"]
    assert localstack["environment"] == ["DEBUG=${DEBUG:-0}", "SQS_ENDPOINT_STRATEGY=dynamic"]
    assert localstack["volumes"] == ["/var/run/docker.sock:/var/run/docker.sock"]
    # The client factory: ssm and sqs are not named at the call, so nothing is narrowed.
    assert plans["app"]["services_unknown"] and "SERVICES" not in str(localstack)
    assert any("service unknown" in n for n in report["notes"])


def test_asking_for_kecss_emulator_keeps_the_users_beside_it(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(_files(SAMPLE))
    report, document = _plan(root, capsys, "--emulator", "localstack")
    assert report["emulator"]["service"] == "kecs-localstack" and not report["emulator"]["adopted"]
    assert "localstack" in document["services"] and "kecs-localstack" in document["services"]
    assert any("keeps running beside" in n for n in report["notes"])


def test_fixed_subnet_and_dns_pointing_at_localstack(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(_files(FIXED_SUBNET))
    report, document = _plan(root, capsys)
    assert report["emulator"]["service"] == "localstack"
    plans = {s["name"]: s for s in report["services"]}
    assert plans["app"]["removed"] == ["environment AWS_ENDPOINT_URL", "dns 10.0.2.20"]
    holder = document["services"]["app-kecs-net"]
    assert holder["dns"] == ["1.1.1.1"]  # LocalStack's DNS no longer answers for the app
    assert holder["networks"] == {"ls": {"ipv4_address": "10.0.2.30", "aliases": ["app"]}}
    assert not any(e.startswith("AWS_ENDPOINT_URL") for e in document["services"]["app"]["environment"])


def test_moto_found_as_the_target_of_an_app_variable(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(_files(MOTO))
    report, document = _plan(root, capsys)
    assert report["emulator"]["service"] == "aws" and report["emulator"]["url"] == "http://aws:3000"
    assert not any(name.startswith("kecs-") for name in document["services"])
    # DATABASE_URL is not an AWS endpoint: db is not taken for an emulator.
    assert not next(s for s in report["services"] if s["name"] == "db")["captured"]
    # The app's own endpoint variable names the emulator: it would bypass the capture, so it
    # goes, and the plan lists it (x-kecs.keep_endpoint: true keeps it).
    assert "S3_ENDPOINT_URL" not in (document["services"]["app"].get("environment") or {})
    app = next(s for s in report["services"] if s["name"] == "app")
    assert "environment S3_ENDPOINT_URL" in app["removed"], app
    # moto has no health check here: the proxy waits for it to start.
    assert document["services"]["app-kecs-proxy"]["depends_on"]["aws"] == {"condition": "service_started"}


def test_endpoint_targets_and_removals_unit() -> None:
    services = {
        "ls": {"image": "localstack/localstack:4.14.0", "networks": {"n": {"ipv4_address": "10.1.0.5"}}},
        "api": {"environment": ["AWS_ENDPOINT_URL=http://ls:4566", "X=1"], "dns": "10.1.0.5"},
        "odd": {"environment": {"AWS_ENDPOINT_URL": "not a url"}},
    }
    assert adopt.endpoint_targets(services) == {"ls": ("api", "AWS_ENDPOINT_URL", 4566)}
    [found] = adopt.find_emulators(services)
    assert (found.service, found.kind, found.addresses) == ("ls", "localstack", ("10.1.0.5",))
    assert adopt.removals(services["api"], found) == ("environment AWS_ENDPOINT_URL", "dns 10.1.0.5")
    assert adopt.removals(services["api"], None) == ("environment AWS_ENDPOINT_URL",)


def test_keep_endpoint_keeps_them(make_project: MakeProject, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(
        _files(
            SAMPLE.replace("    build: ./app\n", "    build: ./app\n    x-kecs: {keep_endpoint: true}\n", 1)
        )
    )
    report, document = _plan(root, capsys)
    assert next(s for s in report["services"] if s["name"] == "app")["removed"] == []
    assert document["services"]["app"]["environment"]["AWS_ENDPOINT_URL"] == "http://localstack:4566"


def test_no_yaml_anchors_and_a_header_for_both_composes(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project(_files(SAMPLE))
    _plan(root, capsys, "--emulator", "localstack", "--route", "dynamodb=moto")
    text = (root / "compose.kecs.yaml").read_text()
    assert "&id" not in text and "*id" not in text
    assert (
        "docker compose -f" in text
        and "docker-compose -f" in text
        and "kecs up" in text.split("services:")[0]
    )


@pytest.mark.integration
@pytest.mark.parametrize("compose", [SAMPLE, FIXED_SUBNET, MOTO], ids=["sample", "fixed-subnet", "moto"])
def test_docker_compose_accepts_the_output(
    compose: str, make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = shutil.which("docker-compose")
    require(binary is not None, "docker-compose (Debian package docker-compose)")
    assert binary is not None
    root = make_project(_files(compose))
    _plan(root, capsys)
    result = subprocess.run(
        [binary, "-f", str(root / "compose.kecs.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_a_users_ministack_is_reached_as_they_run_it() -> None:
    """The registry's MiniStack record: adopted by image, reached over plain HTTP unless the
    user turned its TLS on; kecs adds nothing that changes how their other clients reach it."""
    plain = {
        "ministack": {"image": "ministackorg/ministack:1.5.33"},
        "api": {"environment": {"AWS_ENDPOINT_URL": "http://ministack:4566"}},
    }
    [found] = adopt.find_emulators(plain)
    assert (found.kind, adopt.url_of(found)) == ("ministack", "http://ministack:4566")
    tls = {**plain, "ministack": {"image": "ministackorg/ministack:1.5.33", "environment": ["USE_SSL=1"]}}
    [found] = adopt.find_emulators(tls)
    assert adopt.url_of(found) == "https://ministack:4566"
    unknown = {"aws": {"image": "acme/aws-fake"}, "api": {"environment": {"AWS_ENDPOINT_URL": "http://aws"}}}
    [found] = adopt.find_emulators(unknown)
    assert (found.kind, adopt.url_of(found)) == ("unknown", "http://aws:4566")
