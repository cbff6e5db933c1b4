from __future__ import annotations

import time

import pathspec
from hypothesis import given, settings
from hypothesis import strategies as st

from kecs.scanner.ignore import IgnoreFile

NAMES = ["a", "b", "ab", "a.x", "b.x", ".x", "x.y.x", "abx", "x.yq", "]b", "acx.y"]
GLOBS = [
    "*",
    "**",
    "*.x",
    "a*",
    "*b",
    "[ab]",
    "?",
    "a?",
    "\\a",
    "*.y.x",
    ".x",
    "x.y*",
    "ab*x",
    "[]a]b",
    "a[!b]x.y",
    " a",
    "ab ",
]


def pattern_lines() -> st.SearchStrategy[str]:
    part = st.sampled_from(NAMES + GLOBS)
    body = st.lists(part, min_size=1, max_size=3).map("/".join)
    return st.tuples(
        st.sampled_from(["", "!"]), st.sampled_from(["", "/"]), body, st.sampled_from(["", "/"])
    ).map("".join)


def queries() -> st.SearchStrategy[tuple[str, bool]]:
    return st.tuples(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4).map("/".join), st.booleans())


@settings(max_examples=600, deadline=None)
@given(st.lists(pattern_lines(), max_size=12), st.lists(queries(), min_size=1, max_size=10))
def test_answers_equal_pathspec(lines: list[str], asked: list[tuple[str, bool]]) -> None:
    ours = IgnoreFile.from_lines(lines)
    reference = pathspec.GitIgnoreSpec.from_lines(lines)
    for rel, is_dir in asked:
        expected = reference.check_file(rel + "/" if is_dir else rel).include
        assert ours.check(rel, is_dir) == expected, (lines, rel, is_dir)


def test_literal_patterns_are_indexed_not_scanned() -> None:
    lines = (
        [f"name{i}" for i in range(50)] + [f"/top/p{i}/" for i in range(50)] + [f"*.e{i}" for i in range(50)]
    )
    lines += ["!name7", "ab*c"]
    spec = IgnoreFile.from_lines(lines)
    assert len(spec) == 152 and [entry[0] for entry in spec.others] == [151]
    assert spec.check("src/name3", False) is True
    assert spec.check("src/name7", False) is False
    assert spec.check("top/p4", True) is True and spec.check("top/p4", False) is None
    assert spec.check("x/f.e9", False) is True and spec.check("x/abxc", False) is True
    assert spec.check("x/f.e9x", False) is None


def test_twenty_thousand_patterns_over_many_paths_stay_fast() -> None:
    lines = [f"generated/file_{i}.txt" for i in range(10_000)] + [f"cache_{i}/" for i in range(5_000)]
    lines += [f"*.tmp{i}" for i in range(4_000)] + [f"build-{i}-*/" for i in range(500)]
    lines += [f"logs/**/*_{i}.bak" for i in range(500)]
    spec = IgnoreFile.from_lines(lines)
    started = time.process_time()
    hits = sum(bool(spec.check(f"src/pkg{i % 50}/module_{i}.py", False)) for i in range(20_000))
    hits += sum(bool(spec.check(f"cache_{i}", True)) for i in range(1_000))
    hits += sum(bool(spec.check(f"build-{i}-x", True)) for i in range(1_000))
    hits += sum(bool(spec.check(f"logs/a/b/x_{i}.bak", False)) for i in range(1_000))
    elapsed = time.process_time() - started
    assert hits == 2_000
    # pathspec alone: about 117 s for 20,000 paths here; CPU time, so a busy machine does not matter.
    assert elapsed < 5, f"{elapsed:.1f} s of CPU for 23,000 checks"
