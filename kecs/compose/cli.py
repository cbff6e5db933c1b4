"""`kecs compose`: load, scan, plan, render, write. Printing lives here, not in the library."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from typing import Any

from kecs import emulators
from kecs.compose.generate import generate
from kecs.compose.plan import EmulatorPlan, Plan
from kecs.tls import key_directory


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
        if emulator.adopted:
            where = f"the project's service {emulator.name} ({emulator.adopted_why}), adopted"
        else:
            where = f"service {emulator.name} ({emulator.image})" if emulator.name else emulator.url
        label = "Emulator" if number == 0 else "Routed to"
        console.print(f"{label}: {emulator.kind}, {where}, serving {served}", soft_wrap=True)
    for item in result.captured:
        if item.removed:
            what = ", ".join(r.replace("environment ", "") for r in item.removed)
            console.print(
                f"Removed from {item.name}: {what} (kecs captures its AWS calls; "
                f"services.{item.name}.x-kecs.keep_endpoint: true keeps them)",
                soft_wrap=True,
            )
    for note in result.notes:
        console.print(f"Note: {note}", soft_wrap=True)
    if result.captured:
        from kecs import contract
        from kecs.tls import key_directory

        console.print(
            f"CA key: {key_directory(result.project.directory)} (outside the project; `kecs up` copies it "
            f"into the {contract.CA_VOLUME} volume, which only the proxies mount)",
            soft_wrap=True,
        )
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
        "adopted": emulator.adopted,
        "adopted_why": emulator.adopted_why or None,
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
                "services_unknown": s.services_unknown,
                "removed": list(s.removed),
            }
            for s in result.services
        ],
        "emulator": None if emulator is None else _emulator_json(emulator),
        "routed": [_emulator_json(e) for e in result.routed],
        "notes": list(result.notes),
        "ca_key_directory": key_directory(result.project.directory) if result.captured else None,
    }
    return json.dumps(doc, indent=2) + "\n"


def compose_command(args: argparse.Namespace) -> int:
    generated = generate(
        args.project,
        args.file,
        overrides_from_args(args),
        output=args.output,
        check=args.check,
        dry_run=args.dry_run,
        force=args.force,
    )
    result, status = generated.plan, generated.status
    shown = os.path.relpath(generated.path)
    if args.dry_run:
        sys.stdout.write(generated.text)
    code = 1 if args.check and status != "up to date" else 0
    if not args.quiet:
        report = (
            plan_json(result, shown, status) if args.format == "json" else plan_table(result, shown, status)
        )
        (sys.stderr if args.dry_run else sys.stdout).write(report)
    if code:
        print(f"kecs: {shown} is {status}: run `kecs compose` to regenerate it", file=sys.stderr)
    return code


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The compose generation options `kecs compose` and `kecs up` share."""
    return {
        "emulator": args.emulator,
        "emulator_url": args.emulator_url,
        "region": args.region,
        "images": {
            kind: getattr(args, f"{kind}_image")
            for kind in emulators.REGISTRY
            if getattr(args, f"{kind}_image")
        },
        "proxy_image": args.proxy_image,
        "proxy_base": args.proxy_base,
        "routes": args.route,
        "services_only": args.services_only,
        "task_definitions": args.task_definition,
    }
