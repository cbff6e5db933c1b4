"""Writing files in a directory kecs does not own, without following links.

A repository kecs reads may commit `compose.kecs.yaml` as a link to `~/.bashrc`, or
`.kecs/ca/intermediate.key` as a link to a file the attacker reads. Every file kecs
writes goes through here: the directories on the way must be real directories (not
links), the file is written to a temporary name created exclusively with the final
mode (keys 0600 from the first byte), then renamed over the target, which replaces a
name and never writes through one. Only a regular file can be replaced, and callers
decide whether an existing file is theirs to replace.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable

from kecs.errors import KecsError


def check_directory(path: str) -> None:
    """`path` exists as a real directory (no link anywhere below the filesystem root's own)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise KecsError(f"{path}: no such directory") from None
    if stat.S_ISLNK(info.st_mode):
        raise KecsError(
            f"{path}: is a symbolic link; kecs writes only into real directories (remove the link)"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise KecsError(f"{path}: is not a directory")


def make_directories(base: str, relative: str, mode: int = 0o755) -> str:
    """`base/relative`, created as needed, every component checked not to be a link."""
    check_directory(base)
    current = base
    for part in [p for p in relative.split(os.sep) if p not in ("", ".")]:
        if part == "..":
            raise KecsError(f"{relative}: must stay inside {base}")
        current = os.path.join(current, part)
        with contextlib.suppress(FileExistsError):
            os.mkdir(current, mode)
        check_directory(current)
    return current


def existing_kind(path: str) -> str | None:
    """None when nothing is there, else 'file', 'link' or what it is."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return "link"
    if stat.S_ISREG(info.st_mode):
        return "file"
    if stat.S_ISFIFO(info.st_mode):
        return "FIFO"
    if stat.S_ISDIR(info.st_mode):
        return "directory"
    return "special file"


def read_regular(path: str, limit: int = 16 * 1024 * 1024) -> str | None:
    """A regular file's text (never through a link, never a FIFO or device); None if absent."""
    kind = existing_kind(path)
    if kind is None:
        return None
    if kind != "file":
        raise KecsError(f"{path}: is a {kind}, not a regular file; kecs will not read or replace it")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise KecsError(f"{path}: larger than {limit} bytes; kecs does not read it")
    return data.decode("utf-8", "replace")


def write_file(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace (or create) `path` with `data`: a temporary file in the same, checked,
    directory, created exclusively with `mode`, then renamed over it."""
    write_chunks(path, [data], mode)


def write_chunks(path: str, chunks: Iterable[bytes], mode: int = 0o644) -> None:
    """As write_file, for content produced piece by piece (a large report is never whole
    in memory)."""
    directory = os.path.dirname(os.path.abspath(path))
    check_directory(directory)
    kind = existing_kind(path)
    if kind not in (None, "file"):
        raise KecsError(
            f"{path}: is a {kind}; kecs writes only regular files (remove it or pick another name)"
        )
    temporary = os.path.join(directory, f".{os.path.basename(path)}.kecs-{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        os.unlink(temporary)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.chmod(temporary, mode)  # whatever the umask
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
