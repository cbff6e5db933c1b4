"""Operations found in code: kecs scan against iam-policy-autopilot (awslabs, PyPI), on the
labelled corpus (tests/corpus), in one run: time, and the operations each finds against
the labels. iam-policy-autopilot fetches AWS's service reference data at run time; where
that endpoint cannot be reached (offline) its error is printed as its result.

    .venv/bin/python bench/policy.py [--autopilot PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scanner.corpus import CORPUS, policy_score, score  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--autopilot", default=os.environ.get("AUTOPILOT") or shutil.which("iam-policy-autopilot")
    )
    args = parser.parse_args()
    labels = json.loads((CORPUS / "labels.json").read_text())["files"]
    expected = sum(len(ops) for calls in labels.values() for ops in calls.values())
    started = time.monotonic()
    _, operations = score()
    kecs_s = time.monotonic() - started
    print(f"labelled corpus: {len(labels)} files using AWS, {expected} operations")
    print(
        f"kecs scan:            {kecs_s:6.2f} s  {operations.right}/{expected} operations, {len(operations.extra)} wrong"
    )
    actions, resources = policy_score()
    print(
        f"held-out policy corpus (tests/policy_corpus): IAM actions precision {actions.precision:.2f}, "
        f"recall {actions.recall:.2f} ({actions.right}/{actions.expected}); literal resources narrowed "
        f"{resources.right}/{resources.expected}, {len(resources.extra)} wrong"
    )
    if not args.autopilot:
        print("iam-policy-autopilot: not installed (pip install iam-policy-autopilot; or --autopilot PATH)")
        return
    python_files = sorted(str(p) for p in CORPUS.rglob("*.py"))
    env = {**os.environ, "DISABLE_IAM_POLICY_AUTOPILOT_TELEMETRY": "true"}
    started = time.monotonic()
    done = subprocess.run(
        [args.autopilot, "generate-policies", *python_files, "--region", "us-east-1", "--account", "123456789012"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    autopilot_s = time.monotonic() - started
    if done.returncode != 0:
        error = next(
            (line for line in done.stderr.splitlines() if line.startswith("Error")), done.stderr[-300:]
        )
        print(f"iam-policy-autopilot: {autopilot_s:6.2f} s  failed: {error[:300]}")
        return
    actions = sorted({a for s in json.loads(done.stdout).get("Policies", []) for st in s.get("Policy", {}).get("Statement", [])
                      for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])})  # fmt: skip
    print(f"iam-policy-autopilot: {autopilot_s:6.2f} s  {len(actions)} actions: {', '.join(actions)}")


if __name__ == "__main__":
    main()
