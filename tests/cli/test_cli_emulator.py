"""`python -m spatius_avatar_python emulator`: serves until Ctrl-C and prints avatar
properties that `check` accepts and that point at the running emulator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from spatius_avatar_python.cli import main

REPO = Path(__file__).resolve().parents[2]
STATS_PATH = "/_emulator/stats"  # the emulator's own counters endpoint


def read_properties(process: subprocess.Popen[str]) -> tuple[str, dict]:
    """The banner line and the JSON object printed after it."""
    assert process.stdout is not None
    banner = process.stdout.readline()
    assert banner.startswith("Spatius emulator listening on "), banner
    assert "property" in process.stdout.readline()
    text = ""
    for line in process.stdout:
        text += line
        if line.rstrip() == "}":
            break
    return banner, json.loads(text)


def test_emulator_prints_working_properties_and_stops_on_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = [
        sys.executable,
        "-m",
        "spatius_avatar_python",
        "emulator",
        "--port",
        "0",
        "--uid",
        "2002",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        banner, properties = read_properties(process)
        base_url = banner.split()[4]
        assert properties["console_endpoint_url"].startswith(base_url)
        assert properties["params"]["agora_uid"] == "2002"
        with urllib.request.urlopen(base_url + STATS_PATH, timeout=10) as response:
            assert response.status == 200  # really serving where it says

        path = tmp_path / "avatar_property.json"
        path.write_text(json.dumps(properties))
        assert main(["check", "--property", str(path)]) == 0, capsys.readouterr().out

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 130  # 128 + SIGINT, as after any Ctrl-C
        assert "Spatius emulator stopped" in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_emulator_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--port", "--api-key", "--avatar-id", "--channel", "--uid"):
        assert option in text
