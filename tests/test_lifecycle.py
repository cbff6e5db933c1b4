"""kecs up/down/status without a daemon: Compose detection, service states, the tables."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kecs import lifecycle
from kecs.errors import KecsError
from kecs.lifecycle_cli import state_table


def _fake(directory: Path, name: str, code: int) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\nexit {code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_find_compose_prefers_the_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    _fake(tmp_path, "docker", 0)
    _fake(tmp_path, "docker-compose", 0)
    assert lifecycle.find_compose() == ("docker", "compose")
    assert lifecycle.find_compose("docker-compose") == ("docker-compose",)
    _fake(tmp_path, "docker", 1)  # a docker without the plugin
    assert lifecycle.find_compose() == ("docker-compose",)
    os.unlink(tmp_path / "docker-compose")
    with pytest.raises(KecsError, match="not installed"):
        lifecycle.find_compose()


def test_compose_argv_names_the_file_and_project() -> None:
    compose = lifecycle.Compose(("docker-compose",), "/p", "compose.kecs.yaml", "shop")
    assert compose.argv("up", "-d") == ["docker-compose", "-f", "compose.kecs.yaml", "-p", "shop", "up", "-d"]
    assert lifecycle.Compose(("docker", "compose"), "/p", "c.yaml").shown("logs", "app") == (
        "docker compose -f c.yaml logs app"
    )


def test_service_state_ready_and_failed() -> None:
    def state(s: str, health: str | None = None) -> lifecycle.ServiceState:
        return lifecycle.ServiceState("x", "service", False, s, health)

    assert state("running").ready and state("running", "healthy").ready
    assert not state("running", "starting").ready and state("running", "starting").failed is None
    assert state("exited (0)").ready  # a one-shot that finished
    assert state("exited (3)").failed == "exited (3)"
    assert state("running", "unhealthy").failed == "unhealthy"
    assert not state("restarting").ready and state("restarting").failed is None


def test_state_table_shows_what_each_app_called() -> None:
    states = [
        lifecycle.ServiceState("api", "app", True, "running", None, ("s3", "sqs"), "abc", restarts=1),
        lifecycle.ServiceState("web", "service", False, "running", None),
        lifecycle.ServiceState("worker", "app", True, "running", None),
        lifecycle.ServiceState("kecs-localstack", "emulator", False, "running", "healthy"),
    ]
    text = state_table(states, "kecs up: all healthy in 12 s")
    assert "kecs up: all healthy in 12 s" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 3}
    assert "s3, sqs" in rows["api"] and "1 restarts" in rows["api"]
    assert "none yet" in rows["worker"]
    assert "emulator" in rows["kecs-localstack"] and "healthy" in rows["kecs-localstack"]


def test_status_and_down_need_a_generated_file(tmp_path: Path) -> None:
    with pytest.raises(KecsError, match="no generated compose file here; run `kecs up` first"):
        lifecycle.status(str(tmp_path))
    with pytest.raises(KecsError, match="no generated compose file"):
        lifecycle.down(str(tmp_path))


def test_cli_down_without_a_project_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kecs.cli import main

    assert main(["down", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `kecs up` first" in err


def test_the_project_name_is_the_one_compose_would_choose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    assert lifecycle.compose_project_name("/work/My Shop.v2") == "myshopv2"
    assert lifecycle.compose_project_name("/work/__x") == "x"
    assert lifecycle.compose_project_name("/work/日本") == "kecs"
    assert lifecycle.compose_project_name("/work/a", document={"name": "named"}) == "named"
    assert (
        lifecycle.compose_project_name("/work/a", document={"name": "${N}"}) == "a"
    )  # not interpolated here
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "fromenv")
    assert lifecycle.compose_project_name("/work/a", document={"name": "named"}) == "fromenv"
    assert lifecycle.compose_project_name("/work/a", "given") == "given"


@pytest.mark.integration
def test_a_missing_proxy_base_is_one_line_naming_what_to_load(
    docker_client: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kecs.cli import main

    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n    x-kecs: {proxy: true}\n")
    code = main(["up", str(tmp_path), "--detach", "-q", "--proxy-base", "kecs-no-such-base:1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "kecs-no-such-base:1" in err and "docker load" in err and "--proxy-base" in err


class _FakeApi:
    def __init__(self, answers: dict[str, tuple[int, bytes]]) -> None:
        self.answers, self.execs = answers, {}

    def exec_create(self, container_id: str, command: list[str], **_: object) -> dict[str, str]:
        self.execs[command[2]] = command
        return {"Id": command[2]}

    def exec_start(self, exec_id: str, stream: bool, demux: bool) -> list[tuple[bytes | None, bytes | None]]:
        out = self.answers[exec_id][1]
        return [(out[:7], None), (out[7:], b"")]  # lines split across chunks

    def exec_inspect(self, exec_id: str) -> dict[str, int]:
        return {"ExitCode": self.answers[exec_id][0]}


class _FakeContainer:
    id = "c0ffee"

    def __init__(self) -> None:
        self.archives: list[bytes] = []

    def put_archive(self, path: str, data: bytes) -> None:
        self.archives.append(data)


def _seeded_project(tmp_path: Path):  # type: ignore[no-untyped-def]
    from kecs.compose.generate import generate

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("hello")
    (tmp_path / "compose.yaml").write_text(
        "x-kecs:\n  seed:\n    s3: [{bucket: assets, objects: [{key: a.txt, file: data/a.txt}]}]\n"
        "    secrets: [{name: pw, value: hunter2}]\n"
        "services:\n  api:\n    image: x\n    x-kecs:\n      proxy: true\n"
        "      secrets: [{name: PW, valueFrom: 'arn:aws:secretsmanager:us-east-1:1:secret:pw'}]\n"
    )
    return generate(str(tmp_path), [], {}, dry_run=True)


def test_seeding_streams_lines_and_hands_secrets_to_compose_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import json as json_module
    import tarfile

    generated = _seeded_project(tmp_path)
    container = _FakeContainer()
    monkeypatch.setattr(lifecycle, "_seeder", lambda client, compose: container)
    secrets = {"values": {"api": {"PW": "hunter2"}}, "unresolved": []}
    api = _FakeApi({"apply": (0, b"s3 bucket assets created\nsecret pw created\n"),
                    "secrets": (0, json_module.dumps(secrets).encode())})  # fmt: skip
    client = type("Client", (), {"api": api})()
    compose = lifecycle.Compose(("docker-compose",), str(tmp_path), "compose.kecs.yaml", "p")
    shown: list[str] = []
    lines: list[str] = []
    failure, values = lifecycle._seed(client, compose, generated, shown.append, lines)
    assert failure is None and lines == ["s3 bucket assets created", "secret pw created"]
    assert values == {name: "hunter2" for name in generated.plan.secret_variables}
    assert not any("hunter2" in line for line in shown)
    with tarfile.open(fileobj=io.BytesIO(container.archives[0])) as tar:
        members = {m.name: m for m in tar.getmembers()}
        seed = members["var/lib/kecs/seed/seed.json"]
        assert seed.mode == 0o600
        document = json_module.load(tar.extractfile(seed))  # type: ignore[arg-type]
        path = document["seed"]["buckets"][0]["objects"][0]["path"]
        assert tar.extractfile(members[path.lstrip("/")]).read() == b"hello"  # type: ignore[union-attr]


def test_an_unresolvable_secret_stops_the_start_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json as json_module

    generated = _seeded_project(tmp_path)
    monkeypatch.setattr(lifecycle, "_seeder", lambda client, compose: _FakeContainer())
    unresolved = [
        {
            "service": "api",
            "env": "PW",
            "value_from": "arn:...:secret:pw",
            "why": "ResourceNotFoundException: no",
        }
    ]
    api = _FakeApi(
        {
            "apply": (0, b""),
            "secrets": (0, json_module.dumps({"values": {}, "unresolved": unresolved}).encode()),
        }
    )
    client = type("Client", (), {"api": api})()
    compose = lifecycle.Compose(("docker-compose",), str(tmp_path), "compose.kecs.yaml", "p")
    failure, values = lifecycle._seed(client, compose, generated, lambda _: None, [])
    assert values == {} and failure is not None and failure.service == "api"
    assert (
        failure.why
        == "service api does not start: secret PW (valueFrom arn:...:secret:pw): ResourceNotFoundException: no"
    )
    api = _FakeApi({"apply": (1, b"s3 bucket assets failed (AccessDenied: no)\n")})
    failure, _ = lifecycle._seed(type("Client", (), {"api": api})(), compose, generated, lambda _: None, [])
    assert failure is not None and failure.service == "kecs-seed" and "AccessDenied" in failure.why
