"""The images kecs itself needs: the proxy image, built from the installed package.

The build context is made from the installed `kecs` package (its Python files and the
Dockerfile shipped beside the proxy code), never from a source checkout, so a kecs
installed with pip can build its own sidecar. The tag carries a digest of that content
and of the base image reference: a changed kecs or base gives a new tag, an unchanged
one is never rebuilt. Emulator images are pulled when missing; offline, a missing
image is one line saying what to load or build.
"""

from __future__ import annotations

import functools
import hashlib
import io
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kecs import __version__
from kecs.errors import KecsError

# Debian with python3 and iptables from its own archive: the Dockerfile installs the
# proxy's three libraries from Debian's packages when the base lacks them.
DEFAULT_PROXY_BASE = "debian:bookworm-slim"
PROXY_REPOSITORY = "kecs-proxy"
DOCKERFILE = "proxy/Dockerfile"  # inside the package
Progress = Callable[[str], None]


def _package_root() -> Path:
    return Path(__file__).resolve().parent


def _package_files(root: Path) -> Iterator[tuple[str, Path]]:
    """The files a proxy image needs: the package's sources and data, in a stable order."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink() or "__pycache__" in path.parts:
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        yield f"kecs/{path.relative_to(root).as_posix()}", path


@functools.cache
def package_digest() -> str:
    """A digest of this installed kecs (hashed once per process: it does not change)."""
    digest = hashlib.sha256()
    for name, path in _package_files(_package_root()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def proxy_tag(base: str | None = None) -> str:
    """`kecs-proxy:<version>-<digest>` for this installed kecs and this base image."""
    digest = hashlib.sha256(f"base={base or DEFAULT_PROXY_BASE}\n{package_digest()}".encode())
    return f"{PROXY_REPOSITORY}:{__version__}-{digest.hexdigest()[:12]}"


def build_context() -> bytes:
    """A tar of the package as the Dockerfile expects it (`kecs/...` at the top)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, path in _package_files(_package_root()):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class ImageStatus:
    reference: str
    what: str  # "proxy", "emulator localstack"
    action: str  # present | built | pulled
    seconds: float = 0.0


def _present(client: Any, reference: str) -> bool:
    import docker.errors

    try:
        client.images.get(reference)
        return True
    except docker.errors.ImageNotFound:
        return False


def _pull(client: Any, reference: str) -> str | None:
    """Pull; None when done, else why not (one line)."""
    try:
        client.images.pull(reference)
        return None
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return text[:300]


def ensure_image(client: Any, reference: str, what: str, hint: str, progress: Progress) -> ImageStatus:
    """The image in the local daemon, pulled if missing; a KecsError saying how otherwise."""
    if _present(client, reference):
        return ImageStatus(reference, what, "present")
    progress(f"pulling {reference} ({what})")
    started = time.monotonic()
    why = _pull(client, reference)
    if why is not None:
        raise KecsError(
            f"the {what} image {reference} is not in the local Docker daemon and cannot be pulled ({why}); "
            f"{hint}"
        )
    return ImageStatus(reference, what, "pulled", time.monotonic() - started)


def ensure_proxy_image(client: Any, tag: str, base: str | None, progress: Progress) -> ImageStatus:
    """The proxy image `tag`, built from the installed package on `base` when missing."""
    base = base or DEFAULT_PROXY_BASE
    if _present(client, tag):
        return ImageStatus(tag, "proxy", "present")
    ensure_image(
        client, base, "proxy base",
        "load or build a Debian-like image with python3 and iptables (docker load -i FILE), or pick "
        "one the daemon has with --proxy-base IMAGE (x-kecs.images.proxy_base)",
        progress,
    )  # fmt: skip
    progress(f"building {tag} on {base}")
    started = time.monotonic()
    lines: list[str] = []
    for chunk in client.api.build(
        fileobj=io.BytesIO(build_context()),
        custom_context=True,
        dockerfile=f"kecs/{DOCKERFILE}",
        buildargs={"BASE": base},
        tag=tag,
        rm=True,
        forcerm=True,
        decode=True,
        labels={"dev.kecs.role": "proxy-image", "dev.kecs.version": __version__},
    ):
        if "error" in chunk:
            detail = " | ".join(line for line in lines[-3:] if line)
            raise KecsError(
                f"building the proxy image {tag} on {base} failed: {chunk['error'].strip()}"
                + (f" (last output: {detail})" if detail else "")
                + "; a base without python3, iptables, cryptography, h11 and dnslib needs Debian's "
                "package archive, else pick one that has them with --proxy-base IMAGE"
            )
        text = str(chunk.get("stream", "")).strip()
        if text:
            lines.append(text)
            if text.startswith("Step "):
                progress(f"building {tag}: {text}")
    return ImageStatus(tag, "proxy", "built", time.monotonic() - started)
