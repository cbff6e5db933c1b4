"""Twenty captured services on two busy cores come up with `kecs up`, through the Compose v2 plugin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require
from tests.e2e import images
from tests.e2e.harness import Project

pytestmark = pytest.mark.integration
COUNT = 20
APP = "import boto3, time; print('buckets', len(boto3.client('s3').list_buckets()['Buckets']), flush=True); time.sleep(10**6)"


def test_twenty_captured_services_on_busy_cores(tmp_path: Path) -> None:
    images.docker_available()
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
    require(
        plugin.returncode == 0, "the docker compose v2 plugin (.ci/run installs Debian's docker-compose 2.x)"
    )
    base = images.base_image()
    proxybase = images.proxy_base_image()
    moto = images.moto_image(base)
    services = {
        f"svc{n:02d}": {
            "image": base,
            "command": ["python3", "-c", APP],
            "x-kecs": {"proxy": True, "services": ["s3"]},
        }
        for n in range(1, COUNT + 1)
    }
    project = Project(tmp_path / "none", tmp_path, "docker compose")
    project.directory.mkdir()
    (project.directory / "compose.yaml").write_text(json.dumps({"services": services}))
    try:
        elapsed = project.up_loaded("--emulator", "moto", "--moto-image", moto, "--proxy-base", proxybase)
        states = {s["name"]: s for s in project.up_report["services"]}
        assert {n for n, s in states.items() if s["captured"]} == set(services)
        assert all(s["state"] == "running" for s in states.values()), states
        for name in services:
            assert "buckets 0" in project.wait_for(name, "buckets", timeout=300)
        images.TIMINGS[f"kecs up, {COUNT} captured services, busy cores"] = elapsed
        print(f"{COUNT} captured services healthy in {elapsed:.0f} s on busy cores")
    finally:
        project.down()
