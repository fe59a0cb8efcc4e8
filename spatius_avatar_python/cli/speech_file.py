"""Speech from an audio file for the `demo` and `stream` commands: decoded with soundfile
(libsndfile: WAV, FLAC, OGG Vorbis/Opus, MP3 from libsndfile 1.1 on) into int16 samples,
and cut into utterances at its pauses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..audio import MAX_CHANNELS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, downmix_to_mono

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
SAMPLE_FILE = ASSETS_DIR / "sample_speech.ogg"
# The middles of the sample's pauses, written by the script that made it
# (testbed/speech_fixtures/make_speech.py): the demo's utterances.
SAMPLE_FACTS_FILE = ASSETS_DIR / "sample_speech.json"
FALLBACK_RATE = 24000  # files at rates a TTS never sends are resampled to this

FRAME_S = 0.02
SILENCE_BELOW_PEAK_DB = 30.0  # a frame this far under the loud frames is a pause
SILENCE_FLOOR_DB = -60.0  # ... and anything quieter than this (dBFS) always is


class SpeechFileError(ValueError):
    """The file cannot be used as speech; str() says why and what would work."""


@dataclass(frozen=True)
class Speech:
    """Decoded audio: int16 samples shaped (frames, channels) at `sample_rate`."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate

    def interleaved(self) -> bytes:
        """s16le, channels interleaved, as a TTS `pcm_frame` carries it."""
        return np.ascontiguousarray(self.samples, dtype="<i2").tobytes()

    def mono(self) -> np.ndarray:
        if self.channels == 1:
            return self.samples[:, 0].copy()
        return downmix_to_mono(self.samples.reshape(-1), self.channels)


def read_speech(path: Path) -> Speech:
    """Decode `path`; raise SpeechFileError when it is missing, not audio, or unusable."""
    if not path.is_file():
        raise SpeechFileError(f"{path}: no such file")
    try:
        samples, rate = sf.read(str(path), dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise SpeechFileError(
            f"{path}: cannot decode it ({error}). Use WAV, FLAC, OGG (Vorbis or Opus) or MP3 "
            f"(MP3 needs libsndfile 1.1 or newer; this one is {sf.__libsndfile_version__})"
        ) from error
    if len(samples) == 0:
        raise SpeechFileError(f"{path}: the file holds no audio")
    if samples.shape[1] > MAX_CHANNELS:
        raise SpeechFileError(
            f"{path}: {samples.shape[1]} channels; at most {MAX_CHANNELS} are accepted"
        )
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        mixed = Speech(samples, rate).mono()
        samples = soxr.resample(mixed, rate, FALLBACK_RATE).reshape(-1, 1)
        rate = FALLBACK_RATE
    return Speech(np.ascontiguousarray(samples), int(rate))


def frame_levels_db(mono: np.ndarray, rate: int) -> np.ndarray:
    """RMS level (dBFS) of each 20 ms frame."""
    size = max(1, int(rate * FRAME_S))
    count = len(mono) // size
    frames = mono[: count * size].astype(np.float64).reshape(count, size) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-9))


def split_at_pauses(
    mono: np.ndarray,
    rate: int,
    *,
    count: int = 3,
    min_pause_s: float = 0.2,
    min_utterance_s: float = 1.0,
) -> list[tuple[int, int]]:
    """Cut speech into up to `count` utterances of similar length at pauses; (start, end)
    sample ranges covering all of it. Where no pause is near a wanted cut, the quietest
    frame there is used, so a file without pauses still gives `count` utterances."""
    total = len(mono)
    count = max(1, min(count, int(total / rate / min_utterance_s)))
    if count == 1:
        return [(0, total)]
    size = max(1, int(rate * FRAME_S))
    levels = frame_levels_db(mono, rate)
    threshold = max(float(np.percentile(levels, 95)) - SILENCE_BELOW_PEAK_DB, SILENCE_FLOOR_DB)
    pauses = _pause_middles(levels < threshold, int(min_pause_s / FRAME_S))
    min_gap = int(min_utterance_s * rate)
    cuts: list[int] = []
    for index in range(1, count):
        wanted = index * total // count
        window = total // (2 * count)  # a cut may move a quarter utterance either way
        near = [p * size for p in pauses if abs(p * size - wanted) <= window]
        if near:
            cut = min(near, key=lambda c: abs(c - wanted))
        else:
            first, last = (wanted - window) // size, min(len(levels) - 1, (wanted + window) // size)
            frames = np.arange(first, last + 1)
            # The quietest frame (to 1 dB), the one nearest the wanted cut among equals.
            best = np.lexsort((np.abs(frames * size - wanted), np.round(levels[first : last + 1])))[
                0
            ]
            cut = int(frames[best]) * size
        if cut - (cuts[-1] if cuts else 0) >= min_gap and total - cut >= min_gap:
            cuts.append(cut)
    bounds = [0, *cuts, total]
    return list(zip(bounds, bounds[1:]))


def _pause_middles(silent: np.ndarray, min_frames: int) -> list[int]:
    """Middle frame of each run of silent frames at least `min_frames` long, ignoring
    silence at the very start and end (that is no pause between utterances)."""
    middles = []
    start: int | None = None
    for index, quiet in enumerate([*silent.tolist(), False]):
        if quiet and start is None:
            start = index
        elif not quiet and start is not None:
            if index - start >= max(1, min_frames) and start > 0 and index < len(silent):
                middles.append((start + index) // 2)
            start = None
    return middles


def sample_utterances() -> tuple[Speech, list[tuple[int, int]]]:
    """The built-in sample and its fixed utterance cuts."""
    speech = read_speech(SAMPLE_FILE)
    facts = json.loads(SAMPLE_FACTS_FILE.read_text(encoding="utf-8"))
    cuts = [int(seconds * speech.sample_rate) for seconds in facts["cuts_s"]]
    bounds = [0, *cuts, len(speech.samples)]
    return speech, list(zip(bounds, bounds[1:]))
