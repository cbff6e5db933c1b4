from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kecs.cli import main


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kecs", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text('import boto3\nboto3.client("sqs", aws_access_key_id="test")\n')
    return tmp_path


def test_scan_json_to_stdout(project: Path) -> None:
    result = run_cli("scan", str(project), "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["services"] == ["sqs"]
    assert result.stderr == ""


def test_check_exits_1_on_lint(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(project), "--check"]) == 1
    assert "KECS002" in capsys.readouterr().out
    (project / "app.py").write_text('import boto3\nboto3.client("sqs")\n')
    assert main(["scan", str(project), "--check"]) == 0


def test_output_file(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    result = run_cli("scan", str(project), "--format", "sarif", "--output", str(out))
    assert result.returncode == 0 and result.stdout == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "/definitely/not/here"], "kecs: error: /definitely/not/here: no such file or directory\n"),
        (["scan"], "kecs: error: give either PATH... or --image REF_OR_FILE"),
        (["scan", ".", "--image", "x.tar"], "kecs: error: give either PATH... or --image REF_OR_FILE"),
        (["scan", ".", "--format", "xml"], "invalid choice: 'xml'"),
        (["scan", ".", "--output", "/definitely/not/here/r.json"], "r.json: cannot write the report"),
    ],
)
def test_input_errors_exit_2_with_one_line(args: list[str], message: str, project: Path) -> None:
    result = run_cli(*args, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_console_script_matches_module(project: Path) -> None:
    script = Path(sys.executable).with_name("kecs")
    if not script.exists():
        pytest.fail(f"console script missing at {script}: is kecs installed (pip install -e .)?")
    result = subprocess.run(
        [str(script), "scan", str(project), "--format", "json", "-q"], capture_output=True, text=True
    )
    assert result.returncode == 0 and json.loads(result.stdout)["sdks"] == ["boto3"]


def test_an_unexpected_error_is_one_line_and_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import kecs.cli

    def boom(args: object) -> int:
        raise RuntimeError("something kecs did not expect\nsecond line")

    monkeypatch.setattr(kecs.cli, "run_scan", boom)
    assert kecs.cli.main(["scan", "."]) == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error during `kecs scan`" in err and "please report" in err
    assert "Traceback" not in err
    with pytest.raises(RuntimeError):
        kecs.cli.main(["--debug", "scan", "."])


def test_image_options_come_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from kecs.cli import build_parser
    from kecs.compose.cli import overrides_from_args

    for name, value in {
        "KECS_LOCALSTACK_IMAGE": "ls:1", "KECS_MOTO_IMAGE": "moto:1", "KECS_MINISTACK_IMAGE": "ms:1",
        "KECS_PROXY_BASE": "base:1", "KECS_PROXY_IMAGE": "p:1",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    overrides = overrides_from_args(build_parser().parse_args(["up", "."]))
    assert overrides["images"] == {"localstack": "ls:1", "moto": "moto:1", "ministack": "ms:1"}
    assert (overrides["proxy_base"], overrides["proxy_image"]) == ("base:1", "p:1")
    flags = build_parser().parse_args(["compose", ".", "--proxy-base", "flag:1"])
    assert overrides_from_args(flags)["proxy_base"] == "flag:1"  # a flag wins


def test_the_proxy_image_can_build_the_parser_without_the_cli_libraries() -> None:
    """The proxy image installs kecs with the `proxy` extra only: the CLI's parser (every
    `kecs` command there starts with it) must import none of the CLI's other libraries."""
    import subprocess
    import sys

    blocked = ["yaml", "rich", "tree_sitter", "docker", "jsonschema", "pathspec", "zstandard"]
    script = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "from kecs.cli import build_parser\n"
        "build_parser().parse_args(['proxy', '--check'])\n"
        "build_parser().parse_args(['seed', 'watch'])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
