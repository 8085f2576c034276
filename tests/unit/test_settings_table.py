"""The README's Configuration table is generated from the settings' fields, so it cannot drift."""

from __future__ import annotations

from pathlib import Path

from litellm_claude_code.settings import Settings, settings_table, variable_name

README = Path(__file__).resolve().parents[2] / "README.md"
REGENERATE = "python -c \"from litellm_claude_code.settings import settings_table; print(settings_table(), end='')\""


def readme_configuration_table() -> str:
    """The first Markdown table under README's ``## Configuration`` heading."""
    lines = README.read_text().splitlines()
    start = lines.index("## Configuration")
    first = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("|"))
    assert not any(line.startswith("## ") for line in lines[start + 1 : first]), "no table under ## Configuration"
    table = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return "\n".join(table) + "\n"


def test_readme_table_is_the_generated_one() -> None:
    assert readme_configuration_table() == settings_table(), f"regenerate the README table with: {REGENERATE}"


def test_every_setting_has_a_row_and_a_meaning() -> None:
    rows = settings_table().splitlines()[2:]
    assert len(rows) == len(Settings.model_fields)
    for name, info in Settings.model_fields.items():
        assert info.description, f"{name} has no description"
        assert any(row.startswith(f"| `{variable_name(name)}` |") for row in rows), name
    assert all(row.count(" | ") == 2 for row in rows), "a stray | would split a row"


def test_variable_names_follow_the_prefix_except_the_base_url() -> None:
    assert variable_name("timeout") == "LITELLM_CLAUDE_CODE_TIMEOUT"
    assert variable_name("log_level") == "LITELLM_CLAUDE_CODE_LOG_LEVEL"
    assert variable_name("base_url") == "ANTHROPIC_BASE_URL"
