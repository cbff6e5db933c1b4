"""The bundled example, through the README's main command, on a copy of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

import kecs
from kecs.compose.load import compose_schema
from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = compose_schema()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return Path(
        shutil.copytree(
            ROOT / "examples" / "shop",
            tmp_path / "shop",
            ignore=shutil.ignore_patterns(".kecs", "compose.kecs.yaml"),
        )
    )


def test_shop_plan_and_output(shop: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kecs", "compose", str(shop), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    plan = {s["name"]: s for s in json.loads(result.stdout)["services"]}
    assert {name for name, s in plan.items() if s["captured"]} == {"api", "worker", "reports"}
    assert plan["api"]["aws_services"] == ["dynamodb", "s3", "sqs"]
    assert plan["worker"]["sdks"] == ["aws-sdk-go"] and plan["worker"]["aws_services"] == ["s3", "sqs"]
    assert plan["reports"]["reason"] == "x-kecs.proxy: true"
    assert plan["web"]["reason"] == "no AWS SDK use found in build context web"
    assert "x-kecs.proxy: true to capture it" in plan["cache"]["reason"]
    document = yaml.safe_load((shop / "compose.kecs.yaml").read_text())
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    services = document["services"]
    assert services["web"] == {"build": "./web", "ports": ["8080:8080"]}
    assert services["api-kecs-net"]["ports"] == ["8000:8000"]
    assert services["reports"]["network_mode"] == "service:reports-kecs-net"
    assert "SERVICES" not in services["kecs-localstack"]["environment"]  # not narrowed unless asked


@pytest.mark.integration
def test_shop_output_passes_docker_compose_config(shop: Path) -> None:
    binary = shutil.which("docker-compose")
    require(binary is not None, "docker-compose (Debian package docker-compose)")
    assert binary is not None
    assert (
        subprocess.run([sys.executable, "-m", "kecs", "compose", str(shop), "-q"], timeout=300).returncode
        == 0
    )
    result = subprocess.run(
        [binary, "-f", str(shop / "compose.kecs.yaml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {
        "api", "api-kecs-proxy", "worker", "worker-kecs-proxy", "web", "reports", "reports-kecs-proxy", "cache",
        "api-kecs-net", "worker-kecs-net", "reports-kecs-net", "kecs-localstack",
    }  # fmt: skip


def test_library_api_is_whole() -> None:
    for name in kecs.__all__:
        assert getattr(kecs, name) is not None
    with pytest.raises(AttributeError):
        kecs.no_such_thing  # noqa: B018
