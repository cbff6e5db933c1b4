"""The emulator registry: the one place emulator facts live."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from kecs import coverage, emulators, probe

ROOT = Path(__file__).resolve().parent.parent


def test_records_are_whole() -> None:
    for kind, record in emulators.REGISTRY.items():
        assert record.kind == kind and record.service_name.startswith("kecs-")
        assert record.health[0] == "CMD" and "python" not in " ".join(record.health)
        assert record.url("h") == f"{record.proxy_scheme}://h:{record.port}"
        assert (
            record.image_option == f"--{kind}-image" and record.image_variable == f"KECS_{kind.upper()}_IMAGE"
        )
        assert emulators.kind_of_image(record.image) == kind
    assert emulators.LOCALSTACK.proxy_scheme == "https"  # queue URLs as AWS returns them
    assert emulators.LOCALSTACK.narrow_variable == "SERVICES"
    assert emulators.URL in emulators.KINDS and emulators.DEFAULT in emulators.REGISTRY


def test_images_name_their_emulator() -> None:
    assert emulators.kind_of_image("localstack/localstack-pro:4.1") == "localstack"
    assert emulators.kind_of_image("motoserver/moto@sha256:abc") == "moto"
    assert emulators.kind_of_image("ghcr.io/ministackorg/ministack:full") == "ministack"
    assert emulators.kind_of_image("postgres:16") is None
    assert emulators.kind_of_image("my-localstack-helper:1") is None


def test_a_projects_own_ministack_is_reached_as_the_user_runs_it() -> None:
    """MiniStack serves TLS or plain HTTP, as USE_SSL says; LocalStack serves both on one port."""
    assert emulators.MINISTACK.scheme_for({}) == "http"
    assert emulators.MINISTACK.scheme_for({"USE_SSL": "1"}) == "https"
    assert emulators.MINISTACK.scheme_for({"USE_SSL": "0"}) == "http"
    assert emulators.LOCALSTACK.scheme_for({}) == "https"
    # kecs's own instance runs with TLS on (its queue URLs then say https).
    assert emulators.MINISTACK.environment["USE_SSL"] == "1" and emulators.MINISTACK.proxy_scheme == "https"
    assert "USE_SSL" not in emulators.MINISTACK.adopted_environment  # never changed under the user


def test_plan_render_and_up_name_no_emulator_fact() -> None:
    """Emulator facts live in kecs/emulators.py only: no port, image or kind spelled out
    in the modules that plan, render and start a project."""
    facts = [str(r.port) for r in emulators.REGISTRY.values()] + [
        r.image for r in emulators.REGISTRY.values()
    ]
    kinds = [f'"{kind}"' for kind in emulators.REGISTRY] + [f"'{kind}'" for kind in emulators.REGISTRY]
    modules = ("kecs/compose/plan.py", "kecs/compose/render.py", "kecs/lifecycle.py", "kecs/cli.py",
               "kecs/compose/cli.py", "kecs/compose/adopt.py", "kecs/compose/generate.py")  # fmt: skip
    for module in modules:
        text = (ROOT / module).read_text()
        for fact in facts:
            assert not re.search(rf"(?<![\w.]){re.escape(fact)}(?![\w.])", text), (module, fact)
        for kind in kinds:
            assert kind not in text, (module, kind)


def test_route_hints_come_from_the_measured_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coverage, "SERVICES", ("dynamodb", "s3", "servicediscovery"))
    monkeypatch.setattr(
        coverage, "MEASURED",
        {"localstack": ("s3",), "moto": ("dynamodb", "s3", "servicediscovery"), "ministack": ("dynamodb", "s3")},
    )  # fmt: skip
    hint = emulators.route_hint("localstack", ["s3", "dynamodb", "servicediscovery", "braket"])
    assert hint == (
        "dynamodb is not served offline by localstack (it downloads DynamoDB Local on first use); moto and "
        "ministack serve it: --route dynamodb=moto; servicediscovery is not served offline by localstack; "
        "moto serves it: --route servicediscovery=moto"
    )
    assert emulators.route_hint("moto", ["s3", "dynamodb"]) is None
    assert emulators.route_hint("url", ["dynamodb"]) is None  # nothing known of it
    assert [r.kind for r in emulators.serving("dynamodb")] == ["moto", "ministack"]


def test_the_readme_carries_the_generated_coverage_table() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- coverage:start -->\n", 1)[1].split("<!-- coverage:end -->", 1)[0]
    assert table == emulators.coverage_markdown()
    assert set(coverage.SERVICES) == set(probe.PROBES), "re-measure: python tools/emulator_coverage.py"
    required = {"s3", "sqs", "sns", "dynamodb", "sts", "iam", "ssm", "secretsmanager", "logs", "kinesis"}
    assert required <= set(coverage.SERVICES)
    assert set(coverage.MEASURED) == set(emulators.REGISTRY), "every emulator is measured"
    for record in emulators.REGISTRY.values():  # the kinds table names each default image
        assert f"`{record.kind}`" in readme and f"`{record.image}`" in readme, record.kind


def test_kecs_emulators_lists_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    from kecs.cli import main

    assert main(["emulators", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["default"] == "localstack" and set(shown["emulators"]) == set(emulators.REGISTRY)
    assert shown["emulators"]["ministack"]["offline"] == sorted(emulators.MINISTACK.offline)
    assert main(["emulators"]) == 0
    assert "ministackorg/ministack" in capsys.readouterr().out


@contextlib.contextmanager
def _health_server(answers: dict[str, int], path: str, tls: Path | None = None) -> Iterator[int]:
    """A local server answering GET `path` with answers["status"] (over TLS with a
    self-signed certificate made in `tls`): its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answers["status"] if self.path == path else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        import ssl

        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
             "-keyout", str(tls / "k.pem"), "-out", str(tls / "c.pem")],
            check=True, capture_output=True,
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "c.pem", tls / "k.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


