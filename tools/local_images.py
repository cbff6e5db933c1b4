"""Build, on a machine with no registry, every image `kecs up examples/seed` needs.

Images come from Debian's archive (debootstrap) and PyPI wheels, cached by content tags,
the same ones the end-to-end tests build. Prints `export` lines for the variables that
`kecs up` (KECS_*) and the example's compose file (BASE_IMAGE, GO_BASE_IMAGE) read:

    eval "$(.venv/bin/python tools/local_images.py)"

Needs root, Docker and debootstrap; the first run takes 10 to 20 minutes, later ones
a second.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CI", "1")  # a missing part is an error here, not a skip

from tests.e2e import images  # noqa: E402


def main() -> int:
    import subprocess

    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if info.returncode != 0:
        raise SystemExit(f"local_images: no Docker engine answered: {info.stderr.strip()[:200]}")
    base = images.base_image()
    exports = {
        "BASE_IMAGE": base,
        "GO_BASE_IMAGE": images.go_build_image(),
        "KECS_PROXY_BASE": images.proxy_base_image(),
        "KECS_MOTO_IMAGE": images.moto_image(base),
        "KECS_LOCALSTACK_IMAGE": images.localstack_image(base),
        "KECS_MINISTACK_IMAGE": images.ministack_image(base),
    }
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
