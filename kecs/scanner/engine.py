"""Scan a tree: pick candidate files, analyse them in parallel, gather a report."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kecs.errors import KecsError
from kecs.scanner import lint
from kecs.scanner.languages import by_extension
from kecs.scanner.manifests import (
    LOCKS_BESIDE_PACKAGE_JSON,
    ManifestError,
    analyze_manifest,
    cataloger_for,
    direct_npm_dependencies,
)
from kecs.scanner.model import Finding, ScanReport, Skipped
from kecs.scanner.services import ServiceCatalog
from kecs.scanner.source import Factory, FileAnalyzer, LanguageSpec, Layout, Use
from kecs.scanner.walk import WalkOptions, iter_files

# Every AWS SDK import and every lint rule needs one of these bytes; files without
# them are never parsed. Matched on the lower-cased file (Aws::, Amazon., aws_sdk_):
# bytes.lower() and `in` run at memory speed, a case-insensitive regex does not.
NEEDLES = (b"aws", b"boto", b"amazon", b"4566", b"localstack")
BINARY_SNIFF = 8192
# Findings listed per file before only new kinds of finding are (see _bounded).
MAX_FINDINGS = 1000
# Parallel start-up costs more than it saves on small trees.
PARALLEL_THRESHOLD = 64


@dataclass(frozen=True)
class ScanOptions:
    max_file_size: int = 2 * 1024 * 1024
    respect_gitignore: bool = True
    skip_excluded_dirs: bool = True
    jobs: int = 0  # 0: one per CPU
    # Called with (files done, files total) as candidate files are analysed.
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class WorkItem:
    rel_path: str
    abs_path: str
    language: str  # language name, or "manifest:<cataloger>"


@dataclass
class ChunkResult:
    findings: list[Finding]
    skipped: list[Skipped]
    parsed: int
    # Client factories the files define, for callers in other modules: (path, name, factory).
    factories: list[tuple[str, str, Factory]] = field(default_factory=list)
    # Clients handed to another module's functions: (qualified function, position, use).
    handoffs: list[tuple[str, int, Use]] = field(default_factory=list)


class Analyzers:
    """Parsers and compiled queries for one worker, created on first use."""

    def __init__(self) -> None:
        self.catalog = ServiceCatalog.load()
        self._by_ext = by_extension()
        self._analyzers: dict[int, FileAnalyzer] = {}

    def for_path(self, path: str) -> FileAnalyzer | None:
        spec = self._by_ext.get(os.path.splitext(path)[1].lower())
        if spec is None:
            return None
        analyzer = self._analyzers.get(id(spec))
        if analyzer is None:
            analyzer = self._analyzers[id(spec)] = FileAnalyzer(spec, self.catalog)
        return analyzer


def might_use_aws(data: bytes) -> bool:
    lowered = data.lower()
    return any(needle in lowered for needle in NEEDLES)


def looks_minified(data: bytes) -> bool:
    """Bundles and minified files: long, with very long lines. Not worth parsing."""
    if len(data) < 20_000:
        return False
    return len(data) / (data.count(b"\n") + 1) > 1_000


def worth_parsing(spec: LanguageSpec, data: bytes) -> bool:
    """Whether a source file can hold a finding: a line of code imports (or names) its
    SDK, or a lint rule could apply. Comments and strings that only mention an SDK are
    not parsed: parsing is most of a scan's time."""
    lowered = data.lower()
    if not any(needle in lowered for needle in NEEDLES):
        return False
    return spec.sdk_gate.search(data) is not None or lint.might_apply(data)


def _bounded(rel_path: str, found: list[Finding]) -> tuple[list[Finding], list[Skipped]]:
    """At most MAX_FINDINGS per file, then only findings that add something (a kind,
    service, operation, resource or rule not yet listed for the file): a generated or
    hostile file of a million identical calls costs no more memory than its first
    thousand, and the report's services and operations stay whole."""
    if len(found) <= MAX_FINDINGS:
        return found, []
    kept = found[:MAX_FINDINGS]
    seen = {(f.kind, f.services, f.operation, f.resource, f.rule) for f in kept}
    left_out = 0
    for finding in found[MAX_FINDINGS:]:
        key = (finding.kind, finding.services, finding.operation, finding.resource, finding.rule)
        if key in seen:
            left_out += 1
        else:
            seen.add(key)
            kept.append(finding)
    return kept, [Skipped(rel_path, f"{left_out} further findings like those listed are not listed")]


