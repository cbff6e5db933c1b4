"""Scan container images: `docker save` archives, OCI layouts, images of the local daemon.

Everything is read as a stream, layer by layer; nothing is extracted. Each layer is
reduced to per-path state (what a candidate file there says; whiteouts; opaque
directories); once the manifest gives the layer order, the layers are stacked as a
container runtime would, so a file deleted or replaced by a later layer is not reported.
Memory is bounded by the number of candidate paths, not by bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any, BinaryIO

from kecs.errors import KecsError
from kecs.safefs import read_regular
from kecs.scanner.engine import Analyzers, analyze_blob
from kecs.scanner.installed import SEEKABLE_READERS, reader_for
from kecs.scanner.manifests import SDK_LANGUAGE, cataloger_for
from kecs.scanner.model import Finding, ScanReport, Skipped
from kecs.scanner.source import evidence as short_evidence
from kecs.scanner.walk import EXCLUDED_DIRS

MAX_SOURCE = 2 * 1024 * 1024
MAX_BINARY = 512 * 1024 * 1024
# A layer that inflates more than this many times, past a gigabyte, is a bomb.
MAX_RATIO = 200
MAX_MEMBER = 64 << 30  # a declared member size past this is a lie meant to make a reader wait
BOMB_FLOOR = 1 << 30
# Paths of the OS and of language runtimes: packages live there, not the app's source.
SYSTEM_PREFIXES = (
    "usr/lib/", "usr/lib64/", "usr/share/", "usr/include/", "usr/local/lib/", "usr/libexec/",
    "lib/", "lib64/", "etc/", "var/lib/", "var/cache/", "proc/", "sys/", "usr/local/go/",
    "usr/lib/jvm/", "opt/java/", "root/.cache/", "root/.npm/", "root/go/pkg/", "tmp/",
)  # fmt: skip

Progress = Callable[[int, int], None]  # (bytes done, bytes total; 0 when unknown)


class ImageError(KecsError):
    """An image that cannot be read: names the image and, where it applies, the member."""


class ImageNotFound(ImageError):
    """Neither a file nor an image the local Docker daemon has."""


class DaemonUnavailable(ImageError):
    """Not a file, and no Docker daemon to ask."""


@dataclass
class LayerState:
    """What one layer says about candidate paths."""

    digest: str
    files: dict[str, list[Finding]] = field(default_factory=dict)  # path -> findings (maybe none)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    parsed: int = 0


@dataclass(frozen=True)
class ImageOptions:
    tag: str | None = None  # which image of a multi-image archive
    progress: Progress | None = None
    # A compose service's `image:` names an image of the daemon, never a file: `node:20`
    # is not the directory `node` with tag 20.
    daemon_only: bool = False


# -- streams -------------------------------------------------------------------------------


class _Counting(io.RawIOBase):
    """Counts bytes read from the compressed stream; stops a decompression bomb."""

    def __init__(self, raw: IO[bytes], progress: Callable[[int], None] | None = None) -> None:
        self.raw = raw
        self.count = 0
        self.progress = progress
        self.sha256 = hashlib.sha256()  # the layer's digest (diff_id of an uncompressed layer)

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return "sha256:" + self.sha256.hexdigest()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        self.sha256.update(data)
        if self.progress and n:
            self.progress(n)
        return n


class _Inflated(io.RawIOBase):
    def __init__(self, inner: IO[bytes], source: _Counting, label: str) -> None:
        self.inner = inner
        self.source = source
        self.label = label
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.count > BOMB_FLOOR and self.count > MAX_RATIO * max(self.source.count, 1):
            raise ImageError(
                f"{self.label}: inflates more than {MAX_RATIO} times past 1 GiB (a decompression bomb?); refusing it"
            )
        return n


def _decompressed(counting: _Counting, label: str) -> BinaryIO:
    """Detect gzip, zstd or plain tar by magic bytes, not by media type."""
    buffered = io.BufferedReader(counting, 1 << 16)
    head = buffered.peek(4)[:4]
    inner: IO[bytes]
    if head[:2] == b"\x1f\x8b":
        inner = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
    elif head == b"\x28\xb5\x2f\xfd":
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
    else:
        inner = buffered
    return io.BufferedReader(_Inflated(inner, counting, label), 1 << 16)


def _normalize(name: str, label: str) -> str | None:
    """The member's path inside the image; None for the root; error when it escapes."""
    path = posixpath.normpath("/" + name.replace("\\", "/")).lstrip("/")
    parts = name.replace("\\", "/").split("/")
    depth = 0
    for part in parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                raise ImageError(f"{label}: member {name!r} leaves the image root")
        elif part not in ("", "."):
            depth += 1
    return path or None


