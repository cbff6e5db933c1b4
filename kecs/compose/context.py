"""What of a build context ends up in the image: the Dockerfile's COPY/ADD sources, less
what `.dockerignore` excludes. The scan of a build context keeps only findings in such
files (a CDK app beside the service's code is not the service).

`.dockerignore` is matched with the Docker SDK's own matcher (Go's filepath.Match rules,
`**`, `!` exceptions, last match wins); BuildKit's `<Dockerfile>.dockerignore` beside the
Dockerfile takes precedence, as in `docker build`. Sources are the COPY/ADD from the
context (not `--from=` another stage or image, not URLs) of the stages the image is built
from: the target stage (`build.target`, else the last) and, transitively, the stages it
starts `FROM` or copies `--from` (BuildKit builds no other); a directory source brings
everything below it, globs match as Docker's do. A build artifact copied in (`target/*.jar`,
`build/libs/`, `dist/`) brings the project it is built from: the directory above the
artifact's build directory, whose manifests and sources say what the artifact holds.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from kecs.safefs import read_regular


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        if whole:
            word, _, rest = whole.partition(" ")
            out.append((word.upper(), rest.strip()))
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


# Directories build tools write their artifacts to, and artifact file types.
ARTIFACT_DIRS = ("target", "build", "dist", "out", "bin", "publish")
ARTIFACT_SUFFIXES = (".jar", ".war", ".ear", ".dll", ".exe", ".whl")


def _stages(found: list[tuple[str, str]]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(name, base, instructions) per build stage, in order; unnamed stages by index."""
    stages: list[tuple[str, str, list[tuple[str, str]]]] = []
    for word, rest in found:
        if word == "FROM":
            tokens = [t for t in rest.split() if not t.startswith("--")]
            base = tokens[0] if tokens else ""
            name = tokens[2] if len(tokens) >= 3 and tokens[1].lower() == "as" else str(len(stages))
            stages.append((name.lower(), base.lower(), []))
        elif stages:
            stages[-1][2].append((word, rest))
    return stages


def _built_stages(
    stages: list[tuple[str, str, list[tuple[str, str]]]], target: str | None
) -> set[str] | None:
    """The stages an image of `target` (else the last stage) is built from; None when the
    target is not a stage of this Dockerfile (then every stage counts)."""
    names = [name for name, _, _ in stages]
    wanted = (target or "").lower() or (names[-1] if names else "")
    if wanted not in names:
        return None
    by_name = {name: (base, body) for name, base, body in stages}
    built: set[str] = set()
    todo = [wanted]
    while todo:
        name = todo.pop()
        if name in built or name not in by_name:
            continue
        built.add(name)
        base, body = by_name[name]
        todo.append(base)
        for word, rest in body:
            if word in ("COPY", "ADD"):
                todo += [t.split("=", 1)[1].lower() for t in rest.split() if t.startswith("--from=")]
    return built


def _artifact_project(source: str) -> str | None:
    """The project directory an artifact path is built in (`api/target/app.jar` -> `api`),
    or None when `source` is not a build artifact."""
    parts = source.split("/")
    for index, part in enumerate(parts):
        if part in ARTIFACT_DIRS:
            return "/".join(parts[:index])
    if source.endswith(ARTIFACT_SUFFIXES) or any(source.endswith(s + "*") for s in ARTIFACT_SUFFIXES):
        return "/".join(parts[:-1])
    return None


# An emulator installed with pip: moto only with its server (a test image has plain moto),
# MiniStack and LocalStack always; or an entry point that starts one.
_PIP_EMULATOR = re.compile(
    r"\b(?:pip3?|uv pip|pipx)\s+install\b.*?(?<![\w-])"
    r"(moto\[[^\]]*\b(?:server|all)\b[^\]]*\]|ministack|localstack(?:-core)?)",
    re.I,
)
_STARTS_EMULATOR = re.compile(r"\b(moto_server|moto\.server|ministack|localstack)\b", re.I)


def built_emulator(text: str, target: str | None = None) -> str | None:
    """The emulator kind a Dockerfile builds (`FROM localstack/localstack`, a `pip install
    moto[server]`), in the stages its image is built from; None for anything else."""
    from kecs import emulators

    found = instructions(text)
    stages = _stages(found)
    built = _built_stages(stages, target)
    for name, base, body in stages:
        if built is not None and name not in built:
            continue
        kind = emulators.kind_of_image(base)
        if kind:
            return kind
        for word, rest in body:
            match = _PIP_EMULATOR.search(rest) if word == "RUN" else None
            if word in ("CMD", "ENTRYPOINT"):
                match = _STARTS_EMULATOR.search(rest)
            if match:
                package = match.group(1).lower()
                return next((k for k in emulators.REGISTRY if package.startswith(k)), None)
    return None


