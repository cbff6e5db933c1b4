"""`kecs seed apply|watch|secrets DIR`: the seeder's commands, run in the `kecs-seed` container;
and `kecs seed --reset [PROJECT_DIR]`, the user's: bring every seeded resource of a running
project back to its declaration (what `kecs up` never does to what exists).

DIR holds `seed.json` (the seed and the services' secret references, put there by `kecs up`)
and the local files it names. `apply` makes the seed true and prints one line per resource;
`watch` (the container's main process) applies it once it arrives, then re-creates, every
few seconds, whatever went missing (an emulator that restarted without its state);
`secrets` prints the services' resolved secrets as JSON on stdout, for `kecs up` only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from kecs import contract

# kecs.seed.apply's modes (that module, with boto3 behind it, is imported where it is used:
# every `kecs` command builds this module's parser).
FULL, RESTORE = "full", "restore"

SEED_FILE = "seed.json"
LOCK_FILE = "seed.lock"
WATCH_EVERY = 10.0
Applier = Callable[[dict[str, Any], str, bool], int]  # (document, mode, quiet_present) -> failures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("apply", "watch", "secrets"))
    parser.add_argument("directory", nargs="?", default=contract.SEED_DIR)
    parser.add_argument(
        "--reset",
        nargs="?",
        const=".",
        metavar="PROJECT_DIR",
        help="bring every seeded resource of the running project back to its declaration, "
        "undoing what the apps changed (kecs up only creates what is missing)",
    )
    parser.add_argument(
        "--all", action="store_true", help="with apply: every resource to its declaration (what --reset runs)"
    )
    parser.add_argument("--compose", metavar="COMMAND", default=os.environ.get("KECS_COMPOSE"))
    parser.add_argument("-p", "--project-name", metavar="NAME", help="Compose's project name")


def _load(directory: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(directory, SEED_FILE), encoding="utf-8") as handle:
            loaded: dict[str, Any] = json.load(handle)
            return loaded
    except FileNotFoundError:
        return None


def _mark(name: str, text: str, state_dir: str = contract.STATE_DIR) -> None:
    os.makedirs(state_dir, exist_ok=True)
    temporary = os.path.join(state_dir, f".{name}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, os.path.join(state_dir, name))


@contextlib.contextmanager
def _exclusive(state_dir: str) -> Iterator[None]:
    """One apply at a time in the container: `kecs up`'s and the watcher's would otherwise
    both create what is missing (two Cloud Map namespaces of one name, for one)."""
    os.makedirs(state_dir, exist_ok=True)
    fd = os.open(os.path.join(state_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def run_apply(document: dict[str, Any], mode: str, quiet_present: bool = False) -> int:
    """Apply the seed; in FULL mode only the resources `update` lists are brought to their
    declaration (`kecs up`'s choice), every one when it is absent."""
    from kecs.seed.apply import Clients, apply
    from kecs.seed.model import from_document

    seed = from_document(document["seed"])
    # What `kecs up` found changed since it was last applied (absent: everything, a reset).
    update = frozenset(document["update"]) if document.get("update") is not None else None
    failed = 0
    for result in apply(seed, Clients(seed.region), mode, update):
        if result.status == "failed":
            failed += 1
        if not (quiet_present and result.status == "present"):
            print(result.line(), flush=True)
    return failed


def apply_once(
    document: dict[str, Any], state_dir: str = contract.STATE_DIR, run: Applier = run_apply
) -> int:
    """`kecs seed apply`: the whole seed, then the mark the watcher and the health check read."""
    with _exclusive(state_dir):
        failed = run(document, FULL, False)
        if not failed:
            _mark(contract.SEEDED, str(time.time()), state_dir)
    return failed


def run(args: argparse.Namespace) -> int:
    if args.reset is not None:
        return _reset(args)
    if args.action is None:
        print(
            "kecs seed: give apply, watch or secrets (the seeder's), or --reset [PROJECT_DIR]",
            file=sys.stderr,
        )
        return 2
    if args.action == "watch":
        return watch(args.directory)
    document = _load(args.directory)
    if document is None:
        print(f"kecs seed: no {SEED_FILE} in {args.directory}", file=sys.stderr)
        return 2
    if args.action == "apply":
        if args.all:
            document = {**document, "update": None}
        return 1 if apply_once(document) else 0
    from kecs.seed.apply import Clients, resolve

    values, unresolved = resolve(document.get("secrets") or {}, Clients(document["seed"]["region"]))
    json.dump({"values": values, "unresolved": [u.__dict__ for u in unresolved]}, sys.stdout)
    return 0


def watch(
    directory: str,
    state_dir: str = contract.STATE_DIR,
    every: float = WATCH_EVERY,
    run: Applier = run_apply,
    rounds: int | None = None,
) -> int:
    """Wait for the seed; if `kecs up` has not applied it a little later (the container
    restarted, or plain Compose started it again), apply it; then keep it present. Each
    round holds the lock `kecs seed apply` holds, so the two never create one thing twice."""
    seeded = os.path.join(state_dir, contract.SEEDED)
    while (document := _load(directory)) is None:
        time.sleep(min(every, 0.5))
    done = 0
    while rounds is None or done < rounds:
        time.sleep(every)
        done += 1
        with _exclusive(state_dir):
            try:
                if not os.path.exists(seeded):
                    print("applying the seed", flush=True)
                    if run(document, FULL, False) == 0:
                        _mark(contract.SEEDED, str(time.time()), state_dir)
                else:
                    run(document, RESTORE, True)
            except Exception as exc:  # an emulator still starting, or restarting: next round
                print(f"checking the seed failed: {exc}", flush=True)
    return 0


def _reset(args: argparse.Namespace) -> int:
    from kecs import lifecycle

    failed = lifecycle.reset_seed(
        args.reset, compose_command=args.compose, project_name=args.project_name, on_line=print
    )
    return 1 if failed else 0
