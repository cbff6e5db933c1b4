"""What the seed declared when it was last applied: one digest per resource, in the project.

ECS never resets data on a deploy, and neither does `kecs up`: a resource that exists is
left as the apps made it, and brought back to the declaration only when the declaration
itself changed since it was last applied (its digest here differs) or on `kecs seed
--reset`. A resource that is missing is always created. The digests live in
`.kecs/seed-applied.json`; a digest covers the resource's declaration and the content of
the local files it names.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

from kecs import contract
from kecs.safefs import make_directories, read_regular, write_file
from kecs.seed.model import Seed

APPLIED_FILE = "seed-applied.json"


def resources(seed: Seed) -> Iterator[tuple[str, Any]]:
    """Each resource's key (`kind:name`, as kecs.seed.apply reports it) and declaration."""
    yield from ((f"iam role:{r.name}", r) for r in seed.roles)
    yield from ((f"s3 bucket:{b.name}", b) for b in seed.buckets)
    yield from ((f"sqs queue:{q.name}", q) for q in seed.queues)
    yield from ((f"sns topic:{t.name}", t) for t in seed.topics)
    yield from ((f"dynamodb table:{t.name}", t) for t in seed.tables)
    yield from ((f"ssm parameter:{p.name}", p) for p in seed.parameters)
    yield from ((f"secret:{s.name}", s) for s in seed.secrets)
    if seed.namespace:
        yield f"cloud map:{seed.namespace}", {"namespace": seed.namespace, "services": seed.discovered}


def _content(path: str) -> str:
    """A file's or a directory's content digest (relative names and bytes)."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode() + b"\0" + _content(full).encode())
        return digest.hexdigest()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def declarations(seed: Seed) -> dict[str, str]:
    """Each resource's digest: its declaration, with local files by content, not by path."""
    out = {}
    for key, resource in resources(seed):
        document: dict[str, Any] = dict(resource) if isinstance(resource, Mapping) else asdict(resource)
        for obj in document.get("objects") or ():
            obj["path"] = _content(obj["path"])
        if document.get("items_file"):
            document["items_file"] = _content(document["items_file"])
        document.pop("declared_at", None)  # where it is written is not what it declares
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=list)
        out[key] = hashlib.sha256(text.encode()).hexdigest()
    return out


def _path(project_dir: str) -> str:
    return os.path.join(project_dir, contract.PROJECT_KECS_DIR, APPLIED_FILE)


def read_applied(project_dir: str) -> dict[str, str]:
    try:
        text = read_regular(_path(project_dir), 4 * 1024 * 1024)
        found = json.loads(text) if text else {}
    except (ValueError, OSError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def write_applied(project_dir: str, digests: Mapping[str, str]) -> None:
    make_directories(project_dir, contract.PROJECT_KECS_DIR)
    write_file(_path(project_dir), (json.dumps(dict(sorted(digests.items())), indent=1) + "\n").encode())


def changed_since(current: Mapping[str, str], applied: Mapping[str, str]) -> list[str]:
    """Resources whose declaration differs from the one last applied (never applied: not
    listed; such a resource is created when missing and otherwise left alone)."""
    return sorted(k for k, digest in current.items() if k in applied and applied[k] != digest)
