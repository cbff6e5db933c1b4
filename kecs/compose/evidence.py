"""Gather scan evidence for each service of a project: its build context, or its image."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kecs.compose.context import built_emulator, image_files, mounted_sources
from kecs.compose.load import Project
from kecs.compose.plan import ServiceEvidence
from kecs.errors import KecsError
from kecs.safefs import read_regular
from kecs.scanner.engine import ScanOptions, scan_path
from kecs.scanner.manifests import analyze_manifest, cataloger_for
from kecs.scanner.model import Finding
from kecs.scanner.services import ServiceCatalog

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/)")

ImageScanner = Callable[[str], "ServiceEvidence | None"]


def _build_settings(build: Any) -> tuple[str, str | None, str | None, str | None]:
    """(context, dockerfile, dockerfile_inline, target) of a `build:` value."""
    if isinstance(build, str):
        return build, None, None, None
    if isinstance(build, dict):
        target = str(build["target"]) if build.get("target") else None
        return str(build.get("context", ".")), build.get("dockerfile"), build.get("dockerfile_inline"), target
    return ".", None, None, None


def _read_text(path: str) -> str | None:
    try:
        return read_regular(path, 4 * 1024 * 1024) if os.path.isfile(path) else None
    except (OSError, UnicodeDecodeError, KecsError):
        return None


def _relative(findings: list[Finding], prefix: str) -> tuple[Finding, ...]:
    if prefix in ("", "."):
        return tuple(findings)
    return tuple(replace(f, path=f"{prefix}/{f.path}") for f in findings)


def gather(
    project: Project,
    options: ScanOptions | None = None,
    scan_image: ImageScanner | None = None,
) -> dict[str, ServiceEvidence]:
    """Scan every service's build context (and Dockerfile); images through `scan_image`."""
    options = options or ScanOptions()
    out: dict[str, ServiceEvidence] = {}
    scanned_contexts: dict[str, list[Finding]] = {}
    catalog: ServiceCatalog | None = None
    for name, service in project.services.items():
        service = service or {}
        if "build" not in service:
            image = service.get("image")
            if not image:
                out[name] = ServiceEvidence(
                    "no build and no image", False, note="it has neither build nor image"
                )
                continue
            found = scan_image(str(image)) if scan_image else None
            out[name] = found or ServiceEvidence(
                f"image {image}", False, note=f"image {image} is prebuilt and kecs does not scan images here"
            )
            continue
        context, dockerfile, inline, target = _build_settings(service["build"])
        if _REMOTE.match(context):
            out[name] = ServiceEvidence(f"build context {context}", False, note="the build context is remote")
            continue
        context_path = os.path.normpath(os.path.join(project.directory, context))
        if not os.path.isdir(context_path):
            raise KecsError(
                f"{project.where(name)}: service {name!r} builds from {context!r}, which is not a directory "
                f"({context_path}); fix build.context"
            )
        prefix = os.path.relpath(context_path, project.directory).replace(os.sep, "/")
        if context_path not in scanned_contexts:
            scanned_contexts[context_path] = list(scan_path(context_path, options).findings)
        # Only what the image gets: the Dockerfile's COPY/ADD sources less .dockerignore.
        dockerfile_path = os.path.normpath(os.path.join(context_path, dockerfile)) if dockerfile else None
        mounted = mounted_sources(service.get("volumes"), project.directory, context_path)
        in_image = image_files(context_path, dockerfile_path if not inline else None, mounted, target)
        dockerfile_rel = os.path.relpath(
            dockerfile_path or os.path.join(context_path, "Dockerfile"), context_path
        )
        kept = [
            f for f in scanned_contexts[context_path]
            if in_image(f.path) or f.path == dockerfile_rel.replace(os.sep, "/")
        ]  # fmt: skip
        if inline:
            kept = list(scanned_contexts[context_path])  # an inline Dockerfile: its COPYs are not read
        findings = list(_relative(kept, prefix))
        # A Dockerfile outside the context, or written inline, is evidence the context scan misses.
        text, label = None, None
        if inline:
            text, label = str(inline), f"{project.where(name)} (dockerfile_inline)"
        elif dockerfile:
            path = os.path.normpath(os.path.join(context_path, dockerfile))
            inside = path.startswith(context_path + os.sep) and cataloger_for(os.path.basename(path))
            if not inside and os.path.isfile(path):
                try:
                    with open(path, encoding="utf-8") as handle:
                        text = handle.read()
                except (OSError, UnicodeDecodeError) as exc:
                    raise KecsError(f"{path}: cannot read the Dockerfile of {name!r}: {exc}") from exc
                label = os.path.relpath(path, project.directory).replace(os.sep, "/")
        if text is not None and label is not None:
            catalog = catalog or ServiceCatalog.load()
            dockerfile_cataloger = cataloger_for("Dockerfile")
            assert dockerfile_cataloger is not None
            findings.extend(analyze_manifest(dockerfile_cataloger, label, text, catalog))
        source = f"build context {prefix if prefix != '.' else '.'}"
        recipe = (
            str(inline) if inline else _read_text(dockerfile_path or os.path.join(context_path, "Dockerfile"))
        )
        emulator = built_emulator(recipe, target) if recipe else None
        out[name] = ServiceEvidence(source, True, tuple(findings), emulator=emulator)
    return out
