"""The command line: a thin layer over the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence

from kecs import __version__, emulators
from kecs.errors import KecsError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line and exit 2, as for every other input error.
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


MAX_SCANNED_FILE = 16 * 1024 * 1024  # parsing costs ~200 bytes of memory per byte of source
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "kib": 1024, "mib": 1024**2, "k": 1024, "m": 1024**2}


def _file_size(text: str) -> int:
    """`--max-file-size`: bytes, or a number with a unit; at most MAX_SCANNED_FILE."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 2097152, 2MiB, 500kB)")
    size = int(float(found.group(1)) * _UNITS[unit])
    if size > MAX_SCANNED_FILE:
        raise argparse.ArgumentTypeError(
            f"{text} is over the {MAX_SCANNED_FILE // 1024 // 1024} MiB limit (a 2 MiB source file already "
            "takes about 0.4 GB to parse)"
        )
    return size


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (0 means one per CPU)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kecs", description="Run unmodified AWS applications against a local emulator.")
    parser.add_argument("--version", action="version", version=f"kecs {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    scan = commands.add_parser("scan", help="find AWS SDK use in source trees")
    scan.add_argument("paths", nargs="*", metavar="PATH", help="files or directories to scan")
    scan.add_argument(
        "--image",
        metavar="REF_OR_FILE",
        help="scan a container image: a docker save tar or OCI layout (ARCHIVE[:TAG]), or an image of the local daemon",
    )
    scan.add_argument("--format", choices=("table", "json", "sarif"), default="table")
    scan.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    scan.add_argument("--check", action="store_true", help="exit 1 when there are lint findings")
    scan.add_argument("--no-ignore", action="store_true", help="also scan .gitignored files")
    scan.add_argument(
        "--include-dependencies",
        action="store_true",
        help="also scan node_modules, .venv, vendor, target, dist and similar directories",
    )
    scan.add_argument(
        "--max-file-size",
        type=_file_size,
        default=2 * 1024 * 1024,
        metavar="SIZE",
        help="skip larger source files: bytes, or with kB, MB, KiB or MiB (default 2 MiB, at most 16 MiB)",
    )
    scan.add_argument(
        "-j", "--jobs", type=_non_negative, default=0, help="worker processes (default: one per CPU)"
    )
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress display")

    compose = commands.add_parser(
        "compose", help="write a compose file that runs the project against a local AWS emulator"
    )
    _project_arguments(compose)
    compose.add_argument(
        "--check", action="store_true", help="exit 1 when the output file is stale; write nothing"
    )
    compose.add_argument(
        "--dry-run", action="store_true", help="print the compose file instead of writing it"
    )
    compose.add_argument("--format", choices=("table", "json"), default="table", help="how to print the plan")
    _generation_arguments(compose)
    compose.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    up = commands.add_parser(
        "up", help="generate, build kecs's images, start the project and wait until it is healthy"
    )
    _project_arguments(up)
    _generation_arguments(up)
    _lifecycle_arguments(up)
    up.add_argument("--build", action="store_true", help="build the project's images before starting")
    up.add_argument(
        "-d", "--detach", action="store_true", help="return once everything is healthy (default: follow logs)"
    )
    up.add_argument(
        "--timeout", type=float, default=600.0, metavar="SECONDS", help="how long to wait for health"
    )
    up.add_argument("--format", choices=("table", "json"), default="table", help="how to print the result")
    up.add_argument("-q", "--quiet", action="store_true", help="no progress display")

    down = commands.add_parser("down", help="stop and remove what `kecs up` started")
    _project_arguments(down, files=False)
    _lifecycle_arguments(down)
    down.add_argument("-v", "--volumes", action="store_true", help="also remove the project's volumes")

    status = commands.add_parser("status", help="the state of a project `kecs up` started")
    _project_arguments(status, files=False)
    _lifecycle_arguments(status)
    status.add_argument("--format", choices=("table", "json"), default="table")

    from kecs.proxy.cli import add_arguments

    proxy = commands.add_parser(
        "proxy", help="the transparent proxy sidecar (run by the generated compose file)"
    )
    add_arguments(proxy)
    from kecs.seed.cli import add_arguments as seed_arguments

    seed = commands.add_parser(
        "seed",
        help="--reset: bring a running project's seed back to its declaration; else the seeder (run by kecs up)",
    )
    seed_arguments(seed)
    from kecs.policy_cli import add_arguments as policy_arguments

    policy = commands.add_parser(
        "policy", help="the IAM policy each service's code and observed traffic call for, and what differs"
    )
    policy_arguments(policy)
    shown = commands.add_parser(
        "emulators", help="the emulators kecs can run, and the AWS services each served offline"
    )
    shown.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    logs = commands.add_parser("logs", help="the log forwarder (run in the kecs-telemetry container)")
    logs.add_argument("action", choices=("forward",))
    return parser


def _project_arguments(parser: argparse.ArgumentParser, files: bool = True) -> None:
    parser.add_argument("project", nargs="?", metavar="PROJECT_DIR", help="default: the current directory")
    if files:
        parser.add_argument(
            "-f",
            "--file",
            action="append",
            default=[],
            metavar="FILE",
            help="compose file(s), merged in order",
        )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the generated file (default: compose.kecs.yaml beside the first)",
    )


