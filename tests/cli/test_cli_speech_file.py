"""Speech files for `demo`/`stream`: decoding any soundfile format, and utterance cuts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spatius_avatar_python.cli.speech_file import (
    SAMPLE_FACTS_FILE,
    SAMPLE_FILE,
    SpeechFileError,
    read_speech,
    sample_utterances,
    split_at_pauses,
)


def test_the_built_in_sample_is_small_speech_in_three_utterances() -> None:
    assert SAMPLE_FILE.stat().st_size < 60_000
    facts = json.loads(SAMPLE_FACTS_FILE.read_text())
    assert facts["made_by"] == "testbed/speech_fixtures/make_speech.py"
    speech, bounds = sample_utterances()
    assert (speech.sample_rate, speech.channels) == (24000, 1)
    assert speech.duration_s == pytest.approx(facts["duration_s"], abs=0.01)
    assert speech.duration_s == pytest.approx(11.67, abs=0.01)
    assert [round((end - start) / 24000, 2) for start, end in bounds] == [4.46, 4.0, 3.22]
    # Each cut is in real silence: 0.3 s around it holds nothing audible.
    mono = speech.mono().astype(np.int32)
    for start, _ in bounds[1:]:
        assert np.abs(mono[start - 7200 : start + 7200]).max() < 200
    # The fixed cuts sit in pauses: the energy-based cuts land within 0.15 s of them.
    found = split_at_pauses(speech.mono(), speech.sample_rate)
    assert [start for start, _ in found[1:]] == pytest.approx(
        [s for s, _ in bounds[1:]], abs=0.15 * 24000
    )


def test_a_file_without_pauses_is_still_cut_into_three() -> None:
    rate = 16000
    t = np.arange(rate * 6) / rate
    tone = (np.sin(2 * np.pi * 220 * t) * 6000).astype(np.int16)
    bounds = split_at_pauses(tone, rate)
    assert len(bounds) == 3 and bounds[0][0] == 0 and bounds[-1][1] == len(tone)
    assert all(abs((end - start) / rate - 2.0) < 0.05 for start, end in bounds)


def test_flac_stereo_decodes_with_its_channels(tmp_path: Path) -> None:
    path = tmp_path / "speech.flac"
    stereo = np.column_stack([np.arange(4800, dtype=np.int16), -np.arange(4800, dtype=np.int16)])
    sf.write(path, stereo, 48000)
    speech = read_speech(path)
    assert (speech.sample_rate, speech.channels) == (48000, 2)
    assert np.array_equal(speech.samples, stereo)
    assert np.array_equal(speech.mono(), np.zeros(4800, dtype=np.int16))  # the channels cancel


def test_a_file_that_is_not_audio_says_which_formats_work(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    with pytest.raises(SpeechFileError, match="Use WAV, FLAC, OGG"):
        read_speech(path)


def test_the_sample_and_the_fixtures_are_made_by_the_projects_own_script() -> None:
    # No third-party recording: the sample's text is the one the script synthesizes, and the
    # assets carry no licence notice of someone else's audio.
    script = (
        Path(__file__).resolve().parents[2] / "testbed" / "speech_fixtures" / "make_speech.py"
    ).read_text()
    facts = json.loads(SAMPLE_FACTS_FILE.read_text())
    for sentence in facts["text"]:
        assert json.dumps(sentence) in script
    assert re.search(r'"espeak-ng", "-v"', script)
    assert sorted(p.name for p in SAMPLE_FILE.parent.iterdir() if p.name != "__pycache__") == [
        "README.md",
        "sample_speech.json",
        "sample_speech.ogg",
    ]
