from __future__ import annotations

import json
from pathlib import Path

import pytest
from sarif_pydantic import Sarif

from kecs.scanner.engine import ScanOptions, scan_path
from kecs.scanner.model import ScanReport
from kecs.scanner.output import to_json, to_sarif, to_table


@pytest.fixture
def report(tmp_path: Path) -> ScanReport:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "app.py").write_text(
        'import boto3\n\ns3 = boto3.client("s3", endpoint_url="http://localhost:4566")\n'
    )
    (tmp_path / "requirements.txt").write_text("boto3==1.26\n")
    (tmp_path / "web.js").write_text('import { SQSClient } from "@aws-sdk/client-sqs";\nnew SQSClient({});\n')
    return scan_path(str(tmp_path), ScanOptions(jobs=1))


def test_json_shape(report: ScanReport) -> None:
    doc = json.loads(to_json(report))
    assert doc["target"] == report.target
    assert doc["sdks"] == ["aws-sdk-js-v3", "boto3"]
    assert doc["services"] == ["s3", "sqs"]
    assert doc["languages"] == ["javascript", "python"]
    first = doc["findings"][0]
    assert first == {
        "path": "requirements.txt",
        "line": 1,
        "column": 1,
        "language": "python",
        "sdk": "boto3",
        "services": [],
        "kind": "manifest",
        "evidence": "boto3==1.26",
    }
    client = next(f for f in doc["findings"] if f["kind"] == "client" and f["language"] == "python")
    assert client == {
        "path": "svc/app.py",
        "line": 3,
        "column": 6,
        "language": "python",
        "sdk": "boto3",
        "services": ["s3"],
        "kind": "client",
        "evidence": 'boto3.client("s3", endpoint_url="http://localhost:4566")',
    }
    lint = [f for f in doc["findings"] if f["kind"] == "lint"]
    assert [(f["path"], f["line"], f["column"], f["rule"]) for f in lint] == [
        ("svc/app.py", 3, 38, "KECS001")
    ]
    keys = [(f["path"], f["line"], f["column"]) for f in doc["findings"]]
    assert keys == sorted(keys)


def test_sarif_is_valid_and_complete(report: ScanReport) -> None:
    text = to_sarif(report, "0.1.0")
    doc = json.loads(text)
    Sarif.model_validate(doc)  # an independent model of SARIF 2.1.0
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "KECS100",
        "KECS104",
        "KECS101",
        "KECS102",
        "KECS103",
        "KECS001",
        "KECS002",
        "KECS003",
    ]
    for rule in rules:  # what GitHub code scanning shows for a rule
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
    assert len(run["results"]) == len(report.findings)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert not location["artifactLocation"]["uri"].startswith("/")
        assert location["region"]["startLine"] >= 1 and location["region"]["startColumn"] >= 1
        assert result["message"]["text"]
    lint = [r for r in run["results"] if r["ruleId"] == "KECS001"]
    assert lint[0]["level"] == "warning"
    assert lint[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "svc/app.py"


def test_table_reads_at_a_glance(report: ScanReport) -> None:
    table = to_table(report)
    assert "3 files considered, 3 analysed, 5 SDK findings, 1 lint finding\n" in table
    rows = [line for line in table.splitlines() if "│" in line]
    assert any("boto3" in r and "s3" in r and "1 client" in r and "svc/app.py:3" in r for r in rows)
    assert any("boto3" in r and "(SDK only)" in r and "1 import, 1 manifest" in r for r in rows)
    assert any("aws-sdk-js-v3" in r and "sqs" in r and "web.js:2" in r for r in rows)
    assert any("KECS001" in r and "svc/app.py:3:38" in r for r in rows)
    assert "Services: s3, sqs" in table
    assert "\x1b[" not in table  # no colour codes unless asked


def test_table_when_nothing_is_found(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print('hello')\n")
    assert "No AWS SDK use found." in to_table(scan_path(str(tmp_path)))


def test_json_of_many_findings_is_streamed() -> None:
    """21 MB of source can hold 400,000 findings: the document is written piece by piece
    (before, json.dumps of the whole report took the scan of that tree to 970 MB)."""
    import tracemalloc

    from kecs.scanner.model import Finding
    from kecs.scanner.output import iter_json

    findings = [
        Finding(f"m{i // 100}.py", i % 100 + 1, 1, "python", "boto3", ("s3",), "client", 'boto3.client("s3")')
        for i in range(60_000)
    ]
    big = ScanReport(target="t", findings=findings, files_seen=600, files_parsed=600)
    tracemalloc.start()
    size = sum(len(chunk) for chunk in iter_json(big))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size > 8_000_000
    assert peak < 1_000_000, f"peak {peak:,} bytes while writing {size:,}"
    doc = json.loads(to_json(big))
    assert doc == json.loads(json.dumps(big.to_dict()))
