"""Load, scan, plan, render and write a project's compose file: `kecs compose` as a function.

Returns what it did (the plan, the text, the path, whether it was written) and prints
nothing; `kecs compose` and `kecs up` both call it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kecs.compose.evidence import gather
from kecs.compose.load import Project, load_project
from kecs.compose.plan import PROXY_IMAGE, Options, Plan, ServiceEvidence, options_from_project, plan
from kecs.compose.render import HEADER_PREFIX, observed_directory, render, to_yaml
from kecs.compose.taskdef import convert
from kecs.errors import KecsError
from kecs.safefs import existing_kind, make_directories, read_regular, write_file
from kecs.scanner.engine import ScanOptions
from kecs.scanner.model import Finding

OUTPUT_NAME = "compose.kecs.yaml"


@dataclass(frozen=True)
class Generated:
    project: Project
    options: Options
    plan: Plan
    text: str
    path: str  # absolute
    status: str  # written | unchanged | up to date | stale | missing | dry run, not written
    current: str | None  # what the file held before


def output_path(output: str | None, project_dir: str, inputs: Sequence[str]) -> str:
    out = os.path.abspath(output) if output else os.path.join(project_dir, OUTPUT_NAME)
    if out in inputs:
        raise KecsError(f"{output}: that is an input file; write the output elsewhere (-o {OUTPUT_NAME})")
    if os.path.dirname(out) != project_dir:
        raise KecsError(
            f"{output}: write the output beside the compose files ({project_dir}) so the relative "
            f"paths in them keep their meaning (-o {os.path.basename(out)})"
        )
    return out


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kecs", "image-scans")


def _image_id(ref: str) -> str | None:
    try:
        import docker

        client = docker.from_env(timeout=30)
        try:
            return str(client.images.get(ref).id).replace("sha256:", "")
        finally:
            client.close()
    except Exception:  # no daemon, no image: scan_image says which
        return None


def _cached_scan(ref: str) -> tuple[Finding, ...] | None:
    """Findings of an image, by its content id and this kecs's scanner (an image is
    immutable: its scan is reused until kecs changes)."""
    from kecs.images import package_digest

    image_id = _image_id(ref)
    if image_id is None:
        return None
    path = os.path.join(_cache_dir(), f"{image_id}-{package_digest()[:12]}.json")
    try:
        with open(path, encoding="utf-8") as handle:
            rows = json.load(handle)
        return tuple(Finding(**{**row, "services": tuple(row.get("services", ()))}) for row in rows)
    except (OSError, ValueError, TypeError):
        pass
    from kecs.scanner.image import ImageOptions, scan_image

    findings = tuple(scan_image(ref, ImageOptions(daemon_only=True)).findings)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump([f.to_dict() for f in findings], handle)
        os.replace(temporary, path)
    except OSError:
        pass  # a cache that cannot be written is only slower
    return findings


def daemon_image_evidence(ref: str) -> ServiceEvidence:
    """Scan an image-only service's image when the local daemon has it (cached by image id)."""
    from kecs.scanner.image import DaemonUnavailable, ImageError, ImageNotFound, ImageOptions, scan_image

    source = f"image {ref}"
    try:
        cached = _cached_scan(ref)
        if cached is not None:
            return ServiceEvidence(source, True, cached)
        report = scan_image(ref, ImageOptions(daemon_only=True))
    except DaemonUnavailable:
        return ServiceEvidence(source, False, note=f"no Docker daemon answered to scan image {ref}")
    except ImageNotFound:
        note = f"image {ref} is not in the local Docker daemon (build or pull it, then run again)"
        return ServiceEvidence(source, False, note=note)
    except ImageError as exc:
        return ServiceEvidence(source, False, note=f"image {ref} could not be read: {exc}")
    return ServiceEvidence(source, True, tuple(report.findings))


def resolve_options(project: Project, overrides: Mapping[str, Any]) -> Options:
    """x-kecs settings and command-line overrides; the proxy image defaults to the tag of
    this installed kecs on the chosen base (see kecs.images)."""
    options = options_from_project(project, overrides)
    if options.proxy_image == PROXY_IMAGE:
        from kecs.images import proxy_tag

        options = replace(options, proxy_image=proxy_tag(options.proxy_base))
    return options


def generate(
    project_dir: str | None,
    files: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    *,
    output: str | None = None,
    check: bool = False,
    dry_run: bool = False,
    force: bool = False,
) -> Generated:
    """Plan the project and write its compose file (and CA) unless checking or dry-running.

    The output is never written through a link, and a file kecs did not generate (its
    first line is not kecs's header) is replaced only with `force`."""
    from kecs.tls import ensure_ca, key_directory, keys_root

    overrides = dict(overrides or {})
    extra, converted_notes = _task_definitions(overrides.pop("task_definitions", None) or ())
    project = load_project(project_dir, list(files), extra=extra)
    options = resolve_options(project, overrides)
    out = output_path(output, project.directory, project.files)
    scanned: dict[str, ServiceEvidence] = {}  # services often share an image: scan it once

    def scan_image(ref: str) -> ServiceEvidence:
        if ref not in scanned:
            scanned[ref] = daemon_image_evidence(ref)
        return scanned[ref]

    evidence = gather(project, ScanOptions(), scan_image=scan_image)
    result = plan(project, evidence, replace(options, keys_directory=keys_root()), _exists)
    if converted_notes:
        result = replace(result, notes=(*converted_notes, *result.notes))
    sources = [os.path.relpath(f, project.directory) for f in project.files]
    text = to_yaml(render(result), sources)
    try:
        current = read_regular(out)
    except OSError as exc:
        raise KecsError(f"{out}: cannot read it: {exc.strerror or exc}") from exc
    if current is not None and not current.startswith(HEADER_PREFIX) and not (check or dry_run or force):
        raise KecsError(
            f"{out}: exists and was not generated by kecs (no kecs header); kecs will not replace it: "
            f"pick another name with -o, or pass --force"
        )
    if check:
        status = "up to date" if current == text else ("missing" if current is None else "stale")
    elif dry_run:
        status = "dry run, not written"
    else:
        if result.captured:
            ensure_ca(
                os.path.join(project.directory, ".kecs"),
                os.path.basename(project.directory),
                key_directory(project.directory),
            )
            for item in result.captured:  # the proxies' records, mounted from here
                make_directories(project.directory, observed_directory(item.name))
        if current == text:
            status = "unchanged"
        else:
            try:
                write_file(out, text.encode("utf-8"))
            except OSError as exc:
                raise KecsError(f"{out}: cannot write it: {exc.strerror or exc}") from exc
            status = "written"
    return Generated(project, options, result, text, out, status, current)


def _task_definitions(paths: Sequence[str]) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """Each task definition as a compose document, and what of them is not used locally."""
    extra, notes = [], []
    for path in paths:
        try:
            text = read_regular(path, 4 * 1024 * 1024)
        except (OSError, UnicodeDecodeError) as exc:
            raise KecsError(f"{path}: cannot read it: {exc}") from exc
        if text is None:
            raise KecsError(f"{path}: no such file (a task definition's JSON)")
        converted = convert(text, os.path.relpath(path))
        extra.append((path, converted.document()))
        notes += converted.notes
    return extra, notes


def _exists(path: str, directory: bool) -> bool:
    """For the seed's local files: there, and of the kind it must be (a link is refused)."""
    kind = existing_kind(path)
    return kind == ("directory" if directory else "file")
