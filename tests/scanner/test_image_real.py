"""Images built by real tools: a Go binary from Debian's toolchain and SDK, images of the daemon."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from kecs.scanner.image import scan_image
from tests.conftest import build_image, require
from tests.scanner.imagekit import docker_save, layer

GOCODE = Path("/usr/share/gocode/src")
AWS_SDK_GO = GOCODE / "github.com/aws/aws-sdk-go"
APP = 'import boto3\n\nqueue = boto3.client("sqs")\n'


def build_go_worker(tmp_path: Path) -> tuple[Path, str]:
    """Build a Go program against Debian's aws-sdk-go, offline, in module mode."""
    go = shutil.which("go")
    require(go is not None, "go (Debian package golang-go)")
    require(AWS_SDK_GO.is_dir(), "aws-sdk-go sources (Debian package golang-github-aws-aws-sdk-go-dev)")
    assert go is not None
    version = next(
        line.split('"')[1]
        for line in (AWS_SDK_GO / "aws/version.go").read_text().splitlines()
        if "SDKVersion =" in line
    )
    src = tmp_path / "worker"
    src.mkdir()
    (src / "main.go").write_text(
        textwrap.dedent(
            """
            package main

            import (
                "fmt"

                "github.com/aws/aws-sdk-go/aws/session"
                "github.com/aws/aws-sdk-go/service/sqs"
            )

            func main() { fmt.Println(sqs.New(session.Must(session.NewSession()))) }
            """
        )
    )
    lines = [
        "module example.com/worker",
        "",
        "go 1.19",
        "",
        f"require github.com/aws/aws-sdk-go v{version}",
        "",
    ]
    lines.append(f"replace github.com/aws/aws-sdk-go => {AWS_SDK_GO}")
    lines.append(f"replace github.com/jmespath/go-jmespath => {GOCODE / 'github.com/jmespath/go-jmespath'}")
    # Modules the graph names but the build never compiles: empty stand-ins, no download.
    for module in ("github.com/pkg/errors", "golang.org/x/net", "github.com/stretchr/testify",
                   "github.com/jmespath/go-jmespath/internal/testify"):  # fmt: skip
        stub = src / "stubs" / module
        stub.mkdir(parents=True)
        (stub / "go.mod").write_text(f"module {module}\n")
        lines.append(f"replace {module} => ./stubs/{module}")
    (src / "go.mod").write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "GOPATH": str(tmp_path / "gopath"),
        "GOCACHE": os.environ.get("KECS_TEST_GOCACHE", str(tmp_path / "gocache")),
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOSUMDB": "off",
        "CGO_ENABLED": "0",
    }
    result = subprocess.run(
        [go, "build", "-o", "worker", "."], cwd=src, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return src / "worker", version


@pytest.mark.integration
def test_go_binary_build_info(tmp_path: Path) -> None:
    binary, version = build_go_worker(tmp_path)
    archive = docker_save(
        tmp_path / "go.tar", [(["worker:1"], [layer({"usr/local/bin/worker": binary.read_bytes()}, "gzip")])]
    )
    report = scan_image(str(archive))
    installed = [f for f in report.findings if f.kind == "installed"]
    assert [(f.path, f.sdk, f.language) for f in installed] == [("/usr/local/bin/worker", "aws-sdk-go", "go")]
    assert installed[0].evidence.startswith(f"github.com/aws/aws-sdk-go v{version} (go1.")
    assert "sqs" in installed[0].services  # from the service packages linked in


@pytest.mark.integration
def test_daemon_image_by_name_and_its_export(docker_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tag = build_image(
        docker_client,
        {
            "app/main.py": APP,
            "usr/lib/python3/dist-packages/boto3-1.26.27.dist-info/METADATA": "Name: boto3\n",
        },
    )
    try:
        from_daemon = scan_image(tag)
        assert [(f.path, f.kind, f.services) for f in from_daemon.findings] == [
            ("/app/main.py", "import", ()),
            ("/app/main.py", "client", ("sqs",)),
            ("/usr/lib/python3/dist-packages/boto3-1.26.27.dist-info/METADATA", "installed", ()),
        ]
        assert all(f.layer.startswith("sha256:") for f in from_daemon.findings)
        saved = tmp_path / "saved.tar"
        docker = shutil.which("docker")
        require(docker is not None, "the docker CLI")
        assert docker is not None
        subprocess.run([docker, "save", "-o", str(saved), tag], check=True, timeout=300)
        from_file = scan_image(str(saved))
        assert [(f.path, f.kind, f.services, f.layer) for f in from_file.findings] == [
            (f.path, f.kind, f.services, f.layer) for f in from_daemon.findings
        ]
    finally:
        docker_client.images.remove(tag, force=True)
