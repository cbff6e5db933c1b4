from __future__ import annotations

from pathlib import Path

import pytest

from kecs.scanner.walk import WalkOptions, iter_files


def touch(root: Path, *paths: str) -> None:
    for rel in paths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def test_dependency_and_tool_directories_are_skipped(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "app/main.py",
        "node_modules/aws-sdk/index.js",
        "web/node_modules/x/y.js",
        ".venv/lib/boto3/__init__.py",
        "env/pyvenv.cfg",
        "env/lib/site.py",
        "vendor/github.com/aws/aws-sdk-go/x.go",
        "target/classes/A.java",
        "dist/bundle.js",
        ".git/config",
        "lib/site-packages/boto3/session.py",
    )
    assert list(iter_files(str(tmp_path))) == ["app/main.py"]
    everything = list(iter_files(str(tmp_path), WalkOptions(skip_excluded_dirs=False)))
    assert "node_modules/aws-sdk/index.js" in everything and "env/lib/site.py" in everything


def test_gitignore_nested_and_negated(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "keep.py",
        "build/gen.py",
        "logs/a.log",
        "logs/keep.log",
        "sub/secret.py",
        "sub/public.py",
        "sub/deep/secret.py",
    )
    (tmp_path / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (tmp_path / "sub" / ".gitignore").write_text("secret.py\n")
    assert sorted(iter_files(str(tmp_path))) == [
        ".gitignore",
        "keep.py",
        "logs/keep.log",
        "sub/.gitignore",
        "sub/public.py",
    ]
    unfiltered = set(iter_files(str(tmp_path), WalkOptions(respect_gitignore=False)))
    assert {"build/gen.py", "sub/secret.py", "sub/deep/secret.py"} <= unfiltered


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    touch(tmp_path, "real/a.py")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "link.py").symlink_to(tmp_path / "real" / "a.py")
    assert list(iter_files(str(tmp_path))) == ["real/a.py"]


def test_unreadable_directories_are_reported_not_dropped_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from kecs.scanner.engine import ScanOptions, scan_path

    (tmp_path / "app.py").write_text("import boto3\n")
    (tmp_path / "secret").mkdir()
    real = os.scandir

    def scandir(path: str):  # type: ignore[no-untyped-def]
        if str(path).endswith("secret"):  # root reads anything: a denied listing, simulated
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr("kecs.scanner.walk.os.scandir", scandir)
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert [(s.path, s.reason) for s in report.skipped] == [
        ("secret", "unreadable directory: Permission denied")
    ]
