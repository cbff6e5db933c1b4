"""What a scan produces: findings and the report that gathers them."""

from __future__ import annotations

from dataclasses import dataclass, field

# Kinds of evidence, strongest first. A client construction, a call of one of its
# operations (`s3.put_object`, `new PutObjectCommand`) or an import in code is strong; a dependency manifest, or a package installed in an image, only says the SDK
# is available; lint flags code that kecs makes unnecessary (hard-coded emulator
# endpoints and test credentials).
KINDS = ("client", "call", "import", "manifest", "installed", "lint")


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
    # A call: the operation as the service model names it (PutObject), and the resource
    # when the code names it literally ("bucket my-bucket", "table orders").
    operation: str = ""
    resource: str = ""

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
        if self.operation:
            out["operation"] = self.operation
        if self.resource:
            out["resource"] = self.resource
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
    def operations(self) -> dict[str, list[str]]:
        """Per AWS service, the operations the code calls."""
        found: dict[str, set[str]] = {}
        for f in self.findings:
            if f.operation:
                for service in f.services:
                    found.setdefault(service, set()).add(f.operation)
        return {service: sorted(ops) for service, ops in sorted(found.items())}

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
            "operations": self.operations,
            "languages": self.languages,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "stats": {"files_seen": self.files_seen, "files_parsed": self.files_parsed},
        }
