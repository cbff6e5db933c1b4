"""The emulator registry: the one place emulator facts live."""

from __future__ import annotations

import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from kecs import emulators

ROOT = Path(__file__).resolve().parent.parent


def test_records_are_whole() -> None:
    for kind, record in emulators.REGISTRY.items():
        assert record.kind == kind and record.service_name.startswith("kecs-")
        assert record.health[0] == "CMD" and "python" not in " ".join(record.health)
        assert record.url("h") == f"{record.proxy_scheme}://h:{record.port}"
        assert record.image_option.startswith("--")
    assert emulators.LOCALSTACK.proxy_scheme == "https"  # queue URLs as AWS returns them
    assert emulators.LOCALSTACK.narrow_variable == "SERVICES"


def test_plan_and_render_name_no_emulator_port_or_image() -> None:
    """Emulator facts live in kecs/emulators.py only."""
    facts = [str(r.port) for r in emulators.REGISTRY.values()] + [
        r.image for r in emulators.REGISTRY.values()
    ]
    for module in ("kecs/compose/plan.py", "kecs/compose/render.py", "kecs/lifecycle.py"):
        text = (ROOT / module).read_text()
        for fact in facts:
            assert not re.search(rf"(?<![\w.]){re.escape(fact)}(?![\w.])", text), (module, fact)


def test_moto_health_probe_runs_with_bash_alone() -> None:
    """moto's image has no curl: the probe is bash's /dev/tcp, checked here against a server."""
    answers = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answers["status"])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        script = emulators.MOTO.health[-1].replace("/5000", f"/{port}")
        assert subprocess.run(["bash", "-c", script], capture_output=True, timeout=10).returncode == 0
        answers["status"] = 500
        assert subprocess.run(["bash", "-c", script], capture_output=True, timeout=10).returncode == 1
    finally:
        server.shutdown()


def test_warm_command_is_a_parseable_read_only_request() -> None:
    command = emulators.warm_command(emulators.LOCALSTACK, "sqs", "sqs", "eu-west-1")
    assert command is not None and command[0] == "curl"
    assert any("Credential=test/20260101/eu-west-1/sqs/aws4_request" in part for part in command)
    assert "Action=ListQueues&Version=2012-11-05" in command  # an operation LocalStack can parse
    ddb = emulators.warm_command(emulators.LOCALSTACK, "dynamodb", "dynamodb", "us-east-1")
    assert ddb is not None and "X-Amz-Target: DynamoDB_20120810.ListTables" in ddb
    assert emulators.warm_command(emulators.MOTO, "sqs", "sqs", "eu-west-1") is None  # loads nothing lazily
    assert emulators.warm_command(emulators.LOCALSTACK, "braket", "braket", "us-east-1") is None
