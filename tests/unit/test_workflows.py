"""The GitHub Actions workflows: linted with actionlint (and, through it,
shellcheck on every `run:` script), and checked for what a release promises:
nothing is published unless the tests pass and the tag, pyproject.toml and
CHANGELOG.md agree; only the PyPI job can mint an OIDC token; the image is
multi-arch with an SBOM and provenance; every action is pinned."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # litellm depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
RELEASE = WORKFLOWS / "release.yml"
MATRIX = WORKFLOWS / "matrix.yml"
CHANGELOG = ROOT / "CHANGELOG.md"

# Actions pinned by tag because their commit could not be verified against the
# action's own repository; pin each by SHA (and drop it here) once checked.
PINNED_BY_TAG = {"pypa/gh-action-pypi-publish@v1.14.1"}

SHA_PIN = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>[\w.-]+/[\w./-]+@[0-9a-f]{40})\s+#\s*v\d+(?:\.\d+)*\s*$")
ANY_USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>\S+)")
SHA_REF = re.compile(r"(?P<action>[\w.-]+/[\w./-]+)@[0-9a-f]{40}\s+#\s*(?P<major>v\d+)(?:\.\d+)*")


def tool_path() -> str:
    """The venv's bin first (where pip puts actionlint and shellcheck), then PATH."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])


def tool(name: str) -> str:
    found = shutil.which(name, path=tool_path())
    if not found:
        pytest.fail(f"{name} is a test dependency (requirements-dev.lock) and was not found", pytrace=False)
    return found


def actionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Runs actionlint with shellcheck on its PATH: without it, run: scripts would go unchecked."""
    tool("shellcheck")
    env = {**os.environ, "PATH": tool_path()}
    args = [tool("actionlint"), "-no-color", "-oneline", *map(str, files)]
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def with_major_tags(text: str) -> str:
    """`owner/repo@<sha> # v7.0.1` -> `owner/repo@v7`: actionlint knows the inputs of popular
    actions by version tag and skips that check for a commit SHA."""
    return SHA_REF.sub(lambda m: f"{m['action']}@{m['major']}", text)


def major_tag_copies(tmp_path: Path, edit: Callable[[str], str] = lambda text: text) -> list[Path]:
    """Every workflow with its pins turned into major tags, in a project of its own under tmp_path."""
    target = tmp_path / ".github" / "workflows"
    target.mkdir(parents=True)
    copies = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        copy = target / path.name
        copy.write_text(edit(with_major_tags(path.read_text())))
        copies.append(copy)
    return copies


def load(path: Path) -> dict[Any, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    return doc


def triggers(workflow: dict[Any, Any]) -> Any:
    """YAML 1.1 (PyYAML) reads the key `on` as the boolean True."""
    return workflow.get("on", workflow.get(True))


def jobs(path: Path) -> dict[str, dict[str, Any]]:
    found = load(path)["jobs"]
    assert isinstance(found, dict)
    return found


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found = job.get("steps", [])
    assert isinstance(found, list)
    return found


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    matches = [s for s in steps(job) if str(s.get("uses", "")).startswith(f"{action}@")]
    assert len(matches) == 1, f"expected one step using {action}, found {len(matches)}"
    return matches[0]


def step_named(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    matches = [s for s in steps(job) if str(s.get("name", "")).startswith(prefix)]
    assert len(matches) == 1, f"expected one step named {prefix!r}"
    return matches[0]


def run_step(step: dict[str, Any], tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs a step's script the way the runner does (bash -e), in tmp_path."""
    github_env = tmp_path / "github_env"
    github_env.touch()
    full_env = {**os.environ, "PATH": tool_path(), "GITHUB_ENV": str(github_env), **env}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=full_env,
        timeout=60,
    )


def package_version() -> str:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert isinstance(version, str)
    return version


# -- lint ----------------------------------------------------------------------