def analyze_blob(
    rel_path: str, data: bytes, analyzers: Analyzers, directory: str | None = None
) -> ChunkResult:
    """One file's bytes, from a tree or an image layer (one rule for both): what is
    skipped and why, what is parsed, its findings. `directory`: the file's directory on
    disk, where an npm lock file's package.json is read (None in an image)."""
    if b"\x00" in data[:BINARY_SNIFF]:
        return ChunkResult([], [Skipped(rel_path, "binary")], 0)
    cataloger = cataloger_for(os.path.basename(rel_path))
    if cataloger is not None:
        if not might_use_aws(data):
            return ChunkResult([], [], 0)
        try:
            direct = None
            if cataloger.name in LOCKS_BESIDE_PACKAGE_JSON and directory is not None:
                direct = direct_npm_dependencies(os.path.join(directory, "package.json"))
            found = analyze_manifest(cataloger, rel_path, data.decode("utf-8"), analyzers.catalog, direct)
            return ChunkResult(found, [], 1)
        except UnicodeDecodeError:
            return ChunkResult([], [Skipped(rel_path, "not valid UTF-8")], 0)
        except ManifestError as exc:
            return ChunkResult([], [Skipped(rel_path, str(exc))], 0)
    analyzer = analyzers.for_path(rel_path)
    if analyzer is None or not worth_parsing(analyzer.spec, data):
        return ChunkResult([], [], 0)
    if looks_minified(data):
        return ChunkResult([], [Skipped(rel_path, "minified or generated")], 0)
    found, skipped = _bounded(rel_path, analyzer.analyze(rel_path, data))
    return ChunkResult(
        found,
        skipped,
        1,
        [(rel_path, n, f) for n, f in analyzer.defined_factories.items()],
        analyzer.handoffs,
    )


def analyze_file(item: WorkItem, analyzers: Analyzers, options: ScanOptions) -> ChunkResult:
    try:
        size = os.path.getsize(item.abs_path)
        if size > options.max_file_size:
            return ChunkResult([], [Skipped(item.rel_path, f"larger than {options.max_file_size} bytes")], 0)
        with open(item.abs_path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return ChunkResult([], [Skipped(item.rel_path, f"unreadable: {exc.strerror or exc}")], 0)
    return analyze_blob(item.rel_path, data, analyzers, os.path.dirname(item.abs_path))


def analyze_chunk(items: Sequence[WorkItem], options: ScanOptions) -> ChunkResult:
    analyzers = Analyzers()
    out = ChunkResult([], [], 0)
    for item in items:
        result = analyze_file(item, analyzers, options)
        out.findings.extend(result.findings)
        out.skipped.extend(result.skipped)
        out.parsed += result.parsed
        out.factories.extend(result.factories)
        out.handoffs.extend(result.handoffs)
    return out


def classify(rel_path: str, abs_path: str, languages: dict[str, LanguageSpec]) -> WorkItem | None:
    name = os.path.basename(rel_path)
    cataloger = cataloger_for(name)  # first: build.gradle.kts is a manifest, not a script
    if cataloger is not None:
        return WorkItem(rel_path, abs_path, "manifest:" + cataloger.name)
    spec = languages.get(os.path.splitext(name)[1].lower())
    if spec is not None:
        return WorkItem(rel_path, abs_path, spec.name)
    return None


def _work_items(path: str, base: str, options: ScanOptions, skipped: list[Skipped]) -> list[WorkItem]:
    walk = WalkOptions(options.respect_gitignore, options.skip_excluded_dirs)
    languages = by_extension()
    if os.path.isdir(path):
        prefix = os.path.relpath(path, base).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"

        def unreadable(rel: str, why: str) -> None:
            skipped.append(
                Skipped((prefix + rel).rstrip("/") if rel != "." else prefix.rstrip("/") or ".", why)
            )

        files = iter_files(path, walk, unreadable)
        items = (classify(prefix + rel, os.path.join(path, rel), languages) for rel in files)
        return [item for item in items if item is not None]
    rel = os.path.relpath(path, base).replace(os.sep, "/")
    item = classify(rel, path, languages)
    return [item] if item else []


def _check_path(path: str) -> None:
    if not os.path.exists(path):
        raise KecsError(f"{path}: no such file or directory")
    if not os.access(path, os.R_OK) or (os.path.isdir(path) and not os.access(path, os.X_OK)):
        raise KecsError(f"{path}: not readable (check its permissions)")


def scan_paths(paths: Iterable[str], options: ScanOptions = ScanOptions()) -> ScanReport:
    """Scan files and directories. Paths in the report are relative to the common parent
    of the targets (to a directory target itself, or to a file target's directory)."""
    targets = list(paths)
    if not targets:
        raise KecsError("nothing to scan: give at least one path")
    for path in targets:
        _check_path(path)
    if len(targets) == 1:
        only = targets[0]
        base = only if os.path.isdir(only) else os.path.dirname(os.path.abspath(only))
        label = only
    else:
        dirs = [p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p)) for p in targets]
        base = os.path.commonpath([os.path.abspath(d) for d in dirs])
        label = base
    items: list[WorkItem] = []
    seen: set[str] = set()
    unreadable: list[Skipped] = []
    for path in targets:
        for item in _work_items(path, base, options, unreadable):
            if item.rel_path not in seen:
                seen.add(item.rel_path)
                items.append(item)
    report = ScanReport(target=label, files_seen=len(items))
    report.skipped.extend(unreadable)
    factories: list[tuple[str, str, Factory]] = []
    handoffs: list[tuple[str, int, Use]] = []
    for result in _run(items, options):
        report.findings.extend(result.findings)
        report.skipped.extend(result.skipped)
        report.files_parsed += result.parsed
        factories.extend(result.factories)
        handoffs.extend(result.handoffs)
    if factories:
        _resolve_imported_factories(report, items, factories, options)
    if handoffs:
        _resolve_passed_clients(report, items, handoffs, options)
    report.findings.sort(key=lambda f: (f.path, f.line, f.column, f.kind, f.sdk))
    report.skipped.sort()
    return report


