"""What of a build context the image gets: COPY/ADD sources less .dockerignore."""

from __future__ import annotations

from pathlib import Path

from kecs.compose.context import copy_sources, image_files, instructions


def test_instructions_join_continuations_and_skip_comments() -> None:
    text = "FROM python\n# a comment\nCOPY app/ \\\n  lib/ /srv/\nRUN pip install \\\n  # inside\n  boto3\n"
    assert instructions(text) == [
        ("FROM", "python"),
        ("COPY", "app/ lib/ /srv/"),
        ("RUN", "pip install boto3"),
    ]


def test_copy_sources_every_stage_but_not_from_other_stages() -> None:
    text = (
        "FROM node AS build\nCOPY --chown=1:1 web/package.json web/src ./\n"
        'FROM python\nCOPY ["app", "/app"]\nCOPY --from=build /out /srv\nADD https://x/y.tgz /tmp/\n'
        "COPY ./*.py /srv/\n"
    )
    assert copy_sources(text) == ["web/package.json", "web/src", "app", "*.py"]
    assert copy_sources("FROM x\nCOPY . /app\n") == [""]
    assert copy_sources("FROM x\nCOPY ${SRC} /app\n") is None  # a build argument: cannot tell


def test_image_files(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python\nCOPY app/ /app/\nCOPY *.toml /\n")
    files = image_files(str(tmp_path), None)
    assert files("app/main.py") and files("pyproject.toml")
    assert not files("cdk/stack.py") and not files("tests/t.py")
    (tmp_path / "Dockerfile").write_text("FROM python\nCOPY . /app\n")
    (tmp_path / ".dockerignore").write_text("# comment\ncdk\n**/tests\n!app/tests/keep.py\n")
    files = image_files(str(tmp_path), None)
    assert files("app/main.py") and files("app/tests/keep.py")
    assert not files("cdk/stack.py") and not files("app/tests/t.py")
    # BuildKit's per-Dockerfile ignore file wins over the context's.
    (tmp_path / "api.Dockerfile").write_text("FROM python\nCOPY . /\n")
    (tmp_path / "api.Dockerfile.dockerignore").write_text("app\n")
    files = image_files(str(tmp_path), str(tmp_path / "api.Dockerfile"))
    assert not files("app/main.py") and files("cdk/stack.py")
    # No Dockerfile to read: nothing is filtered but .dockerignore.
    files = image_files(str(tmp_path / "nowhere"), None)
    assert files("anything.py")


def test_a_directory_left_out_takes_what_is_below_it(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM python\nCOPY . /app\n")
    (tmp_path / ".dockerignore").write_text("**/tests\n")
    files = image_files(str(tmp_path), None)
    assert not files("tests/t.py") and not files("app/tests/t.py") and files("app/main.py")


def test_code_a_service_mounts_counts_as_its_code(tmp_path: Path) -> None:
    from kecs.compose.context import mounted_sources

    context = tmp_path / "svc"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM python\nRUN pip install boto3\n")  # no COPY: code is mounted
    mounted = mounted_sources(
        ["./svc/src:/app", "data:/var/lib/data", {"type": "bind", "source": "./svc/lib", "target": "/lib"}, "/etc:/e"],
        str(tmp_path), str(context),
    )  # fmt: skip
    assert mounted == ["src", "lib"]
    files = image_files(str(context), None, mounted)
    assert files("src/app.py") and files("lib/x.py") and not files("cdk/stack.py")


MONOREPO = """
FROM python:3.12 AS base
COPY shared/ /shared/
FROM base AS api
COPY api/ /app/
FROM base AS worker
COPY worker/ /app/
FROM node:20 AS web
COPY web/ /web/
"""


def test_a_target_stage_takes_only_what_its_stages_copy() -> None:
    """A monorepo's one Dockerfile, one stage per service (`build.target`): each service's
    image holds its own code and the shared base, not its neighbours'."""
    assert copy_sources(MONOREPO, "api") == ["shared", "api"]
    assert copy_sources(MONOREPO, "WORKER") == ["shared", "worker"]
    assert copy_sources(MONOREPO) == ["web"]  # no target: the last stage, as docker build does
    built = "FROM golang AS build\nCOPY cmd/ /src/\nFROM scratch\nCOPY --from=build /out /app\nCOPY conf/ /conf/\n"
    assert copy_sources(built) == ["cmd", "conf"]  # a stage copied --from is built too
    assert copy_sources(MONOREPO, "nope") == ["shared", "api", "worker", "web"]  # unknown: all


def test_a_copied_build_artifact_brings_the_project_it_is_built_from() -> None:
    """`COPY target/app.jar` alone: the jar's pom.xml and sources say what it holds."""
    assert copy_sources("FROM eclipse-temurin:21\nCOPY target/app.jar /app.jar\n") == ["target/app.jar", ""]
    assert copy_sources("FROM x\nCOPY services/orders/build/libs/*.jar /app/\n") == [
        "services/orders/build/libs/*.jar",
        "services/orders",
    ]
    assert copy_sources("FROM x\nCOPY app.jar /app.jar\n") == ["app.jar", ""]
    assert copy_sources("FROM x\nCOPY src/ /src/\n") == ["src"]  # not an artifact


def test_a_monorepo_service_gets_a_proxy_only_for_what_its_image_holds(tmp_path: Path) -> None:
    from kecs.compose.evidence import gather
    from kecs.compose.load import load_project
    from kecs.compose.plan import plan

    (tmp_path / "Dockerfile").write_text(MONOREPO)
    for name in ("shared", "api", "worker", "web"):
        (tmp_path / name).mkdir()
    (tmp_path / "shared" / "util.py").write_text("import json\n")
    (tmp_path / "api" / "app.py").write_text("import boto3\nboto3.client('s3').list_buckets()\n")
    (tmp_path / "worker" / "run.py").write_text("print('no AWS here')\n")
    (tmp_path / "web" / "index.js").write_text("console.log('hi')\n")
    (tmp_path / "java").mkdir()
    (tmp_path / "java" / "Dockerfile").write_text("FROM eclipse-temurin:21\nCOPY target/app.jar /app.jar\n")
    (tmp_path / "java" / "pom.xml").write_text(
        "<project><dependencies><dependency><groupId>software.amazon.awssdk</groupId>"
        "<artifactId>sqs</artifactId><version>2.25.0</version></dependency></dependencies></project>\n"
    )
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  api: {build: {context: ., target: api}}\n"
        "  worker: {build: {context: ., target: worker}}\n"
        "  web: {build: .}\n"
        "  orders: {build: ./java}\n"
    )
    project = load_project(str(tmp_path))
    result = {s.name: s for s in plan(project, gather(project)).services}
    assert result["api"].captured and result["api"].aws_services == ("s3",)
    assert not result["worker"].captured and not result["web"].captured, (result["worker"], result["web"])
    assert result["orders"].captured and "sqs" in result["orders"].aws_services, result["orders"]
