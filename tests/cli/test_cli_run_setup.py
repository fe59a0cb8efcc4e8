"""run.py's set-up: two first runs at once in a fresh clone (the second waits for the
first, then both run), and the Opus install when apt is busy (waits a bounded time, then
says so and that the demo runs PCM). The product's code knows no folder outside the clone.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETUP_TIMEOUT_S = (
    900  # two full pip installs side by side on a loaded 2-core machine: bounds a hang only
)
# What a fresh clone has: everything but what set-up and runs make.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    "dumps",
    ".setup-stamp",
    ".setup.lock",
    "*.pyc",
    "*.tmp",
)


@pytest.mark.timeout(SETUP_TIMEOUT_S)
def test_two_first_runs_at_once_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "spatius_avatar_python"
    shutil.copytree(REPO, clone, ignore=NOT_IN_A_CLONE, symlinks=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    command = [sys.executable, str(clone / "run.py"), "check", "--help"]
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    try:
        first = subprocess.Popen(
            command,
            cwd=elsewhere,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # The second starts once the first has made .venv's python but before it has finished
        # setting up: the moment a second run used to find a venv without pip.
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while not (clone / ".venv" / "bin" / "python").exists() and first.poll() is None:
            assert time.monotonic() < deadline, "the first run never created .venv"
            time.sleep(0.01)
        second = subprocess.Popen(
            command,
            cwd=elsewhere,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        out_first, _ = first.communicate(timeout=SETUP_TIMEOUT_S)
        out_second, _ = second.communicate(timeout=SETUP_TIMEOUT_S)
    finally:
        for process in ("first", "second"):
            running = locals().get(process)
            if running is not None and running.poll() is None:
                running.kill()
                running.wait()
        shutil.rmtree(clone / ".venv", ignore_errors=True)  # hundreds of MB
    assert first.returncode == 0, out_first
    assert second.returncode == 0, out_second
    for out in (out_first, out_second):
        assert "Traceback" not in out and "No module named pip" not in out, out
        assert f"usage: python3 {clone / 'run.py'} check" in out
    assert "is setting up spatius_avatar_python; waiting for it to finish" in out_second, out_second
    assert (
        "installing Python packages" in out_first and "installing Python packages" not in out_second
    )


@pytest.fixture
def run_py(monkeypatch: pytest.MonkeyPatch):
    """run.py as a module (it is a script with no package)."""
    spec = importlib.util.spec_from_file_location("run_py_under_test", REPO / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_apt_get(folder: Path, held_by: int) -> Path:
    """An apt-get on PATH that finds the dpkg lock held, as apt-get says it after its wait,
    and writes down the arguments it was given."""
    folder.mkdir()
    script = folder / "apt-get"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{folder / "calls"}"\n'
        f'echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process {held_by} (apt-get)" >&2\n'
        'echo "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process '
        'using it?" >&2\n'
        "exit 100\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.mark.skipif(sys.platform != "linux", reason="apt-get is Debian/Ubuntu's")
def test_a_busy_apt_is_waited_for_then_named_and_the_pcm_fallback_said(
    run_py, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = fake_apt_get(tmp_path / "bin", held_by=4242)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(run_py, "opus_loads", lambda: False)  # libopus is missing on this machine
    monkeypatch.setattr(run_py.os, "geteuid", lambda: 0)
    monkeypatch.setattr(run_py.platform, "system", lambda: "Linux")
    run_py.ensure_opus()
    out = capsys.readouterr().out
    calls = (bin_dir / "calls").read_text().splitlines()
    assert calls, "apt-get was not run"
    waits = [
        int(m.group(1))
        for call in calls
        for m in [re.search(r"DPkg::Lock::Timeout=(\d+)", call)]
        if m
    ]
    assert len(waits) == len(calls) and all(0 < wait <= 600 for wait in waits), calls  # bounded
    assert "could not install the system Opus library (apt is busy" in out, out
    assert "the demo runs with PCM (pcm_s16le) instead of Ogg Opus" in out
    assert "Traceback" not in out


PRODUCT = [
    REPO / "run.py",
    REPO / "extension.py",
    REPO / "addon.py",
    *sorted((REPO / "spatius_avatar_python").rglob("*.py")),
]


def test_the_product_knows_no_folder_beside_the_clone() -> None:
    # ../shared is the project's own development material: a user's machine has none of it.
    mentions = re.compile(r"""\.\./shared|["']shared["']|/\s*["']shared|shared/schemas""")
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in PRODUCT
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if mentions.search(line)
    ]
    assert not found, "\n".join(found)


def test_without_a_schema_folder_given_check_names_none_beside_the_clone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatius_avatar_python.cli import main
    from spatius_avatar_python.cli.paths import schema_dir

    monkeypatch.delenv("TEN_SCHEMA_DIR", raising=False)
    assert schema_dir() is None
    main(["check", str(REPO / "examples" / "graph.json")])
    (note,) = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("NOTE TEN schema check skipped")
    ]
    assert (
        "no TEN schema folder given" in note and "--schema-dir" in note and "TEN_SCHEMA_DIR" in note
    )
    assert str(REPO.parent) not in note
