"""Scan reports as a table for people, JSON for scripts, SARIF for code scanning."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Iterator

from kecs.scanner.lint import RULES
from kecs.scanner.model import KINDS, Finding, ScanReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/kecs/kecs"

# SDK use findings as SARIF rules (lint rules come from kecs.scanner.lint).
USE_RULES = {
    "client": ("KECS100", "aws-sdk-client", "AWS SDK client construction",
               "This code creates an AWS SDK client; under kecs its calls are captured and sent "
               "to the local emulator."),
    "call": ("KECS104", "aws-sdk-call", "AWS operation call",
             "This code calls an AWS operation; under kecs it is served by the local emulator, and "
             "`kecs policy` grants it."),
    "import": ("KECS101", "aws-sdk-import", "AWS SDK import",
               "This code imports an AWS SDK; kecs gives its service a transparent proxy."),
    "manifest": ("KECS102", "aws-sdk-dependency", "AWS SDK dependency",
                 "This manifest depends on an AWS SDK (weaker evidence than an import)."),
    "installed": ("KECS103", "aws-sdk-installed", "AWS SDK installed in the image",
                  "This image has an AWS SDK installed (weaker evidence than an import in app code)."),
}  # fmt: skip


def iter_json(report: ScanReport) -> Iterator[str]:
    """The report as JSON, in pieces: one finding at a time, so that hundreds of thousands
    of findings never sit in memory as one document."""
    yield "{"
    for position, (key, value) in enumerate(report.to_dict(findings=False).items()):
        yield (",\n  " if position else "\n  ") + json.dumps(key) + ": "
        if key == "findings":
            yield "["
            for index, finding in enumerate(report.findings):
                yield ("," if index else "") + "\n    " + json.dumps(finding.to_dict())
            yield "\n  ]" if report.findings else "]"
        else:
            yield json.dumps(value, indent=2).replace("\n", "\n  ")
    yield "\n}\n"


def to_json(report: ScanReport) -> str:
    return "".join(iter_json(report))


def _rule_id(finding: Finding) -> str:
    return finding.rule if finding.kind == "lint" else USE_RULES[finding.kind][0]


def to_sarif(report: ScanReport, version: str) -> str:
    rules: list[dict[str, object]] = []
    for rule_id, name, summary, help_text in USE_RULES.values():
        rules.append(_sarif_rule(rule_id, name, summary, help_text, "note", ["aws", "sdk"]))
    for rule in RULES:
        rules.append(
            _sarif_rule(rule.id, rule.name, rule.summary, rule.help, "warning", ["aws", "portability"])
        )
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for finding in report.findings:
        rule_id = _rule_id(finding)
        if finding.kind == "lint":
            text = finding.message
        else:
            services = ", ".join(finding.services) or "no service named here"
            text = f"{USE_RULES[finding.kind][2]}: {finding.sdk} ({services}): {finding.evidence}"
        results.append(
            {
                "ruleId": rule_id,
                "ruleIndex": index[rule_id],
                "level": "warning" if finding.kind == "lint" else "note",
                "message": {"text": text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                            "region": {"startLine": finding.line, "startColumn": finding.column},
                        }
                    }
                ],
                "properties": {
                    "sdk": finding.sdk,
                    "services": list(finding.services),
                    "language": finding.language,
                    "kind": finding.kind,
                },
            }
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kecs",
                        "version": version,
                        "semanticVersion": version,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _sarif_rule(
    rule_id: str, name: str, summary: str, help_text: str, level: str, tags: list[str]
) -> dict[str, object]:
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": tags, "precision": "high" if level == "note" else "very-high"},
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def to_table(report: ScanReport, color: bool = False, width: int = 110) -> str:
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False)
    uses = [f for f in report.findings if f.kind != "lint"]
    console.print(
        f"[bold]{report.target}[/]: {_count(report.files_seen, 'file')} considered, "
        f"{report.files_parsed} analysed, {_count(len(uses), 'SDK finding')}, "
        f"{_count(len(report.lint), 'lint finding')}",
        soft_wrap=True,
    )
    if uses:
        table = Table(title="AWS SDK use", title_justify="left", show_lines=False)
        for column in ("SDK", "Service", "Evidence", "Operations", "First places"):
            table.add_column(column, overflow="fold")
        groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for finding in uses:
            for service in finding.services or ("",):
                groups[(finding.sdk, service)].append(finding)
        for (sdk, service), found in sorted(groups.items()):
            counts: dict[str, int] = defaultdict(int)
            for finding in found:
                counts[finding.kind] += 1
            evidence = ", ".join(
                f"{counts[kind]} {kind}{'s' if counts[kind] > 1 and kind != 'installed' else ''}"
                for kind in USE_RULES
                if counts[kind]
            )
            strongest = sorted(
                found,
                key=lambda f: (KINDS.index(f.kind), f.path, f.line),
            )
            places = ", ".join(f"{f.path}:{f.line}" for f in strongest[:2])
            if len(found) > 2:
                places += f" (+{len(found) - 2})"
            operations = sorted({f.operation for f in found if f.operation})
            shown = ", ".join(operations[:6]) + (f" (+{len(operations) - 6})" if len(operations) > 6 else "")
            table.add_row(sdk, service or "[dim](SDK only)[/]", evidence, shown, places)
        console.print(table)
        console.print(f"Services: {', '.join(report.services) or '(none named)'}")
    else:
        console.print("No AWS SDK use found.")
    if report.lint:
        table = Table(title="Lint: remove what kecs makes unnecessary", title_justify="left")
        for column in ("Rule", "Place", "Finding"):
            table.add_column(column, overflow="fold")
        for finding in report.lint:
            table.add_row(
                finding.rule, f"{finding.path}:{finding.line}:{finding.column}", finding.message.split(";")[0]
            )
        console.print(table)
    if report.skipped:
        reasons: dict[str, int] = defaultdict(int)
        for skipped in report.skipped:
            reasons[skipped.reason.split(":")[0]] += 1
        summary = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
        console.print(f"[dim]Skipped {len(report.skipped)} files ({summary}); --format json lists them.[/]")
    return buffer.getvalue()
