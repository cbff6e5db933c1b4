from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from kecs.errors import KecsError
from kecs.scanner.engine import MAX_FINDINGS, ScanOptions, scan_path, scan_paths
from kecs.scanner.model import Skipped

APP = 'import boto3\ns3 = boto3.client("s3")\n'


def test_prefilter_and_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "util.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "README.md").write_text("We use boto3.client('s3').\n")
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert (report.files_seen, report.files_parsed) == (2, 1)
    assert [(f.path, f.line) for f in report.findings] == [("app.py", 1), ("app.py", 2)]


def test_binary_huge_minified_and_invalid_utf8(tmp_path: Path) -> None:
    (tmp_path / "blob.py").write_bytes(b"import boto3\x00\x01\x02" * 10)
    (tmp_path / "huge.py").write_text(APP + "#" * 3_000_000)
    (tmp_path / "bundle.js").write_text('var a=require("aws-sdk");' * 2000)
    (tmp_path / "latin1.py").write_bytes(b"# caf\xe9\nimport boto3\nboto3.client('sqs')\n")
    noise = random.Random(1)
    garbage = b"\n".join(bytes(noise.randrange(1, 256) for _ in range(79)) for _ in range(600))
    (tmp_path / "garbage.go").write_bytes(garbage + b"aws")
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert {(s.path, s.reason.split(" ")[0]) for s in report.skipped} == {
        ("blob.py", "binary"),
        ("huge.py", "larger"),
        ("bundle.js", "minified"),
    }
    assert [(f.path, f.services) for f in report.findings if f.kind == "client"] == [("latin1.py", ("sqs",))]


def test_parallel_equals_serial(tmp_path: Path) -> None:
    for i in range(150):
        sub = tmp_path / f"pkg{i % 7}"
        sub.mkdir(exist_ok=True)
        (sub / f"m{i}.py").write_text(APP if i % 3 == 0 else "x = 1  # aws\n")
        (sub / f"m{i}.js").write_text(
            'const { SQSClient } = require("@aws-sdk/client-sqs");\nnew SQSClient({});\n'
        )
    serial = scan_path(str(tmp_path), ScanOptions(jobs=1))
    parallel = scan_path(str(tmp_path), ScanOptions(jobs=2))
    assert serial.findings == parallel.findings
    assert len(serial.findings) == 50 * 2 + 150 * 2
    # The 100 Python files that only mention AWS in a comment are not parsed.
    assert (parallel.files_seen, parallel.files_parsed) == (300, 200)


def test_progress_reports_every_file(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"a{i}.py").write_text(APP)
    seen: list[tuple[int, int]] = []
    scan_path(str(tmp_path), ScanOptions(jobs=1, progress=lambda done, total: seen.append((done, total))))
    assert seen == [(i, 5) for i in range(1, 6)]


def test_single_file_and_several_targets(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.py").write_text(APP)
    (tmp_path / "b" / "y.py").write_text(APP)
    one = scan_path(str(tmp_path / "a" / "x.py"))
    assert one.target == str(tmp_path / "a" / "x.py")
    assert {f.path for f in one.findings} == {"x.py"}
    both = scan_paths([str(tmp_path / "a"), str(tmp_path / "b" / "y.py")])
    assert both.target == str(tmp_path)
    assert {f.path for f in both.findings} == {"a/x.py", "b/y.py"}


def test_missing_and_unreadable_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KecsError, match=r"nope: no such file or directory"):
        scan_path(str(tmp_path / "nope"))
    secret = tmp_path / "secret.py"
    secret.write_text(APP)
    secret.chmod(0)
    real_access = os.access
    # Root reads every file whatever its mode; answer as the kernel would for a user.
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p) == str(secret) else real_access(p, m))
    with pytest.raises(KecsError, match=r"secret.py: not readable \(check its permissions\)"):
        scan_path(str(secret))


def test_unreadable_file_inside_a_tree_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ok.py").write_text(APP)
    (tmp_path / "bad.py").write_text(APP)
    real_open = open

    def failing_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("bad.py"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert [(s.path, s.reason) for s in report.skipped] == [("bad.py", "unreadable: Permission denied")]
    assert {f.path for f in report.findings} == {"ok.py"}


def test_deeply_nested_calls_scan_in_linear_time(tmp_path: Path) -> None:
    import time

    from kecs.scanner.engine import ScanOptions, scan_path

    n = 16_000
    (tmp_path / "a.py").write_text("import boto3\nx = " + "boto3.client(\n" * n + '"s3"' + ")\n" * n)
    started = time.monotonic()
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert time.monotonic() - started < 10  # each finding once took the whole nested text: 30 s
    clients = [f for f in report.findings if f.kind == "client"]
    # The first MAX_FINDINGS are listed, then only what adds something: the one naming s3.
    assert MAX_FINDINGS <= len(clients) <= MAX_FINDINGS + 1 and report.services == ["s3"]
    left_out = n - len(clients)
    assert report.skipped == [
        Skipped("a.py", f"{left_out} further findings like those listed are not listed")
    ]
    assert all(len(f.evidence) <= 120 for f in report.findings)


def test_a_file_of_a_million_identical_calls_costs_its_first_thousand(tmp_path: Path) -> None:
    """21 MB of repeated calls once held 1.3 million findings (2.96 GB, later 0.7 GB):
    per file, findings past MAX_FINDINGS are kept only when they add something."""
    from kecs.scanner.engine import ScanOptions, scan_path

    body = 'c = boto3.client("s3", endpoint_url="http://localhost:4566")\nc.put_object(Bucket="b")\n'
    (tmp_path / "big.py").write_text("import boto3\n" + body * 15_000 + 'c.get_object(Bucket="other")\n')
    report = scan_path(str(tmp_path), ScanOptions(jobs=1))
    assert len(report.findings) < MAX_FINDINGS + 10
    assert report.operations == {"s3": ["GetObject", "PutObject"]}
    assert {f.resource for f in report.findings if f.operation == "GetObject"} == {"Bucket=other"}
    (skipped,) = report.skipped
    assert skipped.path == "big.py" and skipped.reason.endswith(
        "further findings like those listed are not listed"
    )


def test_a_client_handed_to_another_modules_function_is_that_functions_client(tmp_path: Path) -> None:
    """`archive(s3, ...)` with `archive` from the project's helpers (which import no SDK):
    the parameter at that position is an s3 client there; a helper handed two services'
    clients at one position stays unknown."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "helpers.py").write_text(
        "def archive(client, bucket, key):\n"
        "    client.delete_object(Bucket=bucket, Key=key)\n\n"
        "def either(client):\n"
        "    client.list_buckets()\n\n"
        "def unused(client):\n"
        "    client.delete_object(Bucket='x', Key='y')\n"
    )
    (app / "jobs.py").write_text(
        "import boto3\nfrom .helpers import archive, either\n\n"
        "s3 = boto3.client('s3')\nsqs = boto3.client('sqs')\n"
        "archive(s3, 'b', 'k')\neither(s3)\neither(sqs)\n"
    )
    for jobs in (1, 2):
        report = scan_path(str(tmp_path), ScanOptions(jobs=jobs))
        calls = [(f.path, f.line, f.services, f.operation) for f in report.findings if f.kind == "call"]
        assert calls == [("app/helpers.py", 2, ("s3",), "DeleteObject")], calls
