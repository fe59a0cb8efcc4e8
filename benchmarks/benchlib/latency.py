"""Frame forwarding latency: frame sent by the TTS (perf_counter) -> the bytes that carry
it received by the emulator (monotonic; both CLOCK_MONOTONIC on Linux, checked by
`check_clocks`).

Each frame k makes some audio sendable: A_k, the cumulative output audio (session rate,
after conditioning) it completes, rounded down to whole 20 ms packets for Ogg Opus. The
emulator reports per message the cumulative audio it has received (E_j; for Ogg Opus the
playable duration plus the encoder's pre-skip, i.e. what was encoded). Frame k's latency
is the arrival of the first message with E_j >= A_k minus its send time. Frames that make
nothing new sendable (a packet still filling) are not counted.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

OPUS_PACKET_S = 0.020
OPUS_PRE_SKIP_S = 312 / 48000  # the SDK encoder's pre-skip (48 kHz granules)
OPUS_HELD_PACKETS = 1  # the SDK's Ogg writer sends a packet's page with the next packet


def check_clocks() -> dict[str, Any]:
    perf = time.get_clock_info("perf_counter").implementation
    mono = time.get_clock_info("monotonic").implementation
    deltas = []
    for _ in range(5):
        a, b = time.perf_counter(), time.monotonic()
        deltas.append(abs(a - b))
    return {
        "perf_counter": perf,
        "monotonic": mono,
        "max_offset_s": max(deltas),
        "comparable": perf == mono and "MONOTONIC" in perf and max(deltas) < 1e-3,
    }


def frame_latencies(
    sent_at: np.ndarray, cum_out_s: np.ndarray, chunks: list[list[float]], opus: bool
) -> tuple[np.ndarray, np.ndarray]:
    """sent_at[k] (perf_counter s), cum_out_s[k] (audio made by frames 0..k, seconds) and the
    emulator's chunks [[arrived_s, nbytes, duration_s], ...] of the request -> (latency per
    frame in seconds, NaN where the audio never arrived; mask of the frames counted).

    The SDK's Ogg writer holds the newest packet back until the next one (so that it can
    flag the last page): for Ogg Opus a packet becomes sendable with the frame after the
    one that completed it, here and in the floor alike. Latency is measured from that frame."""
    if not len(sent_at) or not chunks:
        return np.full(len(sent_at), np.nan), np.ones(len(sent_at), dtype=bool)
    arrived = np.array([c[0] for c in chunks])
    received = np.cumsum([c[2] for c in chunks])
    if opus:
        received = received + OPUS_PRE_SKIP_S
        packets = np.floor(cum_out_s / OPUS_PACKET_S + 1e-9) - OPUS_HELD_PACKETS
        sendable = np.maximum(packets, 0) * OPUS_PACKET_S
    else:
        sendable = cum_out_s
    new = np.concatenate([[sendable[0] > 0], np.diff(sendable) > 1e-9])
    index = np.searchsorted(received, sendable - 1e-6, side="left")
    latency = np.full(len(sent_at), np.nan)
    ok = new & (index < len(arrived))
    latency[ok] = arrived[index[ok]] - sent_at[ok]
    return latency, new


def summarize_ms(values: np.ndarray) -> dict[str, float | None]:
    values = values[~np.isnan(values)]
    if not len(values):
        return {"p50_ms": None, "p99_ms": None, "max_ms": None, "count": 0}
    return {
        "p50_ms": round(float(np.percentile(values, 50)) * 1000, 2),
        "p99_ms": round(float(np.percentile(values, 99)) * 1000, 2),
        "max_ms": round(float(values.max()) * 1000, 2),
        "count": int(len(values)),
    }
