"""The CI rule on skips, exactly: in CI (CI=true) a skipped test fails the run, except a
`ten_schemas` validation skipped because the official TEN schema files are absent, which
says where to get them. Real pytest runs in a subprocess, with the suite's own conftest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALLOWED_REASON_START = "needs the official TEN schema files: no TEN schema files in "

TESTS = """
import pytest
from tests.schema_skips import schemas_absent_reason

@pytest.mark.ten_schemas
def test_marked_validation():
    assert True

def test_ordinary_skip():
    pytest.skip("some other reason")

def test_unmarked_skip_with_the_schema_reason():
    pytest.skip(schemas_absent_reason())

def test_runs():
    assert True
"""


def run_pytest(
    tmp_path: Path, schema_dir: Path, *selection: str
) -> subprocess.CompletedProcess[str]:
    test_file = tmp_path / "test_policy_probe.py"
    test_file.write_text(TESTS)
    env = {**os.environ, "CI": "true", "TEN_SCHEMA_DIR": str(schema_dir)}
    ids = [f"{test_file}::{name}" for name in selection]
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rs",
        "-p",
        "tests.conftest",
        "-c",
        str(REPO / "pyproject.toml"),
        "--rootdir",
        str(REPO),
        *ids,
    ]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)


def schema_folder(path: Path) -> Path:
    path.mkdir()
    for name in ("manifest", "property"):
        (path / f"{name}.schema.json").write_text('{"type": "object"}')
    return path


def test_a_schema_validation_without_the_schema_files_is_the_one_skip_ci_allows(
    tmp_path: Path,
) -> None:
    done = run_pytest(tmp_path, tmp_path / "absent", "test_marked_validation", "test_runs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped: no TEN schemas" in done.stdout
    assert "CI: " not in done.stdout
    assert "1 TEN schema validation(s) skipped: each " + ALLOWED_REASON_START in done.stdout
    assert "core/src/ten_rust/src/json_schema/data/" in done.stdout


def test_with_the_schema_files_the_validation_runs(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, schema_folder(tmp_path / "schemas"), "test_marked_validation")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout and "skipped" not in done.stdout


@pytest.mark.parametrize(
    "test", ["test_ordinary_skip", "test_unmarked_skip_with_the_schema_reason"]
)
def test_any_other_skip_fails_ci(tmp_path: Path, test: str) -> None:
    done = run_pytest(tmp_path, tmp_path / "absent", test, "test_runs")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout
    assert "CI: 1 test(s) skipped; in CI every suite must run" in done.stdout
