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
    done: list[int | str | None] = []

    def call() -> None:
        try:
            done.append(main(argv))
        except SystemExit as exc:  # argparse's own refusals exit 2 as well
            done.append(exc.code)

    worker = threading.Thread(target=call, daemon=True)
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


def _image_tar(members: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
_DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("members", "needle"),
    [
        ({"manifest.json": b"5"}, "member 'manifest.json': 5 is not of type 'array'"),
        ({"manifest.json": b"[5]"}, "member 'manifest.json'[0]: 5 is not of type 'object'"),
        ({"manifest.json": b'[{"Layers": 5}]'}, "['Layers']: 5 is not of type 'array'"),
        ({"manifest.json": b"[" * 100_000 + b"]" * 100_000}, "member 'manifest.json' is not valid JSON"),
        ({"oci-layout": _LAYOUT, "index.json": b"5"}, "member 'index.json': 5 is not of type 'object'"),
        ({"oci-layout": _LAYOUT, "index.json": b'{"manifests": 5}'}, "['manifests']: 5 is not of type 'array'"),
        ({"oci-layout": _LAYOUT, "index.json": b'{"manifests": [5]}'}, "['manifests'][0]: 5 is not of type"),
        ({"oci-layout": _LAYOUT, "index.json": json.dumps({"manifests": [{"digest": _DIGEST}]}).encode(),
          f"blobs/sha256/{'a' * 64}": b'{"layers": 5}'}, "['layers']: 5 is not of type 'array'"),
    ],
)  # fmt: skip
def test_malformed_image_manifests_are_one_line(
    members: dict[str, bytes], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "image.tar").write_bytes(_image_tar(members))
    assert needle in _exit_2_within(["scan", "--image", str(tmp_path / "image.tar")], capsys)


@pytest.mark.parametrize(
    ("compose", "needle"),
    [
        ("x-kecs: {emulator_url: 5}\n" + CAPTURED, "x-kecs.emulator_url must be a string, not 5"),
        ("x-kecs: {emulator_url: [1]}\n" + CAPTURED, "x-kecs.emulator_url must be a string"),
        ("x-kecs: {region: {a: 1}}\n" + CAPTURED, "x-kecs.region must be a string"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n" + CAPTURED, "compose.yaml:1: nested more than 100 levels deep"),
        (CAPTURED + "    labels: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "nested more than 100 levels deep"),
        # Aliases 200 levels deep, each level a short line: the composed graph is what is deep.
        ("x-0: &a0 [1]\n" + "".join(f"x-{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 200)) + CAPTURED,
         "nested more than 100 levels deep (through YAML aliases?)"),
    ],
)  # fmt: skip
def test_deep_or_mistyped_compose_files_are_one_line(
    compose: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yaml").write_text(compose)
    assert needle in _exit_2_within(["compose", str(tmp_path), "-q"], capsys)


def test_a_small_alias_bomb_is_refused_by_what_it_expands_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """105 KB that expands to 100 MB of scalars (few enough nodes): refused at once."""
    lines = ['x-a: &a "' + "x" * 1000 + '"', "x-b: &b [" + ", ".join(["*a"] * 100) + "]",
             "x-c: &c [" + ", ".join(["*b"] * 100) + "]", "x-d: &d [" + ", ".join(["*c"] * 10) + "]",
             "services:\n  a:\n    image: x\n    labels: {z: *d}"]  # fmt: skip
    (tmp_path / "compose.yaml").write_text("\n".join(lines) + "\n")
    err = _exit_2_within(["compose", str(tmp_path), "-q"], capsys, seconds=10)
    assert "expands to more than 200000 nodes or 8 MiB through YAML aliases" in err
    assert not (tmp_path / "compose.kecs.yaml").exists()


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("environment", 5, "containerDefinitions[0].environment: 5 is not of type 'array'"),
        ("portMappings", [{"containerPort": "x"}], "portMappings[0].containerPort: 'x' is not of type 'integer'"),
        ("logConfiguration", 5, "logConfiguration: 5 is not of type 'object'"),
        ("healthCheck", {"command": 5}, "healthCheck.command: 5 is not of type 'array'"),
    ],
)  # fmt: skip
def test_mistyped_task_definitions_are_one_line(
    field: str, value: object, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "compose.yaml").write_text(CAPTURED)
    (tmp_path / "td.json").write_text(
        json.dumps({"containerDefinitions": [{"name": "t", "image": "x", field: value}]})
    )
    argv = ["compose", str(tmp_path), "-q", "--task-definition", str(tmp_path / "td.json")]
    assert needle in _exit_2_within(argv, capsys)


def test_fifos_named_to_a_scan_are_refused_not_waited_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / "pipe")
    assert "is a FIFO" in _exit_2_within(["scan", str(tmp_path / "pipe")], capsys, seconds=10)
    layout = tmp_path / "oci"
    layout.mkdir()
    (layout / "oci-layout").write_bytes(_LAYOUT)
    os.mkfifo(layout / "index.json")
    err = _exit_2_within(["scan", "--image", str(layout)], capsys, seconds=10)
    assert "not an OCI layout directory" in err and "FIFO" in err


@pytest.mark.parametrize("size", ["200MB", "38000000", "17MiB"])
def test_a_max_file_size_past_what_parsing_can_hold_is_refused(
    size: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 38 MB file let through by --max-file-size 200MB crashed the parser (memory)."""
    err = _exit_2_within(["scan", str(tmp_path), "--max-file-size", size], capsys)
    assert "over the 16 MiB limit" in err


def test_max_file_size_takes_units(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "app.py").write_text("import boto3\nboto3.client('s3')\n" + "# pad\n" * 200)
    assert main(["scan", str(tmp_path), "-q", "-j", "1", "--max-file-size", "1kB", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == [] and "larger than 1000 bytes" in json.dumps(report["skipped"])
    assert main(["scan", str(tmp_path), "-q", "-j", "1", "--max-file-size", "2MiB", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"]
