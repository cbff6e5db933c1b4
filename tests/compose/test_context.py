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
