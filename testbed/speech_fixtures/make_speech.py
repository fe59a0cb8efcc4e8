"""Regenerates the project's own speech: the test fixtures in this folder and the demo's
built-in sample (spatius_avatar_python/cli/assets/sample_speech.ogg + .json).

Every sentence below is synthesized separately with espeak-ng (Debian package
`espeak-ng`), trimmed of espeak's own leading/trailing silence, and joined with pauses
of the lengths given next to it, so the pauses between sentences are real silence of a
known length. The voice is espeak-ng's at its native 22050 Hz; soxr resamples that one
master to each fixture rate, so the fixtures are the same speech sample for sample.

    apt-get install espeak-ng
    .venv/bin/python testbed/speech_fixtures/make_speech.py

Needs numpy, soundfile and soxr (requirements-dev.txt). The output is committed: nothing
else (tests, CI, the demo) needs espeak-ng.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parents[1] / "spatius_avatar_python" / "cli" / "assets"

VOICE = "en-us"
WORDS_PER_MINUTE = 160
MASTER_RATE = 22050  # espeak-ng's output rate
LEAD_S = 0.15  # silence before the first word
TAIL_S = 0.4  # silence after the last
PEAK = 0.7  # of full scale, over the whole recording
SILENCE_DBFS = -50.0  # trimming threshold for espeak's own edges

# The test fixture: an agent's answer, about 20 s, (sentence, pause after it in seconds).
FIXTURE_TEXT = (
    ("Sure, I can help you with that.", 0.6),
    ("Your order left our warehouse this morning, and it should arrive on Thursday.", 0.8),
    ("If nobody is at home, the driver will leave it with a neighbour.", 0.5),
    ("Would you like a text message when it is out for delivery?", 0.9),
    ("You can still change the address until tomorrow at noon.", 0.7),
    ("Is there anything else I can do for you?", 0.0),
)
FIXTURE_RATES = (16000, 24000, 44100, 48000)

# The demo's built-in sample: three utterances; the demo barges in during the second.
SAMPLE_TEXT = (
    ("Hello! I am your avatar, and I speak with the agent's voice.", 0.8),
    ("Ask me about the weather, or anything else on your mind.", 0.8),
    ("To interrupt me, just start talking.", 0.0),
)
SAMPLE_RATE = 24000
# libsndfile maps the compression level to the Opus bitrate: 0.9 gives about 30 kbps on speech.
SAMPLE_COMPRESSION = 0.9


def fixture_path(rate: int) -> Path:
    return HERE / f"speech_{rate}hz_mono.flac"


def synthesize(sentence: str, folder: Path) -> np.ndarray:
    """One sentence from espeak-ng, as float samples at MASTER_RATE, edges trimmed."""
    wav = folder / "sentence.wav"
    subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(wav), sentence],
        check=True,
    )
    samples, rate = sf.read(wav, dtype="float64")
    if rate != MASTER_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {MASTER_RATE}")
    loud = np.flatnonzero(np.abs(samples) > 10 ** (SILENCE_DBFS / 20))
    return samples[loud[0] : loud[-1] + 1]


def recording(
    text: tuple[tuple[str, float], ...], folder: Path
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The sentences joined with their pauses; also each pause as (start, end) seconds."""
    parts = [np.zeros(int(LEAD_S * MASTER_RATE))]
    pauses = []
    position = len(parts[0])
    for sentence, pause_s in text:
        voice = synthesize(sentence, folder)
        parts.append(voice)
        position += len(voice)
        if pause_s:
            silence = np.zeros(int(pause_s * MASTER_RATE))
            parts.append(silence)
            pauses.append((position / MASTER_RATE, (position + len(silence)) / MASTER_RATE))
            position += len(silence)
    parts.append(np.zeros(int(TAIL_S * MASTER_RATE)))
    master = np.concatenate(parts)
    return master * (PEAK / np.max(np.abs(master))), pauses


def at_rate(master: np.ndarray, rate: int) -> np.ndarray:
    resampled = soxr.resample(master, MASTER_RATE, rate, "VHQ")
    return np.clip(np.round(resampled * 32767), -32768, 32767).astype(np.int16)


def main() -> int:
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed: apt-get install espeak-ng", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        fixture, _ = recording(FIXTURE_TEXT, Path(folder))
        sample, sample_pauses = recording(SAMPLE_TEXT, Path(folder))
    for rate in FIXTURE_RATES:
        path = fixture_path(rate)
        sf.write(path, at_rate(fixture, rate), rate, format="FLAC", subtype="PCM_16")
        print(f"{path.name}: {len(fixture) / MASTER_RATE:.2f} s, {path.stat().st_size} bytes")

    ogg = ASSETS / "sample_speech.ogg"
    sf.write(
        ogg,
        at_rate(sample, SAMPLE_RATE),
        SAMPLE_RATE,
        format="OGG",
        subtype="OPUS",
        compression_level=SAMPLE_COMPRESSION,
    )
    cuts = [round((start + end) / 2, 3) for start, end in sample_pauses]
    facts = {
        "made_by": "testbed/speech_fixtures/make_speech.py",
        "duration_s": round(len(sample) / MASTER_RATE, 3),
        "cuts_s": cuts,
        "text": [sentence for sentence, _ in SAMPLE_TEXT],
    }
    (ASSETS / "sample_speech.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(f"{ogg.name}: {facts['duration_s']:.2f} s, {ogg.stat().st_size} bytes, cuts at {cuts} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
