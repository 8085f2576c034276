"""`manifest` and the version checks of `doctor`: both read the package's own metadata."""

from __future__ import annotations

import json
from importlib.metadata import requires, version

import pytest
from click.testing import CliRunner
from packaging.specifiers import SpecifierSet

from litellm_claude_code._claude.sdk_compat import CLI_VERSION
from litellm_claude_code._serve import versions
from litellm_claude_code._serve.cli import main
from litellm_claude_code._serve.doctor import check_versions


def test_the_manifest_names_everything_a_registry_needs() -> None:
    result = CliRunner().invoke(main, ["manifest"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert set(manifest) >= {
        "name", "version", "litellm", "python", "entry_point", "dependencies", "docker_image", "tested"
    }  # fmt: skip
    assert manifest["name"] == "litellm-claude-code" and manifest["version"] == version("litellm-claude-code")
    assert manifest["entry_point"] == "litellm_claude_code.handler"
    assert SpecifierSet(manifest["litellm"]) == versions.supported("litellm")
    assert manifest["dependencies"]["system"] == "none"
    assert CLI_VERSION in manifest["dependencies"]["claude_code_cli"]
    runtime = [line for line in requires("litellm-claude-code") or [] if "extra ==" not in line]
    assert manifest["dependencies"]["pip"] == runtime
    assert manifest["docker_image"].endswith(":" + manifest["version"])
    assert manifest["tested"] == versions.tested()


def test_the_entry_point_the_manifest_names_is_the_provider() -> None:
    import litellm_claude_code
    from litellm_claude_code.provider import ClaudeCodeLLM

    module, _, name = json.loads(CliRunner().invoke(main, ["manifest"]).output)["entry_point"].rpartition(".")
    assert module == "litellm_claude_code" and isinstance(getattr(litellm_claude_code, name), ClaudeCodeLLM)


def test_the_supported_range_excludes_the_bad_litellm_releases() -> None:
    supported = versions.supported("litellm")
    for bad in ("1.82.7", "1.82.8", "1.107.0", "1.107.3"):
        assert bad not in supported
    assert versions.installed("litellm") in supported


def test_the_installed_combination_is_the_tested_one() -> None:
    assert check_versions(CLI_VERSION).status == "ok"


@pytest.mark.parametrize(
    ("found", "status", "words"),
    [
        ({"litellm": "1.82.7"}, "fail", "unsupported: litellm 1.82.7"),
        ({"litellm": "1.108.0"}, "warn", "litellm 1.108.0 (tested: "),
        ({"claude-agent-sdk": "0.2.199"}, "warn", "claude-agent-sdk 0.2.199"),
    ],
)
def test_versions_outside_the_range_or_the_matrix_are_named(
    monkeypatch: pytest.MonkeyPatch, found: dict[str, str], status: str, words: str
) -> None:
    real = versions.installed
    monkeypatch.setattr(versions, "installed", lambda package: found.get(package) or real(package))
    check = check_versions(CLI_VERSION)
    assert check.status == status and words in check.detail


def test_an_untested_cli_is_a_warning() -> None:
    check = check_versions("9.9.9")
    assert check.status == "warn" and "cli 9.9.9" in check.detail
