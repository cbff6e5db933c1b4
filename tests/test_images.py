"""The proxy image's build context comes from the installed package, and its tag from its content."""

from __future__ import annotations

import io
import tarfile

from kecs import images


def test_build_context_holds_the_package_and_its_dockerfile() -> None:
    with tarfile.open(fileobj=io.BytesIO(images.build_context())) as archive:
        names = set(archive.getnames())
    assert f"kecs/{images.DOCKERFILE}" in names
    assert {"kecs/__main__.py", "kecs/proxy/server.py", "kecs/contract.py", "kecs/tls.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_tag_follows_content_and_base() -> None:
    tag = images.proxy_tag()
    assert tag.startswith(f"{images.PROXY_REPOSITORY}:0.1.0-") and tag == images.proxy_tag(
        images.DEFAULT_PROXY_BASE
    )
    assert images.proxy_tag("my/base:1") != tag
