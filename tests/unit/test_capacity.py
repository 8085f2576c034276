"""The default process cap, derived from fake /proc and /sys trees; and where
``config``, ``doctor`` and ``serve`` use and report it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from litellm_claude_code._claude import capacity
from litellm_claude_code._claude.capacity import FALLBACK, GiB, MiB, machine_capacity, processes_for
from litellm_claude_code._serve import cli
from litellm_claude_code._serve.doctor import check_process_cap
from litellm_claude_code.errors import ConfigError
from litellm_claude_code.settings import Settings

V1_SENTINEL = "9223372036854771712"  # what cgroup v1 reports with no limit (4 KiB pages)
VARIABLE = "LITELLM_CLAUDE_CODE_MAX_PROCESSES"


def meminfo(total: int, available: int | None = None) -> str:
    """A /proc/meminfo text for ``total`` bytes (MemAvailable present but unused)."""
    free = total // 2 if available is None else available
    return (
        f"MemTotal:       {total // 1024} kB\n"
        f"MemFree:        {free // 1024} kB\n"
        f"MemAvailable:   {free // 1024} kB\n"
        "Buffers:          123456 kB\n"
    )


def make_tree(root: Path, files: dict[str, str]) -> Path:
    """A fake filesystem: each key a path under ``root``, each value its content."""
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def test_cgroup_v2_limit_sets_the_cap(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(32 * GiB),
            "proc/self/cgroup": "0::/system.slice/proxy.service\n",
            "sys/fs/cgroup/system.slice/proxy.service/memory.max": f"{4 * GiB}\n",
            "sys/fs/cgroup/system.slice/proxy.service/memory.high": "max\n",
            "sys/fs/cgroup/system.slice/memory.max": "max\n",
        },
    )
    found = machine_capacity(root)
    assert found.processes == 14  # (4096 - 512) / 256
    assert found.reason.startswith("cgroup memory limit 4.0 GiB, ") and found.reason.endswith("-> 14 processes")


def test_cgroup_v2_unlimited_uses_the_machines_memory(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(8 * GiB),
            "proc/self/cgroup": "0::/user.slice/user-1000.slice/session-2.scope\n",
            "sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.max": "max\n",
            "sys/fs/cgroup/user.slice/user-1000.slice/memory.max": "max\n",
            "sys/fs/cgroup/user.slice/memory.max": "max\n",
        },
    )
    found = machine_capacity(root)
    assert found.processes == 30  # (8192 - 512) / 256
    assert found.reason.startswith("8.0 GiB of memory, less 512 MiB for the proxy, at 256 MiB a process")


def test_the_tightest_limit_among_ancestors_and_memory_high_wins(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(64 * GiB),
            "proc/self/cgroup": "0::/kubepods/pod1/ctr\n",
            "sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
            "sys/fs/cgroup/kubepods/pod1/memory.max": f"{3 * GiB}\n",
            "sys/fs/cgroup/kubepods/memory.max": f"{16 * GiB}\n",
        },
    )
    assert machine_capacity(root).processes == 10  # the pod's 3 GiB
    (root / "sys/fs/cgroup/kubepods/pod1/ctr/memory.high").write_text(f"{2 * GiB}\n")
    assert machine_capacity(root).processes == 6  # throttled above 2 GiB: that is the budget


def test_cgroup_namespace_root_holds_the_containers_limit(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(64 * GiB),
            "proc/self/cgroup": "0::/\n",
            "sys/fs/cgroup/memory.max": f"{1536 * MiB}\n",
        },
    )
    found = machine_capacity(root)
    assert found.processes == 4 and "cgroup memory limit 1.5 GiB" in found.reason


def test_cgroup_v1_limit(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(16 * GiB),
            "proc/self/cgroup": "12:pids:/docker/abc\n4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/\n",
            "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": f"{6 * GiB}\n",
            "sys/fs/cgroup/memory/docker/memory.limit_in_bytes": V1_SENTINEL + "\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_SENTINEL + "\n",
            "sys/fs/cgroup/cpu,cpuacct/docker/abc/memory.limit_in_bytes": "1",  # not the memory controller
        },
    )
    found = machine_capacity(root)
    assert found.processes == 22 and "cgroup memory limit 6.0 GiB" in found.reason


def test_cgroup_v1_inside_a_container_finds_the_limit_at_its_mount_root(tmp_path: Path) -> None:
    """Without a cgroup namespace the path names the host's view, which the
    container's mount does not have: the limit is at the mount's root."""
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(16 * GiB),
            "proc/self/cgroup": "4:memory:/docker/0123abcd\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": f"{1 * GiB}\n",
        },
    )
    assert machine_capacity(root).processes == 2


def test_cgroup_v1_unlimited_and_this_machines_hybrid_layout(tmp_path: Path) -> None:
    """The layout of the machine these tests were written on: v1 memory
    controller under a named cgroup, an empty unified hierarchy, no limit."""
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(24684084 * 1024),
            "proc/self/cgroup": "9:name=systemd:/\n4:memory:/process_api/a0fad6\n1:cpu:/\n0::/\n",
            "sys/fs/cgroup/memory/process_api/a0fad6/memory.limit_in_bytes": V1_SENTINEL + "\n",
            "sys/fs/cgroup/memory/process_api/memory.limit_in_bytes": V1_SENTINEL + "\n",
            "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_SENTINEL + "\n",
            "sys/fs/cgroup/unified/cgroup.procs": "1\n",
        },
    )
    found = machine_capacity(root)
    assert found.processes == 64
    assert found.reason == (
        "23.5 GiB of memory, less 512 MiB for the proxy, at 256 MiB a process -> 64 processes (clamped to 64)"
    )


def test_no_cgroup_uses_memtotal_not_memavailable(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"proc/meminfo": meminfo(4 * GiB, available=1 * GiB)})
    assert machine_capacity(root).processes == 14


def test_a_cgroup_limit_above_the_machines_memory_does_not_count(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(4 * GiB),
            "proc/self/cgroup": "0::/\n",
            "sys/fs/cgroup/memory.max": f"{64 * GiB}\n",
        },
    )
    found = machine_capacity(root)
    assert found.processes == 14 and found.reason.startswith("4.0 GiB of memory")


def test_a_tiny_machine_is_clamped_to_the_fewest(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(16 * GiB),
            "proc/self/cgroup": "0::/\n",
            "sys/fs/cgroup/memory.max": f"{300 * MiB}\n",
        },
    )
    found = machine_capacity(root)
    assert found.processes == 2
    assert found.reason == (
        "cgroup memory limit 300 MiB, less 512 MiB for the proxy, at 256 MiB a process -> 2 processes (clamped to 2)"
    )


@pytest.mark.parametrize(
    ("usable", "expected"),
    [(0, 2), (1 * GiB, 2), (1 * GiB + 256 * MiB, 3), (2 * GiB - 1, 5), (2 * GiB, 6), (16 * GiB, 62), (17 * GiB, 64)],
)
def test_processes_for_is_the_formula_within_its_bounds(usable: int, expected: int) -> None:
    assert processes_for(usable) == expected


def test_without_proc_the_fixed_default_is_used(tmp_path: Path) -> None:
    """As on macOS: no /proc, no cgroups."""
    found = machine_capacity(tmp_path)
    assert found.processes == FALLBACK == 6
    assert "memory size unknown" in found.reason


@pytest.mark.parametrize(
    "limit",
    ["lots\n", "", "-1\n", "0\n", "4G\n", "12.5\n", "\x00\x01\x02"],
)
def test_garbage_cgroup_limits_are_ignored(tmp_path: Path, limit: str) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(8 * GiB),
            "proc/self/cgroup": "0::/a\n4:memory:/a\n",
            "sys/fs/cgroup/a/memory.max": limit,
            "sys/fs/cgroup/memory/a/memory.limit_in_bytes": limit,
        },
    )
    assert machine_capacity(root).processes == 30


def test_binary_garbage_in_a_limit_file_is_ignored(tmp_path: Path) -> None:
    root = make_tree(tmp_path, {"proc/meminfo": meminfo(8 * GiB), "proc/self/cgroup": "0::/\n"})
    (root / "sys/fs/cgroup").mkdir(parents=True)
    (root / "sys/fs/cgroup/memory.max").write_bytes(b"\xff\xfe\x80garbage")
    assert machine_capacity(root).processes == 30


@pytest.mark.parametrize(
    "cgroup",
    ["garbage\n", "0::\n", "memory\n", "::::\n", "0::relative/path\n", "0::/../../../escape\n", "\n\n"],
)
def test_garbage_proc_self_cgroup_reads_no_limit_outside_the_mount(tmp_path: Path, cgroup: str) -> None:
    root = make_tree(
        tmp_path,
        {
            "proc/meminfo": meminfo(8 * GiB),
            "proc/self/cgroup": cgroup,
            "sys/fs/cgroup/cgroup.procs": "1\n",
            "escape/memory.max": f"{1 * GiB}\n",  # only a path climbing out of the mount reaches it
        },
    )
    assert machine_capacity(root).processes == 30


@pytest.mark.parametrize(
    "text",
    ["", "garbage", "MemTotal: lots kB\n", "MemTotal:       0 kB\n", "MemTotal: 1024 MB\n", "MemAvailable: 1024 kB\n"],
)
def test_garbage_meminfo_falls_back(tmp_path: Path, text: str) -> None:
    root = make_tree(tmp_path, {"proc/meminfo": text})
    assert machine_capacity(root) == capacity.Capacity(
        FALLBACK, "memory size unknown (no readable /proc/meminfo) -> 6 processes"
    )


def test_the_v1_unlimited_sentinel_is_no_limit_even_without_meminfo(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {"proc/self/cgroup": "4:memory:/\n", "sys/fs/cgroup/memory/memory.limit_in_bytes": V1_SENTINEL + "\n"},
    )
    assert machine_capacity(root).processes == FALLBACK


def test_garbage_meminfo_still_honours_a_cgroup_limit(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path,
        {"proc/meminfo": "nonsense", "proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": f"{2 * GiB}\n"},
    )
    assert machine_capacity(root).processes == 6


def test_this_machine_gets_a_derived_cap() -> None:
    found = machine_capacity()
    assert 2 <= found.processes <= 64
    if Path("/proc/meminfo").exists():
        assert "memory size unknown" not in found.reason and f"-> {found.processes} processes" in found.reason


def test_settings_default_comes_from_the_machine_and_the_variable_overrides(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path)}
    assert Settings.from_env(environ).max_processes == machine_capacity().processes
    assert Settings.from_env({**environ, VARIABLE: "3"}).max_processes == 3
    assert Settings.from_env({**environ, VARIABLE: ""}).max_processes == machine_capacity().processes
    with pytest.raises(ConfigError, match=VARIABLE):
        Settings.from_env({**environ, VARIABLE: "many"})


def test_settings_built_directly_read_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("read the machine's memory")

    monkeypatch.setattr(capacity, "machine_capacity", refuse)
    assert Settings(state_dir=tmp_path).max_processes == 6
    assert Settings(state_dir=tmp_path, max_processes=9).max_processes == 9
    assert Settings.from_env({"HOME": str(tmp_path), VARIABLE: "4"}).max_processes == 4


def test_doctor_reports_the_cap_and_why(tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "root",
        {"proc/meminfo": meminfo(8 * GiB), "proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": f"{4 * GiB}\n"},
    )
    derived = check_process_cap(Settings(state_dir=tmp_path, max_processes=14), {}, root)
    assert derived.status == "ok" and derived.name == "Process cap"
    assert derived.detail == (
        "cgroup memory limit 4.0 GiB, less 512 MiB for the proxy, at 256 MiB a process -> 14 processes; "
        f"set {VARIABLE} to change it."
    )
    pinned = check_process_cap(Settings(state_dir=tmp_path, max_processes=5), {VARIABLE: "5"}, root)
    assert pinned.status == "ok" and pinned.detail == f"5 Claude Code processes at once, set by {VARIABLE}."
    other = check_process_cap(Settings(state_dir=tmp_path, max_processes=3), {}, root)
    assert other.detail == "3 Claude Code processes at once (as configured)."


def test_doctor_command_prints_the_process_cap(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "s"), "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}
    derived = CliRunner().invoke(cli.main, ["doctor"], env={**env, VARIABLE: None})
    assert f"[ok  ] Process cap: {machine_capacity().reason}; set {VARIABLE}" in derived.output
    pinned = CliRunner().invoke(cli.main, ["doctor"], env={**env, VARIABLE: "7"})
    assert f"[ok  ] Process cap: 7 Claude Code processes at once, set by {VARIABLE}." in pinned.output


def test_serve_prints_the_cap_once_the_proxy_has_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Path] = []

    def run_proxy(config: Path, *_: object, on_started: Callable[[], None]) -> None:
        started.append(config)
        on_started()  # what ServingApp does once LiteLLM's app has started

    monkeypatch.setattr(cli, "_run_proxy", run_proxy)
    # serve writes these into os.environ for the proxy; monkeypatch restores them.
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-test-master-key-0123456789abcdef0123456789")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "s"), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    derived = CliRunner().invoke(cli.main, ["serve"], env={**env, VARIABLE: None})
    assert derived.exit_code == 0, derived.output
    assert f"litellm-claude-code: Process cap: {machine_capacity().reason}; set {VARIABLE} to change it.\n" in (
        derived.stderr
    )
    pinned = CliRunner().invoke(cli.main, ["serve"], env={**env, VARIABLE: "2"})
    assert f"Process cap: 2 Claude Code processes at once, set by {VARIABLE}.\n" in pinned.stderr
    assert "Using the master key in LITELLM_MASTER_KEY." in pinned.stderr
    assert len(started) == 2


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [(None, 8), ("max 100000\n", 8), ("150000 100000\n", 2), ("50000 100000\n", 1), ("garbage\n", 8)],
)
def test_starts_at_once_default_to_the_cpus_the_proxy_may_use(
    tmp_path: Path, cpu_max: str | None, expected: int
) -> None:
    root = make_tree(tmp_path, {} if cpu_max is None else {"sys/fs/cgroup/cpu.max": cpu_max})
    assert capacity.usable_cpus(root, affinity=8) == expected


def test_max_starting_is_read_from_the_machine_only_when_unset(tmp_path: Path) -> None:
    assert Settings.from_env({"LITELLM_CLAUDE_CODE_MAX_STARTING": "3"}).max_starting == 3
    assert Settings.from_env({}).max_starting == capacity.usable_cpus()
    assert Settings.from_env({"LITELLM_CLAUDE_CODE_MAX_STARTING": "0"}).max_starting == 1  # the least that works
    with pytest.raises(ConfigError, match="LITELLM_CLAUDE_CODE_MAX_STARTING"):
        Settings.from_env({"LITELLM_CLAUDE_CODE_MAX_STARTING": "many"})