def _healthy(script: str) -> int:
    return subprocess.run(["bash", "-c", script], capture_output=True, timeout=20).returncode


def test_ministack_health_probe_speaks_tls_with_openssl_alone(tmp_path: Path) -> None:
    """MiniStack's image has bash and openssl, no curl: the probe is openssl s_client."""
    answers = {"status": 200}
    with _health_server(answers, "/_ministack/health", tmp_path) as port:
        script = emulators.MINISTACK.health[-1].replace(":4566", f":{port}")
        assert _healthy(script) == 0
        answers["status"] = 503
        assert _healthy(script) == 1


def test_moto_health_probe_runs_with_bash_alone() -> None:
    """moto's image has no curl: the probe is bash's /dev/tcp."""
    answers = {"status": 200}
    with _health_server(answers, "/moto-api/") as port:
        script = emulators.MOTO.health[-1].replace("/5000", f"/{port}")
        assert _healthy(script) == 0
        answers["status"] = 500
        assert _healthy(script) == 1


def test_warm_command_is_a_parseable_read_only_request() -> None:
    command = emulators.warm_command(emulators.LOCALSTACK, "sqs", "sqs", "eu-west-1")
    assert command is not None and command[0] == "curl"
    assert any("Credential=test/20260101/eu-west-1/sqs/aws4_request" in part for part in command)
    assert "Action=ListQueues&Version=2012-11-05" in command  # an operation LocalStack can parse
    ddb = emulators.warm_command(emulators.LOCALSTACK, "dynamodb", "dynamodb", "us-east-1")
    assert ddb is not None and "X-Amz-Target: DynamoDB_20120810.ListTables" in ddb
    assert emulators.warm_command(emulators.MOTO, "sqs", "sqs", "eu-west-1") is None  # loads nothing lazily
    assert emulators.warm_command(emulators.LOCALSTACK, "braket", "braket", "us-east-1") is None
