"""`python3 path/to/run.py <command>` from another folder, as a graph author runs it from
their app's root: every file argument means the file in the folder the command runs in,
never the clone's file of the same name. Real processes through run.py (set up already:
the clone's .venv is the one the suite runs in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
RUN_PY = REPO / "run.py"
EXAMPLES = REPO / "examples"
TIMEOUT_S = 180
ENV = {
    "SPATIUS_API_KEY": "sk-anywhere-0042",
    "SPATIUS_APP_ID": "app-test",
    "SPATIUS_AVATAR_ID": "avatar-test",
    "AGORA_APP_ID": "0123456789abcdef0123456789abcdef",
    "AGORA_APP_CERTIFICATE": "fedcba9876543210fedcba9876543210",
}


def run(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, str(RUN_PY), *args],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An app's root folder, as a TEN app has it: its property.json with the graphs."""
    folder = tmp_path / "my_app"
    folder.mkdir()
    (folder / "property.json").write_text((EXAMPLES / "property.json").read_text())
    return folder


def speech(path: Path, seconds: float = 3.0, rate: int = 16000) -> Path:
    """Voiced tone bursts with pauses between them: utterances for the demo, audio for stream."""
    t = np.arange(int(rate * seconds)) / rate
    voiced = (np.sin(2 * np.pi * 170 * t) * 9000 * ((t % 1.0) < 0.7)).astype(np.int16)
    sf.write(path, voiced, rate)
    return path


def test_check_reads_the_apps_property_json_not_the_clones(app: Path) -> None:
    done = run(app, "check", "--graph", "property.json", env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert (
        last.startswith("OK property.json: 0 problem(s)")
        and "node voice_assistant_spatius_avatar/avatar" in last
    )


def test_check_env_file_and_property_are_read_from_the_users_folder(app: Path) -> None:
    (app / ".env").write_text("".join(f"{name}={value}\n" for name, value in ENV.items()))
    node = json.loads((EXAMPLES / "graph.json").read_text())["nodes"][-1]["property"]
    (app / "avatar.json").write_text(json.dumps(node))
    clean = {name: "" for name in ENV}  # only the .env file can make it pass
    done = run(app, "check", "--property", "avatar.json", "--env-file", ".env", env=clean)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("OK avatar.json: 0 problem(s)")


def test_emulator_writes_the_property_file_where_the_user_is_and_stream_reads_it_and_the_audio(
    app: Path,
) -> None:
    emulator = subprocess.Popen(
        [sys.executable, str(RUN_PY), "emulator", "--write-property", "emulator.json", "--quiet"],
        cwd=app,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        told = []
        assert emulator.stdout is not None
        for line in emulator.stdout:
            told.append(line)
            if line.startswith("Sessions, requests") or line.strip() == "":
                break
        assert (app / "emulator.json").is_file(), "the property file is not in the user's folder"
        # The command it suggests next is the one that works from here.
        assert (
            f"  python3 {RUN_PY} stream --property emulator.json   (the built-in sample, or add a file)\n"
            in told
        )
        assert not (REPO / "emulator.json").exists()
        speech(app / "hello.wav")
        done = run(app, "stream", "hello.wav", "--property", "emulator.json", "--pace", "20")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Streaming hello.wav (3.0 s, 16000 Hz" in done.stdout
        assert "Spatius accepted 3.0 s of audio as one request" in done.stdout
    finally:
        emulator.terminate()
        emulator.communicate(timeout=TIMEOUT_S)
    assert emulator.returncode == 143


def test_stream_reads_a_graph_from_the_users_folder(app: Path) -> None:
    # The app's graph with no endpoints: stream reads the avatar node from it and refuses the
    # configuration for what the graph says (no secret set), not "cannot read the file".
    done = run(app, "stream", "--graph", "property.json", env={name: "" for name in ENV})
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "this configuration cannot work" in done.stdout and "missing Spatius API key" in done.stdout
    )


def test_demo_reads_the_wav_from_the_users_folder(app: Path) -> None:
    speech(app / "mine.wav")
    done = run(app, "demo", "--wav", "mine.wav", "--pace", "8", "--format", "pcm_s16le")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Demo: mine.wav, 3.0 s at 16000 Hz in ")


def test_test_paths_and_report_files_are_the_users(app: Path) -> None:
    target = REPO / "tests" / "cli" / "test_cli_speech_file.py"
    relative = os.path.relpath(
        target, app
    )  # e.g. ../../<clone>/tests/cli/...: from the user's folder
    done = run(
        app,
        "test",
        f"{relative}::test_a_file_that_is_not_audio_says_which_formats_work",
        "--junitxml",
        "report.xml",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    case = ElementTree.parse(app / "report.xml").getroot().find(".//testcase")
    assert (
        case is not None
        and case.get("name") == "test_a_file_that_is_not_audio_says_which_formats_work"
    )
    assert not (REPO / "report.xml").exists()


def test_help_lists_every_command_with_run_py_usage(tmp_path: Path) -> None:
    from spatius_avatar_python.cli import COMMANDS, main

    done = run(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith(f"usage: python3 {RUN_PY} ")
    listed = {
        line.split()[0]
        for line in text.split("commands:")[1].split("\n\n")[0].splitlines()
        if line.strip()
    }
    names = {
        command.__name__.rsplit(".", 1)[-1] for command in COMMANDS
    }  # one module per command, by its name
    assert all(main([name, "--help"]) == 0 for name in names)
    assert names | {"test"} <= listed  # every command, and run.py's own `test`
    for extra in sorted(listed - names):  # a command of run.py's own exists too
        assert run(tmp_path, extra, "--help").returncode == 0, extra
    assert "python -m spatius_avatar_python" not in text
    # A command's own help names run.py too.
    done = run(tmp_path, "check", "--help")
    assert done.returncode == 0 and done.stdout.startswith(f"usage: python3 {RUN_PY} check"), (
        done.stdout
    )


def test_a_taken_port_is_one_line_naming_a_free_one(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(tmp_path, "emulator", "--port", str(port))
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr and "Errno" not in done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"emulator: port {port} on 127.0.0.1 is taken")
    instead = int(line.split("--port ")[1].split()[0])
    assert 0 < instead < 65536 and instead != port