# -- one layer ------------------------------------------------------------------------------


def _is_app_source(path: str) -> bool:
    if path.startswith(SYSTEM_PREFIXES):
        return False
    return not any(part in EXCLUDED_DIRS for part in path.split("/")[:-1])


def _spool(member_file: IO[bytes], size: int) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 - closed by the caller
    remaining = size
    while remaining > 0:
        chunk = member_file.read(min(remaining, 1 << 20))
        if not chunk:
            break
        spool.write(chunk)
        remaining -= len(chunk)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _findings_for(
    path: str,
    member: tarfile.TarInfo,
    content: io.BufferedReader,
    analyzers: Analyzers,
    digest: str,
    state: LayerState,
) -> list[Finding] | None:
    """Findings of one regular file; None when the file is not a candidate at all.

    `content` streams the member once: peek to sniff, read or spool to use.
    """
    image_path = "/" + path
    name = posixpath.basename(path)
    catalog = analyzers.catalog

    def installed(use_text: list[tuple[Any, str]]) -> list[Finding]:
        return [
            Finding(
                image_path,
                1,
                1,
                _language(use.sdk),
                use.sdk,
                tuple(sorted(use.services)),
                "installed",
                short_evidence(text),
                layer=digest,
            )
            for use, text in use_text
        ]

    reader = reader_for(path)
    if reader is not None:
        if member.size > MAX_SOURCE:
            return []
        return installed(list(reader.read(path, content.read(), catalog)))
    head = content.peek(8)[:8]
    for seekable in SEEKABLE_READERS:
        if seekable.matches(path, member.mode) and head.startswith(seekable.magic):
            if member.size > MAX_BINARY:
                state.skipped.append(Skipped(image_path, f"larger than {MAX_BINARY} bytes"))
                return []
            with _spool(content, member.size) as handle:
                return installed(list(seekable.read(path, handle, catalog)))
    if not _is_app_source(path):
        return None
    if cataloger_for(name) is None and analyzers.for_path(path) is None:
        return None
    if member.size > MAX_SOURCE:
        state.skipped.append(Skipped(image_path, f"larger than {MAX_SOURCE} bytes"))
        return []
    result = analyze_blob(image_path, content.read(), analyzers)
    state.skipped.extend(result.skipped)
    state.parsed += result.parsed
    findings = result.findings
    return [replace(f, layer=digest) for f in findings]


def _language(sdk: str) -> str:
    return SDK_LANGUAGE.get(sdk, "")


def _corrupt(exc: BaseException) -> bool:
    """Whether reading a layer failed on its data (truncated, corrupt gzip or zstd)."""
    if isinstance(exc, (tarfile.TarError, OSError, EOFError, zlib.error)):
        return True
    if type(exc).__module__.startswith("zstandard"):
        import zstandard  # as in _decompressed: only zstd layers need it

        return isinstance(exc, zstandard.ZstdError)
    return False


def read_layer(
    stream: IO[bytes],
    name: str,
    label: str,
    analyzers: Analyzers,
    progress: Callable[[int], None] | None = None,
) -> LayerState:
    """One layer's state; findings carry the layer's digest, hashed while it streams by."""
    counting = _Counting(stream, progress)
    where = f"{label}: layer {name}"
    state = LayerState(name)
    digest = ""  # known once the layer is read; findings get it then
    try:
        # Stream mode ("r|"): members in order, no seeking; closed with the stream.
        archive = tarfile.open(fileobj=_decompressed(counting, where), mode="r|")  # noqa: SIM115
    except Exception as exc:
        if not _corrupt(exc):
            raise
        raise ImageError(f"{where}: truncated or not a tar layer: {exc}") from None
    member_name = "(start)"
    try:
        for member in archive:
            member_name = member.name
            path = _normalize(member.name, f"{where}")
            if path is None:
                continue
            directory, name = posixpath.split(path)
            if name == ".wh..wh..opq":
                state.opaque.append(directory)
                continue
            if name.startswith(".wh."):
                state.whiteouts.append(posixpath.join(directory, name[4:]))
                continue
            if not member.isfile():
                continue  # links, devices, fifos: never followed, never read
            if member.size > MAX_MEMBER:
                raise ImageError(
                    f"{where}: member {member.name!r} declares {member.size} bytes, more than any layer file "
                    f"kecs accepts ({MAX_MEMBER}); refusing the layer"
                )

            content = archive.extractfile(member)
            if content is None:
                continue
            findings = _findings_for(path, member, content, analyzers, digest, state)  # type: ignore[arg-type]
            if findings is not None:
                state.files[path] = findings
    except ImageError:
        raise
    except Exception as exc:
        if not _corrupt(exc):
            raise
        raise ImageError(f"{where}: truncated or corrupt near member {member_name!r}: {exc}") from None
    digest = counting.drain()
    state.digest = digest
    for findings in state.files.values():
        findings[:] = [replace(f, layer=digest) for f in findings]
    return state


