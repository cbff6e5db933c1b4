"""The scanner's accuracy on the labelled corpus (tests/corpus): services and operations
per file, recall and precision, and what it missed or added.

    .venv/bin/python bench/corpus.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scanner.corpus import score


def main() -> None:
    services, operations = score()
    print(f"{'':12} {'expected':>9} {'found':>6} {'right':>6} {'recall':>7} {'precision':>10}")
    for label, s in (("services", services), ("operations", operations)):
        print(f"{label:12} {s.expected:9} {s.found:6} {s.right:6} {s.recall:7.2f} {s.precision:10.2f}")
        for miss in s.missed:
            print(f"  missed: {miss}")
        for extra in s.extra:
            print(f"  extra:  {extra}")


if __name__ == "__main__":
    main()
