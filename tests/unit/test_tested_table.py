"""The README's tested-versions table is the package's tested.json, rendered."""

from __future__ import annotations

from pathlib import Path

from litellm_claude_code._serve import versions

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_matrix_the_package_records() -> None:
    assert versions.tested_table() in README.read_text(), (
        "README.md's tested-versions table differs from tested.json; paste the output of "
        "`python -c 'from litellm_claude_code._serve.versions import tested_table; print(tested_table())'`"
    )