def _read(path: str, limit: int) -> bytes | None:
    try:
        if os.path.getsize(path) > limit:
            return None
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


_GO_MODULE = re.compile(rb"^module[ \t]+\"?([^\s\"]+)", re.M)


def _layout(items: list[WorkItem], options: ScanOptions) -> Layout:
    """The go.mod files of the scanned tree and the module paths they declare."""
    modules: dict[str, str] = {}
    for item in items:
        if os.path.basename(item.rel_path) == "go.mod":
            declared = _GO_MODULE.search(_read(item.abs_path, options.max_file_size) or b"")
            if declared:
                modules[os.path.dirname(item.rel_path)] = declared.group(1).decode("utf-8", "replace")
    return Layout(go_modules=modules)


def _replace_findings(report: ScanReport, redone: dict[str, list[Finding]]) -> None:
    """A later pass's findings for the files it analysed again, instead of the first's."""
    if redone:
        report.findings[:] = [f for f in report.findings if f.path not in redone]
        for found in redone.values():
            report.findings.extend(found)


def _resolve_imported_factories(
    report: ScanReport, items: list[WorkItem], factories: list[tuple[str, str, Factory]], options: ScanOptions
) -> None:
    """The second pass: files calling a client factory another module defines
    (`from app.aws import client_for; client_for("ssm")`, `import { makeS3 } from
    "./aws"`, `awsclients.NewS3(cfg)`, `AwsClients.s3()`) are analysed again knowing it.
    Only files that can name a factory are read again; the first pass's findings for
    them are replaced."""
    languages = by_extension()
    layout = _layout(items, options)
    exported: dict[str, Factory] = {}
    names: dict[str, set[str]] = {}  # "python" or "other" -> the factories' names
    by_path = {item.rel_path: item for item in items}
    for path, name, factory in factories:
        spec = languages.get(os.path.splitext(path)[1].lower())
        item = by_path.get(path)
        if spec is None or spec.module_names is None or item is None:
            continue
        defining = _read(item.abs_path, options.max_file_size) or b""
        for module in spec.module_names(path, defining, layout):
            exported.setdefault(f"{module}.{name}", factory)
        names.setdefault("python" if spec.name == "python" else "other", set()).add(name)
    if not exported:
        return
    # Only files that can call one: in Python, those importing one by name (`from app.aws
    # import client_for`, also in parentheses over several lines), so a factory named
    # `client` does not re-read every file; elsewhere, those naming one as a word.
    wanted: dict[str, re.Pattern[bytes]] = {}
    for group, defined in names.items():
        words = b"|".join(sorted(re.escape(name.encode()) for name in defined))
        if group == "python":
            wanted[group] = re.compile(
                rb"^[ \t]*from[ \t]+[\w.]+[ \t]+import[ \t]+(?:\([^)]*|[^\n]*)\b(?:" + words + rb")\b", re.M
            )
        else:
            wanted[group] = re.compile(rb"\b(?:" + words + rb")\b")
    analyzers = Analyzers()
    redone: dict[str, list[Finding]] = {}
    for item in items:
        pattern = wanted.get("python" if item.language == "python" else "other")
        if pattern is None or item.language.startswith("manifest:"):
            continue
        data = _read(item.abs_path, options.max_file_size)
        if data is None or not pattern.search(data):
            continue
        analyzer = analyzers.for_path(item.rel_path)
        assert analyzer is not None
        found = analyzer.analyze(item.rel_path, data, imported_factories=exported)
        if analyzer.used_imported_factory:
            redone[item.rel_path] = _bounded(item.rel_path, found)[0]
    _replace_findings(report, redone)


