"""PCM for the scripted TTS: a raw s16le file, a mono audio file (the speech fixtures' FLAC)
or a sine tone, as interleaved s16le with the wanted channel count, cut into frames
(optionally of odd byte sizes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

# Files decoded with soundfile; any other suffix is read as raw s16le.
AUDIO_FILE_SUFFIXES = (".flac", ".wav", ".ogg")


def load_pcm(
    path: str | Path, sample_rate: int, offset_ms: int = 0, max_ms: int | None = None
) -> bytes:
    """Mono s16le from a file recorded at `sample_rate` (raw s16le, or a mono FLAC/WAV/Ogg
    file at that rate), optionally a window of it."""
    path = Path(path)
    if path.suffix.lower() in AUDIO_FILE_SUFFIXES:
        samples, file_rate = sf.read(path, dtype="int16")
        if file_rate != sample_rate or samples.ndim != 1:
            raise ValueError(f"{path} is not mono at {sample_rate} Hz")
        data = samples.astype("<i2").tobytes()
    else:
        data = path.read_bytes()
    start = 2 * (sample_rate * offset_ms // 1000)
    end = len(data) if max_ms is None else start + 2 * (sample_rate * max_ms // 1000)
    window = data[start:end]
    return window[: len(window) - len(window) % 2]


def sine_pcm(
    sample_rate: int, duration_ms: int, tone_hz: float = 440.0, amplitude: float = 0.3
) -> bytes:
    """A mono s16le sine tone."""
    count = sample_rate * duration_ms // 1000
    t = np.arange(count, dtype=np.float64) / sample_rate
    samples = np.round(np.sin(2 * np.pi * tone_hz * t) * amplitude * 32767).astype("<i2")
    return samples.tobytes()


def to_channels(mono: bytes, channels: int) -> bytes:
    """Mono s16le -> interleaved s16le with `channels` (1 or 2) copies of each sample."""
    if channels == 1:
        return mono
    if channels != 2:
        raise ValueError(f"channels must be 1 or 2, not {channels}")
    samples = np.frombuffer(mono, dtype="<i2")
    return np.repeat(samples, 2).tobytes()


def frame_sizes(total: int, frame_bytes: int, odd: bool = False) -> Iterator[int]:
    """Byte sizes of consecutive frames covering `total` bytes. With `odd`, sizes alternate
    frame_bytes+1 and frame_bytes-1 (odd for even frame_bytes), so frames split samples
    between them while the stream stays intact."""
    if frame_bytes < 2:
        raise ValueError("frames must hold at least one sample")
    position, index = 0, 0
    while position < total:
        size = frame_bytes + ((1 if index % 2 == 0 else -1) if odd else 0)
        size = min(size, total - position)
        yield size
        position += size
        index += 1
