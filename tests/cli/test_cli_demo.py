"""`demo` end to end at a fast pace, in-process: the real extension in the fake graph against
the emulator. The report's figures must match what the emulator recorded."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spatius_avatar_python.cli import main
from spatius_avatar_python.cli.paths import use_testbed

use_testbed()
from spatius_avatar_python.cli import demo_run  # noqa: E402 - needs the test bed on sys.path
from spatius_emulator import EmulatorThread  # noqa: E402 - likewise

# Twice real time: fast, and still a pace the avatar keeps up with on a loaded machine. At 8x,
# a slow connect (1.6 s seen under load) left utterance 1 and the start of 2 queued in the
# avatar when the scripted barge-in came (after half of 2 was *sent by the TTS*): all of 2 was
# dropped unsent, as a barge-in must, and the demo's checks failed without a defect.
PACE = "2"
ROW = re.compile(
    r"^\s+(\d)\s+([\d.]+) s\s+([\d.]+) s\s+([\d.]+) s\s+(ended|interrupted)$", re.MULTILINE
)


@pytest.fixture
def emulators(monkeypatch: pytest.MonkeyPatch) -> list:
    """The emulators the demo starts, kept for the test to read their recordings."""
    started: list = []

    class RecordedEmulator(EmulatorThread):
        def start(self):
            started.append(self)
            return super().start()

    monkeypatch.setattr(demo_run, "EmulatorThread", RecordedEmulator)
    return started


def service_requests(emulator) -> list:
    requests = [r for session in emulator.recording.sessions for r in session.requests]
    return sorted(requests, key=lambda r: r.first_arrival_at)


def assert_report_matches_recording(text: str, emulator, sent_first_s: float) -> None:
    rows = ROW.findall(text)
    assert [int(r[0]) for r in rows] == [1, 2, 3], text
    requests = service_requests(emulator)
    assert len(requests) == 3
    for (_number, sent, received, played, state), request in zip(rows, requests, strict=True):
        assert float(received) == pytest.approx(request.duration_s, abs=0.006)
        assert (state == "interrupted") == (request.interrupt is not None)
        assert state == "interrupted" or (
            request.ended and float(played) == pytest.approx(float(received), abs=0.006)
        )
        if state == "ended":
            assert float(received) == pytest.approx(float(sent), abs=0.05)  # nothing lost
    # At a fast pace utterance 1 may still be playing at the barge-in: then it is stopped too.
    assert [r[4] for r in rows][1:] == ["interrupted", "ended"]
    assert float(rows[0][1]) == pytest.approx(sent_first_s, abs=0.01)
    # Nothing of the interrupted request arrived after its interrupt, as the report says.
    interrupted = requests[1]
    assert all(chunk.arrived_at <= interrupted.interrupt.at for chunk in interrupted.chunks)
    assert "stale bytes           0 after the flush" in text
    found = re.search(r"interrupt latency\s+([\d.]+) ms", text)
    assert found, text
    latency = float(found.group(1))
    assert 0 < latency < 5000
    assert re.search(r"connect time\s+[\d.]+ ms", text)
    assert re.search(r"All \d+ checks passed\.", text) and "✗" not in text


def test_demo_with_the_built_in_sample(emulators: list, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--pace", PACE]) == 0, capsys.readouterr().out
    text = capsys.readouterr().out
    assert "the built-in sample, 11.7 s at 24000 Hz in 3 utterances (4.5 s, 4.0 s, 3.2 s)" in text
    assert (
        "main_control: the user barges in, flush sent" in text
    )  # the live narration (plain output)
    assert "\x1b[" not in text  # no terminal control codes when stdout is not a terminal
    (emulator,) = emulators
    (session,) = emulator.recording.sessions
    assert session.audio_format == "ogg_opus" and session.sample_rate == 24000
    assert_report_matches_recording(text, emulator, sent_first_s=4.456)


def voiced_bursts(rate: int, bursts_s: list[float], gap_s: float) -> np.ndarray:
    """Speech-like bursts (a 160 Hz buzz with harmonics, syllable-rate envelope) between
    silences."""
    parts = []
    for seconds in bursts_s:
        t = np.arange(int(rate * seconds)) / rate
        buzz = sum(np.sin(2 * np.pi * 160 * k * t) / k for k in range(1, 6))
        envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)
        parts += [buzz * envelope * 5000, np.zeros(int(rate * gap_s))]
    return np.concatenate(parts[:-1]).astype(np.int16)


def test_demo_with_a_wav_file_cut_at_its_pauses(
    emulators: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rate = 16000
    mono = voiced_bursts(rate, [1.5, 1.6, 1.2], gap_s=0.6)
    path = tmp_path / "agent.wav"
    sf.write(path, np.column_stack([mono, mono]), rate)  # stereo: the demo mixes it to mono

    assert main(["demo", "--wav", str(path), "--pace", PACE, "--format", "pcm_s16le"]) == 0, (
        capsys.readouterr().out
    )
    text = capsys.readouterr().out
    assert f"{path}, 5.5 s at 16000 Hz in 3 utterances (1.8 s, 2.2 s, 1.5 s)" in text
    (emulator,) = emulators
    (session,) = emulator.recording.sessions
    assert session.audio_format == "pcm_s16le" and session.sample_rate == 24000
    # The first cut is in the middle of the first pause: 1.5 s of sound + 0.3 s of it.
    assert_report_matches_recording(text, emulator, sent_first_s=1.8)


def test_demo_refuses_a_file_too_short_to_barge_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, voiced_bursts(16000, [0.8], gap_s=0), 16000)
    assert main(["demo", "--wav", str(path)]) == 2
    assert "needs at least 2 utterances" in capsys.readouterr().out


def test_demo_refuses_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--wav", str(tmp_path / "nope.wav")]) == 2
    assert "no such file" in capsys.readouterr().out


def test_without_the_opus_library_the_demo_says_plainly_it_runs_pcm(
    emulators: list, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from spatius_avatar_python.cli import demo

    # As on a machine where libopus could not be installed (e.g. apt was busy).
    monkeypatch.setattr(
        demo, "opus_library_problem", lambda: "Ogg Opus audio needs the system Opus library"
    )
    assert main(["demo", "--pace", PACE]) == 0, capsys.readouterr().out
    text = capsys.readouterr().out
    assert (
        "Note: this demo runs with PCM (pcm_s16le), not the default Ogg Opus, "
        "because the system Opus library is missing: Ogg Opus audio needs the system Opus library"
    ) in text
    (emulator,) = emulators
    (session,) = emulator.recording.sessions
    assert session.audio_format == "pcm_s16le"
