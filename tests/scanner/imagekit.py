"""Build real image archives for tests: tar layers, docker save tarballs, OCI layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import zstandard

Files = dict[str, "bytes | str | tuple[str, str]"]  # path -> content | ("symlink"|"hardlink", target)


def layer(files: Files, compression: str = "none") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if isinstance(content, tuple):
                kind, target = content
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = target
                archive.addfile(info)
                continue
            data = content.encode() if isinstance(content, str) else content
            info.size = len(data)
            info.mode = 0o755 if name.startswith(("usr/local/bin/", "bin/", "app/bin/")) else 0o644
            archive.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    if compression == "gzip":
        return gzip.compress(raw, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def docker_save(
    path: Path, images: list[tuple[list[str], list[bytes]]], *, blobs_first: bool = False
) -> Path:
    """A `docker save` tarball (legacy layout: <id>/layer.tar + manifest.json)."""
    manifest = []
    members: list[tuple[str, bytes]] = []
    for tags, layers in images:
        names = []
        for data in layers:
            name = f"{digest(data)[7:]}/layer.tar"
            names.append(name)
            members.append((name, data))
        config = json.dumps({"rootfs": {"diff_ids": [digest(d) for d in layers]}}).encode()
        config_name = f"{digest(config)[7:]}.json"
        members.append((config_name, config))
        manifest.append({"Config": config_name, "RepoTags": tags, "Layers": names})
    meta = [("manifest.json", json.dumps(manifest).encode())]
    ordered = members + meta if blobs_first else meta + members
    with tarfile.open(path, "w") as archive:
        seen = set()
        for name, data in ordered:
            if name not in seen:
                seen.add(name)
                _add(archive, name, data)
    return path


def oci_layout(root: Path, layers: list[bytes], ref: str = "app:1", as_tar: bool = False) -> Path:
    blobs: dict[str, bytes] = {}
    descriptors = []
    for data in layers:
        blobs[digest(data)] = data
        descriptors.append(
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(data), "size": len(data)}
        )
    config = json.dumps({"rootfs": {"diff_ids": []}}).encode()
    blobs[digest(config)] = config
    manifest = json.dumps(
        {"schemaVersion": 2, "config": {"digest": digest(config), "size": len(config)}, "layers": descriptors}
    ).encode()
    blobs[digest(manifest)] = manifest
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "digest": digest(manifest),
                "size": len(manifest),
                "annotations": {"io.containerd.image.name": ref},
            }
        ],
    }
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index).encode(),
    }
    files.update({f"blobs/sha256/{d[7:]}": data for d, data in blobs.items()})
    if as_tar:
        with tarfile.open(root, "w") as archive:
            for name, data in files.items():
                _add(archive, name, data)
        return root
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root
