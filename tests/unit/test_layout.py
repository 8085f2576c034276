"""The package's shape, as rules the code must keep: checked on its imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import litellm_claude_code

PACKAGE = Path(litellm_claude_code.__file__).parent


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as absolute dotted names within the package."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(here[: len(here) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def test_the_claude_code_side_never_imports_the_openai_side() -> None:
    for path in modules("_claude"):
        assert not {name for name in imports(path) if "._openai" in name}, path.name


def test_the_pool_knows_processes_only_through_the_protocol() -> None:
    for name in ("pool.py", "process.py"):
        assert not {m for m in imports(PACKAGE / "_claude" / name) if m.startswith("claude_agent_sdk")}, name


def test_private_sdk_names_are_used_in_one_module_only() -> None:
    users = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(m.startswith("claude_agent_sdk") and "._" in m.removeprefix("claude_agent_sdk") for m in imports(path))
    }
    assert users == {"_claude/sdk_compat.py"}


def test_importing_the_package_has_no_side_effects() -> None:
    probe = (
        "import signal, sys, logging\n"
        "watched = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD]\n"
        "before = [signal.getsignal(s) for s in watched]\n"
        "handlers = len(logging.getLogger().handlers)\n"
        "import litellm_claude_code\n"
        "assert [signal.getsignal(s) for s in watched] == before, 'a signal handler was installed'\n"
        "assert len(logging.getLogger().handlers) == handlers, 'logging was configured'\n"
        "assert 'litellm' not in sys.modules, 'LiteLLM was imported (it fetches a cost map)'\n"
        "assert 'claude_agent_sdk' not in sys.modules, 'the SDK was imported'\n"
        "print('clean')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip() == "clean", done.stderr
