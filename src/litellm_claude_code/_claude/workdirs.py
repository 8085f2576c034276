"""Scratch space on disk: claimed by one running provider, swept when its owner is gone.

Each CLI process gets a scratch directory for the temp files the CLI does not
remove itself (``fswatch-probe-*``, sockets, ...), and each request with
history a transcript file. Both are removed when their process ends. A
provider killed with SIGKILL cannot do that, so scratch directories live
under a *run directory* that its owner holds an ``flock`` on for its whole
life: whoever claims a new run directory removes every sibling whose lock is
free (the kernel drops a lock when its holder dies, however it died), and
transcripts older than a minute (the CLI reads one only at start).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
STALE_TRANSCRIPT_AGE = 60.0  # seconds
KEPT_BACKUPS = 2


@dataclass
class RunDir:
    path: Path
    _lock_fd: int
    _cli_sessions: tuple[Path, ...] = ()

    @classmethod
    def claim(cls, runs: Path, transcripts: tuple[Path, ...] = (), backups: tuple[Path, ...] = ()) -> RunDir:
        """A new run directory under ``runs``, after sweeping what dead owners left.

        ``transcripts`` are the directories where this provider's CLIs find
        their resumed sessions; stale files there are removed too. ``backups``
        are where the CLI keeps copies of its state file (one more per start
        that rewrites it) in config directories of our own (one per
        credential): only the newest few are kept, and the per-process session
        files (``sessions/<pid>.*``) of CLIs that are gone are removed.
        """
        runs.mkdir(mode=0o700, parents=True, exist_ok=True)
        removed = sweep_runs(runs) + sweep_transcripts(transcripts)
        for folder in backups:
            removed += prune_backups(folder) + sweep_cli_sessions(folder.parent / "sessions")
        if removed:
            logger.info("removed %d file(s) and folder(s) left by a previous run", removed)
        path = runs / uuid.uuid4().hex
        path.mkdir(mode=0o700)
        descriptor = os.open(path / LOCK_NAME, os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return cls(path, descriptor, tuple(folder.parent / "sessions" for folder in backups))

    def release(self) -> None:
        """Remove the run directory and drop the lock (idempotent)."""
        if self._lock_fd < 0:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        for folder in self._cli_sessions:
            sweep_cli_sessions(folder)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)
        self._lock_fd = -1


def _owner_alive(run: Path) -> bool:
    try:
        descriptor = os.open(run / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False  # never locked, or half removed
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def sweep_runs(runs: Path) -> int:
    removed = 0
    for run in runs.iterdir():
        if run.is_dir() and not _owner_alive(run):
            shutil.rmtree(run, ignore_errors=True)
            removed += 1
    return removed


def sweep_transcripts(directories: tuple[Path, ...], now: float | None = None) -> int:
    now = time.time() if now is None else now
    removed = 0
    for directory in directories:
        if not directory.is_dir():
            continue
        for transcript in directory.glob("*.jsonl"):
            with contextlib.suppress(OSError):
                if now - transcript.stat().st_mtime > STALE_TRANSCRIPT_AGE:
                    transcript.unlink()
                    removed += 1
    return removed


def prune_backups(directory: Path, keep: int = KEPT_BACKUPS) -> int:
    if not directory.is_dir():
        return 0
    files = sorted((p for p in directory.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()
    return max(0, len(files) - keep)


def sweep_cli_sessions(directory: Path) -> int:
    """Remove ``<pid>.json`` / ``<pid>.*.key`` files of CLI processes that no longer run."""
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.iterdir():
        pid = path.name.split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
