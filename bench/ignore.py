"""Benchmark: the source walk under a 20,000-line .gitignore, against git (the peer).

Generates a 200,000-file tree and a .gitignore of 20,000 patterns (literal names and paths,
suffixes, and 2,000 wildcard patterns), then times in the same run: kecs's walk, git's own
listing of the files it does not ignore (`git ls-files --others --exclude-standard`), a full
`kecs scan` of the tree, and pathspec alone (what the walk used before) on a sample of the
paths, extrapolated. Checks that kecs and git list the same files.

    .venv/bin/python bench/ignore.py [--files 200000] [--patterns 20000]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

import pathspec

from kecs.scanner.walk import WalkOptions, iter_files

WORK = Path(__file__).resolve().parent / ".work" / "ignore"


def make_tree(root: Path, files: int, patterns: int) -> None:
    marker = root / f".made-{files}-{patterns}"
    if marker.exists():
        return
    subprocess.run(["rm", "-rf", str(root)], check=True)
    root.mkdir(parents=True)
    rng = random.Random(7)
    exts = ["py", "js", "txt", "json", "md", "log", "tmp", "go"]
    for i in range(files):
        directory = root / f"pkg{i % 400}" / f"mod{i % 23}"
        if i < 400 * 23:
            directory.mkdir(parents=True, exist_ok=True)
        ext = exts[rng.randrange(len(exts))]
        (directory / f"file_{i}.{ext}").write_bytes(b"x = 1\n" if ext == "py" else b"x\n")
    literal = patterns * 45 // 100
    lines = [
        f"pkg{rng.randrange(400)}/mod{rng.randrange(23)}/file_{rng.randrange(files)}.txt"
        for _ in range(literal)
    ]
    lines += [f"file_{rng.randrange(files)}.json" for _ in range(patterns * 25 // 100)]
    lines += [f"*.gen{i}" for i in range(patterns * 10 // 100)] + ["*.log", "*.tmp"]
    lines += [f"cache_{i}/" for i in range(patterns * 10 // 100)]
    lines += [f"pkg{i % 400}/mod*/file_{i}?.md" for i in range(patterns * 5 // 100)]
    lines += [f"**/build-{i}-*/" for i in range(patterns * 5 // 100)]
    lines += ["!pkg7/mod3/*.log", "pkg9/"]
    (root / ".gitignore").write_text("\n".join(lines[:patterns]) + "\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    marker.write_text("")


def timed(label: str, action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    elapsed = time.perf_counter() - started
    print(f"{label:<44} {elapsed:8.2f} s", flush=True)
    return result, elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--patterns", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=2_000, help="paths checked by pathspec alone")
    args = parser.parse_args()
    root = WORK
    _, made = timed(
        f"make tree ({args.files:,} files, {args.patterns:,} patterns)",
        lambda: make_tree(root, args.files, args.patterns),
    )

    def walk() -> list[str]:
        return sorted(
            p
            for p in iter_files(str(root), WalkOptions(skip_excluded_dirs=False))
            if not p.startswith((".git/", ".made"))
        )

    ours, t_ours = timed("kecs walk", walk)

    def git() -> list[str]:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "-c",
                "core.excludesFile=/dev/null",
                "ls-files",
                "--others",
                "--exclude-standard",
                "-z",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return sorted(p for p in out.split("\0") if p and not p.startswith(".made"))

    theirs, t_git = timed("git ls-files --others --exclude-standard", git)
    if ours != theirs:
        print(f"MISMATCH: kecs lists {len(ours)}, git {len(theirs)}", file=sys.stderr)
        return 1
    _, t_scan = timed(
        "kecs scan (whole tree)",
        lambda: subprocess.run(
            [sys.executable, "-m", "kecs", "scan", str(root), "--format", "json"],
            check=True,
            capture_output=True,
        ),
    )
    lines = (root / ".gitignore").read_text().splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    everything = [str(p.relative_to(root)) for p in root.glob("pkg*/mod*/*")][: args.sample]
    _, t_sample = timed(
        f"pathspec alone, {len(everything):,} paths", lambda: [spec.check_file(p) for p in everything]
    )
    total_paths = args.files + 400 * 24
    estimate = t_sample / max(len(everything), 1) * total_paths
    print()
    print(f"files listed (kecs = git):     {len(ours):,} of {args.files:,}")
    print(f"kecs walk / git:               {t_ours / t_git:.1f}x  ({t_ours:.1f} s vs {t_git:.2f} s)")
    print(f"pathspec alone, extrapolated:  {estimate:,.0f} s  ({estimate / t_ours:.0f}x the kecs walk)")
    print(f"kecs scan, whole tree:         {t_scan:.1f} s")
    print(f"(tree made in {made:.0f} s; kept in {root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
