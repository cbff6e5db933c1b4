from __future__ import annotations

import json
from pathlib import Path

import pytest

from kecs.cli import main
from kecs.compose.generate import generate
from kecs.compose.taskdef import convert
from kecs.errors import KecsError

TASKDEF = {
    "taskDefinition": {
        "family": "reports",
        "networkMode": "awsvpc",
        "taskRoleArn": "arn:aws:iam::123456789012:role/reports-task",
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "cpu": "512",
        "memory": "1024",
        "placementConstraints": [{"type": "memberOf", "expression": "x"}],
        "volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}}, {"name": "scratch"}],
        "containerDefinitions": [
            {
                "name": "api",
                "image": "shop/reports:1",
                "entryPoint": ["python3"],
                "command": ["-m", "reports", "--price", "$5"],
                "environment": [{"name": "MODE", "value": "ecs"}],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": "/reports/db"}],
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:8080"], "interval": 10, "retries": 3},
                "cpu": 256,
                "memory": 512,
                "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True},
                                {"sourceVolume": "scratch", "containerPath": "/tmp/s"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/reports"}},
                "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"}],
                "linuxParameters": {"initProcessEnabled": True},
            },
            {
                "name": "migrate",
                "image": "shop/migrate:1",
                "essential": False,
                "portMappings": [{"containerPort": 9090, "hostPort": 19090, "protocol": "udp"}],
                "environmentFiles": [{"value": "arn:aws:s3:::b/m.env", "type": "s3"}],
            },
        ],
    }
}  # fmt: skip


def test_containers_become_captured_services_sharing_the_task_namespace() -> None:
    converted = convert(json.dumps(TASKDEF), "reports.json")
    api, migrate = converted.services["api"], converted.services["migrate"]
    assert api["image"] == "shop/reports:1" and api["entrypoint"] == ["python3"]
    assert api["environment"] == {"MODE": "ecs"} and api["ports"] == ["8080:8080", "19090:9090/udp"]
    assert api["x-kecs"] == {"proxy": True, "role": "arn:aws:iam::123456789012:role/reports-task",
                             "secrets": [{"name": "DB_PASSWORD", "valueFrom": "/reports/db"}]}  # fmt: skip
    assert api["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -f localhost:8080"],
        "interval": "10s",
        "retries": 3,
    }
    assert (api["cpus"], api["mem_limit"]) == (0.25, "512m")
    assert api["volumes"] == ["/srv/data:/data:ro", "scratch:/tmp/s"] and converted.volumes == {"scratch": {}}
    assert api["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert migrate["network_mode"] == "service:api" and "ports" not in migrate and migrate["restart"] == "no"
    document = converted.document()
    assert document["services"]["api"]["command"] == ["-m", "reports", "--price", "$$5"]
    notes = "\n".join(converted.notes)
    # ECS's awslogs settings are what kecs's log forwarder reads from a compose service.
    assert api["logging"] == {"driver": "awslogs", "options": {"awslogs-group": "/ecs/reports"}}
    assert "logConfiguration" not in notes
    for listed in ("placementConstraints", "executionRoleArn", "linuxParameters",
                   "environmentFiles arn:aws:s3:::b/m.env"):  # fmt: skip
        assert listed in notes, listed


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[1, 2]", "no containerDefinitions list"),
        ("{", "not a task definition's JSON"),
        ("[" * 100_000, "not a task definition's JSON"),
        (
            '{"containerDefinitions": [{"image": "x"}]}',
            r"containerDefinitions\[0\]: a container definition needs a name",
        ),
        ('{"containerDefinitions": [{"name": "a"}]}', "container a needs an image"),
        (
            '{"containerDefinitions": [{"name": "a", "image": "x", "dependsOn": [{"containerName": "b", "condition": "LATER"}]}]}',
            "condition must be",
        ),
    ],
)
def test_bad_task_definitions_are_one_line(document: str, message: str) -> None:
    with pytest.raises(KecsError, match=f"^t.json: .*{message}"):
        convert(document, "t.json")


def test_compose_with_a_task_definition_alone_or_beside_compose_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "reports.json").write_text(json.dumps(TASKDEF))
    generated = generate(
        str(tmp_path), [], {"task_definitions": [str(tmp_path / "reports.json")]}, dry_run=True
    )
    services = {s.name: s for s in generated.plan.services}
    assert services["api"].captured and services["api"].role == "reports-task"
    assert [r.env for r in services["api"].secrets] == ["DB_PASSWORD"]
    assert any("placementConstraints" in note for note in generated.plan.notes)
    assert "api-kecs-net" in generated.text and "${KECS_SECRET_API_DB_PASSWORD_" in generated.text
    (tmp_path / "compose.yaml").write_text("services:\n  api:\n    image: other\n")
    code = main(["compose", str(tmp_path), "--task-definition", str(tmp_path / "reports.json"), "--dry-run"])
    assert code == 2 and "has the name of a service in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("environment", 5, "containerDefinitions[0].environment: 5 is not of type 'array'"),
        ("environment", [{"name": "A", "value": 5}], "containerDefinitions[0].environment[0].value: 5 is not of type 'string'"),
        ("portMappings", [{"containerPort": "x"}], "containerDefinitions[0].portMappings[0].containerPort: 'x' is not of type 'integer'"),
        ("logConfiguration", 5, "containerDefinitions[0].logConfiguration: 5 is not of type 'object'"),
        ("logConfiguration", {"logDriver": "awslogs", "options": {"awslogs-group": 1}}, "options.awslogs-group: 1"),
        ("healthCheck", {"command": 5}, "containerDefinitions[0].healthCheck.command: 5 is not of type 'array'"),
        ("ulimits", [{"name": "nofile", "softLimit": "a", "hardLimit": 1}], "softLimit: 'a' is not of type 'integer'"),
        ("mountPoints", [{"sourceVolume": 1, "containerPath": "/x"}], "sourceVolume: 1 is not of type 'string'"),
        ("cpu", "lots", "containerDefinitions[0].cpu: 'lots' is not of type 'integer'"),
        ("secrets", [{"name": "A"}], "containerDefinitions[0].secrets[0]: 'valueFrom' is a required property"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_one_line_naming_it(field: str, value: object, message: str) -> None:
    document = {"containerDefinitions": [{"name": "a", "image": "x", field: value}]}
    with pytest.raises(KecsError) as caught:
        convert(json.dumps(document), "t.json")
    assert str(caught.value).startswith("t.json: ") and message in str(caught.value), str(caught.value)
