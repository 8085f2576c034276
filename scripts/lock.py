"""Regenerate the locks: exact pins with hashes.

requirements.lock is what `serve` runs on (the package with its `proxy` extra:
the image and the README's install), requirements-dev.lock adds the test and
lint tools, requirements-core.lock is the provider alone (no proxy).

    python scripts/lock.py            # keeps the current pins; add --upgrade to move them

uv writes the locks. pip verifies them (`--require-hashes`), but pip's
hash-checking mode needs a plain pin beside each pin that carries extras
(`pydantic[email]==X` also needs `pydantic==X`, or pip looks for another
version of `pydantic` for the dependents that ask for it without extras), so
this adds one, with the same hashes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "requirements.lock": ["--extra", "proxy"],
    "requirements-dev.lock": ["--extra", "proxy", "--extra", "test", "--extra", "lint"],
    "requirements-core.lock": [],
}
PINNED_EXTRA = re.compile(r"^([A-Za-z0-9_.-]+)\[[^\]]+\](==.*)$")


def with_plain_pins(text: str) -> str:
    """The lock with a plain pin (and its hashes) after each pin that names extras."""
    blocks: list[list[str]] = [[]]  # the first holds the header comments
    for line in text.splitlines(keepends=True):
        if line.strip() and not line[:1].isspace() and not line.startswith("#"):
            blocks.append([line])  # a requirement, followed by its hashes and comments
        else:
            blocks[-1].append(line)
    out: list[str] = []
    for block in blocks:
        out.extend(block)
        match = PINNED_EXTRA.match(block[0].rstrip("\n")) if block else None
        if match and not any(b[0].startswith(match.group(1) + "==") for b in blocks):
            out.append(match.group(1) + match.group(2) + "\n")
            out.extend(line for line in block[1:] if line.lstrip().startswith("--hash"))
    return "".join(out)


def main() -> None:
    upgrade = ["--upgrade"] if "--upgrade" in sys.argv[1:] else []
    for name, extras in LOCKS.items():
        command = [
            "uv", "pip", "compile", "pyproject.toml", "--universal", "--python-version", "3.10",
            "--generate-hashes", "--no-strip-extras", "--quiet", *extras, *upgrade, "-o", name,
        ]  # fmt: skip
        subprocess.run(command, cwd=ROOT, check=True)
        path = ROOT / name
        path.write_text(with_plain_pins(path.read_text()))
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