def _ancestors(path: str) -> Iterator[str]:
    """`a/b/c` -> `a/b`, `a`, `` (the root)."""
    while path:
        path = posixpath.dirname(path)
        yield path


def stack(layers: list[LayerState]) -> dict[str, list[Finding]]:
    """Apply the layers in order, with whiteouts and opaque directories, like overlayfs.

    Linear in files times path depth per layer: each visible path is checked against the
    layer's sets (a path removed, a directory made opaque), never each whiteout against
    every path (many whiteouts over many files took minutes)."""
    visible: dict[str, list[Finding]] = {}
    for layer in layers:
        if layer.opaque or layer.whiteouts:
            opaque, gone = set(layer.opaque), set(layer.whiteouts)
            for path in list(visible):
                if path in gone or any(a in gone or a in opaque for a in _ancestors(path)):
                    del visible[path]
        visible.update(layer.files)
    return visible


# -- archives ------------------------------------------------------------------------------


@dataclass
class _Archive:
    """What the outer tar of `docker save` or an OCI layout holds, read in one pass."""

    label: str
    manifest: list[dict[str, Any]] | None = None  # docker save manifest.json
    index: dict[str, Any] | None = None  # OCI index.json
    json_blobs: dict[str, Any] = field(default_factory=dict)  # small JSON blobs (OCI manifests)
    layers: dict[str, LayerState] = field(default_factory=dict)  # by member name and by digest


# The shapes of the JSON an image archive holds, as far as kecs reads them (JSON Schema):
# anything else in a manifest is one line naming the archive and the member.
_TAGS = {"type": ["array", "null"], "items": {"type": "string"}}
_DIGEST: dict[str, Any] = {"digest": {"type": "string"}}
_DESCRIPTOR: dict[str, Any] = {"type": "object", "properties": _DIGEST, "required": ["digest"]}
SHAPES: dict[str, dict[str, Any]] = {
    "manifest.json": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"RepoTags": _TAGS, "Layers": {"type": "array", "items": {"type": "string"}}},
            "required": ["Layers"],
        },
    },
    "index.json": {
        "type": "object",
        "properties": {
            "manifests": {
                "type": "array",
                "items": {
                    **_DESCRIPTOR,
                    "properties": {**_DIGEST, "annotations": {"type": "object"}},
                },
            }
        },
        "required": ["manifests"],
    },
    "blob": {  # an OCI image manifest, or an index of platforms
        "type": "object",
        "properties": {
            "layers": {"type": "array", "items": _DESCRIPTOR},
            "manifests": {"type": "array", "items": _DESCRIPTOR, "minItems": 1},
        },
    },
}


def _json(data: bytes, label: str, member: str, shape: str | None = None) -> Any:
    """A member's JSON (checked against its shape when one is named)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        raise ImageError(f"{label}: member {member!r} is not valid JSON") from None
    return doc if shape is None else _check(doc, label, member, shape)


def _check(doc: Any, label: str, member: str, shape: str) -> Any:
    """`doc` if it has the shape kecs reads; else ImageError naming where it differs."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(SHAPES[shape]).iter_errors(doc))
    if error is not None:
        at = "".join(f"[{p!r}]" for p in error.absolute_path)
        raise ImageError(
            f"{label}: member {member!r}{at}: {error.message[:200]}; not a docker save or OCI image"
        )
    return doc


def _blob_digest(name: str) -> str:
    parts = name.split("/")
    if len(parts) >= 3 and parts[-3] == "blobs":
        return f"{parts[-2]}:{parts[-1]}"
    return name


