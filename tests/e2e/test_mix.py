"""End to end: three emulators behind one unmodified app (examples/mix), on a loaded machine.

MiniStack is the default emulator, S3 is routed to LocalStack and DynamoDB to moto. The
app and the seeder call AWS names only; each call must land in the emulator its service
is routed to (checked from outside, against each emulator directly). The same run probes
every emulator's services offline (kecs.probe), which is what kecs/coverage.py and the
README's coverage table state: a run that disagrees with them fails here.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kecs import coverage, emulators
from tests.e2e import images
from tests.e2e.harness import ROOT, Project

pytestmark = pytest.mark.integration
# Where tools/emulator_coverage.py reads the measured verdicts from.
COVERAGE_OUT = "KECS_COVERAGE_OUT"


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    """The base image and each emulator's image, by kind (built here: no registry)."""
    images.docker_available()
    base = images.base_image()
    return {"base": base, "proxybase": images.proxy_base_image(), **images.emulator_images(base)}


@pytest.fixture(scope="module")
def mix(built: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = Project(
        ROOT / "examples" / "mix",
        tmp_path_factory.mktemp("mix"),
        "docker-compose",
        {"BASE_IMAGE": built["base"]},
        name_in_env=True,  # COMPOSE_PROJECT_NAME in .env: one name for Compose, ECS's cluster, kecs down
    )
    project.env["KECS_E2E_BASE"] = built["base"]
    options = ["--proxy-base", built["proxybase"]]
    options += [
        part for kind, record in emulators.REGISTRY.items() for part in (record.image_option, built[kind])
    ]
    try:
        images.TIMINGS["kecs up, three emulators, loaded machine"] = project.up_loaded(*options)
        yield project
    finally:
        project.down()


def _emulator_urls(project: Project) -> dict[str, str]:
    """Each emulator's URL inside the compose network, from the generated file's services."""
    return {
        kind: record.url(record.service_name)
        for kind, record in emulators.REGISTRY.items()
        if project.compose("ps", "-q", record.service_name).stdout.strip()
    }


def _in_network(project: Project, script: str, *args: str, timeout: float = 900) -> Any:
    """Run a Python script (boto3 from the base image) on the project's network; its JSON."""
    network = f"{project.name}_default"
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", network, "-v", f"{ROOT / 'kecs'}:/probe/kecs:ro",
         "-e", "PYTHONPATH=/probe", project.env["KECS_E2E_BASE"], "python3", "-c", script, *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stderr[-3000:]}"
    return json.loads(done.stdout)


PLACEMENT = """
import json, sys, boto3, urllib3
from botocore.exceptions import ClientError
urllib3.disable_warnings()
urls = json.loads(sys.argv[1])
def names(kind, service, call, key):
    client = boto3.client(service, endpoint_url=urls[kind], verify=False, region_name="us-east-1",
                          aws_access_key_id="000000000000", aws_secret_access_key="test")
    try:
        return [str(x["Name"] if isinstance(x, dict) else x).rsplit("/", 1)[-1]
                for x in getattr(client, call)().get(key, [])]
    except ClientError as exc:  # an emulator narrowed to its routed services serves no other
        if "not enabled" in str(exc):
            return []
        raise
out = {kind: {"buckets": names(kind, "s3", "list_buckets", "Buckets"),
              "tables": names(kind, "dynamodb", "list_tables", "TableNames") if kind != "localstack" else [],
              "queues": names(kind, "sqs", "list_queues", "QueueUrls")} for kind in urls}
print(json.dumps(out))
"""


