"""Real projects, round 2: one minimal reproduction per class of wrong plan seen on public
LocalStack/moto compose projects, each driven through `kecs compose` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kecs.cli import main
from kecs.compose.load import compose_schema
from tests.compose.conftest import BOTO_APP, MakeProject

SCHEMA = compose_schema()


def _plan(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    assert main(["compose", str(root), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    document = yaml.safe_load((root / "compose.kecs.yaml").read_text())
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    return report, document


def _service(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["services"] if s["name"] == name)


def test_image_only_aws_clients_are_captured_on_compose_evidence(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    """An AWS CLI job, a vendor image with AWS variables: nothing to scan, yet compose says
    they talk to AWS. Captured, with why; a service with neither is left alone."""
    root = make_project({"compose.yaml": """
        services:
          localstack: {image: localstack/localstack:3.8}
          make-bucket:
            image: amazon/aws-cli:2.15.0
            command: s3 mb s3://uploads
          vendor:
            image: example/exporter:1
            environment: {AWS_REGION: eu-west-1, AWS_ACCESS_KEY_ID: test, AWS_SECRET_ACCESS_KEY: test}
          cache: {image: redis:7}
        """})  # fmt: skip
    report, document = _plan(root, capsys)
    job, vendor = _service(report, "make-bucket"), _service(report, "vendor")
    assert job["captured"] and job["reason"] == "compose: image amazon/aws-cli:2.15.0 is an AWS client"
    assert vendor["captured"] and vendor["reason"].startswith("compose: environment AWS_ACCESS_KEY_ID")
    assert job["services_unknown"] and "make-bucket-kecs-proxy" in document["services"]
    assert not _service(report, "cache")["captured"] and not _service(report, "localstack")["captured"]


def test_custom_endpoint_variables_are_removed_or_named(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3_ENDPOINT, LOCALSTACK_HOST, *.localhost.localstack.cloud in `environment` go (and
    are listed in `removed`); the same from an env_file (kecs does not edit it) is named
    plainly: the app is not really captured."""
    root = make_project({
        "compose.yaml": """
            services:
              localstack: {image: localstack/localstack:3.8}
              api:
                build: ./api
                env_file: .env.api
                environment:
                  S3_ENDPOINT: http://localstack:4566
                  LOCALSTACK_HOST: localstack
                  SQS_URL: https://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs
                  DATABASE_URL: postgres://db:5432/app
            """,
        ".env.api": "DYNAMODB_ENDPOINT=http://localstack:4566\nLOG_LEVEL=debug\n",
        "api/app.py": BOTO_APP,
    })  # fmt: skip
    report, document = _plan(root, capsys)
    api = _service(report, "api")
    assert {"environment S3_ENDPOINT", "environment LOCALSTACK_HOST", "environment SQS_URL"} <= set(
        api["removed"]
    )
    environment = document["services"]["api"]["environment"]
    assert "S3_ENDPOINT" not in environment and environment["DATABASE_URL"] == "postgres://db:5432/app"
    [note] = [n for n in report["notes"] if "DYNAMODB_ENDPOINT" in n]
    assert "from .env.api" in note and "not really captured" in note


