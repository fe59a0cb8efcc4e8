"""The one kind of skip CI allows: a validation against the official TEN schema files where
those files are absent (a clone with nothing beside it; the files are TEN Framework's, not
this project's). Registered for the whole suite by tests/reliability/suite_audit.py.

A test marked `ten_schemas` is skipped here, before it runs, with SCHEMAS_ABSENT (which says
where to get the files) when `schema_dir()` has none. Such a skip is reported in its own
category, "skipped: no TEN schemas", so the CI rule of tests/conftest.py (a skipped test
fails a CI run) holds for every other skip, exactly: a test that is not marked, or that
skips for any other reason, is an ordinary skip and fails CI.
"""

from __future__ import annotations

from typing import Any

import pytest

from spatius_avatar_python.cli.paths import schema_dir
from spatius_avatar_python.cli.ten_schemas import SCHEMA_DIR_VARIABLE, schemas_absent

MARK = "ten_schemas"
CATEGORY = "skipped: no TEN schemas"


def schemas_absent_reason() -> str | None:
    """The skip reason when the schema files are absent, else None."""
    absent = schemas_absent(
        schema_dir(), f"set {SCHEMA_DIR_VARIABLE} to that folder to run these validations"
    )
    return None if absent is None else f"needs the official TEN schema files: {absent}"


def is_allowed_skip(report: Any) -> bool:
    """A skip of a `ten_schemas` test, made by this plugin with its own reason."""
    if not (report.skipped and report.when == "setup" and MARK in report.keywords):
        return False
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""
    expected = schemas_absent_reason()
    return expected is not None and reason == f"Skipped: {expected}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARK}: validates against the official TEN schema files; skipped where they are absent "
        "(the only skip a CI run allows)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if (
        item.get_closest_marker(MARK) is not None
        and (reason := schemas_absent_reason()) is not None
    ):
        pytest.skip(reason)


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    if is_allowed_skip(report):
        return CATEGORY, "s", "SKIPPED (no TEN schemas)"
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = terminalreporter.stats.get(CATEGORY, [])
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} TEN schema validation(s) skipped: each {schemas_absent_reason()}",
            yellow=True,
        )
