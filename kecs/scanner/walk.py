"""Which files a source scan looks at: .gitignore, vendored and dependency trees skipped."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kecs.scanner.ignore import IgnoreFile

# Dependency, build and tool directories: third-party code, not the app's.
EXCLUDED_DIRS = frozenset(
    {
        "node_modules", "bower_components", "jspm_packages",
        ".venv", "venv", "site-packages", "dist-packages", "__pypackages__",
        "vendor", "target", "dist", ".gradle", ".m2", ".bundle",
        ".git", ".hg", ".svn", "__pycache__", ".tox", ".nox",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".terraform", ".kecs",
    }
)  # fmt: skip


@dataclass(frozen=True)
class WalkOptions:
    respect_gitignore: bool = True
    skip_excluded_dirs: bool = True


MAX_IGNORE_FILE = 1024 * 1024


def _load_gitignore(directory: str) -> IgnoreFile | None:
    """The directory's .gitignore: a regular file only (a FIFO would hang the scan, a link
    to /dev/zero exhaust its memory), at most MAX_IGNORE_FILE bytes."""
    path = os.path.join(directory, ".gitignore")
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_IGNORE_FILE:
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            text = handle.read(MAX_IGNORE_FILE).decode("utf-8", "replace")
        return IgnoreFile.from_lines(text.splitlines())
    except OSError:
        return None


def _ignored(specs: list[tuple[str, IgnoreFile]], rel: str, is_dir: bool) -> bool:
    # The deepest .gitignore with an opinion decides, as in git.
    for base, spec in reversed(specs):
        sub = rel[len(base) + 1 :] if base else rel
        verdict = spec.check(sub, is_dir)
        if verdict is not None:
            return verdict
    return False


def iter_files(
    root: str,
    options: WalkOptions = WalkOptions(),
    unreadable: Callable[[str, str], None] | None = None,
) -> Iterator[str]:
    """Paths (relative to root, '/'-separated) of the files a scan should consider.
    Directories that cannot be listed are reported to `unreadable(path, why)`."""
    stack: list[tuple[str, IgnoreFile]] = []

    def walk(rel_dir: str) -> Iterator[str]:
        abs_dir = os.path.join(root, rel_dir) if rel_dir else root
        pushed = False
        if options.respect_gitignore:
            spec = _load_gitignore(abs_dir)
            if spec is not None:
                stack.append((rel_dir, spec))
                pushed = True
        try:
            with os.scandir(abs_dir) as entries:
                items = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            items = []
            if unreadable is not None:
                unreadable(rel_dir or ".", f"unreadable directory: {exc.strerror or exc}")
        for entry in items:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = entry.is_file(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if options.skip_excluded_dirs and (
                    entry.name in EXCLUDED_DIRS or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))
                ):
                    continue
                if stack and _ignored(stack, rel, True):
                    continue
                yield from walk(rel)
            elif is_file and not (stack and _ignored(stack, rel, False)):
                yield rel
        if pushed:
            stack.pop()

    yield from walk("")
