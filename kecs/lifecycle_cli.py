"""`kecs up`, `kecs down`, `kecs status`: printing over kecs.lifecycle, nothing more."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from kecs import lifecycle
from kecs.compose.cli import overrides_from_args, plan_table


def state_table(states: Sequence[lifecycle.ServiceState], title: str) -> str:
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=120, no_color=True, highlight=False)
    table = Table(title=title, title_justify="left")
    for column in ("Service", "Captured", "State", "Health", "AWS calls so far"):
        table.add_column(column, overflow="fold")
    for state in states:
        captured = "yes" if state.captured else ("emulator" if state.role == "emulator" else "no")
        calls = ", ".join(state.aws_services) or ("none yet" if state.captured else "-")
        restarts = f", {state.restarts} restarts" if state.restarts else ""
        table.add_row(state.name, captured, state.state + restarts, state.health or "-", calls)
    console.print(table)
    return buffer.getvalue()


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A live status line on a terminal; plain timestamped lines otherwise."""
    started = time.monotonic()
    if quiet:
        yield lambda _: None
        return
    if sys.stderr.isatty():
        from rich.console import Console

        console = Console(file=sys.stderr)
        with console.status("kecs up") as status:

            def update(message: str) -> None:
                status.update(f"[{time.monotonic() - started:4.0f} s] {message}")

            yield update
        return

    def line(message: str) -> None:
        print(f"kecs: [{time.monotonic() - started:4.0f} s] {message}", file=sys.stderr, flush=True)

    yield line


def _print_failure(failure: lifecycle.Failure) -> None:
    print(f"kecs: {failure.service} failed: {failure.why}", file=sys.stderr)
    if failure.health_output:
        print(f"  last health check: {failure.health_output}", file=sys.stderr)
    if failure.log_tail.strip():
        print("  last lines of its log:", file=sys.stderr)
        for text in failure.log_tail.rstrip().splitlines()[-lifecycle.LOG_LINES :]:
            print(f"    {text}", file=sys.stderr)
    print(f"  see more: {failure.command}", file=sys.stderr)


def _json(result: lifecycle.UpResult) -> str:
    doc: dict[str, Any] = {
        "compose_file": result.generated.path,
        "compose": " ".join(result.compose),
        "images": [asdict(i) for i in result.images],
        "warmed": result.warmed,
        "services": [asdict(s) for s in result.services],
        "failure": asdict(result.failure) if result.failure else None,
        "timings": {k: round(v, 1) for k, v in result.timings.items()},
        "seeded": result.seeded,
    }
    return json.dumps(doc, indent=2) + "\n"


def up_command(args: argparse.Namespace) -> int:
    with _progress(args.quiet) as progress:
        result = lifecycle.up(
            args.project,
            args.file,
            overrides_from_args(args),
            build=args.build,
            timeout=args.timeout,
            compose_command=args.compose,
            project_name=args.project_name,
            output=args.output,
            force=args.force,
            progress=progress,
        )
    generated = result.generated
    if args.format == "json":
        sys.stdout.write(_json(result))
    else:
        sys.stdout.write(plan_table(generated.plan, os.path.relpath(generated.path), generated.status))
        for image in result.images:
            if image.action != "present":
                print(f"Image: {image.reference} ({image.what}) {image.action} in {image.seconds:.0f} s")
        if result.seeded:
            print("Seed:")
            for line in result.seeded:
                print(f"  {line}")
        total = result.timings.get("total")
        title = "kecs up: " + (f"all healthy in {total:.0f} s" if result.ok and total else "failed")
        sys.stdout.write(state_table(result.services, title))
    if result.failure is not None:
        _print_failure(result.failure)
        return 1
    if args.detach:
        return 0
    compose = lifecycle.Compose(
        result.compose,
        generated.project.directory,
        generated.path.rsplit("/", 1)[-1],
        generated.plan.project_name,
        secrets=generated.plan.secret_variables,
    )
    print(f"kecs: following the logs; Ctrl-C stops the project ({compose.shown('stop')})", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(compose.argv("logs", "-f", "--tail", "20"), cwd=compose.directory, env=compose.env())
    print("kecs: stopping", file=sys.stderr)
    compose.run("stop")
    return 0


def down_command(args: argparse.Namespace) -> int:
    done = lifecycle.down(
        args.project,
        volumes=args.volumes,
        output=args.output,
        compose_command=args.compose,
        project_name=args.project_name,
    )
    print(f"kecs: stopped and removed ({done})")
    return 0


def status_command(args: argparse.Namespace) -> int:
    states = lifecycle.status(
        args.project, output=args.output, compose_command=args.compose, project_name=args.project_name
    )
    if args.format == "json":
        sys.stdout.write(json.dumps([asdict(s) for s in states], indent=2) + "\n")
    else:
        sys.stdout.write(state_table(states, "kecs status"))
    return 0 if all(s.ready for s in states) else 1
