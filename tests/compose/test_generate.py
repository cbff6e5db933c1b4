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


def test_an_image_reference_is_never_read_as_a_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`image: node:20` with a `node/` directory where kecs runs: the daemon's image, not
    the directory `node` with tag 20 (that read a project's own files as the image)."""
    import json

    from kecs.compose.generate import daemon_image_evidence

    layout = tmp_path / "node"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"manifests": []}))
    monkeypatch.chdir(tmp_path)
    found = daemon_image_evidence("node:20")
    assert not found.findings and "OCI" not in found.note and "index" not in found.note, found
    assert "node:20" in found.note and ("daemon" in found.note), found