def test_actionlint_clean() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {CI, RELEASE, MATRIX} <= set(files)
    done = actionlint(*files)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_actionlint_clean_with_action_inputs_checked(tmp_path: Path) -> None:
    copies = major_tag_copies(tmp_path)
    assert "docker/build-push-action@v7" in (tmp_path / ".github" / "workflows" / "release.yml").read_text()
    done = actionlint(*copies, cwd=tmp_path)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The lints above can fail: a script injection, an unknown job, a misspelt
    action input and a shell mistake are each reported."""
    edits = {
        "run: gh release create": 'run: echo "${{ github.event.head_commit.message }}" && gh release create',
        "needs: [build, image, pypi]": "needs: [build, image, pypi, missing]",
        "sbom: true": "sbom: true\n          sbomm: true",
        "ls -l dist/": "ls -l $dist",
    }

    def breaks(text: str) -> str:
        for old, new in edits.items():
            text = text.replace(old, new)
        return text

    copies = major_tag_copies(tmp_path, breaks)
    done = actionlint(*copies, cwd=tmp_path)
    assert done.returncode != 0
    for expected in ("head_commit.message", '"missing"', 'input "sbomm" is not defined', "SC2086"):
        assert expected in done.stdout, expected


# -- pins and permissions ------------------------------------------------------


@pytest.mark.parametrize("path", [CI, RELEASE, MATRIX], ids=lambda p: p.name)
def test_actions_pinned_by_commit(path: Path) -> None:
    unpinned = []
    for line in path.read_text().splitlines():
        used = ANY_USES.match(line)
        if not used or used["ref"].startswith("./") or SHA_PIN.match(line) or used["ref"] in PINNED_BY_TAG:
            continue
        unpinned.append(line.strip())
    assert unpinned == [], "pin each action by its full commit SHA with a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", [CI, RELEASE, MATRIX], ids=lambda p: p.name)
def test_least_privilege(path: Path) -> None:
    """No default token scopes; each job asks for exactly what it uses."""
    assert load(path)["permissions"] == {}
    expected = {
        "ci": {"contents": "read"},
        "test": {"contents": "read"},
        "build": {"contents": "read"},
        "image": {"contents": "read", "packages": "write"},
        "pypi": {"id-token": "write"},
        "github-release": {"contents": "write"},
        "matrix": {"contents": "read", "issues": "write"},
    }
    for name, job in jobs(path).items():
        assert job.get("permissions") == expected[name], name


def test_only_the_publish_job_can_mint_an_oidc_token() -> None:
    with_token = [name for name, job in jobs(RELEASE).items() if "id-token" in (job.get("permissions") or {})]
    assert with_token == ["pypi"]


# -- triggers and order ----------------------------------------------------------


def test_release_runs_on_version_tags_only() -> None:
    assert triggers(load(RELEASE)) == {"push": {"tags": ["v*"]}}


def test_ci_runs_what_ci_run_runs() -> None:
    assert set(triggers(load(CI))) == {"push", "pull_request", "workflow_call"}
    (job,) = jobs(CI).values()
    scripts = [str(s.get("run", "")) for s in steps(job)]
    assert any(re.search(r"\bbash \.ci/run$", script) for script in scripts), scripts


def test_nothing_is_published_before_the_tests_and_the_version_check() -> None:
    release = jobs(RELEASE)
    assert release["test"]["uses"] == "./.github/workflows/ci.yml"
    assert release["build"]["needs"] == "test"
    assert release["image"]["needs"] == "build"
    assert set(release["pypi"]["needs"]) == {"build", "image"}
    assert set(release["github-release"]["needs"]) == {"build", "image", "pypi"}
    names = [str(s.get("name", s.get("uses", ""))) for s in steps(release["build"])]
    check = names.index("Check the tag matches the version in pyproject.toml")
    assert check < names.index("Build the sdist and the wheel")


# -- the version check and the release notes, run for real ----------------------------


def test_version_check_accepts_the_matching_tag(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    check = step_named(jobs(RELEASE)["build"], "Check the tag matches")
    assert check["env"] == {"TAG": "${{ github.ref_name }}"}
    done = run_step(check, tmp_path, {"TAG": f"v{package_version()}"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "github_env").read_text() == f"VERSION={package_version()}\n"


@pytest.mark.parametrize("tag", ["v9.9.9", "0.1.0", "v0.1", "release"])
def test_version_check_refuses_another_tag(tmp_path: Path, tag: str) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    check = step_named(jobs(RELEASE)["build"], "Check the tag matches")
    done = run_step(check, tmp_path, {"TAG": tag})
    assert done.returncode != 0
    assert f"tag {tag} does not match the package version {package_version()}" in done.stdout


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0"])
def test_release_notes_are_the_changelog_section(tmp_path: Path, version: str) -> None:
    shutil.copy(CHANGELOG, tmp_path)
    notes_step = step_named(jobs(RELEASE)["build"], "Take the release notes")
    done = run_step(notes_step, tmp_path, {"VERSION": version})
    assert done.returncode == 0, done.stdout + done.stderr
    notes = (tmp_path / "notes" / "release-notes.md").read_text()
    assert "## [" not in notes
    assert "]: https://" not in notes, "the link references at the end are not part of the last section"
    assert notes.strip()
    assert notes.strip() in CHANGELOG.read_text()


def test_release_notes_missing_section_fails(tmp_path: Path) -> None:
    shutil.copy(CHANGELOG, tmp_path)
    notes_step = step_named(jobs(RELEASE)["build"], "Take the release notes")
    done = run_step(notes_step, tmp_path, {"VERSION": "9.9.9"})
    assert done.returncode != 0
    assert "no section '## [9.9.9]'" in done.stdout


def test_changelog_has_a_section_for_the_package_version() -> None:
    """Else the release of this version would stop at its notes step."""
    assert re.search(rf"^## \[{re.escape(package_version())}\]", CHANGELOG.read_text(), re.MULTILINE)


# -- what gets published ---------------------------------------------------------


def test_build_makes_sdist_and_wheel() -> None:
    build = step_named(jobs(RELEASE)["build"], "Build the sdist and the wheel")
    assert "python -m build --sdist --wheel --outdir dist/" in build["run"]


def test_image_is_multi_arch_with_sbom_and_provenance() -> None:
    image = jobs(RELEASE)["image"]
    for action in ("docker/setup-qemu-action", "docker/setup-buildx-action"):
        step_using(image, action)
    login = step_using(image, "docker/login-action")["with"]
    assert login["registry"] == "ghcr.io"
    meta = step_using(image, "docker/metadata-action")
    assert meta["with"]["images"] == "ghcr.io/${{ github.repository }}"
    push = step_using(image, "docker/build-push-action")["with"]
    assert set(push["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert push["push"] is True
    assert push["sbom"] is True
    assert push["provenance"] == "mode=max"
    assert push["tags"] == f"${{{{ steps.{meta['id']}.outputs.tags }}}}"


def test_pypi_uses_trusted_publishing() -> None:
    pypi = jobs(RELEASE)["pypi"]
    assert pypi["environment"]["name"] == "pypi"
    publish = step_using(pypi, "pypa/gh-action-pypi-publish")
    assert "password" not in publish.get("with", {}), "trusted publishing needs no token"


def test_github_release_carries_the_changelog_notes() -> None:
    release = jobs(RELEASE)["github-release"]
    script = step_named(release, "Create the GitHub release")["run"]
    assert "--notes-file notes/release-notes.md" in script
    assert "--verify-tag" in script


# -- the daily matrix ----------------------------------------------------------


def test_the_matrix_runs_daily_and_a_failure_opens_an_issue_or_comments_on_the_open_one(tmp_path: Path) -> None:
    """Issue 21: the newest releases are tested every day; a failure is reported where people look."""
    assert triggers(load(MATRIX))["schedule"] == [{"cron": "17 5 * * *"}]
    assert load(MATRIX)["defaults"]["run"]["shell"] == "bash"  # pipefail, or `| tee` hides a failure
    [job] = jobs(MATRIX).values()
    assert step_named(job, "Run the matrix")["run"].startswith(".venv/bin/python scripts/matrix.py")
    report = step_named(job, "Open or update the issue")
    assert report["if"] == "failure()"
    calls = tmp_path / "gh-calls"
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir()
    fake.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n'
        f'if [ "$1 $2" = "issue list" ] && [ -f {tmp_path}/open ]; then cat {tmp_path}/open; fi\n'
    )
    fake.chmod(0o755)
    (tmp_path / "matrix.log").write_text(
        "Collecting ...\nmatrix newest: litellm 9.9.9, claude-agent-sdk 0.9.9 (CLI 9.9): FAIL\n"
    )
    env = {
        "PATH": f"{fake.parent}:{tool_path()}",
        "GITHUB_REPOSITORY": "o/r",
        "RUN_URL": "https://run/1",
        "GH_TOKEN": "t",
    }
    created = run_step(report, tmp_path, env)
    assert created.returncode == 0, created.stderr
    assert "issue create --repo o/r --title The compatibility matrix fails on the newest releases" in calls.read_text()
    assert "matrix newest: litellm 9.9.9" in calls.read_text() and "Collecting" not in calls.read_text()
    (tmp_path / "open").write_text("42\n")
    calls.unlink()
    commented = run_step(report, tmp_path, env)
    assert commented.returncode == 0, commented.stderr
    assert "issue comment 42 --repo o/r" in calls.read_text() and "issue create" not in calls.read_text()
