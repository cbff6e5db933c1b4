"""The seeder's commands: `kecs up`'s apply and the watcher never apply at the same time."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from kecs import contract
from kecs.seed import cli
from kecs.seed.cli import FULL, RESTORE


class Recorder:
    """A stand-in for run_apply: records each call's mode and time span."""

    def __init__(self, hold: float = 0.0) -> None:
        self.calls: list[tuple[str, float, float]] = []
        self.hold = hold
        self.inside = threading.Event()

    def __call__(self, document: dict[str, Any], mode: str, quiet: bool) -> int:
        began = time.monotonic()
        self.inside.set()
        time.sleep(self.hold)
        self.calls.append((mode, began, time.monotonic()))
        return 0


def _seed_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "seed"
    directory.mkdir()
    (directory / cli.SEED_FILE).write_text(json.dumps({"seed": {"region": "us-east-1"}}))
    return directory


def test_the_watcher_waits_for_kecs_ups_apply_and_then_only_restores(tmp_path: Path) -> None:
    """The race a loaded machine showed: `kecs up`'s apply took longer than the watcher's
    first wait, both applied in full and Cloud Map got two namespaces of one name."""
    directory, state = _seed_dir(tmp_path), str(tmp_path / "state")
    recorder = Recorder(hold=0.5)
    document = json.loads((directory / cli.SEED_FILE).read_text())
    up = threading.Thread(target=cli.apply_once, args=(document, state, recorder))
    up.start()
    assert recorder.inside.wait(5)
    cli.watch(str(directory), state, every=0.05, run=recorder, rounds=3)
    up.join()
    assert [mode for mode, _, _ in recorder.calls] == [FULL, RESTORE, RESTORE, RESTORE]
    spans = sorted((began, ended) for _, began, ended in recorder.calls)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), "two applies overlapped"
    assert (Path(state) / contract.SEEDED).exists()


def test_without_kecs_up_the_watcher_applies_the_seed_itself(tmp_path: Path) -> None:
    directory, state = _seed_dir(tmp_path), str(tmp_path / "state")
    recorder = Recorder()
    cli.watch(str(directory), state, every=0.01, run=recorder, rounds=3)
    assert [mode for mode, _, _ in recorder.calls] == [FULL, RESTORE, RESTORE]
    assert (Path(state) / contract.SEEDED).exists()


def test_a_failed_round_is_reported_and_the_next_one_runs(tmp_path: Path, capsys: Any) -> None:
    directory, state = _seed_dir(tmp_path), str(tmp_path / "state")
    calls: list[str] = []

    def flaky(document: dict[str, Any], mode: str, quiet: bool) -> int:
        calls.append(mode)
        if len(calls) == 1:
            raise ConnectionError("emulator restarting")
        return 0

    cli.watch(str(directory), state, every=0.01, run=flaky, rounds=3)
    assert calls == [FULL, FULL, RESTORE]
    assert "checking the seed failed: emulator restarting" in capsys.readouterr().out


def test_the_modes_are_the_appliers() -> None:
    from kecs.seed import apply

    assert (cli.FULL, cli.RESTORE) == (apply.FULL, apply.RESTORE)


def test_reset_without_a_running_project_is_one_line(tmp_path: Path, capsys: Any) -> None:
    from kecs.cli import main

    assert main(["seed", "--reset", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no generated compose file here; run `kecs up` first" in err
    assert main(["seed"]) == 2
    assert "--reset [PROJECT_DIR]" in capsys.readouterr().err
