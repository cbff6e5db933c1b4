"""What a scan produces: findings and the report that gathers them."""

from __future__ import annotations

from dataclasses import dataclass, field

# Kinds of evidence, strongest first. An import or a client construction in code is
# strong; a dependency manifest, or a package installed in an image, only says the SDK
# is available; lint flags code that kecs makes unnecessary (hard-coded emulator
# endpoints and test credentials).
KINDS = ("client", "import", "manifest", "installed", "lint")


@dataclass(frozen=True, order=True, slots=True)
class Finding:
    path: str
    line: int
    column: int
    language: str
    sdk: str
    services: tuple[str, ...]
    kind: str
    evidence: str
    rule: str = ""
    message: str = ""
    layer: str = ""

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "language": self.language,
            "sdk": self.sdk,
            "services": list(self.services),
            "kind": self.kind,
            "evidence": self.evidence,
        }
        if self.rule:
            out["rule"] = self.rule
            out["message"] = self.message
        if self.layer:
            out["layer"] = self.layer
        return out


@dataclass(frozen=True, order=True)
class Skipped:
    """A file the scanner looked at but did not analyse, and why."""

    path: str
    reason: str


@dataclass
class ScanReport:
    target: str
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files_seen: int = 0
    files_parsed: int = 0

    @property
    def sdks(self) -> list[str]:
        return sorted({f.sdk for f in self.findings if f.sdk and f.kind != "lint"})

    @property
    def services(self) -> list[str]:
        return sorted({s for f in self.findings if f.kind != "lint" for s in f.services})

    @property
    def languages(self) -> list[str]:
        return sorted({f.language for f in self.findings if f.language})

    @property
    def lint(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "lint"]

    def to_dict(self, findings: bool = True) -> dict[str, object]:
        """With findings=False, "findings" is an empty placeholder (see output.iter_json)."""
        return {
            "target": self.target,
            "findings": [f.to_dict() for f in self.findings] if findings else [],
            "sdks": self.sdks,
            "services": self.services,
            "languages": self.languages,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "stats": {"files_seen": self.files_seen, "files_parsed": self.files_parsed},
        }
