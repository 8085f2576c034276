"""How many Claude Code processes the machine can hold: the default of
``LITELLM_CLAUDE_CODE_MAX_PROCESSES``.

Every active conversation keeps a CLI process of its own, so a fixed cap is
too small on most machines and too large in a small container. The default is
derived from the memory the proxy may use: the machine's memory, or the
cgroup limit it runs under (a container, a systemd unit) when that is smaller.
CPU is left out of that cap: parked and idle processes use none, and a running
one mostly waits for the upstream. It bounds what does use it, starting a
process (about 0.6 s of CPU): :func:`usable_cpus` is the default of
``LITELLM_CLAUDE_CODE_MAX_STARTING``.

Nothing is read at import. Every reader takes the root directory, so tests
build fake ``/proc`` and ``/sys`` trees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MiB = 1 << 20
GiB = 1 << 30

#: Kept for the LiteLLM proxy itself: 362-390 MiB resident (measured), plus headroom.
PROXY_RESERVE = 512 * MiB
#: One CLI process: 160-234 MiB resident while it runs a turn (measured), rounded up.
PROCESS_BUDGET = 256 * MiB
#: The pool keeps a clean process ready while another resets; one process would put
#: every request behind a CLI restart. Smaller still, set the variable.
FEWEST = 2
#: About 16 GiB of processes. Past this, memory is no longer what limits: every request
#: shares one account's rate limits, and a burst would start that many CLIs at once
#: (each start-up is about 0.6 s of CPU).
MOST = 64
#: Where the memory cannot be read (not Linux, no /proc): the cap used before.
FALLBACK = 6
#: cgroup v1 reports "no limit" as a huge number (LONG_MAX rounded down to a page).
V1_UNLIMITED = 1 << 62

_MEMTOTAL = re.compile(r"^MemTotal:\s+(\d+)\s+kB\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Capacity:
    """The default cap, and why, in words fit for the start-up log and ``doctor``."""

    processes: int
    reason: str


def machine_capacity(root: Path = Path("/")) -> Capacity:
    """The default cap for the memory the proxy and its CLI processes may use.

    The base is MemTotal, not MemAvailable. The cap is a ceiling held for the
    proxy's whole life, and processes start only on demand and end when idle;
    MemAvailable is a snapshot of what other programs happened to use at that
    moment. It is also read twice, by ``serve`` before LiteLLM loads and by the
    provider inside the running proxy (~400 MiB later), so a MemAvailable cap
    would differ between the start-up log and the pool. MemTotal gives the same
    answer each time on the same machine. A shared host that runs other large
    programs should set ``LITELLM_CLAUDE_CODE_MAX_PROCESSES``.
    """
    total = mem_total(root)
    limit = cgroup_limit(root)
    if limit is not None and (total is None or limit < total):
        return _derive(limit, f"cgroup memory limit {format_size(limit)}")
    if total is not None:
        return _derive(total, f"{format_size(total)} of memory")
    return Capacity(FALLBACK, f"memory size unknown (no readable /proc/meminfo) -> {FALLBACK} processes")


def processes_for(usable: int) -> int:
    """Processes that fit in ``usable`` bytes next to the proxy, within [FEWEST, MOST]."""
    return max(FEWEST, min(MOST, (usable - PROXY_RESERVE) // PROCESS_BUDGET))


def mem_total(root: Path = Path("/")) -> int | None:
    """MemTotal from ``/proc/meminfo`` in bytes; None where it is missing or unreadable."""
    text = _read(root / "proc" / "meminfo")
    found = _MEMTOTAL.search(text) if text is not None else None
    if found is None or int(found.group(1)) <= 0:
        return None
    return int(found.group(1)) * 1024


def cgroup_limit(root: Path = Path("/")) -> int | None:
    """The tightest memory limit over this process's cgroups and their ancestors
    (a parent's limit binds its children too); None when nothing is limited."""
    limits = (limit for path in _limit_files(root) if (limit := _read_limit(path)) is not None)
    return min(limits, default=None)


def format_size(size: int) -> str:
    """``4.0 GiB``, or ``512 MiB`` below a GiB."""
    return f"{size / GiB:.1f} GiB" if size >= GiB else f"{size // MiB} MiB"


def _derive(usable: int, basis: str) -> Capacity:
    processes = processes_for(usable)
    unclamped = (usable - PROXY_RESERVE) // PROCESS_BUDGET
    bound = f" (clamped to {processes})" if processes != unclamped else ""
    reason = (
        f"{basis}, less {format_size(PROXY_RESERVE)} for the proxy, at {format_size(PROCESS_BUDGET)} "
        f"a process -> {processes} processes{bound}"
    )
    return Capacity(processes, reason)


def _limit_files(root: Path) -> Iterator[Path]:
    """The limit files of every cgroup this process is in, from its own up to the root.

    ``/proc/self/cgroup`` lines are ``id:controllers:path``: ``0::path`` is the
    cgroup v2 hierarchy (``memory.max``, and ``memory.high`` above which the
    kernel throttles); a v1 line naming ``memory`` has ``memory.limit_in_bytes``.
    Inside a container the path may name a cgroup outside the container's own
    mount; walking up reaches the mount's root, which is the container's cgroup.
    """
    text = _read(root / "proc" / "self" / "cgroup") or ""
    mount = root / "sys" / "fs" / "cgroup"
    for line in text.splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        number, controllers, path = fields
        names: tuple[str, ...]
        if number == "0" and controllers == "":
            base, names = mount, ("memory.max", "memory.high")
        elif "memory" in controllers.split(","):
            base, names = mount / controllers, ("memory.limit_in_bytes",)
        else:
            continue
        for directory in _ancestors(base, path):
            yield from (directory / name for name in names)


def _ancestors(base: Path, path: str) -> Iterator[Path]:
    """``base/path`` and each parent up to ``base``; only ``base`` if ``path`` climbs out."""
    parts = PurePosixPath(path).parts[1:] if path.startswith("/") else ()
    if ".." in parts:
        parts = ()
    for depth in range(len(parts), -1, -1):
        yield base.joinpath(*parts[:depth])


def _read_limit(path: Path) -> int | None:
    """A limit in bytes; None for "max", v1's "unlimited" sentinel, or garbage."""
    text = _read(path)
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if 0 < value < V1_UNLIMITED else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, ValueError):  # missing, unreadable, not text
        return None


def usable_cpus(root: Path = Path("/"), affinity: int | None = None) -> int:
    """The CPUs this process may use: its affinity set, or fewer when its cgroup's
    ``cpu.max`` quota allows fewer (a container started with ``--cpus``); at least 1."""
    import os

    count = affinity if affinity is not None else len(os.sched_getaffinity(0))
    text = _read(root / "sys" / "fs" / "cgroup" / "cpu.max")
    fields = text.split() if text else []
    if len(fields) == 2 and fields[0] != "max":
        try:
            quota, period = int(fields[0]), int(fields[1])
        except ValueError:
            return max(1, count)
        if quota > 0 and period > 0:
            count = min(count, -(-quota // period))
    return max(1, count)