def _read_outer(
    stream: IO[bytes], label: str, analyzers: Analyzers, progress: Callable[[int], None] | None
) -> _Archive:
    found = _Archive(label)
    try:
        outer = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - stream mode, as above
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ImageError(f"{label}: not an image archive (docker save tar or OCI layout): {exc}") from None
    name = "(start)"
    try:
        for member in outer:
            name = member.name
            _normalize(name, label)
            if not member.isfile():
                continue
            handle = outer.extractfile(member)
            if handle is None:
                continue
            base = posixpath.basename(name)
            if name in ("manifest.json", "index.json") or (member.size < 1 << 20 and base.endswith(".json")):
                doc = _json(handle.read(), label, name, name if name in SHAPES else None)
                if name == "manifest.json":
                    found.manifest = doc
                elif name == "index.json":
                    found.index = doc
                continue
            is_blob = name.startswith("blobs/")
            if not (is_blob or name.endswith("/layer.tar")) or member.size == 0:
                continue  # VERSION, json, repositories, oci-layout: nothing to scan
            head = handle.peek(512)[:512] if hasattr(handle, "peek") else b""
            if is_blob and member.size < 1 << 20 and head.lstrip()[:1] == b"{":
                found.json_blobs[_blob_digest(name)] = _json(handle.read(), label, name)  # manifests, configs
                continue
            state = read_layer(handle, _blob_digest(name), label, analyzers, progress)
            found.layers[name] = state
            found.layers[_blob_digest(name)] = state
    except ImageError:
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise ImageError(f"{label}: truncated or corrupt archive near member {name!r}: {exc}") from None
    return found


def _choose(entries: list[tuple[list[str], Any]], tag: str | None, label: str) -> Any:
    if tag is not None:
        for tags, value in entries:
            if tag in tags or any(t.endswith(":" + tag) or t.split(":")[0] == tag for t in tags):
                return value
        listed = ", ".join(t for tags, _ in entries for t in tags) or "(untagged)"
        raise ImageError(f"{label}: no image tagged {tag!r} in the archive (it holds: {listed})")
    if len(entries) != 1:
        listed = ", ".join(t for tags, _ in entries for t in tags) or f"{len(entries)} untagged images"
        raise ImageError(f"{label}: the archive holds several images ({listed}); pick one with ARCHIVE:TAG")
    return entries[0][1]


def _layer_order(found: _Archive, tag: str | None) -> list[str]:
    """The chosen image's layer keys, bottom first."""
    if found.manifest is not None:
        entries = [(list(e.get("RepoTags") or []), e) for e in found.manifest]
        chosen = _choose(entries, tag, found.label)
        return list(chosen.get("Layers") or [])
    if found.index is not None:
        entries = []
        for descriptor in found.index.get("manifests", []):
            annotations = descriptor.get("annotations") or {}
            name = annotations.get("io.containerd.image.name") or annotations.get(
                "org.opencontainers.image.ref.name"
            )
            entries.append(([name] if name else [], descriptor))
        chosen = _choose(entries, tag, found.label)
        digest = chosen["digest"]
        manifest = found.json_blobs.get(digest)
        if manifest is not None and "manifests" in _check(manifest, found.label, digest, "blob"):
            digest = manifest["manifests"][0]["digest"]  # an index of platforms: take the first
            manifest = found.json_blobs.get(digest)
        if manifest is None:
            raise ImageError(f"{found.label}: the OCI index points at a manifest the archive does not hold")
        _check(manifest, found.label, digest, "blob")
        return [layer["digest"] for layer in manifest.get("layers", [])]
    raise ImageError(f"{found.label}: neither manifest.json nor index.json: not a docker save or OCI archive")


def _report(found: _Archive, target: str, tag: str | None) -> ScanReport:
    order = _layer_order(found, tag)
    layers = []
    for key in order:
        state = found.layers.get(key)
        if state is None:
            raise ImageError(
                f"{found.label}: layer {key} is listed in the manifest but missing from the archive"
            )
        layers.append(state)
    visible = stack(layers)
    report = ScanReport(target=target)
    report.findings = sorted(
        (f for findings in visible.values() for f in findings),
        key=lambda f: (f.path, f.line, f.column, f.kind, f.sdk),
    )
    report.files_seen = len(visible)
    report.files_parsed = sum(layer.parsed for layer in layers)
    report.skipped = sorted({s for layer in layers for s in layer.skipped})
    return report


