"""Installed packages found inside image layers: weaker evidence than an import.

One small reader per packaging format: which image paths it claims, and what SDK (and
services) the file says is installed. Readers get the file's bytes (or, for binaries and
archives, a seekable file) and never touch the disk.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from kecs.scanner.manifests import (
    crate,
    gem,
    go_module,
    maven_artifact,
    npm_package,
    nuget_package,
    python_package,
)
from kecs.scanner.services import ServiceCatalog
from kecs.scanner.source import Use

Installed = tuple[Use, str]  # (use, evidence such as "boto3 1.26.27")
# cargo-auditable's section: a few KiB of JSON for real programs; capped before and after
# inflating (a 3 MB section once inflated to 6.2 GB).
MAX_DEP_SECTION = 4 * 1024 * 1024
MAX_DEP_JSON = 16 * 1024 * 1024

_DIST_INFO = re.compile(
    r"(?:^|/)(?:site|dist)-packages/([^/]+?)-([^/-]+?)\.(?:dist-info/METADATA|egg-info/PKG-INFO|egg-info)$"
)
_NODE_PACKAGE = re.compile(r"(?:^|/)node_modules/((?:@[^/]+/)?[^/@]+)/package\.json$")
_GEMSPEC = re.compile(r"(?:^|/)specifications/([A-Za-z0-9_.-]+?)-(\d[^/]*)\.gemspec$")
_COMPOSER = re.compile(r"(?:^|/)vendor/composer/installed\.json$")
_DEPS_JSON = re.compile(r"\.deps\.json$")
_JAR = re.compile(r"\.(?:jar|war|ear)$")

GO_BUILDINFO_MAGIC = b"\xff Go buildinf:"


def _dist_info(path: str, data: bytes, catalog: ServiceCatalog) -> Iterator[Installed]:
    match = _DIST_INFO.search(path)
    if match:
        name, version = match.groups()
        use = python_package(name, "", catalog)
        if use:
            yield use, f"{name} {version}"


def _node_package(path: str, data: bytes, catalog: ServiceCatalog) -> Iterator[Installed]:
    match = _NODE_PACKAGE.search(path)
    if not match:
        return
    use = npm_package(match.group(1), catalog)
    if use is None:
        return
    try:
        version = str(json.loads(data).get("version", "?"))
    except (ValueError, AttributeError):
        version = "?"
    yield use, f"{match.group(1)} {version}"


def _gemspec(path: str, data: bytes, catalog: ServiceCatalog) -> Iterator[Installed]:
    match = _GEMSPEC.search(path)
    if match:
        use = gem(match.group(1), catalog)
        if use:
            yield use, f"{match.group(1)} {match.group(2)}"


def _composer(path: str, data: bytes, catalog: ServiceCatalog) -> Iterator[Installed]:
    try:
        doc = json.loads(data)
    except ValueError:
        return
    packages = doc.get("packages", doc) if isinstance(doc, dict) else doc
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and str(package.get("name", "")).lower() == "aws/aws-sdk-php":
            yield Use("aws-sdk-php"), f"aws/aws-sdk-php {package.get('version', '?')}"


def _deps_json(path: str, data: bytes, catalog: ServiceCatalog) -> Iterator[Installed]:
    try:
        libraries = json.loads(data).get("libraries", {})
    except (ValueError, AttributeError):
        return
    for key in libraries if isinstance(libraries, dict) else {}:
        name, _, version = key.partition("/")
        use = nuget_package(name, catalog)
        if use:
            yield use, f"{name} {version}"


def _jar(path: str, handle: BinaryIO, catalog: ServiceCatalog, depth: int = 0) -> Iterator[Installed]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    try:
        with archive:
            yield from _jar_entries(path, archive, catalog, depth)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError):
        return  # a corrupt or hostile jar says nothing more (what it said stays)


def _jar_entries(
    path: str, archive: zipfile.ZipFile, catalog: ServiceCatalog, depth: int
) -> Iterator[Installed]:
    for info in archive.infolist():
        name = info.filename
        if name.startswith("META-INF/maven/") and name.endswith("/pom.properties") and info.file_size < 65536:
            props = dict(
                line.split("=", 1)
                for line in archive.read(info).decode("utf-8", "replace").splitlines()
                if "=" in line and not line.startswith("#")
            )
            use = maven_artifact(props.get("groupId", ""), props.get("artifactId", ""), catalog)
            if use:
                yield use, f"{props.get('groupId')}:{props.get('artifactId')} {props.get('version', '?')}"
        elif depth == 0 and _JAR.search(name) and info.file_size < 64 * 1024 * 1024:
            # Spring Boot and shaded jars carry their dependencies as nested jars.
            with archive.open(info) as nested:
                yield from _jar(f"{path}!/{name}", io.BytesIO(nested.read()), catalog, depth + 1)


# -- ELF: Go build info and cargo-auditable data ---------------------------------------------


def _elf_sections(handle: BinaryIO) -> dict[str, tuple[int, int]]:
    """Section name -> (file offset, size) of a 64- or 32-bit little/big-endian ELF."""
    handle.seek(0)
    ident = handle.read(16)
    if len(ident) < 16 or ident[:4] != b"\x7fELF":
        return {}
    is64, endian = ident[4] == 2, "<" if ident[5] == 1 else ">"
    header = handle.read(48 if is64 else 36)
    try:
        if is64:
            (shoff,) = struct.unpack_from(endian + "Q", header, 24)
            shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", header, 42)
        else:
            (shoff,) = struct.unpack_from(endian + "I", header, 16)
            shentsize, shnum, shstrndx = struct.unpack_from(endian + "HHH", header, 30)
    except struct.error:
        return {}
    if not shoff or not shnum or shnum > 4096 or shstrndx >= shnum:
        return {}
    handle.seek(shoff)
    table = handle.read(shentsize * shnum)
    entries = []
    for i in range(shnum):
        raw = table[i * shentsize : (i + 1) * shentsize]
        try:
            if is64:
                name, _, _, _, offset, size = struct.unpack_from(endian + "IIQQQQ", raw)
            else:
                name, _, _, _, offset, size = struct.unpack_from(endian + "IIIIII", raw)
        except struct.error:
            return {}
        entries.append((name, offset, size))
    _, str_offset, str_size = entries[shstrndx]
    handle.seek(str_offset)
    names = handle.read(min(str_size, 1 << 20))
    out = {}
    for name_at, offset, size in entries:
        end = names.find(b"\0", name_at)
        if 0 <= name_at < len(names) and end > name_at:
            out[names[name_at:end].decode("ascii", "replace")] = (offset, size)
    return out


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")


def go_modules(blob: bytes) -> tuple[str, list[tuple[str, str]]] | None:
    """(Go version, [(module path, version)]) from a Go 1.18+ build info blob."""
    at = blob.find(GO_BUILDINFO_MAGIC)
    if at < 0 or len(blob) < at + 32:
        return None
    flags = blob[at + 15]
    if not flags & 2:  # pre-1.18 layout: pointers into the data segment, not read here
        return None
    try:
        length, pos = _uvarint(blob, at + 32)
        version = blob[pos : pos + length].decode("utf-8", "replace")
        length, pos = _uvarint(blob, pos + length)
        modinfo = blob[pos : pos + length].decode("utf-8", "replace")
    except ValueError:
        return None
    modules = []
    for line in modinfo.splitlines():
        parts = line.split("\t")
        if parts[0] in ("mod", "dep") and len(parts) >= 3:
            modules.append((parts[1], parts[2]))
        elif parts[0] == "=>" and len(parts) >= 3 and modules:
            path, _ = modules[-1]
            modules[-1] = (path, modules[-1][1] or parts[2])
    return version, modules


_GO_SERVICE_SYMBOL = re.compile(rb"github\.com/aws/aws-sdk-go(?:-v2)?/service/([a-z0-9]+)[./]")


def _go_service_packages(handle: BinaryIO, catalog: ServiceCatalog) -> set[str]:
    found: set[str] = set()
    handle.seek(0)
    tail = b""
    while chunk := handle.read(4 << 20):
        window = tail + chunk
        for match in _GO_SERVICE_SYMBOL.finditer(window):
            service = catalog.lookup(match.group(1).decode())
            if service:
                found.add(service)
        tail = window[-128:]
    return found


def _elf(path: str, handle: BinaryIO, catalog: ServiceCatalog) -> Iterator[Installed]:
    sections = _elf_sections(handle)
    where = sections.get(".go.buildinfo")
    if where is not None:
        handle.seek(where[0])
        found = go_modules(handle.read(min(where[1], 1 << 22)))
        if found:
            go_version, modules = found
            linked: set[str] | None = None
            for module, version in modules:
                use = go_module(module, catalog)
                if use is None:
                    continue
                if not use.services:
                    # One module for every service (v1, or v2's core): the symbol
                    # table names the service packages linked in.
                    linked = _go_service_packages(handle, catalog) if linked is None else linked
                    use = Use(use.sdk, tuple(sorted(linked)))
                yield use, f"{module} {version} ({go_version})"
    where = sections.get(".dep-v0")  # cargo auditable: zlib-compressed JSON
    if where is not None and where[1] < 1 << 22:
        handle.seek(where[0])
        try:
            inflater = zlib.decompressobj()
            raw = inflater.decompress(handle.read(min(where[1], MAX_DEP_SECTION)), MAX_DEP_JSON)
            if inflater.unconsumed_tail:
                return  # inflates past MAX_DEP_JSON: not an honest dependency list
            doc = json.loads(raw)
        except (zlib.error, ValueError, RecursionError):
            return
        for package in doc.get("packages", []) if isinstance(doc, dict) else []:
            use = crate(str(package.get("name", "")), catalog)
            if use:
                yield use, f"{package.get('name')} {package.get('version', '?')}"


@dataclass(frozen=True)
class Reader:
    name: str
    matches: Callable[[str], bool]
    read: Callable[[str, bytes, ServiceCatalog], Iterator[Installed]]


READERS: tuple[Reader, ...] = (
    Reader("python-dist-info", lambda p: _DIST_INFO.search(p) is not None, _dist_info),
    Reader("node-package", lambda p: _NODE_PACKAGE.search(p) is not None, _node_package),
    Reader("gemspec", lambda p: _GEMSPEC.search(p) is not None, _gemspec),
    Reader("composer-installed", lambda p: _COMPOSER.search(p) is not None, _composer),
    Reader("dotnet-deps", lambda p: _DEPS_JSON.search(p) is not None, _deps_json),
)


@dataclass(frozen=True)
class SeekableReader:
    """A reader for archives and binaries: needs a seekable file, claims by path or mode."""

    name: str
    matches: Callable[[str, int], bool]  # (image path, file mode)
    magic: bytes  # the file must start with these bytes
    read: Callable[[str, BinaryIO, ServiceCatalog], Iterator[Installed]]


SEEKABLE_READERS: tuple[SeekableReader, ...] = (
    SeekableReader("java-archive", lambda path, mode: _JAR.search(path) is not None, b"PK", _jar),
    SeekableReader("elf-executable", lambda path, mode: bool(mode & 0o111), b"\x7fELF", _elf),
)


def reader_for(path: str) -> Reader | None:
    return next((r for r in READERS if r.matches(path)), None)
