"""Rebuilds sample_speech.ogg from the project's speech fixture (needs ../shared/, which
ships only with the project's checkout): the first 10.8 s of the 24 kHz recording, which
ends in a pause, as Ogg Opus at about 31 kbps. `python make_sample_speech.py [FIXTURE]`.

The demo cuts it into utterances at the pauses listed in `sample.py` (SAMPLE_CUTS_S).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parents[3] / "shared" / "fixtures" / "speech" / "speech_24000hz_s16le_mono.pcm"
RATE = 24000
SECONDS = 10.8
# libsndfile maps the compression level to the Opus bitrate: 0.9 gives ~31 kbps on speech.
COMPRESSION_LEVEL = 0.9


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else FIXTURE
    pcm = np.fromfile(source, dtype="<i2")[: int(RATE * SECONDS)]
    target = HERE / "sample_speech.ogg"
    sf.write(target, pcm, RATE, format="OGG", subtype="OPUS", compression_level=COMPRESSION_LEVEL)
    print(f"{target}: {target.stat().st_size} bytes, {len(pcm) / RATE:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
