from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """Write files (relative path -> text) into a fresh project directory."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "proj"
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return root

    return make


BOTO_APP = 'import boto3\nboto3.client("s3")\nboto3.resource("dynamodb")\n'
