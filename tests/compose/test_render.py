from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kecs.compose.load import compose_schema, load_project
from kecs.compose.plan import Options, Route, ServiceEvidence, plan
from kecs.compose.render import render, to_yaml
from kecs.proxy.taskmeta import TaskInfo
from kecs.scanner.model import Finding
from tests.compose.conftest import MakeProject
from tests.conftest import require

SCHEMA = compose_schema()

COMPOSE = """
services:
  api:
    build: ./api
    image: shop/api:${TAG:-dev}
    hostname: api-host
    ports: ["8000:8000"]
    expose: ["9000"]
    dns: [1.1.1.1]
    extra_hosts: ["db.local:10.0.0.2"]
    environment:
      - BUCKET=b
      - AWS_REGION=eu-central-1
    depends_on: [db]
    volumes: [./data:/data]
    restart: unless-stopped
    networks:
      front:
      back:
        aliases: [api-internal]
  java:
    build: ./java
    environment:
      AWS_ACCESS_KEY_ID: from-user
    networks: [back]
  db:
    image: postgres:16
    networks: [back]
  web:
    build: ./web
    ports: ["8080:8080"]
    networks: [front]
networks:
  front: {}
  back: {}
"""


def generated(make_project: MakeProject, options: Options | None = None) -> tuple[dict[str, Any], str, Path]:
    options = options or Options()
    root = make_project({"compose.yaml": COMPOSE})
    project = load_project(str(root), environ={})
    evidence = {
        "api": ServiceEvidence(
            "api", True, (Finding("api/app.py", 2, 1, "python", "boto3", ("s3",), "client", "x"),)
        ),
        "java": ServiceEvidence(
            "java", True, (Finding("java/A.java", 3, 1, "java", "aws-sdk-java-v2", ("sqs",), "client", "x"),)
        ),
        "db": ServiceEvidence("image postgres:16", False, note="not in the daemon"),
        "web": ServiceEvidence("web", True, ()),
    }
    document = render(plan(project, evidence, options))
    return document, to_yaml(document, ["compose.yaml"]), root


def test_proxy_owns_the_namespace(make_project: MakeProject) -> None:
    doc, _, _ = generated(make_project)
    services = doc["services"]
    holder, proxy, api = services["api-kecs-net"], services["api-kecs-proxy"], services["api"]
    # What the engine refuses on a joined service moved to the namespace holder.
    for key in ("ports", "expose", "hostname", "dns", "extra_hosts", "networks"):
        assert key not in api and key not in proxy, key
    assert holder["ports"] == ["8000:8000"] and holder["expose"] == ["9000"]
    assert holder["hostname"] == "api-host" and holder["dns"] == ["1.1.1.1"]
    assert holder["extra_hosts"] == ["db.local:10.0.0.2"]
    assert holder["networks"] == {"front": {"aliases": ["api"]}, "back": {"aliases": ["api", "api-internal"]}}
    # The holder installs the capture and sleeps; proxy and app both join it.
    assert holder["command"] == ["kecs", "proxy", "--hold"] and holder["init"] is True
    assert "healthcheck" not in holder  # it gates nothing: the proxy waits for its capture
    assert holder["restart"] == "unless-stopped"  # the app's own policy
    assert api["network_mode"] == proxy["network_mode"] == "service:api-kecs-net"
    assert api["depends_on"] == {
        "api-kecs-proxy": {"condition": "service_healthy"},
        "db": {"condition": "service_started"},
    }
    assert proxy["depends_on"] == {
        "api-kecs-net": {"condition": "service_started"},
        "kecs-localstack": {"condition": "service_healthy"},
    }
    assert holder["depends_on"] == {"kecs-localstack": {"condition": "service_started"}}
    assert proxy["cap_add"] == holder["cap_add"] == ["NET_ADMIN", "NET_RAW"]
    assert proxy["restart"] == "unless-stopped"
    # The health check starts no interpreter: sh reads the ready file the proxy keeps fresh.
    test = proxy["healthcheck"]["test"]
    assert test[:3] == ["CMD", "sh", "-c"] and "/run/kecs/ready" in test[3] and "python" not in test[3]
    assert "$$(date +%s)" in test[3]  # Compose must not interpolate the script's own variables
    assert proxy["healthcheck"]["timeout"] == "10s"
    assert proxy["tmpfs"] == holder["tmpfs"] == ["/run/kecs"]
    # The CA volume (filled by kecs up, mounted nowhere else) and the project's record of
    # the service's requests.
    assert proxy["volumes"] == ["kecs-ca:/etc/kecs/ca:ro", "./.kecs/observed/api:/var/lib/kecs/observed"]
    assert proxy["environment"]["KECS_OBSERVED_DIR"] == "/var/lib/kecs/observed"
    assert doc["volumes"]["kecs-ca"] == {"labels": {"dev.kecs.role": "ca"}}
    assert "volumes" not in holder  # the CA key only where it is used
    assert proxy["environment"]["KECS_EMULATOR_URL"] == "https://kecs-localstack:4566"
    assert proxy["environment"]["KECS_CAPTURE"] == "shared"


