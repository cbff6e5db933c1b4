from __future__ import annotations

import io
import os
import tarfile
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kecs.scanner.engine import ScanOptions, scan_path
from kecs.scanner.model import Finding

ScanSource = Callable[..., list[Finding]]


def in_ci() -> bool:
    return os.environ.get("CI", "") not in ("", "0", "false")


def require(condition: bool, what: str) -> None:
    """Missing machine parts fail in CI (where .ci/run must provide them) and skip elsewhere."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"missing in CI: {what}")
    pytest.skip(f"needs {what}")


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """kecs keeps CA keys in XDG_STATE_HOME and image scans in XDG_CACHE_HOME: tests use
    their own, never the user's."""
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(base / "cache"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Figures tests record with record_property("timings", ...): image builds, compose up."""
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "timings":
                terminalreporter.write_line(f"timings ({report.nodeid}): {value}")


@pytest.fixture
def scan_source(tmp_path: Path) -> ScanSource:
    """Write one source file and scan it; returns its findings (lint included)."""

    def run(filename: str, code: str, kinds: tuple[str, ...] = ("client", "import")) -> list[Finding]:
        path = tmp_path / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code).lstrip("\n"), encoding="utf-8")
        report = scan_path(str(tmp_path), ScanOptions(jobs=1))
        return [f for f in report.findings if f.kind in kinds]

    return run


def summary(findings: list[Finding]) -> list[tuple[int, str, str, tuple[str, ...]]]:
    """(line, kind, sdk, services) for compact assertions."""
    return [(f.line, f.kind, f.sdk, f.services) for f in findings]


@pytest.fixture
def docker_client() -> Iterator[object]:
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # the daemon is missing or unreachable
        require(False, f"a Docker daemon ({exc})")
    yield client
    client.close()


def build_image(client, files: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    """An image FROM scratch with `files`: no base image, no registry."""
    tag = f"kecs-test-{uuid.uuid4().hex[:8]}:1"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        dockerfile = "FROM scratch\n" + "".join(f"COPY {name} /{name}\n" for name in files)
        for name, text in {"Dockerfile": dockerfile, **files}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    return tag
