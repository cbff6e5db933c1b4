"""The compose-to-proxy contract: routes travel unambiguously, health checks start no interpreter."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from kecs import contract


def test_routes_round_trip_and_cannot_be_smuggled() -> None:
    routes = {"s3": "http://a:1,sts=http://evil:2", "dynamodb": "http://kecs-moto:5000"}
    encoded = contract.encode_routes(routes)
    assert contract.decode_routes(encoded) == [
        "dynamodb=http://kecs-moto:5000",
        "s3=http://a:1,sts=http://evil:2",  # one route, its odd URL intact (the proxy then refuses it)
    ]
    assert contract.decode_routes("") == []
    assert contract.decode_routes("dynamodb=http://m:5000,sqs=http://m:5000") == [
        "dynamodb=http://m:5000",
        "sqs=http://m:5000",
    ]  # the older comma form is still read
    with pytest.raises(ValueError, match="not valid JSON"):
        contract.decode_routes("{nope")
    with pytest.raises(ValueError, match="maps AWS service names"):
        contract.decode_routes('{"s3": 5}')


def _run_check(test: list[str], state: Path) -> subprocess.CompletedProcess[str]:
    assert test[0] == "CMD"
    script = test[-1].replace(contract.STATE_DIR, str(state))
    return subprocess.run([*test[1:-1], script], capture_output=True, text=True, timeout=10)


def test_ready_check_reads_a_fresh_ready_file(tmp_path: Path) -> None:
    test = contract.ready_check()
    assert "python" not in " ".join(test) and test[1] == "sh"
    missing = _run_check(test, tmp_path)
    assert missing.returncode == 1 and "not ready yet" in missing.stdout
    (tmp_path / "status").write_text("capture rules are not installed\n")
    why = _run_check(test, tmp_path)
    assert why.returncode == 1 and "capture rules are not installed" in why.stdout
    ready = tmp_path / "ready"
    ready.write_text("kecs proxy: ready\n")
    ok = _run_check(test, tmp_path)
    assert ok.returncode == 0 and "ready" in ok.stdout
    stale = time.time() - contract.READY_MAX_AGE - 5
    os.utime(ready, (stale, stale))  # the proxy stopped refreshing it: hung or gone
    assert _run_check(test, tmp_path).returncode == 1


def test_seen_services() -> None:
    assert contract.seen_services("sqs\ns3\n\nsqs\n") == ("s3", "sqs")
