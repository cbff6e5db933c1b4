"""What the end-to-end tests share: a project `kecs up` started, a CPU hog, diagnostics.

A failing check prints what a person needs: `kecs status`, the service's health output
and the last lines of its log and of its proxy's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kecs.tls import key_directory

ROOT = Path(__file__).resolve().parent.parent.parent


@contextlib.contextmanager
def cpu_hog(processes: int | None = None) -> Iterator[None]:
    """Keep every core busy (the machine a user shares with other work)."""
    count = processes or os.cpu_count() or 2
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


class Project:
    """A copy of an example project, driven through the real `kecs` CLI."""

    def __init__(
        self,
        source: Path,
        work: Path,
        compose: str,
        env: dict[str, str] | None = None,
        name_in_env: bool = False,
    ) -> None:
        self.name = f"kecse2e{uuid.uuid4().hex[:6]}"
        # name_in_env: the project's name comes from COMPOSE_PROJECT_NAME in its .env, not
        # from `-p` nor its directory's name (which then differs), as many projects set it.
        self.name_in_env = name_in_env
        folder = work / (f"{self.name}-project" if name_in_env else self.name)
        self.directory = Path(shutil.copytree(source, folder)) if source.is_dir() else folder
        if name_in_env:
            with (self.directory / ".env").open("a") as handle:
                handle.write(f"\nCOMPOSE_PROJECT_NAME={self.name}\n")
        self.compose_command = compose
        self.env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(work / f"{self.name}-home"),  # the CA key lands there, outside the project
            **(env or {}),
        }
        self.ca_directory = key_directory(str(self.directory), self.env)
        self.up_report: dict[str, Any] = {}
        self.up_options: tuple[str, ...] = ()  # what the first `kecs up` was given, for a second
        self._secrets: list[str] | None = None

    def kecs(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kecs", *args], cwd=self.directory, env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def lifecycle_args(self) -> list[str]:
        return ["--compose", self.compose_command, *([] if self.name_in_env else ["-p", self.name])]

    def up(self, *options: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        return self.kecs(
            "up", str(self.directory), "--detach", "--format", "json", *self.lifecycle_args(), *options,
            "--timeout", str(timeout), timeout=timeout + 300,
        )  # fmt: skip

    def up_loaded(self, *options: str) -> float:
        """`kecs up` with every core busy (a machine shared with other work): its seconds.
        Fails with kecs's output when it fails; keeps its JSON report in `up_report`."""
        started = time.monotonic()
        with cpu_hog():
            up = self.up(*options)
        elapsed = time.monotonic() - started
        assert up.returncode == 0, f"kecs up failed:\n{up.stderr[-6000:]}\n{up.stdout[-3000:]}"
        self.up_report = json.loads(up.stdout)
        return elapsed

    def down(self) -> None:
        done = self.kecs("down", str(self.directory), "-v", *self.lifecycle_args(), timeout=600)
        assert done.returncode == 0, done.stderr
        left = {
            kind: subprocess.run(
                ["docker", kind, "ls", "-q", "-a", "--filter", f"label=com.docker.compose.project={self.name}"]
                if kind == "container"
                else ["docker", kind, "ls", "-q", "--filter", f"label=com.docker.compose.project={self.name}"],
                capture_output=True, text=True,
            ).stdout.split()
            for kind in ("container", "network", "volume")
        }  # fmt: skip
        assert left == {"container": [], "network": [], "volume": []}, f"kecs down left {left}"

    def compose_env(self) -> dict[str, str]:
        """The environment for Compose on the generated file: the secrets' variables must be
        set for it to read the file (kecs up sets their values when it starts the apps;
        other commands need none)."""
        path = self.directory / "compose.kecs.yaml"
        if self._secrets is None and path.exists():  # the generated file, read once
            import yaml

            generated = yaml.safe_load(path.read_text()) or {}
            self._secrets = list((generated.get("x-kecs-generated") or {}).get("secrets") or [])
        return {**self.env, **{name: "" for name in self._secrets or []}}

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.compose_command.split(), "-f", "compose.kecs.yaml", "-p", self.name, *args],
            cwd=self.directory, env=self.compose_env(), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def logs(self, service: str) -> str:
        return self.compose("logs", "--no-color", service).stdout

    def inspect(self, service: str) -> dict[str, Any]:
        cid = self.compose("ps", "-q", service).stdout.split()
        assert cid, f"no container for {service}"
        out = subprocess.run(["docker", "inspect", cid[0]], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)[0]  # type: ignore[no-any-return]

    def diagnose(self, service: str) -> str:
        status = self.kecs("status", str(self.directory), *self.lifecycle_args(), timeout=120)
        parts = [f"kecs status:\n{status.stdout}{status.stderr}"]
        for name in (service, f"{service}-kecs-proxy"):
            try:
                health = (self.inspect(name)["State"].get("Health") or {}).get("Log") or []
            except AssertionError:
                continue
            if health:
                parts.append(f"{name} last health check: {health[-1].get('Output', '').strip()}")
            parts.append(f"{name} log (last lines):\n" + "\n".join(self.logs(name).splitlines()[-40:]))
        return "\n".join(parts)

    def wait_for(self, service: str, text: str, count: int = 1, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while True:
            logs = self.logs(service)
            if logs.count(text) >= count:
                return logs
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{service} did not print {text!r} x{count} in {timeout:.0f} s\n{self.diagnose(service)}"
                )
            time.sleep(1)
