"""`kecs policy`: per compose service, the IAM policy its code and its traffic call for.

    kecs policy [PROJECT_DIR] [--service NAME] [--observed-only | --static-only]
                [--format table|json] [--write] [--check] [--policy-dir DIR]

`--write` saves each policy as `<policy-dir>/<service>.json` (default `kecs-policies/` in
the project, to commit); `--check` exits 1 when a service's proxy observed a request the
saved policy does not allow (a CI gate after the end-to-end run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from kecs.errors import KecsError

if TYPE_CHECKING:
    from kecs.policy import ServicePolicy

POLICY_DIR = "kecs-policies"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", nargs="?", metavar="PROJECT_DIR", help="default: the current directory")
    parser.add_argument("-f", "--file", action="append", default=[], metavar="FILE", help="compose file(s)")
    parser.add_argument("--service", action="append", metavar="NAME", help="only this service (repeatable)")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--observed-only", action="store_true", help="from the proxies' records alone")
    only.add_argument("--static-only", action="store_true", help="from the scan alone")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--policy-dir", default=POLICY_DIR, metavar="DIR", help=f"default: {POLICY_DIR}")
    parser.add_argument("--write", action="store_true", help="save each policy as DIR/<service>.json")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when an observed request is not allowed by the saved policy",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: the proxy image builds this parser and has none of these libraries.
    from kecs.compose.evidence import gather
    from kecs.compose.generate import daemon_image_evidence
    from kecs.compose.load import load_project
    from kecs.policy import Observed, build, predicted, read_observed, violations
    from kecs.safefs import make_directories, read_regular, write_file
    from kecs.scanner.engine import ScanOptions
    from kecs.scanner.services import ServiceCatalog

    project = load_project(args.project, list(args.file))
    names = list((project.raw.get("services") or {}).keys())
    wanted = args.service or names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise KecsError(f"{project.files[0]}: no service {unknown[0]!r} (services: {', '.join(names)})")
    evidence = {} if args.observed_only else gather(project, ScanOptions(), scan_image=daemon_image_evidence)
    catalog = ServiceCatalog.load()
    from kecs.tls import key_directory, read_internal_token

    token = read_internal_token(key_directory(project.directory))
    results: dict[str, ServicePolicy] = {}
    seen_by: dict[str, list[Any]] = {}
    statics: dict[str, list[Any]] = {}
    for name in wanted:
        found = evidence.get(name)
        # A call site names no region (the SDK's configuration does): its ARNs match any.
        static = predicted(found.findings if found else (), "*")
        observed = Observed() if args.static_only else read_observed(project.directory, name, token)
        seen = observed.uses
        for why, count in sorted(observed.left_out.items()):
            if why != "kecs's own calls":
                print(
                    f"kecs policy: {name}: {count} observed record(s) grant nothing: {why}", file=sys.stderr
                )
        if not static and not seen:
            continue
        seen_by[name] = seen
        statics[name] = static
        results[name] = build(static, seen, catalog, args.observed_only, args.static_only)
    directory = os.path.join(project.directory, args.policy_dir)
    failing: list[str] = []
    if args.check:
        for name, seen in seen_by.items():
            path = os.path.join(directory, f"{name}.json")
            text = read_regular(path)
            if text is None:
                failing.append(f"{name}: no saved policy {os.path.relpath(path)} (run kecs policy --write)")
                continue
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise KecsError(
                    f"{path}:{exc.lineno}: not JSON ({exc.msg}); regenerate it with --write"
                ) from None
            for use, action in violations(document, seen, catalog):
                failing.append(f"{name}: {action} on {use.resource or '*'} is not allowed ({use.where})")
            if not args.observed_only:  # what the code can call must be allowed too
                for use, action in violations(document, statics.get(name, []), catalog):
                    failing.append(
                        f"{name}: {action} on {use.resource or '*'} is not allowed (predicted at {use.where})"
                    )
    if args.write:
        make_directories(project.directory, args.policy_dir)
        for name, result in results.items():
            write_file(
                os.path.join(directory, f"{name}.json"),
                (json.dumps(result.document, indent=2) + "\n").encode(),
            )
    if args.format == "json":
        report = {
            name: {
                "policy": r.document,
                "reasons": r.reasons,
                "predicted_not_observed": [u.__dict__ for u in r.unobserved],
                "observed_not_predicted": [u.__dict__ for u in r.missed],
            }
            for name, r in results.items()
        }
        if args.check:
            report = {"services": report, "violations": failing}  # type: ignore[dict-item]
        print(json.dumps(report, indent=2))
    else:
        _table(results, args)
        for line in failing:
            print(f"kecs policy: {line}", file=sys.stderr)
    return 1 if failing else 0


def _table(results: dict[str, ServicePolicy], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not results:
        console.print(
            "No operations predicted or observed (run the project with kecs up, or scan finds no calls)."
        )
    for name, result in results.items():
        table = Table(title=f"{name}: IAM policy", title_justify="left")
        table.add_column("Actions", overflow="fold")
        table.add_column("Resources", overflow="fold")
        for statement in result.document["Statement"]:  # type: ignore[attr-defined]
            resources = statement["Resource"]
            why = {result.reasons[a] for a in statement["Action"] if a in result.reasons}
            shown = "\n".join(resources) + (f"\n[dim]* because: {'; '.join(sorted(why))}[/]" if why else "")
            table.add_row("\n".join(statement["Action"]), shown)
        console.print(table)
        for use in result.missed:
            console.print(
                f"  [yellow]observed, not predicted[/] {use.aws_service} {use.operation}: {use.where}"
            )
        for use in result.unobserved:
            console.print(
                f"  [dim]predicted, never observed[/] {use.aws_service} {use.operation}: {use.where}"
            )
    if args.write:
        console.print(f"written to {args.policy_dir}/")
