"""The hooks in .pre-commit-hooks.yaml, run by pre-commit itself on a throwaway repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_kecs_scan_hook_fails_on_hardcoded_endpoint(tmp_path: Path) -> None:
    pre_commit = Path(sys.executable).with_name("pre-commit")
    require(pre_commit.exists(), "pre-commit (pip install -e '.[dev]')")
    require(shutil.which("git") is not None, "git")
    # try-repo needs a git repository: copy the project's files into one.
    repo = tmp_path / "kecs"
    shutil.copytree(
        ROOT, repo, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", "bench")
    )
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
    )
    user = tmp_path / "user"
    user.mkdir()
    subprocess.run(["git", "init", "-q", str(user)], check=True)
    (user / "app.py").write_text(
        'import boto3\ns3 = boto3.client("s3", endpoint_url="http://localhost:4566")\n'
    )
    (user / "clean.py").write_text('import boto3\ns3 = boto3.client("s3")\n')
    subprocess.run(["git", "-C", str(user), "add", "-A"], check=True)

    def hook(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pre_commit), "try-repo", str(repo), "kecs-scan", "--files", *files],
            cwd=user,
            capture_output=True,
            text=True,
            timeout=900,
            env={"PRE_COMMIT_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )

    bad = hook("app.py", "clean.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "KECS001" in bad.stdout and "app.py:2:" in bad.stdout
    good = hook("clean.py")
    assert good.returncode == 0, good.stdout + good.stderr

    # kecs-compose: fails while compose.kecs.yaml is missing or stale, passes once written.
    (user / "compose.yaml").write_text("services:\n  app:\n    build: .\n")
    subprocess.run(["git", "-C", str(user), "add", "-A"], check=True)

    def compose_hook() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pre_commit), "try-repo", str(repo), "kecs-compose", "--files", "compose.yaml"],
            cwd=user,
            capture_output=True,
            text=True,
            timeout=900,
            env={"PRE_COMMIT_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )

    stale = compose_hook()
    assert stale.returncode == 1 and "compose.kecs.yaml is missing" in stale.stdout, stale.stdout
    subprocess.run([sys.executable, "-m", "kecs", "compose", str(user), "-q"], check=True)
    fresh = compose_hook()
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
