from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kecs.compose.generate import generate
from kecs.errors import KecsError
from kecs.seed.model import from_document, parse_seed, to_document


def where(*path: str) -> str:
    return "compose.yaml:" + ".".join(path)


def parse(value: Any, files: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
    return parse_seed(value, where, "/p", lambda path, directory: path in files)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"queues": []}, "compose.yaml:queues: unknown key 'queues'"),
        ({"s3": {"bucket": "x"}}, "x-kecs.seed.s3 must be a list"),
        ({"s3": [{"bucket": "Bad_Name"}]}, "is not a valid name"),
        (
            {"s3": [{"bucket": "abc", "objects": [{"key": "k", "file": "missing.txt"}]}]},
            "compose.yaml:s3.0.objects.0: file: no such file 'missing.txt'",
        ),
        (
            {"sqs": [{"name": "a", "dead_letter": {"queue": "nope"}}]},
            "compose.yaml:sqs.0.dead_letter: dead-letter queue 'nope' is not declared",
        ),
        ({"sqs": [{"name": "a", "dead_letter": {"queue": "a", "max_receive_count": 0}}]}, "from 1 to 1000"),
        ({"sns": [{"topic": "t", "subscriptions": [{"protocol": "sqs", "endpoint": "q"}]}]}, "names a queue"),
        ({"dynamodb": [{"table": "tbl", "keys": {"id": "X"}}]}, "keys.id must be one of S, N, B"),
        (
            {"dynamodb": [{"table": "tbl", "keys": {"id": "S"}, "items": [{"other": 1}]}]},
            "compose.yaml:dynamodb.0.items.0: item 0 must be a mapping with the table's keys",
        ),
        ({"ssm": [{"name": "/a", "value": "v", "type": "Secret"}]}, "type must be one of"),
        ({"secrets": [{"name": "s", "value": "v", "json": {}}]}, "either `value`"),
        (
            {"iam": {"roles": [{"name": "r", "policies": {"p": {"Effect": "Allow"}}}]}},
            "must be a policy document",
        ),
        ({"iam": {"roles": ["arn:aws:s3:::x"]}}, "not an IAM role ARN"),
    ],
)
def test_bad_seeds_name_the_file_and_key(value: Any, message: str) -> None:
    with pytest.raises(KecsError, match=message.replace("(", r"\(").replace(".", r"\.").replace("'", "'")):
        parse(value)


def test_the_document_round_trips_with_container_paths() -> None:
    seed = parse(
        {"s3": [{"bucket": "abc", "objects": [{"prefix": "p/", "directory": "d"}]}],
         "dynamodb": [{"table": "tbl", "keys": {"id": "S", "ts": "N"}, "items_file": "i.json"}],
         "iam": {"roles": [{"name": "r", "managed": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}]}},
        {"/p/d", "/p/i.json"},
    )  # fmt: skip
    doc = to_document(seed, {"/p/d": "/x/0", "/p/i.json": "/x/1"})
    back = from_document(doc)
    assert back.buckets[0].objects[0].path == "/x/0" and back.tables[0].items_file == "/x/1"
    assert (
        back.tables[0].keys == (("id", "S"), ("ts", "N")) and back.roles[0].managed == seed.roles[0].managed
    )


def test_generate_checks_the_seed_files_and_adds_the_seeder(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "x-kecs:\n  seed:\n    s3:\n      - bucket: assets\n        objects:\n"
        "          - {key: a.txt, file: data/a.txt}\n"
        "services:\n  api:\n    image: x\n    x-kecs:\n      proxy: true\n      role: api-task\n"
        "      secrets: [{name: PW, valueFrom: /api/pw}]\n"
    )
    with pytest.raises(KecsError, match=r"compose.yaml:6: file: no such file 'data/a.txt'"):
        generate(str(tmp_path), [], {})
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("hello")
    generated = generate(str(tmp_path), [], {})
    plan = generated.plan
    assert plan.seeder and plan.seed is not None and [r.name for r in plan.seed.roles] == ["api-task"]
    assert "kecs-seed:" in generated.text and "condition: service_healthy" in generated.text
    assert "${KECS_SECRET_API_PW_" in generated.text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"key": "k", "file": "/etc/shadow"}, "'/etc/shadow' is outside the project"),
        ({"key": "k", "file": "../x"}, "'../x' is outside the project"),
        ({"key": "k", "file": "data/../../x"}, "outside the project"),
        ({"directory": "/"}, "'/' is outside the project"),
        ({"directory": "."}, "'.' is the project directory itself"),
        ({"directory": "/p/../p"}, "the project directory itself"),
    ],
)
def test_seed_files_outside_the_project_are_refused_with_where(spec: dict[str, str], message: str) -> None:
    """Checked before any file is looked at: the seeder never packs a host file."""
    asked: list[str] = []

    def exists(path: str, directory: bool) -> bool:
        asked.append(path)
        return True

    with pytest.raises(KecsError) as caught:
        parse_seed({"s3": [{"bucket": "abc", "objects": [spec]}]}, where, "/p", exists)
    assert str(caught.value).startswith("compose.yaml:s3.0.objects.0: ") and message in str(caught.value)
    assert asked == []
    inside = parse_seed(
        {"s3": [{"bucket": "abc", "objects": [{"directory": "./data"}]}]}, where, "/p", exists
    )
    assert inside.files() == ["/p/data"]


def test_the_seed_archive_holds_only_regular_files_and_directories(tmp_path: Path) -> None:
    import io
    import os
    import tarfile

    from kecs.lifecycle import _plain_member

    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "leak").symlink_to("/etc/passwd")
    os.mkfifo(data / "pipe")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(data), arcname="files/0", recursive=True, filter=_plain_member)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as packed:
        names = sorted(packed.getnames())
    assert names == ["files/0", "files/0/a.txt"]
