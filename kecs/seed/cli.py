"""`kecs seed apply|watch|secrets DIR`: the seeder's commands, run in the `kecs-seed` container.

DIR holds `seed.json` (the seed and the services' secret references, put there by `kecs up`)
and the local files it names. `apply` makes the seed true and prints one line per resource;
`watch` (the container's main process) applies it once it arrives, then re-creates, every
few seconds, whatever went missing (an emulator that restarted without its state);
`secrets` prints the services' resolved secrets as JSON on stdout, for `kecs up` only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from kecs import contract
from kecs.seed.apply import FULL, RESTORE, Clients, apply, resolve
from kecs.seed.model import from_document

SEED_FILE = "seed.json"
WATCH_EVERY = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("apply", "watch", "secrets"))
    parser.add_argument("directory", nargs="?", default=contract.SEED_DIR)


def _load(directory: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(directory, SEED_FILE), encoding="utf-8") as handle:
            loaded: dict[str, Any] = json.load(handle)
            return loaded
    except FileNotFoundError:
        return None


def _mark(name: str, text: str) -> None:
    os.makedirs(contract.STATE_DIR, exist_ok=True)
    temporary = os.path.join(contract.STATE_DIR, f".{name}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, os.path.join(contract.STATE_DIR, name))


def run_apply(document: dict[str, Any], mode: str, quiet_present: bool = False) -> int:
    seed = from_document(document["seed"])
    failed = 0
    for result in apply(seed, Clients(seed.region), mode):
        if result.status == "failed":
            failed += 1
        if not (quiet_present and result.status == "present"):
            print(result.line(), flush=True)
    return failed


def run(args: argparse.Namespace) -> int:
    if args.action == "watch":
        return watch(args.directory)
    document = _load(args.directory)
    if document is None:
        print(f"kecs seed: no {SEED_FILE} in {args.directory}", file=sys.stderr)
        return 2
    if args.action == "apply":
        failed = run_apply(document, FULL)
        if failed:
            return 1
        _mark(contract.SEEDED, str(time.time()))
        return 0
    values, unresolved = resolve(document.get("secrets") or {}, Clients(document["seed"]["region"]))
    json.dump({"values": values, "unresolved": [u.__dict__ for u in unresolved]}, sys.stdout)
    return 0


def watch(directory: str) -> int:
    """Wait for the seed; if `kecs up` has not applied it a little later (the container
    restarted, or plain Compose started it again), apply it; then keep it present."""
    seeded = os.path.join(contract.STATE_DIR, contract.SEEDED)
    while (document := _load(directory)) is None:
        time.sleep(0.5)
    time.sleep(WATCH_EVERY)
    while not os.path.exists(seeded):
        print("applying the seed", flush=True)
        try:
            if run_apply(document, FULL) == 0:
                _mark(contract.SEEDED, str(time.time()))
                break
        except Exception as exc:  # an emulator still starting: try again
            print(f"applying the seed failed: {exc}", flush=True)
        time.sleep(WATCH_EVERY)
    while True:
        time.sleep(WATCH_EVERY)
        try:
            run_apply(document, RESTORE, quiet_present=True)
        except Exception as exc:
            print(f"checking the seed failed: {exc}", flush=True)