def test_app_keeps_what_the_user_wrote(make_project: MakeProject) -> None:
    doc, _, _ = generated(make_project)
    api = doc["services"]["api"]
    assert api["image"] == "shop/api:${TAG:-dev}"  # variables stay for Compose
    assert api["build"] == "./api" and api["restart"] == "unless-stopped"
    assert api["volumes"] == ["./data:/data", "./.kecs/trust:/etc/kecs/trust:ro"]
    env = api["environment"]
    assert isinstance(env, list)  # the user's list form is kept
    assert "BUCKET=b" in env and "AWS_REGION=eu-central-1" in env
    assert "AWS_REGION=us-east-1" not in env  # the user's value wins
    assert "AWS_DEFAULT_REGION=us-east-1" in env
    assert "AWS_CA_BUNDLE=/etc/kecs/trust/bundle.pem" in env
    assert "NODE_EXTRA_CA_CERTS=/etc/kecs/trust/root.crt" in env
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/api" in env
    assert not any(e.startswith("JAVA_TOOL_OPTIONS") for e in env)
    java = doc["services"]["java"]["environment"]
    assert "-Djavax.net.ssl.trustStore=/etc/kecs/trust/truststore.p12" in java["JAVA_TOOL_OPTIONS"]
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in java  # the user brings credentials
    assert doc["services"]["db"] == {"image": "postgres:16", "networks": ["back"]}
    assert doc["services"]["web"] == {"build": "./web", "ports": ["8080:8080"], "networks": ["front"]}
    assert doc["networks"] == {"front": {}, "back": {}}


