"""Property-based: nothing a user's project can contain makes `kecs compose` crash.

Any directory name, any valid service names, values of any type where Compose expects
a shape: the result is a compose file the Compose schema accepts, or exit 2 with one
line naming the file (never a traceback, never exit 70).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kecs.cli import main
from kecs.compose.load import compose_schema

SCHEMA = compose_schema()
DIRECTORY_NAMES = st.text(
    alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=120,
).filter(lambda s: s not in (".", "..") and len(s.encode()) <= 255)
SERVICE_NAMES = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._-]{0,70}", fullmatch=True)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
SERVICE = st.fixed_dictionaries(
    {"build": st.just("."), "x-kecs": st.just({"proxy": True})},
    optional={
        "environment": VALUES, "ports": VALUES, "networks": VALUES, "dns": VALUES, "depends_on": VALUES,
        "hostname": VALUES, "restart": VALUES, "profiles": VALUES, "extra_hosts": VALUES,
    },
)  # fmt: skip
TOP = st.fixed_dictionaries({}, optional={"x-kecs": VALUES, "networks": VALUES, "volumes": VALUES})


def _run(directory: str, document: object, capsys: pytest.CaptureFixture[str]) -> None:
    os.makedirs(directory)
    with open(os.path.join(directory, "compose.yaml"), "w", encoding="utf-8") as handle:
        handle.write(yaml.safe_dump(document, allow_unicode=True))
    capsys.readouterr()
    code = main(["compose", directory, "-q"])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "compose.yaml" in err or "x-kecs" in err or "--" in err, err
    else:
        generated = yaml.safe_load(Path(directory, "compose.kecs.yaml").read_text(encoding="utf-8"))
        jsonschema.Draft7Validator(SCHEMA).validate(generated)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=DIRECTORY_NAMES, services=st.dictionaries(SERVICE_NAMES, SERVICE, min_size=1, max_size=3), top=TOP
)
def test_any_project_plans_or_says_why(
    name: str, services: dict[str, object], top: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    work = tempfile.mkdtemp(prefix="kecs-prop-")
    try:
        _run(os.path.join(work, name), {**top, "services": services}, capsys)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=DIRECTORY_NAMES, names=st.lists(SERVICE_NAMES, min_size=1, max_size=4, unique=True))
def test_any_names_make_a_valid_file(name: str, names: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    work = tempfile.mkdtemp(prefix="kecs-prop-")
    try:
        services = {n: {"build": ".", "x-kecs": {"proxy": True}, "ports": ["8000"]} for n in names}
        _run(os.path.join(work, name), {"services": services}, capsys)
        generated = yaml.safe_load(Path(work, name, "compose.kecs.yaml").read_text(encoding="utf-8"))
        for n in names:  # every derived name is there, and bounded as Compose's own
            assert f"{n}-kecs-proxy" in generated["services"] and f"{n}-kecs-net" in generated["services"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
