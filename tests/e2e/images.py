"""Images the end-to-end tests need, built locally (no registry): cached by content tags.

- base: a Debian root file system from debootstrap, imported into the engine; its tag
  hashes the package list, so a changed list builds a new one.
- proxybase: the smallest base the proxy image needs; `kecs up` itself builds the proxy
  image on it (from the installed package), as a user's `kecs up` does.
- moto, localstack and ministack: Python installs from wheels the host builds (the engine's
  containers cannot verify PyPI's certificate here) on the same base: moto server, and
  LocalStack's Python 3.11 install (docs/facts.md, tests/requirements-localstack.txt) in a
  virtual environment, started as a plain process (`localstack.runtime.main`); MiniStack
  in its own virtual environment too (it pins an exact botocore), over TLS as kecs runs it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent.parent
SUITE = "bookworm"
MIRROR = os.environ.get("KECS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = (
    "python3", "python3-boto3", "python3-cryptography", "python3-cffi-backend", "python3-h11",
    "python3-dnslib", "python3-pip", "iptables", "iproute2", "ca-certificates", "curl",
    "awscli", "ruby", "ruby-aws-sdk-s3",
)  # fmt: skip
PROXY_BASE_PACKAGES = (
    "python3", "python3-cryptography", "python3-cffi-backend", "python3-h11", "python3-dnslib", "python3-boto3", "iptables", "ca-certificates",
)  # fmt: skip
GO_PACKAGES = ("golang-go", "golang-github-aws-aws-sdk-go-dev", "ca-certificates")
MOTO = "moto[server]==5.2.5"
MINISTACK = "ministack==1.5.33"
LOCALSTACK_REQUIREMENTS = ROOT / "tests" / "requirements-localstack.txt"
TIMINGS: dict[str, float] = {}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def _log(message: str) -> None:
    print(f"[kecs e2e] {message}", file=sys.stderr, flush=True)


def docker_available() -> None:
    require(shutil.which("docker") is not None, "the docker CLI (Docker Engine)")
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    require(info.returncode == 0, f"a running Docker engine ({info.stderr.strip()[:200]})")
    require(shutil.which("docker-compose") is not None, "docker-compose (Debian package docker-compose)")


def base_image() -> str:
    return _debootstrap_image("kecs-test-base", BASE_PACKAGES)


def go_build_image() -> str:
    """Debian's Go toolchain and aws-sdk-go, for building the Go example (a build stage only)."""
    return _debootstrap_image("kecs-test-gobuild", GO_PACKAGES)


def _debootstrap_image(name: str, packages: tuple[str, ...]) -> str:
    tag = f"{name}:{_digest(SUITE, MIRROR, *sorted(packages))}"
    if _exists(tag):
        return tag
    debootstrap = shutil.which("debootstrap")
    require(debootstrap is not None, "debootstrap (Debian package debootstrap)")
    require(os.geteuid() == 0, "root (debootstrap)")
    assert debootstrap is not None
    started = time.monotonic()
    rootfs = Path(tempfile.mkdtemp(prefix="kecs-rootfs-", dir="/var/tmp"))
    try:
        _log(f"building {tag} with debootstrap ({SUITE}, {len(packages)} packages)")
        subprocess.run(
            [debootstrap, "--variant=minbase", f"--include={','.join(packages)}", SUITE, str(rootfs), MIRROR],
            check=True, capture_output=True, timeout=1800,
        )  # fmt: skip
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "-", tag], stdin=tar.stdout, check=True, capture_output=True, timeout=600
        )
        tar.wait()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    TIMINGS[f"{name} image (cold)"] = time.monotonic() - started
    return tag


def _build(tag: str, context: Path, dockerfile: Path, base: str) -> None:
    subprocess.run(
        ["docker", "build", "-q", "-f", str(dockerfile), "--build-arg", f"BASE={base}", "-t", tag, str(context)],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip


def proxy_base_image() -> str:
    """What a proxy base needs and nothing more (python3, iptables, the three libraries):
    `kecs up` builds the proxy image on it, as on debian:bookworm-slim with the archive."""
    return _debootstrap_image("kecs-test-proxybase", PROXY_BASE_PACKAGES)


def _python_image(tag: str, base: str, requirements: str, install: str, cmd: str) -> str:
    """An image on the base with Python packages from wheels the host builds (the engine's
    containers cannot verify PyPI's certificate here; some packages come as sources only,
    so every wheel is built on the host: pure ones are portable, compiled ones manylinux)."""
    if _exists(tag):
        return tag
    started = time.monotonic()
    context = Path(tempfile.mkdtemp(prefix="kecs-image-"))
    try:
        _log(f"building {tag}")
        (context / "requirements.txt").write_text(requirements)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "-r", str(context / "requirements.txt"),
             "-w", str(context / "wheels")],
            check=True, capture_output=True, timeout=1800,
        )  # fmt: skip
        (context / "Dockerfile").write_text(
            "ARG BASE\nFROM ${BASE}\nCOPY wheels /tmp/wheels\nCOPY requirements.txt /tmp/requirements.txt\n"
            f"RUN {install} --no-index --find-links /tmp/wheels -r /tmp/requirements.txt && rm -rf /tmp/wheels\n"
            f"{cmd}\n"
        )
        _build(tag, context, context / "Dockerfile", base)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    TIMINGS[f"{tag.split(':')[0].removeprefix('kecs-test-')} image (cold)"] = time.monotonic() - started
    return tag


def moto_image(base: str) -> str:
    return _python_image(
        f"kecs-test-moto:{_digest(base, MOTO)}", base, MOTO + "\n",
        "python3 -m pip install -q --break-system-packages",
        'CMD ["python3", "-m", "moto.server", "-H", "0.0.0.0", "-p", "5000"]',
    )  # fmt: skip


def localstack_image(base: str) -> str:
    requirements = LOCALSTACK_REQUIREMENTS.read_text()
    return _python_image(
        f"kecs-test-localstack:{_digest(base, requirements)}", base, requirements,
        # Its own environment: its pins conflict with Debian's python3 packages.
        "python3 -m venv --without-pip /opt/localstack && python3 -m pip --python /opt/localstack/bin/python install -q",
        "ENV GATEWAY_LISTEN=0.0.0.0:4566 DNS_ADDRESS=0 LOCALSTACK_VOLUME_DIR=/var/lib/localstack\nEXPOSE 4566\n"
        'CMD ["/opt/localstack/bin/python", "-m", "localstack.runtime.main"]',
    )  # fmt: skip


def ministack_image(base: str) -> str:
    return _python_image(
        f"kecs-test-ministack:{_digest(base, MINISTACK)}", base, MINISTACK + "\n",
        "python3 -m venv --without-pip /opt/ministack && python3 -m pip --python /opt/ministack/bin/python install -q",
        # As its own image: the gateway port, and openssl for its self-signed certificate.
        "ENV GATEWAY_PORT=4566 PYTHONUNBUFFERED=1\nEXPOSE 4566\n"
        'CMD ["/opt/ministack/bin/python", "-m", "ministack"]',
    )  # fmt: skip


def emulator_images(base: str) -> dict[str, str]:
    """Every emulator kind's test image (kecs.emulators.REGISTRY's kinds), built on `base`."""
    return {
        "localstack": localstack_image(base),
        "moto": moto_image(base),
        "ministack": ministack_image(base),
    }
