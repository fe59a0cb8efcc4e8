#!/usr/bin/env python3
"""Ogg Opus encoder settings: what each costs in CPU and what it changes in the audio.

Encodes the project's own 21.6 s speech fixture (24 kHz mono) in 20 ms frames, as the
extension does, with the SDK's encoder class at several complexities and frame durations,
decodes each stream back (the emulator's decoder) and reports CPU per audio second (thread
CPU time, median of --repeats runs), the stream size, the quality as SNR against the input
(the decoded stream aligned by its pre-skip) and the delay a frame adds before a packet
exists. Usage: .venv/bin/python benchmarks/opus_settings.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "testbed")]

from spatius_avatar_python.opus import _StreamEncoder  # noqa: E402
from spatius_emulator.ogg_opus import decode_ogg_opus  # noqa: E402
from speech_fixtures import speech_pcm  # noqa: E402

RATE = 24000
FRAME_BYTES = RATE // 50 * 2  # what a TTS sends: 20 ms


def encode(pcm: bytes, complexity: int, frame_ms: int) -> tuple[bytes, float]:
    import opuslib_next as opuslib

    encoder = _StreamEncoder(
        sample_rate=RATE,
        bitrate=0,
        frame_duration_ms=frame_ms,
        application="voip",
        collect_encoded_output=False,
    )
    # The SDK sets complexity 10 on its libopus encoder; set the one under test after it.
    opuslib.api.encoder.encoder_ctl(
        encoder._encoder.encoder_state, opuslib.api.ctl.set_complexity, complexity
    )
    out = bytearray()
    started = time.thread_time()
    for i in range(0, len(pcm), FRAME_BYTES):
        out += encoder.encode(pcm[i : i + FRAME_BYTES], end=False).payload
    out += encoder.encode(b"", end=True).payload
    return bytes(out), time.thread_time() - started


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    n = min(len(reference), len(decoded))
    ref, dec = reference[:n].astype(np.float64), decoded[:n].astype(np.float64)
    # The decoder's output is the input delayed by the codec's look-ahead minus the pre-skip:
    # align on the best lag within 5 ms before comparing.
    best = max(
        range(-120, 121),
        key=lambda lag: float(
            np.dot(ref[max(0, lag) : n + min(0, lag)], dec[max(0, -lag) : n - max(0, lag)])
        ),
    )
    ref, dec = ref[max(0, best) : n + min(0, best)], dec[max(0, -best) : n - max(0, best)]
    noise = np.sum((ref - dec) ** 2)
    return float(10 * np.log10(np.sum(ref**2) / max(noise, 1e-9)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pcm = speech_pcm(RATE)
    seconds = len(pcm) / 2 / RATE
    reference = np.frombuffer(pcm, dtype="<i2")
    rows = []
    for frame_ms in (20, 40, 60):
        for complexity in (10, 8, 5, 3, 0):
            runs = [encode(pcm, complexity, frame_ms) for _ in range(args.repeats)]
            stream = runs[0][0]
            decoded = decode_ogg_opus(stream, RATE)
            rows.append(
                {
                    "frame_ms": frame_ms,
                    "complexity": complexity,
                    "cpu_ms_per_audio_s": round(
                        statistics.median(r[1] for r in runs) / seconds * 1000, 2
                    ),
                    "kbit_per_s": round(len(stream) * 8 / seconds / 1000, 1),
                    "snr_db": round(snr_db(reference, decoded), 1),
                    "samples_out_equal_in": len(decoded) == len(reference),
                    "frame_delay_ms": frame_ms,
                }
            )
            r = rows[-1]
            print(
                f"frame {frame_ms:2d} ms  complexity {complexity:2d}: "
                f"{r['cpu_ms_per_audio_s']:6.2f} ms CPU per audio s, "
                f"{r['kbit_per_s']:5.1f} kbit/s, SNR {r['snr_db']:5.1f} dB, "
                f"length exact: {r['samples_out_equal_in']}"
            )
    result = {
        "benchmark": "opus_settings",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": (
            f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}"
        ).strip(),
        "command": "benchmarks/opus_settings.py " + " ".join(sys.argv[1:]),
        "audio_seconds": round(seconds, 2),
        "rows": rows,
    }
    out = ROOT / "benchmarks" / "results" / "opus_settings.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
