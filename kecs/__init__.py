"""kecs: run unmodified AWS applications against a local emulator under Docker Compose.

The library API: plain functions and dataclasses, no printing, no global state.
"""

from __future__ import annotations

from kecs.errors import KecsError
from kecs.scanner.engine import ScanOptions, scan_path, scan_paths
from kecs.scanner.model import Finding, ScanReport, Skipped

__all__ = [
    "Finding",
    "KecsError",
    "ScanOptions",
    "ScanReport",
    "Skipped",
    "scan_path",
    "scan_paths",
]
__version__ = "0.1.0"
