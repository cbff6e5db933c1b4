"""What of a build context ends up in the image: the Dockerfile's COPY/ADD sources, less
what `.dockerignore` excludes. The scan of a build context keeps only findings in such
files (a CDK app beside the service's code is not the service).

`.dockerignore` is matched with the Docker SDK's own matcher (Go's filepath.Match rules,
`**`, `!` exceptions, last match wins); BuildKit's `<Dockerfile>.dockerignore` beside the
Dockerfile takes precedence, as in `docker build`. Sources are every stage's COPY/ADD
from the context (not `--from=` another stage or image, not URLs); a directory source
brings everything below it, globs match as Docker's do.
"""

from __future__ import annotations

import fnmatch
import json
import os
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


def copy_sources(text: str) -> list[str] | None:
    """The context paths COPY/ADD take (normalised, relative), or None when one of them cannot
    be read (then nothing is filtered: a scanner miss is worse than a wider scan)."""
    sources: list[str] = []
    for word, rest in instructions(text):
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


def image_files(context: str, dockerfile: str | None, mounted: list[str] | None = None) -> ImageFiles:
    """What `docker build` of `context` with `dockerfile` (a path, or None for the
    context's Dockerfile) puts in the image, as far as its COPY/ADD say, plus the
    context paths the service bind-mounts (`mounted`)."""
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
    sources = copy_sources(text) if text is not None else None
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
