"""The `emulator` command says what it does for its clients: one line per session accepted
or refused, request, interrupt and error (`--quiet`: none), never a secret; and it works
together with `stream` as the README shows."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from spatius_emulator.sdk_client import new_sdk_session
from speech_fixtures import speech_pcm

from spatius_avatar_python.cli.emulator_log import EmulatorLog
from spatius_avatar_python.cli.findings import Masker

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 60.0

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")


async def send(session, pcm: bytes, chunk: int = 4800) -> str:
    req_id = ""
    for start in range(0, len(pcm), chunk):
        req_id = await session.send_audio(pcm[start : start + chunk], end=start + chunk >= len(pcm))
    return req_id


async def test_one_line_per_session_request_interrupt_and_close(emulator) -> None:
    lines: list[str] = []
    log = EmulatorLog(emulator.recording, lines.append, Masker([emulator.api_key]))
    session = new_sdk_session(emulator)
    await session.init()
    await session.start()
    first = await send(session, speech_pcm(24000, 1.0))
    second = await send(session, speech_pcm(24000, 2.0))
    await asyncio.to_thread(emulator.wait_for_ended_requests, 2)
    assert await session.interrupt() == second
    await asyncio.to_thread(emulator.wait_for, lambda: emulator.recording.sessions[0].interrupts)
    await session.close()
    await asyncio.to_thread(emulator.wait_for_closed, 1)
    log.poll()
    log.poll()  # nothing is told twice
    text = [line.split("] ", 1)[1] for line in lines]
    assert text == [
        f"session #1 accepted: avatar {emulator.avatar_id!r}, pcm_s16le at 24000 Hz, "
        f"Agora channel {emulator.recording.sessions[0].agora.channel_name!r} as uid {emulator.agora_uid}",
        f"session #1: request {first} begins",
        f"session #1: request {first} ended, 1.00 s of audio",
        f"session #1: request {second} begins",
        f"session #1: request {second} ended, 2.00 s of audio",
        text[5],
        "session #1 closed by the client (code 1000)",
    ]
    assert text[5].startswith(f"session #1: interrupt of request {second} after ")
    assert all(line.startswith("[emulator ") for line in lines)


async def test_refusals_are_told_with_the_services_reason_and_no_secret(emulator) -> None:
    lines: list[str] = []
    wrong_key = "wrong-api-key-0123456789"
    log = EmulatorLog(emulator.recording, lines.append, Masker([emulator.api_key, wrong_key]))
    refused = new_sdk_session(emulator, api_key=wrong_key)
    with pytest.raises(Exception):
        await refused.init()
    bad_rate = new_sdk_session(emulator, sample_rate=11025)
    await bad_rate.init()
    with pytest.raises(Exception):
        await bad_rate.start()
    await asyncio.to_thread(
        emulator.wait_for,
        lambda: (
            emulator.recording.connections and emulator.recording.connections[0].handshake_error
        ),
    )
    log.poll()
    text = "\n".join(lines)
    assert (
        "refused a session token request: HTTP 401 'the API key is missing, revoked or unknown' "
        "(the API key is not one the emulator accepts (its --api-key))" in text
    )
    assert "refused session #1 at the handshake: code " in text and "11025" in text
    assert wrong_key not in text and emulator.api_key not in text


def read_lines(process: subprocess.Popen[str], into: list[str]) -> threading.Thread:
    def run() -> None:
        for line in process.stdout:
            into.append(line.rstrip("\n"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("quiet", [False, True])
def test_emulator_and_stream_together(tmp_path: Path, quiet: bool) -> None:
    props = tmp_path / "emulator_avatar.json"
    command = [
        sys.executable,
        "-m",
        "spatius_avatar_python",
        "emulator",
        "--write-property",
        str(props),
    ]
    emulator = subprocess.Popen(
        command + (["--quiet"] if quiet else []),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = read_lines(emulator, lines)
    try:
        wait_until(
            lambda: any(line.startswith("Written to ") for line in lines), "the property file"
        )
        # The command to run next, as this one was run (run.py names itself: test_cli_from_anywhere).
        assert (
            f"  python -m spatius_avatar_python stream --property {props}   (the built-in sample, or add a file)"
            in lines
        )
        stream = subprocess.run(
            [
                sys.executable,
                "-m",
                "spatius_avatar_python",
                "stream",
                "--property",
                str(props),
                "--pace",
                "20",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert stream.returncode == 0, stream.stdout + stream.stderr
        assert "Spatius accepted 11.7 s of audio as one request" in stream.stdout
        if not quiet:
            wait_until(
                lambda: any("ended, 11.67 s of audio" in line for line in lines),
                "the request's end",
            )
    finally:
        emulator.terminate()
        emulator.wait(TIMEOUT_S)
        reader.join(TIMEOUT_S)
    told = [line.split("] ", 1)[1] for line in lines if line.startswith("[emulator ")]
    if quiet:
        assert told == []
    else:
        assert told[0].startswith(
            "session #1 accepted: avatar 'emulator-avatar', ogg_opus at 24000 Hz, "
            "Agora channel 'ten_agent_test' as uid 2001"
        )
        assert told[1].startswith("session #1: request ") and told[1].endswith(" begins")
        assert told[2] == told[1].replace(" begins", " ended, 11.67 s of audio")
        assert told[-1] == "session #1 closed by the client (code 1000)"
    secrets = json.loads(props.read_text())["params"]
    assert secrets["spatius_api_key"] not in "\n".join(told)
    assert emulator.returncode == 143 and "Spatius emulator stopped" in lines
