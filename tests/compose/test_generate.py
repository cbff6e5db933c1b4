"""generate(): image scans are cached by image id."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from kecs.compose import generate
from tests.conftest import build_image


@pytest.mark.integration
def test_an_image_is_scanned_once_then_read_from_the_cache(
    docker_client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # Unique content: an image with the same files is the same image id, which another
    # test may remove while this one runs.
    tag = build_image(docker_client, {"app.py": f"import boto3\nboto3.client('sqs')  # {uuid.uuid4()}\n"})
    try:
        first = generate.daemon_image_evidence(tag)
        cached = list((tmp_path / "cache" / "kecs" / "image-scans").glob("*.json"))
        assert len(cached) == 1 and first.scanned
        assert {s for f in first.findings for s in f.services} == {"sqs"}
        calls: list[str] = []
        monkeypatch.setattr("kecs.scanner.image.scan_image", lambda ref: calls.append(ref))
        again = generate.daemon_image_evidence(tag)
        assert calls == [] and again.findings == first.findings  # from the cache, the same
    finally:
        docker_client.images.remove(tag, force=True)  # type: ignore[attr-defined]