def test_each_call_lands_in_the_emulator_its_service_is_routed_to(mix: Project) -> None:
    seeded = [" ".join(line.split()) for line in mix.up_report["seeded"]]
    for name in ("s3 bucket mix-seeded", "dynamodb table mix-seeded", "sqs queue mix-seeded"):
        assert any(name in line and "created" in line for line in seeded), (name, seeded)
    logs = mix.wait_for("app", "mix report: ", timeout=300)
    report = json.loads(
        next(line for line in logs.splitlines() if "mix report: " in line).split("mix report: ", 1)[1]
    )
    assert report["s3"] == "hello" and report["s3_seeded"] is True, report
    assert report["dynamodb"] == "7" and report["dynamodb_seeded"] == "seeded", report
    assert report["sqs"] == ["m-1"], report
    # MiniStack over TLS keeps the host the request named: the queue URL is AWS's own.
    assert report["sqs_url"].startswith("https://sqs.us-east-1.amazonaws.com/"), report["sqs_url"]
    assert report["sqs_seeded"].startswith("https://sqs.us-east-1.amazonaws.com/"), report["sqs_seeded"]
    assert report["kinesis"] is True and report["ssm"] == "three-emulators", report
    # COMPOSE_PROJECT_NAME from the project's .env (no -p, another directory name) is the
    # Compose project's name and ECS's cluster in the task metadata.
    assert report["cluster"] == mix.name, report
    assert mix.inspect("app")["Config"]["Labels"]["com.docker.compose.project"] == mix.name
    # The task role was assumed in moto (STS and IAM routed there), in moto's own account:
    # the seeded table the app read above is in that account too.
    assert ":assumed-role/mix-task/" in report["identity"], report
    urls = _emulator_urls(mix)
    assert set(urls) == {"localstack", "moto", "ministack"}, urls
    placed = _in_network(mix, PLACEMENT, json.dumps(urls))
    # S3 in LocalStack only, DynamoDB in moto only, SQS (the default) in MiniStack only.
    assert {"mix-app", "mix-seeded"} <= set(placed["localstack"]["buckets"]), placed
    assert not {"mix-app", "mix-seeded"} & set(placed["ministack"]["buckets"] + placed["moto"]["buckets"]), (
        placed
    )
    assert {"mix-app", "mix-seeded"} <= set(placed["moto"]["tables"]), placed
    assert not {"mix-app", "mix-seeded"} & set(placed["ministack"]["tables"]), placed
    assert {"mix-app", "mix-seeded"} <= set(placed["ministack"]["queues"]), placed
    assert not {"mix-app", "mix-seeded"} & set(placed["localstack"]["queues"] + placed["moto"]["queues"]), (
        placed
    )