def _resolve_passed_clients(
    report: ScanReport, items: list[WorkItem], handoffs: list[tuple[str, int, Use]], options: ScanOptions
) -> None:
    """The third pass: a client one module hands to a function of another
    (`archive(s3, ...)` after `from app.helpers import archive`) is that service's client
    in the function's parameter at that position: the defining module is analysed again
    knowing it (it may import no SDK at all)."""
    languages = by_extension()
    layout = _layout(items, options)
    by_module: dict[str, dict[str, dict[int, Use]]] = {}  # module -> function -> position -> use
    for qualified, position, use in handoffs:
        module, _, function = qualified.rpartition(".")
        positions = by_module.setdefault(module, {}).setdefault(function, {})
        if position in positions and positions[position] != use:
            positions[position] = Use(use.sdk)  # two services at one position: not one client
        else:
            positions.setdefault(position, use)
    # A module's last part is its file's stem (Python, JS, Java's class) or its directory
    # (a Go package): only such files are read again.
    lasts = {module.rpartition(".")[2].rpartition("/")[2] for module in by_module}
    analyzers = Analyzers()
    redone: dict[str, list[Finding]] = {}
    for item in items:
        spec = languages.get(os.path.splitext(item.rel_path)[1].lower())
        if spec is None or spec.module_names is None or item.language.startswith("manifest:"):
            continue
        stem = os.path.splitext(os.path.basename(item.rel_path))[0]
        if stem not in lasts and os.path.basename(os.path.dirname(item.rel_path)) not in lasts:
            continue
        data = _read(item.abs_path, options.max_file_size)
        if data is None:
            continue
        passed: dict[str, dict[int, Use]] = {}
        for module in spec.module_names(item.rel_path, data, layout):
            for function, positions in by_module.get(module, {}).items():
                passed.setdefault(function, {}).update({p: u for p, u in positions.items() if u.services})
        if not passed:
            continue
        analyzer = analyzers.for_path(item.rel_path)
        assert analyzer is not None
        redone[item.rel_path] = _bounded(
            item.rel_path, analyzer.analyze(item.rel_path, data, passed_clients=passed)
        )[0]
    _replace_findings(report, redone)


def scan_path(path: str, options: ScanOptions = ScanOptions()) -> ScanReport:
    """Scan one file or directory tree for AWS SDK use and lint findings."""
    return scan_paths([path], options)


def _run(items: list[WorkItem], options: ScanOptions) -> Iterable[ChunkResult]:
    total = len(items)
    jobs = options.jobs or os.cpu_count() or 1
    progress = options.progress
    if jobs == 1 or total < PARALLEL_THRESHOLD:
        analyzers = Analyzers() if items else None
        for done, item in enumerate(items, 1):
            assert analyzers is not None
            yield analyze_file(item, analyzers, options)
            if progress:
                progress(done, total)
        return
    from concurrent.futures import ProcessPoolExecutor

    # One chunk per worker, so each compiles its parsers and queries once; strided,
    # so costly corners of the tree spread over all workers.
    chunks = [items[i::jobs] for i in range(jobs)]
    worker_options = ScanOptions(
        options.max_file_size, options.respect_gitignore, options.skip_excluded_dirs, 1
    )
    done = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for chunk, result in zip(
            chunks, pool.map(analyze_chunk, chunks, [worker_options] * len(chunks)), strict=True
        ):
            done += len(chunk)
            if progress:
                progress(done, total)
            yield result
