"""What no service of the user's may reach: the proxies' CA. Pure: reads the compose model.

The CA volume holds the intermediate's private key, which can mint a certificate for any
AWS name. Only the proxies kecs adds mount it. A service of the project that names it in
`volumes` (short or long syntax), takes a proxy's or holder's volumes through
`volumes_from` (by service or container name), declares a volume whose `name` is the CA volume's, or bind-mounts the
directory kecs keeps CA keys in is refused with the file and line. Nothing here does I/O.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kecs import contract
from kecs.compose.load import Project
from kecs.errors import KecsError


def _mount_source(entry: Any) -> tuple[str, str] | None:
    """(type, source) of one `volumes` entry; type is "volume" or "bind"."""
    if isinstance(entry, Mapping):
        source = entry.get("source")
        if not isinstance(source, str):
            return None
        return str(entry.get("type", "volume")), source
    if not isinstance(entry, str) or ":" not in entry:
        return None  # an anonymous volume
    source = entry.split(":", 1)[0]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    return kind, source


def _is_ca_volume(name: str) -> bool:
    return name == contract.CA_VOLUME or name.endswith("_" + contract.CA_VOLUME)


def _overlaps(path: str, directory: str) -> bool:
    """`path` is `directory`, inside it, or holds it (but for the filesystem root: host-wide
    mounts are monitoring agents', which can read the whole host, and Docker, anyway)."""
    path, directory = os.path.normpath(path), os.path.normpath(directory)
    if path == os.sep:
        return False
    return os.path.commonpath([path, directory]) in (path, directory)


def check_ca_reach(project: Project, keys_directory: str) -> None:
    """Raise KecsError naming the first place a user's service could read the CA key.
    `keys_directory` is where kecs keeps every project's CA keys (kecs.tls)."""
    declared = project.raw.get("volumes") if isinstance(project.raw.get("volumes"), Mapping) else {}
    for key, volume in (declared or {}).items():
        name = volume.get("name") if isinstance(volume, Mapping) else None
        if isinstance(name, str) and _is_ca_volume(name):
            raise KecsError(
                f"{project.where_key('volumes', str(key))}: volume {key!r} is named {name!r}, the proxies' CA "
                "volume (it holds the CA's private key); only kecs's proxies mount it: remove it"
            )
    for name, service in project.services.items():
        service = service or {}
        for index, entry in enumerate(service.get("volumes") or ()):
            found = _mount_source(entry)
            if found is None:
                continue
            kind, source = found
            where = project.where_key("services", name, "volumes", str(index))
            if kind == "volume" and _is_ca_volume(source):
                raise KecsError(
                    f"{where}: services.{name} mounts {source!r}, the proxies' CA volume (it holds the CA's "
                    "private key); only kecs's proxies mount it: remove the mount"
                )
            if kind == "bind" and keys_directory:
                path = os.path.join(project.directory, os.path.expanduser(source))
                if _overlaps(path, keys_directory):
                    raise KecsError(
                        f"{where}: services.{name} bind-mounts {source!r}, where kecs keeps CA private keys; "
                        "remove the mount"
                    )
        for index, entry in enumerate(service.get("volumes_from") or ()):
            parts = str(entry).split(":")
            target = parts[1] if parts[0] == "container" and len(parts) > 1 else parts[0]
            if contract.PROXY_SUFFIX in target:  # the service, or its container by any name
                raise KecsError(
                    f"{project.where_key('services', name, 'volumes_from', str(index))}: services.{name} takes the "
                    f"volumes of {target!r}, a kecs proxy (they hold the CA's private key): remove it"
                )