@contextlib.contextmanager
def _unnarrowed(project: Project, built: dict[str, str]) -> Iterator[dict[str, str]]:
    """One more instance of every emulator on the project's network, as kecs runs it (its
    record's environment, its image) but serving every service (the project's routed ones
    are narrowed to what is routed to them): their URLs by kind, once healthy."""
    started: dict[str, str] = {}
    try:
        for kind, record in emulators.REGISTRY.items():
            name = f"{project.name}-probe-{kind}"
            env = [part for key, value in record.environment.items() for part in ("-e", f"{key}={value}")]
            subprocess.run(
                ["docker", "run", "-d", "--rm", "--name", name, "--network", f"{project.name}_default", *env,
                 built[kind]],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            started[kind] = name
        for kind, name in started.items():
            health = list(emulators.get(kind).health[1:])
            deadline = time.monotonic() + 300
            while subprocess.run(["docker", "exec", name, *health], capture_output=True).returncode != 0:
                assert time.monotonic() < deadline, f"{kind} never answered its health check"
                time.sleep(2)
        yield {kind: emulators.get(kind).url(name) for kind, name in started.items()}
    finally:
        for name in started.values():
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_the_coverage_table_is_what_this_run_measures(mix: Project, built: dict[str, str]) -> None:
    """Every emulator probed offline, service by service (one write and one read each):
    the verdicts must be what kecs/coverage.py (and so the README's table) says."""
    started = time.monotonic()
    with _unnarrowed(mix, built) as urls:
        verdicts = _in_network(
            mix, "import sys; from kecs import probe; sys.exit(probe.main())", *urls.values()
        )
    images.TIMINGS["coverage probe, three emulators"] = time.monotonic() - started
    measured = {
        kind: sorted(s for s, verdict in verdicts[url].items() if verdict == "ok")
        for kind, url in urls.items()
    }
    out = os.environ.get(COVERAGE_OUT)
    if out:
        with open(out, "w") as handle:
            json.dump({"verdicts": {kind: verdicts[url] for kind, url in urls.items()}}, handle, indent=1)
        print(f"measured coverage written to {out}", file=sys.stderr)
    committed = {kind: sorted(services) for kind, services in coverage.MEASURED.items()}
    assert set(coverage.SERVICES) == set(next(iter(verdicts.values()))), "kecs/probe.py probes other services"
    failures = {kind: {s: v for s, v in verdicts[url].items() if v != "ok"} for kind, url in urls.items()}
    assert measured == committed, (
        f"this run measured {measured}, kecs/coverage.py says {committed} "
        f"(regenerate with python tools/emulator_coverage.py); failures: {failures}"
    )


def test_policy_from_what_the_app_called_allows_it_and_nothing_more(mix: Project) -> None:
    """The proxy recorded every call the app made (and kecs's seeder's, marked as kecs's);
    `kecs policy` turns them into a policy that an IAM evaluator kecs did not write (moto's)
    shows allows each call and denies one outside it; the call no scanner can see (an
    operation name computed at run time) is listed as observed and not predicted."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    from kecs.policy import iam_actions
    from kecs.scanner.services import ServiceCatalog

    mix.wait_for("app", "mix report: ", timeout=300)
    observed = mix.directory / ".kecs" / "observed" / "app" / "requests.jsonl"
    text = observed.read_text()
    records = [json.loads(line) for line in text.splitlines()]
    apps = [r for r in records if not r.get("kecs")]
    ops = {(r["aws_service"], r["operation"]) for r in apps}
    expected = {("s3", "PutObject"), ("s3", "GetObject"), ("dynamodb", "PutItem"), ("sqs", "SendMessage"),
                ("kinesis", "PutRecord"), ("ssm", "GetParameter"), ("sqs", "ListQueues")}  # fmt: skip
    assert expected <= ops, sorted(ops)
    assert any(r.get("kecs") and r["operation"] == "CreateBucket" for r in records), "the seeder's calls"
    # Statuses and emulators as they happened; no credential, signature or body.
    put = next(r for r in apps if r["operation"] == "PutObject")
    assert put["status"] == 200 and put["resource"] == "arn:aws:s3:::mix-app/hello.txt", put
    assert put["emulator"].startswith("https://kecs-localstack")
    assert next(r for r in apps if r["operation"] == "PutItem")["emulator"].startswith("http://kecs-moto")
    for secret in ("Signature=", "Credential=", "X-Amz-Security-Token", "hello"):
        assert secret not in text.replace("hello.txt", ""), secret
    done = mix.kecs("policy", str(mix.directory), "--service", "app", "--format", "json", "--write")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["app"]
    missed = {(u["aws_service"], u["operation"]) for u in report["observed_not_predicted"]}
    assert ("sqs", "ListQueues") in missed, report["observed_not_predicted"]
    assert not {("s3", "PutObject"), ("dynamodb", "PutItem")} & missed
    evaluator = IAMPolicy(json.dumps(report["policy"]))
    catalog = ServiceCatalog.load()
    for record in apps:
        if not 200 <= (record["status"] or 0) < 400:
            continue  # a failed call earns no grant
        for action in iam_actions(record["aws_service"], record["operation"], catalog):
            verdict = evaluator.is_action_permitted(action, record["resource"] or "*")
            assert verdict == PermissionResult.PERMITTED, (action, record)
    outside = evaluator.is_action_permitted("s3:DeleteBucket", "arn:aws:s3:::mix-app")
    assert outside != PermissionResult.PERMITTED
    check = mix.kecs("policy", str(mix.directory), "--check", "--observed-only")
    assert check.returncode == 0, check.stderr