def copy_sources(text: str, target: str | None = None) -> list[str] | None:
    """The context paths COPY/ADD take (normalised, relative) in the stages an image of
    `target` is built from, or None when one of them cannot be read (then nothing is
    filtered: a scanner miss is worse than a wider scan)."""
    sources: list[str] = []
    found = instructions(text)
    stages = _stages(found)
    built = _built_stages(stages, target)
    if built is not None:
        found = [step for name, _, body in stages if name in built for step in body]
    for word, rest in found:
        if word not in ("COPY", "ADD"):
            continue
        if rest.startswith("["):
            try:
                parts = [str(p) for p in json.loads(rest)]
            except ValueError:
                return None
            flags: list[str] = []
        else:
            try:
                tokens = shlex.split(rest, posix=True)
            except ValueError:
                return None
            flags = [t for t in tokens if t.startswith("--")]
            parts = [t for t in tokens if not t.startswith("--")]
        if any(f.startswith("--from") for f in flags) or len(parts) < 2:
            continue
        for source in parts[:-1]:
            if "://" in source or source.startswith("git@"):
                continue
            if "$" in source:
                return None  # a build argument in the path: cannot tell
            normal = os.path.normpath(source.lstrip("/")).replace(os.sep, "/")
            sources.append("" if normal in (".", "") else normal)
            built_in = _artifact_project(normal)
            if built_in is not None:
                sources.append(built_in)
    return sources


@dataclass(frozen=True)
class ImageFiles:
    """Which context-relative paths the image gets."""

    sources: tuple[str, ...] | None  # None: every path (no filter known)
    ignored: Callable[[str], bool]

    def __call__(self, path: str) -> bool:
        if self.ignored(path):
            return False
        if self.sources is None:
            return True
        parts = path.split("/")
        for source in self.sources:
            if source == "":
                return True
            if path == source or path.startswith(source + "/"):
                return True
            depth = source.count("/") + 1
            # A glob names files or directories: match it against the path and its parents.
            if any(ch in source for ch in "*?[") and fnmatch.fnmatchcase("/".join(parts[:depth]), source):
                return True
        return False


def mounted_sources(volumes: object, project_dir: str, context: str) -> list[str]:
    """Context-relative paths a service bind-mounts into its container (code mounted in
    development, `./src:/app`, is the service's code as much as what the image copies)."""
    out: list[str] = []
    for volume in volumes if isinstance(volumes, list) else []:
        if isinstance(volume, str):
            source = volume.split(":", 1)[0] if ":" in volume else ""
        elif isinstance(volume, dict) and volume.get("type") == "bind":
            source = str(volume.get("source") or "")
        else:
            continue
        if not source.startswith((".", "/", "~")):
            continue  # a named volume
        path = os.path.normpath(os.path.join(project_dir, os.path.expanduser(source)))
        if path == context or path.startswith(context + os.sep):
            relative = os.path.relpath(path, context).replace(os.sep, "/")
            out.append("" if relative == "." else relative)
    return out


def image_files(
    context: str, dockerfile: str | None, mounted: list[str] | None = None, target: str | None = None
) -> ImageFiles:
    """What `docker build` of `context` with `dockerfile` (a path, or None for the
    context's Dockerfile) and `target` puts in the image, as far as its COPY/ADD say,
    plus the context paths the service bind-mounts (`mounted`)."""
    from docker.utils.build import PatternMatcher

    path = dockerfile or os.path.join(context, "Dockerfile")
    text = None
    if os.path.isfile(path):
        try:
            text = read_regular(path, 4 * 1024 * 1024)
        except (OSError, UnicodeDecodeError):
            text = None
    patterns: list[str] = []
    for ignore in (f"{path}.dockerignore", os.path.join(context, ".dockerignore")):
        try:
            found = read_regular(ignore, 4 * 1024 * 1024) if os.path.isfile(ignore) else None
        except (OSError, UnicodeDecodeError):
            found = None
        if found is not None:
            patterns = [p.strip() for p in found.splitlines() if p.strip() and not p.strip().startswith("#")]
            break
    matcher = PatternMatcher(patterns) if patterns else None
    sources = copy_sources(text, target) if text is not None else None
    if sources is not None:
        sources += mounted or []

    exceptions = PatternMatcher([p[1:] for p in patterns if p.startswith("!")]) if patterns else None

    def ignored(relative: str) -> bool:
        """Docker's rule: a file is left out when it or a directory above it matches (a
        directory left out takes what is below it), unless an exception (`!`) names it."""
        if matcher is None:
            return False
        path = relative.replace("/", os.sep)
        if matcher.matches(path):
            return True
        parts = path.split(os.sep)
        above = any(matcher.matches(os.sep.join(parts[:n])) for n in range(1, len(parts)))
        return above and not (exceptions is not None and exceptions.matches(path))

    return ImageFiles(tuple(sources) if sources is not None else None, ignored)