def _generation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task-definition",
        action="append",
        default=[],
        metavar="FILE",
        help="add the containers of an ECS task definition (JSON, as describe- or register-task-definition "
        "use) as captured services; repeatable",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an output file that kecs did not generate"
    )
    parser.add_argument(
        "--emulator",
        choices=tuple(emulators.REGISTRY),
        help=f"default: {emulators.DEFAULT} (or x-kecs.emulator)",
    )
    parser.add_argument(
        "--emulator-url", metavar="URL", help="use an emulator already running there; none is added"
    )
    parser.add_argument(
        "--route",
        action="append",
        metavar="SERVICE=EMULATOR",
        help=f"serve one AWS service by another emulator: {', '.join(emulators.REGISTRY)} or http://HOST:PORT "
        "(--route dynamodb=moto); repeatable, adds to x-kecs.routes",
    )
    parser.add_argument("--region", help="AWS region the services see (default: us-east-1)")
    parser.add_argument(
        "--services-only",
        action="store_true",
        default=None,
        help="narrow the emulator to the AWS services the scan found (x-kecs.services_only)",
    )
    env = os.environ.get  # the image options also come from KECS_* variables
    for record in emulators.REGISTRY.values():
        parser.add_argument(
            record.image_option,
            metavar="IMAGE",
            dest=f"{record.kind}_image",
            default=env(record.image_variable),
            help=f"{record.title}'s image, default {record.image} (or {record.image_variable})",
        )
    parser.add_argument(
        "--proxy-image",
        metavar="IMAGE",
        default=env("KECS_PROXY_IMAGE"),
        help="default: built by `kecs up` from this kecs (or KECS_PROXY_IMAGE)",
    )
    parser.add_argument(
        "--proxy-base",
        metavar="IMAGE",
        default=env("KECS_PROXY_BASE"),
        help="base of the proxy image `kecs up` builds (default: debian:bookworm-slim; or KECS_PROXY_BASE)",
    )


def _lifecycle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compose",
        metavar="COMMAND",
        default=os.environ.get("KECS_COMPOSE"),
        help="'docker compose' or 'docker-compose' (default: the plugin when present, else docker-compose)",
    )
    parser.add_argument("-p", "--project-name", metavar="NAME", help="Compose's project name")


def _progress(enabled: bool, unit: str):  # type: ignore[no-untyped-def]
    """A transient progress bar on a terminal: (files or bytes) done of total."""
    if not enabled:
        return None, None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    count = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    progress = Progress(TextColumn("scanning"), BarColumn(), count, TimeElapsedColumn(), transient=True)
    task = progress.add_task("scan", total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total or None)

    return progress, update