def test_env_file_is_read_for_adoption_region_and_credentials_and_a_missing_one_is_named(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project({
        "compose.yaml": """
            services:
              aws: {image: motoserver/moto:5}
              api:
                build: ./api
                env_file: [config/app.env, {path: config/optional.env, required: false}, config/missing.env]
            """,
        "config/app.env": "AWS_ENDPOINT_URL=http://aws:5000\nAWS_REGION=ap-southeast-2\nAWS_ACCESS_KEY_ID=mine\n",
        "api/app.py": BOTO_APP,
    })  # fmt: skip
    report, document = _plan(root, capsys)
    assert report["emulator"]["service"] == "aws"  # adopted from the env_file's endpoint
    environment = document["services"]["api"]["environment"]
    # The user's region and credentials from the env_file are theirs: kecs sets neither over them.
    assert "AWS_REGION" not in environment and environment["AWS_DEFAULT_REGION"] == "ap-southeast-2"
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in environment
    assert document["services"]["api-kecs-proxy"]["environment"]["KECS_REGION"] == "ap-southeast-2"
    notes = "\n".join(report["notes"])
    assert "config/missing.env does not exist" in notes and "optional.env" not in notes
    assert "region ap-southeast-2: from api's AWS_REGION" in notes
    assert "AWS_ENDPOINT_URL=http://aws:5000 from config/app.env" in notes


def test_the_users_region_is_never_overridden_and_seeds_land_there(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    """Init scripts create resources in the region the apps use: the project's region (the
    seed's, the proxies') follows the services' own; `environment` is left as written."""
    root = make_project({
        "compose.yaml": """
            x-kecs: {seed: {sqs: [{name: jobs}]}}
            services:
              api:
                build: ./api
                environment: {AWS_DEFAULT_REGION: eu-central-1}
              worker:
                build: ./api
                environment: [AWS_REGION=eu-central-1]
            """,
        "api/app.py": BOTO_APP,
    })  # fmt: skip
    report, document = _plan(root, capsys)
    api, worker = document["services"]["api"], document["services"]["worker"]
    assert (
        api["environment"]["AWS_DEFAULT_REGION"] == "eu-central-1"
        and api["environment"]["AWS_REGION"] == "eu-central-1"
    )
    assert "AWS_REGION=eu-central-1" in worker["environment"]
    assert document["services"]["api-kecs-proxy"]["environment"]["KECS_REGION"] == "eu-central-1"
    assert any(n.startswith("region eu-central-1: from ") for n in report["notes"])


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM localstack/localstack:3.8\nCOPY init/ /etc/localstack/init/ready.d/\n",
        'FROM python:3.12-slim\nRUN pip install \'moto[server]==5.0.0\'\nCMD ["moto_server", "-H", "0.0.0.0"]\n',
    ],
)
def test_an_emulator_built_from_a_dockerfile_is_adopted_not_doubled(
    dockerfile: str, make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project({
        "compose.yaml": """
            services:
              aws: {build: ./aws}
              api: {build: ./api}
            """,
        "aws/Dockerfile": dockerfile,
        "aws/init/setup.sh": "awslocal s3 mb s3://x\n",
        "api/app.py": BOTO_APP,
    })  # fmt: skip
    report, document = _plan(root, capsys)
    assert report["emulator"]["service"] == "aws", report["emulator"]
    assert not any(name.startswith("kecs-") and name != "kecs-seed" for name in document["services"])
    assert not _service(report, "aws")["captured"]
    assert any("its Dockerfile builds" in n for n in report["notes"]), report["notes"]


def test_a_test_image_with_plain_moto_is_not_an_emulator(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project({
        "compose.yaml": "services:\n  tests: {build: ./tests}\n",
        "tests/Dockerfile": "FROM python:3.12\nRUN pip install moto pytest boto3\nCOPY . /t\nCMD [\"pytest\"]\n",
        "tests/test_app.py": BOTO_APP,
    })  # fmt: skip
    report, _ = _plan(root, capsys)
    assert _service(report, "tests")["captured"] and report["emulator"]["service"] == "kecs-localstack"


def test_proxy_true_on_a_service_in_anothers_namespace_is_a_clear_error(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project({"compose.yaml": """
        services:
          app: {image: app}
          sidecar:
            image: envoy
            network_mode: service:app
            x-kecs: {proxy: true}
        """})  # fmt: skip
    assert main(["compose", str(root), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "compose.yaml:" in err
    assert "network_mode 'service:app'" in err and "put x-kecs.proxy: true on app" in err


def test_the_plan_names_what_kecs_cannot_capture(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_project({"compose.yaml": """
        services:
          localstack:
            image: localstack/localstack:3.8
            environment: {SERVICES: "s3,lambda", LAMBDA_EXECUTOR: docker}
            volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
          runner:
            image: ci/runner
            environment: {AWS_REGION: us-east-1}
            volumes: ["/var/run/docker.sock:/var/run/docker.sock"]
          log-shipper:
            image: fluent-bit
            network_mode: service:runner
        """})  # fmt: skip
    report, _ = _plan(root, capsys)
    notes = "\n".join(report["notes"])
    assert "runner mounts the Docker socket: containers it starts are not in the project" in notes
    assert "localstack mounts the Docker socket" not in notes  # the emulator's own Lambda runtime
    assert "Lambda functions localstack runs execute inside the emulator" in notes
    assert (
        "log-shipper shares runner's network namespace (network_mode: service:runner): captured with runner"
        in notes
    )


def test_seen_on_public_projects_localhost_endpoints_and_the_emulators_own_region(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Rails app written for LocalStack on the host (`LOCALSTACK_ENDPOINT=http://localhost:4566`)
    loses that variable; a queue URL it uses as a parameter stays; the region of the
    emulator's own environment is not taken for the apps'."""
    root = make_project({
        "compose.yaml": """
            services:
              localstack:
                image: localstack/localstack:latest
                environment: [AWS_DEFAULT_REGION=eu-west-3]
              worker:
                build: ./worker
                environment:
                  - LOCALSTACK_ENDPOINT=http://localhost:4566
                  - COUNTER_QUEUE_URL=http://localhost:4566/000000000000/counter-queue
            """,
        "worker/Gemfile": "source 'https://rubygems.org'\ngem 'aws-sdk-sqs'\n",
    })  # fmt: skip
    report, document = _plan(root, capsys)
    worker = _service(report, "worker")
    assert worker["captured"] and worker["removed"] == ["environment LOCALSTACK_ENDPOINT"], worker
    assert "COUNTER_QUEUE_URL" in str(document["services"]["worker"]["environment"])
    assert not any(n.startswith("region ") for n in report["notes"]), report["notes"]
    assert document["services"]["worker-kecs-proxy"]["environment"]["KECS_REGION"] == "us-east-1"