def _oci_directory(path: str, analyzers: Analyzers, progress: Callable[[int], None] | None) -> _Archive:
    found = _Archive(path)
    index = os.path.join(path, "index.json")
    try:
        text = read_regular(index, 1 << 20)  # never a FIFO, a device or a link
    except KecsError as exc:
        raise ImageError(f"{path}: not an OCI layout directory ({exc})") from None
    except OSError as exc:
        raise ImageError(f"{path}: not an OCI layout directory (index.json: {exc})") from None
    if text is None:
        raise ImageError(f"{path}: not an OCI layout directory (no index.json)")
    found.index = _json(text.encode(), path, "index.json", "index.json")
    blobs = os.path.join(path, "blobs")
    for algorithm in sorted(os.listdir(blobs)) if os.path.isdir(blobs) else []:
        for digest in sorted(os.listdir(os.path.join(blobs, algorithm))):
            blob = os.path.join(blobs, algorithm, digest)
            info = os.lstat(blob)
            if not stat.S_ISREG(info.st_mode):
                kind = "a link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
                raise ImageError(
                    f"{path}: blob {algorithm}:{digest} is {kind}; an OCI layout holds files only"
                )
            with open(blob, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as handle:
                head = handle.read(1)
                handle.seek(0)
                if head == b"{" and os.path.getsize(blob) < 1 << 20:
                    found.json_blobs[f"{algorithm}:{digest}"] = _json(
                        handle.read(), path, f"blobs/{algorithm}/{digest}"
                    )
                else:
                    found.layers[f"{algorithm}:{digest}"] = read_layer(
                        handle, f"{algorithm}:{digest}", path, analyzers, progress
                    )
    return found


def _split_tag(ref: str) -> tuple[str, str | None]:
    """`archive.tar:repo/name:tag` -> (archive.tar, repo/name:tag) when archive.tar exists."""
    if os.path.exists(ref):
        return ref, None
    at = ref.find(":")
    while at > 0:
        if os.path.exists(ref[:at]):
            return ref[:at], ref[at + 1 :]
        at = ref.find(":", at + 1)
    return ref, None


def scan_image(ref_or_path: str, options: ImageOptions | None = None) -> ScanReport:
    """Scan an image archive (docker save, OCI layout dir or tar) or a local daemon image."""
    options = options or ImageOptions()
    analyzers = Analyzers()
    path, tag = (ref_or_path, None) if options.daemon_only else _split_tag(ref_or_path)
    tag = options.tag or tag
    done = [0]

    def advance(total: int) -> Callable[[int], None] | None:
        if options.progress is None:
            return None
        callback = options.progress

        def step(n: int) -> None:
            done[0] += n
            callback(done[0], total)

        return step

    if options.daemon_only:
        found = _daemon_image(path, analyzers, advance)
        tag = None
    elif os.path.isdir(path):
        found = _oci_directory(path, analyzers, advance(0))
    elif os.path.isfile(path):
        size = os.path.getsize(path)
        try:
            with open(path, "rb") as handle:
                stream = io.BufferedReader(_ProgressReader(handle, advance(size)), 1 << 20)
                found = _read_outer(stream, path, analyzers, None)
        except OSError as exc:
            raise ImageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    else:
        found = _daemon_image(path, analyzers, advance)
        tag = None
    return _report(found, ref_or_path, tag)


class _ProgressReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO, step: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        if self.step and data:
            self.step(len(data))
        return len(data)


class _ChunkStream(io.RawIOBase):
    """A file-like view of the daemon's export, chunk by chunk: never the whole image."""

    def __init__(self, chunks: Iterator[bytes], step: Callable[[int], None] | None) -> None:
        self.chunks = chunks
        self.pending = b""
        self.step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        if self.step:
            self.step(n)
        return n


def _daemon_image(
    ref: str, analyzers: Analyzers, advance: Callable[[int], Callable[[int], None] | None]
) -> _Archive:
    try:
        import docker
        import docker.errors
    except ImportError:
        raise DaemonUnavailable(
            f"{ref}: no such file, and the docker package is missing to ask the daemon"
        ) from None
    try:
        client = docker.from_env(timeout=600)
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        raise ImageNotFound(f"{ref}: no such file, and no such image in the local Docker daemon") from None
    except docker.errors.DockerException as exc:
        raise DaemonUnavailable(
            f"{ref}: no such file, and the Docker daemon cannot be reached: {exc}"
        ) from None
    size = int(image.attrs.get("Size") or 0)
    stream = io.BufferedReader(
        _ChunkStream(iter(image.save(chunk_size=1 << 20, named=True)), advance(size)), 1 << 20
    )
    try:
        return _read_outer(stream, ref, analyzers, None)
    finally:
        client.close()