def test_emulator_joins_the_proxies_networks(make_project: MakeProject) -> None:
    doc, _, _ = generated(make_project)
    localstack = doc["services"]["kecs-localstack"]
    assert localstack["image"] == "localstack/localstack:4.14.0"
    assert localstack["environment"] == {
        "SQS_ENDPOINT_STRATEGY": "dynamic",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    assert localstack["networks"] == ["front", "back"]
    assert "/_localstack/health" in localstack["healthcheck"]["test"][-1]


def test_moto_and_external(make_project: MakeProject) -> None:
    doc, _, _ = generated(make_project, Options(emulator="moto", images={"moto": "moto:local"}))
    assert doc["services"]["kecs-moto"]["image"] == "moto:local"
    assert doc["services"]["api-kecs-proxy"]["environment"]["KECS_EMULATOR_URL"] == "http://kecs-moto:5000"
    # moto's image has no curl: its check is bash's /dev/tcp, no interpreter started.
    assert doc["services"]["kecs-moto"]["healthcheck"]["test"][:2] == ["CMD", "bash"]
    doc, _, _ = generated(
        make_project, Options(emulator="url", emulator_url="http://host.docker.internal:4566")
    )
    assert not any(name.startswith("kecs-") for name in doc["services"])
    assert doc["services"]["api-kecs-proxy"]["depends_on"] == {
        "api-kecs-net": {"condition": "service_started"}
    }
    assert "depends_on" not in doc["services"]["api-kecs-net"]


def test_yaml_is_valid_compose_and_marked_generated(make_project: MakeProject) -> None:
    doc, text, _ = generated(make_project)
    assert text.startswith("# Generated by kecs ")
    assert "!reset" not in text and "!override" not in text
    parsed = yaml.safe_load(text)
    assert parsed == doc
    assert parsed["x-kecs-generated"]["from"] == ["compose.yaml"]
    jsonschema.Draft7Validator(SCHEMA).validate(parsed)


@pytest.mark.integration
def test_docker_compose_accepts_it(make_project: MakeProject) -> None:
    binary = shutil.which("docker-compose")
    require(binary is not None, "docker-compose (Debian package docker-compose)")
    assert binary is not None
    _, text, root = generated(make_project)
    for sub in ("api", "java", "web"):
        (root / sub).mkdir(exist_ok=True)
    (root / "compose.kecs.yaml").write_text(text)
    result = subprocess.run(
        [binary, "-f", str(root / "compose.kecs.yaml"), "config"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert config["services"]["api"]["network_mode"] == "service:api-kecs-net"
    assert config["services"]["api"]["image"] == "shop/api:dev"  # Compose resolved the variable


def test_a_routed_service_gets_its_own_emulator(make_project: MakeProject) -> None:
    routes = (Route(("sqs",), "moto", ("sqs",)),)
    doc, text, _ = generated(make_project, Options(routes=routes, images={"moto": "moto:local"}))
    services = doc["services"]
    assert "SERVICES" not in services["kecs-localstack"]["environment"]  # every service, unless asked
    assert services["kecs-moto"]["image"] == "moto:local"
    assert services["kecs-moto"]["networks"] == services["kecs-localstack"]["networks"] == ["front", "back"]
    for proxy in ("api-kecs-proxy", "java-kecs-proxy"):
        assert services[proxy]["environment"]["KECS_EMULATOR_URL"] == "https://kecs-localstack:4566"
        assert services[proxy]["environment"]["KECS_ROUTES"] == '{"sqs":"http://kecs-moto:5000"}'
        assert services[proxy]["depends_on"] == {
            proxy.replace("-proxy", "-net"): {"condition": "service_started"},
            "kecs-localstack": {"condition": "service_healthy"},
            "kecs-moto": {"condition": "service_healthy"},
        }
    jsonschema.Draft7Validator(SCHEMA).validate(yaml.safe_load(text))


def test_ministack_by_default_with_routes_to_the_other_two(make_project: MakeProject) -> None:
    """Three emulators from three records: MiniStack over TLS with its narrowing variable,
    LocalStack for S3, moto for SQS; each with its own image, health check and URL."""
    routes = (Route(("s3",), "localstack", ("s3",)), Route(("sqs",), "moto", ("sqs",)))
    doc, text, _ = generated(
        make_project, Options(emulator="ministack", routes=routes, images={"ministack": "ms:local"})
    )
    services = doc["services"]
    ministack = services["kecs-ministack"]
    assert ministack["image"] == "ms:local" and ministack["environment"]["USE_SSL"] == "1"
    assert (
        ministack["healthcheck"]["test"][:2] == ["CMD", "bash"]
        and "openssl" in ministack["healthcheck"]["test"][-1]
    )
    assert services["kecs-localstack"]["image"] == "localstack/localstack:4.14.0"
    assert services["kecs-moto"]["image"] == "motoserver/moto:5.1.4"
    proxy = services["api-kecs-proxy"]["environment"]
    assert proxy["KECS_EMULATOR_URL"] == "https://kecs-ministack:4566"
    assert json.loads(proxy["KECS_ROUTES"]) == {
        "s3": "https://kecs-localstack:4566",
        "sqs": "http://kecs-moto:5000",
    }
    assert set(services["api-kecs-proxy"]["depends_on"]) == {
        "api-kecs-net",
        "kecs-ministack",
        "kecs-localstack",
        "kecs-moto",
    }
    jsonschema.Draft7Validator(SCHEMA).validate(yaml.safe_load(text))


def test_an_account_token_is_passed_by_name_only(make_project: MakeProject) -> None:
    root = make_project({"compose.yaml": "services:\n  api: {build: .}\n"})
    evidence = {
        "api": ServiceEvidence(".", True, (Finding("a.py", 1, 1, "python", "boto3", ("s3",), "client", "x"),))
    }
    result = plan(
        load_project(str(root), environ={"LOCALSTACK_AUTH_TOKEN": "ls-secret"}), evidence, Options()
    )
    document = render(result)
    assert "ls-secret" not in to_yaml(document, ["compose.yaml"])
    assert (
        document["services"]["kecs-localstack"]["environment"]["LOCALSTACK_AUTH_TOKEN"]
        == "${LOCALSTACK_AUTH_TOKEN}"
    )
    bare = render(plan(load_project(str(root), environ={}), evidence, Options()))
    assert "LOCALSTACK_AUTH_TOKEN" not in bare["services"]["kecs-localstack"]["environment"]


def test_profiles_follow_the_apps(make_project: MakeProject) -> None:
    root = make_project(
        {
            "compose.yaml": """
                services:
                  api: {build: ./api, profiles: [aws]}
                  jobs: {build: ./jobs, profiles: [batch]}
                  web: {build: ./web}
                """
        }
    )
    project = load_project(str(root), environ={})
    uses_s3 = (Finding("x.py", 1, 1, "python", "boto3", ("s3",), "client", "x"),)
    evidence = {
        "api": ServiceEvidence("api", True, uses_s3),
        "jobs": ServiceEvidence("jobs", True, uses_s3),
        "web": ServiceEvidence("web", True, ()),
    }
    services = render(plan(project, evidence))["services"]
    assert services["api-kecs-proxy"]["profiles"] == ["aws"]
    assert services["jobs-kecs-proxy"]["profiles"] == ["batch"]
    # Every app it serves sits in a profile: the emulator starts with any of them.
    assert services["kecs-localstack"]["profiles"] == ["aws", "batch"]
    evidence["web"] = ServiceEvidence("web", True, uses_s3)
    services = render(plan(project, evidence))["services"]
    assert "profiles" not in services["kecs-localstack"] and "profiles" not in services["web-kecs-proxy"]


def test_apps_get_ecs_task_metadata_from_their_proxy(make_project: MakeProject) -> None:
    root = make_project(
        {
            "compose.yaml": "name: shop\nservices:\n  api:\n    image: shop/api:1\n    cpus: 0.5\n    mem_limit: 512m\n"
            "    labels: [team=orders, 'price=$$5']\n    x-kecs: {proxy: true}\n"
            "  worker:\n    build: ./w\n    deploy: {resources: {limits: {cpus: '2', memory: 1g}}}\n"
            "    x-kecs: {proxy: true}\n"
        }
    )
    doc = render(plan(load_project(str(root), environ={}), {}))
    services = doc["services"]
    info = TaskInfo.from_json(
        services["api-kecs-proxy"]["environment"]["KECS_TASK_METADATA"].replace("$$", "$")
    )
    assert (info.cluster, info.service, info.image, info.cpu, info.memory) == (
        "shop",
        "api",
        "shop/api:1",
        0.5,
        512,
    )
    assert info.labels == {"team": "orders", "price": "$5"}
    uri = services["api"]["environment"]["ECS_CONTAINER_METADATA_URI_V4"]
    assert uri == f"http://169.254.170.2/v4/{info.docker_id}"
    worker = TaskInfo.from_json(services["worker-kecs-proxy"]["environment"]["KECS_TASK_METADATA"])
    assert (worker.image, worker.cpu, worker.memory) == ("shop-worker", 2.0, 1024)


def test_awslogs_and_x_kecs_logs_go_to_the_forwarder(make_project: MakeProject) -> None:
    from kecs.logs.forwarder import sources_from_json

    root = make_project(
        {
            "compose.yaml": "name: shop\nservices:\n  api:\n    image: a\n    x-kecs: {proxy: true}\n"
            "    logging: {driver: awslogs, options: {awslogs-group: /ecs/api, awslogs-stream-prefix: web}}\n"
            "  worker:\n    image: w\n    x-kecs: {proxy: false, logs: true}\n  quiet:\n    image: q\n"
            "    x-kecs: {proxy: false}\n"
        }
    )
    result = plan(load_project(str(root), environ={}), {})
    doc = render(result)
    services = doc["services"]
    assert "logging" not in services["api"]  # Docker's awslogs driver would send to AWS itself
    forwarder = services["kecs-telemetry"]
    assert forwarder["network_mode"] == "service:api-kecs-net" and forwarder["command"] == [
        "kecs",
        "logs",
        "forward",
    ]
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in forwarder["volumes"]
    sources = {s.service: s for s in sources_from_json(forwarder["environment"]["KECS_LOGS"])}
    assert set(sources) == {"api", "worker"}
    assert sources["api"].target.stream_name("api", sources["api"].task_id).startswith("web/api/")
    assert sources["worker"].target.group == "/kecs/shop/worker"
    assert "kecs-logs" in doc["volumes"] and "logs" in (result.emulator.aws_services or ("logs",))
    assert "kecs-seed" not in services  # nothing to seed: no seeder


def test_one_project_name_everywhere(tmp_path: Path) -> None:
    """`-p NAME`, else COMPOSE_PROJECT_NAME in .env: Compose's project, ECS's cluster in the
    task metadata, and the default log group, all one name."""
    import json

    from kecs import contract
    from kecs.compose.load import GENERATED_MARKER

    (tmp_path / "compose.yaml").write_text(
        "x-kecs: {logs: true}\nservices:\n  api:\n    image: app\n    x-kecs: {proxy: true}\n"
    )
    (tmp_path / ".env").write_text("COMPOSE_PROJECT_NAME=fromenv\n")
    for given, expected in ((None, "fromenv"), ("shop", "shop")):
        result = plan(load_project(str(tmp_path)), {}, Options(project_name=given))
        assert result.project_name == expected
        rendered = render(result)
        proxy = rendered["services"]["api-kecs-proxy"]
        task = json.loads(proxy["environment"][contract.ENV_TASK_METADATA].replace("$$", "$"))
        assert task["cluster"] == expected, task
        assert dict(result.logs)["api"].group.startswith(f"/kecs/{expected}/"), result.logs
        assert rendered[GENERATED_MARKER]["project"] == expected
