"""`kecs compose`: load, scan, plan, render, write. Printing lives here, not in the library."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import Any

from kecs.compose.evidence import gather
from kecs.compose.load import load_project
from kecs.compose.plan import EmulatorPlan, Plan, ServiceEvidence, options_from_project, plan
from kecs.compose.render import render, to_yaml
from kecs.errors import KecsError
from kecs.scanner.engine import ScanOptions
from kecs.tls import ensure_ca

OUTPUT_NAME = "compose.kecs.yaml"


def output_path(args: argparse.Namespace, project_dir: str, inputs: list[str]) -> str:
    out = os.path.abspath(args.output) if args.output else os.path.join(project_dir, OUTPUT_NAME)
    if out in inputs:
        raise KecsError(
            f"{args.output}: that is an input file; write the output elsewhere (-o {OUTPUT_NAME})"
        )
    if os.path.dirname(out) != project_dir:
        raise KecsError(
            f"{args.output}: write the output beside the compose files ({project_dir}) so the relative "
            f"paths in them keep their meaning (-o {os.path.basename(out)})"
        )
    return out


def plan_table(result: Plan, output: str, status: str) -> str:
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=120, no_color=True, highlight=False)
    table = Table(title="kecs plan", title_justify="left")
    for column in ("Service", "Proxy", "Why", "AWS services"):
        table.add_column(column, overflow="fold")
    for item in result.services:
        table.add_row(
            item.name,
            "yes" if item.captured else "no",
            item.reason,
            ", ".join(item.aws_services) or ("(any)" if item.captured else "-"),
        )
    console.print(table)
    for number, emulator in enumerate(result.emulators):
        served = ", ".join(emulator.aws_services) if emulator.aws_services is not None else "all services"
        if number and emulator.aws_services is None:
            served = f"whatever {', '.join(emulator.request_names)} requests"
        where = f"service {emulator.name} ({emulator.image})" if emulator.name else emulator.url
        label = "Emulator" if number == 0 else "Routed to"
        console.print(f"{label}: {emulator.kind}, {where}, serving {served}", soft_wrap=True)
    for note in result.notes:
        console.print(f"Note: {note}", soft_wrap=True)
    console.print(f"{status}: {output}", soft_wrap=True)
    return buffer.getvalue()


def _emulator_json(emulator: EmulatorPlan) -> dict[str, Any]:
    return {
        "kind": emulator.kind,
        "service": emulator.name,
        "image": emulator.image,
        "url": emulator.url,
        "aws_services": list(emulator.aws_services) if emulator.aws_services is not None else None,
        "request_names": list(emulator.request_names),
    }


def plan_json(result: Plan, output: str, status: str) -> str:
    emulator = result.emulator
    doc: dict[str, Any] = {
        "output": output,
        "status": status,
        "services": [
            {
                "name": s.name,
                "captured": s.captured,
                "proxy": s.proxy if s.captured else None,
                "reason": s.reason,
                "evidence": list(s.places),
                "sdks": list(s.sdks),
                "aws_services": list(s.aws_services),
                "role": s.role,
            }
            for s in result.services
        ],
        "emulator": None if emulator is None else _emulator_json(emulator),
        "routed": [_emulator_json(e) for e in result.routed],
        "notes": list(result.notes),
    }
    return json.dumps(doc, indent=2) + "\n"


def daemon_image_evidence(ref: str) -> ServiceEvidence:
    """Scan an image-only service's image when the local daemon has it (one round trip)."""
    from kecs.scanner.image import DaemonUnavailable, ImageError, ImageNotFound, scan_image

    source = f"image {ref}"
    try:
        report = scan_image(ref)
    except DaemonUnavailable:
        return ServiceEvidence(source, False, note=f"no Docker daemon answered to scan image {ref}")
    except ImageNotFound:
        note = f"image {ref} is not in the local Docker daemon (build or pull it, then run again)"
        return ServiceEvidence(source, False, note=note)
    except ImageError as exc:
        return ServiceEvidence(source, False, note=f"image {ref} could not be read: {exc}")
    return ServiceEvidence(source, True, tuple(report.findings))


def compose_command(args: argparse.Namespace) -> int:
    project = load_project(args.project, args.file)
    overrides = {
        "emulator": args.emulator,
        "emulator_url": args.emulator_url,
        "region": args.region,
        "localstack_image": args.localstack_image,
        "moto_image": args.moto_image,
        "proxy_image": args.proxy_image,
        "routes": args.route,
    }
    options = options_from_project(project, overrides)
    out = output_path(args, project.directory, project.files)
    evidence = gather(project, ScanOptions(), scan_image=daemon_image_evidence)
    result = plan(project, evidence, options)
    sources = [os.path.relpath(f, project.directory) for f in project.files]
    text = to_yaml(render(result), sources)
    try:
        with open(out, encoding="utf-8") as handle:
            current: str | None = handle.read()
    except FileNotFoundError:
        current = None
    except OSError as exc:
        raise KecsError(f"{out}: cannot read it: {exc.strerror or exc}") from exc
    shown = os.path.relpath(out)
    if args.check:
        status = "up to date" if current == text else ("missing" if current is None else "stale")
        code = 0 if current == text else 1
    elif args.dry_run:
        sys.stdout.write(text)
        status, code = "dry run, not written", 0
    else:
        if result.captured:
            ensure_ca(os.path.join(project.directory, ".kecs"), os.path.basename(project.directory))
        if current == text:
            status = "unchanged"
        else:
            try:
                with open(out, "w", encoding="utf-8") as handle:
                    handle.write(text)
            except OSError as exc:
                raise KecsError(f"{out}: cannot write it: {exc.strerror or exc}") from exc
            status = "written"
        code = 0
    if not args.quiet:
        report = (
            plan_json(result, shown, status) if args.format == "json" else plan_table(result, shown, status)
        )
        (sys.stderr if args.dry_run else sys.stdout).write(report)
    if args.check and code:
        print(f"kecs: {shown} is {status}: run `kecs compose` to regenerate it", file=sys.stderr)
    return code
