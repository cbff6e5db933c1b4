"""Score the scanner against the labelled corpus in tests/corpus (labels.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kecs.scanner.engine import ScanOptions, scan_path

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@dataclass(frozen=True)
class Score:
    found: int
    expected: int
    right: int
    missed: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.right / self.found if self.found else 1.0


def _score(found: set[str], expected: set[str]) -> Score:
    return Score(len(found), len(expected), len(found & expected), tuple(sorted(expected - found)),
                 tuple(sorted(found - expected)))  # fmt: skip


def score() -> tuple[Score, Score]:
    """(services per file, operations per file)."""
    labels = json.loads((CORPUS / "labels.json").read_text())["files"]
    report = scan_path(str(CORPUS), ScanOptions(jobs=1))
    services, operations = set(), set()
    for f in report.findings:
        if f.kind in ("client", "call", "import") and f.path != "labels.json":
            services.update(f"{f.path} {s}" for s in f.services)
            if f.operation:
                operations.update(f"{f.path} {s} {f.operation}" for s in f.services)
    want_services = {f"{path} {s}" for path, calls in labels.items() for s in calls}
    want_operations = {
        f"{path} {s} {op}" for path, calls in labels.items() for s, ops in calls.items() for op in ops
    }
    return _score(services, want_services), _score(operations, want_operations)


POLICY_CORPUS = Path(__file__).resolve().parent.parent / "policy_corpus"


def policy_score() -> tuple[Score, Score]:
    """(IAM actions per file, literal resources narrowed per file) of what `kecs policy`
    predicts from the held-out policy corpus (tests/policy_corpus), against its labels."""
    from kecs.policy import _generalize, iam_actions, predicted
    from kecs.scanner.services import ServiceCatalog

    labels = json.loads((POLICY_CORPUS / "labels.json").read_text())
    catalog = ServiceCatalog.load()
    report = scan_path(str(POLICY_CORPUS), ScanOptions(jobs=1))
    actions, resources = set(), set()
    for use in predicted(report.findings):
        path = use.where.rsplit(":", 1)[0]
        actions.update(f"{path} {a}" for a in iam_actions(use.aws_service, use.operation, catalog))
        if use.resource:
            resources.add(f"{path} {_generalize(use.resource)}")
    want_actions = {f"{path} {a}" for path, found in labels["files"].items() for a in found}
    want_resources = {f"{path} {r}" for path, found in labels["resources"].items() for r in found}
    return _score(actions, want_actions), _score(resources, want_resources)