def run_scan(args: argparse.Namespace) -> int:
    from kecs.safefs import write_chunks
    from kecs.scanner.engine import ScanOptions, scan_paths
    from kecs.scanner.image import ImageOptions, scan_image
    from kecs.scanner.model import ScanReport
    from kecs.scanner.output import iter_json, to_sarif, to_table

    if bool(args.paths) == bool(args.image):
        raise KecsError("give either PATH... or --image REF_OR_FILE")
    import stat

    for path in args.paths:  # followed: a link on the command line is the user's choice
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue  # the scan says what is missing
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            what = "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
            raise KecsError(f"{path}: is {what}; kecs scans directories and regular files")
    show_progress = not args.quiet and sys.stderr.isatty()
    progress, update = _progress(show_progress, "bytes" if args.image else "files")

    def run() -> ScanReport:
        if args.image:
            return scan_image(args.image, ImageOptions(progress=update))
        options = ScanOptions(
            max_file_size=args.max_file_size,
            respect_gitignore=not args.no_ignore,
            skip_excluded_dirs=not args.include_dependencies,
            jobs=args.jobs,
            progress=update,
        )
        return scan_paths(args.paths, options)

    if progress is not None:
        with progress:
            report = run()
    else:
        report = run()
    chunks: Iterable[str]
    if args.format == "json":
        chunks = iter_json(report)
    elif args.format == "sarif":
        chunks = [to_sarif(report, __version__)]
    else:
        chunks = [to_table(report, color=args.output is None and sys.stdout.isatty())]
    if args.output:
        try:
            write_chunks(args.output, (chunk.encode("utf-8") for chunk in chunks))
        except OSError as exc:
            raise KecsError(f"{args.output}: cannot write the report: {exc.strerror or exc}") from exc
        except KecsError as exc:
            raise KecsError(f"{args.output}: cannot write the report: {exc}") from None
    else:
        for chunk in chunks:
            sys.stdout.write(chunk)
    return 1 if args.check and report.lint else 0


def run_compose(args: argparse.Namespace) -> int:
    from kecs.compose.cli import compose_command

    return compose_command(args)


def one_line(text: str) -> str:
    """A message on one line whatever it quotes (a directory name may hold a newline)."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def show_emulators(fmt: str) -> int:
    """The registry: each emulator's image, port and the services it served offline."""
    if fmt == "markdown":
        sys.stdout.write(emulators.coverage_markdown())
        return 0
    if fmt == "json":
        records = {
            kind: {"title": r.title, "image": r.image, "port": r.port, "service": r.service_name,
                   "image_option": r.image_option, "offline": sorted(r.offline)}
            for kind, r in emulators.REGISTRY.items()
        }  # fmt: skip
        print(json.dumps({"default": emulators.DEFAULT, "emulators": records}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    images = Table("emulator", "default image", "port", box=None)
    for kind, r in emulators.REGISTRY.items():
        images.add_row(kind + (" (default)" if kind == emulators.DEFAULT else ""), r.image, str(r.port))
    console.print(images, no_wrap=True)
    console.print("pick one with --emulator KIND, one per AWS service with --route SERVICE=KIND\n")
    rows = emulators.coverage_rows()
    served = Table(*rows[0], title="served offline (measured)", box=None)
    for row in rows[1:]:
        served.add_row(*(f"[green]{c}[/]" if c == "yes" else f"[red]{c}[/]" if c == "no" else c for c in row))
    console.print(served)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "scan":
            return run_scan(args)
        if args.command == "compose":
            return run_compose(args)
        if args.command in ("up", "down", "status"):
            from kecs import lifecycle_cli

            return int(getattr(lifecycle_cli, f"{args.command}_command")(args))
        if args.command == "policy":
            from kecs.policy_cli import run as run_policy

            return run_policy(args)
        if args.command == "emulators":
            return show_emulators(args.format)
        if args.command == "logs":
            from kecs.logs.forwarder import run as run_logs

            return run_logs()
        if args.command == "seed":
            from kecs.seed.cli import run as run_seed

            return run_seed(args)
        if args.command == "proxy":
            from kecs.proxy.cli import run as run_proxy

            return run_proxy(args)
    except KecsError as exc:
        print(f"kecs: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kecs: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `kecs scan . | head`: the reader left; not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: one line, the traceback only when asked
        if args.debug:
            raise
        what = one_line(f"{type(exc).__name__}: {exc}")[:300]
        print(
            f"kecs: internal error during `kecs {args.command}`: {what} (please report it with the output "
            f"of `kecs --debug {args.command} ...`)",
            file=sys.stderr,
        )
        return 70
    parser.error(f"unknown command {args.command}")
    return 2
