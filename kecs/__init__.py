"""kecs: run unmodified AWS applications against a local emulator under Docker Compose.

The library API: plain functions and dataclasses, no printing, no global state.
Names are imported on first use, so `import kecs` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kecs.errors import KecsError

__version__ = "0.1.0"

_EXPORTS = {
    "Finding": "kecs.scanner.model",
    "ScanReport": "kecs.scanner.model",
    "Skipped": "kecs.scanner.model",
    "ScanOptions": "kecs.scanner.engine",
    "scan_path": "kecs.scanner.engine",
    "scan_paths": "kecs.scanner.engine",
    "ImageOptions": "kecs.scanner.image",
    "scan_image": "kecs.scanner.image",
    "Project": "kecs.compose.load",
    "load_project": "kecs.compose.load",
    "gather": "kecs.compose.evidence",
    "Plan": "kecs.compose.plan",
    "Options": "kecs.compose.plan",
    "ServiceEvidence": "kecs.compose.plan",
    "plan": "kecs.compose.plan",
    "render": "kecs.compose.render",
    "to_yaml": "kecs.compose.render",
}

__all__ = [
    "Finding",
    "ImageOptions",
    "KecsError",
    "Options",
    "Plan",
    "Project",
    "ScanOptions",
    "ScanReport",
    "ServiceEvidence",
    "Skipped",
    "__version__",
    "gather",
    "load_project",
    "plan",
    "render",
    "scan_image",
    "scan_path",
    "scan_paths",
    "to_yaml",
]

if TYPE_CHECKING:
    from kecs.compose.evidence import gather
    from kecs.compose.load import Project, load_project
    from kecs.compose.plan import Options, Plan, ServiceEvidence, plan
    from kecs.compose.render import render, to_yaml
    from kecs.scanner.engine import ScanOptions, scan_path, scan_paths
    from kecs.scanner.image import ImageOptions, scan_image
    from kecs.scanner.model import Finding, ScanReport, Skipped


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kecs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
