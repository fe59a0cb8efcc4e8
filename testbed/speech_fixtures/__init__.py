"""The project's own speech fixtures: about 21.6 s of English speech with pauses between
its sentences, mono s16le at 16000, 24000, 44100 and 48000 Hz, stored as FLAC next to this
file and decoded here. Made by `make_speech.py` (see README.md); nothing outside the
repository is needed.

- `speech_pcm(rate, seconds=None)`: the raw mono s16le bytes, optionally the first seconds.
- `fixture_path(rate)`: the FLAC file (the scripted TTS's `pcm_file` accepts it as it is).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
RATES = (16000, 24000, 44100, 48000)


def fixture_path(rate: int) -> Path:
    if rate not in RATES:
        raise ValueError(f"no speech fixture at {rate} Hz; there are {', '.join(map(str, RATES))}")
    return HERE / f"speech_{rate}hz_mono.flac"


@lru_cache(maxsize=None)
def _decoded(rate: int) -> bytes:
    samples, file_rate = sf.read(fixture_path(rate), dtype="int16")
    if file_rate != rate or samples.ndim != 1:
        raise ValueError(f"{fixture_path(rate)} is not mono at {rate} Hz")
    return np.ascontiguousarray(samples, dtype="<i2").tobytes()


def speech_pcm(rate: int, seconds: float | None = None) -> bytes:
    pcm = _decoded(rate)
    return pcm if seconds is None else pcm[: int(rate * seconds) * 2]
