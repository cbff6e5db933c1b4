from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
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
