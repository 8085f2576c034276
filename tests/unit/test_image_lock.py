"""requirements-image.lock (what the Docker image installs) is exactly
requirements.lock without scripts/lock.py's EXCLUDED packages, so a relock
cannot leave the image on other pins or let an excluded package back in."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = runpy.run_path(str(ROOT / "scripts" / "lock.py"))


def pins(text: str) -> list[str]:
    """The requirement lines of a lock (name, version and markers), in order."""
    return [line for line in text.splitlines() if re.match(r"[A-Za-z0-9]", line)]


def test_image_lock_is_the_lock_without_the_excluded_packages() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    image = (ROOT / "requirements-image.lock").read_text()
    assert image == LOCK["image_lock"](lock), "run `python scripts/lock.py`: requirements-image.lock is stale"
    removed = [line for line in pins(lock) if line not in pins(image)]
    assert sorted({LOCK["requirement_name"](line) for line in removed}) == sorted(LOCK["EXCLUDED"])
    assert [line for line in pins(lock) if line not in removed] == pins(image)


def test_every_excluded_package_is_in_the_lock_and_says_why() -> None:
    names = {LOCK["requirement_name"](line) for line in pins((ROOT / "requirements.lock").read_text())}
    for name, why in LOCK["EXCLUDED"].items():
        assert name in names, f"{name} is no longer in requirements.lock: drop it from EXCLUDED"
        assert why.strip(), name


def test_image_lock_header_says_how_to_install_it() -> None:
    head = (ROOT / "requirements-image.lock").read_text().splitlines()[:6]
    assert any("--no-deps --require-hashes" in line for line in head), head
    assert all(line.startswith("#") for line in head), head
