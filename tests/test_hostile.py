"""Hostile input to the CLI: no hang, no traceback, one line and exit 2 (each a repro)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from kecs.cli import main

CAPTURED = "services:\n  a:\n    image: x\n    x-kecs: {proxy: true}\n"


def _exit_2_within(argv: list[str], capsys: pytest.CaptureFixture[str], seconds: float = 30) -> str:
    done: list[int] = []
    worker = threading.Thread(target=lambda: done.append(main(argv)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert done == [2], f"{argv}: {done or 'hung'}"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_special_files_are_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "compose.yaml"
    os.mkfifo(fifo)
    assert "FIFO" in _exit_2_within(["compose", str(tmp_path), "-f", str(fifo), "-q"], capsys)
    fifo.unlink()
    fifo.write_text(CAPTURED)
    os.mkfifo(tmp_path / ".env")
    assert ".env" in _exit_2_within(["compose", str(tmp_path), "-q"], capsys)
    (tmp_path / ".env").unlink()
    (tmp_path / ".env").symlink_to("/dev/zero")
    assert "link" in _exit_2_within(["compose", str(tmp_path), "-q"], capsys)


def test_a_fifo_or_endless_gitignore_does_not_hang_a_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / ".gitignore")
    (tmp_path / "app.py").write_text("import boto3\nboto3.client('s3')\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").symlink_to("/dev/zero")
    done: list[int] = []
    worker = threading.Thread(
        target=lambda: done.append(main(["scan", str(tmp_path), "-q", "-j", "1"])), daemon=True
    )
    worker.start()
    worker.join(60)
    assert done == [0], "the scan hung"
    assert "s3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("compose", "needle"),
    [
        ("services:\n  null: {image: x}\n", "the key null is not a name"),
        ("x-kecs: {emulator_url: 'ftp://x'}\n" + CAPTURED, "ftp://x"),
        ("x-kecs: {routes: {s3: 'http://a,sts=http://b'}}\n" + CAPTURED, "x-kecs.routes.s3"),
        ("services:\n  a: [1, 2]\n", "services.a: [1, 2] is not object"),
        ("services:\n  a:\n    image: x\n    networks: 5\n", "services.a.networks: 5 is not array or object"),
        ("services:\n  a:\n    image: x\n    environment: 5\n", "environment: 5 is not object or array"),
        ("services:\n  a:\n    image: x\x00y\n", "invalid YAML"),  # a raw NUL byte
        ("services:\n  a:\n    image: x\x07y\n", "invalid YAML"),
    ],
)
def test_nonsense_in_a_compose_file_is_named(
    compose: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yaml").write_text(compose)
    assert needle in _exit_2_within(["compose", str(tmp_path), "-q"], capsys)


def test_deep_manifests_do_not_abort_a_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "package.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "pyproject.toml").write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    (tmp_path / "app.py").write_text("import boto3\nboto3.client('sqs')\n")
    assert main(["scan", str(tmp_path), "-q", "-j", "1", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert any("sqs" in f["services"] for f in report["findings"])  # the rest of the scan went on


def test_negative_jobs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", ".", "-j", "-3"])
    assert exit_info.value.code == 2 and "negative" in capsys.readouterr().err


def test_scan_report_is_not_written_through_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app.py").write_text('import boto3\nboto3.client("s3")\n')
    target = tmp_path / "bashrc"
    target.write_text("mine\n")
    (tmp_path / "report.json").symlink_to(target)
    code = main(["scan", str(tmp_path / "app.py"), "--format", "json", "-o", str(tmp_path / "report.json")])
    assert code == 2
    assert target.read_text() == "mine\n"
    assert "report.json" in capsys.readouterr().err
