"""Run directories: claimed under a lock, swept once their owner is gone, whatever killed it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from litellm_claude_code._claude.workdirs import RunDir, prune_backups, sweep_transcripts


def test_a_live_owners_run_dir_is_kept_and_a_dead_ones_is_swept(tmp_path: Path) -> None:
    runs = tmp_path / "run"
    mine = RunDir.claim(runs)
    (mine.path / "scratch").mkdir()
    # Another process claims one and dies without cleaning up (as after SIGKILL).
    code = (
        "import sys; from pathlib import Path; from litellm_claude_code._claude.workdirs import RunDir; "
        "r = RunDir.claim(Path(sys.argv[1])); print(r.path)"
    )
    dead = Path(
        subprocess.run(
            [sys.executable, "-c", code, str(runs)], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert dead.is_dir()
    other = RunDir.claim(runs)
    assert not dead.exists()  # its lock died with its owner
    assert (mine.path / "scratch").is_dir()  # still locked by us
    other.release()
    mine.release()
    assert list(runs.iterdir()) == []


def test_only_stale_transcripts_are_removed(tmp_path: Path) -> None:
    fresh, stale = tmp_path / "fresh.jsonl", tmp_path / "stale.jsonl"
    fresh.write_text("{}")
    stale.write_text("{}")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert sweep_transcripts((tmp_path, tmp_path / "missing")) == 1
    assert fresh.exists() and not stale.exists()


def test_only_the_newest_backups_are_kept(tmp_path: Path) -> None:
    for age in range(5):
        path = tmp_path / f"b{age}"
        path.write_text("x")
        os.utime(path, (time.time() - age * 10, time.time() - age * 10))
    assert prune_backups(tmp_path, keep=2) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b0", "b1"]


def test_session_files_of_cli_processes_that_are_gone_are_removed(tmp_path: Path) -> None:
    from litellm_claude_code._claude.workdirs import sweep_cli_sessions

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = done.stdout.strip()
    (tmp_path / f"{dead}.json").write_text("{}")
    (tmp_path / f"{dead}.abc.key").write_text("k")
    (tmp_path / f"{os.getpid()}.json").write_text("{}")  # alive: kept
    (tmp_path / "notes.txt").write_text("x")  # not a pid file: kept
    assert sweep_cli_sessions(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{os.getpid()}.json", "notes.txt"])
