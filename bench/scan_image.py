"""Benchmark: kecs scan --image against the physical floor on a 1 GiB gzip image.

Writes a `docker save` archive of about 1 GiB of gzip layers (an OS-like base of many
files, large incompressible blobs, a site-packages tree with boto3, an app layer, and a
layer of whiteouts), then times in the same run:
  floor: for every layer, `tar -xOf image.tar LAYER | gzip -dc | tar -t > /dev/null`
  kecs:  `kecs scan --image image.tar --format json -q`
and prints the ratio and kecs's peak memory (target: within 1.5x, under 200 MB).

    .venv/bin/python bench/scan_image.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"


def _add(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    archive.addfile(info, io.BytesIO(data))


def write_layer(path: Path, fill) -> str:  # type: ignore[no-untyped-def]
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w|") as archive,
    ):
        fill(archive)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def generate(target: Path, size_mb: int) -> Path:
    marker = target.with_suffix(".size")
    if target.exists() and marker.exists() and marker.read_text() == str(size_mb):
        return target
    rng = random.Random(1)
    layers_dir = WORK / "layers"
    layers_dir.mkdir(parents=True, exist_ok=True)
    words = [
        bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(3, 9)))
        for _ in range(2000)
    ]

    def text(n: int) -> bytes:
        return b" ".join(rng.choice(words) for _ in range(n // 6))

    def base(archive: tarfile.TarFile) -> None:
        for i in range(30_000):  # an OS: many small files
            _add(archive, f"usr/share/doc/pkg{i % 900}/file{i}.txt", text(rng.randrange(200, 4000)))
        for i in range(size_mb * 7 // 10 // 8):  # large incompressible blobs, 8 MiB each
            _add(archive, f"opt/data/blob{i}.bin", os.urandom(8 << 20))

    def site_packages(archive: tarfile.TarFile) -> None:
        root = "usr/local/lib/python3.11/site-packages"
        _add(archive, f"{root}/boto3-1.26.27.dist-info/METADATA", b"Name: boto3\nVersion: 1.26.27\n")
        _add(archive, f"{root}/botocore-1.29.27.dist-info/METADATA", b"Name: botocore\nVersion: 1.29.27\n")
        for i in range(8_000):
            _add(archive, f"{root}/lib{i % 200}/mod{i}.py", b"import os\n" + text(rng.randrange(500, 6000)))

    def app(archive: tarfile.TarFile) -> None:
        for i in range(300):
            uses = i % 10 == 0
            body = b'import boto3\n\ns3 = boto3.client("s3")\n' if uses else b"import json\n"
            _add(archive, f"app/svc{i % 12}/m{i}.py", body + text(rng.randrange(500, 3000)))
        for i in range(size_mb * 3 // 10 // 8):  # app assets, incompressible
            _add(archive, f"app/assets/a{i}.bin", os.urandom(8 << 20))

    def cleanup(archive: tarfile.TarFile) -> None:
        _add(archive, "app/svc0/.wh.m0.py", b"")
        _add(archive, "usr/share/doc/.wh..wh..opq", b"")

    layers = []
    for name, fill in (("base", base), ("site", site_packages), ("app", app), ("cleanup", cleanup)):
        path = layers_dir / f"{name}.tar.gz"
        layers.append((write_layer(path, fill), path))
    with tarfile.open(target, "w") as outer:
        names = []
        for digest, path in layers:
            member = f"{digest}/layer.tar"
            names.append(member)
            outer.add(path, arcname=member)
        config = json.dumps({"rootfs": {"type": "layers"}}).encode()
        _add(outer, "config.json", config)
        _add(
            outer,
            "manifest.json",
            json.dumps([{"Config": "config.json", "RepoTags": ["bench:1"], "Layers": names}]).encode(),
        )
    for _, path in layers:
        path.unlink()
    marker.write_text(str(size_mb))
    return target


def run(cmd: list[str]) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS in kB (GNU time: ru_maxrss of a forked child would count
    the parent's pages), stdout."""
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(WORK / "rss")] if os.path.exists("/usr/bin/time") else []
    start = time.perf_counter()
    proc = subprocess.run([*timer, *cmd], capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{cmd[:3]} failed: {proc.stderr.decode()[-500:]}")
    rss = int((WORK / "rss").read_text().split()[-1]) if timer else 0
    return elapsed, rss, proc.stdout


def extract_layers(image: Path) -> list[Path]:
    """The layer blobs as files, so the floor times decompression and tar parsing only."""
    out = []
    with tarfile.open(image) as outer:
        for member in outer:
            if member.name.endswith("/layer.tar"):
                path = WORK / "floor" / member.name.replace("/", "-")
                if not path.exists() or path.stat().st_size != member.size:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    source = outer.extractfile(member)
                    assert source is not None
                    with open(path, "wb") as handle:
                        while chunk := source.read(1 << 20):
                            handle.write(chunk)
                out.append(path)
    return out


def floor(layers: list[Path]) -> float:
    start = time.perf_counter()
    for path in layers:
        subprocess.run(["bash", "-o", "pipefail", "-c", f"gzip -dc {path} | tar -t > /dev/null"], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    image = generate(WORK / f"image-{args.size_mb}.tar", args.size_mb)
    print(f"image: {image} ({image.stat().st_size / 2**20:.0f} MiB)")
    layers = extract_layers(image)
    floor(layers)  # warm the page cache
    t_floor = min(floor(layers) for _ in range(2))
    runs = [
        run([sys.executable, "-m", "kecs", "scan", "--image", str(image), "--format", "json", "-q"])
        for _ in range(2)
    ]
    t_kecs, _, out = min(runs, key=lambda r: r[0])
    report = json.loads(out)
    print(f"floor (gzip -dc | tar -t per layer): {t_floor:6.2f} s")
    print(f"kecs scan --image:                   {t_kecs:6.2f} s   ratio {t_kecs / t_floor:.2f}x")
    print(f"kecs peak memory: {max(r[1] for r in runs) / 1024:.0f} MB")
    print(f"findings: {len(report['findings'])} ({', '.join(report['sdks'])}; services {report['services']})")


if __name__ == "__main__":
    main()
