"""`stream` against the emulator (endpoint flags): the whole file arrives at the session
rate as one request; refusals and bad input end with a message and the documented code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spatius_avatar_python.cli import main

FILE_RATE = 16000
FILE_SECONDS = 1.5


@pytest.fixture
def speech_wav(tmp_path: Path) -> Path:
    """1.5 s of a stereo 16 kHz voiced tone: the session must get it mono at 24 kHz."""
    t = np.arange(int(FILE_RATE * FILE_SECONDS)) / FILE_RATE
    left = (np.sin(2 * np.pi * 180 * t) * 8000).astype(np.int16)
    path = tmp_path / "speech.wav"
    sf.write(path, np.column_stack([left, left // 2]), FILE_RATE)
    return path


def property_file(tmp_path: Path, emulator, **params: str) -> Path:
    props = emulator.extension_properties()
    for key in ("console_endpoint_url", "ingress_endpoint_url"):
        del props[key]  # given with the endpoint flags instead
    props["params"].update(params)
    path = tmp_path / "avatar_property.json"
    path.write_text(json.dumps(props))
    return path


def endpoint_flags(emulator) -> list[str]:
    return [
        "--console-url",
        emulator.console_url,
        "--ingress-url",
        emulator.ingress_url,
        "--pace",
        "20",
    ]


@pytest.mark.parametrize("audio_format", ["pcm_s16le", "ogg_opus"])
def test_stream_sends_the_whole_file_at_the_session_rate(
    emulator,
    speech_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    audio_format: str,
) -> None:
    props = property_file(tmp_path, emulator, audio_format=audio_format)
    code = main(["stream", str(speech_wav), "--property", str(props), *endpoint_flags(emulator)])
    text = capsys.readouterr().out
    assert code == 0, text

    (request,) = emulator.wait_for_ended_requests(1)
    (session,) = emulator.recording.sessions
    assert (session.sample_rate, session.audio_format) == (24000, audio_format)
    assert session.agora is not None and session.agora.uid == int(emulator.agora_uid)
    assert request.duration_s == pytest.approx(FILE_SECONDS, abs=0.03)
    samples = request.pcm()
    assert len(samples) == pytest.approx(FILE_SECONDS * 24000, abs=0.03 * 24000)
    assert np.abs(samples.astype(np.int32)).max() > 3000  # the tone, not silence
    assert "Connected in" in text
    assert "Spatius accepted 1.5 s of audio as one request" in text
    assert emulator.api_key not in text and emulator.agora_app_cert not in text


def test_stream_with_a_refused_api_key_says_which_setting_to_fix(
    emulator, speech_wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong_key = "not-the-emulator-key-1234"
    props = property_file(tmp_path, emulator, spatius_api_key=wrong_key)
    code = main(["stream", str(speech_wav), "--property", str(props), *endpoint_flags(emulator)])
    text = capsys.readouterr().out
    assert code == 1, text
    assert (
        "Failed while getting a session token from the Spatius console: sessionTokenExpired" in text
    )
    # The key was given in the property file, so the fix points there, not at an env variable.
    assert (
        f"Fix: check params.spatius_api_key (the console refused it) (params.spatius_api_key comes from {props})."
        in text
    )
    assert "SPATIUS_API_KEY" not in text
    assert wrong_key not in text
    assert emulator.recording.sessions == []  # no session was opened


def test_stream_of_a_missing_file_is_a_usage_error(
    emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    props = property_file(tmp_path, emulator)
    missing = tmp_path / "nope.wav"
    assert main(["stream", str(missing), "--property", str(props), *endpoint_flags(emulator)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().out
    assert emulator.recording.token_requests == []  # nothing was attempted


def test_stream_with_a_configuration_that_cannot_work_is_a_usage_error(
    emulator, speech_wav: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    props = property_file(tmp_path, emulator, agora_uid="")
    assert (
        main(["stream", str(speech_wav), "--property", str(props), *endpoint_flags(emulator)]) == 2
    )
    text = capsys.readouterr().out
    assert "params.agora_uid: missing Agora UID" in text
    assert emulator.api_key not in text


def test_stream_needs_both_endpoint_flags(
    speech_wav: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stream", str(speech_wav), "--console-url", "http://127.0.0.1:9/v1/console"]) == 2
    assert "both --console-url and --ingress-url" in capsys.readouterr().out


def test_a_key_from_the_environment_names_its_variable(
    emulator,
    speech_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    props = emulator.extension_properties()
    del props["params"]["spatius_api_key"]  # property.json's ${env:SPATIUS_API_KEY|} applies
    path = tmp_path / "avatar_property.json"
    path.write_text(json.dumps(props))
    monkeypatch.setenv("SPATIUS_API_KEY", "env-key-that-is-wrong-77")
    code = main(["stream", str(speech_wav), "--property", str(path), "--pace", "20"])
    text = capsys.readouterr().out
    assert code == 1, text
    assert "(params.spatius_api_key comes from the environment variable SPATIUS_API_KEY)" in text
    assert "env-key-that-is-wrong-77" not in text


def test_a_bad_given_token_is_blamed_on_the_token_not_the_environment(
    emulator,
    speech_wav: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGORA_APP_ID", "ffffffffffffffffffffffffffffffff")
    bad_token = "007eJxTYBBbadtokenvalue000000"
    path = property_file(
        tmp_path, emulator, agora_token=bad_token, agora_appcert="", agora_channel="room_9"
    )
    code = main(["stream", str(speech_wav), "--property", str(path), *endpoint_flags(emulator)])
    text = capsys.readouterr().out
    assert code == 1, text
    assert (
        "Failed while completing the session handshake with Spatius: invalidEgressConfig (fatal"
        in text
    )
    assert (
        "Fix: check params.agora_token: it must be a valid RTC token for channel 'room_9' and uid "
        f"{emulator.agora_uid}"
    ) in text
    assert f"params.agora_token comes from {path}" in text
    assert "AGORA_APP_ID" not in text and bad_token not in text


def test_connected_is_told_when_it_happens_and_telemetry_is_off(
    emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    told_at: list[int] = []
    import spatius_avatar_python.cli.stream as stream_command

    real_stream_file = stream_command.stream_file
    seen_config = {}

    async def watching(config, speech, **kwargs):
        seen_config["telemetry"] = config.telemetry
        progress = kwargs["progress"]

        def recording_progress(sent_s: float, total_s: float) -> None:
            if not told_at and "Connected in" in capsys.readouterr().out:
                told_at.append(int(sent_s * 1000))
            progress(sent_s, total_s)

        return await real_stream_file(config, speech, **{**kwargs, "progress": recording_progress})

    monkeypatch.setattr(stream_command, "stream_file", watching)
    path = property_file(
        tmp_path, emulator
    )  # the emulator's properties say telemetry "off"; try "on"
    props = json.loads(path.read_text())
    props["telemetry"] = "on"
    path.write_text(json.dumps(props))
    # No audio file: the built-in sample.
    assert main(["stream", "--property", str(path), *endpoint_flags(emulator)]) == 0
    assert seen_config["telemetry"] == "off"
    assert (
        told_at and told_at[0] <= 100
    )  # printed before the first frames went out, not after the file
    (request,) = emulator.wait_for_ended_requests(1)
    assert request.duration_s == pytest.approx(11.67, abs=0.05)
