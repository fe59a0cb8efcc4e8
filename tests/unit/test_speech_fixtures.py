"""The project's own speech fixtures (testbed/speech_fixtures): in the repository, at every
rate the tests use, the same speech at each rate, with real pauses between sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soxr
from speech_fixtures import RATES, fixture_path, speech_pcm

from spatius_avatar_python.cli.speech_file import frame_levels_db

REPO = Path(__file__).resolve().parents[2]
DURATION_S = 21.58


@pytest.mark.parametrize("rate", RATES)
def test_each_rate_is_mono_speech_of_the_same_length_inside_the_repository(rate: int) -> None:
    path = fixture_path(rate)
    assert path.is_relative_to(REPO) and path.suffix == ".flac"
    pcm = np.frombuffer(speech_pcm(rate), dtype="<i2")
    assert len(pcm) / rate == pytest.approx(DURATION_S, abs=0.01)
    assert 0.6 * 32767 < np.abs(pcm).max() <= 0.72 * 32767  # normalized to 70 % of full scale
    assert speech_pcm(rate, 1.5) == speech_pcm(rate)[: int(rate * 1.5) * 2]


def test_there_are_pauses_between_the_sentences() -> None:
    mono = np.frombuffer(speech_pcm(24000), dtype="<i2")
    silent = frame_levels_db(mono, 24000) < -60
    runs, start = [], None
    for index, quiet in enumerate([*silent.tolist(), False]):
        if quiet and start is None:
            start = index
        elif not quiet and start is not None:
            runs.append((start, index))
            start = None
    # Five pauses of 0.5 to 0.9 s between the six sentences (20 ms frames), besides the edges.
    inner = [(b - a) * 0.02 for a, b in runs if a > 0 and b < len(silent) and (b - a) * 0.02 >= 0.4]
    assert len(inner) == 5 and all(0.4 <= s <= 0.95 for s in inner), inner
    assert mono[: int(0.3 * 24000)].any()  # the speech starts right away (0.15 s of lead-in)


def test_the_rates_are_the_same_speech_sample_for_sample() -> None:
    reference = np.frombuffer(speech_pcm(48000), dtype="<i2").astype(np.float64)
    for rate in (16000, 24000, 44100):
        up = soxr.resample(
            np.frombuffer(speech_pcm(rate), dtype="<i2").astype(np.float64), rate, 48000
        )
        n = min(len(up), len(reference))
        assert np.corrcoef(up[:n], reference[:n])[0, 1] > 0.99, rate


def test_an_unknown_rate_says_which_exist() -> None:
    with pytest.raises(ValueError, match="16000, 24000, 44100, 48000"):
        fixture_path(22050)
