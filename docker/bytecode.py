"""Bytecode for the modules `litellm-claude-code serve` imports, and only those.

The image's virtualenv is root-owned, so its user cannot write bytecode: a
module without a .pyc is compiled in memory at every start (with none at all,
`serve` answers /health/liveliness about 7 s later). Compiling the whole venv
costs about 100 MB, half of it for modules `serve` never imports. Run in the
Docker builder:

    setpriv --reuid=65534 ... python bytecode.py list FILE   # import as nobody: no writes in the venv
    python bytecode.py compile FILE                          # then, as root, write the .pyc

`list` imports what `serve` imports at start-up (LiteLLM's proxy, this package,
the event loop and protocols uvicorn picks) and prints their source files in
the venv; a module imported later (on a first request) still runs, compiled in
memory. docker/check-image.sh counts those in a real run.
"""

from __future__ import annotations

import importlib
import pkgutil
import py_compile
import sys
from pathlib import Path

# What uvicorn loads by name once it runs (LiteLLM runs it with loop="uvloop").
SERVER_MODULES = (
    "litellm.proxy.proxy_server",
    "litellm.proxy.proxy_cli",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.h11_impl",
    "uvicorn.protocols.websockets.websockets_impl",
    "uvicorn.lifespan.on",
    "anyio._backends._asyncio",
)


def imported_files() -> list[str]:
    """The venv's source files behind every module `serve` imports at start-up."""
    import litellm_claude_code

    for name in SERVER_MODULES:
        importlib.import_module(name)
    for module in pkgutil.walk_packages(litellm_claude_code.__path__, "litellm_claude_code."):
        if not module.name.endswith("__main__"):  # __main__ runs the command line
            importlib.import_module(module.name)
    files = {getattr(module, "__file__", None) for module in list(sys.modules.values())}
    return sorted(f for f in files if f and f.endswith(".py") and f.startswith(sys.prefix + "/"))


def compile_files(paths: list[str]) -> None:
    """Write each file's .pyc; unchecked hashes, so no source timestamp can invalidate them."""
    for path in paths:
        py_compile.compile(path, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def main() -> None:
    command, path = sys.argv[1:3] if len(sys.argv) == 3 else ("", "")
    if command == "list":  # to a file: an import may print
        Path(path).write_text("\n".join(imported_files()) + "\n")
    elif command == "compile":
        paths = Path(path).read_text().split()
        compile_files(paths)
        print(f"compiled {len(paths)} modules of the venv to bytecode")
    else:
        sys.exit("usage: bytecode.py list|compile FILE")


if __name__ == "__main__":
    main()
